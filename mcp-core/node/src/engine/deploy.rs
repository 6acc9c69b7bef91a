//! A deploy, step by step ([`Step`]): validate → image → ports → certs →
//! containers (and health) → routes → dns → retire → record → finish. Each step
//! is one function of [`DeployPlan`]; each change it makes is journaled before the
//! next one, and a step that fails undoes everything done before it (newest
//! first), so a failed first deploy leaves nothing behind and a failed redeploy
//! leaves the previous version serving.

use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

use mcp_model::ports::PortLease;
use mcp_model::spec::{
    HostPolicy, Problem, ResolvedService, ServiceDefinition, SpecError, ValidatedDefinition,
};
use mcp_model::text::escaped;
use mcp_model::view::{DnsRecord, NodeRole, Report, Step};

use super::containers::{NEXT_SUFFIX, PARKED_SUFFIX};
use super::journal::Journal;
use super::preview::lease_requests;
use super::revisions::Release;
use super::undo::Undo;
use super::{Engine, EngineError, Result, assignment, naming, routing, step_err};
use crate::certs::Ensured;
use crate::proxy::ProxyRoute;
use crate::registry::{
    ComponentRecord, ContainerRecord, NewRevision, RegistryError, ServiceRecord,
};

mod containers;

/// A component being replaced without downtime: the new container runs beside the
/// old one until the routes point at it.
struct Switch {
    /// The container name (the old container's, the new one's after the switch).
    name: String,
    /// The new container's name until then.
    next: String,
}

impl Engine {
    /// Deploys (or redeploys) `def` on this node.
    ///
    /// Components whose container specification and image are unchanged keep running
    /// untouched; changed ones are replaced; components dropped from the definition
    /// are removed. Every route keeps the host port it had. On failure everything is
    /// undone and the error names the step.
    pub fn deploy(&self, def: &ValidatedDefinition, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "deploy",
            &def.name,
            || self.deploy_locked(def, &Release::deploy(actor)),
            |(_, event)| event.clone(),
        )
        .map(|(report, _)| report)
    }

    /// The deploy under the service's lock: its report (with the revision it
    /// recorded), and its event's detail. A deploy that fails after it began
    /// changing things is recorded as a failed revision.
    pub(super) fn deploy_locked(
        &self,
        def: &ServiceDefinition,
        release: &Release,
    ) -> Result<(Report, Option<String>)> {
        let mut resolved = def.resolve(&self.config.conventions);
        let tags = release.pin(&mut resolved);
        let previous = self.validate_deploy(def, &resolved)?;
        self.ensure_images(&resolved)?;
        let images = self.revision_images(&resolved, &tags);
        let journal = self.journal(&def.name, "deploy").map_err(step_err(
            "deploy",
            &def.name,
            Step::Validate,
        ))?;
        let revision = release.revision(def, &resolved, images);
        let mut plan = DeployPlan::new(self, def, resolved, previous, journal, revision.clone());
        match plan.run() {
            Ok(()) => Ok(plan.finish()),
            Err(e) => {
                self.undo_all(plan.undo);
                self.record_failed(revision, &e);
                Err(e)
            }
        }
    }

    /// `Ok` when `def` names this node; a definition for another node, or
    /// naming none (not placed), is refused.
    pub(super) fn check_node(&self, def: &ServiceDefinition) -> Result<()> {
        match def.node.as_deref() {
            Some(n) if n == self.config.node => Ok(()),
            Some(n) => Err(EngineError::WrongNode {
                service: def.name.clone(),
                wanted: n.to_owned(),
                this: self.config.node.clone(),
            }),
            None => Err(EngineError::NotPlaced {
                service: def.name.clone(),
            }),
        }
    }

    /// Step validate (the definition's own rules hold: it is a
    /// [`ValidatedDefinition`]): this node, this node's role, the host policy,
    /// and no container name or hostname another service holds. Nothing is
    /// touched yet. The service's record as it
    /// is, if deployed.
    pub(super) fn validate_deploy(
        &self,
        def: &ServiceDefinition,
        resolved: &ResolvedService,
    ) -> Result<Option<ServiceRecord>> {
        let fail = step_err("deploy", &def.name, Step::Validate);
        self.check_node(def)?;
        if self.config.role == NodeRole::Edge {
            let node = self.config.node.clone();
            return Err(fail(
                crate::runtime::RuntimeError::NoContainers { node }.into(),
            ));
        }
        let policy = self.host_policy();
        let problems = def.policy_problems(&self.config.conventions, &policy);
        if !problems.is_empty() {
            return Err(step_err("deploy", &def.name, Step::Validate)(
                SpecError::Invalid { problems }.into(),
            ));
        }
        self.check_mounts(resolved, &policy)?;
        let services = self
            .registry
            .services()
            .map_err(|e| step_err("deploy", &def.name, Step::Validate)(e.into()))?;
        for other in services.iter().filter(|s| s.name() != def.name) {
            let theirs = other.definition.resolve(&self.config.conventions);
            if let Some((field, name, their_field)) = resolved.clashes_with(&theirs).first() {
                return Err(step_err("deploy", &def.name, Step::Validate)(
                    EngineError::Conflict(format!(
                        "{} {} ({field}) is held by service {} ({their_field}): rename it in one of them",
                        name.what(),
                        mcp_model::text::quoted(name.as_str()),
                        other.name()
                    ))
                    .into(),
                ));
            }
        }
        Ok(services.into_iter().find(|s| s.name() == def.name))
    }

    /// Every host path `resolved` mounts that exists, with its symlinks resolved,
    /// is still one the policy allows: a link planted in a data directory cannot
    /// turn a mount of it into a mount of `/etc`.
    fn check_mounts(&self, resolved: &ResolvedService, policy: &HostPolicy) -> Result<()> {
        let real = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
        let mut allowed: Vec<std::path::PathBuf> = policy
            .section
            .allowed_mounts
            .iter()
            .map(|p| real(p))
            .collect();
        allowed.push(real(&policy.data_root.join(&resolved.name)));
        let mut problems = Vec::new();
        for (i, c) in resolved.components.iter().enumerate() {
            for v in &c.volumes {
                let host = std::path::Path::new(v.split(':').next().unwrap_or_default());
                let Ok(target) = std::fs::canonicalize(host) else {
                    continue;
                };
                if !allowed.iter().any(|a| target.starts_with(a)) {
                    problems.push(Problem::policy(
                        &format!("components[{i}].volumes"),
                        format!(
                            "volume {} resolves to {}, which [policy] allowed_mounts does not allow (a symlink on the way)",
                            escaped(v),
                            target.display()
                        ),
                    ));
                }
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(step_err("deploy", &resolved.name, Step::Validate)(
            SpecError::Invalid { problems }.into(),
        ))
    }

    /// Step image: every image of `resolved` present on the node.
    fn ensure_images(&self, resolved: &ResolvedService) -> Result<()> {
        let images: BTreeSet<&str> = resolved
            .components
            .iter()
            .map(|c| c.image.as_str())
            .collect();
        for image in images {
            self.ensure_image(image)
                .map_err(step_err("deploy", &resolved.name, Step::Image))?;
        }
        Ok(())
    }
}

/// One deploy in progress: what it was asked, what it has done so far, and the
/// journal that undoes it.
struct DeployPlan<'e> {
    engine: &'e Engine,
    def: &'e ServiceDefinition,
    resolved: ResolvedService,
    previous: Option<ServiceRecord>,
    undo: Journal,
    /// Every route's lease (a replaced-beside component's are its new ones).
    leases: Vec<PortLease>,
    certs: Vec<Ensured>,
    report: Report,
    components: Vec<ComponentRecord>,
    containers: Vec<ContainerRecord>,
    /// Old containers to remove once the deploy is recorded.
    parked: Vec<String>,
    switches: Vec<Switch>,
    routes: Vec<ProxyRoute>,
    names: Vec<DnsRecord>,
    /// The revision to record if the deploy changes the service.
    revision: NewRevision,
}

impl<'e> DeployPlan<'e> {
    fn new(
        engine: &'e Engine,
        def: &'e ServiceDefinition,
        resolved: ResolvedService,
        previous: Option<ServiceRecord>,
        undo: Journal,
        revision: NewRevision,
    ) -> Self {
        let mut report = Report::new(&def.name, &engine.config.node);
        report.created = previous.is_none();
        DeployPlan {
            engine,
            def,
            resolved,
            previous,
            undo,
            leases: Vec::new(),
            certs: Vec::new(),
            report,
            components: Vec::new(),
            containers: Vec::new(),
            parked: Vec::new(),
            switches: Vec::new(),
            routes: Vec::new(),
            names: Vec::new(),
            revision,
        }
    }

    /// Maps an error to a failure of `step` of this deploy.
    fn fail(&self, step: Step) -> impl FnOnce(crate::Error) -> EngineError {
        step_err("deploy", &self.def.name, step)
    }

    /// Every step after validate and image, in order.
    fn run(&mut self) -> Result<()> {
        self.ports()?;
        self.certs()?;
        if !self.def.active {
            // An inactive service loses its routes and names before its
            // containers stop.
            self.routes()?;
            self.dns()?;
        }
        self.containers()?;
        if self.def.active {
            self.routes()?;
            self.dns()?;
        }
        self.retire()?;
        self.record()
    }

    /// Step ports: a lease for every route, all or nothing; a route keeps the port
    /// it had.
    fn ports(&mut self) -> Result<()> {
        let e = self.engine;
        let name = self.def.name.as_str();
        let before: BTreeSet<u16> = e
            .registry
            .read(|t| t.service_leases(name))
            .map_err(|err| self.fail(Step::Ports)(err.into()))?
            .iter()
            .map(|l| l.port)
            .collect();
        // Legacy `ports` first: their host ports are fixed, the routes' are not.
        let (legacy, requests) = lease_requests(&self.resolved);
        let mut leases = e
            .ports
            .adopt(&legacy)
            .map_err(|err| self.fail(Step::Ports)(err.into()))?;
        let routes = e.ports.lease(&requests);
        let routes = match routes {
            Ok(r) => r,
            Err(err) => {
                let fresh: Vec<u16> = leases
                    .iter()
                    .map(|l| l.port)
                    .filter(|p| !before.contains(p))
                    .collect();
                let _ = e.ports.release(&fresh);
                return Err(self.fail(Step::Ports)(err.into()));
            }
        };
        leases.extend(routes);
        self.leases = leases;
        let fresh = self
            .leases
            .iter()
            .map(|l| l.port)
            .filter(|p| !before.contains(p));
        self.undo.push(Undo::ReleasePorts(fresh.collect()));
        self.report.ports = self.leases.iter().map(assignment).collect();
        if !self.leases.is_empty() {
            self.report.warnings.extend(e.skipped_steps());
        }
        Ok(())
    }

    /// Step certs: a fresh certificate for every l7 hostname, before any route
    /// points at one.
    fn certs(&mut self) -> Result<()> {
        self.certs = self
            .engine
            .ensure_certs(&self.resolved, &mut self.undo)
            .map_err(self.fail(Step::Certs))?;
        Ok(())
    }

    /// Step routes: the proxy holds exactly the routes of the service (none when
    /// it is inactive), pointing at containers that run.
    fn routes(&mut self) -> Result<()> {
        let e = self.engine;
        self.routes = if self.def.active {
            e.desired_routes(&self.resolved, &self.leases)
        } else {
            Vec::new()
        };
        e.apply_routes(&self.def.name, &self.routes, &mut self.undo)
            .map_err(self.fail(Step::Routes))
    }

    /// Step dns: the records of every hostname in the node's zone (none when
    /// inactive), after the routes are there.
    fn dns(&mut self) -> Result<()> {
        let e = self.engine;
        self.names = if self.def.active {
            e.desired_records(&self.resolved)
        } else {
            Vec::new()
        };
        e.apply_dns(&self.def.name, &self.names, &mut self.undo)
            .map_err(self.fail(Step::Dns))
    }

    /// The replaced components' old containers stop only now, behind the
    /// switched routes: SIGTERM and the stop grace let them drain; then the new
    /// container takes the name.
    fn retire(&mut self) -> Result<()> {
        let e = self.engine;
        for sw in std::mem::take(&mut self.switches) {
            let parked = format!("{}{PARKED_SUFFIX}", sw.name);
            let step = (|| {
                e.runtime.stop(&sw.name, e.config.stop_grace)?;
                e.runtime.remove(&parked)?;
                e.runtime.rename(&sw.name, &parked)?;
                self.undo.push(Undo::Restore {
                    name: sw.name.clone(),
                    parked: parked.clone(),
                    was_running: true,
                });
                e.runtime.rename(&sw.next, &sw.name)
            })();
            step.map_err(|err| self.fail(Step::Containers)(err.into()))?;
            self.parked.push(parked);
        }
        self.report.ports = self.leases.iter().map(assignment).collect();
        Ok(())
    }

    /// Step record: one registry transaction: the service, its components,
    /// containers, leases (replacements' ports move to their components, routes
    /// that went release theirs), routes, certificates and DNS records; the
    /// journal entry closes in it.
    fn record(&mut self) -> Result<()> {
        let e = self.engine;
        let name = self.def.name.as_str();
        let now = SystemTime::now();
        let record = ServiceRecord {
            definition: self.def.clone(),
            active: self.def.active,
            components: std::mem::take(&mut self.components),
            deployed_at: now,
            updated_at: now,
        };
        let kept: BTreeSet<u16> = self.leases.iter().map(|l| l.port).collect();
        let stale_certs = e
            .stale_certs(name, &self.certs)
            .map_err(self.fail(Step::Record))?;
        let changed = self.changed();
        let keep = e.config.revisions_keep;
        let revision = e
            .registry
            .transaction(|tx| {
                tx.put_service(&record)?;
                settle_leases(tx, name, &kept)?;
                for c in &self.containers {
                    tx.put_container(c)?;
                }
                if let Some(p) = e.proxy() {
                    routing::record_proxy(
                        tx,
                        name,
                        &self.routes,
                        Some(&self.certs),
                        p.issuer.name(),
                    )?;
                }
                if e.dns().is_some() {
                    naming::record_dns(tx, name, &self.names)?;
                }
                let revision = changed
                    .then(|| tx.add_revision(&self.revision, true, keep))
                    .transpose()?;
                self.undo.commit_in(tx)?;
                Ok::<_, RegistryError>(revision)
            })
            .map_err(|err| self.fail(Step::Record)(err.into()))?;
        self.report.revision = revision;
        self.report.warnings.extend(e.remove_certs(&stale_certs));
        Ok(())
    }

    /// Whether the deploy changed the service: a container changed, or the
    /// definition did.
    fn changed(&self) -> bool {
        let same_definition = self
            .previous
            .as_ref()
            .is_some_and(|p| p.definition == *self.def);
        self.report.changed() || !same_definition
    }

    /// Step finish (cannot fail the deploy any more): parked containers and
    /// those of dropped components are removed, the allocator reloaded. The
    /// report, and the event's detail: each container's change, a replaced one
    /// with the versions it went from and to (`api: replaced v1.2.0 → v1.3.0`);
    /// none when the deploy changed nothing (the same definition, every
    /// container left as it was), which is no event.
    fn finish(mut self) -> (Report, Option<String>) {
        let e = self.engine;
        for old in &self.parked {
            if let Err(err) = e.runtime.remove(old) {
                self.report
                    .warnings
                    .push(format!("cannot remove old container {old}: {err}"));
            }
        }
        if let Err(err) = e.ports.resync() {
            self.report
                .warnings
                .push(format!("cannot reload port leases: {err}"));
        }
        let before: HashMap<&str, &str> = self
            .previous
            .iter()
            .flat_map(|r| &r.components)
            .map(|c| (c.container_name.as_str(), c.version.as_str()))
            .collect();
        let after: HashMap<&str, &str> = self
            .resolved
            .components
            .iter()
            .map(|c| (c.container_name.as_str(), c.version.as_str()))
            .collect();
        let event = self
            .changed()
            .then(|| super::revisions::versioned_summary(&self.report, &before, &after));
        (self.report, event)
    }
}

/// In `tx`: `service` keeps exactly the leases of `kept`, and the replacements'
/// ports (leased under `<component>-mcp-next`) now belong to their components.
fn settle_leases(
    tx: &crate::registry::Tx<'_>,
    service: &str,
    kept: &BTreeSet<u16>,
) -> Result<(), RegistryError> {
    for l in tx.service_leases(service)? {
        if !kept.contains(&l.port) {
            tx.release_port(l.port)?;
        }
    }
    for l in tx.service_leases(service)? {
        if let Some(component) = l.component.strip_suffix(NEXT_SUFFIX) {
            tx.release_port(l.port)?;
            tx.insert_lease(&PortLease {
                component: component.to_owned(),
                ..l
            })?;
        }
    }
    Ok(())
}
