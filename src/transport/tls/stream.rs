//! An async stream over any `AsyncRead + AsyncWrite` (an `Async<TcpStream>` in the daemon)
//! that drives a `Connection`.
//!
//! In: socket bytes and application records. Out: plaintext and records on the socket.
//! `read` is cancellation-safe: bytes taken from the socket are fed to the connection before
//! the next await, and output is only dropped from the queue once written. Deadlines are the
//! caller's job (the handshake deadline, `handshake_timeout_ms`, is kept by the task that
//! serves the connection, not by the listener). Never coalesces records.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::Arc;

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
use super::config::ClientConfig;
use super::config::{Negotiated, ServerConfig};
use super::connection::Connection;
use super::error::{Error, PeerAborted};
use super::record::MAX_FRAGMENT_LEN;

/// Output we let pile up inside `write_records` before writing it out.
const FLUSH_THRESHOLD: usize = 4 * MAX_FRAGMENT_LEN;

/// Why `accept` or `connect` failed.
#[derive(Debug)]
pub enum HandshakeError {
    /// The TLS exchange failed; our alert, if any, has been written.
    Tls(Error),
    /// The socket failed.
    Io(io::Error),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tls(err) => write!(f, "tls handshake failed: {err}"),
            Self::Io(err) => write!(f, "tls handshake failed: socket error: {err}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// A TLS connection on top of an async byte stream.
pub struct TlsStream<IO> {
    io: IO,
    conn: Connection,
    read_buf: Vec<u8>,
    eof: bool,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsStream<IO> {
    /// Runs the server handshake on `io`.
    pub async fn accept(io: IO, cfg: Arc<ServerConfig>) -> Result<Self, HandshakeError> {
        Self::accept_noting(io, cfg, &Cell::new(false)).await
    }

    /// Runs the server handshake on `io`, setting `proved` as soon as the client has shown
    /// it holds the key (its binder verified), before the handshake completes.
    pub async fn accept_noting(
        io: IO,
        cfg: Arc<ServerConfig>,
        proved: &Cell<bool>,
    ) -> Result<Self, HandshakeError> {
        let mut stream = Self::new(io, Connection::new_server(cfg));
        stream.handshake(proved).await?;
        Ok(stream)
    }

    /// Runs the client handshake on `io`.
    #[cfg(any(feature = "client-tools", feature = "_test-support", test))]
    pub async fn connect(io: IO, cfg: Arc<ClientConfig>) -> Result<Self, HandshakeError> {
        let mut stream = Self::new(io, Connection::new_client(cfg));
        stream.handshake(&Cell::new(false)).await?;
        Ok(stream)
    }

    fn new(io: IO, conn: Connection) -> Self {
        Self {
            io,
            conn,
            read_buf: vec![0; MAX_FRAGMENT_LEN],
            eof: false,
        }
    }

    async fn handshake(&mut self, proved: &Cell<bool>) -> Result<(), HandshakeError> {
        // Each turn writes pending output or reads at least one byte; the caller's deadline
        // bounds the number of turns.
        loop {
            if let Err(err) = self.conn.process() {
                self.write_alert().await;
                return Err(HandshakeError::Tls(err));
            }
            if self.conn.peer_proved_key() {
                proved.set(true);
            }
            self.flush().await.map_err(HandshakeError::Io)?;
            if !self.conn.is_handshaking() {
                return Ok(());
            }
            if self.fill().await.map_err(HandshakeError::Io)? == 0 {
                let err = self
                    .conn
                    .read_eof()
                    .err()
                    .unwrap_or(Error::PeerAborted(PeerAborted::ClosedMidHandshake));
                return Err(HandshakeError::Tls(err));
            }
        }
    }

    /// Reads decrypted application data; `Ok(0)` after close_notify or end of stream.
    ///
    /// Cancellation-safe: dropping the future loses no data.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // Each turn delivers data, ends the stream, or reads more bytes from the socket.
        loop {
            let available = self.conn.plaintext();
            if !available.is_empty() {
                let n = available.len().min(buf.len());
                buf[..n].copy_from_slice(&available[..n]);
                self.conn.consume_plaintext(n);
                return Ok(n);
            }
            if self.conn.peer_closed() || self.eof {
                return Ok(0);
            }
            if let Err(err) = self.conn.process() {
                self.write_alert().await;
                return Err(to_io(err));
            }
            if !self.conn.plaintext().is_empty() || self.conn.peer_closed() {
                continue;
            }
            // Answers to a KeyUpdate request go out here.
            self.flush().await?;
            if self.fill().await? == 0 {
                self.eof = true;
                self.conn.read_eof().map_err(to_io)?;
            }
        }
    }

    /// Sends each slice as its own record(s): slices over one record's capacity are split,
    /// and no two slices ever share a record (protocol.md §6.6). Then writes everything out.
    pub async fn write_records(&mut self, records: &[&[u8]]) -> io::Result<()> {
        let max = self.conn.max_record_payload().max(1);
        for record in records {
            for chunk in record.chunks(max) {
                self.conn.send_record(chunk).map_err(to_io)?;
                if self.conn.outgoing().len() >= FLUSH_THRESHOLD {
                    self.flush().await?;
                }
            }
        }
        self.flush().await
    }

    /// Sends close_notify and writes out everything queued.
    pub async fn close(&mut self) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush().await
    }

    /// What the handshake agreed on.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.conn.negotiated()
    }

    /// The sans-I/O connection, for statistics such as `key_updates()`.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The underlying stream, for socket options.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The underlying stream, mutably.
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// The sans-I/O connection, e.g. to request a KeyUpdate.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Reads once from the socket and hands every byte to the connection before returning.
    async fn fill(&mut self) -> io::Result<usize> {
        let room = self.conn.read_capacity().min(self.read_buf.len());
        if room == 0 {
            // process() empties the input unless plaintext is waiting, and callers deliver
            // plaintext before they come here.
            return Err(io::Error::other("tls input buffer full"));
        }
        let n = self.io.read(&mut self.read_buf[..room]).await?;
        let taken = self.conn.read_tls(&self.read_buf[..n]).map_err(to_io)?;
        debug_assert_eq!(taken, n);
        Ok(n)
    }

    async fn flush(&mut self) -> io::Result<()> {
        // Each turn writes at least one byte or fails.
        while !self.conn.outgoing().is_empty() {
            let n = self.io.write(self.conn.outgoing()).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.conn.consume_outgoing(n);
        }
        self.io.flush().await
    }

    /// Best effort: the peer may already be gone.
    async fn write_alert(&mut self) {
        if let Err(err) = self.flush().await {
            crate::limited!(
                crate::logging::Source::KeylessPeer,
                log::Level::Debug,
                "tls: could not send alert: {err}"
            );
        }
    }
}

fn to_io(err: Error) -> io::Error {
    let kind = match err {
        Error::PeerAborted(PeerAborted::ClosedMidHandshake) => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, err)
}
