//! Text from outside, made safe to show: a value echoed in a message (a name, a
//! path, a field from a request) never puts a control character on the
//! operator's terminal, and a long one is cut with a marker saying how much was
//! left out. A newline in a route name cannot forge a `file:line:col` line, and
//! an escape sequence cannot recolour or clear the screen.

/// The most characters of a value shown in a message.
pub const MAX_SHOWN: usize = 120;

/// `s` with every control character escaped, whole: for text MCP composed
/// around values from outside (a problem's message, a field path).
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || is_format(c)) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        push_escaped(&mut out, c, false);
    }
    std::borrow::Cow::Owned(out)
}

/// `s` with every control character escaped (`\n`, `\t`, `\r`, `\0`, others as
/// `\xNN` or `\u{NNNN}`), cut after [`MAX_SHOWN`] characters with
/// `…(N more bytes)`.
pub fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SHOWN + 16));
    for (shown, (at, c)) in s.char_indices().enumerate() {
        if shown == MAX_SHOWN {
            out.push_str(&format!("…({} more bytes)", s.len() - at));
            break;
        }
        push_escaped(&mut out, c, false);
    }
    out
}

/// `s` escaped as [`escaped`] and in double quotes (`"` and `\` escaped too).
pub fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SHOWN + 16) + 2);
    out.push('"');
    for (shown, (at, c)) in s.char_indices().enumerate() {
        if shown == MAX_SHOWN {
            out.push_str(&format!("\"…({} more bytes)", s.len() - at));
            return out;
        }
        push_escaped(&mut out, c, true);
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char, in_quotes: bool) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        '"' | '\\' if in_quotes => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x80 && c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
        // C1 controls, bidirectional overrides and other invisible format
        // characters could rearrange what the terminal shows.
        c if c.is_control() || is_format(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
        c => out.push(c),
    }
}

/// Unicode format characters that change how text is laid out (bidi controls,
/// zero-width joiners and spaces).
fn is_format(c: char) -> bool {
    matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xfeff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(escaped("a\nb\tc\x1b[31m\0"), "a\\nb\\tc\\x1b[31m\\0");
        assert_eq!(quoted("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
        assert_eq!(escaped("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(escaped("ünïcödé"), "ünïcödé");
    }

    #[test]
    fn composed_text_keeps_its_length() {
        let long = format!("{}\n", "y".repeat(500));
        assert_eq!(escape_controls(&long), format!("{}\\n", "y".repeat(500)));
        assert!(matches!(
            escape_controls("plain"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn long_values_are_cut_with_a_marker() {
        let long = "x".repeat(1000);
        let shown = escaped(&long);
        assert!(shown.starts_with(&"x".repeat(MAX_SHOWN)));
        assert!(shown.ends_with("…(880 more bytes)"), "{shown}");
        let q = quoted(&long);
        assert!(q.ends_with("\"…(880 more bytes)"), "{q}");
    }
}
