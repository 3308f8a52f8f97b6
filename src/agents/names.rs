//! Names from requests as file names, and where the files they name may lie.
//!
//! In: a provider, type, resource id or parameter name from a request; a configured directory
//! and a path found in it. Out: the name accepted or why not; the path accepted or where it
//! leads instead. This module opens and runs nothing; it only looks at names and metadata.
//!
//! **Names.** A name must be one plain path component: not empty, no `/`, no NUL, and not
//! starting with `.` (which also rules out `.` and `..`). Then `dir.join(name)` is always an
//! entry of `dir`, whereas `Path::join` with an absolute name replaces `dir` altogether and
//! `..` walks out of it. The original concatenates strings and checks nothing: there `..` walks
//! out, and for LSB and Nagios an absolute type names any file on the system. It never offers a
//! hidden name either: its agent and provider listings skip entries starting with `.`, and
//! the CIB's ids are XML IDs, which cannot start with one.
//!
//! **Symbolic links** are followed, as the original follows them: distributions link provider
//! directories and init scripts to other places, and what the configured directory holds is
//! its administrator's choice. A link that leads *out of* the configured directory is followed
//! only to a file that nobody but root (or our own user) can change: the file and every
//! directory above it owned by root or by us, and none writable by group or others, except a
//! sticky directory such as `/tmp`, where others cannot rename or remove what root owns. A
//! link into a user's home or into a directory anyone can write to is refused, so nobody who
//! can write there gets root to run their file.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a name cannot be a file name in an agent directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadName {
    /// Nothing at all.
    Empty,
    /// A `/`: an absolute path or more than one component.
    Slash,
    /// A NUL byte, which no file name can hold (the C original would cut the name there).
    Nul,
    /// A leading `.`: `.`, `..` or a hidden entry.
    Hidden,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadName::Empty => "is empty",
            BadName::Slash => "contains '/'",
            BadName::Nul => "contains a NUL byte",
            BadName::Hidden => "starts with '.'",
        })
    }
}

/// Accepts `name` if it is one plain path component (see the module doc).
pub fn check(name: &str) -> Result<(), BadName> {
    if name.is_empty() {
        Err(BadName::Empty)
    } else if name.contains('/') {
        Err(BadName::Slash)
    } else if name.contains('\0') {
        Err(BadName::Nul)
    } else if name.starts_with('.') {
        Err(BadName::Hidden)
    } else {
        Ok(())
    }
}

/// Why a path found in a configured directory is not used.
#[derive(Debug)]
pub enum Refusal {
    /// It resolves, through a symbolic link, to a file outside the directory that someone
    /// other than root (or us) could change.
    Escapes {
        /// Where it really is.
        target: PathBuf,
        /// The first place on the way that is not safe.
        at: PathBuf,
        /// What is wrong with it.
        why: Untrusted,
    },
    /// It could not be resolved (it vanished, or a directory on the way is unreadable).
    Unresolved(io::Error),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Escapes { target, at, why } if at == target => {
                write!(f, "it leads outside to {}, which {why}", target.display())
            }
            Refusal::Escapes { target, at, why } => write!(
                f,
                "it leads outside to {}, and {} {why}",
                target.display(),
                at.display()
            ),
            Refusal::Unresolved(e) => write!(f, "it cannot be resolved: {e}"),
        }
    }
}

/// What makes one step of a path unsafe to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untrusted {
    /// Owned by this uid, neither root nor us.
    Owner(u32),
    /// Writable by group or others (and, for a directory, not sticky).
    Writable,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Untrusted::Owner(uid) => write!(f, "is owned by uid {uid}"),
            Untrusted::Writable => f.write_str("is writable by group or others"),
        }
    }
}

/// Accepts `path` (an entry found under `dir`) if it resolves to a place inside `dir`, or to
/// a file outside that only root or our own user can change.
pub fn confine(dir: &Path, path: &Path) -> Result<(), Refusal> {
    let target = fs::canonicalize(path).map_err(Refusal::Unresolved)?;
    let base = fs::canonicalize(dir).map_err(Refusal::Unresolved)?;
    if target.starts_with(&base) {
        return Ok(());
    }
    let steps = steps(&target).map_err(Refusal::Unresolved)?;
    match first_untrusted(&steps, crate::sys::users::effective_uid()) {
        None => Ok(()),
        Some((i, why)) => Err(Refusal::Escapes {
            at: steps[i].0.clone(),
            target,
            why,
        }),
    }
}

/// Owner and mode of one step of a resolved path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    uid: u32,
    mode: u32,
}

/// `/`, each directory below it and the file of an absolute path without links, as `lstat`
/// sees them.
fn steps(target: &Path) -> io::Result<Vec<(PathBuf, Step)>> {
    target
        .ancestors()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|p| {
            let m = fs::symlink_metadata(p)?;
            Ok((
                p.to_path_buf(),
                Step {
                    uid: m.uid(),
                    mode: m.mode(),
                },
            ))
        })
        .collect()
}

/// The first step, from `/` down, that someone other than root or `euid` could change, or
/// whose directory lets them replace the next step.
fn first_untrusted(steps: &[(PathBuf, Step)], euid: u32) -> Option<(usize, Untrusted)> {
    let last = steps.len().checked_sub(1)?;
    steps.iter().enumerate().find_map(|(i, (_, s))| {
        if s.uid != 0 && s.uid != euid {
            return Some((i, Untrusted::Owner(s.uid)));
        }
        // In a sticky directory only an entry's owner may rename or remove it, and the next
        // step's owner is checked in its turn.
        let writable = s.mode & 0o022 != 0 && (i == last || s.mode & STICKY == 0);
        writable.then_some((i, Untrusted::Writable))
    })
}

/// `S_ISVTX`.
const STICKY: u32 = 0o1000;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn only_plain_components_are_names() {
        let cases = [
            ("Dummy", Ok(())),
            ("IPaddr2", Ok(())),
            ("rsc:0", Ok(())),
            ("a.b", Ok(())),
            ("with space", Ok(())),
            ("", Err(BadName::Empty)),
            ("/usr/bin/id", Err(BadName::Slash)),
            ("/", Err(BadName::Slash)),
            ("heartbeat/../..", Err(BadName::Slash)),
            ("../x", Err(BadName::Slash)),
            ("..", Err(BadName::Hidden)),
            (".", Err(BadName::Hidden)),
            (".hidden", Err(BadName::Hidden)),
            ("a\0b", Err(BadName::Nul)),
            ("\0", Err(BadName::Nul)),
        ];
        for (name, want) in cases {
            assert_eq!(check(name), want, "{name:?}");
        }
    }

    fn step(uid: u32, mode: u32) -> (PathBuf, Step) {
        (PathBuf::new(), Step { uid, mode })
    }

    #[test]
    fn a_path_is_trusted_only_if_nobody_else_can_change_it() {
        let dir = 0o40755;
        let file = 0o100755;
        let tmp = 0o41777;
        type Case = (Vec<(PathBuf, Step)>, Option<(usize, Untrusted)>);
        let cases: Vec<Case> = vec![
            (vec![step(0, dir), step(0, dir), step(0, file)], None),
            (
                vec![step(0, dir), step(0, tmp), step(0, dir), step(0, file)],
                None,
            ),
            (
                vec![step(0, dir), step(1000, dir), step(0, file)],
                Some((1, Untrusted::Owner(1000))),
            ),
            (
                vec![step(0, dir), step(0, dir), step(1000, file)],
                Some((2, Untrusted::Owner(1000))),
            ),
            (
                vec![step(0, dir), step(0, 0o40777), step(0, file)],
                Some((1, Untrusted::Writable)),
            ),
            (
                vec![step(0, dir), step(0, 0o40775), step(0, file)],
                Some((1, Untrusted::Writable)),
            ),
            (
                vec![step(0, dir), step(0, dir), step(0, 0o100757)],
                Some((2, Untrusted::Writable)),
            ),
            // Sticky helps a directory, never the file itself.
            (
                vec![step(0, dir), step(0, 0o101777)],
                Some((1, Untrusted::Writable)),
            ),
            // Our own user counts as root.
            (vec![step(0, dir), step(4242, dir), step(4242, file)], None),
            (vec![], None),
        ];
        for (steps, want) in cases {
            assert_eq!(first_untrusted(&steps, 4242), want, "{steps:?}");
        }
    }

    #[test]
    fn links_out_of_the_directory_are_followed_only_to_safe_places() {
        let root = std::env::temp_dir().join(format!("pcmkr-names-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m));
        for d in ["base/prov", "safe/prov", "open/prov"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        for d in [
            "",
            "base",
            "base/prov",
            "safe",
            "safe/prov",
            "open",
            "open/prov",
        ] {
            mode(&root.join(d), 0o755).unwrap();
        }
        for f in ["base/prov/A", "safe/prov/A", "open/prov/A"] {
            fs::write(root.join(f), "#!/bin/sh\n").unwrap();
            mode(&root.join(f), 0o755).unwrap();
        }
        mode(&root.join("open"), 0o777).unwrap();
        symlink(root.join("safe/prov"), root.join("base/linked")).unwrap();
        symlink(root.join("open/prov"), root.join("base/opened")).unwrap();
        symlink("prov", root.join("base/alias")).unwrap();
        let base = root.join("base");
        // Inside, directly or through a link that stays inside.
        confine(&base, &base.join("prov/A")).unwrap();
        confine(&base, &base.join("alias/A")).unwrap();
        // Outside, to a directory only its owner can change: followed (as the original does).
        // The scratch tree sits in the sticky /tmp, which is fine.
        confine(&base, &base.join("linked/A")).unwrap();
        // Outside, through a directory anyone can write to: refused, naming it.
        match confine(&base, &base.join("opened/A")) {
            Err(Refusal::Escapes { at, why, target }) => {
                assert_eq!(
                    (at, why, target),
                    (
                        root.join("open"),
                        Untrusted::Writable,
                        root.join("open/prov/A")
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            confine(&base, &base.join("prov/missing")),
            Err(Refusal::Unresolved(_))
        ));
        fs::remove_dir_all(&root).unwrap();
    }
}
