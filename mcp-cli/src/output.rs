//! Everything the CLI prints goes through here: lines, tables, JSON, byte counts,
//! the progress spinner, and colour (only on a terminal, never with `NO_COLOR`).
//! What the lines say about each result is [`crate::render`]'s.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Clears the terminal and its scrollback, the cursor at the top (`--watch`).
pub(crate) fn clear_screen() {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\x1b[H\x1b[2J\x1b[3J");
}

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
pub(crate) fn json<T: serde::Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => line(&s),
        Err(e) => error(&format!("error: cannot encode JSON: {e}")),
    }
}

/// Prints `value` as one line of JSON: one record of a stream (`--follow
/// --json`), so a reader can take it line by line.
pub(crate) fn json_line<T: serde::Serialize + ?Sized>(value: &T) {
    match serde_json::to_string(value) {
        Ok(s) => line(&s),
        Err(e) => error(&format!("error: cannot encode JSON: {e}")),
    }
}

/// Prints `value` as JSON when `json`, else as `human` renders it.
pub(crate) fn json_or<T: serde::Serialize + ?Sized>(json: bool, value: &T, human: impl FnOnce(&T)) {
    if json {
        self::json(value);
    } else {
        human(value);
    }
}

/// Prints rows under headers, columns aligned.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(visible_len(cell));
            }
        }
    }
    let render = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i].saturating_sub(visible_len(cell)) + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out
    };
    line(&render(headers.to_vec()));
    for row in rows {
        line(&render(row.iter().map(String::as_str).collect()));
    }
}

/// Length without ANSI colour codes.
fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// A state word, green when running and red otherwise, on a colour terminal.
pub(crate) fn state(s: &str) -> String {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match (colour, s) {
        (false, _) => s.to_owned(),
        (true, "running") => format!("\u{1b}[32m{s}\u{1b}[0m"),
        (true, _) => format!("\u{1b}[31m{s}\u{1b}[0m"),
    }
}

/// A byte count with a binary unit, one decimal: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A spinner on stderr while something slow runs; silent when stderr is not a
/// terminal. Stops when dropped.
pub(crate) struct Spinner {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Spinner {
    pub(crate) fn start(message: &str) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let thread = std::io::stderr().is_terminal().then(|| {
            let (done, message) = (done.clone(), message.to_owned());
            std::thread::spawn(move || {
                let frames = ['|', '/', '-', '\\'];
                let mut i = 0;
                while !done.load(Ordering::Relaxed) {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r{} {message}", frames[i % frames.len()]);
                    let _ = err.flush();
                    drop(err);
                    i += 1;
                    std::thread::sleep(Duration::from_millis(120));
                }
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{}\r", " ".repeat(message.len() + 2));
                let _ = err.flush();
            })
        });
        Spinner { done, thread }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(12 * 1024 * 1024), "12.0 MiB");
        assert_eq!(bytes(3 << 40), "3.0 TiB");
    }
}
