//! The server handshake for an external PSK (RFC 8446 §2.2, §4; policy in tls-psk.md §4).
//!
//! In: whole handshake messages from the client. Out: our flight queued in the record layer,
//! new keys installed there, and finally the application traffic secrets.
//! Order of checks: version, suite, identity, binder, and only then key exchange work, so a
//! wrong key costs us one HMAC. Never issues tickets, never accepts 0-RTT, never
//! renegotiates; every state names what it waits for and is consumed by its transition.

use zeroize::Zeroizing;

use super::codec::{handshake, handshake_message, HANDSHAKE_HEADER_LEN, TLS13};
use super::config::{CipherSuite, KxGroup, Negotiated, PskMode, ServerConfig};
use super::error::{Error, Incompatible, Malformed, WrongKey};
use super::hello::{
    encode_encrypted_extensions, encode_hello_retry, encode_server_hello, parse_client_hello,
    ClientHello, KeyShare,
};
use super::key_schedule::{BinderLabel, EarlySecret, TrafficSecret};
use super::provider::{self, KeyExchange, Transcript, HASH_LEN};
use super::record::{RecordLayer, MAX_FRAGMENT_LEN};
use super::traffic::{Step, Traffic};

/// We look up at most this many offered identities, so a hello cannot make us read the key
/// file hundreds of times.
const MAX_IDENTITIES_TRIED: usize = 8;
/// Rejected 0-RTT data we are willing to skip (RFC 8446 §4.2.10); four full records.
const MAX_EARLY_DATA_SKIP: usize = 4 * (MAX_FRAGMENT_LEN + 256);

/// Server handshake states, each named for what it waits for; a transition consumes the state
/// it leaves.
#[allow(clippy::enum_variant_names)]
pub(super) enum ServerState {
    ExpectClientHello,
    ExpectRetriedClientHello(Box<AwaitRetry>),
    ExpectFinished(Box<AwaitFinished>),
}

pub(super) struct AwaitRetry {
    first: FirstHello,
    /// message_hash(ClientHello1) and the HelloRetryRequest.
    transcript: Transcript,
    suite: CipherSuite,
    group: KxGroup,
    ccs_sent: bool,
}

pub(super) struct AwaitFinished {
    transcript: Transcript,
    client_handshake: TrafficSecret,
    traffic: Traffic,
}

impl ServerState {
    /// Whether the client's PSK binder verified, which every state after the first hello
    /// implies (a hello with a wrong binder never leaves `ExpectClientHello`).
    pub(super) fn binder_verified(&self) -> bool {
        !matches!(self, Self::ExpectClientHello)
    }

    /// Consumes the state with one handshake message (header included).
    pub(super) fn handle(
        self,
        cfg: &ServerConfig,
        records: &mut RecordLayer,
        message: &[u8],
    ) -> Result<Step<Self>, Error> {
        let typ = message.first().copied().unwrap_or(0);
        let body = message.get(HANDSHAKE_HEADER_LEN..).unwrap_or(&[]);
        match self {
            Self::ExpectClientHello => {
                expect(
                    typ,
                    handshake::CLIENT_HELLO,
                    "handshake message (want client_hello)",
                )?;
                records.open_ccs_window();
                first_hello(cfg, records, message, body)
            }
            Self::ExpectRetriedClientHello(wait) => {
                expect(
                    typ,
                    handshake::CLIENT_HELLO,
                    "handshake message (want client_hello)",
                )?;
                retried_hello(cfg, records, *wait, message, body)
            }
            Self::ExpectFinished(wait) => {
                expect(
                    typ,
                    handshake::FINISHED,
                    "handshake message (want finished)",
                )?;
                wait.client_finished(records, body)
            }
        }
    }
}

fn expect(typ: u8, wanted: u8, what: &'static str) -> Result<(), Error> {
    if typ == wanted {
        Ok(())
    } else {
        Err(Error::unexpected(what))
    }
}

fn first_hello(
    cfg: &ServerConfig,
    records: &mut RecordLayer,
    message: &[u8],
    body: &[u8],
) -> Result<Step<ServerState>, Error> {
    let hello = parse_client_hello(body)?;
    let offer = check_offer(cfg, &hello)?;
    let early = EarlySecret::new(&offer.key);
    verify_binder(&early, &Transcript::new(), message, &hello, offer.index)?;

    match choose_key_exchange(cfg, &hello, offer.modes, true)? {
        KeyExchangeChoice::Retry(group) => {
            // RFC 8446 §4.4.1: ClientHello1 is replaced by its hash in a synthetic message.
            let mut transcript = Transcript::new();
            transcript.update(&handshake_message(
                handshake::MESSAGE_HASH,
                &provider::hash(message),
            ));
            let retry =
                encode_hello_retry(hello.session_id, offer.suite.codepoint(), group.codepoint());
            transcript.update(&retry);
            records.write_handshake(&retry)?;
            let ccs_sent = send_compat_ccs(records, hello.session_id);
            if hello.early_data {
                records.skip_early_data(MAX_EARLY_DATA_SKIP);
            }
            crate::limited!(
                crate::logging::Source::KeylessPeer,
                log::Level::Debug,
                "tls: hello retry request for {group}"
            );
            Ok(Step::Continue(ServerState::ExpectRetriedClientHello(
                Box::new(AwaitRetry {
                    first: FirstHello::from_hello(&hello),
                    transcript,
                    suite: offer.suite,
                    group,
                    ccs_sent,
                }),
            )))
        }
        KeyExchangeChoice::Share { group, peer } => {
            let flight = Flight::new(&hello, &offer, false, false);
            flight.send(
                records,
                Transcript::new(),
                message,
                early,
                Some((group, peer)),
            )
        }
        KeyExchangeChoice::PskOnly => {
            let flight = Flight::new(&hello, &offer, false, false);
            flight.send(records, Transcript::new(), message, early, None)
        }
    }
}

fn retried_hello(
    cfg: &ServerConfig,
    records: &mut RecordLayer,
    wait: AwaitRetry,
    message: &[u8],
    body: &[u8],
) -> Result<Step<ServerState>, Error> {
    let hello = parse_client_hello(body)?;
    wait.first.check_same(&hello)?;
    if hello.early_data {
        return Err(Error::illegal("early_data in the second client_hello"));
    }
    let offer = check_offer(cfg, &hello)?;
    if offer.suite != wait.suite {
        return Err(Error::illegal(
            "cipher suite change after hello_retry_request",
        ));
    }
    let early = EarlySecret::new(&offer.key);
    verify_binder(&early, &wait.transcript, message, &hello, offer.index)?;
    // RFC 8446 §4.1.2: the retried hello carries exactly one share, for the requested group.
    let share = match hello.key_shares.as_deref() {
        Some([share]) if share.group == wait.group.codepoint() => *share,
        _ => return Err(Error::illegal("key_share in the second client_hello")),
    };
    let flight = Flight::new(&hello, &offer, true, wait.ccs_sent);
    flight.send(
        records,
        wait.transcript,
        message,
        early,
        Some((wait.group, share.key)),
    )
}

/// What the client offered that we can use.
struct Offer<'h> {
    suite: CipherSuite,
    index: usize,
    key: Zeroizing<Vec<u8>>,
    modes: &'h [u8],
}

fn check_offer<'h>(cfg: &ServerConfig, hello: &ClientHello<'h>) -> Result<Offer<'h>, Error> {
    if !hello.supported_versions.contains(&TLS13) {
        return Err(Error::Incompatible(Incompatible::OnlyOldVersions));
    }
    if hello.compression_methods != [0] {
        return Err(Error::illegal(
            "compression_methods (TLS 1.3 allows null only)",
        ));
    }
    let suite = cfg
        .suites
        .iter()
        .copied()
        .find(|s| hello.cipher_suites.contains(&s.codepoint()))
        .ok_or(Error::Incompatible(Incompatible::NoCommonSuite))?;
    let psk = hello
        .psk
        .as_ref()
        .ok_or(Error::Incompatible(Incompatible::NoPskOffered))?;
    let modes = hello
        .psk_modes
        .ok_or(Error::Malformed(Malformed::MissingExtension(
            "psk_key_exchange_modes",
        )))?;
    // RFC 8446 §4.2.8: shares only for groups listed in supported_groups.
    if let Some(shares) = &hello.key_shares {
        if shares
            .iter()
            .any(|s| !hello.supported_groups.contains(&s.group))
        {
            return Err(Error::illegal("key_share (group not in supported_groups)"));
        }
    }
    let found = psk
        .identities
        .iter()
        .take(MAX_IDENTITIES_TRIED)
        .enumerate()
        .find_map(|(i, id)| cfg.psk.lookup(id.identity).map(|key| (i, key)));
    let Some((index, key)) = found else {
        let first = psk.identities.first().map(|id| id.identity).unwrap_or(&[]);
        let shown = first.get(..first.len().min(64)).unwrap_or(&[]);
        return Err(Error::WrongKey(WrongKey::UnknownIdentity {
            identity: String::from_utf8_lossy(shown).into_owned(),
        }));
    };
    Ok(Offer {
        suite,
        index,
        key,
        modes,
    })
}

/// Checks the binder of the chosen identity over the transcript up to the binders list
/// (RFC 8446 §4.2.11.2), in constant time, before any key exchange work.
fn verify_binder(
    early: &EarlySecret,
    prefix: &Transcript,
    message: &[u8],
    hello: &ClientHello<'_>,
    index: usize,
) -> Result<(), Error> {
    let psk = hello.psk.as_ref().ok_or(Error::decode("pre_shared_key"))?;
    let truncated = message
        .get(..HANDSHAKE_HEADER_LEN + psk.binders_offset)
        .ok_or(Error::decode("pre_shared_key binders offset"))?;
    let mut transcript = prefix.fork();
    transcript.update(truncated);
    let expected = early.binder(BinderLabel::External, &transcript.current())?;
    let received = psk.binders.get(index).copied().unwrap_or(&[]);
    if bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_slice(), received)) {
        Ok(())
    } else {
        Err(Error::WrongKey(WrongKey::BinderMismatch))
    }
}

enum KeyExchangeChoice<'h> {
    Share { group: KxGroup, peer: &'h [u8] },
    Retry(KxGroup),
    PskOnly,
}

/// psk_dhe_ke with the client's first share we accept; else a retry for a group it listed;
/// else psk_ke if allowed (tls-psk.md §4: prefer forward secrecy).
fn choose_key_exchange<'h>(
    cfg: &ServerConfig,
    hello: &ClientHello<'h>,
    modes: &[u8],
    may_retry: bool,
) -> Result<KeyExchangeChoice<'h>, Error> {
    let dhe = modes.contains(&PskMode::PskDheKe.codepoint());
    let ke = modes.contains(&PskMode::PskKe.codepoint());
    let ours = |code: u16| KxGroup::from_codepoint(code).filter(|g| cfg.groups.contains(g));
    if dhe {
        let shares = hello.key_shares.as_deref().unwrap_or(&[]);
        if let Some((group, share)) = shares.iter().find_map(|s| ours(s.group).map(|g| (g, s))) {
            return Ok(KeyExchangeChoice::Share {
                group,
                peer: share.key,
            });
        }
        if may_retry {
            if let Some(group) = hello.supported_groups.iter().find_map(|g| ours(*g)) {
                return Ok(KeyExchangeChoice::Retry(group));
            }
        }
    }
    if ke && cfg.allow_psk_ke {
        return Ok(KeyExchangeChoice::PskOnly);
    }
    if ke && !dhe {
        return Err(Error::Incompatible(Incompatible::PskKeNotAllowed));
    }
    Err(Error::Incompatible(Incompatible::NoCommonKeyExchange))
}

/// A middlebox-compatibility ChangeCipherSpec after our first handshake message, only when
/// the client sent a session id (RFC 8446 D.4). Returns whether one was sent.
fn send_compat_ccs(records: &mut RecordLayer, session_id: &[u8]) -> bool {
    if session_id.is_empty() {
        return false;
    }
    records.write_ccs();
    true
}

/// The parameters of our ServerHello flight.
struct Flight<'h> {
    session_id: &'h [u8],
    suite: CipherSuite,
    index: usize,
    hello_retry: bool,
    ccs_sent: bool,
    early_data: bool,
    record_size_limit: Option<u16>,
}

impl<'h> Flight<'h> {
    fn new(hello: &ClientHello<'h>, offer: &Offer<'_>, hello_retry: bool, ccs_sent: bool) -> Self {
        Self {
            session_id: hello.session_id,
            suite: offer.suite,
            index: offer.index,
            hello_retry,
            ccs_sent,
            early_data: hello.early_data,
            record_size_limit: hello.record_size_limit,
        }
    }

    /// ServerHello, [ChangeCipherSpec], EncryptedExtensions, Finished (RFC 8446 §2.2).
    fn send(
        self,
        records: &mut RecordLayer,
        mut transcript: Transcript,
        client_hello: &[u8],
        early: EarlySecret,
        kx: Option<(KxGroup, &[u8])>,
    ) -> Result<Step<ServerState>, Error> {
        transcript.update(client_hello);
        let mut random = [0u8; 32];
        provider::fill_random(&mut random)?;
        let (our_share, ecdhe) = match kx {
            Some((group, peer)) => {
                let exchange = KeyExchange::start(group)?;
                let public = exchange.public_key().to_vec();
                (Some((group, public)), Some(exchange.complete(peer)?))
            }
            None => (None, None),
        };
        let share = our_share.as_ref().map(|(group, key)| KeyShare {
            group: group.codepoint(),
            key,
        });
        let index = u16::try_from(self.index).unwrap_or(0);
        let server_hello = encode_server_hello(
            &random,
            self.session_id,
            self.suite.codepoint(),
            share,
            index,
        );
        transcript.update(&server_hello);
        records.write_handshake(&server_hello)?;
        if !self.ccs_sent {
            send_compat_ccs(records, self.session_id);
        }

        let handshake = early.into_handshake(ecdhe.as_ref().map(|s| s.as_slice()))?;
        let (client_hs, server_hs) = handshake.traffic(&transcript.current())?;
        records.set_sealer(server_hs.sealer(self.suite)?);
        records.set_opener(client_hs.opener(self.suite)?);
        if self.early_data {
            // We never accept 0-RTT; its records fail to decrypt and are dropped.
            records.skip_early_data(MAX_EARLY_DATA_SKIP);
        }
        if let Some(limit) = self.record_size_limit {
            records.limit_fragment(limit);
        }

        let extensions = encode_encrypted_extensions(self.record_size_limit.is_some());
        transcript.update(&extensions);
        records.write_handshake(&extensions)?;
        let finished = handshake_message(
            handshake::FINISHED,
            &server_hs.finished(&transcript.current())?,
        );
        transcript.update(&finished);
        records.write_handshake(&finished)?;

        let master = handshake.into_master()?;
        let (client_app, server_app) = master.traffic(&transcript.current())?;
        records.set_sealer(server_app.sealer(self.suite)?);
        let group = our_share.map(|(group, _)| group);
        let negotiated = Negotiated {
            suite: self.suite,
            group,
            mode: if group.is_some() {
                PskMode::PskDheKe
            } else {
                PskMode::PskKe
            },
            hello_retry: self.hello_retry,
        };
        Ok(Step::Continue(ServerState::ExpectFinished(Box::new(
            AwaitFinished {
                transcript,
                client_handshake: client_hs,
                traffic: Traffic::new(true, client_app, server_app, negotiated),
            },
        ))))
    }
}

impl AwaitFinished {
    fn client_finished(
        self,
        records: &mut RecordLayer,
        body: &[u8],
    ) -> Result<Step<ServerState>, Error> {
        if body.len() != HASH_LEN {
            return Err(Error::decode("finished (length)"));
        }
        let current = self.transcript.current();
        if !self.client_handshake.verify_finished(&current, body)? {
            return Err(Error::WrongKey(WrongKey::FinishedMismatch));
        }
        records.set_opener(self.traffic.peer_opener()?);
        records.close_ccs_window();
        Ok(Step::Done(self.traffic))
    }
}

/// What the second ClientHello must repeat from the first (RFC 8446 §4.1.2).
struct FirstHello {
    random: Vec<u8>,
    session_id: Vec<u8>,
    cipher_suites: Vec<u16>,
    versions: Vec<u16>,
    groups: Vec<u16>,
    modes: Vec<u8>,
    identities: Vec<Vec<u8>>,
}

impl FirstHello {
    fn from_hello(hello: &ClientHello<'_>) -> Self {
        Self {
            random: hello.random.to_vec(),
            session_id: hello.session_id.to_vec(),
            cipher_suites: hello.cipher_suites.clone(),
            versions: hello.supported_versions.clone(),
            groups: hello.supported_groups.clone(),
            modes: hello.psk_modes.unwrap_or(&[]).to_vec(),
            identities: identities(hello),
        }
    }

    fn check_same(&self, hello: &ClientHello<'_>) -> Result<(), Error> {
        let same = self.random == hello.random
            && self.session_id == hello.session_id
            && self.cipher_suites == hello.cipher_suites
            && self.versions == hello.supported_versions
            && self.groups == hello.supported_groups
            && self.modes == hello.psk_modes.unwrap_or(&[])
            && self.identities == identities(hello);
        if same {
            Ok(())
        } else {
            Err(Error::illegal(
                "second client_hello (differs from the first)",
            ))
        }
    }
}

fn identities(hello: &ClientHello<'_>) -> Vec<Vec<u8>> {
    hello
        .psk
        .as_ref()
        .map(|psk| psk.identities.iter().map(|i| i.identity.to_vec()).collect())
        .unwrap_or_default()
}
