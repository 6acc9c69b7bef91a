//! What the runtime says happens to containers, as it happens: an
//! [`EventStream`] of [`RuntimeEvent`]s (Podman's event log read as it grows,
//! `events_log.rs`, or `podman events --format json --filter type=container`,
//! one long-lived process). The monitor follows it instead of asking Podman
//! about every container every few seconds.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Deserialize;

/// One thing that happened to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeEvent {
    /// The container's name.
    pub container: String,
    /// What happened, in the runtime's word: `create`, `start`, `died`,
    /// `remove`, `stop`, `restart`, `health_status`, ….
    pub status: String,
    /// The container's labels (MCP's say which service and instance it is of).
    pub labels: BTreeMap<String, String>,
}

impl RuntimeEvent {
    /// Whether the event can change what the monitor should do: the container
    /// started, ended, appeared or went (not `exec`, `attach`, `checkpoint`, …).
    pub fn matters(&self) -> bool {
        matches!(
            self.status.as_str(),
            "create" | "start" | "restart" | "died" | "stop" | "kill" | "remove" | "rename"
        )
    }
}

/// A runtime's events, followed until the stream is dropped or stopped (which
/// ends the process that reads them) or breaks (the iterator ends).
pub struct EventStream {
    child: EventStopper,
    lines: Box<dyn Iterator<Item = RuntimeEvent> + Send>,
}

/// Ends an [`EventStream`] from another thread: its process is killed (or the
/// log reader told, which looks within a second), so a reader waiting for the
/// next event gets the end of the stream.
#[derive(Debug, Clone, Default)]
pub struct EventStopper {
    child: Arc<Mutex<Option<Child>>>,
    stopped: Arc<AtomicBool>,
}

impl EventStopper {
    /// Ends the stream (again: nothing).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
        let child = self.child.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The flag a log reader looks at.
    pub(super) fn flag(&self) -> Arc<AtomicBool> {
        self.stopped.clone()
    }
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawEvent {
    name: String,
    status: String,
    #[serde(rename = "Type")]
    kind: String,
    #[serde(default)]
    attributes: Option<BTreeMap<String, String>>,
}

impl EventStream {
    /// The events `podman events --format json` prints on `child`'s stdout.
    pub(super) fn of_child(mut child: Child) -> Self {
        let lines: Box<dyn Iterator<Item = RuntimeEvent> + Send> = match child.stdout.take() {
            Some(out) => Box::new(
                BufReader::new(out)
                    .lines()
                    .map_while(Result::ok)
                    .filter_map(|l| parse_line(&l)),
            ),
            None => Box::new(std::iter::empty()),
        };
        EventStream {
            child: EventStopper {
                child: Arc::new(Mutex::new(Some(child))),
                stopped: Arc::default(),
            },
            lines,
        }
    }

    /// The events `events` yields (Podman's log read as it grows), ended by
    /// `stopper`, whose flag the reader looks at.
    pub(super) fn of_reader(
        events: impl Iterator<Item = RuntimeEvent> + Send + 'static,
        stopper: EventStopper,
    ) -> Self {
        EventStream {
            child: stopper,
            lines: Box::new(events),
        }
    }

    /// What ends this stream from elsewhere.
    pub fn stopper(&self) -> EventStopper {
        self.child.clone()
    }
}

/// One line of `podman events --format json` (or of Podman's event log, the
/// same JSON); `None` for what is not a container's event or cannot be read.
pub(super) fn parse_line(line: &str) -> Option<RuntimeEvent> {
    let raw: RawEvent = serde_json::from_str(line).ok()?;
    (raw.kind == "container").then(|| RuntimeEvent {
        container: raw.name,
        status: raw.status,
        labels: raw.attributes.unwrap_or_default(),
    })
}

impl Iterator for EventStream {
    type Item = RuntimeEvent;

    fn next(&mut self) -> Option<RuntimeEvent> {
        self.lines.next()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.child.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_event_lines_become_events() {
        let line = r#"{"ID":"0c83","Image":"localhost/hello:v0.1.0","Name":"web","Status":"died","Time":"2026-12-02T14:18:42.98Z","Type":"container","Attributes":{"mcp.service":"web"}}"#;
        let e = parse_line(line).expect("an event");
        assert_eq!((e.container.as_str(), e.status.as_str()), ("web", "died"));
        assert_eq!(e.labels.get("mcp.service").map(String::as_str), Some("web"));
        assert!(e.matters());
        let image = r#"{"Name":"localhost/hello:v0.1.0","Status":"pull","Time":"2026-12-02T14:19:26Z","Type":"image","Attributes":null}"#;
        assert_eq!(parse_line(image), None);
        assert_eq!(parse_line("not json"), None);
    }
}
