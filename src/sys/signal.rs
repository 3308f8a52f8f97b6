//! Signals as bytes on a pipe, so the event loop sees them as ordinary readable events.
//!
//! The handler does one thing: write the signal number into a non-blocking pipe (the classic
//! self-pipe). Everything else happens on the loop. The handler only calls `write(2)`, which is
//! async-signal-safe, and touches one atomic.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// Write end of the self-pipe, read by the handler; -1 until [`install`] ran.
static PIPE_WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// Signals the daemon turns into loop events.
pub const SIGTERM: i32 = libc::SIGTERM;
/// Interactive stop; handled like SIGTERM.
pub const SIGINT: i32 = libc::SIGINT;
/// Re-read the authentication key at once.
pub const SIGHUP: i32 = libc::SIGHUP;
/// A peer closed a pipe or socket we write to; ignored by the daemon, default for the CLI.
pub const SIGPIPE: i32 = libc::SIGPIPE;
/// A child changed state; the executor reaps.
pub const SIGCHLD: i32 = libc::SIGCHLD;
/// More log output (as the original's operators expect).
pub const SIGUSR1: i32 = libc::SIGUSR1;
/// Less log output.
pub const SIGUSR2: i32 = libc::SIGUSR2;
/// A one-screen state summary in the log.
pub const SIGTRAP: i32 = libc::SIGTRAP;

/// Signals whose default action ends a process but that mean nothing to the daemon. They get
/// our handler (logged, otherwise ignored) so a stray `kill -ALRM` or a resource limit warning
/// never takes the node away from its cluster; a handler, unlike "ignore", is reset at exec,
/// so agents still get the default behaviour.
pub const HARMLESS: &[i32] = &[
    libc::SIGALRM,
    libc::SIGQUIT,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGSTKFLT,
];

/// The conventional name of a signal number, for log lines.
pub fn name(sig: i32) -> String {
    let known = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGSTKFLT, "SIGSTKFLT"),
        (libc::SIGCHLD, "SIGCHLD"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGIO, "SIGIO"),
        (libc::SIGPWR, "SIGPWR"),
    ];
    known
        .iter()
        .find(|(n, _)| *n == sig)
        .map_or_else(|| format!("signal {sig}"), |(_, name)| (*name).to_string())
}

/// Installs handlers for `signals` and returns the read end of the pipe they write to.
///
/// Also sets SIGPIPE to "ignore": a peer that hangs up must give us `EPIPE`, not kill the daemon
/// (the original does the same through its TLS set-up). Children get SIGPIPE back at exec.
pub fn install(signals: &[i32]) -> io::Result<File> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid array of two ints, as pipe2 requires.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The write end must live as long as the process: the handler may fire at any time.
    let write_fd = std::os::fd::IntoRawFd::into_raw_fd(write_end);
    let old = PIPE_WRITE_FD.swap(write_fd, Ordering::SeqCst);
    if old >= 0 {
        // SAFETY: `old` came from a previous `install` and is no longer published.
        unsafe { libc::close(old) };
    }
    ignore(libc::SIGPIPE)?;
    for &sig in signals {
        set_handler(sig, on_signal as extern "C" fn(libc::c_int) as usize)?;
    }
    Ok(File::from(read_end))
}

/// Restores the default disposition of every signal we handle; used in tests and in children.
pub fn reset_default(sig: i32) -> io::Result<()> {
    set_handler(sig, libc::SIG_DFL)
}

fn ignore(sig: i32) -> io::Result<()> {
    set_handler(sig, libc::SIG_IGN)
}

fn set_handler(sig: i32, handler: usize) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; we then fill in the
    // handler and flags. `sigemptyset` gets a valid pointer into that struct.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_WRITE_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    // Signal numbers fit in a byte on every Linux target.
    let byte = sig as u8;
    let saved_errno = io::Error::last_os_error().raw_os_error();
    // SAFETY: write(2) is async-signal-safe; `byte` outlives the call. A full pipe just drops
    // the byte, which is fine: the loop drains the pipe and acts on each kind once anyway.
    unsafe {
        libc::write(fd, (&byte as *const u8).cast(), 1);
    }
    // Restore errno so the interrupted code does not see ours.
    if let Some(e) = saved_errno {
        // SAFETY: __errno_location returns the calling thread's errno slot.
        unsafe { *libc::__errno_location() = e };
    }
}
