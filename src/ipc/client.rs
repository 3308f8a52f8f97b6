//! What the daemon sees of a local IPC client: its handle, its credentials, the events the
//! server reports about it, and the hook that decides whether it may connect.
//!
//! In: nothing from the wire directly; the server fills these in. Out: plain values for the
//! proxy above. Never holds a socket.

use std::fmt;

use super::error::CloseReason;
pub use crate::handles::IpcClientId;

/// The client process as the kernel reported it when it connected (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cred {
    /// Process id (0 if it is not visible from our pid namespace).
    pub pid: i32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

impl fmt::Display for Cred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} uid {}", self.pid, self.uid)
    }
}

/// What happened to local clients, in the order it happened, for the proxy to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpcEvent {
    /// A client finished the handshake; requests may follow.
    Connected {
        /// Its handle.
        client: IpcClientId,
        /// The service name it connected to.
        service: &'static str,
        /// Who it is.
        cred: Cred,
        /// Its uid's user name, or `#unprivileged` if the user database does not know it
        /// (forwarded to the cluster as `lrmd_ipc_user`, protocol.md 16.3).
        user: String,
        /// uid 0 or hacluster's uid: the clients Pacemaker marks privileged.
        privileged: bool,
    },
    /// One whole Pacemaker message (decompressed or reassembled).
    Request {
        /// Its sender.
        client: IpcClientId,
        /// Request id; the response must carry it.
        id: u32,
        /// Pacemaker IPC flags as sent (`pcmk::FLAG_*`).
        flags: u32,
        /// The XML text, without a terminating NUL.
        xml: Vec<u8>,
    },
    /// The client is gone; its handle is no longer valid.
    Closed {
        /// Its handle.
        client: IpcClientId,
        /// Who or what ended it.
        why: CloseReason,
    },
}

/// Decides whether a client may connect to a service. Called once per connection, before
/// any file is created; must answer at once, because a libqb 2.0.6 client waits forever.
pub trait Acceptor {
    /// `Ok(())` to accept, or a negative errno to refuse with (the tool sees its positive
    /// value as `errno`; the proxy refuses `pacemakerd` with -121 EREMOTEIO).
    fn accept(&self, service: &str, cred: &Cred) -> Result<(), i32>;
}

impl<F: Fn(&str, &Cred) -> Result<(), i32>> Acceptor for F {
    fn accept(&self, service: &str, cred: &Cred) -> Result<(), i32> {
        self(service, cred)
    }
}
