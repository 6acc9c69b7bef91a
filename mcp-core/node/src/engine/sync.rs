//! Declarative sync: the desired definitions of a node in, a plan out (and applied).
//! The dry run and the real run use the same plan; a redeploy's reason says
//! what the deploy planner found it would do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mcp_model::names::ServiceName;
use mcp_model::view::{SyncAction, SyncItem};

use super::{Engine, EngineError};
use mcp_model::spec::{ServiceDefinition, ValidatedDefinition};

impl Engine {
    /// The plan that brings this node to `definitions`: deploy new services, redeploy
    /// changed ones, stop those now `active = false` and start those whose
    /// definition had stopped them and now says `active = true`, leave the rest; with
    /// `prune`, undeploy services that have no definition. A service an operator
    /// stopped by hand (`mcp stop`) stays stopped while its definition is unchanged.
    pub fn plan_sync(
        &self,
        definitions: &[ValidatedDefinition],
        prune: bool,
    ) -> Result<Vec<SyncItem>, crate::Error> {
        self.plan_items(definitions, prune, true)
    }

    /// [`Engine::plan_sync`]; a redeploy's reason says what the deploy would do
    /// only when `explain` (a dry run: the real run does it instead).
    fn plan_items(
        &self,
        definitions: &[ValidatedDefinition],
        prune: bool,
        explain: bool,
    ) -> Result<Vec<SyncItem>, crate::Error> {
        let deployed = self.registry.services()?;
        let mut items = Vec::new();
        for def in definitions {
            let item = |action, reason: &str| SyncItem {
                service: def.name.clone(),
                action,
                reason: reason.to_owned(),
                error: None,
            };
            self.check_node(def)?;
            let Some(rec) = deployed.iter().find(|r| r.name() == def.name) else {
                items.push(item(SyncAction::Deploy, "new service"));
                continue;
            };
            let mut as_deployed = rec.definition.clone();
            as_deployed.active = def.active;
            if as_deployed.definition_hash() != def.definition_hash() {
                items.push(item(
                    SyncAction::Redeploy,
                    &self.redeploy_reason(&as_deployed, def, explain),
                ));
            } else if !def.active && rec.active {
                items.push(item(SyncAction::Stop, "active = false"));
            } else if def.active && !rec.active && !rec.definition.active {
                items.push(item(SyncAction::Start, "active = true"));
            } else if def.active && !rec.active {
                items.push(item(
                    SyncAction::Unchanged,
                    "stopped by an operator; `mcp start` runs it again",
                ));
            } else {
                items.push(item(SyncAction::Unchanged, "up to date"));
            }
        }
        if prune {
            for rec in &deployed {
                if !definitions.iter().any(|d| d.name == rec.name()) {
                    items.push(SyncItem {
                        service: rec.name().to_owned(),
                        action: SyncAction::Undeploy,
                        reason: "no definition".into(),
                        error: None,
                    });
                }
            }
        }
        Ok(items)
    }

    /// Why a service is redeployed, in one line: what its definition changes
    /// (environment values never shown), then what the deploy would do
    /// ([`Engine::plan_deploy`]; left out when the planner refuses, as the
    /// deploy will, with its error).
    fn redeploy_reason(
        &self,
        deployed: &ServiceDefinition,
        def: &ValidatedDefinition,
        explain: bool,
    ) -> String {
        let change = mcp_model::spec::diff(deployed, def).summary();
        if !explain {
            return change;
        }
        match self.plan_deploy(def, false).map(|p| p.effects()) {
            Ok(effects) if !effects.is_empty() => format!("{change}; {effects}"),
            _ => change,
        }
    }

    /// Plans (see [`Engine::plan_sync`]) and applies the plan, `[sync]
    /// workers` services at once (each under its own lock, as any operation).
    /// A failing service does not stop the others; its item carries the error.
    pub fn sync(
        &self,
        definitions: &[ValidatedDefinition],
        prune: bool,
        actor: &str,
    ) -> Result<Vec<SyncItem>, crate::Error> {
        let mut items = self.plan_items(definitions, prune, false)?;
        let next = AtomicUsize::new(0);
        // Services applied at once cannot see each other's names in the
        // registry yet: one that clashes with another of this sync is refused
        // here, as a deploy after the other would be.
        let clashes = self.clashes_within(definitions);
        let errors: Vec<Mutex<Option<String>>> = items
            .iter()
            .map(|it| Mutex::new(clashes.get(&it.service).cloned()))
            .collect();
        let workers = self.config.sync_workers.clamp(1, items.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let (Some(item), Some(slot)) = (items.get(i), errors.get(i)) else {
                            break;
                        };
                        if clashes.contains_key(&item.service) {
                            continue;
                        }
                        let error = self
                            .apply_item(item, definitions, actor)
                            .err()
                            .map(|e| e.to_string());
                        *slot.lock().unwrap_or_else(|p| p.into_inner()) = error;
                    }
                });
            }
        });
        for (item, error) in items.iter_mut().zip(errors) {
            item.error = error.into_inner().unwrap_or_else(|p| p.into_inner());
        }
        Ok(items)
    }

    /// For each definition that holds a name an earlier one of `definitions`
    /// holds too (a container name on this node, a hostname), the refusal.
    fn clashes_within(&self, definitions: &[ValidatedDefinition]) -> HashMap<String, String> {
        let resolved: Vec<_> = definitions
            .iter()
            .map(|d| d.resolve(&self.config.conventions))
            .collect();
        let mut out = HashMap::new();
        for (i, r) in resolved.iter().enumerate() {
            let clash = resolved[..i].iter().find_map(|earlier| {
                r.clashes_with(earlier)
                    .into_iter()
                    .next()
                    .map(|c| (earlier, c))
            });
            if let Some((earlier, (field, name, their_field))) = clash {
                out.insert(
                    r.name.clone(),
                    format!(
                        "{} {} ({field}) is held by service {} ({their_field}) of the same sync: rename it in one of them",
                        name.what(),
                        mcp_model::text::quoted(name.as_str()),
                        earlier.name
                    ),
                );
            }
        }
        out
    }

    /// Applies one item of a sync's plan.
    fn apply_item(
        &self,
        item: &SyncItem,
        definitions: &[ValidatedDefinition],
        actor: &str,
    ) -> Result<(), EngineError> {
        let def = definitions.iter().find(|d| d.name == item.service);
        match (item.action, def) {
            // Stop and start through deploy, so the recorded definition carries
            // the `active` that caused them.
            (
                SyncAction::Deploy | SyncAction::Redeploy | SyncAction::Stop | SyncAction::Start,
                Some(def),
            ) => self.deploy(def, actor).map(drop),
            (SyncAction::Undeploy, _) => ServiceName::parse(&item.service)
                .map_err(EngineError::from)
                .and_then(|s| self.undeploy(&s, actor))
                .map(drop),
            _ => Ok(()),
        }
    }
}
