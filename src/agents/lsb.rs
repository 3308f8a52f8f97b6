//! LSB init scripts (feature `class-lsb`): `/etc/init.d/<type> <action>`, `monitor` run as
//! `status`, no parameters and no extra environment (protocol.md 10.4, 12.1).

use super::{check_executable, Invocation, Mapping, Paths, Prepared};

pub(super) fn prepare(paths: &Paths, agent: &str, action: &str) -> Prepared {
    let program = paths.lsb_dir.join(agent);
    if let Err(result) = check_executable(&program, &program.display().to_string()) {
        return Prepared::Finished(result);
    }
    let action = if action == "monitor" {
        "status"
    } else {
        action
    };
    Prepared::Run(Invocation {
        program,
        args: vec![action.to_string()],
        env: Vec::new(),
        mapping: if action == "status" {
            Mapping::LsbStatus
        } else {
            Mapping::Lsb
        },
        user: None,
    })
}
