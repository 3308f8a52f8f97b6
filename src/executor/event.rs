//! The record of a finished run that clients are sent, and who is sent it.
//!
//! In: an operation's bookkeeping and its [`OpResult`]. Out: [`ExecEvent`], plain values the
//! dispatcher hands to `proto` for the exec-complete notification (protocol.md 9.4).

use crate::agents::OpResult;
use crate::handles::ConnId;

/// Who receives an exec result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every named client (the default).
    All,
    /// Only the client that asked (call option "notify originator only").
    Only(ConnId),
}

/// The exec-complete notification, as values (protocol.md 9.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecEvent {
    /// The call id the exec reply returned.
    pub call_id: u32,
    /// Resource id.
    pub rsc_id: String,
    /// Action name as the client sent it.
    pub action: String,
    /// Interval in ms.
    pub interval_ms: u32,
    /// The original timeout in ms.
    pub timeout_ms: u32,
    /// Start delay in ms.
    pub start_delay_ms: u32,
    /// The result.
    pub result: OpResult,
    /// The resource was unregistered before the operation finished.
    pub rsc_deleted: bool,
    /// Epoch seconds when this run was dispatched; 0 for later runs of a recurring operation.
    pub run_time: i64,
    /// Epoch seconds when the rc last changed; 0 if it never did.
    pub rcchange_time: i64,
    /// Milliseconds the agent ran; 0 for later runs of a recurring operation.
    pub exec_time_ms: u64,
    /// Milliseconds queued before it ran.
    pub queue_time_ms: u64,
    /// `lrmd_rsc_userdata_str`.
    pub user_data: Option<String>,
    /// The parameters, echoed in full.
    pub params: Vec<(String, String)>,
}
