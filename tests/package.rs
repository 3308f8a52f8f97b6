//! The operator files and the Debian package (dist/), through `dist/test-dist`:
//! the man page and scripts on their own; the .deb built twice (same bytes) and installed with
//! `dpkg -i` in a Debian 12 root booted with its real systemd (tests/roots, never the host's
//! file system), over the original pacemaker-remote and on a root without Pacemaker; the same
//! daemon as the remote node of a real cluster, drained by `systemctl stop`; and the BusyBox
//! init script running the static binary in a root holding nothing but BusyBox.
//!
//! These need root, namespaces, debootstrap and the x86_64 musl toolchain (cross/build
//! installs it). Where something is missing they print "skipped" and pass, unless
//! PCMKR_REQUIRE_INTEROP=1 (CI sets it), which turns a missing prerequisite into a failure.

mod scripts;

use std::sync::Mutex;
use std::time::Duration;

use scripts::{missing, skip_or_fail, Script};

/// One `dist/test-dist` at a time: `Script` names its log after the script and our process,
/// so parallel runs would share one file (and two cores are better spent one run at a time).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `dist/test-dist <what>` and checks that it passed.
fn test_dist(what: &str, limit: Duration) -> String {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let out = Script {
        path: "dist/test-dist",
        args: &[what],
        ..Script::default()
    }
    .run(limit);
    assert!(out.lines().any(|l| l == "PASS"), "{out}");
    out
}

/// The TIMING and RESULT lines, for the test log.
fn figures(out: &str) -> String {
    out.lines()
        .filter(|l| l.starts_with("TIMING ") || l.starts_with("RESULT "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The man page passes `groff -ww` and renders with `man -l`; init and maintainer scripts
/// parse with dash and BusyBox's ash (and pass shellcheck where it is installed); README, the
/// settings template and the man page name the same settings.
#[test]
fn operator_files_are_well_formed() {
    if let Some(m) = missing(&["groff", "man", "dash"], &[]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    test_dist("files", Duration::from_secs(60));
}

/// The .deb, built by `dist/build-deb` (twice: the same bytes), installed with `dpkg -i` in a
/// booted Debian 12 root: it replaces the original pacemaker-remote, and on a root with no
/// Pacemaker at all it makes hacluster, haclient and the directories. Each time systemd starts
/// the unit, the daemon listens, `check` from the host signs on, journald stores each line
/// once, SIGUSR1 shows as "log verbosity raised", `systemctl stop` exits 0,
/// `systemd-analyze verify` is silent and `man -l` renders the page; Debian's logrotate (fetched
/// with `apt-get download`) rotates the running daemon's log with our entry.
#[test]
fn deb_installs_and_runs_under_systemd_in_debian_12() {
    let tools = [
        "debootstrap",
        "dpkg-deb",
        "apt-get",
        "unshare",
        "nsenter",
        "ip",
        "rustup",
        "gcc",
    ];
    if let Some(m) = missing(&tools, &[]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    // A cold root build (debootstrap) takes up to a few minutes; the rest about 15 s.
    let out = test_dist("deb", Duration::from_secs(1500));
    for step in [
        "TIMING over-original_install_to_listening_ms",
        "TIMING fresh_install_to_listening_ms",
        "TIMING fresh_stop_ms",
        "RESULT deb_bytes",
    ] {
        assert!(out.contains(step), "missing {step}:\n{out}");
    }
    eprintln!("{}", figures(&out));
}

/// The package's daemon, started by systemd in the booted Debian 12 root, is the remote node of
/// a real cluster (tests/interop/cluster.sh on the host) and runs a Dummy; `systemctl stop`
/// then drains: the cluster stops the Dummy and disconnects, systemd waits for it, and the
/// daemon exits 0.
#[test]
fn systemctl_stop_drains_a_real_cluster_node() {
    let tools = [
        "debootstrap",
        "dpkg-deb",
        "unshare",
        "nsenter",
        "ip",
        "flock",
        "corosync",
        "pacemakerd",
        "crm_mon",
        "crm_resource",
        "cibadmin",
    ];
    if let Some(m) = missing(&tools, &[]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    // Up to 15 minutes waiting for another run's cluster (the interop lock), then about 40 s.
    let out = test_dist("cluster", Duration::from_secs(1800));
    assert!(out.contains("TIMING cluster_drain_stop_ms"), "{out}");
    eprintln!("{}", figures(&out));
}

/// The static binary runs from `dist/pcmk-remoted.busybox` in a root holding only BusyBox:
/// start, listen, `check` signs on, reload (SIGHUP), stop with exit status 0.
#[test]
fn busybox_init_script_runs_the_static_binary() {
    if let Some(m) = missing(&["busybox", "unshare", "ip", "rustup", "gcc"], &[]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = test_dist("busybox", Duration::from_secs(900));
    eprintln!("{}", figures(&out));
}
