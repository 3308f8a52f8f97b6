//! The user and group databases (through NSS, as `id` and `getent` see them): who `hacluster`
//! is (alert agents run as it; its clients are privileged), which gid `haclient` has (the
//! IPC gate), the name of a local client's uid (forwarded to the cluster), and who can read
//! the key (advice about its mode).
//!
//! In: names and ids. Out: plain values, `None` when the database does not know them or
//! cannot be read. Buffers grow on ERANGE up to 1 MiB, so a large group (many members) still
//! resolves; nothing here caches.

use std::ffi::{CStr, CString};
use std::mem::MaybeUninit;
use std::sync::Mutex;

use crate::limits::USER_DATABASE_SCAN_MAX;

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

/// Our effective user id: files it owns are as trusted as root's.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// A group as the group database lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Its name.
    pub name: String,
    /// Its supplementary members, by name (users whose primary group it is are not listed
    /// here; see [`users_with_primary_group`]).
    pub members: Vec<String>,
}

/// The group with id `gid`, if the database knows it.
pub fn group(gid: u32) -> Option<Group> {
    let mut size = 4096;
    while size <= MAX_LOOKUP_BUFFER {
        let mut buf = vec![0u8; size];
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: a zeroed `group` is a valid output struct; getgrgid_r writes only into `grp`
        // and `buf`, whose length we pass, and sets `result` to null or to `&grp`.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        // SAFETY: every pointer is live for the duration of the call.
        let rc = unsafe {
            libc::getgrgid_r(
                gid,
                &mut grp,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        match rc {
            0 if result.is_null() => return None,
            0 => {
                // SAFETY: on success `gr_name` and each `gr_mem` entry point at NUL-terminated
                // strings inside `buf`, and `gr_mem` is a NULL-terminated array inside `buf`;
                // `buf` outlives these reads.
                let group = unsafe {
                    let name = CStr::from_ptr(grp.gr_name).to_string_lossy().into_owned();
                    let mut members = Vec::new();
                    let mut at = grp.gr_mem;
                    while !at.is_null() && !(*at).is_null() && members.len() < MAX_NAMES {
                        members.push(CStr::from_ptr(*at).to_string_lossy().into_owned());
                        at = at.add(1);
                    }
                    Group { name, members }
                };
                return Some(group);
            }
            libc::ERANGE => size *= 4,
            _ => return None,
        }
    }
    None
}

/// Users other than root whose primary group is `gid`, at most `max` of them. Walks the user
/// database, which on a node with a directory service may list only local users (sssd and
/// winbind do not enumerate by default); at most [`USER_DATABASE_SCAN_MAX`] entries are read.
pub fn users_with_primary_group(gid: u32, max: usize) -> Vec<String> {
    // getpwent keeps its position in process-wide state; this lock keeps our own callers
    // from interleaving (nothing else in the daemon walks the database).
    let _walk = WALK.lock().unwrap_or_else(|e| e.into_inner());
    let mut found = Vec::new();
    // SAFETY: setpwent/getpwent/endpwent take no arguments; the lock above serializes our use
    // of their shared state. Each returned entry is read before the next call replaces it.
    unsafe {
        libc::setpwent();
        for _ in 0..USER_DATABASE_SCAN_MAX {
            let pw = libc::getpwent();
            if pw.is_null() || found.len() >= max {
                break;
            }
            if (*pw).pw_gid == gid && (*pw).pw_uid != 0 {
                found.push(CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned());
            }
        }
        libc::endpwent();
    }
    found
}

/// Members kept of one group; more add nothing to a warning.
const MAX_NAMES: usize = 4096;

static WALK: Mutex<()> = Mutex::new(());

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

    #[test]
    fn root_group_is_known_and_nobody_else_has_it_as_primary() {
        let g = group(0).expect("gid 0 is in every group database");
        assert_eq!(g.name, "root");
        assert!(!users_with_primary_group(0, 10).contains(&"root".to_string()));
        assert_eq!(group(u32::MAX - 7), None);
    }
}
