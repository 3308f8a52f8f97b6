//! A TCP socket that remembers when the peer last took bytes from us.
//!
//! In: an accepted socket. Out: the same socket as `AsyncRead + AsyncWrite`, plus the time of
//! the last write that made progress. The write deadline counts time without progress, not
//! the time a whole frame takes, so a slow reader that keeps reading is never cut off while
//! one that stopped reading is (README "Limits", `write_timeout_ms`).

use std::cell::Cell;
use std::io;
use std::net::TcpStream;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Async;
use futures_lite::io::{AsyncRead, AsyncWrite};

/// A borrowed socket and the time it last wrote at least one byte.
pub struct Watched<'a> {
    io: &'a Async<TcpStream>,
    progress: Cell<Instant>,
}

impl<'a> Watched<'a> {
    /// Watches `io`; progress counts from now.
    pub fn new(io: &'a Async<TcpStream>) -> Self {
        Watched {
            io,
            progress: Cell::new(Instant::now()),
        }
    }

    /// Restarts the count, when a write begins after an idle time that must not count.
    pub fn mark_progress(&self) {
        self.progress.set(Instant::now());
    }

    /// When a write last took bytes (or [`mark_progress`](Self::mark_progress) was called).
    pub fn last_progress(&self) -> Instant {
        self.progress.get()
    }

    /// The socket, for socket options.
    pub fn get_ref(&self) -> &TcpStream {
        self.io.get_ref()
    }
}

impl AsyncRead for &Watched<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut io = self.io;
        Pin::new(&mut io).poll_read(cx, buf)
    }
}

impl AsyncWrite for &Watched<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut io = self.io;
        let result = Pin::new(&mut io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            if *n > 0 {
                self.progress.set(Instant::now());
            }
        }
        result
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut io = self.io;
        Pin::new(&mut io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut io = self.io;
        Pin::new(&mut io).poll_close(cx)
    }
}
