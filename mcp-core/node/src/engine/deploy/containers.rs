//! The containers step of a deploy, in three phases. First, in file order,
//! what [`ContainerAction::decide`] says for each component is prepared: a
//! container kept, started or stopped; an old one parked; fresh ports for one
//! replaced beside; and the removal of every container to be made journaled
//! before it exists. Then the new containers are created, started and waited
//! for (health checks, `ready_after`) all at once, one thread each: a
//! service's components are independent, and waiting for readiness is most of
//! a deploy's time. Last, what happened is noted in file order; the first
//! failure in file order is the step's error, after every thread has ended, and
//! the journal undoes everything made.

use std::time::SystemTime;

use mcp_model::ports::{LeaseRequest, PortLease};
use mcp_model::spec::ResolvedComponent;
use mcp_model::view::{ComponentChange, DesiredState, Step};

use super::super::containers::{NEXT_SUFFIX, PARKED_SUFFIX};
use super::super::preview::{ContainerAction, lease_request, removed_components};
use super::super::undo::Undo;
use super::super::{Engine, EngineError, Result, route_lease, step_err};
use super::{DeployPlan, Switch};
use crate::registry::{ComponentRecord, ContainerRecord};
use crate::runtime::{ContainerInfo, ContainerSpec, ContainerState};

/// What the first phase left for a component.
enum Prepared {
    /// Its container is there (kept, started or stopped): its id.
    Done {
        spec: ContainerSpec,
        id: String,
        change: ComponentChange,
    },
    /// A container to make under `make.name` (`<name>-mcp-next` beside the
    /// old one), noted under `name`.
    Make {
        make: ContainerSpec,
        name: String,
        change: ComponentChange,
    },
}

impl DeployPlan<'_> {
    /// Step containers: for every component, its container kept, started,
    /// stopped, replaced or created; new ones made at once and health-checked
    /// before the routes step when a proxy routes to them.
    pub(super) fn containers(&mut self) -> Result<()> {
        let data_dir = self.resolved.data_dir.clone();
        let made_data_dir = !data_dir.exists();
        self.engine
            .prepare_host(&self.resolved)
            .map_err(self.fail(Step::Containers))?;
        if made_data_dir {
            self.undo.push(Undo::RemoveDataDir(data_dir));
        }
        let components = self.resolved.components.clone();
        let actions = components
            .iter()
            .map(|c| self.decide(c))
            .collect::<Result<Vec<_>>>()?;
        self.lease_beside(&components, &actions)?;
        let prepared = components
            .iter()
            .zip(actions)
            .map(|(c, action)| self.prepare(c, action))
            .collect::<Result<Vec<_>>>()?;
        let to_make: Vec<(&ResolvedComponent, &ContainerSpec)> = components
            .iter()
            .zip(&prepared)
            .filter_map(|(c, p)| match p {
                Prepared::Make { make, .. } => Some((c, make)),
                Prepared::Done { .. } => None,
            })
            .collect();
        let mut made = make_all(
            self.engine,
            &self.def.name,
            self.def.active,
            &self.leases,
            &to_make,
        )
        .into_iter();
        for (c, p) in components.iter().zip(prepared) {
            let (spec, id, change) = match p {
                Prepared::Done { spec, id, change } => (spec, id, change),
                Prepared::Make {
                    mut make,
                    name,
                    change,
                } => {
                    let id = made.next().unwrap_or_else(|| {
                        Err(EngineError::Invalid("a container was not made".into()))
                    })?;
                    make.name = name;
                    (make, id, change)
                }
            };
            self.note_component(c, &spec, id, change);
        }
        self.drop_removed_components();
        Ok(())
    }

    /// With a proxy, routing waits for health, and a running component with
    /// routes is replaced without downtime.
    fn gated(&self) -> bool {
        self.engine.proxy().is_some() && self.def.active
    }

    /// What [`ContainerAction::decide`] says for component `c`: the answer
    /// the preview shows.
    fn decide(&self, c: &ResolvedComponent) -> Result<ContainerAction> {
        let e = self.engine;
        let spec = e.container_spec(&self.resolved, c, &self.leases);
        let existing = e
            .recorded_container(self.previous.as_ref(), &spec.name)
            .map_err(|err| self.fail(Step::Containers)(err.into()))?;
        Ok(ContainerAction::decide(
            existing,
            &spec,
            c,
            self.gated(),
            self.def.active,
        ))
    }

    /// Fresh ports for every component replaced beside its running
    /// container, in one lease: all or nothing, and an exhausted range says
    /// how many the deploy needed. They are leased under
    /// `<component>-mcp-next` until the switch is recorded; the deploy's
    /// leases then hold them for the component.
    fn lease_beside(
        &mut self,
        components: &[ResolvedComponent],
        actions: &[ContainerAction],
    ) -> Result<()> {
        let beside: Vec<&ResolvedComponent> = components
            .iter()
            .zip(actions)
            .filter(|(_, a)| matches!(a, ContainerAction::Beside(_)))
            .map(|(c, _)| c)
            .collect();
        let service = self.def.name.as_str();
        let requests: Vec<LeaseRequest> = beside
            .iter()
            .flat_map(|c| {
                let temp = format!("{}{NEXT_SUFFIX}", c.name);
                c.leased_routes()
                    .map(move |r| lease_request(service, &temp, r.name.clone()))
            })
            .collect();
        if requests.is_empty() {
            return Ok(());
        }
        let next = self
            .engine
            .ports
            .lease(&requests)
            .map_err(|err| self.fail(Step::Ports)(err.into()))?;
        self.undo
            .push(Undo::ReleasePorts(next.iter().map(|l| l.port).collect()));
        self.leases
            .retain(|l| !beside.iter().any(|c| c.name == l.component));
        self.leases.extend(next.into_iter().map(|l| {
            PortLease {
                component: l
                    .component
                    .strip_suffix(NEXT_SUFFIX)
                    .unwrap_or(&l.component)
                    .to_owned(),
                ..l
            }
        }));
        Ok(())
    }

    /// The first phase for one component: `action` carried out up to the
    /// container to make, whose removal is journaled before it exists (so an
    /// agent killed while Podman creates it still undoes it).
    fn prepare(&mut self, c: &ResolvedComponent, action: ContainerAction) -> Result<Prepared> {
        let e = self.engine;
        let spec = e.container_spec(&self.resolved, c, &self.leases);
        let prepared = match action {
            ContainerAction::Keep(info, change) => {
                let id = self.keep(&spec, info, change)?;
                return Ok(Prepared::Done { spec, id, change });
            }
            ContainerAction::Beside(_) => {
                let make = self.prepare_beside(c)?;
                self.switches.push(Switch {
                    name: spec.name.clone(),
                    next: make.name.clone(),
                });
                Prepared::Make {
                    make,
                    name: spec.name,
                    change: ComponentChange::Replaced,
                }
            }
            ContainerAction::InPlace(info) => {
                self.park(&spec, &info)?;
                Prepared::Make {
                    name: spec.name.clone(),
                    make: spec,
                    change: ComponentChange::Replaced,
                }
            }
            ContainerAction::Create => Prepared::Make {
                name: spec.name.clone(),
                make: spec,
                change: ComponentChange::Created,
            },
        };
        if let Prepared::Make { make, .. } = &prepared {
            self.undo.push(Undo::RemoveCreated {
                name: make.name.clone(),
                service: self.def.name.clone(),
            });
        }
        Ok(prepared)
    }

    /// A container with the wanted spec and image: kept, started or stopped
    /// (`change`) as the definition says. Its id.
    fn keep(
        &self,
        spec: &ContainerSpec,
        info: ContainerInfo,
        change: ComponentChange,
    ) -> Result<String> {
        let e = self.engine;
        let fail = |err: crate::runtime::RuntimeError| self.fail(Step::Containers)(err.into());
        match change {
            ComponentChange::Started => e.runtime.start(&spec.name).map_err(fail)?,
            ComponentChange::Stopped => e
                .runtime
                .stop(&spec.name, e.config.stop_grace)
                .map_err(fail)?,
            _ => {}
        }
        Ok(info.id)
    }

    /// Parks the old container of a component being replaced in place: stopped
    /// (it holds the ports) and moved aside, so a failure can put it back.
    fn park(&mut self, spec: &ContainerSpec, info: &ContainerInfo) -> Result<()> {
        let e = self.engine;
        let fail = |err: crate::runtime::RuntimeError| self.fail(Step::Containers)(err.into());
        let was_running = info.state == ContainerState::Running;
        let parked = format!("{}{PARKED_SUFFIX}", spec.name);
        e.runtime.remove(&parked).map_err(fail)?;
        if was_running {
            e.runtime
                .stop(&spec.name, e.config.stop_grace)
                .map_err(fail)?;
        }
        e.runtime.rename(&spec.name, &parked).map_err(fail)?;
        self.undo.push(Undo::Restore {
            name: spec.name.clone(),
            parked: parked.clone(),
            was_running,
        });
        self.parked.push(parked);
        Ok(())
    }

    /// Prepares the replacement of component `c` beside its running
    /// container, on the fresh ports [`Self::lease_beside`] leased: no
    /// leftover `<name>-mcp-next`. The spec to make, under `<name>-mcp-next`.
    fn prepare_beside(&mut self, c: &ResolvedComponent) -> Result<ContainerSpec> {
        let e = self.engine;
        let mut make = e.container_spec(&self.resolved, c, &self.leases);
        make.name = format!("{}{NEXT_SUFFIX}", make.name);
        // What an interrupted deploy may have left.
        e.runtime
            .remove(&make.name)
            .map_err(|err| self.fail(Step::Containers)(err.into()))?;
        Ok(make)
    }

    /// Notes what the containers step did to component `c`.
    fn note_component(
        &mut self,
        c: &ResolvedComponent,
        spec: &ContainerSpec,
        id: String,
        change: ComponentChange,
    ) {
        self.report.push(&spec.name, change);
        self.containers.push(ContainerRecord {
            name: spec.name.clone(),
            service: self.def.name.clone(),
            component: c.name.clone(),
            container_id: id,
            image: spec.image.clone(),
            created_at: SystemTime::now(),
        });
        self.components.push(ComponentRecord {
            name: c.name.clone(),
            container_name: spec.name.clone(),
            image: c.image.clone(),
            version: c.version.clone(),
            desired: if self.def.active {
                DesiredState::Running
            } else {
                DesiredState::Stopped
            },
            spec_hash: spec.hash().to_string(),
            flapping_since: None,
        });
    }

    /// Containers of components no longer in the definition go after the commit.
    fn drop_removed_components(&mut self) {
        let kept: Vec<&str> = self
            .components
            .iter()
            .map(|c| c.container_name.as_str())
            .collect();
        let removed: Vec<String> = removed_components(self.previous.as_ref(), &kept)
            .map(|old| old.container_name.clone())
            .collect();
        for name in removed {
            self.report.push(&name, ComponentChange::Removed);
            self.parked.push(name);
        }
    }
}

/// Makes every container of `to_make` at once (one alone on this thread):
/// each one's id, or why it failed, in the same order.
fn make_all(
    engine: &Engine,
    service: &str,
    active: bool,
    leases: &[PortLease],
    to_make: &[(&ResolvedComponent, &ContainerSpec)],
) -> Vec<Result<String>> {
    let make = |(c, spec): &(&ResolvedComponent, &ContainerSpec)| {
        make_one(engine, service, active, leases, c, spec)
    };
    if let [only] = to_make {
        return vec![make(only)];
    }
    std::thread::scope(|s| {
        let running: Vec<_> = to_make
            .iter()
            .map(|each| s.spawn(move || make(each)))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join().unwrap_or_else(|_| {
                    Err(EngineError::Invalid("making a container panicked".into()))
                })
            })
            .collect()
    })
}

/// Creates (and, when `active`, starts) a component's container and waits
/// until it is ready: its routes' health checks passed and it kept running for
/// its `ready_after` (with or without a proxy). Its id.
fn make_one(
    engine: &Engine,
    service: &str,
    active: bool,
    leases: &[PortLease],
    c: &ResolvedComponent,
    spec: &ContainerSpec,
) -> Result<String> {
    let fail = |step| step_err("deploy", service, step);
    let id = engine
        .create_container(service, spec, active)
        .map_err(fail(Step::Containers))?;
    if !active {
        return Ok(id);
    }
    let started = std::time::Instant::now();
    for r in &c.routes {
        let Some(lease) = route_lease(leases, c, r) else {
            continue;
        };
        engine
            .wait_healthy(&spec.name, lease.port, &r.health)
            .map_err(|why| fail(Step::Health)(EngineError::from(why).into()))?;
    }
    engine
        .wait_settled(&spec.name, started, c.ready_after)
        .map_err(|why| fail(Step::Health)(EngineError::from(why).into()))?;
    Ok(id)
}
