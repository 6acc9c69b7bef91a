//! Public services across the fleet, from the operator's side: which edge routes
//! a definition needs (one per public route, on every edge node), and deploying,
//! undeploying and moving a service together with them. The edge nodes themselves
//! check and apply each route (see [`mcp_model::view::EdgeRouteRequest`]).
//!
//! An edge route reaches the service through its compute node's proxy: the
//! backend is the compute node's address (the host its agent is reached at: agents
//! listen on the overlay) and the route's listener port, re-encrypted, for the
//! service's internal hostname `<service>.<zone>`.

use crate::fleet::Fleet;
use crate::results::{NodeFailure, NodeResults};
use mcp_model::config::ConfigError;
use mcp_model::spec::ServiceDefinition;
use mcp_model::view::{EdgeRouteRequest, EdgeRouteStatus, Report, SyncAction, SyncItem};
use mcp_model::view::{NodeRole, Placement};

/// The edge proxies' listener for public traffic.
pub const PUBLIC_LISTENER: &str = ":443";

/// An edge node refused or failed a service's edge routes.
#[derive(Debug, thiserror::Error)]
#[error("edge node {node}: {what}: {source}")]
pub struct EdgeError {
    /// The edge node.
    pub node: String,
    /// What was being done, and what was done about it.
    pub what: String,
    /// Why.
    #[source]
    pub source: Box<crate::Error>,
}

impl EdgeError {
    /// The stable classification of this error (its cause's).
    pub fn kind(&self) -> mcp_model::ErrorKind {
        self.source.kind()
    }
}

/// What one edge node did with a service's edge routes.
#[derive(Debug)]
pub struct EdgeOutcome {
    /// The edge node.
    pub node: String,
    /// The routes it now serves, or why it could not.
    pub result: Result<Vec<EdgeRouteStatus>, crate::Error>,
}

/// A deploy of a service and its edge routes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Deployed {
    /// The compute node's report.
    #[serde(flatten)]
    pub report: Report,
    /// The edge routes now serving its public hostnames (empty when it has none).
    pub edges: Vec<EdgeRouteStatus>,
    /// Public hostnames nothing routes (the fleet has no edge node).
    pub unrouted: Vec<String>,
    /// Where the service was placed, when its definition named no node.
    pub placement: Option<Placement>,
}

/// An undeploy of a service and of its edge routes.
#[derive(Debug, serde::Serialize)]
pub struct Undeployed {
    /// The compute node's report.
    #[serde(flatten)]
    pub report: Report,
    /// The edge routes removed.
    pub edges_removed: Vec<RemovedEdgeRoute>,
    /// Edge nodes that could not remove the service's routes: they stay until
    /// the undeploy runs again.
    pub edge_failures: Vec<NodeFailure>,
}

/// One edge route an undeploy removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemovedEdgeRoute {
    /// The edge node.
    pub edge: String,
    /// The public hostname.
    pub hostname: String,
}

impl Fleet {
    /// The fleet's edge nodes, in configuration order.
    pub fn edge_nodes(&self) -> Vec<String> {
        self.config()
            .nodes
            .iter()
            .filter(|n| n.role == Some(NodeRole::Edge))
            .map(|n| n.name.clone())
            .collect()
    }

    /// The edge routes of every edge node (or of `node` alone), asked at once;
    /// with `probe`, each backend is tried too. A fleet without edge nodes is
    /// not configured for this.
    pub async fn edge_routes(
        &self,
        node: Option<&str>,
        probe: bool,
    ) -> Result<NodeResults<Vec<EdgeRouteStatus>>, crate::Error> {
        let nodes = match node {
            Some(n) => self.nodes(Some(n))?,
            None => self.edge_nodes(),
        };
        if nodes.is_empty() {
            return Err(crate::Error::NotConfigured(
                "no edge nodes: give a node `role = \"edge\"` in the configuration".into(),
            ));
        }
        self.ask(
            &nodes,
            |_, mut c| async move { Ok(c.edge_routes(probe).await?) },
        )
        .await
        .require_any()
    }

    /// The edge routes `def` needs while it runs on `node`: one per public route.
    pub fn edge_requests(
        &self,
        def: &ServiceDefinition,
        node: &str,
    ) -> Result<Vec<EdgeRouteRequest>, crate::Error> {
        let entry = self.config().node(node, self.path())?;
        let resolved = def.resolve(&self.config().conventions);
        let mut out = Vec::new();
        for r in resolved.components.iter().flat_map(|c| &c.routes) {
            let Some(public) = &r.public_hostname else {
                continue;
            };
            let Some(address) = entry.all_addresses().into_iter().next() else {
                return Err(ConfigError::Invalid {
                    path: self.path().to_owned(),
                    message: format!(
                        "node {node} has no address: edge nodes cannot reach {}",
                        def.name
                    ),
                }
                .into());
            };
            let host = mcp_model::config::host_of(&address);
            let backend = if host.contains(':') {
                format!("[{host}]:{}", r.listener_port)
            } else {
                format!("{host}:{}", r.listener_port)
            };
            out.push(EdgeRouteRequest {
                hostname: public.clone(),
                service: def.name.clone(),
                node: node.to_owned(),
                backend_hostname: r.hostname.clone(),
                backend,
                listener: PUBLIC_LISTENER.to_owned(),
            });
        }
        Ok(out)
    }

    /// Has every edge node check `requests` (nothing changes). The first refusal
    /// or unreachable edge node is the error.
    pub async fn check_edge_routes(
        &self,
        requests: &[EdgeRouteRequest],
    ) -> Result<(), crate::Error> {
        if requests.is_empty() {
            return Ok(());
        }
        let edges = self.edge_nodes();
        let results = self
            .on_nodes(&edges, |_, mut c| async move {
                for r in requests {
                    c.setup_edge_route(r, true).await?;
                }
                Ok(())
            })
            .await;
        for (node, r) in results {
            r.map_err(|e| edge_error(&node, "check", e))?;
        }
        Ok(())
    }

    /// Makes every edge node route exactly `requests` for `service`, all nodes at
    /// once: each request set up (an upsert), and the service's other edge routes
    /// (hostnames no longer public) removed.
    pub async fn setup_edge_routes(
        &self,
        service: &str,
        requests: &[EdgeRouteRequest],
    ) -> Vec<EdgeOutcome> {
        let edges = self.edge_nodes();
        self.on_nodes(&edges, |_, mut c| async move {
            let mut done = Vec::new();
            for r in requests {
                if let Some(s) = c.setup_edge_route(r, false).await? {
                    done.push(s);
                }
            }
            let stale: Vec<String> = c
                .edge_routes(false)
                .await?
                .into_iter()
                .filter(|s| {
                    s.route.service == service
                        && !requests.iter().any(|r| r.hostname == s.route.hostname)
                })
                .map(|s| s.route.hostname)
                .collect();
            for h in stale {
                c.remove_edge_routes(service, Some(&h)).await?;
            }
            Ok(done)
        })
        .await
        .into_iter()
        .map(|(node, result)| EdgeOutcome { node, result })
        .collect()
    }

    /// Removes `service`'s edge routes from every edge node; each node's result
    /// (the hostnames removed).
    pub async fn remove_edge_routes(
        &self,
        service: &str,
    ) -> Vec<(String, Result<Vec<String>, crate::Error>)> {
        let edges = self.edge_nodes();
        self.on_nodes(&edges, |_, mut c| async move {
            Ok(c.remove_edge_routes(service, None).await?)
        })
        .await
    }

    /// Deploys `def` on its node with its edge routes: every edge node checks the
    /// routes first (a refusal changes nothing), then the compute node deploys,
    /// then the edge nodes route to it (and drop routes of hostnames no longer
    /// public). If an edge node fails after a first
    /// deploy, the service is undeployed again and the other edge routes removed;
    /// after a redeploy the new version stays (edge routes point at the node's
    /// proxy, which did not move) and the edge failure is reported.
    ///
    /// A `worker` definition naming no node is placed first
    /// ([`Fleet::place`]), here without writing the choice anywhere: deploy a
    /// file with [`Fleet::deploy_file`] so that it stays placed.
    pub async fn deploy(&self, def: &ServiceDefinition) -> Result<Deployed, crate::Error> {
        let mut def = def.clone();
        let placement = self.place(&mut def, None, false).await?;
        self.deploy_placed(&def, placement).await
    }

    /// [`Fleet::deploy`] of the definition read from `path`: when it names no
    /// node, the node chosen is written into the file (comments and layout
    /// kept) before the deploy, so the service stays where it was put.
    pub async fn deploy_file(
        &self,
        path: &std::path::Path,
        mut def: ServiceDefinition,
    ) -> Result<Deployed, crate::Error> {
        let placement = self.place(&mut def, Some(path), false).await?;
        self.deploy_placed(&def, placement).await
    }

    async fn deploy_placed(
        &self,
        def: &ServiceDefinition,
        placement: Option<Placement>,
    ) -> Result<Deployed, crate::Error> {
        let node = crate::placement::placed_node(def)?;
        let requests = self.edge_requests(def, node)?;
        if !self.edge_nodes().is_empty() {
            self.check_edge_routes(&requests).await?;
        }
        let mut compute = self.client(node).await?;
        let report = compute.deploy(&def.to_toml()).await?;
        let mut deployed = self
            .follow_on_edges(def, &mut compute, report, &requests)
            .await?;
        deployed.placement = placement;
        Ok(deployed)
    }

    /// After the compute node deployed `def` (`report`): every edge node routes
    /// exactly its public hostnames (`requests`). If an edge node fails after a
    /// first deploy, the service is undeployed again and the other edge routes
    /// removed; after a redeploy the new version stays and the failure is
    /// reported.
    pub(crate) async fn follow_on_edges(
        &self,
        def: &ServiceDefinition,
        compute: &mut crate::client::AgentClient,
        mut report: Report,
        requests: &[EdgeRouteRequest],
    ) -> Result<Deployed, crate::Error> {
        if self.edge_nodes().is_empty() || requests.is_empty() {
            // A service that is not (or no longer) public: edge routes it had go,
            // but an edge node that cannot be asked does not fail the deploy.
            for o in self.setup_edge_routes(&def.name, &[]).await {
                if let Err(e) = o.result {
                    report.warnings.push(format!(
                        "edge node {}: could not check for edge routes of {} to remove: {e}",
                        o.node, def.name
                    ));
                }
            }
            return Ok(Deployed {
                report,
                edges: Vec::new(),
                unrouted: requests.iter().map(|r| r.hostname.clone()).collect(),
                placement: None,
            });
        }
        let mut routes = Vec::new();
        let mut failure = None;
        for o in self.setup_edge_routes(&def.name, requests).await {
            match o.result {
                Ok(r) => routes.extend(r),
                Err(e) if failure.is_none() => failure = Some((o.node, e)),
                Err(_) => {}
            }
        }
        if let Some((node, e)) = failure {
            if report.created {
                let _ = compute.undeploy(&def.name).await;
                let _ = self.remove_edge_routes(&def.name).await;
                return Err(edge_error(
                    &node,
                    &format!("setup (the deploy on {} was undone)", report.node),
                    e,
                ));
            }
            return Err(edge_error(
                &node,
                &format!(
                    "setup (the new version runs on {}; run the deploy again)",
                    report.node
                ),
                e,
            ));
        }
        Ok(Deployed {
            report,
            edges: routes,
            unrouted: Vec::new(),
            placement: None,
        })
    }

    /// Undeploys `service` from `node`, then removes its edge routes (the compute
    /// node first, so an edge answers 502 rather than serve a stale backend). The
    /// edge nodes' results are returned for reporting; an unreachable edge keeps
    /// its route until the undeploy is run again. A service the node does not
    /// know is `NotFound`, unless edge routes of it were left to remove (an
    /// undeploy run again after an edge node was down).
    pub async fn undeploy(&self, service: &str, node: &str) -> Result<Undeployed, crate::Error> {
        let (report, unknown) = match self.client(node).await?.undeploy(service).await {
            Ok(r) => (r, None),
            Err(e) if e.kind() == mcp_model::ErrorKind::NotFound => {
                let mut r = Report::new(service, node);
                r.warnings
                    .push(format!("service {service} is not deployed on {node}"));
                (r, Some(e))
            }
            Err(e) => return Err(e.into()),
        };
        let mut done = Undeployed {
            report,
            edges_removed: Vec::new(),
            edge_failures: Vec::new(),
        };
        for (edge, r) in self.remove_edge_routes(service).await {
            match r {
                Ok(hosts) => {
                    done.edges_removed
                        .extend(hosts.into_iter().map(|hostname| RemovedEdgeRoute {
                            edge: edge.clone(),
                            hostname,
                        }))
                }
                Err(error) => done.edge_failures.push(NodeFailure { node: edge, error }),
            }
        }
        match unknown {
            Some(e) if done.edges_removed.is_empty() && done.edge_failures.is_empty() => {
                Err(e.into())
            }
            _ => Ok(done),
        }
    }
}

impl Fleet {
    /// After a sync of `node`: the edge routes of every public service it now runs
    /// are set up (an upsert, so lost routes come back), and those of services it
    /// undeployed are removed. One `edge` item per service touched.
    pub(crate) async fn sync_edges(
        &self,
        defs: &[ServiceDefinition],
        node: &str,
        items: &[SyncItem],
    ) -> Vec<SyncItem> {
        let mut out = Vec::new();
        for item in items {
            let done = |reason: String, error: Option<String>| SyncItem {
                service: item.service.clone(),
                action: SyncAction::Edge,
                reason,
                error,
            };
            match item.action {
                _ if item.error.is_some() => {}
                SyncAction::Undeploy => {
                    let mut removed = Vec::new();
                    let mut errors = Vec::new();
                    for (edge, r) in self.remove_edge_routes(&item.service).await {
                        match r {
                            Ok(h) => {
                                removed.extend(h.into_iter().map(|h| format!("{h} on {edge}")))
                            }
                            Err(e) => errors.push(format!("edge node {edge}: {e}")),
                        }
                    }
                    if !removed.is_empty() || !errors.is_empty() {
                        out.push(done(
                            format!("removed edge routes {}", removed.join(", ")),
                            Some(errors.join("; ")).filter(|e| !e.is_empty()),
                        ));
                    }
                }
                SyncAction::Deploy
                | SyncAction::Redeploy
                | SyncAction::Start
                | SyncAction::Unchanged => {
                    let Some(def) = defs.iter().find(|d| d.name == item.service) else {
                        continue;
                    };
                    let requests = match self.edge_requests(def, node) {
                        // Not public: only a changed definition can have dropped
                        // public routes that edge nodes still serve.
                        Ok(r) if r.is_empty() && item.action != SyncAction::Redeploy => continue,
                        Ok(r) => r,
                        Err(e) => {
                            out.push(done("edge routes".into(), Some(e.to_string())));
                            continue;
                        }
                    };
                    let hosts: Vec<&str> = requests.iter().map(|r| r.hostname.as_str()).collect();
                    let errors: Vec<String> = self
                        .setup_edge_routes(&def.name, &requests)
                        .await
                        .into_iter()
                        .filter_map(|o| {
                            o.result.err().map(|e| format!("edge node {}: {e}", o.node))
                        })
                        .collect();
                    if !hosts.is_empty() || !errors.is_empty() {
                        out.push(done(
                            format!("{} routed to {node}", hosts.join(", ")),
                            Some(errors.join("; ")).filter(|e| !e.is_empty()),
                        ));
                    }
                }
                SyncAction::Build | SyncAction::Stop | SyncAction::Edge | SyncAction::Place => {}
            }
        }
        out
    }

    /// With `sync --prune`: every edge node drops the routes of services that have
    /// no definition (left behind when an undeploy could not reach it), one `edge`
    /// item per service; with `dry_run` they are only named. Each edge node's
    /// answer in place.
    pub(crate) async fn prune_edges(
        &self,
        defs: &[ServiceDefinition],
        dry_run: bool,
    ) -> Vec<(String, Result<Vec<SyncItem>, crate::Error>)> {
        let edges = self.edge_nodes();
        let defined: std::collections::HashSet<&str> =
            defs.iter().map(|d| d.name.as_str()).collect();
        let defined = &defined;
        self.on_nodes(&edges, |_, mut c| async move {
            let mut stale: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for s in c.edge_routes(false).await? {
                if !defined.contains(s.route.service.as_str()) {
                    stale
                        .entry(s.route.service)
                        .or_default()
                        .push(s.route.hostname);
                }
            }
            let mut items = Vec::new();
            for (service, hosts) in stale {
                if !dry_run {
                    c.remove_edge_routes(&service, None).await?;
                }
                items.push(SyncItem {
                    reason: format!(
                        "no definition: {} {}",
                        if dry_run { "would remove" } else { "removed" },
                        hosts.join(", ")
                    ),
                    service,
                    action: SyncAction::Edge,
                    error: None,
                });
            }
            Ok(items)
        })
        .await
    }
}

/// An edge node's failure, named.
fn edge_error(node: &str, what: &str, e: crate::Error) -> crate::Error {
    EdgeError {
        node: node.to_owned(),
        what: what.to_owned(),
        source: Box::new(e),
    }
    .into()
}
