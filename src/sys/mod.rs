//! The only place where we talk to the operating system below what `std` offers.
//!
//! In: plain Rust values (file descriptors, signal numbers, socket addresses).
//! Out: safe functions and types. Every `unsafe` block in the crate lives in this folder and
//! carries a `// SAFETY:` note saying what must hold and why it does. Nothing here knows about
//! the protocol, TLS or the executor.
#![allow(unsafe_code)]

#[cfg(feature = "ipc-proxy")]
pub mod ipc_socket;
pub mod process;
#[cfg(feature = "pidone")]
pub mod reap;
pub mod signal;
pub mod socket;
pub mod time;
pub mod users;
