//! A log file that survives log rotation: reopened on SIGHUP, and by itself when the file it
//! writes to was moved or deleted (logrotate's default `create` mode), checked at most once a
//! second. Nothing here ever stops the daemon: a file that cannot be opened is reported by
//! the caller and retried at the next check.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a log file's path is compared with the file we hold open.
const MOVE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// One configured log file.
pub struct LogFile {
    path: PathBuf,
    open: Option<(File, FileId)>,
    checked: Instant,
}

/// Device and inode: what tells "the same file" from "a new file at the same path".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId(u64, u64);

impl LogFile {
    /// Opens `path` for appending (created 0660 if missing, as Pacemaker's log is).
    pub fn open(path: &Path) -> std::io::Result<LogFile> {
        let (file, id) = open_append(path)?;
        Ok(LogFile {
            path: path.to_path_buf(),
            open: Some((file, id)),
            checked: Instant::now(),
        })
    }

    /// Appends one line, reopening first if the file was moved away since the last check.
    /// Returns an error only when the file could not be (re)opened, for the caller to report.
    pub fn write_line(&mut self, line: &[u8], now: Instant) -> Result<(), String> {
        if now.duration_since(self.checked) >= MOVE_CHECK_INTERVAL {
            self.checked = now;
            let current = std::fs::metadata(&self.path)
                .ok()
                .map(|m| FileId(m.dev(), m.ino()));
            let held = self.open.as_ref().map(|(_, id)| *id);
            if current.is_none() || current != held {
                self.reopen()?;
            }
        }
        if let Some((f, _)) = self.open.as_mut() {
            let _ = f.write_all(line);
        }
        Ok(())
    }

    /// Closes and opens the path again (SIGHUP, or the file was moved).
    pub fn reopen(&mut self) -> Result<(), String> {
        self.open = None;
        match open_append(&self.path) {
            Ok(opened) => {
                self.open = Some(opened);
                Ok(())
            }
            Err(e) => Err(format!(
                "cannot reopen log file {}: {e}",
                self.path.display()
            )),
        }
    }
}

fn open_append(path: &Path) -> std::io::Result<(File, FileId)> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o660)
        .open(path)?;
    if !existed {
        give_to_cluster_users(path);
    }
    let m = file.metadata()?;
    Ok((file, FileId(m.dev(), m.ino())))
}

/// A log file we create belongs to `hacluster:haclient`, as Pacemaker's own do: logrotate's
/// `su hacluster haclient` (Pacemaker's rotation rule) can then rotate and compress it, and
/// the cluster's tools may append to it. Without those accounts, or when not root, it stays
/// ours.
fn give_to_cluster_users(path: &Path) {
    let uid = crate::sys::users::user_ids("hacluster").map(|(uid, _)| uid);
    let gid = crate::sys::users::group_id("haclient");
    if uid.is_some() || gid.is_some() {
        let _ = std::os::unix::fs::chown(path, uid, gid);
    }
    // The process umask would leave the group without write access.
    let _ = std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o660));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pcmkr-logfile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_moved_file_is_reopened_at_the_next_check() {
        let dir = scratch("moved");
        let path = dir.join("p.log");
        let mut f = LogFile::open(&path).unwrap();
        let t0 = Instant::now();
        f.write_line(b"one\n", t0).unwrap();
        std::fs::rename(&path, dir.join("p.log.1")).unwrap();
        // Before the check interval the old (moved) file still gets the line.
        f.write_line(b"two\n", t0).unwrap();
        f.write_line(b"three\n", t0 + MOVE_CHECK_INTERVAL).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("p.log.1")).unwrap(),
            "one\ntwo\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reopen_starts_a_new_file_after_rotation() {
        let dir = scratch("hup");
        let path = dir.join("p.log");
        let mut f = LogFile::open(&path).unwrap();
        std::fs::rename(&path, dir.join("p.log.1")).unwrap();
        f.reopen().unwrap();
        f.write_line(b"after\n", Instant::now()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_directory_is_an_error_not_a_panic() {
        let mut f = LogFile::open(&scratch("bad").join("x.log")).unwrap();
        f.path = PathBuf::from("/proc/no/such/dir/x.log");
        assert!(f.reopen().is_err());
        assert!(f.write_line(b"x\n", Instant::now()).is_ok());
    }
}
