//! Process-wide settings `std` does not offer.

/// Sets the file mode creation mask; agents inherit it.
pub fn set_umask(mask: u32) {
    // SAFETY: umask(2) cannot fail and touches only the process's mask.
    unsafe {
        libc::umask(mask as libc::mode_t);
    }
}

/// Sends SIGTERM to one process we started, by pid.
pub fn terminate(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a positive pid signals exactly that process; errors (already
        // gone) are harmless here.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// Sends `signal` to the whole process group led by `pid` (every agent leads its own group,
/// so a timeout also ends whatever the agent started).
pub fn kill_group(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| std::io::Error::from_raw_os_error(libc::ESRCH))?;
    if pid <= 1 {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: a negative pid addresses one process group; pid > 1 rules out "every process".
    if unsafe { libc::kill(-pid, signal) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to one process (the `on_fail=block` case: the agent only, not its group).
pub fn kill_one(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| std::io::Error::from_raw_os_error(libc::ESRCH))?;
    if pid <= 1 {
        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill(2) with a positive pid signals exactly that process.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Marks every descriptor above 2 that we inherited close-on-exec, so agents start with only
/// stdin, stdout and stderr, as the original guarantees by closing them in the child. Our own
/// descriptors are opened close-on-exec already.
pub fn cloexec_inherited_fds() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|&fd| fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: F_GETFD/F_SETFD only change the close-on-exec flag; a descriptor that was
        // the directory listing's own and is closed by now just returns EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

/// User and group ids of `user`, for alert agents (run as `hacluster`).
pub fn user_ids(user: &str) -> Option<(u32, u32)> {
    let name = std::ffi::CString::new(user).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid output buffer; getpwnam_r writes only into `pwd`
    // and `buf` (whose length we pass) and sets `result` to null or to `&pwd`.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some((pwd.pw_uid, pwd.pw_gid))
    }
}

/// Group id of `group` (`haclient`).
pub fn group_id(group: &str) -> Option<u32> {
    let name = std::ffi::CString::new(group).ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: as for `user_ids`, with getgrnam_r and a zeroed `group` struct.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(
            name.as_ptr(),
            &mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(grp.gr_gid)
    }
}

/// Our effective user id, which a Unix-socket peer sees (the D-Bus EXTERNAL authentication
/// names it).
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}
