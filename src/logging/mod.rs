//! Our logger: one line per event to stderr, to log files and to syslog.
//!
//! Started with stderr only before the configuration is read, so configuration errors are
//! reported, then widened by [`Logger::configure`]. Levels follow STYLE.md section 13; our
//! `info` is syslog's `notice` (lifecycle events), as in Pacemaker's own logs. A sink that
//! fails (log file not writable, no `/dev/log`) is reported once and then skipped: logging
//! never stops the daemon. Every line passes [`escape::sanitize`], so it stays one line;
//! lines about what outsiders do go through [`limited!`](crate::limited) and their class's
//! budget ([`limiter`]).

pub mod escape;
pub mod limiter;

pub use escape::{escaped, escaped_bytes};
pub use limiter::Source;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::config::LogConfig;

/// The name we log under, as `ps` shows it.
pub const PROGRAM: &str = "pcmk-remoted";

/// Installed once per process; [`configure`](Logger::configure) changes its sinks.
pub struct Logger {
    sinks: Mutex<Sinks>,
}

struct Sinks {
    stderr_level: LevelFilter,
    file_level: LevelFilter,
    files: Vec<(PathBuf, File)>,
    syslog: Option<(UnixDatagram, u8, LevelFilter)>,
    host: String,
    pid: u32,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

impl Logger {
    /// Installs the logger with stderr only, at info (or more with `-V`).
    pub fn init(verbosity: u8) -> &'static Logger {
        let logger = LOGGER.get_or_init(|| Logger {
            sinks: Mutex::new(Sinks {
                stderr_level: stderr_level(verbosity, false),
                file_level: LevelFilter::Off,
                files: Vec::new(),
                syslog: None,
                host: crate::sys::time::hostname(),
                pid: std::process::id(),
            }),
        });
        // A second init (tests) keeps the first logger; set_logger then fails harmlessly.
        let _ = log::set_logger(logger);
        log::set_max_level(stderr_level(verbosity, false));
        logger
    }

    /// Opens the configured files and syslog. Returns problems to log as warnings.
    pub fn configure(&self, cfg: &LogConfig) -> Vec<String> {
        let mut problems = Vec::new();
        let mut files = Vec::new();
        for path in &cfg.files {
            let opened = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o660)
                .open(path);
            match opened {
                Ok(f) => files.push((path.clone(), f)),
                Err(e) => problems.push(format!(
                    "not logging to {}: {e} (set PCMK_logfile=none to silence this)",
                    path.display()
                )),
            }
        }
        let syslog = cfg.syslog_facility.as_deref().and_then(|name| {
            let facility = facility_code(name)?;
            let sock = UnixDatagram::unbound().ok()?;
            match sock.connect("/dev/log") {
                Ok(()) => Some((sock, facility, cfg.syslog_level.to_level_filter())),
                Err(_) => None,
            }
        });
        let stderr = stderr_level(cfg.verbosity, cfg.debug);
        let file = if cfg.debug || cfg.verbosity > 0 {
            stderr
        } else {
            LevelFilter::Info
        };
        let max = [
            stderr,
            file,
            syslog.as_ref().map_or(LevelFilter::Off, |s| s.2),
        ]
        .into_iter()
        .max()
        .unwrap_or(LevelFilter::Info);
        if let Ok(mut s) = self.sinks.lock() {
            s.stderr_level = stderr;
            s.file_level = file;
            s.files = files;
            s.syslog = syslog;
        }
        log::set_max_level(max);
        problems
    }
}

impl Logger {
    /// Raises (`steps > 0`) or lowers the level of stderr and the log files by `steps`, between
    /// notice and trace, as SIGUSR1 and SIGUSR2 ask; syslog keeps `PCMK_logpriority`.
    /// Returns the new level's name.
    pub fn change_verbosity(steps: i8) -> &'static str {
        const LADDER: [LevelFilter; 3] =
            [LevelFilter::Info, LevelFilter::Debug, LevelFilter::Trace];
        let Some(logger) = LOGGER.get() else {
            return "notice";
        };
        let Ok(mut s) = logger.sinks.lock() else {
            return "notice";
        };
        let step = |level: LevelFilter| {
            let at = LADDER.iter().position(|l| *l == level).unwrap_or(0) as i32;
            let to = (at + i32::from(steps)).clamp(0, LADDER.len() as i32 - 1);
            LADDER[to as usize]
        };
        s.stderr_level = step(s.stderr_level);
        s.file_level = step(s.file_level);
        let max = [
            s.stderr_level,
            s.file_level,
            s.syslog.as_ref().map_or(LevelFilter::Off, |x| x.2),
        ]
        .into_iter()
        .max()
        .unwrap_or(LevelFilter::Info);
        log::set_max_level(max);
        s.file_level.to_level().map_or("notice", level_word)
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        let Ok(mut s) = self.sinks.lock() else {
            return;
        };
        let level = record.level();
        let formatted = format!("{}", record.args());
        let text = escape::sanitize(&formatted);
        if level <= s.stderr_level {
            let _ = writeln!(std::io::stderr(), "{PROGRAM} {}: {text}", level_word(level));
        }
        if level <= s.file_level && !s.files.is_empty() {
            let line = format!(
                "{} {} {PROGRAM}[{}] {}: {text}\n",
                crate::sys::time::local_syslog_stamp(),
                s.host,
                s.pid,
                level_word(level)
            );
            for (_, f) in s.files.iter_mut() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        if let Some((sock, facility, filter)) = &s.syslog {
            if level <= *filter {
                let pri = u32::from(*facility) * 8 + syslog_severity(level);
                let msg = format!(
                    "<{pri}>{} {PROGRAM}[{}]: {text}",
                    crate::sys::time::local_syslog_stamp(),
                    s.pid
                );
                let _ = sock.send(msg.as_bytes());
            }
        }
    }

    fn flush(&self) {}
}

fn stderr_level(verbosity: u8, debug: bool) -> LevelFilter {
    match (verbosity, debug) {
        (0, false) => LevelFilter::Info,
        (0, true) | (1, _) => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

fn level_word(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "notice",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

fn syslog_severity(level: Level) -> u32 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 5,
        Level::Debug | Level::Trace => 7,
    }
}

/// Syslog facility numbers for the names Pacemaker accepts in `PCMK_logfacility`.
pub fn facility_code(name: &str) -> Option<u8> {
    Some(match name {
        "kern" => 0,
        "user" => 1,
        "mail" => 2,
        "daemon" => 3,
        "auth" => 4,
        "syslog" => 5,
        "lpr" => 6,
        "news" => 7,
        "uucp" => 8,
        "cron" => 9,
        "authpriv" => 10,
        "ftp" => 11,
        "local0" => 16,
        "local1" => 17,
        "local2" => 18,
        "local3" => 19,
        "local4" => 20,
        "local5" => 21,
        "local6" => 22,
        "local7" => 23,
        _ => return None,
    })
}

/// Maps `PCMK_logpriority` to the lowest of our levels that reaches syslog.
pub fn level_from_priority(name: &str) -> Option<Level> {
    Some(match name.to_ascii_lowercase().as_str() {
        "emerg" | "alert" | "crit" | "err" | "error" => Level::Error,
        "warning" | "warn" => Level::Warn,
        "notice" | "info" => Level::Info,
        "debug" => Level::Debug,
        _ => return None,
    })
}
