//! What a service looks like right now: the registry's desired state joined with
//! what the runtime reports, per component. Feeds `mcp ps` and `mcp status`.

use mcp_model::names::ServiceName;
use mcp_model::view::{ComponentStatus, Event, PortAssignment, ServiceStatus, StatusReport};

use super::{Engine, EngineError};
use crate::registry::{EventQuery, ServiceRecord};
use crate::runtime::{ContainerInfo, ContainerState};

impl Engine {
    /// The status of one service, with its routes and certificates.
    pub fn status(&self, service: &ServiceName) -> Result<ServiceStatus, EngineError> {
        let rec = self.deployed(service)?;
        self.full_status(&rec)
    }

    /// What `mcp status` shows of a service: [`Engine::status`], the definition it
    /// was deployed from, and its newest `recent` events (oldest first). The
    /// record is read once and only those events are read.
    pub fn status_report(
        &self,
        service: &ServiceName,
        recent: u32,
    ) -> Result<StatusReport, EngineError> {
        let rec = self.deployed(service)?;
        let status = self.full_status(&rec)?;
        let events = self
            .events(&EventQuery {
                service: Some(service.to_string()),
                last: Some(recent),
                ..EventQuery::default()
            })
            .map_err(|e| super::step_err("status", service, super::Step::Validate)(e.into()))?;
        Ok(StatusReport {
            status,
            definition: rec.definition,
            events,
        })
    }

    /// The events `query` selects, each saying it happened on this node.
    pub fn events(&self, query: &EventQuery) -> Result<Vec<Event>, crate::registry::RegistryError> {
        let mut events = self.registry.events(query)?;
        for e in &mut events {
            e.node.clone_from(&self.config.node);
        }
        Ok(events)
    }

    fn full_status(&self, rec: &ServiceRecord) -> Result<ServiceStatus, EngineError> {
        let service = rec.name();
        let fail = |e| super::step_err("status", service, super::Step::Validate)(e);
        let mut status = self.status_of(rec).map_err(fail)?;
        if self.proxy().is_none() {
            // Nothing of the kind is ever recorded without a proxy.
            return Ok(status);
        }
        let mine = |s: &Option<String>| s.as_deref() == Some(service);
        let (routes, certificates) = self
            .registry
            .read(|t| {
                Ok::<_, crate::registry::RegistryError>((t.proxy_routes()?, t.certificates()?))
            })
            .map_err(|e| fail(e.into()))?;
        status.routes = routes.into_iter().filter(|r| mine(&r.service)).collect();
        status.certificates = certificates
            .into_iter()
            .filter(|c| mine(&c.service))
            .collect();
        Ok(status)
    }

    /// The status of every service, by name.
    pub fn statuses(&self) -> Result<Vec<ServiceStatus>, crate::Error> {
        self.registry
            .services()?
            .iter()
            .map(|r| self.status_of(r))
            .collect()
    }

    fn status_of(&self, rec: &ServiceRecord) -> Result<ServiceStatus, crate::Error> {
        let leases = self.registry.read(|t| t.service_leases(rec.name()))?;
        let mut components = Vec::new();
        for c in &rec.components {
            let info: Option<ContainerInfo> = self.observed(&c.container_name)?;
            components.push(ComponentStatus {
                name: c.name.clone(),
                container: c.container_name.clone(),
                desired: c.desired,
                state: info
                    .as_ref()
                    .map_or(ContainerState::Missing, |i| i.state.clone()),
                image: c.image.clone(),
                version: c.version.clone(),
                ports: leases
                    .iter()
                    .filter(|l| l.component == c.name)
                    .map(|l| PortAssignment {
                        component: l.component.clone(),
                        route: l.route.clone(),
                        port: l.port,
                    })
                    .collect(),
                restart_count: info.as_ref().map_or(0, |i| i.restart_count),
                started_at: info
                    .as_ref()
                    .filter(|i| i.state == ContainerState::Running)
                    .and_then(|i| i.started_at),
                flapping_since: c.flapping_since,
            });
        }
        let skipped = if leases.is_empty() {
            Vec::new()
        } else {
            self.skipped_steps()
        };
        Ok(ServiceStatus {
            service: rec.name().to_owned(),
            node: self.config.node.clone(),
            active: rec.active,
            components,
            routes: Vec::new(),
            certificates: Vec::new(),
            skipped,
        })
    }
}
