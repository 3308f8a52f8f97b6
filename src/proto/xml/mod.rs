//! Bounded XML for the executor protocol: every message is one element (protocol.md 6.8).
//!
//! In: a payload from a peer that may be hostile, checked against [`Limits`] before each
//! allocation they guard. Out: an [`Element`] tree that keeps attribute order, and compact
//! bytes written back from such a tree that libxml2 (the C peers' parser) always accepts.
//! It never expands DTD entities, never recurses on the depth of peer input, and never
//! panics on any input.

mod reader;
mod writer;

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests time the parser and run xmllint"
)]
mod tests;

use std::fmt;

pub use self::reader::parse;
pub use self::writer::{write, write_with, Style};

/// One XML element with its attributes in document order.
///
/// The order matters because we emit attributes in the order the C daemon does (protocol.md
/// 9.4). Comments and processing instructions are not kept; CDATA sections become text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Element name, namespace prefix included (`foo:bar`); we do not resolve namespaces.
    pub name: String,
    /// Attributes as (name, decoded value), in the order they appeared or were set.
    pub attrs: Vec<(String, String)>,
    /// Child elements and text, in document order.
    pub children: Vec<Node>,
}

/// A child of an [`Element`].
///
/// The parser merges character data, references and CDATA that are adjacent (or separated only
/// by comments or processing instructions) into one `Text`, and never yields an empty one, so a
/// parsed tree written and parsed again compares equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A nested element.
    Element(Element),
    /// Decoded character data; CDATA sections end up here too and are written back escaped.
    Text(String),
}

/// Bounds applied to one payload; each is checked before the allocation it guards.
///
/// The tree helpers that walk a whole tree (`write`, `find`, `Drop`) use explicit stacks, but
/// the derived `Clone`, `Debug` and `PartialEq` recurse, so `max_depth` also bounds their stack
/// use: keep it in the hundreds at most.
///
/// Heap use follows the input size: text and values cost about what they took on the wire,
/// but each attribute costs a `(String, String)` and an allocation, so a payload made only of
/// minimal attributes (` ab=''`) needs about 14 times its size (measured: 220 MB for 16 MiB).
/// Boards with little memory should lower `max_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload accepted, in bytes, counted before trailing NULs are removed.
    pub max_bytes: usize,
    /// Deepest element nesting accepted; the root is at depth 1.
    pub max_depth: usize,
    /// Most attributes accepted on one element.
    pub max_attrs: usize,
    /// Most elements accepted in the whole payload, root included.
    pub max_elements: usize,
    /// Longest element or attribute name accepted, in bytes.
    pub max_name_len: usize,
}

impl Default for Limits {
    /// Generous for protocol traffic and for CIB XML relayed through the IPC proxy (protocol.md
    /// 16.3): a CIB of 16 MiB holds about 40 000 elements about 20 deep.
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            max_attrs: 256,
            max_elements: 100_000,
            max_name_len: 256,
        }
    }
}

/// Why a payload was refused; every variant is the sending peer's fault.
///
/// The first group is malformed XML, the second a [`Limits`] bound reached. Offsets are byte
/// offsets into the input given to [`parse`].
// The fields are what their names say (offset, count, max, ...); documenting each adds nothing.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The input ended inside markup or before the root element was closed.
    UnexpectedEof { offset: usize },
    /// The input is not UTF-8 (the only encoding we accept).
    InvalidUtf8 { offset: usize },
    /// A character XML 1.0 does not allow (a C0 control other than tab, LF or CR, U+FFFE,
    /// U+FFFF), raw or as a character reference.
    InvalidChar { ch: u32, offset: usize },
    /// Anything else the XML grammar does not allow; `problem` says what.
    Syntax {
        problem: &'static str,
        offset: usize,
    },
    /// An end tag does not close the element that is open.
    Mismatched {
        expected: String,
        found: String,
        offset: usize,
    },
    /// A reference other than the five predefined entities or a well-formed character reference.
    BadEntity { offset: usize },
    /// The same attribute name twice on one element.
    DuplicateAttribute { name: String, offset: usize },
    /// A document type declaration; refused so that no entity can ever be expanded.
    Doctype { offset: usize },
    /// Something other than whitespace, comments or processing instructions after the root.
    TrailingContent { offset: usize },
    /// The payload is larger than `Limits::max_bytes`.
    TooLarge { len: usize, max: usize },
    /// An element nests deeper than `Limits::max_depth`.
    TooDeep {
        depth: usize,
        max: usize,
        offset: usize,
    },
    /// An element has more than `Limits::max_attrs` attributes.
    TooManyAttributes {
        count: usize,
        max: usize,
        offset: usize,
    },
    /// The payload has more than `Limits::max_elements` elements.
    TooManyElements {
        count: usize,
        max: usize,
        offset: usize,
    },
    /// A name is longer than `Limits::max_name_len` bytes; `len` is where scanning stopped
    /// (the first character past the limit), not the full length.
    NameTooLong {
        len: usize,
        max: usize,
        offset: usize,
    },
}

impl Error {
    /// True when a [`Limits`] bound was reached rather than the XML being malformed, so callers
    /// can log the two differently.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. }
                | Self::TooDeep { .. }
                | Self::TooManyAttributes { .. }
                | Self::TooManyElements { .. }
                | Self::NameTooLong { .. }
        )
    }

    /// Byte offset in the input where the problem was found, for logs. For `TooLarge` it is
    /// the first byte past the limit, since the input is refused before it is read.
    pub fn offset(&self) -> usize {
        match *self {
            Self::TooLarge { max, .. } => max,
            Self::UnexpectedEof { offset }
            | Self::InvalidUtf8 { offset }
            | Self::InvalidChar { offset, .. }
            | Self::Syntax { offset, .. }
            | Self::Mismatched { offset, .. }
            | Self::BadEntity { offset }
            | Self::DuplicateAttribute { offset, .. }
            | Self::Doctype { offset }
            | Self::TrailingContent { offset }
            | Self::TooDeep { offset, .. }
            | Self::TooManyAttributes { offset, .. }
            | Self::TooManyElements { offset, .. }
            | Self::NameTooLong { offset, .. } => offset,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof { offset } => write!(f, "xml ends unexpectedly at byte {offset}"),
            Self::InvalidUtf8 { offset } => write!(f, "xml is not utf-8 at byte {offset}"),
            Self::InvalidChar { ch, offset } => {
                write!(
                    f,
                    "character U+{ch:04X} not allowed in xml at byte {offset}"
                )
            }
            Self::Syntax { problem, offset } => {
                write!(f, "malformed xml at byte {offset}: {problem}")
            }
            Self::Mismatched {
                expected,
                found,
                offset,
            } => write!(
                f,
                "end tag </{found}> at byte {offset} does not close <{expected}>"
            ),
            Self::BadEntity { offset } => write!(f, "unsupported reference at byte {offset}"),
            Self::DuplicateAttribute { name, offset } => {
                write!(f, "attribute {name} repeated at byte {offset}")
            }
            Self::Doctype { offset } => write!(f, "document type declaration at byte {offset}"),
            Self::TrailingContent { offset } => {
                write!(f, "content after the root element at byte {offset}")
            }
            Self::TooLarge { len, max } => {
                write!(f, "xml of {len} bytes exceeds the limit of {max}")
            }
            Self::TooDeep { depth, max, offset } => write!(
                f,
                "element at byte {offset} nests {depth} deep, over the limit of {max}"
            ),
            Self::TooManyAttributes { count, max, offset } => write!(
                f,
                "element at byte {offset} has {count} attributes, over the limit of {max}"
            ),
            Self::TooManyElements { count, max, offset } => write!(
                f,
                "element at byte {offset} is number {count}, over the limit of {max}"
            ),
            Self::NameTooLong { len, max, offset } => write!(
                f,
                "name at byte {offset} is {len} bytes, over the limit of {max}"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Element {
    /// An element with no attributes and no children, to build a message.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder form of [`Element::set_attr`], so messages are built in wire order without
    /// string concatenation: `Element::new("lrmd_reply").with_attr("lrmd_rc", 0)`.
    #[must_use]
    pub fn with_attr(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.set_attr(name, value);
        self
    }

    /// Builder form of [`Element::push`].
    #[must_use]
    pub fn with_child(mut self, child: Element) -> Self {
        self.push(child);
        self
    }

    /// Value of the first attribute called `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets an attribute: replaces the value in place if present (keeping its position, as the
    /// server does when it overwrites `lrmd_callid`, protocol.md 7.1), else appends it.
    pub fn set_attr(&mut self, name: &str, value: impl fmt::Display) {
        use fmt::Write as _;
        if let Some((_, v)) = self.attrs.iter_mut().find(|(n, _)| n == name) {
            v.clear();
            // Writing into a String cannot fail; only a broken Display impl could.
            let _ = write!(v, "{value}");
        } else {
            let mut v = String::new();
            let _ = write!(v, "{value}");
            self.attrs.push((name.to_owned(), v));
        }
    }

    /// Removes an attribute, keeping the order of the others, and returns its value.
    pub fn remove_attr(&mut self, name: &str) -> Option<String> {
        let i = self.attrs.iter().position(|(n, _)| n == name)?;
        Some(self.attrs.remove(i).1)
    }

    /// First child element called `name` (direct children only).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// Mutable form of [`Element::child`], to amend a parsed request.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find_map(|n| match n {
            Node::Element(e) if e.name == name => Some(e),
            _ => None,
        })
    }

    /// Child elements called `name`, in order (e.g. the `lrmd_rsc` list of protocol.md 9.6).
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    /// Child elements, skipping text.
    pub fn elements(&self) -> impl DoubleEndedIterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// First element called `name` among `self` and its descendants, in document order: the
    /// XPath `//name` search the server uses for `lrmd_rsc` and `lrmd_alert` (protocol.md 7.2).
    pub fn find(&self, name: &str) -> Option<&Element> {
        // Explicit stack: the depth of a tree is bounded only by the caller's limits.
        let mut stack: Vec<&Element> = vec![self];
        while let Some(el) = stack.pop() {
            if el.name == name {
                return Some(el);
            }
            stack.extend(el.elements().rev());
        }
        None
    }

    /// Appends a child element.
    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Appends text, merged into a preceding text node so the tree stays as the parser would
    /// build it (and so round-trips); empty text is ignored.
    pub fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        match self.children.last_mut() {
            Some(Node::Text(t)) => t.push_str(text),
            _ => self.children.push(Node::Text(text.to_owned())),
        }
    }

    /// Concatenated direct text children (CDATA included), e.g. a schema file in protocol.md 17.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }
}

impl Drop for Element {
    /// Drops descendants with an explicit stack, so a deep tree cannot overflow the stack.
    fn drop(&mut self) {
        let shallow = self.children.iter().all(|n| match n {
            Node::Element(e) => e.children.is_empty(),
            Node::Text(_) => true,
        });
        if shallow {
            return;
        }
        let mut pending = std::mem::take(&mut self.children);
        while let Some(node) = pending.pop() {
            if let Node::Element(mut e) = node {
                pending.append(&mut e.children);
            }
        }
    }
}

impl fmt::Display for Element {
    /// The compact wire form, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        write(self, &mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

/// Runs the parser on fuzzer input and checks that parse, write, parse gives the same tree.
///
/// Panics on a mismatch: that is the signal the fuzzer looks for.
#[doc(hidden)]
pub fn fuzz_parse(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(tree) = parse(data, &limits) {
        let mut out = Vec::new();
        write(&tree, &mut out);
        // Escaping may make the output longer than the input; nothing else grows.
        let relaxed = Limits {
            max_bytes: usize::MAX,
            ..limits
        };
        match parse(&out, &relaxed) {
            Ok(again) => assert_eq!(tree, again, "round trip changed the tree"),
            Err(e) => panic!("our own output failed to parse: {e}"),
        }
    }
}

/// Indices, ascending, of the names among `name(0..n)` that repeat an earlier one; empty (and
/// not allocated) when there are none. Pairwise for the usual handful of attributes; sorting
/// keeps a 256-attribute tag from costing n² comparisons.
fn repeated_names<'s>(n: usize, name: impl Fn(usize) -> &'s str) -> Vec<usize> {
    let mut repeats = Vec::new();
    if n <= 16 {
        repeats.extend((1..n).filter(|&j| (0..j).any(|i| name(i) == name(j))));
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&x, &y| name(x).cmp(name(y)).then(x.cmp(&y)));
        repeats.extend(
            order
                .windows(2)
                .filter(|w| name(w[0]) == name(w[1]))
                .map(|w| w[1]),
        );
        repeats.sort_unstable();
    }
    repeats
}

/// XML 1.0 `Char`: what may appear in a document at all, raw or as a character reference.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// XML 1.0 (fifth edition) `NameStartChar`, the rule libxml2 2.9 applies by default.
#[inline]
fn is_name_start(c: char) -> bool {
    match ASCII_NAME.get(c as usize) {
        Some(class) => class & NAME_START != 0,
        None => matches!(c,
            '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
            | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
            | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
            | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}'),
    }
}

/// XML 1.0 (fifth edition) `NameChar`.
#[inline]
fn is_name_char(c: char) -> bool {
    match ASCII_NAME.get(c as usize) {
        Some(class) => class & NAME_CHAR != 0,
        None => {
            is_name_start(c)
                || matches!(c, '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
        }
    }
}

const NAME_START: u8 = 1;
const NAME_CHAR: u8 = 2;

/// The two name rules for ASCII, looked up rather than matched: every element and attribute
/// name of every message goes through them (they were a tenth of the instructions per
/// operation in `bench/profile`).
const ASCII_NAME: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let b = i as u8;
        let start = b == b':' || b == b'_' || b.is_ascii_alphabetic();
        let name = start || b == b'-' || b == b'.' || b.is_ascii_digit();
        t[i] = if start { NAME_START } else { 0 } | if name { NAME_CHAR } else { 0 };
        i += 1;
    }
    t
};
