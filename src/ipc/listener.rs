//! Publishing one service name: an abstract listener padded as libqb expects, or a
//! filesystem socket when libqb is forced to use them (libqb-ipc.md 3.1), and the accept loop.
//!
//! In: a service name and the socket mode. Out: a listening socket, and accepted setup
//! sockets handed to the server. Never takes over a name another process still serves.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_io::{Async, Timer};

use super::config::SocketMode;
use super::error::StartError;
use super::paths::abstract_name;

/// After a failed accept (out of descriptors and the like) wait this long instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One published name; a filesystem socket is removed again when this drops.
pub(super) struct Published {
    pub listener: Async<UnixListener>,
    path: Option<PathBuf>,
}

impl Published {
    /// Publishes `service`. A name already in use fails with `NameTaken`.
    pub(super) fn new(service: &'static str, mode: &SocketMode) -> Result<Self, StartError> {
        let fail = |source: io::Error| match source.kind() {
            io::ErrorKind::AddrInUse => StartError::NameTaken { service },
            _ => StartError::Publish { service, source },
        };
        let (listener, path) = match mode {
            SocketMode::Filesystem(dir) => {
                let path = dir.join(service);
                (bind_path(&path).map_err(fail)?, Some(path))
            }
            SocketMode::Abstract | SocketMode::Detect => {
                // The full 110-byte address: the name NUL-padded, as libqb binds it.
                let name = abstract_name(service)
                    .map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
                let addr = SocketAddr::from_abstract_name(name).map_err(fail)?;
                (UnixListener::bind_addr(&addr).map_err(fail)?, None)
            }
        };
        // From here on `Published` owns the file, so an error below still removes it.
        let mut p = Published {
            listener: Async::new(listener).map_err(fail)?,
            path: None,
        };
        p.path = path;
        Ok(p)
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A filesystem listener, mode 0777 like libqb's. libqb replaces any old file; we first check
/// that nobody still accepts on it, so a running cluster's socket is never stolen.
fn bind_path(path: &Path) -> io::Result<UnixListener> {
    match UnixStream::connect(path) {
        Ok(_) => return Err(io::ErrorKind::AddrInUse.into()),
        // Nothing listens there (a stale socket) or there is no file: ours to take.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) => {}
        Err(e) => return Err(e),
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))?;
    Ok(l)
}

/// Accepts on `l` for as long as `admit` wants more (it returns false once the server is
/// gone).
pub(super) async fn accept_loop(
    service: &'static str,
    l: &Async<UnixListener>,
    mut admit: impl FnMut(Async<UnixStream>) -> bool,
) {
    loop {
        match l.accept().await {
            Ok((stream, _)) => {
                if !admit(stream) {
                    return;
                }
            }
            Err(e) => {
                log::warn!("ipc: accepting on {service}: {e}");
                Timer::after(ACCEPT_BACKOFF).await;
            }
        }
    }
}
