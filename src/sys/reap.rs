//! Children that are not our agents: finding them without reaping, and reaping one by pid.
//!
//! A process that is PID 1 of its namespace (or a child subreaper) inherits every orphan
//! below it: an agent's daemonised grandchild, a `podman exec` whose parent went away. Their
//! zombies are nobody's but ours to reap. Our executor reaps each agent by its own pid
//! (`process::child`), and must keep doing so: a `waitpid(-1)` here could take an agent's
//! status away from it. So [`peek_exited`] only *looks* (`waitid` with `WNOWAIT`, which
//! leaves the child waitable) and the caller decides, by pid, whose status it is; [`reap`]
//! then takes exactly that one. Both are non-blocking.

use std::io;

/// How a reaped child ended, from its `waitpid` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

/// Whether this process is PID 1 of its PID namespace (a container's first process).
pub fn is_pid_one() -> bool {
    std::process::id() == 1
}

/// The pid of one child that has exited and is not reaped yet, left waitable; `None` when
/// no child has exited (or there are no children at all).
pub fn peek_exited() -> io::Result<Option<u32>> {
    // SAFETY: a zeroed siginfo_t is a valid value for waitid to fill in; with WNOHANG and no
    // waitable child the kernel leaves si_pid at 0, which is why it is zeroed first.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t; P_ALL ignores the id argument. WNOWAIT
    // leaves the child in its waitable state, so nothing is taken from anyone.
    let rc = unsafe {
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ECHILD) => Ok(None),
            _ => Err(e),
        };
    }
    // SAFETY: waitid succeeded, so `info` holds either a child's SIGCHLD fields or zeroes.
    let pid = unsafe { info.si_pid() };
    Ok(u32::try_from(pid).ok().filter(|&p| p > 0))
}

/// Reaps `pid` if it has exited: `Ok(None)` while it still runs. Only for a pid this process
/// owns and no one else waits for (see the module comment).
pub fn reap(pid: u32) -> io::Result<Option<Ended>> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ECHILD))?;
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ECHILD));
    }
    let mut status: libc::c_int = 0;
    // SAFETY: a positive pid names exactly one child; `status` is a valid int to write to.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    match rc {
        0 => Ok(None),
        r if r == pid => Ok(Some(if libc::WIFSIGNALED(status) {
            Ended::Signal(libc::WTERMSIG(status))
        } else {
            Ended::Code(libc::WEXITSTATUS(status))
        })),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Makes this process the reaper of orphans among its descendants
/// (`PR_SET_CHILD_SUBREAPER`), which PID 1 is by nature: the container init mode outside a
/// PID namespace, for tests and custom init scripts.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes one integer argument and changes only a flag of
    // this process; the unused arguments are zero as prctl(2) asks.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raises SIGCHLD in this process, so the event loop comes back to reap what one pass left.
pub fn nudge() {
    // SAFETY: raise(3) sends a signal to the calling thread; SIGCHLD has our handler (or is
    // ignored by default), so it cannot end the process.
    unsafe {
        libc::raise(libc::SIGCHLD);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn reap_takes_the_status_of_exactly_that_child() {
        // std's Child is not waited for here: reap() takes its status by pid instead, as the
        // orphan reaper does with a pid nobody holds.
        let child = Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .expect("sh");
        let pid = child.id();
        let mut ended = None;
        for _ in 0..500 {
            ended = reap(pid).expect("waitpid");
            if ended.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(ended, Some(Ended::Code(7)));
        // Reaped: the pid is no longer our child.
        assert!(reap(pid).is_err());
        drop(child);
    }

    #[test]
    fn a_signal_is_reported_as_such() {
        let child = Command::new("sh")
            .args(["-c", "kill -KILL $$"])
            .spawn()
            .expect("sh");
        let pid = child.id();
        let mut ended = None;
        for _ in 0..500 {
            ended = reap(pid).expect("waitpid");
            if ended.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(ended, Some(Ended::Signal(libc::SIGKILL)));
        drop(child);
    }

    #[test]
    fn pids_that_cannot_be_ours_are_refused() {
        assert!(reap(0).is_err());
        assert!(reap(u32::MAX).is_err());
    }
}
