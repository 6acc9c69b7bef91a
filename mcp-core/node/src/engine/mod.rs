//! The lifecycle engine of one node: deploy, stop, start, restart, undeploy, adopt
//! and recover a service, keeping the registry, the port leases and the containers
//! in step.
//!
//! * [`deploy`](Engine::deploy) is one ordered plan of [`Step`]s, one function
//!   each (`deploy.rs`); the other operations are in `lifecycle.rs` and
//!   `adopt.rs`. Each step that changes something journals how to undo it
//!   (`undo.rs`, `journal.rs`) before the next; when a later step fails, the undos
//!   run newest first, so a failed deploy leaves no container, lease, certificate,
//!   route or registry row behind, and a failed *re*deploy leaves the previous
//!   containers, certificates and routes as they were.
//! * The integrations' steps: `routing.rs` (certificates and proxy routes),
//!   `naming.rs` (DNS records), `health.rs` (readiness); steps of an integration
//!   that is not configured are skipped, and the report says so.
//! * `preview.rs`: what a deploy would do, from the decisions the deploy acts
//!   on (`mcp diff`, `deploy --dry-run`).
//! * `exec.rs`: a command in a running container (`mcp exec`).
//! * What else a node does for a service: `status.rs`, `logs.rs` (its output, read
//!   or followed), `sync.rs`, `data.rs` (its
//!   data: files, snapshots, moving it), `repair.rs` (the monitor's actions),
//!   `edge.rs` (an edge node's routes), `info.rs` (what the node is),
//!   `usage.rs` (what its components use).
//! * `containers.rs`: how the engine drives the runtime.
//!
//! One operation at a time per service (a per-service lock); different services
//! proceed in parallel.

mod adopt;
mod containers;
mod data;
mod deploy;
mod edge;
mod error;
mod exec;
mod health;
mod info;
mod journal;
mod lifecycle;
mod logs;
mod naming;
mod preview;
mod repair;
mod revisions;
mod routing;
mod status;
mod sync;
mod undo;
mod usage;

use mcp_model::config::PolicySection;
use mcp_model::spec::HostPolicy;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_model::ports::{PortLease, PortProbe, PortRange};
use mcp_model::spec::Conventions;
use mcp_model::view::{NodeRole, PortAssignment, Report, Step};

pub use containers::STATUS_CACHE_TTL;
use containers::{Known, Observer};
pub use edge::under_domain;
use error::step_err;
pub use error::{EdgeRefusal, EngineError};
pub use health::{HealthError, ProbeFailure};
pub use journal::Interrupted;
pub use logs::{LogHalt, LogSource};
pub use naming::{DNS_NOT_CONFIGURED, DnsIntegration};
pub use routing::{PROXY_NOT_CONFIGURED, ProxyIntegration, Renewal, proxy_route, route_record};

use crate::ports::PortAllocator;
use crate::registry::{NewEvent, Registry, RegistryError, ServiceRecord};
use crate::runtime::ContainerRuntime;

/// How the engine runs on this node.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This node's name: definitions for other nodes are refused.
    pub node: String,
    /// Value of the `mcp.instance` label on this agent's containers: the instance id
    /// kept in the registry ([`crate::wiring::instance_id`]). The engine only ever
    /// sees and touches containers with its own instance.
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
    /// What definitions may ask of this host (`[policy]`).
    pub policy: PolicySection,
    /// Revisions kept per service (`[revisions] keep`), besides the one that runs.
    pub revisions_keep: u32,
    /// Services a sync works on at once (`[sync] workers`).
    pub sync_workers: usize,
    /// How old a sample of what containers use a metrics scrape may see
    /// (the monitor's tick, `[monitor] interval_secs`).
    pub usage_every: Duration,
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
            policy: PolicySection::default(),
            revisions_keep: mcp_model::config::RevisionsSection::default().keep,
            sync_workers: mcp_model::config::SyncSection::default().workers as usize,
            usage_every: Duration::from_secs(10),
        }
    }
}

/// `Result` with [`EngineError`].
type Result<T, E = EngineError> = std::result::Result<T, E>;

/// The lifecycle engine of one node.
///
/// What `mcp-agent` serves: built from its configuration by
/// [`crate::wiring::Node::open`], or by hand from a registry, a runtime and
/// a port probe, as here (an edge node's runtime, which has no containers):
///
/// ```
/// use std::sync::Arc;
/// use mcp_node::engine::{Engine, EngineConfig};
/// use mcp_node::registry::Registry;
/// use mcp_node::runtime::NoContainers;
///
/// let registry = Arc::new(Registry::open_in_memory()?);
/// let runtime = Arc::new(NoContainers::new("edge1"));
/// let probe = Box::new(mcp_model::ports::NoProbe);
/// let engine = Engine::new(EngineConfig::for_node("edge1"), registry, runtime, probe)?;
/// assert!(engine.statuses()?.is_empty());
/// assert_eq!(engine.node_info(std::time::SystemTime::now())?.node, "edge1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    observer: Observer,
    /// The runtime's description, once known.
    runtime_description: std::sync::OnceLock<String>,
    /// One permit per exec session that may run at once.
    exec_slots: Arc<tokio::sync::Semaphore>,
    /// What the node counts as it happens.
    metrics: Arc<crate::metrics::Metrics>,
    /// Samples of what containers use.
    sampler: usage::Sampler,
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
        let observer = Observer::new(runtime.clone(), &config.instance);
        let engine = Engine {
            config,
            registry,
            runtime,
            ports,
            locks: Mutex::new(HashMap::new()),
            known: Mutex::new(Known::default()),
            observer,
            runtime_description: std::sync::OnceLock::new(),
            exec_slots: Arc::new(tokio::sync::Semaphore::new(exec::MAX_SESSIONS)),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            sampler: usage::Sampler::default(),
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

    /// This node's host policy: `[policy]` with its data root, publish address
    /// and port range.
    pub fn host_policy(&self) -> HostPolicy {
        HostPolicy::new(
            self.config.policy.clone(),
            &self.config.conventions,
            self.config.publish_address,
            self.config.port_range,
        )
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

    /// What the node counts as it happens (the agent's RPC layer adds to it).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
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

    /// Runs `op` under the service's lock and records its outcome as an event:
    /// a failure always, a success when `describe` says what changed (`None`:
    /// nothing did, which is no event).
    fn recorded<T>(
        &self,
        actor: &str,
        action: &'static str,
        service: &str,
        op: impl FnOnce() -> Result<T>,
        describe: impl FnOnce(&T) -> Option<String>,
    ) -> Result<T> {
        let lock = self.lock(service);
        let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        let before = self.container_names(service);
        let began = std::time::Instant::now();
        let out = op();
        self.reobserve_service(service, &before);
        let outcome = match &out {
            Ok(_) => Ok(()),
            Err(e) => Err(e.step().map(|s| s.as_str())),
        };
        self.metrics.operation(action, outcome, began.elapsed());
        match &out {
            Ok(v) => {
                if let Some(detail) = describe(v) {
                    self.event(actor, action, service, detail, None);
                }
            }
            // Nothing was there to change: not an event of a service that is not.
            Err(EngineError::NotDeployed(_)) => {}
            Err(e) => self.event(actor, action, service, String::new(), Some(e.to_string())),
        }
        out
    }

    pub(crate) fn deployed(&self, service: &str) -> Result<ServiceRecord> {
        self.registry
            .service(service)
            .map_err(|e| step_err("read", service, Step::Validate)(e.into()))?
            .ok_or_else(|| EngineError::NotDeployed(service.to_owned()))
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

/// How a report describes the operation in its event; `None` when it changed
/// nothing.
fn summary(r: &Report) -> Option<String> {
    r.changed().then(|| r.summary())
}

/// The lease of route `route` of component `c`, if it has one (legacy
/// `ports` and routes without a port have none).
fn route_lease<'l>(
    leases: &'l [PortLease],
    c: &mcp_model::spec::ResolvedComponent,
    route: &mcp_model::spec::ResolvedRoute,
) -> Option<&'l PortLease> {
    leases
        .iter()
        .find(|l| l.component == c.name && l.route == route.name)
}

/// The host port `lease` gives its route, as reports show it.
fn assignment(lease: &PortLease) -> PortAssignment {
    PortAssignment {
        component: lease.component.clone(),
        route: lease.route.clone(),
        port: lease.port,
    }
}

#[cfg(test)]
mod tests;
