//! Agents as installed on this node: the configured directories, the look-up of an action's
//! agent by class, and the checks made on the file before it may run (protocol.md 12.2).
//!
//! In: a resource's definition, an action and its parameters. Out: a [`Prepared`]. This is the
//! half of `agents` that touches the file system (metadata, links, CIB secrets through the
//! class files); it reaches the executor only through the [`Lookup`] trait.

use std::fs;
use std::path::{Path, PathBuf};

use super::result::{ocf as rc, ExecStatus, OpResult};
use super::{missing, names, not_built, Definition, Lookup, Prepared};
use crate::logging::{escaped, Source};

/// Where agents live; Debian's paths by default, other values for tests and boards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `OCF_ROOT`.
    pub ocf_root: PathBuf,
    /// Directories searched for `<provider>/<type>`, first match wins.
    pub ocf_ra_path: Vec<PathBuf>,
    /// LSB init scripts.
    pub lsb_dir: PathBuf,
    /// Nagios plugins.
    pub nagios_dir: PathBuf,
    /// CIB secrets, `<dir>/<resource>/<parameter>`.
    pub secrets_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            ocf_root: PathBuf::from("/usr/lib/ocf"),
            ocf_ra_path: vec![PathBuf::from("/usr/lib/ocf/resource.d")],
            lsb_dir: PathBuf::from("/etc/init.d"),
            nagios_dir: PathBuf::from("/usr/lib/nagios/plugins"),
            secrets_dir: PathBuf::from("/var/lib/pacemaker/lrm/secrets"),
        }
    }
}

impl Lookup for Paths {
    fn prepare(
        &self,
        def: &Definition,
        rsc_id: &str,
        action: &str,
        interval_ms: u32,
        params: &[(String, String)],
    ) -> Prepared {
        prepare(self, def, rsc_id, action, interval_ms, params)
    }
}

/// Classes the protocol knows; a known class that is compiled out gets "not supported in
/// this build" rather than "unknown class".
const KNOWN_CLASSES: &[&str] = &[
    "ocf", "lsb", "service", "nagios", "systemd", "stonith", "upstart",
];

/// Prepares `action` of resource `rsc_id`.
pub fn prepare(
    paths: &Paths,
    def: &Definition,
    rsc_id: &str,
    action: &str,
    interval_ms: u32,
    params: &[(String, String)],
) -> Prepared {
    // The original compares the class (its "standard") case-insensitively: `OCF` runs as `ocf`.
    let class = def.class.to_ascii_lowercase();
    match class.as_str() {
        #[cfg(feature = "class-ocf")]
        "ocf" => super::ocf::prepare(paths, def, rsc_id, action, params),
        #[cfg(feature = "class-lsb")]
        "lsb" => super::lsb::prepare(paths, rsc_id, &def.agent, action),
        #[cfg(feature = "class-service")]
        "service" => super::service::prepare(paths, rsc_id, &def.agent, action),
        #[cfg(feature = "class-nagios")]
        "nagios" => super::nagios::prepare(paths, rsc_id, &def.agent, action, interval_ms, params),
        "stonith" => super::stonith::prepare(action, interval_ms),
        #[cfg(feature = "class-systemd")]
        "systemd" => Prepared::Unit {
            action: action.to_string(),
            agent: def.agent.clone(),
            or_else: None,
        },
        known if KNOWN_CLASSES.contains(&known) => Prepared::Finished(not_built(known)),
        // Classes are compared, never used in a path; an unknown one is answered as the
        // original answers it, as a missing agent.
        unknown => {
            crate::limited!(
                Source::Agent,
                log::Level::Warn,
                "rsc={} agent not run: class '{}' is unknown; answered as not installed",
                escaped(rsc_id),
                escaped(unknown)
            );
            Prepared::Finished(missing(&def.agent))
        }
    }
}

/// Checks that `path` can be run, as the original checks with `stat()` before forking
/// (protocol.md 12.2). `name` is how the reason names it.
pub(super) fn check_executable(path: &Path, name: &str) -> Result<(), OpResult> {
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(missing(name)),
        Ok(_) => Ok(()),
        Err(e) => match e.raw_os_error() {
            Some(libc::EACCES) | Some(libc::EPERM) => Err(OpResult::made_up(
                rc::INSUFFICIENT_PRIV,
                ExecStatus::Error,
                format!("{}: Permission denied", path.display()),
            )),
            _ => Err(missing(name)),
        },
    }
}

/// Checks each `(what, name)` of a request that becomes a file name; logs the first refused
/// one. `Err` carries nothing: the caller answers as for a missing agent, which is what a
/// name that cannot exist in the directory amounts to.
pub(super) fn check_names(rsc_id: &str, class: &str, names: &[(&str, &str)]) -> Result<(), ()> {
    for (what, name) in names {
        if let Err(why) = names::check(name) {
            crate::limited!(
                Source::Agent,
                log::Level::Warn,
                "rsc={} {class} agent not run: {what} '{}' {why} (must be one file name in the \
                 agent directory); answered as not installed",
                escaped(rsc_id),
                escaped(name)
            );
            return Err(());
        }
    }
    Ok(())
}

/// Checks that `program`, found in the configured directory `dir`, lies there or somewhere
/// only root can change; logs a refusal. The caller then answers as for a missing agent.
pub(super) fn check_confined(rsc_id: &str, dir: &Path, program: &Path) -> Result<(), ()> {
    names::confine(dir, program).map_err(|why| match why {
        names::Refusal::Unresolved(e) => {
            log::debug!(
                "rsc={} {}: {e}",
                escaped(rsc_id),
                escaped(&program.display().to_string())
            );
        }
        refusal => crate::limited!(
            Source::Agent,
            log::Level::Warn,
            "rsc={} agent {} not run: {}; answered as not installed",
            escaped(rsc_id),
            escaped(&program.display().to_string()),
            escaped(&refusal.to_string())
        ),
    })
}
