//! The only file of the PSK engine that names `rustls` (X.509 mode, `x509/`, is rustls's own
//! server): SHA-256, HMAC, HKDF-Expand, X25519/P-256, randomness and ChaCha20-Poly1305 record
//! protection, all from rustls 0.23's public crypto-provider API with the ring backend
//! (tls-psk.md §2).
//!
//! In: byte slices and fixed-size secrets. Out: digests, shared secrets, sealed records.
//! rustls's errors are mapped to ours here so no other file depends on its types, which change
//! in 0.24. Never uses `rustls::internal`; never logs.

use std::sync::OnceLock;

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, MessageDecrypter, MessageEncrypter, OutboundPlainMessage,
};
use rustls::crypto::hash::Context;
use rustls::crypto::tls13::OkmBlock;
use rustls::crypto::{ActiveKeyExchange, SupportedKxGroup};
use rustls::{ContentType, NamedGroup, ProtocolVersion, Tls13CipherSuite};
use zeroize::Zeroizing;

use super::config::KxGroup;
use super::error::{Error, Malformed};
use super::record::{Open, Seal};

/// SHA-256 output length: every secret and MAC here has this size.
pub(super) const HASH_LEN: usize = 32;
/// A SHA-256 digest or HMAC-SHA-256 tag.
pub(super) type Digest = [u8; HASH_LEN];

/// SHA-256 of `data`.
pub(super) fn hash(data: &[u8]) -> Digest {
    to_digest(suite().common.hash_provider.hash(data).as_ref())
}

/// HMAC-SHA-256; `key` is at most 64 bytes (a salt or a secret, never the PSK).
pub(super) fn hmac(key: &[u8], message: &[u8]) -> Digest {
    let tag = suite()
        .hkdf_provider
        .hmac_sign(&OkmBlock::new(key), message);
    to_digest(tag.as_ref())
}

/// HKDF-Expand(PRK, info, L) with `L = out.len()` (RFC 5869 §2.3).
pub(super) fn hkdf_expand(prk: &Digest, info: &[&[u8]], out: &mut [u8]) -> Result<(), Error> {
    suite()
        .hkdf_provider
        .expander_for_okm(&OkmBlock::new(prk))
        .expand_slice(info, out)
        .map_err(|_| Error::crypto("hkdf output too long"))
}

/// Fills `out` from the provider's secure random source.
pub(super) fn fill_random(out: &mut [u8]) -> Result<(), Error> {
    // The same source rustls's ring provider uses (getrandom), named directly: going through
    // `default_provider()` links its RSA and ECDSA signers and key loaders too, which PSK
    // never uses (about 20 KB on armv7).
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), out)
        .map_err(|_| Error::crypto("random source failed"))
}

/// A running SHA-256 over the handshake transcript (RFC 8446 §4.4.1).
pub(super) struct Transcript(Box<dyn Context>);

impl Transcript {
    pub(super) fn new() -> Self {
        Self(suite().common.hash_provider.start())
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// Hash of everything so far; the transcript goes on.
    pub(super) fn current(&self) -> Digest {
        to_digest(self.0.fork_finish().as_ref())
    }

    /// An independent copy, for hashing a truncated ClientHello without disturbing this one.
    pub(super) fn fork(&self) -> Self {
        Self(self.0.fork())
    }
}

/// Our half of an (EC)DHE exchange; consumed by `complete`.
pub(super) struct KeyExchange(Box<dyn ActiveKeyExchange>);

impl KeyExchange {
    pub(super) fn start(group: KxGroup) -> Result<Self, Error> {
        let found: &dyn SupportedKxGroup = match group {
            KxGroup::X25519 => rustls::crypto::ring::kx_group::X25519,
            KxGroup::Secp256r1 => rustls::crypto::ring::kx_group::SECP256R1,
        };
        debug_assert_eq!(found.name(), NamedGroup::from(group.codepoint()));
        found
            .start()
            .map(Self)
            .map_err(|_| Error::crypto("key share generation failed"))
    }

    /// Our public key share, as it goes into key_share.
    pub(super) fn public_key(&self) -> &[u8] {
        self.0.pub_key()
    }

    /// The shared secret; an invalid peer share is the peer's fault (illegal_parameter).
    pub(super) fn complete(self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.0
            .complete(peer)
            .map(|secret| Zeroizing::new(secret.secret_bytes().to_vec()))
            .map_err(|_| Error::illegal("key share (not a valid public key)"))
    }
}

/// A ChaCha20-Poly1305 record sealer for one traffic key.
pub(super) fn chacha20_sealer(key: &[u8; 32], iv: &[u8; 12]) -> Box<dyn Seal> {
    let encrypter = suite()
        .aead_alg
        .encrypter(AeadKey::from(*key), Iv::from(*iv));
    Box::new(ChachaSealer(encrypter))
}

/// A ChaCha20-Poly1305 record opener for one traffic key.
pub(super) fn chacha20_opener(key: &[u8; 32], iv: &[u8; 12]) -> Box<dyn Open> {
    let decrypter = suite()
        .aead_alg
        .decrypter(AeadKey::from(*key), Iv::from(*iv));
    Box::new(ChachaOpener(decrypter))
}

struct ChachaSealer(Box<dyn MessageEncrypter>);

impl Seal for ChachaSealer {
    fn seal(&mut self, inner_type: u8, payload: &[u8], seq: u64) -> Result<Vec<u8>, Error> {
        let message = OutboundPlainMessage {
            typ: ContentType::from(inner_type),
            version: ProtocolVersion::TLSv1_2,
            payload: payload.into(),
        };
        self.0
            .encrypt(message, seq)
            .map(|sealed| sealed.encode())
            .map_err(|_| Error::crypto("record encryption failed"))
    }
}

struct ChachaOpener(Box<dyn MessageDecrypter>);

impl Open for ChachaOpener {
    fn open<'a>(&mut self, payload: &'a mut [u8], seq: u64) -> Result<(u8, &'a [u8]), Error> {
        // The decrypter builds the AAD for an application_data record, which is why the
        // record layer only hands us records whose outer type is application_data.
        let message = InboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            payload,
        );
        match self.0.decrypt(message, seq) {
            Ok(plain) => Ok((u8::from(plain.typ), plain.payload)),
            Err(rustls::Error::PeerSentOversizedRecord) => {
                Err(Error::Malformed(Malformed::RecordOverflow {
                    len: 0,
                    max: super::record::MAX_FRAGMENT_LEN,
                }))
            }
            // All-zero inner plaintext or a protected change_cipher_spec (RFC 8446 §5).
            Err(rustls::Error::PeerMisbehaved(_)) => {
                Err(Error::unexpected("inner content type in protected record"))
            }
            Err(_) => Err(Error::Malformed(Malformed::BadRecordMac)),
        }
    }
}

/// ChaCha20-Poly1305-SHA256 supplies SHA-256, HKDF-SHA-256 and the ChaCha20 AEAD; the
/// AES-128-GCM suite shares the same hash, so one suite serves every hash need.
fn suite() -> &'static Tls13CipherSuite {
    static SUITE: OnceLock<&'static Tls13CipherSuite> = OnceLock::new();
    SUITE.get_or_init(|| {
        rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256
            .tls13()
            .unwrap_or_else(|| unreachable_suite())
    })
}

/// rustls always defines this suite as TLS 1.3; a build where it did not could not work at all.
#[allow(clippy::panic)]
fn unreachable_suite() -> &'static Tls13CipherSuite {
    panic!("rustls ring provider lacks TLS13_CHACHA20_POLY1305_SHA256")
}

fn to_digest(bytes: &[u8]) -> Digest {
    let mut out = [0u8; HASH_LEN];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_empty_string() {
        assert_eq!(
            hex(&hash(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn transcript_fork_is_independent() {
        let mut t = Transcript::new();
        t.update(b"abc");
        let mut f = t.fork();
        f.update(b"def");
        assert_eq!(t.current(), hash(b"abc"));
        assert_eq!(f.current(), hash(b"abcdef"));
    }

    #[test]
    fn both_groups_agree() {
        for group in [KxGroup::X25519, KxGroup::Secp256r1] {
            let a = KeyExchange::start(group).unwrap();
            let b = KeyExchange::start(group).unwrap();
            let a_pub = a.public_key().to_vec();
            let s1 = a.complete(b.public_key()).unwrap();
            let s2 = b.complete(&a_pub).unwrap();
            assert_eq!(*s1, *s2);
            assert_eq!(s1.len(), 32);
        }
    }

    #[test]
    fn invalid_peer_share_is_illegal_parameter() {
        let kx = KeyExchange::start(KxGroup::Secp256r1).unwrap();
        let err = kx.complete(&[4; 65]).unwrap_err();
        assert!(matches!(
            err,
            Error::Malformed(Malformed::IllegalParameter(_))
        ));
    }

    #[test]
    fn chacha_round_trip_and_tamper() {
        let key = [7u8; 32];
        let iv = [9u8; 12];
        let mut sealer = chacha20_sealer(&key, &iv);
        let mut opener = chacha20_opener(&key, &iv);
        let mut record = sealer.seal(23, b"hello", 0).unwrap();
        assert_eq!(&record[..3], &[23, 3, 3]);
        let (typ, plain) = opener.open(&mut record[5..], 0).unwrap();
        assert_eq!((typ, plain), (23, &b"hello"[..]));
        let mut record = sealer.seal(23, b"hello", 1).unwrap();
        record[7] ^= 1;
        assert_eq!(
            opener.open(&mut record[5..], 1).unwrap_err(),
            Error::Malformed(Malformed::BadRecordMac)
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
