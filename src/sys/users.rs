//! The user and group databases (through NSS, as `id` and `getent` see them), for advice about
//! who can read the key and for deciding which files only root can change.

use std::ffi::CStr;
use std::sync::Mutex;

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
    while size <= MAX_BUFFER {
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
/// winbind do not enumerate by default); at most [`MAX_USERS_SCANNED`] entries are read.
pub fn users_with_primary_group(gid: u32, max: usize) -> Vec<String> {
    // getpwent keeps its position in process-wide state; this lock keeps our own callers
    // from interleaving (nothing else in the daemon walks the database).
    let _walk = WALK.lock().unwrap_or_else(|e| e.into_inner());
    let mut found = Vec::new();
    // SAFETY: setpwent/getpwent/endpwent take no arguments; the lock above serializes our use
    // of their shared state. Each returned entry is read before the next call replaces it.
    unsafe {
        libc::setpwent();
        for _ in 0..MAX_USERS_SCANNED {
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

/// Largest buffer offered to a reentrant look-up (a group with very many members).
const MAX_BUFFER: usize = 1 << 20;
/// Members kept of one group; more add nothing to a warning.
const MAX_NAMES: usize = 4096;
/// Entries read from the user database at most, so a huge directory cannot stall the caller.
/// A bound like those in `limits.rs`, where it is to move (with a README Limits row).
pub const MAX_USERS_SCANNED: usize = 100_000;

static WALK: Mutex<()> = Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_group_is_known_and_nobody_else_has_it_as_primary() {
        let g = group(0).expect("gid 0 is in every group database");
        assert_eq!(g.name, "root");
        assert!(!users_with_primary_group(0, 10).contains(&"root".to_string()));
        assert_eq!(group(u32::MAX - 7), None);
    }
}
