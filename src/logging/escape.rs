//! Escaping of text that a peer, a local client or an agent controls, before it reaches a log.
//!
//! In: any string. Out: a `Display` value with no control characters, so one log call is
//! always exactly one log line and a newline in a PSK identity or an operation name cannot
//! forge a second one. The logger applies [`sanitize`] to every line as a backstop; call
//! sites quote outside strings with [`escaped`] so a reader sees where they start and end,
//! and the length shown is bounded.

use std::fmt;

/// Outside text shown in a log line: control characters escaped, at most
/// [`MAX_SHOWN`](crate::limits::LOG_MAX_FIELD_CHARS) characters, the rest counted.
pub struct Escaped<'a>(&'a str);

/// Wraps outside text for a log line (see [`Escaped`]).
pub fn escaped(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// Wraps outside bytes for a log line: invalid UTF-8 is replaced, then escaped as text.
pub fn escaped_bytes(bytes: &[u8]) -> String {
    escaped(&String::from_utf8_lossy(bytes)).to_string()
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = crate::limits::LOG_MAX_FIELD_CHARS;
        for (shown, (i, c)) in self.0.char_indices().enumerate() {
            if shown == max {
                let rest = self.0.len() - i;
                return write!(f, "…(+{rest} bytes)");
            }
            write_char(f, c, true)?;
        }
        Ok(())
    }
}

/// Returns `line` with every control character escaped; the logger's backstop for text
/// that reached a log call without [`escaped`].
pub fn sanitize(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    for c in line.chars() {
        let _ = write_char(&mut out, c, false);
    }
    std::borrow::Cow::Owned(out)
}

/// Characters that a terminal, a log file reader or syslog may take for a line break or a
/// control sequence: C0 and C1 controls, DEL, and Unicode's line and paragraph separators.
fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\t') || c == '\u{2028}' || c == '\u{2029}'
}

/// Writes one character, escaped if needed. Backslashes are doubled only inside [`Escaped`]
/// (so its output reads back unambiguously); the backstop leaves them, since the line may
/// already hold escaped fields.
fn write_char(out: &mut impl fmt::Write, c: char, double_backslash: bool) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\\' if double_backslash => out.write_str("\\\\"),
        c if needs_escape(c) && (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32),
        c if needs_escape(c) => write!(out, "\\u{{{:x}}}", c as u32),
        c => out.write_char(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_never_breaks_a_line() {
        let cases = [
            ("lrmd", "lrmd"),
            ("a\nb", "a\\nb"),
            ("a\r\nnotice: forged", "a\\r\\nnotice: forged"),
            ("nul\0", "nul\\x00"),
            ("esc\x1b[31m", "esc\\x1b[31m"),
            ("del\x7f", "del\\x7f"),
            ("nel\u{85}", "nel\\x85"),
            ("ls\u{2028}", "ls\\u{2028}"),
            ("back\\slash", "back\\\\slash"),
            ("tab\tkept", "tab\tkept"),
            ("ünïcode", "ünïcode"),
        ];
        for (input, want) in cases {
            assert_eq!(escaped(input).to_string(), want, "{input:?}");
            assert!(!sanitize(&escaped(input).to_string()).contains('\n'));
        }
    }

    #[test]
    fn long_text_is_cut_with_the_rest_counted() {
        let long = "x".repeat(crate::limits::LOG_MAX_FIELD_CHARS + 10);
        let shown = escaped(&long).to_string();
        assert!(shown.ends_with("…(+10 bytes)"), "{shown}");
    }

    #[test]
    fn sanitize_leaves_clean_lines_alone() {
        assert!(matches!(
            sanitize("clean line"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(sanitize("two\nlines"), "two\\nlines");
    }

    #[test]
    fn bytes_are_shown_lossily() {
        assert_eq!(escaped_bytes(b"ok\xff\n"), "ok\u{fffd}\\n");
    }
}
