//! The real `pcmk-remoted` binary against bad and unusual peers: garbage instead of TLS,
//! stalled and failed handshakes, lying frame headers, vanishing and slow clients, floods of
//! connections, signals, and the `check` subcommand.
//!
//! Each test starts its own daemon (own port, key and log) and asserts three things: what the
//! peer sees, the log line an operator would read, and that a fresh well-behaved client is
//! still served afterwards. Nothing here waits without a deadline.
// Tests may unwrap: a panic is a failed test (clippy.toml covers #[test] bodies only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::Async;
use zeroize::Zeroizing;

use pcmk_remoted::client::{Client, ClientError};
use pcmk_remoted::proto::names::{
    attr, op, ATTRIBUTES, LRMD_CALLDATA, LRMD_COMMAND, LRMD_IPC_PROXY, LRMD_RSC,
};
use pcmk_remoted::proto::xml::Element;
use pcmk_remoted::transport::tls;
use pcmk_remoted::wire::{deframer, Header, HEADER_LEN};

use common::*;

/// The plaintext close_notify alert the original sends to a client that never finished its
/// handshake (protocol.md 5.5).
const PLAIN_CLOSE_NOTIFY: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00];

/// The plaintext fatal user_canceled alert the daemon sends to a connection it turns away as
/// busy (over a connection limit).
const BUSY_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 90];

/// A complete frame (header then payload with its NUL) for `el`.
fn frame(el: &Element) -> (Vec<u8>, Vec<u8>) {
    let (h, p) = deframer::encode(9, &xml_bytes(el));
    (h.to_vec(), p)
}

/// Sends raw bytes at the TLS layer, each slice its own record(s).
async fn send_raw(c: &mut Client, records: &[&[u8]]) {
    c.send_records(records).await.expect("send");
}

/// Reads messages until a reply with `msg_id`; returns it with everything before it.
async fn until_reply(c: &mut Client, msg_id: u64) -> (Element, Vec<Element>) {
    let id = msg_id.to_string();
    let mut before = Vec::new();
    for _ in 0..1000 {
        let m = c.receive().await.expect("receive");
        if m.name == "lrmd_reply" && m.attr(attr::REMOTE_MSG_ID) == Some(id.as_str()) {
            return (m, before);
        }
        before.push(m);
    }
    panic!("no reply to {msg_id} in 1000 messages");
}

// ---------------------------------------------------------------------------------------
// 1-4: before and during the handshake

#[test]
fn plaintext_instead_of_client_hello_is_closed_and_named() {
    let d = Daemon::start(&[]);
    for (input, want) in [
        (&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], "not TLS"),
        (b"hello there, this is not TLS\r\n", "not TLS"),
        (b"SSH-2.0-OpenSSH_9.2\r\n", "looks like SSH"),
    ] {
        let before = d.count_log(want);
        let mut s = raw_connect(d.addr);
        let t = Instant::now();
        s.write_all(input).unwrap();
        let (got, closed) = read_until_closed(&mut s, t, STEP);
        let closed = closed.expect("daemon kept a garbage connection open");
        assert!(closed < Duration::from_secs(1), "closed after {closed:?}");
        // One plaintext alert record comes back (unexpected_message; the original sends
        // close_notify), never anything else.
        assert_eq!(got, [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a], "{input:?}");
        let line = d.wait_log(want, STEP);
        assert!(line.contains("TLS handshake failed"), "{line}");
        poll_until(STEP, || (d.count_log(want) > before).then_some(())).expect("one more log line");
    }
    d.assert_serves();
}

#[test]
fn stalled_handshake_is_closed_at_the_deadline_with_close_notify() {
    let d = Daemon::start(&["handshake_timeout_ms=500"]);
    let mut s = raw_connect(d.addr);
    let t = Instant::now();
    let (got, closed) = read_until_closed(&mut s, t, STEP);
    let closed = closed.expect("stalled connection never closed");
    println!("stalled handshake closed after {closed:?}");
    assert!(
        closed >= Duration::from_millis(450) && closed < Duration::from_millis(2000),
        "closed after {closed:?}"
    );
    assert_eq!(got, PLAIN_CLOSE_NOTIFY, "bytes before close");
    let line = d.wait_log("TLS handshake not complete after 500 ms", STEP);
    assert!(line.contains("closing"), "{line}");
    d.assert_serves();
}

#[test]
fn wrong_key_is_a_key_mismatch_on_both_sides() {
    let d = Daemon::start(&[]);
    let wrong = random_bytes(4096);
    let err = match run(STEP, "handshake", connect(d.addr, &wrong)) {
        Ok(_) => panic!("handshake with a wrong key succeeded"),
        Err(e) => e,
    };
    assert!(matches!(err, ClientError::Handshake(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("rejected our key"), "{text}");
    d.wait_log("wrong key", STEP);
    d.assert_serves();
}

/// A TLS 1.2 ClientHello offering only PSK suites, as GnuTLS before 3.6 sends it: no
/// supported_versions extension, so TLS 1.3 is not on offer (RFC 8446 4.2.1).
fn tls12_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x04, 0x00, 0xa8, 0x00, 0xaa]); // PSK / DHE-PSK AES-128-GCM
    body.extend_from_slice(&[0x01, 0x00]); // null compression
                                           // extensions: renegotiation_info (empty), extended_master_secret
    let exts: &[u8] = &[0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x17, 0x00, 0x00];
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(exts);
    let mut hs = vec![0x01];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

#[test]
fn tls12_only_client_gets_protocol_version_alert() {
    let d = Daemon::start(&[]);
    let mut s = raw_connect(d.addr);
    let t = Instant::now();
    s.write_all(&tls12_client_hello()).unwrap();
    let (got, closed) = read_until_closed(&mut s, t, STEP);
    assert!(closed.is_some(), "not closed; got {got:02x?}");
    // One alert record: fatal (2), protocol_version (70).
    assert!(got.len() >= 7 && got[0] == 0x15, "{got:02x?}");
    assert_eq!(&got[5..7], &[2, 70], "{got:02x?}");
    let line = d.wait_log("TLS 1.2", STEP);
    assert!(line.contains("TLS 1.3 only"), "{line}");
    d.assert_serves();
}

#[test]
fn gnutls_cli_tls12_only_is_refused_with_a_clear_log() {
    let Some(_) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("gnutls-cli"))
            .find(|p| p.is_file())
    }) else {
        println!("skipped: gnutls-cli not found");
        return;
    };
    let d = Daemon::start(&[]);
    let hex: String = d.key.iter().map(|b| format!("{b:02x}")).collect();
    let port = d.addr.port().to_string();
    let out = std::process::Command::new("timeout")
        .args([
            "10",
            "gnutls-cli",
            "--priority",
            "NORMAL:-VERS-ALL:+VERS-TLS1.2:+DHE-PSK:+PSK",
            "--pskusername",
            "lrmd",
            "--pskkey",
            &hex,
            "--port",
            &port,
            "127.0.0.1",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "gnutls-cli connected with TLS 1.2");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("alert [70]"), "{text}");
    d.wait_log("TLS 1.2", STEP);
    d.assert_serves();
}

// ---------------------------------------------------------------------------------------
// 5: lying frames after sign-on

/// Signs on, sends `records`, expects the daemon to close and log `want`; then checks a fresh
/// client is served.
fn bad_frame_closes(d: &Daemon, records: &[&[u8]], want: &str) {
    run(STEP, "bad frame", async {
        let mut c = sign_on(d.addr, &d.key, "liar", false).await;
        send_raw(&mut c, records).await;
        expect_closed(&mut c, STEP).await.unwrap();
    });
    let line = d.wait_log(want, STEP);
    assert!(line.contains("closing"), "{line}");
    d.assert_serves();
}

#[test]
fn frame_with_wrong_payload_offset_is_refused() {
    let d = Daemon::start(&[]);
    let (_, payload) = frame(&as_request(poke(), 5));
    let h = Header {
        payload_offset: 48,
        ..Header::for_payload(1, payload.len() as u32)
    };
    bad_frame_closes(&d, &[&h.emit(), &payload], "payload offset 48 is not 40");
}

#[test]
fn frame_with_inconsistent_total_size_is_refused() {
    let d = Daemon::start(&[]);
    let (_, payload) = frame(&as_request(poke(), 5));
    let h = Header {
        size_total: HEADER_LEN as u32 + payload.len() as u32 + 100,
        ..Header::for_payload(1, payload.len() as u32)
    };
    bad_frame_closes(
        &d,
        &[&h.emit(), &payload],
        "does not match header plus payload",
    );
}

/// A header claiming a frame of about 2 GiB, consistent in itself.
fn two_gib_header() -> [u8; HEADER_LEN] {
    Header {
        size_total: 0x8000_0000,
        payload_uncompressed: 0x8000_0000 - HEADER_LEN as u32,
        ..Header::for_payload(1, 1)
    }
    .emit()
}

fn huge_header_costs_no_memory(limits: &[&str], want: &str) {
    let d = Daemon::start(limits);
    let mut c = d.client("liar");
    run(STEP, "poke", poke_ok(&mut c));
    let peak_before = d.status_kb("VmPeak");
    let rss_before = d.status_kb("VmRSS");
    run(STEP, "huge header", async {
        send_raw(&mut c, &[&two_gib_header()]).await;
        expect_closed(&mut c, STEP).await.unwrap();
    });
    d.wait_log(want, STEP);
    let peak_after = d.status_kb("VmPeak");
    let rss_after = d.status_kb("VmRSS");
    println!("VmPeak {peak_before} -> {peak_after} kB, VmRSS {rss_before} -> {rss_after} kB");
    assert!(
        peak_after <= peak_before + 4 * 1024,
        "VmPeak {peak_before} kB -> {peak_after} kB"
    );
    assert!(
        rss_after <= rss_before + 4 * 1024,
        "VmRSS {rss_before} kB -> {rss_after} kB"
    );
    d.assert_serves();
}

#[test]
fn two_gib_size_field_with_small_limit_is_refused_without_allocating() {
    huge_header_costs_no_memory(
        &["max_message_bytes=65536"],
        "is over the limit of 65536 (max_message_bytes)",
    );
}

#[test]
fn two_gib_size_field_with_default_limit_is_refused_without_allocating() {
    huge_header_costs_no_memory(&[], "is over the limit of 20971520 (max_message_bytes)");
}

#[test]
fn frame_just_under_the_limit_grows_only_with_bytes_received() {
    // A header announcing 16 MiB that never sends its payload must cost nothing while it
    // waits; the C daemon reserved the whole size up front (protocol.md 6.5).
    let d = Daemon::start(&[]);
    let mut c = d.client("slowpoke");
    let peak_before = d.status_kb("VmPeak");
    let size = 16 * 1024 * 1024;
    let h = Header::for_payload(1, size);
    run(STEP, "header", send_raw(&mut c, &[&h.emit(), b"<lrmd"]));
    d.assert_serves();
    let peak_after = d.status_kb("VmPeak");
    assert!(
        peak_after <= peak_before + 4 * 1024,
        "VmPeak {peak_before} kB -> {peak_after} kB"
    );
    vanish(c);
    d.wait_log("peer vanished mid-message (45 bytes", STEP);
}

#[test]
fn invalid_xml_in_a_well_formed_frame_is_refused() {
    let d = Daemon::start(&[]);
    let (h, p) = deframer::encode(3, b"<lrmd_command lrmd_op=\"lrmd_rsc_poke\"");
    bad_frame_closes(&d, &[&h, &p], "invalid XML in message");
}

#[test]
fn bad_endian_marker_is_refused() {
    let d = Daemon::start(&[]);
    let (mut h, p) = frame(&as_request(poke(), 5));
    h[..4].copy_from_slice(&0x1234_5678u32.to_ne_bytes());
    bad_frame_closes(&d, &[&h, &p], "endian marker 0x12345678");
}

// ---------------------------------------------------------------------------------------
// 6-8: partial, foreign-endian and packed frames

/// Drops `c` after reading what it was sent, so the kernel ends the connection with a FIN
/// (a close with unread data would be a reset instead).
fn vanish(mut c: Client) {
    run(
        STEP,
        "drain",
        drain_notifications(&mut c, Duration::from_millis(100), 1000),
    );
    drop(c);
}

#[test]
fn client_vanishing_mid_message_is_logged_and_others_keep_going() {
    let d = Daemon::start(&[]);
    let mut other = d.client("steady");
    run(STEP, "poke before", poke_ok(&mut other));
    let mut quitter = d.client("quitter");
    let (h, p) = frame(&as_request(poke(), 5));
    run(
        STEP,
        "partial",
        send_raw(&mut quitter, &[&h, &p[..p.len() / 2]]),
    );
    // The daemon must not wait for the rest with everyone else frozen (protocol.md 6.7).
    for _ in 0..3 {
        run(STEP, "poke while a frame is pending", poke_ok(&mut other));
    }
    vanish(quitter); // TCP FIN without close_notify, mid-frame
    let line = d.wait_log("peer vanished mid-message", STEP);
    assert!(
        line.contains(&format!(
            "({} bytes of a frame received)",
            h.len() + p.len() / 2
        )),
        "{line}"
    );
    run(STEP, "poke after", poke_ok(&mut other));
    d.assert_serves();
}

#[test]
fn client_reset_mid_message_is_logged_and_others_keep_going() {
    let d = Daemon::start(&[]);
    let mut other = d.client("steady");
    // Our own TCP connection, so we can see when unread data has arrived.
    let tcp = Async::<TcpStream>::connect(d.addr);
    let tcp = run(STEP, "connect", tcp).unwrap();
    let peek = tcp.get_ref().try_clone().unwrap();
    let cfg = Arc::new(tls::ClientConfig::new(
        tls::PACEMAKER_IDENTITY,
        Zeroizing::new(d.key.clone()),
    ));
    let mut quitter = run(STEP, "sign-on", async {
        let mut c = Client::handshake(tcp, cfg).await.unwrap();
        c.request(register("quitter", false)).await.unwrap();
        c
    });
    run(STEP, "poke", poke_ok(&mut other)); // sends the quitter a notification it never reads
    poll_until(STEP, || peek.peek(&mut [0u8; 1]).ok().filter(|&n| n > 0))
        .expect("notification reached the quitter");
    let (h, p) = frame(&as_request(poke(), 5));
    run(
        STEP,
        "partial",
        send_raw(&mut quitter, &[&h, &p[..p.len() / 2]]),
    );
    drop((quitter, peek)); // unread data: the kernel sends a reset, not a FIN
    let line = poll_until(STEP, || {
        d.log()
            .lines()
            .find(|l| l.contains("conn#2 from") && l.contains("closing"))
            .map(str::to_string)
    })
    .expect("a log line about the reset connection");
    assert!(line.contains("reset"), "{line}");
    run(STEP, "poke after", poke_ok(&mut other));
    d.assert_serves();
}

#[test]
fn client_closing_tls_mid_message_is_logged() {
    let d = Daemon::start(&[]);
    let mut quitter = d.client("quitter");
    let (h, _) = frame(&as_request(poke(), 5));
    run(STEP, "partial", async {
        send_raw(&mut quitter, &[&h[..20]]).await;
        quitter.close().await.unwrap();
    });
    d.wait_log("peer vanished mid-message (20 bytes", STEP);
    d.assert_serves();
}

#[test]
fn foreign_endian_header_is_accepted() {
    let d = Daemon::start(&[]);
    let mut c = d.client("big-endian-node");
    let (_, payload) = frame(&as_request(poke(), 4242));
    let h = Header::for_payload(1, payload.len() as u32).emit_swapped();
    assert_ne!(h[..4], Header::for_payload(1, 1).emit()[..4]);
    let (reply, _) = run(STEP, "swapped poke", async {
        send_raw(&mut c, &[&h, &payload]).await;
        until_reply(&mut c, 4242).await
    });
    assert_eq!(reply.attr(attr::RC), Some("0"));
    let note = run(STEP, "notify", c.next_notification()).unwrap();
    assert_eq!(note.attr(attr::OP), Some(op::POKE));
    d.assert_serves();
}

#[test]
fn header_and_payload_in_one_record_and_two_frames_in_one_record_are_accepted() {
    let d = Daemon::start(&[]);
    let mut c = d.client("packer");
    run(STEP, "packed frames", async {
        let (h, p) = frame(&as_request(poke(), 100));
        send_raw(&mut c, &[&[h, p].concat()]).await;
        let (r, _) = until_reply(&mut c, 100).await;
        assert_eq!(r.attr(attr::RC), Some("0"));

        let (h1, p1) = frame(&as_request(poke(), 101));
        let (h2, p2) = frame(&as_request(poke(), 102));
        send_raw(&mut c, &[&[h1, p1, h2, p2].concat()]).await;
        let (r1, _) = until_reply(&mut c, 101).await;
        let (r2, _) = until_reply(&mut c, 102).await;
        assert_eq!(
            (r1.attr(attr::RC), r2.attr(attr::RC)),
            (Some("0"), Some("0"))
        );
    });
    d.assert_serves();
}

#[test]
fn our_writer_puts_each_header_in_its_own_57_byte_record() {
    let d = Daemon::start(&[]);
    let proxy = RecordingProxy::start(d.addr);
    run(STEP, "records", async {
        let mut c = sign_on(proxy.addr, &d.key, "recorder", false).await;
        let start = proxy.captured().len();
        let reply = c.request(poke()).await.unwrap();
        let note = c.next_notification().await.unwrap();
        let bytes = proxy.captured();
        let records = tls_records(&bytes[start..]);
        // Two frames: [header, payload] each; TLS 1.3 adds 1 type byte and a 16-byte tag.
        let expect = vec![
            (23u8, 40 + 17),
            (23, xml_bytes(&reply).len() + 1 + 17),
            (23, 40 + 17),
            (23, xml_bytes(&note).len() + 1 + 17),
        ];
        assert_eq!(records, expect, "records after the poke");
        assert_eq!(
            records.iter().map(|r| 5 + r.1).sum::<usize>(),
            bytes.len() - start,
            "nothing but whole records"
        );
    });
    d.assert_serves();
}

// ---------------------------------------------------------------------------------------
// 9-10: many connections, slow readers

/// Sockets the daemon holds beyond `base`.
fn held(d: &Daemon, base: usize) -> usize {
    d.socket_count().saturating_sub(base)
}

#[test]
fn pending_handshake_budget_holds_for_500_connects_and_a_key_holder_still_gets_in() {
    // One source here, so its own share must not be what stops the flood.
    let d = Daemon::options()
        .limit("max_pending_handshakes=20")
        .limit("max_pending_per_source=1000")
        .limit("handshake_timeout_ms=8000")
        .start();
    let base_fds = d.idle_fd_count();
    let base_sockets = d.socket_count();
    let t = Instant::now();
    let mut opened: Vec<TcpStream> = Vec::new();
    // In bursts of 10, each taken (held or already closed by the daemon) before the next.
    for _ in 0..50 {
        for _ in 0..10 {
            opened.push(TcpStream::connect_timeout(&d.addr, STEP).unwrap());
        }
        poll_until(STEP, || (held(&d, base_sockets) <= 20).then_some(()))
            .unwrap_or_else(|| panic!("daemon holds {}", held(&d, base_sockets)));
    }
    let open = held(&d, base_sockets);
    println!("500 connects in {:?}: the daemon holds {open}", t.elapsed());
    assert!(open <= 20, "{open} held, budget 20");
    // The dropped ones heard why: a user_canceled alert, not a silent close.
    let mut first = opened.remove(0);
    first
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let (got, closed) = read_until_closed(&mut first, Instant::now(), STEP);
    assert!(closed.is_some(), "the oldest handshake was not dropped");
    assert_eq!(got, BUSY_ALERT, "bytes before close");
    let line = d.wait_log("(max_pending_handshakes)", STEP);
    assert!(
        line.contains("dropping the oldest one without the key"),
        "{line}"
    );
    // At the budget, a key holder still gets in: it displaces the oldest keyless handshake.
    d.assert_serves();
    drop(opened);
    poll_until(STEP, || (d.fd_count() == base_fds).then_some(()))
        .unwrap_or_else(|| panic!("fds {base_fds} -> {:?}", d.fd_list()));
    let rss = d.status_kb("VmRSS");
    assert!(rss < 64 * 1024, "VmRSS {rss} kB");
    println!("VmRSS {rss} kB, VmHWM {} kB", d.status_kb("VmHWM"));
}

#[test]
fn pending_budget_holds_for_a_burst_accepted_in_one_go() {
    // Eleven connects fit in the listen queue and are accepted in one go: each must count
    // from its accept, before its task first runs.
    let d = Daemon::options()
        .limit("max_pending_handshakes=5")
        .limit("max_pending_per_source=100")
        .limit("handshake_timeout_ms=8000")
        .start();
    let base_sockets = d.socket_count();
    let held_now: Vec<TcpStream> = (0..11)
        .map(|_| TcpStream::connect_timeout(&d.addr, STEP).unwrap())
        .collect();
    // Bounded: the drops happen as the burst is accepted.
    let settled = poll_until(STEP, || (held(&d, base_sockets) == 5).then_some(()));
    assert!(settled.is_some(), "daemon holds {}", held(&d, base_sockets));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(held(&d, base_sockets), 5);
    drop(held_now);
}

#[test]
fn a_source_over_its_share_is_refused_at_once_with_a_busy_alert() {
    let d = Daemon::options()
        .limit("max_pending_per_source=3")
        .limit("handshake_timeout_ms=8000")
        .start();
    let base_sockets = d.socket_count();
    let _mine: Vec<TcpStream> = (0..3).map(|_| raw_connect(d.addr)).collect();
    poll_until(STEP, || (held(&d, base_sockets) == 3).then_some(())).expect("3 held");
    let mut fourth = raw_connect(d.addr);
    let (got, closed) = read_until_closed(&mut fourth, Instant::now(), STEP);
    assert!(closed.is_some(), "the fourth was not refused");
    assert_eq!(got, BUSY_ALERT);
    let line = d.wait_log("refusing connection from 127.0.0.1:", STEP);
    assert!(
        line.contains(
            "3 handshakes from this source in progress, limit 3 (max_pending_per_source)"
        ),
        "{line}"
    );
    // The key holder comes from the same address here, so it is refused too, as "busy".
    match run(STEP, "handshake", connect(d.addr, &d.key)) {
        Ok(_) => panic!("a fourth handshake from the source got in"),
        Err(e) => assert!(e.to_string().contains("busy"), "{e}"),
    }
}

#[test]
fn keyed_connections_have_their_own_budget_and_keyless_ones_cannot_fill_it() {
    let d = Daemon::options().limit("max_connections=2").start();
    let _a = d.client("a");
    let _b = d.client("b");
    match run(STEP, "third", connect(d.addr, &d.key)) {
        Ok(_) => panic!("a third keyed connection got in"),
        Err(e) => assert!(e.to_string().contains("busy"), "{e}"),
    }
    let line = d.wait_log("(max_connections)", STEP);
    assert!(
        line.contains("2 connections signed on or signing on, limit 2"),
        "{line}"
    );
    drop(_b);
    // Keyless connections do not count against it.
    let _keyless: Vec<TcpStream> = (0..5).map(|_| raw_connect(d.addr)).collect();
    poll_until(STEP, || {
        run(STEP, "retry", connect(d.addr, &d.key)).ok().map(|_| ())
    })
    .expect("a key holder gets the freed place");
}

#[test]
fn a_key_holder_that_never_signs_on_is_closed_at_the_signon_deadline() {
    let d = Daemon::options().limit("signon_timeout_ms=500").start();
    let mut silent = run(STEP, "handshake", connect(d.addr, &d.key)).unwrap();
    let t = Instant::now();
    run(STEP, "closed", expect_closed(&mut silent, STEP)).unwrap();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(400), "{took:?}");
    let line = d.wait_log("(signon_timeout_ms)", STEP);
    assert!(
        line.contains("no sign-on within 500 ms of the handshake"),
        "{line}"
    );
    // One that signs on in time stays, past the deadline.
    let mut c = d.client("prompt");
    std::thread::sleep(Duration::from_millis(800));
    run(STEP, "poke", poke_ok(&mut c));
}

/// Signs on `deaf`, which sends pokes without reading until its writes stall; then signs on
/// `busy`, which pokes and reads (its notifications land in deaf's queue) until the daemon
/// gives up on `deaf`. Returns both clients, the log line and the poke counts.
fn flood_until_cut_off(d: &Daemon) -> (Client, Client, String, usize, usize) {
    let mut deaf = d.client("deaf");
    let mut deaf_sent = 0;
    for i in 0..50_000u64 {
        let (h, p) = frame(&as_request(poke(), 10_000 + i));
        let sent = async_io::block_on(with_deadline(
            Duration::from_millis(300),
            deaf.send_records(&[&h, &p]),
        ));
        if sent.is_none() {
            break;
        }
        deaf_sent += 1;
    }
    let mut busy = d.client("busy");
    let mut busy_pokes = 0;
    let line = poll_until(Duration::from_secs(20), || {
        run(STEP, "busy pokes", async {
            for _ in 0..50 {
                poke_ok(&mut busy).await;
            }
        });
        busy_pokes += 50;
        d.log()
            .lines()
            .find(|l| l.contains("conn#1 ") && l.contains("(max_outbound_bytes)"))
            .map(str::to_string)
    })
    .unwrap_or_else(|| panic!("deaf client never cut off"));
    (deaf, busy, line, deaf_sent, busy_pokes)
}

#[test]
fn client_that_stops_reading_is_disconnected_at_max_outbound_bytes() {
    let d = Daemon::start(&["max_outbound_bytes=65536", "write_timeout_ms=20000"]);
    let t = Instant::now();
    let (deaf, mut busy, line, sent, pokes) = flood_until_cut_off(&d);
    println!(
        "deaf sent {sent} pokes, busy made {pokes}; cut off after {:?}: {line}",
        t.elapsed()
    );
    assert!(line.contains("is not reading"), "{line}");
    assert!(line.contains("limit 65536 (max_outbound_bytes)"), "{line}");
    assert!(
        !d.log().contains("conn#2 is not reading"),
        "the reading client was cut off too"
    );
    run(STEP, "busy poke after", poke_ok(&mut busy));
    d.assert_serves();
    drop(deaf);
}

#[test]
fn client_that_stops_reading_is_cut_off_once_and_at_once() {
    let d = Daemon::start(&["max_outbound_bytes=65536", "write_timeout_ms=20000"]);
    let (deaf, mut busy, _, _, _) = flood_until_cut_off(&d);
    let cut = Instant::now();
    // Keep the notifications coming, as a live cluster would.
    run(STEP, "more pokes", async {
        for _ in 0..50 {
            poke_ok(&mut busy).await;
        }
    });
    let warnings = d
        .log()
        .lines()
        .filter(|l| l.contains("conn#1 ") && l.contains("(max_outbound_bytes)"))
        .count();
    let closed = poll_until(Duration::from_secs(3), || {
        d.log()
            .lines()
            .find(|l| l.starts_with("pcmk-remoted notice: conn#1 (deaf) disconnected"))
            .map(|_| cut.elapsed())
    });
    assert!(
        warnings == 1 && closed.is_some(),
        "{warnings} warnings about the same client (want 1); disconnected after {closed:?} \
         (want within 3 s)"
    );
    drop(deaf);
}

#[test]
fn client_that_floods_only_itself_is_cut_off_at_write_timeout() {
    // Our session writes before it reads, so a client that never reads stalls its own
    // requests in the kernel buffers: its queue never fills, and the write timeout ends it.
    let d = Daemon::start(&["max_outbound_bytes=65536", "write_timeout_ms=1000"]);
    let mut deaf = d.client("deaf");
    let mut sent = 0;
    for i in 0..50_000u64 {
        let (h, p) = frame(&as_request(poke(), 10_000 + i));
        let done = async_io::block_on(with_deadline(
            Duration::from_millis(300),
            deaf.send_records(&[&h, &p]),
        ));
        if done.is_none() {
            break;
        }
        sent += 1;
    }
    let line = d.wait_log("(write_timeout_ms)", STEP);
    println!("{sent} pokes before the writes stalled; {line}");
    assert!(line.contains("took none of our data for 1000 ms"), "{line}");
    d.wait_log("conn#1 (deaf) disconnected", STEP);
    d.assert_serves();
    drop(deaf);
}

/// An OCF agent that prints `OCF_RESKEY_bytes` copies of `OCF_RESKEY_char` on stdout.
const PRINTER: &str = "#!/bin/sh
case \"$1\" in meta-data) echo '<resource-agent name=\"printer\"/>'; exit 0;; esac
head -c \"${OCF_RESKEY_bytes:-10}\" /dev/zero | tr '\\0' \"${OCF_RESKEY_char:-x}\"
exit 0
";

/// A daemon whose OCF tree holds `ocf:pcmkrtest:printer`; the tree lives as long as `Scratch`.
fn printer_daemon(limits: &[&str]) -> (Daemon, Scratch) {
    use std::os::unix::fs::PermissionsExt;
    let tree = Scratch::new("printer");
    let dir = tree.path("resource.d/pcmkrtest");
    std::fs::create_dir_all(&dir).unwrap();
    let agent = dir.join("printer");
    std::fs::write(&agent, PRINTER).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut o = Daemon::options()
        .env(
            "PCMK_remoted_ocf_ra_path",
            tree.path("resource.d").to_str().unwrap(),
        )
        .env("PCMK_remoted_ocf_root", tree.dir.to_str().unwrap());
    for l in limits {
        o = o.limit(l);
    }
    (o.start(), tree)
}

/// Registers `printer` and runs its start with `bytes` of `ch`; returns the call id.
async fn print_output(c: &mut Client, bytes: usize, ch: &str) -> String {
    let rsc = Element::new(LRMD_RSC)
        .with_attr(attr::RSC_ID, "printer")
        .with_attr(attr::CLASS, "ocf")
        .with_attr(attr::PROVIDER, "pcmkrtest")
        .with_attr(attr::TYPE, "printer");
    let command = |name: &str, data: Element| {
        Element::new(LRMD_COMMAND)
            .with_attr(attr::T, "lrmd")
            .with_attr(attr::OP, name)
            .with_attr(attr::CALL_OPTIONS, 4)
            .with_child(Element::new(LRMD_CALLDATA).with_child(data))
    };
    let reply = c.request(command(op::RSC_REGISTER, rsc)).await.unwrap();
    assert_eq!(reply.attr(attr::RC), Some("0"));
    let exec = Element::new(LRMD_RSC)
        .with_attr(attr::ORIGIN, "lrmd_api_exec")
        .with_attr(attr::RSC_ID, "printer")
        .with_attr(attr::RSC_ACTION, "start")
        .with_attr(attr::RSC_INTERVAL, 0)
        .with_attr(attr::TIMEOUT, 60_000)
        .with_attr(attr::RSC_START_DELAY, 0)
        .with_child(
            Element::new(ATTRIBUTES)
                .with_attr("bytes", bytes)
                .with_attr("char", ch),
        );
    let reply = c.request(command(op::RSC_EXEC, exec)).await.unwrap();
    reply.attr(attr::RC).unwrap().to_string()
}

/// The exec notification for `call`.
async fn exec_result(c: &mut Client, call: &str) -> Element {
    for _ in 0..1000 {
        let n = c.next_notification().await.expect("notification");
        if n.attr(attr::OP) == Some(op::RSC_EXEC) && n.attr(attr::CALL_ID) == Some(call) {
            return n;
        }
    }
    panic!("no result for call {call}");
}

#[test]
fn an_oversized_result_is_truncated_to_fit_and_the_connection_stays() {
    // 1 MB of '&' is 5 MB once escaped, five times the frame limit.
    let (d, _tree) = printer_daemon(&["max_message_bytes=1048576"]);
    let mut c = d.client("cluster");
    let mut other = d.client("other");
    run(Duration::from_secs(30), "oversized result", async {
        let call = print_output(&mut c, 1_000_000, "&").await;
        let note = exec_result(&mut c, &call).await;
        assert_eq!(note.attr(attr::EXEC_RC), Some("0"));
        let out = note.attr(attr::RSC_OUTPUT).expect("output");
        assert!(out.starts_with("&&&&"), "{}", &out[..20]);
        assert!(
            out.ends_with("bytes cut by pcmk-remoted to fit max_message_bytes]"),
            "{}",
            &out[out.len() - 80..]
        );
        // Its text (all '&', written the same in either style) fits a 1 MiB frame.
        let text = xml_bytes(&note).len();
        assert!(text + HEADER_LEN < 1024 * 1024, "{text}");
        assert!(
            text > 1024 * 1024 - 4096,
            "cut far more than needed: {text}"
        );
        poke_ok(&mut c).await;
        // The other listener got the same, and it stays connected too.
        exec_result(&mut other, &call).await;
        poke_ok(&mut other).await;
    });
    let line = d.wait_log("(max_message_bytes)", STEP);
    assert!(line.contains("agent output was truncated"), "{line}");
    assert!(!d.log().contains("disconnected"), "{}", d.log());
}

#[test]
fn a_slow_reader_that_keeps_reading_is_not_cut_off_by_the_write_timeout() {
    // 3 MB of '&' is a 15 MB message; at 3 MB/s it takes about 5 s to pass, over three
    // times the write timeout, while the reader takes bytes all along.
    let (d, _tree) = printer_daemon(&["write_timeout_ms=1500"]);
    let slow = RecordingProxy::throttled(d.addr, 3_000_000);
    let mut c = run(STEP, "sign-on", sign_on(slow.addr, &d.key, "slow", false));
    let t = Instant::now();
    let note = run(Duration::from_secs(60), "slow result", async {
        let call = print_output(&mut c, 3_000_000, "&").await;
        exec_result(&mut c, &call).await
    });
    let took = t.elapsed();
    println!(
        "a {} byte output took {took:?} to arrive",
        note.attr(attr::RSC_OUTPUT).map_or(0, str::len)
    );
    assert_eq!(note.attr(attr::RSC_OUTPUT).map(str::len), Some(3_000_000));
    assert!(
        took > Duration::from_secs(3),
        "{took:?}: not slow enough to prove anything"
    );
    assert!(!d.log().contains("ms (write_timeout_ms)"), "{}", d.log());
    run(STEP, "poke", poke_ok(&mut c));
}

// ---------------------------------------------------------------------------------------
// 11-12: watchdog check and shutdown

fn lrmd_check(watchdog: Option<&str>, id: u64) -> Element {
    let mut data =
        Element::new("lrmd_op").with_attr(attr::ORIGIN, "lrmd__validate_remote_settings");
    if let Some(w) = watchdog {
        data.set_attr(attr::WATCHDOG, w);
    }
    as_request(
        Element::new(LRMD_COMMAND)
            .with_attr(attr::T, "lrmd")
            .with_attr(attr::OP, op::CHECK)
            .with_attr(attr::TIMEOUT, 0)
            .with_attr(attr::CALL_OPTIONS, 0)
            .with_child(Element::new(LRMD_CALLDATA).with_child(data)),
        id,
    )
}

#[test]
fn watchdog_check_without_sbd_exits_100() {
    let mut d = Daemon::start(&[]);
    let mut c = d.client("cluster");
    run(STEP, "check", c.send(&lrmd_check(Some("10s"), 500))).unwrap();
    let status = d.wait_exit(STEP).expect("daemon did not exit");
    assert_eq!(status.code(), Some(100), "{}", d.log());
    let line = d.wait_log("sbd is not running", STEP);
    assert!(line.contains("stonith-watchdog-timeout=10s"), "{line}");
    d.wait_log("exiting with status 100", STEP);
}

#[test]
fn watchdog_check_without_timeout_is_not_answered_but_the_next_request_is() {
    let d = Daemon::options().arg("-V").start();
    let mut c = d.client("cluster");
    let (reply, before) = run(STEP, "check then poke", async {
        c.send(&lrmd_check(None, 500)).await.unwrap();
        c.send(&as_request(poke(), 501)).await.unwrap();
        until_reply(&mut c, 501).await
    });
    assert_eq!(reply.attr(attr::RC), Some("0"));
    assert!(
        before.iter().all(|m| m.name != "lrmd_reply"),
        "lrmd_check was answered: {before:?}"
    );
    d.wait_log(
        "watchdog check: cluster does not use watchdog fencing",
        STEP,
    );
    d.assert_serves();
}

#[test]
fn sigterm_without_a_cluster_exits_0_promptly() {
    let mut d = Daemon::start(&[]);
    let _plain = d.client("not-a-provider");
    let t = Instant::now();
    d.signal("TERM");
    let status = d.wait_exit(STEP).expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    d.wait_log("shutdown requested and no cluster is connected", STEP);
}

fn shutdown_answer(ipc_op: &str, id: u64) -> Element {
    as_request(
        Element::new(LRMD_IPC_PROXY)
            .with_attr(attr::IPC_OP, ipc_op)
            .with_attr(attr::OP, op::IPC_FWD),
        id,
    )
}

/// Signs on a provider, sends SIGTERM, and checks the shutdown request and the closed door.
fn drain_started(d: &Daemon) -> Client {
    let mut cluster = run(STEP, "provider", sign_on(d.addr, &d.key, "crmd", true));
    d.signal("TERM");
    let req = run(STEP, "shutdown_req", cluster.next_notification()).unwrap();
    assert_eq!(req.name, LRMD_IPC_PROXY, "{req:?}");
    assert_eq!(req.attr(attr::IPC_OP), Some("shutdown_req"));
    assert_eq!(req.attr(attr::IPC_SESSION), Some("0"));
    d.wait_log("no longer accepting connections", STEP);
    let refused = poll_until(STEP, || {
        TcpStream::connect_timeout(&d.addr, Duration::from_millis(500))
            .err()
            .map(|e| e.kind())
    });
    assert_eq!(
        refused,
        Some(std::io::ErrorKind::ConnectionRefused),
        "new connections while draining"
    );
    cluster
}

#[test]
fn sigterm_with_a_provider_drains_until_it_acks_and_leaves() {
    let mut d = Daemon::start(&[]);
    let mut cluster = drain_started(&d);
    let reply = run(
        STEP,
        "ack",
        cluster.request(shutdown_answer("shutdown_ack", 0)),
    )
    .unwrap();
    assert_eq!(reply.attr(attr::RC), Some("0"));
    // Still serving the cluster while it moves resources away.
    run(STEP, "poke while draining", poke_ok(&mut cluster));
    assert!(d.try_exit().is_none(), "exited before the cluster left");
    run(STEP, "close", cluster.close()).unwrap();
    let status = d.wait_exit(STEP).expect("no exit after the provider left");
    assert_eq!(status.code(), Some(0));
    d.wait_log(
        "the cluster has disconnected after the shutdown request",
        STEP,
    );
}

#[test]
fn sigterm_with_a_provider_that_nacks_exits_at_once() {
    let mut d = Daemon::start(&[]);
    let mut cluster = drain_started(&d);
    let t = Instant::now();
    run(
        STEP,
        "nack",
        cluster.send(&shutdown_answer("shutdown_nack", 7)),
    )
    .unwrap();
    let status = d.wait_exit(STEP).expect("no exit after nack");
    assert_eq!(status.code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    d.wait_log("refused to drain", STEP);
}

// ---------------------------------------------------------------------------------------
// 13-14: the check subcommand and new-client notifications

fn check_args<'a>(host: &'a str, port: &'a str, key: &'a str) -> Vec<&'a str> {
    vec![
        "check",
        host,
        "--port",
        port,
        "--authkey",
        key,
        "--timeout",
        "1",
    ]
}

#[test]
fn check_against_the_daemon_reports_ok() {
    let d = Daemon::start(&[]);
    let port = d.addr.port().to_string();
    let key = d.key_path.to_string_lossy().to_string();
    let out = run_binary(&check_args("127.0.0.1", &port, &key), STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("OK") && text.contains("pcmk-remoted"),
        "{text}"
    );
    d.wait_log("diagnostic session", STEP);
}

#[test]
fn check_with_a_wrong_key_exits_5() {
    let d = Daemon::start(&[]);
    let wrong = d.scratch().join("wrong-key");
    std::fs::write(&wrong, random_bytes(4096)).unwrap();
    let port = d.addr.port().to_string();
    let out = run_binary(
        &check_args("127.0.0.1", &port, &wrong.to_string_lossy()),
        STEP,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("rejected our key"), "{text}");
    d.wait_log("wrong key", STEP);
    d.assert_serves();
}

#[test]
fn check_failures_have_distinct_statuses() {
    let scratch = Scratch::new("check");
    let key = scratch.path("authkey");
    std::fs::write(&key, random_bytes(4096)).unwrap();
    let key = key.to_string_lossy().to_string();

    // Nothing listens.
    let closed = free_port().to_string();
    let out = run_binary(&check_args("127.0.0.1", &closed, &key), STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("connection refused"), "{text}");

    // A name that cannot resolve (RFC 6761 reserves .invalid).
    let out = run_binary(&check_args("no-such-node.invalid", "3121", &key), STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot resolve"), "{text}");

    // A TCP server that accepts and never speaks.
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mute.local_addr().unwrap().port().to_string();
    let t = Instant::now();
    let out = run_binary(&check_args("127.0.0.1", &port, &key), STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("did not finish within 1 s"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    drop(mute);
}

#[test]
fn check_names_a_busy_node_busy_never_a_key_mismatch() {
    let d = Daemon::options()
        .limit("max_pending_per_source=2")
        .limit("max_connections=1")
        .limit("handshake_timeout_ms=8000")
        .start();
    let port = d.addr.port().to_string();
    let key = d.key_path.to_string_lossy().to_string();
    // Over the source's share of pending handshakes.
    let base = d.socket_count();
    let held: Vec<TcpStream> = (0..2).map(|_| raw_connect(d.addr)).collect();
    poll_until(STEP, || (d.socket_count() == base + 2).then_some(())).expect("2 held");
    let out = run_binary(&check_args("127.0.0.1", &port, &key), STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert_eq!(out.status.code(), Some(7), "{text}");
    assert!(
        text.contains("busy") && text.contains("not a key problem"),
        "{text}"
    );
    assert!(!text.contains("rejected our key"), "{text}");
    d.wait_log("(max_pending_per_source)", STEP);
    drop(held);
    // Over the keyed budget: one cluster connection holds the only place.
    let _cluster = d.client("cluster");
    let out = run_binary(&check_args("127.0.0.1", &port, &key), STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{text}");
    assert!(
        text.contains("busy") && !text.contains("rejected our key"),
        "{text}"
    );
    let line = d.wait_log("(max_connections)", STEP);
    assert!(!line.to_lowercase().contains("key mismatch"), "{line}");
    assert!(!d.log().contains("wrong key"), "{}", d.log());
}

#[test]
fn check_against_a_node_without_a_key_says_so() {
    let d = Daemon::options().without_key().start();
    let ours = d.scratch().join("our-key");
    std::fs::write(&ours, random_bytes(4096)).unwrap();
    let port = d.addr.port().to_string();
    let out = run_binary(
        &check_args("127.0.0.1", &port, &ours.to_string_lossy()),
        STEP,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert_eq!(out.status.code(), Some(8), "{text}");
    assert!(text.contains("the node has no usable key"), "{text}");
    assert!(!text.contains("rejected our key"), "{text}");
    let line = d.wait_log("TLS handshake failed", STEP);
    assert!(line.contains("no usable key on this node"), "{line}");
}

#[test]
fn check_says_which_key_it_uses_and_why() {
    let d = Daemon::start(&[]);
    let port = d.addr.port().to_string();
    let key = d.key_path.to_string_lossy().to_string();
    let out = run_binary(&check_args("127.0.0.1", &port, &key), STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "key        {key} (4096 bytes), given with --authkey"
        )),
        "{text}"
    );
}

#[test]
fn second_client_is_announced_but_check_is_not() {
    let d = Daemon::start(&[]);
    let mut first = d.client("first");
    // check first: the first client must hear nothing about it.
    let port = d.addr.port().to_string();
    let key = d.key_path.to_string_lossy().to_string();
    let out = run_binary(&check_args("127.0.0.1", &port, &key), STEP);
    assert_eq!(out.status.code(), Some(0));
    run(STEP, "poke", async {
        let reply = first.request(poke()).await.unwrap();
        assert_eq!(reply.attr(attr::RC), Some("0"));
    });
    let heard = run(
        STEP,
        "drain",
        drain_notifications(&mut first, Duration::from_millis(300), 10),
    );
    assert!(
        heard
            .iter()
            .all(|n| n.attr(attr::OP) != Some(op::NEW_CLIENT)),
        "check was announced: {heard:?}"
    );
    // A real second client is announced on its first request.
    let _second = d.client("second");
    let heard = run(
        STEP,
        "drain",
        drain_notifications(&mut first, Duration::from_millis(300), 10),
    );
    let news: Vec<_> = heard
        .iter()
        .filter(|n| n.attr(attr::OP) == Some(op::NEW_CLIENT))
        .collect();
    assert_eq!(news.len(), 1, "{heard:?}");
    assert_eq!(news[0].name, "lrmd_notify");
    assert_eq!(news[0].attr(attr::ORIGIN), Some("notify_of_new_client"));
}

// ---------------------------------------------------------------------------------------
// Command line

#[test]
fn version_prints_the_version() {
    let out = run_binary(&["--version"], STEP);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("pcmk-remoted {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
}

#[test]
fn help_exits_0() {
    let out = run_binary(&["--help"], STEP);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("pcmk-remoted(8)"),
        "--help names the man page:\n{text}"
    );
    let out = run_binary(&["check", "--help"], STEP);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn help_lists_the_options() {
    let out = run_binary(&["--help"], STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    for option in ["--port", "--authkey", "--limit", "check"] {
        assert!(
            text.contains(option),
            "{option} missing from --help: {text:?}"
        );
    }
    let out = run_binary(&["check", "--help"], STEP);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--timeout"), "check --help: {text:?}");
}

#[test]
fn bad_command_lines_exit_64() {
    let out = run_binary(&["--no-such-option"], STEP);
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-option"));

    for (limit, want) in [
        ("max_connections=0", "max_connections"),
        ("max_connectoins=5", "max_connectoins"),
        ("handshake_timeout_ms=soon", "handshake_timeout_ms"),
    ] {
        let out = run_binary(
            &["--sysconfig", "none", "--port", "1", "--limit", limit],
            STEP,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{limit}: {err}");
        assert!(err.contains(want), "{limit}: {err}");
    }
}

#[test]
fn missing_key_file_logs_how_to_make_one() {
    let d = Daemon::options().without_key().start();
    let path = d.key_path.display().to_string();
    let line = d.wait_log("dd if=/dev/urandom", STEP);
    // The command refuses to overwrite an existing key (set -C), so following it is safe.
    assert!(
        line.contains(&format!(
            "set -C; dd if=/dev/urandom bs=4096 count=1 > {path})"
        )),
        "{line}"
    );
    // Connections fail until the key exists; then they work without a restart.
    assert!(run(STEP, "handshake", connect(d.addr, &d.key)).is_err());
    std::fs::write(&d.key_path, &d.key).unwrap();
    d.signal("HUP");
    d.wait_log("SIGHUP", STEP);
    d.assert_serves();
}

#[test]
fn start_line_names_changed_limits_and_a_misspelt_setting_is_warned_once() {
    let d = Daemon::options()
        .limit("max_children=4")
        .env("PCMK_remoted_limit_max_chidlren", "4")
        .start();
    let log = d.log();
    let start = log
        .lines()
        .find(|l| l.contains(" starting (pid "))
        .expect("a start-up line");
    assert!(start.contains("limits: max_children=4;"), "{start}");
    assert_eq!(
        d.count_log(
            "unknown setting PCMK_remoted_limit_max_chidlren (environment) is ignored; \
             did you mean PCMK_remoted_limit_max_children?"
        ),
        1,
        "{log}"
    );
}
