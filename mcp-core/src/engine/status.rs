//! What a service looks like right now: the registry's desired state joined with
//! what the runtime reports, per component. Feeds `mcp ps` and `mcp status`.

use std::time::SystemTime;

use serde::Serialize;

use super::{Engine, EngineError};
use crate::registry::{
    CertificateRecord, DesiredState, Event, EventQuery, ProxyRouteRecord, ServiceRecord,
};
use crate::runtime::{ContainerInfo, ContainerState};
use crate::spec::ServiceDefinition;

/// One service's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// Node.
    pub node: String,
    /// Whether MCP keeps it running.
    pub active: bool,
    /// Components.
    pub components: Vec<ComponentStatus>,
    /// Proxy routes MCP registered for it ([`Engine::status`] only; empty in
    /// [`Engine::statuses`]).
    pub routes: Vec<ProxyRouteRecord>,
    /// Its certificates ([`Engine::status`] only).
    pub certificates: Vec<CertificateRecord>,
    /// Integration steps this node skips for it, and why.
    pub skipped: Vec<String>,
}

/// [`Engine::status_report`]: a service's status, definition and recent events.
#[derive(Debug, Clone)]
pub struct StatusReport {
    /// Its status, with routes and certificates.
    pub status: ServiceStatus,
    /// The definition it was deployed from.
    pub definition: ServiceDefinition,
    /// Its newest events, oldest first.
    pub events: Vec<Event>,
}

/// One component's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    /// Component name.
    pub name: String,
    /// Container name.
    pub container: String,
    /// Whether it should run.
    pub desired: DesiredState,
    /// What the runtime says (`missing` when there is no container).
    pub state: String,
    /// Image deployed.
    pub image: String,
    /// Version deployed.
    pub version: String,
    /// `(route, host port)` per route.
    pub ports: Vec<(Option<String>, u16)>,
    /// Restarts by the runtime since the container was created.
    pub restart_count: u32,
    /// When the container last started.
    pub started_at: Option<SystemTime>,
    /// Since when the monitor holds it stopped for flapping.
    pub flapping_since: Option<SystemTime>,
}

impl ComponentStatus {
    /// Whether the component is held stopped for flapping.
    pub fn is_flapping(&self) -> bool {
        self.flapping_since.is_some()
    }
}

impl Engine {
    /// The status of one service, with its routes and certificates.
    pub fn status(&self, service: &str) -> Result<ServiceStatus, EngineError> {
        let rec = self.deployed(service)?;
        self.full_status(&rec)
    }

    /// What `mcp status` shows of a service: [`Engine::status`], the definition it
    /// was deployed from, and its newest `recent` events (oldest first). The
    /// record is read once and only those events are read.
    pub fn status_report(&self, service: &str, recent: u32) -> Result<StatusReport, EngineError> {
        let rec = self.deployed(service)?;
        let status = self.full_status(&rec)?;
        let events = self
            .registry
            .events(&EventQuery {
                service: Some(service.to_owned()),
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
                    .map_or_else(|| "missing".to_owned(), |i| i.state.as_str().to_owned()),
                image: c.image.clone(),
                version: c.version.clone(),
                ports: leases
                    .iter()
                    .filter(|l| l.component == c.name)
                    .map(|l| (l.route.clone(), l.port))
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
            name: rec.name().to_owned(),
            node: rec.definition.node.clone(),
            active: rec.active,
            components,
            routes: Vec::new(),
            certificates: Vec::new(),
            skipped,
        })
    }
}
