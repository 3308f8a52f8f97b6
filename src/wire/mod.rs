//! Plaintext bytes ⇄ frames: the 40-byte remote message header and its payload.
//!
//! In: decrypted bytes from a connection, in pieces of any size. Out: whole frames whose
//! payload is the XML text (decompressed, NUL removed), and the bytes of outgoing frames.
//! This layer knows nothing of XML, TLS or sockets, does no I/O, and checks every size
//! against the configured maximum before it allocates (protocol.md section 6).

pub mod deframer;
pub mod fit;
pub mod header;

pub use deframer::{Deframer, Frame};
pub use header::{Header, HEADER_LEN};

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The id for the next outgoing frame: one counter for the whole process, from 1, as the C
/// senders keep it (receivers ignore it).
pub fn next_frame_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Why a frame was refused; every one of these ends the connection (the stream cannot be
/// resynchronised, since frames carry no marker we could scan for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The first word is neither `0xBADADBBD` nor its byte swap.
    BadEndianMarker(u32),
    /// `payload_offset` is not 40, the only layout any Pacemaker version writes.
    BadPayloadOffset(u32),
    /// `size_total` does not equal header plus payload bytes.
    SizeMismatch {
        /// `size_total` from the header.
        total: u32,
        /// 40 plus the payload size the header claims.
        expected: u64,
    },
    /// The payload size is zero: a valid frame carries at least the terminating NUL.
    EmptyPayload,
    /// The frame, or its decompressed payload, is over `max_message_bytes`.
    TooLarge {
        /// Claimed size in bytes.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// The payload is bzip2-compressed but this build has no decompressor.
    CompressionNotBuilt,
    /// The compressed payload is not valid bzip2, or does not inflate to the claimed size.
    BadCompressedPayload(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadEndianMarker(v) => write!(
                f,
                "bad frame header: endian marker {v:#010x} is not 0xbadadbbd in either byte order"
            ),
            Error::BadPayloadOffset(o) => {
                write!(f, "bad frame header: payload offset {o} is not 40")
            }
            Error::SizeMismatch { total, expected } => write!(
                f,
                "bad frame header: total size {total} does not match header plus payload ({expected})"
            ),
            Error::EmptyPayload => write!(f, "bad frame header: empty payload"),
            Error::TooLarge { size, max } => write!(
                f,
                "frame of {size} bytes is over the limit of {max} (max_message_bytes)"
            ),
            Error::CompressionNotBuilt => write!(
                f,
                "frame payload is bzip2-compressed, which this build does not support \
                 (feature bzip2)"
            ),
            Error::BadCompressedPayload(why) => write!(f, "bad compressed payload: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// Inflates a bzip2 payload to exactly `expected` bytes.
fn decompress(data: &[u8], expected: usize) -> Result<Vec<u8>, Error> {
    #[cfg(feature = "bzip2")]
    {
        crate::bzip2::decompress(data, expected).map_err(Error::BadCompressedPayload)
    }
    #[cfg(not(feature = "bzip2"))]
    {
        let _ = (data, expected);
        Err(Error::CompressionNotBuilt)
    }
}
