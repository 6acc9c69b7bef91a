//! A command run in a running container (`mcp exec`): what goes in
//! ([`ExecInput`]), what comes out ([`ExecOutput`]), the terminal's
//! [`WindowSize`], and the whole of a non-interactive run ([`ExecResult`]).

use serde::{Deserialize, Serialize};

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

/// One message to a running command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecInput {
    /// Bytes for its standard input (with a terminal: keystrokes, Ctrl-C
    /// included, which the container's terminal turns into a signal).
    Stdin(Vec<u8>),
    /// The terminal was resized.
    Resize(WindowSize),
    /// No more input (end of file; with a terminal it has no meaning, as the
    /// keystroke Ctrl-D is how a terminal says it).
    CloseStdin,
}

/// One message from a running command; the last is always [`ExecOutput::Exit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    /// Bytes it wrote to standard output (with a terminal: everything it wrote).
    Stdout(Vec<u8>),
    /// Bytes it wrote to standard error (never with a terminal).
    Stderr(Vec<u8>),
    /// It ended with this status (128 + N when killed by signal N; Podman's own
    /// 125–127 when the command could not be run).
    Exit(i32),
}

/// A command run without a terminal to its end (`Client.exec` in Python).
/// Serialised, its output is text (UTF-8, invalid bytes replaced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResult {
    /// Its exit status.
    pub exit_code: i32,
    /// What it wrote to standard output.
    #[serde(with = "lossy")]
    pub stdout: Vec<u8>,
    /// What it wrote to standard error.
    #[serde(with = "lossy")]
    pub stderr: Vec<u8>,
}

/// Output as text in a human-readable format (invalid UTF-8 replaced), as
/// the bytes themselves in another (the Python SDK's pickles).
mod lossy {
    pub(super) fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&String::from_utf8_lossy(bytes))
        } else {
            s.serialize_bytes(bytes)
        }
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            Ok(<String as serde::Deserialize>::deserialize(d)?.into_bytes())
        } else {
            d.deserialize_byte_buf(Bytes)
        }
    }

    struct Bytes;

    impl serde::de::Visitor<'_> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bytes")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
    }
}
