//! Fence devices (`stonith` class). The scheduler never places them on remote nodes
//! (protocol.md 12.7); if a client asks anyway we answer as the original's executor does when
//! it has no fencer to talk to: a probe finds the device stopped (with status "error"), a
//! start or stop fails for want of a fencer, anything else is an invalid action. The original
//! first retries the fencer for 20 s with the whole daemon blocked; we answer at once.

use super::result::{ocf as rc, ExecStatus, OpResult};
use super::Prepared;

pub(super) fn prepare(action: &str, interval_ms: u32) -> Prepared {
    let result = match action {
        "monitor" if interval_ms == 0 => OpResult {
            rc: rc::NOT_RUNNING,
            status: ExecStatus::Error,
            exit_reason: None,
            output: None,
        },
        "start" | "stop" | "monitor" => OpResult::made_up(
            rc::UNKNOWN_ERROR,
            ExecStatus::Error,
            "No connection to fencer",
        ),
        _ => OpResult::made_up(
            rc::UNIMPLEMENT_FEATURE,
            ExecStatus::Error,
            "Invalid fence device action (bug?)",
        ),
    };
    Prepared::Finished(result)
}
