//! Every bound the daemon keeps, in one place: default, unit, reason, and what happens at it.
//!
//! Memory stays bounded by these numbers whatever peers send. A reached bound is never a
//! panic: the peer gets a clear error (or its one connection is closed), the daemon logs it,
//! and nothing already accepted is lost. Defaults suit a general-purpose host; board profiles
//! and the `PCMK_remoted_*` settings lower them for small devices.

use std::time::Duration;

/// Bounds that the operator may tune at run time (validated once by `config`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// TCP connections open at once, handshaking ones included. At the bound a new connection
    /// is accepted and closed at once with a log line, so it cannot hold the backlog.
    /// A cluster uses one per cluster node that may host the connection resource.
    pub max_connections: usize,
    /// Largest frame (header plus payload, compressed or not, and after decompression) in
    /// bytes. A larger header is refused before any allocation and the connection closed.
    /// Upstream Pacemaker adopted 20 MiB; agent output (10 MiB per stream in 3.x) rides in
    /// frames, so lower values truncate reports rather than fail them.
    pub max_message_bytes: usize,
    /// Bytes queued for one connection and not yet written. A peer that stops reading is
    /// disconnected at this bound instead of growing our memory.
    pub max_outbound_bytes: usize,
    /// Nesting depth of one XML message.
    pub max_xml_depth: usize,
    /// Elements in one XML message.
    pub max_xml_elements: usize,
    /// Attributes on one XML element.
    pub max_xml_attributes: usize,
    /// Bytes read from the key file; a larger file is a configuration error. Pacemaker keys
    /// are 4096 bytes; the original has no bound.
    pub max_key_bytes: usize,
    /// Registered resources. A register beyond it is refused with EAGAIN and logged.
    pub max_resources: usize,
    /// Operations waiting in resource queues, all resources together. An exec beyond it is
    /// answered with a call id and an immediate error result naming the limit.
    pub max_queued_operations: usize,
    /// Recurring operations, all resources together; beyond it, as for the queue.
    pub max_recurring_operations: usize,
    /// Agents running at once. Further operations wait for a free slot (the time counts as
    /// queue time); the original has no such bound, the cluster throttles itself.
    pub max_children: usize,
    /// Bytes kept of each of an agent's stdout and stderr; the rest is read and dropped so
    /// the agent never blocks (Pacemaker 3.x keeps 10 MiB per stream).
    pub max_output_bytes: usize,
    /// Time from accept until the TLS handshake completes (the original's 10 s).
    pub handshake_timeout: Duration,
    /// Time one outbound write may take before we give up on the peer.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_message_bytes: 20 * 1024 * 1024,
            max_outbound_bytes: 48 * 1024 * 1024,
            max_xml_depth: 64,
            max_xml_elements: 200_000,
            max_xml_attributes: 512,
            max_key_bytes: 1024 * 1024,
            max_resources: 4096,
            max_queued_operations: 16_384,
            max_recurring_operations: 8192,
            max_children: 128,
            max_output_bytes: 10 * 1024 * 1024,
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// How long a key read from disk is trusted before the next handshake re-reads it, so a
/// rotated key takes effect without a restart (the 2.1.5 daemon's cache time).
pub const KEY_CACHE_TIME: Duration = Duration::from_secs(60);

/// Pending connections the kernel may hold for us (the original's `listen` backlog).
pub const LISTEN_BACKLOG: i32 = 10;

/// The TLS 1.3 maximum plaintext per record; frames are split into records of this size.
pub const MAX_RECORD_PLAINTEXT: usize = 16 * 1024;

/// Names accepted in `PCMK_remoted_limit_<name>` settings and `--limit name=value`.
pub const TUNABLE: &[&str] = &[
    "max_connections",
    "max_message_bytes",
    "max_outbound_bytes",
    "max_xml_depth",
    "max_xml_elements",
    "max_xml_attributes",
    "max_key_bytes",
    "max_resources",
    "max_queued_operations",
    "max_recurring_operations",
    "max_children",
    "max_output_bytes",
    "handshake_timeout_ms",
    "write_timeout_ms",
];

/// Why a limit setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitError {
    /// The name is not one of [`TUNABLE`].
    UnknownName(String),
    /// The value is not a whole number in range.
    BadValue {
        /// Limit name.
        name: String,
        /// The text given.
        value: String,
    },
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitError::UnknownName(n) => {
                write!(f, "unknown limit '{n}' (known: {})", TUNABLE.join(", "))
            }
            LimitError::BadValue { name, value } => {
                write!(
                    f,
                    "limit '{name}' needs a whole number of at least 1, got '{value}'"
                )
            }
        }
    }
}

impl Limits {
    /// Sets one tunable by name; used for both the environment and the command line.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), LimitError> {
        let bad = || LimitError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
        };
        let n: u64 = value.trim().parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        let as_usize = usize::try_from(n).map_err(|_| bad())?;
        match name {
            "max_connections" => self.max_connections = as_usize,
            "max_message_bytes" => {
                // Frame sizes travel as u32 (protocol.md 6.1) and must hold at least a header.
                if n > u64::from(u32::MAX) || n < 64 {
                    return Err(bad());
                }
                self.max_message_bytes = as_usize;
            }
            "max_outbound_bytes" => self.max_outbound_bytes = as_usize,
            "max_xml_depth" => self.max_xml_depth = as_usize,
            "max_xml_elements" => self.max_xml_elements = as_usize,
            "max_xml_attributes" => self.max_xml_attributes = as_usize,
            "max_key_bytes" => self.max_key_bytes = as_usize,
            "max_resources" => self.max_resources = as_usize,
            "max_queued_operations" => self.max_queued_operations = as_usize,
            "max_recurring_operations" => self.max_recurring_operations = as_usize,
            "max_children" => self.max_children = as_usize,
            "max_output_bytes" => self.max_output_bytes = as_usize,
            "handshake_timeout_ms" => self.handshake_timeout = Duration::from_millis(n),
            "write_timeout_ms" => self.write_timeout = Duration::from_millis(n),
            _ => return Err(LimitError::UnknownName(name.to_string())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tunable_name_is_settable() {
        for name in TUNABLE {
            let mut l = Limits::default();
            assert_eq!(l.set(name, "100"), Ok(()), "{name}");
        }
    }

    #[test]
    fn bad_limits_are_refused_with_the_value() {
        let mut l = Limits::default();
        assert!(matches!(
            l.set("nope", "1"),
            Err(LimitError::UnknownName(_))
        ));
        assert!(matches!(
            l.set("max_connections", "0"),
            Err(LimitError::BadValue { .. })
        ));
        assert!(matches!(
            l.set("max_connections", "-1"),
            Err(LimitError::BadValue { .. })
        ));
        assert!(matches!(
            l.set("max_message_bytes", "5000000000"),
            Err(LimitError::BadValue { .. })
        ));
        assert_eq!(l, Limits::default());
    }
}
