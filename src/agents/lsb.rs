//! LSB init scripts (feature `class-lsb`): `/etc/init.d/<type> <action>`, `monitor` run as
//! `status`, no parameters and no extra environment (protocol.md 10.4, 12.1). The type is one
//! file name: the original also takes an absolute path there, we do not (`names`).

use super::{
    check_confined, check_executable, check_names, information_missing, missing, Invocation,
    Mapping, Paths, Prepared,
};

pub(super) fn prepare(paths: &Paths, rsc_id: &str, agent: &str, action: &str) -> Prepared {
    if agent.is_empty() {
        return Prepared::Finished(information_missing());
    }
    // A missing script is named by its full path, as the original names it.
    let shown = format!("{}/{agent}", paths.lsb_dir.display());
    if check_names(rsc_id, "lsb", &[("type", agent)]).is_err() {
        return Prepared::Finished(missing(&shown));
    }
    let program = paths.lsb_dir.join(agent);
    if program.exists() && check_confined(rsc_id, &paths.lsb_dir, &program).is_err() {
        return Prepared::Finished(missing(&shown));
    }
    if let Err(result) = check_executable(&program, &shown) {
        return Prepared::Finished(result);
    }
    let action = if action == "monitor" {
        "status"
    } else {
        action
    };
    Prepared::Run {
        invocation: Invocation {
            program,
            args: vec![action.to_string()],
            env: Vec::new(),
            user: None,
        },
        mapping: if action == "status" {
            Mapping::LsbStatus
        } else {
            Mapping::Lsb
        },
    }
}
