//! The user and group databases (`getpwnam_r`, `getpwuid_r`, `getgrnam_r`): who `hacluster`
//! is (alert agents run as it; its clients are privileged), which gid `haclient` has (the
//! IPC gate), and the name of a local client's uid (forwarded to the cluster).
//!
//! In: names and ids. Out: plain values, `None` when the database does not know them or
//! cannot be read. Buffers grow on ERANGE up to 1 MiB, so a large group (many members) still
//! resolves; nothing here caches.

use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;

/// Largest buffer a look-up may use: a group with thousands of members still fits.
const MAX_LOOKUP_BUFFER: usize = 1 << 20;

/// Runs a reentrant look-up that fills a `T` and a string buffer, growing the buffer on
/// ERANGE. `lookup` returns the function's result code and sets `found` when there was an
/// entry; `read` takes what it needs while the buffer is alive.
fn lookup<T, R>(
    call: impl Fn(&mut T, &mut [u8], &mut *mut T) -> libc::c_int,
    read: impl Fn(&T) -> R,
) -> Option<R> {
    let mut size = 4096;
    while size <= MAX_LOOKUP_BUFFER {
        let mut buf = vec![0u8; size];
        // SAFETY: `T` is `passwd` or `group`, plain C data for which all-zero is valid; the
        // look-up overwrites it.
        let mut entry: T = unsafe { MaybeUninit::zeroed().assume_init() };
        let mut result: *mut T = std::ptr::null_mut();
        match call(&mut entry, &mut buf, &mut result) {
            0 if result.is_null() => return None,
            0 => return Some(read(&entry)),
            libc::ERANGE => size *= 4,
            _ => return None,
        }
    }
    None
}

/// The user name of `uid`, if the user database knows it.
pub fn user_name(uid: u32) -> Option<String> {
    lookup(
        // SAFETY: every pointer is live for the call and `buf.len()` is the buffer's size.
        |pw: &mut libc::passwd, buf, result| unsafe {
            libc::getpwuid_r(uid, pw, buf.as_mut_ptr().cast(), buf.len(), result)
        },
        // SAFETY: on success `pw_name` points at a NUL-terminated string inside `buf`, which
        // is still alive while `read` runs.
        |pw| {
            unsafe { CStr::from_ptr(pw.pw_name) }
                .to_string_lossy()
                .into_owned()
        },
    )
}

/// The uid and primary gid of user `name` (`hacluster`).
pub fn user_ids(name: &str) -> Option<(u32, u32)> {
    let c = CString::new(name).ok()?;
    lookup(
        // SAFETY: every pointer is live for the call and `buf.len()` is the buffer's size.
        |pw: &mut libc::passwd, buf, result| unsafe {
            libc::getpwnam_r(c.as_ptr(), pw, buf.as_mut_ptr().cast(), buf.len(), result)
        },
        |pw| (pw.pw_uid, pw.pw_gid),
    )
}

/// The gid of group `name` (`haclient`).
pub fn group_id(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    lookup(
        // SAFETY: every pointer is live for the call and `buf.len()` is the buffer's size.
        |gr: &mut libc::group, buf, result| unsafe {
            libc::getgrnam_r(c.as_ptr(), gr, buf.as_mut_ptr().cast(), buf.len(), result)
        },
        |gr| gr.gr_gid,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(user_ids("root"), Some((0, 0)));
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(user_ids("no-such-user-pcmkr"), None);
        assert_eq!(group_id("no-such-group-pcmkr"), None);
        assert_eq!(user_ids("a\0b"), None);
        assert_eq!(group_id("a\0b"), None);
    }
}
