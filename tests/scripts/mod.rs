//! Shared helpers for the suites that run a script of tests/interop/ (or another repository
//! script) against the real Pacemaker: prerequisites, and running a script under a deadline.
//!
//! A missing prerequisite prints "skipped" and passes, unless PCMKR_REQUIRE_INTEROP=1 (CI),
//! which makes it a failure. Scripts' output goes to a file, printed when they fail; a script
//! past its deadline gets SIGTERM, and its trap removes what it created.

// Test helpers panic on setup failures; that is a failed test, as intended.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The daemon under test.
pub const DAEMON: &str = env!("CARGO_BIN_EXE_pcmk-remoted");

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether we run as root (namespaces, clusters and users need it).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
}

/// Whether a shell command succeeds (quietly).
pub fn succeeds(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The first missing prerequisite: root, then each tool, then each file.
pub fn missing(tools: &[&str], files: &[&str]) -> Option<String> {
    if !is_root() {
        return Some(String::from("root"));
    }
    if let Some(t) = tools.iter().find(|t| !succeeds(&format!("command -v {t}"))) {
        return Some(t.to_string());
    }
    files
        .iter()
        .find(|f| !Path::new(f).exists())
        .map(|f| f.to_string())
}

/// Pacemaker's client library, for the liblrmd driver.
pub fn missing_liblrmd() -> Option<String> {
    (!succeeds("pkg-config --exists pacemaker-lrmd"))
        .then(|| String::from("pacemaker-dev (pkg-config pacemaker-lrmd)"))
}

/// Handles a missing prerequisite: true (skip) on a developer's machine, a failure in CI.
pub fn skip_or_fail(what: &str) -> bool {
    if std::env::var("PCMKR_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("interop prerequisite missing: {what} (PCMKR_REQUIRE_INTEROP=1)");
    }
    eprintln!("skipped: {what} not available");
    true
}

/// One script run.
#[derive(Default)]
pub struct Script<'a> {
    /// Path relative to the repository root.
    pub path: &'a str,
    /// Its arguments.
    pub args: &'a [&'a str],
    /// Extra environment.
    pub env: &'a [(&'a str, &'a str)],
    /// Keep stdout apart in this file, when set.
    pub stdout_to: Option<&'a Path>,
}

impl Script<'_> {
    /// Runs it under `limit`; returns its output (stderr, and stdout unless kept apart).
    /// Panics, showing the output, if it fails or overruns.
    pub fn run(&self, limit: Duration) -> String {
        let name = Path::new(self.path)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let log =
            std::env::temp_dir().join(format!("pcmkr-test-{name}-{}.log", std::process::id()));
        let out = std::fs::File::create(&log).unwrap();
        let stdout = match self.stdout_to {
            Some(p) => std::fs::File::create(p).unwrap(),
            None => out.try_clone().unwrap(),
        };
        // Through bash, so a checkout that lost the execute bits still runs.
        let mut child = Command::new("bash")
            .arg(repo().join(self.path))
            .args(self.args)
            .envs(self.env.iter().copied())
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
                // The scripts trap TERM and clean up, each step bounded, so this wait ends.
                let _ = Command::new("kill").arg(child.id().to_string()).status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        match status {
            Some(s) if s.success() => text,
            Some(s) => panic!("{} failed ({s}):\n{text}", self.path),
            None => panic!("{} did not finish within {limit:?}:\n{text}", self.path),
        }
    }
}

/// Runs `tests/interop/<script> args...` under `limit`.
pub fn interop(script: &str, args: &[&str], limit: Duration) -> String {
    let path = format!("tests/interop/{script}");
    Script {
        path: &path,
        args,
        ..Script::default()
    }
    .run(limit)
}
