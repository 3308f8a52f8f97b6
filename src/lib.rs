//! pcmk-remoted: a Pacemaker Remote daemon, wire-compatible with Pacemaker's
//! `pacemaker-remoted`.
//!
//! Data moves through the modules in the order they are declared below:
//!
//! ```text
//! cluster ─TCP─▶ transport ─▶ wire ─▶ proto ─▶ connection ─▶ executor ─▶ agents ─▶ process
//!  node   (accept, TLS-PSK)  (frames) (XML ⇄    (signon,     (resources,  (argv,   (spawn,
//!                                      typed)   dispatch)    queues)      env)     reap)
//! cluster ◀─TLS◀─ wire ◀─ proto ◀─ connection ◀─ notify ◀──────── results ◀──────────┘
//! ```
//!
//! `config`, `limits` and `logging` are read once at start; `daemon` owns the event loop (one
//! thread, one `LocalExecutor`) and carries out the actions the pure core returns; `check`
//! and `demo` are the client side of the same pipeline. Only `sys` may use `unsafe`.

pub mod about;
pub mod cli;
pub mod config;
pub mod exitcode;
pub mod limits;
pub mod logging;

pub mod agents;
#[cfg(feature = "alerts")]
pub mod alerts;
#[cfg(feature = "bzip2")]
pub mod bzip2;
pub mod connection;
#[cfg(feature = "class-systemd")]
pub mod dbus;
pub mod executor;
#[cfg(feature = "ipc-proxy")]
pub mod ipc;
pub mod process;
pub mod proto;
pub mod transport;
pub mod watchdog;
pub mod wire;

pub mod check;
pub mod client;
pub mod daemon;
pub mod demo;
pub mod mailbox;
#[cfg(feature = "pidone")]
pub mod pidone;

pub mod sys;
