//! What the log says about finished operations, worded as the original daemon words it so
//! that operators' habits and log-watching tools keep working.
//!
//! In: an operation's identity, its result and times. Out: log lines (text and level). The
//! wording is a fact of the original's behaviour: one line per finished run, at info
//! (monitors at debug, recurring or not, changed or not), naming resource, action, call id,
//! the agent's PID when there was one, the exit status or why it could not run, the exit
//! reason, and the execution (and queue) time; the agent's stderr at info, one log line per
//! output line, its stdout at debug. Fields from outside are escaped and bounded
//! ([`escaped`]); agent output goes through the agents' rate limit.

use log::Level;

use crate::agents::{readable_interval, ExecStatus, OpResult};
use crate::logging::{escaped, Source};
use crate::process::Captured;

/// How the original names an execution status in its logs.
pub fn status_text(status: ExecStatus) -> &'static str {
    match status {
        ExecStatus::Pending => "Pending",
        ExecStatus::Done => "complete",
        ExecStatus::Cancelled => "Cancelled",
        ExecStatus::Timeout => "Timed Out",
        ExecStatus::NotSupported => "NOT SUPPORTED",
        ExecStatus::Error => "Error",
        ExecStatus::ErrorHard => "Hard error",
        ExecStatus::ErrorFatal => "Fatal error",
        ExecStatus::NotInstalled => "Not installed",
        ExecStatus::Invalid => "Cannot execute now",
        ExecStatus::NoSecrets => "CIB secrets unavailable",
    }
}

/// One finished run, as the log line describes it.
pub struct Ended<'a> {
    /// Resource id.
    pub rsc_id: &'a str,
    /// Action name as the client sent it.
    pub action: &'a str,
    /// The call id the exec reply returned.
    pub call_id: u32,
    /// The agent's PID; `None` for runs without a process of ours (systemd units, results
    /// made up before anything ran).
    pub pid: Option<u32>,
    /// The result.
    pub result: &'a OpResult,
    /// Milliseconds the run took.
    pub exec_ms: u64,
    /// Milliseconds it waited in the queue first.
    pub queue_ms: u64,
}

/// The level and text of the line logged when a run ends: info, monitors at debug.
pub fn finished_line(e: &Ended<'_>) -> (Level, String) {
    let level = if e.action.eq_ignore_ascii_case("monitor") {
        Level::Debug
    } else {
        Level::Info
    };
    let mut line = format!(
        "{} {} (call {}",
        escaped(e.rsc_id),
        escaped(e.action),
        e.call_id
    );
    if let Some(pid) = e.pid.filter(|p| *p != 0) {
        line.push_str(&format!(", PID {pid}"));
    }
    if e.result.status == ExecStatus::Done {
        line.push_str(&format!(") exited with status {}", e.result.rc));
    } else {
        line.push_str(") could not be executed: ");
        line.push_str(status_text(e.result.status));
    }
    if let Some(reason) = &e.result.exit_reason {
        line.push_str(&format!(" ({})", escaped(reason)));
    }
    line.push_str(&format!(
        " (execution time {}",
        readable_interval(e.exec_ms)
    ));
    if e.queue_ms > 0 {
        line.push_str(&format!(
            " after being queued {}",
            readable_interval(e.queue_ms)
        ));
    }
    line.push(')');
    (level, line)
}

/// Logs a finished run's line.
pub fn log_finished(e: &Ended<'_>) {
    let (level, line) = finished_line(e);
    log::log!(level, "{line}");
}

/// The name the original gives a run in output lines: `<rsc>_<action>_<interval>`.
pub fn op_key(rsc_id: &str, action: &str, interval_ms: u32) -> String {
    format!("{rsc_id}_{action}_{interval_ms}")
}

/// The lines of `captured` as the original logs them: `<key>[<pid>] <what> [ <line> ]`, one
/// per output line, each escaped and bounded; a note when output was cut at the cap.
pub fn output_lines(key: &str, pid: u32, what: &str, captured: &Captured) -> Vec<String> {
    let text = String::from_utf8_lossy(&captured.bytes);
    let mut lines: Vec<String> = text
        .split_terminator('\n')
        .map(|l| format!("{}[{pid}] {what} [ {} ]", escaped(key), escaped(l)))
        .collect();
    if captured.discarded > 0 {
        lines.push(format!(
            "{}[{pid}] {what} [ …({} more bytes not kept) ]",
            escaped(key),
            captured.discarded
        ));
    }
    lines
}

/// Logs an agent's stderr at info and its stdout at debug, as the original does for agents
/// that exited on their own (not for killed ones). Rate-limited as agent output.
pub fn log_output(key: &str, pid: u32, stdout: &Captured, stderr: &Captured) {
    if log::log_enabled!(Level::Info) {
        for line in output_lines(key, pid, "error output", stderr) {
            crate::limited!(Source::Agent, Level::Info, "{line}");
        }
    }
    if log::log_enabled!(Level::Debug) {
        for line in output_lines(key, pid, "output", stdout) {
            crate::limited!(Source::Agent, Level::Debug, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(rc: i32) -> OpResult {
        OpResult {
            rc,
            status: ExecStatus::Done,
            exit_reason: None,
            output: None,
        }
    }

    #[test]
    fn a_start_that_exited_reads_as_in_the_original() {
        let r = done(0);
        let e = Ended {
            rsc_id: "d1",
            action: "start",
            call_id: 7,
            pid: Some(1234),
            result: &r,
            exec_ms: 25,
            queue_ms: 0,
        };
        assert_eq!(
            finished_line(&e),
            (
                Level::Info,
                "d1 start (call 7, PID 1234) exited with status 0 (execution time 25ms)".into()
            )
        );
    }

    #[test]
    fn a_run_without_pid_or_result_says_why_and_monitors_go_to_debug() {
        let r = OpResult {
            rc: 1,
            status: ExecStatus::Timeout,
            exit_reason: Some("Monitor did not complete within 20s".into()),
            output: None,
        };
        let e = Ended {
            rsc_id: "web",
            action: "monitor",
            call_id: 3,
            pid: None,
            result: &r,
            exec_ms: 20_001,
            queue_ms: 2,
        };
        assert_eq!(
            finished_line(&e),
            (
                Level::Debug,
                "web monitor (call 3) could not be executed: Timed Out (Monitor did not \
                 complete within 20s) (execution time 20.001s after being queued 2ms)"
                    .into()
            )
        );
    }

    #[test]
    fn hostile_fields_are_escaped() {
        let r = OpResult {
            exit_reason: Some("bad\nline".into()),
            ..done(1)
        };
        let e = Ended {
            rsc_id: "x\u{1b}[2J",
            action: "stop",
            call_id: 1,
            pid: Some(9),
            result: &r,
            exec_ms: 1,
            queue_ms: 0,
        };
        let (_, line) = finished_line(&e);
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line}");
    }

    #[test]
    fn output_is_one_escaped_line_per_line_with_a_note_when_cut() {
        let c = Captured {
            bytes: b"first\nsec\x1bond\n".to_vec(),
            discarded: 10,
        };
        let lines = output_lines("d1_start_0", 42, "error output", &c);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "d1_start_0[42] error output [ first ]");
        assert!(!lines[1].contains('\u{1b}'));
        assert!(lines[2].contains("10 more bytes"));
    }
}
