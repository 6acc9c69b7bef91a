//! Revisions on the wire: `History`'s and `Rollback`'s replies.

use mcp_model::view::{NodeRollback, Revision, RevisionImage, RevisionResult, Step};

use super::{Malformed, Result, decode_report, encode_report, some, time_or_epoch, timestamp};
use crate::v1;

vocabulary!(encode_result, decode_result, RevisionResult, v1::RevisionResult, "revision result" {
    Deployed <=> Deployed, Failed <=> Failed, RolledBack <=> RolledBack,
});

/// Encodes one revision.
pub fn encode_revision(r: &Revision) -> v1::Revision {
    v1::Revision {
        service: r.service.clone(),
        node: r.node.clone(),
        number: r.number,
        at: Some(timestamp(r.at)),
        actor: r.actor.clone(),
        version: r.version.clone(),
        definition: r.definition.clone(),
        definition_hash: r.definition_hash.clone(),
        images: r
            .images
            .iter()
            .map(|i| v1::RevisionImage {
                component: i.component.clone(),
                image: i.image.clone(),
                digest: i.digest.clone().unwrap_or_default(),
            })
            .collect(),
        result: encode_result(r.result),
        step: r.step.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        error: r.error.clone(),
        rollback_of: r.rollback_of.unwrap_or(0),
        current: r.current,
        change: r.change.clone(),
    }
}

/// Decodes one revision.
pub fn decode_revision(r: v1::Revision) -> Result<Revision> {
    let step = some(r.step)
        .map(|s| {
            s.parse::<Step>()
                .map_err(|_| Malformed(format!("unknown step {s:?}")))
        })
        .transpose()?;
    Ok(Revision {
        at: time_or_epoch(r.at.as_ref()),
        result: decode_result(r.result)?,
        step,
        images: r
            .images
            .into_iter()
            .map(|i| RevisionImage {
                component: i.component,
                image: i.image,
                digest: some(i.digest),
            })
            .collect(),
        service: r.service,
        node: r.node,
        number: r.number,
        actor: r.actor,
        version: r.version,
        definition: r.definition,
        definition_hash: r.definition_hash,
        error: r.error,
        rollback_of: (r.rollback_of != 0).then_some(r.rollback_of),
        current: r.current,
        change: r.change,
    })
}

/// Encodes a rollback's reply: its report, and the revision it brought back.
pub fn encode_rollback(r: &NodeRollback) -> v1::RollbackReply {
    v1::RollbackReply {
        report: Some(encode_report(&r.report)),
        revision: Some(encode_revision(&r.to)),
    }
}

/// Decodes a rollback's reply.
pub fn decode_rollback(r: v1::RollbackReply) -> Result<NodeRollback> {
    let missing = |what: &str| Malformed(format!("rollback reply without its {what}"));
    Ok(NodeRollback {
        report: decode_report(r.report.ok_or_else(|| missing("report"))?)?,
        to: decode_revision(r.revision.ok_or_else(|| missing("revision"))?)?,
    })
}
