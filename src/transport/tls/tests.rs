//! Our client against our server in memory: every negotiated variant, and every failure with
//! the alert it must produce. No sockets, no clocks.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::*;

const KEY: &[u8] = &[0xa5; 4096];

fn server_cfg() -> ServerConfig {
    ServerConfig::new(Arc::new(StaticPsk::new(
        PACEMAKER_IDENTITY,
        Zeroizing::new(KEY.to_vec()),
    )))
}

fn client_cfg() -> ClientConfig {
    ClientConfig::new(PACEMAKER_IDENTITY, Zeroizing::new(KEY.to_vec()))
}

/// Moves bytes both ways until nothing moves; returns the first error of each side.
fn pump(client: &mut Connection, server: &mut Connection) -> (Option<Error>, Option<Error>) {
    let (mut client_err, mut server_err) = (None, None);
    for _ in 0..50 {
        let to_server = client.outgoing().to_vec();
        client.consume_outgoing(to_server.len());
        let to_client = server.outgoing().to_vec();
        server.consume_outgoing(to_client.len());
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
        if server_err.is_none() && !to_server.is_empty() {
            server_err = feed(server, &to_server).err();
        }
        if client_err.is_none() && !to_client.is_empty() {
            client_err = feed(client, &to_client).err();
        }
    }
    (client_err, server_err)
}

/// Feeds everything, processing whenever the input buffer is full.
fn feed(conn: &mut Connection, mut bytes: &[u8]) -> Result<(), Error> {
    for _ in 0..10_000 {
        let n = conn.read_tls(bytes)?;
        conn.process()?;
        bytes = &bytes[n..];
        if bytes.is_empty() {
            return Ok(());
        }
    }
    panic!("feed made no progress");
}

fn handshake(client: ClientConfig, server: ServerConfig) -> (Connection, Connection) {
    let mut c = Connection::new_client(Arc::new(client));
    let mut s = Connection::new_server(Arc::new(server));
    let (ce, se) = pump(&mut c, &mut s);
    assert_eq!((ce, se), (None, None));
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(c.negotiated(), s.negotiated());
    (c, s)
}

/// Runs a handshake expected to fail; returns (client error, server error).
fn failed_handshake(client: ClientConfig, server: ServerConfig) -> (Error, Error) {
    let mut c = Connection::new_client(Arc::new(client));
    let mut s = Connection::new_server(Arc::new(server));
    let (ce, se) = pump(&mut c, &mut s);
    (ce.expect("client error"), se.expect("server error"))
}

fn exchange_data(c: &mut Connection, s: &mut Connection) {
    c.send_record(b"from client").unwrap();
    s.send_record(b"from server").unwrap();
    assert_eq!(pump(c, s), (None, None));
    assert_eq!(s.plaintext(), b"from client");
    assert_eq!(c.plaintext(), b"from server");
    s.consume_plaintext(usize::MAX);
    c.consume_plaintext(usize::MAX);
}

/// Splits a byte stream into (content type, record length) pairs.
fn record_headers(mut bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    while bytes.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        out.push((bytes[0], len));
        bytes = &bytes[5 + len..];
    }
    out
}

fn plain_record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut record = vec![typ, 3, 3];
    record.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    record.extend_from_slice(payload);
    record
}

/// Feeds raw bytes to a fresh server and returns its error and what it wrote.
fn server_rejects(bytes: &[u8]) -> (Error, Vec<u8>) {
    let mut s = Connection::new_server(Arc::new(server_cfg()));
    let err = feed(&mut s, bytes).expect_err("server must fail");
    (err, s.outgoing().to_vec())
}

fn plain_alert(alert: AlertDescription) -> Vec<u8> {
    vec![21, 3, 3, 0, 2, 2, alert.to_u8()]
}

#[test]
fn psk_dhe_ke_x25519_by_default_with_chacha20() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    let n = s.negotiated().unwrap();
    assert_eq!(n.suite, CipherSuite::Chacha20Poly1305Sha256);
    assert_eq!(n.group, Some(KxGroup::X25519));
    assert_eq!(n.mode, PskMode::PskDheKe);
    assert!(!n.hello_retry);
    exchange_data(&mut c, &mut s);
}

#[test]
fn psk_dhe_ke_p256_when_it_is_the_first_share() {
    let mut client = client_cfg();
    client.key_shares = vec![KxGroup::Secp256r1, KxGroup::X25519];
    client.groups = vec![KxGroup::Secp256r1, KxGroup::X25519];
    let (mut c, mut s) = handshake(client, server_cfg());
    assert_eq!(s.negotiated().unwrap().group, Some(KxGroup::Secp256r1));
    exchange_data(&mut c, &mut s);
}

#[test]
fn hello_retry_when_client_sends_no_share() {
    let mut client = client_cfg();
    client.key_shares = vec![];
    let (mut c, mut s) = handshake(client, server_cfg());
    let n = s.negotiated().unwrap();
    assert!(n.hello_retry);
    assert_eq!(n.group, Some(KxGroup::X25519));
    exchange_data(&mut c, &mut s);
}

#[test]
fn hello_retry_when_server_wants_p256_only() {
    let mut client = client_cfg();
    client.key_shares = vec![KxGroup::X25519];
    let mut server = server_cfg();
    server.groups = vec![KxGroup::Secp256r1];
    let (mut c, mut s) = handshake(client, server);
    let n = c.negotiated().unwrap();
    assert!(n.hello_retry);
    assert_eq!(n.group, Some(KxGroup::Secp256r1));
    exchange_data(&mut c, &mut s);
}

#[test]
fn aes_128_gcm_when_the_client_offers_only_that() {
    let mut client = client_cfg();
    client.suites = vec![CipherSuite::Aes128GcmSha256];
    let (mut c, mut s) = handshake(client, server_cfg());
    assert_eq!(s.negotiated().unwrap().suite, CipherSuite::Aes128GcmSha256);
    exchange_data(&mut c, &mut s);
    c.send_key_update(true).unwrap();
    exchange_data(&mut c, &mut s);
}

#[test]
fn psk_ke_when_allowed() {
    let mut client = client_cfg();
    client.modes = vec![PskMode::PskKe];
    let mut server = server_cfg();
    server.allow_psk_ke = true;
    let (mut c, mut s) = handshake(client, server);
    let n = s.negotiated().unwrap();
    assert_eq!((n.mode, n.group), (PskMode::PskKe, None));
    exchange_data(&mut c, &mut s);
}

#[test]
fn psk_ke_only_client_is_refused_by_default() {
    let mut client = client_cfg();
    client.modes = vec![PskMode::PskKe];
    let (ce, se) = failed_handshake(client, server_cfg());
    assert_eq!(se, Error::Incompatible(Incompatible::PskKeNotAllowed));
    assert_eq!(se.alert(), Some(AlertDescription::HandshakeFailure));
    assert_eq!(
        ce,
        Error::PeerAborted(PeerAborted::Alert(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn dhe_preferred_even_when_psk_ke_is_allowed() {
    let mut server = server_cfg();
    server.allow_psk_ke = true;
    let (_, s) = handshake(client_cfg().offer_psk_ke(), server);
    assert_eq!(s.negotiated().unwrap().mode, PskMode::PskDheKe);
}

#[test]
fn wrong_key_is_a_binder_mismatch_and_decrypt_error() {
    let client = ClientConfig::new(PACEMAKER_IDENTITY, Zeroizing::new(vec![0x5a; 4096]));
    let (ce, se) = failed_handshake(client, server_cfg());
    assert_eq!(se, Error::WrongKey(WrongKey::BinderMismatch));
    assert!(se.to_string().contains("wrong key (binder mismatch)"));
    assert_eq!(se.alert(), Some(AlertDescription::DecryptError));
    assert_eq!(
        ce,
        Error::PeerAborted(PeerAborted::Alert(AlertDescription::DecryptError))
    );
    assert!(ce.to_string().contains("key mismatch"), "{ce}");
}

#[test]
fn unknown_identity_is_alert_115() {
    let client = ClientConfig::new(b"someone", Zeroizing::new(KEY.to_vec()));
    let (ce, se) = failed_handshake(client, server_cfg());
    let unknown = WrongKey::UnknownIdentity {
        identity: "someone".into(),
    };
    assert_eq!(se, Error::WrongKey(unknown));
    assert_eq!(se.alert(), Some(AlertDescription::UnknownPskIdentity));
    assert_eq!(se.alert().map(AlertDescription::to_u8), Some(115));
    assert_eq!(
        ce,
        Error::PeerAborted(PeerAborted::Alert(AlertDescription::UnknownPskIdentity))
    );
}

#[test]
fn psk_lookup_closure_sees_rotated_keys() {
    let current = Arc::new(std::sync::Mutex::new(KEY.to_vec()));
    let seen = current.clone();
    let lookup = move |id: &[u8]| {
        (id == PACEMAKER_IDENTITY).then(|| Zeroizing::new(seen.lock().unwrap().clone()))
    };
    let server = ServerConfig::new(Arc::new(lookup));
    handshake(client_cfg(), server.clone());
    *current.lock().unwrap() = vec![1; 4096];
    let (_, se) = failed_handshake(client_cfg(), server);
    assert_eq!(se, Error::WrongKey(WrongKey::BinderMismatch));
}

#[test]
fn client_hello_in_one_byte_records() {
    let mut c = Connection::new_client(Arc::new(client_cfg()));
    let mut s = Connection::new_server(Arc::new(server_cfg()));
    let hello = c.outgoing().to_vec();
    c.consume_outgoing(hello.len());
    assert_eq!(record_headers(&hello).len(), 1);
    let fragmented: Vec<u8> = hello[5..]
        .iter()
        .flat_map(|b| plain_record(22, &[*b]))
        .collect();
    feed(&mut s, &fragmented).unwrap();
    assert_eq!(pump(&mut c, &mut s), (None, None));
    assert!(s.negotiated().is_some());
    exchange_data(&mut c, &mut s);
}

#[test]
fn plain_text_instead_of_tls_is_unexpected_message() {
    let (err, sent) = server_rejects(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(err, Error::Malformed(Malformed::UnknownRecordType(b'G')));
    assert_eq!(sent, plain_alert(AlertDescription::UnexpectedMessage));
}

#[test]
fn garbage_handshake_is_decode_error() {
    let (err, sent) = server_rejects(&plain_record(22, &[1, 0, 0, 3, 0xff, 0xff, 0xff]));
    assert_eq!(err.alert(), Some(AlertDescription::DecodeError));
    assert_eq!(sent, plain_alert(AlertDescription::DecodeError));
}

#[test]
fn wrong_first_message_is_unexpected_message() {
    let (err, sent) = server_rejects(&plain_record(22, &[20, 0, 0, 1, 0]));
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
    assert_eq!(sent, plain_alert(AlertDescription::UnexpectedMessage));
}

#[test]
fn truncated_client_hello_is_decode_error() {
    let c = Connection::new_client(Arc::new(client_cfg()));
    let hello = &c.outgoing()[5..];
    // Keep the first 60 body bytes and declare exactly that length.
    let mut message = vec![1, 0, 0, 60];
    message.extend_from_slice(&hello[4..64]);
    let (err, sent) = server_rejects(&plain_record(22, &message));
    assert_eq!(err.alert(), Some(AlertDescription::DecodeError), "{err}");
    assert_eq!(sent, plain_alert(AlertDescription::DecodeError));
}

#[test]
fn client_hello_cut_short_by_end_of_stream() {
    let c = Connection::new_client(Arc::new(client_cfg()));
    let hello = c.outgoing()[..100].to_vec();
    let mut s = Connection::new_server(Arc::new(server_cfg()));
    feed(&mut s, &hello).unwrap();
    assert_eq!(
        s.read_eof(),
        Err(Error::PeerAborted(PeerAborted::ClosedMidHandshake))
    );
    assert!(s.outgoing().is_empty(), "no alert to a peer that is gone");
}

/// A ClientHello without TLS 1.3 in supported_versions, as GnuTLS with -VERS-TLS1.3 sends.
fn tls12_client_hello(with_versions: bool) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0, 4, 0x00, 0xa8, 0x00, 0xaa, 1, 0]);
    let mut extensions = Vec::new();
    if with_versions {
        extensions.extend_from_slice(&[0, 43, 0, 3, 2, 3, 3]);
    }
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut message = vec![1, 0, 0, body.len() as u8];
    message.extend_from_slice(&body);
    plain_record(22, &message)
}

#[test]
fn tls12_only_client_gets_protocol_version() {
    for with_versions in [true, false] {
        let (err, sent) = server_rejects(&tls12_client_hello(with_versions));
        assert_eq!(err, Error::Incompatible(Incompatible::OnlyOldVersions));
        assert!(err
            .to_string()
            .contains("client offers only TLS 1.2 or older"));
        assert_eq!(sent, plain_alert(AlertDescription::ProtocolVersion));
    }
}

#[test]
fn change_cipher_spec_before_client_hello_is_unexpected() {
    let (err, sent) = server_rejects(&plain_record(20, &[1]));
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
    assert_eq!(sent, plain_alert(AlertDescription::UnexpectedMessage));
}

#[test]
fn second_change_cipher_spec_is_unexpected() {
    let mut c = Connection::new_client(Arc::new(client_cfg()));
    let mut s = Connection::new_server(Arc::new(server_cfg()));
    let hello = c.outgoing().to_vec();
    c.consume_outgoing(hello.len());
    feed(&mut s, &hello).unwrap();
    // One dummy ChangeCipherSpec is dropped silently.
    feed(&mut s, &plain_record(20, &[1])).unwrap();
    let before = s.outgoing().len();
    let err = feed(&mut s, &plain_record(20, &[1])).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
    // The alert is protected (the server already writes with its handshake key).
    let alert = record_headers(&s.outgoing()[before..]);
    assert_eq!(alert, vec![(23, 2 + 1 + 16)]);
}

#[test]
fn change_cipher_spec_after_the_handshake_is_unexpected() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    let err = feed(&mut s, &plain_record(20, &[1])).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
    // The client decrypts the server's alert.
    let (ce, _) = pump(&mut c, &mut s);
    assert_eq!(
        ce,
        Some(Error::PeerAborted(PeerAborted::Alert(
            AlertDescription::UnexpectedMessage
        )))
    );
}

#[test]
fn plaintext_alert_after_the_handshake_is_unexpected() {
    let (_, mut s) = handshake(client_cfg(), server_cfg());
    let err = feed(&mut s, &plain_alert(AlertDescription::InternalError)).unwrap_err();
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn oversized_plaintext_record_is_record_overflow() {
    let mut record = vec![22, 3, 3, 0x40, 0x01];
    record.extend(std::iter::repeat_n(0, 16385));
    let (err, sent) = server_rejects(&record);
    assert_eq!(err.alert(), Some(AlertDescription::RecordOverflow));
    assert_eq!(sent, plain_alert(AlertDescription::RecordOverflow));
}

#[test]
fn oversized_protected_record_is_record_overflow() {
    let (_, mut s) = handshake(client_cfg(), server_cfg());
    let err = feed(&mut s, &[23, 3, 3, 0x41, 0x01]).unwrap_err();
    assert_eq!(
        err,
        Error::Malformed(Malformed::RecordOverflow {
            len: 16641,
            max: 16640
        })
    );
}

#[test]
fn send_record_refuses_more_than_one_record() {
    let (mut c, _) = handshake(client_cfg(), server_cfg());
    let err = c.send_record(&[0; 16385]).unwrap_err();
    assert!(!err.is_fatal());
    c.send_record(&[0; 16384]).unwrap();
}

#[test]
fn each_send_record_is_exactly_one_record() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    c.send_record(&[0xbd; 40]).unwrap();
    c.send_record(b"<lrmd_command/>\0").unwrap();
    c.send_record(&[]).unwrap();
    let headers = record_headers(c.outgoing());
    // 40-byte header + inner type + 16-byte tag = the 57-byte records of protocol.md §6.6.
    assert_eq!(headers, vec![(23, 57), (23, 16 + 17), (23, 17)]);
    assert_eq!(pump(&mut c, &mut s), (None, None));
    assert_eq!(s.plaintext().len(), 40 + 16);
}

#[test]
fn tampered_record_is_bad_record_mac() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    c.send_record(b"data").unwrap();
    let mut bytes = c.outgoing().to_vec();
    bytes[7] ^= 0x80;
    let err = feed(&mut s, &bytes).unwrap_err();
    assert_eq!(err, Error::Malformed(Malformed::BadRecordMac));
}

#[test]
fn records_after_close_notify_are_rejected() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    c.send_close_notify();
    assert_eq!(c.send_record(b"late"), Err(Error::Local(Local::Closed)));
    assert_eq!(pump(&mut c, &mut s), (None, None));
    assert!(s.peer_closed());
    s.send_close_notify();
    assert_eq!(pump(&mut c, &mut s), (None, None));
    assert!(c.peer_closed());

    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    c.send_close_notify();
    c.write_after_close_for_test(b"late");
    let late = c.outgoing().to_vec();
    let err = feed(&mut s, &late).unwrap_err();
    assert!(s.peer_closed());
    assert_eq!(
        err,
        Error::Malformed(Malformed::Unexpected("record after close_notify"))
    );
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn key_update_from_client_with_request() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    c.send_key_update(true).unwrap();
    assert_eq!(pump(&mut c, &mut s), (None, None));
    exchange_data(&mut c, &mut s);
    // Several requests while silent get one answer (RFC 8446 §4.6.3).
    c.send_key_update(true).unwrap();
    c.send_key_update(true).unwrap();
    let to_server = c.outgoing().to_vec();
    c.consume_outgoing(to_server.len());
    feed(&mut s, &to_server).unwrap();
    assert_eq!(record_headers(s.outgoing()).len(), 1);
    assert_eq!(pump(&mut c, &mut s), (None, None));
    exchange_data(&mut c, &mut s);
}

#[test]
fn key_update_from_server_without_request() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    s.send_key_update(false).unwrap();
    assert_eq!(pump(&mut c, &mut s), (None, None));
    assert!(c.outgoing().is_empty(), "no answer without a request");
    exchange_data(&mut c, &mut s);
}

/// Runs our client against the scripted server of `fuzzing::keyed_client` (psk_ke).
fn scripted_client(steps: &[(u8, &[u8])]) -> Connection {
    let mut script = Vec::new();
    for (op, payload) in steps {
        script.push(*op);
        script.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        script.extend_from_slice(payload);
    }
    let mut client = None;
    let _ = super::fuzzing::run_keyed_client(&script, &mut client);
    client.unwrap()
}

const EMPTY_EE: &[u8] = &[8, 0, 0, 2, 0, 0];

#[test]
fn client_skips_new_session_tickets() {
    let ticket: &[u8] = &[4, 0, 0, 15, 0, 0, 0, 60, 1, 2, 3, 4, 1, 9, 0, 1, 7, 0, 0];
    let c = scripted_client(&[
        (0, EMPTY_EE),
        (3, &[]),
        (0, ticket),
        (0, ticket),
        (1, b"ok"),
    ]);
    assert!(c.failure().is_none(), "{:?}", c.failure());
    assert_eq!(c.plaintext(), b"ok");
}

#[test]
fn key_update_with_bad_request_value_is_illegal_parameter() {
    let c = scripted_client(&[(0, EMPTY_EE), (3, &[]), (0, &[24, 0, 0, 1, 2])]);
    assert_eq!(
        c.failure().and_then(Error::alert),
        Some(AlertDescription::IllegalParameter)
    );
}

#[test]
fn wrong_server_finished_is_decrypt_error() {
    let c = scripted_client(&[
        (0, EMPTY_EE),
        (0, &[&[20, 0, 0, 32][..], &[0; 32]].concat()),
    ]);
    assert_eq!(
        c.failure(),
        Some(&Error::WrongKey(WrongKey::FinishedMismatch))
    );
    assert_eq!(
        c.failure().and_then(Error::alert),
        Some(AlertDescription::DecryptError)
    );
}

#[test]
fn certificate_from_a_psk_server_is_unexpected() {
    let c = scripted_client(&[(0, EMPTY_EE), (0, &[11, 0, 0, 4, 0, 0, 0, 0])]);
    assert_eq!(
        c.failure().and_then(Error::alert),
        Some(AlertDescription::UnexpectedMessage)
    );
}

#[test]
fn key_update_split_across_a_key_change_is_unexpected() {
    // KeyUpdate followed by the start of another message in the same record.
    let c = scripted_client(&[(0, EMPTY_EE), (3, &[]), (0, &[24, 0, 0, 1, 0, 24])]);
    assert_eq!(
        c.failure(),
        Some(&Error::unexpected("handshake data across a key change"))
    );
}

#[test]
fn application_data_before_client_hello_is_unexpected() {
    let (err, _) = server_rejects(&plain_record(23, b"hello?"));
    assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
}

#[test]
fn unprotected_data_after_the_hello_fails_authentication() {
    let c = Connection::new_client(Arc::new(client_cfg()));
    let hello = c.outgoing().to_vec();
    let (err, _) = server_rejects(&[hello, plain_record(23, &[0; 40])].concat());
    assert_eq!(err, Error::Malformed(Malformed::BadRecordMac));
}

#[test]
fn client_cannot_send_before_the_handshake() {
    let mut c = Connection::new_client(Arc::new(client_cfg()));
    assert_eq!(
        c.send_record(b"early"),
        Err(Error::Local(Local::NotConnected))
    );
}

#[test]
fn plaintext_backpressure_stops_reading() {
    let (mut c, mut s) = handshake(client_cfg(), server_cfg());
    for _ in 0..10 {
        s.send_record(&[7; 16384]).unwrap();
    }
    let bytes = s.outgoing().to_vec();
    s.consume_outgoing(bytes.len());
    let mut rest = &bytes[..];
    let mut received = 0;
    for _ in 0..1000 {
        let n = c.read_tls(rest).unwrap();
        rest = &rest[n..];
        c.process().unwrap();
        assert!(c.plaintext().len() <= 4 * 16384);
        received += c.plaintext().len();
        c.consume_plaintext(usize::MAX);
        if rest.is_empty() && c.read_capacity() == super::record::READ_CAPACITY {
            break;
        }
    }
    assert_eq!(received, 10 * 16384);
}

#[test]
fn server_alert_during_handshake_reaches_client_as_peer_aborted() {
    let mut client = client_cfg();
    client.suites = vec![CipherSuite::Aes128GcmSha256];
    let mut server = server_cfg();
    server.suites = vec![CipherSuite::Chacha20Poly1305Sha256];
    let (ce, se) = failed_handshake(client, server);
    assert_eq!(se, Error::Incompatible(Incompatible::NoCommonSuite));
    assert_eq!(
        ce,
        Error::PeerAborted(PeerAborted::Alert(AlertDescription::HandshakeFailure))
    );
}

#[test]
fn failed_connection_keeps_failing() {
    let mut s = Connection::new_server(Arc::new(server_cfg()));
    let _ = feed(&mut s, b"garbage!");
    assert!(s.process().is_err());
    assert!(s.read_tls(b"more").is_err());
    assert!(s.negotiated().is_none());
}

/// Figures for the report: CPU time of one in-memory handshake (both sides, 4096-byte key).
/// Run with `--release --ignored --nocapture`.
#[test]
#[ignore]
fn in_memory_handshake_cost() {
    let (client, server) = (Arc::new(client_cfg()), Arc::new(server_cfg()));
    let runs = 200;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let mut c = Connection::new_client(client.clone());
        let mut s = Connection::new_server(server.clone());
        assert_eq!(pump(&mut c, &mut s), (None, None));
    }
    println!(
        "in-memory handshake (client + server): {:?}",
        start.elapsed() / runs
    );
}
