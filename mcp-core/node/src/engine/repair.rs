//! The engine's side of reconciliation: the desired state from the registry, the
//! observed state from the runtime, and applying one planned action.

use std::collections::BTreeSet;
use std::time::SystemTime;

use super::Engine;

/// Lines of a flapping container's output kept in the event.
const FLAP_LOG_LINES: usize = 20;
use crate::registry::{DesiredState, NewEvent, RegistryError};
use crate::runtime::{ContainerInfo, labels};
use mcp_model::plan::{Action, ActionKind, DesiredContainer, ObservedContainer, plan};

impl Engine {
    /// Every container the registry says should exist on this node.
    pub fn desired_containers(&self) -> Result<Vec<DesiredContainer>, crate::Error> {
        Ok(self
            .registry
            .services()?
            .iter()
            .flat_map(|s| {
                s.components.iter().map(|c| DesiredContainer {
                    service: s.name().to_owned(),
                    component: c.name.clone(),
                    container: c.container_name.clone(),
                    image: c.image.clone(),
                    // Empty (adopted, not created from a spec) or unreadable: unknown.
                    spec_hash: c.spec_hash.parse().ok(),
                    run: s.active && c.desired == DesiredState::Running,
                    flapping: c.flapping_since.is_some(),
                })
            })
            .collect())
    }

    /// The containers of this agent instance, plus any desired container that lacks
    /// our labels (adopted ones); noted for status reads, which need not ask
    /// again about the whole node afterwards (and which, arriving meanwhile,
    /// wait for this answer rather than ask for one of their own).
    pub fn observe(
        &self,
        desired: &[DesiredContainer],
    ) -> Result<Vec<ContainerInfo>, crate::Error> {
        self.observing(|| self.observe_now(desired))
    }

    fn observe_now(
        &self,
        desired: &[DesiredContainer],
    ) -> Result<Vec<ContainerInfo>, crate::Error> {
        let generation = self.observed_generation();
        let mut observed = self.runtime.list(&[
            (labels::MANAGED, "true"),
            (labels::INSTANCE, &self.config.instance),
        ])?;
        // Parked containers of a redeploy in progress are not drift.
        observed.retain(|o| !o.name.ends_with(super::containers::PARKED_SUFFIX));
        for d in desired {
            if !observed.iter().any(|o| o.name == d.container) {
                let info = self.runtime.inspect(&d.container)?;
                self.note_observed(&d.container, info.as_ref());
                observed.extend(info);
            }
        }
        for o in &observed {
            self.note_observed(&o.name, Some(o));
        }
        self.observed_all(generation, &observed);
        Ok(observed)
    }

    /// What the runtime says of the containers `names` (those an event named):
    /// each asked about alone, kept when it is this instance's or desired, and
    /// noted for status reads. A parked container of a redeploy is not drift.
    pub fn observe_named(
        &self,
        names: &BTreeSet<String>,
        desired: &[DesiredContainer],
    ) -> Result<Vec<ContainerInfo>, crate::Error> {
        let mut observed = Vec::new();
        for name in names {
            let info = self.runtime.inspect(name)?;
            self.note_observed(name, info.as_ref());
            let Some(info) = info else { continue };
            let ours = info.label(labels::MANAGED) == Some("true")
                && info.label(labels::INSTANCE) == Some(self.config.instance.as_str());
            if !name.ends_with(super::containers::PARKED_SUFFIX)
                && (ours || desired.iter().any(|d| &d.container == name))
            {
                observed.push(info);
            }
        }
        Ok(observed)
    }

    /// The runtime's events from now on (see [`crate::runtime::EventStream`]).
    pub fn runtime_events(&self) -> Result<crate::runtime::EventStream, crate::Error> {
        Ok(self.runtime.events()?)
    }

    /// Applies one planned action, under the service's lock, if it still holds: the
    /// container's state is planned again first, so a deploy or stop that ran since
    /// the plan was made is never undone. Returns whether it acted (a deploy that
    /// was making the container when it was planned, say, leaves nothing to do).
    pub fn repair(&self, action: &Action) -> Result<bool, crate::Error> {
        let lock = action.service.as_deref().map(|s| self.lock(s));
        let _guard = lock
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()));
        let desired: Vec<DesiredContainer> = self
            .desired_containers()?
            .into_iter()
            .filter(|d| d.container == action.container)
            .collect();
        let observed: Vec<ObservedContainer> = self
            .runtime
            .inspect(&action.container)?
            .iter()
            .map(ObservedContainer::from)
            .collect();
        let Some(current) = plan(&desired, &observed)
            .into_iter()
            .find(|a| a.container == action.container)
        else {
            return Ok(false);
        };
        if current.kind != action.kind {
            return Ok(false);
        }
        let name = action.container.as_str();
        self.forget_container(name);
        match action.kind {
            ActionKind::Stop => self.runtime.stop(name, self.config.stop_grace)?,
            ActionKind::Start => self.runtime.start(name)?,
            ActionKind::Remove => {
                self.runtime.remove(name)?;
                self.registry.transaction(|tx| tx.remove_container(name))?;
            }
            ActionKind::Create | ActionKind::Replace => {
                let (Some(service), Some(component)) = (&action.service, &action.component) else {
                    return Ok(false);
                };
                let rec = self.deployed(service)?;
                let specs = self.recorded_specs(&rec)?;
                let Some((_, spec)) = specs.iter().find(|(c, _)| &c.name == component) else {
                    return Ok(false);
                };
                self.runtime.remove(name)?;
                self.recreate(service, component, spec)?;
                // Adopted components become fully managed once recreated from spec.
                let hash = spec.hash();
                self.registry.transaction(|tx| {
                    let mut rec = tx
                        .service(service)?
                        .ok_or_else(|| RegistryError::NotFound {
                            what: "service",
                            name: service.clone(),
                        })?;
                    for c in &mut rec.components {
                        if &c.name == component {
                            c.spec_hash = hash.to_string();
                            c.image.clone_from(&spec.image);
                        }
                    }
                    rec.updated_at = SystemTime::now();
                    tx.put_service(&rec)
                })?;
                self.runtime.start(name)?;
            }
            ActionKind::Report => {}
        }
        Ok(true)
    }

    /// Marks a component flapping and takes its container away, recording why with
    /// the container's last output.
    ///
    /// The container is removed, not stopped: Podman's restart policy restarts a
    /// crash-looping container between `podman stop` calls (a stop of a container that
    /// is between two runs does nothing). The flag keeps the monitor and `recover`
    /// from recreating it until an operator starts, restarts or redeploys the service.
    pub fn mark_flapping(
        &self,
        service: &str,
        component: &str,
        container: &str,
        detail: &str,
    ) -> Result<(), crate::Error> {
        let lock = self.lock(service);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        self.registry.transaction(|tx| {
            tx.set_component_flapping(service, component, Some(SystemTime::now()))
        })?;
        let output = self
            .runtime
            .logs(container, Some(FLAP_LOG_LINES))
            .unwrap_or_else(|e| format!("(no output: {e})"));
        // Podman can refuse while its restart policy has the container mid-cycle:
        // try a few times; if it still exists, the next tick's plan removes it.
        let mut removed = self.runtime.remove(container);
        for _ in 0..3 {
            if removed.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            removed = self.runtime.remove(container);
        }
        self.forget_container(container);
        if removed.is_ok() {
            self.registry
                .transaction(|tx| tx.remove_container(container))?;
        }
        self.event(
            "agent",
            "flapping",
            service,
            format!("{detail}\nlast output:\n{}", output.trim_end()),
            removed
                .as_ref()
                .err()
                .map(|e| format!("{e}; the monitor removes it next tick")),
        );
        Ok(())
    }

    /// Records a drift event for an action the monitor took (or only reports).
    pub fn record_drift(&self, action: &Action, error: Option<String>) {
        let e = NewEvent {
            actor: "agent".into(),
            action: "drift".into(),
            service: action.service.clone(),
            detail: format!(
                "{}: {}; {}",
                action.container,
                action.reason,
                serde_json::to_value(action.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            error,
        };
        if let Err(err) = self.registry.append_event(&e) {
            tracing::warn!(%err, "cannot record drift event");
        }
    }
}
