//! Reader: payload bytes in, one [`Element`] tree out, or an [`Error`] with a byte offset.
//!
//! A non-validating XML 1.0 parser for one document in UTF-8. It refuses any DTD, knows only
//! the five predefined entities and character references, and keeps open elements on an
//! explicit stack so input depth never becomes call depth. It never panics; every bound in
//! [`Limits`] is checked before the allocation it guards. This file holds the structure
//! (document, tags, names); `text.rs` holds character data and the markup around it.

mod text;

use super::{is_name_char, is_name_start, repeated_names, Element, Error, Limits, Node};

/// Parses one protocol message (protocol.md 6.8) or any XML a peer relays inside one (16.3).
///
/// Trailing NULs are ignored, as are whitespace, comments and processing instructions around
/// the root element, a leading byte order mark and an XML declaration (whose `encoding` is not
/// read: the input must be UTF-8). Attribute values are normalized as XML 1.0 section 3.3.3
/// and libxml2 do: a literal tab, LF or CR (or CR LF) becomes one space, while character
/// references such as `&#10;` keep their character. Pacemaker 2.1.5's two-character `\n`
/// escape (a backslash and an `n`) is ordinary text and is kept as it is.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Element, Error> {
    if input.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            len: input.len(),
            max: limits.max_bytes,
        });
    }
    // The wire form ends with one NUL (protocol.md 6.8); callers strip it, but more is harmless.
    let end = input.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let src = input.get(..end).unwrap_or_default();
    // Validating once up front lets the rest work on `&str` and slice without re-checking.
    let src = std::str::from_utf8(src).map_err(|e| Error::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut reader = Reader {
        src,
        b: src.as_bytes(),
        pos: 0,
        limits,
        elements: 0,
        attr_offsets: Vec::new(),
    };
    reader.document()
}

/// Cursor over the validated input; `pos` is on a character boundary whenever a step ends,
/// because every byte a step stops at is ASCII.
struct Reader<'a, 'l> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    limits: &'l Limits,
    /// Elements started so far, for `Limits::max_elements`.
    elements: usize,
    /// Offsets of the current start tag's attribute names, for duplicate reports.
    attr_offsets: Vec<usize>,
}

impl<'a> Reader<'a, '_> {
    /// `document ::= prolog element Misc*`, without the DTD part of the prolog.
    fn document(&mut self) -> Result<Element, Error> {
        if self.starts_with(BOM) {
            self.pos += BOM.len();
        }
        // libxml2 wants the declaration at offset 0; we also allow whitespace before it, since
        // nothing is lost by doing so.
        let mut at_start = true;
        loop {
            self.skip_ws();
            if self.starts_with(b"<?") {
                self.pi(at_start)?;
            } else if self.starts_with(b"<!--") {
                self.comment()?;
            } else if self.starts_with(DOCTYPE) {
                return Err(Error::Doctype { offset: self.pos });
            } else if self.starts_with(b"<") {
                break;
            } else if self.pos >= self.b.len() {
                return Err(Error::UnexpectedEof { offset: self.pos });
            } else {
                return Err(self.syntax("expected '<' to open the root element"));
            }
            at_start = false;
        }
        let root = self.root_element()?;
        loop {
            self.skip_ws();
            if self.pos >= self.b.len() {
                return Ok(root);
            } else if self.starts_with(b"<!--") {
                self.comment()?;
            } else if self.starts_with(b"<?") {
                self.pi(false)?;
            } else if self.starts_with(DOCTYPE) {
                return Err(Error::Doctype { offset: self.pos });
            } else {
                return Err(Error::TrailingContent { offset: self.pos });
            }
        }
    }

    /// The root element and everything in it. Open elements live on `stack`, not in calls, so
    /// a peer's nesting costs heap bounded by `max_depth`, never call stack.
    fn root_element(&mut self) -> Result<Element, Error> {
        let (root, empty) = self.start_tag(0)?;
        if empty {
            return Ok(root);
        }
        let mut stack = vec![root];
        // Character data of the innermost open element since its last child element; comments
        // and PIs do not end it, so text around them becomes one node.
        let mut text = String::new();
        loop {
            match (self.peek(), self.b.get(self.pos + 1)) {
                (None, _) => return Err(Error::UnexpectedEof { offset: self.pos }),
                (Some(b'<'), Some(b'/')) => {
                    let at = self.pos;
                    flush_text(&mut stack, &mut text);
                    let name = self.end_tag()?;
                    let Some(mut open) = stack.pop() else {
                        return Err(Error::TrailingContent { offset: at });
                    };
                    if open.name != name {
                        return Err(Error::Mismatched {
                            expected: std::mem::take(&mut open.name),
                            found: name.to_owned(),
                            offset: at,
                        });
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(open)),
                        None => return Ok(open),
                    }
                }
                (Some(b'<'), Some(b'!')) => {
                    if self.starts_with(b"<!--") {
                        self.comment()?;
                    } else if self.starts_with(text::CDATA_OPEN) {
                        self.cdata(&mut text)?;
                    } else if self.starts_with(DOCTYPE) {
                        return Err(Error::Doctype { offset: self.pos });
                    } else {
                        // `<!ENTITY` and friends only exist inside a DTD.
                        return Err(self.syntax("expected a comment or a cdata section after '<!'"));
                    }
                }
                (Some(b'<'), Some(b'?')) => self.pi(false)?,
                (Some(b'<'), _) => {
                    flush_text(&mut stack, &mut text);
                    let (el, empty) = self.start_tag(stack.len())?;
                    match stack.last_mut() {
                        Some(parent) if empty => parent.children.push(Node::Element(el)),
                        _ => stack.push(el),
                    }
                }
                (Some(b'&'), _) => self.reference(&mut text)?,
                (Some(_), _) => self.char_data(&mut text)?,
            }
        }
    }

    /// `'<' Name (S Attribute)* S? ('>' | '/>')`; returns the element and whether it was empty.
    fn start_tag(&mut self, parent_depth: usize) -> Result<(Element, bool), Error> {
        let at = self.pos;
        let depth = parent_depth + 1;
        if depth > self.limits.max_depth {
            return Err(Error::TooDeep {
                depth,
                max: self.limits.max_depth,
                offset: at,
            });
        }
        if self.elements >= self.limits.max_elements {
            return Err(Error::TooManyElements {
                count: self.elements + 1,
                max: self.limits.max_elements,
                offset: at,
            });
        }
        self.elements += 1;
        self.pos += 1;
        let mut el = Element::new(self.name()?);
        self.attr_offsets.clear();
        loop {
            let had_space = self.skip_ws();
            match self.peek() {
                None => return Err(Error::UnexpectedEof { offset: self.pos }),
                Some(b'>') => {
                    self.pos += 1;
                    self.check_duplicates(&el)?;
                    return Ok((el, false));
                }
                Some(b'/') => {
                    self.pos += 1;
                    self.expect(b'>', "expected '>' after '/' in a start tag")?;
                    self.check_duplicates(&el)?;
                    return Ok((el, true));
                }
                // XML requires whitespace between attributes; libxml2 refuses `x="1"y="2"`.
                Some(_) if !had_space => {
                    return Err(
                        self.syntax("expected whitespace, '>' or '/>' after a name or attribute")
                    );
                }
                Some(_) => {
                    let name_at = self.pos;
                    if el.attrs.len() >= self.limits.max_attrs {
                        return Err(Error::TooManyAttributes {
                            count: el.attrs.len() + 1,
                            max: self.limits.max_attrs,
                            offset: name_at,
                        });
                    }
                    let name = self.name()?;
                    self.skip_ws();
                    self.expect(b'=', "expected '=' after an attribute name")?;
                    self.skip_ws();
                    let value = self.attr_value()?;
                    el.attrs.push((name.to_owned(), value));
                    self.attr_offsets.push(name_at);
                }
            }
        }
    }

    /// Refuses a repeated attribute name, reporting the first later occurrence.
    fn check_duplicates(&self, el: &Element) -> Result<(), Error> {
        let attrs = &el.attrs;
        match repeated_names(attrs.len(), |i| attrs[i].0.as_str()).first() {
            None => Ok(()),
            Some(&j) => Err(Error::DuplicateAttribute {
                name: attrs[j].0.clone(),
                offset: self.attr_offsets.get(j).copied().unwrap_or(self.pos),
            }),
        }
    }

    /// `'</' Name S? '>'`; returns the name for the caller to match.
    fn end_tag(&mut self) -> Result<&'a str, Error> {
        self.pos += 2;
        let name = self.name()?;
        self.skip_ws();
        self.expect(b'>', "expected '>' to end an end tag")?;
        Ok(name)
    }

    /// An XML name (namespace prefixes are just part of it), bounded by `max_name_len` while
    /// scanning so a long name costs no more than the limit.
    fn name(&mut self) -> Result<&'a str, Error> {
        let start = self.pos;
        let rest = self.src.get(start..).unwrap_or_default();
        let mut len = 0;
        for c in rest.chars() {
            let ok = if len == 0 {
                is_name_start(c)
            } else {
                is_name_char(c)
            };
            if !ok {
                break;
            }
            len += c.len_utf8();
            if len > self.limits.max_name_len {
                return Err(Error::NameTooLong {
                    len,
                    max: self.limits.max_name_len,
                    offset: start,
                });
            }
        }
        if len == 0 {
            return Err(if rest.is_empty() {
                Error::UnexpectedEof { offset: start }
            } else {
                self.syntax("expected a name")
            });
        }
        self.pos += len;
        self.slice(start, self.pos)
    }

    /// Skips XML whitespace (`S`); returns whether there was any.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `byte`, or reports `problem` (or the end of input).
    fn expect(&mut self, byte: u8, problem: &'static str) -> Result<(), Error> {
        match self.peek() {
            Some(b) if b == byte => {
                self.pos += 1;
                Ok(())
            }
            None => Err(Error::UnexpectedEof { offset: self.pos }),
            Some(_) => Err(self.syntax(problem)),
        }
    }

    fn syntax(&self, problem: &'static str) -> Error {
        Error::Syntax {
            problem,
            offset: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn starts_with(&self, s: &[u8]) -> bool {
        self.b.get(self.pos..).is_some_and(|r| r.starts_with(s))
    }

    /// Offset of `needle` from `pos`, if present.
    fn find(&self, needle: &[u8]) -> Option<usize> {
        self.b
            .get(self.pos..)?
            .windows(needle.len())
            .position(|w| w == needle)
    }

    /// `src[start..end]`; both ends are on character boundaries by construction, so the error
    /// cannot happen, but reporting beats panicking.
    fn slice(&self, start: usize, end: usize) -> Result<&'a str, Error> {
        self.src
            .get(start..end)
            .ok_or(Error::InvalidUtf8 { offset: start })
    }
}

/// Moves pending character data into the innermost open element.
fn flush_text(stack: &mut [Element], text: &mut String) {
    if text.is_empty() {
        return;
    }
    if let Some(top) = stack.last_mut() {
        top.children.push(Node::Text(std::mem::take(text)));
    }
}

/// UTF-8 byte order mark, which libxml2 also skips.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Start of a document type declaration: refused wherever it appears, so that no internal
/// subset, and thus no entity definition or expansion, is ever processed.
const DOCTYPE: &[u8] = b"<!DOCTYPE";
