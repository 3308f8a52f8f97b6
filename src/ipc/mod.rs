//! Local IPC endpoints that Pacemaker's command-line tools connect to, speaking libqb's
//! SOCKET transport with Pacemaker's framing inside (libqb-ipc.md; protocol.md 16).
//!
//! In: connections from local tools on each published service name. Out: `IpcEvent`s for the
//! proxy (connected, one whole request, closed) and, from the proxy, responses and events.
//! `qb`, `pcmk`, `paths` are pure; `server`, `listener`, `handshake`, `conn`, `channel`, `files`
//! are the shell. Must never block the loop or let one client hurt another.

mod admission;
mod budget;
mod channel;
mod client;
mod config;
mod conn;
mod error;
mod files;
mod handshake;
mod listener;
pub mod paths;
pub mod pcmk;
pub mod qb;
mod server;

pub use client::{Acceptor, Cred, IpcClientId, IpcEvent};
pub use config::{
    client_datagram_limit, IpcConfig, SocketMode, DEFAULT_BUFFER_FLOOR, DEFAULT_SOCKET_DIR,
    FORCE_FILESYSTEM_FLAG, WMEM_MAX_PATH,
};
pub use error::{CloseReason, ConfigError, IpcError, ProtocolError, StartError};
pub use pcmk::Framing;
pub use server::IpcServer;
