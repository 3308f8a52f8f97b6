//! The fixed 40-byte header in front of every frame (protocol.md 6.1 and 6.2).
//!
//! Every field is written in the sender's native byte order; the receiver recognises a
//! foreign order by the endian marker and swaps each field as a whole. We write native order
//! too, as the C daemon does, so a big-endian node sends big-endian headers.

use super::Error;

/// Bytes in a header.
pub const HEADER_LEN: usize = 40;
/// The endian marker in the sender's order.
pub const ENDIAN_MARKER: u32 = 0xBADA_DBBD;
/// The only version any Pacemaker release writes.
pub const VERSION: u32 = 1;

/// A decoded header, fields in host order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version; receivers ignore it (protocol.md 6.3).
    pub version: u32,
    /// The sender's message counter; informational.
    pub id: u64,
    /// Always 0; no flags are defined.
    pub flags: u64,
    /// Header plus payload bytes on the wire.
    pub size_total: u32,
    /// Always 40.
    pub payload_offset: u32,
    /// Bytes of the bzip2 payload, or 0 when the payload is plain.
    pub payload_compressed: u32,
    /// Bytes of the plain payload, terminating NUL included.
    pub payload_uncompressed: u32,
    /// The sender's byte order was the opposite of ours.
    pub swapped: bool,
}

impl Header {
    /// A header for a plain payload of `payload_len` bytes (NUL included).
    pub fn for_payload(id: u64, payload_len: u32) -> Header {
        Header {
            version: VERSION,
            id,
            flags: 0,
            size_total: HEADER_LEN as u32 + payload_len,
            payload_offset: HEADER_LEN as u32,
            payload_compressed: 0,
            payload_uncompressed: payload_len,
            swapped: false,
        }
    }

    /// Decodes and checks a header. Checks what Pacemaker 3.x checks (offset, total size)
    /// and the size bound, so a lying header is refused before anything is allocated.
    pub fn parse(bytes: &[u8; HEADER_LEN], max_message: usize) -> Result<Header, Error> {
        let marker = u32::from_ne_bytes(word(bytes, 0));
        let swapped = match marker {
            ENDIAN_MARKER => false,
            m if m.swap_bytes() == ENDIAN_MARKER => true,
            m => return Err(Error::BadEndianMarker(m)),
        };
        let u32_at = |at: usize| {
            let v = u32::from_ne_bytes(word(bytes, at));
            if swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let u64_at = |at: usize| {
            let v = u64::from_ne_bytes(dword(bytes, at));
            if swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let h = Header {
            version: u32_at(4),
            id: u64_at(8),
            flags: u64_at(16),
            size_total: u32_at(24),
            payload_offset: u32_at(28),
            payload_compressed: u32_at(32),
            payload_uncompressed: u32_at(36),
            swapped,
        };
        h.validate(max_message)?;
        Ok(h)
    }

    fn validate(&self, max_message: usize) -> Result<(), Error> {
        if self.payload_offset as usize != HEADER_LEN {
            return Err(Error::BadPayloadOffset(self.payload_offset));
        }
        let on_wire = if self.payload_compressed > 0 {
            self.payload_compressed
        } else {
            self.payload_uncompressed
        };
        let expected = HEADER_LEN as u64 + u64::from(on_wire);
        if u64::from(self.size_total) != expected {
            return Err(Error::SizeMismatch {
                total: self.size_total,
                expected,
            });
        }
        if self.payload_uncompressed == 0 {
            return Err(Error::EmptyPayload);
        }
        // Both the bytes on the wire and the inflated text must fit.
        let biggest = expected.max(HEADER_LEN as u64 + u64::from(self.payload_uncompressed));
        if biggest > max_message as u64 {
            return Err(Error::TooLarge {
                size: biggest,
                max: max_message,
            });
        }
        Ok(())
    }

    /// Bytes of payload that follow this header on the wire.
    pub fn wire_payload_len(&self) -> usize {
        (self.size_total as usize).saturating_sub(HEADER_LEN)
    }

    /// Encodes in our native byte order, as every Pacemaker sender does.
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&ENDIAN_MARKER.to_ne_bytes());
        out[4..8].copy_from_slice(&self.version.to_ne_bytes());
        out[8..16].copy_from_slice(&self.id.to_ne_bytes());
        out[16..24].copy_from_slice(&self.flags.to_ne_bytes());
        out[24..28].copy_from_slice(&self.size_total.to_ne_bytes());
        out[28..32].copy_from_slice(&self.payload_offset.to_ne_bytes());
        out[32..36].copy_from_slice(&self.payload_compressed.to_ne_bytes());
        out[36..40].copy_from_slice(&self.payload_uncompressed.to_ne_bytes());
        out
    }

    /// Encodes in the opposite byte order; for tests that play a foreign-endian peer.
    pub fn emit_swapped(&self) -> [u8; HEADER_LEN] {
        let mut out = self.emit();
        for (at, len) in [
            (0, 4),
            (4, 4),
            (8, 8),
            (16, 8),
            (24, 4),
            (28, 4),
            (32, 4),
            (36, 4),
        ] {
            out[at..at + len].reverse();
        }
        out
    }
}

fn word(b: &[u8; HEADER_LEN], at: usize) -> [u8; 4] {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

fn dword(b: &[u8; HEADER_LEN], at: usize) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&b[at..at + 8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The register request header captured from an x86 cluster node (protocol.md 6.1).
    const CAPTURED: [u8; 40] = [
        0xbd, 0xdb, 0xda, 0xba, 0x01, 0, 0, 0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0xf6, 0, 0, 0, 0x28, 0, 0, 0, 0, 0, 0, 0, 0xce, 0, 0, 0,
    ];

    #[test]
    fn captured_little_endian_header_decodes_on_any_host() {
        let h = Header::parse(&CAPTURED, 1 << 20).unwrap();
        assert_eq!((h.version, h.id, h.size_total), (1, 63, 246));
        assert_eq!(
            (
                h.payload_offset,
                h.payload_compressed,
                h.payload_uncompressed
            ),
            (40, 0, 206)
        );
        assert_eq!(h.swapped, cfg!(target_endian = "big"));
    }

    #[test]
    fn native_and_swapped_headers_round_trip() {
        let h = Header::for_payload(7, 206);
        assert_eq!(Header::parse(&h.emit(), 1 << 20).unwrap(), h);
        let s = Header::parse(&h.emit_swapped(), 1 << 20).unwrap();
        assert!(s.swapped);
        assert_eq!(
            Header {
                swapped: false,
                ..s
            },
            h
        );
        if cfg!(target_endian = "little") {
            assert_eq!(h.emit()[..4], [0xbd, 0xdb, 0xda, 0xba]);
        }
    }

    #[test]
    fn lying_headers_are_refused_before_allocation() {
        let mut h = Header::for_payload(1, 100);
        let cases: Vec<(Header, &str)> = vec![
            (
                Header {
                    payload_offset: 48,
                    ..h
                },
                "payload offset 48",
            ),
            (
                Header {
                    size_total: 41,
                    ..h
                },
                "does not match",
            ),
            (
                Header {
                    payload_uncompressed: 0,
                    size_total: 40,
                    ..h
                },
                "empty payload",
            ),
            (
                Header {
                    size_total: 0xF000_0000,
                    payload_uncompressed: 0xF000_0000 - 40,
                    ..h
                },
                "over the limit of 1048576",
            ),
            (
                Header {
                    payload_compressed: 10,
                    size_total: 50,
                    payload_uncompressed: 0x7fff_ffff,
                    ..h
                },
                "over the limit",
            ),
        ];
        for (bad, want) in cases {
            let e = Header::parse(&bad.emit(), 1 << 20).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
        h.version = 9;
        assert!(
            Header::parse(&h.emit(), 1 << 20).is_ok(),
            "version is informational"
        );
        let mut garbage = h.emit();
        garbage[..4].copy_from_slice(b"SSH-");
        let e = Header::parse(&garbage, 1 << 20).unwrap_err();
        assert!(matches!(e, Error::BadEndianMarker(_)));
    }
}
