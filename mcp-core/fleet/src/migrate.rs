//! Moving a service to another node with its data (`mcp migrate`): stop it on the
//! source, snapshot its data, stream the snapshot to the target (checksummed),
//! restore it there, deploy there (ports, certificates, routes, DNS), check that
//! it runs, point the edge nodes' routes of its public hostnames at the target,
//! then undeploy it on the source, remove the source's copy of the data,
//! and point the definition at the target. If any step before the source's
//! undeploy fails, what the target got is removed and the service is started on
//! the source again, as it was.

use crate::client::AgentClient;
use crate::fleet::Fleet;
use mcp_model::config::ConfigError;
use mcp_model::spec::DefinitionEditor;

/// One step of a migration, as it is reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MigrateStep {
    /// `stop`, `snapshot`, `copy`, `deploy`, `verify`, `edge`, `undeploy`,
    /// `remove-data`, `definition`.
    pub step: String,
    /// What happened.
    pub detail: String,
}

/// A service that moved, with every step.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Migrated {
    /// The service.
    pub service: String,
    /// The node it runs on now.
    pub node: String,
    /// What was done, in order.
    pub steps: Vec<MigrateStep>,
}

/// Receives each step as it completes.
pub type MigrateProgress<'a> = &'a mut (dyn FnMut(&MigrateStep) + Send);

/// Why a migration stopped, and what was put back.
#[derive(Debug, thiserror::Error)]
#[error("migrating {service} to {target}: step {step}: {source}{}", restored.as_deref().map(|r| format!(" ({r})")).unwrap_or_default())]
pub struct MigrateError {
    /// The service.
    pub service: String,
    /// The target node.
    pub target: String,
    /// The step that failed.
    pub step: &'static str,
    /// Why.
    #[source]
    pub source: Box<crate::Error>,
    /// What was done to put things back, or what could not be.
    pub restored: Option<String>,
}

impl MigrateError {
    /// The stable classification of this error (the failed step's).
    pub fn kind(&self) -> mcp_model::ErrorKind {
        self.source.kind()
    }
}

impl Fleet {
    /// Moves `service` (its definition names the source node) to node `to`, with
    /// its data. `force` replaces data already on the target.
    pub async fn migrate(
        &self,
        service: &str,
        to: &str,
        force: bool,
        progress: MigrateProgress<'_>,
    ) -> Result<Migrated, crate::Error> {
        let mut m = Migration::prepare(self, service, to, force, progress).await?;
        m.stop().await?;
        // From here on, a failure starts the service on the source again.
        let snap = m.snapshot().await?;
        m.copy(&snap).await?;
        m.deploy().await?;
        m.verify().await?;
        m.edge().await?;
        m.leave_source().await;
        m.definition()?;
        Ok(Migrated {
            service: m.name,
            node: to.to_owned(),
            steps: m.done,
        })
    }
}

/// One migration in progress: the service, both nodes' agents, the edge routes
/// at either end, and the steps so far.
struct Migration<'f> {
    fleet: &'f Fleet,
    path: std::path::PathBuf,
    name: String,
    from: String,
    to: String,
    force: bool,
    moved: mcp_model::spec::ServiceDefinition,
    edge_to: Vec<mcp_model::view::EdgeRouteRequest>,
    edge_back: Vec<mcp_model::view::EdgeRouteRequest>,
    src: AgentClient,
    dst: AgentClient,
    done: Vec<MigrateStep>,
    progress: MigrateProgress<'f>,
}

impl<'f> Migration<'f> {
    /// Checks the move (another node, a compute node, every edge node accepts the
    /// new backend) and connects to both nodes; nothing changes yet.
    async fn prepare(
        fleet: &'f Fleet,
        service: &str,
        to: &str,
        force: bool,
        progress: MigrateProgress<'f>,
    ) -> Result<Migration<'f>, crate::Error> {
        let (path, def) = fleet.definition(service)?;
        let from = crate::placement::placed_node(&def)?.to_owned();
        let target = fleet.config().node(to, fleet.path())?;
        let invalid = |path: &std::path::Path, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        if from == to {
            return Err(invalid(&path, format!("{} already runs on {to}", def.name)).into());
        }
        if target.role == Some(mcp_model::view::NodeRole::Edge) {
            let message = format!("{to} is an edge node: it runs no containers");
            return Err(invalid(fleet.path(), message).into());
        }
        let mut moved = def.clone();
        moved.node = Some(to.to_owned());
        let edge_to = fleet.edge_requests(&moved, to)?;
        let edge_back = fleet.edge_requests(&def, &from)?;
        if !fleet.edge_nodes().is_empty() {
            fleet.check_edge_routes(&edge_to).await?;
        }
        Ok(Migration {
            src: fleet.client(&from).await?,
            dst: fleet.client(to).await?,
            fleet,
            path,
            name: def.name.clone(),
            from,
            to: to.to_owned(),
            force,
            moved,
            edge_to,
            edge_back,
            done: Vec::new(),
            progress,
        })
    }

    fn step(&mut self, step: &'static str, detail: String) {
        let s = MigrateStep {
            step: step.to_owned(),
            detail,
        };
        (self.progress)(&s);
        self.done.push(s);
    }

    fn fail(&self, step: &'static str, e: crate::Error, restored: Option<String>) -> MigrateError {
        MigrateError {
            service: self.name.clone(),
            target: self.to.clone(),
            step,
            source: Box::new(e),
            restored,
        }
    }

    /// Undoes the move after `step` failed: what the target got is removed (when
    /// `target`), and the service runs on the source again.
    async fn put_back(
        &mut self,
        step: &'static str,
        e: crate::Error,
        target: bool,
    ) -> crate::Error {
        if target {
            undo_target(&mut self.dst, &self.name).await;
        }
        let r = restart(&mut self.src, &self.name, &self.from).await;
        self.fail(step, e, Some(r)).into()
    }

    /// Step stop: the service stops on the source.
    async fn stop(&mut self) -> Result<(), crate::Error> {
        if let Err(e) = self.src.stop(&self.name).await {
            return Err(self.fail("stop", e.into(), None).into());
        }
        self.step("stop", format!("stopped on {}", self.from));
        Ok(())
    }

    /// Step snapshot: its data, on the source.
    async fn snapshot(&mut self) -> Result<mcp_model::view::SnapshotInfo, crate::Error> {
        match self.src.create_snapshot(&self.name).await {
            Ok(s) => {
                let detail = format!("{} ({} bytes, sha256 {})", s.name, s.size_bytes, s.sha256);
                self.step("snapshot", detail);
                Ok(s)
            }
            Err(e) => Err(self.put_back("snapshot", e.into(), false).await),
        }
    }

    /// Step copy: the snapshot streamed to the target, checked and restored there.
    async fn copy(&mut self, snap: &mcp_model::view::SnapshotInfo) -> Result<(), crate::Error> {
        match self
            .src
            .copy_snapshot_to(&mut self.dst, &self.name, snap, self.force)
            .await
        {
            Ok(n) => {
                self.step("copy", format!("{n} bytes restored on {}", self.to));
                Ok(())
            }
            Err(e) => {
                // The restore is atomic, so a failed copy left the target's data
                // directory as it was. Without --force it had none (else: a
                // conflict), so anything there now is ours: remove it. With
                // --force it may hold data of its own: leave it.
                if !self.force && e.kind() != mcp_model::ErrorKind::Conflict {
                    let _ = self.dst.remove_service_data(&self.name).await;
                }
                Err(self.put_back("copy", e.into(), false).await)
            }
        }
    }

    /// Step deploy: the service deployed on the target.
    async fn deploy(&mut self) -> Result<(), crate::Error> {
        if let Err(e) = self.dst.deploy(&self.moved.to_toml()).await {
            return Err(self.put_back("deploy", e.into(), true).await);
        }
        self.step("deploy", format!("deployed on {}", self.to));
        Ok(())
    }

    /// Step verify: every component runs on the target.
    async fn verify(&mut self) -> Result<(), crate::Error> {
        let running = match self.dst.status(&self.name).await {
            Ok(r) if r.status.running() == r.status.components.len() => Ok(()),
            Ok(r) => Err(crate::Error::NotRunning(format!(
                "not every component runs on {}: {}",
                self.to,
                r.status
                    .components
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.state))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            Err(e) => Err(crate::Error::from(e)),
        };
        if let Err(e) = running {
            return Err(self.put_back("verify", e, true).await);
        }
        self.step("verify", format!("running on {}", self.to));
        Ok(())
    }

    /// Step edge: the edge nodes route the service's public hostnames to the
    /// target.
    async fn edge(&mut self) -> Result<(), crate::Error> {
        if self.edge_to.is_empty() {
            return Ok(());
        }
        let failed = self
            .fleet
            .setup_edge_routes(&self.name, &self.edge_to)
            .await
            .into_iter()
            .find_map(|o| o.result.err().map(|e| (o.node, e)));
        if let Some((node, e)) = failed {
            undo_target(&mut self.dst, &self.name).await;
            let r = restart(&mut self.src, &self.name, &self.from).await;
            let back = self
                .fleet
                .setup_edge_routes(&self.name, &self.edge_back)
                .await;
            let r = match back.iter().find(|o| o.result.is_err()) {
                None => r,
                Some(o) => format!("{r}; edge node {} still points at {}", o.node, self.to),
            };
            let e = crate::public::EdgeError {
                node,
                what: "setup".into(),
                source: Box::new(e),
            };
            return Err(self.fail("edge", e.into(), Some(r)).into());
        }
        let hosts: Vec<&str> = self.edge_to.iter().map(|r| r.hostname.as_str()).collect();
        let detail = format!("{} now routed to {}", hosts.join(", "), self.to);
        self.step("edge", detail);
        Ok(())
    }

    /// Steps undeploy and remove-data: the target serves now, so the source's
    /// copy goes (a failure is reported, not undone).
    async fn leave_source(&mut self) {
        let from = self.from.clone();
        match self.src.undeploy(&self.name).await {
            Ok(_) => self.step("undeploy", format!("undeployed on {from}")),
            Err(e) => self.step("undeploy", format!("FAILED on {from}: {e}")),
        }
        match self.src.remove_service_data(&self.name).await {
            Ok(()) => self.step("remove-data", format!("data removed on {from}")),
            Err(e) => self.step("remove-data", format!("FAILED on {from}: {e}")),
        }
    }

    /// Step definition: the definition names the target.
    fn definition(&mut self) -> Result<(), crate::Error> {
        let mut editor = DefinitionEditor::open(&self.path)?;
        editor.set_node(&self.to)?;
        editor.save()?;
        let detail = format!("{} now names {}", self.path.display(), self.to);
        self.step("definition", detail);
        Ok(())
    }
}

impl Fleet {
    /// Moves every service whose definition names node `from` to node `to`, one
    /// at a time in name order, stopping at the first that fails (that one is
    /// running on `from` again; those before it stay moved). Returns each moved
    /// service with its steps.
    pub async fn evacuate(
        &self,
        from: &str,
        to: &str,
        force: bool,
        progress: &mut (dyn FnMut(&str, &MigrateStep) + Send),
    ) -> Result<Vec<Migrated>, crate::Error> {
        self.config().node(from, self.path())?;
        let services: Vec<String> = mcp_model::spec::load_dir(&self.config().services_dir())?
            .into_iter()
            .filter(|d| d.node.as_deref() == Some(from))
            .map(|d| d.name)
            .collect();
        let mut moved = Vec::new();
        for name in services {
            let mut each = |s: &MigrateStep| progress(&name, s);
            moved.push(self.migrate(&name, to, force, &mut each).await?);
        }
        Ok(moved)
    }
}

/// Starts `name` on the source again; says how that went.
async fn restart(src: &mut AgentClient, name: &str, from: &str) -> String {
    match src.start(name).await {
        Ok(_) => format!("started again on {from}"),
        Err(e) => format!("could not start it again on {from}: {e}"),
    }
}

/// Removes what a failed migration put on the target.
async fn undo_target(dst: &mut AgentClient, name: &str) {
    let _ = dst.undeploy(name).await;
    let _ = dst.remove_service_data(name).await;
}
