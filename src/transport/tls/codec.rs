//! Byte-level reading and writing of TLS structures (RFC 8446 §3), and the code points we use.
//!
//! In: untrusted byte slices. Out: integers and borrowed sub-slices, or a decode error that
//! names the field. Writers append to a `Vec<u8>` and patch length prefixes afterwards.
//! Never panics on any input and never allocates from a length the peer declared.

use super::error::Error;

/// Record content types (RFC 8446 §5.1).
pub(super) mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
}

/// Handshake message types (RFC 8446 §4).
pub(super) mod handshake {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const FINISHED: u8 = 20;
    pub const KEY_UPDATE: u8 = 24;
    /// Synthetic message that replaces ClientHello1 in the transcript after a retry (§4.4.1).
    pub const MESSAGE_HASH: u8 = 254;
}

/// Extension types (RFC 8446 §4.2, RFC 8449).
pub(super) mod ext {
    pub const SUPPORTED_GROUPS: u16 = 10;
    pub const RECORD_SIZE_LIMIT: u16 = 28;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const COOKIE: u16 = 44;
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    pub const KEY_SHARE: u16 = 51;
}

/// The TLS 1.3 version code point in supported_versions.
pub(super) const TLS13: u16 = 0x0304;
/// legacy_version and legacy_record_version of every TLS 1.3 message we send.
pub(super) const LEGACY_VERSION: u16 = 0x0303;
/// Handshake message header: type (1) and length (3).
pub(super) const HANDSHAKE_HEADER_LEN: usize = 4;

/// A cursor over untrusted bytes; every read is bounds-checked.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Takes exactly `n` bytes, or fails naming `what`.
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or(Error::decode(what))?;
        let out = self.buf.get(self.pos..end).ok_or(Error::decode(what))?;
        self.pos = end;
        Ok(out)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }

    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        let b = self.take(2, what)?;
        Ok(b.iter().fold(0u16, |acc, x| (acc << 8) | u16::from(*x)))
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        let b = self.take(4, what)?;
        Ok(b.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x)))
    }

    /// A vector with a one-byte length prefix.
    pub(super) fn vec8(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    /// A vector with a two-byte length prefix.
    pub(super) fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    /// Offset of the next unread byte from the start of the buffer.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Fails unless every byte was consumed; trailing bytes are a decode error (RFC 8446 §4).
    pub(super) fn finish(&self, what: &'static str) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::decode(what))
        }
    }
}

/// Splits a list of big-endian u16 values; odd lengths are a decode error.
pub(super) fn u16_list(bytes: &[u8], what: &'static str) -> Result<Vec<u16>, Error> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Error::decode(what));
    }
    Ok(bytes
        .chunks_exact(2)
        .map(|c| c.iter().fold(0u16, |acc, x| (acc << 8) | u16::from(*x)))
        .collect())
}

pub(super) fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// A length prefix written as zeros, patched by `end_vec` once the contents are known.
pub(super) struct LengthPrefix {
    at: usize,
    width: usize,
}

/// Starts a vector with a `width`-byte length prefix (1, 2 or 3).
pub(super) fn begin_vec(out: &mut Vec<u8>, width: usize) -> LengthPrefix {
    let at = out.len();
    out.resize(at + width, 0);
    LengthPrefix { at, width }
}

/// Patches the prefix with the number of bytes written since `begin_vec`.
///
/// Only our own messages pass through here, and all of them are far below each width's range.
pub(super) fn end_vec(out: &mut [u8], prefix: LengthPrefix) {
    let len = out.len().saturating_sub(prefix.at + prefix.width);
    let bytes = (len as u32).to_be_bytes();
    let src = bytes.get(4 - prefix.width..).unwrap_or(&[]);
    if let Some(dst) = out.get_mut(prefix.at..prefix.at + prefix.width) {
        dst.copy_from_slice(src);
    }
}

/// Builds a handshake message: type, u24 length, body.
pub(super) fn handshake_message(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HANDSHAKE_HEADER_LEN + body.len());
    out.push(typ);
    let prefix = begin_vec(&mut out, 3);
    out.extend_from_slice(body);
    end_vec(&mut out, prefix);
    out
}

/// Appends one extension (type, u16 length, data).
pub(super) fn put_extension(out: &mut Vec<u8>, typ: u16, data: &[u8]) {
    put_u16(out, typ);
    let prefix = begin_vec(out, 2);
    out.extend_from_slice(data);
    end_vec(out, prefix);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reports_short_input() {
        let mut r = Reader::new(&[0x01, 0x02, 0x03]);
        assert_eq!(r.u16("a").unwrap(), 0x0102);
        assert_eq!(r.u16("b"), Err(Error::decode("b")));
        assert_eq!(r.u8("c").unwrap(), 3);
        assert!(r.finish("d").is_ok());
    }

    #[test]
    fn vectors_respect_declared_lengths() {
        let mut r = Reader::new(&[0x00, 0x02, 0xaa, 0xbb, 0x05, 0x01]);
        assert_eq!(r.vec16("v").unwrap(), &[0xaa, 0xbb]);
        assert!(r.vec8("w").is_err(), "declared 5 bytes, only 1 present");
    }

    #[test]
    fn handshake_message_has_u24_length() {
        let msg = handshake_message(20, &[7; 300]);
        assert_eq!(&msg[..4], &[20, 0x00, 0x01, 0x2c]);
        assert_eq!(msg.len(), 304);
    }

    #[test]
    fn odd_u16_list_is_rejected() {
        assert!(u16_list(&[1, 2, 3], "x").is_err());
        assert_eq!(u16_list(&[0x13, 0x03], "x").unwrap(), vec![0x1303]);
    }
}
