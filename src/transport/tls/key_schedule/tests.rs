//! Known-answer tests from RFC 8448. §3 (no PSK, so PSK = 32 zero bytes) checks the
//! extract/derive/expand machinery and the Finished MACs; §4 checks the binder code path
//! with the "res binder" label, the only difference from the external binder we use.

use super::super::provider::hash;
use super::super::test_vectors::{
    bytes, unhex, RFC8448_S3_CLIENT_HELLO, RFC8448_S3_SERVER_HELLO, RFC8448_S4_CLIENT_HELLO,
};
use super::*;

fn digest(hex: &str) -> Digest {
    unhex(hex).try_into().unwrap()
}

fn secret(hex: &str) -> Secret {
    Secret(digest(hex))
}

#[test]
fn rfc8448_s3_early_and_handshake_secrets() {
    let early = EarlySecret::new(&[0; 32]);
    assert_eq!(
        early.0.bytes(),
        unhex("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
    );
    assert_eq!(
        derived(&early.0).unwrap().bytes(),
        unhex("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")
    );
    let ecdhe = unhex("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");
    let handshake = early.into_handshake(Some(&ecdhe)).unwrap();
    assert_eq!(
        handshake.0.bytes(),
        unhex("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
    );

    let mut transcript = bytes(RFC8448_S3_CLIENT_HELLO);
    transcript.extend(bytes(RFC8448_S3_SERVER_HELLO));
    let hello_hash = hash(&transcript);
    assert_eq!(
        hello_hash.to_vec(),
        unhex("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
    );
    let (client, server) = handshake.traffic(&hello_hash).unwrap();
    assert_eq!(
        client.0.bytes(),
        unhex("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
    );
    assert_eq!(
        server.0.bytes(),
        unhex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    );

    let master = handshake.into_master().unwrap();
    assert_eq!(
        master.0.bytes(),
        unhex("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")
    );
}

#[test]
fn rfc8448_s3_traffic_keys() {
    // Server handshake traffic secret -> AES-128-GCM key and IV (the trace's suite).
    let server_hs = secret("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
    let mut key = [0u8; 16];
    expand_label(&server_hs, b"key", &[], &mut key).unwrap();
    assert_eq!(key.to_vec(), unhex("3fce516009c21727d0f2e4e86ee403bc"));
    let mut iv = [0u8; 12];
    expand_label(&server_hs, b"iv", &[], &mut iv).unwrap();
    assert_eq!(iv.to_vec(), unhex("5d313eb2671276ee13000b30"));

    let server_ap = secret("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
    expand_label(&server_ap, b"key", &[], &mut key).unwrap();
    assert_eq!(key.to_vec(), unhex("9f02283b6c9c07efc26bb9f2ac92e356"));
    expand_label(&server_ap, b"iv", &[], &mut iv).unwrap();
    assert_eq!(iv.to_vec(), unhex("cf782b88dd83549aadf1e984"));
}

#[test]
fn rfc8448_s3_finished_and_application_secrets() {
    let server_hs = TrafficSecret(secret(
        "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
    ));
    // Transcript hash through CertificateVerify (the trace prints the messages, not this).
    let before_server_finished =
        digest("edb7725fa7a3473b031ec8ef65a24854939001 38a2b91291407d7951a06110ed");
    let expected = unhex("9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718");
    assert_eq!(
        server_hs
            .finished(&before_server_finished)
            .unwrap()
            .to_vec(),
        expected
    );
    assert!(server_hs
        .verify_finished(&before_server_finished, &expected)
        .unwrap());
    let mut wrong = expected.clone();
    wrong[31] ^= 1;
    assert!(!server_hs
        .verify_finished(&before_server_finished, &wrong)
        .unwrap());

    let client_hs = TrafficSecret(secret(
        "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
    ));
    let after_server_finished =
        digest("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13");
    assert_eq!(
        client_hs.finished(&after_server_finished).unwrap().to_vec(),
        unhex("a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61")
    );

    let master = MasterSecret(secret(
        "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
    ));
    let (client_ap, server_ap) = master.traffic(&after_server_finished).unwrap();
    assert_eq!(
        client_ap.0.bytes(),
        unhex("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
    );
    assert_eq!(
        server_ap.0.bytes(),
        unhex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
    );
}

#[test]
fn rfc8448_s3_resumption_secret_feeds_s4() {
    // res master -> the PSK that §4 resumes with: checks expand_label with a context.
    let res_master = secret("7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c");
    let mut psk = [0u8; 32];
    expand_label(&res_master, b"resumption", &[0, 0], &mut psk).unwrap();
    assert_eq!(
        psk.to_vec(),
        unhex("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3")
    );
}

#[test]
fn rfc8448_s4_binder_with_resumption_label() {
    let psk = unhex("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3");
    let early = EarlySecret::new(&psk);
    assert_eq!(
        early.0.bytes(),
        unhex("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c")
    );
    let hello = bytes(RFC8448_S4_CLIENT_HELLO);
    assert_eq!(hello.len(), 512);
    // The binders list (u16 length, u8 length, 32 bytes) ends the message.
    let truncated = &hello[..512 - 35];
    let binder = early
        .binder(BinderLabel::Resumption, &hash(truncated))
        .unwrap();
    assert_eq!(binder.as_slice(), &hello[512 - 32..]);

    // The external label gives a different binder from the same key.
    let external = early
        .binder(BinderLabel::External, &hash(truncated))
        .unwrap();
    assert_ne!(external, binder);
}

#[test]
fn rfc8448_s4_client_early_traffic_secret() {
    // Derive-Secret over a full ClientHello: "c e traffic" from the §4 early secret.
    let early = secret("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c");
    let hello_hash = hash(&bytes(RFC8448_S4_CLIENT_HELLO));
    assert_eq!(
        derive_secret(&early, b"c e traffic", &hello_hash)
            .unwrap()
            .bytes(),
        unhex("3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62")
    );
}

#[test]
fn key_update_changes_the_secret_and_both_sides_agree() {
    let a = TrafficSecret(secret(
        "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
    ));
    let next = a.next().unwrap();
    assert_ne!(next.0.bytes(), a.0.bytes());
    let mut sealer = next.sealer(CipherSuite::Chacha20Poly1305Sha256).unwrap();
    let mut opener = a
        .next()
        .unwrap()
        .opener(CipherSuite::Chacha20Poly1305Sha256)
        .unwrap();
    let mut record = sealer.seal(23, b"after update", 0).unwrap();
    assert_eq!(opener.open(&mut record[5..], 0).unwrap().1, b"after update");
}

#[test]
fn psk_of_any_length_is_accepted() {
    for len in [1usize, 32, 64, 65, 512, 4096] {
        let early = EarlySecret::new(&vec![7u8; len]);
        assert!(early.binder(BinderLabel::External, &hash(b"x")).is_ok());
    }
}
