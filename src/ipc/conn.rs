//! One established client: requests in, responses and events out, liveness, teardown
//! (libqb-ipc.md 4.2 to 4.10).
//!
//! In: the client's sockets and files, and its two outbound queues filled by the server API.
//! Out: `Request` events for the daemon, and the reason the connection ended. Never blocks or
//! sleeps, never lets one client's input end another client, and never leaves its files.
//! Inbound states: Reading → (Inflating →) Held → Reading, or Starved while the shared
//! budget has no room for what the next datagram would make this client hold. The first
//! request fixes the client's header layout (libqb-ipc.md 7.2) for its decoder and encoder.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;

use super::budget::{Grant, Short};
use super::channel::{wait_out, Channel, Outgoing};
use super::client::{IpcClientId, IpcEvent};
use super::error::{CloseReason, ProtocolError};
use super::handshake::Established;
use super::paths::DgramSuffix;
use super::pcmk::{self, Decoded, Decoder, Encoder, Framing, Inflation, Message};
use super::qb;
use crate::limits::IPC_INFLATER_STATE_BYTES;
use crate::logging::Source;
use crate::mailbox::Mailbox;
use crate::sys::ipc_socket::{peek_datagram, peek_datagram_len, recv_datagram};

/// While the daemon's event queue or the shared budget is full we stop reading and look
/// again after this long.
const HOLD_RETRY: Duration = Duration::from_millis(10);
/// The pause between two inflation slices. A timer, not `yield_now`: the executor runs up to
/// 200 ready tasks before the reactor looks at sockets again, so tasks that only yield would
/// keep every other client (and the cluster) unread for that long; a timer is due only after
/// the reactor has run, which then wakes whoever has data waiting.
const INFLATE_PAUSE: Duration = Duration::from_micros(100);
/// Datagrams read per wake-up before other clients get a turn.
const READS_PER_WAKE: usize = 32;

/// What the server API shares with a client's task: its encoder, its two queues, and the
/// highest request id it sent (a response with a larger id makes a 2.1.5 client abort,
/// libqb-ipc.md 7.3, so the server refuses to send one).
pub(super) struct ClientLink {
    /// Builds this client's datagrams (its negotiated size, our threshold); its layout is
    /// set from the client's first request unless the configuration fixes it.
    pub encoder: Cell<Encoder>,
    /// Responses waiting to go out on the request/response socket.
    pub responses: Mailbox<Outgoing>,
    /// Events waiting to go out on the event socket.
    pub events: Mailbox<Outgoing>,
    /// Highest request id delivered to the daemon.
    pub last_request: Cell<u32>,
    /// Highest request id answered with a response.
    pub last_response: Cell<u32>,
}

/// Where the client's inbound side is.
enum Inbound {
    /// Reading datagrams.
    Reading,
    /// A compressed request being inflated, one bounded slice per turn of the loop.
    Inflating(Inflation),
    /// A whole request the daemon's full queue did not take yet, with its weight; no
    /// reading until it does.
    Held(IpcEvent, usize),
    /// The next datagram needs more of the shared budget than is free; it stays unread.
    Starved,
}

/// How a connection reads: its share of the shared budget and how much to inflate at once.
pub(super) struct Intake {
    /// This client's grant of the inflated-bytes budget.
    pub grant: Grant,
    /// Output of one decompression step.
    pub slice: usize,
    /// Header layout for every client, or `None`: from each client's first request.
    pub framing: Option<Framing>,
    /// Largest message text after decompression or reassembly.
    pub max_message: usize,
}

/// An established client and everything it owns. Dropping it tears the connection down.
pub(super) struct Conn {
    id: IpcClientId,
    who: String,
    est: Established,
    link: Rc<ClientLink>,
    daemon: Mailbox<IpcEvent>,
    decoder: Decoder,
    grant: Grant,
    slice: usize,
    response: Channel,
    event: Channel,
    inbound: Inbound,
    /// The layout the configuration fixes, if it does.
    fixed: Option<Framing>,
    /// The first datagram was looked at for its layout.
    layout_seen: bool,
    /// Send the zero-length goodbye at drop: set unless the client left by itself.
    notify_close: bool,
}

enum Wake {
    Setup,
    Request,
    Inflate,
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
        intake: Intake,
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
            decoder: match intake.framing {
                Some(f) => Decoder::new(f, intake.max_message),
                None => Decoder::detecting(intake.max_message),
            },
            grant: intake.grant,
            slice: intake.slice.max(1),
            response,
            event,
            inbound: Inbound::Reading,
            fixed: intake.framing,
            layout_seen: false,
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
                    // Requests sent without waiting for a response also count (a tool that
                    // fires an update and quits), so this is routine: debug, not notice.
                    log::debug!(
                        "ipc: {} left before a response to its request {asked}",
                        self.who
                    );
                } else {
                    log::debug!("ipc: {} closed", self.who);
                }
            }
            other => crate::limited!(
                Source::LocalClient,
                log::Level::Warn,
                "ipc: closing {}: {other}",
                self.who
            ),
        }
        why
    }

    async fn step(&mut self) -> Result<(), CloseReason> {
        let now = Instant::now();
        self.offer_held();
        if matches!(self.inbound, Inbound::Starved) {
            self.inbound = Inbound::Reading;
            self.read_requests()?;
        }
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
                match self.inbound {
                    Inbound::Held(..) | Inbound::Starved => {
                        Timer::after(HOLD_RETRY).await;
                        Wake::Again
                    }
                    // Others get a turn between slices.
                    Inbound::Inflating(_) => {
                        Timer::after(INFLATE_PAUSE).await;
                        Wake::Inflate
                    }
                    Inbound::Reading => {
                        let _ = self.est.request.readable().await;
                        Wake::Request
                    }
                }
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
            Wake::Inflate => self.inflate(),
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
    /// never consulted), a few per wake-up, while the inbound side is free to take them.
    fn read_requests(&mut self) -> Result<(), CloseReason> {
        for _ in 0..READS_PER_WAKE {
            if !matches!(self.inbound, Inbound::Reading) {
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
            if sized.is_ok() && !self.reserve_for_next()? {
                self.inbound = Inbound::Starved;
                return Ok(());
            }
            // Allocate only for a datagram within the negotiated size.
            let mut buf = vec![0u8; if sized.is_ok() { len } else { 0 }];
            let sock = self.est.request.get_ref();
            let got = recv_datagram(sock, &mut buf)
                .map_err(|e| CloseReason::os("reading a request", &e))?;
            if let Some(c) = got.cred {
                if c.pid != self.est.cred.pid {
                    // Not our client (4.9): drop it and keep the connection.
                    crate::limited!(
                        Source::LocalClient,
                        log::Level::Warn,
                        "ipc: dropped a datagram from pid {} uid {} sent to {}",
                        c.pid,
                        c.uid,
                        self.who
                    );
                    self.release_to(self.decoder.pending());
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
            if !self.layout_seen {
                self.layout_seen = true;
                self.settle_layout(&buf);
            }
            match self.decoder.feed(&buf) {
                Ok(Decoded::Message(m)) => self.deliver(m),
                Ok(Decoded::Part) => {}
                Ok(Decoded::Inflate(job)) => self.inbound = Inbound::Inflating(job),
                // Oversized, corrupt or a bomb: the client is closed (a tool then reports
                // "Transport endpoint is not connected"; a reply would read as success to
                // attrd_updater, and async cibadmin would wait for its timeout).
                Err(e) => return Err(CloseReason::Protocol(ProtocolError::Pcmk(e))),
            }
        }
        Ok(())
    }

    /// The client's first request says which header layout its Pacemaker library writes
    /// (libqb-ipc.md 7.2): responses and events to it use the same from now on. A fixed
    /// layout stays, with a warning when the request says otherwise; a request that fits
    /// neither is read as 2.x (the decoder then judges it).
    fn settle_layout(&mut self, datagram: &[u8]) {
        let found = pcmk::detect(datagram);
        let name = |f: Framing| match f {
            Framing::Pacemaker2 => "2.x (Pacemaker up to 3.0.0)",
            Framing::Pacemaker3 => "3.0.1+",
        };
        match (self.fixed, found) {
            (Some(fixed), Some(found)) if fixed != found => crate::limited!(
                Source::LocalClient,
                log::Level::Warn,
                "ipc: {} sends the {} IPC header, but PCMK_remoted_ipc_framing fixes {}; \
                 unset it to serve each client in its own",
                self.who,
                name(found),
                name(fixed)
            ),
            (Some(_), _) => {}
            (None, Some(found)) => {
                log::debug!("ipc: {} speaks the {} IPC header", self.who, name(found));
                let enc = self.link.encoder.get();
                self.link.encoder.set(enc.with_framing(found));
            }
            (None, None) => crate::limited!(
                Source::LocalClient,
                log::Level::Warn,
                "ipc: the first request of {} fits neither Pacemaker IPC header; reading it \
                 as 2.x",
                self.who
            ),
        }
    }

    /// Makes sure the grant covers what the next datagram will make this client hold
    /// (libqb-ipc.md 7.4, 7.5: inflated or reassembled text), reading its header without
    /// taking it. `Ok(false)`: the budget is busy; leave the datagram queued and wait.
    fn reserve_for_next(&mut self) -> Result<bool, CloseReason> {
        let mut head = [0u8; pcmk::HEADER_LEN];
        let n = match peek_datagram(self.est.request.get_ref(), &mut head) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) => return Err(CloseReason::os("reading a request", &e)),
        };
        let need = self
            .decoder
            .demand(&head[..n], IPC_INFLATER_STATE_BYTES)
            .max(self.decoder.pending());
        if need <= self.grant.bytes() {
            return Ok(true);
        }
        match self.grant.resize(need) {
            Ok(()) => Ok(true),
            Err(Short::Busy) => {
                log::debug!(
                    "ipc: {} waits for {need} bytes of the shared inflation budget",
                    self.who
                );
                Ok(false)
            }
            // More than a uid may ever hold: let the decoder refuse it (the configuration
            // keeps the largest message within a share, so this is not expected).
            Err(Short::Never) => Ok(true),
        }
    }

    /// Gives back all of the grant above `bytes`.
    fn release_to(&mut self, bytes: usize) {
        if bytes < self.grant.bytes() {
            let _ = self.grant.resize(bytes);
        }
    }

    /// One slice of the compressed request in progress; then others get a turn.
    fn inflate(&mut self) -> Result<(), CloseReason> {
        let Inbound::Inflating(job) = &mut self.inbound else {
            return Ok(());
        };
        match job.step(self.slice) {
            Ok(None) => Ok(()),
            Ok(Some(m)) => {
                self.inbound = Inbound::Reading;
                self.deliver(m);
                Ok(())
            }
            // A bomb stops one byte past its claim; the client is closed, as for any
            // malformed message.
            Err(e) => Err(CloseReason::Protocol(ProtocolError::Pcmk(e))),
        }
    }

    /// A whole request: held for the daemon, keeping (at most) its own size of the grant.
    fn deliver(&mut self, m: Message) {
        let weight = m.xml.len();
        self.release_to(weight);
        self.link
            .last_request
            .set(self.link.last_request.get().max(m.id));
        self.inbound = Inbound::Held(
            IpcEvent::Request {
                client: self.id,
                id: m.id,
                flags: m.flags,
                xml: m.xml,
            },
            weight,
        );
        self.offer_held();
    }

    /// Hands the held request to the daemon if its queue has room now; otherwise keeps it
    /// (and this client unread) for the next try.
    fn offer_held(&mut self) {
        let Inbound::Held(_, weight) = self.inbound else {
            return;
        };
        if !self.daemon.fits(weight) {
            log::debug!(
                "ipc: daemon queue full ({} bytes queued); holding a request from {}",
                self.daemon.weight(),
                self.who
            );
            return;
        }
        if let Inbound::Held(ev, weight) = std::mem::replace(&mut self.inbound, Inbound::Reading) {
            // Cannot be refused: `fits` said so, and nothing ran in between.
            let _ = self.daemon.push(ev, weight);
        }
        self.release_to(self.decoder.pending());
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
