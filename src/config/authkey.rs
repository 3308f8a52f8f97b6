//! The authentication key: where it is looked for, how it is read, and when it is re-read.
//!
//! In: the configured location and the default paths. Out: the key bytes (wiped from memory
//! when dropped) with advice about who else can read or replace the file, or an error that
//! names each file's real problem and a fix that cannot destroy a key (only a file that does
//! not exist is ever to be created, with a command that refuses to overwrite). The key is the
//! whole file as raw bytes, newlines included, as Pacemaker reads it (protocol.md 4). This
//! module never logs key material; only lengths and paths.
//!
//! Who should read the key: on a remote node only the daemon, which runs as root, reads it,
//! so `0600` owned by root is right. Anyone else who can read it can sign on as a cluster node
//! and have agents run as root; anyone who can replace it can do the same with a key of their
//! own. (`0640 root:haclient` is for full cluster nodes, where Pacemaker's daemons running as
//! `hacluster` read it.) The advice is a pure function of the file's owner, group and mode and
//! of a group look-up passed in, so it is tested without a user database.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Where Pacemaker keeps the key by default.
pub const DEFAULT_KEY_PATH: &str = "/etc/pacemaker/authkey";
/// The 2.1.5 daemon's last resort, the Corosync key.
pub const COROSYNC_KEY_PATH: &str = "/etc/corosync/authkey";

/// Key bytes shared by the handshakes that use them; wiped when the last user drops them.
pub type KeyBytes = Arc<Zeroizing<Vec<u8>>>;

/// One place a key may come from, and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `--authkey`: exactly this file, nothing else (so a typo is not hidden by a fallback).
    Explicit(PathBuf),
    /// `PCMK_authkey_location`, then the defaults, as the 2.1.5 daemon looks them up.
    Configured(PathBuf),
    /// No setting: `/etc/pacemaker/authkey`, then `/etc/corosync/authkey`.
    Default,
}

impl KeySource {
    /// The files to try, in order.
    pub fn candidates(&self) -> Vec<PathBuf> {
        // A board profile may name its own key file; it is looked for first.
        let defaults: Vec<PathBuf> = crate::limits::board::AUTHKEY
            .into_iter()
            .chain([DEFAULT_KEY_PATH, COROSYNC_KEY_PATH])
            .map(PathBuf::from)
            .collect();
        match self {
            KeySource::Explicit(p) => vec![p.clone()],
            KeySource::Configured(p) => {
                let mut v = vec![p.clone()];
                v.extend(defaults.into_iter().filter(|d| d != p));
                v
            }
            KeySource::Default => defaults,
        }
    }

    /// The path a user should create when nothing is found.
    pub fn primary(&self) -> &Path {
        match self {
            KeySource::Explicit(p) | KeySource::Configured(p) => p,
            KeySource::Default => {
                Path::new(crate::limits::board::AUTHKEY.unwrap_or(DEFAULT_KEY_PATH))
            }
        }
    }
}

/// Why one key file could not be used.
#[derive(Debug)]
pub enum KeyFileError {
    /// The file does not exist.
    Missing(PathBuf),
    /// The file exists but is empty, which Pacemaker treats as "no key".
    Empty(PathBuf),
    /// A directory where the key file should be.
    Directory(PathBuf),
    /// A FIFO, socket or device where the key file should be.
    NotRegular(PathBuf),
    /// Opening or reading failed (permissions, an I/O error).
    Unreadable(PathBuf, io::Error),
    /// Larger than the configured bound.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
        /// `max_key_bytes`.
        max: usize,
    },
}

impl KeyFileError {
    /// What to do about it, in a way that cannot destroy a key; `None` for a missing file,
    /// whose fix ([`KeyError`]) depends on whether any other file was found.
    pub fn fix(&self) -> Option<String> {
        let fix = match self {
            KeyFileError::Missing(_) => return None,
            KeyFileError::Empty(p) => format!(
                "an empty file is no key: put the cluster's key in {} (copy it from a \
                 cluster node)",
                p.display()
            ),
            KeyFileError::Directory(p) | KeyFileError::NotRegular(p) => format!(
                "point PCMK_authkey_location (or --authkey) at the key file itself, or move \
                 {} aside and copy the cluster's key there",
                p.display()
            ),
            KeyFileError::Unreadable(p, e) if e.kind() == io::ErrorKind::PermissionDenied => {
                format!(
                    "the file exists, so do not create a new key: check its owner and mode and \
                     those of the directories above it ('ls -ld {} {}'); it should be owned by \
                     root with mode 0600 and the daemon should run as root (it runs as uid \
                     {}); SELinux or AppArmor may also deny it",
                    p.parent().unwrap_or(Path::new("/")).display(),
                    p.display(),
                    crate::sys::users::effective_uid()
                )
            }
            KeyFileError::Unreadable(p, _) => format!(
                "the file exists, so do not create a new key: check the path and the file \
                 system ('ls -l {}')",
                p.display()
            ),
            KeyFileError::TooLarge { len, .. } => format!(
                "is it the right file? Pacemaker's keys are usually 4096 bytes; if it is, \
                 raise the limit with '--limit max_key_bytes={len}'"
            ),
        };
        Some(fix)
    }
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Missing(p) => write!(f, "{}: no such file", p.display()),
            KeyFileError::Empty(p) => write!(f, "{}: file is empty", p.display()),
            KeyFileError::Directory(p) => write!(f, "{}: is a directory", p.display()),
            KeyFileError::NotRegular(p) => write!(
                f,
                "{}: not a regular file (a FIFO, socket or device)",
                p.display()
            ),
            KeyFileError::Unreadable(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
            KeyFileError::TooLarge { path, len, max } => write!(
                f,
                "{}: {len} bytes is more than the limit of {max} (max_key_bytes)",
                path.display()
            ),
        }
    }
}

/// No usable key anywhere we looked.
#[derive(Debug)]
pub struct KeyError {
    /// Every file tried, with why it failed, in order.
    pub tried: Vec<KeyFileError>,
    /// The file the user should create when no file exists at all.
    pub create_at: PathBuf,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no usable authentication key (")?;
        for (i, e) in self.tried.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{e}")?;
        }
        write!(f, ")")?;
        let fixes: Vec<String> = self.tried.iter().filter_map(KeyFileError::fix).collect();
        if fixes.is_empty() {
            // Nothing exists anywhere: the one case where a file is to be created. A remote
            // node joins a cluster, so its key is the cluster's; a new one is only for a new
            // cluster. `set -C` makes the shell refuse to overwrite an existing file.
            let path = self.create_at.display();
            let dir = self.create_at.parent().unwrap_or(Path::new("/")).display();
            write!(
                f,
                ": copy the cluster's key to {path} (the same file as on every cluster node, \
                 mode 0600, owned by root); for a new cluster, create one that refuses to \
                 overwrite anything with 'mkdir -p {dir} && (umask 077; set -C; \
                 dd if=/dev/urandom bs=4096 count=1 > {path})' and copy it to every node"
            )
        } else {
            write!(f, ": {}", fixes.join("; "))
        }
    }
}

impl std::error::Error for KeyError {}

/// Who may read or replace a key file, as its metadata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Permission bits (and type bits; only the low nine are looked at).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// A group's users other than root, as the user and group databases list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUsers {
    /// The group's name.
    pub name: String,
    /// Supplementary members, then users whose primary group it is; root left out.
    pub users: Vec<String>,
}

/// Warnings about who besides the daemon (`daemon_uid`) can read or replace the key at
/// `path`, each with why it matters and the fix. `group` looks up a group's users.
pub fn access_advice(
    path: &Path,
    access: Access,
    daemon_uid: u32,
    group: &dyn Fn(u32) -> Option<GroupUsers>,
) -> Vec<String> {
    let p = path.display();
    let fix = format!(
        "on a remote node only the daemon (root) needs the key: 'chown root:root {p}; chmod \
         0600 {p}'"
    );
    let mut warnings = Vec::new();
    if access.uid != 0 && access.uid != daemon_uid {
        warnings.push(format!(
            "{p} is owned by uid {}, who can read it and replace it, and so sign on as a \
             cluster node and run agents as root; {fix}",
            access.uid
        ));
    }
    if access.mode & 0o022 != 0 {
        warnings.push(format!(
            "{p} can be replaced by users other than its owner (mode {:04o}); with a key of \
             their own they can sign on as a cluster node and run agents as root; {fix}",
            access.mode & 0o7777
        ));
    }
    if access.mode & 0o004 != 0 {
        warnings.push(format!(
            "{p} is readable by every local user (mode {:04o}); anyone who reads it can sign \
             on as a cluster node and run agents as root; {fix}",
            access.mode & 0o7777
        ));
    } else if access.mode & 0o040 != 0 {
        let who = match group(access.gid) {
            Some(g) if g.users.is_empty() => None,
            Some(g) => Some(format!(
                "group {} (gid {}), whose members other than root are {}",
                g.name,
                access.gid,
                name_list(&g.users)
            )),
            None => Some(format!(
                "gid {}, which the group database does not know",
                access.gid
            )),
        };
        if let Some(who) = who {
            warnings.push(format!(
                "{p} is readable by {who}; any of them can sign on as a cluster node and run \
                 agents as root ('0640 root:haclient' is for full cluster nodes, whose \
                 daemons run as hacluster); {fix}"
            ));
        }
    }
    warnings
}

/// Looks a group's users up in the system's databases, for [`access_advice`].
pub fn group_users(gid: u32) -> Option<GroupUsers> {
    let group = crate::sys::users::group(gid)?;
    let mut users: Vec<String> = group.members.into_iter().filter(|m| m != "root").collect();
    for u in crate::sys::users::users_with_primary_group(gid, MAX_LISTED + 1) {
        if !users.contains(&u) {
            users.push(u);
        }
    }
    Some(GroupUsers {
        name: group.name,
        users,
    })
}

/// `a, b, c` or `a, b, c, d, e and 3 more`.
fn name_list(names: &[String]) -> String {
    let shown = names[..names.len().min(MAX_LISTED)].join(", ");
    match names.len().saturating_sub(MAX_LISTED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// Names listed in a warning at most.
const MAX_LISTED: usize = 5;

/// A key read from disk, with what is worth telling the operator about it.
pub struct LoadedKey {
    /// The raw key bytes.
    pub bytes: KeyBytes,
    /// The file it came from.
    pub path: PathBuf,
    /// Who may read or replace it.
    pub access: Access,
    /// Fallbacks taken, to be logged as warnings (see [`access_advice`] for permissions).
    pub warnings: Vec<String>,
}

/// Finds and reads the key from `source`, trying each candidate in order.
pub fn load(source: &KeySource, max_bytes: usize) -> Result<LoadedKey, KeyError> {
    let mut tried = Vec::new();
    for path in source.candidates() {
        match read_one(&path, max_bytes) {
            Ok((bytes, access)) => {
                let warnings: Vec<String> = tried
                    .iter()
                    .map(|e: &KeyFileError| format!("skipped {e}; using {}", path.display()))
                    .collect();
                return Ok(LoadedKey {
                    bytes: Arc::new(bytes),
                    path,
                    access,
                    warnings,
                });
            }
            Err(e) => tried.push(e),
        }
    }
    Err(KeyError {
        tried,
        create_at: source.primary().to_path_buf(),
    })
}

fn read_one(path: &Path, max_bytes: usize) -> Result<(Zeroizing<Vec<u8>>, Access), KeyFileError> {
    let unreadable = |e| KeyFileError::Unreadable(path.to_path_buf(), e);
    // O_NONBLOCK: a FIFO at the key's path must not block the daemon in open(2); the type
    // check below then refuses it. Regular files ignore the flag.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => KeyFileError::Missing(path.to_path_buf()),
            _ => unreadable(e),
        })?;
    let meta = file.metadata().map_err(unreadable)?;
    if meta.is_dir() {
        return Err(KeyFileError::Directory(path.to_path_buf()));
    }
    if !meta.is_file() {
        return Err(KeyFileError::NotRegular(path.to_path_buf()));
    }
    if meta.len() > max_bytes as u64 {
        return Err(KeyFileError::TooLarge {
            path: path.to_path_buf(),
            len: meta.len(),
            max: max_bytes,
        });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    // Read one byte past the bound so a file that grew after stat is still caught.
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() > max_bytes {
        return Err(KeyFileError::TooLarge {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            max: max_bytes,
        });
    }
    if bytes.is_empty() {
        return Err(KeyFileError::Empty(path.to_path_buf()));
    }
    let access = Access {
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
    };
    Ok((bytes, access))
}

/// The key as handshakes see it: read on first use and again once it is older than the cache
/// time, so a rotated key file takes effect without a restart.
pub struct KeyCache {
    source: KeySource,
    max_bytes: usize,
    ttl: Duration,
    cached: Option<(KeyBytes, Instant)>,
    /// The file and access last advised about, so a re-read every minute does not repeat
    /// the same warnings (nor look the group up again).
    advised: Option<(PathBuf, Access)>,
}

impl KeyCache {
    /// A cache that reads nothing until the first handshake asks.
    pub fn new(source: KeySource, max_bytes: usize, ttl: Duration) -> Self {
        KeyCache {
            source,
            max_bytes,
            ttl,
            cached: None,
            advised: None,
        }
    }

    /// The current key, reading the file if the cached copy is missing or stale. Also returns
    /// the warnings of a fresh read, so the caller logs them once per read; advice about the
    /// file's permissions comes again only when its owner, group or mode changed.
    pub fn current(&mut self, now: Instant) -> Result<(KeyBytes, Vec<String>), KeyError> {
        if let Some((key, at)) = &self.cached {
            if now.saturating_duration_since(*at) < self.ttl {
                return Ok((key.clone(), Vec::new()));
            }
        }
        self.cached = None;
        let loaded = load(&self.source, self.max_bytes)?;
        self.cached = Some((loaded.bytes.clone(), now));
        let mut warnings = loaded.warnings;
        let seen = (loaded.path.clone(), loaded.access);
        if self.advised.as_ref() != Some(&seen) {
            warnings.extend(access_advice(
                &loaded.path,
                loaded.access,
                crate::sys::users::effective_uid(),
                &group_users,
            ));
            self.advised = Some(seen);
        }
        warnings.insert(
            0,
            format!(
                "read authentication key from {} ({} bytes)",
                loaded.path.display(),
                loaded.bytes.len()
            ),
        );
        Ok((loaded.bytes, warnings))
    }

    /// Forgets the cached key (SIGHUP), so the next handshake reads the file again.
    pub fn invalidate(&mut self) {
        self.cached = None;
    }

    /// Where the key is looked for; for messages.
    pub fn source(&self) -> &KeySource {
        &self.source
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pcmkr-key-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn key_is_the_whole_file_including_newlines() {
        let d = temp_dir("raw");
        let p = d.join("k");
        fs::write(&p, b"abc\n\x00def\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let k = load(&KeySource::Explicit(p), 1024).unwrap();
        assert_eq!(k.bytes.as_slice(), b"abc\n\x00def\n");
        assert!(k.warnings.is_empty());
    }

    /// The words a hint must contain, and a check that it suggests nothing destructive.
    fn assert_hint(text: &str, path: &Path, cause: &str, fix: &str) {
        assert!(text.contains(cause), "cause {cause:?} in {text}");
        assert!(text.contains(fix), "fix {fix:?} in {text}");
        // Never a command that writes to the key's path unconditionally.
        assert!(
            !text.contains(&format!("of={}", path.display())),
            "destructive: {text}"
        );
    }

    #[test]
    fn every_bad_key_names_the_real_cause_and_a_fix_that_destroys_nothing() {
        let d = temp_dir("bad");
        let empty = d.join("empty");
        fs::write(&empty, b"").unwrap();
        let big = d.join("big");
        fs::write(&big, vec![7u8; 2000]).unwrap();
        let fifo = d.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let missing = d.join("missing");
        // (file, cause, fix); only the missing file gets a command that creates one.
        let cases = [
            (
                missing.clone(),
                format!("{}: no such file", missing.display()),
                format!(
                    "copy the cluster's key to {} (the same file as on every cluster node, \
                     mode 0600, owned by root); for a new cluster, create one that refuses \
                     to overwrite anything with 'mkdir -p {} && (umask 077; set -C; dd \
                     if=/dev/urandom bs=4096 count=1 > {})'",
                    missing.display(),
                    d.display(),
                    missing.display()
                ),
            ),
            (
                empty.clone(),
                String::from("file is empty"),
                String::from("an empty file is no key: put the cluster's key in"),
            ),
            (
                big.clone(),
                String::from("2000 bytes is more than the limit of 1024 (max_key_bytes)"),
                String::from("is it the right file?"),
            ),
            (
                d.clone(),
                String::from("is a directory"),
                String::from("point PCMK_authkey_location (or --authkey) at the key file"),
            ),
            (
                fifo.clone(),
                String::from("not a regular file"),
                String::from("point PCMK_authkey_location (or --authkey) at the key file"),
            ),
        ];
        for (path, cause, fix) in cases {
            let err = load(&KeySource::Explicit(path.clone()), 1024)
                .err()
                .unwrap();
            let text = err.to_string();
            assert_hint(&text, &path, &cause, &fix);
            if path != missing {
                assert!(!text.contains("dd "), "{text}");
            }
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn errors_only_a_user_can_meet_are_answered_without_creating_a_key() {
        // Root reads through any permission, so these are built rather than provoked.
        let key = PathBuf::from("/etc/pacemaker/authkey");
        let denied = io::Error::from(io::ErrorKind::PermissionDenied);
        let eio = io::Error::from_raw_os_error(libc::EIO);
        // The C library words EIO (glibc "Input/output error", musl "I/O error").
        let eio_cause = format!("cannot read: {eio}");
        let cases = [
            (
                KeyFileError::Unreadable(key.clone(), denied),
                "cannot read: permission denied",
                "the file exists, so do not create a new key: check its owner and mode and \
                 those of the directories above it ('ls -ld /etc/pacemaker /etc/pacemaker/authkey')",
            ),
            (
                KeyFileError::Unreadable(key.clone(), eio),
                eio_cause.as_str(),
                "the file exists, so do not create a new key: check the path and the file system",
            ),
        ];
        for (e, cause, fix) in cases {
            let err = KeyError {
                tried: vec![e],
                create_at: key.clone(),
            };
            let text = err.to_string().to_lowercase();
            assert_hint(&text, &key, &cause.to_lowercase(), &fix.to_lowercase());
            assert!(!text.contains("dd "), "{text}");
        }
        // A configured key that cannot be read, with no fallback found: still no creation
        // hint, since the one file that exists is the one to fix.
        let err = KeyError {
            tried: vec![
                KeyFileError::Unreadable(
                    PathBuf::from("/srv/k"),
                    io::Error::from(io::ErrorKind::PermissionDenied),
                ),
                KeyFileError::Missing(key.clone()),
                KeyFileError::Missing(PathBuf::from(COROSYNC_KEY_PATH)),
            ],
            create_at: PathBuf::from("/srv/k"),
        };
        let text = err.to_string();
        assert!(
            text.contains("/srv/k: cannot read") && !text.contains("dd "),
            "{text}"
        );
    }

    #[test]
    fn a_good_key_is_read_with_its_owner_group_and_mode() {
        let d = temp_dir("access");
        let p = d.join("k");
        fs::write(&p, b"key").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        let k = load(&KeySource::Explicit(p.clone()), 1024).unwrap();
        let meta = fs::metadata(&p).unwrap();
        assert_eq!(
            (k.access.mode & 0o7777, k.access.uid, k.access.gid),
            (0o640, meta.uid(), meta.gid())
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn advice_names_who_else_can_read_or_replace_the_key() {
        let key = Path::new("/etc/pacemaker/authkey");
        let groups = |gid: u32| -> Option<GroupUsers> {
            let users = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
            match gid {
                0 => Some(GroupUsers {
                    name: "root".into(),
                    users: Vec::new(),
                }),
                90 => Some(GroupUsers {
                    name: "haclient".into(),
                    users: users(&["hacluster"]),
                }),
                91 => Some(GroupUsers {
                    name: "staff".into(),
                    users: users(&["a", "b", "c", "d", "e", "f", "g"]),
                }),
                _ => None,
            }
        };
        let at = |mode: u32, uid: u32, gid: u32| Access {
            mode: 0o100000 | mode,
            uid,
            gid,
        };
        let fix = "on a remote node only the daemon (root) needs the key: 'chown root:root \
                   /etc/pacemaker/authkey; chmod 0600 /etc/pacemaker/authkey'";
        // (access, daemon uid, the words of each warning)
        let cases: Vec<(Access, u32, Vec<&str>)> = vec![
            (at(0o600, 0, 0), 0, vec![]),
            (at(0o400, 0, 0), 0, vec![]),
            (at(0o640, 0, 0), 0, vec![]),
            (
                at(0o640, 0, 90),
                0,
                vec![
                    "readable by group haclient (gid 90), whose members other than root are \
                     hacluster; any of them can sign on as a cluster node and run agents as root",
                ],
            ),
            (
                at(0o640, 0, 91),
                0,
                vec!["whose members other than root are a, b, c, d, e and 2 more"],
            ),
            (
                at(0o640, 0, 4242),
                0,
                vec!["readable by gid 4242, which the group database does not know"],
            ),
            (
                at(0o644, 0, 90),
                0,
                vec!["readable by every local user (mode 0644)"],
            ),
            (
                at(0o660, 0, 90),
                0,
                vec![
                    "can be replaced by users other than its owner (mode 0660)",
                    "group haclient",
                ],
            ),
            (
                at(0o600, 1000, 0),
                0,
                vec!["owned by uid 1000, who can read it and replace it"],
            ),
            // The demo, or a daemon run as its own user: that user owning the key is right.
            (at(0o600, 1000, 1000), 1000, vec![]),
        ];
        for (access, daemon, want) in cases {
            let got = access_advice(key, access, daemon, &groups);
            assert_eq!(got.len(), want.len(), "{access:?}: {got:#?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.contains(w), "{access:?}: {g}");
                assert!(g.contains(fix), "{access:?}: {g}");
            }
        }
    }

    #[test]
    fn the_group_database_is_asked_for_members_and_primary_users() {
        // gid 0 exists everywhere; root itself never counts.
        let g = group_users(0).unwrap();
        assert_eq!(g.name, "root");
        assert!(!g.users.contains(&"root".to_string()));
    }

    #[test]
    fn configured_location_falls_back_in_the_original_order() {
        let c = KeySource::Configured(PathBuf::from("/x/k")).candidates();
        assert_eq!(
            c,
            [
                PathBuf::from("/x/k"),
                DEFAULT_KEY_PATH.into(),
                COROSYNC_KEY_PATH.into()
            ]
        );
        assert_eq!(KeySource::Explicit("/x/k".into()).candidates().len(), 1);
    }

    #[test]
    fn cache_rereads_after_its_time_so_keys_rotate() {
        let d = temp_dir("cache");
        let p = d.join("k");
        fs::write(&p, b"one").unwrap();
        let mut cache = KeyCache::new(KeySource::Explicit(p.clone()), 64, Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(cache.current(t0).unwrap().0.as_slice(), b"one");
        fs::write(&p, b"two").unwrap();
        let (k, w) = cache.current(t0 + Duration::from_secs(59)).unwrap();
        assert_eq!((k.as_slice(), w.len()), (&b"one"[..], 0));
        let (k, w) = cache.current(t0 + Duration::from_secs(60)).unwrap();
        assert_eq!(k.as_slice(), b"two");
        assert!(w[0].contains("3 bytes"));
        fs::write(&p, b"three").unwrap();
        cache.invalidate();
        assert_eq!(cache.current(t0).unwrap().0.as_slice(), b"three");
    }

    #[test]
    fn permission_advice_is_given_once_per_change() {
        let d = temp_dir("advice");
        let p = d.join("k");
        fs::write(&p, b"key").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let mut cache = KeyCache::new(KeySource::Explicit(p.clone()), 64, Duration::ZERO);
        let t0 = Instant::now();
        let advice = |w: &[String]| w.iter().filter(|l| l.contains("chmod 0600")).count();
        assert_eq!(advice(&cache.current(t0).unwrap().1), 1);
        assert_eq!(advice(&cache.current(t0).unwrap().1), 0, "not repeated");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(advice(&cache.current(t0).unwrap().1), 0);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o606)).unwrap();
        assert_eq!(
            advice(&cache.current(t0).unwrap().1),
            2,
            "readable and replaceable"
        );
        fs::remove_dir_all(&d).unwrap();
    }
}
