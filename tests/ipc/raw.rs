//! `--raw-client <case> <service>`: a libqb client made by hand from std sockets, to send what
//! no real tool sends (half handshakes, bad sizes, vanishing mid-request, a stranger's
//! datagram). Prints one `RESULT ok|fail <detail>` line; exit code 0 or 1.

use std::io::{self, Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixStream};
use std::time::{Duration, Instant};

use pcmk_remoted::ipc::paths::abstract_name;
use pcmk_remoted::ipc::pcmk::{self, Encoder, Framing};
use pcmk_remoted::ipc::qb;

fn addr(name: &str) -> io::Result<SocketAddr> {
    let n = abstract_name(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    SocketAddr::from_abstract_name(n)
}

struct Client {
    setup: UnixStream,
    reply: qb::ConnectionResponse,
    req: UnixDatagram,
    event: UnixDatagram,
}

fn connect(service: &str) -> io::Result<UnixStream> {
    let s = UnixStream::connect_addr(&addr(service)?)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(s)
}

fn full_client(service: &str) -> Result<Client, String> {
    let mut setup = connect(service).map_err(|e| format!("connect: {e}"))?;
    setup
        .write_all(&qb::encode_connection_request(qb::MIN_CLIENT_BUFFER))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; qb::CONNECTION_RESPONSE_LEN];
    setup
        .read_exact(&mut buf)
        .map_err(|e| format!("reply: {e}"))?;
    let reply = qb::decode_connection_response(&buf).map_err(|e| e.to_string())?;
    if reply.error != 0 {
        return Err(format!("refused with {}", reply.error));
    }
    let b = &reply.response;
    let bind = |local: &str, remote: &str| -> io::Result<UnixDatagram> {
        let s = UnixDatagram::bind_addr(&addr(&format!("{b}-{local}"))?)?;
        s.connect_addr(&addr(&format!("{b}-{remote}"))?)?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        Ok(s)
    };
    let req = bind("response", "request").map_err(|e| format!("request channel: {e}"))?;
    let event = bind("event", "event-tx").map_err(|e| format!("event channel: {e}"))?;
    Ok(Client {
        setup,
        reply,
        req,
        event,
    })
}

fn request(framing: Framing, id: u32, xml: &str) -> Vec<Vec<u8>> {
    Encoder::new(framing, 1 << 20, 1 << 20)
        .encode(id, pcmk::FLAG_CLIENT_RESPONSE, xml.as_bytes())
        .unwrap_or_default()
}

/// Waits for the server to drop us: the zero-length datagram (4.10) and end-of-file on the
/// setup socket. Returns what was seen and when.
fn expect_dropped(c: &mut Client, within: Duration) -> Result<String, String> {
    let start = Instant::now();
    c.req
        .set_read_timeout(Some(within))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    let zero = match c.req.recv(&mut buf) {
        Ok(0) => format!(
            "zero-length datagram after {} ms",
            start.elapsed().as_millis()
        ),
        Ok(n) => format!("unexpected {n}-byte datagram"),
        Err(e) => format!("no goodbye datagram ({e})"),
    };
    let mut one = [0u8; 16];
    c.setup
        .set_read_timeout(Some(within))
        .map_err(|e| e.to_string())?;
    match c.setup.read(&mut one) {
        Ok(0) => Ok(format!(
            "{zero}; setup eof after {} ms",
            start.elapsed().as_millis()
        )),
        other => Err(format!("{zero}; setup socket still open: {other:?}")),
    }
}

fn case(name: &str, service: &str) -> Result<String, String> {
    let framing = match std::env::var("PCMKR_T_FRAMING").as_deref() {
        Ok("3") => Framing::Pacemaker3,
        _ => Framing::Pacemaker2,
    };
    let attrd_query =
        r#"<create_attrd_op t="attrd" task="query" attr_name="probe" attr_host="node1"/>"#;
    match name {
        "ok" => {
            let c = full_client(service)?;
            let meta = std::fs::metadata(&c.reply.request).map_err(|e| e.to_string())?;
            let dir = std::path::Path::new(&c.reply.request)
                .parent()
                .and_then(|d| std::fs::metadata(d).ok())
                .map(|m| format!("{:o}", m.permissions().mode() & 0o7777))
                .unwrap_or_default();
            for d in request(framing, 1, attrd_query) {
                c.req.send(&d).map_err(|e| e.to_string())?;
            }
            let mut buf = vec![0u8; c.reply.max_msg_size as usize];
            let n = c.req.recv(&mut buf).map_err(|e| format!("response: {e}"))?;
            let (id, size, _) = qb::decode_response_header(&buf[..n]).map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&buf[pcmk::HEADER_LEN..n]).into_owned();
            if id != 1 || size as usize != n || !text.contains("42-from-rust") {
                return Err(format!("bad response id={id} size={size} n={n} {text}"));
            }
            // Answered in the client's own header layout.
            if pcmk::detect(&buf[..n]) != Some(framing) {
                return Err(format!(
                    "response in another layout than {framing:?}: {:02x?}",
                    &buf[..pcmk::HEADER_LEN]
                ));
            }
            Ok(format!(
                "type={} negotiated={} control={} bytes uid={} mode={:o} dir_mode={} response_id={id} size={n}",
                c.reply.connection_type,
                c.reply.max_msg_size,
                meta.len(),
                meta.uid(),
                meta.permissions().mode() & 0o7777,
                dir
            ))
        }
        "half-handshake" => {
            let mut s = connect(service).map_err(|e| e.to_string())?;
            let start = Instant::now();
            s.write_all(&qb::encode_connection_request(65536)[..10])
                .map_err(|e| e.to_string())?;
            let mut b = [0u8; 16];
            match s.read(&mut b) {
                Ok(0) => Ok(format!("closed after {} ms", start.elapsed().as_millis())),
                other => Err(format!("expected eof, got {other:?}")),
            }
        }
        "bad-handshake" => {
            let mut s = connect(service).map_err(|e| e.to_string())?;
            let mut h = qb::encode_connection_request(65536);
            h[0] = 5;
            s.write_all(&h).map_err(|e| e.to_string())?;
            let mut b = [0u8; 16];
            match s.read(&mut b) {
                Ok(0) => Ok("closed without a reply".into()),
                other => Err(format!("expected eof, got {other:?}")),
            }
        }
        "truncated-header" | "huge-size" | "oversized" | "bad-version" => {
            let mut c = full_client(service)?;
            let d = match name {
                "truncated-header" => vec![1u8; 10],
                "huge-size" => {
                    let mut d = request(framing, 1, attrd_query).remove(0);
                    d[8..12].copy_from_slice(&i32::MAX.to_ne_bytes());
                    d
                }
                "oversized" => {
                    let n = c.reply.max_msg_size as usize + 1;
                    let mut d = vec![b'x'; n];
                    d[..16].copy_from_slice(&[0u8; 16]);
                    d[8..12].copy_from_slice(&(n as i32).to_ne_bytes());
                    d
                }
                _ => {
                    let mut d = request(framing, 1, attrd_query).remove(0);
                    d[if framing == Framing::Pacemaker2 {
                        36
                    } else {
                        32
                    }] = 2;
                    d
                }
            };
            c.req
                .send(&d)
                .map_err(|e| format!("send {} bytes: {e}", d.len()))?;
            expect_dropped(&mut c, Duration::from_secs(3))
        }
        "vanish-mid-request" => {
            let c = full_client(service)?;
            for d in request(framing, 1, attrd_query) {
                c.req.send(&d).map_err(|e| e.to_string())?;
            }
            Ok("sent a request and left without reading".into())
        }
        "vanish-response-socket" => {
            // Closes the socket responses go to, but stays connected: the server's connect
            // on first send fails 10 times, 100 ms apart, then it must drop us.
            let mut c = full_client(service)?;
            for d in request(framing, 1, r#"<probe op="slow" ms="200"/>"#) {
                c.req.send(&d).map_err(|e| e.to_string())?;
            }
            let (placeholder, _) = UnixDatagram::pair().map_err(|e| e.to_string())?;
            drop(std::mem::replace(&mut c.req, placeholder));
            let start = Instant::now();
            let mut one = [0u8; 8];
            match c.setup.read(&mut one) {
                Ok(0) => Ok(format!(
                    "dropped {} ms after our response socket went away",
                    start.elapsed().as_millis()
                )),
                other => Err(format!("still connected: {other:?}")),
            }
        }
        "vanish-mid-multipart" => {
            let c = full_client(service)?;
            let big = format!(r#"<probe op="x" data="{}"/>"#, "y".repeat(300_000));
            let parts = Encoder::new(Framing::Pacemaker3, 131072, 131072)
                .encode(1, pcmk::FLAG_CLIENT_RESPONSE, big.as_bytes())
                .map_err(|e| e.to_string())?;
            c.req.send(&parts[0]).map_err(|e| e.to_string())?;
            Ok(format!("sent part 1 of {} and left", parts.len()))
        }
        "no-read" => {
            let mut c = full_client(service)?;
            for d in request(
                framing,
                1,
                r#"<probe op="flood" size="100000" count="200"/>"#,
            ) {
                c.req.send(&d).map_err(|e| e.to_string())?;
            }
            // Read the response but never the events; the server must give up on us.
            let mut buf = vec![0u8; c.reply.max_msg_size as usize];
            let _ = c.req.recv(&mut buf);
            let start = Instant::now();
            let mut one = [0u8; 8];
            c.setup
                .set_read_timeout(Some(Duration::from_secs(5)))
                .map_err(|e| e.to_string())?;
            let _ = &c.event;
            match c.setup.read(&mut one) {
                Ok(0) => Ok(format!(
                    "disconnected {} ms after the flood began",
                    start.elapsed().as_millis()
                )),
                other => Err(format!("still connected: {other:?}")),
            }
        }
        "stranger" => {
            let c = full_client(service)?;
            let target = format!("{}-request", c.reply.response);
            let exe = std::env::current_exe().map_err(|e| e.to_string())?;
            let st = std::process::Command::new(exe)
                .args(["--raw-client", "stranger-send", &target])
                .status()
                .map_err(|e| e.to_string())?;
            if !st.success() {
                return Err("stranger could not send".into());
            }
            std::thread::sleep(Duration::from_millis(100));
            for d in request(framing, 1, attrd_query) {
                c.req.send(&d).map_err(|e| e.to_string())?;
            }
            let mut buf = vec![0u8; c.reply.max_msg_size as usize];
            let n = c.req.recv(&mut buf).map_err(|e| format!("response: {e}"))?;
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.contains("42-from-rust") {
                Ok("stranger's datagram ignored, our request answered".into())
            } else {
                Err(format!("unexpected response {text}"))
            }
        }
        "stranger-send" => {
            // `service` is the victim's request socket name here.
            let s = UnixDatagram::unbound().map_err(|e| e.to_string())?;
            let d = request(framing, 1, attrd_query).remove(0);
            s.send_to_addr(&d, &addr(service).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
            Ok("sent".into())
        }
        "hold" => hold(service),
        "bomb" => bomb(service),
        "ping" => ping(service, attrd_query),
        "squat" => {
            // An abstract listener on a service name, held for PCMKR_T_HOLD_MS, never served.
            let l = std::os::unix::net::UnixListener::bind_addr(
                &addr(service).map_err(|e| e.to_string())?,
            )
            .map_err(|e| format!("bind {service}: {e}"))?;
            println!("SQUATTING {}", std::process::id());
            let _ = std::io::stdout().flush();
            std::thread::sleep(Duration::from_millis(env_num("PCMKR_T_HOLD_MS", 1000)));
            drop(l);
            Ok(format!("held {service}"))
        }
        other => Err(format!("unknown case {other}")),
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// PCMKR_T_COUNT handshakes, each kept open (accepted or not) for PCMKR_T_HOLD_MS: how many
/// the server accepted and the errors it refused the rest with.
fn hold(service: &str) -> Result<String, String> {
    let count = env_num("PCMKR_T_COUNT", 1);
    let start = Instant::now();
    let mut kept = Vec::new();
    let (mut accepted, mut refused, mut failed) = (0, 0, 0);
    let mut codes = std::collections::BTreeMap::<i32, u32>::new();
    for _ in 0..count {
        let attempt = (|| -> io::Result<(UnixStream, i32)> {
            let mut s = connect(service)?;
            s.write_all(&qb::encode_connection_request(qb::MIN_CLIENT_BUFFER))?;
            let mut buf = vec![0u8; qb::CONNECTION_RESPONSE_LEN];
            s.read_exact(&mut buf)?;
            let r = qb::decode_connection_response(&buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            Ok((s, r.error))
        })();
        match attempt {
            Ok((s, 0)) => {
                accepted += 1;
                kept.push(s);
            }
            Ok((s, code)) => {
                refused += 1;
                *codes.entry(code).or_default() += 1;
                kept.push(s);
            }
            Err(_) => failed += 1,
        }
    }
    let took = start.elapsed().as_millis();
    println!("HELD accepted={accepted} refused={refused}");
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_millis(env_num("PCMKR_T_HOLD_MS", 1000)));
    drop(kept);
    Ok(format!(
        "accepted={accepted} refused={refused} codes={codes:?} failed={failed} in {took} ms"
    ))
}

/// PCMKR_T_COUNT compressed requests of kind PCMKR_T_KIND: `big`: valid text of
/// PCMKR_T_BYTES, each answered on one connection (the server echoes its length); `lie`: a
/// header claiming PCMKR_T_BYTES for a payload that inflates to more (a bzip2 bomb); `over`:
/// a claim past the server's bound. Each bomb on a fresh connection, which the server must
/// close (zero-length datagram, setup end-of-file) and nothing else.
fn bomb(service: &str) -> Result<String, String> {
    let kind = std::env::var("PCMKR_T_KIND").unwrap_or_else(|_| "lie".into());
    let count = env_num("PCMKR_T_COUNT", 1) as u32;
    let bytes = env_num("PCMKR_T_BYTES", 1 << 20) as usize;
    // A bomb inflates a little past its claim: the server must stop right there.
    let text_len = if kind == "lie" { bytes + 4096 } else { bytes };
    let head = r#"<probe op="big" data=""#;
    let text = format!("{head}{}\"/>", "a".repeat(text_len - head.len() - 3));
    let max = 512 * 1024;
    let mut d = Encoder::new(Framing::Pacemaker2, 1024, max)
        .encode(1, pcmk::FLAG_CLIENT_RESPONSE, text.as_bytes())
        .map_err(|e| e.to_string())?
        .remove(0);
    let claim: u32 = match kind.as_str() {
        "big" => (text_len + 1) as u32,
        "lie" => (bytes + 1) as u32,
        "over" => (64 << 20) as u32,
        k => return Err(format!("unknown kind {k}")),
    };
    d[24..28].copy_from_slice(&claim.to_ne_bytes());
    let mut slowest = Duration::ZERO;
    let mut one = None;
    for id in 1..=count {
        let mut c = match (kind.as_str(), one.take()) {
            ("big", Some(c)) => c,
            _ => full_client(service)?,
        };
        d[..4].copy_from_slice(&(id as i32).to_ne_bytes());
        let t = Instant::now();
        c.req.send(&d).map_err(|e| format!("send: {e}"))?;
        if kind == "big" {
            let mut buf = vec![0u8; c.reply.max_msg_size as usize];
            c.req
                .set_read_timeout(Some(Duration::from_secs(60)))
                .map_err(|e| e.to_string())?;
            let n = c
                .req
                .recv(&mut buf)
                .map_err(|e| format!("answer {id}: {e}"))?;
            let answer = String::from_utf8_lossy(&buf[pcmk::HEADER_LEN..n]).into_owned();
            if !answer.contains(&format!(r#"len="{text_len}""#)) {
                return Err(format!("request {id}: answer {answer:?}"));
            }
            one = Some(c);
        } else {
            expect_dropped(&mut c, Duration::from_secs(60))
                .map_err(|e| format!("bomb {id}: {e}"))?;
        }
        slowest = slowest.max(t.elapsed());
    }
    let outcome = if kind == "big" {
        "answered"
    } else {
        "its client closed"
    };
    Ok(format!(
        "{count} x {kind} ({} bytes on the wire, claiming {claim}): each {outcome}, slowest {} ms",
        d.len(),
        slowest.as_millis()
    ))
}

/// After PCMKR_T_DELAY_MS, attrd queries one after another for PCMKR_T_HOLD_MS: the round
/// trips' count, median and maximum (how long the server's loop ever kept us waiting).
fn ping(service: &str, query: &str) -> Result<String, String> {
    let c = full_client(service)?;
    std::thread::sleep(Duration::from_millis(env_num("PCMKR_T_DELAY_MS", 0)));
    let until = Instant::now() + Duration::from_millis(env_num("PCMKR_T_HOLD_MS", 1000));
    let mut times = Vec::new();
    let mut buf = vec![0u8; c.reply.max_msg_size as usize];
    let mut id = 0;
    while Instant::now() < until {
        id += 1;
        let t = Instant::now();
        for d in request(Framing::Pacemaker2, id, query) {
            c.req.send(&d).map_err(|e| e.to_string())?;
        }
        let n = c
            .req
            .recv(&mut buf)
            .map_err(|e| format!("ping {id}: {e}"))?;
        if !String::from_utf8_lossy(&buf[..n]).contains("42-from-rust") {
            return Err(format!("ping {id}: unexpected answer"));
        }
        times.push(t.elapsed());
        std::thread::sleep(Duration::from_millis(2));
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_micros() as f64 / 1000.0;
    Ok(format!(
        "pings={} median_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    ))
}

pub fn run(args: &[String]) -> i32 {
    let (Some(name), Some(service)) = (args.first(), args.get(1)) else {
        println!("RESULT fail usage: --raw-client <case> <service>");
        return 1;
    };
    match case(name, service) {
        Ok(detail) => {
            println!("RESULT ok {detail}");
            0
        }
        Err(detail) => {
            println!("RESULT fail {detail}");
            1
        }
    }
}
