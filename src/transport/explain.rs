//! Handshake failures in words an operator can act on.
//!
//! The C client reports a wrong key and a refused TLS version with the same error (-129,
//! "Key was rejected by service"), so our log must say which it was (tls-psk.md 1). In: the
//! TLS layer's typed errors. Out: one sentence each, naming the cause and the fix.

use std::io::{Read, Write};
use std::net::TcpStream;

use futures_lite::{AsyncWrite, AsyncWriteExt};

use super::tls::{
    AlertDescription, Error, HandshakeError, Incompatible, Malformed, PeerAborted, WrongKey,
};

/// Why a client's handshake with us failed, for the daemon's log.
pub fn server_failure(e: &HandshakeError) -> String {
    match e {
        HandshakeError::Io(io) => format!("socket error during the handshake: {io}"),
        HandshakeError::Tls(Error::WrongKey(
            WrongKey::BinderMismatch | WrongKey::FinishedMismatch,
        )) => String::from(
            "wrong key: the client's authentication key differs from ours (PSK binder \
                 mismatch); copy the same authkey file to every node",
        ),
        HandshakeError::Tls(Error::WrongKey(WrongKey::UnknownIdentity { identity }))
            if identity.as_bytes() == super::tls::PACEMAKER_IDENTITY =>
        {
            String::from(
                "no usable key on this node (see the key error logged before): the client \
                 may hold the right key, but we cannot check it",
            )
        }
        HandshakeError::Tls(Error::WrongKey(WrongKey::UnknownIdentity { identity })) => format!(
            "unknown PSK identity '{}' (Pacemaker uses 'lrmd')",
            crate::logging::escaped(identity)
        ),
        HandshakeError::Tls(Error::Incompatible(Incompatible::OnlyOldVersions)) => String::from(
            "the client offers only TLS 1.2 or older (GnuTLS before 3.6, a RHEL 7 era node); \
             this daemon speaks TLS 1.3 only",
        ),
        HandshakeError::Tls(Error::Incompatible(Incompatible::NoPskOffered)) => String::from(
            "the client offers no pre-shared key: it is not a Pacemaker cluster node, or one \
             set up for X.509 (PCMK_ca_file, PCMK_cert_file and PCMK_key_file set there); \
             then set the same three here",
        ),
        HandshakeError::Tls(Error::Incompatible(Incompatible::PskKeNotAllowed)) => String::from(
            "the client offers only psk_ke (no forward secrecy); start with --allow-psk-ke to \
             accept it",
        ),
        HandshakeError::Tls(Error::Incompatible(i)) => format!("incompatible client: {i:?}"),
        HandshakeError::Tls(Error::Malformed(Malformed::UnknownRecordType(b))) => not_tls(*b),
        HandshakeError::Tls(Error::Malformed(m)) => format!("malformed TLS from the client: {m:?}"),
        HandshakeError::Tls(Error::PeerAborted(PeerAborted::ClosedMidHandshake)) => {
            String::from("the client closed the connection during the handshake")
        }
        HandshakeError::Tls(Error::PeerAborted(PeerAborted::Alert(a))) => {
            format!("the client aborted the handshake with alert {a}")
        }
        HandshakeError::Tls(Error::Local(l)) => format!("local failure: {l:?}"),
        // X.509 mode: the rejection names the certificate, the reason and the setting.
        HandshakeError::Tls(Error::Certificate(r)) => r.to_string(),
    }
}

/// Why our handshake with a server failed, for `check`.
pub fn client_failure(e: &HandshakeError) -> String {
    match e {
        HandshakeError::Io(io) => format!("socket error: {io}"),
        HandshakeError::Tls(Error::PeerAborted(PeerAborted::Alert(a))) => match a {
            AlertDescription::DecryptError
            | AlertDescription::IllegalParameter
            | AlertDescription::BadRecordMac => {
                format!("the node rejected our key (alert {a}): its authkey file differs from ours")
            }
            // We always offer the identity Pacemaker uses; a daemon that does not know it has
            // no key to check ours against.
            AlertDescription::UnknownPskIdentity => format!(
                "the node has no usable key (alert {a}): no key file installed, or one it cannot \
                 read, at its PCMK_authkey_location (default /etc/pacemaker/authkey); install \
                 the cluster's authkey there (its log names the file it tried)"
            ),
            AlertDescription::UserCanceled => format!(
                "the node is busy and turned this connection away (alert {a}): it is over one \
                 of its connection limits (max_pending_handshakes, max_pending_per_source or \
                 max_connections; its log names which). This is not a key problem: try again, \
                 and if it persists look for a connection flood at the node"
            ),
            // Measured: Pacemaker's original daemon (GnuTLS) ends a handshake it cannot
            // authenticate this way, for a different key and for no key alike.
            AlertDescription::CloseNotify => format!(
                "the node ended the handshake (alert {a}), as Pacemaker's own daemon does when \
                 it cannot match our key: its authkey differs from ours or it has none (compare \
                 the files, e.g. with sha256sum; the node's log says which)"
            ),
            AlertDescription::InternalError => {
                format!("the node failed on its own side (alert {a}); its log says why")
            }
            AlertDescription::ProtocolVersion => {
                format!("the node refused TLS 1.3 (alert {a}): it is too old for us")
            }
            AlertDescription::HandshakeFailure => format!(
                "the node found nothing in common with us (alert {a}): wrong key on an old \
                 daemon, or a TLS policy that excludes PSK with (EC)DHE"
            ),
            _ => format!("the node aborted the handshake with alert {a}"),
        },
        HandshakeError::Tls(Error::PeerAborted(PeerAborted::ClosedMidHandshake)) => String::from(
            "the node closed the connection during the handshake (a key mismatch, or not a \
             Pacemaker Remote daemon)",
        ),
        HandshakeError::Tls(Error::Malformed(Malformed::UnknownRecordType(b))) => {
            format!("the node does not speak TLS on this port: {}", not_tls(*b))
        }
        HandshakeError::Tls(Error::Incompatible(Incompatible::ServerChoseVersion(v))) => {
            format!("the node chose TLS version {v:#06x}; we speak TLS 1.3 only")
        }
        HandshakeError::Tls(Error::WrongKey(_)) => String::from(
            "the node proved a different key (Finished mismatch): the authkey files differ",
        ),
        HandshakeError::Tls(other) => format!("{other}"),
    }
}

fn not_tls(first: u8) -> String {
    match first {
        b'S' => String::from("not TLS: it looks like SSH (an 'SSH-' banner)"),
        b'G' | b'P' | b'H' => String::from("not TLS: it looks like plain HTTP"),
        b if b.is_ascii_graphic() => format!("not TLS: plain text starting with '{}'", b as char),
        b => format!("not TLS: first byte {b:#04x}"),
    }
}

/// A `close_notify` alert in a plaintext record: what the original sends when a client has
/// not finished its handshake within the deadline (protocol.md 5.5).
pub async fn send_plain_close_notify<W: AsyncWrite + Unpin>(mut io: W) {
    let _ = io
        .write_all(&plain_alert(AlertDescription::CloseNotify))
        .await;
    let _ = io.flush().await;
}

/// Turns away a connection that is still before or inside its first flight because a limit
/// is reached: a fatal `user_canceled` alert in a plaintext record ("cancelled for a reason
/// unrelated to a protocol failure", RFC 8446 6.1), so `check` can tell "busy" from a wrong
/// key, then close. A TLS client (GnuTLS in Pacemaker's case) sees a failed handshake and
/// retries on its own schedule. Never blocks: the alert fits any socket buffer, and what
/// the peer already sent is read and dropped first so the close is a FIN rather than a reset
/// that could overtake the alert.
pub fn refuse_busy(tcp: &TcpStream) {
    let mut sink = [0u8; 4096];
    // Bounded: a few reads of what is already queued, never a wait.
    for _ in 0..4 {
        match (&*tcp).read(&mut sink) {
            Ok(n) if n == sink.len() => continue,
            _ => break,
        }
    }
    let _ = (&*tcp).write(&plain_alert(AlertDescription::UserCanceled));
}

/// A fatal (or, for `close_notify`, warning) alert as a plaintext TLS record.
fn plain_alert(alert: AlertDescription) -> [u8; 7] {
    let level = if alert == AlertDescription::CloseNotify {
        1
    } else {
        2
    };
    [0x15, 0x03, 0x03, 0x00, 0x02, level, alert.to_u8()]
}
