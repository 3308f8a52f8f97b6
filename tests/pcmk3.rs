//! Pacemaker 3.x clusters and node tools: tests/pcmk3/scenario.sh runs a one-node cluster of
//! Debian 13 (Pacemaker 3.0.0) or Debian unstable (3.0.3) from tests/roots, with our daemon
//! and then the original of the same version as the remote node: the node comes online; the
//! node's own crm_mon, crm_attribute, attrd_updater, cibadmin and crm_resource work through
//! the daemon with no IPC setting; a Dummy starts, is monitored, fails and recovers; SIGTERM
//! drains it with the node never shown failed and exit status 0; the node rejoins; kill -9 and
//! a restart bring it back. The 2.1.5 tools and cluster of the host are tests/proxy.rs's.
//!
//! Needs root, namespaces, xmllint, flock and the two roots (tests/roots/build, which needs
//! debootstrap and the host's Debian mirror the first time; tests/run-all builds them once per
//! run). Where something is missing it prints "skipped" and passes, unless
//! PCMKR_REQUIRE_INTEROP=1. The two versions run one after the other, never side by side.

mod scripts;

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use scripts::{missing, repo, skip_or_fail, Script, DAEMON};

/// One version's run: cluster start (~25 s), two daemons through every step (~30 s each when
/// all goes well; each wait is bounded by 60 s), stop. Room for a slow or busy machine.
const LIMIT: Duration = Duration::from_secs(1200);

/// The checks every daemon must pass, as the script names them.
const CHECKS: [&str; 12] = [
    "online",
    "tool_crm_mon",
    "tool_crm_attribute",
    "tool_attrd_updater",
    "tool_cibadmin",
    "tool_crm_resource",
    "dummy",
    "recovery",
    "drain",
    "drain_moved",
    "rejoin",
    "kill",
];

/// The clusters are big: one at a time, also when the test harness runs tests in parallel.
static ONE_CLUSTER: Mutex<()> = Mutex::new(());

/// The first missing prerequisite, the root included (built here if it is not yet).
fn missing_for(root: &str) -> Option<String> {
    let tools = [
        "ip", "unshare", "nsenter", "flock", "xmllint", "mount", "pgrep",
    ];
    if let Some(m) = missing(&tools, &[]) {
        return Some(m);
    }
    // Reuses a built root in well under a second; builds it otherwise (35-60 s).
    let out = Command::new("bash")
        .arg(repo().join("tests/roots/build"))
        .arg(root)
        .stdin(Stdio::null())
        .output()
        .expect("run tests/roots/build");
    (!out.status.success()).then(|| {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        format!(
            "the {root} root (tests/roots/build {root} failed: {})",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )
    })
}

/// Runs the scenario on `root` and checks that both daemons passed every check.
fn both_daemons_on(root: &str, version: &str) {
    let _one = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = missing_for(root) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = Script {
        path: "tests/pcmk3/scenario.sh",
        args: &[root, DAEMON],
        ..Script::default()
    }
    .run(LIMIT);
    assert!(out.lines().any(|l| l == "PASS"), "{out}");
    for kind in ["ours", "original"] {
        for check in CHECKS {
            let prefix = format!("RESULT {kind} {check} pass");
            assert!(
                out.lines().any(|l| l.starts_with(&prefix)),
                "Pacemaker {version}, {kind}: no passing {check}:\n{out}"
            );
        }
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("RESULT ours ipc_layout pass")),
        "{out}"
    );
    for l in out.lines().filter(|l| l.starts_with("TIMING ")) {
        eprintln!("{version} {l}");
    }
}

/// Debian 13's Pacemaker 3.0.0: its tools use the 2.x IPC header.
#[test]
fn pacemaker_3_0_0_cluster_and_tools_with_our_node_and_the_original() {
    both_daemons_on("trixie-cluster", "3.0.0");
}

/// Debian unstable's Pacemaker 3.0.3: its tools use the 3.0.1+ IPC header.
#[test]
fn pacemaker_3_0_3_cluster_and_tools_with_our_node_and_the_original() {
    both_daemons_on("sid-cluster", "3.0.3");
}

/// Schema transfer (protocol.md 17) on `root`: tests/pcmk3/schemas.sh makes the node's schemas
/// lag the cluster's by one release; with our daemon and with the original, the files arrive,
/// are the same, and the node's tools work with them and fail without them.
fn schema_transfer_on(root: &str, version: &str) {
    let _one = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = missing_for(root) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = Script {
        path: "tests/pcmk3/schemas.sh",
        args: &[root, DAEMON],
        ..Script::default()
    }
    .run(Duration::from_secs(600));
    assert!(
        out.lines().any(|l| l == "PASS"),
        "Pacemaker {version}:\n{out}"
    );
    for kind in ["ours", "original"] {
        for check in ["fetched", "tool_crm_mon", "tool_crm_resource", "control"] {
            let prefix = format!("RESULT {kind} {check} pass");
            assert!(
                out.lines().any(|l| l.starts_with(&prefix)),
                "Pacemaker {version}, {kind}: no passing {check}:\n{out}"
            );
        }
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("RESULT ours same_as_original pass")),
        "{out}"
    );
}

/// Schema transfer from a Pacemaker 3.0.0 cluster to a node whose schemas lag it.
#[test]
fn pacemaker_3_0_0_schema_transfer_to_a_lagging_node_as_the_original() {
    schema_transfer_on("trixie-cluster", "3.0.0");
}

/// Schema transfer from a Pacemaker 3.0.3 cluster to a node whose schemas lag it.
#[test]
fn pacemaker_3_0_3_schema_transfer_to_a_lagging_node_as_the_original() {
    schema_transfer_on("sid-cluster", "3.0.3");
}
