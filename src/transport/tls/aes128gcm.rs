//! AES-128-GCM record protection through ring's own AEAD API (RFC 8446 §5.2, §5.3).
//!
//! rustls 0.23's `AeadKey` only takes 32-byte keys and its AES-128 sealer panics on those
//! (tls-psk.md §2), so this suite is keyed here instead. In: a 16-byte key, a 12-byte IV and
//! records. Out: sealed records, or the inner type and unpadded content of opened ones.
//! Never accepts a protected change_cipher_spec or an all-zero inner plaintext.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};

use super::codec::{content, LEGACY_VERSION};
use super::error::{Error, Malformed};
use super::record::{Open, Seal, MAX_FRAGMENT_LEN};

const TAG_LEN: usize = 16;

pub(super) fn sealer(key: &[u8], iv: &[u8; 12]) -> Result<Box<dyn Seal>, Error> {
    Ok(Box::new(AesGcm::new(key, iv)?))
}

pub(super) fn opener(key: &[u8], iv: &[u8; 12]) -> Result<Box<dyn Open>, Error> {
    Ok(Box::new(AesGcm::new(key, iv)?))
}

struct AesGcm {
    key: LessSafeKey,
    iv: [u8; 12],
}

impl AesGcm {
    fn new(key: &[u8], iv: &[u8; 12]) -> Result<Self, Error> {
        let key = UnboundKey::new(&AES_128_GCM, key)
            .map_err(|_| Error::crypto("aes-128-gcm key length"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
            iv: *iv,
        })
    }

    /// The per-record nonce: the IV XOR the sequence number, left-padded (RFC 8446 §5.3).
    fn nonce(&self, seq: u64) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        Nonce::assume_unique_for_key(nonce)
    }
}

/// The additional data is the record header (RFC 8446 §5.2).
fn header(len: usize) -> [u8; 5] {
    let [v0, v1] = LEGACY_VERSION.to_be_bytes();
    let [l0, l1] = (len.min(usize::from(u16::MAX)) as u16).to_be_bytes();
    [content::APPLICATION_DATA, v0, v1, l0, l1]
}

impl Seal for AesGcm {
    fn seal(&mut self, inner_type: u8, payload: &[u8], seq: u64) -> Result<Vec<u8>, Error> {
        let sealed_len = payload.len() + 1 + TAG_LEN;
        let head = header(sealed_len);
        let mut record = Vec::with_capacity(head.len() + sealed_len);
        record.extend_from_slice(&head);
        record.extend_from_slice(payload);
        record.push(inner_type);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                self.nonce(seq),
                Aad::from(head),
                record.get_mut(head.len()..).unwrap_or(&mut []),
            )
            .map_err(|_| Error::crypto("record encryption failed"))?;
        record.extend_from_slice(tag.as_ref());
        Ok(record)
    }
}

impl Open for AesGcm {
    fn open<'a>(&mut self, payload: &'a mut [u8], seq: u64) -> Result<(u8, &'a [u8]), Error> {
        if payload.len() < TAG_LEN {
            return Err(Error::Malformed(Malformed::BadRecordMac));
        }
        let aad = Aad::from(header(payload.len()));
        let plain: &'a [u8] = self
            .key
            .open_in_place(self.nonce(seq), aad, payload)
            .map_err(|_| Error::Malformed(Malformed::BadRecordMac))?;
        // TLSInnerPlaintext: content, type, zero padding (RFC 8446 §5.2).
        let Some(type_at) = plain.iter().rposition(|b| *b != 0) else {
            return Err(Error::unexpected("all-zero inner plaintext"));
        };
        let inner_type = plain.get(type_at).copied().unwrap_or(0);
        if inner_type == content::CHANGE_CIPHER_SPEC {
            return Err(Error::unexpected("protected change_cipher_spec"));
        }
        if type_at > MAX_FRAGMENT_LEN {
            return Err(Error::Malformed(Malformed::RecordOverflow {
                len: type_at,
                max: MAX_FRAGMENT_LEN,
            }));
        }
        Ok((inner_type, plain.get(..type_at).unwrap_or(&[])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_padding_and_tamper() {
        let key = [3u8; 16];
        let iv = [5u8; 12];
        let mut seal = AesGcm::new(&key, &iv).unwrap();
        let mut open = AesGcm::new(&key, &iv).unwrap();
        let mut record = seal.seal(22, b"finished", 4).unwrap();
        assert_eq!(&record[..3], &[23, 3, 3]);
        assert_eq!(record.len(), 5 + 8 + 1 + 16);
        let (typ, plain) = open.open(&mut record[5..], 4).unwrap();
        assert_eq!((typ, plain), (22, &b"finished"[..]));

        let mut record = seal.seal(23, b"x", 5).unwrap();
        assert!(
            open.open(&mut record[5..], 6).is_err(),
            "wrong sequence number"
        );
    }

    #[test]
    fn rejects_wrong_key_length() {
        assert!(AesGcm::new(&[0u8; 32], &[0u8; 12]).is_err());
    }
}
