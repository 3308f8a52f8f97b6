//! Type signatures: the string that says what a body (or a variant, or an array's elements)
//! holds, checked once so the marshalling code can trust it.
//!
//! A signature is a sequence of single complete types (D-Bus specification, "Type system"):
//! a basic type code, `v`, `a` followed by one complete type, `(...)` with at least one type,
//! or `a{kv}` with a basic key. Bounds: 255 bytes, 32 nested arrays, 32 nested structs.

use std::fmt;

use crate::limits::{DBUS_MAX_SIGNATURE_BYTES, DBUS_MAX_SIGNATURE_NESTING};

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// Longer than the specification's 255 bytes.
    TooLong(usize),
    /// A byte that is not a type code, at this offset.
    UnknownType {
        /// The byte.
        code: u8,
        /// Its offset in the signature.
        at: usize,
    },
    /// Ends inside a container, or a container is empty or badly closed.
    Malformed(String),
    /// More than 32 arrays or 32 structs inside one another.
    TooDeep,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::TooLong(n) => {
                write!(f, "signature of {n} bytes, over {DBUS_MAX_SIGNATURE_BYTES}")
            }
            SignatureError::UnknownType { code, at } => {
                write!(
                    f,
                    "unknown type code 0x{code:02x} at offset {at} of a signature"
                )
            }
            SignatureError::Malformed(s) => write!(f, "malformed signature '{s}'"),
            SignatureError::TooDeep => write!(
                f,
                "signature nests more than {DBUS_MAX_SIGNATURE_NESTING} arrays or structs"
            ),
        }
    }
}

impl std::error::Error for SignatureError {}

/// A checked signature (possibly empty: a message without a body).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Signature(String);

impl Signature {
    /// Checks `text` and keeps it.
    pub fn new(text: &str) -> Result<Signature, SignatureError> {
        let bytes = text.as_bytes();
        if bytes.len() > DBUS_MAX_SIGNATURE_BYTES {
            return Err(SignatureError::TooLong(bytes.len()));
        }
        let mut at = 0;
        while at < bytes.len() {
            at += complete_type_len(bytes, at, 0, 0)?;
        }
        Ok(Signature(text.to_string()))
    }

    /// The empty signature (no values).
    pub fn empty() -> Signature {
        Signature(String::new())
    }

    /// The text, as it travels.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it holds no type at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each single complete type in order (each one is itself a valid signature).
    pub fn types(&self) -> Types<'_> {
        Types { rest: &self.0 }
    }

    /// A signature already known to be valid (built from checked parts).
    pub(crate) fn trusted(text: String) -> Signature {
        Signature(text)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Iterator over the single complete types of a [`Signature`].
pub struct Types<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Types<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        // The signature was checked, so the length is known to be found.
        let len = complete_type_len(self.rest.as_bytes(), 0, 0, 0).unwrap_or(self.rest.len());
        let (first, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(first)
    }
}

/// Whether `code` is a basic type (usable as a dict key).
pub fn is_basic(code: u8) -> bool {
    matches!(
        code,
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g' | b'h'
    )
}

/// The alignment of values whose type starts with `code` (specification, "Marshaling").
pub fn alignment(code: u8) -> usize {
    match code {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 1, // y, g, v
    }
}

/// Length of the single complete type starting at `at`, checking it on the way.
pub(crate) fn complete_type_len(
    sig: &[u8],
    at: usize,
    arrays: usize,
    structs: usize,
) -> Result<usize, SignatureError> {
    let malformed = || SignatureError::Malformed(String::from_utf8_lossy(sig).into_owned());
    let Some(&code) = sig.get(at) else {
        return Err(malformed());
    };
    match code {
        c if is_basic(c) || c == b'v' => Ok(1),
        b'a' => {
            if arrays >= DBUS_MAX_SIGNATURE_NESTING {
                return Err(SignatureError::TooDeep);
            }
            if sig.get(at + 1) == Some(&b'{') {
                // A dict entry: exactly a basic key and one complete value type.
                if structs >= DBUS_MAX_SIGNATURE_NESTING {
                    return Err(SignatureError::TooDeep);
                }
                let key = *sig.get(at + 2).ok_or_else(malformed)?;
                if !is_basic(key) {
                    return Err(malformed());
                }
                let value = complete_type_len(sig, at + 3, arrays + 1, structs + 1)?;
                if sig.get(at + 3 + value) != Some(&b'}') {
                    return Err(malformed());
                }
                Ok(4 + value)
            } else {
                Ok(1 + complete_type_len(sig, at + 1, arrays + 1, structs)?)
            }
        }
        b'(' => {
            if structs >= DBUS_MAX_SIGNATURE_NESTING {
                return Err(SignatureError::TooDeep);
            }
            let mut len = 1;
            loop {
                match sig.get(at + len) {
                    None => return Err(malformed()),
                    Some(b')') if len == 1 => return Err(malformed()),
                    Some(b')') => return Ok(len + 1),
                    Some(_) => len += complete_type_len(sig, at + len, arrays, structs + 1)?,
                }
            }
        }
        b')' | b'{' | b'}' => Err(malformed()),
        other => Err(SignatureError::UnknownType { code: other, at }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked() {
        let good = [
            "",
            "s",
            "ua(ss)",
            "a{sv}",
            "a{s(ssu)}",
            "(ybnqiuxtdsogvh)",
            "aay",
            "a(ssssssouso)",
        ];
        for s in good {
            assert_eq!(Signature::new(s).map(|x| x.0), Ok(s.to_string()), "{s}");
        }
        let bad = [
            "a", "(", "()", "(s", "s)", "{sv}", "a{vs}", "a{s}", "a{sss}", "z", "a{sv",
        ];
        for s in bad {
            assert!(Signature::new(s).is_err(), "{s} accepted");
        }
        assert_eq!(
            Signature::new(&"a".repeat(33).add_s()),
            Err(SignatureError::TooDeep)
        );
        assert!(Signature::new(&"a".repeat(32).add_s()).is_ok());
        let deep_struct = format!("{}s{}", "(".repeat(33), ")".repeat(33));
        assert_eq!(Signature::new(&deep_struct), Err(SignatureError::TooDeep));
        assert_eq!(
            Signature::new(&"s".repeat(256)),
            Err(SignatureError::TooLong(256))
        );
    }

    #[test]
    fn types_splits_single_complete_types() {
        let sig = Signature::new("ua{sv}(so)as").unwrap_or_default();
        assert_eq!(
            sig.types().collect::<Vec<_>>(),
            ["u", "a{sv}", "(so)", "as"]
        );
    }

    trait AddS {
        fn add_s(self) -> String;
    }
    impl AddS for String {
        fn add_s(mut self) -> String {
            self.push('s');
            self
        }
    }
}
