//! Pacemaker's 40-byte IPC header inside libqb messages (libqb-ipc.md 7), both layouts.
//!
//! In: whole request datagrams (already checked by `qb`), or XML text to send. Out: one
//! complete message (`decode`: decompressed or reassembled), or the datagrams that carry a
//! response or event (`encode`). No I/O. Sizes are checked before anything is allocated,
//! reassembly is bounded, and nothing built here ever exceeds the negotiated size.

use super::qb;

mod decode;
mod encode;

pub use decode::{DecodeError, Decoded, Decoder, Inflation, Message};
pub use encode::{EncodeError, Encoder, MIN_BUFFER};

/// Pacemaker's header: 24-byte libqb response header plus 16 bytes of its own.
pub const HEADER_LEN: usize = 40;
/// The only header version there is (both layouts say 1, libqb-ipc.md 7.2).
pub const VERSION: u8 = 1;

/// 2.x: the payload is bzip2-compressed (receivers look at `size_compressed` instead).
pub const FLAG_COMPRESSED: u32 = 0x1;
/// The message came through a proxy; replies to such clients go out as events.
pub const FLAG_PROXIED: u32 = 0x100;
/// The client waits for a response to this request.
pub const FLAG_CLIENT_RESPONSE: u32 = 0x200;
/// Set on events; Pacemaker's servers copy it into the wire header.
pub const FLAG_SERVER_EVENT: u32 = 0x10000;
/// Internal to Pacemaker's server, also copied to the wire.
pub const FLAG_SERVER_FREE: u32 = 0x20000;
/// A response that travels as an event to a proxied client.
pub const FLAG_PROXIED_RELAY_RESPONSE: u32 = 0x40000;
/// 3.0.1+: this datagram is one part of a longer message.
pub const FLAG_MULTIPART: u32 = 1 << 19;
/// 3.0.1+: the last part of a multipart message.
pub const FLAG_MULTIPART_END: u32 = 1 << 20;

/// Which header layout a client's Pacemaker library uses. Told apart per client from its
/// first request ([`detect`]), unless the setting fixes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// Pacemaker 2.x up to 3.0.0: sizes, flags, version; bzip2 for large messages. The
    /// default before a client's first request says otherwise, and for a request that fits
    /// neither layout: an uncompressed 2.x message also reads correctly as 3.0.1+ (only its
    /// flags are lost), while a 3.0.1+ header read as 2.x looks compressed (libqb-ipc.md 7.2).
    #[default]
    Pacemaker2,
    /// Pacemaker 3.0.1 and later: size, flags, version, part id; large messages in parts.
    Pacemaker3,
}

/// The per-layout part of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 2.x: `size_uncompressed` (text plus NUL) and `size_compressed` (0 if plain).
    V2 {
        /// Text length including its NUL.
        size_uncompressed: u32,
        /// Length of the bzip2 payload, or 0.
        size_compressed: u32,
    },
    /// 3.0.1+: the payload of this part (text plus NUL) and its index.
    V3 {
        /// This part's text length including its NUL.
        size: u32,
        /// Index of this part, from 0.
        part_id: u16,
    },
}

/// One Pacemaker header, either layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// libqb id: the request counter, or the event counter.
    pub id: i32,
    /// libqb size: the whole datagram.
    pub size: i32,
    /// Pacemaker flags (`FLAG_*`).
    pub flags: u32,
    /// Header version; receivers refuse anything above [`VERSION`].
    pub version: u8,
    /// Layout-specific sizes.
    pub layout: Layout,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// Which layout a request is in, from its first [`HEADER_LEN`] bytes (libqb-ipc.md 7.2).
///
/// The version byte is 1 in both layouts but sits at offset 36 in 2.x and at offset 32 in
/// 3.0.1+, where offset 36 begins the struct's zeroed tail padding; the payload size must
/// also agree with libqb's size field in that layout (2.x: the compressed size when set,
/// else the plain one; 3.0.1+: this part's size). A header fits at most one layout, as byte
/// 36 is 1 in one and 0 in the other. `None`: it fits neither (not a Pacemaker 2.x or 3.x
/// client, or a layout newer than this code).
pub fn detect(b: &[u8]) -> Option<Framing> {
    if b.len() < HEADER_LEN {
        return None;
    }
    let total = i32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
    let payload = u32::try_from(total).ok()?.checked_sub(HEADER_LEN as u32)?;
    let (first, second) = (u32_at(b, 24), u32_at(b, 28));
    let v2 = b[36] == VERSION
        && b[37..40] == [0; 3]
        && (if second == 0 { first } else { second }) == payload;
    let v3 = b[32] == VERSION && b[33] == 0 && b[36..40] == [0; 4] && first == payload;
    match (v2, v3) {
        (true, false) => Some(Framing::Pacemaker2),
        (false, true) => Some(Framing::Pacemaker3),
        _ => None,
    }
}

/// Reads a header in the given layout; `b` must hold at least [`HEADER_LEN`] bytes.
pub fn decode_header(framing: Framing, b: &[u8]) -> Result<Header, DecodeError> {
    if b.len() < HEADER_LEN {
        return Err(DecodeError::Short { len: b.len() });
    }
    let (id, size, _error) = qb::decode_response_header(b).map_err(DecodeError::Qb)?;
    Ok(match framing {
        Framing::Pacemaker2 => Header {
            id,
            size,
            flags: u32_at(b, 32),
            version: b[36],
            layout: Layout::V2 {
                size_uncompressed: u32_at(b, 24),
                size_compressed: u32_at(b, 28),
            },
        },
        Framing::Pacemaker3 => Header {
            id,
            size,
            flags: u32_at(b, 28),
            version: b[32],
            layout: Layout::V3 {
                size: u32_at(b, 24),
                part_id: u16::from_ne_bytes([b[34], b[35]]),
            },
        },
    })
}

/// Writes a header; padding bytes are zero and the libqb error field is 0.
pub fn encode_header(h: &Header) -> [u8; HEADER_LEN] {
    let mut b = [0u8; HEADER_LEN];
    b[..qb::RESPONSE_HEADER_LEN].copy_from_slice(&qb::encode_response_header(h.id, h.size, 0));
    match h.layout {
        Layout::V2 {
            size_uncompressed,
            size_compressed,
        } => {
            b[24..28].copy_from_slice(&size_uncompressed.to_ne_bytes());
            b[28..32].copy_from_slice(&size_compressed.to_ne_bytes());
            b[32..36].copy_from_slice(&h.flags.to_ne_bytes());
            b[36] = h.version;
        }
        Layout::V3 { size, part_id } => {
            b[24..28].copy_from_slice(&size.to_ne_bytes());
            b[28..32].copy_from_slice(&h.flags.to_ne_bytes());
            b[32] = h.version;
            b[34..36].copy_from_slice(&part_id.to_ne_bytes());
        }
    }
    b
}

/// Fuzz entry point. The first byte picks the layout (bit 0), whether the decoder detects it
/// from the first datagram instead, as for a client whose version is not configured (bit 7),
/// and a buffer size (bits 1-6); the rest is a run of datagrams, each prefixed by a 2-byte
/// length. Every header reads back the same once written ([`encode_header`]), and a layout
/// [`detect`] recognises is still recognised in it. Every decoded message must re-encode and
/// decode to the same text; a compressed one is inflated in small slices, never past what
/// its header claimed, and what the decoder says it will hold covers what it then holds.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let framing = if sel & 1 == 0 {
        Framing::Pacemaker2
    } else {
        Framing::Pacemaker3
    };
    let buffer = MIN_BUFFER + usize::from((sel >> 1) & 0x3f) * 97;
    let max_message = 1 << 20;
    let mut dec = if sel & 0x80 == 0 {
        Decoder::new(framing, max_message)
    } else {
        Decoder::detecting(max_message)
    };
    while rest.len() >= 2 {
        let len = usize::from(u16::from_ne_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (d, tail) = rest[2..].split_at(len);
        rest = tail;
        fuzz_header(d);
        let demand = dec.demand(&d[..d.len().min(HEADER_LEN)], 0);
        let m = match dec.feed(d) {
            Ok(decode::Decoded::Message(m)) => m,
            Ok(decode::Decoded::Part) => {
                assert!(dec.pending() <= demand.max(d.len()));
                continue;
            }
            Ok(decode::Decoded::Inflate(mut job)) => {
                let got = loop {
                    match job.step(4096) {
                        Ok(None) => assert!(job.produced() <= demand),
                        Ok(Some(m)) => break Some(m),
                        Err(_) => break None,
                    }
                };
                match got {
                    Some(m) => {
                        assert!(m.xml.len() < demand);
                        m
                    }
                    None => continue,
                }
            }
            Err(_) => continue,
        };
        assert!(m.xml.len() <= max_message && !m.xml.contains(&0));
        // A detecting decoder has fixed its layout on the first datagram.
        let framing = dec.framing().expect("a fed decoder knows its layout");
        let enc = Encoder::new(framing, buffer, buffer);
        let Ok(parts) = enc.encode(
            m.id,
            m.flags & !(FLAG_MULTIPART | FLAG_MULTIPART_END),
            &m.xml,
        ) else {
            continue;
        };
        let mut back = Decoder::new(framing, max_message);
        let mut got = None;
        for p in &parts {
            assert!(p.len() <= buffer);
            got = back.decode(p).expect("own encoding decodes");
        }
        assert_eq!(got.map(|g| g.xml), Some(m.xml));
    }
}

/// The header half of [`fuzz_decode`]: both layouts read what they wrote, and detection
/// survives the rewrite (which zeroes padding and the libqb error field).
fn fuzz_header(d: &[u8]) {
    for framing in [Framing::Pacemaker2, Framing::Pacemaker3] {
        let Ok(h) = decode_header(framing, d) else {
            assert!(d.len() < HEADER_LEN);
            return;
        };
        let written = encode_header(&h);
        assert_eq!(decode_header(framing, &written), Ok(h));
        if detect(d) == Some(framing) {
            assert_eq!(detect(&written), Some(framing));
        }
    }
}

#[cfg(test)]
mod tests;
