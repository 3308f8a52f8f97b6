//! Shared helpers for the tests that drive the real `pcmk-remoted` binary.
//!
//! In: options for one daemon (limits, arguments, environment). Out: a running daemon on
//! 127.0.0.1 with its own port, key and log file, clients that sign on as a cluster node does,
//! raw TCP and TLS-record helpers, and readings from /proc. Every wait has a deadline, and the
//! daemon is stopped by its pid when the guard drops, so tests stay independent and parallel.
// Test helpers panic on setup failures; that is a failed test, as intended.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;
use zeroize::Zeroizing;

use pcmk_remoted::client::{Client, ClientError};
use pcmk_remoted::proto::names::{attr, msg_type, op, LRMD_COMMAND};
use pcmk_remoted::proto::xml::Element;

/// The daemon binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_pcmk-remoted");

/// Deadline for one step that should be quick (a sign-on, a reply, a start).
pub const STEP: Duration = Duration::from_secs(5);

/// A temporary directory, removed when dropped.
pub struct Scratch {
    /// Its path.
    pub dir: PathBuf,
}

impl Scratch {
    /// A fresh, empty directory named after `tag`, the process and a counter.
    pub fn new(tag: &str) -> Scratch {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("pcmkr-daemon-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `n` bytes from the kernel's random source.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut out)
        .unwrap();
    out
}

/// A port nothing listens on right now: bind 127.0.0.1:0, read the port, close.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs `fut` until it finishes or `limit` passes; `None` on timeout.
pub async fn with_deadline<T>(limit: Duration, fut: impl Future<Output = T>) -> Option<T> {
    future::or(async { Some(fut.await) }, async {
        Timer::after(limit).await;
        None
    })
    .await
}

/// Blocks on `fut` with a deadline; a late future fails the test, naming `what`.
pub fn run<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match async_io::block_on(with_deadline(limit, fut)) {
        Some(v) => v,
        None => panic!("{what} did not finish within {limit:?}"),
    }
}

/// Polls `probe` every 20 ms until it returns `Some`, or `limit` passes.
pub fn poll_until<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sign-on a cluster node sends (protocol.md 9.2).
pub fn register(name: &str, provider: bool) -> Element {
    let mut el = Element::new(LRMD_COMMAND)
        .with_attr(attr::T, "lrmd")
        .with_attr(attr::OP, op::REGISTER)
        .with_attr(attr::CLIENT_NAME, name)
        .with_attr(attr::PROTOCOL_VERSION, "1.1");
    if provider {
        el.set_attr(attr::IS_IPC_PROVIDER, "true");
    }
    el
}

/// The keepalive request.
pub fn poke() -> Element {
    Element::new(LRMD_COMMAND)
        .with_attr(attr::T, "lrmd")
        .with_attr(attr::OP, op::POKE)
}

/// `el` addressed as a request with message id `id`, for tests that bypass `Client::request`.
pub fn as_request(mut el: Element, id: u64) -> Element {
    el.set_attr(attr::REMOTE_MSG_ID, id);
    el.set_attr(attr::REMOTE_MSG_TYPE, msg_type::REQUEST);
    el
}

/// Serializes an element as the writers on both sides do.
pub fn xml_bytes(el: &Element) -> Vec<u8> {
    let mut out = Vec::new();
    pcmk_remoted::proto::xml::write(el, &mut out);
    out
}

/// Connects and completes the TLS handshake.
pub async fn connect(addr: SocketAddr, key: &[u8]) -> Result<Client, ClientError> {
    Client::connect(addr, Zeroizing::new(key.to_vec())).await
}

/// Connects, signs on as `name` and checks the reply; panics on any failure.
pub async fn sign_on(addr: SocketAddr, key: &[u8], name: &str, provider: bool) -> Client {
    let mut client = connect(addr, key)
        .await
        .unwrap_or_else(|e| panic!("{name}: handshake failed: {e}"));
    let reply = client
        .request(register(name, provider))
        .await
        .unwrap_or_else(|e| panic!("{name}: sign-on failed: {e}"));
    assert_eq!(reply.attr(attr::RC), Some("0"), "{name}: sign-on refused");
    assert!(
        reply.attr(attr::CLIENT_ID).is_some(),
        "{name}: no client id"
    );
    client
}

/// Pokes and checks the reply (rc 0) and our own notification of the poke.
pub async fn poke_ok(client: &mut Client) {
    let reply = client.request(poke()).await.expect("poke reply");
    assert_eq!(reply.name, "lrmd_reply");
    assert_eq!(reply.attr(attr::RC), Some("0"));
    // Other notifications (a new client, say) may come first; the poke's own follows.
    for _ in 0..100_000 {
        let note = client.next_notification().await.expect("poke notify");
        if note.attr(attr::OP) == Some(op::POKE) {
            return;
        }
    }
    panic!("no poke notification among 100000");
}

/// Whatever notifications arrive within `quiet`, up to `max` of them.
pub async fn drain_notifications(client: &mut Client, quiet: Duration, max: usize) -> Vec<Element> {
    let mut out = Vec::new();
    while out.len() < max {
        match with_deadline(quiet, client.next_notification()).await {
            Some(Ok(n)) => out.push(n),
            Some(Err(e)) => panic!("connection failed while draining: {e}"),
            None => break,
        }
    }
    out
}

/// Reads from `client` until the daemon closes the connection; `Err` names what arrived
/// instead, or that it stayed open for `limit`.
pub async fn expect_closed(client: &mut Client, limit: Duration) -> Result<(), String> {
    let mut got = Vec::new();
    let start = Instant::now();
    while start.elapsed() < limit {
        let left = limit.saturating_sub(start.elapsed());
        match with_deadline(left, client.receive()).await {
            Some(Ok(msg)) => got.push(msg.name.clone()),
            Some(Err(_)) => return Ok(()),
            None => break,
        }
    }
    Err(format!("still open after {limit:?}; received {got:?}"))
}

/// One running daemon with its own port, key and log; stopped when dropped.
pub struct Daemon {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The key it uses.
    pub key: Vec<u8>,
    /// The key file.
    pub key_path: PathBuf,
    log_path: PathBuf,
    exited: Option<ExitStatus>,
    scratch: Scratch,
}

/// How to start a daemon.
#[derive(Default)]
pub struct Options {
    limits: Vec<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    no_key: bool,
}

impl Options {
    /// Adds `--limit name=value`.
    pub fn limit(mut self, setting: &str) -> Options {
        self.limits.push(setting.to_string());
        self
    }

    /// Adds an argument.
    pub fn arg(mut self, a: &str) -> Options {
        self.args.push(a.to_string());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Options {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// Passes `--authkey` naming a file that does not exist.
    pub fn without_key(mut self) -> Options {
        self.no_key = true;
        self
    }

    /// Starts the daemon and waits until it listens.
    pub fn start(self) -> Daemon {
        Daemon::start_with(self)
    }
}

impl Daemon {
    /// A daemon with these `--limit` settings.
    pub fn start(limits: &[&str]) -> Daemon {
        let mut o = Options::default();
        for l in limits {
            o = o.limit(l);
        }
        o.start()
    }

    /// Options to start a daemon with.
    pub fn options() -> Options {
        Options::default()
    }

    fn start_with(opts: Options) -> Daemon {
        let scratch = Scratch::new("d");
        let key = random_bytes(4096);
        let key_path = scratch.path("authkey");
        if !opts.no_key {
            fs::write(&key_path, &key).unwrap();
        }
        // A port taken between our probe and the daemon's bind is retried with another.
        for attempt in 0..5 {
            let port = free_port();
            let log_path = scratch.path(&format!("stderr-{attempt}.log"));
            let mut cmd = Command::new(BINARY);
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--address")
                .arg("127.0.0.1")
                .arg("--sysconfig")
                .arg("none")
                .arg("--authkey")
                .arg(&key_path);
            for l in &opts.limits {
                cmd.arg("--limit").arg(l);
            }
            cmd.args(&opts.args)
                .env("PCMK_logfile", "none")
                .env("PCMK_logfacility", "none")
                // Many daemons share this network namespace (and maybe a cluster does): the
                // local IPC names would clash. The IPC suites run daemons in namespaces.
                .env("PCMK_remoted_local_ipc", "no")
                .envs(opts.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(fs::File::create(scratch.path("stdout.log")).unwrap())
                .stderr(fs::File::create(&log_path).unwrap());
            let mut child = cmd.spawn().unwrap();
            let listening = format!("listening on 127.0.0.1:{port}");
            let read_log = || fs::read_to_string(&log_path).unwrap_or_default();
            let ready = poll_until(Duration::from_secs(10), || {
                if read_log().contains(&listening) {
                    return Some(true);
                }
                child.try_wait().unwrap().map(|_| false)
            });
            match ready {
                Some(true) => {
                    return Daemon {
                        child,
                        addr: SocketAddr::from(([127, 0, 0, 1], port)),
                        key,
                        key_path,
                        log_path,
                        exited: None,
                        scratch,
                    }
                }
                Some(false) if read_log().contains("cannot listen") => continue,
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("daemon did not start:\n{}", read_log());
                }
            }
        }
        panic!("daemon could not bind a free port in 5 attempts");
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits for a log line containing `needle`; panics with the log if none appears.
    pub fn wait_log(&self, needle: &str, limit: Duration) -> String {
        let found = poll_until(limit, || {
            self.log()
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_string)
        });
        found.unwrap_or_else(|| {
            panic!(
                "no log line with {needle:?} within {limit:?}; log:\n{}",
                self.log()
            )
        })
    }

    /// Lines of the log containing `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }

    /// Its exit status, if it has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().unwrap();
        }
        self.exited
    }

    /// Waits up to `limit` for it to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        poll_until(limit, || self.try_exit())
    }

    /// Sends `signal` (a name such as `TERM`) to its pid.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    /// One field of /proc/<pid>/status, in kB (VmRSS, VmPeak, VmHWM...).
    pub fn status_kb(&self, field: &str) -> u64 {
        let text = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in /proc status"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Open file descriptors.
    pub fn fd_count(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// Open file descriptors once the daemon is fully set up and idle: after a client has
    /// been served and its socket closed, so lazily created ones (event loop, timers) count.
    pub fn idle_fd_count(&self) -> usize {
        self.assert_serves();
        poll_until(STEP, || (self.socket_count() == 1).then_some(()))
            .unwrap_or_else(|| panic!("daemon still holds sockets: {:?}", self.fd_list()));
        self.fd_count()
    }

    /// What each open file descriptor refers to, for failure messages.
    pub fn fd_list(&self) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .flatten()
            .map(|e| {
                let target = fs::read_link(e.path()).unwrap_or_default();
                format!("{}->{}", e.file_name().to_string_lossy(), target.display())
            })
            .collect();
        out.sort();
        out
    }

    /// Open sockets.
    pub fn socket_count(&self) -> usize {
        fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .flatten()
            .filter(|e| {
                fs::read_link(e.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
            })
            .count()
    }

    /// A client signed on as `name` (not a provider).
    pub fn client(&self, name: &str) -> Client {
        run(STEP, "sign-on", sign_on(self.addr, &self.key, name, false))
    }

    /// A fresh client signs on, is answered a poke, and leaves: the daemon still serves.
    pub fn assert_serves(&self) {
        run(STEP, "fresh client", async {
            let mut c = sign_on(self.addr, &self.key, "fresh-client", false).await;
            poke_ok(&mut c).await;
            let _ = c.close().await;
        });
    }

    /// The scratch directory, for extra files.
    pub fn scratch(&self) -> &Path {
        &self.scratch.dir
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            println!("--- daemon log (pid {})\n{}", self.pid(), self.log());
        }
        if self.try_exit().is_none() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.pid().to_string())
                .status();
            if self.wait_exit(Duration::from_secs(3)).is_none() {
                let _ = self.child.kill();
                let _ = self.wait_exit(Duration::from_secs(3));
            }
        }
    }
}

/// Runs the binary with `args` (and the test's quiet logging), with a deadline.
pub fn run_binary(args: &[&str], limit: Duration) -> Output {
    let scratch = Scratch::new("cmd");
    let out = scratch.path("stdout");
    let err = scratch.path("stderr");
    let mut child = Command::new(BINARY)
        .args(args)
        .env("PCMK_logfile", "none")
        .env("PCMK_logfacility", "none")
        .env("PCMK_remoted_local_ipc", "no")
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out).unwrap())
        .stderr(fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let status = poll_until(limit, || child.try_wait().unwrap());
    let status = match status {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not exit within {limit:?}");
        }
    };
    Output {
        status,
        stdout: fs::read(&out).unwrap_or_default(),
        stderr: fs::read(&err).unwrap_or_default(),
    }
}

/// A plain TCP connection with read and write timeouts.
pub fn raw_connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, STEP).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    s.set_write_timeout(Some(STEP)).unwrap();
    s
}

/// What a peer sent before it closed, and how long after `since` it closed (`None`: still
/// open after `limit`).
pub fn read_until_closed(
    s: &mut TcpStream,
    since: Instant,
    limit: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while since.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return (got, Some(since.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (got, Some(since.elapsed())),
        }
    }
    (got, None)
}

/// The TLS records in `bytes`: (content type, length of the fragment). A partial record at
/// the end is left out.
pub fn tls_records(bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 5 <= bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[at + 3], bytes[at + 4]]));
        if at + 5 + len > bytes.len() {
            break;
        }
        out.push((bytes[at], len));
        at += 5 + len;
    }
    out
}

/// A one-connection TCP relay that records what the server sends, for looking at record
/// boundaries on the wire.
pub struct RecordingProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    /// Server-to-client bytes, as they passed.
    pub from_server: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl RecordingProxy {
    /// Listens on 127.0.0.1 and relays the first connection to `target`.
    pub fn start(target: SocketAddr) -> RecordingProxy {
        Self::start_with(target, None)
    }

    /// As [`start`](Self::start), but the server's bytes reach the client at no more than
    /// `bytes_per_s`: a slow reader that never stops reading.
    pub fn throttled(target: SocketAddr, bytes_per_s: u64) -> RecordingProxy {
        Self::start_with(target, Some(bytes_per_s))
    }

    fn start_with(target: SocketAddr, rate: Option<u64>) -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let from_server = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (rec, flag) = (from_server.clone(), stop.clone());
        let main = std::thread::spawn(move || {
            let Some(client) =
                poll_until(Duration::from_secs(10), || listener.accept().ok()).map(|(s, _)| s)
            else {
                return;
            };
            client.set_nonblocking(false).unwrap();
            let server = TcpStream::connect(target).unwrap();
            let _ = server.set_nodelay(true);
            let _ = client.set_nodelay(true);
            let up = relay(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                None,
                None,
                flag.clone(),
            );
            let down = relay(server, client, Some(rec), rate, flag);
            let _ = up.join();
            let _ = down.join();
        });
        RecordingProxy {
            addr,
            from_server,
            stop,
            threads: vec![main],
        }
    }

    /// Bytes the server has sent so far.
    pub fn captured(&self) -> Vec<u8> {
        self.from_server.lock().unwrap().clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Copies `from` to `to` until either closes or `stop` is set (bounded: 60 s at most),
/// recording what passed in `record` first, so a reader of `to` never sees unrecorded bytes,
/// and reading no faster than `rate` bytes a second when one is given.
fn relay(
    mut from: TcpStream,
    mut to: TcpStream,
    record: Option<Arc<Mutex<Vec<u8>>>>,
    rate: Option<u64>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        from.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 16 * 1024];
        while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(rate) = rate {
                        let nanos = n as u64 * 1_000_000_000 / rate.max(1);
                        std::thread::sleep(Duration::from_nanos(nanos));
                    }
                    if let Some(r) = &record {
                        r.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    })
}
