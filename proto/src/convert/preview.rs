//! Deploy previews on the wire: `PlanDeploy`'s reply.

use mcp_model::spec::{DefinitionDiff, FieldChange};
use mcp_model::view::{DeployPreview, PlanChange, PlannedComponent, PlannedItem};

use super::{Malformed, Result, decode_change, encode_change};
use crate::v1;

vocabulary!(encode_plan_change, decode_plan_change, PlanChange, v1::PlanChange, "plan change" {
    Add <=> Add, Remove <=> Remove, Change <=> Change, Keep <=> Keep,
});

/// Encodes a deploy preview.
pub fn encode_preview(p: &DeployPreview) -> v1::DeployPreview {
    let items = |items: &[PlannedItem]| -> Vec<v1::PlannedItem> {
        items
            .iter()
            .map(|i| v1::PlannedItem {
                name: i.name.clone(),
                change: encode_plan_change(i.change),
                old: i.old.clone(),
                new: i.new.clone(),
            })
            .collect()
    };
    v1::DeployPreview {
        service: p.service.clone(),
        node: p.node.clone(),
        created: p.created,
        definition: p
            .definition
            .changes
            .iter()
            .map(|c| v1::FieldChange {
                field: c.field.clone(),
                old: c.old.clone(),
                new: c.new.clone(),
                secret: c.secret,
            })
            .collect(),
        components: p
            .components
            .iter()
            .map(|c| v1::PlannedComponent {
                container: c.container.clone(),
                component: c.component.clone(),
                change: encode_change(c.change),
                reason: c.reason.clone(),
                beside: c.beside,
                pull: c.pull,
            })
            .collect(),
        ports: items(&p.ports),
        routes: items(&p.routes),
        certificates: items(&p.certificates),
        dns: items(&p.dns),
        warnings: p.warnings.clone(),
    }
}

/// Decodes a deploy preview.
pub fn decode_preview(p: v1::DeployPreview) -> Result<DeployPreview> {
    let items = |items: Vec<v1::PlannedItem>| -> Result<Vec<PlannedItem>> {
        items
            .into_iter()
            .map(|i| {
                Ok(PlannedItem {
                    name: i.name,
                    change: decode_plan_change(i.change)?,
                    old: i.old,
                    new: i.new,
                })
            })
            .collect()
    };
    Ok(DeployPreview {
        service: p.service,
        node: p.node,
        created: p.created,
        definition: DefinitionDiff {
            changes: p
                .definition
                .into_iter()
                .map(|c| FieldChange {
                    field: c.field,
                    old: c.old,
                    new: c.new,
                    secret: c.secret,
                })
                .collect(),
        },
        components: p
            .components
            .into_iter()
            .map(|c| {
                Ok(PlannedComponent {
                    container: c.container,
                    component: c.component,
                    change: decode_change(c.change)?,
                    reason: c.reason,
                    beside: c.beside,
                    pull: c.pull,
                })
            })
            .collect::<Result<_>>()?,
        ports: items(p.ports)?,
        routes: items(p.routes)?,
        certificates: items(p.certificates)?,
        dns: items(p.dns)?,
        warnings: p.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_model::view::ComponentChange;

    #[test]
    fn a_preview_round_trips_and_every_plan_change_too() {
        for &c in PlanChange::ALL {
            assert_eq!(decode_plan_change(encode_plan_change(c)), Ok(c));
        }
        assert!(decode_plan_change(0).is_err(), "unspecified is not a word");
        let item = PlannedItem {
            name: ":443 a.example.com".into(),
            change: PlanChange::Change,
            old: Some("l7 127.0.0.1:10001".into()),
            new: None,
        };
        let preview = DeployPreview {
            service: "web".into(),
            node: "rift".into(),
            created: false,
            definition: DefinitionDiff {
                changes: vec![FieldChange {
                    field: "components[api].env.TOKEN".into(),
                    old: None,
                    new: Some("•••".into()),
                    secret: true,
                }],
            },
            components: vec![PlannedComponent {
                container: "web-api".into(),
                component: "api".into(),
                change: ComponentChange::Replaced,
                reason: "image a → b".into(),
                beside: true,
                pull: true,
            }],
            ports: vec![item.clone()],
            routes: vec![item.clone()],
            certificates: vec![item.clone()],
            dns: vec![item],
            warnings: vec!["w".into()],
        };
        assert_eq!(
            decode_preview(encode_preview(&preview)).expect("decode"),
            preview
        );
    }
}
