//! Settings, from every source, validated once and read-only afterwards.
//!
//! Precedence: command line, then the environment, then `/etc/sysconfig/pacemaker` or
//! `/etc/default/pacemaker` (read as data, never executed), then built-in defaults. Out comes
//! a [`Config`] plus warnings to log once logging is up. A value that cannot be used is an
//! error naming the variable, where it came from and what would be accepted, except where the
//! original daemon only warns (a bad `PCMK_remote_port` falls back to 3121, protocol.md 2.2).

pub mod authkey;
pub mod envfile;
pub mod names;
pub mod x509;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cli::Cli;
use crate::limits::Limits;
use authkey::KeySource;
use envfile::EnvFile;

/// The port Pacemaker Remote listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 3121;
/// Where Pacemaker writes its log unless told otherwise.
pub const DEFAULT_LOGFILE: &str = "/var/log/pacemaker/pacemaker.log";
/// Settings files the init system loads for the original daemon; we read the first present.
pub const SYSCONFIG_FILES: &[&str] = &["/etc/sysconfig/pacemaker", "/etc/default/pacemaker"];
/// sbd's settings, read for `SBD_WATCHDOG_TIMEOUT` like the unit file loads them.
pub const SBD_FILES: &[&str] = &["/etc/sysconfig/sbd", "/etc/default/sbd"];
/// Pacemaker's default IPC buffer (`PCMK_ipc_buffer`).
pub const DEFAULT_IPC_BUFFER: usize = 128 * 1024;
/// Prefix of our own settings that Pacemaker does not have.
pub const OWN_PREFIX: &str = "PCMK_remoted_";
/// Where the node's tools look for schemas fetched from the cluster unless
/// `PCMK_remote_schema_directory` says otherwise (protocol.md 17).
pub const DEFAULT_FETCHED_SCHEMAS: &str = "/var/lib/pacemaker/schemas";
/// Where Pacemaker installs its own schemas unless `PCMK_schema_directory` says otherwise.
pub const DEFAULT_INSTALLED_SCHEMAS: &str = "/usr/share/pacemaker";

/// The two schema directories of schema transfer (protocol.md 17), read like every other
/// setting (command line, environment, settings file) so that a value in
/// `/etc/sysconfig/pacemaker` counts as it does for the original under its unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDirs {
    /// Our own installed schemas: the newest one is what we announce to the cluster.
    pub installed: PathBuf,
    /// Where the files fetched from the cluster are written, for the node's tools.
    pub fetched: PathBuf,
}

impl Default for SchemaDirs {
    fn default() -> Self {
        SchemaDirs {
            installed: PathBuf::from(DEFAULT_INSTALLED_SCHEMAS),
            fetched: PathBuf::from(DEFAULT_FETCHED_SCHEMAS),
        }
    }
}

/// Everything the daemon needs to start, already validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address or name to bind; `None` means every address, dual-stack.
    pub address: Option<String>,
    /// TCP port.
    pub port: u16,
    /// Where the authentication key is looked for.
    pub key_source: KeySource,
    /// Log destinations and levels.
    pub log: LogConfig,
    /// Bounds on everything that grows with input.
    pub limits: Limits,
    /// Accept TLS 1.3 psk_ke (no forward secrecy) as well as psk_dhe_ke.
    pub allow_psk_ke: bool,
    /// `PCMK_node_start_state`, echoed in the register reply as 2.1.6+ does.
    pub node_start_state: Option<String>,
    /// `SBD_WATCHDOG_TIMEOUT` in milliseconds, for `lrmd_check` and `TCP_USER_TIMEOUT`.
    pub sbd_watchdog_timeout_ms: Option<u64>,
    /// Where agents live.
    pub agent_paths: crate::agents::Paths,
    /// `PCMK_ipc_buffer`: the least IPC buffer negotiated with local tools, and the size from
    /// which large messages to them are compressed or split.
    pub ipc_buffer: usize,
    /// Publish the local IPC services (`PCMK_remoted_local_ipc`, `--no-local-ipc`).
    pub local_ipc: bool,
    /// The node tools' IPC header layout (`PCMK_remoted_ipc_framing`): told apart per client
    /// by default, or fixed by the operator.
    pub ipc_framing: IpcFraming,
    /// The settings file actually read, if any.
    pub sysconfig: Option<PathBuf>,
    /// Schema transfer's directories.
    pub schema_dirs: SchemaDirs,
    /// Certificates instead of the key: set when `PCMK_ca_file`, `PCMK_cert_file` and
    /// `PCMK_key_file` all are, as for the original (tls-x509.md §1).
    pub x509: Option<x509::X509Settings>,
}

/// Which IPC header layout node tools are spoken to in (libqb-ipc.md 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpcFraming {
    /// `auto`: each client's first request says which it uses (2.x up to Pacemaker 3.0.0,
    /// or 3.0.1 and later); tools of several versions on one node all work.
    #[default]
    Auto,
    /// `2`: every client as Pacemaker up to 3.0.0; an override, should detection misjudge.
    Pacemaker2,
    /// `3`: every client as Pacemaker 3.0.1 and later; an override likewise.
    Pacemaker3,
}

/// Where log lines go and from which level (defined by the logger, filled in here).
pub use crate::logging::LogConfig;

/// A setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    BadValue {
        /// Variable or option name.
        name: String,
        /// Where it came from (`command line`, `environment`, `/etc/default/pacemaker:12`).
        origin: String,
        /// The text given.
        value: String,
        /// What would be accepted.
        expected: &'static str,
    },
    /// A settings file that exists but cannot be read.
    UnreadableFile {
        /// The file.
        path: PathBuf,
        /// The OS error text.
        error: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BadValue {
                name,
                origin,
                value,
                expected,
            } => write!(
                f,
                "{name}='{value}' ({origin}) is not valid: expected {expected}"
            ),
            ConfigError::UnreadableFile { path, error } => {
                write!(f, "cannot read settings file {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Where one setting's value came from; only for messages.
struct Found {
    value: String,
    origin: String,
}

/// The environment and the settings file, looked up with the precedence above.
pub struct Sources<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    file: Option<(PathBuf, EnvFile)>,
    sbd: Option<(PathBuf, EnvFile)>,
}

impl<'a> Sources<'a> {
    /// Reads the settings file `cli` names (or the first of [`SYSCONFIG_FILES`] present) and
    /// the sbd file; `env` looks up environment variables.
    pub fn read(
        cli_sysconfig: Option<&str>,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Result<(Self, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
        let file = match cli_sysconfig {
            Some("none") => None,
            Some(path) => Some(read_env_file(Path::new(path), true, &mut warnings)?),
            None => match crate::limits::board::SYSCONFIG {
                // A board profile's "none": no settings file at all.
                Some("none") => None,
                Some(path) => Some(read_env_file(Path::new(path), false, &mut warnings)?),
                None => first_present(SYSCONFIG_FILES, &mut warnings)?,
            },
        };
        let sbd = first_present(SBD_FILES, &mut warnings)?;
        Ok((Sources { env, file, sbd }, warnings))
    }

    /// Sources with only an environment, for tests and for `check`.
    pub fn env_only(env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Sources {
            env,
            file: None,
            sbd: None,
        }
    }

    fn lookup(&self, name: &str) -> Option<Found> {
        self.lookup_in_env_then(name, &self.file)
    }

    fn lookup_in_env_then(&self, name: &str, file: &Option<(PathBuf, EnvFile)>) -> Option<Found> {
        // Pacemaker 3.x looks each PCMK_x up as HA_x when unset; we do the same everywhere.
        let alt = name.strip_prefix("PCMK_").map(|rest| format!("HA_{rest}"));
        let names = std::iter::once(name.to_string()).chain(alt);
        for n in names.clone() {
            if let Some(v) = (self.env)(&n) {
                return Some(Found {
                    value: v,
                    origin: format!("environment {n}"),
                });
            }
        }
        let (path, parsed) = file.as_ref()?;
        for n in names {
            if let Some(a) = parsed.get(&n) {
                return Some(Found {
                    value: a.value.clone(),
                    origin: format!("{}:{}", path.display(), a.line),
                });
            }
        }
        None
    }

    /// Warnings for names under our prefixes that nothing reads (typo protection): those of
    /// `env_names` (the environment's) and those assigned in the settings file.
    pub fn unknown_names(&self, env_names: &[String]) -> Vec<String> {
        let mut all: Vec<(String, String)> = env_names
            .iter()
            .map(|n| (n.clone(), String::from("environment")))
            .collect();
        if let Some((path, parsed)) = &self.file {
            all.extend(
                parsed
                    .assignments
                    .iter()
                    .map(|a| (a.name.clone(), format!("{}:{}", path.display(), a.line))),
            );
        }
        names::unknown(&all)
    }

    /// Every `PCMK_remoted_limit_<name>` setting, environment over file.
    fn limit_settings(&self) -> Vec<(String, Found)> {
        let prefix = format!("{OWN_PREFIX}limit_");
        crate::limits::TUNABLE
            .iter()
            .filter_map(|n| {
                self.lookup(&format!("{prefix}{n}"))
                    .map(|f| (n.to_string(), f))
            })
            .collect()
    }
}

impl Config {
    /// Builds the configuration from the command line and `sources`.
    pub fn load(cli: &Cli, sources: &Sources<'_>) -> Result<(Config, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();

        let port = match cli.port {
            Some(p) if p > 0 => p,
            Some(p) => {
                return Err(bad(
                    "--port",
                    "command line",
                    p.to_string(),
                    "a port 1-65535",
                ))
            }
            None => match sources.lookup("PCMK_remote_port") {
                Some(f) => port_like_original(&f, &mut warnings),
                None => DEFAULT_PORT,
            },
        };

        let address = cli
            .address
            .clone()
            .or_else(|| sources.lookup("PCMK_remote_address").map(|f| f.value))
            .filter(|a| !a.trim().is_empty());

        let key_source = match (&cli.authkey, sources.lookup("PCMK_authkey_location")) {
            (Some(p), _) => KeySource::Explicit(PathBuf::from(p)),
            (None, Some(f)) if !f.value.is_empty() => KeySource::Configured(f.value.into()),
            _ => KeySource::Default,
        };

        let log = log_config(cli, sources)?;

        let mut limits = Limits::default();
        for (name, found) in sources.limit_settings() {
            limits.set(&name, &found.value).map_err(|e| {
                bad(
                    &format!("{OWN_PREFIX}limit_{name}"),
                    &found.origin,
                    found.value.clone(),
                    leak_expected(e),
                )
            })?;
        }
        for item in &cli.limit {
            let (name, value) = item.split_once('=').unwrap_or((item.as_str(), ""));
            limits
                .set(name.trim(), value)
                .map_err(|e| bad("--limit", "command line", item.clone(), leak_expected(e)))?;
        }

        let allow_psk_ke = cli.allow_psk_ke
            || match sources.lookup(&format!("{OWN_PREFIX}allow_psk_ke")) {
                Some(f) => parse_bool(&f).ok_or_else(|| {
                    bad(
                        &format!("{OWN_PREFIX}allow_psk_ke"),
                        &f.origin,
                        f.value.clone(),
                        "yes or no",
                    )
                })?,
                None => false,
            };

        let node_start_state = sources
            .lookup("PCMK_node_start_state")
            .map(|f| f.value)
            .filter(|v| !v.is_empty());

        let sbd_watchdog_timeout_ms = sources
            .lookup_in_env_then("SBD_WATCHDOG_TIMEOUT", &sources.sbd)
            .and_then(|f| match parse_duration_ms(&f.value, 1000) {
                Some(ms) if ms > 0 => Some(ms),
                Some(_) => None,
                None => {
                    warnings.push(format!(
                        "ignoring SBD_WATCHDOG_TIMEOUT='{}' ({}): not a duration",
                        f.value, f.origin
                    ));
                    None
                }
            });

        let mut agent_paths = crate::agents::Paths::default();
        let path_setting = |name: &str| {
            sources
                .lookup(&format!("{OWN_PREFIX}{name}"))
                .map(|f| f.value)
        };
        if let Some(v) = path_setting("ocf_root") {
            agent_paths.ocf_root = PathBuf::from(v);
        }
        if let Some(v) = path_setting("ocf_ra_path") {
            agent_paths.ocf_ra_path = v
                .split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect();
        }
        if let Some(v) = path_setting("lsb_dir") {
            agent_paths.lsb_dir = PathBuf::from(v);
        }
        if let Some(v) = path_setting("nagios_dir") {
            agent_paths.nagios_dir = PathBuf::from(v);
        }
        if let Some(v) = path_setting("secrets_dir") {
            agent_paths.secrets_dir = PathBuf::from(v);
        }

        // As Pacemaker reads it (the file is shared with the cluster stack): a value that is
        // not a positive number means the default, others are brought into range, with a
        // warning either way rather than a refusal to start.
        let ipc_buffer = match sources.lookup("PCMK_ipc_buffer") {
            Some(f) => {
                const RANGE: std::ops::RangeInclusive<usize> = 12_328..=64 * 1024 * 1024;
                let used = match f.value.trim().parse::<i64>() {
                    Ok(n) if n > 0 => usize::try_from(n)
                        .map_or(*RANGE.end(), |n| n.clamp(*RANGE.start(), *RANGE.end())),
                    _ => DEFAULT_IPC_BUFFER,
                };
                if used.to_string() != f.value.trim() {
                    warnings.push(format!(
                        "PCMK_ipc_buffer={:?} ({}): using {used} bytes (a positive number from {} to {})",
                        f.value,
                        f.origin,
                        RANGE.start(),
                        RANGE.end()
                    ));
                }
                used
            }
            None => DEFAULT_IPC_BUFFER,
        };
        let local_ipc = !cli.no_local_ipc
            && match sources.lookup(&format!("{OWN_PREFIX}local_ipc")) {
                Some(f) => parse_bool(&f).ok_or_else(|| {
                    bad(
                        &format!("{OWN_PREFIX}local_ipc"),
                        &f.origin,
                        f.value.clone(),
                        "yes or no",
                    )
                })?,
                None => true,
            };
        let ipc_framing = match sources.lookup(&format!("{OWN_PREFIX}ipc_framing")) {
            Some(f) => match f.value.trim() {
                "auto" => IpcFraming::Auto,
                "2" => IpcFraming::Pacemaker2,
                "3" => IpcFraming::Pacemaker3,
                _ => {
                    return Err(bad(
                        &format!("{OWN_PREFIX}ipc_framing"),
                        &f.origin,
                        f.value.clone(),
                        "auto (each client as its requests say), 2 (Pacemaker up to 3.0.0) or \
                         3 (Pacemaker 3.0.1 and later)",
                    ))
                }
            },
            None => IpcFraming::Auto,
        };

        let non_empty = |name: &str| sources.lookup(name).filter(|f| !f.value.is_empty());
        let mut schema_dirs = SchemaDirs::default();
        if let Some(f) = non_empty("PCMK_schema_directory") {
            schema_dirs.installed = PathBuf::from(f.value);
        }
        if let Some(f) = non_empty("PCMK_remote_schema_directory") {
            schema_dirs.fetched = PathBuf::from(f.value);
        }

        let (x509, x509_warnings) = x509::load(sources);
        warnings.extend(x509_warnings);

        let config = Config {
            address,
            port,
            key_source,
            log,
            limits,
            allow_psk_ke,
            node_start_state,
            sbd_watchdog_timeout_ms,
            agent_paths,
            ipc_buffer,
            local_ipc,
            ipc_framing,
            sysconfig: sources.file.as_ref().map(|(p, _)| p.clone()),
            schema_dirs,
            x509,
        };
        Ok((config, warnings))
    }
}

/// The original parses the port with `strtol`: leading digits count, anything else (or a
/// value outside 1-65535) is warned about and replaced by 3121.
fn port_like_original(found: &Found, warnings: &mut Vec<String>) -> u16 {
    let digits: String = found
        .value
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    match digits.parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => p as u16,
        _ => {
            warnings.push(format!(
                "ignoring PCMK_remote_port='{}' ({}): not a port 1-65535; using {DEFAULT_PORT}",
                found.value, found.origin
            ));
            DEFAULT_PORT
        }
    }
}

fn log_config(cli: &Cli, sources: &Sources<'_>) -> Result<LogConfig, ConfigError> {
    let mut files = Vec::new();
    match sources.lookup("PCMK_logfile") {
        Some(f) if matches!(f.value.as_str(), "none" | "/dev/null" | "") => {}
        Some(f) => files.push(PathBuf::from(f.value)),
        // A board profile may move the default (or turn it off, to spare flash).
        None => match crate::limits::board::LOGFILE.unwrap_or(DEFAULT_LOGFILE) {
            "none" => {}
            path => files.push(PathBuf::from(path)),
        },
    }
    files.extend(cli.logfile.iter().map(PathBuf::from));

    let syslog_facility = match sources.lookup("PCMK_logfacility") {
        Some(f) if f.value == "none" || f.value.is_empty() => None,
        Some(f) => {
            if crate::logging::facility_code(&f.value).is_none() {
                return Err(bad(
                    "PCMK_logfacility",
                    &f.origin,
                    f.value,
                    "none, daemon, user or local0-local7",
                ));
            }
            Some(f.value)
        }
        None => Some(String::from("daemon")),
    };

    let syslog_level = match sources.lookup("PCMK_logpriority") {
        Some(f) => crate::logging::level_from_priority(&f.value).ok_or_else(|| {
            bad(
                "PCMK_logpriority",
                &f.origin,
                f.value.clone(),
                "emerg, alert, crit, error, warning, notice, info or debug",
            )
        })?,
        None => log::Level::Info,
    };

    let debug = sources.lookup("PCMK_debug").is_some_and(|f| {
        let v = f.value.to_ascii_lowercase();
        parse_bool(&f).unwrap_or(false)
            || v.split(',')
                .any(|d| matches!(d.trim(), "pacemaker-remoted" | "pcmk-remoted"))
    });

    Ok(LogConfig {
        files,
        syslog_facility,
        syslog_level,
        debug,
        verbosity: cli.verbose,
    })
}

/// Pacemaker's boolean spellings.
fn parse_bool(found: &Found) -> Option<bool> {
    match found.value.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "on" | "1" => Some(true),
        "no" | "n" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Parses `10`, `10s`, `500ms`, `2min` into milliseconds; a bare number is in `unit_ms`.
pub fn parse_duration_ms(text: &str, unit_ms: u64) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" => unit_ms,
        "ms" | "msec" => 1,
        "s" | "sec" => 1000,
        "m" | "min" => 60_000,
        "h" | "hr" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn bad(name: &str, origin: &str, value: String, expected: &'static str) -> ConfigError {
    ConfigError::BadValue {
        name: name.to_string(),
        origin: origin.to_string(),
        value,
        expected,
    }
}

/// Limit errors already explain themselves; keep the common wording for the "expected" part.
fn leak_expected(e: crate::limits::LimitError) -> &'static str {
    match e {
        crate::limits::LimitError::UnknownName(_) => {
            "name=value with a name from README \"Limits\" (e.g. max_connections=16)"
        }
        crate::limits::LimitError::BadValue { .. } => "a whole number of at least 1",
    }
}

fn first_present(
    paths: &[&str],
    warnings: &mut Vec<String>,
) -> Result<Option<(PathBuf, EnvFile)>, ConfigError> {
    for p in paths {
        let path = Path::new(p);
        if path.exists() {
            return Ok(Some(read_env_file(path, false, warnings)?));
        }
    }
    Ok(None)
}

fn read_env_file(
    path: &Path,
    must_exist: bool,
    warnings: &mut Vec<String>,
) -> Result<(PathBuf, EnvFile), ConfigError> {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let parsed = EnvFile::parse(&text);
            warnings.extend(
                parsed
                    .warnings
                    .iter()
                    .map(|w| format!("{}: {w}", path.display())),
            );
            Ok((path.to_path_buf(), parsed))
        }
        Err(e) if !must_exist && e.kind() == std::io::ErrorKind::NotFound => {
            Ok((path.to_path_buf(), EnvFile::default()))
        }
        Err(e) => Err(ConfigError::UnreadableFile {
            path: path.to_path_buf(),
            error: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load_with(
        cli: &Cli,
        env: &[(&str, &str)],
        file: &str,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| map.get(k).cloned();
        let mut sources = Sources::env_only(&lookup);
        sources.file = Some((
            PathBuf::from("/etc/default/pacemaker"),
            EnvFile::parse(file),
        ));
        Config::load(cli, &sources)
    }

    #[test]
    fn defaults_match_the_original() {
        let (c, w) = load_with(&Cli::default(), &[], "").unwrap();
        assert_eq!((c.port, c.address.clone(), w.len()), (3121, None, 0));
        assert_eq!(c.key_source, KeySource::Default);
        assert_eq!(c.log.files, [PathBuf::from(DEFAULT_LOGFILE)]);
        assert_eq!(c.log.syslog_facility.as_deref(), Some("daemon"));
        assert!(!c.allow_psk_ke);
    }

    #[test]
    fn schema_directories_come_from_the_settings_file_too() {
        let (c, _) = load_with(&Cli::default(), &[], "").unwrap();
        assert_eq!(c.schema_dirs, SchemaDirs::default());
        let file = "PCMK_remote_schema_directory=/srv/fetched\nPCMK_schema_directory=/srv/own\n";
        let (c, _) = load_with(&Cli::default(), &[("PCMK_schema_directory", "")], file).unwrap();
        assert_eq!(c.schema_dirs.fetched, PathBuf::from("/srv/fetched"));
        assert_eq!(
            c.schema_dirs.installed,
            PathBuf::from(DEFAULT_INSTALLED_SCHEMAS)
        );
    }

    #[test]
    fn command_line_beats_environment_beats_file() {
        let file = "PCMK_remote_port=3001\nPCMK_remote_address=10.0.0.1\nPCMK_logfile=/f.log\n";
        let env = [
            ("PCMK_remote_port", "3002"),
            ("PCMK_remote_address", "10.0.0.2"),
        ];
        let (c, _) = load_with(&Cli::default(), &env, file).unwrap();
        assert_eq!((c.port, c.address.as_deref()), (3002, Some("10.0.0.2")));
        assert_eq!(c.log.files, [PathBuf::from("/f.log")]);
        let cli = Cli {
            port: Some(3003),
            address: Some("::1".into()),
            ..Cli::default()
        };
        let (c, _) = load_with(&cli, &env, file).unwrap();
        assert_eq!((c.port, c.address.as_deref()), (3003, Some("::1")));
        let (c, _) = load_with(&Cli::default(), &[], file).unwrap();
        assert_eq!((c.port, c.address.as_deref()), (3001, Some("10.0.0.1")));
    }

    #[test]
    fn port_is_parsed_like_strtol_and_bad_ports_warn() {
        for (value, want, warns) in [
            ("3122abc", 3122, 0),
            ("0", 3121, 1),
            ("x", 3121, 1),
            ("70000", 3121, 1),
        ] {
            let (c, w) = load_with(&Cli::default(), &[("PCMK_remote_port", value)], "").unwrap();
            assert_eq!((c.port, w.len()), (want, warns), "{value}");
        }
    }

    #[test]
    fn ipc_buffer_is_brought_into_range_like_pacemaker() {
        for (value, want, warns) in [
            ("131072", 131_072, 0),
            ("10000", 12_328, 1),
            ("100000000", 64 * 1024 * 1024, 1),
            ("0", DEFAULT_IPC_BUFFER, 1),
            ("-5", DEFAULT_IPC_BUFFER, 1),
            ("lots", DEFAULT_IPC_BUFFER, 1),
        ] {
            let (c, w) = load_with(&Cli::default(), &[("PCMK_ipc_buffer", value)], "").unwrap();
            assert_eq!((c.ipc_buffer, w.len()), (want, warns), "{value}");
        }
    }

    #[test]
    fn ha_names_are_fallbacks() {
        let (c, _) = load_with(&Cli::default(), &[("HA_logfile", "none")], "").unwrap();
        assert!(c.log.files.is_empty());
    }

    #[test]
    fn authkey_sources() {
        let (c, _) = load_with(&Cli::default(), &[("PCMK_authkey_location", "/k")], "").unwrap();
        assert_eq!(c.key_source, KeySource::Configured("/k".into()));
        let cli = Cli {
            authkey: Some("/c".into()),
            ..Cli::default()
        };
        let (c, _) = load_with(&cli, &[("PCMK_authkey_location", "/k")], "").unwrap();
        assert_eq!(c.key_source, KeySource::Explicit("/c".into()));
    }

    #[test]
    fn limits_come_from_file_env_and_cli() {
        let cli = Cli {
            limit: vec!["max_connections=7".into()],
            ..Cli::default()
        };
        let file = "PCMK_remoted_limit_max_message_bytes=65536\n";
        let (c, _) = load_with(&cli, &[], file).unwrap();
        assert_eq!(
            (c.limits.max_connections, c.limits.max_message_bytes),
            (7, 65536)
        );
        let cli = Cli {
            limit: vec!["bogus=1".into()],
            ..Cli::default()
        };
        let e = load_with(&cli, &[], "").unwrap_err().to_string();
        assert!(e.contains("--limit='bogus=1'"), "{e}");
        let e = load_with(
            &Cli::default(),
            &[],
            "PCMK_remoted_limit_max_connections=0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("/etc/default/pacemaker:1"), "{e}");
    }

    #[test]
    fn bad_log_settings_are_errors_that_name_the_source() {
        let e = load_with(&Cli::default(), &[("PCMK_logfacility", "bogus")], "")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("PCMK_logfacility='bogus' (environment PCMK_logfacility)"),
            "{e}"
        );
        let (c, _) = load_with(
            &Cli::default(),
            &[("PCMK_debug", "pacemaker-based,pacemaker-remoted")],
            "",
        )
        .unwrap();
        assert!(c.log.debug);
    }

    #[test]
    fn agent_paths_can_be_moved() {
        let file = "PCMK_remoted_ocf_ra_path=/a:/b\nPCMK_remoted_lsb_dir=/etc/rc.d\n";
        let (c, _) = load_with(&Cli::default(), &[], file).unwrap();
        assert_eq!(
            c.agent_paths.ocf_ra_path,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(c.agent_paths.lsb_dir, PathBuf::from("/etc/rc.d"));
        assert_eq!(c.agent_paths.ocf_root, PathBuf::from("/usr/lib/ocf"));
    }

    #[test]
    fn ipc_framing_is_detected_unless_fixed() {
        let (c, _) = load_with(&Cli::default(), &[], "").unwrap();
        assert_eq!(c.ipc_framing, IpcFraming::Auto);
        for (value, want) in [
            ("auto", IpcFraming::Auto),
            ("2", IpcFraming::Pacemaker2),
            (" 3", IpcFraming::Pacemaker3),
        ] {
            let env = [("PCMK_remoted_ipc_framing", value)];
            let (c, _) = load_with(&Cli::default(), &env, "").unwrap();
            assert_eq!(c.ipc_framing, want, "{value}");
        }
        let e = load_with(&Cli::default(), &[], "PCMK_remoted_ipc_framing=3.0.3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("auto (each client"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("10", 1000), Some(10_000));
        assert_eq!(parse_duration_ms("10s", 1), Some(10_000));
        assert_eq!(parse_duration_ms("250ms", 1000), Some(250));
        assert_eq!(parse_duration_ms("2min", 1000), Some(120_000));
        assert_eq!(parse_duration_ms("x", 1000), None);
        assert_eq!(parse_duration_ms("-5", 1000), None);
    }
}
