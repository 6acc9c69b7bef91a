//! The lifecycle engine: deploy, stop, start, restart, undeploy, adopt and recover a
//! service on this node, keeping the registry, the port leases and the containers in
//! step.
//!
//! A deploy is one ordered plan ([`Step`]): validate → image → ports → certs →
//! containers → routes → dns → record. Each step that changes something registers how to
//! undo it; when a later step fails, the undos run newest first, so a failed deploy
//! leaves no container, lease, certificate, route or registry row behind, and a
//! failed *re*deploy leaves the previous containers, certificates and routes as they
//! were. Stop and undeploy withdraw the routes and DNS records before the
//! containers stop. Steps of
//! an integration that is not configured are skipped, and the report says so.
//!
//! One operation at a time per service (a per-service lock); different services
//! proceed in parallel.

mod data;
mod dns;
mod edge;
mod files;
mod health;
mod journal;
mod node;
mod proxy;
mod repair;
mod snapshots;
mod status;
mod sync;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mcp_model::ErrorKind;
use mcp_model::ports::{LeaseRequest, PortLease, PortProbe, PortRange};
use mcp_model::spec::{
    Conventions, ResolvedComponent, ResolvedService, ServiceDefinition, SpecError,
};
use mcp_model::view::{ComponentChange, DesiredState, NodeRole, PortAssignment, Report, Step};

pub use dns::{DNS_NOT_CONFIGURED, DnsIntegration};
pub use edge::under_domain;
pub use journal::Interrupted;
use journal::Journal;
pub use proxy::{PROXY_NOT_CONFIGURED, ProxyIntegration, Renewal, proxy_route, route_record};

use crate::ports::PortAllocator;
use crate::registry::{
    ComponentRecord, ContainerRecord, NewEvent, Registry, RegistryError, ServiceRecord,
};
use crate::runtime::{ContainerInfo, ContainerRuntime, ContainerSpec, RuntimeError, labels};

/// How the engine runs on this node.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This node's name: definitions for other nodes are refused.
    pub node: String,
    /// Value of the `mcp.instance` label on this agent's containers (usually the node
    /// name). The engine only ever sees and touches containers with its own instance.
    pub instance: String,
    /// Conventions applied to definitions.
    pub conventions: Conventions,
    /// Address container ports are published on (127.0.0.1, or the node's address).
    pub publish_address: IpAddr,
    /// How long a container gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// Host port range for routes.
    pub port_range: PortRange,
    /// Extra labels put on every container.
    pub extra_labels: BTreeMap<String, String>,
    /// How images are checked and pulled.
    pub registry: mcp_platform::images::RegistrySettings,
    /// The proxy and its certificates; `None` skips those steps.
    pub proxy: Option<ProxyIntegration>,
    /// DNS registration; `None` skips that step.
    pub dns: Option<DnsIntegration>,
    /// Where snapshots of services' data go, and how many are kept.
    pub snapshots: crate::snapshot::SnapshotStore,
    /// What this node does: an edge node runs no containers, only edge routes.
    pub role: NodeRole,
    /// Edge nodes: the domains public hostnames must fall under.
    pub allowed_domains: Vec<String>,
}

impl EngineConfig {
    /// The defaults for node `node`: platform conventions, ports published on
    /// 127.0.0.1, a 10 s stop grace, the 10000–60000 range.
    pub fn for_node(node: &str) -> Self {
        EngineConfig {
            node: node.to_owned(),
            instance: node.to_owned(),
            conventions: Conventions::default(),
            publish_address: IpAddr::from([127, 0, 0, 1]),
            stop_grace: Duration::from_secs(10),
            port_range: PortRange::default(),
            extra_labels: BTreeMap::new(),
            registry: mcp_platform::images::RegistrySettings::default(),
            proxy: None,
            dns: None,
            snapshots: crate::snapshot::SnapshotStore {
                node: node.to_owned(),
                dir: "/srv/mcp/snapshots".into(),
                retain: 7,
            },
            role: NodeRole::Compute,
            allowed_domains: Vec::new(),
        }
    }
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A step failed; everything done before it was undone.
    #[error("{operation} {service}: step {}: {source}", step.as_str())]
    Step {
        /// The operation (`deploy`, `stop`, …).
        operation: &'static str,
        /// The service.
        service: String,
        /// The step that failed.
        step: Step,
        /// Why.
        #[source]
        source: Box<crate::Error>,
    },
    /// The definition is for another node.
    #[error("service {service} is for node {wanted}, but this is node {this}")]
    WrongNode {
        /// The service.
        service: String,
        /// The node the definition names.
        wanted: String,
        /// This node.
        this: String,
    },
    /// The service is not deployed here.
    #[error("service {0} is not deployed on this node")]
    NotDeployed(String),
    /// No container runs under the name a component to adopt should have.
    #[error("no such container to adopt (expected {container} for component {component})")]
    NothingToAdopt {
        /// The conventional container name.
        container: String,
        /// The component.
        component: String,
    },
    /// The operation conflicts with the service's state.
    #[error("{0}")]
    Conflict(String),
    /// A new container did not pass its health check; the previous version serves.
    #[error("{0}")]
    Unhealthy(String),
    /// The feature is not available yet, or not configured here.
    #[error("{0}")]
    Unsupported(String),
    /// The request does not fit this node's role (an edge route asked of a
    /// compute node).
    #[error("{0}")]
    WrongRole(String),
    /// An edge route this node must not serve (a hostname outside the allowed
    /// domains, a backend outside the zone).
    #[error("{0}")]
    EdgeRefused(String),
}

impl EngineError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Step { source, .. } => source.kind(),
            EngineError::WrongNode { .. } => ErrorKind::InvalidInput,
            EngineError::NotDeployed(_) | EngineError::NothingToAdopt { .. } => ErrorKind::NotFound,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::Unhealthy(_) => ErrorKind::FailedPrecondition,
            EngineError::Unsupported(_) => ErrorKind::NotConfigured,
            EngineError::WrongRole(_) => ErrorKind::FailedPrecondition,
            EngineError::EdgeRefused(_) => ErrorKind::InvalidInput,
        }
    }

    /// The failed step, for [`EngineError::Step`].
    pub fn step(&self) -> Option<Step> {
        match self {
            EngineError::Step { step, .. } => Some(*step),
            _ => None,
        }
    }
}

type Result<T, E = EngineError> = std::result::Result<T, E>;

/// How long the runtime's word on a container serves status reads. Every change the
/// engine makes clears it, and each monitor tick refreshes it; a change made behind
/// MCP's back (a `podman kill` by hand) shows within this long.
pub const STATUS_CACHE_TTL: Duration = Duration::from_secs(2);

/// The lifecycle engine of one node.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    registry: Arc<Registry>,
    runtime: Arc<dyn ContainerRuntime>,
    ports: PortAllocator,
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Images and networks already confirmed present: checked once, not per deploy.
    known: Mutex<Known>,
    /// The runtime's last word on each container, for status reads.
    observed: Arc<Mutex<ObservedCache>>,
    /// The runtime's description, once known.
    runtime_description: std::sync::OnceLock<String>,
}

/// Per container: the runtime's last answer and when; and which refreshes run.
#[derive(Debug, Default)]
struct ObservedCache {
    entries: HashMap<String, (Option<ContainerInfo>, Instant)>,
    refreshing: HashSet<String>,
    /// Bumped by every engine change; a refresh that began before one is dropped.
    generation: u64,
}

#[derive(Debug, Default)]
struct Known {
    images: HashSet<String>,
    networks: HashSet<String>,
}

/// Undo actions collected while a plan runs, kept in the registry's journal until
/// the operation commits.
#[derive(serde::Serialize, serde::Deserialize)]
enum Undo {
    ReleasePorts(Vec<u16>),
    RemoveContainer(String),
    /// Put the previous container back: rename it to its name, start it if it ran.
    Restore {
        name: String,
        parked: String,
        was_running: bool,
    },
    /// Put a proxy route (back) in the proxy.
    AddRoute(crate::proxy::ProxyRoute),
    /// Remove the proxy route of `(listener, hostname)`.
    RemoveRoute((String, String)),
    /// Put certificate files back as they were (remove them when there were none).
    RestoreCert {
        paths: crate::certs::CertPaths,
        previous: Option<crate::certs::SavedFiles>,
    },
    /// Stop a container this operation started.
    StopContainer(String),
    /// Mark the service inactive again (a start that failed).
    Deactivate(String),
    /// Put DNS records (back) on the server.
    AddDns(Vec<crate::registry::DnsRecord>),
    /// Remove DNS records from the server.
    RemoveDns(Vec<crate::registry::DnsRecord>),
}

const PARKED_SUFFIX: &str = "-mcp-previous";
/// Suffix of a replacement container while it starts beside the one it replaces
/// (and of its port leases' component until the switch is recorded).
const NEXT_SUFFIX: &str = "-mcp-next";

/// A component being replaced without downtime: the new container runs beside the
/// old one until the routes point at it.
struct Switch {
    /// The container name (the old container's, the new one's after the switch).
    name: String,
    /// The new container's name until then.
    next: String,
}

fn step_err(
    operation: &'static str,
    service: &str,
    step: Step,
) -> impl FnOnce(crate::Error) -> EngineError {
    let service = service.to_owned();
    move |e| EngineError::Step {
        operation,
        service,
        step,
        source: Box::new(e),
    }
}

impl Engine {
    /// An engine over `registry` and `runtime`. Leases left by an interrupted deploy
    /// (for services the registry does not hold) are released, and operations an
    /// earlier agent left open in the journal are finished
    /// ([`Engine::finish_interrupted`]).
    pub fn new(
        config: EngineConfig,
        registry: Arc<Registry>,
        runtime: Arc<dyn ContainerRuntime>,
        probe: Box<dyn PortProbe>,
    ) -> Result<Self, crate::Error> {
        registry.transaction(|tx| {
            let services: BTreeSet<String> =
                tx.services()?.iter().map(|s| s.name().to_owned()).collect();
            for lease in tx.leases()? {
                if !services.contains(&lease.service) {
                    tx.release_port(lease.port)?;
                }
            }
            Ok::<_, RegistryError>(())
        })?;
        let ports = PortAllocator::new(registry.clone(), config.port_range, probe)?;
        let engine = Engine {
            config,
            registry,
            runtime,
            ports,
            locks: Mutex::new(HashMap::new()),
            known: Mutex::new(Known::default()),
            observed: Arc::new(Mutex::new(ObservedCache::default())),
            runtime_description: std::sync::OnceLock::new(),
        };
        match engine.finish_interrupted() {
            Ok(done) => {
                for d in done {
                    tracing::warn!(service = %d.service, operation = %d.operation, outcome = %d.outcome, "finished an operation an earlier agent left open");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot finish interrupted operations"),
        }
        Ok(engine)
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The port allocator.
    pub fn ports(&self) -> &PortAllocator {
        &self.ports
    }

    /// The runtime.
    pub fn runtime(&self) -> &Arc<dyn ContainerRuntime> {
        &self.runtime
    }

    fn lock(&self, service: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(service.to_owned()).or_default().clone()
    }

    fn event(
        &self,
        actor: &str,
        action: &str,
        service: &str,
        detail: String,
        error: Option<String>,
    ) {
        let e = NewEvent {
            actor: actor.to_owned(),
            action: action.to_owned(),
            service: Some(service.to_owned()),
            detail,
            error,
        };
        if let Err(err) = self.registry.append_event(&e) {
            tracing::warn!(%err, action, service, "cannot record event");
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The container `name` as the runtime last reported it. A container never seen
    /// is asked about at once; an answer older than [`STATUS_CACHE_TTL`] is returned
    /// while one background refresh asks again, so status reads never wait on the
    /// runtime twice for the same container.
    pub(crate) fn observed(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        {
            let mut cache = self.observed.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((info, at)) = cache.entries.get(name).cloned() {
                if at.elapsed() >= STATUS_CACHE_TTL && cache.refreshing.insert(name.to_owned()) {
                    let (runtime, shared, name) =
                        (self.runtime.clone(), self.observed.clone(), name.to_owned());
                    let generation = cache.generation;
                    std::thread::spawn(move || {
                        let fresh = runtime.inspect(&name);
                        let mut cache = shared.lock().unwrap_or_else(|p| p.into_inner());
                        cache.refreshing.remove(&name);
                        if let (Ok(info), true) = (fresh, cache.generation == generation) {
                            cache.entries.insert(name, (info, Instant::now()));
                        }
                    });
                }
                return Ok(info);
            }
        }
        let info = self.runtime.inspect(name)?;
        self.note_observed(name, info.as_ref());
        Ok(info)
    }

    /// Records what the runtime just reported.
    pub(crate) fn note_observed(&self, name: &str, info: Option<&ContainerInfo>) {
        self.observed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .insert(name.to_owned(), (info.cloned(), Instant::now()));
    }

    /// Forgets every cached observation (after the engine changed something).
    pub(crate) fn forget_observed(&self) {
        let mut cache = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        cache.entries.clear();
        cache.generation += 1;
    }

    /// Makes `image` present unless already confirmed: when it is not local, its
    /// registry is asked first (so a tag that does not exist fails with the
    /// reference, before anything is touched), then it is pulled.
    fn ensure_image(&self, image: &str) -> Result<(), crate::Error> {
        if self.known().images.contains(image) {
            return Ok(());
        }
        if !self.runtime.image_exists(image)? {
            if let Some(registry) = mcp_platform::images::ImageRef::parse(image)
                .ok()
                .and_then(|r| r.registry)
                && registry != "localhost"
            {
                let client = mcp_platform::images::ImageRegistry::new(self.config.registry.clone());
                let check = crate::bridge::block_on(client.exists(image)).map_err(|e| {
                    mcp_platform::images::ImageError::Unavailable {
                        registry: registry.clone(),
                        image: image.to_owned(),
                        message: e.to_string(),
                    }
                })??;
                if !check {
                    return Err(mcp_platform::images::ImageError::NotFound {
                        registry,
                        image: image.to_owned(),
                    }
                    .into());
                }
            }
            self.runtime.pull(image, &self.config.registry)?;
        }
        self.known().images.insert(image.to_owned());
        Ok(())
    }

    /// Creates a container, and starts it when `start`, in one runtime call. When the
    /// runtime says an image or network is missing (removed behind our back since we
    /// confirmed it), they are ensured again and the call retried once.
    fn create_container(&self, spec: &ContainerSpec, start: bool) -> Result<String, crate::Error> {
        let attempt = || {
            if start {
                self.runtime.run(spec)
            } else {
                self.runtime.create(spec)
            }
        };
        match attempt() {
            Err(e) if e.is_not_found() => {
                *self.known() = Known::default();
                self.runtime.remove(&spec.name)?;
                self.ensure_image(&spec.image)?;
                self.ensure_network(&spec.network)?;
                Ok(attempt()?)
            }
            // The name is taken by a container the registry does not know.
            Err(e) if e.kind() == ErrorKind::Conflict => match self.runtime.inspect(&spec.name)? {
                Some(stray) if stray.label(labels::INSTANCE) == Some(self.config.instance.as_str()) => {
                    // Ours, left by an interrupted operation: replace it.
                    self.runtime.remove(&spec.name)?;
                    Ok(attempt()?)
                }
                Some(_) => Err(EngineError::Conflict(format!(
                    "container name {} is taken by a container MCP does not manage; remove or rename it, or `mcp adopt` it",
                    spec.name
                ))
                .into()),
                None => Ok(attempt()?),
            },
            other => Ok(other?),
        }
    }

    fn ensure_network(&self, network: &str) -> Result<(), RuntimeError> {
        // Podman's built-in modes are not networks to create.
        let builtin = matches!(
            network,
            "host" | "none" | "bridge" | "private" | "slirp4netns" | "pasta"
        ) || network.contains(':');
        if builtin || self.known().networks.contains(network) {
            return Ok(());
        }
        self.runtime.ensure_network(network)?;
        self.known().networks.insert(network.to_owned());
        Ok(())
    }

    /// Runs `op` under the service's lock and records its outcome as an event.
    fn recorded<T>(
        &self,
        actor: &str,
        action: &'static str,
        service: &str,
        op: impl FnOnce() -> Result<T>,
        describe: impl FnOnce(&T) -> String,
    ) -> Result<T> {
        let lock = self.lock(service);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let out = op();
        self.forget_observed();
        match &out {
            Ok(v) => self.event(actor, action, service, describe(v), None),
            Err(e) => self.event(actor, action, service, String::new(), Some(e.to_string())),
        }
        out
    }

    // ---- specs -----------------------------------------------------------------------

    /// The container spec of component `c` given the service's leases.
    pub fn container_spec(
        &self,
        service: &ResolvedService,
        c: &ResolvedComponent,
        leases: &[PortLease],
    ) -> ContainerSpec {
        let port_of = |route: &Option<String>| {
            leases
                .iter()
                .find(|l| l.component == c.name && &l.route == route)
                .map(|l| l.port)
        };
        let mut env = c.env.clone();
        let mut publish = Vec::new();
        for r in &c.routes {
            if let Some(port) = port_of(&r.name) {
                env.extend(r.port_env.iter().map(|v| format!("{v}={port}")));
                publish.push(format!("{}:{port}:{port}", self.config.publish_address));
            }
        }
        publish.extend(c.ports.iter().cloned());
        let mut labels = self.config.extra_labels.clone();
        labels.insert(labels::MANAGED.into(), "true".into());
        labels.insert(labels::INSTANCE.into(), self.config.instance.clone());
        labels.insert(labels::SERVICE.into(), service.name.clone());
        labels.insert(labels::COMPONENT.into(), c.name.clone());
        labels.insert(labels::VERSION.into(), c.version.clone());
        ContainerSpec {
            name: c.container_name.clone(),
            image: c.image.clone(),
            user: c.user.clone(),
            network: c.network.clone(),
            restart: c.restart.clone(),
            volumes: c.volumes.clone(),
            env,
            publish,
            labels,
            cmd: c.cmd.clone(),
        }
    }

    /// Specs of every component of a recorded service, from its stored definition and
    /// leases.
    fn recorded_specs(
        &self,
        rec: &ServiceRecord,
    ) -> Result<Vec<(ResolvedComponent, ContainerSpec)>, crate::Error> {
        let resolved = rec.definition.resolve(&self.config.conventions);
        let leases = self.registry.read(|t| t.service_leases(rec.name()))?;
        Ok(resolved
            .components
            .iter()
            .map(|c| (c.clone(), self.container_spec(&resolved, c, &leases)))
            .collect())
    }

    fn prepare_host(&self, resolved: &ResolvedService) -> Result<(), crate::Error> {
        self.runtime.ensure_dir(&resolved.data_dir)?;
        let networks: BTreeSet<&str> = resolved
            .components
            .iter()
            .map(|c| c.network.as_str())
            .collect();
        for n in networks {
            self.ensure_network(n)?;
        }
        Ok(())
    }

    // ---- deploy ------------------------------------------------------------------------

    /// Deploys (or redeploys) `def` on this node.
    ///
    /// Components whose container specification and image are unchanged keep running
    /// untouched; changed ones are replaced; components dropped from the definition
    /// are removed. Every route keeps the host port it had. On failure everything is
    /// undone and the error names the step.
    pub fn deploy(&self, def: &ServiceDefinition, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "deploy",
            &def.name,
            || self.deploy_locked(def),
            summary,
        )
    }

    fn deploy_locked(&self, def: &ServiceDefinition) -> Result<Report> {
        let name = def.name.as_str();
        let fail = |step| step_err("deploy", name, step);

        // 1. validate
        let problems = def.validate();
        if !problems.is_empty() {
            return Err(fail(Step::Validate)(SpecError::Invalid { problems }.into()));
        }
        if def.node != self.config.node {
            return Err(EngineError::WrongNode {
                service: name.to_owned(),
                wanted: def.node.clone(),
                this: self.config.node.clone(),
            });
        }
        if self.config.role == NodeRole::Edge {
            return Err(fail(Step::Validate)(
                crate::runtime::RuntimeError::NoContainers {
                    node: self.config.node.clone(),
                }
                .into(),
            ));
        }
        let resolved = def.resolve(&self.config.conventions);
        let previous = self
            .registry
            .service(name)
            .map_err(|e| fail(Step::Validate)(e.into()))?;

        let started = Instant::now();
        // 2. image
        let images: BTreeSet<&str> = resolved
            .components
            .iter()
            .map(|c| c.image.as_str())
            .collect();
        for image in images {
            self.ensure_image(image).map_err(fail(Step::Image))?;
        }

        tracing::debug!(
            service = name,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "deploy: validated, image ready"
        );
        let mut undo = self.journal(name, "deploy").map_err(fail(Step::Validate))?;
        let result = self.deploy_changes(def, &resolved, previous.as_ref(), &mut undo);
        tracing::debug!(
            service = name,
            ms = started.elapsed().as_secs_f64() * 1e3,
            ok = result.is_ok(),
            "deploy: done"
        );
        match result {
            Ok(report) => Ok(report),
            Err(e) => {
                self.undo_all(undo);
                Err(e)
            }
        }
    }

    fn deploy_changes(
        &self,
        def: &ServiceDefinition,
        resolved: &ResolvedService,
        previous: Option<&ServiceRecord>,
        undo: &mut Journal,
    ) -> Result<Report> {
        let name = def.name.as_str();
        let fail = |step| step_err("deploy", name, step);
        let t = Instant::now();

        // 3. ports
        let before: BTreeSet<u16> = self
            .registry
            .read(|t| t.service_leases(name))
            .map_err(|e| fail(Step::Ports)(e.into()))?
            .iter()
            .map(|l| l.port)
            .collect();
        let requests: Vec<LeaseRequest> = resolved
            .components
            .iter()
            .flat_map(|c| {
                c.routes.iter().map(|r| LeaseRequest {
                    service: name.to_owned(),
                    component: c.name.clone(),
                    route: r.name.clone(),
                    preferred: None,
                })
            })
            .collect();
        let mut leases = self
            .ports
            .lease(&requests)
            .map_err(|e| fail(Step::Ports)(e.into()))?;
        undo.push(Undo::ReleasePorts(
            leases
                .iter()
                .map(|l| l.port)
                .filter(|p| !before.contains(p))
                .collect(),
        ));
        tracing::debug!(
            service = name,
            ms = t.elapsed().as_secs_f64() * 1e3,
            "deploy: ports"
        );
        let t = Instant::now();

        // 4. certs
        let certs = self
            .ensure_certs(resolved, undo)
            .map_err(fail(Step::Certs))?;

        // An inactive service loses its routes and names before its containers stop.
        if !def.active {
            self.apply_routes(name, &[], undo)
                .map_err(fail(Step::Routes))?;
            self.apply_dns(name, &[], undo).map_err(fail(Step::Dns))?;
        }

        // 5. containers
        self.prepare_host(resolved)
            .map_err(fail(Step::Containers))?;
        let mut report = Report::new(name, &self.config.node);
        report.created = previous.is_none();
        report.ports = leases.iter().map(assignment).collect();
        if !leases.is_empty() {
            report.warnings.extend(self.skipped_steps());
        }
        let mut records = Vec::new();
        let mut containers = Vec::new();
        let mut parked = Vec::new();
        let mut switches: Vec<Switch> = Vec::new();
        // With a proxy, routing waits for health, and a running component with
        // routes is replaced without downtime.
        let gate = self.proxy().is_some() && def.active;
        for c in &resolved.components {
            let mut spec = self.container_spec(resolved, c, &leases);
            let hash = spec.hash();
            // A container the registry never recorded is not asked about: a fresh
            // deploy costs one runtime call. A stray one holding the name is dealt
            // with when creating (see `create_container`).
            let recorded = previous
                .is_some_and(|p| p.components.iter().any(|pc| pc.container_name == spec.name));
            let existing = if recorded {
                self.runtime
                    .inspect(&spec.name)
                    .map_err(|e| fail(Step::Containers)(e.into()))?
            } else {
                None
            };
            let keep = existing
                .as_ref()
                .is_some_and(|info| info.spec_hash() == Some(hash) && info.image == spec.image);
            let (id, change) = match existing {
                Some(info)
                    if !keep
                        && gate
                        && !c.routes.is_empty()
                        && c.ports.is_empty()
                        && info.state == crate::runtime::ContainerState::Running =>
                {
                    let (id, next_spec) =
                        self.start_beside(name, resolved, c, &mut leases, undo)?;
                    switches.push(Switch {
                        name: spec.name.clone(),
                        next: format!("{}{NEXT_SUFFIX}", spec.name),
                    });
                    spec = next_spec;
                    (id, ComponentChange::Replaced)
                }
                Some(info) if keep => {
                    let running = info.state == crate::runtime::ContainerState::Running;
                    if def.active && !running {
                        self.runtime
                            .start(&spec.name)
                            .map_err(|e| fail(Step::Containers)(e.into()))?;
                        (info.id, ComponentChange::Started)
                    } else if !def.active && running {
                        self.runtime
                            .stop(&spec.name, self.config.stop_grace)
                            .map_err(|e| fail(Step::Containers)(e.into()))?;
                        (info.id, ComponentChange::Stopped)
                    } else {
                        (info.id, ComponentChange::Unchanged)
                    }
                }
                existing => {
                    let change = match &existing {
                        Some(info) => {
                            // Park the old container: stop it (it holds the ports) and
                            // move it aside, so a failure can put it back.
                            let was_running = info.state == crate::runtime::ContainerState::Running;
                            let parked_name = format!("{}{PARKED_SUFFIX}", spec.name);
                            self.runtime
                                .remove(&parked_name)
                                .map_err(|e| fail(Step::Containers)(e.into()))?;
                            if was_running {
                                self.runtime
                                    .stop(&spec.name, self.config.stop_grace)
                                    .map_err(|e| fail(Step::Containers)(e.into()))?;
                            }
                            self.runtime
                                .rename(&spec.name, &parked_name)
                                .map_err(|e| fail(Step::Containers)(e.into()))?;
                            undo.push(Undo::Restore {
                                name: spec.name.clone(),
                                parked: parked_name.clone(),
                                was_running,
                            });
                            parked.push(parked_name);
                            ComponentChange::Replaced
                        }
                        None => ComponentChange::Created,
                    };
                    let id = match self.create_container(&spec, def.active) {
                        Ok(id) => id,
                        // The name belongs to a container we must not touch.
                        Err(e @ crate::Error::Engine(EngineError::Conflict(_))) => {
                            return Err(fail(Step::Containers)(e));
                        }
                        Err(e) => {
                            // A failed start leaves our created container behind.
                            undo.push(Undo::RemoveContainer(spec.name.clone()));
                            return Err(fail(Step::Containers)(e));
                        }
                    };
                    undo.push(Undo::RemoveContainer(spec.name.clone()));
                    if gate {
                        self.check_health(name, c, &spec.name, &leases)?;
                    }
                    (id, change)
                }
            };
            let hash = spec.hash();
            report.push(&spec.name.clone(), change);
            containers.push(ContainerRecord {
                name: spec.name.clone(),
                service: name.to_owned(),
                component: c.name.clone(),
                container_id: id,
                image: spec.image.clone(),
                created_at: SystemTime::now(),
            });
            records.push(ComponentRecord {
                name: c.name.clone(),
                container_name: spec.name.clone(),
                image: c.image.clone(),
                version: c.version.clone(),
                desired: if def.active {
                    DesiredState::Running
                } else {
                    DesiredState::Stopped
                },
                spec_hash: hash.to_string(),
                flapping_since: None,
            });
        }

        // Containers of components no longer in the definition go after the commit.
        let dropped: Vec<String> = previous
            .map(|p| {
                p.components
                    .iter()
                    .filter(|old| {
                        !records
                            .iter()
                            .any(|n| n.container_name == old.container_name)
                    })
                    .map(|old| old.container_name.clone())
                    .collect()
            })
            .unwrap_or_default();

        tracing::debug!(
            service = name,
            ms = t.elapsed().as_secs_f64() * 1e3,
            "deploy: containers"
        );
        let t = Instant::now();

        // 6. routes, once the containers run.
        let routes = if def.active {
            self.desired_routes(resolved, &leases)
        } else {
            Vec::new()
        };
        if def.active {
            self.apply_routes(name, &routes, undo)
                .map_err(fail(Step::Routes))?;
        }

        // 7. dns, once the routes are there.
        let names = if def.active {
            self.desired_records(resolved)
        } else {
            Vec::new()
        };
        if def.active {
            self.apply_dns(name, &names, undo)
                .map_err(fail(Step::Dns))?;
        }

        // The replaced components' old containers stop only now, behind the
        // switched routes: SIGTERM and the stop grace let them drain.
        for sw in &switches {
            self.retire(sw, undo).map_err(fail(Step::Containers))?;
            parked.push(format!("{}{PARKED_SUFFIX}", sw.name));
        }
        report.ports = leases.iter().map(assignment).collect();

        // 8. record
        let stale_certs = self.stale_certs(name, &certs).map_err(fail(Step::Record))?;
        let now = SystemTime::now();
        let kept: BTreeSet<u16> = leases.iter().map(|l| l.port).collect();
        let record = ServiceRecord {
            definition: def.clone(),
            active: def.active,
            components: records,
            deployed_at: now,
            updated_at: now,
        };
        self.registry
            .transaction(|tx| {
                tx.put_service(&record)?;
                for l in tx.service_leases(name)? {
                    if !kept.contains(&l.port) {
                        tx.release_port(l.port)?;
                    }
                }
                // The replacements' ports now belong to their components.
                for l in tx.service_leases(name)? {
                    if let Some(component) = l.component.strip_suffix(NEXT_SUFFIX) {
                        tx.release_port(l.port)?;
                        tx.insert_lease(&PortLease {
                            component: component.to_owned(),
                            ..l
                        })?;
                    }
                }
                for c in &containers {
                    tx.put_container(c)?;
                }
                if let Some(p) = self.proxy() {
                    proxy::record_proxy(tx, name, &routes, Some(&certs), p.issuer.name())?;
                }
                if self.dns().is_some() {
                    dns::record_dns(tx, name, &names)?;
                }
                undo.commit_in(tx)?;
                Ok::<_, RegistryError>(())
            })
            .map_err(|e| fail(Step::Record)(e.into()))?;
        tracing::debug!(
            service = name,
            ms = t.elapsed().as_secs_f64() * 1e3,
            "deploy: recorded"
        );

        // 9. finish: nothing below can fail the deploy any more.
        report.warnings.extend(self.remove_certs(&stale_certs));
        for old in parked.iter().chain(&dropped) {
            if let Err(e) = self.runtime.remove(old) {
                report
                    .warnings
                    .push(format!("cannot remove old container {old}: {e}"));
            }
        }
        for old in &dropped {
            report.push(&old.clone(), ComponentChange::Removed);
        }
        if let Err(e) = self.ports.resync() {
            report
                .warnings
                .push(format!("cannot reload port leases: {e}"));
        }
        Ok(report)
    }

    /// Starts the replacement of component `c` beside its running container: fresh
    /// ports (leased under `<component>-mcp-next` until the switch is recorded), the
    /// new container as `<name>-mcp-next`, and its health checks. `leases` then holds
    /// the new ports for `c`. Returns the new container's id and its spec under the
    /// final name.
    fn start_beside(
        &self,
        service: &str,
        resolved: &ResolvedService,
        c: &ResolvedComponent,
        leases: &mut Vec<PortLease>,
        undo: &mut Journal,
    ) -> Result<(String, ContainerSpec)> {
        let fail = |step| step_err("deploy", service, step);
        let temp = format!("{}{NEXT_SUFFIX}", c.name);
        let requests: Vec<LeaseRequest> = c
            .routes
            .iter()
            .map(|r| LeaseRequest {
                service: service.to_owned(),
                component: temp.clone(),
                route: r.name.clone(),
                preferred: None,
            })
            .collect();
        let next = self
            .ports
            .lease(&requests)
            .map_err(|e| fail(Step::Ports)(e.into()))?;
        undo.push(Undo::ReleasePorts(next.iter().map(|l| l.port).collect()));
        leases.retain(|l| l.component != c.name);
        leases.extend(next.into_iter().map(|l| PortLease {
            component: c.name.clone(),
            ..l
        }));
        let mut spec = self.container_spec(resolved, c, leases);
        let name = spec.name.clone();
        spec.name = format!("{name}{NEXT_SUFFIX}");
        // What an interrupted deploy may have left.
        self.runtime
            .remove(&spec.name)
            .map_err(|e| fail(Step::Containers)(e.into()))?;
        let id = match self.create_container(&spec, true) {
            Ok(id) => id,
            Err(e @ crate::Error::Engine(EngineError::Conflict(_))) => {
                return Err(fail(Step::Containers)(e));
            }
            Err(e) => {
                undo.push(Undo::RemoveContainer(spec.name.clone()));
                return Err(fail(Step::Containers)(e));
            }
        };
        undo.push(Undo::RemoveContainer(spec.name.clone()));
        self.check_health(service, c, &spec.name, leases)?;
        spec.name = name;
        Ok((id, spec))
    }

    /// Step health: every route of `c` answers on its port in `container`.
    fn check_health(
        &self,
        service: &str,
        c: &ResolvedComponent,
        container: &str,
        leases: &[PortLease],
    ) -> Result<()> {
        for r in &c.routes {
            let Some(lease) = leases
                .iter()
                .find(|l| l.component == c.name && l.route == r.name)
            else {
                continue;
            };
            self.wait_healthy(container, lease.port, &r.health)
                .map_err(|why| {
                    step_err("deploy", service, Step::Health)(EngineError::Unhealthy(why).into())
                })?;
        }
        Ok(())
    }

    /// Stops a replaced container (its routes already point at the new one), parks
    /// it, and gives the new one its name.
    fn retire(&self, sw: &Switch, undo: &mut Journal) -> Result<(), crate::Error> {
        let parked = format!("{}{PARKED_SUFFIX}", sw.name);
        self.runtime.stop(&sw.name, self.config.stop_grace)?;
        self.runtime.remove(&parked)?;
        self.runtime.rename(&sw.name, &parked)?;
        undo.push(Undo::Restore {
            name: sw.name.clone(),
            parked,
            was_running: true,
        });
        self.runtime.rename(&sw.next, &sw.name)?;
        Ok(())
    }

    fn rollback(&self, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            let result = match &u {
                Undo::ReleasePorts(ports) => self.ports.release(ports).map_err(|e| e.to_string()),
                Undo::RemoveContainer(name) => self
                    .runtime
                    .remove(name)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                Undo::Restore {
                    name,
                    parked,
                    was_running,
                } => self
                    .runtime
                    .remove(name)
                    .and_then(|_| self.runtime.rename(parked, name))
                    .and_then(|()| {
                        if *was_running {
                            self.runtime.start(name)
                        } else {
                            Ok(())
                        }
                    })
                    .map_err(|e| e.to_string()),
                Undo::StopContainer(name) => self
                    .runtime
                    .stop(name, self.config.stop_grace)
                    .map_err(|e| e.to_string()),
                Undo::Deactivate(service) => self
                    .registry
                    .transaction(|tx| {
                        tx.set_service_active(service, false, SystemTime::now())?;
                        for c in tx
                            .service(service)?
                            .map(|r| r.components)
                            .unwrap_or_default()
                        {
                            tx.set_component_state(service, &c.name, DesiredState::Stopped)?;
                        }
                        Ok::<_, RegistryError>(())
                    })
                    .map_err(|e| e.to_string()),
                Undo::AddRoute(_) | Undo::RemoveRoute(_) | Undo::RestoreCert { .. } => {
                    self.undo_proxy(&u)
                }
                Undo::AddDns(_) | Undo::RemoveDns(_) => self.undo_dns(&u),
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "rollback step failed");
            }
        }
    }

    // ---- stop, start, restart, undeploy ------------------------------------------------------

    pub(crate) fn deployed(&self, service: &str) -> Result<ServiceRecord> {
        self.registry
            .service(service)
            .map_err(|e| step_err("read", service, Step::Validate)(e.into()))?
            .ok_or_else(|| EngineError::NotDeployed(service.to_owned()))
    }

    /// Stops a service's containers and marks it inactive, so the monitor leaves it
    /// stopped. Stopping a stopped service succeeds.
    pub fn stop(&self, service: &str, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "stop",
            service,
            || {
                let rec = self.deployed(service)?;
                let fail = step_err("stop", service, Step::Stop);
                // Routes go first: no connection is sent to a stopping container.
                let mut undo =
                    self.journal(service, "stop")
                        .map_err(step_err("stop", service, Step::Stop))?;
                let withdrawn = match self.withdraw_routes(service) {
                    Ok(w) => w,
                    Err(e) => {
                        undo.close();
                        return Err(step_err("stop", service, Step::Routes)(e));
                    }
                };
                for r in withdrawn {
                    undo.push(Undo::AddRoute(r));
                }
                match self.withdraw_dns(service) {
                    Ok(records) => undo.push(Undo::AddDns(records)),
                    Err(e) => {
                        self.undo_all(undo);
                        return Err(step_err("stop", service, Step::Dns)(e));
                    }
                }
                let marked = self.registry.transaction(|tx| {
                    tx.set_service_active(service, false, SystemTime::now())?;
                    for c in &rec.components {
                        tx.set_component_state(service, &c.name, DesiredState::Stopped)?;
                    }
                    proxy::record_proxy(tx, service, &[], None, "")?;
                    dns::record_dns(tx, service, &[])?;
                    undo.commit_in(tx)?;
                    Ok::<_, RegistryError>(())
                });
                if let Err(e) = marked {
                    self.undo_all(undo);
                    return Err(fail(e.into()));
                }
                let mut report = self.empty_report(service);
                for c in &rec.components {
                    match self.runtime.stop(&c.container_name, self.config.stop_grace) {
                        Ok(()) => report.push(&c.container_name.clone(), ComponentChange::Stopped),
                        Err(e) if e.is_not_found() => report
                            .warnings
                            .push(format!("container {} does not exist", c.container_name)),
                        Err(e) => return Err(step_err("stop", service, Step::Stop)(e.into())),
                    }
                }
                Ok(report)
            },
            summary,
        )
    }

    /// Starts a service's containers (recreating any that are missing) and marks it
    /// active. Clears a flapping mark: starting is the operator's decision.
    pub fn start(&self, service: &str, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "start",
            service,
            || self.run_components(service, false),
            summary,
        )
    }

    /// Restarts a service's containers (recreating any that are missing) and marks it
    /// active. Clears a flapping mark.
    pub fn restart(&self, service: &str, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "restart",
            service,
            || self.run_components(service, true),
            summary,
        )
    }

    fn run_components(&self, service: &str, restart: bool) -> Result<Report> {
        let (operation, step) = if restart {
            ("restart", Step::Restart)
        } else {
            ("start", Step::Start)
        };
        let rec = self.deployed(service)?;
        let fail = |e: crate::Error| step_err(operation, service, step)(e);
        let resolved = rec.definition.resolve(&self.config.conventions);
        let mut undo = self.journal(service, operation).map_err(fail)?;
        if !rec.active {
            undo.push(Undo::Deactivate(service.to_owned()));
        }
        let result = self.run_components_journaled(service, restart, &rec, &resolved, &mut undo);
        if result.is_err() {
            self.undo_all(undo);
        }
        result
    }

    fn run_components_journaled(
        &self,
        service: &str,
        restart: bool,
        rec: &ServiceRecord,
        resolved: &ResolvedService,
        undo: &mut Journal,
    ) -> Result<Report> {
        let (operation, step) = if restart {
            ("restart", Step::Restart)
        } else {
            ("start", Step::Start)
        };
        let fail = |e: crate::Error| step_err(operation, service, step)(e);
        let certs =
            self.ensure_certs(resolved, undo)
                .map_err(step_err(operation, service, Step::Certs))?;
        self.registry
            .transaction(|tx| {
                tx.set_service_active(service, true, SystemTime::now())?;
                for c in &rec.components {
                    tx.set_component_state(service, &c.name, DesiredState::Running)?;
                    tx.set_component_flapping(service, &c.name, None)?;
                }
                Ok::<_, RegistryError>(())
            })
            .map_err(|e| fail(e.into()))?;
        let mut report = self.empty_report(service);
        for (c, spec) in self.recorded_specs(rec).map_err(fail)? {
            let info = self
                .runtime
                .inspect(&spec.name)
                .map_err(|e| fail(e.into()))?;
            let change = match info {
                None => {
                    self.recreate(service, &c.name, &spec).map_err(fail)?;
                    undo.push(Undo::StopContainer(spec.name.clone()));
                    self.runtime.start(&spec.name).map_err(|e| fail(e.into()))?;
                    ComponentChange::Created
                }
                Some(i) if restart && i.state == crate::runtime::ContainerState::Running => {
                    self.runtime
                        .restart(&spec.name, self.config.stop_grace)
                        .map_err(|e| fail(e.into()))?;
                    ComponentChange::Restarted
                }
                Some(i) if i.state == crate::runtime::ContainerState::Running => {
                    ComponentChange::Unchanged
                }
                Some(_) => {
                    undo.push(Undo::StopContainer(spec.name.clone()));
                    self.runtime.start(&spec.name).map_err(|e| fail(e.into()))?;
                    ComponentChange::Started
                }
            };
            report.push(&spec.name.clone(), change);
        }
        // Routes and names once the containers run.
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
                    proxy::record_proxy(tx, service, &routes, Some(&certs), p.issuer.name())?;
                }
                if self.dns().is_some() {
                    dns::record_dns(tx, service, &records)?;
                }
                undo.commit_in(tx)?;
                Ok::<_, RegistryError>(())
            })
            .map_err(|e| step_err(operation, service, Step::Record)(e.into()))?;
        if !resolved.components.iter().all(|c| c.routes.is_empty()) {
            report.warnings.extend(self.skipped_steps());
        }
        Ok(report)
    }

    /// Creates a component's container from its spec and records it.
    fn recreate(
        &self,
        service: &str,
        component: &str,
        spec: &ContainerSpec,
    ) -> Result<(), crate::Error> {
        let id = self.runtime.create(spec)?;
        self.registry.transaction(|tx| {
            tx.put_container(&ContainerRecord {
                name: spec.name.clone(),
                service: service.to_owned(),
                component: component.to_owned(),
                container_id: id.clone(),
                image: spec.image.clone(),
                created_at: SystemTime::now(),
            })
        })?;
        Ok(())
    }

    /// Removes a service: its containers, port leases and registry rows. The data
    /// directory stays. Undeploying a service that is not deployed succeeds (and
    /// removes any containers still labelled with it).
    pub fn undeploy(&self, service: &str, actor: &str) -> Result<Report> {
        self.recorded(
            actor,
            "undeploy",
            service,
            || {
                let fail = |e: crate::Error| step_err("undeploy", service, Step::Remove)(e);
                let rec = self.registry.service(service).map_err(|e| fail(e.into()))?;
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
                    self.rollback(withdrawn.into_iter().map(Undo::AddRoute).collect());
                    journal.close();
                    return Err(step_err("undeploy", service, Step::Dns)(e));
                }
                let removed = (|| {
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
                            report.push(&name.clone(), ComponentChange::Removed);
                        }
                    }
                    self.registry.transaction(|tx| {
                        proxy::record_proxy(tx, service, &[], Some(&[]), "")?;
                        dns::record_dns(tx, service, &[])?;
                        journal.commit_in(tx)?;
                        tx.remove_service(service)
                    })?;
                    Ok::<_, crate::Error>((report, stale_certs))
                })();
                let (mut report, stale_certs) = match removed {
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
            },
            summary,
        )
    }

    // ---- adopt and recover ---------------------------------------------------------------------

    /// Takes containers that run but are not in the registry (started by hand, or by
    /// an older agent) into the registry, as the service `def` describes. Each
    /// component's container is found by its conventional name; each route's host port
    /// is read from the container's `$PORT`/`$PORT_<NAME>` variable and leased as is.
    /// The containers are not touched.
    pub fn adopt(&self, def: &ServiceDefinition, actor: &str) -> Result<Report> {
        self.recorded(actor, "adopt", &def.name, || {
            let name = def.name.as_str();
            let fail = |e: crate::Error| step_err("adopt", name, Step::Adopt)(e);
            let problems = def.validate();
            if !problems.is_empty() {
                return Err(step_err("adopt", name, Step::Validate)(SpecError::Invalid { problems }.into()));
            }
            if self.registry.service(name).map_err(|e| fail(e.into()))?.is_some() {
                return Err(EngineError::Conflict(format!(
                    "service {name} is already in the registry; deploy it instead of adopting"
                )));
            }
            let resolved = def.resolve(&self.config.conventions);
            let mut requests = Vec::new();
            let mut found = Vec::new();
            for c in &resolved.components {
                let info = self
                    .runtime
                    .inspect(&c.container_name)
                    .map_err(|e| fail(e.into()))?
                    .ok_or_else(|| {
                        EngineError::NothingToAdopt {
                            container: c.container_name.clone(),
                            component: c.name.clone(),
                        }
                    })?;
                for r in &c.routes {
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
                    requests.push((
                        LeaseRequest {
                            service: name.to_owned(),
                            component: c.name.clone(),
                            route: r.name.clone(),
                            preferred: Some(port),
                        },
                        port,
                    ));
                }
                found.push((c, info));
            }
            let leases = self.ports.adopt(&requests).map_err(|e| fail(e.into()))?;
            let now = SystemTime::now();
            let record = ServiceRecord {
                definition: def.clone(),
                active: def.active,
                components: found
                    .iter()
                    .map(|(c, info)| ComponentRecord {
                        name: c.name.clone(),
                        container_name: c.container_name.clone(),
                        image: info.image.clone(),
                        version: c.version.clone(),
                        desired: if def.active { DesiredState::Running } else { DesiredState::Stopped },
                        // Adopted containers were not created from our spec: only a
                        // redeploy makes them comparable.
                        spec_hash: info.label(labels::SPEC_HASH).unwrap_or_default().to_owned(),
                        flapping_since: None,
                    })
                    .collect(),
                deployed_at: now,
                updated_at: now,
            };
            let recorded = self.registry.transaction(|tx| {
                tx.put_service(&record)?;
                for (c, info) in &found {
                    tx.put_container(&ContainerRecord {
                        name: c.container_name.clone(),
                        service: name.to_owned(),
                        component: c.name.clone(),
                        container_id: info.id.clone(),
                        image: info.image.clone(),
                        created_at: now,
                    })?;
                }
                Ok::<_, RegistryError>(())
            });
            if let Err(e) = recorded {
                let _ = self.ports.release(&leases.iter().map(|l| l.port).collect::<Vec<_>>());
                return Err(fail(e.into()));
            }
            let mut report = Report::new(name, &self.config.node);
            report.created = true;
            for (c, _) in &found {
                report.push(&c.container_name, ComponentChange::Adopted);
            }
            report.ports = leases.iter().map(assignment).collect();
            Ok(report)
        }, summary)
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
                || {
                    let fail = |e: crate::Error| step_err("recover", &service, Step::Containers)(e);
                    let resolved = rec.definition.resolve(&self.config.conventions);
                    self.prepare_host(&resolved).map_err(fail)?;
                    let mut report = self.empty_report(&service);
                    for (c, spec) in self.recorded_specs(&rec).map_err(fail)? {
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
                        self.recreate(&service, &c.name, &spec).map_err(fail)?;
                        if rec.active && record.desired == DesiredState::Running {
                            self.runtime.start(&spec.name).map_err(|e| fail(e.into()))?;
                        }
                        report.push(&spec.name.clone(), ComponentChange::Created);
                    }
                    Ok(report)
                },
                summary,
            )?;
            if !report.components.is_empty() {
                reports.push(report);
            }
        }
        Ok(reports)
    }

    /// The integration steps this node skips, and why (for reports and status).
    pub fn skipped_steps(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.proxy().is_none() {
            out.push(PROXY_NOT_CONFIGURED.to_owned());
        }
        if self.dns().is_none() {
            out.push(DNS_NOT_CONFIGURED.to_owned());
        }
        out
    }

    fn empty_report(&self, service: &str) -> Report {
        let mut report = Report::new(service, &self.config.node);
        report.ports = self
            .registry
            .read(|t| t.service_leases(service))
            .unwrap_or_default()
            .iter()
            .map(assignment)
            .collect();
        report
    }
}

/// How a report describes the operation in its event.
fn summary(r: &Report) -> String {
    r.summary()
}

/// The host port `lease` gives its route, as reports show it.
fn assignment(lease: &PortLease) -> PortAssignment {
    PortAssignment {
        component: lease.component.clone(),
        route: lease.route.clone(),
        port: lease.port,
    }
}
