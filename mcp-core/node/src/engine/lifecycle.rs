//! The lifecycle of a deployed service after its deploy: stop (routes and names
//! withdrawn first, then the service marked inactive, then its containers
//! stopped), start and restart (marked active, missing containers recreated,
//! routes and names put back), and undeploy (routes and names withdrawn, then
//! containers, registry rows and leases removed; the data directory stays). Each
//! is journaled, and undone when a step fails.

use mcp_model::names::ServiceName;
use std::collections::BTreeSet;
use std::time::SystemTime;

use mcp_model::spec::ResolvedService;
use mcp_model::view::{ComponentChange, DesiredState, Report, Step};

use super::journal::Journal;
use super::undo::Undo;
use super::{Engine, EngineError, Result, naming, routing, step_err, summary};
use crate::certs::{CertPaths, Ensured};
use crate::registry::{RegistryError, ServiceRecord};
use crate::runtime::{ContainerSpec, ContainerState, labels};

/// Starting, or restarting.
#[derive(Clone, Copy)]
struct Run {
    restart: bool,
}

impl Run {
    fn operation(self) -> &'static str {
        if self.restart { "restart" } else { "start" }
    }

    fn step(self) -> Step {
        if self.restart {
            Step::Restart
        } else {
            Step::Start
        }
    }
}

impl Engine {
    /// Stops a service's containers and marks it inactive, so the monitor leaves it
    /// stopped. Stopping a stopped service succeeds.
    pub fn stop(&self, service: &ServiceName, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "stop",
            service,
            || self.stop_locked(service),
            summary,
        )
    }

    pub(super) fn stop_locked(&self, service: &str) -> Result<Report> {
        let rec = self.deployed(service)?;
        let mut undo =
            self.journal(service, "stop")
                .map_err(step_err("stop", service, Step::Stop))?;
        // Routes go first: no connection is sent to a stopping container.
        let withdrawn = self
            .withdraw(service, "stop", &mut undo)
            .and_then(|()| self.mark_stopped(&rec, &undo));
        if let Err(e) = withdrawn {
            self.undo_all(undo);
            return Err(e);
        }
        self.stop_containers(&rec)
    }

    /// Withdraws `service`'s routes, then its DNS records, journaling how to put
    /// them back.
    fn withdraw(&self, service: &str, operation: &'static str, undo: &mut Journal) -> Result<()> {
        let routes =
            self.withdraw_routes(service)
                .map_err(step_err(operation, service, Step::Routes))?;
        for r in routes {
            undo.push(Undo::AddRoute(r));
        }
        let records =
            self.withdraw_dns(service)
                .map_err(step_err(operation, service, Step::Dns))?;
        undo.push(Undo::AddDns(records));
        Ok(())
    }

    /// Records `rec`'s service inactive, owning no routes or names; closes `undo`.
    fn mark_stopped(&self, rec: &ServiceRecord, undo: &Journal) -> Result<()> {
        let service = rec.name();
        self.registry
            .transaction(|tx| {
                tx.set_service_active(service, false, SystemTime::now())?;
                for c in &rec.components {
                    tx.set_component_state(service, &c.name, DesiredState::Stopped)?;
                }
                routing::record_proxy(tx, service, &[], None, "")?;
                naming::record_dns(tx, service, &[])?;
                undo.commit_in(tx)?;
                Ok::<_, RegistryError>(())
            })
            .map_err(|e| step_err("stop", service, Step::Stop)(e.into()))
    }

    /// Stops every container of `rec` (one that is missing is a warning; one
    /// that is not running is left unchanged).
    fn stop_containers(&self, rec: &ServiceRecord) -> Result<Report> {
        let service = rec.name();
        let mut report = self.empty_report(service);
        for c in &rec.components {
            let state = self
                .runtime
                .inspect(&c.container_name)
                .map_err(|e| step_err("stop", service, Step::Stop)(e.into()))?
                .map(|i| i.state);
            if state.is_some_and(|s| s != ContainerState::Running) && !rec.active {
                report.push(&c.container_name, ComponentChange::Unchanged);
                continue;
            }
            match self.runtime.stop(&c.container_name, self.config.stop_grace) {
                Ok(()) => report.push(&c.container_name, ComponentChange::Stopped),
                Err(e) if e.is_not_found() => report
                    .warnings
                    .push(format!("container {} does not exist", c.container_name)),
                Err(e) => return Err(step_err("stop", service, Step::Stop)(e.into())),
            }
        }
        Ok(report)
    }

    /// Starts a service's containers (recreating any that are missing) and marks it
    /// active. Clears a flapping mark: starting is the operator's decision.
    pub fn start(&self, service: &ServiceName, actor: &str) -> Result<Report> {
        let run = Run { restart: false };
        self.recorded(actor, "start", service, || self.run(service, run), summary)
    }

    /// Restarts a service's containers (recreating any that are missing) and marks it
    /// active. Clears a flapping mark.
    pub fn restart(&self, service: &ServiceName, actor: &str) -> Result<Report> {
        let run = Run { restart: true };
        self.recorded(
            actor,
            "restart",
            service,
            || self.run(service, run),
            summary,
        )
    }

    /// `start` under the service's lock.
    pub(super) fn start_locked(&self, service: &str) -> Result<Report> {
        self.run(service, Run { restart: false })
    }

    fn run(&self, service: &str, run: Run) -> Result<Report> {
        let rec = self.deployed(service)?;
        let resolved = rec.definition.resolve(&self.config.conventions);
        let mut undo = self.journal(service, run.operation()).map_err(step_err(
            run.operation(),
            service,
            run.step(),
        ))?;
        if !rec.active {
            undo.push(Undo::Deactivate(service.to_owned()));
        }
        let result = self.run_journaled(run, &rec, &resolved, &mut undo);
        if result.is_err() {
            self.undo_all(undo);
        }
        result
    }

    fn run_journaled(
        &self,
        run: Run,
        rec: &ServiceRecord,
        resolved: &ResolvedService,
        undo: &mut Journal,
    ) -> Result<Report> {
        let service = rec.name();
        let certs = self.ensure_certs(resolved, undo).map_err(step_err(
            run.operation(),
            service,
            Step::Certs,
        ))?;
        self.mark_running(run, rec)?;
        let mut report = self.empty_report(service);
        for (c, spec) in
            self.recorded_specs(rec)
                .map_err(step_err(run.operation(), service, run.step()))?
        {
            let change = self.run_container(run, service, &c.name, &spec, undo)?;
            report.push(&spec.name, change);
        }
        self.route_again(run, resolved, &certs, undo)?;
        if !resolved.components.iter().all(|c| c.routes.is_empty()) {
            report.warnings.extend(self.skipped_steps());
        }
        Ok(report)
    }

    /// Records `rec`'s service active, its components running and not flapping.
    fn mark_running(&self, run: Run, rec: &ServiceRecord) -> Result<()> {
        let service = rec.name();
        self.registry
            .transaction(|tx| {
                tx.set_service_active(service, true, SystemTime::now())?;
                for c in &rec.components {
                    tx.set_component_state(service, &c.name, DesiredState::Running)?;
                    tx.set_component_flapping(service, &c.name, None)?;
                }
                Ok::<_, RegistryError>(())
            })
            .map_err(|e| step_err(run.operation(), service, run.step())(e.into()))
    }

    /// Starts (or restarts) one container, recreating it when it is missing.
    fn run_container(
        &self,
        run: Run,
        service: &str,
        component: &str,
        spec: &ContainerSpec,
        undo: &mut Journal,
    ) -> Result<ComponentChange> {
        let fail = |e: crate::Error| step_err(run.operation(), service, run.step())(e);
        let info = self
            .runtime
            .inspect(&spec.name)
            .map_err(|e| fail(e.into()))?;
        let running = info
            .as_ref()
            .is_some_and(|i| i.state == ContainerState::Running);
        Ok(match info {
            None => {
                self.recreate(service, component, spec).map_err(fail)?;
                undo.push(Undo::StopContainer(spec.name.clone()));
                self.runtime.start(&spec.name).map_err(|e| fail(e.into()))?;
                ComponentChange::Created
            }
            Some(_) if running && run.restart => {
                self.runtime
                    .restart(&spec.name, self.config.stop_grace)
                    .map_err(|e| fail(e.into()))?;
                ComponentChange::Restarted
            }
            Some(_) if running => ComponentChange::Unchanged,
            Some(_) => {
                undo.push(Undo::StopContainer(spec.name.clone()));
                self.runtime.start(&spec.name).map_err(|e| fail(e.into()))?;
                ComponentChange::Started
            }
        })
    }

    /// Routes and names again, once the containers run, and the record of them;
    /// closes `undo`.
    fn route_again(
        &self,
        run: Run,
        resolved: &ResolvedService,
        certs: &[Ensured],
        undo: &mut Journal,
    ) -> Result<()> {
        let (operation, service) = (run.operation(), resolved.name.as_str());
        let leases = self
            .registry
            .read(|t| t.service_leases(service))
            .map_err(|e| step_err(operation, service, Step::Routes)(e.into()))?;
        let routes = self.desired_routes(resolved, &leases);
        self.apply_routes(service, &routes, undo).map_err(step_err(
            operation,
            service,
            Step::Routes,
        ))?;
        let records = self.desired_records(resolved);
        self.apply_dns(service, &records, undo)
            .map_err(step_err(operation, service, Step::Dns))?;
        self.registry
            .transaction(|tx| {
                if let Some(p) = self.proxy() {
                    routing::record_proxy(tx, service, &routes, Some(certs), p.issuer.name())?;
                }
                if self.dns().is_some() {
                    naming::record_dns(tx, service, &records)?;
                }
                undo.commit_in(tx)?;
                Ok::<_, RegistryError>(())
            })
            .map_err(|e| step_err(operation, service, Step::Record)(e.into()))
    }

    /// Removes a service: its containers, port leases and registry rows. The data
    /// directory stays. Undeploying a service that is not deployed succeeds (and
    /// removes any containers still labelled with it).
    pub fn undeploy(&self, service: &ServiceName, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "undeploy",
            service,
            || self.undeploy_locked(service),
            summary,
        )
    }

    fn undeploy_locked(&self, service: &str) -> Result<Report> {
        let fail = |e: crate::Error| step_err("undeploy", service, Step::Remove)(e);
        let rec = self.registry.service(service).map_err(|e| fail(e.into()))?;
        if rec.is_none() && self.nothing_of(service).map_err(fail)? {
            return Err(EngineError::NotDeployed(service.to_owned()));
        }
        // Once routes and names are withdrawn, an undeploy the agent does not
        // live to finish is completed when it starts again (see journal.rs).
        let journal = self.journal(service, "undeploy").map_err(fail)?;
        let withdrawn = match self.withdraw_routes(service) {
            Ok(w) => w,
            Err(e) => {
                journal.close();
                return Err(step_err("undeploy", service, Step::Routes)(e));
            }
        };
        if let Err(e) = self.withdraw_dns(service) {
            self.undo_steps(withdrawn.into_iter().map(Undo::AddRoute).collect());
            journal.close();
            return Err(step_err("undeploy", service, Step::Dns)(e));
        }
        let (mut report, stale_certs) = match self.remove_service(service, rec.as_ref(), &journal) {
            Ok(r) => r,
            Err(e) => {
                journal.close();
                return Err(fail(e));
            }
        };
        report.warnings.extend(self.remove_certs(&stale_certs));
        self.ports.resync().map_err(|e| fail(e.into()))?;
        if rec.is_none() {
            report
                .warnings
                .push(format!("service {service} was not deployed"));
        }
        Ok(report)
    }

    /// Whether nothing of `service` is on this node: no container labelled with
    /// it, no proxy route or DNS record recorded for it (an undeploy of it would
    /// change nothing).
    fn nothing_of(&self, service: &str) -> Result<bool, crate::Error> {
        let containers = self.runtime.list(&[
            (labels::INSTANCE, &self.config.instance),
            (labels::SERVICE, service),
        ])?;
        Ok(containers.is_empty()
            && self.owned_routes(service)?.is_empty()
            && self.owned_records(service)?.is_empty())
    }

    /// Removes the containers of `service` (recorded, or labelled with it) and, in
    /// one transaction, its registry rows and leases; closes `journal`. Its
    /// certificate files are returned, for removal after.
    fn remove_service(
        &self,
        service: &str,
        rec: Option<&ServiceRecord>,
        journal: &Journal,
    ) -> Result<(Report, Vec<CertPaths>), crate::Error> {
        let stale_certs = self.stale_certs(service, &[])?;
        let mut names: BTreeSet<String> = rec
            .iter()
            .flat_map(|r| r.components.iter().map(|c| c.container_name.clone()))
            .collect();
        let labelled = self.runtime.list(&[
            (labels::INSTANCE, &self.config.instance),
            (labels::SERVICE, service),
        ])?;
        names.extend(labelled.into_iter().map(|c| c.name));
        let mut report = self.empty_report(service);
        for name in &names {
            if self.runtime.remove(name)? {
                report.push(name, ComponentChange::Removed);
            }
        }
        self.registry.transaction(|tx| {
            routing::record_proxy(tx, service, &[], Some(&[]), "")?;
            naming::record_dns(tx, service, &[])?;
            journal.commit_in(tx)?;
            tx.remove_service(service)
        })?;
        Ok((report, stale_certs))
    }
}
