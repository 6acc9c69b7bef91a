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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrateStep {
    /// `stop`, `snapshot`, `copy`, `deploy`, `verify`, `edge`, `undeploy`,
    /// `remove-data`, `definition`.
    pub step: &'static str,
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
        let (path, def) = self.definition(service)?;
        let from = def.node.clone();
        let name = def.name.clone();
        let target = self.config().node(to, self.path())?;
        if from == to {
            return Err(ConfigError::Invalid {
                path: path.clone(),
                message: format!("{name} already runs on {to}"),
            }
            .into());
        }
        if target.role == Some(mcp_model::view::NodeRole::Edge) {
            return Err(ConfigError::Invalid {
                path: self.path().to_owned(),
                message: format!("{to} is an edge node: it runs no containers"),
            }
            .into());
        }
        let mut done = Vec::new();
        let mut step = |step: &'static str, detail: String, done: &mut Vec<MigrateStep>| {
            let s = MigrateStep { step, detail };
            progress(&s);
            done.push(s);
        };
        let mut moved = def.clone();
        moved.node = to.to_owned();
        // Public routes: every edge node must accept the new backend before
        // anything stops.
        let edge_to = self.edge_requests(&moved, to)?;
        let edge_back = self.edge_requests(&def, &from)?;
        if !self.edge_nodes().is_empty() {
            self.check_edge_routes(&edge_to).await?;
        }
        let mut src = self.client(&from).await?;
        let mut dst = self.client(to).await?;
        let fail = |step: &'static str, e: crate::Error, restored: Option<String>| MigrateError {
            service: name.clone(),
            target: to.to_owned(),
            step,
            source: Box::new(e),
            restored,
        };

        src.stop(&name)
            .await
            .map_err(|e| fail("stop", e.into(), None))?;
        step("stop", format!("stopped on {from}"), &mut done);

        // From here on, a failure starts the service on the source again.
        let snap = match src.create_snapshot(&name).await {
            Ok(s) => s,
            Err(e) => {
                let r = restart(&mut src, &name, &from).await;
                return Err(fail("snapshot", e.into(), Some(r)).into());
            }
        };
        step(
            "snapshot",
            format!(
                "{} ({} bytes, sha256 {})",
                snap.name, snap.size_bytes, snap.sha256
            ),
            &mut done,
        );
        match src.copy_snapshot_to(&mut dst, &name, &snap, force).await {
            Ok(n) => step("copy", format!("{n} bytes restored on {to}"), &mut done),
            Err(e) => {
                // The restore is atomic, so a failed copy left the target's data
                // directory as it was. Without --force it had none (else: a
                // conflict), so anything there now is ours: remove it. With
                // --force it may hold data of its own: leave it.
                if !force && e.kind() != mcp_model::ErrorKind::Conflict {
                    let _ = dst.remove_service_data(&name).await;
                }
                let r = restart(&mut src, &name, &from).await;
                return Err(fail("copy", e.into(), Some(r)).into());
            }
        }
        if let Err(e) = dst.deploy(&moved.to_toml()).await {
            undo_target(&mut dst, &name).await;
            let r = restart(&mut src, &name, &from).await;
            return Err(fail("deploy", e.into(), Some(r)).into());
        }
        step("deploy", format!("deployed on {to}"), &mut done);
        let running = match dst.status(&name).await {
            Ok(r) => (r.status.running() == r.status.components.len())
                .then_some(())
                .ok_or_else(|| {
                    crate::Error::NotRunning(format!(
                        "not every component runs on {to}: {}",
                        r.status
                            .components
                            .iter()
                            .map(|c| format!("{} {}", c.name, c.state))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }),
            Err(e) => Err(crate::Error::from(e)),
        };
        if let Err(e) = running {
            undo_target(&mut dst, &name).await;
            let r = restart(&mut src, &name, &from).await;
            return Err(fail("verify", e, Some(r)).into());
        }
        step("verify", format!("running on {to}"), &mut done);
        let failed = if edge_to.is_empty() {
            None
        } else {
            self.setup_edge_routes(&name, &edge_to)
                .await
                .into_iter()
                .find_map(|o| o.result.err().map(|e| (o.node, e)))
        };
        if let Some((node, e)) = failed {
            undo_target(&mut dst, &name).await;
            let r = restart(&mut src, &name, &from).await;
            let back = self.setup_edge_routes(&name, &edge_back).await;
            let r = match back.iter().find(|o| o.result.is_err()) {
                None => r,
                Some(o) => format!("{r}; edge node {} still points at {to}", o.node),
            };
            let e = crate::public::EdgeError {
                node,
                what: "setup".into(),
                source: Box::new(e),
            };
            return Err(fail("edge", e.into(), Some(r)).into());
        }
        if !edge_to.is_empty() {
            let hosts: Vec<&str> = edge_to.iter().map(|r| r.hostname.as_str()).collect();
            step(
                "edge",
                format!("{} now routed to {to}", hosts.join(", ")),
                &mut done,
            );
        }

        // The target serves now; the source's copy goes.
        match src.undeploy(&name).await {
            Ok(_) => step("undeploy", format!("undeployed on {from}"), &mut done),
            Err(e) => step("undeploy", format!("FAILED on {from}: {e}"), &mut done),
        }
        match src.remove_service_data(&name).await {
            Ok(()) => step("remove-data", format!("data removed on {from}"), &mut done),
            Err(e) => step("remove-data", format!("FAILED on {from}: {e}"), &mut done),
        }
        let mut editor = DefinitionEditor::open(&path)?;
        editor.set_node(to)?;
        editor.save()?;
        step(
            "definition",
            format!("{} now names {to}", path.display()),
            &mut done,
        );
        Ok(Migrated {
            service: name,
            node: to.to_owned(),
            steps: done,
        })
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
            .filter(|d| d.node == from)
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
