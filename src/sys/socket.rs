//! Socket options and listener set-up that `std` does not expose.
//!
//! The listener must be dual-stack (`IPV6_V6ONLY` off) like the original's, which `std` cannot
//! set before `bind`. Accepted sockets get `TCP_QUICKACK`, `TCP_NODELAY` and optionally
//! `TCP_USER_TIMEOUT`.

use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Creates, binds and listens on `addr` with `SO_REUSEADDR`, and for IPv6 with `IPV6_V6ONLY`
/// off so IPv4 clients arrive as `::ffff:a.b.c.d` (protocol.md section 3).
pub fn bind_listener(addr: &SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor we own; OwnedFd closes it on every error path.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if domain == libc::AF_INET6 {
        set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    }
    let (storage, len) = to_sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes for this family.
    let rc = unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a bound stream socket.
    if unsafe { libc::listen(fd, backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(owned))
}

/// Acknowledge at once instead of delaying: the C client writes a frame as two TLS records
/// with Nagle on, so a delayed ACK here stalls its second record by ~40 ms. Linux clears the
/// flag after use, so callers re-arm it after every read (protocol.md 3).
pub fn set_quickack(sock: &impl AsRawFd) {
    // Best effort: failure only costs latency.
    let _ = set_int(sock.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_QUICKACK, 1);
}

/// Bounds how long unacknowledged data may sit before the kernel drops the connection; the
/// original sets it to half the sbd watchdog timeout (protocol.md section 3).
pub fn set_user_timeout(sock: &impl AsRawFd, millis: u32) -> io::Result<()> {
    set_int(
        sock.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_USER_TIMEOUT,
        millis.min(i32::MAX as u32) as i32,
    )
}

fn set_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a live i32 and we pass its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv6Addr, TcpStream};

    #[test]
    fn dual_stack_listener_accepts_ipv4_and_ipv6() {
        let addr = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0));
        let Ok(listener) = bind_listener(&addr, 10) else {
            eprintln!("skipped: no IPv6 on this host");
            return;
        };
        let port = listener.local_addr().unwrap().port();
        let _v4 = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (s, peer) = listener.accept().unwrap();
        assert!(peer.to_string().starts_with("[::ffff:127.0.0.1]"), "{peer}");
        set_quickack(&s);
        set_user_timeout(&s, 5000).unwrap();
        let _v6 = TcpStream::connect(("::1", port)).unwrap();
        let (_s, peer) = listener.accept().unwrap();
        assert!(peer.to_string().starts_with("[::1]"), "{peer}");
    }
}
