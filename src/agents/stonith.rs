//! Fence devices (`stonith` class). The scheduler never places them on remote nodes
//! (protocol.md 12.7); if a client asks anyway we answer as the original's executor does
//! without a fencer: a probe finds the device stopped, anything else fails.

use super::Prepared;
use crate::executor::result::{ocf as rc, ExecStatus, OpResult};

pub(super) fn prepare(action: &str, interval_ms: u32) -> Prepared {
    if action == "monitor" && interval_ms == 0 {
        return Prepared::Finished(OpResult {
            rc: rc::NOT_RUNNING,
            status: ExecStatus::Done,
            exit_reason: None,
            output: None,
        });
    }
    Prepared::Finished(OpResult::made_up(
        rc::UNKNOWN_ERROR,
        ExecStatus::Error,
        "Fence devices cannot run on a Pacemaker Remote node",
    ))
}
