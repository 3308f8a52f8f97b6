//! Mixed byte order: our daemon built for the big-endian board (`board/s390x-generic.toml`)
//! runs under qemu-user and serves Pacemaker's own little-endian client library (liblrmd),
//! and each side's `check` reaches the other. `tests/interop/endian.sh` does the work.
//!
//! Needs root (network namespaces), qemu-user-static, pacemaker-dev, jq, and either a
//! prebuilt big-endian binary in PCMKR_BE_BINARY or the s390x toolchain (`cross/build
//! s390x-generic` installs it). Where something is missing the test prints "skipped" and
//! passes, unless PCMKR_REQUIRE_INTEROP=1 (CI sets it), which makes that a failure.

// Test helpers panic on setup failures; that is a failed test, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LE_DAEMON: &str = env!("CARGO_BIN_EXE_pcmk-remoted");
const BOARD: &str = "s390x-generic";
const TARGET: &str = "s390x-unknown-linux-gnu";

#[test]
fn big_endian_daemon_serves_little_endian_liblrmd_and_checks_cross() {
    if let Some(m) = missing() {
        if std::env::var("PCMKR_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("interop prerequisite missing: {m} (PCMKR_REQUIRE_INTEROP=1)");
        }
        eprintln!("skipped: {m} not available");
        return;
    }
    let be = match std::env::var("PCMKR_BE_BINARY") {
        Ok(path) if !path.is_empty() => PathBuf::from(path),
        // cross/build prints "BOARD BYTES PATH"; a second build only relinks nothing.
        _ => {
            let out = run(&["cross/build", BOARD], Duration::from_secs(900));
            let line = out.lines().rev().find(|l| l.starts_with(BOARD)).unwrap();
            PathBuf::from(line.split(' ').nth(2).unwrap())
        }
    };
    let script = "tests/interop/endian.sh";
    let log = run(
        &[script, be.to_str().unwrap(), LE_DAEMON],
        Duration::from_secs(300),
    );
    for pass in [
        "liblrmd (little-endian) drove the big-endian daemon",
        "little-endian check",
        "big-endian check",
    ] {
        assert!(log.contains(&format!("PASS: {pass}")), "{log}");
    }
}

/// `None` when everything is there; otherwise the first thing missing.
fn missing() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"));
    if !root {
        return Some(String::from("root"));
    }
    let has = |cmd: &str| {
        Command::new("sh")
            .args(["-c", cmd])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    for tool in ["ip", "gcc", "jq", "readelf", "qemu-s390x-static"] {
        if !has(&format!("command -v {tool}")) {
            return Some(tool.to_string());
        }
    }
    if !has("pkg-config --exists pacemaker-lrmd") {
        return Some(String::from("pacemaker-dev (pkg-config pacemaker-lrmd)"));
    }
    let prebuilt = std::env::var_os("PCMKR_BE_BINARY").is_some_and(|p| Path::new(&p).is_file());
    let toolchain = has("command -v s390x-linux-gnu-gcc")
        && has(&format!(
            "rustup target list --installed | grep -qx {TARGET}"
        ));
    (!prebuilt && !toolchain).then(|| {
        format!("PCMKR_BE_BINARY or the {TARGET} toolchain (run cross/build {BOARD} once)")
    })
}

/// Runs a repository script with a deadline; returns stdout and stderr, panics on failure.
fn run(argv: &[&str], limit: Duration) -> String {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let log = std::env::temp_dir().join(format!("pcmkr-test-endian-{}.log", std::process::id()));
    let out = std::fs::File::create(&log).unwrap();
    // Through bash, so a checkout that lost the execute bits still runs.
    let mut child = Command::new("bash")
        .arg(repo.join(argv[0]))
        .args(&argv[1..])
        .current_dir(&repo)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start script");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            // The scripts trap TERM and remove their namespace and daemons.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    match status {
        Some(s) if s.success() => text,
        Some(s) => panic!("{} failed ({s}):\n{text}", argv[0]),
        None => panic!("{} did not finish within {limit:?}:\n{text}", argv[0]),
    }
}
