//! One outbound channel of a client (response or event): connect on first send with a timed
//! retry, send queued datagrams in order, and the zero-length goodbye (libqb-ipc.md 4.2,
//! 4.7, 4.10).
//!
//! In: our datagram socket, the client's socket name and the channel's queue. Out: progress
//! (idle, blocked, retry at) for the connection's loop to wait on. Never sleeps or blocks.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::future;

use super::error::CloseReason;
use super::paths::abstract_name;
use crate::mailbox::Mailbox;

/// libqb retries connect-on-first-send 10 times, 100 ms apart (4.2); so do we, on a timer.
const CONNECT_ATTEMPTS: u32 = 10;
const CONNECT_RETRY: Duration = Duration::from_millis(100);

/// One message for a client: the datagrams that carry it, sent in order.
pub(super) type Outgoing = Vec<Vec<u8>>;

/// Connect-on-first-send state of one of our sockets (4.2): the client binds its end only
/// after reading our reply, so we connect when there is first something to send.
enum Link {
    /// Not connected yet; the next attempt is due at `retry_at`.
    Unconnected { failures: u32, retry_at: Instant },
    /// Connected: from now on the kernel accepts datagrams only from the client's socket.
    Connected,
}

/// One outbound channel: our socket's connection to the client's, and the message in flight.
pub(super) struct Channel {
    name: &'static str,
    peer: Option<SocketAddr>,
    link: Link,
    /// The message in flight and the index of its next datagram.
    pub(super) current: Option<(Outgoing, usize)>,
}

/// Where a channel stands after sending what it could.
pub(super) enum Progress {
    /// Nothing left to send.
    Idle,
    /// The socket would block; wait until it is writable.
    Blocked,
    /// The client's socket is not there yet; try to connect again then.
    RetryAt(Instant),
}

impl Channel {
    /// A channel named `name` (for logs) towards the client's socket `peer`.
    pub(super) fn new(name: &'static str, peer: &str) -> Self {
        let peer = abstract_name(peer)
            .ok()
            .and_then(|n| SocketAddr::from_abstract_name(n).ok());
        Channel {
            name,
            peer,
            link: Link::Unconnected {
                failures: 0,
                retry_at: Instant::now(),
            },
            current: None,
        }
    }

    /// Connects our socket to the client's on first use (4.2). `Ok(false)`: try later.
    fn connect(&mut self, sock: &UnixDatagram, now: Instant) -> Result<bool, CloseReason> {
        let Link::Unconnected { failures, retry_at } = &mut self.link else {
            return Ok(true);
        };
        if now < *retry_at {
            return Ok(false);
        }
        let res = match &self.peer {
            Some(p) => sock.connect_addr(p),
            None => Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG)),
        };
        match res {
            Ok(()) => {
                self.link = Link::Connected;
                Ok(true)
            }
            Err(e) => {
                *failures += 1;
                if *failures >= CONNECT_ATTEMPTS {
                    return Err(CloseReason::ConnectFailed {
                        channel: self.name,
                        errno: e.raw_os_error().unwrap_or(0),
                    });
                }
                *retry_at = now + CONNECT_RETRY;
                Ok(false)
            }
        }
    }

    /// Sends queued datagrams until the queue is empty or the socket would block.
    pub(super) fn pump(
        &mut self,
        sock: &UnixDatagram,
        queue: &Mailbox<Outgoing>,
        now: Instant,
    ) -> Result<Progress, CloseReason> {
        loop {
            if self.current.is_none() {
                match queue.try_recv() {
                    Some(m) => self.current = Some((m, 0)),
                    None => return Ok(Progress::Idle),
                }
            }
            if !self.connect(sock, now)? {
                if let Link::Unconnected { retry_at, .. } = self.link {
                    return Ok(Progress::RetryAt(retry_at));
                }
            }
            let Some((parts, next)) = self.current.as_mut() else {
                continue;
            };
            let Some(part) = parts.get(*next) else {
                self.current = None;
                continue;
            };
            match sock.send(part) {
                Ok(_) => *next += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Blocked),
                Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                    // Our buffers are sized to the negotiated size, so this is our bug or a
                    // refused SO_SNDBUFFORCE; drop the message rather than the client.
                    log::error!(
                        "ipc: {}-byte {} datagram too large for the socket; message dropped",
                        part.len(),
                        self.name
                    );
                    self.current = None;
                }
                // The client's socket is gone: the client is, or soon will be.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ECONNREFUSED | libc::ECONNRESET | libc::ENOTCONN | libc::EPIPE)
                    ) =>
                {
                    return Err(CloseReason::ClientClosed)
                }
                Err(e) => return Err(CloseReason::os("sending to the client", &e)),
            }
        }
    }

    /// Best effort at teardown: what can go out now, then a zero-length datagram, which a
    /// client reads as "disconnected" (4.10). Never waits.
    pub(super) fn goodbye(&mut self, sock: &UnixDatagram, queue: &Mailbox<Outgoing>) {
        let now = Instant::now();
        if let Link::Unconnected { retry_at, .. } = &mut self.link {
            *retry_at = now;
        }
        if !matches!(self.pump(sock, queue, now), Ok(Progress::Idle)) {
            return;
        }
        if matches!(self.connect(sock, now), Ok(true)) {
            let _ = sock.send(&[]);
        }
    }
}

/// Waits until a channel can make progress: a new message (returned, to become the one in
/// flight), a writable socket, or the time for the next connect attempt.
pub(super) async fn wait_out(
    progress: Progress,
    sock: &Async<UnixDatagram>,
    queue: &Mailbox<Outgoing>,
) -> Option<Outgoing> {
    match progress {
        Progress::Idle => match queue.recv().await {
            Some(m) => Some(m),
            // Our queues are never closed; should one be, there is nothing more to wait for.
            None => future::pending().await,
        },
        Progress::Blocked => {
            let _ = sock.writable().await;
            None
        }
        Progress::RetryAt(at) => {
            Timer::at(at).await;
            None
        }
    }
}
