//! Names libqb clients expect: the padded abstract addresses of listeners and datagram
//! sockets, and the per-connection directory, control file and base name (libqb-ipc.md 3.1
//! and 4.1).
//!
//! In: a service name and the numbers that make a connection's names unique. Out: strings
//! and 107-byte abstract names. No I/O; every length is checked here, once.

use std::fmt;

/// Bytes after the leading NUL of an abstract `sun_path`: libqb always passes the full
/// 110-byte address, so the name is padded with NULs to this length.
pub const ABSTRACT_NAME_LEN: usize = 107;
/// Longest name that still leaves a terminating NUL in the padded address.
pub const MAX_NAME_LEN: usize = ABSTRACT_NAME_LEN - 1;
/// Where libqb on Linux puts per-connection files.
pub const SHM_DIR: &str = "/dev/shm";

/// The datagram sockets of one connection, named from the base B (libqb-ipc.md 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DgramSuffix {
    /// Ours: requests in, responses out.
    Request,
    /// The client's end of the request/response pair.
    Response,
    /// The client's event socket.
    Event,
    /// Ours: events out.
    EventTx,
}

impl DgramSuffix {
    fn as_str(self) -> &'static str {
        match self {
            DgramSuffix::Request => "-request",
            DgramSuffix::Response => "-response",
            DgramSuffix::Event => "-event",
            DgramSuffix::EventTx => "-event-tx",
        }
    }
}

/// A name does not fit an abstract socket address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTooLong {
    /// The name.
    pub name: String,
}

impl fmt::Display for NameTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "socket name {:?} is {} bytes, at most {MAX_NAME_LEN} fit",
            self.name,
            self.name.len()
        )
    }
}

impl std::error::Error for NameTooLong {}

/// `name` NUL-padded to 107 bytes: with the leading NUL that `std` adds, exactly the
/// 110-byte address libqb binds and connects to. A bare name would be another address.
pub fn abstract_name(name: &str) -> Result<[u8; ABSTRACT_NAME_LEN], NameTooLong> {
    if name.len() > MAX_NAME_LEN || name.as_bytes().contains(&0) {
        return Err(NameTooLong { name: name.into() });
    }
    let mut b = [0u8; ABSTRACT_NAME_LEN];
    b[..name.len()].copy_from_slice(name.as_bytes());
    Ok(b)
}

/// What makes one connection's directory name unique, as libqb spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnNumbers {
    /// Our pid.
    pub server_pid: u32,
    /// The client's pid (from SO_PEERCRED).
    pub client_pid: i32,
    /// Our descriptor number of the accepted setup socket.
    pub setup_fd: i32,
    /// Six characters of `[A-Za-z0-9]`, as `mkdtemp` would pick.
    pub suffix: [u8; 6],
}

/// Every name of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnPaths {
    /// `/dev/shm/qb-<server>-<client>-<fd>-<suffix>`.
    pub dir: String,
    /// The control file's name inside `dir`.
    pub control_name: String,
    /// The control file's absolute path (reply field `request`).
    pub control: String,
    /// The base B (reply field `response`).
    pub base: String,
}

impl ConnPaths {
    /// Builds the names for `service`; fails if the longest datagram name would not fit.
    pub fn new(n: &ConnNumbers, service: &str) -> Result<Self, NameTooLong> {
        let suffix: String = n.suffix.iter().map(|&c| char::from(c)).collect();
        let dir = format!(
            "{SHM_DIR}/qb-{}-{}-{}-{suffix}",
            n.server_pid, n.client_pid, n.setup_fd
        );
        let control_name = format!("qb-control-{service}");
        let p = ConnPaths {
            control: format!("{dir}/{control_name}"),
            base: format!("{dir}/qb-{service}"),
            control_name,
            dir,
        };
        abstract_name(&p.dgram(DgramSuffix::EventTx))?;
        Ok(p)
    }

    /// The abstract name of one datagram socket (without padding).
    pub fn dgram(&self, which: DgramSuffix) -> String {
        format!("{}{}", self.base, which.as_str())
    }
}

/// Maps 6 random bytes to `mkdtemp`'s alphabet.
pub fn suffix_from(random: u64) -> [u8; 6] {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = [0u8; 6];
    let mut r = random;
    for c in &mut out {
        *c = ALPHABET[(r % 62) as usize];
        r /= 62;
    }
    out
}

/// Checks at start-up that `service` leaves room for the longest per-connection names
/// (7-digit pids, a 10-digit descriptor), so no connection can fail on its name later.
pub fn check_service_name(service: &str) -> Result<(), NameTooLong> {
    abstract_name(service)?;
    let worst = ConnNumbers {
        server_pid: 4_194_304,
        client_pid: 4_194_304,
        setup_fd: i32::MAX,
        suffix: *b"XXXXXX",
    };
    ConnPaths::new(&worst, service).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_libqb_builds_them() {
        // The example in libqb-ipc.md 4.1.
        let p = ConnPaths::new(
            &ConnNumbers {
                server_pid: 468,
                client_pid: 480,
                setup_fd: 4,
                suffix: *b"Vq7V2x",
            },
            "qbproto_test",
        )
        .unwrap();
        assert_eq!(p.dir, "/dev/shm/qb-468-480-4-Vq7V2x");
        assert_eq!(
            p.control,
            "/dev/shm/qb-468-480-4-Vq7V2x/qb-control-qbproto_test"
        );
        assert_eq!(p.base, "/dev/shm/qb-468-480-4-Vq7V2x/qb-qbproto_test");
        assert_eq!(
            p.dgram(DgramSuffix::Request),
            "/dev/shm/qb-468-480-4-Vq7V2x/qb-qbproto_test-request"
        );
        assert_eq!(
            p.dgram(DgramSuffix::EventTx),
            "/dev/shm/qb-468-480-4-Vq7V2x/qb-qbproto_test-event-tx"
        );
    }

    #[test]
    fn abstract_names_are_padded() {
        let a = abstract_name("cib_ro").unwrap();
        assert_eq!(&a[..6], b"cib_ro");
        assert!(a[6..].iter().all(|&c| c == 0));
        assert!(abstract_name(&"x".repeat(106)).is_ok());
        assert!(abstract_name(&"x".repeat(107)).is_err());
        assert!(abstract_name("a\0b").is_err());
    }

    #[test]
    fn service_names_checked_for_worst_case() {
        for s in [
            "cib_ro",
            "cib_rw",
            "cib_shm",
            "attrd",
            "stonith-ng",
            "crmd",
            "lrmd",
            "pacemakerd",
        ] {
            check_service_name(s).unwrap();
        }
        assert!(check_service_name(&"s".repeat(60)).is_err());
    }

    #[test]
    fn suffix_alphabet() {
        let s = suffix_from(u64::MAX);
        assert!(s.iter().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(&suffix_from(0), b"AAAAAA");
    }
}
