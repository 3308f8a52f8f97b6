//! What the executor is asked, typed, and how it says no.
//!
//! In: nothing; the dispatcher builds these from a request it has checked (every field the
//! executor needs is present, call options are already read into enums). Out: the values the
//! executor's entry points take and the [`Error`]s they return. The rc the cluster sees for
//! each is decided in one place, by the dispatcher (`dispatch::error`), not here.

use std::fmt;

use crate::handles::ConnId;

/// One `lrmd_rsc_exec`, as the dispatcher checked it (protocol.md 9.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The client that asked; results go to it alone with [`Audience::Only`].
    ///
    /// [`Audience::Only`]: super::Audience::Only
    pub client: ConnId,
    /// The call id the reply returns.
    pub call_id: u32,
    /// Resource id.
    pub rsc_id: String,
    /// Action, as sent.
    pub action: String,
    /// Interval in ms; 0 is one-shot.
    pub interval_ms: u32,
    /// Timeout in ms; 0 means no timer.
    pub timeout_ms: u32,
    /// Start delay in ms.
    pub start_delay_ms: u32,
    /// Opaque client data, echoed in results.
    pub user_data: Option<String>,
    /// Agent parameters in request order.
    pub params: Vec<(String, String)>,
    /// Who hears the results (call option "notify originator only", protocol.md 10.1).
    pub audience: Recipients,
    /// Which results are notified (call option "notify changes only").
    pub reporting: Reporting,
}

/// Who hears an operation's results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// Every named client (the default).
    Everyone,
    /// Only the client that asked.
    Originator,
}

/// Which results of a recurring operation are notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporting {
    /// Every result (the default).
    Every,
    /// Only a result whose rc or status differs from the last one notified (cancellations
    /// always are).
    ChangesOnly,
}

/// What becomes of a resource's recurring operations when its clients leave
/// (call option "drop recurring" at `lrmd_rsc_register`, protocol.md 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnClientLoss {
    /// They keep running (the default).
    KeepRecurring,
    /// They are cancelled when their client, or every client, is gone.
    DropRecurring,
}

/// How `lrmd_rsc_unregister` went; the reply differs (protocol.md 9.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unregistered {
    /// The resource is gone; whatever it had queued ended as cancelled.
    Removed,
    /// No resource by that id: nothing to do, answered as a success, as the original does.
    NotRegistered,
    /// The resource is gone, but an operation of it runs on and reports with `rsc_deleted`.
    Finishing,
}

/// Why the executor refused a request; the request changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The request names a resource that is not registered.
    UnknownResource,
    /// A cancel matches no queued operation and no recurring one (or that one is already
    /// being cancelled).
    NoSuchOperation,
    /// `max_resources` is reached; the cluster may retry.
    TooManyResources {
        /// Resources registered.
        registered: usize,
        /// The bound.
        max: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownResource => f.write_str("no such resource"),
            Error::NoSuchOperation => f.write_str("no such operation to cancel"),
            Error::TooManyResources { registered, max } => write!(
                f,
                "{registered} resources registered, limit {max} (max_resources)"
            ),
        }
    }
}
