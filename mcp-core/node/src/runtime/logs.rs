//! A container's output as the runtime gives it: [`LogRead`] says what to read,
//! [`LogStream`] yields it line by line ([`LogEntry`], each with the time the
//! runtime recorded), and [`LogStopper`] ends a followed stream from elsewhere.
//!
//! Podman is asked for timestamps on every read (`podman logs --timestamps`):
//! they are how a follower that attaches again after a restart skips the lines it
//! has already sent, and they tell the container's lines from Podman's own
//! messages (an error, a stray `failed to connect to syslog`), which have none and
//! are kept only to explain a failed read.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use mcp_platform::podman::PodmanError;

use super::{Result, RuntimeError};

/// What to read of a container's output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogRead {
    /// Only the last this many lines (all when `None`).
    pub tail: Option<usize>,
    /// Only lines written at or after this time.
    pub since: Option<SystemTime>,
    /// Go on with new lines while the container runs.
    pub follow: bool,
}

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When the runtime recorded it.
    pub time: SystemTime,
    /// The line, without its newline.
    pub text: String,
}

/// How many of the runtime's own lines a stream keeps to explain a failure.
const NOISE_LINES: usize = 20;

/// A container's output as it is read: an iterator of [`LogEntry`]. Reading blocks
/// for new lines while following; dropping the stream, or [`LogStopper::stop`]
/// from another thread, stops it. [`LogStream::finish`] says whether the read
/// itself succeeded.
pub struct LogStream {
    container: String,
    child: Option<Arc<Mutex<Child>>>,
    lines: Box<dyn BufRead + Send>,
    noise: VecDeque<String>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream")
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

impl LogStream {
    /// A stream over a running `podman logs --timestamps` whose stdout and stderr
    /// are `output`.
    pub(super) fn of_child(
        container: &str,
        child: Child,
        output: impl Read + Send + 'static,
    ) -> Self {
        LogStream {
            container: container.to_owned(),
            child: Some(Arc::new(Mutex::new(child))),
            lines: Box::new(BufReader::new(output)),
            noise: VecDeque::new(),
        }
    }

    /// A stream over text already read, in `podman logs --timestamps` form.
    pub fn of_text(container: &str, text: String) -> Self {
        LogStream {
            container: container.to_owned(),
            child: None,
            lines: Box::new(std::io::Cursor::new(text.into_bytes())),
            noise: VecDeque::new(),
        }
    }

    /// A handle that stops this stream from elsewhere.
    pub fn stopper(&self) -> LogStopper {
        LogStopper(self.child.clone())
    }

    /// Waits for the read to end and says whether it succeeded; a failure carries
    /// what the runtime said.
    pub fn finish(mut self) -> Result<()> {
        let Some(child) = self.child.take() else {
            return Ok(());
        };
        let status = child
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .wait()
            .map_err(|e| RuntimeError::Parse {
                op: "logs",
                detail: e.to_string(),
            })?;
        if status.success() {
            return Ok(());
        }
        let said: Vec<&str> = self
            .noise
            .iter()
            .map(|l| l.trim().trim_start_matches("Error: "))
            .collect();
        Err(PodmanError::failed("logs", &self.container, said.join("\n")).into())
    }
}

impl Iterator for LogStream {
    type Item = LogEntry;

    fn next(&mut self) -> Option<LogEntry> {
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match self.lines.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&raw);
            let line = line.strip_suffix('\n').unwrap_or(&line);
            match split_timestamp(line) {
                Some(entry) => return Some(entry),
                None => {
                    if self.noise.len() == NOISE_LINES {
                        self.noise.pop_front();
                    }
                    self.noise.push_back(line.to_owned());
                }
            }
        }
    }
}

impl Drop for LogStream {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `2026-12-02T07:32:11.677354566Z hello` → its time and `hello`.
fn split_timestamp(line: &str) -> Option<LogEntry> {
    let (stamp, text) = line.split_once(' ').unwrap_or((line, ""));
    let time = mcp_model::time::parse_rfc3339(stamp)?;
    Some(LogEntry {
        time,
        text: text.to_owned(),
    })
}

/// Stops a [`LogStream`] from another thread (a reader blocked in `next` then sees
/// the end of the stream).
#[derive(Debug, Clone)]
pub struct LogStopper(Option<Arc<Mutex<Child>>>);

impl LogStopper {
    /// Stops following.
    pub fn stop(&self) {
        if let Some(child) = &self.0 {
            let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
            let _ = child.kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_without_a_time_are_the_runtimes_own() {
        let text = "2026-12-02T07:32:11.677354566Z hello v0.1.0 listening\n\
                    failed to connect to syslog: Initialization\n\
                    2026-12-02T07:32:12Z \n\
                    2026-12-02T07:32:13Z two  spaces\n";
        let entries: Vec<LogEntry> = LogStream::of_text("c", text.to_owned()).collect();
        let texts: Vec<&str> = entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["hello v0.1.0 listening", "", "two  spaces"]);
        assert!(entries[0].time < entries[1].time);
    }
}
