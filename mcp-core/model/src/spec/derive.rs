//! The platform's conventions, applied in one place: everything the agent derives from
//! a definition (hostnames, `$PORT` names, container names, images, versions,
//! defaults for network, user, restart and the data volume).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::image::ImageRef;
use super::{Component, Mode, ServiceDefinition, Tier};

/// The platform's conventions: the values a definition inherits from the node or the
/// operator's configuration. [`Conventions::default`] gives the Metacircular
/// platform's own values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conventions {
    /// DNS zone for default hostnames: `<service>.<zone>`.
    pub zone: String,
    /// Registry host for images derived from the service name and version.
    pub registry: String,
    /// Container network when a component names none.
    pub network: String,
    /// Container user when a component names none.
    pub user: String,
    /// Restart policy when a component names none.
    pub restart: String,
    /// Parent of every service's data directory (`<data_root>/<service>`).
    pub data_root: PathBuf,
    /// Seconds a new container must keep running before a deploy counts it
    /// ready, when its component does not say (`ready_after`).
    pub ready_after_secs: u32,
}

impl Default for Conventions {
    fn default() -> Self {
        Conventions {
            zone: "svc.mcp.metacircular.net".into(),
            registry: "mcr.svc.mcp.metacircular.net:8443".into(),
            network: "mcpnet".into(),
            user: "0:0".into(),
            restart: "unless-stopped".into(),
            data_root: PathBuf::from("/srv"),
            ready_after_secs: DEFAULT_READY_AFTER,
        }
    }
}

/// A service with every convention applied: exactly what the agent deploys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedService {
    /// Service name.
    pub name: String,
    /// Target node (`None` until a worker service is placed).
    pub node: Option<String>,
    /// Placement tier (`worker` when not given).
    pub tier: Tier,
    /// Whether MCP keeps it running.
    pub active: bool,
    /// Source directory relative to the build workspace.
    pub source_path: String,
    /// The host data directory, `<data_root>/<service>`, mounted into every component.
    pub data_dir: PathBuf,
    /// Hash of the canonical definition (see [`ServiceDefinition::definition_hash`]).
    pub definition_hash: String,
    /// Components, in definition order.
    pub components: Vec<ResolvedComponent>,
}

/// A component with every convention applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedComponent {
    /// Component name.
    pub name: String,
    /// Container name: `<service>` when the component is named like the service,
    /// `<service>-<component>` otherwise.
    pub container_name: String,
    /// Full image reference.
    pub image: String,
    /// The version, from the image tag.
    pub version: String,
    /// Container network.
    pub network: String,
    /// Container user.
    pub user: String,
    /// Restart policy.
    pub restart: String,
    /// Volume mounts: the service data directory first (unless declared), then the
    /// declared ones.
    pub volumes: Vec<String>,
    /// Command override (empty: the image's `CMD`).
    pub cmd: Vec<String>,
    /// Extra environment (`KEY=VALUE`), without the `$PORT` variables.
    pub env: Vec<String>,
    /// Legacy explicit port publications.
    pub ports: Vec<String>,
    /// How long a new container must keep running, without a restart, before a
    /// deploy counts it ready.
    pub ready_after: std::time::Duration,
    /// Routes, in definition order.
    pub routes: Vec<ResolvedRoute>,
}

impl ResolvedComponent {
    /// The routes that lease a host port and have a proxy route of their own
    /// ([`ResolvedRoute::local`]).
    pub fn leased_routes(&self) -> impl Iterator<Item = &ResolvedRoute> {
        self.routes.iter().filter(|r| r.local)
    }
}

/// Seconds a new container has to pass its health check, unless its route says.
pub const DEFAULT_HEALTH_TIMEOUT: u32 = 30;

/// Seconds a new container must keep running before a deploy counts it ready,
/// unless its component or the node's conventions say (Nomad's
/// `min_healthy_time`): long enough to see a process that exits at once.
pub const DEFAULT_READY_AFTER: u32 = 3;

/// How a new container is judged ready for traffic on one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheck {
    /// `GET <path>` answering 2xx or 3xx; `None`: a TCP connect.
    pub path: Option<String>,
    /// How long the container has to pass.
    pub timeout: std::time::Duration,
}

/// A route with every convention applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedRoute {
    /// Route name, if any.
    pub name: Option<String>,
    /// The environment variables that carry this route's host port into the container.
    pub port_env: Vec<String>,
    /// mc-proxy listener port.
    pub listener_port: u16,
    /// Routing mode.
    pub mode: Mode,
    /// The hostname this node's proxy serves: the override, or `<service>.<zone>`.
    /// A public route is served here under the internal default, and under its
    /// public hostname by the edge nodes.
    pub hostname: String,
    /// Whether an edge node routes public traffic here.
    pub public: bool,
    /// The hostname edge nodes serve for a public route (its `hostname`).
    pub public_hostname: Option<String>,
    /// Whether this route has a host port and a proxy route of its own. A public
    /// route on the same listener as another route of its component served here
    /// under the same hostname (the platform's internal + public pair) rides
    /// that route: edge nodes reach it through the other route's proxy route, so
    /// it leases no port and gets no `$PORT` variable.
    pub local: bool,
    /// How a new container is judged ready for traffic here.
    pub health: HealthCheck,
}

pub(super) fn resolve(def: &ServiceDefinition, conv: &Conventions) -> ResolvedService {
    ResolvedService {
        name: def.name.clone(),
        node: def.node.clone(),
        tier: def.tier.unwrap_or(Tier::Worker),
        active: def.active,
        source_path: def.source_path().to_owned(),
        data_dir: conv.data_root.join(&def.name),
        definition_hash: def.definition_hash(),
        components: def
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| resolve_component(def, i, c, conv))
            .collect(),
    }
}

fn resolve_component(
    def: &ServiceDefinition,
    index: usize,
    c: &Component,
    conv: &Conventions,
) -> ResolvedComponent {
    let image = image_ref(def, index, conv);
    let data_dir = conv.data_root.join(&def.name).display().to_string();
    let declares_data_dir = c
        .volumes
        .iter()
        .any(|v| v.split(':').next() == Some(data_dir.as_str()));
    let mut volumes = Vec::with_capacity(c.volumes.len() + 1);
    if !declares_data_dir {
        volumes.push(format!("{data_dir}:{data_dir}"));
    }
    volumes.extend(c.volumes.iter().cloned());
    let env_names = port_env_names(c);
    let mut component = ResolvedComponent {
        name: c.name.clone(),
        container_name: container_name(&def.name, &c.name),
        version: image
            .as_ref()
            .and_then(|i| i.tag.clone())
            .unwrap_or_default(),
        image: image.map(|i| i.to_string()).unwrap_or_default(),
        network: c.network.clone().unwrap_or_else(|| conv.network.clone()),
        user: c.user.clone().unwrap_or_else(|| conv.user.clone()),
        restart: c.restart.clone().unwrap_or_else(|| conv.restart.clone()),
        volumes,
        cmd: c.cmd.clone().unwrap_or_default(),
        env: c.env.clone(),
        ports: c.ports.clone(),
        ready_after: std::time::Duration::from_secs(u64::from(
            c.ready_after.unwrap_or(conv.ready_after_secs),
        )),
        routes: c
            .routes
            .iter()
            .zip(env_names)
            .map(|(r, port_env)| ResolvedRoute {
                name: r.name.clone(),
                port_env,
                listener_port: r.port,
                mode: r.mode,
                hostname: match (&r.hostname, r.public) {
                    (Some(h), false) => h.clone(),
                    _ => default_hostname(&def.name, conv),
                },
                public: r.public,
                public_hostname: r.hostname.clone().filter(|_| r.public),
                local: true,
                health: HealthCheck {
                    path: r.health_path.clone(),
                    timeout: std::time::Duration::from_secs(u64::from(
                        r.health_timeout.unwrap_or(DEFAULT_HEALTH_TIMEOUT),
                    )),
                },
            })
            .collect(),
    };
    mark_riding_routes(&mut component.routes);
    component
}

/// Marks the public routes that ride another route of their component (same
/// listener, same local hostname: a non-public one, else the first public one;
/// see [`ResolvedRoute::local`]). The route ridden takes over their `$PORT`
/// variables, and when a single route is left with a port of its own it gets
/// `$PORT` too, as a component's only route does.
fn mark_riding_routes(routes: &mut [ResolvedRoute]) {
    for i in 0..routes.len() {
        if !routes[i].public {
            continue;
        }
        let same = |o: &ResolvedRoute| {
            o.listener_port == routes[i].listener_port && o.hostname == routes[i].hostname
        };
        let ridden = routes
            .iter()
            .position(|o| !o.public && same(o))
            .or_else(|| routes[..i].iter().position(|o| o.public && same(o)));
        if let Some(j) = ridden {
            routes[i].local = false;
            let names = std::mem::take(&mut routes[i].port_env);
            routes[j].port_env.extend(names);
        }
    }
    let mut local = routes.iter_mut().filter(|r| r.local);
    if let (Some(only), None) = (local.next(), local.next())
        && !only.port_env.iter().any(|n| n == "PORT")
    {
        only.port_env.insert(0, "PORT".to_owned());
    }
}

impl Conventions {
    /// The hostname of a route that names none: `<service>.<zone>`.
    pub fn default_hostname(&self, service: &str) -> String {
        default_hostname(service, self)
    }
}

/// `<service>.<zone>`.
pub(super) fn default_hostname(service: &str, conv: &Conventions) -> String {
    format!("{service}.{}", conv.zone)
}

/// The container name of a component: `<service>` when the component is named like
/// the service, else `<service>-<component>`.
pub(super) fn container_name(service: &str, component: &str) -> String {
    if service == component {
        service.to_owned()
    } else {
        format!("{service}-{component}")
    }
}

/// For each route of `c`, the environment variables carrying its host port:
/// a single route gets `$PORT` (and `$PORT_<NAME>` too when named); with several
/// routes each gets `$PORT_<NAME>`, its name uppercased.
pub(super) fn port_env_names(c: &Component) -> Vec<Vec<String>> {
    let single = c.routes.len() == 1;
    c.routes
        .iter()
        .map(|r| {
            let mut names = Vec::new();
            if single {
                names.push("PORT".to_owned());
            }
            if let Some(n) = &r.name {
                names.push(format!("PORT_{}", n.to_ascii_uppercase()));
            }
            names
        })
        .collect()
}

/// The image of component `index`: its `image`, or one derived as
/// `<registry>/<repository>:<version>` where the repository is the service name for
/// the first component (or one named like the service) and `<service>-<component>`
/// for the others, and the version is the component's `version` or the service's.
pub(super) fn image_ref(
    def: &ServiceDefinition,
    index: usize,
    conv: &Conventions,
) -> Option<ImageRef> {
    let c = def.components.get(index)?;
    if let Some(image) = &c.image {
        return ImageRef::parse(image).ok();
    }
    let version = c.version.as_ref().or(def.version.as_ref())?;
    Some(ImageRef {
        registry: Some(conv.registry.clone()).filter(|r| !r.is_empty()),
        repository: derived_repository(def, index),
        tag: Some(version.clone()),
        digest: None,
    })
}

/// The repository name (last path part) of component `index`'s image, as
/// `[build.images]` keys refer to it.
pub(super) fn repository_name(def: &ServiceDefinition, index: usize) -> Option<String> {
    let c = def.components.get(index)?;
    match &c.image {
        Some(image) => ImageRef::parse(image).ok().map(|r| r.name().to_owned()),
        None => Some(derived_repository(def, index)),
    }
}

fn derived_repository(def: &ServiceDefinition, index: usize) -> String {
    let c = &def.components[index];
    if index == 0 || c.name == def.name {
        def.name.clone()
    } else {
        format!("{}-{}", def.name, c.name)
    }
}

impl ServiceDefinition {
    /// The version component `index` runs: its image's tag, else its
    /// `version`, else the service's (`None`: an image with no tag, or no
    /// such component). What `resolve` gives the component, without
    /// conventions.
    pub fn component_version(&self, index: usize) -> Option<String> {
        image_ref(self, index, &Conventions::default()).and_then(|i| i.tag)
    }

    /// The version the service runs: its `version`, else the one version
    /// every component runs (`None` when they differ or one has none).
    ///
    /// ```
    /// use mcp_model::spec::ServiceDefinition;
    /// let def = ServiceDefinition::parse(
    ///     "name = \"web\"\n\n[[components]]\nname = \"web\"\nimage = \"r/web:v1.2.0\"\n",
    ///     None,
    /// )?;
    /// assert_eq!(def.version, None); // not written
    /// assert_eq!(def.resolved_version().as_deref(), Some("v1.2.0"));
    /// # Ok::<(), mcp_model::spec::SpecError>(())
    /// ```
    pub fn resolved_version(&self) -> Option<String> {
        if let Some(v) = &self.version {
            return Some(v.clone());
        }
        let mut versions = (0..self.components.len()).map(|i| self.component_version(i));
        let first = versions.next()??;
        versions
            .all(|v| v.as_deref() == Some(first.as_str()))
            .then_some(first)
    }
}
