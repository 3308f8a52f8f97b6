//! System calls the IPC server needs and `std` does not offer: peer credentials and groups,
//! socket buffer sizes beyond `wmem_max`, datagram receive with credentials and true length,
//! and `unlinkat`. User and group names are in `sys::users`.
//!
//! In: descriptors (anything `AsFd`), byte buffers, names. Out: safe values and
//! `io::Result`s. Knows nothing of libqb or Pacemaker. The only file with `unsafe` in the IPC
//! code; every block says what must hold.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Process credentials as the kernel reports them for a socket peer or a datagram sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ucred {
    /// Process id (0 if not visible from our pid namespace).
    pub pid: i32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn get_int(fd: RawFd, name: libc::c_int) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are live locals and `len` is `v`'s exact size.
    check(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(v)
}

fn set_int(fd: RawFd, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: `v` is a live c_int and we pass its exact size.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Credentials of the process that connected a unix stream socket, taken at `connect` time
/// (`SO_PEERCRED`; `std`'s `peer_cred` is unstable).
pub fn peer_cred(sock: &impl AsFd) -> io::Result<Ucred> {
    let mut c = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `c` is a live ucred and `len` its exact size; the kernel writes at most that.
    check(unsafe {
        libc::getsockopt(
            sock.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut c as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    Ok(Ucred {
        pid: c.pid,
        uid: c.uid,
        gid: c.gid,
    })
}

/// Most supplementary groups a Linux process can have (`NGROUPS_MAX`).
const MAX_GROUPS: usize = 65_536;

/// Supplementary groups of the process that connected a unix stream socket, as they were at
/// `connect` time (`SO_PEERGROUPS`, Linux 4.13 and later; older kernels answer
/// `ENOPROTOOPT`). Together with [`peer_cred`] this says who the client is without looking
/// at a pid that may have been reused.
pub fn peer_groups(sock: &impl AsFd) -> io::Result<Vec<u32>> {
    let fd = sock.as_fd().as_raw_fd();
    let mut groups: Vec<libc::gid_t> = vec![0; 32];
    loop {
        let mut len = (groups.len() * size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` is a live buffer of `len` bytes; the kernel writes at most `len`
        // bytes and sets `len` to what it wrote, or to what it needs when it fails with ERANGE.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let count = len as usize / size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(count);
            return Ok(groups);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ERANGE) && count > groups.len() && count <= MAX_GROUPS {
            groups.resize(count, 0);
            continue;
        }
        return Err(e);
    }
}

/// Supplementary groups of process `pid` from `/proc/<pid>/status`, for kernels without
/// `SO_PEERGROUPS`. Only meaningful right at accept, while the connecting process must still
/// be alive (its socket is queued to us); `None` if the file cannot be read.
pub fn proc_groups(pid: i32) -> Option<Vec<u32>> {
    if pid <= 0 {
        return None;
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Groups:"))?;
    Some(
        line.split_whitespace()
            .filter_map(|g| g.parse().ok())
            .collect(),
    )
}

/// Credentials of the process listening on the unix stream address whose `sun_path` bytes
/// are `path` (an abstract name starts with NUL and is used with exactly this length), as
/// the kernel recorded them at `listen` (`SO_PEERCRED` of a connection to it). The connect
/// never waits: a listener whose backlog is full gives `WouldBlock`; nothing listening gives
/// `ConnectionRefused` (or `NotFound` for a path). The connection is closed unused.
pub fn listener_cred(path: &[u8]) -> io::Result<Ucred> {
    // SAFETY: sockaddr_un is plain data; all-zero is a valid empty address.
    let mut addr: libc::sockaddr_un = unsafe { MaybeUninit::zeroed().assume_init() };
    if path.len() > addr.sun_path.len() {
        return Err(io::ErrorKind::InvalidInput.into());
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, &b) in addr.sun_path.iter_mut().zip(path) {
        *dst = b as libc::c_char;
    }
    let len = size_of::<libc::sa_family_t>() + path.len();
    // SAFETY: plain socket(2) call; the result is checked before it is used.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `addr` is a live sockaddr_un and `len` is at most its size.
    check(unsafe {
        libc::connect(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        )
    })?;
    peer_cred(&sock)
}

/// Raises the send and receive buffers to at least `size` bytes, as libqb does on every
/// datagram socket. With `force` (we are root) the `*FORCE` options pass `wmem_max`, so a
/// datagram of the negotiated size always fits (libqb-ipc.md 4.8).
pub fn raise_buffers(sock: &impl AsFd, size: usize, force: bool) -> io::Result<()> {
    let fd = sock.as_fd().as_raw_fd();
    let want = i32::try_from(size).unwrap_or(i32::MAX);
    for (get, set, set_force) in [
        (libc::SO_SNDBUF, libc::SO_SNDBUF, libc::SO_SNDBUFFORCE),
        (libc::SO_RCVBUF, libc::SO_RCVBUF, libc::SO_RCVBUFFORCE),
    ] {
        // Linux reports double the stored request; libqb compares the same way.
        if get_int(fd, get)? > want {
            continue;
        }
        let forced = force && set_int(fd, set_force, want).is_ok();
        if !forced {
            set_int(fd, set, want)?;
        }
    }
    Ok(())
}

/// Asks the kernel to attach the sender's credentials to every datagram we receive.
pub fn enable_passcred(sock: &impl AsFd) -> io::Result<()> {
    set_int(sock.as_fd().as_raw_fd(), libc::SO_PASSCRED, 1)
}

/// The true length of the next datagram, without taking it (`MSG_PEEK | MSG_TRUNC`), so the
/// caller can check it before allocating. `WouldBlock` when none is queued.
pub fn peek_datagram_len(sock: &impl AsFd) -> io::Result<usize> {
    let mut one = [0u8; 1];
    // SAFETY: the buffer is live and we pass its length; MSG_TRUNC makes the kernel return the
    // real datagram length while writing at most one byte.
    let n = unsafe {
        libc::recv(
            sock.as_fd().as_raw_fd(),
            one.as_mut_ptr().cast(),
            one.len(),
            libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Copies the start of the next datagram into `buf` without taking it (`MSG_PEEK`), so the
/// caller can read a header before deciding to take the datagram. Returns the bytes copied.
/// `WouldBlock` when none is queued.
pub fn peek_datagram(sock: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the buffer is live and we pass its length; the kernel writes at most that.
    let n = unsafe {
        libc::recv(
            sock.as_fd().as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// One datagram taken from a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Its true length; more than the buffer if it was cut short.
    pub len: usize,
    /// The sender, if `SO_PASSCRED` is on.
    pub cred: Option<Ucred>,
}

/// Takes one datagram into `buf` with its sender's credentials. Descriptors a sender tries
/// to pass along are closed at once: we never accept them.
pub fn recv_datagram(sock: &impl AsFd, buf: &mut [u8]) -> io::Result<Received> {
    // Room for credentials plus a few passed descriptors, which we then close.
    let mut control = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 16]>() as _;
    // SAFETY: `msg` points at `iov` (into `buf`) and `control`, all live for the call and
    // described with their true lengths.
    let n = unsafe {
        libc::recvmsg(
            sock.as_fd().as_raw_fd(),
            &mut msg,
            libc::MSG_TRUNC | libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut cred = None;
    // SAFETY: the CMSG_* macros walk `msg.msg_control` within `msg_controllen`, which the
    // kernel set to the bytes it wrote into `control`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let data = libc::CMSG_DATA(cmsg);
            let payload = ((*cmsg).cmsg_len as usize).saturating_sub(data as usize - cmsg as usize);
            match ((*cmsg).cmsg_level, (*cmsg).cmsg_type) {
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS)
                    if payload >= size_of::<libc::ucred>() =>
                {
                    let c: libc::ucred = std::ptr::read_unaligned(data.cast());
                    cred = Some(Ucred {
                        pid: c.pid,
                        uid: c.uid,
                        gid: c.gid,
                    });
                }
                (libc::SOL_SOCKET, libc::SCM_RIGHTS) => {
                    for i in 0..payload / size_of::<RawFd>() {
                        let fd: RawFd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                        // The kernel installed this descriptor for us; owning it closes it.
                        drop(OwnedFd::from_raw_fd(fd));
                    }
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Received {
        len: n as usize,
        cred,
    })
}

/// Writes on a stream socket without raising SIGPIPE if the peer is gone.
pub fn send_nosignal(sock: &impl AsFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the buffer is live and we pass its length.
    let n = unsafe {
        libc::send(
            sock.as_fd().as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Removes `name` inside the directory `dir` is open on, so a directory renamed or replaced
/// under us cannot redirect the removal (the client owns the directory, libqb-ipc.md 6.4).
pub fn unlink_at(dir: &impl AsFd, name: &str) -> io::Result<()> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call; flags 0 means a file.
    check(unsafe { libc::unlinkat(dir.as_fd().as_raw_fd(), c.as_ptr(), 0) })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::users::effective_uid;
    use std::os::unix::net::{UnixDatagram, UnixStream};

    #[test]
    fn peer_cred_is_ourselves() {
        let (a, _b) = UnixStream::pair().unwrap();
        let c = peer_cred(&a).unwrap();
        assert_eq!(c.pid, std::process::id() as i32);
        assert_eq!(c.uid, effective_uid());
    }

    #[test]
    fn datagram_length_and_credentials() {
        let (a, b) = UnixDatagram::pair().unwrap();
        enable_passcred(&b).unwrap();
        assert_eq!(
            peek_datagram_len(&b).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        a.send(&[7u8; 100]).unwrap();
        a.send(&[]).unwrap();
        assert_eq!(peek_datagram_len(&b).unwrap(), 100);
        let mut head = [0u8; 8];
        assert_eq!(peek_datagram(&b, &mut head).unwrap(), 8);
        assert_eq!(head, [7u8; 8]);
        let mut small = [0u8; 10];
        let r = recv_datagram(&b, &mut small).unwrap();
        assert_eq!(r.len, 100);
        assert_eq!(r.cred.unwrap().pid, std::process::id() as i32);
        assert_eq!(peek_datagram_len(&b).unwrap(), 0);
        assert_eq!(recv_datagram(&b, &mut small).unwrap().len, 0);
    }

    #[test]
    fn buffers_grow() {
        let (a, _b) = UnixDatagram::pair().unwrap();
        raise_buffers(&a, 600_000, effective_uid() == 0).unwrap();
        if effective_uid() == 0 {
            assert!(get_int(a.as_raw_fd(), libc::SO_SNDBUF).unwrap() >= 600_000);
        }
    }

    #[test]
    fn listener_cred_names_the_listener_without_waiting() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixListener};
        let name = format!("pcmkr-test-listener-{}", std::process::id());
        let l = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        let mut path = vec![0u8];
        path.extend_from_slice(name.as_bytes());
        let c = listener_cred(&path).unwrap();
        assert_eq!(c.pid, std::process::id() as i32);
        assert_eq!(c.uid, effective_uid());
        drop(l);
        assert_eq!(
            listener_cred(&path).unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert!(listener_cred(&[b'x'; 200]).is_err());
    }

    #[test]
    fn peer_groups_are_ours() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut ours = proc_groups(std::process::id() as i32).unwrap();
        match peer_groups(&a) {
            Ok(mut g) => {
                g.sort_unstable();
                ours.sort_unstable();
                assert_eq!(g, ours);
            }
            // A kernel older than 4.13.
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOPROTOOPT)),
        }
        assert_eq!(proc_groups(0), None);
    }
}
