//! What a deploy would do, before it does it: [`DeployPreview`], the answer of
//! `mcp diff`, `mcp deploy --dry-run` and the REASON of `mcp sync --dry-run`.
//! The agent's deploy planner makes it from the same decisions the deploy then
//! acts on (which container is kept, replaced beside the running one or in
//! place; which route keeps its port), so the preview and the deploy's
//! [`super::Report`] agree.

use serde::{Deserialize, Serialize};

use super::ComponentChange;
use crate::spec::DefinitionDiff;

crate::words! {
    /// What a deploy would do to one port lease, proxy route, certificate or
    /// DNS record.
    pub enum PlanChange: "plan change" {
        /// Made (a new lease, route or record; a certificate issued).
        Add => "add",
        /// Taken away.
        Remove => "remove",
        /// Changed in place (a route's backend; a certificate renewed).
        Change => "change",
        /// Left as it is.
        Keep => "keep",
    }
}

/// What a deploy of a definition would do on its node. Serialised with two
/// more fields: `changed` ([`DeployPreview::changed`]) and `effects`
/// ([`DeployPreview::effects`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployPreview {
    /// The service.
    pub service: String,
    /// The node asked.
    pub node: String,
    /// Whether the service is not deployed there yet (a first deploy).
    pub created: bool,
    /// The definition's fields that differ from the one deployed (empty for a
    /// first deploy); environment values masked unless asked for.
    pub definition: DefinitionDiff,
    /// Per container: what the deploy would do to it, and why.
    pub components: Vec<PlannedComponent>,
    /// Host port leases, one per route (`component` or `component.route`).
    pub ports: Vec<PlannedItem>,
    /// mc-proxy routes (`:listener hostname`), with their backends.
    pub routes: Vec<PlannedItem>,
    /// Certificates of l7 hostnames.
    pub certificates: Vec<PlannedItem>,
    /// DNS records (`name TYPE`), with their values.
    pub dns: Vec<PlannedItem>,
    /// Steps the deploy would skip (no proxy or DNS configured).
    pub warnings: Vec<String>,
}

/// One container in a [`DeployPreview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedComponent {
    /// The container.
    pub container: String,
    /// Its component.
    pub component: String,
    /// What would happen to it (as the deploy's report would say).
    pub change: ComponentChange,
    /// Why: `new component`, `image a → b`, `its container specification
    /// changed`, `not in the definition`, …
    pub reason: String,
    /// A replacement started beside the running container, the routes switched
    /// to it once it is ready (behind a proxy): no downtime.
    pub beside: bool,
    /// Its image is not on the node and would be pulled.
    pub pull: bool,
}

/// One port lease, route, certificate or record in a [`DeployPreview`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedItem {
    /// What it is: `api.metrics`, `:443 hello.svc.mcp.metacircular.net`,
    /// `hello.svc.mcp.metacircular.net`, `hello A`.
    pub name: String,
    /// What would happen to it.
    pub change: PlanChange,
    /// Its value now (a port, a backend, a certificate's expiry, a record's
    /// value); `None` when it does not exist.
    pub old: Option<String>,
    /// Its value after the deploy; `None` when it would not exist. A port not
    /// leased yet is [`NEW_PORT`].
    pub new: Option<String>,
}

/// How a [`PlannedItem`] shows a port the deploy would lease: which one is
/// known only then.
pub const NEW_PORT: &str = "(new port)";

impl DeployPreview {
    /// Whether a deploy would change anything: the service is new, its
    /// definition differs, or some container, lease, route, certificate or
    /// record would not stay as it is.
    pub fn changed(&self) -> bool {
        self.created
            || !self.definition.is_empty()
            || self
                .components
                .iter()
                .any(|c| c.change != ComponentChange::Unchanged)
            || self.items().any(|i| i.change != PlanChange::Keep)
    }

    /// Every lease, route, certificate and record.
    pub fn items(&self) -> impl Iterator<Item = &PlannedItem> {
        self.ports
            .iter()
            .chain(&self.routes)
            .chain(&self.certificates)
            .chain(&self.dns)
    }

    /// Each container and the change the deploy would make, in the deploy
    /// report's order ([`super::Report::changes`]).
    pub fn changes(&self) -> Vec<(String, ComponentChange)> {
        self.components
            .iter()
            .map(|c| (c.container.clone(), c.change))
            .collect()
    }

    /// What the deploy would do, in one line (`replaces hello-api; adds route
    /// :443 hello.example.com`), for `sync --dry-run`'s REASON; empty when
    /// nothing would change beyond the definition.
    pub fn effects(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (change, verb) in [
            (ComponentChange::Created, "creates"),
            (ComponentChange::Replaced, "replaces"),
            (ComponentChange::Started, "starts"),
            (ComponentChange::Stopped, "stops"),
            (ComponentChange::Removed, "removes"),
        ] {
            let names: Vec<&str> = self
                .components
                .iter()
                .filter(|c| c.change == change)
                .map(|c| c.container.as_str())
                .collect();
            if !names.is_empty() {
                parts.push(format!("{verb} {}", names.join(", ")));
            }
        }
        for (what, items) in [
            ("route", &self.routes),
            ("certificate", &self.certificates),
            ("DNS record", &self.dns),
        ] {
            for (change, verb) in [
                (PlanChange::Add, "adds"),
                (PlanChange::Change, "changes"),
                (PlanChange::Remove, "removes"),
            ] {
                let names: Vec<&str> = items
                    .iter()
                    .filter(|i| i.change == change)
                    .map(|i| i.name.as_str())
                    .collect();
                if !names.is_empty() {
                    parts.push(format!("{verb} {what} {}", names.join(", ")));
                }
            }
        }
        parts.join("; ")
    }
}

impl Serialize for DeployPreview {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("DeployPreview", 12)?;
        out.serialize_field("service", &self.service)?;
        out.serialize_field("node", &self.node)?;
        out.serialize_field("created", &self.created)?;
        out.serialize_field("changed", &self.changed())?;
        out.serialize_field("definition", &self.definition.changes)?;
        out.serialize_field("components", &self.components)?;
        out.serialize_field("ports", &self.ports)?;
        out.serialize_field("routes", &self.routes)?;
        out.serialize_field("certificates", &self.certificates)?;
        out.serialize_field("dns", &self.dns)?;
        out.serialize_field("warnings", &self.warnings)?;
        out.serialize_field("effects", &self.effects())?;
        out.end()
    }
}

/// [`DeployPreview`] read back: the fields it was made of (`changed` and
/// `effects` are derived from them).
#[derive(Deserialize)]
struct PreviewFields {
    service: String,
    node: String,
    created: bool,
    definition: Vec<crate::spec::FieldChange>,
    components: Vec<PlannedComponent>,
    ports: Vec<PlannedItem>,
    routes: Vec<PlannedItem>,
    certificates: Vec<PlannedItem>,
    dns: Vec<PlannedItem>,
    warnings: Vec<String>,
}

impl<'de> Deserialize<'de> for DeployPreview {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = PreviewFields::deserialize(d)?;
        Ok(DeployPreview {
            service: f.service,
            node: f.node,
            created: f.created,
            definition: DefinitionDiff {
                changes: f.definition,
            },
            components: f.components,
            ports: f.ports,
            routes: f.routes,
            certificates: f.certificates,
            dns: f.dns,
            warnings: f.warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, change: PlanChange) -> PlannedItem {
        PlannedItem {
            name: name.into(),
            change,
            old: None,
            new: None,
        }
    }

    #[test]
    fn a_preview_says_what_changes_in_one_line() {
        let mut p = DeployPreview {
            service: "hello".into(),
            node: "local".into(),
            created: false,
            definition: DefinitionDiff::default(),
            components: vec![PlannedComponent {
                container: "hello-api".into(),
                component: "api".into(),
                change: ComponentChange::Unchanged,
                reason: "unchanged".into(),
                beside: false,
                pull: false,
            }],
            ports: vec![item("api", PlanChange::Keep)],
            routes: vec![item(":443 a.example.com", PlanChange::Keep)],
            certificates: Vec::new(),
            dns: Vec::new(),
            warnings: Vec::new(),
        };
        assert!(!p.changed());
        assert_eq!(p.effects(), "");
        p.components[0].change = ComponentChange::Replaced;
        p.routes.push(item(":443 b.example.com", PlanChange::Add));
        assert!(p.changed());
        assert_eq!(
            p.effects(),
            "replaces hello-api; adds route :443 b.example.com"
        );
    }
}
