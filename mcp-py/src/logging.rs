//! The SDK's log is Python's `logging`, under the `metacircular_mcp` logger:
//! `metacircular_mcp` (WARNING: a node that failed in a fleet-wide query,
//! a deploy's warnings), `metacircular_mcp.build` (INFO: each line of
//! Podman's output while building and pushing) and `metacircular_mcp.migrate`
//! (INFO: each step of a move as it is done).
//!
//! A record may be made on any thread, in the middle of a call whose waiting
//! thread holds no GIL; taking the GIL there could deadlock (a runtime being
//! dropped while it holds the GIL waits for that thread). So records are
//! queued ([`emit`]) and handed to `logging` by the waiting thread, which
//! holds the GIL every tick and when the call returns ([`flush`]).

use std::sync::Mutex;

use pyo3::prelude::*;

/// Python's level numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Level {
    /// `logging.INFO`.
    Info = 20,
    /// `logging.WARNING`.
    Warning = 30,
}

/// At most this many records wait for a flush; more are dropped (and
/// counted in the next one).
const MAX_PENDING: usize = 4096;

struct Pending {
    records: Vec<(&'static str, Level, String)>,
    dropped: usize,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    records: Vec::new(),
    dropped: 0,
});

/// Queues `message` for `logger` at `level`; the next [`flush`] logs it.
pub(crate) fn emit(logger: &'static str, level: Level, message: String) {
    let Ok(mut p) = PENDING.lock() else { return };
    if p.records.len() < MAX_PENDING {
        p.records.push((logger, level, message));
    } else {
        p.dropped += 1;
    }
}

/// Logs every queued record through Python's `logging`, in order.
pub(crate) fn flush(py: Python<'_>) {
    let (records, dropped) = match PENDING.lock() {
        Ok(mut p) if !p.records.is_empty() => (
            std::mem::take(&mut p.records),
            std::mem::take(&mut p.dropped),
        ),
        _ => return,
    };
    let Ok(logging) = py.import("logging") else {
        return;
    };
    let log = |name: &str, level: Level, message: &str| {
        if let Ok(logger) = logging.call_method1("getLogger", (name,)) {
            let _ = logger.call_method1("log", (level as i32, "%s", message));
        }
    };
    for (name, level, message) in &records {
        log(name, *level, message);
    }
    if dropped > 0 {
        let message =
            format!("{dropped} log records were dropped (more than {MAX_PENDING} at once)");
        log("metacircular_mcp", Level::Warning, &message);
    }
}
