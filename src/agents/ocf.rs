//! OCF resource agents (feature `class-ocf`): `<ra path>/<provider>/<type> <action>`, with
//! parameters as `OCF_RESKEY_*` variables (protocol.md 12.3).

use super::{check_executable, missing, Invocation, Mapping, Paths, Prepared, EXIT_REASON_PREFIX};
use crate::executor::resource::Definition;
use crate::executor::result::{ocf as rc, ExecStatus, OpResult};

/// The OCF version the environment announces.
const RA_VERSION: (&str, &str) = ("1", "1");

pub(super) fn prepare(
    paths: &Paths,
    def: &Definition,
    rsc_id: &str,
    action: &str,
    params: &[(String, String)],
) -> Prepared {
    let Some(provider) = def.provider.as_deref().filter(|p| !p.is_empty()) else {
        return Prepared::Finished(OpResult::made_up(
            rc::UNKNOWN_ERROR,
            ExecStatus::ErrorFatal,
            "Required agent or action information missing",
        ));
    };
    let Some(program) = paths
        .ocf_ra_path
        .iter()
        .map(|dir| dir.join(provider).join(&def.agent))
        .find(|p| p.exists())
    else {
        return Prepared::Finished(missing(&def.agent));
    };
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
    Prepared::Run(Invocation {
        program,
        args: vec![action.to_string()],
        env,
        mapping: Mapping::Ocf,
        user: None,
    })
}
