//! Exit statuses, in one place; README "Exit codes" lists them for operators.
//!
//! The daemon's follow the original's (0, and 100 which systemd's unit treats as "do not
//! restart"); `check` has one status per kind of failure so scripts can tell them apart.

/// Normal exit, including a graceful shutdown.
pub const OK: i32 = 0;
/// `check`: something failed that has no more specific status below.
pub const CHECK_FAILED: i32 = 1;
/// `check`: the host name did not resolve.
pub const CHECK_NAME_RESOLUTION: i32 = 2;
/// `check`: connection refused, or host or network unreachable.
pub const CHECK_UNREACHABLE: i32 = 3;
/// `check`: a step did not finish within the timeout.
pub const CHECK_TIMEOUT: i32 = 4;
/// `check`: the TLS handshake failed (key mismatch, or not a Pacemaker Remote daemon).
pub const CHECK_TLS: i32 = 5;
/// `check`: the daemon refused the sign-on (protocol version mismatch).
pub const CHECK_PROTOCOL: i32 = 6;
/// `check`: the node turned the connection away as busy (over a connection limit, a
/// `user_canceled` alert or a close before the sign-on); not a key problem, try again.
pub const CHECK_BUSY: i32 = 7;
/// `check`: the node has no usable key of its own (`unknown_psk_identity` for `lrmd`).
pub const CHECK_NODE_HAS_NO_KEY: i32 = 8;
/// Bad command line or configuration (sysexits' EX_USAGE, as Pacemaker 3.x uses).
pub const USAGE: i32 = 64;
/// Fatal start-up error, e.g. no address could be bound (Pacemaker's CRM_EX_FATAL).
pub const FATAL: i32 = 100;
