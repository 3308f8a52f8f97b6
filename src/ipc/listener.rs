//! Publishing one service name: an abstract listener padded as libqb expects, or a
//! filesystem socket when libqb is forced to use them (libqb-ipc.md 3.1), and the accept loop.
//!
//! In: a service name and the socket mode. Out: a listening socket, and accepted setup
//! sockets handed to the server. Never takes over a name another process still serves, and
//! says who holds it when it can.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_io::{Async, Timer};

use super::config::SocketMode;
use super::error::StartError;
use super::paths::abstract_name;
use crate::sys::ipc_socket::{listener_cred, Ucred};

/// After a failed accept (out of descriptors and the like) wait this long instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One published name; a filesystem socket is removed again when this drops.
pub(super) struct Published {
    pub listener: Async<UnixListener>,
    path: Option<PathBuf>,
}

impl Published {
    /// Publishes `service`. A name already in use fails with `NameTaken`, naming its holder
    /// when the kernel or the file system can tell.
    pub(super) fn new(service: &'static str, mode: &SocketMode) -> Result<Self, StartError> {
        let fail = |source: io::Error| StartError::Publish { service, source };
        let (listener, path) = match mode {
            SocketMode::Filesystem(dir) => {
                let path = dir.join(service);
                match bind_path(&path) {
                    Ok(l) => (l, Some(path)),
                    Err(Bind::Taken(holder)) => {
                        return Err(StartError::NameTaken { service, holder })
                    }
                    Err(Bind::Failed(e)) => return Err(fail(e)),
                }
            }
            SocketMode::Abstract | SocketMode::Detect => {
                // The full 110-byte address: the name NUL-padded, as libqb binds it.
                let name = abstract_name(service)
                    .map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
                let addr = SocketAddr::from_abstract_name(name).map_err(fail)?;
                match UnixListener::bind_addr(&addr) {
                    Ok(l) => (l, None),
                    Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                        let mut sun_path = vec![0u8];
                        sun_path.extend_from_slice(&name);
                        let holder = listener_cred(&sun_path).ok();
                        return Err(StartError::NameTaken { service, holder });
                    }
                    Err(e) => return Err(fail(e)),
                }
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

/// Why a filesystem listener was not bound.
enum Bind {
    /// Someone else holds the path: a live listener (its process), or a file we may not
    /// remove (its owner, pid 0), or `None` if it vanished while we looked.
    Taken(Option<Ucred>),
    /// Anything else the system said.
    Failed(io::Error),
}

/// A filesystem listener, mode 0777 like libqb's. libqb replaces any old file; we first check
/// that nobody still accepts on it, so a running cluster's socket is never stolen, and a file
/// we cannot replace counts as taken by its owner.
fn bind_path(path: &Path) -> Result<UnixListener, Bind> {
    let owner = || {
        std::fs::symlink_metadata(path).ok().map(|m| Ucred {
            pid: 0,
            uid: m.uid(),
            gid: m.gid(),
        })
    };
    let mut sun_path = path.as_os_str().as_bytes().to_vec();
    sun_path.push(0);
    match listener_cred(&sun_path) {
        Ok(c) => return Err(Bind::Taken(Some(c))),
        // Nothing listens there (a stale socket, or not a socket at all) or there is no file:
        // ours to take if we can remove it.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) => {}
        // A listener with a full backlog is still a listener.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(Bind::Taken(owner())),
        Err(e) => return Err(Bind::Failed(e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        // A directory, or a file in a sticky directory that is not ours to remove.
        Err(_) => return Err(Bind::Taken(owner())),
    }
    let l = match UnixListener::bind(path) {
        Ok(l) => l,
        // Someone bound it between our removal and our bind.
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => return Err(Bind::Taken(owner())),
        Err(e) => return Err(Bind::Failed(e)),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).map_err(Bind::Failed)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pcmkr-listener-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_filesystem_name_in_use_names_its_holder() {
        let d = dir("holder");
        let mode = SocketMode::Filesystem(d.clone());
        // A live listener: taken, by this process.
        let _l = UnixListener::bind(d.join("svc-a")).unwrap();
        match Published::new("svc-a", &mode) {
            Err(StartError::NameTaken {
                holder: Some(h), ..
            }) => assert_eq!(h.pid, std::process::id() as i32),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // A directory in the way cannot be replaced: taken, by its owner (pid 0).
        std::fs::create_dir(d.join("svc-b")).unwrap();
        match Published::new("svc-b", &mode) {
            Err(StartError::NameTaken {
                holder: Some(h), ..
            }) => assert_eq!(h.pid, 0),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // A stale socket file (nobody listens) is replaced, and removed again at drop.
        drop(UnixListener::bind(d.join("svc-c")).unwrap());
        let p = Published::new("svc-c", &mode).unwrap();
        assert!(d.join("svc-c").exists());
        drop(p);
        assert!(!d.join("svc-c").exists());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_abstract_name_in_use_names_its_listener() {
        let name: &'static str =
            Box::leak(format!("pcmkr-test-svc-{}", std::process::id()).into_boxed_str());
        let first = Published::new(name, &SocketMode::Abstract).unwrap();
        match Published::new(name, &SocketMode::Abstract) {
            Err(StartError::NameTaken {
                holder: Some(h), ..
            }) => assert_eq!(h.pid, std::process::id() as i32),
            other => panic!("{:?}", other.map(|_| ())),
        }
        drop(first);
        assert!(Published::new(name, &SocketMode::Abstract).is_ok());
    }
}
