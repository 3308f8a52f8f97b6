//! What to run: the plain command description that whoever wants a child hands to
//! [`spawn`](super::spawn).
//!
//! In: a program, its arguments, variables to add to the environment, and optionally the user
//! to run as. Out: nothing by itself; `child` turns it into a process. It says nothing of what
//! the child is for or how its exit is read: that is the caller's (for agents, `agents`).

use std::path::PathBuf;

/// A command line with its environment, ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (without argv[0]).
    pub args: Vec<String>,
    /// Variables added to the daemon's environment, which the child inherits.
    pub env: Vec<(String, String)>,
    /// Run as this uid and gid instead of the daemon's (alert agents).
    pub user: Option<(u32, u32)>,
}
