//! The operator's view of the fleet, shared by the CLI and the Python bindings: the
//! CLI configuration, where definitions are, which node runs a service, connections
//! to agents, and asking many nodes at once (each with its own timeout, an
//! unreachable node reported in place instead of blocking the others).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::api::{AgentClient, ApiError};
use crate::config::{CliConfig, ConfigError};
use std::collections::BTreeMap;

use crate::build::{BuildError, BuildItem, Stage};
use crate::engine::{SyncAction, SyncItem};
use crate::spec::ServiceDefinition;

/// How long one node gets in a fleet-wide query.
pub const PER_NODE_TIMEOUT: Duration = Duration::from_secs(15);

/// The CLI configuration and what follows from it.
#[derive(Debug, Clone)]
pub struct Fleet {
    config: CliConfig,
    path: PathBuf,
    /// A one-node fleet given explicitly (no configuration file).
    direct: Option<crate::api::AgentEndpoint>,
}

impl Fleet {
    /// Loads the configuration at `path` (default: [`CliConfig::default_path`]).
    pub fn load(path: Option<&Path>) -> Result<Self, crate::Error> {
        let path = path.map_or_else(CliConfig::default_path, Path::to_owned);
        let config = CliConfig::load(&path)?;
        Ok(Fleet {
            config,
            path,
            direct: None,
        })
    }

    /// A fleet of the one node `endpoint` reaches, without a configuration file.
    pub fn direct(endpoint: crate::api::AgentEndpoint) -> Self {
        let config = CliConfig {
            nodes: vec![crate::config::NodeEntry {
                name: endpoint.node.clone(),
                address: endpoint.addresses.first().cloned(),
                addresses: endpoint.addresses.iter().skip(1).cloned().collect(),
                ..Default::default()
            }],
            ..CliConfig::default()
        };
        Fleet {
            config,
            path: PathBuf::from("(direct)"),
            direct: Some(endpoint),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CliConfig {
        &self.config
    }

    /// Where the configuration was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The definition file named by `arg`: a file, or `<services dir>/<arg>.toml`.
    pub fn definition_path(&self, arg: &str) -> PathBuf {
        let as_path = Path::new(arg);
        if as_path.is_file() || arg.ends_with(".toml") {
            as_path.to_owned()
        } else {
            self.config.services_dir().join(format!("{arg}.toml"))
        }
    }

    /// Loads and validates the definition named by `arg`.
    pub fn definition(&self, arg: &str) -> Result<(PathBuf, ServiceDefinition), crate::Error> {
        let path = self.definition_path(arg);
        let def = ServiceDefinition::load(&path)?;
        Ok((path, def))
    }

    /// The node a service runs on: `flag`, else its definition's, else the only node.
    pub fn node_for(&self, service: &str, flag: Option<&str>) -> Result<String, crate::Error> {
        if let Some(n) = flag {
            return Ok(n.to_owned());
        }
        let path = self.definition_path(service);
        if path.is_file() {
            return Ok(ServiceDefinition::load(&path)?.node);
        }
        match self.config.nodes.as_slice() {
            [only] => Ok(only.name.clone()),
            _ => Err(ConfigError::Invalid {
                path: self.path.clone(),
                message: format!(
                    "cannot tell which node runs {service}: no definition at {} and several nodes; name the node",
                    path.display()
                ),
            }
            .into()),
        }
    }

    /// The nodes to query: `only` (which must be configured), or every node.
    pub fn nodes(&self, only: Option<&str>) -> Result<Vec<String>, crate::Error> {
        match only {
            Some(n) => {
                self.config.node(n, &self.path)?;
                Ok(vec![n.to_owned()])
            }
            None => Ok(self.config.nodes.iter().map(|n| n.name.clone()).collect()),
        }
    }

    /// A connection to `node`'s agent.
    pub async fn client(&self, node: &str) -> Result<AgentClient, crate::Error> {
        let endpoint = match &self.direct {
            Some(e) if e.node == node => e.clone(),
            _ => self.config.endpoint(node, &self.path)?,
        };
        Ok(AgentClient::connect(&endpoint).await?)
    }

    /// Runs `f` on every node of `nodes` at once, each with its own connection and
    /// [`PER_NODE_TIMEOUT`]; returns each node's result, in the order given.
    pub async fn on_nodes<T, F, Fut>(
        &self,
        nodes: &[String],
        f: F,
    ) -> Vec<(String, Result<T, crate::Error>)>
    where
        F: Fn(String, AgentClient) -> Fut,
        Fut: Future<Output = Result<T, crate::Error>>,
    {
        let futures = nodes.iter().map(|node| {
            let f = &f;
            async move {
                let work = async {
                    let client = self.client(node).await?;
                    f(node.clone(), client).await
                };
                let result = match tokio::time::timeout(PER_NODE_TIMEOUT, work).await {
                    Ok(r) => r,
                    Err(_) => Err(ApiError::Connect {
                        node: node.clone(),
                        tried: "(all addresses)".into(),
                        message: format!("no answer within {}s", PER_NODE_TIMEOUT.as_secs()),
                    }
                    .into()),
                };
                (node.clone(), result)
            }
        });
        join_all(futures).await
    }
}

impl Fleet {
    /// Sends every definition of the services directory to its node (all nodes at
    /// once) and applies it, or only plans with `dry_run`. First, every component's
    /// image is looked up in its registry: a missing one is built and pushed from
    /// the service's source tree (a `build` item), or, with no source, reported as an
    /// error telling the operator to build it first; other services proceed. With
    /// `prune`, services without a definition are undeployed and every edge node
    /// drops their routes. Each node's plan, or why it could not be reached.
    pub async fn sync(
        &self,
        dry_run: bool,
        prune: bool,
    ) -> Result<Vec<(String, Result<Vec<SyncItem>, crate::Error>)>, crate::Error> {
        let defs = crate::spec::load_dir(&self.config.services_dir())?;
        let mut by_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut builds: BTreeMap<String, Vec<SyncItem>> = BTreeMap::new();
        let registry = crate::images::ImageRegistry::new(self.config.registry_settings()?);
        // Like an invalid definition, a public hostname an edge node refuses stops
        // the sync before anything changes.
        if !self.edge_nodes().is_empty() {
            for d in &defs {
                self.check_edge_routes(&self.edge_requests(d, &d.node)?)
                    .await?;
            }
        }
        for d in &defs {
            self.config.node(&d.node, &self.path)?;
            builds
                .entry(d.node.clone())
                .or_default()
                .extend(self.ensure_images(d, &registry, dry_run).await);
            by_node.entry(d.node.clone()).or_default().push(d.to_toml());
        }
        // With prune, every node is asked: one left without definitions must still
        // undeploy what it runs.
        if prune {
            for n in &self.config.nodes {
                by_node.entry(n.name.clone()).or_default();
            }
        }
        let nodes: Vec<String> = by_node.keys().cloned().collect();
        let by_node = &by_node;
        let mut results = self
            .on_nodes(&nodes, |node, mut c| async move {
                let node_defs = by_node.get(&node).cloned().unwrap_or_default();
                Ok(c.sync(node_defs, dry_run, prune).await?)
            })
            .await;
        for (node, result) in &mut results {
            if let (Ok(items), Some(pre)) = (result, builds.remove(node.as_str())) {
                items.splice(0..0, pre);
            }
        }
        if !dry_run && !self.edge_nodes().is_empty() {
            for (node, result) in &mut results {
                if let Ok(items) = result {
                    let edge = self.sync_edges(&defs, node, items).await;
                    items.extend(edge);
                }
            }
        }
        if prune {
            for (edge, pruned) in self.prune_edges(&defs, dry_run).await {
                let Some((_, result)) = results.iter_mut().find(|(n, _)| *n == edge) else {
                    continue;
                };
                match (result, pruned) {
                    (Ok(items), Ok(more)) => items.extend(more),
                    (result @ Ok(_), Err(e)) => *result = Err(e),
                    (Err(_), _) => {}
                }
            }
        }
        Ok(results)
    }

    /// The `build` items for `def`: one per image its registry lacks.
    async fn ensure_images(
        &self,
        def: &ServiceDefinition,
        registry: &crate::images::ImageRegistry,
        dry_run: bool,
    ) -> Vec<SyncItem> {
        let item = |reason: String, error: Option<String>| SyncItem {
            service: def.name.clone(),
            action: SyncAction::Build,
            reason,
            error,
        };
        let mut missing = Vec::new();
        let mut out = Vec::new();
        for c in def.resolve(&self.config.conventions).components {
            // Local images (`localhost/…`) are not in any registry.
            let remote = crate::images::ImageRef::parse(&c.image)
                .ok()
                .and_then(|r| r.registry)
                .is_some_and(|r| r != "localhost");
            if !remote {
                continue;
            }
            match registry.exists(&c.image).await {
                Ok(true) => {}
                Ok(false) => missing.push(c.image.clone()),
                Err(e) => out.push(item(
                    format!("cannot check {}", c.image),
                    Some(e.to_string()),
                )),
            }
        }
        if missing.is_empty() {
            return out;
        }
        let plan = match &self.config.build.workspace {
            None => Err(BuildError::NoWorkspace),
            Some(w) => crate::build::plan(def, w, &self.config.conventions),
        };
        let items = match plan {
            Ok(items) if missing.iter().all(|m| items.iter().any(|i| &i.image == m)) => items,
            Ok(_) | Err(_) => {
                let why = match plan {
                    Err(e) => e.to_string(),
                    Ok(_) => "no [build.images] entry builds it".into(),
                };
                out.push(item(
                    format!("{} not in the registry", missing.join(", ")),
                    Some(format!(
                        "cannot build it here ({why}); build and push it first: mcp build {}",
                        def.name
                    )),
                ));
                return out;
            }
        };
        let reason = format!(
            "{} not in the registry: build from {}",
            missing.join(", "),
            items
                .iter()
                .map(|i| i.dockerfile.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if dry_run {
            out.push(item(reason, None));
            return out;
        }
        let settings = match self.config.registry_settings() {
            Ok(s) => s,
            Err(e) => {
                out.push(item(reason, Some(e.to_string())));
                return out;
            }
        };
        let error = run_build(items, settings, Box::new(|_, _, _| {}))
            .await
            .err()
            .map(|e| e.to_string());
        out.push(item(
            reason.replace(": build from", ": built and pushed from"),
            error,
        ));
        out
    }
}

/// One image built and pushed by [`Fleet::build`], as its registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// What was built.
    pub item: BuildItem,
    /// The pushed manifest's digest and size.
    pub summary: crate::images::ImageSummary,
}

/// Receives each line of Podman's output while building or pushing an item.
pub type BuildProgress = Box<dyn FnMut(&BuildItem, Stage, &str) + Send>;

impl Fleet {
    /// Builds the images of `def` from the configured workspace and pushes them
    /// (every build before any push, so a failed build pushes nothing), then reads
    /// each back from its registry.
    pub async fn build(
        &self,
        def: &ServiceDefinition,
        progress: BuildProgress,
    ) -> Result<Vec<BuiltImage>, crate::Error> {
        let workspace = self
            .config
            .build
            .workspace
            .as_deref()
            .ok_or(BuildError::NoWorkspace)?;
        let items = crate::build::plan(def, workspace, &self.config.conventions)?;
        let settings = self.config.registry_settings()?;
        let registry = crate::images::ImageRegistry::new(settings.clone());
        let items = run_build(items, settings, progress).await?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let summary = registry.summary(&item.image).await?;
            out.push(BuiltImage { item, summary });
        }
        Ok(out)
    }
}

/// [`crate::build::build_and_push`] off the async threads.
async fn run_build(
    items: Vec<BuildItem>,
    settings: crate::images::RegistrySettings,
    mut progress: BuildProgress,
) -> Result<Vec<BuildItem>, BuildError> {
    tokio::task::spawn_blocking(move || {
        crate::build::build_and_push(
            &items,
            &crate::runtime::Podman::new(),
            &settings,
            &mut *progress,
        )
        .map(|()| items)
    })
    .await
    .map_err(|e| BuildError::Io(format!("build task: {e}")))?
}

/// Awaits every future concurrently, keeping their order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
