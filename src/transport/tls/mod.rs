//! TLS 1.3 with an external pre-shared key, as Pacemaker's cluster nodes speak it
//! (tls-psk.md; protocol.md §5), or with certificates when the original's X.509 settings
//! are present (feature `tls-x509`, tls-x509.md).
//!
//! In: socket bytes and a key lookup. Out: plaintext, and records cut exactly where the
//! caller says (protocol.md §6.6: one `send_record` call is one record).
//! rustls has no external-PSK support, so we write the codec, record layer, key schedule and
//! both state machines, and take every primitive from rustls's public crypto-provider API
//! (all of it confined to `provider.rs`). X.509 mode is rustls's own server, in `x509/`. Never logs key material, never issues tickets,
//! never accepts 0-RTT, never speaks TLS 1.2.
//!
//! Layout, in the order bytes travel:
//! - `record`: record framing and protection; `joiner`: handshake message reassembly;
//! - `hello`, `codec`: message encoding and parsing;
//! - `server`, `client`: the handshake state machines; `traffic`: KeyUpdate;
//! - `key_schedule`: RFC 8446 §7; `provider`: rustls; `aes128gcm`: ring for AES-128-GCM;
//! - `connection`: the sans-I/O API over either engine; `stream`: the async wrapper;
//! - `x509`: X.509 mode (files, client-certificate check, rustls session); `rejection`: why
//!   a certificate was refused, in words.
#![warn(missing_docs)]

mod aes128gcm;
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
mod client;
mod codec;
mod config;
mod connection;
mod error;
mod hello;
mod joiner;
mod key_schedule;
mod provider;
mod record;
mod rejection;
mod server;
mod stream;
mod traffic;
#[cfg(feature = "tls-x509")]
mod x509;

#[doc(hidden)]
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
pub mod fuzzing;

#[cfg(test)]
mod test_vectors;
#[cfg(test)]
mod tests;

pub use self::config::{
    CipherSuite, ClientConfig, KxGroup, Negotiated, PskLookup, PskMode, ServerConfig, StaticPsk,
    PACEMAKER_IDENTITY,
};
pub use self::connection::Connection;
pub use self::error::{
    AlertDescription, Error, Incompatible, Local, Malformed, PeerAborted, WrongKey,
};
pub use self::rejection::{Reason, Rejection};
pub use self::stream::{HandshakeError, TlsStream};
#[cfg(feature = "tls-x509")]
pub use self::x509::{LoadError, X509Server};

/// Random bytes from the source the handshakes use; client ids are made from them.
pub fn random_16() -> Result<[u8; 16], Error> {
    let mut out = [0u8; 16];
    provider::fill_random(&mut out)?;
    Ok(out)
}
