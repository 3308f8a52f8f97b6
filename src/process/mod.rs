//! Running agents: spawn, capture what they say, learn how they ended, kill them.
//!
//! In: an [`Invocation`], a plain command description (agents build them; this module never
//! looks at agents). Out: the child's exit and its bounded output, as values. Everything runs on the event
//! loop: children are spawned with `std::process::Command` (posix_spawn, i.e. vfork semantics,
//! where the platform allows: no copy of the daemon's address space), each leads its own process
//! group, and they are reaped on SIGCHLD with non-blocking `waitpid`. No thread per child and no
//! blocking wait.

pub mod child;
pub mod invocation;
pub mod output;

pub use child::{spawn, ChildExit, Finished, Reaper};
pub use invocation::Invocation;
pub use output::Captured;
