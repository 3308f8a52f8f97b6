//! The TLS 1.3 key schedule for an external PSK (RFC 8446 §7.1, §7.3, §4.2.11.2, §4.4.4).
//!
//! In: the PSK bytes, the (EC)DHE secret or nothing (psk_ke), transcript hashes.
//! Out: binders, Finished MACs, and record sealers/openers for each traffic secret.
//! Every secret is a fixed 32-byte value wiped on drop; none is ever logged or compared
//! with `==` (MACs are compared in constant time with `subtle`).

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::config::CipherSuite;
use super::error::Error;
use super::provider::{self, Digest, HASH_LEN};
use super::record::{Open, Seal};

/// A 32-byte secret of the schedule; wiped when dropped.
pub(super) struct Secret([u8; HASH_LEN]);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Secret {
    #[cfg(test)]
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Which binder label to use: ours is always `External`; `Resumption` exists so RFC 8448's
/// resumption trace can check the very same code (tls-psk.md §5).
#[derive(Clone, Copy, Debug)]
pub(super) enum BinderLabel {
    External,
    #[cfg_attr(not(test), allow(dead_code))]
    Resumption,
}

/// HKDF-Expand-Label(Secret, Label, Context, Length) (RFC 8446 §7.1).
pub(super) fn expand_label(
    secret: &Secret,
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    const PREFIX: &[u8] = b"tls13 ";
    // HkdfLabel: uint16 length, opaque label<7..255>, opaque context<0..255>.
    let length = u16::try_from(out.len())
        .map_err(|_| Error::crypto("hkdf label length"))?
        .to_be_bytes();
    let label_len = u8::try_from(PREFIX.len() + label.len())
        .map_err(|_| Error::crypto("hkdf label too long"))?;
    let context_len =
        u8::try_from(context.len()).map_err(|_| Error::crypto("hkdf context too long"))?;
    provider::hkdf_expand(
        &secret.0,
        &[
            &length,
            &[label_len],
            PREFIX,
            label,
            &[context_len],
            context,
        ],
        out,
    )
}

/// Derive-Secret(Secret, Label, Messages) with the transcript already hashed.
pub(super) fn derive_secret(
    secret: &Secret,
    label: &[u8],
    transcript_hash: &Digest,
) -> Result<Secret, Error> {
    let mut out = [0u8; HASH_LEN];
    expand_label(secret, label, transcript_hash, &mut out)?;
    Ok(Secret(out))
}

/// HKDF-Extract(salt, IKM) is HMAC(salt, IKM) (RFC 5869 §2.2); IKM may be a 4096-byte PSK.
fn extract(salt: &[u8; HASH_LEN], ikm: &[u8]) -> Secret {
    Secret(provider::hmac(salt, ikm))
}

/// "derived" takes the hash of the empty string as context, unlike "finished".
fn derived(secret: &Secret) -> Result<Secret, Error> {
    derive_secret(secret, b"derived", &provider::hash(b""))
}

/// Early Secret = HKDF-Extract(0, PSK).
pub(super) struct EarlySecret(Secret);

impl EarlySecret {
    pub(super) fn new(psk: &[u8]) -> Self {
        Self(extract(&[0; HASH_LEN], psk))
    }

    /// The PSK binder over the hash of the truncated ClientHello transcript (RFC 8446
    /// §4.2.11.2).
    pub(super) fn binder(
        &self,
        label: BinderLabel,
        truncated_hash: &Digest,
    ) -> Result<Digest, Error> {
        let label: &[u8] = match label {
            BinderLabel::External => b"ext binder",
            BinderLabel::Resumption => b"res binder",
        };
        let binder_key = derive_secret(&self.0, label, &provider::hash(b""))?;
        finished_mac(&binder_key, truncated_hash)
    }

    /// Handshake Secret from the (EC)DHE secret, or from zeros in psk_ke mode.
    pub(super) fn into_handshake(self, ecdhe: Option<&[u8]>) -> Result<HandshakeSecret, Error> {
        let salt = derived(&self.0)?;
        Ok(HandshakeSecret(extract(
            &salt.0,
            ecdhe.unwrap_or(&[0; HASH_LEN]),
        )))
    }
}

/// Handshake Secret; yields the handshake traffic secrets and the master secret.
pub(super) struct HandshakeSecret(Secret);

impl HandshakeSecret {
    /// (client, server) handshake traffic secrets over Hash(ClientHello..ServerHello).
    pub(super) fn traffic(
        &self,
        hello_hash: &Digest,
    ) -> Result<(TrafficSecret, TrafficSecret), Error> {
        Ok((
            TrafficSecret(derive_secret(&self.0, b"c hs traffic", hello_hash)?),
            TrafficSecret(derive_secret(&self.0, b"s hs traffic", hello_hash)?),
        ))
    }

    pub(super) fn into_master(self) -> Result<MasterSecret, Error> {
        let salt = derived(&self.0)?;
        Ok(MasterSecret(extract(&salt.0, &[0; HASH_LEN])))
    }
}

/// Master Secret; yields the application traffic secrets.
pub(super) struct MasterSecret(Secret);

impl MasterSecret {
    /// (client, server) application traffic secrets over Hash(ClientHello..server Finished).
    pub(super) fn traffic(
        &self,
        handshake_hash: &Digest,
    ) -> Result<(TrafficSecret, TrafficSecret), Error> {
        Ok((
            TrafficSecret(derive_secret(&self.0, b"c ap traffic", handshake_hash)?),
            TrafficSecret(derive_secret(&self.0, b"s ap traffic", handshake_hash)?),
        ))
    }
}

/// One direction's traffic secret.
pub(super) struct TrafficSecret(Secret);

impl TrafficSecret {
    /// The Finished verify_data over `transcript_hash` (RFC 8446 §4.4.4).
    pub(super) fn finished(&self, transcript_hash: &Digest) -> Result<Digest, Error> {
        finished_mac(&self.0, transcript_hash)
    }

    /// Checks a received Finished in constant time.
    pub(super) fn verify_finished(
        &self,
        transcript_hash: &Digest,
        received: &[u8],
    ) -> Result<bool, Error> {
        let expected = self.finished(transcript_hash)?;
        Ok(bool::from(expected.as_slice().ct_eq(received)))
    }

    /// application_traffic_secret_N+1 for KeyUpdate (RFC 8446 §7.2); empty context.
    pub(super) fn next(&self) -> Result<Self, Error> {
        let mut out = [0u8; HASH_LEN];
        expand_label(&self.0, b"traffic upd", &[], &mut out)?;
        Ok(Self(Secret(out)))
    }

    pub(super) fn sealer(&self, suite: CipherSuite) -> Result<Box<dyn Seal>, Error> {
        let (key, iv) = self.key_iv(suite)?;
        Ok(match suite {
            CipherSuite::Chacha20Poly1305Sha256 => provider::chacha20_sealer(&key, &iv),
            CipherSuite::Aes128GcmSha256 => super::aes128gcm::sealer(&key[..16], &iv)?,
        })
    }

    pub(super) fn opener(&self, suite: CipherSuite) -> Result<Box<dyn Open>, Error> {
        let (key, iv) = self.key_iv(suite)?;
        Ok(match suite {
            CipherSuite::Chacha20Poly1305Sha256 => provider::chacha20_opener(&key, &iv),
            CipherSuite::Aes128GcmSha256 => super::aes128gcm::opener(&key[..16], &iv)?,
        })
    }

    /// [sender]_write_key and _iv (RFC 8446 §7.3). AES-128 uses the first 16 key bytes of a
    /// 16-byte expansion; the rest of the array stays zero.
    fn key_iv(&self, suite: CipherSuite) -> Result<(Zeroizing<[u8; 32]>, [u8; 12]), Error> {
        let key_len = match suite {
            CipherSuite::Chacha20Poly1305Sha256 => 32,
            CipherSuite::Aes128GcmSha256 => 16,
        };
        let mut key = Zeroizing::new([0u8; 32]);
        expand_label(&self.0, b"key", &[], &mut key[..key_len])?;
        let mut iv = [0u8; 12];
        expand_label(&self.0, b"iv", &[], &mut iv)?;
        Ok((key, iv))
    }
}

/// HMAC(finished_key, hash) where finished_key = Expand-Label(base, "finished", "", 32).
fn finished_mac(base: &Secret, transcript_hash: &Digest) -> Result<Digest, Error> {
    let mut key = [0u8; HASH_LEN];
    expand_label(base, b"finished", &[], &mut key)?;
    let mac = provider::hmac(&key, transcript_hash);
    key.zeroize();
    Ok(mac)
}

#[cfg(test)]
mod tests;
