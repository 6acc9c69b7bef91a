//! What components use right now (`mcp top`, the dashboard, the per-component
//! metrics): the runtime's samples, kept so the runtime is asked at most once a
//! second for views and once per monitor tick for metrics, and each
//! component's CPU percent from the last two samples.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mcp_model::names::ServiceName;
use mcp_model::view::ComponentUsage;

use super::{Engine, EngineError};
use crate::registry::ServiceRecord;
use crate::runtime::{ContainerInfo, ContainerState, ContainerUsage};

/// A sample younger than this is used again rather than taken anew.
const FRESH: Duration = Duration::from_secs(1);
/// A previous sample older than this is no basis for a rate: two are taken.
const BASIS: Duration = Duration::from_secs(60);
/// Between the two samples taken when there is no basis.
const SECOND_LOOK: Duration = Duration::from_secs(1);

/// One sample of every running container.
#[derive(Debug)]
struct Sample {
    taken: Instant,
    by_name: HashMap<String, ContainerUsage>,
}

/// The last two samples, newest first.
#[derive(Debug, Default, Clone)]
struct Pair {
    last: Option<Arc<Sample>>,
    prev: Option<Arc<Sample>>,
}

/// The engine's samples of what containers use.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    pair: Mutex<Pair>,
    /// Whether the runtime's failing to sample was logged as a warning.
    warned: AtomicBool,
}

impl Engine {
    /// What each component of `service` (or of every service) uses: CPU
    /// percent between the node's last two samples (taking two, a second
    /// apart, when it has none from the last minute), CPU time, memory and
    /// processes, with its state, restarts and start time.
    pub fn usage(&self, service: Option<&ServiceName>) -> Result<Vec<ComponentUsage>, EngineError> {
        let records = match service {
            Some(name) => vec![self.deployed(name)?],
            None => self
                .registry
                .services()
                .map_err(|e| super::step_err("top", "", super::Step::Validate)(e.into()))?,
        };
        let pair = self.samples(FRESH, true);
        let mut rows = Vec::new();
        for rec in &records {
            self.usage_of(rec, &pair, &mut rows)
                .map_err(|e| super::step_err("top", rec.name(), super::Step::Validate)(e))?;
        }
        Ok(rows)
    }

    /// Every component's usage for a scrape: from a sample at most `max_age`
    /// old (one monitor tick), with no rate.
    pub(crate) fn usage_for_metrics(
        &self,
        services: &[ServiceRecord],
        max_age: Duration,
    ) -> Result<Vec<ComponentUsage>, crate::Error> {
        let pair = self.samples(max_age, false);
        let mut rows = Vec::new();
        for rec in services {
            self.usage_of(rec, &pair, &mut rows)?;
        }
        Ok(rows)
    }

    fn usage_of(
        &self,
        rec: &ServiceRecord,
        pair: &Pair,
        rows: &mut Vec<ComponentUsage>,
    ) -> Result<(), crate::Error> {
        for c in &rec.components {
            let info = self.observed(&c.container_name)?;
            let state = info
                .as_ref()
                .map_or(ContainerState::Missing, |i| i.state.clone());
            let running = state == ContainerState::Running;
            let now = pair
                .last
                .as_ref()
                .and_then(|s| s.by_name.get(&c.container_name))
                .filter(|_| running);
            let before = pair
                .prev
                .as_ref()
                .and_then(|s| s.by_name.get(&c.container_name));
            rows.push(ComponentUsage {
                service: rec.name().to_owned(),
                component: c.name.clone(),
                node: self.config.node.clone(),
                container: c.container_name.clone(),
                cpu_percent: now.zip(before).and_then(|(n, b)| cpu_percent(b, n)),
                cpu_seconds: now.map(|n| n.cpu_nanos as f64 / 1e9),
                memory_bytes: now.map(|n| n.memory_bytes),
                memory_limit_bytes: now.map(|n| n.memory_limit_bytes),
                pids: now.map(|n| n.pids),
                restart_count: info.as_ref().map_or(0, |i| i.restart_count),
                started_at: info.as_ref().filter(|_| running).and_then(|i| i.started_at),
                sampled_at: now.map_or_else(SystemTime::now, |n| n.at),
                state,
            });
        }
        Ok(())
    }

    /// The last two samples, the newest at most `max_age` old; with
    /// `rate`, a second is taken when the previous is no basis for one.
    fn samples(&self, max_age: Duration, rate: bool) -> Pair {
        let mut pair = self.sampler.pair.lock().unwrap_or_else(|p| p.into_inner());
        let age = |s: &Option<Arc<Sample>>| s.as_ref().map(|s| s.taken.elapsed());
        if age(&pair.last).is_some_and(|a| a < max_age) {
            return pair.clone();
        }
        let basis = age(&pair.last).is_some_and(|a| a < BASIS);
        if rate && !basis {
            pair.last = Some(Arc::new(self.sample()));
            std::thread::sleep(SECOND_LOOK);
        }
        pair.prev = pair.last.take();
        pair.last = Some(Arc::new(self.sample()));
        pair.clone()
    }

    /// One sample of every running container of the registry's services;
    /// none when the runtime cannot give one (said in the log, at warning
    /// level the first time).
    fn sample(&self) -> Sample {
        let running: Vec<ContainerInfo> = self
            .registry
            .services()
            .unwrap_or_default()
            .iter()
            .flat_map(|r| &r.components)
            .filter_map(|c| self.observed(&c.container_name).ok().flatten())
            .filter(|i| i.state == ContainerState::Running)
            .collect();
        let by_name = match self.runtime.usage(&running) {
            Ok(all) => all.into_iter().map(|u| (u.name.clone(), u)).collect(),
            Err(e) => {
                if self.sampler.warned.swap(true, Ordering::Relaxed) {
                    tracing::debug!(error = %e, "the runtime reports no resource use");
                } else {
                    tracing::warn!(error = %e, "the runtime reports no resource use");
                }
                HashMap::new()
            }
        };
        Sample {
            taken: Instant::now(),
            by_name,
        }
    }
}

/// CPU between two samples of one container, in percent of one core; `None`
/// when the counter went back (the container restarted in between) or no
/// time passed.
fn cpu_percent(before: &ContainerUsage, now: &ContainerUsage) -> Option<f64> {
    let wall = now.at.duration_since(before.at).ok()?.as_nanos();
    let used = now.cpu_nanos.checked_sub(before.cpu_nanos)?;
    (wall > 0).then(|| used as f64 * 100.0 / wall as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(cpu_nanos: u64, secs: u64) -> ContainerUsage {
        ContainerUsage {
            name: "c".into(),
            cpu_nanos,
            memory_bytes: 0,
            memory_limit_bytes: 0,
            pids: 1,
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    #[test]
    fn cpu_percent_is_of_one_core_between_two_samples() {
        assert_eq!(cpu_percent(&at(0, 10), &at(500_000_000, 11)), Some(50.0));
        assert_eq!(cpu_percent(&at(0, 10), &at(4_000_000_000, 12)), Some(200.0));
        // Restarted in between: its counter began again.
        assert_eq!(cpu_percent(&at(900, 10), &at(100, 11)), None);
        assert_eq!(cpu_percent(&at(0, 10), &at(100, 10)), None);
    }
}
