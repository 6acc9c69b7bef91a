//! The monitor loop: observe, detect flapping, plan, apply, record.
//!
//! Flapping: every restart of a container (by Podman's restart policy, seen as a
//! rising restart count, or by the monitor itself) is remembered for
//! `flap_window`; a container restarted more than `flap_threshold` times in that
//! window is marked flapping in the registry and its container removed (its last
//! output goes into the `flapping` event). It is not recreated automatically and
//! `status` shows it, until an operator starts, restarts or redeploys the service.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::engine::Engine;
use mcp_model::plan::{Action, ActionKind, ObservedContainer, plan};

/// How the monitor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Time between ticks.
    pub interval: Duration,
    /// More restarts than this within `flap_window` mark a container flapping.
    pub flap_threshold: u32,
    /// The window restarts are counted in.
    pub flap_window: Duration,
    /// Time between certificate renewal passes (see
    /// [`Engine::renew_certificates`](crate::engine::Engine::renew_certificates)).
    pub renew_interval: Duration,
}

impl Default for MonitorConfig {
    /// A tick every 10 s; flapping at more than 5 restarts in 5 minutes.
    fn default() -> Self {
        MonitorConfig {
            interval: Duration::from_secs(10),
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
                    tracing::warn!(service = %r.service, hostname = %r.hostname, error = ?r.error, "certificate renewal failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "certificate renewal pass failed"),
        }
    }

    /// One round: observe, detect flapping, plan and apply.
    pub fn tick(&mut self) -> Result<TickReport, crate::Error> {
        let now = Instant::now();
        let mut report = TickReport::default();
        let desired = self.engine.desired_containers()?;
        let observed = self.engine.observe(&desired)?;

        // Restarts done by the runtime since the last tick.
        for o in &observed {
            let (id, count) = self
                .counts
                .insert(o.name.clone(), (o.id.clone(), o.restart_count))
                .unwrap_or_else(|| (o.id.clone(), o.restart_count));
            if id == o.id && o.restart_count > count {
                self.note_restarts(&o.name, o.restart_count - count, now);
            }
        }
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
                        report.flapping.push(d.container.clone());
                        self.restarts.remove(&d.container);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, container = d.container, "cannot mark flapping")
                    }
                }
            }
        }
        if !report.flapping.is_empty() {
            // The registry changed: plan from the new state.
            return Ok(report);
        }

        let slim: Vec<ObservedContainer> = observed.iter().map(ObservedContainer::from).collect();
        for action in plan(&desired, &slim) {
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
        Ok(report)
    }

    /// Ticks every interval until `stop` is set. Errors are logged and the loop goes on.
    pub fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            if let Err(e) = self.tick() {
                tracing::warn!(error = %e, "monitor tick failed");
            }
            self.renew_when_due(Instant::now());
            let until = Instant::now() + self.config.interval;
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50).min(self.config.interval));
            }
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
