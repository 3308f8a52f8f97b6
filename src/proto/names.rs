//! Wire spellings: element names, attribute names, operation names and numeric constants,
//! exactly as Pacemaker writes them (protocol.md sections 7 and 10). Rust code elsewhere uses
//! these constants, never string literals, so a typo cannot reach the wire.

/// Root of client requests.
pub const LRMD_COMMAND: &str = "lrmd_command";
/// Root of replies.
pub const LRMD_REPLY: &str = "lrmd_reply";
/// Root of notifications.
pub const LRMD_NOTIFY: &str = "lrmd_notify";
/// Root of every IPC-proxy message, both directions.
pub const LRMD_IPC_PROXY: &str = "lrmd_ipc_proxy";
/// Wrapper of request data.
pub const LRMD_CALLDATA: &str = "lrmd_calldata";
/// Resource data, found anywhere in a request (an XPath `//` search in the original).
pub const LRMD_RSC: &str = "lrmd_rsc";
/// One recurring operation inside a `lrmd_get_recurring` reply.
pub const LRMD_RSC_OP: &str = "lrmd_rsc_op";
/// Alert data inside a request.
pub const LRMD_ALERT: &str = "lrmd_alert";
/// The `lrmd_check` data element (the name doubles as an attribute name).
pub const LRMD_OP_ELEMENT: &str = "lrmd_op";
/// Agent parameters.
pub const ATTRIBUTES: &str = "attributes";
/// A parameter whose name starts with a digit.
pub const PARAM: &str = "param";
/// Wrapper of a relayed IPC message.
pub const LRMD_IPC_MSG: &str = "lrmd_ipc_msg";

/// Attribute names.
pub mod attr {
    /// Message type, `lrmd` on requests.
    pub const T: &str = "t";
    /// Operation name.
    pub const OP: &str = "lrmd_op";
    /// Name of the function that built a message; informational.
    pub const ORIGIN: &str = "lrmd_origin";
    /// Reply result: negative errno, 0, or a call id.
    pub const RC: &str = "lrmd_rc";
    /// Server-assigned call id.
    pub const CALL_ID: &str = "lrmd_callid";
    /// Call option bit mask.
    pub const CALL_OPTIONS: &str = "lrmd_callopt";
    /// Timeout in ms.
    pub const TIMEOUT: &str = "lrmd_timeout";
    /// Client name.
    pub const CLIENT_NAME: &str = "lrmd_clientname";
    /// Client id (a UUID) given by the server.
    pub const CLIENT_ID: &str = "lrmd_clientid";
    /// Protocol version.
    pub const PROTOCOL_VERSION: &str = "lrmd_protocol_version";
    /// The client will relay local IPC.
    pub const IS_IPC_PROVIDER: &str = "lrmd_is_ipc_provider";
    /// request, reply or notify.
    pub const REMOTE_MSG_TYPE: &str = "lrmd_remote_msg_type";
    /// Client-chosen request id, echoed in the reply; 0 in notifications.
    pub const REMOTE_MSG_ID: &str = "lrmd_remote_msg_id";
    /// Resource id.
    pub const RSC_ID: &str = "lrmd_rsc_id";
    /// Agent standard.
    pub const CLASS: &str = "lrmd_class";
    /// Agent provider.
    pub const PROVIDER: &str = "lrmd_provider";
    /// Agent name.
    pub const TYPE: &str = "lrmd_type";
    /// Action name.
    pub const RSC_ACTION: &str = "lrmd_rsc_action";
    /// Interval in ms.
    pub const RSC_INTERVAL: &str = "lrmd_rsc_interval";
    /// Start delay in ms.
    pub const RSC_START_DELAY: &str = "lrmd_rsc_start_delay";
    /// Opaque client string, echoed back.
    pub const RSC_USERDATA: &str = "lrmd_rsc_userdata_str";
    /// Agent result as an OCF code.
    pub const EXEC_RC: &str = "lrmd_exec_rc";
    /// Execution status.
    pub const EXEC_OP_STATUS: &str = "lrmd_exec_op_status";
    /// Exit reason text.
    pub const RSC_EXIT_REASON: &str = "lrmd_rsc_exit_reason";
    /// Agent output.
    pub const RSC_OUTPUT: &str = "lrmd_rsc_output";
    /// 1 when the resource was unregistered before the op finished.
    pub const RSC_DELETED: &str = "lrmd_rsc_deleted";
    /// Epoch seconds when the op last started.
    pub const RUN_TIME: &str = "lrmd_run_time";
    /// Epoch seconds when the result last changed.
    pub const RCCHANGE_TIME: &str = "lrmd_rcchange_time";
    /// Run time in ms.
    pub const EXEC_TIME: &str = "lrmd_exec_time";
    /// Time queued in ms.
    pub const QUEUE_TIME: &str = "lrmd_queue_time";
    /// Cluster watchdog timeout, in `lrmd_check`.
    pub const WATCHDOG: &str = "lrmd_watchdog";
    /// Alert id.
    pub const ALERT_ID: &str = "lrmd_alert_id";
    /// Alert executable.
    pub const ALERT_PATH: &str = "lrmd_alert_path";
    /// Seconds since the daemon started (2.1.7+ register reply).
    pub const UPTIME: &str = "uptime";
    /// `PCMK_node_start_state` (2.1.6+ register reply).
    pub const NODE_START_STATE: &str = "node_start_state";
    /// Our own addition to the register reply, so `check` can tell our daemon from the
    /// original; clients ignore unknown attributes.
    pub const IMPLEMENTATION: &str = "pcmk_remoted_version";
    /// Proxy operation.
    pub const IPC_OP: &str = "lrmd_ipc_op";
    /// Proxied service name.
    pub const IPC_SERVER: &str = "lrmd_ipc_server";
    /// Proxy session id.
    pub const IPC_SESSION: &str = "lrmd_ipc_session";
    /// Local client name.
    pub const IPC_CLIENT: &str = "lrmd_ipc_client";
    /// Local user name.
    pub const IPC_USER: &str = "lrmd_ipc_user";
    /// Local IPC request id.
    pub const IPC_MSG_ID: &str = "lrmd_ipc_msg_id";
    /// Local IPC flags.
    pub const IPC_MSG_FLAGS: &str = "lrmd_ipc_msg_flags";
}

/// Operation names (`lrmd_op`).
pub mod op {
    /// Sign-on.
    pub const REGISTER: &str = "register";
    /// Register a resource.
    pub const RSC_REGISTER: &str = "lrmd_rsc_register";
    /// Resource details.
    pub const RSC_INFO: &str = "lrmd_rsc_info";
    /// Forget a resource.
    pub const RSC_UNREGISTER: &str = "lrmd_rsc_unregister";
    /// Run an action.
    pub const RSC_EXEC: &str = "lrmd_rsc_exec";
    /// Cancel an action.
    pub const RSC_CANCEL: &str = "lrmd_rsc_cancel";
    /// List recurring actions.
    pub const GET_RECURRING: &str = "lrmd_get_recurring";
    /// Keepalive.
    pub const POKE: &str = "lrmd_rsc_poke";
    /// Watchdog check; never answered.
    pub const CHECK: &str = "lrmd_check";
    /// Run an alert agent.
    pub const ALERT_EXEC: &str = "lrmd_alert_exec";
    /// A proxied IPC message from the cluster.
    pub const IPC_FWD: &str = "ipc_fwd";
    /// Notification that another client completed a handshake.
    pub const NEW_CLIENT: &str = "lrmd_rsc_new_client";
}

/// `lrmd_remote_msg_type` values.
pub mod msg_type {
    /// Client to server.
    pub const REQUEST: &str = "request";
    /// Server to client, answering a request.
    pub const REPLY: &str = "reply";
    /// Server to client, unsolicited.
    pub const NOTIFY: &str = "notify";
}

/// `lrmd_origin` values the original writes; clients ignore them, we keep them for parity.
pub mod origin {
    /// Register reply.
    pub const SIGNON: &str = "process_lrmd_signon";
    /// Generic reply.
    pub const MESSAGE: &str = "process_lrmd_message";
    /// Generic notification (register, unregister, poke).
    pub const GENERIC_NOTIFY: &str = "send_generic_notify";
    /// New-client notification.
    pub const NEW_CLIENT: &str = "notify_of_new_client";
    /// Resource info reply.
    pub const RSC_INFO: &str = "process_lrmd_get_rsc_info";
    /// Recurring list reply.
    pub const GET_RECURRING: &str = "process_lrmd_get_recurring";
    /// Exec result notification.
    pub const CMD_COMPLETE: &str = "send_cmd_complete_notify";
}

/// `lrmd_rc` values (negated Linux errno numbers, protocol.md 10.6).
pub mod rc {
    /// Success.
    pub const OK: i32 = 0;
    /// E2BIG: an alert could not be prepared.
    pub const E2BIG: i32 = -7;
    /// EAGAIN: a bound was reached (resources, alerts); the cluster may retry.
    pub const EAGAIN: i32 = -11;
    /// EACCES: not allowed for this client.
    pub const EACCES: i32 = -13;
    /// ENODEV: unknown resource.
    pub const ENODEV: i32 = -19;
    /// EINVAL: a required field is missing.
    pub const EINVAL: i32 = -22;
    /// EPROTO: the client's protocol version is too old.
    pub const EPROTO: i32 = -71;
    /// EPROTONOSUPPORT: provider flag on a build without remote support.
    pub const EPROTONOSUPPORT: i32 = -93;
    /// EOPNOTSUPP: unknown operation, or no such cancellable operation.
    pub const EOPNOTSUPP: i32 = -95;
    /// EINPROGRESS: unregister while an operation runs.
    pub const EINPROGRESS: i32 = -115;
    /// EREMOTEIO: local IPC refused (no cluster connected, or `pacemakerd`).
    pub const EREMOTEIO: i32 = -121;
}

/// Call option bits (`lrmd_callopt`, protocol.md 10.1).
pub mod callopt {
    /// On resource register: cancel the resource's recurring operations when the last client
    /// disconnects. 2.1.5 clusters send 3 and 3.x clusters send 1; testing bit 0x1 honours
    /// both (the 2.1.5 daemon tests both bits and so misses a 3.x cluster's 1).
    pub const DROP_RECURRING: u32 = 0x1;
    /// On exec: notify only the requesting client.
    pub const NOTIFY_ORIG_ONLY: u32 = 0x2;
    /// On exec: after the first result, notify only when (rc, status) changes.
    pub const NOTIFY_CHANGES_ONLY: u32 = 0x4;
}

/// The client name our `check` command signs on with. Sessions under this name are never
/// announced to other clients: a Pacemaker controller that hears of a new client assumes a
/// take-over and drops its own connection (protocol.md 13).
pub const DIAGNOSTIC_CLIENT_NAME: &str = "pcmk-remoted-check";

/// The protocol version we announce to clusters that do not speak 1.2 (that of Pacemaker
/// 2.1.5 to 2.1.7).
pub const PROTOCOL_VERSION: &str = "1.1";
/// The protocol version we announce to clusters whose register says 1.2 or later (that of
/// Pacemaker 2.1.8 and later, which brings schema transfer, protocol.md 8 and 17).
pub const PROTOCOL_VERSION_SCHEMAS: &str = "1.2";
/// The oldest client version we accept (the original's minimum).
pub const MIN_PROTOCOL_VERSION: &str = "1.0";
