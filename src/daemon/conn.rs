//! The task of one cluster connection, from accepted socket to closed socket.
//!
//! In: an accepted TCP stream and its place in the listener's budgets. The connection
//! completes the TLS handshake within the deadline (or ends early when the listener drops it
//! to make room), signs on within its own deadline, then turns plaintext into frames and
//! requests for the [`Dispatcher`](crate::dispatch::Dispatcher), and writes what the dispatcher queues for it
//! into its outbox, one frame at a time, giving up on a peer only after a whole write timeout
//! without progress. It never decides protocol rules itself. States: Handshake → AwaitSignon
//! → Ready → Closed (a connection's sign-on is also tracked by the dispatcher's client table;
//! draining is the daemon's state).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::future;
use log::{info, trace, warn, Level};

use super::hub::{now, Hub, OpenGuard};
use crate::handles::ConnId;
use crate::logging::Source::KeylessPeer;
use crate::mailbox::Mailbox;
use crate::proto::{xml, Op, Request};
use crate::transport::admission::Ticket;
use crate::transport::explain;
use crate::transport::listener::display_peer;
use crate::transport::tls::{self, TlsStream};
use crate::transport::watched::Watched;
use crate::wire::{self, Deframer};

/// Serves one accepted connection until it ends. Every error is logged here, once; lines
/// about a peer that has not proved the key are rate-limited with all such peers.
pub async fn serve(
    hub: Rc<Hub>,
    tcp: Async<TcpStream>,
    peer: SocketAddr,
    open: OpenGuard,
    mut ticket: Ticket,
) {
    let _open = open;
    let conn = hub.new_conn_id();
    let peer = display_peer(peer);
    crate::limited!(KeylessPeer, Level::Debug, "{conn} accepted from {peer}");

    let _ = tcp.get_ref().set_nodelay(true);
    crate::sys::socket::set_quickack(tcp.get_ref());
    if let Some(ms) = hub.user_timeout_ms {
        if let Err(e) = crate::sys::socket::set_user_timeout(tcp.get_ref(), ms) {
            crate::limited!(
                KeylessPeer,
                Level::Warn,
                "{conn} from {peer}: cannot set TCP_USER_TIMEOUT: {e}; closing"
            );
            return;
        }
    }

    let watched = Watched::new(&tcp);
    enum Pending<S> {
        Done(S),
        TimedOut,
        Dropped,
    }
    let handshake = async {
        Pending::Done(TlsStream::accept_noting(&watched, hub.tls.clone(), &ticket.proved).await)
    };
    let deadline = async {
        Timer::after(hub.limits.handshake_timeout).await;
        Pending::TimedOut
    };
    let dropped = async {
        ticket.evicted.tripped().await;
        Pending::Dropped
    };
    let mut stream = match future::or(handshake, future::or(dropped, deadline)).await {
        Pending::Done(Ok(s)) => s,
        Pending::Done(Err(e)) => {
            crate::limited!(
                KeylessPeer,
                Level::Warn,
                "{conn} from {peer}: TLS handshake failed: {}",
                explain::server_failure(&e)
            );
            return;
        }
        Pending::TimedOut => {
            crate::limited!(
                KeylessPeer,
                Level::Warn,
                "{conn} from {peer}: TLS handshake not complete after {} ms \
                 (handshake_timeout_ms); closing",
                hub.limits.handshake_timeout.as_millis()
            );
            explain::send_plain_close_notify(&tcp).await;
            return;
        }
        Pending::Dropped => {
            // The listener logged why, rate-limited; this line is for debugging only.
            crate::limited!(
                KeylessPeer,
                Level::Debug,
                "{conn} from {peer}: dropped to make room for a newer handshake"
            );
            explain::refuse_busy(tcp.get_ref());
            return;
        }
    };
    // The peer holds the key from here on: its lines are the cluster's, never limited.
    if let Err(why) = ticket.handshake_done() {
        warn!("{conn} from {peer}: handshake complete, but refusing it: {why}");
        close_bounded(&mut stream).await;
        return;
    }

    let random = match tls::random_16() {
        Ok(r) => r,
        Err(e) => {
            warn!("{conn} from {peer}: no random bytes for a client id ({e}); closing");
            return;
        }
    };
    let outbox = Mailbox::new(hub.limits.max_outbound_bytes);
    hub.attach(conn, outbox.clone());
    hub.dispatcher
        .borrow_mut()
        .connected(conn, peer.clone(), random);
    let end = session(&hub, conn, &mut stream, &watched, &outbox).await;
    hub.detach(conn);
    outbox.close();
    if end.is_orderly() {
        info!("{conn} from {peer}: {end}");
    } else {
        warn!("{conn} from {peer}: {end}; closing");
    }
    let actions = hub.dispatcher.borrow_mut().disconnected(conn, now());
    hub.perform(actions);
    close_bounded(&mut stream).await;
}

/// Answers with our own close_notify, as the original does; a dead peer costs at most 1 s.
async fn close_bounded(stream: &mut TlsStream<&Watched<'_>>) {
    let _ = future::or(async { stream.close().await.ok() }, async {
        Timer::after(Duration::from_secs(1)).await;
        None
    })
    .await;
}

/// Reads requests and writes queued messages until the peer leaves or misbehaves.
/// Until the client signs on (`register`), it must do so within `signon_timeout_ms` of the
/// handshake.
async fn session(
    hub: &Rc<Hub>,
    conn: ConnId,
    stream: &mut TlsStream<&Watched<'_>>,
    watched: &Watched<'_>,
    outbox: &Mailbox<Rc<Vec<u8>>>,
) -> SessionEnd {
    let mut deframer = Deframer::new(hub.limits.max_message_bytes);
    let mut buf = vec![0u8; 16 * 1024];
    let xml_limits = hub.xml_limits();
    let mut signon_due = Some(Instant::now() + hub.limits.signon_timeout);
    loop {
        // A peer whose socket always has room or data would otherwise keep our one thread
        // to itself; every frame gives the other connections a turn.
        future::yield_now().await;
        enum Event {
            Outgoing(Option<Rc<Vec<u8>>>),
            Incoming(io::Result<usize>),
            SignonLate,
        }
        let late = async {
            match signon_due {
                Some(at) => {
                    Timer::at(at).await;
                }
                None => future::pending::<()>().await,
            }
            Event::SignonLate
        };
        // Outgoing first: a peer that floods us is slowed by its own replies (backpressure).
        let event = future::or(
            future::or(async { Event::Outgoing(outbox.recv().await) }, async {
                Event::Incoming(stream.read(&mut buf).await)
            }),
            late,
        )
        .await;
        match event {
            Event::SignonLate => {
                return SessionEnd::SignonLate {
                    limit: hub.limits.signon_timeout,
                }
            }
            Event::Outgoing(Some(payload)) => {
                if let Err(end) = write_frame(hub, stream, watched, outbox, &payload).await {
                    return end;
                }
            }
            Event::Outgoing(None) => return SessionEnd::ClosedByDaemon,
            Event::Incoming(Ok(0)) if deframer.is_idle() => return SessionEnd::ClosedByPeer,
            Event::Incoming(Ok(0)) => {
                return SessionEnd::VanishedMidFrame {
                    buffered: deframer.buffered(),
                }
            }
            Event::Incoming(Ok(n)) => {
                crate::sys::socket::set_quickack(watched.get_ref());
                let mut input = &buf[..n];
                while !input.is_empty() {
                    let (used, frame) = match deframer.feed(input) {
                        Ok(fed) => fed,
                        Err(e) => return SessionEnd::BadFrame(e),
                    };
                    input = &input[used..];
                    if let Some(frame) = frame {
                        trace!(
                            "{conn} frame id={} {} bytes",
                            frame.header.id,
                            frame.payload.len()
                        );
                        let root = match xml::parse(&frame.payload, &xml_limits) {
                            Ok(root) => root,
                            Err(e) => return SessionEnd::BadXml(e),
                        };
                        let request = Request::from_xml(&root);
                        if matches!(request.op, Op::Register { .. }) {
                            signon_due = None;
                        }
                        let actions = hub.dispatcher.borrow_mut().handle(conn, request, now());
                        hub.perform(actions);
                    }
                }
            }
            Event::Incoming(Err(e)) => return SessionEnd::ReadFailed(e),
        }
    }
}

/// Writes one frame: the 40-byte header as a TLS record of its own, then the payload, never
/// sharing a record with another frame. The C peers' reader requires both (protocol.md 6.6).
/// The peer is given up on only after `write_timeout_ms` without taking a single byte.
async fn write_frame(
    hub: &Hub,
    stream: &mut TlsStream<&Watched<'_>>,
    watched: &Watched<'_>,
    outbox: &Mailbox<Rc<Vec<u8>>>,
    xml_text: &[u8],
) -> Result<(), SessionEnd> {
    enum End {
        Written(io::Result<()>),
        Stalled,
        Aborted,
    }
    let (header, payload) = wire::deframer::encode(wire::next_frame_id(), xml_text);
    let limit = hub.limits.write_timeout;
    watched.mark_progress();
    let write = async { End::Written(stream.write_records(&[&header, &payload]).await) };
    let stalled = async {
        // Each turn sleeps until the deadline counted from the last progress; it ends only
        // when a whole `limit` passed without any.
        loop {
            let due = watched.last_progress() + limit;
            if Instant::now() >= due {
                return End::Stalled;
            }
            Timer::at(due).await;
        }
    };
    let aborted = async {
        outbox.closed().await;
        End::Aborted
    };
    match future::or(write, future::or(aborted, stalled)).await {
        End::Written(Ok(())) => Ok(()),
        End::Written(Err(e)) => Err(SessionEnd::WriteFailed(e)),
        End::Stalled => Err(SessionEnd::WriteStalled { limit }),
        End::Aborted => Err(SessionEnd::DroppedWhileWriting),
    }
}

/// Why a connection's session (after the handshake) ended; its log line says which.
#[derive(Debug)]
enum SessionEnd {
    /// The peer closed between messages.
    ClosedByPeer,
    /// We closed it (exit, or the dispatcher dropped it) with nothing left to write.
    ClosedByDaemon,
    /// The peer sent no `register` within `signon_timeout_ms` of its handshake.
    SignonLate {
        /// The bound.
        limit: Duration,
    },
    /// The peer closed in the middle of a frame.
    VanishedMidFrame {
        /// Bytes of the frame received.
        buffered: usize,
    },
    /// The peer sent a frame we refuse (bad header, over the size bound).
    BadFrame(wire::Error),
    /// A frame's payload is not XML we accept (malformed, over a bound).
    BadXml(xml::Error),
    /// Reading from the peer failed.
    ReadFailed(io::Error),
    /// Writing to the peer failed.
    WriteFailed(io::Error),
    /// The peer took none of our data for `write_timeout_ms`.
    WriteStalled {
        /// The bound.
        limit: Duration,
    },
    /// The daemon dropped the peer (its outbox overflowed, or exit) while a write was
    /// blocked on it.
    DroppedWhileWriting,
}

impl SessionEnd {
    /// An end nobody is to blame for: logged as information rather than a warning.
    fn is_orderly(&self) -> bool {
        matches!(self, SessionEnd::ClosedByPeer | SessionEnd::ClosedByDaemon)
    }
}

impl std::fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionEnd::ClosedByPeer => f.write_str("closed by the peer"),
            SessionEnd::ClosedByDaemon => f.write_str("closed by the daemon"),
            SessionEnd::SignonLate { limit } => write!(
                f,
                "no sign-on within {} ms of the handshake (signon_timeout_ms)",
                limit.as_millis()
            ),
            SessionEnd::VanishedMidFrame { buffered } => write!(
                f,
                "peer vanished mid-message ({buffered} bytes of a frame received)"
            ),
            SessionEnd::BadFrame(e) => e.fmt(f),
            SessionEnd::BadXml(e) => write!(f, "invalid XML in message: {e}"),
            SessionEnd::ReadFailed(e) => write!(f, "read failed: {e}"),
            SessionEnd::WriteFailed(e) => write!(f, "write failed: {e}"),
            SessionEnd::WriteStalled { limit } => write!(
                f,
                "peer took none of our data for {} ms (write_timeout_ms)",
                limit.as_millis()
            ),
            SessionEnd::DroppedWhileWriting => {
                f.write_str("disconnected by the daemon while a write was blocked")
            }
        }
    }
}

/// A message for `to` cut to the largest frame the peer accepts (`max_message_bytes`), with
/// a log line when it had to change; `None` when nothing of it can be sent. Called before the
/// message is queued, so our own oversized message never counts against the peer's outbox
/// and never costs the cluster its connection.
pub fn fit_outgoing(to: ConnId, payload: Rc<Vec<u8>>, max_frame: usize) -> Option<Rc<Vec<u8>>> {
    let size = payload.len() + wire::HEADER_LEN + 1;
    match wire::fit::fit(&payload, max_frame) {
        wire::fit::Fitted::Unchanged => Some(payload),
        wire::fit::Fitted::Truncated { xml, cut } => {
            warn!(
                "{to}: a {size}-byte message is over the {max_frame}-byte frame limit \
                 (max_message_bytes); its agent output was truncated by {cut} bytes to fit"
            );
            Some(Rc::new(xml))
        }
        wire::fit::Fitted::ErrorReply { xml } => {
            warn!(
                "{to}: a {size}-byte reply is over the {max_frame}-byte frame limit \
                 (max_message_bytes); sending an EMSGSIZE error reply instead"
            );
            Some(Rc::new(xml))
        }
        wire::fit::Fitted::Dropped => {
            log::error!(
                "{to}: a {size}-byte message is over the {max_frame}-byte frame limit \
                 (max_message_bytes) and cannot be shortened; not sent (the connection stays)"
            );
            None
        }
    }
}
