//! Taking in what runs without the registry knowing it (adopt: containers started
//! by hand, or by an older agent), and recreating what the runtime lost (recover:
//! after Podman's state was wiped, on the recorded ports).

use std::time::SystemTime;

use mcp_model::ports::{LeaseRequest, PortLease};
use mcp_model::spec::{ResolvedComponent, ServiceDefinition, ValidatedDefinition};
use mcp_model::view::{ComponentChange, DesiredState, Report, Step};

use super::{Engine, EngineError, Result, assignment, step_err, summary};
use crate::registry::{ComponentRecord, ContainerRecord, RegistryError, ServiceRecord};
use crate::runtime::{ContainerInfo, labels};

/// A component found running for adoption, with its container.
type Found<'a> = (&'a ResolvedComponent, ContainerInfo);

impl Engine {
    /// Takes containers that run but are not in the registry (started by hand, or by
    /// an older agent) into the registry, as the service `def` describes. Each
    /// component's container is found by its conventional name; each route's host port
    /// is read from the container's `$PORT`/`$PORT_<NAME>` variable and leased as is.
    /// The containers are not touched.
    pub fn adopt(&self, def: &ValidatedDefinition, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "adopt",
            &def.name,
            || self.adopt_locked(def),
            summary,
        )
    }

    fn adopt_locked(&self, def: &ServiceDefinition) -> Result<Report> {
        let name = def.name.as_str();
        let fail = |e: crate::Error| step_err("adopt", name, Step::Adopt)(e);
        if self
            .registry
            .service(name)
            .map_err(|e| fail(e.into()))?
            .is_some()
        {
            return Err(EngineError::Conflict(format!(
                "service {name} is already in the registry; deploy it instead of adopting"
            )));
        }
        let resolved = def.resolve(&self.config.conventions);
        let mut requests = Vec::new();
        let mut found: Vec<Found<'_>> = Vec::new();
        for c in &resolved.components {
            let info = self
                .runtime
                .inspect(&c.container_name)
                .map_err(|e| fail(e.into()))?
                .ok_or_else(|| EngineError::NothingToAdopt {
                    container: c.container_name.clone(),
                    component: c.name.clone(),
                })?;
            requests.extend(ports_in(name, c, &info)?);
            found.push((c, info));
        }
        let leases = self.ports.adopt(&requests).map_err(|e| fail(e.into()))?;
        if let Err(e) = self.record_adopted(def, &found) {
            let _ = self
                .ports
                .release(&leases.iter().map(|l| l.port).collect::<Vec<_>>());
            return Err(fail(e.into()));
        }
        Ok(self.adopted_report(name, &found, &leases))
    }

    /// In one transaction: the service `def` describes, with the containers found.
    fn record_adopted(
        &self,
        def: &ServiceDefinition,
        found: &[Found<'_>],
    ) -> Result<(), RegistryError> {
        let now = SystemTime::now();
        let desired = if def.active {
            DesiredState::Running
        } else {
            DesiredState::Stopped
        };
        let components = found
            .iter()
            .map(|(c, info)| ComponentRecord {
                name: c.name.clone(),
                container_name: c.container_name.clone(),
                image: info.image.clone(),
                version: c.version.clone(),
                desired,
                // Adopted containers were not created from our spec: only a
                // redeploy makes them comparable.
                spec_hash: info.label(labels::SPEC_HASH).unwrap_or_default().to_owned(),
                flapping_since: None,
            })
            .collect();
        let record = ServiceRecord {
            definition: def.clone(),
            active: def.active,
            components,
            deployed_at: now,
            updated_at: now,
        };
        self.registry.transaction(|tx| {
            tx.put_service(&record)?;
            for (c, info) in found {
                tx.put_container(&ContainerRecord {
                    name: c.container_name.clone(),
                    service: def.name.clone(),
                    component: c.name.clone(),
                    container_id: info.id.clone(),
                    image: info.image.clone(),
                    created_at: now,
                })?;
            }
            Ok(())
        })
    }

    fn adopted_report(&self, service: &str, found: &[Found<'_>], leases: &[PortLease]) -> Report {
        let mut report = Report::new(service, &self.config.node);
        report.created = true;
        for (c, _) in found {
            report.push(&c.container_name, ComponentChange::Adopted);
        }
        report.ports = leases.iter().map(assignment).collect();
        report
    }

    /// Recreates the containers of every service in the registry that Podman no longer
    /// has (after its state was lost), on the same ports, and starts those that should
    /// run. Existing containers, and flapping components, are left alone. One report
    /// per service touched.
    pub fn recover(&self, actor: &str) -> Result<Vec<Report>, crate::Error> {
        let mut reports = Vec::new();
        for rec in self.registry.services()? {
            let service = rec.name().to_owned();
            let report = self.recorded(
                actor,
                "recover",
                &service,
                || self.recover_one(&rec),
                summary,
            )?;
            if !report.components.is_empty() {
                reports.push(report);
            }
        }
        Ok(reports)
    }

    fn recover_one(&self, rec: &ServiceRecord) -> Result<Report> {
        let service = rec.name();
        let fail = |e: crate::Error| step_err("recover", service, Step::Containers)(e);
        let resolved = rec.definition.resolve(&self.config.conventions);
        self.prepare_host(&resolved).map_err(fail)?;
        let mut report = self.empty_report(service);
        for (c, spec) in self.recorded_specs(rec).map_err(fail)? {
            let Some(record) = rec.components.iter().find(|r| r.name == c.name) else {
                continue;
            };
            // A flapping component was taken down on purpose.
            if record.flapping_since.is_some()
                || self
                    .runtime
                    .inspect(&spec.name)
                    .map_err(|e| fail(e.into()))?
                    .is_some()
            {
                continue;
            }
            self.recreate(service, &c.name, &spec).map_err(fail)?;
            if rec.active && record.desired == DesiredState::Running {
                self.runtime.start(&spec.name).map_err(|e| fail(e.into()))?;
            }
            report.push(&spec.name, ComponentChange::Created);
        }
        Ok(report)
    }
}

/// The lease of every route of `c`, at the host port its running container's
/// `$PORT` variables name.
fn ports_in(
    service: &str,
    c: &ResolvedComponent,
    info: &ContainerInfo,
) -> Result<Vec<(LeaseRequest, u16)>> {
    c.leased_routes()
        .map(|r| {
            let port = r
                .port_env
                .iter()
                .find_map(|v| info.env_var(v))
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(|| {
                    EngineError::Conflict(format!(
                        "container {} has no {} variable with its host port; redeploy the service instead",
                        c.container_name,
                        r.port_env.join(" or ")
                    ))
                })?;
            let request = LeaseRequest {
                service: service.to_owned(),
                component: c.name.clone(),
                route: r.name.clone(),
                preferred: Some(port),
            };
            Ok((request, port))
        })
        .collect()
}
