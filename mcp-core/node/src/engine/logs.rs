//! A service's output: the lines its components' containers wrote, read once or
//! followed. A follower stays with its *component*, not with one container: when
//! the container stops, is restarted (by the monitor, `mcp restart`) or replaced
//! (a redeploy), it waits and attaches again, to the same container from the last
//! line it sent, or to the new one from its first line. It ends when the reader
//! stops it or the component is no longer deployed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mcp_model::names::{ComponentName, ServiceName};
use mcp_model::view::{LogLine, LogQuery};

use super::{Engine, EngineError};
use crate::runtime::{ContainerState, LogRead, LogStopper};

/// How often a follower looks again for its component's container while it waits.
const REATTACH_POLL: Duration = Duration::from_millis(250);

/// How long a follower waits before reading again after a read failed.
const REATTACH_RETRY: Duration = Duration::from_secs(1);

/// One component's output to read: the component and its container's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// The component.
    pub component: String,
    /// Its container's name.
    pub container: String,
}

/// Stops a [`Engine::read_logs`] from another thread, also while it waits for a
/// container or for a quiet container's next line.
#[derive(Debug, Clone, Default)]
pub struct LogHalt(Arc<HaltInner>);

#[derive(Debug, Default)]
struct HaltInner {
    halted: AtomicBool,
    current: Mutex<Option<LogStopper>>,
}

impl LogHalt {
    /// Stops the read.
    pub fn halt(&self) {
        self.0.halted.store(true, Ordering::SeqCst);
        if let Some(s) = self.lock().take() {
            s.stop();
        }
    }

    /// Whether [`LogHalt::halt`] was called.
    pub fn halted(&self) -> bool {
        self.0.halted.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<LogStopper>> {
        self.0.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `stopper` the one [`LogHalt::halt`] stops; false when already halted.
    fn attach(&self, stopper: LogStopper) -> bool {
        let mut current = self.lock();
        if self.halted() {
            return false;
        }
        *current = Some(stopper);
        true
    }

    /// Sleeps `d`, waking early when halted; false when halted.
    fn sleep(&self, d: Duration) -> bool {
        let step = Duration::from_millis(50);
        let mut left = d;
        while !left.is_zero() && !self.halted() {
            let s = left.min(step);
            std::thread::sleep(s);
            left -= s;
        }
        !self.halted()
    }
}

/// Where a follower left a container.
struct Attached {
    id: String,
    started_at: Option<SystemTime>,
    last: Option<SystemTime>,
}

impl Engine {
    /// The components of `service` a log read covers (one, or all), with their
    /// containers.
    pub fn log_sources(
        &self,
        service: &ServiceName,
        component: Option<&ComponentName>,
    ) -> Result<Vec<LogSource>, EngineError> {
        let rec = self.deployed(service)?;
        let sources: Vec<LogSource> = rec
            .components
            .iter()
            .filter(|c| component.is_none_or(|n| c.name == n.as_str()))
            .map(|c| LogSource {
                component: c.name.clone(),
                container: c.container_name.clone(),
            })
            .collect();
        if sources.is_empty() {
            let what = match component {
                Some(c) => format!("{service}/{c}"),
                None => service.to_string(),
            };
            return Err(EngineError::NotDeployed(what));
        }
        Ok(sources)
    }

    /// Reads `source`'s output as `query` says, handing each line to `sink` (which
    /// returns false to stop). Without `follow` it ends with the output; with it,
    /// it goes on across restarts and replacements until `halt`, the sink stops,
    /// or the component is undeployed.
    pub fn read_logs(
        &self,
        service: &ServiceName,
        source: &LogSource,
        query: &LogQuery,
        halt: &LogHalt,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<(), crate::Error> {
        let mut read = LogRead {
            tail: query.tail.map(|n| n as usize),
            since: query.since.map(|s| s.at(SystemTime::now())),
            follow: query.follow,
        };
        if !query.follow {
            return self.read_once(source, &read, None, halt, sink).map(|_| ());
        }
        let mut attached: Option<Attached> = None;
        loop {
            let Some(info) = self.wait_for_container(service, source, attached.as_ref(), halt)?
            else {
                return Ok(());
            };
            // The same container again: on from the last line sent (`skip_until`);
            // a new one (replaced, recreated): all of it.
            let skip_until = attached
                .as_ref()
                .filter(|a| a.id == info.id)
                .and_then(|a| a.last);
            if let Some(a) = &attached {
                read.since = if a.id == info.id {
                    skip_until.or(read.since)
                } else {
                    None
                };
                read.tail = None;
            }
            let last = match self.read_once(source, &read, skip_until, halt, sink) {
                Ok(last) => last,
                // The container went away between inspect and read, or Podman
                // failed: try again in a while.
                Err(_) if halt.sleep(REATTACH_RETRY) => continue,
                Err(e) => return Err(e),
            };
            if halt.halted() {
                return Ok(());
            }
            attached = Some(Attached {
                id: info.id,
                started_at: info.started_at,
                last,
            });
        }
    }

    /// One `podman logs` of `source`: sends every line after `skip_until`, returns
    /// the time of the last one sent (or `skip_until`).
    fn read_once(
        &self,
        source: &LogSource,
        read: &LogRead,
        skip_until: Option<SystemTime>,
        halt: &LogHalt,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<Option<SystemTime>, crate::Error> {
        let mut stream = self.runtime.read_logs(&source.container, read)?;
        if !halt.attach(stream.stopper()) {
            return Ok(skip_until);
        }
        let mut last = skip_until;
        for entry in stream.by_ref() {
            if skip_until.is_some_and(|t| entry.time <= t) {
                continue;
            }
            last = Some(entry.time);
            let line = LogLine {
                container: source.container.clone(),
                time: Some(entry.time),
                line: entry.text,
            };
            if !sink(line) {
                halt.halt();
                return Ok(last);
            }
        }
        if halt.halted() {
            return Ok(last);
        }
        stream.finish()?;
        Ok(last)
    }

    /// Waits until `source`'s container is there to read: at once the first time;
    /// after a read ended, until it runs again (restarted) or another container
    /// has its name (replaced). `None` when halted or the component is gone.
    fn wait_for_container(
        &self,
        service: &ServiceName,
        source: &LogSource,
        attached: Option<&Attached>,
        halt: &LogHalt,
    ) -> Result<Option<crate::runtime::ContainerInfo>, crate::Error> {
        loop {
            if halt.halted() {
                return Ok(None);
            }
            let still_deployed = self.registry.service(service)?.is_some_and(|r| {
                r.components
                    .iter()
                    .any(|c| c.container_name == source.container)
            });
            if !still_deployed {
                return Ok(None);
            }
            if let Some(info) = self.runtime.inspect(&source.container)? {
                let ready = match attached {
                    None => true,
                    Some(a) if a.id != info.id => true,
                    Some(a) => {
                        info.state == ContainerState::Running && info.started_at != a.started_at
                    }
                };
                if ready {
                    return Ok(Some(info));
                }
            }
            if !halt.sleep(REATTACH_POLL) {
                return Ok(None);
            }
        }
    }
}
