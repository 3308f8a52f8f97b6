//! Guest nodes, bundles and container init mode (feature `pidone`), against the real
//! Pacemaker: each test runs a script of tests/interop/ with our binary, and the guest-node
//! scenarios also with Debian's original 2.1.5 for comparison.
//!
//! These need root, network, PID and mount namespaces, and Debian's pacemaker packages; the
//! bundle also podman, runc and busybox-static. Where something is missing they print
//! "skipped" and pass, unless PCMKR_REQUIRE_INTEROP=1 (CI sets it), which turns a missing
//! prerequisite into a failure.

mod scripts;

use std::path::Path;
#[cfg(feature = "pidone")]
use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "pidone")]
use scripts::missing_liblrmd;
use scripts::{interop, missing, skip_or_fail, Script, DAEMON};

/// Debian's original daemon, unpacked once (tests/interop/original-daemon.sh).
fn original() -> String {
    let out = interop("original-daemon.sh", &[], Duration::from_secs(300));
    let path = out.lines().last().unwrap_or_default().trim().to_string();
    assert!(Path::new(&path).exists(), "no original daemon at '{path}'");
    path
}

/// The figures a script printed (TIMING, RESULT and FINDING lines), for the test log.
fn figures(out: &str) -> String {
    out.lines()
        .filter(|l| {
            l.starts_with("TIMING ") || l.starts_with("RESULT ") || l.starts_with("FINDING")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first missing prerequisite of the cluster scenarios.
fn missing_cluster(more: &[&str]) -> Option<String> {
    let tools: Vec<&str> = [
        "ip",
        "corosync",
        "pacemakerd",
        "crm_mon",
        "cibadmin",
        "crm_resource",
        "xmllint",
        "unshare",
        "setpriv",
    ]
    .iter()
    .chain(more)
    .copied()
    .collect();
    missing(&tools, &["/usr/lib/ocf/resource.d/pacemaker/Dummy"])
}

/// As PID 1 of a new PID namespace, with no cluster: a double-forked orphan is reaped within
/// a second of its exit (after a control run in which `sleep` as PID 1 leaves the zombie);
/// 40 agent results stay exact while 80 orphans exit around them; pcmk-init.env sets the
/// port without overriding the environment; SIGTERM ends it with status 0. The original's
/// behaviour in the same run is reported (its container init swallows SIGTERM).
#[cfg(feature = "pidone")]
#[test]
fn as_pid1_reaps_orphans_keeps_agent_results_and_exits_zero_on_sigterm() {
    if let Some(m) = missing(
        &["ip", "unshare", "nsenter", "setpriv", "ss", "jq", "gcc"],
        &[],
    )
    .or_else(missing_liblrmd)
    {
        if skip_or_fail(&m) {
            return;
        }
    }
    let ours = interop("pidone.sh", &[DAEMON], Duration::from_secs(180));
    for pass in [
        "PASS: a double-forked orphan is reaped within 1 s",
        "PASS: 40 agent results intact",
        "PASS: pcmk-init.env sets the port",
        "PASS: SIGTERM as PID 1: exit status 0",
    ] {
        assert!(ours.contains(pass), "missing '{pass}':\n{ours}");
    }
    let theirs = Script {
        path: "tests/interop/pidone.sh",
        args: &[&original()],
        env: &[("PCMKR_DAEMON_KIND", "original")],
        ..Script::default()
    }
    .run(Duration::from_secs(240));
    eprintln!(
        "ours:\n{}\noriginal 2.1.5:\n{}",
        figures(&ours),
        figures(&theirs)
    );
}

/// The scripted executor session of golden-sequence.sh, with our daemon as PID 1 of a new
/// PID namespace, matches the original's recorded session field by field: reaping orphans
/// as PID 1 never changes an agent's result.
#[cfg(feature = "pidone")]
#[test]
fn as_pid1_the_executor_session_matches_the_original() {
    if let Some(m) =
        missing(&["ip", "unshare", "setpriv", "jq", "gcc"], &[]).or_else(missing_liblrmd)
    {
        if skip_or_fail(&m) {
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("pcmkr-pid1-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let session = dir.join("pid1.jsonl");
    let log = Script {
        path: "tests/interop/golden-sequence.sh",
        args: &["bash", "tests/interop/as-pid1.sh", DAEMON],
        stdout_to: Some(&session),
        ..Script::default()
    }
    .run(Duration::from_secs(240));
    assert!(log.contains("PASS"), "{log}");
    let golden = scripts::repo().join("tests/interop/golden/original-2.1.5.jsonl");
    let verdict = interop(
        "compare-sessions.sh",
        &[
            golden.to_str().unwrap(),
            session.to_str().unwrap_or_default(),
        ],
        Duration::from_secs(30),
    );
    assert!(verdict.contains("sessions match"), "{verdict}");
    let _ = std::fs::remove_dir_all(&dir);
}

const GUEST_STEPS: &[&str] = &[
    "TIMING guest_online",
    "TIMING dummy_running",
    "TIMING dummy_monitored",
    "TIMING kill_daemon_online_again",
    "TIMING kill_daemon_dummy_again",
    "TIMING kill_guest_online_again",
    "TIMING kill_guest_dummy_again",
    "TIMING guest_stopped",
];

/// Guest nodes in a real cluster, configured through remote-node, remote-addr, remote-port
/// and remote-connect-timeout: the guest (a namespace standing in for a VM) starts and its
/// node comes online, a Dummy runs on it and is monitored, killing the daemon or the whole
/// guest is recovered, and stopping the guest resource stops the Dummy first. The same with
/// Debian's original daemon; both sets of timings are printed.
#[test]
fn guest_node_ours_and_the_original() {
    if let Some(m) = missing_cluster(&[]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let ours = interop("e2e-guest.sh", &[DAEMON], Duration::from_secs(900));
    for step in GUEST_STEPS {
        assert!(ours.contains(step), "missing {step}:\n{ours}");
    }
    assert!(ours.contains("PASS"), "{ours}");
    let theirs = Script {
        path: "tests/interop/e2e-guest.sh",
        args: &[&original()],
        env: &[("PCMKR_DAEMON_KIND", "original")],
        ..Script::default()
    }
    .run(Duration::from_secs(900));
    for step in GUEST_STEPS {
        assert!(theirs.contains(step), "original: missing {step}:\n{theirs}");
    }
    eprintln!(
        "ours:\n{}\noriginal 2.1.5:\n{}",
        figures(&ours),
        figures(&theirs)
    );
}

/// A guest node whose daemon is PID 1 of the guest's own PID namespace (container init mode)
/// in a real cluster: the same scenarios, plus the drain: SIGTERM to PID 1 while the cluster
/// is connected makes the cluster stop the guest's Dummy, and then the daemon exits 0.
#[cfg(feature = "pidone")]
#[test]
fn guest_node_with_our_daemon_as_pid1_drains_on_sigterm() {
    if let Some(m) = missing_cluster(&[]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = Script {
        path: "tests/interop/e2e-guest.sh",
        args: &[DAEMON],
        env: &[("PCMKR_GUEST_PID1", "1")],
        ..Script::default()
    }
    .run(Duration::from_secs(900));
    for step in GUEST_STEPS {
        assert!(out.contains(step), "missing {step}:\n{out}");
    }
    assert!(out.contains("RESULT drain_exit_status 0"), "{out}");
    eprintln!("ours as PID 1:\n{}", figures(&out));
}

/// Our static binary (`cross/build x86_64-generic`), or PCMKR_STATIC_BINARY.
#[cfg(feature = "pidone")]
fn static_binary() -> PathBuf {
    if let Ok(p) = std::env::var("PCMKR_STATIC_BINARY") {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let out = Script {
        path: "cross/build",
        args: &["x86_64-generic"],
        ..Script::default()
    }
    .run(Duration::from_secs(900));
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with("x86_64-generic "))
        .unwrap_or_else(|| panic!("no binary path from cross/build:\n{out}"));
    PathBuf::from(
        line.split(' ')
            .nth(2)
            .expect("cross/build prints BOARD BYTES PATH"),
    )
}

/// A real Pacemaker bundle (podman, control-port, a storage mapping, IPaddr2 for the
/// replica's address) runs an image of our static binary and a static busybox, imported
/// without a registry: the replica's node comes online with the daemon as the container's
/// PID 1 in container init mode, a Dummy inside starts and is monitored, killing the
/// container is recovered, and the bundle stops.
#[cfg(feature = "pidone")]
#[test]
fn bundle_runs_our_image_with_the_daemon_as_pid1() {
    if let Some(m) =
        missing_cluster(&["podman", "runc", "busybox", "file", "strip", "ss"]).or_else(|| {
            (!Path::new("/usr/lib/ocf/resource.d/heartbeat/podman").exists())
                .then(|| String::from("ocf:heartbeat:podman (resource-agents)"))
        })
    {
        if skip_or_fail(&m) {
            return;
        }
    }
    let binary = static_binary();
    let out = interop(
        "e2e-bundle.sh",
        &[binary.to_str().unwrap()],
        Duration::from_secs(900),
    );
    for step in [
        "TIMING replica_online",
        "TIMING dummy_running",
        "TIMING dummy_monitored",
        "TIMING kill_container_online_again",
        "TIMING kill_container_dummy_again",
        "TIMING bundle_stopped",
    ] {
        assert!(out.contains(step), "missing {step}:\n{out}");
    }
    assert!(out.contains("PASS"), "{out}");
    eprintln!("bundle:\n{}", figures(&out));
}
