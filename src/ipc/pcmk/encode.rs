//! Responses and events out: XML text in, the datagrams that carry it (libqb-ipc.md 7.4,
//! 7.5).
//!
//! In: the text, the libqb id and flags, and the client's sizes. Out: one datagram (2.x,
//! compressed when large) or several parts (3.0.1+). Never builds a datagram larger than the
//! client's negotiated size.

use std::fmt;

use super::{
    encode_header, Framing, Header, Layout, FLAG_COMPRESSED, FLAG_MULTIPART, FLAG_MULTIPART_END,
    HEADER_LEN, VERSION,
};

/// Why a response or event cannot be sent to a client; our side (the size of what the
/// cluster gave us), not the client's fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// Even compressed, the message does not fit the negotiated size (Pacemaker: EMSGSIZE).
    TooLarge {
        /// Datagram bytes it would take.
        len: usize,
        /// The negotiated size.
        max: usize,
    },
    /// More parts than a 16-bit part id can number.
    TooManyParts {
        /// Text length.
        len: usize,
        /// Text bytes per part.
        per_part: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge { len, max } => write!(
                f,
                "{len}-byte datagram exceeds the negotiated {max} even after compression"
            ),
            EncodeError::TooManyParts { len, per_part } => write!(
                f,
                "{len}-byte message needs more than 65536 parts of {per_part} bytes"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Builds the datagrams of responses and events for one client.
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    framing: Framing,
    threshold: usize,
    max_datagram: usize,
}

/// The smallest buffer size an encoder accepts: a header, one text byte and its NUL.
pub const MIN_BUFFER: usize = HEADER_LEN + 2;

impl Encoder {
    /// `threshold`: compress (2.x) or split (3.x) from this datagram size on, as Pacemaker's
    /// servers do at their own buffer size; `max_datagram`: the negotiated size, never
    /// exceeded. The threshold is lowered to the maximum, and both to [`MIN_BUFFER`] at least.
    pub fn new(framing: Framing, threshold: usize, max_datagram: usize) -> Self {
        let max_datagram = max_datagram.max(MIN_BUFFER);
        Encoder {
            framing,
            threshold: threshold.clamp(MIN_BUFFER, max_datagram),
            max_datagram,
        }
    }

    /// The header layout this encoder writes.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The same sizes in another layout: set once a client's first request says which it
    /// speaks.
    pub fn with_framing(self, framing: Framing) -> Self {
        Encoder { framing, ..self }
    }

    /// The datagrams that carry `xml` (text without NUL) with libqb id `id` and `flags`.
    pub fn encode(&self, id: u32, flags: u32, xml: &[u8]) -> Result<Vec<Vec<u8>>, EncodeError> {
        match self.framing {
            Framing::Pacemaker2 => self.encode_v2(id as i32, flags, xml).map(|d| vec![d]),
            Framing::Pacemaker3 => self.encode_v3(id as i32, flags, xml),
        }
    }

    fn encode_v2(&self, id: i32, flags: u32, xml: &[u8]) -> Result<Vec<u8>, EncodeError> {
        let size_u = xml.len() + 1;
        let total = HEADER_LEN + size_u;
        let too_large = |len| EncodeError::TooLarge {
            len,
            max: self.max_datagram,
        };
        // A u32 size field bounds the text too.
        let size_u32 = u32::try_from(size_u).map_err(|_| too_large(total))?;
        if total < self.threshold {
            return Ok(datagram_v2(id, flags, size_u32, 0, &[xml, b"\0"]));
        }
        let mut text = Vec::with_capacity(size_u);
        text.extend_from_slice(xml);
        text.push(0);
        match compress(&text, self.max_datagram - HEADER_LEN) {
            Some(c) => Ok(datagram_v2(
                id,
                flags | FLAG_COMPRESSED,
                size_u32,
                c.len() as u32,
                &[&c],
            )),
            // Not compressible enough (or no bzip2 in this build): a plain message still goes
            // out if the client can take it; 2.x clients accept any size up to their buffer.
            None if total <= self.max_datagram => Ok(datagram_v2(id, flags, size_u32, 0, &[&text])),
            None => Err(too_large(total)),
        }
    }

    fn encode_v3(&self, id: i32, flags: u32, xml: &[u8]) -> Result<Vec<Vec<u8>>, EncodeError> {
        // Each part: header, at most threshold - 41 text bytes, NUL (libqb-ipc.md 7.5).
        let per_part = self.threshold - HEADER_LEN - 1;
        let parts = xml.len() / per_part + 1;
        if parts > usize::from(u16::MAX) + 1 {
            return Err(EncodeError::TooManyParts {
                len: xml.len(),
                per_part,
            });
        }
        let mut out = Vec::with_capacity(parts);
        let mut offset = 0;
        let mut part_id: u16 = 0;
        loop {
            let rest = &xml[offset..];
            // Same test as Pacemaker: a part is "full" when header + rest + NUL reaches the
            // threshold, so a message of exactly one full part still gets an empty last part.
            let (chunk, more) = if HEADER_LEN + rest.len() + 1 >= self.threshold {
                (&rest[..per_part], true)
            } else {
                (rest, false)
            };
            let part_flags = match (more, part_id) {
                (true, _) => flags | FLAG_MULTIPART,
                (false, 0) => flags,
                (false, _) => flags | FLAG_MULTIPART | FLAG_MULTIPART_END,
            };
            let size = chunk.len() + 1;
            let h = Header {
                id,
                size: (HEADER_LEN + size) as i32,
                flags: part_flags,
                version: VERSION,
                layout: Layout::V3 {
                    size: size as u32,
                    part_id,
                },
            };
            let mut d = Vec::with_capacity(HEADER_LEN + size);
            d.extend_from_slice(&encode_header(&h));
            d.extend_from_slice(chunk);
            d.push(0);
            out.push(d);
            offset += chunk.len();
            if !more {
                return Ok(out);
            }
            part_id = part_id.checked_add(1).ok_or(EncodeError::TooManyParts {
                len: xml.len(),
                per_part,
            })?;
        }
    }
}

pub(super) fn datagram_v2(
    id: i32,
    flags: u32,
    size_u: u32,
    size_c: u32,
    payload: &[&[u8]],
) -> Vec<u8> {
    let len = HEADER_LEN + payload.iter().map(|p| p.len()).sum::<usize>();
    let h = Header {
        id,
        size: len as i32,
        flags,
        version: VERSION,
        layout: Layout::V2 {
            size_uncompressed: size_u,
            size_compressed: size_c,
        },
    };
    let mut d = Vec::with_capacity(len);
    d.extend_from_slice(&encode_header(&h));
    for p in payload {
        d.extend_from_slice(p);
    }
    d
}

#[cfg(feature = "bzip2")]
fn compress(text: &[u8], max: usize) -> Option<Vec<u8>> {
    crate::bzip2::compress(text, max)
}

#[cfg(not(feature = "bzip2"))]
fn compress(_text: &[u8], _max: usize) -> Option<Vec<u8>> {
    None
}
