//! Schema transfer's rules (protocol.md 17): which files of the cluster's answer we accept.
//!
//! In: the files of a `cib_schemas` answer, unchecked. Out: the files to write, each name
//! confined to the schema directory and each size bounded, or why the whole answer is
//! refused. Log lines are bounded by `SCHEMA_MAX_FILES` per answer (the cluster proved the
//! key, so they are not rate-limited). Pure: the shell writes the accepted files (src/daemon/schemas.rs).

use log::warn;

use crate::limits::{
    SCHEMA_MAX_FILES, SCHEMA_MAX_FILE_BYTES, SCHEMA_MAX_NAME_BYTES, SCHEMA_MAX_TOTAL_BYTES,
};
use crate::logging::escaped;
use crate::proto::schemas::OfferedFile;

/// A schema file we accept: a plain name inside the schema directory, and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    /// A single path component: no `/`, NUL, control character or leading dot.
    pub name: String,
    /// The file's text, at most `SCHEMA_MAX_FILE_BYTES`.
    pub content: String,
}

/// Why a whole answer is refused (the schema directory is then left as it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More files than `SCHEMA_MAX_FILES`.
    TooManyFiles(usize),
    /// More bytes than `SCHEMA_MAX_TOTAL_BYTES` in the files accepted so far.
    TooLarge(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooManyFiles(n) => {
                write!(f, "{n} files, at most {SCHEMA_MAX_FILES}")
            }
            Refusal::TooLarge(n) => {
                write!(f, "{n} bytes or more, at most {SCHEMA_MAX_TOTAL_BYTES}")
            }
        }
    }
}

/// Why one file's name is refused, or `None` if it names a plain file of the directory.
pub fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("empty")
    } else if name.len() > SCHEMA_MAX_NAME_BYTES {
        Some("too long")
    } else if name.contains('/') {
        Some("contains '/'")
    } else if name.starts_with('.') {
        Some("starts with a dot")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    }
}

/// The files to write. A file with a missing or unsafe name, or too large, is left out with a
/// log line; a later file of the same name replaces an earlier one, as it would on disk in
/// the original. Too many files or too many bytes refuse the whole answer.
pub fn accept(offered: Vec<OfferedFile>) -> Result<Vec<SchemaFile>, Refusal> {
    if offered.len() > SCHEMA_MAX_FILES {
        return Err(Refusal::TooManyFiles(offered.len()));
    }
    let mut out: Vec<SchemaFile> = Vec::with_capacity(offered.len());
    let mut total = 0usize;
    for file in offered {
        let Some(name) = file.name else {
            warn!("schema transfer: a file without a name; left out");
            continue;
        };
        if let Some(problem) = name_problem(&name) {
            warn!(
                "schema transfer: refusing file name '{}' ({problem}); left out",
                escaped(&name)
            );
            continue;
        }
        if file.content.len() > SCHEMA_MAX_FILE_BYTES {
            warn!(
                "schema transfer: file '{}' has {} bytes, at most {SCHEMA_MAX_FILE_BYTES}; left out",
                escaped(&name),
                file.content.len()
            );
            continue;
        }
        total = total.saturating_add(file.content.len());
        if total > SCHEMA_MAX_TOTAL_BYTES {
            return Err(Refusal::TooLarge(total));
        }
        out.retain(|f| f.name != name);
        out.push(SchemaFile {
            name,
            content: file.content,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(name: Option<&str>, len: usize) -> OfferedFile {
        OfferedFile {
            name: name.map(str::to_string),
            content: "x".repeat(len),
        }
    }

    #[test]
    fn names_are_confined_to_the_directory() {
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            ".hidden",
            "a\0b",
            "a\nb",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(name_problem(&"a".repeat(256)).is_some());
        for good in ["pacemaker-3.10.rng", "upgrade-3.10-0.xsl", "a..b", "ä.rng"] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
    }

    #[test]
    fn hostile_files_are_left_out_and_the_rest_kept() {
        let got = accept(vec![
            offer(Some("../../etc/shadow"), 3),
            offer(None, 3),
            offer(Some("ok.rng"), 3),
            offer(Some("big.rng"), SCHEMA_MAX_FILE_BYTES + 1),
            offer(Some(".profile"), 1),
            offer(Some("ok.rng"), 5),
        ])
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "ok.rng");
        assert_eq!(got[0].content.len(), 5, "the later one of a name wins");
    }

    #[test]
    fn too_many_files_or_bytes_refuse_the_whole_answer() {
        let many = (0..=SCHEMA_MAX_FILES)
            .map(|i| offer(Some(&format!("f{i}")), 1))
            .collect();
        assert_eq!(
            accept(many),
            Err(Refusal::TooManyFiles(SCHEMA_MAX_FILES + 1))
        );
        let n = SCHEMA_MAX_TOTAL_BYTES / SCHEMA_MAX_FILE_BYTES + 1;
        let heavy = (0..n)
            .map(|i| offer(Some(&format!("f{i}")), SCHEMA_MAX_FILE_BYTES))
            .collect();
        assert!(matches!(accept(heavy), Err(Refusal::TooLarge(_))));
        assert_eq!(accept(vec![]), Ok(vec![]));
    }
}
