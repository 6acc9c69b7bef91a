//! Revisions: every deploy that changes a service is recorded with what it ran
//! (each image by the digest Podman ran) and how it ended; `history` reads them
//! back, each with what it changed; `rollback` deploys an earlier one again *by
//! digest*, through the same steps as a deploy, so a tag pushed again cannot
//! change what comes back.
//!
//! A deploy refused before it changed anything (validate, image) is no revision;
//! one that failed later is a `failed` revision, and the one before it still
//! runs. A deploy that changed nothing is none.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mcp_model::spec::{ImageRef, ResolvedService, ServiceDefinition, ValidatedDefinition, diff};
use mcp_model::view::{
    ComponentChange, NodeRollback, Report, Revision, RevisionImage, RevisionResult, Step,
};

use super::{Engine, EngineError, Result, step_err};
use crate::registry::NewRevision;

/// What a deploy records as its revision, and the images it runs pinned by
/// digest (a rollback's).
#[derive(Debug, Clone)]
pub(super) struct Release {
    actor: String,
    /// Component → the image to run instead of its definition's (by digest).
    pins: BTreeMap<String, String>,
    result: RevisionResult,
    rollback_of: Option<u32>,
}

impl Release {
    /// A deploy of a definition, by `actor`.
    pub(super) fn deploy(actor: &str) -> Self {
        Release {
            actor: actor.to_owned(),
            pins: BTreeMap::new(),
            result: RevisionResult::Deployed,
            rollback_of: None,
        }
    }

    /// Runs the pinned images in `resolved`; returns each component's image as
    /// its definition names it.
    pub(super) fn pin(&self, resolved: &mut ResolvedService) -> BTreeMap<String, String> {
        resolved
            .components
            .iter_mut()
            .map(|c| {
                let named = c.image.clone();
                if let Some(pinned) = self.pins.get(&c.name) {
                    c.image = pinned.clone();
                }
                (c.name.clone(), named)
            })
            .collect()
    }

    /// The revision a deploy of `def` records.
    pub(super) fn revision(
        &self,
        def: &ServiceDefinition,
        resolved: &ResolvedService,
        images: Vec<RevisionImage>,
    ) -> NewRevision {
        NewRevision {
            service: def.name.clone(),
            actor: self.actor.clone(),
            version: version_of(resolved),
            definition: def.clone(),
            images,
            result: self.result,
            step: None,
            error: None,
            rollback_of: self.rollback_of,
        }
    }
}

/// The version a revision shows: the one version of every component, or each
/// component's.
fn version_of(resolved: &ResolvedService) -> String {
    let versions: BTreeSet<&str> = resolved
        .components
        .iter()
        .map(|c| c.version.as_str())
        .collect();
    if versions.len() == 1 {
        return versions.into_iter().collect();
    }
    resolved
        .components
        .iter()
        .map(|c| format!("{} {}", c.name, c.version))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Engine {
    /// Every component's image as its definition names it (`named`), with the
    /// digest of the image it runs, from the runtime.
    pub(super) fn revision_images(
        &self,
        resolved: &ResolvedService,
        named: &BTreeMap<String, String>,
    ) -> Vec<RevisionImage> {
        resolved
            .components
            .iter()
            .map(|c| RevisionImage {
                component: c.name.clone(),
                image: named
                    .get(&c.name)
                    .cloned()
                    .unwrap_or_else(|| c.image.clone()),
                digest: self.runtime.image_digest(&c.image).ok().flatten(),
            })
            .collect()
    }

    /// Records a deploy that failed once it had begun changing things (after
    /// its undo): a `failed` revision, which does not run.
    pub(super) fn record_failed(&self, mut revision: NewRevision, e: &EngineError) {
        if matches!(e.step(), None | Some(Step::Validate | Step::Image)) {
            return;
        }
        revision.result = RevisionResult::Failed;
        revision.step = e.step();
        revision.error = Some(e.to_string());
        let keep = self.config.revisions_keep;
        if let Err(err) = self
            .registry
            .transaction(|tx| tx.add_revision(&revision, false, keep))
        {
            tracing::warn!(service = %revision.service, error = %err, "cannot record the failed revision");
        }
    }

    /// `service`'s revisions kept on this node, oldest first, each with what it
    /// changed from the one before it.
    pub fn history(&self, service: &str) -> Result<Vec<Revision>> {
        let mut revisions = self
            .registry
            .read(|t| t.revisions(service))
            .map_err(|e| step_err("history", service, Step::Validate)(e.into()))?;
        if revisions.is_empty() && self.registry.service(service).ok().flatten().is_none() {
            return Err(EngineError::NotDeployed(service.to_owned()));
        }
        let mut before: Option<ServiceDefinition> = None;
        for r in &mut revisions {
            r.node = self.config.node.clone();
            let def = ServiceDefinition::parse(&r.definition, None).ok();
            if let (Some(old), Some(new)) = (&before, &def) {
                r.change = diff(old, new).summary();
            }
            before = def.or(before);
        }
        Ok(revisions)
    }

    /// Deploys revision `to` of `service` again (by default the newest one that
    /// deployed before the one that runs), every image by the digest it ran, and
    /// records it as a revision of its own (`rolled-back`). A revision whose image
    /// is neither on the node nor in its registry any more is refused at step
    /// image, before anything changes. Returns the revision brought back and
    /// the report (with the new revision's number).
    pub fn rollback(&self, service: &str, to: Option<u32>, actor: &str) -> Result<NodeRollback> {
        self.recorded(
            actor,
            "rollback",
            service,
            || self.rollback_locked(service, to, actor),
            |(_, target, event)| {
                let what = event.as_deref().unwrap_or("nothing changed");
                Some(format!(
                    "to revision {} ({}): {what}",
                    target.number, target.version
                ))
            },
        )
        .map(|(report, to, _)| NodeRollback { to, report })
    }

    /// The rollback under the service's lock: the target chosen, then deployed.
    fn rollback_locked(
        &self,
        service: &str,
        to: Option<u32>,
        actor: &str,
    ) -> Result<(Report, Revision, Option<String>)> {
        let target = self.rollback_target(service, to)?;
        let def = ValidatedDefinition::parse(&target.definition, None)
            .map_err(|e| step_err("rollback", service, Step::Validate)(e.into()))?;
        let release = Release {
            actor: actor.to_owned(),
            pins: pins(&target)?,
            result: RevisionResult::RolledBack,
            rollback_of: Some(target.number),
        };
        let (report, event) = self.deploy_locked(&def, &release)?;
        Ok((report, target, event))
    }

    /// The revision a rollback brings back.
    fn rollback_target(&self, service: &str, to: Option<u32>) -> Result<Revision> {
        let revisions = self.history(service)?;
        let current = revisions.iter().find(|r| r.current).map(|r| r.number);
        let refuse = EngineError::Precondition;
        let target = match to {
            Some(n) => revisions.into_iter().find(|r| r.number == n).ok_or_else(|| {
                EngineError::NoRevision {
                    service: service.to_owned(),
                    number: n,
                }
            })?,
            None => revisions
                .into_iter()
                .rev()
                .filter(|r| current.is_none_or(|c| r.number < c))
                .find(|r| r.result != RevisionResult::Failed)
                .ok_or_else(|| {
                    refuse(format!(
                        "service {service} has no revision before the one that runs to roll back to (mcp history {service})"
                    ))
                })?,
        };
        if target.current {
            return Err(refuse(format!(
                "revision {} of {service} is what runs already",
                target.number
            )));
        }
        if target.result == RevisionResult::Failed {
            return Err(refuse(format!(
                "revision {} of {service} failed{}; roll back to one that deployed (mcp history {service})",
                target.number,
                target
                    .step
                    .map(|s| format!(" at step {s}"))
                    .unwrap_or_default()
            )));
        }
        Ok(target)
    }
}

/// Each component of `r` pinned to the digest it ran.
fn pins(r: &Revision) -> Result<BTreeMap<String, String>> {
    r.images
        .iter()
        .map(|i| {
            let Some(digest) = &i.digest else {
                return Err(EngineError::Precondition(format!(
                    "revision {} of {} has no digest for {}'s image {}: it cannot be brought back exactly",
                    r.number, r.service, i.component, i.image
                )));
            };
            let image = ImageRef::parse(&i.image).map_err(|e| {
                EngineError::Precondition(format!("revision {}: image {}: {e}", r.number, i.image))
            })?;
            Ok((i.component.clone(), image.with_digest(digest).to_string()))
        })
        .collect()
}

/// A deploy's report as its event says it: each container's change, a replaced
/// one with the versions it went from and to when they differ.
pub(super) fn versioned_summary(
    r: &Report,
    before: &HashMap<&str, &str>,
    after: &HashMap<&str, &str>,
) -> String {
    r.components
        .iter()
        .map(|c| {
            match (
                c.change,
                before.get(c.container.as_str()),
                after.get(c.container.as_str()),
            ) {
                (ComponentChange::Replaced, Some(old), Some(new)) if old != new => {
                    format!("{}: replaced {old} → {new}", c.container)
                }
                _ => format!("{}: {}", c.container, c.change),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
