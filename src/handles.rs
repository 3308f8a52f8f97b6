//! Small handles every stage passes around instead of references: who a message is for, which
//! operation a child runs for, which local tool a session belongs to, and the time of an event.
//!
//! In: nothing. Out: `Copy` values with a `Display` for logs. This module imports nothing of
//! ours, so any stage may use it without pointing back up the pipeline; it never reads a clock
//! (the shell makes a [`Now`] and passes it in).

use std::fmt;
use std::time::Instant;

/// A dispatcher client, by handle: a cluster connection or a local client of the executor's
/// own IPC service. Never reused while the daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// An executor operation, by handle; a recurring operation keeps its handle between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op#{}", self.0)
    }
}

/// A local IPC client (a node tool such as `crm_mon`), by the handle the IPC server gave it
/// when it connected; unique for the life of the server. The IPC server, the bridge and the
/// proxy rules all name a local client by this one handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpcClientId(pub u64);

impl fmt::Display for IpcClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ipc#{}", self.0)
    }
}

/// A clock reading, taken once by the shell per event: a monotonic instant for durations,
/// epoch seconds for the timestamps clients see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// For queue and run times, timers and deadlines.
    pub mono: Instant,
    /// For `lrmd_run_time` and `lrmd_rcchange_time`.
    pub epoch: i64,
}
