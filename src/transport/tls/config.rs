//! Settings chosen by the daemon, and the parameters a handshake ended up with.
//!
//! In: the key lookup and policy switches. Out: immutable configs shared through `Arc`, and
//! `Negotiated` for the log and the `check` command.
//! Never prints key bytes: the `Debug` impls leave them out.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

/// The PSK identity the Pacemaker client always sends (protocol.md §1).
pub const PACEMAKER_IDENTITY: &[u8] = b"lrmd";

/// Finds the key for a PSK identity at handshake time, so a rotated key file takes effect on
/// the next connection without a restart.
pub trait PskLookup: Send + Sync {
    /// The key bytes for `identity` (any length; Pacemaker uses 4096), or `None` if unknown.
    fn lookup(&self, identity: &[u8]) -> Option<Zeroizing<Vec<u8>>>;
}

impl<F> PskLookup for F
where
    F: Fn(&[u8]) -> Option<Zeroizing<Vec<u8>>> + Send + Sync,
{
    fn lookup(&self, identity: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        self(identity)
    }
}

/// One identity with one fixed key: what tests and simple deployments need.
pub struct StaticPsk {
    identity: Vec<u8>,
    key: Zeroizing<Vec<u8>>,
}

impl StaticPsk {
    /// Accepts exactly `identity` with `key`.
    pub fn new(identity: &[u8], key: Zeroizing<Vec<u8>>) -> Self {
        Self {
            identity: identity.to_vec(),
            key,
        }
    }
}

impl PskLookup for StaticPsk {
    fn lookup(&self, identity: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        (identity == self.identity.as_slice()).then(|| self.key.clone())
    }
}

impl fmt::Debug for StaticPsk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticPsk")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("key_len", &self.key.len())
            .finish()
    }
}

/// TLS 1.3 cipher suites bound to SHA-256, the only hash an external PSK from Pacemaker
/// can use (tls-psk.md §1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherSuite {
    /// 0x1303: what the real cluster negotiates; fast without AES instructions.
    Chacha20Poly1305Sha256,
    /// 0x1301: for priority strings that exclude ChaCha20.
    Aes128GcmSha256,
}

impl CipherSuite {
    /// The wire code point.
    pub fn codepoint(self) -> u16 {
        match self {
            Self::Chacha20Poly1305Sha256 => 0x1303,
            Self::Aes128GcmSha256 => 0x1301,
        }
    }

    #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
    pub(super) fn from_codepoint(value: u16) -> Option<Self> {
        match value {
            0x1303 => Some(Self::Chacha20Poly1305Sha256),
            0x1301 => Some(Self::Aes128GcmSha256),
            _ => None,
        }
    }
}

impl fmt::Display for CipherSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
            Self::Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
        })
    }
}

/// Key exchange groups for psk_dhe_ke; the two the real client sends shares for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KxGroup {
    /// 0x001d.
    X25519,
    /// 0x0017 (P-256).
    Secp256r1,
}

impl KxGroup {
    /// The wire code point.
    pub fn codepoint(self) -> u16 {
        match self {
            Self::X25519 => 0x001d,
            Self::Secp256r1 => 0x0017,
        }
    }

    pub(super) fn from_codepoint(value: u16) -> Option<Self> {
        match value {
            0x001d => Some(Self::X25519),
            0x0017 => Some(Self::Secp256r1),
            _ => None,
        }
    }
}

impl fmt::Display for KxGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X25519 => "x25519",
            Self::Secp256r1 => "secp256r1",
        })
    }
}

/// PSK key exchange modes (RFC 8446 §4.2.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PskMode {
    /// 0: key from the PSK alone; no forward secrecy.
    PskKe,
    /// 1: PSK plus (EC)DHE; what we prefer.
    PskDheKe,
}

impl PskMode {
    /// The wire code point.
    pub fn codepoint(self) -> u8 {
        match self {
            Self::PskKe => 0,
            Self::PskDheKe => 1,
        }
    }
}

impl fmt::Display for PskMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PskKe => "psk_ke",
            Self::PskDheKe => "psk_dhe_ke",
        })
    }
}

/// What a completed handshake agreed on, for the log and the `check` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The cipher suite.
    pub suite: CipherSuite,
    /// The key exchange group; `None` in psk_ke mode.
    pub group: Option<KxGroup>,
    /// The PSK key exchange mode.
    pub mode: PskMode,
    /// Whether a HelloRetryRequest was needed.
    pub hello_retry: bool,
}

impl fmt::Display for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS1.3 {} {}", self.suite, self.mode)?;
        if let Some(group) = self.group {
            write!(f, " {group}")?;
        }
        if self.hello_retry {
            write!(f, " after HelloRetryRequest")?;
        }
        Ok(())
    }
}

/// Server policy; shared by every connection through `Arc`.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where keys come from.
    pub psk: Arc<dyn PskLookup>,
    /// Accept psk_ke (no forward secrecy) from clients that offer nothing else we can use.
    pub allow_psk_ke: bool,
    /// Suites we accept, most preferred first.
    pub suites: Vec<CipherSuite>,
    /// Groups we accept, used when the client sent no share we can use.
    pub groups: Vec<KxGroup>,
    /// X.509 mode: certificates instead of the key for every connection (tls-x509.md §7).
    #[cfg(feature = "tls-x509")]
    pub x509: Option<Arc<super::x509::X509Server>>,
}

impl ServerConfig {
    /// The defaults: ChaCha20 then AES-128-GCM, X25519 and P-256, psk_ke refused.
    pub fn new(psk: Arc<dyn PskLookup>) -> Self {
        Self {
            psk,
            allow_psk_ke: false,
            suites: vec![
                CipherSuite::Chacha20Poly1305Sha256,
                CipherSuite::Aes128GcmSha256,
            ],
            groups: vec![KxGroup::X25519, KxGroup::Secp256r1],
            #[cfg(feature = "tls-x509")]
            x509: None,
        }
    }

    /// Switches to X.509 mode when `settings` is given (the original's three settings are
    /// present, tls-x509.md §1): loads and checks every file now. The error names the
    /// setting, the file and the fix; the daemon then does not start, as the original.
    pub fn with_x509(
        self,
        settings: Option<&crate::config::x509::X509Settings>,
    ) -> Result<Self, String> {
        let Some(settings) = settings else {
            return Ok(self);
        };
        #[cfg(feature = "tls-x509")]
        {
            let server = super::x509::X509Server::load(settings).map_err(|e| e.to_string())?;
            server.warn_if_expiring();
            Ok(Self {
                x509: Some(Arc::new(server)),
                ..self
            })
        }
        #[cfg(not(feature = "tls-x509"))]
        Err(format!(
            "{} set {} and {} ask for X.509 mode, but this build has no X.509 support (feature \
             tls-x509, left out of the smallest boards): use a build with it, or unset them \
             to use the authentication key",
            settings.ca_file.name, settings.cert_file.name, settings.key_file.name
        ))
    }

    /// The mode for the log line at start: `TLS-PSK`, or X.509 with its files.
    pub fn mode(&self) -> String {
        #[cfg(feature = "tls-x509")]
        if let Some(x509) = &self.x509 {
            return x509.describe();
        }
        String::from("TLS-PSK")
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("mode", &self.mode())
            .field("allow_psk_ke", &self.allow_psk_ke)
            .field("suites", &self.suites)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

/// Client settings for the `check` command and tests.
#[derive(Clone)]
pub struct ClientConfig {
    /// PSK identity to offer.
    pub identity: Vec<u8>,
    /// The key bytes.
    pub psk: Zeroizing<Vec<u8>>,
    /// Suites to offer, in order.
    pub suites: Vec<CipherSuite>,
    /// Groups to list in supported_groups, in order.
    pub groups: Vec<KxGroup>,
    /// Groups to send key shares for (normally all of `groups`).
    pub key_shares: Vec<KxGroup>,
    /// Modes to offer in psk_key_exchange_modes, in order.
    pub modes: Vec<PskMode>,
}

impl ClientConfig {
    /// Offers what a GnuTLS server and ours accept: both suites, X25519 and P-256 shares,
    /// psk_dhe_ke only.
    pub fn new(identity: &[u8], psk: Zeroizing<Vec<u8>>) -> Self {
        Self {
            identity: identity.to_vec(),
            psk,
            suites: vec![
                CipherSuite::Chacha20Poly1305Sha256,
                CipherSuite::Aes128GcmSha256,
            ],
            groups: vec![KxGroup::X25519, KxGroup::Secp256r1],
            key_shares: vec![KxGroup::X25519, KxGroup::Secp256r1],
            modes: vec![PskMode::PskDheKe],
        }
    }

    /// Also offers psk_ke, after psk_dhe_ke.
    pub fn offer_psk_ke(mut self) -> Self {
        if !self.modes.contains(&PskMode::PskKe) {
            self.modes.push(PskMode::PskKe);
        }
        self
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("psk_len", &self.psk.len())
            .field("suites", &self.suites)
            .field("groups", &self.groups)
            .field("key_shares", &self.key_shares)
            .field("modes", &self.modes)
            .finish()
    }
}
