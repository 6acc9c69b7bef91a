//! A service's releases on a node ([`Revision`]): every deploy that changed it,
//! what it ran (each image by the digest Podman ran), who made it, and how it
//! ended; `mcp history` lists them, `mcp rollback` deploys one again.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::Step;

crate::words! {
    /// How a revision's deploy ended.
    pub enum RevisionResult: "revision result" {
        /// Deployed: its containers were ready.
        Deployed => "deployed",
        /// Failed at a step and undone: what ran before kept running.
        Failed => "failed",
        /// Deployed by `mcp rollback`, bringing back an earlier revision.
        RolledBack => "rolled-back",
    }
}

/// One image a revision ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionImage {
    /// The component.
    pub component: String,
    /// The image reference the definition names (a tag).
    pub image: String,
    /// The digest of the image Podman ran (`sha256:…`); `None` when the deploy
    /// failed before the image was there.
    pub digest: Option<String>,
}

/// One revision of a service on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// The service.
    pub service: String,
    /// The node it is kept on.
    pub node: String,
    /// Its number: 1 for the service's first deploy on the node, one more for
    /// every deploy since that changed it.
    pub number: u32,
    /// When it was deployed (or failed).
    #[serde(with = "crate::time::as_rfc3339")]
    pub at: SystemTime,
    /// Who deployed it.
    pub actor: String,
    /// The version (`v0.2.0`), or each component's (`api v0.2.0, web v0.1.0`).
    pub version: String,
    /// The canonical definition.
    pub definition: String,
    /// Its hash.
    pub definition_hash: String,
    /// Every component's image.
    pub images: Vec<RevisionImage>,
    /// How it ended.
    pub result: RevisionResult,
    /// The step it failed at.
    pub step: Option<Step>,
    /// Why it failed.
    pub error: Option<String>,
    /// The revision a rollback brought back.
    pub rollback_of: Option<u32>,
    /// Whether it is what the node runs now.
    pub current: bool,
    /// What it changed from the revision before it, in one line
    /// ([`crate::spec::DefinitionDiff::summary`]); empty for the first.
    pub change: String,
}

/// What a rollback did on its node: the revision it brought back, and the
/// report of the deploy that did it (with the rollback's own revision number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRollback {
    /// The revision deployed again.
    pub to: Revision,
    /// The deploy's report.
    pub report: super::Report,
}
