//! CIB secrets: a parameter whose value is exactly `lrm://` is read from
//! `<secrets dir>/<resource>/<parameter>` and checked against the MD5 sum in
//! `<parameter>.sign`, as `cibsecret` stores them (protocol.md 11.5).
//!
//! Only the first line of each file counts (up to 254 bytes, trailing whitespace removed),
//! as Pacemaker reads them. A failure lets `stop` go ahead with the placeholder value; any
//! other action fails with a configuration error and says why.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::result::{ocf as rc, ExecStatus, OpResult};
use super::{names, Paths};
use crate::logging::{escaped, Source};

/// The placeholder value the CIB holds for a secret parameter.
pub const MAGIC: &str = "lrm://";
/// Pacemaker reads at most this many bytes of a secret (a 255-byte buffer, minus the NUL).
const MAX_VALUE: usize = 254;

/// Parameters with every secret filled in, or the result of an action that cannot run.
pub(super) fn resolve(
    paths: &Paths,
    rsc_id: &str,
    action: &str,
    params: &[(String, String)],
) -> Result<Vec<(String, String)>, OpResult> {
    if !params.iter().any(|(_, v)| v == MAGIC) {
        return Ok(params.to_vec());
    }
    let mut out = Vec::with_capacity(params.len());
    let mut failed = None;
    for (name, value) in params {
        if value != MAGIC {
            out.push((name.clone(), value.clone()));
            continue;
        }
        match read_secret(&paths.secrets_dir, rsc_id, name) {
            Ok(secret) => out.push((name.clone(), secret)),
            Err(why) => {
                crate::limited!(
                    Source::Agent,
                    log::Level::Error,
                    "rsc={}: secret parameter {}: {}",
                    escaped(rsc_id),
                    escaped(name),
                    escaped(&why)
                );
                failed.get_or_insert(why);
                out.push((name.clone(), value.clone()));
            }
        }
    }
    match failed {
        None => Ok(out),
        Some(_) if action.eq_ignore_ascii_case("stop") => {
            log::info!(
                "rsc={}: stopping despite unreadable CIB secrets",
                escaped(rsc_id)
            );
            Ok(out)
        }
        Some(_) => Err(OpResult {
            rc: rc::INVALID_PARAM,
            status: ExecStatus::Done,
            exit_reason: Some(String::from(FAILURE)),
            output: Some(format!("{}{FAILURE}\n", super::EXIT_REASON_PREFIX)),
        }),
    }
}

/// The exit reason the original's child reports when secrets cannot be loaded.
const FAILURE: &str = "Unable to load CIB secrets";

/// The secret `<base>/<rsc_id>/<name>`, checked against its `.sign` file. Both names must be
/// plain file names and both files must lie in `base` (or somewhere only root can change),
/// as for agents (`names`).
fn read_secret(base: &Path, rsc_id: &str, name: &str) -> Result<String, String> {
    names::check(rsc_id)
        .map_err(|why| format!("the resource id {why}, so it is not a file name"))?;
    names::check(name)
        .map_err(|why| format!("the parameter name {why}, so it is not a file name"))?;
    let dir = base.join(rsc_id);
    let value_file = dir.join(name);
    let sign_file = dir.join(format!("{name}.sign"));
    for file in [&value_file, &sign_file] {
        match names::confine(base, file) {
            Ok(()) | Err(names::Refusal::Unresolved(_)) => {}
            Err(refusal) => return Err(format!("{}: {refusal}", file.display())),
        }
    }
    let value = first_line(&value_file)
        .map_err(|e| format!("cannot read {}: {e}", value_file.display()))?;
    let sign =
        first_line(&sign_file).map_err(|e| format!("cannot read {}: {e}", sign_file.display()))?;
    let digest = format!("{:x}", md5::compute(value.as_bytes()));
    if !digest.eq_ignore_ascii_case(&sign) {
        return Err(format!("MD5 sum in {} does not match", sign_file.display()));
    }
    Ok(value)
}

fn first_line(path: &Path) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(MAX_VALUE);
    File::open(path)?
        .take(MAX_VALUE as u64)
        .read_to_end(&mut buf)?;
    if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
        buf.truncate(nl + 1);
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(text.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_filled_in_and_checked() {
        let base = std::env::temp_dir().join(format!("pcmkr-secrets-{}", std::process::id()));
        let dir = base.join("r1");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("password"), "s3cr3t\n").unwrap();
        std::fs::write(
            dir.join("password.sign"),
            format!("{:x}\n", md5::compute("s3cr3t")),
        )
        .unwrap();
        std::fs::write(dir.join("bad"), "x\n").unwrap();
        std::fs::write(dir.join("bad.sign"), "0000\n").unwrap();
        let paths = Paths {
            secrets_dir: base.clone(),
            ..Paths::default()
        };
        let p = |n: &str| {
            vec![
                (n.to_string(), MAGIC.to_string()),
                ("plain".to_string(), "v".to_string()),
            ]
        };
        let ok = resolve(&paths, "r1", "start", &p("password")).unwrap();
        assert_eq!(ok[0].1, "s3cr3t");
        let err = resolve(&paths, "r1", "start", &p("bad")).unwrap_err();
        assert_eq!((err.rc, err.exit_reason.as_deref()), (2, Some(FAILURE)));
        assert!(resolve(&paths, "r1", "start", &p("missing")).is_err());
        let stop = resolve(&paths, "r1", "stop", &p("missing")).unwrap();
        assert_eq!(stop[0].1, MAGIC);
        assert!(resolve(&paths, "r1", "start", &p("../r1/password")).is_err());
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn resource_ids_never_lead_out_of_the_secrets_directory() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("pcmkr-secrets-esc-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let base = root.join("secrets");
        let open = root.join("open");
        // A valid secret outside the directory, where anyone may write.
        for dir in [base.clone(), open.join("r1")] {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(open.join("r1/password"), "s3cr3t\n").unwrap();
        std::fs::write(
            open.join("r1/password.sign"),
            format!("{:x}\n", md5::compute("s3cr3t")),
        )
        .unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::symlink(open.join("r1"), base.join("linked")).unwrap();
        let paths = Paths {
            secrets_dir: base.clone(),
            ..Paths::default()
        };
        let p = vec![("password".to_string(), MAGIC.to_string())];
        let escape = |id: &str| format!("../open/{id}");
        let absolute = open.join("r1").display().to_string();
        for id in [
            escape("r1").as_str(),
            absolute.as_str(),
            "..",
            ".",
            "",
            "r\0x",
            "linked",
        ] {
            let err = resolve(&paths, id, "start", &p).unwrap_err();
            assert_eq!(
                (err.rc, err.exit_reason.as_deref()),
                (2, Some(FAILURE)),
                "{id:?}"
            );
            assert_eq!(
                resolve(&paths, id, "stop", &p).unwrap()[0].1,
                MAGIC,
                "{id:?}"
            );
        }
        std::fs::remove_dir_all(root).unwrap();
    }
}
