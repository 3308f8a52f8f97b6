//! Frame payloads ⇄ typed messages.
//!
//! In: the XML text of a frame. Out: a [`request::Request`]; and back: every message we send,
//! replies, notifications and proxy messages ([`reply`], [`proxy`]), built from plain values
//! and serialized by [`encode`]. This layer knows nothing of sockets, TLS or frames, and decides
//! no protocol rules: it only reads and writes the vocabulary of protocol.md sections 7-9 and 16.

pub mod names;
pub mod proxy;
pub mod reply;
pub mod request;
pub mod schemas;
pub mod xml;

pub use request::{Op, Request};

/// A message's text, without the NUL the frame adds.
pub fn encode(message: &xml::Element) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    xml::write(message, &mut out);
    out
}
