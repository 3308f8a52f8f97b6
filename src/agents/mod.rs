//! One action of one resource → one command (program, arguments, environment) for `process`,
//! and the agent's exit → an OCF result. One file per class; they build commands and run
//! nothing.
//!
//! In: the resource's definition, the action, its interval and parameters. Out: a
//! [`Prepared`]: something to run, or a result known without running anything (agent
//! missing, class unknown or compiled out). After the run, [`interpret`] maps the exit the
//! way the class defines (protocol.md 10.3-10.5, 11.6, 12).
//!
//! Two halves: the vocabulary and the exit mapping here, in `result`, `definition`, `stonith`
//! and `alert` are pure; finding an agent on disk is behind the [`Lookup`] trait, whose real
//! implementation, [`Paths`] (`installed` and the class files), looks at files and reads CIB
//! secrets. The executor is handed a `Lookup`, so its own code and tests touch no file.
//!
//! Names from requests never leave the configured directories ([`names`]): a provider, type or
//! resource id that is not one plain file name gets the reply of a missing agent and one
//! (rate-limited) log line, and nothing runs.

// The vocabulary and the exit mapping: pure, like the rest of the core.
#[cfg(feature = "alerts")]
pub mod alert;
mod definition;
pub mod result;
mod stonith;
#[cfg(feature = "class-systemd")]
pub mod systemd;
#[cfg(test)]
pub(crate) mod table;

// Finding agents on disk (and reading CIB secrets): the half that looks at files. The
// executor reaches it only through the `Lookup` the shell hands it.
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "agents on disk: the Lookup the shell hands the executor"
)]
mod installed;
#[cfg(feature = "class-lsb")]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "agents on disk: the Lookup the shell hands the executor"
)]
mod lsb;
#[cfg(feature = "class-nagios")]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "agents on disk: the Lookup the shell hands the executor"
)]
mod nagios;
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "agents on disk: the Lookup the shell hands the executor"
)]
mod names;
#[cfg(feature = "class-ocf")]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "agents on disk: the Lookup the shell hands the executor"
)]
mod ocf;
#[cfg(feature = "class-ocf")]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "agents on disk: the Lookup the shell hands the executor"
)]
mod secrets;
#[cfg(feature = "class-service")]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "agents on disk: the Lookup the shell hands the executor"
)]
mod service;
#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests of the file-system half build agent trees"
)]
mod tests;

use std::io;

pub use definition::Definition;
pub use installed::{prepare, Paths};
pub use result::{readable_interval, timeout_reason, ExecStatus, OpResult};

use crate::process::{ChildExit, Finished, Invocation};
use installed::{check_confined, check_executable, check_names};
use result::ocf as rc;

/// How an agent's exit status becomes an OCF rc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// OCF agents: the rc as is, within the defined codes; exit reason from stderr.
    Ocf,
    /// LSB `status` (and `monitor`, which runs as `status`).
    LsbStatus,
    /// Other LSB actions.
    Lsb,
    /// Nagios plugins.
    Nagios,
    /// A Nagios probe (`--version`): success means "not running".
    NagiosProbe,
}

/// The outcome of preparing an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// Run this, and read its exit this way.
    Run {
        /// The command for `process`.
        invocation: Invocation,
        /// How its exit becomes a result.
        mapping: Mapping,
    },
    /// Nothing to run: this is the result.
    Finished(OpResult),
    /// A `systemd:` unit action, carried out by the shell through systemd's manager.
    #[cfg(feature = "class-systemd")]
    Unit {
        /// The action.
        action: String,
        /// The agent (unit) as configured.
        agent: String,
        /// For `service:` without an LSB script: the result to give when systemd does not
        /// know the unit either (the LSB answer, as the original falls back to).
        or_else: Option<OpResult>,
    },
}

/// Finds what to run for one action of one resource: the agent on disk and its command, or a
/// result known at once (missing agent, unknown class). The executor asks when a run starts
/// and never looks at files itself; the daemon gives it [`Paths`], tests a table in memory.
pub trait Lookup {
    /// Prepares `action` (at `interval_ms`, with `params`) of resource `rsc_id`, defined as `def`.
    fn prepare(
        &self,
        def: &Definition,
        rsc_id: &str,
        action: &str,
        interval_ms: u32,
        params: &[(String, String)],
    ) -> Prepared;
}

/// The result for a class this build leaves out: "not installed" on this node, so the
/// cluster places the resource elsewhere, with a reason that says why.
fn not_built(class: &str) -> OpResult {
    let feature = if class == "upstart" {
        String::from("none")
    } else {
        format!("class-{class}")
    };
    OpResult::made_up(
        rc::NOT_INSTALLED,
        ExecStatus::NotInstalled,
        format!("agent class '{class}' is not supported in this build of pcmk-remoted (feature {feature})"),
    )
}

/// Maps a finished agent's exit and output to a result.
pub fn interpret(mapping: Mapping, finished: &Finished) -> OpResult {
    let stderr = finished.stderr.text();
    let output = output_of(finished);
    let (rc, status, reason) = match finished.exit {
        ChildExit::Code(code) if code >= 0 => {
            let rc = map_exit_code(mapping, code);
            let reason = (mapping == Mapping::Ocf)
                .then(|| exit_reason(&stderr))
                .flatten();
            (rc, ExecStatus::Done, reason)
        }
        ChildExit::Code(_) => (
            rc::UNKNOWN_ERROR,
            ExecStatus::Error,
            Some(String::from("Process exited with unknown status")),
        ),
        ChildExit::Signal(sig) => (
            rc::UNKNOWN_ERROR,
            ExecStatus::Error,
            Some(format!(
                "Resource agent interrupted by {} signal",
                signal_text(sig)
            )),
        ),
    };
    OpResult {
        rc,
        status,
        exit_reason: reason,
        output,
    }
}

/// What is reported as `lrmd_rsc_output`: stderr if the agent wrote any, else stdout, as is
/// (trailing newlines included); also for runs that timed out or were cancelled.
pub fn output_of(finished: &Finished) -> Option<String> {
    if !finished.stderr.bytes.is_empty() {
        Some(finished.stderr.text())
    } else if !finished.stdout.bytes.is_empty() {
        Some(finished.stdout.text())
    } else {
        None
    }
}

/// The result when the agent could not be started although `stat()` found it (typically:
/// not executable). The original forks, fails in `execvp`, and the child exits with the
/// mapped code after writing an OCF exit reason; we report exactly what that produces.
pub fn spawn_failure(mapping: Mapping, error: &io::Error) -> OpResult {
    let code = match (error.raw_os_error(), mapping) {
        (Some(libc::ENOENT), Mapping::LsbStatus) => 150,
        (Some(libc::ENOENT), Mapping::Nagios | Mapping::NagiosProbe) => 3,
        (Some(libc::ENOENT), _) => rc::NOT_INSTALLED,
        (Some(libc::EACCES | libc::EPERM), Mapping::LsbStatus) => 151,
        (Some(libc::EACCES | libc::EPERM), Mapping::Nagios | Mapping::NagiosProbe) => 100,
        (Some(libc::EACCES | libc::EPERM), _) => rc::INSUFFICIENT_PRIV,
        (_, Mapping::LsbStatus) => 4,
        (_, Mapping::Nagios | Mapping::NagiosProbe) => 3,
        _ => rc::UNKNOWN_ERROR,
    };
    let (reason, output) = if mapping == Mapping::Ocf {
        (
            Some(String::from(EXEC_FAILED)),
            Some(format!("{EXIT_REASON_PREFIX}{EXEC_FAILED}\n")),
        )
    } else {
        (None, None)
    };
    OpResult {
        rc: map_exit_code(mapping, code),
        status: ExecStatus::Done,
        exit_reason: reason,
        output,
    }
}

/// What the original's child writes when `execvp` fails.
const EXEC_FAILED: &str = "Child process was unable to execute file";

/// glibc's `strsignal` wording, which the original puts in its exit reason.
fn signal_text(sig: i32) -> String {
    let text = match sig {
        libc::SIGHUP => "Hangup",
        libc::SIGINT => "Interrupt",
        libc::SIGQUIT => "Quit",
        libc::SIGILL => "Illegal instruction",
        libc::SIGTRAP => "Trace/breakpoint trap",
        libc::SIGABRT => "Aborted",
        libc::SIGBUS => "Bus error",
        libc::SIGFPE => "Floating point exception",
        libc::SIGKILL => "Killed",
        libc::SIGUSR1 => "User defined signal 1",
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGUSR2 => "User defined signal 2",
        libc::SIGPIPE => "Broken pipe",
        libc::SIGALRM => "Alarm clock",
        libc::SIGTERM => "Terminated",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "File size limit exceeded",
        libc::SIGSYS => "Bad system call",
        _ => return format!("Unknown signal {sig}"),
    };
    text.to_string()
}

fn map_exit_code(mapping: Mapping, code: i32) -> i32 {
    match mapping {
        Mapping::Ocf => match code {
            0..=9 | 190 | 191 => code,
            _ => rc::UNKNOWN_ERROR,
        },
        Mapping::Lsb => match code {
            0..=7 => code,
            _ => rc::UNKNOWN_ERROR,
        },
        Mapping::LsbStatus => match code {
            0 => rc::OK,
            1..=3 => rc::NOT_RUNNING,
            150 => rc::NOT_INSTALLED,
            151 => rc::INSUFFICIENT_PRIV,
            _ => rc::UNKNOWN_ERROR,
        },
        Mapping::NagiosProbe if code == 0 => rc::NOT_RUNNING,
        Mapping::Nagios | Mapping::NagiosProbe => match code {
            0 => rc::OK,
            1 => rc::DEGRADED,
            100 => rc::INSUFFICIENT_PRIV,
            _ => rc::UNKNOWN_ERROR,
        },
    }
}

/// The prefix OCF agents put before their exit reason on stderr (parsed for class `ocf` only;
/// at most 128 bytes are kept, as Pacemaker keeps).
pub const EXIT_REASON_PREFIX: &str = "ocf-exit-reason:";

/// The text after the last `ocf-exit-reason:` in stderr, to the end of its line; none if
/// that last one is empty (an earlier reason does not count then).
pub fn exit_reason(stderr: &str) -> Option<String> {
    // The original reads stderr as a C string: nothing after a NUL counts.
    let stderr = stderr.split('\0').next().unwrap_or("");
    let at = stderr.rfind(EXIT_REASON_PREFIX)?;
    let rest = &stderr[at + EXIT_REASON_PREFIX.len()..];
    let line = rest.split('\n').next().unwrap_or("");
    (!line.is_empty()).then(|| truncate_bytes(line, MAX_EXIT_REASON).to_string())
}

/// Pacemaker keeps at most this many bytes of an exit reason.
const MAX_EXIT_REASON: usize = 128;

/// The longest prefix of `text` that fits `max` bytes without splitting a character.
fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What the original answers when a resource, class, provider, type or action is empty.
fn information_missing() -> OpResult {
    OpResult::made_up(
        rc::UNKNOWN_ERROR,
        ExecStatus::ErrorFatal,
        "Required agent or action information missing",
    )
}

fn missing(name: &str) -> OpResult {
    OpResult::made_up(
        rc::NOT_INSTALLED,
        ExecStatus::NotInstalled,
        format!("{name}: No such file or directory"),
    )
}

/// Whether a parameter can become an environment variable: no `=` or NUL in its name, no
/// NUL in its value (the environment cannot carry them).
fn env_safe(name: &str, value: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0']) && !value.contains('\0')
}
