//! Mixed byte order: our daemon built for the big-endian board (`board/s390x-generic.toml`)
//! runs under qemu-user and serves Pacemaker's own little-endian client library (liblrmd),
//! and each side's `check` reaches the other. `tests/interop/endian.sh` does the work.
//!
//! Needs root (network namespaces), qemu-user-static, pacemaker-dev, jq, and either a
//! prebuilt big-endian binary in PCMKR_BE_BINARY or the s390x toolchain (`cross/build
//! s390x-generic` installs it). Where something is missing the test prints "skipped" and
//! passes, unless PCMKR_REQUIRE_INTEROP=1 (CI sets it), which makes that a failure.

mod scripts;

use std::path::{Path, PathBuf};
use std::time::Duration;

use scripts::{missing, missing_liblrmd, skip_or_fail, succeeds, Script, DAEMON as LE_DAEMON};

const BOARD: &str = "s390x-generic";
const TARGET: &str = "s390x-unknown-linux-gnu";

#[test]
fn big_endian_daemon_serves_little_endian_liblrmd_and_checks_cross() {
    if let Some(m) = missing_here() {
        if skip_or_fail(&m) {
            return;
        }
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
fn missing_here() -> Option<String> {
    if let Some(m) = missing(&["ip", "gcc", "jq", "readelf", "qemu-s390x-static"], &[]) {
        return Some(m);
    }
    if let Some(m) = missing_liblrmd() {
        return Some(m);
    }
    let prebuilt = std::env::var_os("PCMKR_BE_BINARY").is_some_and(|p| Path::new(&p).is_file());
    let toolchain = succeeds("command -v s390x-linux-gnu-gcc")
        && succeeds(&format!(
            "rustup target list --installed | grep -qx {TARGET}"
        ));
    (!prebuilt && !toolchain).then(|| {
        format!("PCMKR_BE_BINARY or the {TARGET} toolchain (run cross/build {BOARD} once)")
    })
}

/// Runs a repository script with a deadline; returns its output, panics on failure.
fn run(argv: &[&str], limit: Duration) -> String {
    Script {
        path: argv[0],
        args: &argv[1..],
        ..Script::default()
    }
    .run(limit)
}
