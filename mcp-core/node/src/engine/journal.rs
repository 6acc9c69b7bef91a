//! The journal: every lifecycle operation writes what undoes it into the registry
//! as it goes (one row per operation, rewritten after each change), and the row
//! goes in the same transaction that commits the operation. An agent that dies
//! mid-operation finds the row when it starts again and finishes the job: a
//! deploy, start or stop is undone, so the node is as it was before; an undeploy
//! that had begun is completed.

use mcp_model::names::ServiceName;
use std::sync::Arc;
use std::time::SystemTime;

use super::Engine;
use super::undo::Undo;
use crate::registry::{Registry, RegistryError, Tx};

/// The undo steps of one operation, persisted as they are added.
pub(super) struct Journal {
    registry: Arc<Registry>,
    id: i64,
    steps: Vec<Undo>,
}

impl Journal {
    /// Opens the journal of `operation` on `service`.
    pub(super) fn open(
        registry: &Arc<Registry>,
        service: &str,
        operation: &str,
    ) -> Result<Self, RegistryError> {
        let id =
            registry.transaction(|tx| tx.open_journal(service, operation, SystemTime::now()))?;
        Ok(Journal {
            registry: registry.clone(),
            id,
            steps: Vec::new(),
        })
    }

    /// Adds an undo step and writes the journal.
    pub(super) fn push(&mut self, u: Undo) {
        self.steps.push(u);
        let text = serde_json::to_string(&self.steps).unwrap_or_else(|_| "[]".into());
        if let Err(e) = self
            .registry
            .transaction(|tx| tx.set_journal(self.id, &text))
        {
            tracing::error!(error = %e, "cannot write the journal");
        }
    }

    /// Closes the journal inside the committing transaction `tx`.
    pub(super) fn commit_in(&self, tx: &Tx<'_>) -> Result<(), RegistryError> {
        tx.close_journal(self.id)
    }

    /// The steps, for undoing them; the journal row stays until [`Journal::close`].
    pub(super) fn take(&mut self) -> Vec<Undo> {
        std::mem::take(&mut self.steps)
    }

    /// Closes the journal (after a commit, or once undone).
    pub(super) fn close(self) {
        if let Err(e) = self.registry.transaction(|tx| tx.close_journal(self.id)) {
            tracing::error!(error = %e, "cannot close the journal");
        }
    }
}

/// What [`Engine::finish_interrupted`] did with one entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Interrupted {
    /// The service.
    pub service: String,
    /// The operation that was interrupted.
    pub operation: String,
    /// `undone` or `completed`, with the error when that failed.
    pub outcome: String,
}

impl Engine {
    /// Opens the journal of an operation.
    pub(super) fn journal(&self, service: &str, operation: &str) -> Result<Journal, crate::Error> {
        Ok(Journal::open(&self.registry, service, operation)?)
    }

    /// Undoes `journal`'s steps, newest first, then closes it.
    pub(super) fn undo_all(&self, mut journal: Journal) {
        self.undo_steps(journal.take());
        journal.close();
    }

    /// Finishes what an agent that died mid-operation left: every open journal
    /// entry is undone (deploy, start, stop: the node is as before), or, for an
    /// undeploy, completed; each is an event. Then stray replacement containers
    /// and port leases (`-mcp-next`) of interrupted zero-downtime deploys go.
    pub fn finish_interrupted(&self) -> Result<Vec<Interrupted>, crate::Error> {
        let mut out = Vec::new();
        for entry in self.registry.read(|t| t.journal())? {
            let outcome = if entry.operation == "undeploy" {
                self.registry.transaction(|tx| tx.close_journal(entry.id))?;
                match ServiceName::parse(&entry.service)
                    .map_err(super::EngineError::from)
                    .and_then(|s| self.undeploy(&s, "recovery"))
                {
                    Ok(_) => "completed".to_owned(),
                    Err(e) => format!("completing it failed: {e}"),
                }
            } else {
                let steps: Vec<Undo> = match serde_json::from_str(&entry.undo) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!(id = entry.id, error = %e, "unreadable journal entry");
                        Vec::new()
                    }
                };
                self.undo_steps(steps);
                self.registry.transaction(|tx| tx.close_journal(entry.id))?;
                "undone".to_owned()
            };
            self.event(
                "recovery",
                "recover-interrupted",
                &entry.service,
                format!("{} interrupted: {outcome}", entry.operation),
                None,
            );
            out.push(Interrupted {
                service: entry.service,
                operation: entry.operation,
                outcome,
            });
        }
        self.sweep_replacements()?;
        Ok(out)
    }

    /// Removes `-mcp-next` containers of this instance and `-mcp-next` leases: no
    /// replacement is in progress when nothing holds a journal.
    fn sweep_replacements(&self) -> Result<(), crate::Error> {
        let ours = self
            .runtime
            .list(&[(crate::runtime::labels::INSTANCE, &self.config.instance)])?;
        for c in ours
            .iter()
            .filter(|c| c.name.ends_with(super::containers::NEXT_SUFFIX))
        {
            self.runtime.remove(&c.name)?;
        }
        let stray: Vec<u16> = self
            .registry
            .leases()?
            .iter()
            .filter(|l| l.component.ends_with(super::containers::NEXT_SUFFIX))
            .map(|l| l.port)
            .collect();
        if !stray.is_empty() {
            self.ports.release(&stray)?;
        }
        Ok(())
    }
}
