//! What undoes each change an operation makes ([`Undo`]), written to the journal
//! as it is made, and running the undos of a failed operation newest first.

use std::time::SystemTime;

use mcp_model::view::DesiredState;

use super::Engine;
use crate::registry::RegistryError;

/// Undo actions collected while a plan runs, kept in the registry's journal until
/// the operation commits.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) enum Undo {
    ReleasePorts(Vec<u16>),
    RemoveContainer(String),
    /// Remove a container this operation creates for `service`, if it exists and
    /// is ours (journaled before it is made; a container holding the name that
    /// belongs to anyone else is left alone).
    RemoveCreated {
        /// The container.
        name: String,
        /// The service it is created for.
        service: String,
    },
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
    /// Remove the service's data directory this operation created, if it is
    /// still empty (what a container wrote there is never removed).
    RemoveDataDir(std::path::PathBuf),
}

impl Engine {
    pub(super) fn undo_steps(&self, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            let result = match &u {
                Undo::ReleasePorts(ports) => self.ports.release(ports).map_err(|e| e.to_string()),
                Undo::RemoveCreated { name, service } => self
                    .remove_if_ours(name, service)
                    .map_err(|e| e.to_string()),
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
                Undo::RemoveDataDir(dir) => match std::fs::remove_dir(dir) {
                    Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
                        tracing::info!(dir = %dir.display(), "data directory kept: not empty");
                        Ok(())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    other => other.map_err(|e| format!("remove {}: {e}", dir.display())),
                },
            };
            if let Err(e) = result {
                tracing::error!(error = %e, "rollback step failed");
            }
        }
    }

    /// Removes container `name` when it carries this engine's instance and
    /// `service`'s labels; anything else holding the name is not ours to remove.
    fn remove_if_ours(&self, name: &str, service: &str) -> Result<(), crate::Error> {
        use crate::runtime::labels;
        let Some(info) = self.runtime.inspect(name)? else {
            return Ok(());
        };
        let ours = info.label(labels::INSTANCE) == Some(self.config.instance.as_str())
            && info.label(labels::SERVICE) == Some(service);
        if !ours {
            return Ok(());
        }
        // A container its restart policy is restarting can come back from one
        // removal (Podman's cleanup process restarts what exited): look again.
        for _ in 0..3 {
            self.runtime.remove(name)?;
            if self.runtime.inspect(name)?.is_none() {
                return Ok(());
            }
            tracing::warn!(
                container = name,
                "still there after its removal; removing it again"
            );
        }
        Ok(())
    }
}
