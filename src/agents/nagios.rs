//! Nagios plugins (feature `class-nagios`, Pacemaker 2.1.5 semantics; removed in 3.0):
//! `<plugin dir>/<type>`, a probe runs `--version` and a successful one reports "not running"
//! (a plugin has nothing to probe), `stop` runs nothing and succeeds, other actions pass
//! parameters as `--name value` (protocol.md 10.5). The type is one file name (`names`).

use super::result::{ocf as rc, ExecStatus, OpResult};
use super::{
    check_confined, check_executable, check_names, information_missing, missing, Invocation,
    Mapping, Paths, Prepared,
};

pub(super) fn prepare(
    paths: &Paths,
    rsc_id: &str,
    agent: &str,
    action: &str,
    interval_ms: u32,
    params: &[(String, String)],
) -> Prepared {
    // The original compares the action case-insensitively here.
    if action.eq_ignore_ascii_case("stop") {
        return Prepared::Finished(OpResult {
            rc: rc::OK,
            status: ExecStatus::Done,
            exit_reason: None,
            output: None,
        });
    }
    if agent.is_empty() {
        return Prepared::Finished(information_missing());
    }
    if check_names(rsc_id, "nagios", &[("type", agent)]).is_err() {
        return Prepared::Finished(missing(agent));
    }
    let program = paths.nagios_dir.join(agent);
    if program.exists() && check_confined(rsc_id, &paths.nagios_dir, &program).is_err() {
        return Prepared::Finished(missing(agent));
    }
    if let Err(result) = check_executable(&program, agent) {
        return Prepared::Finished(result);
    }
    let probe = action.eq_ignore_ascii_case("monitor") && interval_ms == 0;
    let args = if probe {
        vec![String::from("--version")]
    } else {
        params
            .iter()
            .filter(|(n, _)| !n.contains("CRM_meta_") && !n.eq_ignore_ascii_case("crm_feature_set"))
            .flat_map(|(n, v)| [format!("--{n}"), v.clone()])
            .collect()
    };
    Prepared::Run {
        invocation: Invocation {
            program,
            args,
            env: Vec::new(),
            user: None,
        },
        mapping: if probe {
            Mapping::NagiosProbe
        } else {
            Mapping::Nagios
        },
    }
}
