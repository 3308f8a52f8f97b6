//! Settings of the IPC server and their defaults, checked once at start-up.
//!
//! In: values the daemon took from its own configuration (`PCMK_ipc_buffer`, limits). Out: a
//! checked `IpcConfig` and the size a client is given. Reads one flag file (libqb's
//! filesystem-socket switch); nothing else.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::ConfigError;
use super::paths::check_service_name;
use super::pcmk::Framing;
use super::qb::MIN_CLIENT_BUFFER;
use crate::limits;

/// Pacemaker's default IPC buffer (128 KiB): the floor when `PCMK_ipc_buffer` is not set.
pub const DEFAULT_BUFFER_FLOOR: usize = 128 * 1024;
/// Where the kernel's ceiling on socket send buffers is published.
pub const WMEM_MAX_PATH: &str = "/proc/sys/net/core/wmem_max";

/// The largest datagram a client can send when its libqb asks for a send buffer above
/// `wmem_max`: the kernel caps the request there, doubles it, and refuses datagrams longer
/// than that minus 32 bytes (libqb-ipc.md 4.8).
pub fn client_datagram_limit(wmem_max: usize) -> usize {
    wmem_max.saturating_mul(2).saturating_sub(32)
}

/// If this file exists, libqb uses filesystem sockets for listeners (libqb-ipc.md 3.1).
pub const FORCE_FILESYSTEM_FLAG: &str = "/etc/libqb/force-filesystem-sockets";
/// Where Debian 12's libqb puts filesystem listeners (`SOCKETDIR`, fixed at its build).
pub const DEFAULT_SOCKET_DIR: &str = "/tmp";

/// How listener names are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketMode {
    /// Look for [`FORCE_FILESYSTEM_FLAG`] at start, as libqb does once per process.
    Detect,
    /// Abstract names (the Linux default).
    Abstract,
    /// Filesystem sockets `<dir>/<service>`, mode 0777.
    Filesystem(PathBuf),
}

impl SocketMode {
    /// Resolves `Detect` against the flag file.
    pub fn resolve(&self) -> SocketMode {
        match self {
            SocketMode::Detect if Path::new(FORCE_FILESYSTEM_FLAG).exists() => {
                SocketMode::Filesystem(PathBuf::from(DEFAULT_SOCKET_DIR))
            }
            SocketMode::Detect => SocketMode::Abstract,
            other => other.clone(),
        }
    }
}

/// Everything the IPC server is told at start.
#[derive(Debug, Clone)]
pub struct IpcConfig {
    /// Names to publish (`cib_ro`, `attrd`, …).
    pub services: Vec<&'static str>,
    /// Header layout for every client, or `None` (the default): each client's own, from its
    /// first request (libqb-ipc.md 7.2).
    pub framing: Option<Framing>,
    /// `PCMK_ipc_buffer` or 128 KiB: the least we negotiate, and the size from which large
    /// messages are compressed (2.x) or split (3.x), as Pacemaker's servers do.
    pub buffer_floor: usize,
    /// The most we negotiate, whatever the client wishes.
    pub max_datagram: usize,
    /// Largest message text after decompression or reassembly.
    pub max_message: usize,
    /// Clients connected or handshaking at once; more are refused with EAGAIN.
    pub max_clients: usize,
    /// Clients one uid other than root may hold.
    pub max_clients_per_uid: usize,
    /// Slots of `max_clients` only root may take.
    pub root_reserve: usize,
    /// Deadline for the 24-byte handshake.
    pub handshake_timeout: Duration,
    /// Bytes queued per client and channel; a client past it is disconnected.
    pub max_outbound_bytes: usize,
    /// Text being inflated, reassembled or waiting for the daemon, all clients together
    /// (raised to two of the largest messages, see [`IpcConfig::inflate_budget`]).
    pub max_inflated_bytes: usize,
    /// Of `max_inflated_bytes`, what one uid may hold (raised to one largest message).
    pub max_inflated_per_uid: usize,
    /// Output of one decompression step before other clients get a turn.
    pub inflate_slice: usize,
    /// How often a name squatted by another local user is tried again.
    pub name_retry: Duration,
    /// Abstract or filesystem listeners.
    pub socket_mode: SocketMode,
}

/// `PCMK_remoted_ipc_framing` as the server takes it: `auto` is per-client detection.
impl From<crate::config::IpcFraming> for Option<Framing> {
    fn from(setting: crate::config::IpcFraming) -> Self {
        use crate::config::IpcFraming;
        match setting {
            IpcFraming::Auto => None,
            IpcFraming::Pacemaker2 => Some(Framing::Pacemaker2),
            IpcFraming::Pacemaker3 => Some(Framing::Pacemaker3),
        }
    }
}

impl IpcConfig {
    /// Defaults for everything but the service names.
    pub fn new(services: Vec<&'static str>) -> Self {
        IpcConfig {
            services,
            framing: None,
            buffer_floor: DEFAULT_BUFFER_FLOOR,
            max_datagram: limits::IPC_MAX_DATAGRAM_BYTES,
            max_message: limits::IPC_MAX_MESSAGE_BYTES,
            max_clients: limits::IPC_MAX_CLIENTS,
            max_clients_per_uid: limits::IPC_MAX_CLIENTS_PER_UID,
            root_reserve: limits::IPC_ROOT_RESERVE,
            handshake_timeout: limits::IPC_HANDSHAKE_TIMEOUT,
            max_outbound_bytes: limits::IPC_MAX_OUTBOUND_BYTES,
            max_inflated_bytes: limits::IPC_MAX_INFLATED_BYTES,
            max_inflated_per_uid: limits::IPC_MAX_INFLATED_BYTES_PER_UID,
            inflate_slice: limits::IPC_INFLATE_SLICE_BYTES,
            name_retry: limits::IPC_NAME_RETRY,
            socket_mode: SocketMode::Detect,
        }
    }

    /// Checks every value once, so nothing can fail on it per connection.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.services.is_empty() {
            return Err(ConfigError::NoServices);
        }
        for s in &self.services {
            check_service_name(s).map_err(ConfigError::ServiceName)?;
        }
        let min_buffer = MIN_CLIENT_BUFFER as usize;
        for (name, value, min) in [
            ("buffer_floor", self.buffer_floor, min_buffer),
            ("max_datagram", self.max_datagram, min_buffer),
            ("max_message", self.max_message, 1),
            ("max_clients", self.max_clients, 1),
            ("max_clients_per_uid", self.max_clients_per_uid, 1),
            ("max_outbound_bytes", self.max_outbound_bytes, 1),
            ("inflate_slice", self.inflate_slice, 1),
        ] {
            if value < min {
                return Err(ConfigError::Bound { name, value, min });
            }
        }
        // Everyone but root needs at least one slot.
        if self.root_reserve >= self.max_clients {
            return Err(ConfigError::Bound {
                name: "max_clients",
                value: self.max_clients,
                min: self.root_reserve + 1,
            });
        }
        // Sizes travel in i32 fields of libqb's headers.
        if self.max_datagram > i32::MAX as usize {
            return Err(ConfigError::Bound {
                name: "max_datagram",
                value: self.max_datagram,
                min: min_buffer,
            });
        }
        Ok(())
    }

    /// Lowers `max_datagram` so a client can always send what it was told it may: clients
    /// (not root) cannot pass `wmem_max`, and Pacemaker compresses or splits only at the
    /// negotiated size (libqb-ipc.md 4.8). Returns the new value if it was lowered.
    pub fn fit_kernel(&mut self, wmem_max: usize) -> Option<usize> {
        let limit = client_datagram_limit(wmem_max).max(MIN_CLIENT_BUFFER as usize);
        if limit >= self.max_datagram {
            return None;
        }
        self.max_datagram = limit;
        Some(limit)
    }

    /// Budget one message may need: its text with the NUL, and a decompressor's state.
    pub fn inflate_need(&self) -> usize {
        self.max_message
            .saturating_add(1)
            .saturating_add(limits::IPC_INFLATER_STATE_BYTES)
    }

    /// The inflated-bytes budget, all clients together and per uid: the configured values,
    /// raised so two of the largest messages fit in all and one per uid (no message may
    /// wait for ever).
    pub fn inflate_budget(&self) -> (usize, usize) {
        let need = self.inflate_need();
        (
            self.max_inflated_bytes.max(need.saturating_mul(2)),
            self.max_inflated_per_uid.max(need),
        )
    }

    /// The size a client gets: max(its wish, our floor), capped by our maximum (3.4).
    pub fn negotiate(&self, wish: u32) -> usize {
        (wish as usize)
            .max(self.buffer_floor)
            .min(self.max_datagram)
    }

    /// From this datagram size on, messages are compressed or split: our floor, as
    /// Pacemaker's servers use their default buffer size, but never above `negotiated`.
    pub fn threshold(&self, negotiated: usize) -> usize {
        self.buffer_floor.min(negotiated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_as_libqb_with_a_cap() {
        let c = IpcConfig::new(vec!["attrd"]);
        // Observed: 65536 asked → 131072; 131072 → 131072; 524288 → 524288 (3.4).
        assert_eq!(c.negotiate(65536), 131072);
        assert_eq!(c.negotiate(131072), 131072);
        assert_eq!(c.negotiate(524288), 524288);
        assert_eq!(c.negotiate(u32::MAX), limits::IPC_MAX_DATAGRAM_BYTES);
        assert_eq!(c.threshold(524288), 131072);
        let mut big_floor = c.clone();
        big_floor.buffer_floor = 1 << 20;
        assert_eq!(big_floor.negotiate(0), limits::IPC_MAX_DATAGRAM_BYTES);
        assert_eq!(
            big_floor.threshold(limits::IPC_MAX_DATAGRAM_BYTES),
            limits::IPC_MAX_DATAGRAM_BYTES
        );
    }

    #[test]
    fn kernel_ceiling() {
        // Stock kernel: 212992, so no client datagram above 425952 (libqb-ipc.md 4.8).
        assert_eq!(client_datagram_limit(212_992), 425_952);
        let mut c = IpcConfig::new(vec!["cib_rw"]);
        assert_eq!(c.fit_kernel(212_992), Some(425_952));
        assert_eq!(c.negotiate(524_288), 425_952);
        // A raised ceiling leaves the configured maximum alone.
        let mut c = IpcConfig::new(vec!["cib_rw"]);
        assert_eq!(c.fit_kernel(4_194_304), None);
        assert_eq!(c.negotiate(524_288), 524_288);
        // Never below what any client needs.
        assert_eq!(c.fit_kernel(1000), Some(12328));
    }

    #[test]
    fn checks() {
        assert!(IpcConfig::new(vec!["cib_ro", "pacemakerd"]).check().is_ok());
        assert_eq!(IpcConfig::new(vec![]).check(), Err(ConfigError::NoServices));
        assert!(matches!(
            IpcConfig::new(vec!["x".repeat(80).leak()]).check(),
            Err(ConfigError::ServiceName(_))
        ));
        let mut c = IpcConfig::new(vec!["attrd"]);
        c.max_datagram = 100;
        assert_eq!(
            c.check(),
            Err(ConfigError::Bound {
                name: "max_datagram",
                value: 100,
                min: 12328
            })
        );
    }

    #[test]
    fn root_reserve_leaves_room_for_others() {
        let mut c = IpcConfig::new(vec!["attrd"]);
        c.max_clients = 4;
        c.root_reserve = 4;
        assert!(matches!(
            c.check(),
            Err(ConfigError::Bound {
                name: "max_clients",
                ..
            })
        ));
        c.root_reserve = 3;
        assert!(c.check().is_ok());
    }

    #[test]
    fn the_largest_message_always_fits_the_budget() {
        let mut c = IpcConfig::new(vec!["attrd"]);
        let (all, per_uid) = c.inflate_budget();
        assert_eq!(
            (all, per_uid),
            (
                limits::IPC_MAX_INFLATED_BYTES,
                limits::IPC_MAX_INFLATED_BYTES_PER_UID
            )
        );
        assert!(per_uid >= c.inflate_need() && all >= 2 * c.inflate_need());
        c.max_message = 100 << 20;
        let (all, per_uid) = c.inflate_budget();
        assert_eq!(per_uid, c.inflate_need());
        assert_eq!(all, 2 * c.inflate_need());
    }

    #[test]
    fn socket_mode_resolves() {
        assert_eq!(SocketMode::Abstract.resolve(), SocketMode::Abstract);
        let fs = SocketMode::Filesystem("/run/x".into());
        assert_eq!(fs.resolve(), fs);
        let detected = SocketMode::Detect.resolve();
        assert_ne!(detected, SocketMode::Detect);
    }
}
