//! Parser and encoder tests, table-driven where the input is a variation of one hello.

use super::super::codec::HANDSHAKE_HEADER_LEN;
use super::super::provider::hash;
use super::super::test_vectors::{
    bytes, RFC8448_S3_CLIENT_HELLO, RFC8448_S3_SERVER_HELLO, RFC8448_S4_CLIENT_HELLO,
};
use super::*;

#[test]
fn hello_retry_random_is_sha256_of_its_name() {
    assert_eq!(hash(b"HelloRetryRequest"), HELLO_RETRY_RANDOM);
}

#[test]
fn parses_rfc8448_s3_client_hello() {
    let message = bytes(RFC8448_S3_CLIENT_HELLO);
    let hello = parse_client_hello(&message[HANDSHAKE_HEADER_LEN..]).unwrap();
    assert_eq!(hello.cipher_suites, vec![0x1301, 0x1303, 0x1302]);
    assert_eq!(hello.supported_versions, vec![0x0304]);
    assert_eq!(hello.supported_groups[0], 0x001d);
    let shares = hello.key_shares.unwrap();
    assert_eq!(shares.len(), 1);
    assert_eq!(shares[0].group, 0x001d);
    assert_eq!(shares[0].key.len(), 32);
    assert!(hello.psk.is_none());
    assert_eq!(hello.record_size_limit, Some(0x4001));
}

#[test]
fn parses_rfc8448_s4_client_hello_and_finds_the_binders() {
    let message = bytes(RFC8448_S4_CLIENT_HELLO);
    let hello = parse_client_hello(&message[HANDSHAKE_HEADER_LEN..]).unwrap();
    let psk = hello.psk.unwrap();
    assert_eq!(psk.identities.len(), 1);
    assert_eq!(psk.identities[0].identity.len(), 178);
    assert_eq!(psk.identities[0].obfuscated_ticket_age, 0xfad6aacb);
    assert_eq!(HANDSHAKE_HEADER_LEN + psk.binders_offset, 512 - 35);
    assert_eq!(psk.binders[0], &message[512 - 32..]);
    assert!(hello.early_data);
    assert_eq!(hello.psk_modes, Some(&[1u8][..]));
}

#[test]
fn parses_rfc8448_s3_server_hello() {
    let message = bytes(RFC8448_S3_SERVER_HELLO);
    let hello = parse_server_hello(&message[HANDSHAKE_HEADER_LEN..]).unwrap();
    assert!(!hello.is_retry);
    assert_eq!(hello.cipher_suite, 0x1301);
    assert_eq!(hello.supported_version, Some(0x0304));
    assert_eq!(hello.key_share.unwrap().group, 0x001d);
    assert_eq!(hello.selected_identity, None);
}

fn sample_client_hello() -> (Vec<u8>, usize) {
    let share = [0x11u8; 32];
    encode_client_hello(&ClientHelloParams {
        random: &[1; 32],
        session_id: &[2; 32],
        suites: &[0x1303],
        groups: &[0x001d, 0x0017],
        shares: &[KeyShare {
            group: 0x001d,
            key: &share,
        }],
        modes: &[1],
        cookie: None,
        identity: b"lrmd",
    })
}

#[test]
fn encoded_client_hello_round_trips() {
    let (message, binders_at) = sample_client_hello();
    let hello = parse_client_hello(&message[HANDSHAKE_HEADER_LEN..]).unwrap();
    let psk = hello.psk.as_ref().unwrap();
    assert_eq!(psk.identities[0].identity, b"lrmd");
    assert_eq!(psk.identities[0].obfuscated_ticket_age, 0);
    assert_eq!(HANDSHAKE_HEADER_LEN + psk.binders_offset, binders_at);
    assert_eq!(message.len() - binders_at, 35);
    assert_eq!(hello.session_id, &[2; 32]);
    assert_eq!(hello.supported_groups, vec![0x001d, 0x0017]);
}

/// Builds a ClientHello body from raw extension bytes.
fn hello_with_extensions(extensions: &[u8]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x03, 1, 0]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);
    body
}

#[test]
fn malformed_client_hellos_are_rejected_with_the_right_alert() {
    use super::super::error::AlertDescription as A;
    let psk_ext: &[u8] = &[
        0, 41, 0, 47, 0, 10, 0, 4, b'l', b'r', b'm', b'd', 0, 0, 0, 0, 0, 33, 32, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let versions: &[u8] = &[0, 43, 0, 3, 2, 3, 4];
    let cases: Vec<(&str, Vec<u8>, A)> = vec![
        (
            "truncated",
            hello_with_extensions(versions)[..20].to_vec(),
            A::DecodeError,
        ),
        (
            "psk not last",
            hello_with_extensions(&[psk_ext, versions].concat()),
            A::IllegalParameter,
        ),
        (
            "duplicate extension",
            hello_with_extensions(&[versions, versions].concat()),
            A::IllegalParameter,
        ),
        (
            "odd versions list",
            hello_with_extensions(&[0, 43, 0, 2, 1, 3]),
            A::DecodeError,
        ),
        (
            "record_size_limit below 64",
            hello_with_extensions(&[0, 28, 0, 2, 0, 10]),
            A::IllegalParameter,
        ),
        (
            "two shares for one group",
            hello_with_extensions(&[0, 51, 0, 12, 0, 10, 0, 29, 0, 1, 9, 0, 29, 0, 1, 9]),
            A::IllegalParameter,
        ),
        (
            "binder shorter than 32",
            hello_with_extensions(&[
                0, 41, 0, 18, 0, 10, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 0, 4, 3, 1, 2, 3,
            ]),
            A::DecodeError,
        ),
        (
            "trailing bytes after extensions",
            [hello_with_extensions(versions), vec![0]].concat(),
            A::DecodeError,
        ),
    ];
    for (name, body, alert) in cases {
        let err = parse_client_hello(&body).expect_err(name);
        assert_eq!(err.alert(), Some(alert), "{name}: {err}");
    }
    // The well-formed base case parses.
    let body = hello_with_extensions(&[versions, psk_ext].concat());
    let ok = parse_client_hello(&body).unwrap();
    assert_eq!(ok.psk.unwrap().identities[0].identity, b"lrmd");
}

#[test]
fn every_truncation_of_a_client_hello_fails_cleanly() {
    let (message, _) = sample_client_hello();
    let body = &message[HANDSHAKE_HEADER_LEN..];
    // Cut right after compression_methods it is a valid hello without extensions.
    let no_extensions = 2 + 32 + 33 + 4 + 2;
    for len in (0..body.len()).filter(|len| *len != no_extensions) {
        assert!(parse_client_hello(&body[..len]).is_err(), "length {len}");
    }
    assert!(parse_client_hello(&body[..no_extensions])
        .unwrap()
        .psk
        .is_none());
}

#[test]
fn server_hello_and_retry_round_trip() {
    let share = [5u8; 65];
    let message = encode_server_hello(
        &[9; 32],
        &[7; 32],
        0x1303,
        Some(KeyShare {
            group: 0x0017,
            key: &share,
        }),
        0,
    );
    let hello = parse_server_hello(&message[HANDSHAKE_HEADER_LEN..]).unwrap();
    assert_eq!(hello.key_share.unwrap().key, &share[..]);
    assert_eq!(hello.selected_identity, Some(0));

    let retry = encode_hello_retry(&[7; 32], 0x1303, 0x0017);
    let hello = parse_server_hello(&retry[HANDSHAKE_HEADER_LEN..]).unwrap();
    assert!(hello.is_retry);
    assert_eq!(hello.key_share.unwrap().group, 0x0017);
}

#[test]
fn encrypted_extensions_round_trip() {
    let with = encode_encrypted_extensions(true);
    assert_eq!(
        parse_encrypted_extensions(&with[HANDSHAKE_HEADER_LEN..]).unwrap(),
        Some(16385)
    );
    let without = encode_encrypted_extensions(false);
    assert_eq!(&without[..], &[8, 0, 0, 2, 0, 0]);
    // early_data in EncryptedExtensions: we never offered it.
    let err = parse_encrypted_extensions(&[0, 4, 0, 42, 0, 0]).unwrap_err();
    assert_eq!(
        err.alert(),
        Some(super::super::AlertDescription::UnsupportedExtension)
    );
}
