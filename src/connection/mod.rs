//! One cluster connection, from accepted socket to closed socket, and the hub they share.
//!
//! In: an accepted TCP stream. The connection completes the TLS handshake within the
//! deadline, then turns plaintext into frames and requests for the [`dispatch::Dispatcher`],
//! and writes what the dispatcher queues for it into its outbox, one frame at a time. It
//! never decides protocol rules itself. States: Handshake → Ready → Closed (a connection's
//! sign-on is tracked by the dispatcher's client table; draining is the daemon's state).

pub mod clients;
pub mod dispatch;
pub mod sessions;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use futures_lite::future;
use log::{debug, info, trace, warn};

use crate::agents::Invocation;
use crate::executor::{Now, OpId};
use crate::limits::Limits;
use crate::mailbox::Mailbox;
use crate::process::{self, Reaper};
use crate::proto::{xml, Request};
use crate::transport::explain;
use crate::transport::tls::{self, TlsStream};
use crate::wire::{self, Deframer};
pub use clients::ConnId;
use dispatch::{Action, Dispatcher};
use sessions::LocalId;

/// Extra time alerts get to finish at exit, beyond their own timeout (the original's 5 s).
const ALERT_DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Events for the daemon loop that connections and the dispatcher raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Close the listener: we are draining.
    StopListening,
    /// Exit the process.
    Exit {
        /// Exit status.
        code: i32,
        /// Why, for the log.
        why: String,
    },
}

/// What every connection task shares: the protocol core, the outboxes, and the settings.
pub struct Hub {
    /// The protocol core.
    pub dispatcher: RefCell<Dispatcher>,
    /// Children we started and not yet reaped; SIGCHLD polls it.
    pub reaper: Rc<Reaper>,
    /// Wakes the executor's timer task when something may have changed its next deadline.
    pub kick: Mailbox<()>,
    ex: Rc<LocalExecutor<'static>>,
    alerts: Cell<usize>,
    alert_drain_until: Cell<Option<Instant>>,
    outboxes: RefCell<HashMap<ConnId, Mailbox<Rc<Vec<u8>>>>>,
    /// Events for the daemon loop.
    pub control: Mailbox<Control>,
    /// Bounds.
    pub limits: Limits,
    /// TLS server settings, including the key lookup.
    pub tls: Arc<tls::ServerConfig>,
    /// `TCP_USER_TIMEOUT` for accepted sockets, from sbd's watchdog timeout.
    pub user_timeout_ms: Option<u32>,
    next_conn: Cell<u64>,
    open: Cell<usize>,
}

impl Hub {
    /// A hub around `dispatcher`; tasks it starts (agents) run on `ex`.
    pub fn new(
        dispatcher: Dispatcher,
        limits: Limits,
        tls: Arc<tls::ServerConfig>,
        user_timeout_ms: Option<u32>,
        ex: Rc<LocalExecutor<'static>>,
    ) -> Rc<Hub> {
        Rc::new(Hub {
            dispatcher: RefCell::new(dispatcher),
            reaper: Reaper::new(),
            kick: Mailbox::new(1),
            ex,
            alerts: Cell::new(0),
            alert_drain_until: Cell::new(None),
            outboxes: RefCell::new(HashMap::new()),
            control: Mailbox::new(usize::MAX),
            limits,
            tls,
            user_timeout_ms,
            next_conn: Cell::new(1),
            open: Cell::new(0),
        })
    }

    /// TCP connections open now, handshaking ones included.
    pub fn open_connections(&self) -> usize {
        self.open.get()
    }

    /// Carries out the dispatcher's actions, and those they lead to, in order. Never holds a
    /// borrow across an await.
    pub fn perform(self: &Rc<Self>, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        // Each action is handled once; spawn failures add at most the actions of finishing
        // that operation, so the queue drains.
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { to, payload, .. } => self.queue_for(to, payload),
                Action::StopListening => {
                    let _ = self.control.push(Control::StopListening, 1);
                }
                Action::Exit { code, why } => {
                    let _ = self.control.push(Control::Exit { code, why }, 1);
                }
                Action::Spawn { op, invocation } => {
                    queue.extend(self.spawn_agent(op, &invocation));
                }
                Action::SpawnAlert {
                    id,
                    invocation,
                    timeout_ms,
                } => self.spawn_alert(id, &invocation, timeout_ms),
                Action::IpcResponse { local, id, payload } => {
                    self.ipc_send(local, Some(id), &payload)
                }
                Action::IpcEvent { local, payload } => self.ipc_send(local, None, &payload),
                Action::IpcDisconnect { local } => self.ipc_disconnect(local),
                Action::Kill { pid, group } => {
                    let sent = if group {
                        crate::sys::process::kill_group(pid, libc::SIGKILL)
                    } else {
                        crate::sys::process::kill_one(pid, libc::SIGKILL)
                    };
                    if let Err(e) = sent {
                        debug!("kill {}{pid}: {e}", if group { "-" } else { "" });
                    }
                }
            }
        }
        let _ = self.kick.push((), 1);
    }

    fn queue_for(&self, to: ConnId, payload: Rc<Vec<u8>>) {
        let outbox = self.outboxes.borrow().get(&to).cloned();
        let Some(outbox) = outbox else {
            debug!("{to} is gone; message dropped");
            return;
        };
        let weight = payload.len() + wire::HEADER_LEN;
        if let Err(full) = outbox.push(payload, weight) {
            warn!(
                "{to} is not reading: {} bytes queued, limit {} (max_outbound_bytes); disconnecting it",
                full.queued, full.max
            );
            // Later messages for it are dropped quietly; its task sees the close even while
            // blocked in a write, and ends.
            self.outboxes.borrow_mut().remove(&to);
            outbox.close();
        }
    }

    /// Starts an alert agent and a task that enforces its timeout and logs how it ended.
    fn spawn_alert(self: &Rc<Self>, id: String, invocation: &Invocation, timeout_ms: u32) {
        let (pid, finished) =
            match process::spawn(&self.reaper, invocation, self.limits.max_output_bytes) {
                Ok(started) => started,
                Err(e) => {
                    // The original has already answered 0 at this point too; it only logs.
                    warn!(
                        "could not send alert {id}: cannot run {}: {e}",
                        invocation.program.display()
                    );
                    self.dispatcher.borrow_mut().alert_finished();
                    return;
                }
            };
        let grace = Duration::from_millis(u64::from(timeout_ms)) + ALERT_DRAIN_GRACE;
        let until = Instant::now() + grace;
        self.alerts.set(self.alerts.get() + 1);
        self.alert_drain_until.set(Some(
            self.alert_drain_until.get().map_or(until, |u| u.max(until)),
        ));
        let hub = self.clone();
        self.ex
            .spawn(async move {
                let limit = async {
                    if timeout_ms == 0 {
                        future::pending::<()>().await;
                    }
                    Timer::after(Duration::from_millis(u64::from(timeout_ms))).await;
                };
                let mut finished = std::pin::pin!(finished);
                let done = future::or(async { Some((&mut finished).await) }, async {
                    limit.await;
                    None
                })
                .await;
                let done = match done {
                    Some(d) => d,
                    None => {
                        let _ = crate::sys::process::kill_group(pid, libc::SIGKILL);
                        warn!(
                            "could not send alert {id}: Alert agent did not complete within {}",
                            crate::executor::result::readable_interval(timeout_ms)
                        );
                        finished.await
                    }
                };
                match done.exit {
                    process::ChildExit::Code(0) => debug!("alert {id} [{pid}] completed"),
                    process::ChildExit::Code(n) => {
                        info!("alert {id} [{pid}] completed but exited with status {n}")
                    }
                    process::ChildExit::Signal(s) => {
                        info!("alert {id} [{pid}] ended by signal {s}")
                    }
                }
                hub.alerts.set(hub.alerts.get().saturating_sub(1));
                hub.dispatcher.borrow_mut().alert_finished();
            })
            .detach();
    }

    /// Waits for running alert agents, as the original does at exit: up to the longest alert
    /// timeout plus 5 s.
    pub async fn drain_alerts(&self) {
        let Some(until) = self.alert_drain_until.get() else {
            return;
        };
        // Bounded by `until`.
        while self.alerts.get() > 0 && Instant::now() < until {
            Timer::after(Duration::from_millis(20)).await;
        }
    }

    /// Starts an agent and a task that reports its end; returns the dispatcher's actions.
    fn spawn_agent(self: &Rc<Self>, op: OpId, invocation: &Invocation) -> Vec<Action> {
        match process::spawn(&self.reaper, invocation, self.limits.max_output_bytes) {
            Ok((pid, finished)) => {
                debug!("{op} runs {} as pid {pid}", invocation.program.display());
                let hub = self.clone();
                self.ex
                    .spawn(async move {
                        let finished = finished.await;
                        let actions =
                            hub.dispatcher
                                .borrow_mut()
                                .child_finished(op, finished, now());
                        hub.perform(actions);
                    })
                    .detach();
                self.dispatcher.borrow_mut().child_spawned(op, pid)
            }
            Err(e) => {
                warn!("{op}: cannot run {}: {e}", invocation.program.display());
                self.dispatcher
                    .borrow_mut()
                    .child_spawn_failed(op, &e, now())
            }
        }
    }

    /// Sends to a local IPC client (a response to request `id`, or an event).
    fn ipc_send(&self, local: LocalId, id: Option<u32>, payload: &[u8]) {
        let _ = (local, id, payload);
    }

    /// Closes a local IPC client.
    fn ipc_disconnect(&self, local: LocalId) {
        let _ = local;
    }

    /// Tells every connection to finish what it has queued and close.
    pub fn close_all(&self) {
        for outbox in self.outboxes.borrow().values() {
            outbox.close();
        }
    }
}

/// Counts a connection as open from accept until its task ends, so the connection cap holds
/// even for a burst accepted before any task has run.
pub struct OpenGuard(Rc<Hub>);

impl OpenGuard {
    /// Counts one more open connection.
    pub fn new(hub: &Rc<Hub>) -> OpenGuard {
        hub.open.set(hub.open.get() + 1);
        OpenGuard(hub.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get().saturating_sub(1));
    }
}

/// Serves one accepted connection until it ends. Every error is logged here, once.
pub async fn serve(hub: Rc<Hub>, tcp: Async<TcpStream>, peer: SocketAddr, open: OpenGuard) {
    let _open = open;
    let conn = ConnId(hub.next_conn.get());
    hub.next_conn.set(conn.0 + 1);
    let peer = display_peer(peer);
    debug!("{conn} accepted from {peer}");

    let _ = tcp.get_ref().set_nodelay(true);
    crate::sys::socket::set_quickack(tcp.get_ref());
    if let Some(ms) = hub.user_timeout_ms {
        if let Err(e) = crate::sys::socket::set_user_timeout(tcp.get_ref(), ms) {
            warn!("{conn} from {peer}: cannot set TCP_USER_TIMEOUT: {e}; closing");
            return;
        }
    }

    let handshake = async { Some(TlsStream::accept(&tcp, hub.tls.clone()).await) };
    let deadline = async {
        Timer::after(hub.limits.handshake_timeout).await;
        None
    };
    let mut stream = match future::or(handshake, deadline).await {
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            warn!(
                "{conn} from {peer}: TLS handshake failed: {}",
                explain::server_failure(&e)
            );
            return;
        }
        None => {
            warn!(
                "{conn} from {peer}: TLS handshake not complete after {} ms; closing",
                hub.limits.handshake_timeout.as_millis()
            );
            explain::send_plain_close_notify(&tcp).await;
            return;
        }
    };

    let random = match tls::random_16() {
        Ok(r) => r,
        Err(e) => {
            warn!("{conn} from {peer}: no random bytes for a client id ({e}); closing");
            return;
        }
    };
    let outbox = Mailbox::new(hub.limits.max_outbound_bytes);
    hub.outboxes.borrow_mut().insert(conn, outbox.clone());
    hub.dispatcher
        .borrow_mut()
        .connected(conn, peer.clone(), random);
    let end = session(&hub, conn, &mut stream, &tcp, &outbox).await;
    hub.outboxes.borrow_mut().remove(&conn);
    outbox.close();
    match &end {
        Ok(why) => info!("{conn} from {peer}: {why}"),
        Err(e) => warn!("{conn} from {peer}: {e}; closing"),
    }
    let actions = hub.dispatcher.borrow_mut().disconnected(conn, now());
    hub.perform(actions);
    // Answer with our own close_notify, as the original does; a dead peer costs at most this.
    let _ = future::or(async { stream.close().await.ok() }, async {
        Timer::after(Duration::from_secs(1)).await;
        None
    })
    .await;
}

/// Reads requests and writes queued messages until the peer leaves or misbehaves.
async fn session(
    hub: &Rc<Hub>,
    conn: ConnId,
    stream: &mut TlsStream<&Async<TcpStream>>,
    tcp: &Async<TcpStream>,
    outbox: &Mailbox<Rc<Vec<u8>>>,
) -> Result<&'static str, String> {
    let mut deframer = Deframer::new(hub.limits.max_message_bytes);
    let mut buf = vec![0u8; 16 * 1024];
    let xml_limits = xml::Limits {
        max_bytes: hub.limits.max_message_bytes,
        max_depth: hub.limits.max_xml_depth,
        max_attrs: hub.limits.max_xml_attributes,
        max_elements: hub.limits.max_xml_elements,
        ..xml::Limits::default()
    };
    loop {
        // A peer whose socket always has room or data would otherwise keep our one thread
        // to itself; every frame gives the other connections a turn.
        future::yield_now().await;
        enum Event {
            Outgoing(Option<Rc<Vec<u8>>>),
            Incoming(io::Result<usize>),
        }
        // Outgoing first: a peer that floods us is slowed by its own replies (backpressure).
        let event = future::or(async { Event::Outgoing(outbox.recv().await) }, async {
            Event::Incoming(stream.read(&mut buf).await)
        })
        .await;
        match event {
            Event::Outgoing(Some(payload)) => write_frame(hub, stream, outbox, &payload).await?,
            Event::Outgoing(None) => return Ok("closed by the daemon"),
            Event::Incoming(Ok(0)) if deframer.is_idle() => return Ok("closed by the peer"),
            Event::Incoming(Ok(0)) => {
                return Err(format!(
                    "peer vanished mid-message ({} bytes of a frame received)",
                    deframer.buffered()
                ))
            }
            Event::Incoming(Ok(n)) => {
                crate::sys::socket::set_quickack(tcp.get_ref());
                let mut input = &buf[..n];
                while !input.is_empty() {
                    let (used, frame) = deframer.feed(input).map_err(|e| e.to_string())?;
                    input = &input[used..];
                    if let Some(frame) = frame {
                        trace!(
                            "{conn} frame id={} {} bytes",
                            frame.header.id,
                            frame.payload.len()
                        );
                        let root = xml::parse(&frame.payload, &xml_limits)
                            .map_err(|e| format!("invalid XML in message: {e}"))?;
                        let request = Request::from_xml(&root);
                        let actions = hub.dispatcher.borrow_mut().handle(conn, request, now());
                        hub.perform(actions);
                    }
                }
            }
            Event::Incoming(Err(e)) => return Err(format!("read failed: {e}")),
        }
    }
}

/// Writes one frame: the 40-byte header as a TLS record of its own, then the payload, never
/// sharing a record with another frame. The C peers' reader requires both (protocol.md 6.6).
async fn write_frame(
    hub: &Hub,
    stream: &mut TlsStream<&Async<TcpStream>>,
    outbox: &Mailbox<Rc<Vec<u8>>>,
    xml_text: &[u8],
) -> Result<(), String> {
    enum End {
        Written(io::Result<()>),
        TimedOut,
        Aborted,
    }
    let (header, payload) = wire::deframer::encode(wire::next_frame_id(), xml_text);
    let write = async { End::Written(stream.write_records(&[&header, &payload]).await) };
    let deadline = async {
        Timer::after(hub.limits.write_timeout).await;
        End::TimedOut
    };
    let aborted = async {
        outbox.closed().await;
        End::Aborted
    };
    match future::or(write, future::or(aborted, deadline)).await {
        End::Written(Ok(())) => Ok(()),
        End::Written(Err(e)) => Err(format!("write failed: {e}")),
        End::TimedOut => Err(format!(
            "peer did not take our data for {} ms (write_timeout)",
            hub.limits.write_timeout.as_millis()
        )),
        End::Aborted => Err(String::from(
            "disconnected by the daemon while a write was blocked",
        )),
    }
}

/// The executor's clock reading: monotonic for durations, epoch seconds for timestamps.
pub fn now() -> Now {
    Now {
        mono: Instant::now(),
        epoch: crate::sys::time::epoch_seconds(),
    }
}

/// Shows IPv4 peers of the dual-stack listener as plain IPv4.
fn display_peer(peer: SocketAddr) -> String {
    match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{}", v6.port()),
            None => peer.to_string(),
        },
        SocketAddr::V4(_) => peer.to_string(),
    }
}
