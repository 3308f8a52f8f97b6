//! Log rate limits per source class, so nobody outside the daemon can fill the disk or bury
//! the lines that matter.
//!
//! In: "may a line from this class be written now?". Out: yes, or no and the line is counted.
//! Each class has a token bucket ([`LOG_BURST_LINES`](crate::limits::LOG_BURST_LINES) lines
//! at once, refilled at [`LOG_LINES_PER_MINUTE`](crate::limits::LOG_LINES_PER_MINUTE)); when
//! lines were dropped, the next line that passes is preceded by one "N similar messages
//! suppressed" line. Lines about our own lifecycle and the cluster's signed-on sessions are
//! never limited: they are bounded by what the key holder does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::limits::{LOG_BURST_LINES, LOG_LINES_PER_MINUTE};

/// Who controls the event a log line reports; each class has its own budget, so a flood from
/// one never silences another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Anyone who can reach the TCP port: connections that have not proved the key.
    KeylessPeer,
    /// Local programs on the node's IPC sockets.
    LocalClient,
    /// Resource and alert agents (their output, their exits).
    Agent,
}

impl Source {
    const ALL: [Source; 3] = [Source::KeylessPeer, Source::LocalClient, Source::Agent];

    fn index(self) -> usize {
        match self {
            Source::KeylessPeer => 0,
            Source::LocalClient => 1,
            Source::Agent => 2,
        }
    }

    /// How the suppression line names the class.
    pub fn describe(self) -> &'static str {
        match self {
            Source::KeylessPeer => "unauthenticated peers",
            Source::LocalClient => "local IPC clients",
            Source::Agent => "agents",
        }
    }
}

/// Whether a line from `source` may be written now. A `false` is counted and reported later.
/// When lines were suppressed and this one passes, the suppression line is logged first.
pub fn allow(source: Source) -> bool {
    let Ok(mut buckets) = BUCKETS.lock() else {
        return true;
    };
    let bucket = buckets.get_or_insert_with(Buckets::new);
    let (pass, report) = bucket.0[source.index()].take(Instant::now());
    drop(buckets);
    if let Some(n) = report {
        log::warn!(
            "{n} similar messages from {} suppressed (log rate limit)",
            source.describe()
        );
    }
    pass
}

/// Logs the count of suppressed lines of every class that has some, even when no further line
/// comes; the daemon calls it from a slow timer.
pub fn report_suppressed() {
    let Ok(mut buckets) = BUCKETS.lock() else {
        return;
    };
    let bucket = buckets.get_or_insert_with(Buckets::new);
    let counts: Vec<(Source, u64)> = Source::ALL
        .iter()
        .map(|s| (*s, std::mem::take(&mut bucket.0[s.index()].suppressed)))
        .filter(|(_, n)| *n > 0)
        .collect();
    drop(buckets);
    for (s, n) in counts {
        log::warn!(
            "{n} similar messages from {} suppressed (log rate limit)",
            s.describe()
        );
    }
}

/// Logs at `level` only if the class's budget allows; the arguments are not even formatted
/// when the level is off.
#[macro_export]
macro_rules! limited {
    ($source:expr, $level:expr, $($arg:tt)+) => {
        if log::log_enabled!($level) && $crate::logging::limiter::allow($source) {
            log::log!($level, $($arg)+);
        }
    };
}

static BUCKETS: Mutex<Option<Buckets>> = Mutex::new(None);

struct Buckets([Bucket; 3]);

impl Buckets {
    fn new() -> Buckets {
        Buckets([Bucket::new(), Bucket::new(), Bucket::new()])
    }
}

/// A token bucket: `tokens` lines may be written now; one token comes back every
/// `60 s / LOG_LINES_PER_MINUTE`.
struct Bucket {
    tokens: u32,
    refilled: Option<Instant>,
    suppressed: u64,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            tokens: LOG_BURST_LINES,
            refilled: None,
            suppressed: 0,
        }
    }

    /// Takes a token if there is one; returns whether the line passes and, if it passes after
    /// a suppression, how many lines were suppressed.
    fn take(&mut self, now: Instant) -> (bool, Option<u64>) {
        let period = Duration::from_secs(60) / LOG_LINES_PER_MINUTE.max(1);
        let since = *self.refilled.get_or_insert(now);
        let earned = now.duration_since(since).as_nanos() / period.as_nanos().max(1);
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            self.tokens = self.tokens.saturating_add(earned).min(LOG_BURST_LINES);
            self.refilled = Some(since + period * earned.min(1 << 16));
            if self.tokens == LOG_BURST_LINES {
                self.refilled = Some(now);
            }
        }
        if self.tokens == 0 {
            self.suppressed += 1;
            return (false, None);
        }
        self.tokens -= 1;
        let report = (self.suppressed > 0).then(|| std::mem::take(&mut self.suppressed));
        (true, report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_lines_are_counted() {
        let mut b = Bucket::new();
        let t0 = Instant::now();
        for _ in 0..LOG_BURST_LINES {
            assert_eq!(b.take(t0), (true, None));
        }
        for _ in 0..1000 {
            assert_eq!(b.take(t0), (false, None));
        }
        let period = Duration::from_secs(60) / LOG_LINES_PER_MINUTE;
        assert_eq!(b.take(t0 + period), (true, Some(1000)));
        assert_eq!(b.take(t0 + period), (false, None));
    }

    #[test]
    fn a_minute_of_flood_passes_at_most_burst_plus_rate() {
        let mut b = Bucket::new();
        let t0 = Instant::now();
        let mut passed = 0u32;
        // 100,000 attempts spread over 60 s.
        for i in 0..100_000u64 {
            let now = t0 + Duration::from_micros(i * 600);
            if b.take(now).0 {
                passed += 1;
            }
        }
        assert!(passed <= LOG_BURST_LINES + LOG_LINES_PER_MINUTE, "{passed}");
        assert!(passed >= LOG_LINES_PER_MINUTE / 2, "{passed}");
    }

    #[test]
    fn an_idle_class_refills_to_its_burst_only() {
        let mut b = Bucket::new();
        let t0 = Instant::now();
        assert!(b.take(t0).0);
        let later = t0 + Duration::from_secs(3600);
        let mut passed = 0;
        for _ in 0..(LOG_BURST_LINES * 2) {
            if b.take(later).0 {
                passed += 1;
            }
        }
        assert_eq!(passed, LOG_BURST_LINES);
    }
}
