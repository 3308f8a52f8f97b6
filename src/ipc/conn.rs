//! One established client: requests in, responses and events out, liveness, teardown
//! (libqb-ipc.md 4.2 to 4.10).
//!
//! In: the client's sockets and files, and its two outbound queues filled by the server API.
//! Out: `Request` events for the daemon, and the reason the connection ended. Never blocks or
//! sleeps, never lets one client's input end another client, and never leaves its files.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;

use super::channel::{wait_out, Channel, Outgoing};
use super::client::{IpcClientId, IpcEvent};
use super::error::{CloseReason, ProtocolError};
use super::handshake::Established;
use super::paths::DgramSuffix;
use super::pcmk::{Decoder, Encoder, Framing};
use super::qb;
use crate::mailbox::Mailbox;
use crate::sys::ipc_socket::{peek_datagram_len, recv_datagram};

/// While the daemon's event queue is full we stop reading and look again after this long.
const HOLD_RETRY: Duration = Duration::from_millis(10);
/// Datagrams read per wake-up before other clients get a turn.
const READS_PER_WAKE: usize = 32;

/// What the server API shares with a client's task: its encoder, its two queues, and the
/// highest request id it sent (a response with a larger id makes a 2.1.5 client abort,
/// libqb-ipc.md 7.3, so the server refuses to send one).
pub(super) struct ClientLink {
    /// Builds this client's datagrams (its negotiated size, our threshold).
    pub encoder: Encoder,
    /// Responses waiting to go out on the request/response socket.
    pub responses: Mailbox<Outgoing>,
    /// Events waiting to go out on the event socket.
    pub events: Mailbox<Outgoing>,
    /// Highest request id delivered to the daemon.
    pub last_request: Cell<u32>,
    /// Highest request id answered with a response.
    pub last_response: Cell<u32>,
}

/// An established client and everything it owns. Dropping it tears the connection down.
pub(super) struct Conn {
    id: IpcClientId,
    who: String,
    est: Established,
    link: Rc<ClientLink>,
    daemon: Mailbox<IpcEvent>,
    decoder: Decoder,
    response: Channel,
    event: Channel,
    /// A request the daemon's full queue did not take yet; no reading until it does.
    held: Option<(IpcEvent, usize)>,
    /// Send the zero-length goodbye at drop: set unless the client left by itself.
    notify_close: bool,
}

enum Wake {
    Setup,
    Request,
    Response(Option<Outgoing>),
    Event(Option<Outgoing>),
    Again,
}

impl Conn {
    pub(super) fn new(
        id: IpcClientId,
        service: &str,
        est: Established,
        link: Rc<ClientLink>,
        daemon: Mailbox<IpcEvent>,
        framing: Framing,
        max_message: usize,
    ) -> Self {
        let who = format!("{service} client {} ({id})", est.cred);
        let response = Channel::new("response", &est.paths.dgram(DgramSuffix::Response));
        let event = Channel::new("event", &est.paths.dgram(DgramSuffix::Event));
        Conn {
            id,
            who,
            est,
            link,
            daemon,
            decoder: Decoder::new(framing, max_message),
            response,
            event,
            held: None,
            notify_close: true,
        }
    }

    /// Serves the client until one side ends the connection; then drops (tears down).
    pub(super) async fn serve(mut self) -> CloseReason {
        let why = loop {
            if let Err(why) = self.step().await {
                break why;
            }
        };
        match &why {
            CloseReason::ClientClosed => {
                self.notify_close = false;
                let (asked, answered) =
                    (self.link.last_request.get(), self.link.last_response.get());
                if asked > answered {
                    // Requests sent without waiting for a response also count, so this is
                    // worth a note, not a warning.
                    log::info!(
                        "ipc: {} left before a response to its request {asked}",
                        self.who
                    );
                } else {
                    log::debug!("ipc: {} closed", self.who);
                }
            }
            other => log::warn!("ipc: closing {}: {other}", self.who),
        }
        why
    }

    async fn step(&mut self) -> Result<(), CloseReason> {
        let now = Instant::now();
        self.offer_held();
        let resp = self
            .response
            .pump(self.est.request.get_ref(), &self.link.responses, now)?;
        let ev = self
            .event
            .pump(self.est.event.get_ref(), &self.link.events, now)?;
        let wake = {
            let setup = async {
                let _ = self.est.setup.readable().await;
                Wake::Setup
            };
            let request = async {
                if self.held.is_some() {
                    Timer::after(HOLD_RETRY).await;
                    return Wake::Again;
                }
                let _ = self.est.request.readable().await;
                Wake::Request
            };
            let out_resp = async {
                Wake::Response(wait_out(resp, &self.est.request, &self.link.responses).await)
            };
            let out_ev =
                async { Wake::Event(wait_out(ev, &self.est.event, &self.link.events).await) };
            future::or(future::or(setup, request), future::or(out_resp, out_ev)).await
        };
        match wake {
            Wake::Setup => self.check_setup(),
            Wake::Request => self.read_requests(),
            // A message taken from a queue becomes the one in flight (the channel was idle).
            Wake::Response(Some(m)) => {
                self.response.current = Some((m, 0));
                Ok(())
            }
            Wake::Event(Some(m)) => {
                self.event.current = Some((m, 0));
                Ok(())
            }
            Wake::Response(None) | Wake::Event(None) => Ok(()),
            Wake::Again => Ok(()),
        }
    }

    /// libqb watches the setup socket only for liveness: end-of-file means the client left.
    fn check_setup(&mut self) -> Result<(), CloseReason> {
        let mut junk = [0u8; 64];
        match self.est.setup.get_ref().read(&mut junk) {
            Ok(0) => Err(CloseReason::ClientClosed),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Err(CloseReason::ClientClosed),
            Err(e) => Err(CloseReason::os("reading the setup socket", &e)),
        }
    }

    /// Reads requests until none is left (libqb-ipc.md 4.3: the control file's counters are
    /// never consulted), a few per wake-up.
    fn read_requests(&mut self) -> Result<(), CloseReason> {
        for _ in 0..READS_PER_WAKE {
            if self.held.is_some() {
                return Ok(());
            }
            let sock = self.est.request.get_ref();
            let len = match peek_datagram_len(sock) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(CloseReason::os("reading a request", &e)),
            };
            let max = self.est.negotiated;
            let sized = qb::check_datagram_len(len, max);
            // Allocate only for a datagram within the negotiated size.
            let mut buf = vec![0u8; if sized.is_ok() { len } else { 0 }];
            let got = recv_datagram(sock, &mut buf)
                .map_err(|e| CloseReason::os("reading a request", &e))?;
            if let Some(c) = got.cred {
                if c.pid != self.est.cred.pid {
                    // Not our client (4.9): drop it and keep the connection.
                    log::warn!(
                        "ipc: dropped a datagram from pid {} uid {} sent to {}",
                        c.pid,
                        c.uid,
                        self.who
                    );
                    continue;
                }
            }
            sized.map_err(|e| CloseReason::Protocol(ProtocolError::Qb(e)))?;
            if got.len != buf.len() {
                // The queue changed under the peek: only a second reader could do that.
                return Err(CloseReason::os(
                    "reading a request",
                    &io::Error::from_raw_os_error(libc::EIO),
                ));
            }
            match qb::parse_datagram(&buf, max)
                .map_err(|e| CloseReason::Protocol(ProtocolError::Qb(e)))?
            {
                qb::Datagram::Disconnect => return Err(CloseReason::ClientClosed),
                qb::Datagram::Message { .. } => {}
            }
            let msg = self
                .decoder
                .decode(&buf)
                .map_err(|e| CloseReason::Protocol(ProtocolError::Pcmk(e)))?;
            if let Some(m) = msg {
                let weight = m.xml.len();
                self.link
                    .last_request
                    .set(self.link.last_request.get().max(m.id));
                self.held = Some((
                    IpcEvent::Request {
                        client: self.id,
                        id: m.id,
                        flags: m.flags,
                        xml: m.xml,
                    },
                    weight,
                ));
                self.offer_held();
            }
        }
        Ok(())
    }

    /// Hands the held request to the daemon if its queue has room now. A refused push
    /// drops its item, so it gets a copy unless the queue is empty (which never refuses).
    fn offer_held(&mut self) {
        let Some((ev, weight)) = self.held.take() else {
            return;
        };
        if self.daemon.weight() == 0 {
            let _ = self.daemon.push(ev, weight);
            return;
        }
        if let Err(full) = self.daemon.push(ev.clone(), weight) {
            log::debug!(
                "ipc: daemon queue full ({} of {} bytes); holding a request from {}",
                full.queued,
                full.max,
                self.who
            );
            self.held = Some((ev, weight));
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.notify_close {
            let (req, ev) = (self.est.request.get_ref(), self.est.event.get_ref());
            self.response.goodbye(req, &self.link.responses);
            self.event.goodbye(ev, &self.link.events);
        }
        // Sockets close and `ConnFiles` removes the directory as the fields drop.
    }
}
