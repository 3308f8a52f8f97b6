//! bzip2 (feature `bzip2`): compressed frame payloads from cluster nodes (protocol.md 6.4) and
//! Pacemaker 2.x IPC payloads to and from node tools (libqb-ipc.md 7.4).
//!
//! In: text to compress under a size bound, or a compressed payload and the size its header
//! promises. Out: bytes, or `None`/an error. Never produces or reads more than the caller's
//! bound, whatever the peer's header says.

use std::io::Read;

use ::bzip2::{Action, Compress, Compression, Status};

/// Pacemaker's parameters for IPC compression: block size 4 (x100k), work factor 20.
#[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
const BLOCK_SIZE: u32 = 4;
#[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
const WORK_FACTOR: u32 = 20;

/// Compresses `text` into at most `max` bytes; `None` if it does not fit (the sender then
/// fails with EMSGSIZE, as Pacemaker does). Only the IPC proxy sends compressed data.
#[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
pub(crate) fn compress(text: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(max);
    let mut c = Compress::new(Compression::new(BLOCK_SIZE), WORK_FACTOR);
    // One Finish call with the whole input: it returns StreamEnd only when everything fit
    // into the capacity we gave; anything else means the bound was reached.
    match c.compress_vec(text, &mut out, Action::Finish) {
        Ok(Status::StreamEnd) if c.total_in() == text.len() as u64 => Some(out),
        _ => None,
    }
}

/// Inflates `data`, which must give exactly `expected` bytes; reads at most one byte more,
/// so a lying header costs no more memory than the caller's limit already allowed.
pub(crate) fn decompress(data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(expected.min(64 * 1024));
    ::bzip2::read::BzDecoder::new(data)
        .take(expected as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() != expected {
        return Err(format!(
            "inflates to {}{} bytes, header says {expected}",
            if out.len() > expected {
                "more than "
            } else {
                ""
            },
            out.len().min(expected)
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let text: Vec<u8> = b"<cib>".iter().cycle().take(300_000).copied().collect();
        let c = compress(&text, 10_000).unwrap();
        assert!(c.len() < 10_000);
        assert_eq!(decompress(&c, text.len()).unwrap(), text);
        assert!(decompress(&c, text.len() - 1).is_err());
        assert!(decompress(&c, text.len() + 1).is_err());
        assert!(compress(&text, 20).is_none());
        assert!(decompress(b"not bzip2", 5).is_err());
    }
}
