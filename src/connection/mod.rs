//! One cluster connection, from accepted socket to closed socket, and the hub they share.
//!
//! In: an accepted TCP stream. The connection completes the TLS handshake within the
//! deadline, then turns plaintext into frames and requests for the [`dispatch::Dispatcher`],
//! and writes what the dispatcher queues for it into its outbox, one frame at a time. It
//! never decides protocol rules itself. States: Handshake → Ready → Closed (a connection's
//! sign-on is tracked by the dispatcher's client table; draining is the daemon's state).

pub mod clients;
pub mod dispatch;
pub mod hub;
pub mod sessions;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::future;
use log::{debug, info, trace, warn};

use crate::mailbox::Mailbox;
use crate::proto::{xml, Request};
use crate::transport::explain;
use crate::transport::tls::{self, TlsStream};
use crate::wire::{self, Deframer};
pub use clients::ConnId;
pub use hub::{now, Control, Hub, OpenGuard};

/// Serves one accepted connection until it ends. Every error is logged here, once.
pub async fn serve(hub: Rc<Hub>, tcp: Async<TcpStream>, peer: SocketAddr, open: OpenGuard) {
    let _open = open;
    let conn = hub.new_conn_id();
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
    hub.attach(conn, outbox.clone());
    hub.dispatcher
        .borrow_mut()
        .connected(conn, peer.clone(), random);
    let end = session(&hub, conn, &mut stream, &tcp, &outbox).await;
    hub.detach(conn);
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
    let xml_limits = hub.xml_limits();
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
