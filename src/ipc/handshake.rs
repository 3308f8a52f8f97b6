//! One client's setup: read the 24-byte handshake under a deadline, learn who the client is,
//! ask the acceptor, create the files and our two datagram sockets, then reply in one write
//! (libqb-ipc.md 3.5, steps 1 to 7).
//!
//! In: an accepted setup socket. Out: an `Established` connection, or a refusal already sent.
//! Never replies before every file and socket the client will open exists.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixStream};
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt};

use super::client::{Acceptor, Cred};
use super::config::IpcConfig;
use super::files::{ConnFiles, Gate};
use super::paths::{abstract_name, suffix_from, ConnNumbers, ConnPaths, DgramSuffix};
use super::qb;
use crate::sys::ipc_socket::{enable_passcred, raise_buffers, send_nosignal};

/// Who we are and who the cluster users are, looked up once at start.
#[derive(Debug, Clone, Copy)]
pub(super) struct Identities {
    /// Our effective uid; 0 lets us force socket buffer sizes and chown.
    pub euid: u32,
    /// hacluster's uid: its clients count as privileged.
    pub hacluster_uid: Option<u32>,
    /// hacluster's primary group (`haclient`): non-root clients need it.
    pub haclient_gid: Option<u32>,
}

/// A client that completed the handshake, with everything its connection owns.
pub(super) struct Established {
    /// Kept open for the life of the connection: it is the liveness channel (3.5 step 8).
    pub setup: Async<UnixStream>,
    /// B-request: requests in, responses out once connected to B-response.
    pub request: Async<UnixDatagram>,
    /// B-event-tx: events out once connected to B-event.
    pub event: Async<UnixDatagram>,
    /// The connection's names (datagram sockets of the client derive from them).
    pub paths: ConnPaths,
    /// Held for its drop, which removes the directory after the sockets are closed.
    pub _files: ConnFiles,
    /// The size agreed in the handshake: no datagram either way may exceed it.
    pub negotiated: usize,
    /// The client, from SO_PEERCRED at accept.
    pub cred: Cred,
}

/// Why a handshake ended without a connection.
#[derive(Debug)]
pub(super) enum HandshakeError {
    /// The 24 bytes did not arrive in time.
    Timeout(Duration),
    /// The client closed or the socket failed while reading.
    Read(io::Error),
    /// The 24 bytes were not a libqb handshake.
    Protocol(qb::QbError),
    /// Refused with this negative errno (by the acceptor, or because set-up failed).
    Refused(i32),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Timeout(d) => write!(f, "no handshake within {d:?}"),
            HandshakeError::Read(e) => write!(f, "reading the handshake: {e}"),
            HandshakeError::Protocol(e) => write!(f, "bad handshake: {e}"),
            HandshakeError::Refused(code) => write!(
                f,
                "refused: {}",
                io::Error::from_raw_os_error(code.saturating_neg())
            ),
        }
    }
}

impl HandshakeError {
    /// How loudly to log it: a client's own mistakes and deadlines are warnings.
    pub(super) fn level(&self) -> log::Level {
        match self {
            HandshakeError::Timeout(_) | HandshakeError::Protocol(_) => log::Level::Warn,
            HandshakeError::Read(_) => log::Level::Info,
            // The acceptor already said why (a refused pacemakerd is routine for crm_mon).
            HandshakeError::Refused(_) => log::Level::Debug,
        }
    }
}

/// Runs the setup of one client, `cred`, on `service`.
pub(super) async fn handshake(
    setup: Async<UnixStream>,
    cred: Cred,
    service: &'static str,
    cfg: &IpcConfig,
    acceptor: &dyn Acceptor,
    ids: &Identities,
) -> Result<Established, HandshakeError> {
    let mut req = [0u8; qb::CONNECTION_REQUEST_LEN];
    let read = async {
        (&setup)
            .read_exact(&mut req)
            .await
            .map_err(HandshakeError::Read)
    };
    let deadline = async {
        Timer::after(cfg.handshake_timeout).await;
        Err(HandshakeError::Timeout(cfg.handshake_timeout))
    };
    future::or(read, deadline).await?;
    let wish = qb::decode_connection_request(&req)
        .map_err(HandshakeError::Protocol)?
        .max_msg_size;
    if let Err(code) = acceptor.accept(service, &cred) {
        // A 2.0.6 client waits for ever, so every refusal gets its reply (3.5 step 4).
        let code = match code {
            c if c < 0 => c,
            0 => -libc::EPERM,
            c => -c,
        };
        return Err(refuse(&setup, code).await);
    }
    let negotiated = cfg.negotiate(wish);
    let (paths, files, request, event) = match prepare(&setup, service, &cred, negotiated, ids) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("ipc: cannot set up files for {service} client {cred}: {e}");
            let code = -e.raw_os_error().unwrap_or(libc::EIO);
            return Err(refuse(&setup, code).await);
        }
    };
    let reply = qb::encode_connection_response(&qb::ConnectionResponse {
        error: 0,
        connection_type: qb::IPC_TYPE_SOCKET,
        max_msg_size: negotiated as u32,
        request: paths.control.clone(),
        response: paths.base.clone(),
    });
    // Names were checked against PATH_MAX at start (`check_service_name`).
    let reply = reply.map_err(|_| HandshakeError::Refused(-libc::ENAMETOOLONG))?;
    write_reply(&setup, &reply)
        .await
        .map_err(HandshakeError::Read)?;
    Ok(Established {
        setup,
        request,
        event,
        paths,
        _files: files,
        negotiated,
        cred,
    })
}

type Prepared = (
    ConnPaths,
    ConnFiles,
    Async<UnixDatagram>,
    Async<UnixDatagram>,
);

/// Step 6: directory, control file and our two datagram sockets, all before the reply.
fn prepare(
    setup: &Async<UnixStream>,
    service: &str,
    cred: &Cred,
    negotiated: usize,
    ids: &Identities,
) -> io::Result<Prepared> {
    let gate = if cred.uid == 0 {
        Gate::Owner {
            uid: cred.uid,
            gid: cred.gid,
        }
    } else {
        Gate::Group {
            gid: ids.haclient_gid,
        }
    };
    let random = RandomState::new();
    let mut attempt = 0u64;
    let (paths, files) = loop {
        let mut h = random.build_hasher();
        h.write_u64(attempt);
        let numbers = ConnNumbers {
            server_pid: std::process::id(),
            client_pid: cred.pid,
            setup_fd: setup.as_raw_fd(),
            suffix: suffix_from(h.finish()),
        };
        let paths = ConnPaths::new(&numbers, service)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        match ConnFiles::create(&paths, cred.uid, cred.gid, gate) {
            Ok(files) => break (paths, files),
            // Someone made that name first (/dev/shm is world-writable): pick another.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(e) => return Err(e),
        }
    };
    let force = ids.euid == 0;
    let request = bind_dgram(&paths, DgramSuffix::Request, negotiated, force)?;
    // Until the first response connects this socket, anyone could write to it; the kernel
    // then tells us each sender's pid (libqb-ipc.md 4.9).
    enable_passcred(&request)?;
    let event = bind_dgram(&paths, DgramSuffix::EventTx, negotiated, force)?;
    Ok((paths, files, Async::new(request)?, Async::new(event)?))
}

fn bind_dgram(
    paths: &ConnPaths,
    which: DgramSuffix,
    negotiated: usize,
    force: bool,
) -> io::Result<UnixDatagram> {
    let name = abstract_name(&paths.dgram(which))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let sock = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name)?)?;
    raise_buffers(&sock, negotiated, force)?;
    Ok(sock)
}

/// Sends a refusal (every field zero but the error) and reports it.
async fn refuse(setup: &Async<UnixStream>, code: i32) -> HandshakeError {
    if let Err(e) = write_reply(setup, &qb::encode_refusal(code)).await {
        log::debug!("ipc: refusal not delivered: {e}");
    }
    HandshakeError::Refused(code)
}

/// Writes the 12328-byte reply. A fresh stream socket takes it in one write, which a libqb
/// 2.0.6 client needs (it fails on a short read); a short write is finished anyway for
/// later clients, and logged.
async fn write_reply(setup: &Async<UnixStream>, reply: &[u8]) -> io::Result<()> {
    let mut sent = 0;
    let mut pieces = 0;
    while sent < reply.len() {
        match send_nosignal(setup, &reply[sent..]) {
            Ok(n) => {
                sent += n;
                pieces += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let wait = async {
                    setup.writable().await?;
                    Ok(())
                };
                let limit = async {
                    Timer::after(Duration::from_secs(1)).await;
                    Err(io::Error::from(io::ErrorKind::TimedOut))
                };
                future::or(wait, limit).await?;
            }
            Err(e) => return Err(e),
        }
    }
    if pieces > 1 {
        log::warn!("ipc: handshake reply went out in {pieces} pieces; libqb 2.0.6 clients fail");
    }
    Ok(())
}
