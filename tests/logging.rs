//! Where the real binary's log lines go, through the events an appliance lives through for
//! years: the syslog daemon missing, restarting, or replaced; the log file rotated away; a
//! peer-controlled newline. The daemon runs in its own mount namespace whose `/dev` is a
//! directory of this test (with `null`, `zero` and `urandom` bound in), so the test owns
//! `/dev/log` without touching the host's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod scripts;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_port, poll_until, random_bytes, Scratch, BINARY, STEP};

/// A daemon in a private mount namespace whose /dev is `dev` (a directory of the test).
struct Boxed {
    child: Child,
    log: std::path::PathBuf,
}

impl Boxed {
    fn start(scratch: &Scratch) -> Boxed {
        let dev = scratch.path("dev");
        std::fs::create_dir_all(&dev).unwrap();
        let key = scratch.path("authkey");
        std::fs::write(&key, random_bytes(4096)).unwrap();
        let log = scratch.path("p.log");
        let port = free_port();
        let script = format!(
            "set -e; mount --make-rprivate /; \
             for n in null zero urandom random; do touch {dev}/$n; mount --bind /dev/$n {dev}/$n; done; \
             mount --bind {dev} /dev; \
             exec {bin} --port {port} --address 127.0.0.1 --sysconfig none --authkey {key} \
                  --no-local-ipc --logfile {log}",
            dev = dev.display(),
            bin = BINARY,
            key = key.display(),
            log = log.display(),
        );
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("PCMK_logfile", "none")
            .env("PCMK_logfacility", "daemon")
            .env("PCMK_logpriority", "info")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(scratch.path("stderr")).unwrap())
            .spawn()
            .unwrap();
        let b = Boxed { child, log };
        b.wait_file("listening on", STEP);
        b
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success());
    }

    fn file_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_file(&self, needle: &str, limit: Duration) {
        poll_until(limit, || self.file_text().contains(needle).then_some(()))
            .unwrap_or_else(|| panic!("no {needle:?} in the log file:\n{}", self.file_text()));
    }
}

impl Drop for Boxed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listen(path: &Path) -> UnixDatagram {
    let _ = std::fs::remove_file(path);
    let l = UnixDatagram::bind(path).unwrap();
    l.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    l
}

/// Waits until the listener receives a datagram containing `needle`.
fn wait_datagram(l: &UnixDatagram, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 8192];
    let found = poll_until(STEP, || {
        while let Ok(n) = l.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.contains(needle) {
                return Some(text);
            }
            seen.push(text);
        }
        None
    });
    found.unwrap_or_else(|| panic!("syslog never got {needle:?}; got {seen:#?}"))
}

/// Whether the tools these tests need are here (false: skip; a failure instead under
/// `PCMKR_REQUIRE_INTEROP=1`).
fn prerequisites() -> bool {
    match scripts::missing(&["unshare", "mount"], &[]) {
        Some(what) => !scripts::skip_or_fail(&what),
        None => true,
    }
}

#[test]
fn syslog_lines_survive_a_missing_and_a_restarted_syslog_daemon() {
    if !prerequisites() {
        return;
    }
    let scratch = Scratch::new("syslog");
    let socket = scratch.path("dev").join("log");
    std::fs::create_dir_all(scratch.path("dev")).unwrap();
    let first = listen(&socket);
    let d = Boxed::start(&scratch);
    let line = wait_datagram(&first, "listening on");
    assert!(line.starts_with("<29>"), "daemon.notice is <29>: {line}");

    // The syslog daemon restarts: its socket is replaced while we are connected.
    drop(first);
    let second = listen(&socket);
    d.signal("USR1");
    wait_datagram(&second, "SIGUSR1: log verbosity raised");

    // The syslog daemon goes away: one warning in the file, lines counted.
    drop(second);
    std::fs::remove_file(&socket).unwrap();
    d.signal("USR2");
    d.wait_file("cannot send to syslog", STEP);
    // It comes back: the next line reaches it, and the file says how many were lost.
    let third = listen(&socket);
    d.signal("USR1");
    wait_datagram(&third, "SIGUSR1: log verbosity raised");
    d.wait_file("syslog is reachable again", STEP);
}

#[test]
fn a_rotated_log_file_is_reopened() {
    if !prerequisites() {
        return;
    }
    let scratch = Scratch::new("rotate");
    let d = Boxed::start(&scratch);
    let rotated = scratch.path("p.log.1");
    // logrotate's "create" mode: the file is moved and SIGHUP asks for a new one.
    std::fs::rename(scratch.path("p.log"), &rotated).unwrap();
    d.signal("HUP");
    d.wait_file("SIGHUP: log files reopened", STEP);
    // Moved without a SIGHUP: the daemon notices by itself within a second or two.
    std::fs::rename(scratch.path("p.log"), scratch.path("p.log.2")).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    d.signal("USR1");
    d.wait_file("SIGUSR1", STEP);
    // Millisecond timestamps, as Pacemaker's own log files have.
    let first = d.file_text().lines().next().unwrap().to_string();
    let stamp = first.split_whitespace().nth(2).unwrap();
    assert_eq!(stamp.len(), "09:10:48.123".len(), "{first}");
    assert!(std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("listening on"));
}
