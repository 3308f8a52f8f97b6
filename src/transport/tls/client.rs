//! The client handshake for an external PSK, for the `check` command and tests
//! (RFC 8446 §2.2, §4).
//!
//! In: the config and whole handshake messages from the server. Out: our ClientHello (and a
//! second one after HelloRetryRequest), ChangeCipherSpec and Finished queued in the record
//! layer; finally the application traffic secrets. Offers only what a GnuTLS server and ours
//! accept (tls-psk.md §1). Never accepts a certificate or a server that ignores our PSK.

use super::codec::{handshake, handshake_message, HANDSHAKE_HEADER_LEN, TLS13};
use super::config::{CipherSuite, ClientConfig, KxGroup, Negotiated, PskMode};
use super::error::{Error, Incompatible, Malformed, WrongKey};
use super::hello::{
    encode_client_hello, parse_encrypted_extensions, parse_server_hello, ClientHelloParams,
    KeyShare, ServerHello,
};
use super::key_schedule::{BinderLabel, EarlySecret, HandshakeSecret, TrafficSecret};
use super::provider::{self, KeyExchange, Transcript, HASH_LEN};
use super::record::RecordLayer;
use super::traffic::{Step, Traffic};

/// Client handshake states, each named for what it waits for; a transition consumes the state
/// it leaves.
#[allow(clippy::enum_variant_names)]
pub(super) enum ClientState {
    ExpectServerHello(Box<AwaitServerHello>),
    ExpectEncryptedExtensions(Box<AwaitServerFlight>),
    ExpectFinished(Box<AwaitServerFlight>),
}

pub(super) struct AwaitServerHello {
    random: [u8; 32],
    session_id: [u8; 32],
    shares: Vec<(KxGroup, KeyExchange)>,
    /// Everything up to and including our latest ClientHello.
    transcript: Transcript,
    /// The suite a HelloRetryRequest chose; the ServerHello must repeat it.
    retried_suite: Option<CipherSuite>,
    ccs_sent: bool,
}

pub(super) struct AwaitServerFlight {
    transcript: Transcript,
    handshake: HandshakeSecret,
    client_hs: TrafficSecret,
    server_hs: TrafficSecret,
    negotiated: Negotiated,
    ccs_sent: bool,
}

impl ClientState {
    /// Queues the first ClientHello.
    pub(super) fn start(cfg: &ClientConfig, records: &mut RecordLayer) -> Result<Self, Error> {
        let mut random = [0u8; 32];
        provider::fill_random(&mut random)?;
        // A 32-byte session id asks for middlebox-compatibility mode, like GnuTLS does.
        let mut session_id = [0u8; 32];
        provider::fill_random(&mut session_id)?;
        let shares = if cfg.modes.contains(&PskMode::PskDheKe) {
            cfg.key_shares
                .iter()
                .filter(|g| cfg.groups.contains(g))
                .map(|g| KeyExchange::start(*g).map(|kx| (*g, kx)))
                .collect::<Result<Vec<_>, Error>>()?
        } else {
            Vec::new()
        };
        let hello = HelloToSend {
            random: &random,
            session_id: &session_id,
            shares: &shares,
            cookie: None,
        };
        let transcript = hello.send(cfg, records, Transcript::new())?;
        records.open_ccs_window();
        Ok(Self::ExpectServerHello(Box::new(AwaitServerHello {
            random,
            session_id,
            shares,
            transcript,
            retried_suite: None,
            ccs_sent: false,
        })))
    }

    /// Consumes the state with one handshake message (header included).
    pub(super) fn handle(
        self,
        cfg: &ClientConfig,
        records: &mut RecordLayer,
        message: &[u8],
    ) -> Result<Step<Self>, Error> {
        let typ = message.first().copied().unwrap_or(0);
        let body = message.get(HANDSHAKE_HEADER_LEN..).unwrap_or(&[]);
        match (self, typ) {
            (Self::ExpectServerHello(wait), handshake::SERVER_HELLO) => {
                (*wait).server_hello(cfg, records, message, body)
            }
            (Self::ExpectEncryptedExtensions(mut wait), handshake::ENCRYPTED_EXTENSIONS) => {
                if let Some(limit) = parse_encrypted_extensions(body)? {
                    records.limit_fragment(limit);
                }
                wait.transcript.update(message);
                Ok(Step::Continue(Self::ExpectFinished(wait)))
            }
            (Self::ExpectFinished(wait), handshake::FINISHED) => {
                (*wait).server_finished(records, message, body)
            }
            // Certificates and anything else: an external-PSK server sends none.
            _ => Err(Error::unexpected("handshake message from the server")),
        }
    }
}

impl AwaitServerHello {
    fn server_hello(
        mut self,
        cfg: &ClientConfig,
        records: &mut RecordLayer,
        message: &[u8],
        body: &[u8],
    ) -> Result<Step<ClientState>, Error> {
        let hello = parse_server_hello(body)?;
        match hello.supported_version {
            Some(TLS13) => {}
            None => {
                return Err(Error::Incompatible(Incompatible::ServerChoseVersion(
                    hello.legacy_version,
                )))
            }
            Some(_) => return Err(Error::illegal("supported_versions (not offered)")),
        }
        if hello.session_id != self.session_id {
            return Err(Error::illegal("legacy_session_id_echo"));
        }
        let suite = CipherSuite::from_codepoint(hello.cipher_suite)
            .filter(|s| cfg.suites.contains(s))
            .ok_or(Error::illegal("cipher_suite (not offered)"))?;
        if hello.compression != 0 {
            return Err(Error::illegal("legacy_compression_method"));
        }
        if self.retried_suite.is_some_and(|s| s != suite) {
            return Err(Error::illegal(
                "cipher_suite (changed after hello_retry_request)",
            ));
        }
        if hello.is_retry {
            return self.retry(cfg, records, message, &hello, suite);
        }
        match hello.selected_identity {
            Some(0) => {}
            None => return Err(Error::Incompatible(Incompatible::ServerRefusedPsk)),
            Some(_) => return Err(Error::illegal("selected_identity")),
        }
        let (ecdhe, group) = match hello.key_share {
            Some(share) => {
                let at = self
                    .shares
                    .iter()
                    .position(|(g, _)| g.codepoint() == share.group)
                    .ok_or(Error::illegal("key_share group (no share sent for it)"))?;
                let (group, exchange) = self.shares.swap_remove(at);
                (Some(exchange.complete(share.key)?), Some(group))
            }
            None if cfg.modes.contains(&PskMode::PskKe) => (None, None),
            None => return Err(Error::Malformed(Malformed::MissingExtension("key_share"))),
        };
        let mut transcript = self.transcript;
        transcript.update(message);
        let handshake =
            EarlySecret::new(&cfg.psk).into_handshake(ecdhe.as_ref().map(|s| s.as_slice()))?;
        let (client_hs, server_hs) = handshake.traffic(&transcript.current())?;
        records.set_opener(server_hs.opener(suite)?);
        let negotiated = Negotiated {
            suite,
            group,
            mode: if group.is_some() {
                PskMode::PskDheKe
            } else {
                PskMode::PskKe
            },
            hello_retry: self.retried_suite.is_some(),
        };
        Ok(Step::Continue(ClientState::ExpectEncryptedExtensions(
            Box::new(AwaitServerFlight {
                transcript,
                handshake,
                client_hs,
                server_hs,
                negotiated,
                ccs_sent: self.ccs_sent,
            }),
        )))
    }

    /// Answers a HelloRetryRequest with a second ClientHello (RFC 8446 §4.1.2, §4.1.4).
    fn retry(
        self,
        cfg: &ClientConfig,
        records: &mut RecordLayer,
        message: &[u8],
        hello: &ServerHello<'_>,
        suite: CipherSuite,
    ) -> Result<Step<ClientState>, Error> {
        if self.retried_suite.is_some() {
            return Err(Error::unexpected("second hello_retry_request"));
        }
        let group = hello
            .key_share
            .and_then(|s| KxGroup::from_codepoint(s.group))
            .filter(|g| cfg.groups.contains(g) && cfg.modes.contains(&PskMode::PskDheKe))
            .ok_or(Error::illegal("hello_retry_request group"))?;
        if self.shares.iter().any(|(g, _)| *g == group) {
            return Err(Error::illegal(
                "hello_retry_request (asks for a share we sent)",
            ));
        }
        let mut transcript = Transcript::new();
        transcript.update(&handshake_message(
            handshake::MESSAGE_HASH,
            &self.transcript.current(),
        ));
        transcript.update(message);
        // RFC 8446 D.4: our dummy ChangeCipherSpec goes before the second flight.
        if !self.ccs_sent {
            records.write_ccs();
        }
        let shares = vec![(group, KeyExchange::start(group)?)];
        let second = HelloToSend {
            random: &self.random,
            session_id: &self.session_id,
            shares: &shares,
            cookie: hello.cookie,
        };
        let transcript = second.send(cfg, records, transcript)?;
        log::debug!("tls: server asked for a {group} share");
        Ok(Step::Continue(ClientState::ExpectServerHello(Box::new(
            AwaitServerHello {
                random: self.random,
                session_id: self.session_id,
                shares,
                transcript,
                retried_suite: Some(suite),
                ccs_sent: true,
            },
        ))))
    }
}

impl AwaitServerFlight {
    fn server_finished(
        mut self,
        records: &mut RecordLayer,
        message: &[u8],
        body: &[u8],
    ) -> Result<Step<ClientState>, Error> {
        if body.len() != HASH_LEN {
            return Err(Error::decode("finished (length)"));
        }
        if !self
            .server_hs
            .verify_finished(&self.transcript.current(), body)?
        {
            return Err(Error::WrongKey(WrongKey::FinishedMismatch));
        }
        self.transcript.update(message);
        let suite = self.negotiated.suite;
        let master = self.handshake.into_master()?;
        let (client_app, server_app) = master.traffic(&self.transcript.current())?;
        if !self.ccs_sent {
            records.write_ccs();
        }
        records.set_sealer(self.client_hs.sealer(suite)?);
        let finished = handshake_message(
            handshake::FINISHED,
            &self.client_hs.finished(&self.transcript.current())?,
        );
        records.write_handshake(&finished)?;
        records.set_sealer(client_app.sealer(suite)?);
        records.set_opener(server_app.opener(suite)?);
        records.close_ccs_window();
        Ok(Step::Done(Traffic::new(
            false,
            client_app,
            server_app,
            self.negotiated,
        )))
    }
}

/// One ClientHello to build, bind and queue.
struct HelloToSend<'a> {
    random: &'a [u8; 32],
    session_id: &'a [u8; 32],
    shares: &'a [(KxGroup, KeyExchange)],
    cookie: Option<&'a [u8]>,
}

impl HelloToSend<'_> {
    /// Encodes, computes the binder over `prefix` + the truncated hello, queues it, and
    /// returns the transcript including it.
    fn send(
        &self,
        cfg: &ClientConfig,
        records: &mut RecordLayer,
        prefix: Transcript,
    ) -> Result<Transcript, Error> {
        let dhe = cfg.modes.contains(&PskMode::PskDheKe);
        let suites: Vec<u16> = cfg.suites.iter().map(|s| s.codepoint()).collect();
        let groups: Vec<u16> = if dhe {
            cfg.groups.iter().map(|g| g.codepoint()).collect()
        } else {
            Vec::new()
        };
        let shares: Vec<KeyShare<'_>> = self
            .shares
            .iter()
            .map(|(g, kx)| KeyShare {
                group: g.codepoint(),
                key: kx.public_key(),
            })
            .collect();
        let modes: Vec<u8> = cfg.modes.iter().map(|m| m.codepoint()).collect();
        let (mut message, binders_at) = encode_client_hello(&ClientHelloParams {
            random: self.random,
            session_id: self.session_id,
            suites: &suites,
            groups: &groups,
            shares: &shares,
            modes: &modes,
            cookie: self.cookie,
            identity: &cfg.identity,
        });
        let mut truncated = prefix.fork();
        truncated.update(message.get(..binders_at).unwrap_or(&[]));
        let binder =
            EarlySecret::new(&cfg.psk).binder(BinderLabel::External, &truncated.current())?;
        let len = message.len();
        if let Some(slot) = message.get_mut(len.saturating_sub(HASH_LEN)..) {
            slot.copy_from_slice(&binder);
        }
        let mut transcript = prefix;
        transcript.update(&message);
        records.write_handshake(&message)?;
        Ok(transcript)
    }
}
