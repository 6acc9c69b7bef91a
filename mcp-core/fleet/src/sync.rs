//! `mcp sync`: every definition of the services directory placed when it names
//! no node, then sent to its node (all
//! nodes at once) and applied there, or only planned. Images a registry lacks are
//! built first, when the service's source tree can build them; public services'
//! edge routes follow; with prune, services without a definition go, and their
//! edge routes with them.

use std::collections::BTreeMap;

use mcp_model::spec::ServiceDefinition;
use mcp_model::view::{SyncAction, SyncItem};

use crate::builder::{BuildError, run_build};
use crate::fleet::Fleet;
use crate::placement::placed_node;
use crate::results::NodeResults;

impl Fleet {
    /// Sends every definition of the services directory to its node (all nodes at
    /// once) and applies it, or only plans with `dry_run`. First, definitions
    /// naming no node are placed ([`Fleet::place`]; a `place` item each, the
    /// files written unless `dry_run`). Then every component's
    /// image is looked up in its registry: a missing one is built and pushed from
    /// the service's source tree (a `build` item), or, with no source, reported as an
    /// error telling the operator to build it first; other services proceed. With
    /// `prune`, services without a definition are undeployed and every edge node
    /// drops their routes. Each node's plan, or why it could not be reached.
    pub async fn sync(
        &self,
        dry_run: bool,
        prune: bool,
    ) -> Result<NodeResults<Vec<SyncItem>>, crate::Error> {
        let mut defs = mcp_model::spec::load_dir(&self.config().services_dir())?;
        let placements = self.place_all(&mut defs, dry_run).await?;
        let mut by_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut builds: BTreeMap<String, Vec<SyncItem>> = BTreeMap::new();
        let registry = mcp_platform::images::ImageRegistry::new(self.registry_settings()?);
        // Like an invalid definition, a public hostname an edge node refuses stops
        // the sync before anything changes.
        if !self.edge_nodes().is_empty() {
            for d in &defs {
                self.check_edge_routes(&self.edge_requests(d, placed_node(d)?)?)
                    .await?;
            }
        }
        for p in placements {
            builds.entry(p.node.clone()).or_default().push(SyncItem {
                service: p.service.clone(),
                action: SyncAction::Place,
                reason: p.to_string(),
                error: None,
            });
        }
        for d in &defs {
            let node = placed_node(d)?;
            self.config().node(node, self.path())?;
            builds
                .entry(node.to_owned())
                .or_default()
                .extend(self.ensure_images(d, &registry, dry_run).await);
            by_node
                .entry(node.to_owned())
                .or_default()
                .push(d.to_toml());
        }
        // With prune, every node is asked: one left without definitions must still
        // undeploy what it runs.
        if prune {
            for n in &self.config().nodes {
                by_node.entry(n.name.clone()).or_default();
            }
        }
        let nodes: Vec<String> = by_node.keys().cloned().collect();
        let by_node = &by_node;
        let mut results = self
            .on_nodes_working(&nodes, |node, mut c| async move {
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
        Ok(NodeResults::from_each(results))
    }

    /// The `build` items for `def`: one per image its registry lacks (built and
    /// pushed unless `dry_run`).
    async fn ensure_images(
        &self,
        def: &ServiceDefinition,
        registry: &mcp_platform::images::ImageRegistry,
        dry_run: bool,
    ) -> Vec<SyncItem> {
        let item = |reason: String, error: Option<String>| SyncItem {
            service: def.name.clone(),
            action: SyncAction::Build,
            reason,
            error,
        };
        let (missing, mut out) = self.missing_images(def, registry, &item).await;
        if missing.is_empty() {
            return out;
        }
        let items = match self.builds_for(def, &missing) {
            Ok(items) => items,
            Err(why) => {
                let reason = format!("{} not in the registry", missing.join(", "));
                let error = format!(
                    "cannot build it here ({why}); build and push it first: mcp build {}",
                    def.name
                );
                out.push(item(reason, Some(error)));
                return out;
            }
        };
        let dockerfiles: Vec<String> = items
            .iter()
            .map(|i| i.dockerfile.display().to_string())
            .collect();
        let missing = missing.join(", ");
        if dry_run {
            let reason = format!(
                "{missing} not in the registry: build from {}",
                dockerfiles.join(", ")
            );
            out.push(item(reason, None));
            return out;
        }
        let error = match self.registry_settings() {
            Ok(settings) => run_build(items, settings, Box::new(|_, _, _| {}))
                .await
                .err()
                .map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        let done = if error.is_none() {
            "built and pushed"
        } else {
            "build"
        };
        let reason = format!(
            "{missing} not in the registry: {done} from {}",
            dockerfiles.join(", ")
        );
        out.push(item(reason, error));
        out
    }

    /// The images of `def` its registry lacks (local `localhost/` images are in
    /// none), and an item for each that could not be checked.
    async fn missing_images(
        &self,
        def: &ServiceDefinition,
        registry: &mcp_platform::images::ImageRegistry,
        item: &dyn Fn(String, Option<String>) -> SyncItem,
    ) -> (Vec<String>, Vec<SyncItem>) {
        let (mut missing, mut out) = (Vec::new(), Vec::new());
        for c in def.resolve(&self.config().conventions).components {
            let remote = mcp_platform::images::ImageRef::parse(&c.image)
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
        (missing, out)
    }

    /// The builds that make every image of `missing`, or why there are none.
    fn builds_for(
        &self,
        def: &ServiceDefinition,
        missing: &[String],
    ) -> Result<Vec<crate::builder::BuildItem>, String> {
        let workspace = self.config().build.workspace.as_ref();
        let items = match workspace {
            None => return Err(BuildError::NoWorkspace.to_string()),
            Some(w) => crate::builder::plan(def, w, &self.config().conventions)
                .map_err(|e| e.to_string())?,
        };
        if missing.iter().all(|m| items.iter().any(|i| &i.image == m)) {
            Ok(items)
        } else {
            Err("no [build.images] entry builds it".into())
        }
    }
}
