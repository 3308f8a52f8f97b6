//! Request datagrams in, whole Pacemaker messages out (libqb-ipc.md 7.1, 7.2, 7.4, 7.6).
//!
//! In: one datagram at a time, header included. Out: a message once it is complete. Every
//! size is checked against the datagram and the configured maximum before anything is
//! allocated; at most one message in parts is held. Never trusts a size the peer wrote.

use std::fmt;

use super::{
    decode_header, detect, qb, Framing, Header, Layout, FLAG_MULTIPART, FLAG_MULTIPART_END,
    HEADER_LEN, VERSION,
};

/// What was wrong with a request; the client sent it, so the client is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the 40-byte header.
    Short {
        /// Datagram length.
        len: usize,
    },
    /// The libqb layer's checks failed.
    Qb(qb::QbError),
    /// A header version above 1 (Pacemaker filters these out).
    Version {
        /// The version byte.
        version: u8,
    },
    /// The header's payload size disagrees with the datagram.
    PayloadSize {
        /// Payload bytes the header announces.
        declared: u64,
        /// Payload bytes present.
        present: usize,
    },
    /// The text (after decompression or reassembly) would exceed the configured maximum.
    TooLarge {
        /// Bytes the message would have.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The text does not end in NUL (Pacemaker asserts on this, libqb-ipc.md 7.6).
    NotTerminated,
    /// A NUL inside the text would silently cut the XML short.
    NulInside {
        /// Offset of the first NUL.
        at: usize,
    },
    /// The bzip2 payload is corrupt or inflates to another size.
    Compressed(String),
    /// A compressed request arrived but this build has no bzip2 (feature `bzip2`).
    CompressionUnsupported,
    /// A multipart piece out of order: wrong part id, other message id, or a message that
    /// starts while another is incomplete.
    PartOrder {
        /// The part's message id.
        id: i32,
        /// The part id found.
        part_id: u16,
        /// The part id expected, if a message is in progress.
        expected: Option<u16>,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Short { len } => write!(f, "{len}-byte message, header needs 40"),
            DecodeError::Qb(e) => write!(f, "{e}"),
            DecodeError::Version { version } => {
                write!(f, "header version {version}, only 1 is known")
            }
            DecodeError::PayloadSize { declared, present } => write!(
                f,
                "header announces {declared} payload bytes, datagram has {present}"
            ),
            DecodeError::TooLarge { len, max } => {
                write!(f, "{len}-byte message exceeds the maximum of {max}")
            }
            DecodeError::NotTerminated => write!(f, "text does not end in nul"),
            DecodeError::NulInside { at } => write!(f, "nul inside the text at offset {at}"),
            DecodeError::Compressed(e) => write!(f, "bad bzip2 payload: {e}"),
            DecodeError::CompressionUnsupported => {
                write!(f, "compressed message, but this build has no bzip2")
            }
            DecodeError::PartOrder {
                id,
                part_id,
                expected,
            } => match expected {
                Some(want) => write!(
                    f,
                    "part {part_id} of message {id} where part {want} was expected"
                ),
                None => write!(f, "part {part_id} of message {id} without its start"),
            },
        }
    }
}

impl std::error::Error for DecodeError {}

/// What one datagram gave the decoder.
#[derive(Debug)]
pub enum Decoded {
    /// A whole message.
    Message(Message),
    /// A part of a longer message was stored; more are needed.
    Part,
    /// A compressed message (2.x): call [`Inflation::step`] until it gives the message, so
    /// the caller decides how much work happens at once.
    Inflate(Inflation),
}

/// A compressed message being inflated, a bounded slice at a time.
#[cfg_attr(not(feature = "bzip2"), allow(dead_code))]
pub struct Inflation {
    id: u32,
    flags: u32,
    payload: Vec<u8>,
    #[cfg(feature = "bzip2")]
    inflater: crate::bzip2::Inflater,
}

impl fmt::Debug for Inflation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Inflation {{ id: {}, {} bytes }}",
            self.id,
            self.payload.len()
        )
    }
}

impl Inflation {
    /// The request id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Bytes of text inflated so far.
    pub fn produced(&self) -> usize {
        #[cfg(feature = "bzip2")]
        return self.inflater.produced();
        #[cfg(not(feature = "bzip2"))]
        0
    }

    /// Inflates at most `slice` more bytes. `Ok(Some)`: the whole message, checked as an
    /// uncompressed one would be (one final NUL, none inside).
    pub fn step(&mut self, slice: usize) -> Result<Option<Message>, DecodeError> {
        #[cfg(feature = "bzip2")]
        {
            let Some(mut text) = self
                .inflater
                .step(&self.payload, slice)
                .map_err(DecodeError::Compressed)?
            else {
                return Ok(None);
            };
            text_of(&text)?;
            text.pop();
            Ok(Some(Message {
                id: self.id,
                flags: self.flags,
                xml: text,
            }))
        }
        #[cfg(not(feature = "bzip2"))]
        {
            let _ = slice;
            Err(DecodeError::CompressionUnsupported)
        }
    }

    /// Inflates the rest at once (tests, fuzzing, callers that need not yield).
    pub fn finish(mut self) -> Result<Message, DecodeError> {
        loop {
            if let Some(m) = self.step(1 << 20)? {
                return Ok(m);
            }
        }
    }
}

/// One whole Pacemaker message from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The request id; a response must carry the same one.
    pub id: u32,
    /// The header's flags as sent (multipart bits removed after reassembly).
    pub flags: u32,
    /// The XML text, without its terminating NUL.
    pub xml: Vec<u8>,
}

/// Checks `payload` is text plus one final NUL and returns the text.
fn text_of(payload: &[u8]) -> Result<&[u8], DecodeError> {
    match payload.split_last() {
        Some((0, text)) => match text.iter().position(|&c| c == 0) {
            Some(at) => Err(DecodeError::NulInside { at }),
            None => Ok(text),
        },
        _ => Err(DecodeError::NotTerminated),
    }
}

struct Partial {
    id: i32,
    flags: u32,
    next: u16,
    text: Vec<u8>,
}

/// Turns request datagrams into whole messages; holds at most one message in parts.
pub struct Decoder {
    /// The layout, once fixed by the setting or by the client's first datagram.
    framing: Option<Framing>,
    max_message: usize,
    partial: Option<Partial>,
}

impl Decoder {
    /// A decoder for `framing` that refuses messages longer than `max_message` text bytes.
    pub fn new(framing: Framing, max_message: usize) -> Self {
        Decoder {
            framing: Some(framing),
            max_message,
            partial: None,
        }
    }

    /// A decoder that takes its layout from the first datagram it is fed ([`detect`];
    /// 2.x when that fits neither), for a client whose Pacemaker version is not known.
    pub fn detecting(max_message: usize) -> Self {
        Decoder {
            framing: None,
            max_message,
            partial: None,
        }
    }

    /// The header layout this decoder reads; `None` until a detecting decoder is fed.
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// The layout for a datagram starting with `header`: the fixed one, else what the
    /// header says.
    fn layout_of(&self, header: &[u8]) -> Framing {
        self.framing
            .unwrap_or_else(|| detect(header).unwrap_or_default())
    }

    /// Bytes held for a message still in parts.
    pub fn pending(&self) -> usize {
        self.partial.as_ref().map_or(0, |p| p.text.len())
    }

    /// Bytes of text this decoder will hold, beyond the datagram itself, once it takes a
    /// datagram starting with `header` (its first [`HEADER_LEN`] bytes): a compressed
    /// message's inflated size plus `inflater_state`, or the whole text so far of a message
    /// in parts. 0 for a message in one datagram, or for a header the decoder will refuse
    /// anyway (over the size bound, malformed), so no budget is waited for in vain.
    pub fn demand(&self, header: &[u8], inflater_state: usize) -> usize {
        let Ok(h) = decode_header(self.layout_of(header), header) else {
            return 0;
        };
        match h.layout {
            Layout::V2 {
                size_uncompressed,
                size_compressed,
            } if size_compressed != 0 => {
                let text = size_uncompressed as usize;
                if text.saturating_sub(1) > self.max_message {
                    return 0;
                }
                text.saturating_add(inflater_state)
            }
            Layout::V3 { size, .. } if h.flags & (FLAG_MULTIPART | FLAG_MULTIPART_END) != 0 => {
                let total = self.pending().saturating_add(size as usize);
                if total > self.max_message.saturating_add(1) {
                    return 0;
                }
                total
            }
            _ => 0,
        }
    }

    /// Decodes one whole datagram, inflating a compressed message at once (tests, fuzzing).
    /// `Ok(None)`: a part was stored and more are needed.
    pub fn decode(&mut self, datagram: &[u8]) -> Result<Option<Message>, DecodeError> {
        match self.feed(datagram)? {
            Decoded::Message(m) => Ok(Some(m)),
            Decoded::Part => Ok(None),
            Decoded::Inflate(job) => job.finish().map(Some),
        }
    }

    /// Takes one whole datagram (libqb header included). A compressed message comes back as
    /// an [`Inflation`] for the caller to run. The first datagram fixes a detecting
    /// decoder's layout for good (a client's library does not change under it). After an
    /// error the decoder should be dropped with its client.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<Decoded, DecodeError> {
        let framing = self.layout_of(datagram);
        self.framing = Some(framing);
        let h = decode_header(framing, datagram)?;
        if usize::try_from(h.size).ok() != Some(datagram.len()) {
            return Err(DecodeError::Qb(qb::QbError::SizeMismatch {
                size: h.size,
                len: datagram.len(),
            }));
        }
        if h.version > VERSION {
            return Err(DecodeError::Version { version: h.version });
        }
        let payload = &datagram[HEADER_LEN..];
        match h.layout {
            Layout::V2 {
                size_uncompressed,
                size_compressed,
            } => self.decode_v2(&h, size_uncompressed, size_compressed, payload),
            Layout::V3 { size, part_id } => self
                .decode_v3(&h, size, part_id, payload)
                .map(|m| m.map_or(Decoded::Part, Decoded::Message)),
        }
    }

    fn decode_v2(
        &self,
        h: &Header,
        size_u: u32,
        size_c: u32,
        payload: &[u8],
    ) -> Result<Decoded, DecodeError> {
        // Receivers decompress whenever size_compressed is set, whatever the flag says (7.4).
        let declared = if size_c != 0 { size_c } else { size_u };
        if declared as usize != payload.len() {
            return Err(DecodeError::PayloadSize {
                declared: declared.into(),
                present: payload.len(),
            });
        }
        if size_c == 0 {
            let text = text_of(payload)?;
            self.check_len(text.len())?;
            return Ok(Decoded::Message(Message {
                id: h.id as u32,
                flags: h.flags,
                xml: text.to_vec(),
            }));
        }
        // The text with its NUL; checked against the bound before inflating anything.
        let text_len = (size_u as usize).saturating_sub(1);
        if text_len > self.max_message {
            return Err(DecodeError::TooLarge {
                len: text_len as u64,
                max: self.max_message,
            });
        }
        inflation(h, size_u as usize, payload).map(Decoded::Inflate)
    }

    fn decode_v3(
        &mut self,
        h: &Header,
        size: u32,
        part_id: u16,
        payload: &[u8],
    ) -> Result<Option<Message>, DecodeError> {
        if size as usize != payload.len() {
            return Err(DecodeError::PayloadSize {
                declared: size.into(),
                present: payload.len(),
            });
        }
        let text = text_of(payload)?;
        let order = |expected| DecodeError::PartOrder {
            id: h.id,
            part_id,
            expected,
        };
        let is_part = h.flags & (FLAG_MULTIPART | FLAG_MULTIPART_END) != 0;
        let last = h.flags & FLAG_MULTIPART_END != 0;
        let Some(p) = self.partial.as_mut() else {
            if !is_part {
                // A message in one piece.
                self.check_len(text.len())?;
                return Ok(Some(Message {
                    id: h.id as u32,
                    flags: h.flags,
                    xml: text.to_vec(),
                }));
            }
            // Only a first part (id 0, not marked last) may open a message.
            if part_id != 0 || last {
                return Err(order(None));
            }
            self.check_len(text.len())?;
            self.partial = Some(Partial {
                id: h.id,
                flags: h.flags & !FLAG_MULTIPART,
                next: 1,
                text: text.to_vec(),
            });
            return Ok(None);
        };
        // Later parts carry the first part's id and count up by one; a message in one piece
        // may not arrive while another is incomplete (Pacemaker refuses that too).
        if !is_part || p.id != h.id || p.next != part_id {
            return Err(order(Some(p.next)));
        }
        let len = p.text.len().saturating_add(text.len());
        if len > self.max_message {
            return Err(DecodeError::TooLarge {
                len: len as u64,
                max: self.max_message,
            });
        }
        p.text.extend_from_slice(text);
        if !last {
            p.next = p.next.checked_add(1).ok_or(order(None))?;
            return Ok(None);
        }
        Ok(self.partial.take().map(|p| Message {
            id: p.id as u32,
            flags: p.flags,
            xml: p.text,
        }))
    }

    fn check_len(&self, len: usize) -> Result<(), DecodeError> {
        if len > self.max_message {
            return Err(DecodeError::TooLarge {
                len: len as u64,
                max: self.max_message,
            });
        }
        Ok(())
    }
}

#[cfg(feature = "bzip2")]
fn inflation(h: &Header, expected: usize, payload: &[u8]) -> Result<Inflation, DecodeError> {
    Ok(Inflation {
        id: h.id as u32,
        flags: h.flags,
        payload: payload.to_vec(),
        inflater: crate::bzip2::Inflater::new(expected),
    })
}

#[cfg(not(feature = "bzip2"))]
fn inflation(_h: &Header, _expected: usize, _payload: &[u8]) -> Result<Inflation, DecodeError> {
    Err(DecodeError::CompressionUnsupported)
}
