//! Bytes from the bus in, whole messages out.
//!
//! The socket hands us pieces that follow no message boundary. The framer keeps at most one
//! message, checks its size from the 16-byte fixed header before keeping anything, and skips
//! a message over [`DBUS_MAX_MESSAGE_BYTES`] without keeping it (its header fields are still
//! read when they are small, so a reply among them can fail its call). A message that is
//! complete but invalid is reported and the stream goes on; only a broken fixed header
//! (byte-order mark, version) ends the stream, since nothing after it can be found.

use super::message::{decode_header, Fixed, Header, Message, FIXED_HEADER_LEN};
use super::DecodeError;
use crate::limits::{DBUS_MAX_MESSAGE_BYTES, DBUS_MAX_SKIPPED_HEADER_BYTES};

/// What one complete message turned into.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A valid message.
    Message(Message),
    /// A message over the size bound, thrown away; its header when it could be read.
    Oversized {
        /// The sender's serial.
        serial: u32,
        /// Its whole size.
        len: usize,
        /// Its fields, when they were small enough to read.
        header: Option<Header>,
    },
    /// A message of the right length whose content is invalid.
    Invalid {
        /// The sender's serial.
        serial: u32,
        /// The header, when only the body was wrong.
        header: Option<Header>,
        /// What was wrong.
        error: DecodeError,
    },
}

#[derive(Debug)]
enum State {
    /// Collecting the 16 fixed bytes.
    Fixed,
    /// Collecting a whole message of `fixed.total_len()` bytes.
    Whole(Fixed),
    /// Collecting only the header of an oversized message, then skipping the rest.
    OversizedHeader(Fixed),
    /// Dropping `left` more bytes of an oversized message.
    Skipping {
        fixed: Fixed,
        header: Option<Header>,
        left: usize,
    },
}

/// Reassembles messages from the bus's byte stream; one per connection.
#[derive(Debug)]
pub struct Framer {
    max_message: usize,
    state: State,
    buf: Vec<u8>,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new(DBUS_MAX_MESSAGE_BYTES)
    }
}

impl Framer {
    /// A framer that skips messages over `max_message` bytes.
    pub fn new(max_message: usize) -> Framer {
        Framer {
            max_message,
            state: State::Fixed,
            buf: Vec::new(),
        }
    }

    /// Takes bytes from `input` up to the end of the current message at most. Returns how
    /// many were used and a frame if one is now complete; call again with the rest.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<Frame>), DecodeError> {
        match std::mem::replace(&mut self.state, State::Fixed) {
            State::Fixed => {
                let used = self.fill(input, FIXED_HEADER_LEN);
                if self.buf.len() < FIXED_HEADER_LEN {
                    return Ok((used, None));
                }
                let mut head = [0; FIXED_HEADER_LEN];
                head.copy_from_slice(&self.buf[..FIXED_HEADER_LEN]);
                let fixed = Fixed::parse(&head)?;
                // Sizes as the peer claims them: compared, never allocated.
                let total = fixed.body_len.saturating_add(fixed.body_offset());
                self.state = if total <= self.max_message {
                    State::Whole(fixed)
                } else if fixed.fields_len <= DBUS_MAX_SKIPPED_HEADER_BYTES {
                    State::OversizedHeader(fixed)
                } else {
                    self.buf.clear();
                    State::Skipping {
                        fixed,
                        header: None,
                        left: total - FIXED_HEADER_LEN,
                    }
                };
                // The next state may already be complete (a bodiless message): go on at once.
                let (more, frame) = self.feed(&input[used..])?;
                Ok((used + more, frame))
            }
            State::Whole(fixed) => {
                let used = self.fill(input, fixed.total_len());
                if self.buf.len() < fixed.total_len() {
                    self.state = State::Whole(fixed);
                    return Ok((used, None));
                }
                let bytes = std::mem::take(&mut self.buf);
                let frame = match Message::decode(&bytes) {
                    Ok(m) => Frame::Message(m),
                    Err(error) => Frame::Invalid {
                        serial: fixed.serial,
                        header: decode_header(&bytes).ok().map(|(h, _)| h),
                        error,
                    },
                };
                Ok((used, Some(frame)))
            }
            State::OversizedHeader(fixed) => {
                let used = self.fill(input, fixed.body_offset());
                if self.buf.len() < fixed.body_offset() {
                    self.state = State::OversizedHeader(fixed);
                    return Ok((used, None));
                }
                let header = decode_header(&self.buf).ok().map(|(h, _)| h);
                self.buf = Vec::new();
                self.state = State::Skipping {
                    fixed,
                    header,
                    left: fixed.body_len,
                };
                let (more, frame) = self.feed(&input[used..])?;
                Ok((used + more, frame))
            }
            State::Skipping {
                fixed,
                header,
                left,
            } => {
                let used = left.min(input.len());
                if used < left {
                    self.state = State::Skipping {
                        fixed,
                        header,
                        left: left - used,
                    };
                    return Ok((used, None));
                }
                let len = fixed.body_len.saturating_add(fixed.body_offset());
                Ok((
                    used,
                    Some(Frame::Oversized {
                        serial: fixed.serial,
                        len,
                        header,
                    }),
                ))
            }
        }
    }

    /// Copies from `input` until the buffer holds `want` bytes; returns how many were taken.
    fn fill(&mut self, input: &[u8], want: usize) -> usize {
        let take = want.saturating_sub(self.buf.len()).min(input.len());
        // Grows with the bytes that arrive, never by the size a header claims.
        self.buf.extend_from_slice(&input[..take]);
        take
    }

    /// Whether a message is partly received.
    pub fn is_mid_message(&self) -> bool {
        !matches!(self.state, State::Fixed) || !self.buf.is_empty()
    }
}
