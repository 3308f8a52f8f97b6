//! Interop with real TLS implementations: `gnutls-cli` (the exact Pacemaker settings),
//! `openssl s_client`, and `gnutls-serv`. Each test spawns the tool as a child with a
//! deadline, on a port from binding 127.0.0.1:0, with a fresh temporary key.
//!
//! A missing tool skips the test ("skipped: <tool> not found"), unless
//! PCMKR_REQUIRE_INTEROP=1, where it fails.

// Test helpers panic on setup failures; that is a failed test, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::future;
use zeroize::Zeroizing;

use pcmk_remoted::transport::tls::{
    AlertDescription, CipherSuite, ClientConfig, Error, HandshakeError, Incompatible, KxGroup,
    PeerAborted, PskMode, ServerConfig, StaticPsk, TlsStream, WrongKey, PACEMAKER_IDENTITY,
};

/// The Pacemaker client's priority string (protocol.md §5.1).
const PACEMAKER_PRIORITY: &str = "NORMAL:+DHE-PSK:+PSK";
const DEADLINE: Duration = Duration::from_secs(20);

/// Finds `name` on PATH, or reports the skip (or fails under PCMKR_REQUIRE_INTEROP=1).
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("PCMKR_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "{name} not found and PCMKR_REQUIRE_INTEROP=1"
        );
        println!("skipped: {name} not found");
    }
    found
}

/// A temporary directory with a key of `len` pseudo-random bytes; removed on drop.
struct Scratch {
    dir: PathBuf,
    key: Vec<u8>,
}

impl Scratch {
    fn new(len: usize) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("pcmkr-tls-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // xorshift seeded by time and counter: distinct keys per test, no extra crate.
        let mut x = (Instant::now().elapsed().as_nanos() as u64)
            ^ 0x9e37_79b9_7f4a_7c15
            ^ ((n as u64 + 1) << 32)
            ^ u64::from(std::process::id());
        let key = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect::<Vec<_>>();
        std::fs::write(dir.join("authkey"), &key).unwrap();
        Self { dir, key }
    }

    fn hex_key(&self) -> String {
        hex(&self.key)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A child process killed (by its own handle) when dropped; output goes to files.
struct Tool {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Tool {
    fn spawn(program: &Path, args: &[String], scratch: &Scratch, tag: &str) -> Self {
        let stdout = scratch.path(&format!("{tag}.out"));
        let stderr = scratch.path(&format!("{tag}.err"));
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            stdout,
            stderr,
        }
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits (bounded) for the tool to exit; returns its exit status success.
    fn wait(&mut self, limit: Duration) -> Option<bool> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.success());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        format!("--- stdout\n{out}\n--- stderr\n{err}")
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs `work` with the test deadline.
fn with_deadline<T>(work: impl Future<Output = T>) -> T {
    future::block_on(future::or(async { Some(work.await) }, async {
        Timer::after(DEADLINE).await;
        None
    }))
    .expect("deadline passed")
}

fn server_config(key: &[u8]) -> ServerConfig {
    ServerConfig::new(Arc::new(StaticPsk::new(
        PACEMAKER_IDENTITY,
        Zeroizing::new(key.to_vec()),
    )))
}

fn listener() -> (Async<TcpListener>, u16) {
    let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let port = listener.get_ref().local_addr().unwrap().port();
    (listener, port)
}

fn gnutls_cli_args(priority: &str, key_hex: &str, port: u16, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--priority",
        priority,
        "--pskusername",
        "lrmd",
        "--pskkey",
        key_hex,
        "-p",
        &port.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push("127.0.0.1".into());
    args
}

/// What our server saw in one session with a real client.
struct Served {
    result: Result<pcmk_remoted::transport::tls::Negotiated, HandshakeError>,
    received: String,
    handshake_time: Duration,
    /// KeyUpdate messages (received, sent) by our server.
    key_updates: (u64, u64),
}

/// Accepts one connection, reads until `expect` has arrived, answers, sends close_notify.
async fn serve_once(listener: &Async<TcpListener>, cfg: ServerConfig, expect: &str) -> Served {
    let (socket, _) = listener.accept().await.unwrap();
    let start = Instant::now();
    let mut stream = match TlsStream::accept(socket, Arc::new(cfg)).await {
        Ok(stream) => stream,
        Err(err) => {
            return Served {
                result: Err(err),
                received: String::new(),
                handshake_time: start.elapsed(),
                key_updates: (0, 0),
            }
        }
    };
    let handshake_time = start.elapsed();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    // Bounded by the test deadline and by the peer's data.
    while !String::from_utf8_lossy(&received).contains(expect) {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    stream.write_records(&[b"hello from rust\n"]).await.unwrap();
    stream.close().await.unwrap();
    Served {
        result: Ok(stream.negotiated().unwrap()),
        received: String::from_utf8_lossy(&received).into_owned(),
        handshake_time,
        key_updates: stream.connection().key_updates(),
    }
}

/// gnutls-cli against our server; returns what the server saw and the tool's output.
fn gnutls_cli_session(
    priority: &str,
    cfg_for: impl FnOnce(&[u8]) -> ServerConfig,
    lines: &[&str],
    expect: &str,
    client_key: Option<&[u8]>,
) -> Option<(Served, Option<bool>, String)> {
    let program = tool("gnutls-cli")?;
    let scratch = Scratch::new(4096);
    let (listener, port) = listener();
    let key_hex = client_key.map(hex).unwrap_or_else(|| scratch.hex_key());
    let args = gnutls_cli_args(priority, &key_hex, port, &["--inline-commands"]);
    let mut cli = Tool::spawn(&program, &args, &scratch, "gnutls-cli");
    for line in lines {
        cli.send_line(line);
    }
    let served = with_deadline(serve_once(&listener, cfg_for(&scratch.key), expect));
    let status = cli.wait(Duration::from_secs(10));
    let output = cli.output();
    Some((served, status, output))
}

#[test]
fn gnutls_cli_pacemaker_priority_negotiates_chacha20() {
    let Some((served, status, output)) = gnutls_cli_session(
        PACEMAKER_PRIORITY,
        server_config,
        &["hello from gnutls"],
        "hello from gnutls",
        None,
    ) else {
        return;
    };
    let negotiated = served.result.expect("handshake");
    println!(
        "gnutls-cli -> our server: {negotiated}, handshake {:?}",
        served.handshake_time
    );
    assert_eq!(negotiated.suite, CipherSuite::Chacha20Poly1305Sha256);
    assert_eq!(negotiated.mode, PskMode::PskDheKe);
    assert!(negotiated.group.is_some());
    assert!(served.received.contains("hello from gnutls"));
    assert!(output.contains("hello from rust"), "{output}");
    assert!(output.contains("CHACHA20-POLY1305"), "{output}");
    assert_eq!(status, Some(true), "{output}");
}

#[test]
fn gnutls_cli_p256_only() {
    let Some((served, _, output)) = gnutls_cli_session(
        "NORMAL:-GROUP-ALL:+GROUP-SECP256R1:+DHE-PSK:+PSK",
        server_config,
        &["p256"],
        "p256",
        None,
    ) else {
        return;
    };
    let negotiated = served.result.expect("handshake");
    assert_eq!(negotiated.group, Some(KxGroup::Secp256r1));
    assert!(!negotiated.hello_retry);
    assert!(output.contains("hello from rust"), "{output}");
}

#[test]
fn gnutls_cli_forced_hello_retry_request() {
    // The client's only share is secp384r1, which we do not offer; it also lists secp256r1.
    let p256_only = |key: &[u8]| {
        let mut cfg = server_config(key);
        cfg.groups = vec![KxGroup::Secp256r1];
        cfg
    };
    let Some((served, _, output)) = gnutls_cli_session(
        "NORMAL:-GROUP-ALL:+GROUP-SECP384R1:+GROUP-SECP256R1:+DHE-PSK:+PSK",
        p256_only,
        &["retried"],
        "retried",
        None,
    ) else {
        return;
    };
    let negotiated = served.result.expect("handshake");
    assert!(negotiated.hello_retry, "{negotiated}");
    assert_eq!(negotiated.group, Some(KxGroup::Secp256r1));
    assert!(output.contains("hello from rust"), "{output}");
}

#[test]
fn gnutls_cli_psk_ke_only_when_allowed() {
    let allow = |key: &[u8]| {
        let mut cfg = server_config(key);
        cfg.allow_psk_ke = true;
        cfg
    };
    let Some((served, _, output)) = gnutls_cli_session(
        "NORMAL:-KX-ALL:+PSK",
        allow,
        &["plain psk"],
        "plain psk",
        None,
    ) else {
        return;
    };
    let negotiated = served.result.expect("handshake");
    assert_eq!(negotiated.mode, PskMode::PskKe);
    assert_eq!(negotiated.group, None);
    assert!(output.contains("hello from rust"), "{output}");
}

#[test]
fn gnutls_cli_psk_ke_only_refused_by_default() {
    let Some((served, status, output)) =
        gnutls_cli_session("NORMAL:-KX-ALL:+PSK", server_config, &["x"], "x", None)
    else {
        return;
    };
    match served.result {
        Err(HandshakeError::Tls(Error::Incompatible(Incompatible::PskKeNotAllowed))) => {}
        other => panic!("unexpected: {:?}", other.map(|n| n.to_string())),
    }
    assert_eq!(status, Some(false), "{output}");
}

#[test]
fn gnutls_cli_key_update_both_ways() {
    let Some((served, _, output)) = gnutls_cli_session(
        PACEMAKER_PRIORITY,
        server_config,
        &["before", "^rekey^", "middle", "^rekey1^", "after rekey"],
        "after rekey",
        None,
    ) else {
        return;
    };
    served.result.expect("handshake");
    assert!(served.received.contains("before"), "{}", served.received);
    assert!(served.received.contains("middle"), "{}", served.received);
    assert!(
        served.received.contains("after rekey"),
        "{}",
        served.received
    );
    // Two updates from the client; one answer to the one that asked for it, and our reply
    // is sealed with that new key.
    assert_eq!(served.key_updates, (2, 1), "{output}");
    assert!(output.contains("hello from rust"), "{output}");
}

#[test]
fn gnutls_cli_wrong_key_is_binder_mismatch() {
    let Some((served, status, output)) = gnutls_cli_session(
        PACEMAKER_PRIORITY,
        server_config,
        &["x"],
        "x",
        Some(&[0x42; 4096]),
    ) else {
        return;
    };
    match served.result {
        Err(HandshakeError::Tls(Error::WrongKey(WrongKey::BinderMismatch))) => {}
        other => panic!("unexpected: {:?}", other.map(|n| n.to_string())),
    }
    assert_eq!(status, Some(false), "{output}");
    assert!(
        output.contains("Decrypt") || output.contains("decrypt"),
        "{output}"
    );
}

#[test]
fn gnutls_cli_tls12_only_gets_protocol_version() {
    let Some((served, status, output)) = gnutls_cli_session(
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:+DHE-PSK:+PSK",
        server_config,
        &["x"],
        "x",
        None,
    ) else {
        return;
    };
    match &served.result {
        Err(HandshakeError::Tls(err @ Error::Incompatible(Incompatible::OnlyOldVersions))) => {
            assert!(err
                .to_string()
                .contains("client offers only TLS 1.2 or older"));
        }
        other => panic!("unexpected: {:?}", other.as_ref().map(|n| n.to_string())),
    }
    assert_eq!(status, Some(false), "{output}");
    assert!(output.contains("version"), "{output}");
}

#[test]
fn openssl_s_client_with_512_byte_key() {
    let Some(program) = tool("openssl") else {
        return;
    };
    let scratch = Scratch::new(512);
    let (listener, port) = listener();
    let args: Vec<String> = [
        "s_client",
        "-tls1_3",
        "-psk",
        &scratch.hex_key(),
        "-psk_identity",
        "lrmd",
        "-connect",
        &format!("127.0.0.1:{port}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut client = Tool::spawn(&program, &args, &scratch, "s_client");
    client.send_line("hello from openssl");
    let served = with_deadline(serve_once(
        &listener,
        server_config(&scratch.key),
        "hello from openssl",
    ));
    let _ = client.wait(Duration::from_secs(10));
    let output = client.output();
    let negotiated = served.result.expect("handshake");
    println!("openssl s_client -> our server: {negotiated}");
    assert_eq!(negotiated.suite, CipherSuite::Chacha20Poly1305Sha256);
    assert!(served.received.contains("hello from openssl"));
    assert!(output.contains("hello from rust"), "{output}");
}

/// Starts gnutls-serv in echo mode with a PSK password file; waits until it listens.
fn gnutls_serv(scratch: &Scratch, priority: &str) -> Option<(Tool, u16)> {
    let program = tool("gnutls-serv")?;
    let passwd = scratch.path("psk.passwd");
    std::fs::write(&passwd, format!("lrmd:{}\n", scratch.hex_key())).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let args: Vec<String> = [
        "--echo",
        "--pskpasswd",
        passwd.to_str().unwrap(),
        "--priority",
        priority,
        "-p",
        &port.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = Tool::spawn(&program, &args, scratch, "gnutls-serv");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((server, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("gnutls-serv did not listen:\n{}", server.output());
}

fn client_config(key: &[u8]) -> ClientConfig {
    ClientConfig::new(PACEMAKER_IDENTITY, Zeroizing::new(key.to_vec()))
}

#[test]
fn our_client_against_gnutls_serv() {
    let scratch = Scratch::new(4096);
    let Some((server, port)) = gnutls_serv(&scratch, PACEMAKER_PRIORITY) else {
        return;
    };
    let result = with_deadline(async {
        let socket = Async::<TcpStream>::connect(([127, 0, 0, 1], port))
            .await
            .unwrap();
        let start = Instant::now();
        let mut stream = TlsStream::connect(socket, Arc::new(client_config(&scratch.key)))
            .await
            .map_err(|e| e.to_string())?;
        let handshake_time = start.elapsed();
        // Two records, as the Pacemaker client writes a frame header and its body.
        stream
            .write_records(&[b"ping ", b"from rust\n"])
            .await
            .unwrap();
        let mut echoed = Vec::new();
        let mut buf = [0u8; 1024];
        while !echoed.ends_with(b"from rust\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "gnutls-serv closed early");
            echoed.extend_from_slice(&buf[..n]);
        }
        stream.close().await.unwrap();
        Ok::<_, String>((stream.negotiated().unwrap(), handshake_time, echoed))
    });
    let (negotiated, handshake_time, echoed) =
        result.unwrap_or_else(|e| panic!("{e}\n{}", server.output()));
    println!("our client -> gnutls-serv: {negotiated}, handshake {handshake_time:?}");
    assert_eq!(negotiated.suite, CipherSuite::Chacha20Poly1305Sha256);
    assert_eq!(echoed, b"ping from rust\n");
}

#[test]
fn our_client_against_gnutls_serv_forced_retry() {
    let scratch = Scratch::new(4096);
    let Some((server, port)) =
        gnutls_serv(&scratch, "NORMAL:-GROUP-ALL:+GROUP-SECP256R1:+DHE-PSK:+PSK")
    else {
        return;
    };
    let mut cfg = client_config(&scratch.key);
    cfg.key_shares = vec![KxGroup::X25519];
    let negotiated = with_deadline(async {
        let socket = Async::<TcpStream>::connect(([127, 0, 0, 1], port))
            .await
            .unwrap();
        let stream = TlsStream::connect(socket, Arc::new(cfg)).await;
        stream
            .map(|s| s.negotiated().unwrap())
            .map_err(|e| e.to_string())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", server.output()));
    assert!(negotiated.hello_retry);
    assert_eq!(negotiated.group, Some(KxGroup::Secp256r1));
}

#[test]
fn our_client_against_gnutls_serv_with_wrong_key() {
    let scratch = Scratch::new(4096);
    let Some((_server, port)) = gnutls_serv(&scratch, PACEMAKER_PRIORITY) else {
        return;
    };
    let err = with_deadline(async {
        let socket = Async::<TcpStream>::connect(([127, 0, 0, 1], port))
            .await
            .unwrap();
        TlsStream::connect(socket, Arc::new(client_config(&[7; 4096])))
            .await
            .err()
            .expect("handshake must fail")
    });
    let HandshakeError::Tls(Error::PeerAborted(PeerAborted::Alert(alert))) = &err else {
        panic!("unexpected: {err}");
    };
    assert!(
        matches!(
            alert,
            AlertDescription::IllegalParameter | AlertDescription::DecryptError
        ),
        "{err}"
    );
    assert!(err.to_string().contains("key mismatch"), "{err}");
}

/// Figures for the report, not a pass/fail check: median wall time of a `gnutls-cli` run
/// (spawn, handshake, close) against our server and against `gnutls-serv`, and our
/// server's handshake time as seen from accept. Run with `--release --ignored --nocapture`.
#[test]
#[ignore]
fn handshake_timing_against_gnutls() {
    let (Some(cli), Some(_)) = (tool("gnutls-cli"), tool("gnutls-serv")) else {
        return;
    };
    const RUNS: usize = 15;
    let scratch = Scratch::new(4096);
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let run_cli = |port: u16, tag: &str| {
        let args = gnutls_cli_args(PACEMAKER_PRIORITY, &scratch.hex_key(), port, &[]);
        let start = Instant::now();
        let mut tool = Tool::spawn(&cli, &args, &scratch, tag);
        drop(tool.child.stdin.take());
        assert_eq!(
            tool.wait(Duration::from_secs(10)),
            Some(true),
            "{}",
            tool.output()
        );
        start.elapsed()
    };

    let (listener, port) = listener();
    let cfg = Arc::new(server_config(&scratch.key));
    let mut ours = Vec::new();
    let mut accept_times = Vec::new();
    for i in 0..RUNS {
        let cfg = cfg.clone();
        let listener = &listener;
        let (elapsed, handshake) = std::thread::scope(|s| {
            let server = s.spawn(move || {
                with_deadline(async move {
                    let (socket, _) = listener.accept().await.unwrap();
                    let start = Instant::now();
                    let mut stream = TlsStream::accept(socket, cfg).await.unwrap();
                    let handshake = start.elapsed();
                    let mut buf = [0u8; 64];
                    while stream.read(&mut buf).await.unwrap_or(0) > 0 {}
                    handshake
                })
            });
            let elapsed = run_cli(port, &format!("ours-{i}"));
            (elapsed, server.join().unwrap())
        });
        ours.push(elapsed);
        accept_times.push(handshake);
    }

    let (_server, serv_port) = gnutls_serv(&scratch, PACEMAKER_PRIORITY).unwrap();
    let theirs: Vec<Duration> = (0..RUNS)
        .map(|i| run_cli(serv_port, &format!("theirs-{i}")))
        .collect();
    println!(
        "gnutls-cli run, median of {RUNS}: against our server {:?} (our handshake {:?}), \
         against gnutls-serv {:?}",
        median(ours),
        median(accept_times),
        median(theirs)
    );
}
