//! Running agents: spawn, capture what they say, learn how they ended, kill them.
//!
//! In: an [`Invocation`](crate::agents::Invocation) from `agents`. Out: the child's exit and
//! its bounded output, reported back to the executor as values. Everything runs on the event
//! loop: children are spawned with `std::process::Command` (posix_spawn, i.e. vfork semantics,
//! where the platform allows: no copy of the daemon's address space), each leads its own process
//! group, and they are reaped on SIGCHLD with non-blocking `waitpid`. No thread per child and no
//! blocking wait.

pub mod child;
pub mod output;

pub use child::{spawn, ChildExit, Finished, Reaper};
pub use output::Captured;
