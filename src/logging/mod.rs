//! Our logger: one line per event to stderr, to log files and to syslog.
//!
//! Started with stderr only before the configuration is read, so configuration errors are
//! reported, then widened by [`Logger::configure`]. Levels: `error` when something was lost
//! or an operator must act, `warn` when a peer misbehaved, a request was refused or a bound
//! was reached, `info` for lifecycle events (listen, connect, sign-on, drain, exit), `debug`
//! per operation, `trace` per frame; our `info` is syslog's `notice`, as in Pacemaker's own
//! logs. A sink that
//! fails (log file not writable, no `/dev/log`) is reported once and then skipped: logging
//! never stops the daemon. Every line passes [`escape::sanitize`], so it stays one line;
//! lines about what outsiders do go through [`limited!`](crate::limited) and their class's
//! budget ([`limiter`]).

pub mod escape;
mod file;
mod journal;
pub mod limiter;
mod syslog;

pub use escape::{escaped, escaped_bytes};
pub use limiter::Source;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Where log lines go and from which level: what `config` reads from the command line,
/// the environment and the settings file for the logger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Files to append to (`PCMK_logfile` plus every `--logfile`).
    pub files: Vec<PathBuf>,
    /// Syslog facility name, or `None` for no syslog.
    pub syslog_facility: Option<String>,
    /// Lowest level sent to syslog (`PCMK_logpriority`).
    pub syslog_level: log::Level,
    /// `PCMK_debug` names this daemon: debug level in every sink.
    pub debug: bool,
    /// `-V` count: 0 info, 1 debug, 2 or more trace on stderr and in files.
    pub verbosity: u8,
}

/// The name we log under, as `ps` shows it.
pub const PROGRAM: &str = "pcmk-remoted";

/// Installed once per process; [`configure`](Logger::configure) changes its sinks.
pub struct Logger {
    sinks: Mutex<Sinks>,
}

struct Sinks {
    stderr_level: LevelFilter,
    /// stderr is connected to journald (`JOURNAL_STREAM`): lines carry a `<N>` priority
    /// prefix there and skip syslog, so the journal gets each line once.
    journal: bool,
    file_level: LevelFilter,
    files: Vec<file::LogFile>,
    syslog: Option<syslog::Syslog>,
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
                journal: journal::stderr_is_journal(),
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
            match file::LogFile::open(path) {
                Ok(f) => files.push(f),
                Err(e) => problems.push(format!(
                    "not logging to {}: {e} (set PCMK_logfile=none to silence this)",
                    path.display()
                )),
            }
        }
        let journal = journal::stderr_is_journal();
        // Under journald, stderr already reaches the journal (and, through it, any syslog
        // daemon): sending to /dev/log as well would store every line twice.
        let syslog = match cfg.syslog_facility.as_deref().and_then(facility_code) {
            Some(facility) if !journal => {
                let level = cfg.syslog_level.to_level_filter();
                let (sink, note) =
                    syslog::Syslog::new(facility, level, PathBuf::from(syslog::DEV_LOG));
                if let Some(syslog::Change::Lost(m) | syslog::Change::Back(m)) = note {
                    problems.push(m);
                }
                Some(sink)
            }
            _ => None,
        };
        let stderr = stderr_level(cfg.verbosity, cfg.debug);
        let file = if cfg.debug || cfg.verbosity > 0 {
            stderr
        } else {
            LevelFilter::Info
        };
        if let Ok(mut s) = self.sinks.lock() {
            s.stderr_level = stderr;
            s.journal = journal;
            s.file_level = file;
            s.files = files;
            s.syslog = syslog;
            log::set_max_level(s.max_level());
        }
        problems
    }

    /// Reopens every log file (SIGHUP, after a rotation that did not move the file away).
    pub fn reopen_files() {
        let Some(logger) = LOGGER.get() else {
            return;
        };
        let problems: Vec<String> = match logger.sinks.lock() {
            Ok(mut s) => s
                .files
                .iter_mut()
                .filter_map(|f| f.reopen().err())
                .collect(),
            Err(_) => return,
        };
        for p in problems {
            log::warn!("{p}");
        }
    }

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
        log::set_max_level(s.max_level());
        s.file_level.to_level().map_or("notice", level_word)
    }
}

impl Sinks {
    fn max_level(&self) -> LevelFilter {
        [
            self.stderr_level,
            self.file_level,
            self.syslog.as_ref().map_or(LevelFilter::Off, |x| x.level),
        ]
        .into_iter()
        .max()
        .unwrap_or(LevelFilter::Info)
    }

    fn write_stderr(&self, level: Level, text: &str) {
        if level > self.stderr_level {
            return;
        }
        if self.journal {
            // journald reads a leading `<N>` as the line's priority.
            let _ = writeln!(std::io::stderr(), "<{}>{text}", syslog_severity(level));
        } else {
            let _ = writeln!(std::io::stderr(), "{PROGRAM} {}: {text}", level_word(level));
        }
    }

    fn write_files(&mut self, level: Level, text: &str, now: Instant) -> Vec<String> {
        let mut problems = Vec::new();
        if level > self.file_level || self.files.is_empty() {
            return problems;
        }
        let line = format!(
            "{} {} {PROGRAM}[{}] {}: {text}\n",
            crate::sys::time::local_stamp_millis(),
            self.host,
            self.pid,
            level_word(level)
        );
        for f in self.files.iter_mut() {
            if let Err(e) = f.write_line(line.as_bytes(), now) {
                problems.push(e);
            }
        }
        problems
    }

    fn write_syslog(&mut self, level: Level, text: &str) -> Option<String> {
        let pid = self.pid;
        let sink = self.syslog.as_mut()?;
        if level > sink.level {
            return None;
        }
        let pri = u32::from(sink.facility) * 8 + syslog_severity(level);
        let msg = format!(
            "<{pri}>{} {PROGRAM}[{pid}]: {text}",
            crate::sys::time::local_syslog_stamp()
        );
        match sink.send(msg.as_bytes())? {
            syslog::Change::Lost(m) | syslog::Change::Back(m) => Some(m),
        }
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
        let now = Instant::now();
        s.write_stderr(level, &text);
        let mut notes = s.write_files(level, &text, now);
        notes.extend(s.write_syslog(level, &text));
        // What went wrong with one sink is said on the others (never recursively: these
        // notes go straight to the sinks, not through `log!`).
        for note in notes {
            s.write_stderr(Level::Warn, &note);
            let _ = s.write_files(Level::Warn, &note, now);
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
