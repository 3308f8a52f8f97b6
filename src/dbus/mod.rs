//! A small D-Bus client for the system bus: just what systemd's manager needs.
//!
//! In: bytes from the bus's Unix socket. Out: typed messages, replies matched to their calls,
//! and signals. Everything but [`conn`] is sans-I/O: `signature`, `value` and `marshal` are the
//! type system and wire format, `message` the header, `framer` cuts the byte stream into
//! messages, `auth` is the SASL EXTERNAL exchange, `address` finds the bus. [`conn`] runs them
//! on our one-thread smol loop (`Async<UnixStream>`): no second thread, no blocking call.
//! Nothing here knows about systemd or the executor; bounds are in `limits.rs` (`DBUS_*`).
//!
//! Why our own client: zbus (the well-kept async crate) adds about 526 KB to the aarch64
//! `release-small` binary and 59 crates; this module adds a fraction of that (README,
//! "Boards, features and sizes").

pub mod address;
pub mod auth;
pub mod conn;
pub mod framer;
pub mod marshal;
pub mod message;
pub mod signature;
pub mod value;

#[cfg(test)]
mod tests;

use std::fmt;

pub use conn::{Bus, CallError, ConnectError, Driver};
pub use message::{Header, Kind, Message};
pub use signature::Signature;
pub use value::Value;

/// The bus itself: its name, object and interface.
pub const BUS_NAME: &str = "org.freedesktop.DBus";
/// The bus's object path.
pub const BUS_PATH: &str = "/org/freedesktop/DBus";

/// Why bytes from the bus are not a valid message. The bus (or a program sending through it)
/// is at fault; the message is dropped and the stream goes on, except for the first two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The first byte is neither `l` nor `B`: the stream cannot be followed.
    BadEndian(u8),
    /// A protocol version other than 1: the stream cannot be followed.
    BadVersion(u8),
    /// A value runs past the end of its message or array.
    Truncated {
        /// Offset where it started.
        at: usize,
    },
    /// Padding bytes that are not zero.
    BadPadding {
        /// Offset.
        at: usize,
    },
    /// A boolean other than 0 or 1.
    BadBool {
        /// The number sent.
        value: u32,
        /// Offset.
        at: usize,
    },
    /// A string without its terminating NUL.
    MissingNul {
        /// Offset.
        at: usize,
    },
    /// A string with a NUL inside.
    InteriorNul {
        /// Offset.
        at: usize,
    },
    /// A string that is not UTF-8.
    BadUtf8 {
        /// Offset.
        at: usize,
    },
    /// An object path that is not one.
    BadObjectPath {
        /// Offset.
        at: usize,
    },
    /// A variant whose signature is not exactly one type.
    BadVariant {
        /// Offset.
        at: usize,
    },
    /// An invalid signature.
    Signature(signature::SignatureError),
    /// An array longer than the specification's 64 MiB.
    ArrayTooLong {
        /// The length sent.
        len: usize,
    },
    /// An array whose last element ends past its length.
    ArrayOverrun {
        /// Where the array should have ended.
        at: usize,
    },
    /// Bytes left after the body's values.
    TrailingBytes {
        /// Where the values ended.
        at: usize,
        /// The body's length.
        len: usize,
    },
    /// More values than [`crate::limits::DBUS_MAX_VALUES`].
    TooManyValues,
    /// Containers nested deeper than [`crate::limits::DBUS_MAX_DEPTH`].
    TooDeep,
    /// A header field missing, repeated, of the wrong type, or a bad name.
    BadHeader(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadEndian(b) => write!(f, "byte-order mark 0x{b:02x}, not 'l' or 'B'"),
            DecodeError::BadVersion(v) => write!(f, "protocol version {v}, not 1"),
            DecodeError::Truncated { at } => write!(f, "value at offset {at} runs past the end"),
            DecodeError::BadPadding { at } => write!(f, "non-zero padding at offset {at}"),
            DecodeError::BadBool { value, at } => {
                write!(f, "boolean {value} at offset {at}, not 0 or 1")
            }
            DecodeError::MissingNul { at } => write!(f, "string at offset {at} lacks its NUL"),
            DecodeError::InteriorNul { at } => write!(f, "string at offset {at} holds a NUL"),
            DecodeError::BadUtf8 { at } => write!(f, "string at offset {at} is not UTF-8"),
            DecodeError::BadObjectPath { at } => write!(f, "invalid object path at offset {at}"),
            DecodeError::BadVariant { at } => {
                write!(f, "variant at offset {at} does not hold exactly one type")
            }
            DecodeError::Signature(e) => e.fmt(f),
            DecodeError::ArrayTooLong { len } => write!(f, "array of {len} bytes, over 64 MiB"),
            DecodeError::ArrayOverrun { at } => {
                write!(f, "array element runs past the array's end at offset {at}")
            }
            DecodeError::TrailingBytes { at, len } => {
                write!(f, "body values end at offset {at} of {len} bytes")
            }
            DecodeError::TooManyValues => write!(
                f,
                "more than {} values in one message",
                crate::limits::DBUS_MAX_VALUES
            ),
            DecodeError::TooDeep => write!(
                f,
                "containers nested deeper than {}",
                crate::limits::DBUS_MAX_DEPTH
            ),
            DecodeError::BadHeader(what) => write!(f, "invalid header: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a message of ours cannot be sent: our own mistake or a bound, found before any byte
/// is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// Larger than the bound.
    TooLarge {
        /// Its size.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// A value that the wire format cannot carry (a NUL in a string, a bad path, an array
    /// element of the wrong type, a missing required field).
    BadValue(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge { len, max } => {
                write!(f, "message of {len} bytes, over the {max}-byte bound")
            }
            EncodeError::BadValue(what) => write!(f, "cannot encode: {what}"),
        }
    }
}

impl std::error::Error for EncodeError {}
