//! Why a TLS connection failed, grouped by who is at fault.
//!
//! In: nothing; the codec, record layer and state machines build these values.
//! Out: one `Error` per failure, whose `Display` is a single lowercase log line and whose
//! `alert()` is the alert we put on the wire (RFC 8446 §6.2).
//! Never carries key material: identities are shown, keys never.

use std::fmt;

pub use super::rejection::Rejection;

/// A TLS alert description (RFC 8446 §6), kept as a value so unknown codes survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertDescription {
    /// 0: orderly end of the connection.
    CloseNotify,
    /// 10: a record or message arrived where the protocol forbids it.
    UnexpectedMessage,
    /// 20: a protected record failed authentication.
    BadRecordMac,
    /// 22: a record was longer than the protocol allows.
    RecordOverflow,
    /// 40: no acceptable set of parameters.
    HandshakeFailure,
    /// 47: a field was out of range or inconsistent.
    IllegalParameter,
    /// 50: a message could not be parsed.
    DecodeError,
    /// 51: a binder or Finished MAC did not verify (wrong key).
    DecryptError,
    /// 70: the peer's protocol version is not supported.
    ProtocolVersion,
    /// 80: a local failure unrelated to the peer.
    InternalError,
    /// 90: the peer cancelled the handshake.
    UserCanceled,
    /// 109: a mandatory extension was missing.
    MissingExtension,
    /// 110: an extension appeared that was not offered.
    UnsupportedExtension,
    /// 115: the PSK identity is unknown.
    UnknownPskIdentity,
    /// 42: a certificate was corrupt or otherwise unusable (X.509 mode).
    BadCertificate,
    /// 44: a certificate was revoked by its issuer.
    CertificateRevoked,
    /// 45: a certificate has expired or is not yet valid.
    CertificateExpired,
    /// 48: a certificate chain does not lead to a trusted CA.
    UnknownCa,
    /// 116: a certificate was required but none was sent (TLS 1.3).
    CertificateRequired,
    /// Any other code, kept as sent.
    Other(u8),
}

impl AlertDescription {
    /// Decodes the wire value.
    pub fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::CloseNotify,
            10 => Self::UnexpectedMessage,
            20 => Self::BadRecordMac,
            22 => Self::RecordOverflow,
            40 => Self::HandshakeFailure,
            47 => Self::IllegalParameter,
            50 => Self::DecodeError,
            51 => Self::DecryptError,
            70 => Self::ProtocolVersion,
            80 => Self::InternalError,
            90 => Self::UserCanceled,
            109 => Self::MissingExtension,
            110 => Self::UnsupportedExtension,
            115 => Self::UnknownPskIdentity,
            42 => Self::BadCertificate,
            44 => Self::CertificateRevoked,
            45 => Self::CertificateExpired,
            48 => Self::UnknownCa,
            116 => Self::CertificateRequired,
            other => Self::Other(other),
        }
    }

    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::CloseNotify => 0,
            Self::UnexpectedMessage => 10,
            Self::BadRecordMac => 20,
            Self::RecordOverflow => 22,
            Self::HandshakeFailure => 40,
            Self::IllegalParameter => 47,
            Self::DecodeError => 50,
            Self::DecryptError => 51,
            Self::ProtocolVersion => 70,
            Self::InternalError => 80,
            Self::UserCanceled => 90,
            Self::MissingExtension => 109,
            Self::UnsupportedExtension => 110,
            Self::UnknownPskIdentity => 115,
            Self::BadCertificate => 42,
            Self::CertificateRevoked => 44,
            Self::CertificateExpired => 45,
            Self::UnknownCa => 48,
            Self::CertificateRequired => 116,
            Self::Other(other) => other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::CloseNotify => "close_notify",
            Self::UnexpectedMessage => "unexpected_message",
            Self::BadRecordMac => "bad_record_mac",
            Self::RecordOverflow => "record_overflow",
            Self::HandshakeFailure => "handshake_failure",
            Self::IllegalParameter => "illegal_parameter",
            Self::DecodeError => "decode_error",
            Self::DecryptError => "decrypt_error",
            Self::ProtocolVersion => "protocol_version",
            Self::InternalError => "internal_error",
            Self::UserCanceled => "user_canceled",
            Self::MissingExtension => "missing_extension",
            Self::UnsupportedExtension => "unsupported_extension",
            Self::UnknownPskIdentity => "unknown_psk_identity",
            Self::BadCertificate => "bad_certificate",
            Self::CertificateRevoked => "certificate_revoked",
            Self::CertificateExpired => "certificate_expired",
            Self::UnknownCa => "unknown_ca",
            Self::CertificateRequired => "certificate_required",
            Self::Other(_) => "alert",
        }
    }
}

impl fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.to_u8())
    }
}

/// Every way a connection can fail; the variant says who is at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The peer sent bytes that are not valid TLS 1.3.
    Malformed(Malformed),
    /// The peer speaks valid TLS but wants something we do not offer.
    Incompatible(Incompatible),
    /// The peer's key or identity does not match ours.
    WrongKey(WrongKey),
    /// X.509 mode: the client's certificate was refused, or it sent none (tls-x509.md §3).
    Certificate(Box<Rejection>),
    /// The peer ended the connection: an alert, or end of stream mid-handshake.
    PeerAborted(PeerAborted),
    /// Our side failed or the caller misused the API.
    Local(Local),
}

/// The peer sent garbage; each variant names the field or rule involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// A field could not be parsed.
    Decode(&'static str),
    /// A record or message arrived where the protocol forbids it.
    Unexpected(&'static str),
    /// A record header carried an unknown content type (plain text instead of TLS, typically).
    UnknownRecordType(u8),
    /// A record was longer than RFC 8446 §5.1/§5.2 allows.
    RecordOverflow {
        /// Length found.
        len: usize,
        /// Largest length allowed there.
        max: usize,
    },
    /// A protected record failed authentication.
    BadRecordMac,
    /// A handshake message declared a length above our bound.
    HandshakeTooLarge {
        /// Length declared.
        len: usize,
        /// Our bound.
        max: usize,
    },
    /// A field was out of range or inconsistent.
    IllegalParameter(&'static str),
    /// A mandatory extension was missing.
    MissingExtension(&'static str),
    /// An extension we did not offer (or cannot accept there) appeared.
    UnsupportedExtension(u16),
    /// X.509 mode: what rustls found wrong, in its words.
    Described(String),
}

/// The peer is valid but incompatible with our policy (tls-psk.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incompatible {
    /// The client's supported_versions lacks TLS 1.3 (GnuTLS older than 3.6, typically).
    OnlyOldVersions,
    /// The server did not select TLS 1.3; the value is its legacy_version.
    ServerChoseVersion(u16),
    /// No TLS 1.3 SHA-256 cipher suite in common.
    NoCommonSuite,
    /// The client offers no pre-shared key; certificate mode is not handled here.
    NoPskOffered,
    /// The client offers only psk_ke, which our configuration refuses.
    PskKeNotAllowed,
    /// No key exchange group and no key exchange mode in common.
    NoCommonKeyExchange,
    /// The server did not accept our pre-shared key.
    ServerRefusedPsk,
    /// X.509 mode: what rustls found missing, in its words.
    Described(String),
}

/// The keys or identities differ between the two sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WrongKey {
    /// The client's PSK identity is not known to us (shown lossily, at most 64 bytes).
    UnknownIdentity {
        /// The identity as sent, for the log.
        identity: String,
    },
    /// The PSK binder did not verify: the client holds a different key.
    BinderMismatch,
    /// A Finished MAC did not verify.
    FinishedMismatch,
}

/// The peer ended the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAborted {
    /// The peer sent this fatal alert.
    Alert(AlertDescription),
    /// The stream ended before the handshake finished.
    ClosedMidHandshake,
}

/// Our own side failed, or the caller asked for something impossible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Local {
    /// A crypto primitive failed (random source, key generation, sealing).
    Crypto(&'static str),
    /// Application data cannot be sent before the handshake completes or after a failure.
    NotConnected,
    /// `send_record` was given more than one record can carry.
    RecordTooLarge {
        /// Length given.
        len: usize,
        /// Largest payload of one record.
        max: usize,
    },
    /// We already sent close_notify.
    Closed,
    /// X.509 mode: a failure inside rustls, in its words.
    Described(String),
}

impl Error {
    /// The alert we send for this failure; `None` when nothing should be sent.
    pub fn alert(&self) -> Option<AlertDescription> {
        use AlertDescription as A;
        Some(match self {
            Self::Malformed(m) => match m {
                Malformed::Decode(_) | Malformed::HandshakeTooLarge { .. } => A::DecodeError,
                Malformed::Unexpected(_) | Malformed::UnknownRecordType(_) => A::UnexpectedMessage,
                Malformed::RecordOverflow { .. } => A::RecordOverflow,
                Malformed::BadRecordMac => A::BadRecordMac,
                Malformed::IllegalParameter(_) => A::IllegalParameter,
                Malformed::MissingExtension(_) => A::MissingExtension,
                Malformed::UnsupportedExtension(_) => A::UnsupportedExtension,
                // rustls has queued its own alert already.
                Malformed::Described(_) => return None,
            },
            Self::Incompatible(i) => match i {
                Incompatible::OnlyOldVersions | Incompatible::ServerChoseVersion(_) => {
                    A::ProtocolVersion
                }
                _ => A::HandshakeFailure,
            },
            Self::WrongKey(w) => match w {
                WrongKey::UnknownIdentity { .. } => A::UnknownPskIdentity,
                WrongKey::BinderMismatch | WrongKey::FinishedMismatch => A::DecryptError,
            },
            // rustls has queued the matching alert already.
            Self::Certificate(_) => return None,
            Self::PeerAborted(_) => return None,
            Self::Local(Local::Crypto(_)) => A::InternalError,
            Self::Local(_) => return None,
        })
    }

    /// Whether the connection is dead after this error (API misuse leaves it usable).
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Self::Local(Local::NotConnected | Local::RecordTooLarge { .. } | Local::Closed)
        )
    }

    pub(super) fn decode(what: &'static str) -> Self {
        Self::Malformed(Malformed::Decode(what))
    }

    pub(super) fn unexpected(what: &'static str) -> Self {
        Self::Malformed(Malformed::Unexpected(what))
    }

    pub(super) fn illegal(what: &'static str) -> Self {
        Self::Malformed(Malformed::IllegalParameter(what))
    }

    pub(super) fn crypto(what: &'static str) -> Self {
        Self::Local(Local::Crypto(what))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(m) => write!(f, "peer sent invalid tls: {m}"),
            Self::Incompatible(i) => write!(f, "peer incompatible: {i}"),
            Self::WrongKey(w) => write!(f, "authentication failed: {w}"),
            Self::Certificate(r) => write!(f, "{r}"),
            Self::PeerAborted(p) => write!(f, "{p}"),
            Self::Local(l) => write!(f, "local failure: {l}"),
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(what) => write!(f, "cannot decode {what}"),
            Self::Unexpected(what) => write!(f, "unexpected {what}"),
            Self::UnknownRecordType(t) => {
                write!(f, "record type {t} is not tls (plain text or garbage?)")
            }
            Self::RecordOverflow { len, max } => {
                write!(f, "record of {len} bytes exceeds {max}")
            }
            Self::BadRecordMac => write!(f, "record failed authentication"),
            Self::HandshakeTooLarge { len, max } => {
                write!(f, "handshake message of {len} bytes exceeds {max}")
            }
            Self::IllegalParameter(what) => write!(f, "illegal {what}"),
            Self::MissingExtension(what) => write!(f, "missing extension {what}"),
            Self::UnsupportedExtension(t) => write!(f, "extension {t} was not offered"),
            Self::Described(what) => f.write_str(what),
        }
    }
}

impl fmt::Display for Incompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OnlyOldVersions => write!(f, "client offers only TLS 1.2 or older"),
            Self::ServerChoseVersion(v) => {
                write!(f, "server chose version {v:#06x}; only TLS 1.3 is spoken")
            }
            Self::NoCommonSuite => write!(f, "no common TLS 1.3 SHA-256 cipher suite"),
            Self::NoPskOffered => write!(f, "client offers no pre-shared key"),
            Self::PskKeNotAllowed => {
                write!(
                    f,
                    "client offers only psk_ke, which the configuration refuses"
                )
            }
            Self::NoCommonKeyExchange => write!(f, "no common key exchange group or mode"),
            Self::ServerRefusedPsk => write!(f, "server did not accept the pre-shared key"),
            Self::Described(what) => f.write_str(what),
        }
    }
}

impl fmt::Display for WrongKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownIdentity { identity } => write!(f, "unknown psk identity {identity:?}"),
            Self::BinderMismatch => write!(f, "wrong key (binder mismatch)"),
            Self::FinishedMismatch => {
                write!(f, "finished mismatch (wrong key or altered handshake)")
            }
        }
    }
}

impl fmt::Display for PeerAborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Alert(
                a @ (AlertDescription::DecryptError | AlertDescription::IllegalParameter),
            ) => {
                write!(f, "peer sent alert {a}: key mismatch")
            }
            Self::Alert(a @ AlertDescription::ProtocolVersion) => {
                write!(f, "peer sent alert {a}: it refuses TLS 1.3")
            }
            Self::Alert(a @ AlertDescription::UnknownPskIdentity) => {
                write!(f, "peer sent alert {a}: it does not know our identity")
            }
            Self::Alert(a) => write!(f, "peer sent alert {a}"),
            Self::ClosedMidHandshake => write!(f, "connection closed mid-handshake"),
        }
    }
}

impl fmt::Display for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crypto(what) => write!(f, "crypto failure: {what}"),
            Self::NotConnected => write!(f, "connection is not established"),
            Self::RecordTooLarge { len, max } => {
                write!(f, "record payload of {len} bytes exceeds {max}")
            }
            Self::Closed => write!(f, "close_notify already sent"),
            Self::Described(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Error {}
