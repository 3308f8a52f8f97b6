//! The client-certificate check of X.509 mode, with the original's rules (tls-x509.md §3,
//! §4): a certificate is required; it must chain to a CA of `PCMK_ca_file` (no system
//! store), be within its validity, and not be listed in `PCMK_crl_file`; no host name and
//! no extended key usage are checked, as GnuTLS checks neither there.
//!
//! In: the chain the client sent, at handshake time. Out: accept, or a [`Rejection`] that
//! names the certificate, the reason and the setting to look at. rustls only carries its
//! own error type through the handshake, so the verifier leaves the full rejection in a
//! slot of the calling thread, which the session takes right after the call that ran the
//! check (verification is synchronous inside `process_new_packets`, on that thread).

use std::cell::RefCell;
use std::fmt;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, KeyPurposeIdIter, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

use super::super::rejection::{Reason, Rejection};
use super::certinfo;

thread_local! {
    /// The last rejection on this thread; see the module comment.
    static LAST: RefCell<Option<Box<Rejection>>> = const { RefCell::new(None) };
}

/// Takes the rejection the verifier left on this thread, if any.
pub(super) fn take_rejection() -> Option<Box<Rejection>> {
    LAST.with(|slot| slot.borrow_mut().take())
}

/// Clears the slot before a call that may verify, so a stale rejection never shows.
pub(super) fn clear_rejection() {
    LAST.with(|slot| *slot.borrow_mut() = None);
}

fn leave(rejection: Box<Rejection>) {
    LAST.with(|slot| *slot.borrow_mut() = Some(rejection));
}

/// Checks client certificates against the configured CAs and CRLs.
pub(super) struct ClientVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    crls: Vec<CertRevocationList<'static>>,
    algorithms: WebPkiSupportedAlgorithms,
    ca_file: String,
    crl_file: Option<String>,
}

impl ClientVerifier {
    pub(super) fn new(
        anchors: Vec<TrustAnchor<'static>>,
        crls: Vec<CertRevocationList<'static>>,
        algorithms: WebPkiSupportedAlgorithms,
        ca_file: String,
        crl_file: Option<String>,
    ) -> Self {
        Self {
            anchors,
            crls,
            algorithms,
            ca_file,
            crl_file,
        }
    }

    /// The webpki check, its error turned into a [`Rejection`].
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), Box<Rejection>> {
        let info = certinfo::read(end_entity.as_ref());
        let reject = |reason| {
            Box::new(Rejection {
                subject: info.as_ref().map(|i| i.subject.clone()),
                reason,
                ca_file: self.ca_file.clone(),
                crl_file: self.crl_file.clone(),
            })
        };
        let cert = EndEntityCert::try_from(end_entity).map_err(|_| reject(Reason::Malformed))?;
        let crls: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        // GnuTLS (tls-x509.md §4): every certificate of the chain is looked up in the CRLs of
        // its issuer; a CA without a CRL, and a CRL past its next update, are no failure.
        let revocation = RevocationOptionsBuilder::new(&crls).ok().map(|b| {
            b.with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(UnknownStatusPolicy::Allow)
                .with_expiration_policy(ExpirationPolicy::Ignore)
                .build()
        });
        let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        cert.verify_for_usage(
            self.algorithms.all,
            &self.anchors,
            intermediates,
            now,
            AnyPurpose,
            revocation,
            None,
        )
        .map(|_| ())
        .map_err(|e| {
            let issuer = info.as_ref().map(|i| i.issuer.clone()).unwrap_or_default();
            reject(match e {
                webpki::Error::UnknownIssuer => Reason::UnknownIssuer { issuer },
                webpki::Error::CertExpired { .. } => Reason::Expired {
                    not_after: info.as_ref().map_or(0, |i| i.not_after),
                    now: seconds,
                },
                webpki::Error::CertNotValidYet { .. } => Reason::NotYetValid {
                    not_before: info.as_ref().map_or(0, |i| i.not_before),
                    now: seconds,
                },
                webpki::Error::CertRevoked => Reason::Revoked {
                    serial: info.as_ref().map(|i| i.serial.clone()).unwrap_or_default(),
                },
                webpki::Error::InvalidSignatureForPublicKey => Reason::BadSignature { issuer },
                webpki::Error::BadDer | webpki::Error::BadDerTime => Reason::Malformed,
                other => Reason::Other(describe(&other)),
            })
        })
    }
}

/// webpki's error in words, without its Debug formatting's type names where we can.
fn describe(e: &webpki::Error) -> String {
    match e {
        webpki::Error::CaUsedAsEndEntity => String::from("it is a CA certificate, not a node's"),
        webpki::Error::UnsupportedSignatureAlgorithmContext(_)
        | webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => String::from(
            "it is signed with an algorithm this build does not support (RSA of 2048 to 8192 \
             bits, ECDSA P-256/P-384 and Ed25519 are)",
        ),
        other => format!("{other}"),
    }
}

/// Every extended key usage passes, as GnuTLS does not check it on either side (measured
/// with the original 3.0.3: a certificate for serverAuth only is accepted from a client);
/// the extension must still be well formed.
struct AnyPurpose;

impl webpki::ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

impl fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientVerifier")
            .field("anchors", &self.anchors.len())
            .field("crls", &self.crls.len())
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    /// None, unlike the original, which lists its CAs' names: a GnuTLS client (the
    /// cluster) then sends no certificate at all when its issuer is not among them, and the
    /// refusal could not name it. Without the list it always sends its one certificate,
    /// and a wrong CA is refused with the certificate's subject and issuer (tls-x509.md §9).
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.check(end_entity, intermediates, now) {
            Ok(()) => Ok(ClientCertVerified::assertion()),
            Err(rejection) => {
                // The alert the client gets: the specific one (the original sends only
                // close_notify, tls-x509.md §6).
                let error = match rejection.reason {
                    Reason::UnknownIssuer { .. } => CertificateError::UnknownIssuer,
                    Reason::Expired { .. } => CertificateError::Expired,
                    Reason::NotYetValid { .. } => CertificateError::NotValidYet,
                    Reason::Revoked { .. } => CertificateError::Revoked,
                    // A CA of the right name but another key: still the wrong CA.
                    Reason::BadSignature { .. } => CertificateError::UnknownIssuer,
                    Reason::Malformed => CertificateError::BadEncoding,
                    Reason::NoCertificate | Reason::OursRefused { .. } | Reason::Other(_) => {
                        CertificateError::ApplicationVerificationFailure
                    }
                };
                leave(rejection);
                Err(rustls::Error::InvalidCertificate(error))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
