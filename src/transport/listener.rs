//! The TCP listener: where we bind, and how accepted sockets reach connection tasks.
//!
//! In: the configured address and port. Out: accepted streams, each handed to
//! `connection::serve` on our one thread, unless the connection cap is reached (then the
//! socket is closed at once and logged, so it cannot hold the kernel's backlog).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use log::{debug, error, warn};

use crate::connection::{self, Hub};
use crate::limits::LISTEN_BACKLOG;

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

/// Accepts connections until the task is dropped (which closes the listener).
pub async fn accept_loop(
    hub: Rc<Hub>,
    listener: Async<TcpListener>,
    ex: Rc<LocalExecutor<'static>>,
) {
    let mut refusals = RefusalLog::default();
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                if hub.open_connections() >= hub.limits.max_connections {
                    refusals.note(peer, hub.open_connections(), hub.limits.max_connections);
                    drop(tcp);
                    continue;
                }
                let open = connection::OpenGuard::new(&hub);
                ex.spawn(connection::serve(hub.clone(), tcp, peer, open))
                    .detach();
            }
            Err(e) => {
                // Out of descriptors or memory: wait a little rather than spin.
                error!("accept failed: {e}");
                if e.kind() != io::ErrorKind::Interrupted {
                    Timer::after(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Logs refused connections at most once a second, so a flood does not flood the log.
#[derive(Default)]
struct RefusalLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl RefusalLog {
    fn note(&mut self, peer: std::net::SocketAddr, open: usize, max: usize) {
        debug!("refused connection from {peer} (max_connections)");
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        let also = match self.unlogged {
            0 => String::new(),
            n => format!("; {n} more refused since the last message"),
        };
        warn!("refusing connection from {peer}: {open} connections open, limit {max} (max_connections){also}");
        self.last = Some(now);
        self.unlogged = 0;
    }
}
