//! One X.509-mode connection without I/O: rustls's `ServerConnection` behind the same
//! calls as the PSK engine, so `TlsStream` and the daemon drive both alike.
//!
//! In: bytes from the peer, application payloads. Out: bytes to write, plaintext, and on
//! failure a typed `Error` (a refused certificate as a `Rejection` naming subject, reason and
//! setting). Input is taken in bounded amounts and decrypted only while less than
//! `PLAINTEXT_LIMIT` waits, as in the PSK engine. Each `send_record` call is one record
//! (protocol.md §6.6): rustls seals every write at once and splits only above 16 KiB.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::ServerConnection;

use super::super::error::{AlertDescription, Error, Incompatible, Local, Malformed, PeerAborted};
use super::super::record::{MAX_FRAGMENT_LEN, READ_CAPACITY};
use super::super::rejection::{Reason, Rejection};
use super::{verify, X509Server};

/// Decrypted application data we hold for the caller before we stop reading records.
const PLAINTEXT_LIMIT: usize = 4 * MAX_FRAGMENT_LEN;

/// A server connection in X.509 mode.
pub(in super::super) struct Session {
    conn: ServerConnection,
    server: Arc<X509Server>,
    input: Vec<u8>,
    output: Vec<u8>,
    plaintext: Vec<u8>,
    failure: Option<Error>,
    seen_first_byte: bool,
    flight_sent: bool,
    peer_closed: bool,
    close_sent: bool,
    subject: Option<String>,
}

impl Session {
    /// A session waiting for the ClientHello; fails only if rustls cannot start one.
    pub(in super::super) fn new(server: Arc<X509Server>) -> Result<Self, Error> {
        let conn = ServerConnection::new(server.rustls_config())
            .map_err(|e| Error::Local(Local::Described(format!("tls set-up: {e}"))))?;
        Ok(Self {
            conn,
            server,
            input: Vec::new(),
            output: Vec::new(),
            plaintext: Vec::new(),
            failure: None,
            seen_first_byte: false,
            flight_sent: false,
            peer_closed: false,
            close_sent: false,
            subject: None,
        })
    }

    pub(in super::super) fn read_tls(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        if let Some(err) = &self.failure {
            return Err(err.clone());
        }
        let n = bytes.len().min(self.read_capacity());
        self.input.extend_from_slice(&bytes[..n]);
        Ok(n)
    }

    pub(in super::super) fn read_capacity(&self) -> usize {
        READ_CAPACITY.saturating_sub(self.input.len())
    }

    /// Feeds buffered input to rustls and collects plaintext and output.
    pub(in super::super) fn process(&mut self) -> Result<(), Error> {
        if let Some(err) = &self.failure {
            return Err(err.clone());
        }
        let result = self.feed();
        self.pull_output();
        if let Err(err) = &result {
            self.fail(err.clone());
        }
        result
    }

    fn feed(&mut self) -> Result<(), Error> {
        if !self.seen_first_byte {
            if let Some(&first) = self.input.first() {
                self.seen_first_byte = true;
                // Not a TLS record at all: say so as the PSK engine does (an SSH banner,
                // plain HTTP), instead of rustls's generic message.
                if !(0x14..=0x17).contains(&first) {
                    return Err(Error::Malformed(Malformed::UnknownRecordType(first)));
                }
            }
        }
        // Each turn hands rustls some of a bounded buffer, or stops.
        while !self.input.is_empty() && self.plaintext.len() + MAX_FRAGMENT_LEN <= PLAINTEXT_LIMIT {
            let mut reader: &[u8] = &self.input;
            let taken = self
                .conn
                .read_tls(&mut reader)
                .map_err(|e| Error::Local(Local::Described(format!("tls input: {e}"))))?;
            self.input.drain(..taken);
            verify::clear_rejection();
            let was_handshaking = self.conn.is_handshaking();
            let state = self.conn.process_new_packets().map_err(|e| self.map(e))?;
            if was_handshaking && !self.conn.is_handshaking() {
                self.established();
            }
            let available = state.plaintext_bytes_to_read();
            if available > 0 {
                let start = self.plaintext.len();
                self.plaintext.resize(start + available, 0);
                self.conn
                    .reader()
                    .read_exact(&mut self.plaintext[start..])
                    .map_err(|e| Error::Local(Local::Described(format!("tls plaintext: {e}"))))?;
            }
            if state.peer_has_closed() {
                self.peer_closed = true;
                self.input.clear();
            }
            if taken == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The handshake completed: the client's certificate verified. Which certificate got
    /// in is worth a line of its own (the original names none).
    fn established(&mut self) {
        let info = self
            .conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|cert| super::certinfo::read(cert.as_ref()));
        if let Some(info) = &info {
            log::info!(
                "tls: client certificate '{}' (issued by '{}', serial {}) accepted",
                crate::logging::escaped(&info.subject),
                crate::logging::escaped(&info.issuer),
                info.serial
            );
        }
        self.subject = info.map(|i| i.subject);
        log::debug!("tls: handshake complete: {}", self.describe());
        self.server.warn_if_expiring();
    }

    /// rustls's error in our terms; a refused certificate as the verifier described it.
    fn map(&self, error: rustls::Error) -> Error {
        use rustls::PeerIncompatible as P;
        match error {
            rustls::Error::InvalidCertificate(e) => {
                Error::Certificate(verify::take_rejection().unwrap_or_else(|| {
                    Box::new(Rejection {
                        subject: None,
                        reason: Reason::Other(format!("{e:?}")),
                        ca_file: self.server.ca_file().to_string(),
                        crl_file: self.server.crl_file().map(str::to_string),
                    })
                }))
            }
            rustls::Error::NoCertificatesPresented => Error::Certificate(Box::new(
                Rejection::no_certificate(self.server.ca_file(), self.server.crl_file()),
            )),
            rustls::Error::AlertReceived(alert) => {
                let alert = AlertDescription::from_u8(u8::from(alert));
                // Certificate alerts during the handshake are about ours: the cluster checks
                // it against its own CA file (tls-x509.md §3).
                if self.conn.is_handshaking() && is_certificate_alert(alert) {
                    self.ours_refused(Some(alert))
                } else {
                    Error::PeerAborted(PeerAborted::Alert(alert))
                }
            }
            rustls::Error::PeerIncompatible(
                P::SupportedVersionsExtensionRequired | P::Tls12NotOffered,
            ) => Error::Incompatible(Incompatible::OnlyOldVersions),
            rustls::Error::PeerIncompatible(P::NoCipherSuitesInCommon) => {
                Error::Incompatible(Incompatible::NoCommonSuite)
            }
            rustls::Error::PeerIncompatible(P::NoKxGroupsInCommon) => {
                Error::Incompatible(Incompatible::NoCommonKeyExchange)
            }
            rustls::Error::PeerIncompatible(other) => {
                Error::Incompatible(Incompatible::Described(format!("{other:?}")))
            }
            rustls::Error::DecryptError => Error::Malformed(Malformed::BadRecordMac),
            e @ (rustls::Error::InvalidMessage(_)
            | rustls::Error::PeerMisbehaved(_)
            | rustls::Error::InappropriateMessage { .. }
            | rustls::Error::InappropriateHandshakeMessage { .. }) => {
                Error::Malformed(Malformed::Described(e.to_string()))
            }
            other => Error::Local(Local::Described(other.to_string())),
        }
    }

    /// The client refused our certificate, with an alert or by closing after it.
    fn ours_refused(&self, alert: Option<AlertDescription>) -> Error {
        Error::Certificate(Box::new(Rejection {
            subject: None,
            reason: Reason::OursRefused {
                alert,
                ours: self.server.own_subject().to_string(),
                cert_file: self.server.cert_file().to_string(),
            },
            ca_file: self.server.ca_file().to_string(),
            crl_file: self.server.crl_file().map(str::to_string),
        }))
    }

    fn fail(&mut self, err: Error) {
        crate::limited!(
            crate::logging::Source::KeylessPeer,
            log::Level::Debug,
            "tls: connection failed: {err}"
        );
        self.failure = Some(err);
    }

    /// Moves what rustls has sealed into our output buffer; notes when our first flight
    /// (with our certificate) goes out.
    fn pull_output(&mut self) {
        // Each turn moves at least one queued chunk; rustls's queue is finite.
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.output) {
                Ok(0) | Err(_) => break,
                Ok(_) => self.flight_sent |= self.conn.is_handshaking(),
            }
        }
    }

    pub(in super::super) fn read_eof(&mut self) -> Result<(), Error> {
        if let Some(err) = &self.failure {
            return Err(err.clone());
        }
        if self.conn.is_handshaking() {
            // After our certificate went out, a silent close is how Pacemaker's client
            // refuses it (tls-x509.md §6).
            let err = if self.flight_sent {
                self.ours_refused(None)
            } else {
                Error::PeerAborted(PeerAborted::ClosedMidHandshake)
            };
            self.fail(err.clone());
            return Err(err);
        }
        Ok(())
    }

    pub(in super::super) fn outgoing(&self) -> &[u8] {
        &self.output
    }

    pub(in super::super) fn consume_outgoing(&mut self, n: usize) {
        let n = n.min(self.output.len());
        self.output.drain(..n);
    }

    pub(in super::super) fn is_handshaking(&self) -> bool {
        self.failure.is_none() && self.conn.is_handshaking()
    }

    /// The client proved its certificate's key (CertificateVerify) once the handshake is
    /// complete; before that nothing is proved.
    pub(in super::super) fn peer_proved_key(&self) -> bool {
        self.failure.is_none() && !self.conn.is_handshaking()
    }

    pub(in super::super) fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    pub(in super::super) fn consume_plaintext(&mut self, n: usize) {
        let n = n.min(self.plaintext.len());
        self.plaintext.drain(..n);
    }

    pub(in super::super) fn send_record(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        if data.len() > MAX_FRAGMENT_LEN {
            return Err(Error::Local(Local::RecordTooLarge {
                len: data.len(),
                max: MAX_FRAGMENT_LEN,
            }));
        }
        let result = self
            .conn
            .writer()
            .write_all(data)
            .map_err(|e| Error::Local(Local::Described(format!("tls output: {e}"))));
        self.pull_output();
        if let Err(err) = &result {
            self.fail(err.clone());
        }
        result
    }

    pub(in super::super) fn send_key_update(&mut self) -> Result<(), Error> {
        self.check_can_send()?;
        let result = self
            .conn
            .refresh_traffic_keys()
            .map_err(|e| Error::Local(Local::Described(format!("key update: {e}"))));
        self.pull_output();
        result
    }

    pub(in super::super) fn send_close_notify(&mut self) {
        if self.close_sent || self.failure.is_some() {
            return;
        }
        self.close_sent = true;
        self.conn.send_close_notify();
        self.pull_output();
    }

    pub(in super::super) fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    pub(in super::super) fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }

    /// What was agreed, for the log: version, suite, group and the client's subject.
    pub(in super::super) fn describe(&self) -> String {
        let suite = self
            .conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default();
        let group = self
            .conn
            .negotiated_key_exchange_group()
            .map(|g| format!(" {:?}", g.name()))
            .unwrap_or_default();
        let subject = self
            .subject
            .as_deref()
            .map(|s| format!(" client certificate '{}'", crate::logging::escaped(s)))
            .unwrap_or_default();
        format!("TLS1.3 {suite}{group} X.509{subject}")
    }

    fn check_can_send(&self) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Local(Local::Closed));
        }
        if self.failure.is_some() || self.conn.is_handshaking() {
            return Err(Error::Local(Local::NotConnected));
        }
        Ok(())
    }
}

/// Alerts a client sends about the server's certificate (RFC 8446 §6.2).
fn is_certificate_alert(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::BadCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::UnknownCa
            | AlertDescription::Other(43 | 46)
    )
}
