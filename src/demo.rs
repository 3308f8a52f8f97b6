//! `demo`: the daemon for real on loopback, with a generated development key, checked end to
//! end by the built-in client. For a first look on a new machine; never for production.
//!
//! It needs no root: it listens on 127.0.0.1 on a port above 1023 (3121 unless told; `--port
//! 0` takes any free one), without local IPC, log file or syslog, and writes only inside one
//! private directory. That directory is made for this run under `$TMPDIR` or `/tmp`, with a
//! random name and mode 0700 by one `mkdir`, which never follows a symbolic link: a name
//! planted in advance makes it fail, and we draw another. The key is created inside with
//! `O_EXCL | O_NOFOLLOW`. The directory is removed on every way out: the check done, an error,
//! SIGINT (Ctrl-C), SIGTERM, SIGHUP, and a panic (the hook runs before the abort). Only
//! SIGKILL leaves it behind, private to its owner, under the name printed at start.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::cli::DemoArgs;
use crate::config::authkey::KeySource;
use crate::exitcode;
use crate::sys::signal;

/// `println!` that never panics: a closed stdout loses the text, nothing else.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics.
macro_rules! tell {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Starts the daemon as a child on 127.0.0.1, checks it, then serves until interrupted (or
/// stops it at once with `--once`). Returns the exit status.
pub fn run(args: &DemoArgs) -> i32 {
    // Signals first, so an interrupt at any point below still cleans up. The handlers only
    // write to a pipe, which the waits below read.
    let mut signals = match signal::install(&[signal::SIGINT, signal::SIGTERM, signal::SIGHUP]) {
        Ok(pipe) => pipe,
        Err(e) => {
            tell!("demo: cannot install signal handlers: {e}");
            return exitcode::FATAL;
        }
    };
    // `install` also ignores SIGPIPE: were our output cut short (`demo | head`), SIGPIPE would
    // end us without cleaning up, so we print through `say!` and `tell!`, which drop what cannot
    // be written, and go on to stop the daemon and remove the directory as usual.
    install_panic_cleanup();

    let port = match free_port(args.port) {
        Ok(p) => p,
        Err(msg) => {
            tell!("demo: {msg}");
            return exitcode::FATAL;
        }
    };
    let base = std::env::temp_dir();
    let dir = match PrivateDir::create(&base, random_names()) {
        Ok(d) => d,
        Err(e) => {
            tell!(
                "demo: cannot create a private directory in {}: {e}",
                base.display()
            );
            return exitcode::FATAL;
        }
    };
    let key = match write_key(&dir.path) {
        Ok(k) => k,
        Err(e) => {
            tell!(
                "demo: cannot write a development key in {}: {e}",
                dir.path.display()
            );
            return exitcode::FATAL;
        }
    };
    say!(
        "demo: development key {} (4096 random bytes)",
        key.display()
    );
    let mut session = Session {
        daemon: None,
        _dir: dir,
    };
    let daemon = match start_daemon(port, &key) {
        Ok(c) => c,
        Err(e) => {
            tell!("demo: cannot start the daemon: {e}");
            return exitcode::FATAL;
        }
    };
    say!("demo: daemon started, pid {}", daemon.id());
    remember_daemon(Some(daemon.id()));
    let daemon = session.daemon.insert(daemon);

    let checked = match wait_and_check(daemon, port, &key, &mut signals) {
        Waited::Checked(text) => {
            say!("{text}");
            say!(
                "demo: check it again from another shell with:\n  {} check 127.0.0.1 --port {port} --authkey {}",
                std::env::args().next().unwrap_or_default(),
                key.display()
            );
            true
        }
        Waited::Failed(msg) => {
            say!("demo: FAILED: {msg}");
            false
        }
        Waited::Interrupted(sig) => {
            say!("demo: {}; stopping", signal_name(sig));
            return session.stop();
        }
    };
    if args.once || !checked {
        let code = session.stop();
        return if checked {
            code
        } else {
            exitcode::CHECK_FAILED
        };
    }
    say!("demo: serving on 127.0.0.1:{port}; press Ctrl-C to stop");
    let Some(daemon) = session.daemon.as_mut() else {
        return exitcode::FATAL;
    };
    match serve(daemon, &mut signals) {
        Served::Exited(status) => {
            say!("demo: the daemon exited ({status})");
            session.daemon = None;
            remember_daemon(None);
            status.code().unwrap_or(exitcode::FATAL)
        }
        Served::Interrupted(sig) => {
            say!("demo: {}; stopping", signal_name(sig));
            session.stop()
        }
    }
}

/// The daemon child and the private directory; dropping it stops the one and removes the
/// other, whatever way `run` returns.
struct Session {
    daemon: Option<Child>,
    _dir: PrivateDir,
}

impl Session {
    /// Stops the daemon (SIGTERM; with no cluster connected it exits at once) and returns its
    /// exit status.
    fn stop(&mut self) -> i32 {
        let Some(mut daemon) = self.daemon.take() else {
            return exitcode::OK;
        };
        remember_daemon(None);
        crate::sys::process::terminate(daemon.id());
        let deadline = Instant::now() + STOP_WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = daemon.try_wait() {
                return status.code().unwrap_or(exitcode::FATAL);
            }
            std::thread::sleep(POLL);
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
        exitcode::FATAL
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A directory only we can use, removed with everything in it when dropped.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates a fresh directory in `base`, named by the first of `names` not taken. Refuses a
    /// `base` in which someone else could rename or replace it.
    fn create(base: &Path, names: impl Iterator<Item = String>) -> io::Result<PrivateDir> {
        check_base(base)?;
        for name in names.take(NAME_ATTEMPTS) {
            let path = base.join(name);
            // mkdir(2) creates or fails; it never follows a link at the last component, so a
            // planted name gives EEXIST and we draw the next.
            match DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let dir = PrivateDir { path };
            let meta = fs::symlink_metadata(&dir.path)?;
            if !meta.is_dir() || meta.uid() != crate::sys::users::effective_uid() {
                return Err(io::Error::other("the new directory was replaced"));
            }
            // The umask may have taken more than group and other bits.
            fs::set_permissions(&dir.path, fs::Permissions::from_mode(0o700))?;
            remember_dir(Some(dir.path.clone()));
            return Ok(dir);
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no unused name after {NAME_ATTEMPTS} attempts"),
        ))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        // std's remove_dir_all does not follow links inside the tree.
        let _ = fs::remove_dir_all(&self.path);
        remember_dir(None);
    }
}

/// A base directory is usable if nobody but root and us can rename what we create in it:
/// owned by one of us, and not writable by others unless sticky (as `/tmp` is).
fn check_base(base: &Path) -> io::Result<()> {
    let meta = fs::metadata(base)?;
    if !meta.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    let owner = meta.uid();
    if owner != 0 && owner != crate::sys::users::effective_uid() {
        return Err(io::Error::other(format!(
            "owned by uid {owner}, who could replace what we create there; \
             set TMPDIR to a directory of your own"
        )));
    }
    if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
        return Err(io::Error::other(
            "writable by others and not sticky, so they could replace what we create there; \
             set TMPDIR to a directory of your own",
        ));
    }
    Ok(())
}

/// Endless random directory names (`pcmk-remoted-demo-` and 16 hex digits).
fn random_names() -> impl Iterator<Item = String> {
    std::iter::repeat_with(|| {
        let mut bytes = [0u8; 8];
        let _ = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("pcmk-remoted-demo-{hex}")
    })
}

/// Writes 4096 random bytes to `<dir>/authkey`, a file that must not exist yet, mode 0600.
fn write_key(dir: &Path) -> io::Result<PathBuf> {
    let path = dir.join("authkey");
    let mut bytes = Zeroizing::new(vec![0u8; KEY_BYTES]);
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    Ok(path)
}

/// `port` if we can listen on it on 127.0.0.1 now, or any free port for 0; otherwise what
/// went wrong and how to pick another.
fn free_port(port: u16) -> Result<u16, String> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(listener) => Ok(listener.local_addr().map_or(port, |a| a.port())),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(port_in_use(port)),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(format!(
            "cannot listen on 127.0.0.1 port {port}: {e}; ports below 1024 need root, pick \
             another with 'demo --port N' (or 'demo --port 0' for any free port)"
        )),
        Err(e) => Err(format!("cannot listen on 127.0.0.1 port {port}: {e}")),
    }
}

fn port_in_use(port: u16) -> String {
    format!(
        "port {port} on 127.0.0.1 is already in use (by a Pacemaker Remote daemon on this \
         machine, or another program); pick another with 'demo --port N', or 'demo --port 0' \
         for any free port"
    )
}

fn start_daemon(port: u16, key: &Path) -> io::Result<Child> {
    let exe = std::env::current_exe()?;
    let port = port.to_string();
    Command::new(exe)
        .args(["--address", "127.0.0.1", "--port", &port])
        .arg("--authkey")
        .arg(key)
        .args(["--sysconfig", "none", "--no-local-ipc"])
        .env("PCMK_logfile", "none")
        .env("PCMK_logfacility", "none")
        .stdin(Stdio::null())
        .spawn()
}

/// How waiting for the daemon's first check ended.
enum Waited {
    Checked(String),
    Failed(String),
    Interrupted(i32),
}

/// Retries the check while the daemon starts listening, for at most [`START_WAIT`].
fn wait_and_check(daemon: &mut Child, port: u16, key: &Path, signals: &mut File) -> Waited {
    let source = KeySource::Explicit(key.to_path_buf());
    let deadline = Instant::now() + START_WAIT;
    loop {
        if let Some(sig) = pending_signal(signals) {
            return Waited::Interrupted(sig);
        }
        if let Ok(Some(status)) = daemon.try_wait() {
            return Waited::Failed(exited_early(status, port));
        }
        match crate::check::check("127.0.0.1", port, &source, CHECK_STEP) {
            Ok(report) => return Waited::Checked(report),
            Err(f) if f.code == exitcode::CHECK_UNREACHABLE && Instant::now() < deadline => {
                std::thread::sleep(POLL);
            }
            // Whatever answered may not be our daemon (it lost a race for the port).
            Err(f) => {
                return Waited::Failed(match daemon.try_wait() {
                    Ok(Some(status)) => exited_early(status, port),
                    _ => f.message,
                })
            }
        }
    }
}

/// Why the daemon is gone before its check: the port taken after we looked (the daemon exits
/// with status 100 when it cannot bind), or whatever it said on stderr.
fn exited_early(status: ExitStatus, port: u16) -> String {
    if status.code() == Some(exitcode::FATAL) && free_port(port).is_err() {
        return port_in_use(port);
    }
    format!("the daemon exited early ({status}); its log above says why")
}

/// How serving ended.
enum Served {
    Exited(ExitStatus),
    Interrupted(i32),
}

fn serve(daemon: &mut Child, signals: &mut File) -> Served {
    loop {
        if let Some(sig) = pending_signal(signals) {
            return Served::Interrupted(sig);
        }
        match daemon.try_wait() {
            Ok(Some(status)) => return Served::Exited(status),
            Ok(None) => std::thread::sleep(POLL),
            Err(_) => return Served::Interrupted(signal::SIGTERM),
        }
    }
}

/// A signal the handlers wrote to the pipe since we last looked.
fn pending_signal(pipe: &mut File) -> Option<i32> {
    let mut byte = [0u8; 1];
    match pipe.read(&mut byte) {
        Ok(1) => Some(i32::from(byte[0])),
        _ => None,
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        signal::SIGINT => "interrupted (SIGINT)",
        signal::SIGTERM => "SIGTERM",
        signal::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// What a panic must undo before the process aborts: the directory and the daemon child.
static CLEANUP: Mutex<(Option<PathBuf>, Option<u32>)> = Mutex::new((None, None));

fn remember_dir(dir: Option<PathBuf>) {
    if let Ok(mut c) = CLEANUP.lock() {
        c.0 = dir;
    }
}

fn remember_daemon(pid: Option<u32>) {
    if let Ok(mut c) = CLEANUP.lock() {
        c.1 = pid;
    }
}

/// Releases are built with `panic = "abort"`, so no destructor runs on a panic; the hook does.
fn install_panic_cleanup() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(c) = CLEANUP.try_lock() {
            if let Some(pid) = c.1 {
                crate::sys::process::terminate(pid);
            }
            if let Some(dir) = &c.0 {
                let _ = fs::remove_dir_all(dir);
            }
        }
        previous(info);
    }));
}

/// Pacemaker's usual key size.
const KEY_BYTES: usize = 4096;
/// Names drawn before giving up; a collision of 64 random bits means someone is in the way.
const NAME_ATTEMPTS: usize = 16;
/// How long the daemon may take to listen.
const START_WAIT: Duration = Duration::from_secs(10);
/// Each step of the check on loopback.
const CHECK_STEP: Duration = Duration::from_secs(5);
/// How long a stopping daemon may take before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How often waits look at the daemon and the signal pipe.
const POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pcmkr-demo-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        d
    }

    #[test]
    fn a_planted_name_is_never_followed_and_the_next_one_is_used() {
        let base = scratch("planted");
        let victim = base.join("victim");
        fs::create_dir(&victim).unwrap();
        std::os::unix::fs::symlink(&victim, base.join("taken-link")).unwrap();
        std::os::unix::fs::symlink(base.join("nowhere"), base.join("taken-dangling")).unwrap();
        fs::write(base.join("taken-file"), "x").unwrap();
        let names = ["taken-link", "taken-dangling", "taken-file", "fresh"].map(String::from);
        let dir = PrivateDir::create(&base, names.into_iter()).unwrap();
        assert_eq!(dir.path, base.join("fresh"));
        let meta = fs::symlink_metadata(&dir.path).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.mode() & 0o7777, 0o700);
        let key = write_key(&dir.path).unwrap();
        assert_eq!(fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(&key).unwrap().len(), 4096);
        // The key cannot be written twice (O_EXCL), nor through a link.
        assert!(write_key(&dir.path).is_err());
        assert_eq!(fs::read_dir(&victim).unwrap().count(), 0);
        assert!(
            !base.join("nowhere").exists(),
            "nothing created through a dangling link"
        );
        let path = dir.path.clone();
        drop(dir);
        assert!(!path.exists(), "removed when dropped");
        assert!(victim.exists() && fs::read_link(base.join("taken-link")).is_ok());
        // Only taken names: refused, nothing created.
        let names = ["taken-link", "taken-file"].map(String::from);
        assert!(PrivateDir::create(&base, names.into_iter()).is_err());
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_base_others_can_rename_in_is_refused() {
        let base = scratch("base");
        fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
        let e = PrivateDir::create(&base, random_names()).err().unwrap();
        assert!(e.to_string().contains("not sticky"), "{e}");
        fs::set_permissions(&base, fs::Permissions::from_mode(0o1777)).unwrap();
        let dir = PrivateDir::create(&base, random_names()).unwrap();
        assert!(dir
            .path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("pcmk-remoted-demo-"));
        drop(dir);
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_taken_port_is_named_with_the_way_out() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let msg = free_port(port).unwrap_err();
        assert!(msg.contains(&format!("port {port} on 127.0.0.1 is already in use")));
        assert!(
            msg.contains("demo --port N") && !msg.contains("key"),
            "{msg}"
        );
        let any = free_port(0).unwrap();
        assert_ne!(any, 0);
    }
}
