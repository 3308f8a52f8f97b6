//! Bytes on the network ⇄ plaintext: the TCP listener and TLS 1.3 with a pre-shared key.
//!
//! In: the configured address and key. Out: authenticated plaintext streams for
//! `connection`. This layer knows nothing of frames or XML.

pub mod admission;
pub mod explain;
pub mod listener;
pub mod tls;
pub mod watched;
