//! The local terminal for `mcp exec`: its size, and raw mode for as long as a
//! [`RawMode`] lives (restored when it drops, also on an error).

use mcp_core::view::WindowSize;
use rustix::termios::{OptionalActions, Termios, tcgetattr, tcgetwinsize, tcsetattr};

/// The size of the terminal on stdout (or stdin); 24×80 when there is none.
pub(crate) fn size() -> WindowSize {
    let of = |w: rustix::termios::Winsize| WindowSize {
        rows: w.ws_row,
        cols: w.ws_col,
    };
    tcgetwinsize(std::io::stdout())
        .or_else(|_| tcgetwinsize(std::io::stdin()))
        .ok()
        .filter(|w| w.ws_row > 0 && w.ws_col > 0)
        .map_or(WindowSize { rows: 24, cols: 80 }, of)
}

/// Stdin in raw mode: no echo, no line editing, no signals from keys (they
/// go to the remote terminal as bytes).
pub(crate) struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode on stdin; `None` when stdin is not a terminal.
    pub(crate) fn enter() -> Option<Self> {
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}
