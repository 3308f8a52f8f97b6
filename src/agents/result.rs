//! The result vocabulary: what one run of an operation ended with (an OCF rc, an execution
//! status, an exit reason and output), and how Pacemaker words durations in its reasons.
//!
//! In: exit codes mapped by the agent classes, or the executor's own verdicts (timeout,
//! cancel, a bound). Out: [`OpResult`], a plain value the executor records and the dispatcher
//! reports (protocol.md 10.2-10.3). Pure: no I/O.

use std::fmt;

/// Execution status (`lrmd_exec_op_status`, protocol.md 10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecStatus {
    /// Still in progress (a systemd unit between states: `activating`, `deactivating`).
    Pending = -1,
    /// The agent ran; see the rc.
    Done = 0,
    /// Cancelled.
    Cancelled = 1,
    /// Timed out.
    Timeout = 2,
    /// Action not supported.
    NotSupported = 3,
    /// Could not execute; may be retried.
    Error = 4,
    /// Do not retry on this node.
    ErrorHard = 5,
    /// Do not retry anywhere.
    ErrorFatal = 6,
    /// Agent or a dependency missing.
    NotInstalled = 7,
    /// Cannot execute now.
    Invalid = 9,
    /// CIB secrets unavailable.
    NoSecrets = 11,
}

impl ExecStatus {
    /// The number on the wire.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// OCF result codes we produce ourselves (protocol.md 10.3).
pub mod ocf {
    /// Success.
    pub const OK: i32 = 0;
    /// Generic error.
    pub const UNKNOWN_ERROR: i32 = 1;
    /// Bad parameters.
    pub const INVALID_PARAM: i32 = 2;
    /// Action not implemented.
    pub const UNIMPLEMENT_FEATURE: i32 = 3;
    /// Permission problem.
    pub const INSUFFICIENT_PRIV: i32 = 4;
    /// Agent or dependency missing.
    pub const NOT_INSTALLED: i32 = 5;
    /// Configuration problem.
    pub const NOT_CONFIGURED: i32 = 6;
    /// Resource is not running.
    pub const NOT_RUNNING: i32 = 7;
    /// Resource runs promoted.
    pub const RUNNING_PROMOTED: i32 = 8;
    /// Resource failed while promoted.
    pub const FAILED_PROMOTED: i32 = 9;
    /// Degraded.
    pub const DEGRADED: i32 = 190;
    /// Degraded while promoted.
    pub const DEGRADED_PROMOTED: i32 = 191;
}

/// The outcome of one run of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// `lrmd_exec_rc`: the agent's result mapped to an OCF code.
    pub rc: i32,
    /// `lrmd_exec_op_status`.
    pub status: ExecStatus,
    /// `lrmd_rsc_exit_reason`, when there is one.
    pub exit_reason: Option<String>,
    /// `lrmd_rsc_output`: stderr if it is not empty, else stdout.
    pub output: Option<String>,
}

impl OpResult {
    /// A result made up by the executor itself (no agent output).
    pub fn made_up(rc: i32, status: ExecStatus, reason: impl Into<String>) -> OpResult {
        OpResult {
            rc,
            status,
            exit_reason: Some(reason.into()),
            output: None,
        }
    }
}

impl fmt::Display for ExecStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            ExecStatus::Pending => "Pending",
            ExecStatus::Done => "complete",
            ExecStatus::Cancelled => "Cancelled",
            ExecStatus::Timeout => "Timed Out",
            ExecStatus::NotSupported => "NOT SUPPORTED",
            ExecStatus::Error => "Error",
            ExecStatus::ErrorHard => "Hard error",
            ExecStatus::ErrorFatal => "Fatal error",
            ExecStatus::NotInstalled => "Not installed",
            ExecStatus::Invalid => "Invalid",
            ExecStatus::NoSecrets => "No secrets",
        };
        f.write_str(text)
    }
}

/// The exit reason of a timed-out operation, worded as Pacemaker words it (protocol.md 11.4):
/// `Resource agent did not complete within 10s`.
pub fn timeout_reason(timeout_ms: u32) -> String {
    format!(
        "Resource agent did not complete within {}",
        readable_interval(timeout_ms.into())
    )
}

/// Formats milliseconds the way Pacemaker's messages do: days, hours and minutes are written
/// only when the value is strictly above one unit, then `Ns`, `N.NNNs` or `NNNms`
/// (so 60000 is `60s`, 1000 is `1000ms`, 90000 is `1m30s`, 1500 is `1.500s`).
pub fn readable_interval(ms: u64) -> String {
    const S: u64 = 1000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const D: u64 = 24 * H;
    let mut left = ms;
    let mut out = String::new();
    for (unit, suffix) in [(D, 'd'), (H, 'h'), (M, 'm')] {
        if left > unit {
            out.push_str(&format!("{}{suffix}", left / unit));
            left %= unit;
        }
    }
    if left > S {
        out.push_str(&(left / S).to_string());
        if !left.is_multiple_of(S) {
            out.push_str(&format!(".{:03}", left % S));
        }
        out.push('s');
    } else if left > 0 {
        out.push_str(&format!("{left}ms"));
    } else if out.is_empty() {
        out.push_str("0s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_like_pacemaker_writes_them() {
        let cases = [
            (0, "0s"),
            (500, "500ms"),
            (1000, "1000ms"),
            (1001, "1.001s"),
            (1500, "1.500s"),
            (10_000, "10s"),
            (60_000, "60s"),
            (90_000, "1m30s"),
            (3_600_000, "60m"),
            (3_600_001, "1h1ms"),
            (86_400_000, "24h"),
            (90_061_500, "1d1h1m1.500s"),
            (2 * 86_400_000 + 5, "2d5ms"),
            (15, "15ms"),
            (0, "0s"),
        ];
        for (ms, want) in cases {
            assert_eq!(readable_interval(ms), want, "{ms}");
        }
        assert_eq!(
            timeout_reason(1500),
            "Resource agent did not complete within 1.500s"
        );
    }
}
