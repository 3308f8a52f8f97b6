//! `--server-mode`: our IpcServer answering Pacemaker tools with canned replies.
//!
//! Settings come from `PCMKR_T_*` variables (see `Settings`). Prints `READY` on stdout once
//! every name is published, logs every event to stderr, and shuts down cleanly when stdin
//! closes (the test holds the other end), so no signal is ever needed.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use futures_lite::future;

use pcmk_remoted::ipc::{Cred, Framing, IpcClientId, IpcConfig, IpcEvent, IpcServer, SocketMode};
use pcmk_remoted::mailbox::Mailbox;

struct Logger {
    start: Instant,
}

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, r: &log::Record) {
        let t = self.start.elapsed().as_millis();
        eprintln!("[{t:>6}] {:<5} {}", r.level(), r.args());
    }
    fn flush(&self) {}
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_num(name: &str, default: usize) -> usize {
    env(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Value of attribute `name` in an XML start tag (good enough for canned replies).
pub fn attr(xml: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let at = xml.find(&key)? + key.len();
    let end = xml[at..].find('"')?;
    Some(xml[at..at + end].to_string())
}

/// A valid CIB with `n` cluster options, so its size is chosen by the test.
pub fn canned_cib(n: usize) -> String {
    let mut s = String::from(
        r#"<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.9" epoch="7" num_updates="0" admin_epoch="0" have-quorum="1" dc-uuid="1"><configuration><crm_config><cluster_property_set id="cib-bootstrap-options">"#,
    );
    for i in 0..n {
        s.push_str(&format!(
            r#"<nvpair id="opt-{i}" name="probe-{i}" value="value-{i}"/>"#
        ));
    }
    s.push_str(r#"</cluster_property_set></crm_config><nodes><node id="1" uname="node1"/></nodes><resources/><constraints/></configuration><status/></cib>"#);
    s
}

/// The event body the C probe checks: `size` bytes exactly, ending in a known tag.
pub fn event_body(seq: usize, size: usize) -> String {
    let head = format!(r#"<probe-event seq="{seq}" size="{size}">"#);
    let tail = "</probe-event>";
    let fill = size.saturating_sub(head.len() + tail.len());
    let mut s = head;
    s.extend((0..fill).map(|i| char::from(b'a' + (i % 26) as u8)));
    s.push_str(tail);
    s
}

fn reply_for(
    server: &Rc<IpcServer>,
    ex: &Rc<LocalExecutor<'static>>,
    client: IpcClientId,
    id: u32,
    flags: u32,
    xml: &str,
) {
    let cib_nvpairs = env_num("PCMKR_T_CIB_NVPAIRS", 3);
    let respond = |text: &str| {
        if let Err(e) = server.send_response(client, id, text.as_bytes(), 0) {
            log::error!("test server: response to {client} failed: {e}");
        }
    };
    let wants_reply = flags & pcmk_remoted::ipc::pcmk::FLAG_CLIENT_RESPONSE != 0;
    // Refuse as our proxy does a request it will not relay (what the tools then say): a CIB
    // reply carrying the errno, or closing any other client.
    if let Some(errno) = env("PCMKR_T_REFUSE_MSG").and_then(|e| e.parse::<i32>().ok()) {
        if xml.contains(r#"t="cib""#) && !xml.contains(r#"cib_op="register""#) {
            let op = attr(xml, "cib_op").unwrap_or_default();
            let callid = attr(xml, "cib_callid").unwrap_or_default();
            let mut body = String::new();
            let reply = pcmk_remoted::proto::proxy::cib_refusal(&op, &callid, errno);
            let mut bytes = Vec::new();
            pcmk_remoted::proto::xml::write(&reply, &mut bytes);
            body.push_str(&String::from_utf8_lossy(&bytes));
            if wants_reply {
                respond(&body);
            } else if let Err(e) = server.send_event(client, body.as_bytes()) {
                log::error!("test server: cib refusal to {client} failed: {e}");
            }
            return;
        }
        if !xml.contains(r#"t="cib""#) {
            server.disconnect(client);
            return;
        }
    }
    if xml.contains(r#"t="attrd""#) {
        let name = attr(xml, "attr_name").unwrap_or_default();
        let host = attr(xml, "attr_host").unwrap_or_else(|| "node1".into());
        respond(&format!(
            r#"<attrd t="attrd" subt="query" attr_name="{name}"><node attr_host="{host}" attr_value="42-from-rust"/></attrd>"#
        ));
    } else if xml.contains(r#"t="cib""#) {
        let op = attr(xml, "cib_op").unwrap_or_default();
        let callid = attr(xml, "cib_callid").unwrap_or_else(|| "0".into());
        let body = match op.as_str() {
            "register" => {
                r#"<cib_reply t="cib" cib_op="register" cib_clientid="pcmkr-test-client"/>"#
                    .to_string()
            }
            "cib_query" => format!(
                r#"<cib-reply t="cib" cib_op="cib_query" cib_callid="{callid}" cib_rc="0"><cib_calldata>{}</cib_calldata></cib-reply>"#,
                canned_cib(cib_nvpairs)
            ),
            _ => format!(r#"<cib-reply t="cib" cib_op="{op}" cib_callid="{callid}" cib_rc="0"/>"#),
        };
        // Synchronous calls get a response; the others are answered by an event, as
        // Pacemaker's CIB manager does.
        if wants_reply {
            respond(&body);
        } else if let Err(e) = server.send_event(client, body.as_bytes()) {
            log::error!("test server: cib event to {client} failed: {e}");
        }
    } else if xml.starts_with("<probe") {
        let op = attr(xml, "op").unwrap_or_default();
        let size = attr(xml, "size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(100);
        let count = attr(xml, "count").and_then(|s| s.parse().ok()).unwrap_or(1);
        match op.as_str() {
            "event" | "flood" => {
                if wants_reply {
                    respond(r#"<probe-ack op="event"/>"#);
                }
                for seq in 0..count {
                    if let Err(e) = server.send_event(client, event_body(seq, size).as_bytes()) {
                        log::warn!("test server: event {seq} to {client}: {e}");
                        break;
                    }
                }
            }
            "slow" => {
                // Answers after a delay, so a client can vanish before the response.
                let ms = attr(xml, "ms").and_then(|s| s.parse().ok()).unwrap_or(300);
                let s = server.clone();
                ex.spawn(async move {
                    Timer::after(Duration::from_millis(ms)).await;
                    if let Err(e) = s.send_response(client, id, b"<probe-ack op=\"slow\"/>", 0) {
                        log::warn!("test server: slow response to {client}: {e}");
                    }
                })
                .detach();
            }
            "close-later" | "drop-me" => {
                if wants_reply && op == "close-later" {
                    respond(r#"<probe-ack op="close-later"/>"#);
                }
                let ms = attr(xml, "ms").and_then(|s| s.parse().ok()).unwrap_or(300);
                let s = server.clone();
                ex.spawn(async move {
                    Timer::after(Duration::from_millis(ms)).await;
                    log::info!("test server: closing {client} as asked");
                    s.disconnect(client);
                })
                .detach();
            }
            _ => {
                // Echo the size and a checksum of what arrived (large requests).
                let sum = xml
                    .bytes()
                    .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b.into()));
                if wants_reply {
                    respond(&format!(
                        r#"<probe-ack op="{op}" len="{}" sum="{sum}"/>"#,
                        xml.len()
                    ));
                }
            }
        }
    } else if wants_reply {
        respond("<ack/>");
    }
}

pub fn run() -> i32 {
    let logger = Box::leak(Box::new(Logger {
        start: Instant::now(),
    }));
    let _ = log::set_logger(logger);
    log::set_max_level(log::LevelFilter::Debug);

    let services: Vec<&'static str> = env("PCMKR_T_SERVICES")
        .unwrap_or_else(|| "attrd,cib_ro,cib_rw,cib_shm,pacemakerd,crmd,stonith-ng,lrmd".into())
        .split(',')
        .map(|s| &*Box::leak(s.to_string().into_boxed_str()))
        .collect();
    let refuse: Vec<String> = env("PCMKR_T_REFUSE")
        .map(|v| v.split(',').map(String::from).collect())
        .unwrap_or_default();
    let mut cfg = IpcConfig::new(services);
    // Unset: each client's layout from its first request, as the daemon's default.
    cfg.framing = match env("PCMKR_T_FRAMING").as_deref() {
        Some("3") => Some(Framing::Pacemaker3),
        Some("2") => Some(Framing::Pacemaker2),
        _ => None,
    };
    cfg.handshake_timeout = Duration::from_millis(env_num("PCMKR_T_HANDSHAKE_MS", 1000) as u64);
    cfg.max_outbound_bytes = env_num("PCMKR_T_MAX_OUTBOUND", cfg.max_outbound_bytes);
    cfg.max_clients = env_num("PCMKR_T_MAX_CLIENTS", cfg.max_clients);
    cfg.max_clients_per_uid = env_num("PCMKR_T_PER_UID", cfg.max_clients_per_uid);
    cfg.root_reserve = env_num("PCMKR_T_ROOT_RESERVE", cfg.root_reserve);
    cfg.name_retry = Duration::from_millis(env_num("PCMKR_T_NAME_RETRY_MS", 10_000) as u64);
    cfg.socket_mode = match env("PCMKR_T_SOCKET_DIR") {
        Some(d) => SocketMode::Filesystem(d.into()),
        None => SocketMode::Detect,
    };

    let ex = Rc::new(LocalExecutor::new());
    let events = Mailbox::new(1 << 20);
    let acceptor = Rc::new(move |service: &str, cred: &Cred| {
        if service == "pacemakerd" || refuse.iter().any(|r| r == service) {
            log::info!("test server: refusing {service} for {cred}");
            return Err(-libc::EREMOTEIO);
        }
        Ok(())
    });
    let server = match IpcServer::start(&ex, cfg, acceptor, events.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("test server: cannot start: {e}");
            println!("FAILED {e}");
            return 2;
        }
    };
    println!("READY {}", std::process::id());
    let _ = std::io::stdout().flush();

    // stdin closing is our stop signal; a thread turns it into a readable socket.
    let (stop_rx, mut stop_tx) = match UnixStream::pair() {
        Ok(p) => p,
        Err(_) => return 2,
    };
    std::thread::spawn(move || {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = stop_tx.write_all(b"x");
    });
    let stop_rx = match Async::new(stop_rx) {
        Ok(s) => s,
        Err(_) => return 2,
    };
    let counts = Rc::new(RefCell::new((0usize, 0usize, 0usize)));
    let consumer = {
        let (server, ex2, counts) = (server.clone(), ex.clone(), counts.clone());
        async move {
            while let Some(ev) = events.recv().await {
                match ev {
                    IpcEvent::Connected {
                        client,
                        service,
                        cred,
                        user,
                        privileged,
                    } => {
                        counts.borrow_mut().0 += 1;
                        log::info!("test server: connected {client} {service} {cred} user={user} privileged={privileged}");
                    }
                    IpcEvent::Request {
                        client,
                        id,
                        flags,
                        xml,
                    } => {
                        counts.borrow_mut().1 += 1;
                        let text = String::from_utf8_lossy(&xml).into_owned();
                        let shown: String = text.chars().take(400).collect();
                        log::info!("test server: request {client} id={id} flags={flags:#x} len={} xml={shown}", xml.len());
                        reply_for(&server, &ex2, client, id, flags, &text);
                    }
                    IpcEvent::Closed { client, why } => {
                        counts.borrow_mut().2 += 1;
                        log::info!("test server: closed {client}: {why}");
                    }
                }
            }
        }
    };
    // How late a 5 ms tick fires: how long the loop was ever kept from serving anyone.
    let lag = Rc::new(std::cell::Cell::new((Duration::ZERO, 0u64)));
    let ticker = {
        let lag = lag.clone();
        async move {
            loop {
                let due = Instant::now() + Duration::from_millis(5);
                Timer::at(due).await;
                let (max, n) = lag.get();
                lag.set((max.max(Instant::now() - due), n + 1));
            }
        }
    };
    // As the daemon: this thread drives the reactor while the executor is idle.
    async_io::block_on(ex.run(future::or(future::or(consumer, ticker), async {
        let _ = stop_rx.readable().await;
    })));
    let (lag_max, ticks) = lag.get();
    log::info!(
        "test server: loop lag max {} ms over {ticks} ticks",
        lag_max.as_millis()
    );
    server.shutdown();
    pcmk_remoted::logging::limiter::report_suppressed();
    let (c, r, cl) = *counts.borrow();
    log::info!(
        "test server: stopping; connected={c} requests={r} closed={cl} clients_left={}",
        server.client_count()
    );
    println!("STATS connected={c} requests={r} closed={cl}");
    0
}
