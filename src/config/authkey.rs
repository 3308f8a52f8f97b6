//! The authentication key: where it is looked for, how it is read, and when it is re-read.
//!
//! In: the configured location and the default paths. Out: the key bytes (wiped from memory
//! when dropped), or an error that names the file and says how to create a key. The key is
//! the whole file as raw bytes, newlines included, as Pacemaker reads it (protocol.md 4).
//! This module never logs key material; only lengths and paths.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
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
    /// Reading failed (permissions, a directory, an I/O error).
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

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Missing(p) => write!(f, "{}: no such file", p.display()),
            KeyFileError::Empty(p) => write!(f, "{}: file is empty", p.display()),
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
    /// The file the user should create.
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
        write!(
            f,
            "); create one with 'dd if=/dev/urandom of={} bs=4096 count=1' \
             and copy the same file to every cluster node",
            self.create_at.display()
        )
    }
}

impl std::error::Error for KeyError {}

/// A key read from disk, with what is worth telling the operator about it.
pub struct LoadedKey {
    /// The raw key bytes.
    pub bytes: KeyBytes,
    /// The file it came from.
    pub path: PathBuf,
    /// Fallbacks taken and permission problems, to be logged as warnings.
    pub warnings: Vec<String>,
}

/// Finds and reads the key from `source`, trying each candidate in order.
pub fn load(source: &KeySource, max_bytes: usize) -> Result<LoadedKey, KeyError> {
    let mut tried = Vec::new();
    for path in source.candidates() {
        match read_one(&path, max_bytes) {
            Ok((bytes, mode)) => {
                let mut warnings: Vec<String> = tried
                    .iter()
                    .map(|e: &KeyFileError| format!("skipped {e}; using {}", path.display()))
                    .collect();
                if mode & 0o004 != 0 {
                    warnings.push(format!(
                        "{} is readable by every local user; restrict it with \
                         'chmod 0640 {}' (owner root, group haclient)",
                        path.display(),
                        path.display()
                    ));
                }
                return Ok(LoadedKey {
                    bytes: Arc::new(bytes),
                    path,
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

fn read_one(path: &Path, max_bytes: usize) -> Result<(Zeroizing<Vec<u8>>, u32), KeyFileError> {
    let file = fs::File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => KeyFileError::Missing(path.to_path_buf()),
        _ => KeyFileError::Unreadable(path.to_path_buf(), e),
    })?;
    let meta = file
        .metadata()
        .map_err(|e| KeyFileError::Unreadable(path.to_path_buf(), e))?;
    if meta.is_dir() {
        let e = io::Error::other("is a directory");
        return Err(KeyFileError::Unreadable(path.to_path_buf(), e));
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
        .map_err(|e| KeyFileError::Unreadable(path.to_path_buf(), e))?;
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
    Ok((bytes, meta.permissions().mode()))
}

/// The key as handshakes see it: read on first use and again once it is older than the cache
/// time, so a rotated key file takes effect without a restart.
pub struct KeyCache {
    source: KeySource,
    max_bytes: usize,
    ttl: Duration,
    cached: Option<(KeyBytes, Instant)>,
}

impl KeyCache {
    /// A cache that reads nothing until the first handshake asks.
    pub fn new(source: KeySource, max_bytes: usize, ttl: Duration) -> Self {
        KeyCache {
            source,
            max_bytes,
            ttl,
            cached: None,
        }
    }

    /// The current key, reading the file if the cached copy is missing or stale. Also returns
    /// the warnings of a fresh read, so the caller logs them once per read.
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

    #[test]
    fn every_bad_key_names_the_file_and_the_fix() {
        let d = temp_dir("bad");
        let empty = d.join("empty");
        fs::write(&empty, b"").unwrap();
        let big = d.join("big");
        fs::write(&big, vec![7u8; 2000]).unwrap();
        let cases = [
            (d.join("missing"), "no such file"),
            (empty, "file is empty"),
            (big, "2000 bytes is more than the limit of 1024"),
            (d.clone(), "is a directory"),
        ];
        for (path, want) in cases {
            let err = load(&KeySource::Explicit(path.clone()), 1024)
                .err()
                .unwrap();
            let text = err.to_string();
            assert!(text.contains(want), "{text}");
            assert!(text.contains(&format!("of={}", path.display())), "{text}");
            assert!(text.contains("bs=4096 count=1"), "{text}");
        }
    }

    #[test]
    fn world_readable_key_gets_a_warning() {
        let d = temp_dir("perm");
        let p = d.join("k");
        fs::write(&p, b"key").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let k = load(&KeySource::Explicit(p), 1024).unwrap();
        assert_eq!(k.warnings.len(), 1);
        assert!(k.warnings[0].contains("chmod 0640"));
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
}
