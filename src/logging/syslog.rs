//! The syslog sink: datagrams to `/dev/log` that survive a syslog daemon missing at start or
//! restarting later.
//!
//! A send that fails because the listener went away (its socket was re-created) reconnects at
//! once and sends again, so no line after a restart is lost; while nothing listens, lines are
//! counted, a reconnect is tried at most once a second, and the caller is told once when the
//! link goes and once when it comes back (with the count). The socket never blocks: a syslog
//! daemon that stops reading costs us lines, not the event loop.

use std::io::ErrorKind;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use log::LevelFilter;

/// The socket syslog daemons (and journald) listen on.
pub const DEV_LOG: &str = "/dev/log";

/// Where syslog lines go, and whether that works right now.
pub struct Syslog {
    /// Facility number (`PCMK_logfacility`).
    pub facility: u8,
    /// Lowest level sent (`PCMK_logpriority`).
    pub level: LevelFilter,
    path: PathBuf,
    link: Link,
}

/// The state of the link to the syslog daemon.
enum Link {
    /// Connected; lines go out.
    Up(UnixDatagram),
    /// Nothing listens: lines are counted until a retry connects.
    Down { lost: u64 },
}

/// Something the other sinks should say about syslog.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// The link went down (said once per outage).
    Lost(String),
    /// The link came back; `lost` lines could not be sent meanwhile.
    Back(String),
}

impl Syslog {
    /// Connects to `path` (normally [`DEV_LOG`]); a missing socket is not an error, it is
    /// retried as lines come. Returns the sink and, if it could not connect, the note to log.
    pub fn new(facility: u8, level: LevelFilter, path: PathBuf) -> (Syslog, Option<Change>) {
        let mut s = Syslog {
            facility,
            level,
            path,
            link: Link::Down { lost: 0 },
        };
        let note = match connect(&s.path) {
            Ok(sock) => {
                s.link = Link::Up(sock);
                None
            }
            Err(e) => Some(Change::Lost(s.missing_note(&e))),
        };
        (s, note)
    }

    /// Sends one datagram; returns a change of link state for the caller to log elsewhere.
    pub fn send(&mut self, datagram: &[u8]) -> Option<Change> {
        match &mut self.link {
            Link::Up(sock) => match sock.send(datagram) {
                Ok(_) => None,
                // The daemon is alive but behind: drop the line rather than stall.
                Err(e) if e.kind() == ErrorKind::WouldBlock => None,
                Err(_) => {
                    // The listener went away (restarted or stopped): connect afresh and retry.
                    match connect(&self.path).and_then(|s| s.send(datagram).map(|_| s)) {
                        Ok(sock) => {
                            self.link = Link::Up(sock);
                            None
                        }
                        Err(e) => {
                            let note = self.missing_note(&e);
                            self.link = Link::Down { lost: 1 };
                            Some(Change::Lost(note))
                        }
                    }
                }
            },
            Link::Down { lost } => {
                match connect(&self.path).and_then(|s| s.send(datagram).map(|_| s)) {
                    Ok(sock) => {
                        let n = *lost;
                        self.link = Link::Up(sock);
                        Some(Change::Back(format!(
                            "syslog is reachable again at {}; {n} lines could not be sent to it meanwhile",
                            self.path.display()
                        )))
                    }
                    Err(_) => {
                        *lost += 1;
                        None
                    }
                }
            }
        }
    }

    fn missing_note(&self, e: &std::io::Error) -> String {
        format!(
            "cannot send to syslog at {}: {e}; syslog lines are dropped until it is back \
             (the log file and stderr still get them)",
            self.path.display()
        )
    }
}

fn connect(path: &std::path::Path) -> std::io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    sock.connect(path)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pcmkr-syslog-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn listen(path: &std::path::Path) -> UnixDatagram {
        let _ = std::fs::remove_file(path);
        let l = UnixDatagram::bind(path).unwrap();
        l.set_nonblocking(true).unwrap();
        l
    }

    fn received(l: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 512];
        while let Ok(n) = l.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    #[test]
    fn a_restarted_listener_loses_no_line() {
        let dir = scratch("restart");
        let path = dir.join("log");
        let first = listen(&path);
        let (mut s, note) = Syslog::new(3, LevelFilter::Info, path.clone());
        assert_eq!(note, None);
        assert_eq!(s.send(b"one"), None);
        assert_eq!(received(&first), ["one"]);
        drop(first);
        let second = listen(&path);
        assert_eq!(s.send(b"two"), None);
        assert_eq!(received(&second), ["two"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_socket_is_said_once_then_counted_until_it_appears() {
        let dir = scratch("missing");
        let path = dir.join("log");
        let (mut s, note) = Syslog::new(3, LevelFilter::Info, path.clone());
        assert!(matches!(note, Some(Change::Lost(_))));
        assert_eq!(s.send(b"lost1"), None);
        assert_eq!(s.send(b"lost2"), None);
        let l = listen(&path);
        let back = s.send(b"three");
        assert!(
            matches!(&back, Some(Change::Back(m)) if m.contains("2 lines")),
            "{back:?}"
        );
        assert_eq!(received(&l), ["three"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_listener_that_goes_away_for_good_is_said_once() {
        let dir = scratch("gone");
        let path = dir.join("log");
        let l = listen(&path);
        let (mut s, _) = Syslog::new(3, LevelFilter::Info, path.clone());
        drop(l);
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(s.send(b"x"), Some(Change::Lost(_))));
        assert_eq!(s.send(b"y"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
