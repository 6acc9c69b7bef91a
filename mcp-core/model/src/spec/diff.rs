//! What changed between two definitions of one service, field by field: the
//! definition half of `mcp diff`, the CHANGE column of `mcp history`, and what
//! `mcp rollback` edits back into a definition file.
//!
//! Fields are named as in the file, components and routes by name
//! (`components[api].env.TOKEN`, `components[api].routes[:443]`); values are
//! shown as TOML writes them. An environment value is a secret until the reader
//! asks to see it ([`FieldChange::secret`], [`DefinitionDiff::masked`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Component, Route, ServiceDefinition};

/// One field that differs: its path, and its value before and after (`None`
/// where it was or is absent; a whole component or route added or removed has
/// `None` on one side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field, as the file names it: `version`,
    /// `components[api].image`, `components[api].env.TOKEN`,
    /// `components[api].routes[:443].hostname`.
    pub field: String,
    /// The value before, as TOML writes it; `None` when absent.
    pub old: Option<String>,
    /// The value after; `None` when absent.
    pub new: Option<String>,
    /// An environment value: shown masked unless asked for.
    pub secret: bool,
}

/// Every field that differs between two definitions, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DefinitionDiff {
    /// The changes, top-level fields first, then component by component.
    pub changes: Vec<FieldChange>,
}

/// The mask an environment value is shown as.
pub const MASK: &str = "•••";

impl DefinitionDiff {
    /// Whether the definitions are the same.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The same changes with every environment value replaced by [`MASK`].
    #[must_use]
    pub fn masked(mut self) -> Self {
        for c in self.changes.iter_mut().filter(|c| c.secret) {
            c.old = c.old.as_ref().map(|_| MASK.to_owned());
            c.new = c.new.as_ref().map(|_| MASK.to_owned());
        }
        self
    }

    /// One line saying what changed (`components[api].image localhost/hello:v0.1.0
    /// → localhost/hello:v0.2.0; components[api].env.MODE changed`), at most three
    /// changes and a count of the rest; environment values never shown. Empty when
    /// nothing changed.
    pub fn summary(&self) -> String {
        const SHOWN: usize = 3;
        let mut parts: Vec<String> = self.changes.iter().take(SHOWN).map(short).collect();
        if self.changes.len() > SHOWN {
            parts.push(format!("{} more", self.changes.len() - SHOWN));
        }
        parts.join("; ")
    }
}

/// One change as the summary says it.
fn short(c: &FieldChange) -> String {
    match (&c.old, &c.new) {
        (None, Some(_)) if !c.secret && is_whole(&c.field) => format!("{} added", c.field),
        (Some(_), None) if !c.secret && is_whole(&c.field) => format!("{} removed", c.field),
        _ if c.secret => format!("{} changed", c.field),
        (Some(old), Some(new)) => format!("{} {old} → {new}", c.field),
        (None, Some(new)) => format!("{} = {new}", c.field),
        (Some(_), None) => format!("{} unset", c.field),
        (None, None) => c.field.clone(),
    }
}

/// Whether `field` names a whole component or route.
fn is_whole(field: &str) -> bool {
    field.ends_with(']')
}

/// What changed from `old` to `new`.
pub fn diff(old: &ServiceDefinition, new: &ServiceDefinition) -> DefinitionDiff {
    let mut out = Changes::default();
    out.value("name", Some(&old.name), Some(&new.name));
    out.value("node", old.node.as_ref(), new.node.as_ref());
    out.value(
        "tier",
        old.tier.map(|t| t.as_str()),
        new.tier.map(|t| t.as_str()),
    );
    out.value("active", Some(&old.active), Some(&new.active));
    out.value("path", old.path.as_ref(), new.path.as_ref());
    out.value("version", old.version.as_ref(), new.version.as_ref());
    out.map("build.images", &old.build_images, &new.build_images, false);
    out.value(
        "snapshot.method",
        old.snapshot.as_ref().and_then(|s| s.method.as_ref()),
        new.snapshot.as_ref().and_then(|s| s.method.as_ref()),
    );
    out.value(
        "snapshot.exclude",
        old.snapshot
            .as_ref()
            .map(|s| toml_list(&s.exclude))
            .as_ref(),
        new.snapshot
            .as_ref()
            .map(|s| toml_list(&s.exclude))
            .as_ref(),
    );
    for c in &old.components {
        let field = format!("components[{}]", c.name);
        match new.components.iter().find(|n| n.name == c.name) {
            Some(n) => out.component(&field, c, n),
            None => out.whole(field, Some(component_text(c)), None),
        }
    }
    for n in &new.components {
        if !old.components.iter().any(|c| c.name == n.name) {
            out.whole(
                format!("components[{}]", n.name),
                None,
                Some(component_text(n)),
            );
        }
    }
    DefinitionDiff { changes: out.0 }
}

/// The changes found so far.
#[derive(Default)]
struct Changes(Vec<FieldChange>);

impl Changes {
    /// A field whose values are compared as they are shown.
    fn value<T: std::fmt::Display + ?Sized>(
        &mut self,
        field: &str,
        old: Option<&T>,
        new: Option<&T>,
    ) {
        let (old, new) = (old.map(|v| v.to_string()), new.map(|v| v.to_string()));
        if old != new {
            self.push(field.to_owned(), old, new, false);
        }
    }

    /// A whole component or route, added or removed.
    fn whole(&mut self, field: String, old: Option<String>, new: Option<String>) {
        self.push(field, old, new, false);
    }

    fn push(&mut self, field: String, old: Option<String>, new: Option<String>, secret: bool) {
        self.0.push(FieldChange {
            field,
            old,
            new,
            secret,
        });
    }

    /// A table of strings, key by key.
    fn map(
        &mut self,
        field: &str,
        old: &BTreeMap<String, String>,
        new: &BTreeMap<String, String>,
        secret: bool,
    ) {
        let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for k in keys {
            let (o, n) = (old.get(k), new.get(k));
            if o != n {
                self.push(format!("{field}.{k}"), o.cloned(), n.cloned(), secret);
            }
        }
    }

    /// The fields of one component present in both.
    fn component(&mut self, field: &str, old: &Component, new: &Component) {
        let f = |name: &str| format!("{field}.{name}");
        self.value(&f("image"), old.image.as_ref(), new.image.as_ref());
        self.value(&f("version"), old.version.as_ref(), new.version.as_ref());
        self.value(&f("network"), old.network.as_ref(), new.network.as_ref());
        self.value(&f("user"), old.user.as_ref(), new.user.as_ref());
        self.value(&f("restart"), old.restart.as_ref(), new.restart.as_ref());
        self.value(
            &f("ready_after"),
            old.ready_after.as_ref(),
            new.ready_after.as_ref(),
        );
        self.value(
            &f("cmd"),
            old.cmd.as_deref().map(toml_list).as_ref(),
            new.cmd.as_deref().map(toml_list).as_ref(),
        );
        self.lists(&f("volumes"), &old.volumes, &new.volumes);
        self.lists(&f("ports"), &old.ports, &new.ports);
        self.map(&f("env"), &env_map(&old.env), &env_map(&new.env), true);
        for r in &old.routes {
            let rf = format!("{field}.routes[{}]", route_key(r));
            match new.routes.iter().find(|n| route_key(n) == route_key(r)) {
                Some(n) => self.route(&rf, r, n),
                None => self.whole(rf, Some(route_text(r)), None),
            }
        }
        for n in &new.routes {
            if !old.routes.iter().any(|r| route_key(r) == route_key(n)) {
                let rf = format!("{field}.routes[{}]", route_key(n));
                self.whole(rf, None, Some(route_text(n)));
            }
        }
    }

    /// A list compared as a whole (order matters for mounts and ports alike).
    fn lists(&mut self, field: &str, old: &[String], new: &[String]) {
        if old != new {
            let show = |l: &[String]| (!l.is_empty()).then(|| toml_list(l));
            self.push(field.to_owned(), show(old), show(new), false);
        }
    }

    /// The fields of one route present in both.
    fn route(&mut self, field: &str, old: &Route, new: &Route) {
        let f = |name: &str| format!("{field}.{name}");
        self.value(&f("port"), Some(&old.port), Some(&new.port));
        self.value(&f("mode"), Some(old.mode.as_str()), Some(new.mode.as_str()));
        self.value(&f("hostname"), old.hostname.as_ref(), new.hostname.as_ref());
        self.value(&f("public"), Some(&old.public), Some(&new.public));
        self.value(
            &f("health_path"),
            old.health_path.as_ref(),
            new.health_path.as_ref(),
        );
        self.value(
            &f("health_timeout"),
            old.health_timeout.as_ref(),
            new.health_timeout.as_ref(),
        );
    }
}

/// `KEY=VALUE` entries as a map (a later entry of a key wins, as in Podman).
fn env_map(env: &[String]) -> BTreeMap<String, String> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// How a route is named in a field path: its name, else its listener (`:443`).
fn route_key(r: &Route) -> String {
    match &r.name {
        Some(n) => n.clone(),
        None => format!(":{}", r.port),
    }
}

/// A route in one line.
fn route_text(r: &Route) -> String {
    let host = r.hostname.as_deref().unwrap_or("default hostname");
    let public = if r.public { ", public" } else { "" };
    format!(":{} {} {host}{public}", r.port, r.mode)
}

/// A component in one line: its image or version.
fn component_text(c: &Component) -> String {
    c.image
        .clone()
        .or_else(|| c.version.clone())
        .unwrap_or_else(|| c.name.clone())
}

/// A list as TOML writes it.
fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(text: &str) -> ServiceDefinition {
        ServiceDefinition::parse(text, None).expect("valid")
    }

    const BASE: &str = r#"
name = "web"
node = "a"

[[components]]
name = "api"
image = "localhost/web:v0.1.0"
env = ["MODE=slow", "TOKEN=s3cret"]

[[components.routes]]
port = 443
mode = "l7"
"#;

    #[test]
    fn the_same_definition_has_no_changes() {
        assert!(diff(&def(BASE), &def(BASE)).is_empty());
        assert_eq!(diff(&def(BASE), &def(BASE)).summary(), "");
    }

    #[test]
    fn each_changed_field_is_named_with_its_values() {
        let new = BASE
            .replace("v0.1.0", "v0.2.0")
            .replace("MODE=slow", "MODE=fast")
            .replace("port = 443", "port = 443\nhostname = \"w.example.net\"");
        let d = diff(&def(BASE), &def(&new));
        let fields: Vec<&str> = d.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "components[api].image",
                "components[api].env.MODE",
                "components[api].routes[:443].hostname",
            ]
        );
        assert_eq!(d.changes[0].old.as_deref(), Some("localhost/web:v0.1.0"));
        assert_eq!(d.changes[0].new.as_deref(), Some("localhost/web:v0.2.0"));
        assert!(d.changes[1].secret);
        assert_eq!(
            d.summary(),
            "components[api].image localhost/web:v0.1.0 → localhost/web:v0.2.0; \
             components[api].env.MODE changed; \
             components[api].routes[:443].hostname = w.example.net"
        );
    }

    #[test]
    fn environment_values_are_masked_unless_asked_for() {
        let new = BASE.replace("TOKEN=s3cret", "TOKEN=other");
        let d = diff(&def(BASE), &def(&new));
        assert_eq!(d.changes[0].new.as_deref(), Some("other"));
        let masked = d.masked();
        assert_eq!(masked.changes[0].old.as_deref(), Some(MASK));
        assert_eq!(masked.changes[0].new.as_deref(), Some(MASK));
        assert!(!masked.summary().contains("other"));
    }

    #[test]
    fn components_and_routes_added_and_removed_are_whole_changes() {
        let new = format!(
            "{}\n[[components.routes]]\nname = \"admin\"\nport = 9443\nmode = \"l4\"\n\n[[components]]\nname = \"worker\"\nimage = \"localhost/web-worker:v0.1.0\"\n",
            BASE.replace(
                "[[components.routes]]\nport = 443",
                "[[components.routes]]\nname = \"web\"\nport = 443"
            )
        );
        let d = diff(&def(BASE), &def(&new));
        let summary = d.summary();
        assert!(
            summary.contains("components[api].routes[:443] removed"),
            "{summary}"
        );
        assert!(
            summary.contains("components[api].routes[web] added"),
            "{summary}"
        );
        assert!(summary.contains("1 more"), "{summary}");
        assert_eq!(
            d.changes.last().map(|c| c.field.as_str()),
            Some("components[worker]")
        );
    }
}
