//! X.509 mode (feature `tls-x509`): TLS 1.3 with certificates through rustls's own server,
//! switched on by the original's settings (tls-x509.md).
//!
//! In: the CA, certificate, key and CRL files named by `PCMK_ca_file`, `PCMK_cert_file`,
//! `PCMK_key_file` and `PCMK_crl_file`. Out: an [`X509Server`] that `tls::Connection` uses
//! for every connection instead of the PSK handshake; the original does not accept PSK
//! clients in this mode either (tls-x509.md §7). Every file problem is an error at start
//! that names the setting, the path and the fix (the original also refuses to start,
//! tls-x509.md §2). Besides `provider.rs`, only this folder names rustls.

mod certinfo;
mod session;
mod verify;

use std::fmt;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, TrustAnchor};
use webpki::{CertRevocationList, OwnedCertRevocationList};

use super::rejection::format_time;
use crate::config::x509::{FileSetting, X509Settings};
use crate::limits::{X509_EXPIRY_WARNING, X509_EXPIRY_WARNING_EVERY, X509_MAX_FILE_BYTES};

pub(super) use session::Session;

/// The loaded X.509 configuration, shared by every connection.
pub struct X509Server {
    config: Arc<rustls::ServerConfig>,
    ca_file: String,
    cert_file: String,
    crl_file: Option<String>,
    own_subject: String,
    own_not_after: Option<i64>,
    expiry_warned: Mutex<Option<Instant>>,
}

impl fmt::Debug for X509Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X509Server")
            .field("ca_file", &self.ca_file)
            .field("crl_file", &self.crl_file)
            .field("own_subject", &self.own_subject)
            .finish_non_exhaustive()
    }
}

/// A file of X.509 mode that cannot be used; the daemon does not start (tls-x509.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The setting and path concerned, as `FileSetting` prints them.
    pub file: String,
    /// What is wrong and what to do.
    pub problem: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "X.509 mode: {}: {}", self.file, self.problem)
    }
}

impl std::error::Error for LoadError {}

fn problem(file: &FileSetting, problem: impl Into<String>) -> LoadError {
    LoadError {
        file: file.to_string(),
        problem: problem.into(),
    }
}

impl X509Server {
    /// Reads and checks every file, and builds the rustls server configuration.
    pub fn load(settings: &X509Settings) -> Result<Self, LoadError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let ca_pem = read_bounded(&settings.ca_file)?;
        let ca_certs = certificates(&settings.ca_file, &ca_pem)?;
        let anchors = ca_certs
            .iter()
            .enumerate()
            .map(|(i, der)| {
                webpki::anchor_from_trusted_cert(der)
                    .map(|a| a.to_owned())
                    .map_err(|e| {
                        problem(
                            &settings.ca_file,
                            format!(
                                "certificate {} of the file is not usable as a CA: {e}",
                                i + 1
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<TrustAnchor<'static>>, LoadError>>()?;

        let crls = match &settings.crl_file {
            Some(file) => revocation_lists(file)?,
            None => Vec::new(),
        };

        let cert_pem = read_bounded(&settings.cert_file)?;
        let chain = certificates(&settings.cert_file, &cert_pem)?;
        let own = chain.first().and_then(|c| certinfo::read(c.as_ref()));
        let key = private_key(&settings.key_file)?;
        let signing_key = provider.key_provider.load_private_key(key).map_err(|e| {
            problem(
                &settings.key_file,
                format!(
                    "not a usable private key ({e}); RSA of 2048 bits or more, ECDSA P-256 or \
                     P-384, and Ed25519 keys work"
                ),
            )
        })?;
        let certified = rustls::sign::CertifiedKey::new(chain, signing_key);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(_) => {
                return Err(problem(
                    &settings.key_file,
                    format!(
                        "this key does not belong to the certificate in {}; give the key that \
                         was made with it",
                        settings.cert_file
                    ),
                ))
            }
        }

        let ca_file = settings.ca_file.to_string();
        let crl_file = settings.crl_file.as_ref().map(ToString::to_string);
        let verifier = verify::ClientVerifier::new(
            anchors,
            crls,
            provider.signature_verification_algorithms,
            ca_file.clone(),
            crl_file.clone(),
        );
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            // TLS 1.3 only, as in PSK mode (tls-x509.md §5).
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| problem(&settings.cert_file, format!("TLS set-up failed: {e}")))?
            .with_client_cert_verifier(Arc::new(verifier))
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
        // No tickets and no resumption: every connection proves its certificate anew.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;

        Ok(Self {
            config: Arc::new(config),
            ca_file,
            cert_file: settings.cert_file.to_string(),
            crl_file,
            own_subject: own.as_ref().map(|o| o.subject.clone()).unwrap_or_default(),
            own_not_after: own.map(|o| o.not_after),
            expiry_warned: Mutex::new(None),
        })
    }

    /// One line for the log at start: the mode and the files.
    pub fn describe(&self) -> String {
        let crl = match &self.crl_file {
            Some(c) => format!("; revocations from {c}"),
            None => String::new(),
        };
        format!(
            "X.509: our certificate '{}', client certificates required, issued by a CA in \
             {}{crl}",
            crate::logging::escaped(&self.own_subject),
            self.ca_file
        )
    }

    /// Warns when our own certificate has expired or expires within 30 days, as the original
    /// does after each accepted connection (tls-x509.md §8); at most once per
    /// `X509_EXPIRY_WARNING_EVERY`, so a reconnecting cluster does not fill the log.
    pub fn warn_if_expiring(&self) {
        let Some(not_after) = self.own_not_after else {
            return;
        };
        let now = unix_now();
        let left = not_after.saturating_sub(now);
        let window = i64::try_from(X509_EXPIRY_WARNING.as_secs()).unwrap_or(i64::MAX);
        if left > window {
            return;
        }
        let Ok(mut last) = self.expiry_warned.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < X509_EXPIRY_WARNING_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        if left <= 0 {
            log::warn!(
                "our TLS certificate '{}' expired on {}: the cluster will refuse this node \
                 until PCMK_cert_file (and PCMK_key_file) hold a renewed one",
                crate::logging::escaped(&self.own_subject),
                format_time(not_after)
            );
        } else {
            log::warn!(
                "our TLS certificate '{}' will expire on {} (in {} days); renew PCMK_cert_file",
                crate::logging::escaped(&self.own_subject),
                format_time(not_after),
                left / 86_400
            );
        }
    }

    pub(super) fn rustls_config(&self) -> Arc<rustls::ServerConfig> {
        self.config.clone()
    }

    pub(super) fn ca_file(&self) -> &str {
        &self.ca_file
    }

    pub(super) fn crl_file(&self) -> Option<&str> {
        self.crl_file.as_deref()
    }

    pub(super) fn cert_file(&self) -> &str {
        &self.cert_file
    }

    pub(super) fn own_subject(&self) -> &str {
        &self.own_subject
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
        .try_into()
        .unwrap_or(i64::MAX)
}

/// The whole file, refusing one over [`X509_MAX_FILE_BYTES`].
fn read_bounded(file: &FileSetting) -> Result<Vec<u8>, LoadError> {
    let opened = std::fs::File::open(&file.path).map_err(|e| {
        let hint = if file.path.is_relative() {
            " (a relative path: the daemon works in its own directory, so give an absolute one)"
        } else {
            ""
        };
        problem(file, format!("cannot read it: {e}{hint}"))
    })?;
    let mut bytes = Vec::new();
    let limit = u64::try_from(X509_MAX_FILE_BYTES).unwrap_or(u64::MAX);
    opened
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| problem(file, format!("cannot read it: {e}")))?;
    if bytes.len() > X509_MAX_FILE_BYTES {
        return Err(problem(
            file,
            format!("larger than {X509_MAX_FILE_BYTES} bytes; this is not a PEM file we expect"),
        ));
    }
    Ok(bytes)
}

/// Why a file holds nothing of the kind wanted: not PEM at all, or other PEM sections.
fn nothing_found(file: &FileSetting, bytes: &[u8], wanted: &str) -> LoadError {
    let text = String::from_utf8_lossy(bytes);
    if !text.contains("-----BEGIN ") {
        let binary = bytes.first() == Some(&0x30);
        return problem(
            file,
            if binary {
                format!(
                    "not PEM (it looks like binary DER); Pacemaker reads PEM only: convert it, \
                     e.g. with openssl x509 -inform der -outform pem (holds no {wanted})"
                )
            } else {
                format!("not a PEM file: no {wanted} in it (no \"-----BEGIN\" line)")
            },
        );
    }
    problem(file, format!("holds no {wanted} (other PEM sections only)"))
}

fn certificates(
    file: &FileSetting,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| problem(file, format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(nothing_found(
            file,
            bytes,
            "certificate (BEGIN CERTIFICATE)",
        ));
    }
    for (i, der) in certs.iter().enumerate() {
        if certinfo::read(der.as_ref()).is_none() {
            return Err(problem(
                file,
                format!("certificate {} of the file is not valid X.509", i + 1),
            ));
        }
    }
    Ok(certs)
}

fn revocation_lists(file: &FileSetting) -> Result<Vec<CertRevocationList<'static>>, LoadError> {
    let bytes = read_bounded(file)?;
    let ders = CertificateRevocationListDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| problem(file, format!("not valid PEM: {e}")))?;
    if ders.is_empty() {
        if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
            return Err(nothing_found(
                file,
                &bytes,
                "revocation list (BEGIN X509 CRL)",
            ));
        }
        // The original accepts a file with no list in it (tls-x509.md §4).
        log::warn!("{file}: holds no revocation list (BEGIN X509 CRL); nothing is revoked");
    }
    ders.iter()
        .enumerate()
        .map(|(i, der)| {
            OwnedCertRevocationList::from_der(der.as_ref())
                .map(CertRevocationList::from)
                .map_err(|e| {
                    problem(
                        file,
                        format!("revocation list {} of the file is not usable: {e}", i + 1),
                    )
                })
        })
        .collect()
}

fn private_key(file: &FileSetting) -> Result<PrivateKeyDer<'static>, LoadError> {
    let bytes = read_bounded(file)?;
    match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(key) => Ok(key),
        Err(pem::Error::NoItemsFound) => {
            let text = String::from_utf8_lossy(&bytes);
            if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
                Err(problem(
                    file,
                    "the key is encrypted; Pacemaker takes unencrypted keys only (decrypt it, \
                     e.g. with openssl pkey -in KEY -out KEY.plain, and keep it readable by \
                     root only)",
                ))
            } else {
                Err(nothing_found(
                    file,
                    &bytes,
                    "private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
                ))
            }
        }
        Err(e) => Err(problem(file, format!("not valid PEM: {e}"))),
    }
}
