//! bzip2 payloads (feature `bzip2`): no Pacemaker sender compresses over TLS, but every
//! receiver accepts it (protocol.md 6.4), so we do too, with the size checked instead of
//! asserted.

use std::io::Read;

use super::Error;

/// Inflates `data`, which must give exactly `expected` bytes; reads at most one byte more,
/// so a lying size costs no more memory than the limit already allowed.
pub(super) fn decompress(data: &[u8], expected: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(expected.min(64 * 1024));
    let decoder = ::bzip2::read::BzDecoder::new(data);
    decoder
        .take(expected as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::BadCompressedPayload(e.to_string()))?;
    if out.len() != expected {
        return Err(Error::BadCompressedPayload(format!(
            "inflates to {}{} bytes, header says {expected}",
            if out.len() > expected {
                "more than "
            } else {
                ""
            },
            out.len().min(expected)
        )));
    }
    Ok(out)
}

/// Compresses for tests that play a compressing peer.
#[cfg(test)]
pub(super) fn compress_for_tests(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = ::bzip2::write::BzEncoder::new(Vec::new(), ::bzip2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
