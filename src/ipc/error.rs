//! Errors of the IPC server, grouped by who is at fault: our configuration or the system
//! (start-up), the daemon's own use of the API (sends), and why a client's connection ended.
//!
//! In: lower-level errors and the numbers involved. Out: values with lowercase messages that
//! name the service or client and the limit. Nothing here decides what to do about them.

use std::fmt;
use std::io;

use super::client::IpcClientId;
use super::paths::NameTooLong;
use super::pcmk::{DecodeError, EncodeError};
use super::qb::QbError;
use crate::sys::ipc_socket::Ucred;

/// A configuration value the server cannot work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// No service names were given.
    NoServices,
    /// A service name is too long for libqb's names.
    ServiceName(NameTooLong),
    /// A bound below its minimum.
    Bound {
        /// The setting's name.
        name: &'static str,
        /// The value given.
        value: usize,
        /// The smallest usable value.
        min: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoServices => write!(f, "no ipc service names configured"),
            ConfigError::ServiceName(e) => write!(f, "{e}"),
            ConfigError::Bound { name, value, min } => {
                write!(f, "ipc setting {name} is {value}, at least {min} is needed")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why the server could not start; names the service where one is involved.
#[derive(Debug)]
pub enum StartError {
    /// The configuration is unusable.
    Config(ConfigError),
    /// Another process already publishes this name. If that is a cluster process (a full
    /// cluster stack on the same host) the daemon exits with 100 (protocol.md 16.1); the
    /// server itself only returns this error then, and retries names other users squat.
    NameTaken {
        /// The service.
        service: &'static str,
        /// Who holds it, when we could tell: the listener's process (`SO_PEERCRED` of a
        /// connection to it), or the owner of the file in its way (pid 0).
        holder: Option<Ucred>,
    },
    /// Publishing the name failed for another reason.
    Publish {
        /// The service.
        service: &'static str,
        /// What the system said.
        source: io::Error,
    },
}

impl StartError {
    /// The service that could not be published, if that was the problem.
    pub fn service(&self) -> Option<&'static str> {
        match self {
            StartError::Config(_) => None,
            StartError::NameTaken { service, .. } | StartError::Publish { service, .. } => {
                Some(service)
            }
        }
    }
}

/// Who holds a name, for log lines: "pid P uid U", "a file of uid U", or "a process that does
/// not accept connections".
pub(super) fn holder_text(holder: Option<&Ucred>) -> String {
    match holder {
        Some(h) if h.pid > 0 => format!("pid {} uid {}", h.pid, h.uid),
        Some(h) => format!("a file of uid {}", h.uid),
        None => "a process that does not accept connections".into(),
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "{e}"),
            StartError::NameTaken { service, holder } => write!(
                f,
                "ipc name {service} is already published by {} (is a full cluster stack \
                 running on this host?)",
                holder_text(holder.as_ref())
            ),
            StartError::Publish { service, source } => {
                write!(f, "cannot publish ipc name {service}: {source}")
            }
        }
    }
}

impl std::error::Error for StartError {}

impl From<StartError> for io::Error {
    fn from(e: StartError) -> Self {
        let kind = match &e {
            StartError::Config(_) => io::ErrorKind::InvalidInput,
            StartError::NameTaken { .. } => io::ErrorKind::AddrInUse,
            StartError::Publish { source, .. } => source.kind(),
        };
        io::Error::new(kind, e)
    }
}

/// Why a response or event was not queued for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcError {
    /// No such client (it has closed, or was never announced).
    UnknownClient(IpcClientId),
    /// A response id above every request id the client sent (or 0): a 2.1.5 client aborts on
    /// such a reply (libqb-ipc.md 7.3), so it is not sent. The client stays.
    NoSuchRequest {
        /// The id asked for.
        id: u32,
        /// The highest request id the client sent so far (0: none).
        last: u32,
    },
    /// The message cannot be carried within the client's negotiated size; the client stays.
    Encode(EncodeError),
    /// The client stopped reading: its queue is full. It has been disconnected.
    QueueFull {
        /// Bytes queued.
        queued: usize,
        /// The bound (`max_outbound_bytes`).
        max: usize,
    },
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpcError::UnknownClient(id) => write!(f, "no ipc client {id}"),
            IpcError::NoSuchRequest { id, last } => write!(
                f,
                "no request {id} to answer (highest request id so far is {last})"
            ),
            IpcError::Encode(e) => write!(f, "{e}"),
            IpcError::QueueFull { queued, max } => write!(
                f,
                "client stopped reading ({queued} bytes queued, at most {max}); disconnected"
            ),
        }
    }
}

impl std::error::Error for IpcError {}

/// What a client sent that ends its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// The libqb layer (datagram size, reserved id).
    Qb(QbError),
    /// Pacemaker's header and payload.
    Pcmk(DecodeError),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Qb(e) => write!(f, "{e}"),
            ProtocolError::Pcmk(e) => write!(f, "{e}"),
        }
    }
}

/// Why a client's connection ended (reported in `IpcEvent::Closed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its setup socket or said goodbye.
    ClientClosed,
    /// The daemon asked for it (`IpcServer::disconnect`).
    Disconnected,
    /// The server shut down.
    Shutdown,
    /// The client sent something malformed or oversized.
    Protocol(ProtocolError),
    /// The client stopped reading and its queue reached the bound.
    SlowReader {
        /// Bytes queued.
        queued: usize,
        /// The bound.
        max: usize,
    },
    /// The client's response or event socket never appeared (connect on first send).
    ConnectFailed {
        /// `response` or `event`.
        channel: &'static str,
        /// The last errno.
        errno: i32,
    },
    /// A socket operation failed.
    Os {
        /// What we were doing.
        what: &'static str,
        /// The errno.
        errno: i32,
    },
}

impl CloseReason {
    /// An OS error while doing `what`.
    pub(super) fn os(what: &'static str, e: &io::Error) -> Self {
        CloseReason::Os {
            what,
            errno: e.raw_os_error().unwrap_or(0),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientClosed => write!(f, "client closed the connection"),
            CloseReason::Disconnected => write!(f, "disconnected by the daemon"),
            CloseReason::Shutdown => write!(f, "server shutting down"),
            CloseReason::Protocol(e) => write!(f, "protocol error: {e}"),
            CloseReason::SlowReader { queued, max } => write!(
                f,
                "client stopped reading ({queued} bytes queued, at most {max})"
            ),
            CloseReason::ConnectFailed { channel, errno } => write!(
                f,
                "cannot reach the client's {channel} socket: {}",
                io::Error::from_raw_os_error(*errno)
            ),
            CloseReason::Os { what, errno } => {
                write!(f, "{what}: {}", io::Error::from_raw_os_error(*errno))
            }
        }
    }
}
