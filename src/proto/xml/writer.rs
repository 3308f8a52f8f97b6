//! Writer: an [`Element`] tree in, compact XML bytes out (no declaration, no added whitespace).
//!
//! Whatever the tree holds (agent output may contain any character), the output is a
//! well-formed XML 1.0 document that libxml2 accepts: characters XML cannot carry are replaced
//! by a documented substitute, invalid names are repaired and repeated attributes dropped. It
//! never recurses on tree depth and never panics.

use super::{is_name_char, is_name_start, repeated_names, Element, Node};

/// Appends `el` to `out` in the compact form the C peers send (protocol.md 6.8).
///
/// Escaping, chosen to match what libxml2 reads back exactly:
/// - attribute values (always in `"`): `&` `<` `>` `"` as `&amp;` `&lt;` `&gt;` `&quot;`, and
///   tab, LF, CR as `&#9;` `&#10;` `&#13;` (decimal, as libxml2's own serializer writes them),
///   so they survive attribute-value normalization;
/// - text: `&` `<` `>` as entities (so `]]>` cannot occur), CR as `&#13;`; tab and LF as is.
///   Text from CDATA sections is written this way too.
///
/// Substitutions, because XML 1.0 cannot carry these characters at all, even as references
/// (libxml2 rejects `&#1;`):
/// - other C0 controls (U+0000 to U+001F except tab, LF, CR) become a backslash and three
///   octal digits, e.g. ESC becomes `\033`, which is also how Pacemaker 2.1.5 writes them;
/// - the noncharacters U+FFFE and U+FFFF become U+FFFD.
///
/// An empty element is written `<a/>`. A name that is not an XML name has each offending
/// character replaced by `_` (an empty name becomes `_`). An attribute whose name repeats an
/// earlier one is left out, as [`Element::attr`] would never see it.
pub fn write(el: &Element, out: &mut Vec<u8>) {
    write_with(el, Style::Standard, out);
}

/// How attribute values carry tab, LF and CR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Character references: lossless, read back exactly by every XML parser.
    Standard,
    /// As Pacemaker 2.1.5 writes them: LF as the two characters `\n`, CR as `\r`, tab as
    /// four spaces. Used for agent results, so a 2.1.5 cluster sees exactly what the
    /// original daemon would have sent (protocol.md 6.8).
    Pacemaker215,
}

/// [`write`] with a choice of [`Style`] for attribute values.
pub fn write_with(el: &Element, style: Style, out: &mut Vec<u8>) {
    // Open elements and the index of the next child to write.
    let mut stack: Vec<(&Element, usize)> = Vec::new();
    if open_tag(el, style, out) {
        stack.push((el, 0));
    }
    while let Some(top) = stack.last_mut() {
        let (current, index) = *top;
        top.1 += 1;
        match current.children.get(index) {
            Some(Node::Text(text)) => escape(text, None, out),
            Some(Node::Element(child)) => {
                if open_tag(child, style, out) {
                    stack.push((child, 0));
                }
            }
            None => {
                out.extend_from_slice(b"</");
                write_name(&current.name, out);
                out.push(b'>');
                stack.pop();
            }
        }
    }
}

/// Writes `<name attrs` and `/>` or `>`; returns true if children (and an end tag) follow.
fn open_tag(el: &Element, style: Style, out: &mut Vec<u8>) -> bool {
    out.push(b'<');
    write_name(&el.name, out);
    let skip = repeated_attrs(&el.attrs);
    let mut skip = skip.iter().peekable();
    for (i, (name, value)) in el.attrs.iter().enumerate() {
        if skip.next_if_eq(&&i).is_some() {
            continue;
        }
        out.push(b' ');
        write_name(name, out);
        out.extend_from_slice(b"=\"");
        escape(value, Some(style), out);
        out.push(b'"');
    }
    if el.children.is_empty() {
        out.extend_from_slice(b"/>");
        false
    } else {
        out.push(b'>');
        true
    }
}

/// Indices of attributes whose written name repeats an earlier one, to leave out.
fn repeated_attrs(attrs: &[(String, String)]) -> Vec<usize> {
    if attrs.iter().all(|(n, _)| is_valid_name(n)) {
        repeated_names(attrs.len(), |i| attrs[i].0.as_str())
    } else {
        // Two invalid names may repair to the same one; compare what is written.
        let repaired: Vec<String> = attrs
            .iter()
            .map(|(n, _)| repaired_name(n).collect())
            .collect();
        repeated_names(repaired.len(), |i| repaired[i].as_str())
    }
}

/// Writes `name`, repaired if it is not an XML name.
fn write_name(name: &str, out: &mut Vec<u8>) {
    if is_valid_name(name) {
        out.extend_from_slice(name.as_bytes());
    } else {
        let mut buf = [0u8; 4];
        for c in repaired_name(name) {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// `name` with every character that may not stand at its place replaced by `_`.
fn repaired_name(name: &str) -> impl Iterator<Item = char> + '_ {
    let fallback = name.is_empty().then_some('_');
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let ok = if i == 0 {
                is_name_start(c)
            } else {
                is_name_char(c)
            };
            if ok {
                c
            } else {
                '_'
            }
        })
        .chain(fallback)
}

/// Escapes `s` for an attribute value (`in_attr`) or for text; see [`write`] for the rules.
/// Escapes text (`attr` is `None`) or an attribute value written in `attr`'s style.
fn escape(s: &str, attr: Option<Style>, out: &mut Vec<u8>) {
    let in_attr = attr.is_some();
    let legacy = attr == Some(Style::Pacemaker215);
    let bytes = s.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let mut octal = [b'\\', 0, 0, 0];
        let (replacement, consumed): (&[u8], usize) = match b {
            b'&' => (b"&amp;", 1),
            b'<' => (b"&lt;", 1),
            b'>' => (b"&gt;", 1),
            b'"' if in_attr => (b"&quot;", 1),
            b'\t' if legacy => (b"    ", 1),
            b'\n' if legacy => (b"\\n", 1),
            b'\r' if legacy => (b"\\r", 1),
            b'\t' if in_attr => (b"&#9;", 1),
            b'\n' if in_attr => (b"&#10;", 1),
            b'\r' => (b"&#13;", 1),
            b'\t' | b'\n' => {
                i += 1;
                continue;
            }
            0..=0x1F => {
                octal[1] = b'0' + (b >> 6);
                octal[2] = b'0' + ((b >> 3) & 7);
                octal[3] = b'0' + (b & 7);
                (&octal, 1)
            }
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
            0xEF if matches!(
                (bytes.get(i + 1), bytes.get(i + 2)),
                (Some(0xBF), Some(0xBE | 0xBF))
            ) =>
            {
                ("\u{FFFD}".as_bytes(), 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(bytes.get(plain..i).unwrap_or_default());
        out.extend_from_slice(replacement);
        i += consumed;
        plain = i;
    }
    out.extend_from_slice(bytes.get(plain..).unwrap_or_default());
}
