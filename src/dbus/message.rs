//! Whole messages: the fixed header, the header fields and the body.
//!
//! Layout (specification, "Message Format"): endianness byte (`l` or `B`), type, flags,
//! version 1, body length, serial, then an array of `(byte code, variant value)` fields, padding
//! to 8, and the body. We send in this machine's byte order, as libdbus does, and read either.
//! Fields are written in the order libdbus writes a message made in one go (path,
//! destination, interface, member, error name, reply serial, signature, sender), so our
//! messages match its bytes exactly.

use super::marshal::{Reader, Writer};
use super::signature::Signature;
use super::value::{is_object_path, Value};
use super::{DecodeError, EncodeError};
use crate::limits::{DBUS_MAX_MESSAGE_BYTES, DBUS_MAX_NAME_BYTES};

/// Bytes of the fixed part of a header, up to and including the field array's length.
pub const FIXED_HEADER_LEN: usize = 16;

/// Flag: the sender wants no reply.
pub const FLAG_NO_REPLY_EXPECTED: u8 = 0x1;
/// Flag: the bus must not start a service to deliver this.
pub const FLAG_NO_AUTO_START: u8 = 0x2;

/// The four message types; others must be ignored (specification), so they are kept by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: a call, which may expect a reply.
    MethodCall,
    /// 2: a successful reply.
    MethodReturn,
    /// 3: an error reply.
    Error,
    /// 4: a signal.
    Signal,
    /// A type this version of the specification does not define.
    Other(u8),
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::MethodCall => 1,
            Kind::MethodReturn => 2,
            Kind::Error => 3,
            Kind::Signal => 4,
            Kind::Other(n) => n,
        }
    }

    fn from_code(n: u8) -> Kind {
        match n {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            n => Kind::Other(n),
        }
    }
}

/// What the header says, fields decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Big-endian (`B`) rather than little-endian (`l`).
    pub big_endian: bool,
    /// The message type.
    pub kind: Option<Kind>,
    /// Flag bits.
    pub flags: u8,
    /// The sender's serial (never 0).
    pub serial: u32,
    /// Field 1: the object.
    pub path: Option<String>,
    /// Field 2.
    pub interface: Option<String>,
    /// Field 3: method or signal name.
    pub member: Option<String>,
    /// Field 4: for errors.
    pub error_name: Option<String>,
    /// Field 5: the serial this replies to.
    pub reply_serial: Option<u32>,
    /// Field 6.
    pub destination: Option<String>,
    /// Field 7: set by the bus.
    pub sender: Option<String>,
    /// Field 8: the body's signature (empty when absent).
    pub signature: Signature,
    /// Field 9: descriptors sent along (we accept none).
    pub unix_fds: Option<u32>,
}

/// A message with its body decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The body's values, as the signature says.
    pub body: Vec<Value>,
}

impl Message {
    fn new(kind: Kind) -> Message {
        Message {
            header: Header {
                kind: Some(kind),
                ..Header::default()
            },
            body: Vec::new(),
        }
    }

    /// A method call (`destination` may be absent on a peer-to-peer connection).
    pub fn method_call(destination: &str, path: &str, interface: &str, member: &str) -> Message {
        let mut m = Message::new(Kind::MethodCall);
        m.header.destination = Some(destination.to_string());
        m.header.path = Some(path.to_string());
        m.header.interface = Some(interface.to_string());
        m.header.member = Some(member.to_string());
        m
    }

    /// A signal (flagged as wanting no reply, as libdbus does).
    pub fn signal(path: &str, interface: &str, member: &str) -> Message {
        let mut m = Message::new(Kind::Signal);
        m.header.flags = FLAG_NO_REPLY_EXPECTED;
        m.header.path = Some(path.to_string());
        m.header.interface = Some(interface.to_string());
        m.header.member = Some(member.to_string());
        m
    }

    /// A successful reply to `call` (flagged as wanting no reply, as libdbus does).
    pub fn method_return(call: &Header) -> Message {
        let mut m = Message::new(Kind::MethodReturn);
        m.header.flags = FLAG_NO_REPLY_EXPECTED;
        m.header.reply_serial = Some(call.serial);
        m.header.destination = call.sender.clone();
        m
    }

    /// An error reply to `call`, with a text as its body (flagged like a reply).
    pub fn error(call: &Header, name: &str, text: &str) -> Message {
        let mut m = Message::new(Kind::Error);
        m.header.flags = FLAG_NO_REPLY_EXPECTED;
        m.header.error_name = Some(name.to_string());
        m.header.reply_serial = Some(call.serial);
        m.header.destination = call.sender.clone();
        m.body = vec![Value::str(text)];
        m
    }

    /// This message with `body` as its values.
    pub fn with_body(mut self, body: Vec<Value>) -> Message {
        self.body = body;
        self
    }

    /// This message with the flag bits added.
    pub fn with_flags(mut self, flags: u8) -> Message {
        self.header.flags |= flags;
        self
    }

    /// The message type (a decoded message always has one).
    pub fn kind(&self) -> Kind {
        self.header.kind.unwrap_or(Kind::Other(0))
    }

    /// The first body value as text, which is how errors carry their message.
    pub fn first_str(&self) -> Option<&str> {
        self.body.first().and_then(Value::as_str)
    }

    /// The bytes of this message with `serial`, in this machine's byte order.
    pub fn encode(&self, serial: u32) -> Result<Vec<u8>, EncodeError> {
        self.encode_with(serial, cfg!(target_endian = "big"), DBUS_MAX_MESSAGE_BYTES)
    }

    /// The bytes of this message in the given byte order, refused over `max` bytes.
    pub fn encode_with(
        &self,
        serial: u32,
        big_endian: bool,
        max: usize,
    ) -> Result<Vec<u8>, EncodeError> {
        if serial == 0 {
            return Err(EncodeError::BadValue("serial 0".into()));
        }
        self.check_required()?;
        let sig = Value::body_signature(&self.body);
        Signature::new(&sig).map_err(|e| EncodeError::BadValue(e.to_string()))?;
        let mut body = Writer::new(big_endian);
        for v in &self.body {
            body.put(v)?;
        }
        let body = body.into_bytes();
        let body_len = u32::try_from(body.len()).map_err(|_| EncodeError::TooLarge {
            len: body.len(),
            max,
        })?;

        let h = &self.header;
        let mut w = Writer::new(big_endian);
        w.put_bytes(&[
            if big_endian { b'B' } else { b'l' },
            self.kind().code(),
            h.flags,
            1,
        ]);
        w.put_u32(body_len);
        w.put_u32(serial);
        w.put_u32(0); // field array length, set below
        let start = w.len();
        let name = |s: &Option<String>| s.as_ref().map(|s| Value::Str(s.clone()));
        // libdbus's order, so our bytes equal its bytes for the same message.
        let fields = [
            (1, h.path.as_ref().map(|p| Value::Path(p.clone()))),
            (6, name(&h.destination)),
            (2, name(&h.interface)),
            (3, name(&h.member)),
            (4, name(&h.error_name)),
            (5, h.reply_serial.map(Value::U32)),
            (
                8,
                (!sig.is_empty()).then(|| Value::Sig(Signature::trusted(sig.clone()))),
            ),
            (7, name(&h.sender)),
            (9, h.unix_fds.map(Value::U32)),
        ];
        for (code, value) in fields {
            if let Some(v) = value {
                w.align(8);
                w.put_bytes(&[code]);
                w.put(&Value::Variant(Box::new(v)))?;
            }
        }
        let fields_len = (w.len() - start) as u32;
        w.align(8);
        let mut out = w.into_bytes();
        let len_bytes = if big_endian {
            fields_len.to_be_bytes()
        } else {
            fields_len.to_le_bytes()
        };
        out[12..16].copy_from_slice(&len_bytes);
        out.extend_from_slice(&body);
        if out.len() > max {
            return Err(EncodeError::TooLarge {
                len: out.len(),
                max,
            });
        }
        Ok(out)
    }

    fn check_required(&self) -> Result<(), EncodeError> {
        let missing = |what: &str| Err(EncodeError::BadValue(format!("no {what}")));
        check_names(&self.header).map_err(|e| EncodeError::BadValue(e.to_string()))?;
        let h = &self.header;
        match self.kind() {
            Kind::MethodCall if h.path.is_none() || h.member.is_none() => missing("path or member"),
            Kind::Signal if h.path.is_none() || h.interface.is_none() || h.member.is_none() => {
                missing("path, interface or member")
            }
            Kind::Error if h.error_name.is_none() || h.reply_serial.is_none() => {
                missing("error name or reply serial")
            }
            Kind::MethodReturn if h.reply_serial.is_none() => missing("reply serial"),
            _ => Ok(()),
        }
    }

    /// Decodes one whole message (exactly its bytes).
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        let (header, fixed) = decode_header(bytes)?;
        if bytes.len() != fixed.total_len() {
            return Err(DecodeError::BadHeader(format!(
                "{} bytes for a message of {}",
                bytes.len(),
                fixed.total_len()
            )));
        }
        let mut r = Reader::new(&bytes[fixed.body_offset()..], header.big_endian);
        let body = r.body(&header.signature)?;
        Ok(Message { header, body })
    }
}

/// The fixed part of a header: byte order, and the total size of the message it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    /// `B` rather than `l`.
    pub big_endian: bool,
    /// The sender's serial.
    pub serial: u32,
    /// Bytes of the field array.
    pub fields_len: usize,
    /// Bytes of the body.
    pub body_len: usize,
}

impl Fixed {
    /// Reads the first 16 bytes of a message. Only a wrong byte-order mark or version is an
    /// error: after those the stream cannot be followed.
    pub fn parse(b: &[u8; FIXED_HEADER_LEN]) -> Result<Fixed, DecodeError> {
        let big_endian = match b[0] {
            b'l' => false,
            b'B' => true,
            other => return Err(DecodeError::BadEndian(other)),
        };
        if b[3] != 1 {
            return Err(DecodeError::BadVersion(b[3]));
        }
        let word = |at: usize| {
            let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            if big_endian {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        };
        Ok(Fixed {
            big_endian,
            serial: word(8),
            body_len: word(4) as usize,
            fields_len: word(12) as usize,
        })
    }

    /// Where the body starts: the fields padded to 8.
    pub fn body_offset(&self) -> usize {
        (FIXED_HEADER_LEN + self.fields_len).div_ceil(8) * 8
    }

    /// The whole message's size.
    pub fn total_len(&self) -> usize {
        self.body_offset() + self.body_len
    }
}

/// Decodes the header of `bytes` (which holds at least the header and its padding); returns
/// it and its fixed part (sizes).
pub fn decode_header(bytes: &[u8]) -> Result<(Header, Fixed), DecodeError> {
    let fixed_bytes: &[u8; FIXED_HEADER_LEN] = bytes
        .get(..FIXED_HEADER_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or(DecodeError::Truncated { at: 0 })?;
    let fixed = Fixed::parse(fixed_bytes)?;
    let body_at = fixed.body_offset();
    if bytes.len() < body_at {
        return Err(DecodeError::Truncated { at: bytes.len() });
    }
    if fixed.serial == 0 {
        return Err(DecodeError::BadHeader("serial 0".into()));
    }
    let mut h = Header {
        big_endian: fixed.big_endian,
        kind: Some(Kind::from_code(bytes[1])),
        flags: bytes[2],
        serial: fixed.serial,
        ..Header::default()
    };
    let fields_end = FIXED_HEADER_LEN + fixed.fields_len;
    let mut r = Reader::at(&bytes[..fields_end], FIXED_HEADER_LEN, fixed.big_endian);
    let mut seen = 0u32;
    while !r.at_end() {
        r.align(8)?;
        let Value::Struct(f) = r.value("(yv)")? else {
            return Err(DecodeError::BadHeader("field".into()));
        };
        let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (f.first(), f.get(1)) else {
            return Err(DecodeError::BadHeader("field".into()));
        };
        let code = *code;
        if (1..=9).contains(&code) {
            if seen & (1 << code) != 0 {
                return Err(DecodeError::BadHeader(format!("field {code} twice")));
            }
            seen |= 1 << code;
        }
        let wrong = || DecodeError::BadHeader(format!("field {code} of type {}", v.signature()));
        let text = || match &**v {
            Value::Str(s) => Ok(Some(s.clone())),
            _ => Err(wrong()),
        };
        match code {
            1 => match &**v {
                Value::Path(p) => h.path = Some(p.clone()),
                _ => return Err(wrong()),
            },
            2 => h.interface = text()?,
            3 => h.member = text()?,
            4 => h.error_name = text()?,
            5 => h.reply_serial = Some(v.as_u32().ok_or_else(wrong)?),
            6 => h.destination = text()?,
            7 => h.sender = text()?,
            8 => match &**v {
                Value::Sig(s) => h.signature = s.clone(),
                _ => return Err(wrong()),
            },
            9 => h.unix_fds = Some(v.as_u32().ok_or_else(wrong)?),
            _ => {} // unknown fields are ignored (specification)
        }
    }
    // Padding after the fields must be zero too.
    if bytes[fields_end..body_at].iter().any(|&b| b != 0) {
        return Err(DecodeError::BadPadding { at: fields_end });
    }
    check_names(&h)?;
    let missing = |what: &str| Err(DecodeError::BadHeader(format!("no {what}")));
    match h.kind {
        Some(Kind::MethodCall) if h.path.is_none() || h.member.is_none() => {
            missing("path or member")?
        }
        Some(Kind::Signal) if h.path.is_none() || h.interface.is_none() || h.member.is_none() => {
            missing("path, interface or member")?
        }
        Some(Kind::Error) if h.error_name.is_none() || h.reply_serial.is_none() => {
            missing("error name or reply serial")?
        }
        Some(Kind::MethodReturn) if h.reply_serial.is_none() => missing("reply serial")?,
        _ => {}
    }
    Ok((h, fixed))
}

/// Names in the header are bounded and well formed (specification, "Valid Names").
fn check_names(h: &Header) -> Result<(), DecodeError> {
    let bad = |what: &str, s: &str| {
        Err(DecodeError::BadHeader(format!(
            "{what} of {} bytes or with bad characters",
            s.len()
        )))
    };
    if let Some(p) = &h.path {
        if !is_object_path(p) {
            return bad("object path", p);
        }
    }
    for (what, name, dotted) in [
        ("interface", &h.interface, true),
        ("member", &h.member, false),
        ("error name", &h.error_name, true),
    ] {
        if let Some(n) = name {
            if !valid_name(n, dotted) {
                return bad(what, n);
            }
        }
    }
    for (what, name) in [("destination", &h.destination), ("sender", &h.sender)] {
        if let Some(n) = name {
            if n.is_empty() || n.len() > DBUS_MAX_NAME_BYTES {
                return bad(what, n);
            }
        }
    }
    Ok(())
}

/// Interface and error names are two or more dotted elements of `[A-Za-z0-9_]` not starting
/// with a digit; a member is one such element.
fn valid_name(n: &str, dotted: bool) -> bool {
    let element = |e: &str| {
        !e.is_empty()
            && !e.as_bytes()[0].is_ascii_digit()
            && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    n.len() <= DBUS_MAX_NAME_BYTES
        && if dotted {
            n.split('.').count() >= 2 && n.split('.').all(element)
        } else {
            element(n)
        }
}
