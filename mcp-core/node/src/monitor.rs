//! The monitor loop: observe, detect flapping, plan, apply, record.
//!
//! It follows the runtime's event stream (`podman events`, one process, on a
//! thread of its own): an event that a container started, ended, appeared or
//! went makes the monitor look at that container alone at once (the events of
//! one moment taken together); a full relist of the node runs only every
//! `relist` (5 minutes) as the safety net, at once after the stream was
//! (re)connected (a gap may have hidden events), and every `interval` while
//! there is no stream (it broke, and is restarted with a backoff up to 30 s,
//! or the runtime has none). While the stream runs, status reads trust the
//! cache (see `Engine::observed`).
//!
//! Flapping: every restart of a container (by Podman's restart policy, seen as a
//! rising restart count, or by the monitor itself) is remembered for
//! `flap_window`; a container restarted more than `flap_threshold` times in that
//! window is marked flapping in the registry and its container removed (its last
//! output goes into the `flapping` event). It is not recreated automatically and
//! `status` shows it, until an operator starts, restarts or redeploys the service.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::Engine;
use crate::runtime::{ContainerInfo, EventStopper, RuntimeEvent};
use mcp_model::plan::{Action, ActionKind, DesiredContainer, ObservedContainer, plan};

/// How long the events of one moment are gathered before the monitor looks.
const GATHER: Duration = Duration::from_millis(100);

/// How often the loop looks whether it should stop (an event wakes it at
/// once; this is only how soon a stop is seen, and the one wake-up an idle
/// monitor has).
const POLL: Duration = Duration::from_millis(500);

/// The longest wait before the event stream is started again.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How the monitor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Time between full relists while there is no event stream.
    pub interval: Duration,
    /// Time between full relists while the event stream runs.
    pub relist: Duration,
    /// Whether to follow the runtime's events.
    pub events: bool,
    /// More restarts than this within `flap_window` mark a container flapping.
    pub flap_threshold: u32,
    /// The window restarts are counted in.
    pub flap_window: Duration,
    /// Time between certificate renewal passes (see
    /// [`Engine::renew_certificates`](crate::engine::Engine::renew_certificates)).
    pub renew_interval: Duration,
}

impl Default for MonitorConfig {
    /// Events followed, a relist every 5 minutes (every 10 s without events);
    /// flapping at more than 5 restarts in 5 minutes.
    fn default() -> Self {
        MonitorConfig {
            interval: Duration::from_secs(10),
            relist: Duration::from_secs(300),
            events: true,
            flap_threshold: 5,
            flap_window: Duration::from_secs(300),
            renew_interval: Duration::from_secs(3600),
        }
    }
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Actions applied (or reported), with the error when applying failed.
    pub actions: Vec<(Action, Option<String>)>,
    /// Containers newly marked flapping.
    pub flapping: Vec<String>,
}

/// The monitor of one engine.
#[derive(Debug)]
pub struct Monitor {
    engine: Arc<Engine>,
    config: MonitorConfig,
    /// Per container: the container id and restart count last seen.
    counts: HashMap<String, (String, u32)>,
    /// Per container: when it restarted, within the window.
    restarts: HashMap<String, VecDeque<Instant>>,
    /// Per container: the last drift recorded, so a persisting one is recorded once.
    recorded: HashMap<String, String>,
    /// When certificates were last looked at.
    last_renewal: Option<Instant>,
}

impl Monitor {
    /// A monitor over `engine`.
    pub fn new(engine: Arc<Engine>, config: MonitorConfig) -> Self {
        Monitor {
            engine,
            config,
            counts: HashMap::new(),
            restarts: HashMap::new(),
            recorded: HashMap::new(),
            last_renewal: None,
        }
    }

    /// Renews certificates inside their renewal window, at most every
    /// `renew_interval` (the first tick included).
    fn renew_when_due(&mut self, now: Instant) {
        if self
            .last_renewal
            .is_some_and(|t| now.duration_since(t) < self.config.renew_interval)
        {
            return;
        }
        self.last_renewal = Some(now);
        match self.engine.renew_certificates("monitor") {
            Ok(renewals) => {
                for r in renewals.iter().filter(|r| r.error.is_some()) {
                    self.engine.metrics().integration_error("issuer");
                    tracing::warn!(service = %r.service, hostname = %r.hostname, error = ?r.error, "certificate renewal failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "certificate renewal pass failed"),
        }
    }

    /// One round over the whole node: observe, detect flapping, plan and apply.
    pub fn tick(&mut self) -> Result<TickReport, crate::Error> {
        let desired = self.engine.desired_containers()?;
        let observed = self.engine.observe(&desired)?;
        Ok(self.react(&desired, &observed))
    }

    /// One round over the containers `names` (those events named).
    pub fn tick_for(&mut self, names: &BTreeSet<String>) -> Result<TickReport, crate::Error> {
        let desired: Vec<DesiredContainer> = self
            .engine
            .desired_containers()?
            .into_iter()
            .filter(|d| names.contains(&d.container))
            .collect();
        let observed = self.engine.observe_named(names, &desired)?;
        Ok(self.react(&desired, &observed))
    }

    /// Detects flapping, plans and applies, for `desired` as `observed`.
    fn react(&mut self, desired: &[DesiredContainer], observed: &[ContainerInfo]) -> TickReport {
        let now = Instant::now();
        let mut report = TickReport::default();

        // Restarts done by the runtime since the last look.
        for o in observed {
            let (id, count) = self
                .counts
                .insert(o.name.clone(), (o.id.clone(), o.restart_count))
                .unwrap_or_else(|| (o.id.clone(), o.restart_count));
            if id == o.id && o.restart_count > count {
                self.note_restarts(&o.name, o.restart_count - count, now);
            }
        }
        self.detect_flapping(desired, now, &mut report);
        if report.flapping.is_empty() {
            self.apply(desired, observed, now, &mut report);
        }
        // Else the registry changed: the next look plans from the new state.
        report
    }

    /// Marks flapping every desired container restarted more than
    /// `flap_threshold` times in the window.
    fn detect_flapping(
        &mut self,
        desired: &[DesiredContainer],
        now: Instant,
        report: &mut TickReport,
    ) {
        for d in desired.iter().filter(|d| d.run && !d.flapping) {
            if self.restarts_in_window(&d.container, now) > self.config.flap_threshold as usize {
                let detail = format!(
                    "{}: restarted more than {} times in {}s; held down until an operator starts it",
                    d.container,
                    self.config.flap_threshold,
                    self.config.flap_window.as_secs()
                );
                match self
                    .engine
                    .mark_flapping(&d.service, &d.component, &d.container, &detail)
                {
                    Ok(()) => {
                        self.engine.metrics().flapping_marked();
                        report.flapping.push(d.container.clone());
                        self.restarts.remove(&d.container);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, container = d.container, "cannot mark flapping")
                    }
                }
            }
        }
    }

    /// Plans `desired` against `observed` and applies each action (recording
    /// drift once per persisting state).
    fn apply(
        &mut self,
        desired: &[DesiredContainer],
        observed: &[ContainerInfo],
        now: Instant,
        report: &mut TickReport,
    ) {
        let slim: Vec<ObservedContainer> = observed.iter().map(ObservedContainer::from).collect();
        for action in plan(desired, &slim) {
            let key = format!("{:?} {}", action.kind, action.reason);
            if action.kind == ActionKind::Report {
                if self.recorded.get(&action.container) != Some(&key) {
                    self.engine.record_drift(&action, None);
                    self.recorded.insert(action.container.clone(), key);
                }
                report.actions.push((action, None));
                continue;
            }
            let result = self.engine.repair(&action);
            if let Ok(false) = result {
                // Planned again under the service's lock, nothing was left to do
                // (an operation was making the container): no drift.
                continue;
            }
            if matches!(
                action.kind,
                ActionKind::Start | ActionKind::Create | ActionKind::Replace
            ) {
                self.note_restarts(&action.container, 1, now);
            }
            let error = result.err().map(|e| e.to_string());
            self.engine
                .metrics()
                .repair(action.kind.as_str(), error.is_none());
            let key = format!("{key} {error:?}");
            if error.is_none() || self.recorded.get(&action.container) != Some(&key) {
                self.engine.record_drift(&action, error.clone());
            }
            if error.is_some() {
                self.recorded.insert(action.container.clone(), key);
            } else {
                self.recorded.remove(&action.container);
            }
            report.actions.push((action, error));
        }
    }

    /// Runs until `stop` is set: follows the runtime's events (when
    /// configured and the runtime has them) and relists the node when due.
    /// Errors are logged and the loop goes on.
    pub fn run(&mut self, stop: &AtomicBool) {
        let (tx, rx) = std::sync::mpsc::channel();
        let watcher = self
            .config
            .events
            .then(|| Watcher::start(self.engine.clone(), tx));
        let mut live = false;
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            if Instant::now() >= next {
                self.look(None);
                self.renew_when_due(Instant::now());
                let every = if live {
                    self.config.relist
                } else {
                    self.config.interval
                };
                next = Instant::now() + every;
            }
            let wait = next.saturating_duration_since(Instant::now()).min(POLL);
            let first = match rx.recv_timeout(wait) {
                Ok(signal) => signal,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    // No watcher (events off, or the runtime has none): relists only.
                    std::thread::sleep(wait);
                    continue;
                }
            };
            let mut named = BTreeSet::new();
            for signal in gather(first, &rx) {
                match signal {
                    Signal::Event(e) => {
                        named.insert(e.container);
                    }
                    Signal::Connected => {
                        // Events may have been missed before: look at everything.
                        live = true;
                        self.engine.set_events_live(true);
                        next = Instant::now();
                    }
                    Signal::Broken => {
                        live = false;
                        self.engine.set_events_live(false);
                        next = next.min(Instant::now() + self.config.interval);
                    }
                }
            }
            if !named.is_empty() {
                self.look(Some(&named));
            }
        }
        self.engine.set_events_live(false);
        if let Some(w) = watcher {
            w.stop();
        }
    }

    /// One round over the node (`None`) or the containers named, logged.
    fn look(&mut self, names: Option<&BTreeSet<String>>) {
        let (kind, result) = match names {
            None => ("relist", self.tick()),
            Some(n) => ("events", self.tick_for(n)),
        };
        self.engine.metrics().monitor_round(kind);
        if let Err(e) = result {
            tracing::warn!(error = %e, "monitor round failed");
        }
    }

    fn note_restarts(&mut self, container: &str, n: u32, now: Instant) {
        let q = self.restarts.entry(container.to_owned()).or_default();
        for _ in 0..n.min(self.config.flap_threshold + 1) {
            q.push_back(now);
        }
    }

    fn restarts_in_window(&mut self, container: &str, now: Instant) -> usize {
        let Some(q) = self.restarts.get_mut(container) else {
            return 0;
        };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.config.flap_window)
        {
            q.pop_front();
        }
        q.len()
    }
}

/// What the watcher tells the monitor.
#[derive(Debug)]
enum Signal {
    /// The stream (re)started.
    Connected,
    /// Something happened to a container.
    Event(RuntimeEvent),
    /// The stream ended.
    Broken,
}

/// `first` and whatever follows it within [`GATHER`]: the events of one
/// moment (a restart is several), looked at once.
fn gather(first: Signal, rx: &Receiver<Signal>) -> Vec<Signal> {
    let until = Instant::now() + GATHER;
    let mut out = vec![first];
    loop {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(s) => out.push(s),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return out,
        }
    }
}

/// The thread that follows the runtime's events for the monitor, starting the
/// stream again (with a backoff) when it breaks.
struct Watcher {
    stopping: Arc<AtomicBool>,
    stream: Arc<Mutex<Option<EventStopper>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Watcher {
    fn start(engine: Arc<Engine>, tx: Sender<Signal>) -> Self {
        let stopping = Arc::new(AtomicBool::new(false));
        let stream: Arc<Mutex<Option<EventStopper>>> = Arc::default();
        let (s, st) = (stopping.clone(), stream.clone());
        let thread = std::thread::Builder::new()
            .name("events".into())
            .spawn(move || watch(&engine, &tx, &s, &st))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot start the event watcher: relisting only");
                std::thread::spawn(|| {})
            });
        Watcher {
            stopping,
            stream,
            thread,
        }
    }

    /// Ends the stream and the thread.
    fn stop(self) {
        self.stopping.store(true, Ordering::Relaxed);
        if let Some(s) = self.stream.lock().unwrap_or_else(|p| p.into_inner()).take() {
            s.stop();
        }
        let _ = self.thread.join();
    }
}

/// Follows the runtime's events into `tx` until `stopping`, the monitor is
/// gone, or the runtime has no event stream.
fn watch(
    engine: &Engine,
    tx: &Sender<Signal>,
    stopping: &AtomicBool,
    slot: &Mutex<Option<EventStopper>>,
) {
    let mut backoff = Duration::from_secs(1);
    while !stopping.load(Ordering::Relaxed) {
        match engine.runtime_events() {
            Ok(stream) => {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(stream.stopper());
                if stopping.load(Ordering::Relaxed) || tx.send(Signal::Connected).is_err() {
                    return;
                }
                backoff = Duration::from_secs(1);
                for event in stream.filter(RuntimeEvent::matters) {
                    if tx.send(Signal::Event(event)).is_err() {
                        return;
                    }
                }
                if stopping.load(Ordering::Relaxed) || tx.send(Signal::Broken).is_err() {
                    return;
                }
                tracing::warn!("the runtime's event stream ended; starting it again");
            }
            Err(e) if e.kind() == mcp_model::ErrorKind::NotConfigured => return,
            Err(e) => tracing::warn!(error = %e, "cannot follow the runtime's events"),
        }
        let until = Instant::now() + backoff;
        while !stopping.load(Ordering::Relaxed) && Instant::now() < until {
            std::thread::sleep(POLL);
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
