//! Schema transfer's file half (protocol.md 17): our newest installed schema, read at start,
//! and the accepted files written to the schema directory on a thread of their own.
//!
//! In: the files `dispatch::schemas` accepted. Out: the schema directory replaced as a whole:
//! the files go to a fresh sibling directory first, which is then renamed into place, so a
//! tool never sees half a set. The event loop only hands the files over.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use log::{info, warn};

use crate::dispatch::schemas::SchemaFile;

/// One replacement at a time: a second answer waits for the first to be in place.
static WRITING: Mutex<()> = Mutex::new(());

/// Our newest installed schema, `pacemaker-X.Y`, or `None` when none is installed (schema
/// transfer is then skipped).
pub fn highest_installed(dir: &Path) -> Option<String> {
    let entries = std::fs::read_dir(dir).ok()?;
    let names = entries
        .take(10_000)
        .filter_map(|e| e.ok()?.file_name().into_string().ok());
    highest_of(names)
}

/// The highest `pacemaker-X.Y` among file names `pacemaker-X.Y.rng`, compared numerically.
fn highest_of(names: impl Iterator<Item = String>) -> Option<String> {
    names
        .filter_map(|n| {
            let v = n.strip_prefix("pacemaker-")?.strip_suffix(".rng")?;
            let (major, minor) = v.split_once('.')?;
            Some((
                (major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?),
                v.to_string(),
            ))
        })
        .max_by_key(|(k, _)| *k)
        .map(|(_, v)| format!("pacemaker-{v}"))
}

/// Replaces the schema directory's files with `files` on a thread of its own, logging the
/// outcome; the event loop goes on at once.
pub fn replace_in_background(dir: PathBuf, files: Vec<SchemaFile>) {
    let spawned = std::thread::Builder::new()
        .name("schemas".into())
        .spawn(move || {
            let _one_at_a_time = WRITING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match replace(&dir, &files) {
                Ok(()) => info!(
                    "schema transfer: {} files in place in {}",
                    files.len(),
                    dir.display()
                ),
                Err(e) => warn!(
                    "schema transfer: could not write the schema files to {}: {e}; the previous ones are left",
                    dir.display()
                ),
            }
        });
    if let Err(e) = spawned {
        warn!("schema transfer: could not start the writer thread: {e}; schema files left as they were");
    }
}

/// Writes `files` into a fresh sibling of `dir` and swaps it in: the old directory is renamed
/// aside, the new one into place, and the old one removed.
pub fn replace(dir: &Path, files: &[SchemaFile]) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    use std::os::unix::fs::OpenOptionsExt;

    let parent = dir.parent().unwrap_or(Path::new("/"));
    let base = dir
        .file_name()
        .map_or_else(|| "schemas".into(), |n| n.to_string_lossy().into_owned());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(parent)?;
    let fresh = parent.join(format!(".{base}.new"));
    let stale = parent.join(format!(".{base}.old"));
    for leftover in [&fresh, &stale] {
        if leftover.symlink_metadata().is_ok() {
            std::fs::remove_dir_all(leftover)?;
        }
    }
    std::fs::DirBuilder::new().mode(0o755).create(&fresh)?;
    for file in files {
        // The names were checked (dispatch::schemas); `create_new` refuses to follow anything.
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(fresh.join(&file.name))?;
        std::io::Write::write_all(&mut out, file.content.as_bytes())?;
        out.sync_all()?;
    }
    match dir.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::rename(dir, &stale)?,
        Ok(_) => {
            return Err(std::io::Error::other(
                "it exists but is not a directory; not touching it",
            ))
        }
        Err(_) => {}
    }
    std::fs::rename(&fresh, dir)?;
    if stale.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(&stale)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, content: &str) -> SchemaFile {
        SchemaFile {
            name: name.into(),
            content: content.into(),
        }
    }

    #[test]
    fn the_highest_schema_is_found_numerically() {
        let names = [
            "pacemaker-3.9.rng",
            "pacemaker-3.10.rng",
            "pacemaker-next.rng",
            "x.rng",
        ];
        assert_eq!(
            highest_of(names.iter().map(|s| s.to_string())).as_deref(),
            Some("pacemaker-3.10")
        );
        assert_eq!(highest_of(std::iter::empty()), None);
    }

    #[test]
    fn the_directory_is_replaced_as_a_whole() {
        let root = std::env::temp_dir().join(format!("pcmkr-schemas-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("schemas");
        replace(&dir, &[file("a.rng", "1"), file("b.rng", "2")]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("a.rng")).unwrap(), "1");
        replace(&dir, &[file("c.rng", "3")]).unwrap();
        assert!(!dir.join("a.rng").exists(), "old files go");
        assert_eq!(std::fs::read_to_string(dir.join("c.rng")).unwrap(), "3");
        let mut left: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(left, ["schemas"], "no temporary directory left");
        replace(&dir, &[]).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_left_alone() {
        let root = std::env::temp_dir().join(format!("pcmkr-schemas-f-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let dir = root.join("schemas");
        std::fs::write(&dir, "keep").unwrap();
        assert!(replace(&dir, &[file("a.rng", "1")]).is_err());
        assert_eq!(std::fs::read_to_string(&dir).unwrap(), "keep");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
