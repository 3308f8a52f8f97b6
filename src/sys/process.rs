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
