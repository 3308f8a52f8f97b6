//! Character level of the reader: attribute values, character data, references, CDATA, and the
//! markup whose content we check but drop (comments, processing instructions).
//!
//! In: the cursor at the start of one such item. Out: decoded text appended to a buffer, with
//! XML 1.0 line-end and attribute-value normalization applied as libxml2 applies them. Never
//! accepts a character XML 1.0 forbids, raw or as a reference, and never expands an entity
//! other than the five predefined ones.

use super::super::{is_xml_char, Error};
use super::Reader;

impl<'a> Reader<'a, '_> {
    /// A quoted attribute value, decoded. A literal tab, LF, CR or CR LF becomes one space
    /// (XML 1.0 section 3.3.3, as libxml2 does for attributes without a DTD); a character
    /// reference keeps its character, which is how 3.x peers send newlines (protocol.md 6.8).
    pub(super) fn attr_value(&mut self) -> Result<String, Error> {
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            None => return Err(Error::UnexpectedEof { offset: self.pos }),
            Some(_) => return Err(self.syntax("expected a quoted attribute value")),
        };
        self.pos += 1;
        let mut value = String::new();
        loop {
            let run =
                self.plain_run(|b| b == quote || matches!(b, b'&' | b'<' | b'\t' | b'\n' | b'\r'))?;
            value.push_str(run);
            match self.peek() {
                None => return Err(Error::UnexpectedEof { offset: self.pos }),
                Some(b'&') => self.reference(&mut value)?,
                Some(b'<') => return Err(self.syntax("'<' inside an attribute value")),
                Some(b'\r') => {
                    // CR LF is one line end (XML 1.0 section 2.11), so one space.
                    self.pos += 1;
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    value.push(' ');
                }
                Some(b'\t' | b'\n') => {
                    self.pos += 1;
                    value.push(' ');
                }
                Some(_) => {
                    // The closing quote.
                    self.pos += 1;
                    return Ok(value);
                }
            }
        }
    }

    /// Character data up to the next markup or reference, with line ends normalized to LF.
    pub(super) fn char_data(&mut self, text: &mut String) -> Result<(), Error> {
        let run = self.plain_run(|b| matches!(b, b'<' | b'&' | b'\r' | b']'))?;
        text.push_str(run);
        match self.peek() {
            Some(b'\r') => {
                self.pos += 1;
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
                text.push('\n');
            }
            Some(b']') => {
                // XML forbids `]]>` in character data; libxml2 refuses it too.
                if self.starts_with(b"]]>") {
                    return Err(self.syntax("']]>' in text"));
                }
                self.pos += 1;
                text.push(']');
            }
            _ => {}
        }
        Ok(())
    }

    /// `&name;`, `&#NN;` or `&#xNN;` at `pos`, appended decoded to `out`. Only the five
    /// predefined entities exist: with no DTD there is nothing else to expand.
    pub(super) fn reference(&mut self, out: &mut String) -> Result<(), Error> {
        let at = self.pos;
        self.pos += 1;
        if self.peek() != Some(b'#') {
            for (name, c) in PREDEFINED {
                if self.starts_with(name) {
                    self.pos += name.len();
                    out.push(c);
                    return Ok(());
                }
            }
            return Err(Error::BadEntity { offset: at });
        }
        self.pos += 1;
        // Only a lower-case `x` marks hex (XML 1.0 production 66).
        let radix = if self.peek() == Some(b'x') {
            self.pos += 1;
            16
        } else {
            10
        };
        let mut value: u32 = 0;
        let mut digits = 0usize;
        loop {
            match self.peek() {
                None => return Err(Error::UnexpectedEof { offset: self.pos }),
                Some(b';') if digits > 0 => break,
                Some(b) => {
                    let Some(d) = char::from(b).to_digit(radix) else {
                        return Err(Error::BadEntity { offset: at });
                    };
                    // Any number of leading zeros is legal, so cap the value, not the digits.
                    value = value.saturating_mul(radix).saturating_add(d).min(0x11_0000);
                    digits += 1;
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        match char::from_u32(value).filter(|&c| is_xml_char(c)) {
            Some(c) => {
                out.push(c);
                Ok(())
            }
            None => Err(Error::InvalidChar {
                ch: value,
                offset: at,
            }),
        }
    }

    /// `<!-- ... -->`, dropped. XML forbids `--` inside, so the first `--` must end it.
    pub(super) fn comment(&mut self) -> Result<(), Error> {
        self.pos += 4;
        let body = self.pos;
        let Some(len) = self.find(b"--") else {
            return Err(Error::UnexpectedEof {
                offset: self.b.len(),
            });
        };
        let dashes = body + len;
        if self.b.get(dashes + 2) != Some(&b'>') {
            return Err(Error::Syntax {
                problem: "'--' inside a comment",
                offset: dashes,
            });
        }
        self.check_chars(body, dashes)?;
        self.pos = dashes + 3;
        Ok(())
    }

    /// `<![CDATA[ ... ]]>`, appended to `text` with line ends normalized. It becomes ordinary
    /// text: the writer escapes it instead of re-creating the section (protocol.md 17).
    pub(super) fn cdata(&mut self, text: &mut String) -> Result<(), Error> {
        self.pos += CDATA_OPEN.len();
        let body = self.pos;
        let Some(len) = self.find(b"]]>") else {
            return Err(Error::UnexpectedEof {
                offset: self.b.len(),
            });
        };
        let end = body + len;
        self.check_chars(body, end)?;
        let content = self.slice(body, end)?;
        let mut parts = content.split('\r');
        if let Some(first) = parts.next() {
            text.push_str(first);
        }
        for part in parts {
            // A CR becomes LF; the LF of a CR LF pair is then dropped.
            text.push('\n');
            text.push_str(part.strip_prefix('\n').unwrap_or(part));
        }
        self.pos = end + 3;
        Ok(())
    }

    /// `<?target data?>`, dropped; `at_start` admits the XML declaration `<?xml ...?>`, whose
    /// content we skip. Other targets matching `xml` in any case are reserved.
    pub(super) fn pi(&mut self, at_start: bool) -> Result<(), Error> {
        let at = self.pos;
        self.pos += 2;
        let target = self.name()?;
        if target.eq_ignore_ascii_case("xml") && !(at_start && target == "xml") {
            return Err(Error::Syntax {
                problem: "xml declaration not at the start",
                offset: at,
            });
        }
        if !self.starts_with(b"?>") && !self.skip_ws() {
            return Err(
                self.syntax("expected whitespace or '?>' after a processing instruction target")
            );
        }
        let body = self.pos;
        let Some(len) = self.find(b"?>") else {
            return Err(Error::UnexpectedEof {
                offset: self.b.len(),
            });
        };
        self.check_chars(body, body + len)?;
        self.pos = body + len + 2;
        Ok(())
    }

    /// Advances over bytes that need no decoding and returns them; stops before a byte for
    /// which `stop` holds or at the end. Refuses characters XML does not allow.
    fn plain_run(&mut self, stop: impl Fn(u8) -> bool) -> Result<&'a str, Error> {
        let start = self.pos;
        while let Some(&b) = self.b.get(self.pos) {
            if stop(b) {
                break;
            }
            self.check_byte(self.pos)?;
            self.pos += 1;
        }
        // Every stop byte is ASCII, so this ends on a character boundary.
        self.slice(start, self.pos)
    }

    /// Refuses characters XML does not allow in `b[start..end]` (comments, PIs, CDATA).
    fn check_chars(&self, start: usize, end: usize) -> Result<(), Error> {
        (start..end).try_for_each(|i| self.check_byte(i))
    }

    /// Refuses a C0 control other than tab, LF and CR, or the start of U+FFFE or U+FFFF, as
    /// libxml2 does. The input is valid UTF-8, which cannot hold surrogates, so these are the
    /// only characters outside XML 1.0's `Char` that can occur.
    fn check_byte(&self, i: usize) -> Result<(), Error> {
        match self.b.get(i) {
            Some(&b) if b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') => {
                Err(Error::InvalidChar {
                    ch: u32::from(b),
                    offset: i,
                })
            }
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            Some(0xEF) => match (self.b.get(i + 1), self.b.get(i + 2)) {
                (Some(0xBF), Some(&last @ (0xBE | 0xBF))) => Err(Error::InvalidChar {
                    ch: if last == 0xBE { 0xFFFE } else { 0xFFFF },
                    offset: i,
                }),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

/// Opening of a CDATA section.
pub(super) const CDATA_OPEN: &[u8] = b"<![CDATA[";

/// The five entities XML predefines, without the leading `&`; no others exist without a DTD.
const PREDEFINED: [(&[u8], char); 5] = [
    (b"lt;", '<'),
    (b"gt;", '>'),
    (b"amp;", '&'),
    (b"quot;", '"'),
    (b"apos;", '\''),
];
