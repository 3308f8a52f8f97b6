//! The authentication exchange before messages flow (specification, "Authentication
//! Protocol"): SASL EXTERNAL, where the bus checks our uid on the socket itself.
//!
//! In: our uid, then the bus's lines. Out: the bytes to send, and the bus's GUID once it says
//! `OK`. We send a NUL byte and `AUTH EXTERNAL <uid as hex of its decimal digits>`, then
//! `BEGIN` after `OK`; no descriptor passing is negotiated. Nothing past the `OK` line is
//! consumed: what follows `BEGIN` is the message stream. Every answer of the bus is one line,
//! and each ends the exchange: `OK`, or an error naming what the bus said.

use std::fmt;

use crate::limits::DBUS_MAX_AUTH_LINE_BYTES;

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// The bus refused EXTERNAL; it offers these mechanisms instead.
    Rejected(String),
    /// The bus answered `ERROR`.
    Error(String),
    /// A line we do not expect at this point.
    Unexpected(String),
    /// A line longer than [`DBUS_MAX_AUTH_LINE_BYTES`].
    LineTooLong,
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::Rejected(m) => {
                write!(
                    f,
                    "the bus refused EXTERNAL authentication (it offers: {m})"
                )
            }
            AuthError::Error(m) => write!(f, "the bus answered ERROR {m}"),
            AuthError::Unexpected(l) => write!(f, "unexpected authentication line '{l}'"),
            AuthError::LineTooLong => write!(
                f,
                "authentication line over {DBUS_MAX_AUTH_LINE_BYTES} bytes"
            ),
        }
    }
}

impl std::error::Error for AuthError {}

/// The client side of the exchange.
#[derive(Debug)]
pub struct Auth {
    line: Vec<u8>,
}

/// What the exchange ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The bus's GUID (32 hex digits).
    pub guid: String,
    /// What to send now (`BEGIN`); the message stream starts after it.
    pub reply: &'static [u8],
}

impl Auth {
    /// Starts the exchange for `uid`; returns it and the bytes to send first.
    pub fn start(uid: u32) -> (Auth, Vec<u8>) {
        let mut first = b"\0AUTH EXTERNAL ".to_vec();
        for digit in uid.to_string().bytes() {
            first.extend_from_slice(format!("{digit:02x}").as_bytes());
        }
        first.extend_from_slice(b"\r\n");
        (Auth { line: Vec::new() }, first)
    }

    /// Takes bytes from the bus up to the end of the answer at most; returns how many were
    /// used and, once the bus said `OK`, the result.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Option<Authenticated>), AuthError> {
        let mut used = 0;
        for &b in input {
            used += 1;
            if b != b'\n' {
                if self.line.len() >= DBUS_MAX_AUTH_LINE_BYTES {
                    return Err(AuthError::LineTooLong);
                }
                self.line.push(b);
                continue;
            }
            let line = String::from_utf8_lossy(&self.line)
                .trim_end_matches('\r')
                .to_string();
            self.line.clear();
            let (command, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            match command {
                "OK" => {
                    return Ok((
                        used,
                        Some(Authenticated {
                            guid: rest.to_string(),
                            reply: b"BEGIN\r\n",
                        }),
                    ))
                }
                "REJECTED" => return Err(AuthError::Rejected(rest.to_string())),
                "ERROR" => return Err(AuthError::Error(rest.to_string())),
                _ => return Err(AuthError::Unexpected(line.chars().take(80).collect())),
            }
        }
        Ok((used, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_with_the_uid_in_hex_digits() {
        // As libdbus and busctl send it (seen on a private dbus-daemon).
        assert_eq!(Auth::start(0).1, b"\0AUTH EXTERNAL 30\r\n");
        assert_eq!(Auth::start(1000).1, b"\0AUTH EXTERNAL 31303030\r\n");
    }

    #[test]
    fn answers() {
        let ok = b"OK dd623ac35ff731f5f734335e6b13d5c0\r\nl\x02";
        let (mut a, _) = Auth::start(0);
        // In pieces, and nothing past the line is taken.
        assert_eq!(a.feed(&ok[..5]), Ok((5, None)));
        let (used, done) = a.feed(&ok[5..]).unwrap_or((0, None));
        assert_eq!(used, ok.len() - 7);
        assert_eq!(
            done,
            Some(Authenticated {
                guid: "dd623ac35ff731f5f734335e6b13d5c0".into(),
                reply: b"BEGIN\r\n"
            })
        );
        let cases: &[(&[u8], AuthError)] = &[
            (
                b"REJECTED EXTERNAL DBUS_COOKIE_SHA1\r\n",
                AuthError::Rejected("EXTERNAL DBUS_COOKIE_SHA1".into()),
            ),
            (b"ERROR \"nope\"\r\n", AuthError::Error("\"nope\"".into())),
            (b"DATA\r\n", AuthError::Unexpected("DATA".into())),
            (&[b'x'; 2000], AuthError::LineTooLong),
        ];
        for (input, want) in cases {
            let (mut a, _) = Auth::start(0);
            assert_eq!(a.feed(input).map(|_| ()), Err(want.clone()));
        }
    }
}
