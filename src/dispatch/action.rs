//! What the dispatcher asks the shell to do, and how a message for a client becomes one.
//!
//! In: messages `proto` built, the request being handled. Out: [`Action`]s, plain values the
//! shell (`daemon::hub`) carries out in order. The text of a message is serialized once here
//! and shared by all its recipients.

use std::rc::Rc;

use crate::handles::{ConnId, IpcClientId, OpId};
use crate::process::Invocation;
use crate::proto::reply::addressed_reply;
use crate::proto::xml::Element;

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queue this XML payload (without its NUL) for one connection.
    Send {
        /// The connection.
        to: ConnId,
        /// Serialized once and shared by every recipient of a notification.
        payload: Rc<Vec<u8>>,
        /// It answers the request being handled (local IPC clients get it as the response
        /// to that request; everything else is an event).
        reply: bool,
    },
    /// Stop accepting new connections (draining for shutdown).
    StopListening,
    /// Start an agent for the executor.
    Spawn {
        /// The operation it runs for.
        op: OpId,
        /// What to run.
        invocation: Invocation,
    },
    /// Carry out a `systemd:` unit action; report its end with
    /// `Dispatcher::unit_finished`.
    #[cfg(feature = "class-systemd")]
    RunUnit {
        /// The operation.
        op: OpId,
        /// The action.
        action: String,
        /// The agent (unit) as configured.
        agent: String,
        /// The operation's timeout in ms (0: none given).
        timeout_ms: u32,
        /// For `service:`: the result when systemd does not know the unit.
        or_else: Option<crate::agents::OpResult>,
    },
    /// Send SIGKILL to an agent (and its process group, unless `group` is false).
    Kill {
        /// Its pid.
        pid: u32,
        /// The whole group.
        group: bool,
    },
    /// Start an alert agent; its end is only logged.
    SpawnAlert {
        /// The alert's id, for the log.
        id: String,
        /// What to run.
        invocation: Invocation,
        /// Timeout in ms; 0 for none.
        timeout_ms: u32,
    },
    /// Deliver the response to local IPC request `id`.
    IpcResponse {
        /// The local client.
        local: IpcClientId,
        /// The IPC request it answers.
        id: u32,
        /// The XML text.
        payload: Rc<Vec<u8>>,
    },
    /// Deliver an event to a local IPC client.
    IpcEvent {
        /// The local client.
        local: IpcClientId,
        /// The XML text.
        payload: Rc<Vec<u8>>,
    },
    /// Close a local IPC client.
    IpcDisconnect {
        /// The local client.
        local: IpcClientId,
    },
    /// Replace the files of the schema directory with these, off the event loop
    /// (protocol.md 17); the names were checked by `dispatch::schemas`.
    WriteSchemas {
        /// The accepted files.
        files: Vec<super::schemas::SchemaFile>,
    },
    /// End the process with this status.
    Exit {
        /// Exit status.
        code: i32,
        /// Why, for the log.
        why: String,
    },
}

/// The request being handled: who sent it, the id its reply must carry, the call id it took,
/// and its call option bits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call {
    /// Who sent it.
    pub(super) conn: ConnId,
    /// `lrmd_remote_msg_id`, which the reply carries.
    pub(super) msg_id: u64,
    /// The call id it took.
    pub(super) call_id: u32,
    /// `lrmd_callopt` bits.
    pub(super) options: u32,
}

/// The reply to `call`, whose body `proto` built.
pub(super) fn answer(call: Call, body: Element) -> Action {
    Action::Send {
        to: call.conn,
        payload: encoded(&addressed_reply(body, call.msg_id)),
        reply: true,
    }
}

/// A whole message for `to` that answers no request (a notification, a proxy message).
pub(super) fn event(to: ConnId, message: &Element) -> Action {
    Action::Send {
        to,
        payload: encoded(message),
        reply: false,
    }
}

/// A message's text, serialized once and shared by its recipients.
pub(super) fn encoded(message: &Element) -> Rc<Vec<u8>> {
    Rc::new(crate::proto::encode(message))
}
