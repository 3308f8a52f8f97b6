//! The `lrmd_check` rule: a cluster that relies on watchdog self-fencing must not use a node
//! whose watchdog cannot fence it.
//!
//! In: the cluster's `stonith-watchdog-timeout` as sent, our `SBD_WATCHDOG_TIMEOUT`, and
//! whether sbd runs. Out: a verdict. The original exits with status 100 on a fatal verdict
//! (protocol.md 9.8), so that the cluster stops trusting this node; we do the same.

use std::fs;

/// What to do about one `lrmd_check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to check, or the watchdog set-up is sound; the text is for the info log.
    Fine(String),
    /// The cluster counts on a watchdog this node does not have; the text says why.
    Fatal(String),
}

/// Decides on one check. `requested` is the `lrmd_watchdog` text; a negative value asks for
/// the automatic timeout, twice `SBD_WATCHDOG_TIMEOUT`.
pub fn verdict(requested: Option<&str>, sbd_timeout_ms: Option<u64>, sbd_running: bool) -> Verdict {
    let Some(text) = requested.map(str::trim).filter(|t| !t.is_empty()) else {
        return Verdict::Fine(String::from("cluster does not use watchdog fencing"));
    };
    let wanted_ms = if text.starts_with('-') {
        sbd_timeout_ms.map_or(0, |t| t.saturating_mul(2))
    } else {
        // Pacemaker durations without a unit are seconds.
        match crate::config::parse_duration_ms(text, 1000) {
            Some(ms) => ms,
            None => {
                return Verdict::Fine(format!(
                    "ignoring unparsable stonith-watchdog-timeout '{text}'"
                ))
            }
        }
    };
    if wanted_ms == 0 {
        return Verdict::Fine(String::from("cluster does not use watchdog fencing"));
    }
    if !sbd_running {
        return Verdict::Fatal(format!(
            "cluster uses watchdog fencing (stonith-watchdog-timeout={text}) but sbd is not \
             running on this node; shutting down so the cluster cannot rely on it"
        ));
    }
    match sbd_timeout_ms {
        Some(sbd) if wanted_ms < sbd => Verdict::Fatal(format!(
            "stonith-watchdog-timeout ({wanted_ms} ms) is shorter than this node's \
             SBD_WATCHDOG_TIMEOUT ({sbd} ms); shutting down"
        )),
        _ => Verdict::Fine(format!(
            "watchdog fencing timeout {wanted_ms} ms is compatible with this node's sbd"
        )),
    }
}

/// Whether an sbd daemon runs here: its pid file, else a process named `sbd`.
pub fn sbd_running() -> bool {
    for pid_file in ["/run/sbd.pid", "/var/run/sbd.pid"] {
        if let Ok(text) = fs::read_to_string(pid_file) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                if fs::metadata(format!("/proc/{pid}")).is_ok() {
                    return true;
                }
            }
        }
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
            && fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "sbd")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_original() {
        let fine = |v: &Verdict| matches!(v, Verdict::Fine(_));
        assert!(fine(&verdict(None, None, false)));
        assert!(fine(&verdict(Some("0"), None, false)));
        assert!(
            fine(&verdict(Some("-1"), None, false)),
            "automatic without sbd is 0"
        );
        assert!(!fine(&verdict(Some("-1"), Some(5000), false)));
        assert!(!fine(&verdict(Some("10s"), None, false)));
        assert!(!fine(&verdict(Some("4s"), Some(5000), true)));
        assert!(
            fine(&verdict(Some("10"), Some(5000), true)),
            "bare numbers are seconds"
        );
        assert!(fine(&verdict(Some("bogus"), None, false)));
    }
}
