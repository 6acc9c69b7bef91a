//! Names a service holds that no other service may hold: its container names
//! (on its node: Podman has one namespace per host) and its route hostnames
//! (across the fleet: a proxy route, a DNS record and an edge route each belong
//! to one service). `mcp validate` checks a set of files with them, and the agent
//! checks a deploy against the services it runs, before any step.

use super::ResolvedService;

/// A name only one service may hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum HeldName {
    /// A container name, on the service's node.
    Container(String),
    /// A hostname (lowercase) a route is served or published under.
    Hostname(String),
}

impl HeldName {
    /// The name, for messages.
    pub fn as_str(&self) -> &str {
        match self {
            HeldName::Container(n) | HeldName::Hostname(n) => n,
        }
    }

    /// What kind of name it is, for messages.
    pub fn what(&self) -> &'static str {
        match self {
            HeldName::Container(_) => "container name",
            HeldName::Hostname(_) => "hostname",
        }
    }
}

impl ResolvedService {
    /// Every name this service holds, each with the field that gives it (a
    /// hostname its routes share is listed once, at its first route).
    pub fn held_names(&self) -> Vec<(String, HeldName)> {
        let mut out: Vec<(String, HeldName)> = Vec::new();
        for (i, c) in self.components.iter().enumerate() {
            out.push((
                format!("components[{i}].name"),
                HeldName::Container(c.container_name.clone()),
            ));
            for (j, r) in c.routes.iter().enumerate() {
                let field = format!("components[{i}].routes[{j}].hostname");
                for h in [Some(&r.hostname), r.public_hostname.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    let name = HeldName::Hostname(h.to_ascii_lowercase());
                    if !out.iter().any(|(_, n)| *n == name) {
                        out.push((field.clone(), name));
                    }
                }
            }
        }
        out
    }

    /// The names of `self` that `other` (another service) holds too: for each, the
    /// field in `self`, the name, and the field in `other`. Container names clash
    /// only on one node.
    pub fn clashes_with(&self, other: &ResolvedService) -> Vec<(String, HeldName, String)> {
        let theirs = other.held_names();
        self.held_names()
            .into_iter()
            .filter(|(_, n)| !matches!(n, HeldName::Container(_)) || self.node == other.node)
            .filter_map(|(field, name)| {
                let (other_field, _) = theirs.iter().find(|(_, n)| *n == name)?;
                Some((field, name, other_field.clone()))
            })
            .collect()
    }
}
