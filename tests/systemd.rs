//! `systemd:` resources against the original: Debian 12's own `pacemaker-remote` 2.1.5 and our
//! daemon each run inside a booted Debian 12 root whose real systemd 252 is PID 1
//! (`tests/roots/boot bookworm-systemd`), one at a time, with the same key, and Pacemaker's
//! client library (liblrmd) drives both from the host over the veth through the same sequence
//! on test units: register, probe, meta-data, start, a 2 s recurring monitor, the unit's main
//! process killed and the failure notified, cancel, stop, a start that times out, a probe of a
//! unit still activating (pending), a unit that does not exist, unregister. Results and
//! notifications must be equal field by field, times aside; the runtime drop-in must be in
//! place (and reloaded) when the unit starts, as with the original, and gone after the stops.
//! `tests/interop/systemd.sh` does the work and stops the boot whatever happens.
//!
//! Needs root, namespaces, debootstrap (the root is built once, then reused), pacemaker-dev
//! (liblrmd), jq. Where something is missing the test prints "skipped" and passes, unless
//! PCMKR_REQUIRE_INTEROP=1 (CI sets it), which makes that a failure.

mod scripts;

use std::time::Duration;

use scripts::{interop, missing, missing_liblrmd, skip_or_fail, DAEMON};

#[test]
fn systemd_units_as_the_original_runs_them_under_a_real_systemd() {
    let tools = [
        "debootstrap",
        "unshare",
        "nsenter",
        "ip",
        "gcc",
        "jq",
        "pkg-config",
    ];
    if let Some(m) = missing(&tools, &[]).or_else(missing_liblrmd) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let log = interop("systemd.sh", &[DAEMON], Duration::from_secs(600));
    for pass in [
        "results and notifications equal field by field",
        "exec_time, queue_time, start_delay within",
        "the drop-in was written and reloaded before the start",
        "no drop-in left after the stops",
    ] {
        assert!(log.contains(&format!("PASS: {pass}")), "{log}");
    }
    eprintln!("{log}");
}
