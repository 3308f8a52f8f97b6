//! pcmk-remoted: a Pacemaker Remote daemon, wire-compatible with Pacemaker's
//! `pacemaker-remoted`.
//!
//! A pure core inside a thin shell. Data moves one way through the modules:
//!
//! ```text
//! cluster ─TCP─▶ transport ─▶ wire ─▶ proto ─▶ dispatch ─▶ executor ─▶ agents ─▶ process
//!  node   (accept, TLS-PSK)  (frames) (XML ⇄   (rules,     (resources,  (command, (spawn,
//!                                      typed)   clients)    queues)      exit map) reap)
//! cluster ◀─TLS◀─ wire ◀─ proto ◀─ dispatch ◀─ results (executor::ExecEvent) ◀────┘
//! ```
//!
//! The core (`handles`, `proto`, `wire`, `dispatch`, `executor`, and the vocabulary of
//! `agents`) takes values and returns values: it reads no clock, touches no file, starts no
//! process and opens no socket (clippy's `disallowed_methods` and `disallowed_types`, denied
//! below, keep it so). The shell, `daemon`, owns the one thread and its `LocalExecutor`,
//! every descriptor, timer and child, and carries out the core's actions; `transport`, `ipc`,
//! `process`, `sys` and `dbus` are the I/O it uses. `config`, `limits` and `logging` are set
//! up once at start; `check` and `demo` are the client side of the same pipeline. Which
//! module may use which is written down, one line per edge, in `tests/layering.rs`. Only
//! `sys` may use `unsafe`.

// Set up once at start.
pub mod about;
pub mod cli;
pub mod config;
pub mod exitcode;
pub mod limits;
pub mod logging;

// Handles every stage passes around; imports nothing of ours.
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod handles;

// The pipeline, in the order data travels.
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod agents;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod dispatch;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod executor;
pub mod process;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod proto;
pub mod transport;
#[deny(clippy::disallowed_methods, clippy::disallowed_types)]
pub mod wire;

// The side path for node tools, and the D-Bus client for systemd resources.
#[cfg(feature = "bzip2")]
pub mod bzip2;
#[cfg(feature = "class-systemd")]
pub mod dbus;
#[cfg(feature = "ipc-proxy")]
pub mod ipc;

// The shell, and what it shares with its tasks.
pub mod daemon;
pub mod mailbox;
#[cfg(feature = "pidone")]
pub mod pidone;

// The client side: the `check` and `demo` subcommands and the TLS client they share.
#[cfg(feature = "client-tools")]
pub mod check;
#[cfg(feature = "client-tools")]
pub mod client;
#[cfg(feature = "client-tools")]
pub mod demo;

pub mod sys;
