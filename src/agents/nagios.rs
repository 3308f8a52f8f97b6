//! Nagios plugins (feature `class-nagios`, Pacemaker 2.1.5 semantics; removed in 3.0):
//! `<plugin dir>/<type>`, a probe runs `--version`, other actions pass parameters as
//! `--name value` (protocol.md 10.5).

use super::{check_executable, Invocation, Mapping, Paths, Prepared};

pub(super) fn prepare(
    paths: &Paths,
    agent: &str,
    action: &str,
    interval_ms: u32,
    params: &[(String, String)],
) -> Prepared {
    let program = paths.nagios_dir.join(agent);
    if let Err(result) = check_executable(&program, agent) {
        return Prepared::Finished(result);
    }
    let args = if action == "monitor" && interval_ms == 0 {
        vec![String::from("--version")]
    } else {
        params
            .iter()
            .filter(|(n, _)| !n.contains("CRM_meta_") && n != "crm_feature_set")
            .flat_map(|(n, v)| [format!("--{n}"), v.clone()])
            .collect()
    };
    Prepared::Run(Invocation {
        program,
        args,
        env: Vec::new(),
        mapping: Mapping::Nagios,
        user: None,
    })
}
