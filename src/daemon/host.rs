//! What the protocol core asks of this machine, answered by looking at it: whether sbd runs
//! (for `lrmd_check`, protocol.md 9.8) and who the alert user is (protocol.md 12.8).
//!
//! In: the dispatcher's questions. Out: answers from `/run`, `/proc` and the user database.
//! The core is handed this as a [`Host`] and never looks itself. The scan of `/proc` for sbd
//! is the one costly look: a process found that way is remembered and checked again by its
//! pid alone, so a cluster that checks on every proxied tool session does not cost a scan of
//! every process each time.

use std::cell::Cell;
use std::fs;

use crate::dispatch::Host;

/// sbd's pid files, in the order the original reads them.
const SBD_PID_FILES: [&str; 2] = ["/run/sbd.pid", "/var/run/sbd.pid"];

/// This machine, as the dispatcher sees it.
#[derive(Debug, Default)]
pub struct Machine {
    /// The sbd process last found by scanning `/proc`.
    sbd_seen: Cell<Option<u32>>,
}

impl Host for Machine {
    /// As the original: the pid file names a live process, or a process named `sbd` runs.
    fn sbd_running(&self) -> bool {
        if SBD_PID_FILES.iter().any(|f| pid_file_is_live(f)) {
            return true;
        }
        if let Some(pid) = self.sbd_seen.get() {
            if is_sbd(pid) {
                return true;
            }
        }
        let found = scan_for_sbd();
        self.sbd_seen.set(found);
        found.is_some()
    }

    fn user_ids(&self, user: &str) -> Option<(u32, u32)> {
        crate::sys::users::user_ids(user)
    }
}

fn pid_file_is_live(path: &str) -> bool {
    fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .is_some_and(|pid| fs::metadata(format!("/proc/{pid}")).is_ok())
}

fn is_sbd(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sbd")
}

/// The first process named `sbd`, by a scan of `/proc`.
fn scan_for_sbd() -> Option<u32> {
    let entries = fs::read_dir("/proc").ok()?;
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| is_sbd(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_not_named_sbd_is_not_sbd() {
        assert!(!is_sbd(std::process::id()));
        // No sbd runs on a test machine; either way the answer is stable across calls.
        let m = Machine::default();
        assert_eq!(m.sbd_running(), m.sbd_running());
    }
}
