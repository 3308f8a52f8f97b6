//! Frame payloads ⇄ typed messages.
//!
//! In: the XML text of a frame. Out: a [`request::Request`]; and back: replies and
//! notifications as XML. This layer knows nothing of sockets, TLS or frames, and decides no
//! protocol rules: it only reads and writes the vocabulary of protocol.md sections 7-9.

pub mod names;
pub mod reply;
pub mod request;
pub mod xml;

pub use request::{Op, Request};
