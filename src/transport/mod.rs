//! Bytes on the network ⇄ plaintext: the TCP listener and TLS 1.3 with a pre-shared key.
//!
//! In: the configured address and key. Out: accepted streams, handed to the caller's callback
//! (`listener::accept_loop`), and authenticated plaintext streams over them (`tls`). This layer
//! knows nothing of frames, XML or who serves a connection.

pub mod admission;
pub mod explain;
pub mod listener;
pub mod tls;
pub mod watched;
