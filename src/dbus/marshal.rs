//! Values ⇄ bytes in either byte order (specification, "Marshaling (Wire Format)").
//!
//! Every value starts at a multiple of its alignment, counted from the start of the message;
//! the header is padded to 8 bytes, so counting from the start of the header or of the body
//! gives the same padding. Padding must be zero. The reader trusts nothing: every length is
//! checked against what is left, values are counted and nesting is bounded, so a hostile body
//! costs at most [`DBUS_MAX_VALUES`] values and [`DBUS_MAX_DEPTH`] stack frames.

use super::signature::{alignment, Signature};
use super::value::{is_object_path, Value};
use super::{DecodeError, EncodeError};
use crate::limits::{DBUS_MAX_DEPTH, DBUS_MAX_VALUES};

/// The specification's largest array, in bytes.
const MAX_ARRAY_BYTES: usize = 64 * 1024 * 1024;

/// Appends values to a buffer.
pub struct Writer {
    buf: Vec<u8>,
    big: bool,
}

impl Writer {
    /// An empty buffer written in big-endian (`B`) or little-endian (`l`) order.
    pub fn new(big_endian: bool) -> Writer {
        Writer {
            buf: Vec::new(),
            big: big_endian,
        }
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Pads with zeros to a multiple of `n`.
    pub fn align(&mut self, n: usize) {
        let padded = self.buf.len().div_ceil(n) * n;
        self.buf.resize(padded, 0);
    }

    /// Appends raw bytes.
    pub fn put_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// A `u` (aligned).
    pub fn put_u32(&mut self, n: u32) {
        self.align(4);
        let b = if self.big {
            n.to_be_bytes()
        } else {
            n.to_le_bytes()
        };
        self.buf.extend_from_slice(&b);
    }

    fn put_fixed(&mut self, le: &[u8]) {
        self.align(le.len());
        if self.big {
            self.buf.extend(le.iter().rev());
        } else {
            self.buf.extend_from_slice(le);
        }
    }

    fn put_string(&mut self, s: &str) -> Result<(), EncodeError> {
        if s.as_bytes().contains(&0) {
            return Err(EncodeError::BadValue("string with a NUL byte".into()));
        }
        let len = u32::try_from(s.len()).map_err(|_| EncodeError::BadValue("string".into()))?;
        self.put_u32(len);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    /// A signature value (`g`), also used for variant types and the header.
    pub fn put_signature(&mut self, s: &str) {
        // Checked signatures are at most 255 bytes.
        self.buf.push(s.len().min(255) as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// Appends one value.
    pub fn put(&mut self, v: &Value) -> Result<(), EncodeError> {
        self.put_at(v, 0)
    }

    fn put_at(&mut self, v: &Value, depth: usize) -> Result<(), EncodeError> {
        if depth > DBUS_MAX_DEPTH {
            return Err(EncodeError::BadValue("values nested too deeply".into()));
        }
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.put_u32(u32::from(*b)),
            Value::I16(n) => self.put_fixed(&n.to_le_bytes()),
            Value::U16(n) => self.put_fixed(&n.to_le_bytes()),
            Value::I32(n) => self.put_fixed(&n.to_le_bytes()),
            Value::U32(n) | Value::Fd(n) => self.put_u32(*n),
            Value::I64(n) => self.put_fixed(&n.to_le_bytes()),
            Value::U64(n) => self.put_fixed(&n.to_le_bytes()),
            Value::Double(d) => self.put_fixed(&d.to_bits().to_le_bytes()),
            Value::Str(s) => self.put_string(s)?,
            Value::Path(p) => {
                if !is_object_path(p) {
                    return Err(EncodeError::BadValue(format!("object path '{p}'")));
                }
                self.put_string(p)?;
            }
            Value::Sig(s) => self.put_signature(s.as_str()),
            Value::Variant(inner) => {
                let sig = inner.signature();
                Signature::new(&sig).map_err(|e| EncodeError::BadValue(e.to_string()))?;
                self.put_signature(&sig);
                self.put_at(inner, depth + 1)?;
            }
            Value::Bytes(b) => {
                let len = u32::try_from(b.len())
                    .ok()
                    .filter(|&n| n as usize <= MAX_ARRAY_BYTES)
                    .ok_or_else(|| EncodeError::BadValue("byte array too long".into()))?;
                self.put_u32(len);
                self.buf.extend_from_slice(b);
            }
            Value::Array(elem, items) => {
                self.put_u32(0);
                let len_at = self.buf.len() - 4;
                let first = elem.as_bytes().first().copied().unwrap_or(b'y');
                self.align(alignment(first));
                let start = self.buf.len();
                for item in items {
                    if item.signature() != *elem {
                        return Err(EncodeError::BadValue(format!(
                            "array of '{elem}' holding a '{}'",
                            item.signature()
                        )));
                    }
                    self.put_at(item, depth + 1)?;
                }
                let len = self.buf.len() - start;
                if len > MAX_ARRAY_BYTES {
                    return Err(EncodeError::BadValue("array too long".into()));
                }
                let b = if self.big {
                    (len as u32).to_be_bytes()
                } else {
                    (len as u32).to_le_bytes()
                };
                self.buf[len_at..len_at + 4].copy_from_slice(&b);
            }
            Value::Struct(fields) => {
                if fields.is_empty() {
                    return Err(EncodeError::BadValue("empty struct".into()));
                }
                self.align(8);
                for f in fields {
                    self.put_at(f, depth + 1)?;
                }
            }
            Value::DictEntry(kv) => {
                self.align(8);
                self.put_at(&kv.0, depth + 1)?;
                self.put_at(&kv.1, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// Reads values from a message; positions count from the start of `buf`, which must sit at a
/// multiple of 8 in the message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    big: bool,
    values_left: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` in the given byte order.
    pub fn new(buf: &'a [u8], big_endian: bool) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            big: big_endian,
            values_left: DBUS_MAX_VALUES,
        }
    }

    /// Starts at `pos` (for the header, whose fixed part is read by hand).
    pub fn at(buf: &'a [u8], pos: usize, big_endian: bool) -> Reader<'a> {
        Reader {
            pos,
            ..Reader::new(buf, big_endian)
        }
    }

    /// Where the next read starts.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Whether every byte was read.
    pub fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Skips padding to a multiple of `n`; padding must be zero.
    pub fn align(&mut self, n: usize) -> Result<(), DecodeError> {
        let target = self.pos.div_ceil(n) * n;
        let pad = self.take(target - self.pos)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(DecodeError::BadPadding { at: self.pos });
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.align(N)?;
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        if !self.big {
            out.reverse();
        }
        // Now big-endian, whatever the wire order was.
        Ok(out)
    }

    /// A `u`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.fixed::<4>().map(u32::from_be_bytes)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let len = self.u32()? as usize;
        let at = self.pos;
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return Err(DecodeError::MissingNul { at });
        }
        if bytes.contains(&0) {
            return Err(DecodeError::InteriorNul { at });
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::BadUtf8 { at })
    }

    /// A `g` (one length byte, no alignment).
    pub fn signature(&mut self) -> Result<Signature, DecodeError> {
        let len = usize::from(self.take(1)?[0]);
        let at = self.pos;
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return Err(DecodeError::MissingNul { at });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::BadUtf8 { at })?;
        Signature::new(text).map_err(DecodeError::Signature)
    }

    /// One value of the single complete type `sig` (already checked).
    pub fn value(&mut self, sig: &str) -> Result<Value, DecodeError> {
        self.value_at(sig.as_bytes(), 0)
    }

    /// Every value of a body with signature `sig`, which must use the whole buffer.
    pub fn body(&mut self, sig: &Signature) -> Result<Vec<Value>, DecodeError> {
        let mut out = Vec::new();
        for t in sig.types() {
            out.push(self.value(t)?);
        }
        if !self.at_end() {
            return Err(DecodeError::TrailingBytes {
                at: self.pos,
                len: self.buf.len(),
            });
        }
        Ok(out)
    }

    fn value_at(&mut self, sig: &[u8], depth: usize) -> Result<Value, DecodeError> {
        if depth > DBUS_MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        self.values_left = self
            .values_left
            .checked_sub(1)
            .ok_or(DecodeError::TooManyValues)?;
        let code = sig.first().copied().ok_or(DecodeError::TooDeep)?;
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => {
                    return Err(DecodeError::BadBool {
                        value: n,
                        at: self.pos - 4,
                    })
                }
            },
            b'n' => Value::I16(i16::from_be_bytes(self.fixed()?)),
            b'q' => Value::U16(u16::from_be_bytes(self.fixed()?)),
            b'i' => Value::I32(i32::from_be_bytes(self.fixed()?)),
            b'u' => Value::U32(self.u32()?),
            b'h' => Value::Fd(self.u32()?),
            b'x' => Value::I64(i64::from_be_bytes(self.fixed()?)),
            b't' => Value::U64(u64::from_be_bytes(self.fixed()?)),
            b'd' => Value::Double(f64::from_bits(u64::from_be_bytes(self.fixed()?))),
            b's' => Value::Str(self.string()?),
            b'o' => {
                let at = self.pos;
                let p = self.string()?;
                if !is_object_path(&p) {
                    return Err(DecodeError::BadObjectPath { at });
                }
                Value::Path(p)
            }
            b'g' => Value::Sig(self.signature()?),
            b'v' => {
                let inner = self.signature()?;
                let mut types = inner.types();
                let (Some(t), None) = (types.next(), types.next()) else {
                    return Err(DecodeError::BadVariant { at: self.pos });
                };
                Value::Variant(Box::new(self.value_at(t.as_bytes(), depth + 1)?))
            }
            b'a' => self.array(&sig[1..], depth)?,
            b'(' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                let mut at = 0;
                while at < inner.len() {
                    let len = super::signature::complete_type_len(inner, at, 0, 0)
                        .map_err(DecodeError::Signature)?;
                    fields.push(self.value_at(&inner[at..at + len], depth + 1)?);
                    at += len;
                }
                Value::Struct(fields)
            }
            b'{' => {
                self.align(8)?;
                // `{` key (one basic code) value `}`
                let key = self.value_at(&sig[1..2], depth + 1)?;
                let value = self.value_at(&sig[2..sig.len() - 1], depth + 1)?;
                Value::DictEntry(Box::new((key, value)))
            }
            other => {
                return Err(DecodeError::Signature(
                    super::signature::SignatureError::UnknownType { code: other, at: 0 },
                ))
            }
        })
    }

    fn array(&mut self, elem: &[u8], depth: usize) -> Result<Value, DecodeError> {
        let len = self.u32()? as usize;
        if len > MAX_ARRAY_BYTES {
            return Err(DecodeError::ArrayTooLong { len });
        }
        let first = elem.first().copied().ok_or(DecodeError::TooDeep)?;
        self.align(alignment(first))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        if elem == b"y" {
            return Ok(Value::Bytes(self.take(len)?.to_vec()));
        }
        let mut items = Vec::new();
        while self.pos < end {
            items.push(self.value_at(elem, depth + 1)?);
        }
        if self.pos != end {
            return Err(DecodeError::ArrayOverrun { at: end });
        }
        Ok(Value::Array(
            String::from_utf8_lossy(elem).into_owned(),
            items,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[Value], big: bool) -> Vec<u8> {
        let mut w = Writer::new(big);
        for v in values {
            w.put(v).unwrap_or_else(|e| panic!("{e}"));
        }
        let bytes = w.into_bytes();
        let sig = Signature::new(&Value::body_signature(values)).unwrap_or_default();
        let back = Reader::new(&bytes, big).body(&sig);
        assert_eq!(back.as_ref(), Ok(&values.to_vec()), "{bytes:02x?}");
        bytes
    }

    fn sample() -> Vec<Value> {
        vec![
            Value::Byte(7),
            Value::Bool(true),
            Value::I16(-2),
            Value::U16(3),
            Value::I32(-4),
            Value::U32(5),
            Value::I64(-6),
            Value::U64(1 << 40),
            Value::Double(1.5),
            Value::str("héllo"),
            Value::Path("/org/freedesktop/systemd1".into()),
            Value::Sig(Signature::new("a{sv}").unwrap_or_default()),
            Value::Variant(Box::new(Value::Struct(vec![
                Value::U64(9),
                Value::str("x"),
            ]))),
            Value::Bytes(vec![1, 2, 3]),
            Value::Array(
                "{sv}".into(),
                vec![Value::DictEntry(Box::new((
                    Value::str("ActiveState"),
                    Value::Variant(Box::new(Value::str("active"))),
                )))],
            ),
            Value::Array("t".into(), vec![]),
            Value::Array(
                "(ss)".into(),
                vec![
                    Value::Struct(vec![Value::str("/a.service"), Value::str("enabled")]),
                    Value::Struct(vec![Value::str("/b.socket"), Value::str("static")]),
                ],
            ),
        ]
    }

    #[test]
    fn every_type_round_trips_in_both_orders() {
        let le = round_trip(&sample(), false);
        let be = round_trip(&sample(), true);
        assert_eq!(le.len(), be.len());
        assert_ne!(le, be);
    }

    #[test]
    fn known_encodings() {
        // (value, little-endian bytes, big-endian bytes), each written from offset 0.
        let t: &[(Value, &str, &str)] = &[
            (Value::U32(0x01020304), "04030201", "01020304"),
            (Value::Bool(true), "01000000", "00000001"),
            (Value::str("ab"), "02000000616200", "00000002616200"),
            (Value::U64(1), "0100000000000000", "0000000000000001"),
            (
                Value::Array("t".into(), vec![Value::U64(1)]),
                "08000000000000000100000000000000",
                "00000008000000000000000000000001",
            ),
            (
                Value::Variant(Box::new(Value::U32(1))),
                "0175000001000000",
                "0175000000000001",
            ),
        ];
        for (v, le, be) in t {
            for (big, want) in [(false, le), (true, be)] {
                let mut w = Writer::new(big);
                w.put(v).unwrap_or_else(|e| panic!("{e}"));
                let got: String = w.into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(&got, want, "{v:?} big={big}");
            }
        }
    }

    #[test]
    fn hostile_bodies_are_refused() {
        let sig = |s: &str| Signature::new(s).unwrap_or_default();
        let cases: &[(&str, &[u8])] = &[
            ("u", &[1, 0, 0]),                                  // short
            ("b", &[2, 0, 0, 0]),                               // boolean 2
            ("s", &[1, 0, 0, 0, b'a', 1]),                      // no NUL
            ("s", &[2, 0, 0, 0, b'a', 0, 0]),                   // interior NUL
            ("s", &[1, 0, 0, 0, 0xff, 0]),                      // not UTF-8
            ("o", &[1, 0, 0, 0, b'x', 0]),                      // not a path
            ("yu", &[1, 9, 0, 0, 1, 0, 0, 0]),                  // non-zero padding
            ("as", &[0xff, 0xff, 0xff, 0xff]),                  // array length
            ("ai", &[6, 0, 0, 0, 1, 0, 0, 0, 2, 0]),            // element overruns
            ("v", &[2, b'u', b'u', 0, 1, 0, 0, 0, 1, 0, 0, 0]), // two types in a variant
            ("u", &[1, 0, 0, 0, 0]),                            // trailing byte
        ];
        for (s, bytes) in cases {
            assert!(
                Reader::new(bytes, false).body(&sig(s)).is_err(),
                "{s} {bytes:?} accepted"
            );
        }
    }

    #[test]
    fn nesting_and_value_count_are_bounded() {
        // Variants inside variants: each level is valid on its own.
        let mut bytes = Vec::new();
        for _ in 0..100 {
            bytes.extend_from_slice(&[1, b'v', 0]);
        }
        bytes.extend_from_slice(&[1, b'y', 0, 5]);
        let sig = Signature::new("v").unwrap_or_default();
        assert_eq!(
            Reader::new(&bytes, false).body(&sig),
            Err(DecodeError::TooDeep)
        );
        // An array of many empty strings within the byte bound.
        let n = DBUS_MAX_VALUES + 1;
        let mut w = Writer::new(false);
        w.put_u32((n * 8) as u32);
        for _ in 0..n {
            w.put_u32(0);
            w.put_bytes(&[0, 0, 0, 0]);
        }
        let bytes = w.into_bytes();
        assert_eq!(
            Reader::new(&bytes, false).body(&Signature::new("as").unwrap_or_default()),
            Err(DecodeError::TooManyValues)
        );
    }
}
