//! A minimal executor-protocol client over TLS-PSK: what `check`, `demo` and the tests use to
//! talk to a daemon the way a cluster node does.
//!
//! In: an address, a key and requests as XML. Out: replies matched by message id, with the
//! notifications that arrived meanwhile kept in order. Frames go out as the C client sends
//! them (header record, then payload records).

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use async_io::Async;
use zeroize::Zeroizing;

use crate::proto::names::{attr, msg_type};
use crate::proto::xml::{self, Element};
use crate::transport::tls::{self, HandshakeError, TlsStream};
use crate::wire::{self, Deframer};

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The TCP connection could not be made.
    Connect(io::Error),
    /// The TLS handshake failed.
    Handshake(HandshakeError),
    /// Reading or writing failed after the handshake.
    Io(io::Error),
    /// The peer closed the connection.
    Closed,
    /// The peer sent something we cannot read.
    Protocol(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Connect(e) => write!(f, "cannot connect: {e}"),
            ClientError::Handshake(e) => {
                write!(f, "{}", crate::transport::explain::client_failure(e))
            }
            ClientError::Io(e) => write!(f, "connection failed: {e}"),
            ClientError::Closed => write!(f, "the peer closed the connection"),
            ClientError::Protocol(why) => write!(f, "protocol error: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// One signed-on or signing-on connection to a daemon.
pub struct Client {
    stream: TlsStream<Async<TcpStream>>,
    deframer: Deframer,
    notifications: VecDeque<Element>,
    inbox: VecDeque<Element>,
    next_msg_id: u64,
    buf: Vec<u8>,
}

impl Client {
    /// Connects and completes the TLS handshake with identity `lrmd` and `key`.
    pub async fn connect(addr: SocketAddr, key: Zeroizing<Vec<u8>>) -> Result<Client, ClientError> {
        let tcp = Async::<TcpStream>::connect(addr)
            .await
            .map_err(ClientError::Connect)?;
        Self::handshake(
            tcp,
            Arc::new(tls::ClientConfig::new(tls::PACEMAKER_IDENTITY, key)),
        )
        .await
    }

    /// Completes the handshake on an open TCP connection with `cfg`.
    pub async fn handshake(
        tcp: Async<TcpStream>,
        cfg: Arc<tls::ClientConfig>,
    ) -> Result<Client, ClientError> {
        let _ = tcp.get_ref().set_nodelay(true);
        let stream = TlsStream::connect(tcp, cfg)
            .await
            .map_err(ClientError::Handshake)?;
        Ok(Client {
            stream,
            deframer: Deframer::new(crate::limits::Limits::default().max_message_bytes),
            notifications: VecDeque::new(),
            inbox: VecDeque::new(),
            next_msg_id: 1,
            buf: vec![0u8; 16 * 1024],
        })
    }

    /// What the handshake agreed on.
    pub fn negotiated(&self) -> Option<tls::Negotiated> {
        self.stream.negotiated()
    }

    /// Sends `request` with the next message id and waits for its reply; notifications that
    /// arrive first are kept for [`next_notification`](Self::next_notification).
    pub async fn request(&mut self, mut request: Element) -> Result<Element, ClientError> {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        request.set_attr(attr::REMOTE_MSG_ID, id);
        request.set_attr(attr::REMOTE_MSG_TYPE, msg_type::REQUEST);
        self.send(&request).await?;
        let id_text = id.to_string();
        // Bounded by the caller's deadline: a peer that never answers is cut off there.
        loop {
            let msg = self.receive().await?;
            if msg.attr(attr::REMOTE_MSG_TYPE) == Some(msg_type::REPLY) {
                if msg.attr(attr::REMOTE_MSG_ID) == Some(id_text.as_str()) {
                    return Ok(msg);
                }
                continue;
            }
            self.notifications.push_back(msg);
        }
    }

    /// Sends a message as it is, with no reply expected.
    pub async fn send(&mut self, message: &Element) -> Result<(), ClientError> {
        let mut text = Vec::new();
        xml::write(message, &mut text);
        let (header, payload) = wire::deframer::encode(wire::next_frame_id(), &text);
        self.send_records(&[&header, &payload]).await
    }

    /// Sends raw bytes, each slice as its own TLS record(s); for tests that play a broken peer.
    pub async fn send_records(&mut self, records: &[&[u8]]) -> Result<(), ClientError> {
        self.stream
            .write_records(records)
            .await
            .map_err(ClientError::Io)
    }

    /// The next notification, waiting for one if none is queued.
    pub async fn next_notification(&mut self) -> Result<Element, ClientError> {
        if let Some(n) = self.notifications.pop_front() {
            return Ok(n);
        }
        loop {
            let msg = self.receive().await?;
            if msg.attr(attr::REMOTE_MSG_TYPE) != Some(msg_type::REPLY) {
                return Ok(msg);
            }
        }
    }

    /// The next message of any kind.
    pub async fn receive(&mut self) -> Result<Element, ClientError> {
        // Each pass either returns a queued message or reads more bytes; a silent peer is
        // the caller's deadline to handle.
        loop {
            if let Some(msg) = self.inbox.pop_front() {
                return Ok(msg);
            }
            let n = self
                .stream
                .read(&mut self.buf)
                .await
                .map_err(ClientError::Io)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            let mut input = &self.buf[..n];
            while !input.is_empty() {
                let (used, frame) = self
                    .deframer
                    .feed(input)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                input = &input[used..];
                if let Some(f) = frame {
                    self.inbox.push_back(parse(&f.payload)?);
                }
            }
        }
    }

    /// Sends close_notify.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.stream.close().await.map_err(ClientError::Io)
    }
}

fn parse(payload: &[u8]) -> Result<Element, ClientError> {
    xml::parse(payload, &xml::Limits::default())
        .map_err(|e| ClientError::Protocol(format!("invalid XML: {e}")))
}
