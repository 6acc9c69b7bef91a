//! Everything the CLI prints goes through here (so a closed pipe is not a panic).

use std::io::Write;

/// Prints `text` and a newline to stdout. A closed pipe (`mcp … | head`) is not an
/// error worth reporting, so write failures are ignored.
pub(crate) fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Prints `text` and a newline to stderr.
pub(crate) fn error(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// Prints `value` as pretty JSON to stdout.
pub(crate) fn json<T: serde::Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => line(&s),
        Err(e) => error(&format!("error: cannot encode JSON: {e}")),
    }
}
