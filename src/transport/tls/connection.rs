//! One TLS 1.3 connection without I/O: bytes in, records and plaintext out.
//!
//! In: raw bytes from the peer (`read_tls`), application payloads (`send_record`).
//! Out: bytes to write (`outgoing`), decrypted application data (`plaintext`), and what was
//! negotiated. The caller moves the bytes; this type never touches a socket or a clock.
//! Any failure queues the matching alert, then the connection is dead. Nothing coalesces:
//! each `send_record` call is exactly one application_data record (protocol.md §6.6).
//! Two engines sit behind the same calls: our external-PSK handshake, and (feature
//! `tls-x509`, when the server configuration carries certificates) rustls's own server
//! (tls-x509.md); the mode is the daemon's, chosen at start, never per connection.

use std::sync::Arc;

#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
use super::client::ClientState;
use super::codec::{handshake, handshake_message, HANDSHAKE_HEADER_LEN};
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
use super::config::ClientConfig;
use super::config::{Negotiated, ServerConfig};
use super::error::{AlertDescription, Error, Local, PeerAborted};
use super::joiner::HandshakeJoiner;
use super::record::{Inbound, RecordLayer, MAX_FRAGMENT_LEN};
use super::server::ServerState;
use super::traffic::{Step, Traffic};

/// Decrypted application data we hold for the caller before we stop reading records.
const PLAINTEXT_LIMIT: usize = 4 * MAX_FRAGMENT_LEN;
/// We update our own key after this many records: far below AES-GCM's limit of about 2^24.5
/// records per key (RFC 8446 §5.5), and harmless for ChaCha20.
const REKEY_AFTER_RECORDS: u64 = 1 << 23;

/// A TLS 1.3 connection, server or client side: external PSK, or X.509 on the server when
/// configured.
pub struct Connection(Engine);

// The PSK engine, the common case, stays inline as before; only X.509 sessions (a rustls
// connection, larger still) take the extra allocation.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Psk(Psk),
    #[cfg(feature = "tls-x509")]
    X509(Box<super::x509::Session>),
}

/// Calls `$call` on whichever engine runs this connection.
macro_rules! engine {
    ($self:ident, $conn:ident => $call:expr) => {
        match &$self.0 {
            Engine::Psk($conn) => $call,
            #[cfg(feature = "tls-x509")]
            Engine::X509($conn) => $call,
        }
    };
    (mut $self:ident, $conn:ident => $call:expr) => {
        match &mut $self.0 {
            Engine::Psk($conn) => $call,
            #[cfg(feature = "tls-x509")]
            Engine::X509($conn) => $call,
        }
    };
}

impl Connection {
    /// A server connection waiting for a ClientHello: X.509 mode when `cfg` carries
    /// certificates, our PSK handshake otherwise.
    pub fn new_server(cfg: Arc<ServerConfig>) -> Self {
        #[cfg(feature = "tls-x509")]
        if let Some(x509) = &cfg.x509 {
            return match super::x509::Session::new(x509.clone()) {
                Ok(session) => Self(Engine::X509(Box::new(session))),
                Err(err) => Self(Engine::Psk(Psk::failed(err))),
            };
        }
        Self(Engine::Psk(Psk::new_server(cfg)))
    }

    /// A client connection with its ClientHello already queued in `outgoing`.
    ///
    /// If the hello cannot be built (no randomness), the error comes out of `process`.
    #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
    pub fn new_client(cfg: Arc<ClientConfig>) -> Self {
        Self(Engine::Psk(Psk::new_client(cfg)))
    }

    /// Buffers bytes from the peer, at most `read_capacity()` of them; returns how many.
    pub fn read_tls(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        engine!(mut self, c => c.read_tls(bytes))
    }

    /// How many more bytes `read_tls` would take now.
    pub fn read_capacity(&self) -> usize {
        engine!(self, c => c.read_capacity())
    }

    /// Handles every buffered record: advances the handshake, decrypts application data.
    ///
    /// Stops early while enough plaintext is waiting (backpressure).
    /// On error the alert is already queued in `outgoing` and the connection is dead.
    pub fn process(&mut self) -> Result<(), Error> {
        engine!(mut self, c => c.process())
    }

    /// The stream ended. Mid-handshake that is an error; afterwards it is a close without
    /// close_notify, which we accept as end of data.
    pub fn read_eof(&mut self) -> Result<(), Error> {
        engine!(mut self, c => c.read_eof())
    }

    /// Bytes waiting to be written to the peer.
    pub fn outgoing(&self) -> &[u8] {
        engine!(self, c => c.outgoing())
    }

    /// Marks `n` bytes of `outgoing()` as written.
    pub fn consume_outgoing(&mut self, n: usize) {
        engine!(mut self, c => c.consume_outgoing(n))
    }

    /// True until the handshake completes (and also false after a failure).
    pub fn is_handshaking(&self) -> bool {
        engine!(self, c => c.is_handshaking())
    }

    /// Server side: whether the client has shown it holds the key: a PSK binder verified (a
    /// round trip before the handshake completes), or in X.509 mode its certificate and
    /// CertificateVerify at the end of the handshake. The listener protects such handshakes
    /// when it must drop one to make room.
    pub fn peer_proved_key(&self) -> bool {
        engine!(self, c => c.peer_proved_key())
    }

    /// Decrypted application data not yet consumed.
    pub fn plaintext(&self) -> &[u8] {
        engine!(self, c => c.plaintext())
    }

    /// Marks `n` bytes of `plaintext()` as consumed.
    pub fn consume_plaintext(&mut self, n: usize) {
        engine!(mut self, c => c.consume_plaintext(n))
    }

    /// The largest payload `send_record` takes (16384, or less if the peer asked via
    /// record_size_limit).
    pub fn max_record_payload(&self) -> usize {
        match &self.0 {
            Engine::Psk(c) => c.max_record_payload(),
            #[cfg(feature = "tls-x509")]
            Engine::X509(_) => MAX_FRAGMENT_LEN,
        }
    }

    /// Queues exactly one application_data record holding `data`.
    ///
    /// A KeyUpdate the peer requested may go out first, as a record of its own.
    pub fn send_record(&mut self, data: &[u8]) -> Result<(), Error> {
        engine!(mut self, c => c.send_record(data))
    }

    /// Sends a KeyUpdate and switches to our next key; `request_peer` asks the peer to do
    /// the same (RFC 8446 §4.6.3). In X.509 mode rustls always asks the peer.
    pub fn send_key_update(&mut self, request_peer: bool) -> Result<(), Error> {
        match &mut self.0 {
            Engine::Psk(c) => c.send_key_update(request_peer),
            #[cfg(feature = "tls-x509")]
            Engine::X509(c) => c.send_key_update(),
        }
    }

    /// Queues close_notify (once); nothing may be sent after it.
    pub fn send_close_notify(&mut self) {
        engine!(mut self, c => c.send_close_notify())
    }

    /// Whether the peer sent close_notify.
    pub fn peer_closed(&self) -> bool {
        engine!(self, c => c.peer_closed())
    }

    /// What the PSK handshake agreed on, once it has completed; `None` in X.509 mode (see
    /// `describe`).
    pub fn negotiated(&self) -> Option<Negotiated> {
        match &self.0 {
            Engine::Psk(c) => c.negotiated(),
            #[cfg(feature = "tls-x509")]
            Engine::X509(_) => None,
        }
    }

    /// What the handshake agreed on, in words for the log, in either mode.
    pub fn describe(&self) -> String {
        match &self.0 {
            Engine::Psk(c) => c.negotiated().map_or_else(String::new, |n| n.to_string()),
            #[cfg(feature = "tls-x509")]
            Engine::X509(c) => c.describe(),
        }
    }

    /// How many KeyUpdate messages were (received, sent); PSK mode only.
    pub fn key_updates(&self) -> (u64, u64) {
        match &self.0 {
            Engine::Psk(c) => c.key_updates(),
            #[cfg(feature = "tls-x509")]
            Engine::X509(_) => (0, 0),
        }
    }

    /// The error that ended this connection, if any.
    pub fn failure(&self) -> Option<&Error> {
        engine!(self, c => c.failure())
    }

    /// Writes an application_data record even after close_notify, so tests can play a
    /// misbehaving peer.
    #[cfg(test)]
    pub(super) fn write_after_close_for_test(&mut self, data: &[u8]) {
        match &mut self.0 {
            Engine::Psk(c) => c.write_after_close_for_test(data),
            #[cfg(feature = "tls-x509")]
            Engine::X509(_) => unreachable!("PSK tests only"),
        }
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Engine::Psk(c) => c.fmt(f),
            #[cfg(feature = "tls-x509")]
            Engine::X509(c) => f
                .debug_struct("Connection")
                .field("mode", &"x509")
                .field("handshaking", &c.is_handshaking())
                .field("failure", &c.failure())
                .finish_non_exhaustive(),
        }
    }
}

/// The external-PSK engine: our own handshake on rustls's primitives (tls-psk.md).
struct Psk {
    records: RecordLayer,
    joiner: HandshakeJoiner,
    state: State,
    plaintext: Vec<u8>,
    scratch: Vec<u8>,
    failure: Option<Error>,
    peer_closed: bool,
    close_sent: bool,
    key_update_due: bool,
    /// KeyUpdate messages (received, sent), for the log and tests.
    key_updates: (u64, u64),
}

enum State {
    Server(ServerState, Arc<ServerConfig>),
    #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
    Client(ClientState, Arc<ClientConfig>),
    Established(Traffic),
    Failed,
}

impl Psk {
    fn new_server(cfg: Arc<ServerConfig>) -> Self {
        Self::with_state(State::Server(ServerState::ExpectClientHello, cfg))
    }

    /// A connection that failed before it began (X.509 set-up failure).
    #[cfg(feature = "tls-x509")]
    fn failed(err: Error) -> Self {
        let mut conn = Self::with_state(State::Failed);
        conn.failure = Some(err);
        conn
    }

    #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
    fn new_client(cfg: Arc<ClientConfig>) -> Self {
        let mut conn = Self::with_state(State::Failed);
        match ClientState::start(&cfg, &mut conn.records) {
            Ok(state) => conn.state = State::Client(state, cfg),
            Err(err) => conn.fail(err),
        }
        conn
    }

    fn with_state(state: State) -> Self {
        Self {
            records: RecordLayer::new(),
            joiner: HandshakeJoiner::default(),
            state,
            plaintext: Vec::new(),
            scratch: Vec::new(),
            failure: None,
            peer_closed: false,
            close_sent: false,
            key_update_due: false,
            key_updates: (0, 0),
        }
    }

    /// Buffers bytes from the peer, at most `read_capacity()` of them; returns how many.
    pub fn read_tls(&mut self, bytes: &[u8]) -> Result<usize, Error> {
        match &self.failure {
            Some(err) => Err(err.clone()),
            None => Ok(self.records.read_tls(bytes)),
        }
    }

    /// How many more bytes `read_tls` would take now.
    pub fn read_capacity(&self) -> usize {
        self.records.read_capacity()
    }

    /// Handles every buffered record: advances the handshake, decrypts application data.
    ///
    /// Stops early while `PLAINTEXT_LIMIT` bytes of plaintext are waiting (backpressure).
    /// On error the alert is already queued in `outgoing` and the connection is dead.
    pub fn process(&mut self) -> Result<(), Error> {
        if let Some(err) = &self.failure {
            return Err(err.clone());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let result = self
            .process_records(&mut scratch)
            .and_then(|()| self.send_due_key_update());
        self.scratch = scratch;
        if let Err(err) = &result {
            self.fail(err.clone());
        }
        result
    }

    /// The stream ended. Mid-handshake that is an error; afterwards it is a close without
    /// close_notify, which we accept as end of data.
    pub fn read_eof(&mut self) -> Result<(), Error> {
        if let Some(err) = &self.failure {
            return Err(err.clone());
        }
        if self.is_handshaking() {
            let err = Error::PeerAborted(PeerAborted::ClosedMidHandshake);
            self.fail(err.clone());
            return Err(err);
        }
        Ok(())
    }

    /// Bytes waiting to be written to the peer.
    pub fn outgoing(&self) -> &[u8] {
        self.records.outgoing()
    }

    /// Marks `n` bytes of `outgoing()` as written.
    pub fn consume_outgoing(&mut self, n: usize) {
        self.records.consume_outgoing(n);
    }

    /// True until the handshake completes (and also false after a failure).
    pub fn is_handshaking(&self) -> bool {
        match self.state {
            State::Server(..) => true,
            #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
            State::Client(..) => true,
            State::Established(_) | State::Failed => false,
        }
    }

    /// Server side: whether the client has shown it holds the key, which its first flight
    /// does (a PSK binder verified), a round trip before the handshake completes. The
    /// listener protects such handshakes when it must drop one to make room.
    pub fn peer_proved_key(&self) -> bool {
        match &self.state {
            State::Server(state, _) => state.binder_verified(),
            State::Established(traffic) => traffic.is_server(),
            #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
            State::Client(..) => false,
            State::Failed => false,
        }
    }

    /// Decrypted application data not yet consumed.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// Marks `n` bytes of `plaintext()` as consumed.
    pub fn consume_plaintext(&mut self, n: usize) {
        let n = n.min(self.plaintext.len());
        self.plaintext.drain(..n);
    }

    /// The largest payload `send_record` takes (16384, or less if the peer asked via
    /// record_size_limit).
    pub fn max_record_payload(&self) -> usize {
        self.records.max_fragment()
    }

    /// Queues exactly one application_data record holding `data`.
    ///
    /// A KeyUpdate the peer requested may go out first, as a record of its own.
    pub fn send_record(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_can_send()?;
        let max = self.records.max_fragment();
        if data.len() > max {
            return Err(Error::Local(Local::RecordTooLarge {
                len: data.len(),
                max,
            }));
        }
        if self.records.write_seq() >= REKEY_AFTER_RECORDS {
            self.key_update_due = true;
        }
        let result = self
            .send_due_key_update()
            .and_then(|()| self.records.write_application_data(data));
        if let Err(err) = &result {
            self.fail(err.clone());
        }
        result
    }

    /// Sends a KeyUpdate and switches to our next key; `request_peer` asks the peer to do
    /// the same (RFC 8446 §4.6.3).
    pub fn send_key_update(&mut self, request_peer: bool) -> Result<(), Error> {
        self.check_can_send()?;
        let result = self.key_update(request_peer);
        if let Err(err) = &result {
            self.fail(err.clone());
        }
        result
    }

    /// Queues close_notify (once); nothing may be sent after it.
    pub fn send_close_notify(&mut self) {
        if self.close_sent || self.failure.is_some() {
            return;
        }
        self.close_sent = true;
        if let Err(err) = self.records.write_alert(AlertDescription::CloseNotify) {
            self.fail(err);
        }
    }

    /// Whether the peer sent close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// What the handshake agreed on, once it has completed.
    pub fn negotiated(&self) -> Option<Negotiated> {
        match &self.state {
            State::Established(traffic) => Some(traffic.negotiated()),
            _ => None,
        }
    }

    /// How many KeyUpdate messages were (received, sent).
    pub fn key_updates(&self) -> (u64, u64) {
        self.key_updates
    }

    /// The error that ended this connection, if any.
    pub fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }

    /// Writes an application_data record even after close_notify, so tests can play a
    /// misbehaving peer.
    #[cfg(test)]
    fn write_after_close_for_test(&mut self, data: &[u8]) {
        self.records.write_application_data(data).unwrap();
    }

    fn check_can_send(&self) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Local(Local::Closed));
        }
        match (&self.state, &self.failure) {
            (State::Established(_), None) => Ok(()),
            _ => Err(Error::Local(Local::NotConnected)),
        }
    }

    fn fail(&mut self, err: Error) {
        if let Some(alert) = err.alert() {
            // Best effort: if even the alert cannot be sealed there is nothing left to say.
            let _ = self.records.write_alert(alert);
        }
        // A keyless peer can make this happen at will: rate-limited with theirs.
        crate::limited!(
            crate::logging::Source::KeylessPeer,
            log::Level::Debug,
            "tls: connection failed: {err}"
        );
        self.failure = Some(err);
        self.state = State::Failed;
    }

    fn process_records(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        // Each turn consumes one buffered record; the input buffer is bounded.
        while self.plaintext.len() + MAX_FRAGMENT_LEN <= PLAINTEXT_LIMIT {
            let Some(inbound) = self.records.next_record(buf)? else {
                return Ok(());
            };
            match inbound {
                Inbound::ChangeCipherSpec => {}
                Inbound::Alert(AlertDescription::CloseNotify) if !self.is_handshaking() => {
                    self.peer_closed = true;
                    self.records.mark_peer_closed();
                }
                // Mid-handshake it cancels the handshake (RFC 8446 §6.1): a busy server says
                // so instead of a bare close. Afterwards it only announces close_notify.
                Inbound::Alert(AlertDescription::UserCanceled) if !self.is_handshaking() => {}
                Inbound::Alert(alert) => return Err(Error::PeerAborted(PeerAborted::Alert(alert))),
                Inbound::Handshake => self.handle_handshake_fragment(buf)?,
                Inbound::ApplicationData => {
                    if !matches!(self.state, State::Established(_)) {
                        return Err(Error::unexpected("application data during the handshake"));
                    }
                    self.plaintext.extend_from_slice(buf);
                }
            }
        }
        Ok(())
    }

    fn handle_handshake_fragment(&mut self, fragment: &[u8]) -> Result<(), Error> {
        self.joiner.push(fragment)?;
        // Each turn removes one whole message from a bounded buffer.
        while let Some(message) = self.joiner.pop()? {
            let epoch = self.records.read_epoch();
            self.handle_message(&message)?;
            // RFC 8446 §5.1: a key change must fall on a record boundary.
            if self.records.read_epoch() != epoch && !self.joiner.is_empty() {
                return Err(Error::unexpected("handshake data across a key change"));
            }
        }
        Ok(())
    }

    fn handle_message(&mut self, message: &[u8]) -> Result<(), Error> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        self.state = match state {
            State::Server(state, cfg) => match state.handle(&cfg, &mut self.records, message)? {
                Step::Continue(next) => State::Server(next, cfg),
                Step::Done(traffic) => established(traffic),
            },
            #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
            State::Client(state, cfg) => match state.handle(&cfg, &mut self.records, message)? {
                Step::Continue(next) => State::Client(next, cfg),
                Step::Done(traffic) => established(traffic),
            },
            State::Established(mut traffic) => {
                self.post_handshake(&mut traffic, message)?;
                State::Established(traffic)
            }
            State::Failed => return Err(Error::unexpected("message after failure")),
        };
        Ok(())
    }

    /// KeyUpdate both ways; NewSessionTicket skipped on the client (we never resume).
    fn post_handshake(&mut self, traffic: &mut Traffic, message: &[u8]) -> Result<(), Error> {
        let typ = message.first().copied().unwrap_or(0);
        let body = message.get(HANDSHAKE_HEADER_LEN..).unwrap_or(&[]);
        match typ {
            handshake::KEY_UPDATE => {
                let request = match *body {
                    [request @ (0 | 1)] => request,
                    [_] => return Err(Error::illegal("key_update request_update")),
                    _ => return Err(Error::decode("key_update")),
                };
                self.records.set_opener(traffic.update_peer()?);
                self.key_updates.0 += 1;
                // One answer however many requests arrive while we are silent (§4.6.3).
                self.key_update_due |= request == 1;
                Ok(())
            }
            handshake::NEW_SESSION_TICKET if !traffic.is_server() => Ok(()),
            _ => Err(Error::unexpected("handshake message after the handshake")),
        }
    }

    fn send_due_key_update(&mut self) -> Result<(), Error> {
        if self.key_update_due && !self.close_sent && matches!(self.state, State::Established(_)) {
            self.key_update(false)?;
        }
        Ok(())
    }

    fn key_update(&mut self, request_peer: bool) -> Result<(), Error> {
        let State::Established(traffic) = &mut self.state else {
            return Err(Error::Local(Local::NotConnected));
        };
        let message = handshake_message(handshake::KEY_UPDATE, &[u8::from(request_peer)]);
        self.records.write_handshake(&message)?;
        self.records.set_sealer(traffic.update_own()?);
        self.key_update_due = false;
        self.key_updates.1 += 1;
        Ok(())
    }
}

fn established(traffic: Traffic) -> State {
    log::debug!("tls: handshake complete: {}", traffic.negotiated());
    State::Established(traffic)
}

impl std::fmt::Debug for Psk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("handshaking", &self.is_handshaking())
            .field("negotiated", &self.negotiated())
            .field("failure", &self.failure)
            .field("peer_closed", &self.peer_closed)
            .finish_non_exhaustive()
    }
}
