//! OCF resource agents (feature `class-ocf`): `<ra path>/<provider>/<type> <action>`, with
//! parameters as `OCF_RESKEY_*` variables (protocol.md 12.3). Provider and type are each one
//! file name (`names`).

use super::{
    check_confined, check_executable, check_names, information_missing, missing, Definition,
    Invocation, Mapping, Paths, Prepared, EXIT_REASON_PREFIX,
};

/// The OCF version the environment announces.
const RA_VERSION: (&str, &str) = ("1", "1");

pub(super) fn prepare(
    paths: &Paths,
    def: &Definition,
    rsc_id: &str,
    action: &str,
    params: &[(String, String)],
) -> Prepared {
    let provider = def.provider.as_deref().unwrap_or("");
    if provider.is_empty() || def.agent.is_empty() {
        return Prepared::Finished(information_missing());
    }
    if check_names(
        rsc_id,
        "ocf",
        &[("provider", provider), ("type", &def.agent)],
    )
    .is_err()
    {
        return Prepared::Finished(missing(&def.agent));
    }
    // First match along the path wins, as in the original; a refused match does not fall
    // through to a later directory, which would run a different agent than the one named.
    let Some((dir, program)) = paths
        .ocf_ra_path
        .iter()
        .map(|dir| (dir, dir.join(provider).join(&def.agent)))
        .find(|(_, p)| p.exists())
    else {
        return Prepared::Finished(missing(&def.agent));
    };
    if check_confined(rsc_id, dir, &program).is_err() {
        return Prepared::Finished(missing(&def.agent));
    }
    if let Err(result) = check_executable(&program, &def.agent) {
        return Prepared::Finished(result);
    }
    let params = match super::secrets::resolve(paths, rsc_id, action, params) {
        Ok(p) => p,
        Err(result) => return Prepared::Finished(result),
    };
    let mut env = vec![
        (
            String::from("OCF_ROOT"),
            paths.ocf_root.display().to_string(),
        ),
        (
            String::from("OCF_RA_VERSION_MAJOR"),
            RA_VERSION.0.to_string(),
        ),
        (
            String::from("OCF_RA_VERSION_MINOR"),
            RA_VERSION.1.to_string(),
        ),
        (
            String::from("OCF_EXIT_REASON_PREFIX"),
            EXIT_REASON_PREFIX.to_string(),
        ),
        (String::from("OCF_RESOURCE_INSTANCE"), rsc_id.to_string()),
        (String::from("OCF_RESOURCE_TYPE"), def.agent.clone()),
        (String::from("OCF_RESOURCE_PROVIDER"), provider.to_string()),
    ];
    for (name, value) in params.iter() {
        if !super::env_safe(name, value) {
            continue;
        }
        // OCF_CHECK_LEVEL is a variable of its own, not a resource key (12.3).
        let var = if name == "OCF_CHECK_LEVEL" {
            name.clone()
        } else {
            format!("OCF_RESKEY_{name}")
        };
        env.push((var, value.clone()));
    }
    Prepared::Run {
        invocation: Invocation {
            program,
            args: vec![action.to_string()],
            env,
            user: None,
        },
        mapping: Mapping::Ocf,
    }
}
