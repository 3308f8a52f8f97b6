//! Reassembles handshake messages from record fragments (RFC 8446 §5.1: a message may span
//! records, and one record may carry several messages).
//!
//! In: the plaintext of handshake records. Out: whole messages (header included, as the
//! transcript needs them). Never holds more than one message of `MAX_HANDSHAKE_MESSAGE` plus
//! one record; the declared length is checked before anything of it is buffered.

use super::codec::HANDSHAKE_HEADER_LEN;
use super::error::{Error, Malformed};
use super::record::MAX_FRAGMENT_LEN;

/// Largest handshake message we accept. A ClientHello from GnuTLS is about 500 bytes; 64 KiB
/// leaves room for padding extensions and many identities without letting a peer make us
/// buffer more.
pub(super) const MAX_HANDSHAKE_MESSAGE: usize = 64 * 1024;

#[derive(Default)]
pub(super) struct HandshakeJoiner {
    buf: Vec<u8>,
}

impl HandshakeJoiner {
    /// Adds one record's worth of handshake bytes.
    pub(super) fn push(&mut self, fragment: &[u8]) -> Result<(), Error> {
        // RFC 8446 §5.1: handshake records are never empty.
        if fragment.is_empty() {
            return Err(Error::unexpected("empty handshake record"));
        }
        if fragment.len() > MAX_FRAGMENT_LEN
            || self.buf.len() + fragment.len()
                > HANDSHAKE_HEADER_LEN + MAX_HANDSHAKE_MESSAGE + MAX_FRAGMENT_LEN
        {
            return Err(Error::Malformed(Malformed::HandshakeTooLarge {
                len: self.buf.len() + fragment.len(),
                max: MAX_HANDSHAKE_MESSAGE,
            }));
        }
        self.buf.extend_from_slice(fragment);
        self.declared_len().map(|_| ())
    }

    /// The next complete message, if one is buffered.
    pub(super) fn pop(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let Some(body_len) = self.declared_len()? else {
            return Ok(None);
        };
        let total = HANDSHAKE_HEADER_LEN + body_len;
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        Ok(Some(std::mem::replace(&mut self.buf, rest)))
    }

    /// Whether part of a message is still waiting; a key change must not split a message
    /// (RFC 8446 §5.1).
    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn declared_len(&self) -> Result<Option<usize>, Error> {
        let [_, a, b, c, ..] = *self.buf.as_slice() else {
            return Ok(None);
        };
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        if len > MAX_HANDSHAKE_MESSAGE {
            return Err(Error::Malformed(Malformed::HandshakeTooLarge {
                len,
                max: MAX_HANDSHAKE_MESSAGE,
            }));
        }
        Ok(Some(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_split_over_one_byte_fragments() {
        let message = [1u8, 0, 0, 3, 9, 8, 7];
        let mut joiner = HandshakeJoiner::default();
        for (i, byte) in message.iter().enumerate() {
            joiner.push(&[*byte]).unwrap();
            let popped = joiner.pop().unwrap();
            assert_eq!(popped.is_some(), i == message.len() - 1);
            if let Some(m) = popped {
                assert_eq!(m, message);
            }
        }
        assert!(joiner.is_empty());
    }

    #[test]
    fn two_messages_in_one_fragment() {
        let mut joiner = HandshakeJoiner::default();
        joiner.push(&[20, 0, 0, 1, 5, 24, 0, 0, 1, 0]).unwrap();
        assert_eq!(joiner.pop().unwrap().unwrap(), [20, 0, 0, 1, 5]);
        assert_eq!(joiner.pop().unwrap().unwrap(), [24, 0, 0, 1, 0]);
        assert_eq!(joiner.pop().unwrap(), None);
    }

    #[test]
    fn oversized_declaration_is_rejected_before_buffering() {
        let mut joiner = HandshakeJoiner::default();
        let err = joiner.push(&[1, 0x01, 0x00, 0x01]).unwrap_err();
        assert_eq!(
            err,
            Error::Malformed(Malformed::HandshakeTooLarge {
                len: 65537,
                max: MAX_HANDSHAKE_MESSAGE
            })
        );
    }

    #[test]
    fn empty_fragment_is_unexpected() {
        assert!(HandshakeJoiner::default().push(&[]).is_err());
    }
}
