//! libqb's IPC wire structures (libqb-ipc.md sections 3.2, 3.3 and 4.4) as plain functions.
//!
//! In: bytes read from a setup socket or a request datagram. Out: typed headers, or the exact
//! bytes to write. Never does I/O, never allocates on the peer's say-so, never panics on peer
//! input. Integers are in host byte order because both ends share one machine (libqb-ipc.md
//! preamble), so every field goes through `to_ne_bytes`/`from_ne_bytes`.

use std::fmt;

/// Message id of the handshake request and reply (libqb's "authenticate").
pub const MSG_AUTHENTICATE: i32 = -1;
/// Message id a libqb client may send to say goodbye; Linux clients never do, but a libqb
/// server honours it, so we do too.
pub const MSG_DISCONNECT: i32 = -3;

/// `qb_ipc_request_header`: id at 0, size at 8 (every member is 8-byte aligned).
pub const REQUEST_HEADER_LEN: usize = 16;
/// `qb_ipc_response_header`: id at 0, size at 8, error at 16.
pub const RESPONSE_HEADER_LEN: usize = 24;
/// `qb_ipc_connection_request`: request header plus `max_msg_size` at 16.
pub const CONNECTION_REQUEST_LEN: usize = 24;
/// `qb_ipc_connection_response`: the client reads exactly this many bytes (3.3).
pub const CONNECTION_RESPONSE_LEN: usize = 12328;
/// Linux `PATH_MAX`, the size of each path field in the handshake reply.
pub const PATH_MAX: usize = 4096;
/// The smallest `max_msg_size` a libqb client asks for: its own reply struct must fit.
pub const MIN_CLIENT_BUFFER: u32 = CONNECTION_RESPONSE_LEN as u32;

/// `enum qb_ipc_type` value for the SOCKET transport, the only one we answer with.
pub const IPC_TYPE_SOCKET: i32 = 0;

const REPLY_TYPE_AT: usize = 24;
const REPLY_MAX_AT: usize = 28;
const REPLY_REQUEST_AT: usize = 40;
const REPLY_RESPONSE_AT: usize = REPLY_REQUEST_AT + PATH_MAX;

/// What was wrong with bytes a client sent; the client is at fault and is disconnected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QbError {
    /// Fewer bytes than the structure needs.
    Short {
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The handshake did not carry the authenticate id.
    HandshakeId {
        /// The id found.
        id: i32,
    },
    /// The handshake's `size` field is not 24.
    HandshakeSize {
        /// The size found.
        size: i32,
    },
    /// A datagram's `size` field differs from its real length (libqb-ipc.md 4.4).
    SizeMismatch {
        /// The header's size field.
        size: i32,
        /// The datagram's length.
        len: usize,
    },
    /// A datagram longer than the negotiated buffer size.
    TooLarge {
        /// The datagram's length.
        len: usize,
        /// The negotiated size.
        max: usize,
    },
    /// A data message using a reserved negative id other than disconnect.
    ReservedId {
        /// The id found.
        id: i32,
    },
    /// A handshake reply field that is not a NUL-terminated path (test clients only).
    BadPath,
}

impl fmt::Display for QbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QbError::Short { len, need } => write!(f, "{len} bytes where {need} are needed"),
            QbError::HandshakeId { id } => write!(f, "handshake id {id}, expected -1"),
            QbError::HandshakeSize { size } => write!(f, "handshake size {size}, expected 24"),
            QbError::SizeMismatch { size, len } => {
                write!(f, "header says {size} bytes but the datagram has {len}")
            }
            QbError::TooLarge { len, max } => {
                write!(f, "{len}-byte datagram exceeds the negotiated {max}")
            }
            QbError::ReservedId { id } => write!(f, "reserved message id {id}"),
            QbError::BadPath => write!(f, "path field is not NUL-terminated"),
        }
    }
}

impl std::error::Error for QbError {}

/// A path for the handshake reply does not fit its `PATH_MAX` field (our configuration's
/// fault: a service name or directory that is too long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathTooLong {
    /// The path's length in bytes.
    pub len: usize,
}

impl fmt::Display for PathTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "path of {} bytes does not fit the {PATH_MAX}-byte reply field",
            self.len
        )
    }
}

impl std::error::Error for PathTooLong {}

fn i32_at(b: &[u8], at: usize) -> i32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    i32::from_ne_bytes(w)
}

fn put(b: &mut [u8], at: usize, v: [u8; 4]) {
    b[at..at + 4].copy_from_slice(&v);
}

/// The client's handshake: all we need from it is the buffer size it wishes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRequest {
    /// max(size the client passed to `qb_ipcc_connect`, 12328).
    pub max_msg_size: u32,
}

/// Checks and reads the 24-byte handshake (libqb-ipc.md 3.2): id -1, size 24.
pub fn decode_connection_request(b: &[u8]) -> Result<ConnectionRequest, QbError> {
    if b.len() < CONNECTION_REQUEST_LEN {
        return Err(QbError::Short {
            len: b.len(),
            need: CONNECTION_REQUEST_LEN,
        });
    }
    let id = i32_at(b, 0);
    if id != MSG_AUTHENTICATE {
        return Err(QbError::HandshakeId { id });
    }
    let size = i32_at(b, 8);
    if size != CONNECTION_REQUEST_LEN as i32 {
        return Err(QbError::HandshakeSize { size });
    }
    Ok(ConnectionRequest {
        max_msg_size: i32_at(b, 16) as u32,
    })
}

/// Builds the handshake a libqb client sends; for test clients that play one.
pub fn encode_connection_request(max_msg_size: u32) -> [u8; CONNECTION_REQUEST_LEN] {
    let mut b = [0u8; CONNECTION_REQUEST_LEN];
    put(&mut b, 0, MSG_AUTHENTICATE.to_ne_bytes());
    put(&mut b, 8, (CONNECTION_REQUEST_LEN as i32).to_ne_bytes());
    put(&mut b, 16, max_msg_size.to_ne_bytes());
    b
}

/// The fields of a handshake reply that accepts the client (libqb-ipc.md 3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionResponse {
    /// 0 to accept, or a negative errno to refuse.
    pub error: i32,
    /// Transport: always [`IPC_TYPE_SOCKET`] from us.
    pub connection_type: i32,
    /// The negotiated size, used by the client for every channel.
    pub max_msg_size: u32,
    /// SOCKET: absolute path of the 24-byte control file.
    pub request: String,
    /// SOCKET: the base name the client derives the datagram socket names from.
    pub response: String,
}

fn put_path(b: &mut [u8], at: usize, path: &str) -> Result<(), PathTooLong> {
    // The field must keep a terminating NUL, and a NUL inside would cut the path short.
    if path.len() >= PATH_MAX || path.as_bytes().contains(&0) {
        return Err(PathTooLong { len: path.len() });
    }
    b[at..at + path.len()].copy_from_slice(path.as_bytes());
    Ok(())
}

/// The exact 12328 bytes to write in one piece (a 2.0.6 client fails on a short read).
pub fn encode_connection_response(r: &ConnectionResponse) -> Result<Vec<u8>, PathTooLong> {
    let mut b = vec![0u8; CONNECTION_RESPONSE_LEN];
    put(&mut b, 0, MSG_AUTHENTICATE.to_ne_bytes());
    put(&mut b, 8, (CONNECTION_RESPONSE_LEN as i32).to_ne_bytes());
    put(&mut b, 16, r.error.to_ne_bytes());
    put(&mut b, REPLY_TYPE_AT, r.connection_type.to_ne_bytes());
    put(&mut b, REPLY_MAX_AT, r.max_msg_size.to_ne_bytes());
    // Bytes 32..40 are the opaque `connection` pointer libqb fills in; clients ignore it.
    put_path(&mut b, REPLY_REQUEST_AT, &r.request)?;
    put_path(&mut b, REPLY_RESPONSE_AT, &r.response)?;
    // The event field (from 8232) is unused by SOCKET and stays zero.
    Ok(b)
}

/// A reply that refuses the connection with `error` (a negative errno), every other field 0.
pub fn encode_refusal(error: i32) -> Vec<u8> {
    let mut b = vec![0u8; CONNECTION_RESPONSE_LEN];
    put(&mut b, 0, MSG_AUTHENTICATE.to_ne_bytes());
    put(&mut b, 8, (CONNECTION_RESPONSE_LEN as i32).to_ne_bytes());
    put(&mut b, 16, error.to_ne_bytes());
    b
}

fn path_at(b: &[u8], at: usize) -> Result<String, QbError> {
    let field = &b[at..at + PATH_MAX];
    let end = field.iter().position(|&c| c == 0).ok_or(QbError::BadPath)?;
    String::from_utf8(field[..end].to_vec()).map_err(|_| QbError::BadPath)
}

/// Reads a handshake reply as a client would; for test clients and the fuzzer.
pub fn decode_connection_response(b: &[u8]) -> Result<ConnectionResponse, QbError> {
    if b.len() < CONNECTION_RESPONSE_LEN {
        return Err(QbError::Short {
            len: b.len(),
            need: CONNECTION_RESPONSE_LEN,
        });
    }
    let id = i32_at(b, 0);
    if id != MSG_AUTHENTICATE {
        return Err(QbError::HandshakeId { id });
    }
    Ok(ConnectionResponse {
        error: i32_at(b, 16),
        connection_type: i32_at(b, REPLY_TYPE_AT),
        max_msg_size: i32_at(b, REPLY_MAX_AT) as u32,
        request: path_at(b, REPLY_REQUEST_AT)?,
        response: path_at(b, REPLY_RESPONSE_AT)?,
    })
}

/// What a checked request datagram turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram {
    /// An ordinary message; the whole datagram (header included) is its bytes.
    Message {
        /// The header's id: Pacemaker's request counter, 1 and up.
        id: i32,
    },
    /// The client says goodbye: an empty datagram or id -3 (libqb-ipc.md 2).
    Disconnect,
}

/// Checks a datagram's real length against the negotiated size before anything is allocated
/// for it (libqb-ipc.md 4.4).
pub fn check_datagram_len(len: usize, max: usize) -> Result<(), QbError> {
    if len > max {
        return Err(QbError::TooLarge { len, max });
    }
    if len != 0 && len < REQUEST_HEADER_LEN {
        return Err(QbError::Short {
            len,
            need: REQUEST_HEADER_LEN,
        });
    }
    Ok(())
}

/// Checks a whole request datagram: `16 <= len <= max` and `size == len`, because a libqb
/// reader trusts `size` (libqb-ipc.md 4.4).
pub fn parse_datagram(data: &[u8], max: usize) -> Result<Datagram, QbError> {
    check_datagram_len(data.len(), max)?;
    if data.is_empty() {
        return Ok(Datagram::Disconnect);
    }
    let id = i32_at(data, 0);
    let size = i32_at(data, 8);
    if usize::try_from(size).ok() != Some(data.len()) {
        return Err(QbError::SizeMismatch {
            size,
            len: data.len(),
        });
    }
    match id {
        MSG_DISCONNECT => Ok(Datagram::Disconnect),
        id if id < 0 => Err(QbError::ReservedId { id }),
        id => Ok(Datagram::Message { id }),
    }
}

/// The 24-byte header every response and event starts with; `size` is the whole datagram.
pub fn encode_response_header(id: i32, size: i32, error: i32) -> [u8; RESPONSE_HEADER_LEN] {
    let mut b = [0u8; RESPONSE_HEADER_LEN];
    put(&mut b, 0, id.to_ne_bytes());
    put(&mut b, 8, size.to_ne_bytes());
    put(&mut b, 16, error.to_ne_bytes());
    b
}

/// Reads the id and size of a response or event header; for test clients and the fuzzer.
pub fn decode_response_header(b: &[u8]) -> Result<(i32, i32, i32), QbError> {
    if b.len() < RESPONSE_HEADER_LEN {
        return Err(QbError::Short {
            len: b.len(),
            need: RESPONSE_HEADER_LEN,
        });
    }
    Ok((i32_at(b, 0), i32_at(b, 8), i32_at(b, 16)))
}

/// Fuzz entry point: every parser here on arbitrary bytes must return, never panic, and what
/// parses must encode to bytes that parse to the same value.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    if let Ok(r) = decode_connection_request(data) {
        let again = decode_connection_request(&encode_connection_request(r.max_msg_size));
        assert_eq!(again, Ok(r));
    }
    if let Ok(r) = decode_connection_response(data) {
        if let Ok(bytes) = encode_connection_response(&r) {
            assert_eq!(bytes.len(), CONNECTION_RESPONSE_LEN);
            assert_eq!(decode_connection_response(&bytes), Ok(r));
        }
    }
    if let Ok((id, size, error)) = decode_response_header(data) {
        let again = decode_response_header(&encode_response_header(id, size, error));
        assert_eq!(again, Ok((id, size, error)));
    }
    for max in [0, REQUEST_HEADER_LEN, 64, data.len(), usize::MAX] {
        let checked = check_datagram_len(data.len(), max);
        match parse_datagram(data, max) {
            Ok(Datagram::Message { id }) => {
                assert!(id >= 0 && data.len() >= REQUEST_HEADER_LEN && data.len() <= max);
            }
            Ok(Datagram::Disconnect) => {
                assert!(data.is_empty() || i32_at(data, 0) == MSG_DISCONNECT);
            }
            // The length check runs first: whatever it refuses, the parser refuses the same way.
            Err(e) => assert!(checked.is_ok() || checked == Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn connection_request_fixture() {
        // As sent by crm_attribute to cib_rw (libqb-ipc.md 3.2): id -1, size 24, 524288.
        let wire: [u8; 24] = [
            0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x08, 0x00, 0,
            0, 0, 0,
        ];
        assert_eq!(
            decode_connection_request(&wire),
            Ok(ConnectionRequest {
                max_msg_size: 524288
            })
        );
        assert_eq!(encode_connection_request(524288), wire);
    }

    #[test]
    fn connection_request_rejects() {
        let good = encode_connection_request(65536);
        let cases: Vec<(Vec<u8>, QbError)> = vec![
            (good[..23].to_vec(), QbError::Short { len: 23, need: 24 }),
            (
                {
                    let mut b = good.to_vec();
                    b[0..4].copy_from_slice(&5i32.to_ne_bytes());
                    b
                },
                QbError::HandshakeId { id: 5 },
            ),
            (
                {
                    let mut b = good.to_vec();
                    b[8..12].copy_from_slice(&16i32.to_ne_bytes());
                    b
                },
                QbError::HandshakeSize { size: 16 },
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(decode_connection_request(&bytes), Err(want));
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn connection_response_layout() {
        let r = ConnectionResponse {
            error: 0,
            connection_type: IPC_TYPE_SOCKET,
            max_msg_size: 131072,
            request: "/dev/shm/qb-1-2-3-abcdef/qb-control-attrd".into(),
            response: "/dev/shm/qb-1-2-3-abcdef/qb-attrd".into(),
        };
        let b = encode_connection_response(&r).unwrap();
        assert_eq!(b.len(), 12328);
        assert_eq!(&b[0..4], &[0xff; 4]);
        assert_eq!(&b[8..12], &[0x28, 0x30, 0, 0]); // 12328
        assert_eq!(&b[16..20], &[0; 4]);
        assert_eq!(&b[24..28], &[0; 4]); // SOCKET
        assert_eq!(&b[28..32], &[0, 0, 2, 0]); // 131072
        assert_eq!(&b[40..40 + r.request.len()], r.request.as_bytes());
        assert_eq!(b[40 + r.request.len()], 0);
        assert_eq!(&b[4136..4136 + r.response.len()], r.response.as_bytes());
        assert!(b[8232..].iter().all(|&c| c == 0));
        // Padding stays zero.
        for pad in [4..8, 12..16, 20..24, 32..40] {
            assert!(b[pad].iter().all(|&c| c == 0));
        }
        assert_eq!(decode_connection_response(&b), Ok(r));
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn refusal_layout() {
        let b = encode_refusal(-121);
        assert_eq!(b.len(), CONNECTION_RESPONSE_LEN);
        assert_eq!(&b[16..20], &[0x87, 0xff, 0xff, 0xff]);
        assert!(b[20..].iter().all(|&c| c == 0));
    }

    #[test]
    fn response_paths_must_fit() {
        let mut r = ConnectionResponse {
            error: 0,
            connection_type: 0,
            max_msg_size: 1,
            request: "x".repeat(PATH_MAX),
            response: String::new(),
        };
        assert_eq!(
            encode_connection_response(&r),
            Err(PathTooLong { len: PATH_MAX })
        );
        r.request = "a\0b".into();
        assert!(encode_connection_response(&r).is_err());
        r.request = "y".repeat(PATH_MAX - 1);
        assert!(encode_connection_response(&r).is_ok());
    }

    fn datagram(id: i32, size: i32, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        if len >= 16 {
            b[0..4].copy_from_slice(&id.to_ne_bytes());
            b[8..12].copy_from_slice(&size.to_ne_bytes());
        }
        b
    }

    #[test]
    fn datagram_checks() {
        let max = 1024;
        let table: Vec<(Vec<u8>, Result<Datagram, QbError>)> = vec![
            (datagram(1, 140, 140), Ok(Datagram::Message { id: 1 })),
            (datagram(7, 16, 16), Ok(Datagram::Message { id: 7 })),
            (Vec::new(), Ok(Datagram::Disconnect)),
            (datagram(-3, 16, 16), Ok(Datagram::Disconnect)),
            (datagram(-1, 16, 16), Err(QbError::ReservedId { id: -1 })),
            (vec![0u8; 10], Err(QbError::Short { len: 10, need: 16 })),
            (
                datagram(1, 200, 140),
                Err(QbError::SizeMismatch {
                    size: 200,
                    len: 140,
                }),
            ),
            (
                datagram(1, i32::MAX, 140),
                Err(QbError::SizeMismatch {
                    size: i32::MAX,
                    len: 140,
                }),
            ),
            (
                datagram(1, -140, 140),
                Err(QbError::SizeMismatch {
                    size: -140,
                    len: 140,
                }),
            ),
            (
                datagram(1, 1025, 1025),
                Err(QbError::TooLarge {
                    len: 1025,
                    max: 1024,
                }),
            ),
        ];
        for (bytes, want) in table {
            assert_eq!(parse_datagram(&bytes, max), want, "{} bytes", bytes.len());
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn response_header_fixture() {
        assert_eq!(
            encode_response_header(3, 140, 0),
            [3, 0, 0, 0, 0, 0, 0, 0, 140, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            decode_response_header(&encode_response_header(-1, 2, -3)),
            Ok((-1, 2, -3))
        );
    }

    #[test]
    fn fuzz_entry_survives_odd_input() {
        for len in [0, 1, 15, 16, 23, 24, 25, 12327, 12328, 13000] {
            fuzz_parse(&vec![0xff; len]);
            fuzz_parse(&vec![0; len]);
        }
    }
}
