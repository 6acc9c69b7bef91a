//! The operator's view of the fleet, shared by the CLI and the Python bindings: the
//! CLI configuration, where definitions are, which node runs a service, connections
//! to agents, and asking many nodes at once (each with its own timeout, an
//! unreachable node reported in place instead of blocking the others).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_model::config::{ARCHITECTURES, CliConfig, ConfigError, NodeEntry};
use mcp_model::spec::{Problem, ServiceDefinition};
use mcp_platform::images::RegistrySettings;

use crate::client::{AgentClient, AgentEndpoint, ApiError};
use crate::results::NodeResults;

/// How long one node gets in a fleet-wide query.
pub const PER_NODE_TIMEOUT: Duration = Duration::from_secs(15);

/// The CLI configuration and what follows from it.
///
/// Load it from the operator's configuration ([`Fleet::load`]: its nodes,
/// token, services directory), or give one node directly
/// ([`Fleet::direct`]); then every operation of the CLI is a method here.
///
/// ```
/// use std::time::Duration;
/// use mcp_fleet::Fleet;
/// use mcp_fleet::client::AgentEndpoint;
///
/// let endpoint = AgentEndpoint {
///     node: "n1".into(),
///     addresses: vec!["127.0.0.1:1".into()], // nothing listens here
///     ca_pem: mcp_platform::pki::create_ca("example CA")?.cert_pem.into_bytes(),
///     server_name: Some("localhost".into()),
///     token: "a-token".into(),
///     connect_timeout: Duration::from_secs(1),
/// };
/// let fleet = Fleet::direct(endpoint);
/// assert_eq!(fleet.nodes(None)?, ["n1"]);
///
/// // Every node asked at once: here none answers, and the error says so.
/// let rt = tokio::runtime::Runtime::new()?;
/// let err = rt.block_on(fleet.services(None)).unwrap_err();
/// assert_eq!(err.kind(), mcp_model::ErrorKind::Unreachable);
///
/// // A configuration that is not there says where it was looked for.
/// let missing = Fleet::load(Some(std::path::Path::new("/nonexistent/mcp.toml")))?;
/// assert!(missing.require_nodes().unwrap_err().to_string().contains("/nonexistent/mcp.toml"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With a fleet that answers:
///
/// ```no_run
/// # async fn f() -> Result<(), mcp_fleet::Error> {
/// let fleet = mcp_fleet::Fleet::load(None)?; // $MCP_CONFIG or ~/.config/mcp/mcp.toml
/// let all = fleet.services(None).await?.gather();
/// for s in &all.items {
///     println!("{} on {}: {}/{} running", s.service, s.node, s.running(), s.components.len());
/// }
/// for f in &all.failures {
///     eprintln!("{f}");
/// }
/// let deployed = fleet.deploy(&fleet.definition("hello")?.1).await?;
/// println!("{:?}", deployed.report.ports);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Fleet {
    config: CliConfig,
    path: PathBuf,
    /// Whether the configuration file exists, and whether it was named (not the
    /// default): what an empty fleet is told.
    exists: bool,
    explicit: bool,
    /// A one-node fleet given explicitly (no configuration file).
    direct: Option<AgentEndpoint>,
}

impl Fleet {
    /// Loads the configuration at `path` (default: [`CliConfig::default_path`]).
    /// A file that does not exist loads as a fleet without nodes (`mcp node add`
    /// writes it); everything that needs a node then says what is missing
    /// ([`ConfigError::NoNodes`]).
    pub fn load(path: Option<&Path>) -> Result<Self, crate::Error> {
        let explicit = path.is_some() || std::env::var_os("MCP_CONFIG").is_some();
        let path = path.map_or_else(CliConfig::default_path, Path::to_owned);
        let config = CliConfig::load(&path)?;
        Ok(Fleet {
            config,
            exists: path.exists(),
            explicit,
            path,
            direct: None,
        })
    }

    /// A fleet of the one node `endpoint` reaches, without a configuration file.
    pub fn direct(endpoint: AgentEndpoint) -> Self {
        let config = CliConfig {
            nodes: vec![mcp_model::config::NodeEntry {
                name: endpoint.node.clone(),
                address: endpoint.addresses.first().cloned(),
                addresses: endpoint.addresses.iter().skip(1).cloned().collect(),
                ..Default::default()
            }],
            ..CliConfig::default()
        };
        Fleet {
            config,
            path: PathBuf::from("(direct)"),
            exists: true,
            explicit: true,
            direct: Some(endpoint),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CliConfig {
        &self.config
    }

    /// Where the configuration was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How to reach image registries: the configuration's CA bundle, plain-HTTP
    /// hosts, and credentials (a password file, or the MCIAS token).
    pub fn registry_settings(&self) -> Result<RegistrySettings, ConfigError> {
        RegistrySettings::from_section(&self.config.registry, Some(&self.config.token_path()))
    }

    /// The definition file named by `arg`: a file, or `<services dir>/<arg>.toml`.
    pub fn definition_path(&self, arg: &str) -> PathBuf {
        let as_path = Path::new(arg);
        if as_path.is_file() || arg.ends_with(".toml") {
            as_path.to_owned()
        } else {
            self.config.services_dir().join(format!("{arg}.toml"))
        }
    }

    /// Loads and validates the definition named by `arg`.
    pub fn definition(&self, arg: &str) -> Result<(PathBuf, ServiceDefinition), crate::Error> {
        self.definition_with_warnings(arg)
            .map(|(path, def, _)| (path, def))
    }

    /// [`Fleet::definition`], with the file's warnings (deprecated keys, accepted
    /// and ignored, each saying what replaces it).
    pub fn definition_with_warnings(
        &self,
        arg: &str,
    ) -> Result<(PathBuf, ServiceDefinition, Vec<Problem>), crate::Error> {
        let path = self.definition_path(arg);
        let (def, warnings) = ServiceDefinition::load_with_warnings(&path)?;
        Ok((path, def, warnings))
    }

    /// The node a service runs on: `flag`, else its definition's, else the only node.
    /// The service name is parsed first (every command and SDK call that names a
    /// service comes through here), so a hostile one is refused before any
    /// connection.
    pub fn node_for(&self, service: &str, flag: Option<&str>) -> Result<String, crate::Error> {
        mcp_model::names::ServiceName::parse(service)?;
        if let Some(n) = flag {
            return Ok(n.to_owned());
        }
        let path = self.definition_path(service);
        if path.is_file() {
            let def = ServiceDefinition::load(&path)?;
            return def.node.ok_or_else(|| {
                ConfigError::Invalid {
                    message: format!(
                        "{service} names no node and is not placed yet: `mcp deploy {service}` places it"
                    ),
                    path,
                }
                .into()
            });
        }
        self.require_nodes()?;
        match self.config.nodes.as_slice() {
            [only] => Ok(only.name.clone()),
            _ => Err(ConfigError::Invalid {
                path: self.path.clone(),
                message: format!(
                    "cannot tell which node runs {service}: no definition at {} and several nodes; name the node",
                    path.display()
                ),
            }
            .into()),
        }
    }

    /// Adds `entry` to the configuration file (which it creates when missing):
    /// its name, address (`host:port`, not resolved) and architecture (Debian's
    /// names; `uname -m`'s are translated) are checked first, and a node already
    /// there is refused unless `replace`.
    pub fn add_node(&self, mut entry: NodeEntry, replace: bool) -> Result<(), crate::Error> {
        let node = entry.name.clone();
        let bad = |message: String| ConfigError::BadNode {
            node: node.clone(),
            message,
        };
        mcp_model::names::NodeName::parse(&node)?;
        if let Some(a) = &entry.address {
            mcp_model::config::check_address(a).map_err(bad)?;
        }
        if let Some(arch) = &entry.arch {
            let arch = mcp_model::config::debian_arch(arch);
            if !ARCHITECTURES.contains(&arch.as_str()) {
                return Err(bad(format!(
                    "unknown architecture {}: one of {}",
                    mcp_model::text::quoted(&arch),
                    ARCHITECTURES.join(", ")
                ))
                .into());
            }
            entry.arch = Some(arch);
        }
        if let Some(old) = self.config.nodes.iter().find(|n| n.name == node)
            && !replace
        {
            return Err(ConfigError::NodeExists {
                node,
                path: self.path.clone(),
                address: old.address.clone().unwrap_or_else(|| "none".into()),
            }
            .into());
        }
        mcp_model::config::add_node(&self.path, &entry)?;
        Ok(())
    }

    /// The nodes to query: `only` (which must be configured), or every node (at
    /// least one).
    pub fn nodes(&self, only: Option<&str>) -> Result<Vec<String>, crate::Error> {
        self.require_nodes()?;
        match only {
            Some(n) => {
                self.config.node(n, &self.path)?;
                Ok(vec![n.to_owned()])
            }
            None => Ok(self.config.nodes.iter().map(|n| n.name.clone()).collect()),
        }
    }

    /// `Ok` when the configuration names a node; else what is missing (no
    /// file where it was looked for, or a file with no `[[nodes]]`), and how
    /// to add one. Every call that reaches nodes asks this first; a tool can
    /// ask it at once, as the Python SDK's `Client.from_config` does.
    pub fn require_nodes(&self) -> Result<(), ConfigError> {
        if self.config.nodes.is_empty() {
            return Err(ConfigError::NoNodes {
                path: self.path.clone(),
                exists: self.exists,
                explicit: self.explicit,
            });
        }
        Ok(())
    }

    /// The one node `only` names, or the only node of the fleet: for `what`, which
    /// follows one node.
    pub fn only_node(&self, only: Option<&str>, what: &str) -> Result<String, crate::Error> {
        match self.nodes(only)?.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(ConfigError::Invalid {
                path: self.path.clone(),
                message: format!("{what} follows one node: pass -n NODE"),
            }
            .into()),
        }
    }

    /// A connection to `node`'s agent.
    pub async fn client(&self, node: &str) -> Result<AgentClient, crate::Error> {
        let endpoint = match &self.direct {
            Some(e) if e.node == node => e.clone(),
            _ => {
                self.require_nodes()?;
                AgentEndpoint::from_config(&self.config, node, &self.path)?
            }
        };
        Ok(AgentClient::connect(&endpoint).await?)
    }

    /// Asks every node of `nodes` at once with `f`, each with its own connection
    /// and [`PER_NODE_TIMEOUT`]: the answers and the failures, in the order given.
    pub async fn ask<T, F, Fut>(&self, nodes: &[String], f: F) -> NodeResults<T>
    where
        F: Fn(String, AgentClient) -> Fut,
        Fut: Future<Output = Result<T, crate::Error>>,
    {
        NodeResults::from_each(self.on_nodes(nodes, f).await)
    }

    /// Runs `f` on every node of `nodes` at once, each with its own connection and
    /// [`PER_NODE_TIMEOUT`]; returns each node's result, in the order given.
    pub async fn on_nodes<T, F, Fut>(
        &self,
        nodes: &[String],
        f: F,
    ) -> Vec<(String, Result<T, crate::Error>)>
    where
        F: Fn(String, AgentClient) -> Fut,
        Fut: Future<Output = Result<T, crate::Error>>,
    {
        self.each_node(nodes, f, true).await
    }

    /// [`Fleet::on_nodes`] for work that takes as long as it takes (a sync of
    /// many services): [`PER_NODE_TIMEOUT`] bounds reaching each node, not
    /// what it then does.
    pub(crate) async fn on_nodes_working<T, F, Fut>(
        &self,
        nodes: &[String],
        f: F,
    ) -> Vec<(String, Result<T, crate::Error>)>
    where
        F: Fn(String, AgentClient) -> Fut,
        Fut: Future<Output = Result<T, crate::Error>>,
    {
        self.each_node(nodes, f, false).await
    }

    async fn each_node<T, F, Fut>(
        &self,
        nodes: &[String],
        f: F,
        bound_work: bool,
    ) -> Vec<(String, Result<T, crate::Error>)>
    where
        F: Fn(String, AgentClient) -> Fut,
        Fut: Future<Output = Result<T, crate::Error>>,
    {
        let timed_out = |node: &str| -> crate::Error {
            ApiError::Connect {
                node: node.to_owned(),
                tried: "(all addresses)".into(),
                message: format!("no answer within {}s", PER_NODE_TIMEOUT.as_secs()),
            }
            .into()
        };
        let futures = nodes.iter().map(|node| {
            let f = &f;
            async move {
                let result = if bound_work {
                    let work = async { f(node.clone(), self.client(node).await?).await };
                    tokio::time::timeout(PER_NODE_TIMEOUT, work)
                        .await
                        .unwrap_or_else(|_| Err(timed_out(node)))
                } else {
                    match tokio::time::timeout(PER_NODE_TIMEOUT, self.client(node)).await {
                        Ok(Ok(client)) => f(node.clone(), client).await,
                        Ok(Err(e)) => Err(e),
                        Err(_) => Err(timed_out(node)),
                    }
                };
                (node.clone(), result)
            }
        });
        join_all(futures).await
    }
}

/// Awaits every future concurrently, keeping their order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
