//! Values as they travel in a body: one variant per D-Bus type.
//!
//! Every type of the specification except UNIX_FD passing (an `h` is kept as its index; we
//! never negotiate descriptor passing) can be received, so any valid message from the bus
//! decodes. Arrays of bytes are kept as bytes, not as a value per byte.

use super::signature::Signature;

/// One D-Bus value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `y`
    Byte(u8),
    /// `b` (travels as a 32-bit 0 or 1)
    Bool(bool),
    /// `n`
    I16(i16),
    /// `q`
    U16(u16),
    /// `i`
    I32(i32),
    /// `u`
    U32(u32),
    /// `x`
    I64(i64),
    /// `t`
    U64(u64),
    /// `d`
    Double(f64),
    /// `s`: UTF-8 without NUL.
    Str(String),
    /// `o`: a checked object path.
    Path(String),
    /// `g`
    Sig(Signature),
    /// `h`: an index into descriptors that came with the message (we accept none).
    Fd(u32),
    /// `v`: any one value with its own signature.
    Variant(Box<Value>),
    /// `ay`
    Bytes(Vec<u8>),
    /// `a...` other than bytes: the element type (one complete type, or a dict entry
    /// `{kv}`) and the elements. Checked when encoded.
    Array(String, Vec<Value>),
    /// `(...)`
    Struct(Vec<Value>),
    /// `{kv}`, only as an array element.
    DictEntry(Box<(Value, Value)>),
}

impl Value {
    /// The single complete type of this value, as a signature string.
    pub fn signature(&self) -> String {
        let mut out = String::new();
        self.push_signature(&mut out);
        out
    }

    fn push_signature(&self, out: &mut String) {
        let code = match self {
            Value::Byte(_) => 'y',
            Value::Bool(_) => 'b',
            Value::I16(_) => 'n',
            Value::U16(_) => 'q',
            Value::I32(_) => 'i',
            Value::U32(_) => 'u',
            Value::I64(_) => 'x',
            Value::U64(_) => 't',
            Value::Double(_) => 'd',
            Value::Str(_) => 's',
            Value::Path(_) => 'o',
            Value::Sig(_) => 'g',
            Value::Fd(_) => 'h',
            Value::Variant(_) => 'v',
            Value::Bytes(_) => {
                out.push_str("ay");
                return;
            }
            Value::Array(elem, _) => {
                out.push('a');
                out.push_str(elem);
                return;
            }
            Value::Struct(fields) => {
                out.push('(');
                for f in fields {
                    f.push_signature(out);
                }
                out.push(')');
                return;
            }
            Value::DictEntry(kv) => {
                out.push('{');
                kv.0.push_signature(out);
                kv.1.push_signature(out);
                out.push('}');
                return;
            }
        };
        out.push(code);
    }

    /// The signature of a whole body.
    pub fn body_signature(values: &[Value]) -> String {
        let mut out = String::new();
        for v in values {
            v.push_signature(&mut out);
        }
        out
    }

    /// A string value, for building messages.
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    /// The text of a `s`, `o` or `g` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) => Some(s),
            Value::Sig(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The number of a `u` value.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(n) => Some(*n),
            _ => None,
        }
    }

    /// What a variant holds (the value itself if it is not a variant).
    pub fn unwrap_variant(&self) -> &Value {
        match self {
            Value::Variant(inner) => inner,
            other => other,
        }
    }
}

/// Whether `path` is a valid object path: `/`, or `/`-separated non-empty elements of
/// `[A-Za-z0-9_]` with no trailing `/` (specification, "Valid Object Paths").
pub fn is_object_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    rest.is_empty()
        || rest
            .split('/')
            .all(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_of_values() {
        let v = Value::Array(
            "{sv}".into(),
            vec![Value::DictEntry(Box::new((
                Value::str("a"),
                Value::Variant(Box::new(Value::U32(1))),
            )))],
        );
        assert_eq!(v.signature(), "a{sv}");
        assert_eq!(
            Value::body_signature(&[
                Value::U32(7),
                Value::Struct(vec![Value::Bytes(vec![]), Value::Bool(true)])
            ]),
            "u(ayb)"
        );
    }

    #[test]
    fn object_paths() {
        for (p, ok) in [
            ("/", true),
            ("/org/freedesktop/systemd1", true),
            ("/org/freedesktop/systemd1/unit/foo_2eservice", true),
            ("", false),
            ("org", false),
            ("/org/", false),
            ("//org", false),
            ("/org/free-desktop", false),
            ("/org/fr.ee", false),
        ] {
            assert_eq!(is_object_path(p), ok, "{p}");
        }
    }
}
