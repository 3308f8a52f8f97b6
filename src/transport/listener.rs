//! The TCP listener: where we bind, and how accepted sockets are let in or turned away.
//!
//! In: the configured address and port. Out: accepted streams, each handed to the caller's
//! callback with its place in the budgets ([`admission`]), or turned away at once with a
//! `user_canceled` alert and a rate-limited log line, so a refused connection never holds the
//! kernel's backlog. It knows nothing of what serves a connection. Every log line here is
//! about someone who has not proved the key, so every one is rate-limited.
//!
//! [`admission`]: super::admission

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

use async_io::{Async, Timer};
use log::Level;

use super::admission::{Admission, Admitted, Budgets, SourceKey, Ticket};
use super::explain;
use crate::limits::LISTEN_BACKLOG;
use crate::logging::Source;

/// Binds as the original does: every IPv6 result first, then every IPv4 result, keeping the
/// first that binds; with no address, `[::]` (dual-stack), then `0.0.0.0` on IPv4-only hosts.
pub fn bind(address: Option<&str>, port: u16) -> Result<TcpListener, String> {
    let candidates: Vec<SocketAddr> = match address {
        None => vec![
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        ],
        Some(name) => {
            let mut all: Vec<SocketAddr> = (name, port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve listen address '{name}': {e}"))?
                .collect();
            all.sort_by_key(|a| a.is_ipv4());
            all
        }
    };
    let mut errors = Vec::new();
    for addr in &candidates {
        match crate::sys::socket::bind_listener(addr, LISTEN_BACKLOG) {
            Ok(l) => return Ok(l),
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    Err(format!(
        "cannot listen on port {port}: {}",
        errors.join("; ")
    ))
}

/// Accepts connections until the task is dropped (which closes the listener). Each one is
/// let in as a pending handshake (maybe dropping an older keyless one to make room) and handed
/// to `serve` with its ticket, or turned away at once, by the `budgets` of [`admission`].
/// `serve` must return at once (it starts the connection's task; it does not run it).
pub async fn accept_loop(
    listener: Async<TcpListener>,
    budgets: Budgets,
    mut serve: impl FnMut(Async<TcpStream>, SocketAddr, Ticket),
) {
    let table = Admission::new(budgets);
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => match Admission::admit(&table, SourceKey::of(peer)) {
                Admitted::Refused(why) => {
                    crate::limited!(
                        Source::KeylessPeer,
                        Level::Warn,
                        "refusing connection from {}: {why}",
                        display_peer(peer)
                    );
                    explain::refuse_busy(tcp.get_ref());
                }
                Admitted::In { ticket, dropped } => {
                    if dropped {
                        let max = table.borrow().budgets().pending;
                        crate::limited!(
                            Source::KeylessPeer,
                            Level::Warn,
                            "{max} handshakes in progress, the limit (max_pending_handshakes): \
                             dropping the oldest one without the key to let {} in",
                            display_peer(peer)
                        );
                    }
                    serve(tcp, peer, ticket);
                }
            },
            Err(e) => {
                // Out of descriptors or memory: wait a little rather than spin. A flood can
                // bring this about, so it is limited with the flood's own lines.
                crate::limited!(Source::KeylessPeer, Level::Error, "accept failed: {e}");
                if e.kind() != io::ErrorKind::Interrupted {
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Shows IPv4 peers of the dual-stack listener as plain IPv4.
pub fn display_peer(peer: SocketAddr) -> String {
    match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{}", v6.port()),
            None => peer.to_string(),
        },
        SocketAddr::V4(_) => peer.to_string(),
    }
}
