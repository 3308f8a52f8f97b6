//! Bytes in, whole frames out.
//!
//! Plaintext arrives in pieces that follow TLS records, not frames: a header may be split,
//! and (unlike the C reader, protocol.md 6.6) bytes after one frame are kept for the next.
//! The buffer never holds more than one frame, and a frame's size is checked against the
//! limit as soon as its header is complete. "Not enough bytes yet" is `Ok(None)`.

use super::header::{Header, HEADER_LEN};
use super::{decompress, Error};

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The decoded header.
    pub header: Header,
    /// The XML text, decompressed, cut at its first NUL as the C peers read it.
    pub payload: Vec<u8>,
}

/// Reassembles frames from a byte stream; one per connection.
#[derive(Debug)]
pub struct Deframer {
    max_message: usize,
    head: [u8; HEADER_LEN],
    head_len: usize,
    current: Option<Header>,
    body: Vec<u8>,
}

impl Deframer {
    /// A deframer refusing frames over `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Deframer {
            max_message,
            head: [0; HEADER_LEN],
            head_len: 0,
            current: None,
            body: Vec::new(),
        }
    }

    /// Takes bytes from `input` up to the end of the current frame at most. Returns how many
    /// bytes were used and the frame if one is now complete; call again with the rest.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<Frame>), Error> {
        let mut used = 0;
        if self.current.is_none() {
            let take = (HEADER_LEN - self.head_len).min(input.len());
            self.head[self.head_len..self.head_len + take].copy_from_slice(&input[..take]);
            self.head_len += take;
            used += take;
            if self.head_len < HEADER_LEN {
                return Ok((used, None));
            }
            let header = Header::parse(&self.head, self.max_message)?;
            self.current = Some(header);
            self.body.clear();
        }
        let Some(header) = self.current else {
            return Ok((used, None));
        };
        let want = header.wire_payload_len() - self.body.len();
        let take = want.min(input.len() - used);
        // Grows with the bytes that actually arrive, never by the size a header claims.
        self.body.extend_from_slice(&input[used..used + take]);
        used += take;
        if self.body.len() < header.wire_payload_len() {
            return Ok((used, None));
        }
        self.current = None;
        self.head_len = 0;
        let raw = std::mem::take(&mut self.body);
        let mut payload = if header.payload_compressed > 0 {
            decompress(&raw, header.payload_uncompressed as usize)?
        } else {
            raw
        };
        // The text ends at its first NUL, as C string handling reads it.
        if let Some(nul) = payload.iter().position(|&b| b == 0) {
            payload.truncate(nul);
        }
        Ok((used, Some(Frame { header, payload })))
    }

    /// True when no partial frame is buffered; a peer that closes now loses nothing.
    pub fn is_idle(&self) -> bool {
        self.head_len == 0 && self.current.is_none()
    }

    /// Bytes currently held for the frame in progress.
    pub fn buffered(&self) -> usize {
        self.head_len + self.body.len()
    }
}

/// Builds the two parts of an outgoing frame: the header (sent as its own TLS record) and
/// the payload with its terminating NUL.
pub fn encode(id: u64, xml: &[u8]) -> ([u8; HEADER_LEN], Vec<u8>) {
    let mut payload = Vec::with_capacity(xml.len() + 1);
    payload.extend_from_slice(xml);
    payload.push(0);
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX - HEADER_LEN as u32);
    (Header::for_payload(id, len).emit(), payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_bytes(xml: &str) -> Vec<u8> {
        let (h, p) = encode(1, xml.as_bytes());
        [h.as_slice(), &p].concat()
    }

    fn feed_all(d: &mut Deframer, mut input: &[u8]) -> Result<Vec<Frame>, Error> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            if input.is_empty() {
                break;
            }
            let (used, f) = d.feed(input)?;
            input = &input[used..];
            out.extend(f);
        }
        Ok(out)
    }

    #[test]
    fn frames_split_anywhere_reassemble() {
        let bytes = [frame_bytes("<a/>"), frame_bytes("<bb x=\"1\"/>")].concat();
        for chunk in [1, 2, 39, 40, 41, 45, 1000] {
            let mut d = Deframer::new(1 << 20);
            let mut got = Vec::new();
            for piece in bytes.chunks(chunk) {
                got.extend(feed_all(&mut d, piece).unwrap());
            }
            let texts: Vec<_> = got.iter().map(|f| f.payload.as_slice()).collect();
            assert_eq!(texts, [&b"<a/>"[..], b"<bb x=\"1\"/>"], "chunk {chunk}");
            assert!(d.is_idle());
        }
    }

    #[test]
    fn two_frames_in_one_read_are_both_kept() {
        let bytes = [frame_bytes("<p1/>"), frame_bytes("<p2/>")].concat();
        let mut d = Deframer::new(1 << 20);
        assert_eq!(feed_all(&mut d, &bytes).unwrap().len(), 2);
    }

    #[test]
    fn payload_is_cut_at_the_first_nul() {
        let (mut h, _) = encode(1, b"<a/>\0junk");
        h[36..40].copy_from_slice(&10u32.to_ne_bytes());
        h[24..28].copy_from_slice(&50u32.to_ne_bytes());
        let bytes = [h.as_slice(), b"<a/>\0junk\0"].concat();
        let f = feed_all(&mut Deframer::new(1 << 20), &bytes).unwrap();
        assert_eq!(f[0].payload, b"<a/>");
    }

    #[test]
    fn a_huge_size_field_allocates_nothing() {
        let h = Header {
            size_total: 0x8000_0000,
            payload_uncompressed: 0x8000_0000 - 40,
            ..Header::for_payload(1, 1)
        };
        let mut d = Deframer::new(1 << 20);
        assert!(matches!(d.feed(&h.emit()), Err(Error::TooLarge { .. })));
        assert!(d.buffered() <= HEADER_LEN);
    }

    #[test]
    fn a_truncated_frame_stays_pending() {
        let bytes = frame_bytes("<abc/>");
        let mut d = Deframer::new(1 << 20);
        assert!(feed_all(&mut d, &bytes[..bytes.len() - 1])
            .unwrap()
            .is_empty());
        assert!(!d.is_idle());
    }

    #[cfg(feature = "bzip2")]
    #[test]
    fn compressed_payloads_are_inflated() {
        let text = b"<lrmd_command lrmd_op=\"lrmd_rsc_poke\"/>\0";
        let packed = crate::bzip2::compress(text, 4096).unwrap();
        let h = Header {
            size_total: 40 + packed.len() as u32,
            payload_compressed: packed.len() as u32,
            ..Header::for_payload(1, text.len() as u32)
        };
        let bytes = [h.emit().as_slice(), &packed].concat();
        let f = feed_all(&mut Deframer::new(1 << 20), &bytes).unwrap();
        assert_eq!(f[0].payload, &text[..text.len() - 1]);
        // A size that does not match the inflated text is refused, not trusted.
        let h = Header {
            payload_uncompressed: 10,
            ..h
        };
        let bytes = [h.emit().as_slice(), &packed].concat();
        let e = feed_all(&mut Deframer::new(1 << 20), &bytes).unwrap_err();
        assert!(matches!(e, Error::BadCompressedPayload(_)), "{e}");
    }
}
