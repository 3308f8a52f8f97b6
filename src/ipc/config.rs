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

/// Pacemaker's default IPC buffer (128 KiB): the floor when `PCMK_ipc_buffer` is not set.
pub const DEFAULT_BUFFER_FLOOR: usize = 128 * 1024;
/// Largest size we agree to: what CIB clients ask for (512 KiB, libqb-ipc.md 3.4). Raise it
/// if `PCMK_ipc_buffer` is set higher on the node.
pub const DEFAULT_MAX_DATAGRAM: usize = 512 * 1024;
/// Largest message text after decompression or reassembly; the daemon's frame bound.
pub const DEFAULT_MAX_MESSAGE: usize = 20 * 1024 * 1024;
/// Clients connected or handshaking at once.
pub const DEFAULT_MAX_CLIENTS: usize = 128;
/// Time from accept until the 24-byte handshake is complete (libqb has none).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes queued per client and channel (responses, events) before it counts as not reading.
pub const DEFAULT_MAX_OUTBOUND: usize = 4 * 1024 * 1024;

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
    /// Header layout of the installed Pacemaker tools.
    pub framing: Framing,
    /// `PCMK_ipc_buffer` or 128 KiB: the least we negotiate, and the size from which large
    /// messages are compressed (2.x) or split (3.x), as Pacemaker's servers do.
    pub buffer_floor: usize,
    /// The most we negotiate, whatever the client wishes.
    pub max_datagram: usize,
    /// Largest message text after decompression or reassembly.
    pub max_message: usize,
    /// Clients connected or handshaking at once; more are refused with EAGAIN.
    pub max_clients: usize,
    /// Deadline for the 24-byte handshake.
    pub handshake_timeout: Duration,
    /// Bytes queued per client and channel; a client past it is disconnected.
    pub max_outbound_bytes: usize,
    /// Abstract or filesystem listeners.
    pub socket_mode: SocketMode,
}

impl IpcConfig {
    /// Defaults for everything but the service names.
    pub fn new(services: Vec<&'static str>) -> Self {
        IpcConfig {
            services,
            framing: Framing::default(),
            buffer_floor: DEFAULT_BUFFER_FLOOR,
            max_datagram: DEFAULT_MAX_DATAGRAM,
            max_message: DEFAULT_MAX_MESSAGE,
            max_clients: DEFAULT_MAX_CLIENTS,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_outbound_bytes: DEFAULT_MAX_OUTBOUND,
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
            ("max_outbound_bytes", self.max_outbound_bytes, 1),
        ] {
            if value < min {
                return Err(ConfigError::Bound { name, value, min });
            }
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
        assert_eq!(c.negotiate(u32::MAX), DEFAULT_MAX_DATAGRAM);
        assert_eq!(c.threshold(524288), 131072);
        let mut big_floor = c.clone();
        big_floor.buffer_floor = 1 << 20;
        assert_eq!(big_floor.negotiate(0), DEFAULT_MAX_DATAGRAM);
        assert_eq!(
            big_floor.threshold(DEFAULT_MAX_DATAGRAM),
            DEFAULT_MAX_DATAGRAM
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
    fn socket_mode_resolves() {
        assert_eq!(SocketMode::Abstract.resolve(), SocketMode::Abstract);
        let fs = SocketMode::Filesystem("/run/x".into());
        assert_eq!(fs.resolve(), fs);
        let detected = SocketMode::Detect.resolve();
        assert_ne!(detected, SocketMode::Detect);
    }
}
