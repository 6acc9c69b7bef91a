//! How the engine uses the container runtime: images and networks made present
//! once (a tag that does not exist fails with its reference, before anything is
//! touched); a container created, or created and started, in one call, a stray of
//! this service's that holds the name replaced and anyone else's refused; the
//! container specification of a component; and the runtime's last word on each
//! container, cached for status reads.

use mcp_model::spec::legacy_host_port;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mcp_model::ErrorKind;
use mcp_model::ports::PortLease;
use mcp_model::spec::{ResolvedComponent, ResolvedService};

use super::{Engine, EngineError};
use crate::registry::{ContainerRecord, ServiceRecord};
use crate::runtime::{ContainerInfo, ContainerRuntime, ContainerSpec, RuntimeError, labels};

/// Suffix of a container parked while its replacement starts in its place.
pub(super) const PARKED_SUFFIX: &str = "-mcp-previous";

/// Suffix of a replacement container while it starts beside the one it replaces
/// (and of its port leases' component until the switch is recorded).
pub(super) const NEXT_SUFFIX: &str = "-mcp-next";

/// How long the runtime's word on a container serves status reads while no
/// event stream keeps it true. A change the engine makes to a service asks
/// again about that service's containers (and no other); while the monitor
/// follows the runtime's events, an entry stays until an event names its
/// container (the monitor then asks again).
pub const STATUS_CACHE_TTL: Duration = Duration::from_secs(2);

/// Per container: the runtime's last answer and when.
#[derive(Debug, Default)]
pub(super) struct ObservedCache {
    entries: HashMap<String, (Option<ContainerInfo>, Instant)>,
    /// Bumped by every engine change; a whole-node refresh that began before
    /// one is dropped (its answer may predate the change).
    generation: u64,
    /// Every container with this instance's labels is in `entries`: a
    /// whole-node refresh completed, and changes since then each asked again
    /// about what they changed.
    complete: bool,
    /// A whole-node refresh runs in the background.
    refreshing: bool,
    /// The monitor follows the runtime's events: entries do not age.
    live: bool,
}

#[derive(Debug, Default)]
pub(super) struct Known {
    images: HashSet<String>,
    networks: HashSet<String>,
}

/// The runtime's word on this instance's containers, shared with the thread
/// that refreshes it in the background.
#[derive(Debug, Clone)]
pub(super) struct Observer {
    runtime: Arc<dyn ContainerRuntime>,
    instance: String,
    cache: Arc<Mutex<ObservedCache>>,
    /// Held while the whole node is asked: readers arriving meanwhile wait for
    /// that answer instead of asking again.
    gate: Arc<Mutex<()>>,
}

impl Observer {
    pub(super) fn new(runtime: Arc<dyn ContainerRuntime>, instance: &str) -> Self {
        Observer {
            runtime,
            instance: instance.to_owned(),
            cache: Arc::default(),
            gate: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ObservedCache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached answer for `name` (starting a background refresh of the node
    /// when it is stale); `None` when there is none.
    fn cached(&self, name: &str) -> Option<Option<ContainerInfo>> {
        let mut cache = self.lock();
        let (info, at) = match cache.entries.get(name) {
            Some((info, at)) => (info.clone(), *at),
            None => return None,
        };
        if !cache.live && at.elapsed() >= STATUS_CACHE_TTL && !cache.refreshing {
            cache.refreshing = true;
            let observer = self.clone();
            std::thread::spawn(move || {
                let _gate = observer.gate.lock().unwrap_or_else(|p| p.into_inner());
                let _ = observer.refresh_now();
                observer.lock().refreshing = false;
            });
        }
        Some(info)
    }

    /// Asks the runtime about every container of this instance in one call,
    /// unless a refresh completed since the last change (a reader that waited
    /// for another's refresh uses it).
    fn refresh(&self) -> Result<(), RuntimeError> {
        let _gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        {
            if self.lock().complete {
                return Ok(());
            }
        }
        self.refresh_now()
    }

    /// [`Observer::refresh`] without looking whether one completed.
    fn refresh_now(&self) -> Result<(), RuntimeError> {
        let generation = self.lock().generation;
        let all = self.runtime.list(&[
            (labels::MANAGED, "true"),
            (labels::INSTANCE, &self.instance),
        ])?;
        let mut cache = self.lock();
        if cache.generation == generation {
            let now = Instant::now();
            for c in all {
                cache.entries.insert(c.name.clone(), (Some(c), now));
            }
            cache.complete = true;
        }
        Ok(())
    }

    /// Asks the runtime again about `service`'s containers, in one call, and
    /// replaces what the cache held of them (`names` not found are forgotten:
    /// gone, or adopted without our labels, a read asks about each alone); the
    /// rest of the cache stays as it was, complete if it was.
    fn reobserve(&self, service: &str, names: &[String]) -> Result<(), RuntimeError> {
        self.lock().generation += 1;
        let found = self.runtime.list(&[
            (labels::MANAGED, "true"),
            (labels::INSTANCE, &self.instance),
            (labels::SERVICE, service),
        ])?;
        let mut cache = self.lock();
        let now = Instant::now();
        cache.entries.retain(|name, (info, _)| {
            !names.contains(name)
                && info.as_ref().and_then(|i| i.label(labels::SERVICE)) != Some(service)
        });
        for c in found {
            cache.entries.insert(c.name.clone(), (Some(c), now));
        }
        Ok(())
    }
}

impl Engine {
    /// The container `name` as the runtime last reported it, for status reads.
    /// What is not known yet is asked for the whole node in one batched call,
    /// once for every reader asking at the same time; an answer older than
    /// [`STATUS_CACHE_TTL`] (while no event stream keeps answers true) is
    /// returned while one background refresh of the whole node runs. A read
    /// never starts one Podman process per container.
    pub(crate) fn observed(&self, name: &str) -> Result<Option<ContainerInfo>, RuntimeError> {
        if let Some(info) = self.observer.cached(name) {
            return Ok(info);
        }
        self.observer.refresh()?;
        if let Some(info) = self.observer.cached(name) {
            return Ok(info);
        }
        // Not labelled as this instance's (adopted): asked about alone.
        let info = self.runtime.inspect(name)?;
        self.note_observed(name, info.as_ref());
        Ok(info)
    }

    /// Whether the monitor follows the runtime's events (so cached answers stay
    /// true until an event names their container).
    pub(crate) fn set_events_live(&self, live: bool) {
        self.observer.lock().live = live;
    }

    /// Records what the runtime just reported.
    pub(crate) fn note_observed(&self, name: &str, info: Option<&ContainerInfo>) {
        self.observer
            .lock()
            .entries
            .insert(name.to_owned(), (info.cloned(), Instant::now()));
    }

    /// Forgets every cached observation: the next read asks about the whole
    /// node.
    pub(crate) fn forget_observed(&self) {
        let mut cache = self.observer.lock();
        cache.entries.clear();
        cache.complete = false;
        cache.generation += 1;
    }

    /// After the engine changed `service` (under its lock): its containers
    /// asked about again in one call, those it had and has (`before`, and the
    /// registry's now) noted; the rest of the cache kept. Everything is
    /// forgotten if the runtime cannot answer.
    pub(crate) fn reobserve_service(&self, service: &str, before: &[String]) {
        let mut names = before.to_vec();
        names.extend(self.container_names(service));
        if self.observer.reobserve(service, &names).is_err() {
            self.forget_observed();
        }
    }

    /// The containers the registry holds for `service` (none when it holds
    /// no such service or cannot be read).
    pub(crate) fn container_names(&self, service: &str) -> Vec<String> {
        match self.registry.service(service) {
            Ok(Some(rec)) => rec
                .components
                .into_iter()
                .map(|c| c.container_name)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Runs `look` (a whole-node listing that notes what it finds) as the one
    /// refresh of the moment: reads arriving meanwhile wait for its answer
    /// instead of listing the node a second time (right after the agent
    /// starts, the monitor's first relist and the first `mcp ps` meet here).
    pub(crate) fn observing<T>(&self, look: impl FnOnce() -> T) -> T {
        let _gate = self.observer.gate.lock().unwrap_or_else(|p| p.into_inner());
        look()
    }

    /// Where the cache stands: pass it to [`Engine::observed_all`] after
    /// noting a whole-node listing taken since.
    pub(crate) fn observed_generation(&self) -> u64 {
        self.observer.lock().generation
    }

    /// A whole-node listing taken at `generation` (`listed`) was noted: unless
    /// the engine changed something meanwhile, what it no longer holds is
    /// forgotten and the cache is complete.
    pub(crate) fn observed_all(&self, generation: u64, listed: &[ContainerInfo]) {
        let mut cache = self.observer.lock();
        if cache.generation == generation {
            cache
                .entries
                .retain(|name, (info, _)| info.is_none() || listed.iter().any(|o| &o.name == name));
            cache.complete = true;
        }
    }

    /// After the engine changed container `name`: the next read of it asks
    /// again (about it alone, when the cache is otherwise complete).
    pub(crate) fn forget_container(&self, name: &str) {
        let mut cache = self.observer.lock();
        cache.entries.remove(name);
        cache.generation += 1;
    }

    /// Whether `image` is not on the node (a deploy would pull it). A missing
    /// `localhost/` image is not pulled (no registry has it): it is not found.
    pub(super) fn image_missing(&self, image: &str) -> Result<bool, crate::Error> {
        if self.known().images.contains(image) || self.runtime.image_exists(image)? {
            return Ok(false);
        }
        let registry = mcp_platform::images::ImageRef::parse(image)
            .ok()
            .and_then(|r| r.registry);
        if registry.as_deref() == Some("localhost") {
            return Err(mcp_platform::images::ImageError::NotLocal {
                image: image.to_owned(),
            }
            .into());
        }
        Ok(true)
    }

    /// Makes `image` present unless already confirmed: when it is not local, its
    /// registry is asked first (so a tag that does not exist fails with the
    /// reference, before anything is touched), then it is pulled.
    pub(super) fn ensure_image(&self, image: &str) -> Result<(), crate::Error> {
        if self.image_missing(image)? {
            let registry = mcp_platform::images::ImageRef::parse(image)
                .ok()
                .and_then(|r| r.registry);
            if let Some(registry) = registry {
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

    /// Creates a container of `service`, and starts it when `start`, in one runtime
    /// call. When the runtime says an image or network is missing (removed behind
    /// our back since we confirmed it), they are ensured again and the call retried
    /// once. A container holding the name that an interrupted operation of the same
    /// service left is replaced; anyone else's is a conflict, left untouched.
    pub(super) fn create_container(
        &self,
        service: &str,
        spec: &ContainerSpec,
        start: bool,
    ) -> Result<String, crate::Error> {
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
                Some(stray) if self.is_ours(&stray, service) => {
                    self.runtime.remove(&spec.name)?;
                    Ok(attempt()?)
                }
                Some(stray) => Err(EngineError::Conflict(format!(
                    "container name {} is taken by a container {}; remove or rename it, or `mcp adopt` it",
                    spec.name,
                    match stray.label(labels::SERVICE) {
                        Some(other) => format!("of service {other}"),
                        None => "MCP does not manage".to_owned(),
                    }
                ))
                .into()),
                None => Ok(attempt()?),
            },
            other => Ok(other?),
        }
    }

    /// Whether a stray container may be replaced for `service`: this agent's
    /// (its instance label), and not another service's.
    fn is_ours(&self, c: &ContainerInfo, service: &str) -> bool {
        c.label(labels::INSTANCE) == Some(self.config.instance.as_str())
            && c.label(labels::SERVICE).is_none_or(|s| s == service)
    }

    pub(super) fn ensure_network(&self, network: &str) -> Result<(), RuntimeError> {
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
        // A legacy port names no address, or the publish address (the host
        // policy refuses others): always published on the publish address.
        publish.extend(c.ports.iter().map(|p| match legacy_host_port(p) {
            Some((None, _)) => format!("{}:{p}", self.config.publish_address),
            _ => p.clone(),
        }));
        let mut labels = self.config.extra_labels.clone();
        labels.insert(labels::MANAGED.into(), "true".into());
        labels.insert(labels::INSTANCE.into(), self.config.instance.clone());
        labels.insert(labels::NODE.into(), self.config.node.clone());
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

    /// Specs of every component of a recorded service, from its stored definition,
    /// the image each component runs (a rollback's is pinned by digest) and its
    /// leases.
    pub(super) fn recorded_specs(
        &self,
        rec: &ServiceRecord,
    ) -> Result<Vec<(ResolvedComponent, ContainerSpec)>, crate::Error> {
        let mut resolved = rec.definition.resolve(&self.config.conventions);
        for c in &mut resolved.components {
            if let Some(r) = rec.components.iter().find(|r| r.name == c.name) {
                c.image.clone_from(&r.image);
            }
        }
        let leases = self.registry.read(|t| t.service_leases(rec.name()))?;
        Ok(resolved
            .components
            .iter()
            .map(|c| (c.clone(), self.container_spec(&resolved, c, &leases)))
            .collect())
    }

    pub(super) fn prepare_host(&self, resolved: &ResolvedService) -> Result<(), crate::Error> {
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

    /// Creates a component's container from its spec and records it.
    pub(super) fn recreate(
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
}
