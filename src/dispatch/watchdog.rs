//! The `lrmd_check` rule: a cluster that relies on watchdog self-fencing must not use a node
//! whose watchdog cannot fence it.
//!
//! In: the cluster's `stonith-watchdog-timeout` as sent, our `SBD_WATCHDOG_TIMEOUT`, and a way
//! to ask whether sbd runs, which is asked only when the answer matters (the cluster relies
//! on watchdog fencing). Out: a verdict. The original exits with status 100 on a fatal verdict
//! (protocol.md 9.8), so that the cluster stops trusting this node; we do the same. Pure: how
//! sbd is looked for is the shell's (`daemon::host`).

/// What to do about one `lrmd_check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to check, or the watchdog set-up is sound; the text is for the info log.
    Fine(String),
    /// The cluster counts on a watchdog this node does not have; the text says why.
    Fatal(String),
}

/// Decides on one check. `requested` is the `lrmd_watchdog` text; a negative value asks for
/// the automatic timeout, twice `SBD_WATCHDOG_TIMEOUT`. `sbd_running` is called at most once.
pub fn verdict(
    requested: Option<&str>,
    sbd_timeout_ms: Option<u64>,
    sbd_running: impl FnOnce() -> bool,
) -> Verdict {
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
    if !sbd_running() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_original() {
        let fine = |v: &Verdict| matches!(v, Verdict::Fine(_));
        let (yes, no) = (|| true, || false);
        assert!(fine(&verdict(None, None, no)));
        assert!(fine(&verdict(Some("0"), None, no)));
        assert!(
            fine(&verdict(Some("-1"), None, no)),
            "automatic without sbd is 0"
        );
        assert!(!fine(&verdict(Some("-1"), Some(5000), no)));
        assert!(!fine(&verdict(Some("10s"), None, no)));
        assert!(!fine(&verdict(Some("4s"), Some(5000), yes)));
        assert!(
            fine(&verdict(Some("10"), Some(5000), yes)),
            "bare numbers are seconds"
        );
        assert!(fine(&verdict(Some("bogus"), None, no)));
    }

    #[test]
    fn sbd_is_looked_for_only_when_the_cluster_relies_on_it() {
        let never = || -> bool { panic!("sbd looked for needlessly") };
        for requested in [None, Some(""), Some("0"), Some("-1"), Some("bogus")] {
            assert!(matches!(verdict(requested, None, never), Verdict::Fine(_)));
        }
    }
}
