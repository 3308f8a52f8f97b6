//! The per-connection directory and 24-byte control file in /dev/shm (libqb-ipc.md 4.1,
//! 4.3), with Pacemaker's permission gate (6.4), and their removal.
//!
//! In: a connection's names and the client's credentials. Out: a guard whose drop removes
//! what it created. Never follows a symlink the client could plant, and never removes by a
//! path the client could redirect: the directory is re-opened and checked by inode first.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{fchown, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};

use super::paths::ConnPaths;
use crate::sys::ipc_socket::unlink_at;

/// Who may open the control file (libqb-ipc.md 6.4): the kernel then enforces the client's
/// real supplementary groups, which `SO_PEERCRED` cannot report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    /// A root client: the file is the client's, mode 0600 (libqb's default).
    Owner {
        /// The client's uid.
        uid: u32,
        /// The client's gid.
        gid: u32,
    },
    /// Anyone else: the file stays ours, group `haclient`, mode 0660, so only members of
    /// that group (and root) can open it.
    Group {
        /// haclient's gid, if the group exists; otherwise no group can open the file.
        gid: Option<u32>,
    },
}

/// Size of the control file: three `{sent, flow_control}` pairs of i32 (4.3).
const CONTROL_LEN: usize = 24;

/// The directory and control file of one connection; dropping it removes both.
#[derive(Debug)]
pub(super) struct ConnFiles {
    dir: String,
    control_name: String,
    /// Device and inode of the directory we made, to recognise it at removal.
    id: (u64, u64),
}

fn open_dir(path: &str) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(path)
}

impl ConnFiles {
    /// Makes the directory (0700, ours, while we fill it), the zeroed control file with its
    /// gate, then hands the directory to the client (0770). `AlreadyExists` means the name
    /// was taken and the caller should pick another suffix.
    pub(super) fn create(
        paths: &ConnPaths,
        client_uid: u32,
        client_gid: u32,
        gate: Gate,
    ) -> io::Result<Self> {
        DirBuilder::new().mode(0o700).create(&paths.dir)?;
        let dir = open_dir(&paths.dir)?;
        let meta = dir.metadata()?;
        // From here on the guard removes whatever exists, on error paths too.
        let files = ConnFiles {
            dir: paths.dir.clone(),
            control_name: paths.control_name.clone(),
            id: (meta.dev(), meta.ino()),
        };
        // The directory is still ours and private, so this path cannot be redirected.
        let mut control = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&paths.control)?;
        // Real blocks, as libqb's fallocate gives; the client maps the file, we never do.
        control.write_all(&[0u8; CONTROL_LEN])?;
        let (uid, gid, mode) = match gate {
            Gate::Owner { uid, gid } => (Some(uid), Some(gid), 0o600),
            Gate::Group { gid } => (None, gid, 0o660),
        };
        // A failed chown only narrows who can open the file (libqb ignores it as well).
        if let Err(e) = fchown(&control, uid, gid) {
            log::debug!("ipc: cannot chown {}: {e}", paths.control);
        }
        control.set_permissions(Permissions::from_mode(mode))?;
        dir.set_permissions(Permissions::from_mode(0o770))?;
        if let Err(e) = fchown(&dir, Some(client_uid), Some(client_gid)) {
            log::debug!("ipc: cannot chown {}: {e}", paths.dir);
        }
        Ok(files)
    }
}

impl Drop for ConnFiles {
    fn drop(&mut self) {
        // The client may already have removed both (it does on a clean disconnect).
        let dir = match open_dir(&self.dir) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return,
            Err(e) => {
                log::warn!("ipc: cannot open {} for removal: {e}", self.dir);
                return;
            }
        };
        match dir.metadata() {
            Ok(m) if (m.dev(), m.ino()) == self.id => {}
            _ => {
                log::warn!(
                    "ipc: {} was replaced by the client; leaving it alone",
                    self.dir
                );
                return;
            }
        }
        if let Err(e) = unlink_at(&dir, &self.control_name) {
            if e.kind() != io::ErrorKind::NotFound {
                log::warn!("ipc: cannot remove {}/{}: {e}", self.dir, self.control_name);
            }
        }
        drop(dir);
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            if e.kind() != io::ErrorKind::NotFound {
                log::warn!("ipc: cannot remove {}: {e}", self.dir);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::paths::{suffix_from, ConnNumbers};
    use std::os::unix::fs::MetadataExt;

    fn paths(tag: u64) -> ConnPaths {
        let n = ConnNumbers {
            server_pid: std::process::id(),
            client_pid: 0,
            setup_fd: -1,
            suffix: suffix_from(tag ^ u64::from(std::process::id()) << 20),
        };
        ConnPaths::new(&n, "unit_test").unwrap()
    }

    #[test]
    fn gate_for_non_root_clients() {
        let p = paths(1);
        let files = ConnFiles::create(&p, 4321, 4321, Gate::Group { gid: Some(4242) }).unwrap();
        let c = std::fs::symlink_metadata(&p.control).unwrap();
        let d = std::fs::symlink_metadata(&p.dir).unwrap();
        assert_eq!(c.len(), 24);
        assert_eq!(c.mode() & 0o7777, 0o660);
        assert_eq!(d.mode() & 0o7777, 0o770);
        if crate::sys::users::effective_uid() == 0 {
            assert_eq!((c.uid(), c.gid()), (0, 4242));
            assert_eq!((d.uid(), d.gid()), (4321, 4321));
        }
        drop(files);
        assert!(!std::path::Path::new(&p.dir).exists());
    }

    #[test]
    fn gate_for_root_clients_and_taken_names() {
        let p = paths(2);
        let files = ConnFiles::create(&p, 0, 0, Gate::Owner { uid: 0, gid: 0 }).unwrap();
        let c = std::fs::symlink_metadata(&p.control).unwrap();
        assert_eq!(c.mode() & 0o7777, 0o600);
        // The same name again is refused, so the caller picks another suffix.
        let again = ConnFiles::create(&p, 0, 0, Gate::Owner { uid: 0, gid: 0 });
        assert_eq!(again.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        // The client may remove both first (a clean libqb disconnect does).
        std::fs::remove_file(&p.control).unwrap();
        std::fs::remove_dir(&p.dir).unwrap();
        drop(files);
    }

    #[test]
    fn a_replaced_directory_is_left_alone() {
        let p = paths(3);
        let files = ConnFiles::create(&p, 0, 0, Gate::Owner { uid: 0, gid: 0 }).unwrap();
        // The client swaps our directory for one of its own holding a decoy.
        let moved = format!("{}-moved", p.dir);
        std::fs::rename(&p.dir, &moved).unwrap();
        std::fs::create_dir(&p.dir).unwrap();
        std::fs::write(&p.control, b"decoy").unwrap();
        drop(files);
        assert_eq!(std::fs::read(&p.control).unwrap(), b"decoy");
        std::fs::remove_dir_all(&p.dir).unwrap();
        std::fs::remove_dir_all(&moved).unwrap();
    }
}
