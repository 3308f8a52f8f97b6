//! Entry points for cargo-fuzz (see `fuzz/`); hidden from the documentation.
//!
//! In: arbitrary bytes. Out: nothing; each function must return without panicking whatever it
//! is given. `keyed_client` plays a server that holds the key, so the fuzzer's bytes reach
//! the code behind record protection (EncryptedExtensions, Finished, KeyUpdate, alerts).

use std::sync::Arc;

use zeroize::Zeroizing;

use super::codec::{content, handshake, handshake_message, Reader, HANDSHAKE_HEADER_LEN};
use super::config::{
    CipherSuite, ClientConfig, PskMode, ServerConfig, StaticPsk, PACEMAKER_IDENTITY,
};
use super::connection::Connection;
use super::hello::{encode_server_hello, parse_client_hello};
use super::joiner::HandshakeJoiner;
use super::key_schedule::{EarlySecret, TrafficSecret};
use super::provider::Transcript;
use super::record::{Inbound, RecordLayer, Seal};

/// The key every fuzz target uses; its value does not matter, only that both sides share it.
pub const FUZZ_KEY: &[u8] = &[0x5a; 4096];

/// Record reader and handshake reassembly. The first byte sets how the rest is chopped
/// before it is fed in, so partial headers and bodies are exercised.
pub fn record_reader(data: &[u8]) {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let mut records = RecordLayer::new();
    records.open_ccs_window();
    let mut joiner = HandshakeJoiner::default();
    let mut buf = Vec::new();
    for piece in rest.chunks(usize::from(chunk).max(1)) {
        // read_tls takes the whole piece: records are drained below after every read.
        if records.read_tls(piece) < piece.len() {
            return;
        }
        // Each turn consumes one record from a bounded buffer.
        loop {
            match records.next_record(&mut buf) {
                Ok(Some(Inbound::Handshake)) => {
                    if joiner.push(&buf).is_err() {
                        return;
                    }
                    while let Ok(Some(_)) = joiner.pop() {}
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// The ClientHello parser, then the server's checks up to the binder, fed the same body.
pub fn client_hello(data: &[u8]) {
    let _ = parse_client_hello(data);
    let cfg = ServerConfig::new(Arc::new(StaticPsk::new(
        PACEMAKER_IDENTITY,
        Zeroizing::new(FUZZ_KEY.to_vec()),
    )));
    let mut server = Connection::new_server(Arc::new(cfg));
    let message = handshake_message(handshake::CLIENT_HELLO, data);
    for fragment in message.chunks(16384) {
        let mut record = vec![content::HANDSHAKE, 3, 3];
        record.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        record.extend_from_slice(fragment);
        if server.read_tls(&record).is_err() || server.process().is_err() {
            return;
        }
    }
}

/// Our client against a scripted server holding the key, in psk_ke mode so no ephemeral
/// secret hides the keys from the harness.
///
/// The input is a list of steps, each `op: u8, len: u16, payload`. By `op % 5`: 0 seals a
/// handshake payload (and adds it to the transcript), 1 seals application data, 2 seals an
/// alert body, 3 sends a correct server Finished and moves to application keys, 4 sends a
/// KeyUpdate and moves to the next key. With bit 7 set the payload goes out unprotected.
pub fn keyed_client(data: &[u8]) {
    let mut client = None;
    let _ = run_keyed_client(data, &mut client);
}

/// Runs the script; `client` keeps the connection for tests to inspect.
pub(super) fn run_keyed_client(data: &[u8], client_out: &mut Option<Connection>) -> Option<()> {
    let key = Zeroizing::new(FUZZ_KEY.to_vec());
    let mut cfg = ClientConfig::new(PACEMAKER_IDENTITY, key.clone());
    cfg.modes = vec![PskMode::PskKe];
    cfg.suites = vec![CipherSuite::Chacha20Poly1305Sha256];
    let client = client_out.insert(Connection::new_client(Arc::new(cfg)));

    // Our client writes its hello as one plaintext record.
    let hello = client.outgoing().get(5..)?.to_vec();
    client.consume_outgoing(usize::MAX);
    let parsed = parse_client_hello(hello.get(HANDSHAKE_HEADER_LEN..)?).ok()?;
    let mut transcript = Transcript::new();
    transcript.update(&hello);
    let server_hello = encode_server_hello(&[0x42; 32], parsed.session_id, 0x1303, None, 0);
    transcript.update(&server_hello);
    deliver(client, &plain_record(content::HANDSHAKE, &server_hello))?;

    let suite = CipherSuite::Chacha20Poly1305Sha256;
    let mut handshake = Some(EarlySecret::new(&key).into_handshake(None).ok()?);
    let (_, server_hs) = handshake.as_ref()?.traffic(&transcript.current()).ok()?;
    let mut secret: TrafficSecret = server_hs;
    let mut sealer = secret.sealer(suite).ok()?;
    let mut seq = 0u64;

    let mut steps = Reader::new(data);
    // Each turn consumes at least three bytes of input.
    while let (Ok(op), Ok(payload)) = (steps.u8("op"), steps.vec16("payload")) {
        let record = if op & 0x80 != 0 {
            payload.to_vec()
        } else {
            match op % 5 {
                0 => {
                    transcript.update(payload);
                    seal(&mut sealer, &mut seq, content::HANDSHAKE, payload)?
                }
                1 => seal(&mut sealer, &mut seq, content::APPLICATION_DATA, payload)?,
                2 => seal(&mut sealer, &mut seq, content::ALERT, payload)?,
                3 => {
                    let hs = handshake.take()?;
                    let mac = secret.finished(&transcript.current()).ok()?;
                    let finished = handshake_message(handshake::FINISHED, &mac);
                    transcript.update(&finished);
                    let record = seal(&mut sealer, &mut seq, content::HANDSHAKE, &finished)?;
                    let (_, server_app) =
                        hs.into_master().ok()?.traffic(&transcript.current()).ok()?;
                    secret = server_app;
                    sealer = secret.sealer(suite).ok()?;
                    seq = 0;
                    record
                }
                _ => {
                    let update =
                        handshake_message(handshake::KEY_UPDATE, &[payload.len() as u8 & 1]);
                    let record = seal(&mut sealer, &mut seq, content::HANDSHAKE, &update)?;
                    secret = secret.next().ok()?;
                    sealer = secret.sealer(suite).ok()?;
                    seq = 0;
                    record
                }
            }
        };
        deliver(client, &record)?;
        let _ = client.send_record(b"ping");
        client.consume_outgoing(usize::MAX);
    }
    Some(())
}

fn seal(sealer: &mut Box<dyn Seal>, seq: &mut u64, typ: u8, payload: &[u8]) -> Option<Vec<u8>> {
    let record = sealer.seal(typ, payload, *seq).ok()?;
    *seq += 1;
    Some(record)
}

fn plain_record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut record = vec![typ, 3, 3];
    record.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    record.extend_from_slice(payload);
    record
}

/// Feeds bytes and processes them; `None` once the client has failed.
fn deliver(client: &mut Connection, mut bytes: &[u8]) -> Option<()> {
    // Each turn takes at least one byte, or stops.
    while !bytes.is_empty() {
        let n = client.read_tls(bytes).ok()?;
        client.process().ok()?;
        if client.plaintext().len() > 32 * 1024 {
            client.consume_plaintext(usize::MAX);
        }
        if n == 0 && client.read_capacity() == 0 {
            return None;
        }
        bytes = bytes.get(n..)?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_survive_simple_inputs() {
        record_reader(&[]);
        record_reader(&[1, 22, 3, 3, 0, 4, 1, 0, 0, 0]);
        client_hello(&[3, 3]);
        keyed_client(&[]);
    }

    /// The seed in fuzz/corpus reaches application data: EncryptedExtensions, a correct
    /// Finished, data, KeyUpdate, data, close_notify.
    #[test]
    fn keyed_client_seed_reaches_established_state() {
        let seed = keyed_client_seed();
        let mut client = None;
        assert!(run_keyed_client(&seed, &mut client).is_some());
        let client = client.unwrap();
        assert!(client.negotiated().is_some());
        assert!(client.peer_closed());
        assert!(client.failure().is_none());
    }

    /// Writes a ClientHello from our client (identity lrmd, `FUZZ_KEY`, valid binder) as a
    /// seed, so the fuzzer starts past the binder check. Run with `--ignored` to refresh.
    #[test]
    #[ignore]
    fn write_client_hello_seed() {
        let cfg = ClientConfig::new(PACEMAKER_IDENTITY, Zeroizing::new(FUZZ_KEY.to_vec()));
        let client = Connection::new_client(Arc::new(cfg));
        let body = &client.outgoing()[5 + HANDSHAKE_HEADER_LEN..];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/client_hello");
        std::fs::write(format!("{dir}/seed-our-client"), body).unwrap();
    }

    /// Builds the seed that `fuzz/corpus/keyed_client/established` holds.
    pub(crate) fn keyed_client_seed() -> Vec<u8> {
        let mut seed = Vec::new();
        let mut step = |op: u8, payload: &[u8]| {
            seed.push(op);
            seed.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            seed.extend_from_slice(payload);
        };
        step(0, &[8, 0, 0, 2, 0, 0]);
        step(3, &[]);
        step(1, b"hello");
        step(4, &[1]);
        step(1, b"again");
        step(2, &[1, 0]);
        seed
    }
}
