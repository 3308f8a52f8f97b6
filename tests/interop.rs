//! Interop against the real Pacemaker: its client library (liblrmd) and a real one-node
//! cluster, each run by a script in tests/interop/ with our binary as the daemon.
//!
//! These need root, network namespaces and Debian's pacemaker packages. Where something is
//! missing they print "skipped" and pass, unless PCMKR_REQUIRE_INTEROP=1 (CI sets it), which
//! turns a missing prerequisite into a failure.

// Test helpers panic on setup failures; that is a failed test, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DAEMON: &str = env!("CARGO_BIN_EXE_pcmk-remoted");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `None` when everything is there; otherwise what is missing.
fn missing(tools: &[&str]) -> Option<String> {
    // SAFETY-free check for root: /proc/self/status's Uid line.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"));
    if !root {
        return Some(String::from("root"));
    }
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(tool.to_string());
        }
    }
    let lrmd = Command::new("pkg-config")
        .args(["--exists", "pacemaker-lrmd"])
        .status()
        .is_ok_and(|s| s.success());
    (!lrmd).then(|| String::from("pacemaker-dev (pkg-config pacemaker-lrmd)"))
}

fn skip_or_fail(what: &str) -> bool {
    if std::env::var("PCMKR_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("interop prerequisite missing: {what} (PCMKR_REQUIRE_INTEROP=1)");
    }
    eprintln!("skipped: {what} not available");
    true
}

/// Runs a script with a hard deadline; its output goes to a file that is printed on failure.
fn run_script(script: &str, args: &[&str], limit: Duration) -> String {
    run_script_split(script, args, limit, None)
}

/// [`run_script`], with stdout kept apart in `stdout_to` when given.
fn run_script_split(
    script: &str,
    args: &[&str],
    limit: Duration,
    stdout_to: Option<&Path>,
) -> String {
    let log = std::env::temp_dir().join(format!(
        "pcmkr-test-{}-{}.log",
        Path::new(script).file_stem().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let out = std::fs::File::create(&log).unwrap();
    let stdout = match stdout_to {
        Some(p) => std::fs::File::create(p).unwrap(),
        None => out.try_clone().unwrap(),
    };
    let mut child = Command::new("bash")
        .arg(repo().join("tests/interop").join(script))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(out)
        .spawn()
        .expect("start script");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            // The script traps TERM and cleans up its cluster and namespaces.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    match status {
        Some(s) if s.success() => text,
        Some(s) => panic!("{script} failed ({s}):\n{text}"),
        None => panic!("{script} did not finish within {limit:?}:\n{text}"),
    }
}

/// Pacemaker's own client library signs on, pokes and disconnects, against our daemon and,
/// in the same test, against Debian's original daemon.
#[test]
fn liblrmd_signs_on_to_ours_and_to_the_original() {
    if let Some(m) = missing(&["ip", "gcc", "pkg-config", "jq", "apt-get", "dpkg"]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let ours = run_script("signon.sh", &[DAEMON], Duration::from_secs(120));
    assert!(ours.contains("PASS"), "{ours}");
    let original = run_script("original-daemon.sh", &[], Duration::from_secs(300));
    let original = original
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    assert!(
        Path::new(&original).exists(),
        "no original daemon at '{original}'"
    );
    let theirs = run_script("signon.sh", &[&original], Duration::from_secs(120));
    assert!(theirs.contains("PASS"), "{theirs}");
    // The same calls and results, apart from times.
    let calls = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.starts_with("{\"kind\":\"call\""))
            .map(|l| l.split(",\"elapsed_ms\"").next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(calls(&ours), calls(&theirs));
}

/// A real single-node cluster sees our daemon `RemoteOnline`, notices when it is killed, and
/// sees it come back after a restart (reconnect_interval).
#[test]
fn real_cluster_sees_our_node_online_and_back_after_a_kill() {
    if let Some(m) = missing(&[
        "ip",
        "gcc",
        "pkg-config",
        "jq",
        "corosync",
        "pacemakerd",
        "crm_mon",
        "cibadmin",
    ]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = run_script("e2e-remote-online.sh", &[DAEMON], Duration::from_secs(400));
    assert!(out.contains("PASS"), "{out}");
    for step in [
        "TIMING join",
        "TIMING notice_kill",
        "TIMING rejoin_after_restart",
    ] {
        assert!(out.contains(step), "missing {step}:\n{out}");
    }
}

/// The executor's replies and notifications, field by field, against Debian's original for
/// the same scripted session through Pacemaker's own client library: register, probe, start,
/// recurring monitor, a failing monitor, cancel, a timeout, a start delay, exit reasons, stop,
/// unregister, missing agents and unknown classes. Only times may differ.
#[test]
fn executor_matches_the_original_field_by_field() {
    if let Some(m) = missing(&["ip", "gcc", "pkg-config", "jq", "apt-get", "dpkg"]) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("pcmkr-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = dir.join("ours.jsonl");
    let theirs = dir.join("original.jsonl");
    let log = run_script_split(
        "golden-sequence.sh",
        &[DAEMON],
        Duration::from_secs(240),
        Some(&ours),
    );
    assert!(log.contains("PASS"), "{log}");
    let original = run_script("original-daemon.sh", &[], Duration::from_secs(300));
    let original = original
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string();
    let log = run_script_split(
        "golden-sequence.sh",
        &[&original],
        Duration::from_secs(240),
        Some(&theirs),
    );
    assert!(log.contains("PASS"), "{log}");
    let (o, t) = (ours.display().to_string(), theirs.display().to_string());
    let verdict = run_script("compare-sessions.sh", &[&t, &o], Duration::from_secs(30));
    assert!(verdict.contains("sessions match"), "{verdict}");
    // And against the capture committed with the tests, so a change in both is noticed.
    let golden = repo().join("tests/interop/golden/original-2.1.5.jsonl");
    let verdict = run_script(
        "compare-sessions.sh",
        &[&golden.display().to_string(), &o],
        Duration::from_secs(30),
    );
    assert!(verdict.contains("sessions match"), "{verdict}");
    let _ = std::fs::remove_dir_all(&dir);
}
