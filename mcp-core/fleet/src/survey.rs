//! What the fleet's nodes are: every configured node with its role, address,
//! version and reachability ([`Fleet::node_list`], `mcp node list`), and the
//! agents' versions and builds with their skew ([`Fleet::agent_survey`], `mcp agent
//! status`). Every node is asked at once.

use std::collections::BTreeSet;
use std::time::SystemTime;

use mcp_model::view::NodeRole;
use serde::Serialize;

use crate::fleet::Fleet;
use crate::provision::short;

mcp_model::words! {
    /// Whether a node's agent answered.
    pub enum Reachability: "reachability" {
        /// It answered.
        Reachable => "reachable",
        /// No address of it answered.
        Unreachable => "unreachable",
        /// It answered but refused the caller (a token it does not accept, or an
        /// account it does not allow).
        Refused => "refused",
        /// It has no address yet (being provisioned).
        Unknown => "unknown",
    }
}

/// One configured node, as `mcp node list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeListing {
    /// The node.
    pub name: String,
    /// Its role: the agent's own when it answered, else the configured one.
    pub role: NodeRole,
    /// The role the configuration gives it.
    pub configured_role: NodeRole,
    /// The address that answered, or every configured address.
    pub address: Option<String>,
    /// The agent's version, when it answered.
    pub version: Option<String>,
    /// Whether it answered.
    pub status: Reachability,
    /// Containers the agent's registry holds, when it answered.
    pub containers: Option<u32>,
    /// The agent's container runtime, when it answered.
    pub runtime: Option<String>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// One agent, as `mcp agent status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentRow {
    /// The node.
    pub node: String,
    /// The agent's version.
    pub version: Option<String>,
    /// The SHA-256 of its executable.
    pub build: Option<String>,
    /// How long it has run, seconds.
    pub uptime_seconds: Option<u64>,
    /// Its container runtime.
    pub runtime: Option<String>,
    /// Why it did not answer.
    pub error: Option<String>,
}

/// Whether the agents that answered run the same thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Skew {
    /// No agent answered.
    Unknown,
    /// One version, one build.
    None {
        /// The version.
        version: String,
        /// The build.
        build: String,
    },
    /// One version, several builds of it.
    Builds {
        /// The version.
        version: String,
        /// How many builds.
        builds: usize,
    },
    /// Several versions.
    Versions {
        /// The versions, sorted.
        versions: Vec<String>,
    },
}

/// Every agent of the fleet and their skew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSurvey {
    /// Each configured node's agent.
    pub agents: Vec<AgentRow>,
    /// Whether they run the same version and build.
    pub skew: Skew,
}

impl AgentSurvey {
    /// Whether some agent did not answer.
    pub fn has_failures(&self) -> bool {
        self.agents.iter().any(|a| a.error.is_some())
    }
}

impl Fleet {
    /// Every configured node: those with an address are asked at once; one without
    /// (being provisioned) is `unknown`, one that does not answer `unreachable`.
    pub async fn node_list(&self) -> Result<Vec<NodeListing>, crate::Error> {
        let all = self.nodes(None)?;
        let mut addressed = Vec::new();
        for n in &all {
            if !self
                .config()
                .node(n, self.path())?
                .all_addresses()
                .is_empty()
            {
                addressed.push(n.clone());
            }
        }
        let answers = self
            .ask(&addressed, |_, mut c| async move {
                let info = c.node_status().await?;
                Ok((c.address().to_owned(), info))
            })
            .await;
        let mut out = Vec::with_capacity(all.len());
        for name in all {
            let entry = self.config().node(&name, self.path())?;
            let configured = entry.role.unwrap_or_default();
            let listing = NodeListing {
                role: configured,
                configured_role: configured,
                address: None,
                version: None,
                status: Reachability::Unknown,
                containers: None,
                runtime: None,
                error: None,
                name,
            };
            let listing = if let Some((address, info)) = answers.get(&listing.name) {
                NodeListing {
                    role: info.role,
                    address: Some(address.clone()),
                    version: Some(info.version.clone()),
                    status: Reachability::Reachable,
                    containers: Some(info.containers),
                    runtime: Some(info.runtime.clone()),
                    ..listing
                }
            } else if let Some(f) = answers.failures.iter().find(|f| f.node == listing.name) {
                let refused = matches!(
                    f.error.kind(),
                    mcp_model::ErrorKind::Unauthenticated | mcp_model::ErrorKind::PermissionDenied
                );
                NodeListing {
                    address: Some(entry.all_addresses().join(",")),
                    status: if refused {
                        Reachability::Refused
                    } else {
                        Reachability::Unreachable
                    },
                    error: Some(f.error.to_string()),
                    ..listing
                }
            } else {
                listing
            };
            out.push(listing);
        }
        Ok(out)
    }

    /// Every agent's version, build and uptime, asked at once, and their skew.
    pub async fn agent_survey(&self) -> Result<AgentSurvey, crate::Error> {
        let nodes = self.nodes(None)?;
        let answers = self
            .ask(&nodes, |_, mut c| async move { Ok(c.node_status().await?) })
            .await;
        let now = SystemTime::now();
        let agents = nodes
            .iter()
            .map(|node| match answers.get(node) {
                Some(info) => AgentRow {
                    node: node.clone(),
                    version: Some(info.version.clone()),
                    build: Some(info.build.clone()),
                    uptime_seconds: now
                        .duration_since(info.started_at)
                        .ok()
                        .map(|d| d.as_secs()),
                    runtime: Some(info.runtime.clone()),
                    error: None,
                },
                None => AgentRow {
                    node: node.clone(),
                    version: None,
                    build: None,
                    uptime_seconds: None,
                    runtime: None,
                    error: answers
                        .failures
                        .iter()
                        .find(|f| &f.node == node)
                        .map(|f| f.error.to_string()),
                },
            })
            .collect::<Vec<_>>();
        let skew = skew_of(&agents);
        Ok(AgentSurvey { agents, skew })
    }
}

fn skew_of(agents: &[AgentRow]) -> Skew {
    let versions: BTreeSet<&str> = agents.iter().filter_map(|a| a.version.as_deref()).collect();
    let builds: BTreeSet<&str> = agents.iter().filter_map(|a| a.build.as_deref()).collect();
    match (versions.iter().next(), versions.len(), builds.len()) {
        (None, _, _) => Skew::Unknown,
        (Some(v), 1, 1) => Skew::None {
            version: (*v).to_owned(),
            build: builds.iter().next().map_or("", |b| short(b)).to_owned(),
        },
        (Some(v), 1, n) => Skew::Builds {
            version: (*v).to_owned(),
            builds: n,
        },
        _ => Skew::Versions {
            versions: versions.iter().map(|v| (*v).to_owned()).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, build: &str) -> AgentRow {
        AgentRow {
            node: "n".into(),
            version: Some(version.into()),
            build: Some(build.into()),
            uptime_seconds: None,
            runtime: None,
            error: None,
        }
    }

    #[test]
    fn skew_is_judged_on_the_agents_that_answered() {
        assert_eq!(skew_of(&[]), Skew::Unknown);
        let same = skew_of(&[row("0.1.0", "aaaa"), row("0.1.0", "aaaa")]);
        assert!(matches!(same, Skew::None { .. }), "{same:?}");
        let builds = skew_of(&[row("0.1.0", "aaaa"), row("0.1.0", "bbbb")]);
        assert_eq!(
            builds,
            Skew::Builds {
                version: "0.1.0".into(),
                builds: 2
            }
        );
        let versions = skew_of(&[row("0.1.0", "aaaa"), row("0.2.0", "bbbb")]);
        assert_eq!(
            versions,
            Skew::Versions {
                versions: vec!["0.1.0".into(), "0.2.0".into()]
            }
        );
    }
}
