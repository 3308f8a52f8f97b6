//! Outgoing messages cut to the largest frame the peer accepts (`max_message_bytes`).
//!
//! In: one serialized message as our writer produced it (`proto::xml::write` or
//! `write_with`), and the frame limit. Out: the message as is, a smaller one, or nothing.
//! We never send a frame the peer would refuse, and never drop a healthy cluster connection
//! for a message of our own making; instead, in order:
//! 1. agent output (`lrmd_rsc_output`, then `lrmd_rsc_exit_reason`) is truncated, keeping its
//!    start, with a marker saying how much was cut: the big case, an agent that printed
//!    megabytes whose escaping grows them further (protocol.md 6.8);
//! 2. a reply that still does not fit becomes an error reply to the same request, with the
//!    same origin, call id and message id and `lrmd_rc` = -EMSGSIZE;
//! 3. anything else is dropped, and the caller logs it.
//!
//! Works on bytes, without parsing the whole message again: the root start tag is scanned as
//! our writer emits it (`<name a="v" b="v"...`, values in double quotes, where `"` never
//! occurs escaped otherwise). Cuts never split a UTF-8 character, an entity or a 2.1.5-style
//! backslash escape.

use super::HEADER_LEN;

/// Attributes that may be shortened, most expendable first.
const TRUNCATABLE: [&str; 2] = ["lrmd_rsc_output", "lrmd_rsc_exit_reason"];
/// Attributes an error reply keeps, so the client matches it to its request.
const REPLY_KEEPS: [&str; 3] = ["lrmd_origin", "lrmd_callid", "lrmd_remote_msg_id"];
/// -EMSGSIZE on Linux: "message too long".
const EMSGSIZE_RC: &str = "-90";

/// What became of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Fitted {
    /// It fits as it is.
    Unchanged,
    /// Agent output was shortened; `cut` bytes of escaped text were left out.
    Truncated {
        /// The message to send instead.
        xml: Vec<u8>,
        /// Bytes removed from attribute values.
        cut: usize,
    },
    /// A reply too large even without its output, replaced by an error reply.
    ErrorReply {
        /// The reply to send instead.
        xml: Vec<u8>,
    },
    /// Nothing that can be sent: not a reply, and too large without its output.
    Dropped,
}

/// Largest XML text (without the NUL) that fits a frame of `max_frame` bytes.
pub fn max_text(max_frame: usize) -> usize {
    max_frame.saturating_sub(HEADER_LEN + 1)
}

/// Makes `xml` fit a frame of at most `max_frame` bytes, header and NUL included.
pub fn fit(xml: &[u8], max_frame: usize) -> Fitted {
    let budget = max_text(max_frame);
    if xml.len() <= budget {
        return Fitted::Unchanged;
    }
    let Some(attrs) = root_attributes(xml) else {
        return Fitted::Dropped;
    };
    if let Some(fitted) = truncate_output(xml, &attrs, budget) {
        return fitted;
    }
    match error_reply(xml, &attrs) {
        Some(reply) if reply.len() <= budget => Fitted::ErrorReply { xml: reply },
        _ => Fitted::Dropped,
    }
}

/// One attribute of the root start tag: where its name and its value lie in the message.
#[derive(Debug, Clone, Copy)]
struct Attr {
    name: (usize, usize),
    value: (usize, usize),
}

/// The root element's name and attributes, scanned as our writer emits them; `None` if the
/// bytes do not look like that.
fn root_attributes(xml: &[u8]) -> Option<(usize, usize, Vec<Attr>)> {
    if xml.first() != Some(&b'<') {
        return None;
    }
    let name_end = xml
        .iter()
        .position(|&b| b == b' ' || b == b'>' || b == b'/')?;
    let mut at = name_end;
    let mut attrs = Vec::new();
    // Each turn consumes one attribute; the message length bounds the turns.
    while xml.get(at) == Some(&b' ') {
        let name_start = at + 1;
        let eq = name_start + xml.get(name_start..)?.iter().position(|&b| b == b'=')?;
        if xml.get(eq + 1) != Some(&b'"') {
            return None;
        }
        let value_start = eq + 2;
        let value_end = value_start + xml.get(value_start..)?.iter().position(|&b| b == b'"')?;
        attrs.push(Attr {
            name: (name_start, eq),
            value: (value_start, value_end),
        });
        at = value_end + 1;
    }
    matches!(xml.get(at), Some(b'>' | b'/')).then_some((1, name_end, attrs))
}

fn attr_named<'a>(xml: &[u8], attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs
        .iter()
        .find(|a| xml.get(a.name.0..a.name.1) == Some(name.as_bytes()))
}

fn truncate_output(
    xml: &[u8],
    (_, _, attrs): &(usize, usize, Vec<Attr>),
    budget: usize,
) -> Option<Fitted> {
    let mut excess = xml.len() - budget;
    // (value range, bytes kept) per truncated attribute, in message order.
    let mut cuts: Vec<((usize, usize), usize)> = Vec::new();
    for name in TRUNCATABLE {
        if excess == 0 {
            break;
        }
        let Some(a) = attr_named(xml, attrs, name) else {
            continue;
        };
        let value = xml.get(a.value.0..a.value.1)?;
        // An upper bound of the marker's length: it names at most value.len() bytes.
        let marker_len = marker(value.len()).len();
        if value.len() <= marker_len {
            continue;
        }
        let keep = safe_cut(value, value.len().saturating_sub(excess + marker_len));
        let shrink = value.len() - keep - marker(value.len() - keep).len();
        excess = excess.saturating_sub(shrink);
        cuts.push((a.value, keep));
    }
    if cuts.is_empty() {
        return None;
    }
    cuts.sort_by_key(|c| c.0 .0);
    let mut out = Vec::with_capacity(budget);
    let mut from = 0;
    let mut cut_total = 0;
    for ((start, end), keep) in cuts {
        out.extend_from_slice(xml.get(from..start + keep)?);
        let dropped = end - start - keep;
        out.extend_from_slice(marker(dropped).as_bytes());
        cut_total += dropped;
        from = end;
    }
    out.extend_from_slice(xml.get(from..)?);
    (out.len() <= budget).then_some(Fitted::Truncated {
        xml: out,
        cut: cut_total,
    })
}

/// The text that replaces what was cut (plain ASCII, safe inside an attribute value).
fn marker(cut: usize) -> String {
    format!(" [{cut} more bytes cut by pcmk-remoted to fit max_message_bytes]")
}

/// The largest `n <= want` such that `value[..n]` ends between two characters and outside
/// any escape: not inside a UTF-8 sequence, an `&...;` entity or a `\n`-style escape.
fn safe_cut(value: &[u8], want: usize) -> usize {
    let mut n = want.min(value.len());
    // A continuation byte at n means n is inside a character.
    while n > 0 && value.get(n).is_some_and(|b| b & 0xC0 == 0x80) {
        n -= 1;
    }
    // An entity is at most 6 bytes (`&quot;`, `&#10;`); one still open before n is cut out.
    let window = n.saturating_sub(6);
    if let Some(amp) = value[window..n].iter().rposition(|&b| b == b'&') {
        let amp = window + amp;
        if !value[amp..n].contains(&b';') {
            n = amp;
        }
    }
    // 2.1.5 escapes are a backslash and at most three more bytes (`\n`, `\033`).
    let window = n.saturating_sub(3);
    if let Some(bs) = value[window..n].iter().rposition(|&b| b == b'\\') {
        n = window + bs;
    }
    n
}

/// `<root lrmd_origin=".." lrmd_rc="-90" lrmd_callid=".." lrmd_remote_msg_id=".."
/// lrmd_remote_msg_type="reply"/>` for a reply; `None` for anything else.
fn error_reply(
    xml: &[u8],
    (name_start, name_end, attrs): &(usize, usize, Vec<Attr>),
) -> Option<Vec<u8>> {
    let is_reply = attr_named(xml, attrs, "lrmd_remote_msg_type")
        .and_then(|a| xml.get(a.value.0..a.value.1))
        == Some(b"reply".as_slice());
    if !is_reply {
        return None;
    }
    let mut out = Vec::with_capacity(200);
    out.push(b'<');
    out.extend_from_slice(xml.get(*name_start..*name_end)?);
    for name in REPLY_KEEPS {
        if let Some(a) = attr_named(xml, attrs, name) {
            out.extend_from_slice(b" ");
            out.extend_from_slice(xml.get(a.name.0..a.value.1 + 1)?);
        }
        if name == "lrmd_origin" {
            out.extend_from_slice(b" lrmd_rc=\"");
            out.extend_from_slice(EMSGSIZE_RC.as_bytes());
            out.push(b'"');
        }
    }
    out.extend_from_slice(b" lrmd_remote_msg_type=\"reply\"/>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::xml::{self, Element, Style};

    fn notify(output: &str) -> Vec<u8> {
        let el = Element::new("lrmd_notify")
            .with_attr("lrmd_origin", "send_cmd_complete_notify")
            .with_attr("lrmd_callid", 7)
            .with_attr("lrmd_rsc_id", "r1")
            .with_attr("lrmd_rsc_exit_reason", "a reason")
            .with_attr("lrmd_rsc_output", output)
            .with_attr("lrmd_remote_msg_type", "notify")
            .with_child(Element::new("attributes").with_attr("CRM_meta_timeout", "20000"));
        let mut out = Vec::new();
        xml::write_with(&el, Style::Pacemaker215, &mut out);
        out
    }

    fn parse(bytes: &[u8]) -> Element {
        xml::parse(bytes, &xml::Limits::default()).expect("well-formed")
    }

    #[test]
    fn a_message_that_fits_is_left_alone() {
        let m = notify("short");
        assert_eq!(fit(&m, m.len() + HEADER_LEN + 1), Fitted::Unchanged);
    }

    #[test]
    fn agent_output_is_cut_to_fit_and_the_rest_survives() {
        let output = "x&y\n\u{e9}".repeat(20_000);
        let m = notify(&output);
        for max in [4096, 10_000, 50_000, m.len() + HEADER_LEN] {
            let Fitted::Truncated { xml, cut } = fit(&m, max) else {
                panic!("not truncated at {max}");
            };
            assert!(xml.len() <= max_text(max), "{} > {max}", xml.len());
            assert!(cut > 0);
            let el = parse(&xml);
            assert_eq!(el.attr("lrmd_callid"), Some("7"));
            assert_eq!(el.attr("lrmd_rsc_id"), Some("r1"));
            assert_eq!(el.attr("lrmd_rsc_exit_reason"), Some("a reason"));
            let out = el.attr("lrmd_rsc_output").unwrap();
            assert!(out.starts_with("x&y\\n\u{e9}"), "{}", &out[..20]);
            assert!(out.ends_with("cut by pcmk-remoted to fit max_message_bytes]"));
            assert_eq!(el.children.len(), 1, "parameters kept");
        }
    }

    #[test]
    fn cuts_never_split_an_escape_or_a_character() {
        for (value, want, expect) in [
            (&b"abc&amp;def"[..], 6, 3),
            (b"abc&#10;def", 5, 3),
            (b"abc\\ndef", 4, 3),
            (b"abc\\033def", 6, 3),
            (b"ab\xc3\xa9cd", 3, 2),
            (b"ab\xc3\xa9cd", 4, 4),
        ] {
            let n = safe_cut(value, want);
            assert_eq!(n, expect, "{:?} at {want}", String::from_utf8_lossy(value));
        }
        assert_eq!(safe_cut(b"abc&amp;def", 8), 8);
    }

    #[test]
    fn a_reply_too_large_without_output_becomes_an_error_reply() {
        let mut big = Element::new("lrmd_rsc");
        for i in 0..2000 {
            big.push(Element::new("lrmd_rsc_op").with_attr("lrmd_rsc_action", format!("op{i}")));
        }
        let el = Element::new("lrmd_reply")
            .with_attr("lrmd_origin", "process_lrmd_get_recurring")
            .with_attr("lrmd_rc", 0)
            .with_attr("lrmd_callid", 12)
            .with_attr("lrmd_remote_msg_id", 34)
            .with_attr("lrmd_remote_msg_type", "reply")
            .with_child(big);
        let mut m = Vec::new();
        xml::write(&el, &mut m);
        let Fitted::ErrorReply { xml } = fit(&m, 4096) else {
            panic!("not replaced");
        };
        let r = parse(&xml);
        assert_eq!(r.name, "lrmd_reply");
        assert_eq!(r.attr("lrmd_rc"), Some("-90"));
        assert_eq!(r.attr("lrmd_callid"), Some("12"));
        assert_eq!(r.attr("lrmd_remote_msg_id"), Some("34"));
        assert_eq!(r.attr("lrmd_remote_msg_type"), Some("reply"));
        assert_eq!(r.attr("lrmd_origin"), Some("process_lrmd_get_recurring"));
    }

    #[test]
    fn an_oversized_notification_without_output_is_dropped() {
        let mut el = Element::new("lrmd_ipc_proxy").with_attr("lrmd_remote_msg_type", "notify");
        el.push(Element::new("lrmd_ipc_msg").with_attr("x", "y".repeat(10_000)));
        let mut m = Vec::new();
        xml::write(&el, &mut m);
        assert_eq!(fit(&m, 4096), Fitted::Dropped);
        assert_eq!(fit(b"not xml at all", 20), Fitted::Dropped);
    }
}
