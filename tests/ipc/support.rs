//! Helpers for the scenarios: our own network namespace, the test server process, running
//! tools with a deadline, building the C probe, counting descriptors and /dev/shm entries.
//! Every process started here is stopped here, by its pid; every wait has a deadline.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Our network namespace; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create() -> Result<Self, String> {
        let name = format!("pcmkr-ipc-{}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .map_err(|e| format!("ip netns add: {e}"))?;
        if !st.success() {
            return Err(format!("ip netns add {name} failed: {st}"));
        }
        Ok(Netns { name })
    }

    /// A command that runs `program` inside the namespace.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Output of a finished command.
pub struct Output {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` to completion within `limit`; a command still running then is killed (it is
/// our child) and reported as an error.
pub fn run_with_deadline(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    let dir = scratch_dir();
    let n = unique();
    let out_path = dir.join(format!("out-{n}"));
    let err_path = dir.join(format!("err-{n}"));
    let out = std::fs::File::create(&out_path).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(&err_path).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("spawn {cmd:?}: {e}"))?;
    let status = wait_deadline(&mut child, limit);
    let elapsed = start.elapsed();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    let status = status.ok_or_else(|| {
        format!("{cmd:?} still running after {limit:?}; killed. stderr: {stderr}")
    })?;
    use std::os::unix::process::ExitStatusExt;
    Ok(Output {
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        elapsed,
    })
}

/// Waits for `child` up to `limit`; kills it (our own child) if it is still running.
pub fn wait_deadline(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A directory for logs and the C probe, under the crate's target directory.
pub fn scratch_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop");
    let _ = std::fs::create_dir_all(&d);
    d
}

/// The test server, run as `--server-mode` inside the namespace.
pub struct TestServer {
    child: Child,
    stdin: Option<ChildStdin>,
    pub pid: u32,
    pub log: PathBuf,
}

impl TestServer {
    pub fn start(ns: &Netns, name: &str, env: &[(&str, String)]) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let log = scratch_dir().join(format!("server-{name}.log"));
        let err = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let mut cmd = ns.cmd(exe.to_str().unwrap_or_default());
        cmd.arg("--server-mode")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| format!("spawn server: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no server stdout")?;
        // The first line is READY <pid> or FAILED <why>.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok).unwrap_or_default();
            let _ = tx.send(first);
            for _ in lines {}
        });
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        let mut server = TestServer {
            pid: child.id(),
            child,
            stdin,
            log,
        };
        if !first.starts_with("READY") {
            server.stop();
            return Err(format!(
                "test server did not start: {first:?}; log: {}",
                server.log_text()
            ));
        }
        Ok(server)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Descriptors the server holds now.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Per-connection directories of this server in /dev/shm (named qb-<pid>-…).
    pub fn shm_entries(&self) -> Vec<String> {
        let prefix = format!("qb-{}-", self.pid);
        std::fs::read_dir("/dev/shm")
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until `cond` holds, up to `limit`.
    pub fn wait_for(&self, limit: Duration, mut cond: impl FnMut(&Self) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes its stdin (the stop signal) and waits for a clean exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.flush();
        }
        wait_deadline(&mut self.child, Duration::from_secs(5)).and_then(|s| s.code())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Builds the C probe (Pacemaker's crm_ipc API over libqb) once; `None` if gcc or the
/// development headers are missing.
pub fn build_probe() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ipc/probe.c");
    let out = scratch_dir().join("probe");
    let flags = Command::new("pkg-config")
        .args([
            "--cflags",
            "--libs",
            "pacemaker",
            "libqb",
            "glib-2.0",
            "libxml-2.0",
        ])
        .output()
        .map_err(|e| format!("pkg-config: {e}"))?;
    if !flags.status.success() {
        return Err("pkg-config cannot find pacemaker/libqb development files".into());
    }
    let flags = String::from_utf8_lossy(&flags.stdout).into_owned();
    let st = Command::new("gcc")
        .arg("-O1")
        .arg("-Wall")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(flags.split_whitespace())
        .output()
        .map_err(|e| format!("gcc: {e}"))?;
    if !st.status.success() {
        return Err(format!(
            "gcc failed: {}",
            String::from_utf8_lossy(&st.stderr)
        ));
    }
    Ok(out)
}

/// Is `program` on the PATH?
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// A user we create for a test and remove afterwards.
pub struct TestUser {
    pub name: String,
}

impl TestUser {
    pub fn create(name: &str, groups: Option<&str>) -> Result<Self, String> {
        // A leftover from an interrupted run is removed first.
        let _ = Command::new("userdel").arg(name).output();
        let mut c = Command::new("useradd");
        c.args(["--no-create-home", "--shell", "/usr/sbin/nologin"]);
        if let Some(g) = groups {
            c.args(["-G", g]);
        }
        let st = c.arg(name).output().map_err(|e| format!("useradd: {e}"))?;
        if !st.status.success() {
            return Err(format!(
                "useradd {name}: {}",
                String::from_utf8_lossy(&st.stderr)
            ));
        }
        Ok(TestUser { name: name.into() })
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).output();
    }
}
