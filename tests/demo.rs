//! `pcmk-remoted demo` through the real binary: it works for an unprivileged user, a symlink
//! planted by one at a predictable name never makes root write through it, its private
//! directory is gone after SIGTERM, Ctrl-C and errors, and a taken port is named as such.
//!
//! Each test gives the demo a `TMPDIR` of its own (sticky and world-writable like `/tmp`), so
//! it can check that nothing is left there. Tests that switch users need root and say so when
//! skipped. Every wait is bounded, and every process started is stopped.
// Tests may unwrap: a panic is a failed test (clippy.toml covers #[test] bodies only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pcmk-remoted");
/// The unprivileged user the tests switch to.
const USER: &str = "nobody";
/// Longest any one demo run may take here.
const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn demo_as_an_unprivileged_user_works_end_to_end_and_leaves_nothing() {
    let tmp = Scratch::new("unprivileged");
    let mut cmd = as_unprivileged(&tmp);
    cmd.args(["demo", "--once", "--port", "0"]);
    let out = run_bounded(cmd);
    assert!(out.status.success(), "{}", out.text);
    assert!(
        out.text
            .contains("is a Pacemaker Remote node that shares our key"),
        "{}",
        out.text
    );
    let dir = key_dir(&out.text);
    assert!(dir.starts_with(&tmp.tmpdir), "{}", dir.display());
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert_eq!(tmp.leftovers(), Vec::<String>::new());
}

#[test]
fn a_symlink_planted_by_another_user_is_never_followed_by_root() {
    if !is_root() {
        eprintln!("skipped: needs root to plant links as {USER} and run the demo as root");
        return;
    }
    let tmp = Scratch::new("planted");
    // What root must never write to: a directory holding a file that looks like a key.
    let victim = tmp.root.join("victim");
    fs::create_dir(&victim).unwrap();
    fs::write(victim.join("authkey"), "precious").unwrap();
    // The unprivileged user plants links at every name the demo could predict (the name it
    // used to take, `pcmk-remoted-demo-<pid>`, for the next few hundred pids), in one process
    // so as not to use up those pids.
    let next = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse::<u32>()
        .unwrap();
    let (from, to) = (next + 1, next + 400);
    let planted = Command::new("runuser")
        .args(["-u", USER, "--", "perl", "-e"])
        .arg(format!(
            "symlink($ARGV[0], \"$ARGV[1]/pcmk-remoted-demo-$_\") or die $! for {from}..{to}"
        ))
        .arg(&victim)
        .arg(&tmp.tmpdir)
        .status()
        .unwrap();
    assert!(planted.success());
    let links = tmp.leftovers();
    assert_eq!(links.len(), 400);
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut cmd = Command::new(BIN);
    cmd.args(["demo", "--once", "--port", &port]);
    cmd.env("TMPDIR", &tmp.tmpdir);
    let out = run_bounded(cmd);
    assert_eq!(
        fs::read_to_string(victim.join("authkey")).ok().as_deref(),
        Some("precious"),
        "root wrote or removed through a planted link:\n{}",
        out.text
    );
    assert_eq!(fs::read_dir(&victim).unwrap().count(), 1);
    assert!(out.status.success(), "{}", out.text);
    let dir = key_dir(&out.text);
    assert!(
        !dir.file_name().unwrap().to_str().unwrap()[18..]
            .chars()
            .all(|c| c.is_ascii_digit()),
        "a predictable name: {}",
        dir.display()
    );
    // The links are still there, untouched, and still the other user's.
    assert_eq!(tmp.leftovers(), links);
    for name in &links {
        let meta = fs::symlink_metadata(tmp.tmpdir.join(name)).unwrap();
        assert!(meta.file_type().is_symlink() && meta.uid() != 0);
    }
}

#[test]
fn the_private_directory_is_gone_after_sigterm_and_ctrl_c() {
    for signal in ["TERM", "INT", "HUP"] {
        let tmp = Scratch::new(&format!("signal-{signal}"));
        let mut cmd = Command::new(BIN);
        cmd.args(["demo", "--port", "0"]).env("TMPDIR", &tmp.tmpdir);
        let mut demo = Spawned::start(cmd);
        let lines = demo.lines_until("demo: serving on", LIMIT);
        let dir = key_dir(&lines);
        let daemon = daemon_pid(&lines);
        assert!(dir.is_dir());
        let meta = fs::symlink_metadata(&dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700);
        assert!(alive(daemon));
        demo.signal(signal);
        let status = demo.wait(LIMIT);
        assert_eq!(status.code(), Some(0), "after SIG{signal}: {}", demo.text());
        assert!(
            !dir.exists(),
            "after SIG{signal}: {} left behind",
            dir.display()
        );
        assert!(
            !alive(daemon),
            "after SIG{signal}: daemon {daemon} still runs"
        );
        assert_eq!(tmp.leftovers(), Vec::<String>::new());
    }
}

#[test]
fn output_cut_short_still_cleans_up() {
    // `demo --once | head -1`: the reader goes away after the first line.
    let tmp = Scratch::new("cut");
    let mut demo = Command::new(BIN)
        .args(["demo", "--once", "--port", "0"])
        .env("TMPDIR", &tmp.tmpdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(demo.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let dir = key_dir(&first);
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = demo.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = demo.kill();
            panic!("demo still running with its output closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert_eq!(tmp.leftovers(), Vec::<String>::new());
}

#[test]
fn the_private_directory_is_gone_when_the_daemon_fails() {
    let tmp = Scratch::new("fails");
    let mut cmd = Command::new(BIN);
    cmd.args(["demo", "--once", "--port", "0"])
        .env("TMPDIR", &tmp.tmpdir)
        // A setting the daemon refuses: it exits 64 before listening.
        .env("PCMK_remoted_limit_max_connections", "0");
    let out = run_bounded(cmd);
    assert_eq!(out.status.code(), Some(1), "{}", out.text);
    assert!(
        out.text.contains("demo: FAILED: the daemon exited early"),
        "{}",
        out.text
    );
    assert_eq!(tmp.leftovers(), Vec::<String>::new());
}

#[test]
fn a_taken_port_is_named_as_such_and_not_blamed_on_the_key() {
    let tmp = Scratch::new("port");
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut cmd = Command::new(BIN);
    cmd.args(["demo", "--once", "--port", &port])
        .env("TMPDIR", &tmp.tmpdir);
    let out = run_bounded(cmd);
    assert_eq!(out.status.code(), Some(100), "{}", out.text);
    let want = format!("demo: port {port} on 127.0.0.1 is already in use");
    assert!(out.text.contains(&want), "{}", out.text);
    assert!(out.text.contains("'demo --port N'"), "{}", out.text);
    assert!(!out.text.to_lowercase().contains("key"), "{}", out.text);
    assert_eq!(tmp.leftovers(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// A scratch tree: `tmpdir` is the demo's `TMPDIR` (root's, mode 1777 like `/tmp`).
struct Scratch {
    root: PathBuf,
    tmpdir: PathBuf,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root =
            std::env::temp_dir().join(format!("pcmkr-demo-test-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let tmpdir = root.join("tmp");
        fs::create_dir_all(&tmpdir).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&tmpdir, fs::Permissions::from_mode(0o1777)).unwrap();
        Scratch { root, tmpdir }
    }

    /// What is left in the demo's TMPDIR, sorted.
    fn leftovers(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.tmpdir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn is_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0)
}

/// The binary run as an unprivileged user: as `nobody` through `runuser` when we are root
/// (from a copy it can read), else as ourselves, who are unprivileged already.
fn as_unprivileged(tmp: &Scratch) -> Command {
    let mut cmd = if is_root() {
        let bin = tmp.root.join("pcmk-remoted");
        fs::copy(BIN, &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = Command::new("runuser");
        c.args(["-u", USER, "--"]).arg(bin);
        c
    } else {
        Command::new(BIN)
    };
    cmd.env("TMPDIR", &tmp.tmpdir);
    cmd
}

/// What a finished demo printed, stdout then stderr.
struct Output {
    status: ExitStatus,
    text: String,
}

fn run_bounded(cmd: Command) -> Output {
    let mut demo = Spawned::start(cmd);
    let status = demo.wait(LIMIT);
    Output {
        status,
        text: demo.text(),
    }
}

/// A demo process with its output read on threads, killed if a test gives up on it.
struct Spawned {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Spawned {
    fn start(mut cmd: Command) -> Spawned {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [out, err] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Spawned {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Every line so far, up to and including one containing `needle`.
    fn lines_until(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while !self.seen.iter().any(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no '{needle}' within {limit:?}:\n{}", self.seen.join("\n")),
            }
        }
        self.seen.join("\n")
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        panic!("demo still running after {limit:?}:\n{}", self.text());
    }

    /// All output read so far, waiting briefly for the rest after an exit.
    fn text(&mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The private directory, from "demo: development key <dir>/authkey ...".
fn key_dir(text: &str) -> PathBuf {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("demo: development key "))
        .unwrap_or_else(|| panic!("no key line in:\n{text}"));
    let key = Path::new(line.split(' ').next().unwrap());
    key.parent().unwrap().to_path_buf()
}

/// The daemon child's pid, from "demo: daemon started, pid N".
fn daemon_pid(text: &str) -> u32 {
    text.lines()
        .find_map(|l| l.strip_prefix("demo: daemon started, pid "))
        .unwrap_or_else(|| panic!("no pid line in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
