//! Container init mode: the daemon as the first process (PID 1) of a container
//! (protocol.md §2.6).
//!
//! A Pacemaker bundle runs its image with the remote daemon as the container's command, so
//! the daemon is PID 1 there. Three things follow. Every orphan in the container is
//! re-parented to it, and only it can reap their zombies. The container runtime stops the
//! container by signalling it (`podman stop`: SIGTERM, then SIGKILL after a timeout), and its
//! exit status is the container's. And the bundle passes settings through the environment
//! (`PCMK_remote_port`, `PCMK_stderr`) and mounts the key at `/etc/pacemaker/authkey` and a
//! log directory at `/var/log`; settings that differ per host come from
//! `/etc/pacemaker/pcmk-init.env`.
//!
//! The original forks: PID 1 stays behind as a small init (`pcmk-init`) that reaps and exits
//! on SIGINT, and it swallows SIGTERM, so `podman stop` waits out its timeout and kills
//! (protocol.md §2.6). We do not fork. The daemon itself is PID 1; on SIGCHLD its one loop
//! reaps its agents by pid (`process::child`) and then, here, every other child; SIGTERM and
//! SIGINT start the same drain as anywhere else (README "Signals"), and the daemon exits 0
//! once the cluster is gone, or at once when none is connected. The kernel then ends what
//! is left in the container.
//!
//! Steps: [`prepare`] (from `main`, before the settings are read) decides the [`Mode`] and
//! applies the environment file; [`reap_orphans`] (from the daemon loop, after the
//! executor's own reaping) reaps children that are not agents.

use std::io::Read;
use std::sync::atomic::{AtomicU8, Ordering};

use log::{debug, info, warn};

use crate::config::envfile::EnvFile;
use crate::limits::{PIDONE_ENV_FILE_MAX_BYTES, PIDONE_REAP_BATCH};
use crate::logging::escaped;
use crate::process::Reaper;
use crate::sys::reap;

/// Host-specific settings for a container's daemon, as Pacemaker's own container init reads
/// them: `NAME=value` lines, never overriding what the environment already has.
pub const ENV_FILE: &str = "/etc/pacemaker/pcmk-init.env";
/// The log file in full mode when none is configured: a container has `/var/log` (a bundle
/// mounts one per replica) but maybe no `/var/log/pacemaker`. The original's choice.
pub const DEFAULT_LOGFILE: &str = "/var/log/pcmk-init.log";
/// Asks for a mode without being PID 1: `full` or `vars` (the original's variable).
pub const MODE_VARIABLE: &str = "PCMK_remote_pid1";

/// Why full mode is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// We are PID 1 of our PID namespace.
    PidOne,
    /// `PCMK_remote_pid1=full`: a test, or an init script that starts us and wants orphans
    /// handed to us (we become a child subreaper).
    Asked,
}

/// What the container init mode does in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Not a container init: nothing changes.
    Off,
    /// Only the environment file is applied (`PCMK_remote_pid1=vars`).
    Vars,
    /// Environment file, the container log default, and every orphan reaped.
    Full(Why),
}

const OFF: u8 = 0;
const VARS: u8 = 1;
const FULL: u8 = 2;

/// The mode [`prepare`] chose, for the loop's hook (one process, decided once at start).
static MODE: AtomicU8 = AtomicU8::new(OFF);

/// The mode [`prepare`] chose; `Off` before it ran.
pub fn mode_is_full() -> bool {
    MODE.load(Ordering::Relaxed) == FULL
}

/// Decides the mode from whether we are PID 1 and from `PCMK_remote_pid1`; the second value
/// is a warning for a setting we do not understand. As PID 1 the mode is always full, as for
/// the original. Values are exact, as in Pacemaker 3.x (2.1.5 took any other non-empty value
/// as `vars`).
pub fn decide(pid_one: bool, setting: Option<&str>) -> (Mode, Option<String>) {
    if pid_one {
        return (Mode::Full(Why::PidOne), None);
    }
    match setting {
        Some("full") => (Mode::Full(Why::Asked), None),
        Some("vars") => (Mode::Vars, None),
        None | Some("") => (Mode::Off, None),
        Some(other) => (
            Mode::Off,
            Some(format!(
                "{MODE_VARIABLE}='{}' is neither 'full' nor 'vars'; ignored",
                escaped(other)
            )),
        ),
    }
}

/// The variables to set from the environment file, in file order: a name the environment
/// already has is left alone (the bundle's own `-e` options win), and the first line for a
/// name wins, as for the original, which never overwrites.
pub fn plan(file: &EnvFile, present: &dyn Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for a in &file.assignments {
        if present(&a.name) || out.iter().any(|(n, _)| *n == a.name) {
            continue;
        }
        out.push((a.name.clone(), a.value.clone()));
    }
    out
}

/// Whether full mode must supply [`DEFAULT_LOGFILE`]: no log file is configured in the
/// environment, under either spelling (`PCMK_logfile` or Pacemaker 3.x's `HA_logfile`).
pub fn needs_log_default(present: &dyn Fn(&str) -> bool) -> bool {
    !present("PCMK_logfile") && !present("HA_logfile")
}

/// What [`prepare`] did, to be logged once the logger has its files.
#[derive(Debug)]
pub struct Prepared {
    /// The mode chosen.
    pub mode: Mode,
    /// Lines for the log: (is a warning, text).
    pub notes: Vec<(bool, String)>,
}

impl Prepared {
    /// Logs what was done (info) and what could not be (warnings).
    pub fn log(&self) {
        for (warning, text) in &self.notes {
            if *warning {
                warn!("{text}");
            } else {
                info!("{text}");
            }
        }
    }
}

/// Decides the mode and applies the environment: called once by `main`, single-threaded,
/// before the settings are read, so the variables set here are read like any other.
pub fn prepare() -> Prepared {
    let setting = std::env::var(MODE_VARIABLE)
        .or_else(|_| std::env::var("HA_remote_pid1"))
        .ok();
    let pid_one = reap::is_pid_one();
    let (mode, warning) = decide(pid_one, setting.as_deref());
    let mut notes: Vec<(bool, String)> = warning.into_iter().map(|w| (true, w)).collect();
    MODE.store(
        match mode {
            Mode::Off => OFF,
            Mode::Vars => VARS,
            Mode::Full(_) => FULL,
        },
        Ordering::Relaxed,
    );
    if mode == Mode::Off {
        return Prepared { mode, notes };
    }
    apply_env_file(&mut notes);
    if let Mode::Full(why) = mode {
        let present = |k: &str| std::env::var_os(k).is_some();
        if needs_log_default(&present) {
            std::env::set_var("PCMK_logfile", DEFAULT_LOGFILE);
        }
        match why {
            Why::PidOne => notes.push((
                false,
                String::from(
                    "container init mode: running as PID 1; orphans are reaped, SIGTERM and \
                     SIGINT drain and exit 0",
                ),
            )),
            Why::Asked => match reap::become_subreaper() {
                Ok(()) => notes.push((
                    false,
                    format!(
                        "container init mode ({MODE_VARIABLE}=full): orphans of our agents \
                         are re-parented to us and reaped"
                    ),
                )),
                Err(e) => notes.push((
                    true,
                    format!(
                        "{MODE_VARIABLE}=full: cannot become the reaper of orphans ({e}); \
                         they are left to the system's init"
                    ),
                )),
            },
        }
    }
    Prepared { mode, notes }
}

/// Applies [`ENV_FILE`] (read as data, bounded), noting which names it set.
fn apply_env_file(notes: &mut Vec<(bool, String)>) {
    let file = match std::fs::File::open(ENV_FILE) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            notes.push((true, format!("cannot read {ENV_FILE}: {e}; not applied")));
            return;
        }
    };
    let mut bytes = Vec::new();
    if let Err(e) = file
        .take(PIDONE_ENV_FILE_MAX_BYTES + 1)
        .read_to_end(&mut bytes)
    {
        notes.push((true, format!("cannot read {ENV_FILE}: {e}; not applied")));
        return;
    }
    if bytes.len() as u64 > PIDONE_ENV_FILE_MAX_BYTES {
        notes.push((
            true,
            format!(
                "{ENV_FILE} is larger than {PIDONE_ENV_FILE_MAX_BYTES} bytes \
                 (PIDONE_ENV_FILE_MAX_BYTES); not applied"
            ),
        ));
        return;
    }
    let parsed = EnvFile::parse(&String::from_utf8_lossy(&bytes));
    for w in &parsed.warnings {
        notes.push((true, format!("{ENV_FILE}: {}", escaped(w))));
    }
    let present = |k: &str| std::env::var_os(k).is_some();
    let set = plan(&parsed, &present);
    for (name, value) in &set {
        std::env::set_var(name, value);
    }
    if !set.is_empty() {
        // Names only: a value may be a secret.
        let names: Vec<&str> = set.iter().map(|(n, _)| n.as_str()).collect();
        notes.push((false, format!("{ENV_FILE} set {}", names.join(", "))));
    }
}

/// Reaps every exited child that is not one of our agents (full mode only; a no-op
/// otherwise). Runs on SIGCHLD right after the executor's own pass (`Reaper::reap`): it only
/// peeks at exited children, hands any agent's status to the executor, and reaps the rest by
/// pid, so an agent's status is never taken from it. At most [`PIDONE_REAP_BATCH`] per call;
/// beyond that, SIGCHLD is raised again so the loop serves others first and comes back.
pub fn reap_orphans(agents: &Reaper) {
    if !mode_is_full() {
        return;
    }
    for _ in 0..PIDONE_REAP_BATCH {
        let pid = match reap::peek_exited() {
            Ok(Some(pid)) => pid,
            Ok(None) => return,
            Err(e) => {
                debug!("looking for exited children: {e}");
                return;
            }
        };
        if agents.holds(pid) {
            // An agent that exited after the executor's pass: its status is the executor's.
            agents.reap();
            if agents.holds(pid) {
                return;
            }
            continue;
        }
        match reap::reap(pid) {
            Ok(Some(reap::Ended::Code(c))) => debug!("reaped orphan pid {pid} (exit status {c})"),
            Ok(Some(reap::Ended::Signal(s))) => debug!(
                "reaped orphan pid {pid} (ended by {})",
                crate::sys::signal::name(s)
            ),
            Ok(None) => return,
            Err(e) => {
                debug!("reaping orphan pid {pid}: {e}");
                return;
            }
        }
    }
    reap::nudge();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_one_is_always_full_mode() {
        for setting in [None, Some(""), Some("vars"), Some("full"), Some("bogus")] {
            assert_eq!(decide(true, setting), (Mode::Full(Why::PidOne), None));
        }
    }

    #[test]
    fn the_variable_chooses_the_mode_when_not_pid_one() {
        assert_eq!(decide(false, None), (Mode::Off, None));
        assert_eq!(decide(false, Some("")), (Mode::Off, None));
        assert_eq!(decide(false, Some("full")), (Mode::Full(Why::Asked), None));
        assert_eq!(decide(false, Some("vars")), (Mode::Vars, None));
        let (mode, warning) = decide(false, Some("Full"));
        assert_eq!(mode, Mode::Off);
        assert!(warning.unwrap().contains("neither 'full' nor 'vars'"));
    }

    #[test]
    fn a_hostile_setting_is_escaped_in_the_warning() {
        let (_, warning) = decide(false, Some("x\nforged line"));
        assert!(!warning.unwrap().contains('\n'));
    }

    #[test]
    fn the_environment_wins_and_the_first_line_wins() {
        let file = EnvFile::parse(
            "PCMK_remote_port=3125\n\
             PCMK_logfile=/var/log/ignored.log\n\
             PCMK_remote_address='10.0.0.5'  # the replica's address\n\
             PCMK_remote_address=10.0.0.6\n\
             bad line\n",
        );
        let present = |k: &str| k == "PCMK_logfile";
        assert_eq!(
            plan(&file, &present),
            vec![
                (String::from("PCMK_remote_port"), String::from("3125")),
                (
                    String::from("PCMK_remote_address"),
                    String::from("10.0.0.5")
                ),
            ]
        );
        assert_eq!(file.warnings.len(), 1);
    }

    #[test]
    fn the_log_default_applies_only_when_no_log_file_is_set() {
        assert!(needs_log_default(&|_| false));
        assert!(!needs_log_default(&|k| k == "PCMK_logfile"));
        assert!(!needs_log_default(&|k| k == "HA_logfile"));
    }
}
