//! What every command needs: the configuration, where definitions are, which node a
//! service is on, and connections to agents.

use std::path::{Path, PathBuf};

use mcp_core::api::AgentClient;
use mcp_core::config::{CliConfig, ConfigError};
use mcp_core::spec::ServiceDefinition;

/// The loaded configuration and global flags.
pub(crate) struct Context {
    pub(crate) config: CliConfig,
    pub(crate) path: PathBuf,
    pub(crate) json: bool,
}

impl Context {
    pub(crate) fn load(path: Option<PathBuf>, json: bool) -> Result<Self, mcp_core::Error> {
        let path = path.unwrap_or_else(CliConfig::default_path);
        let config = CliConfig::load(&path)?;
        Ok(Context { config, path, json })
    }

    /// The definition named by `arg`: a file, or `<services dir>/<arg>.toml`.
    pub(crate) fn definition_path(&self, arg: &str) -> PathBuf {
        let as_path = Path::new(arg);
        if as_path.is_file() || arg.ends_with(".toml") {
            as_path.to_owned()
        } else {
            self.config.services_dir().join(format!("{arg}.toml"))
        }
    }

    /// Loads and validates the definition named by `arg`.
    pub(crate) fn definition(
        &self,
        arg: &str,
    ) -> Result<(PathBuf, ServiceDefinition), mcp_core::Error> {
        let path = self.definition_path(arg);
        let def = ServiceDefinition::load(&path)?;
        Ok((path, def))
    }

    /// The node a service runs on: `-n`, else its definition's, else the only node.
    pub(crate) fn node_for(
        &self,
        service: &str,
        flag: Option<&str>,
    ) -> Result<String, mcp_core::Error> {
        if let Some(n) = flag {
            return Ok(n.to_owned());
        }
        let path = self.definition_path(service);
        if path.is_file() {
            return Ok(ServiceDefinition::load(&path)?.node);
        }
        match self.config.nodes.as_slice() {
            [only] => Ok(only.name.clone()),
            _ => Err(ConfigError::Invalid {
                path: self.path.clone(),
                message: format!(
                    "cannot tell which node runs {service}: no definition at {} and several nodes; pass -n NODE",
                    path.display()
                ),
            }
            .into()),
        }
    }

    /// The nodes to query: `only`, or every configured node.
    pub(crate) fn nodes(&self, only: Option<&str>) -> Result<Vec<String>, mcp_core::Error> {
        match only {
            Some(n) => {
                self.config.node(n, &self.path)?;
                Ok(vec![n.to_owned()])
            }
            None => Ok(self.config.nodes.iter().map(|n| n.name.clone()).collect()),
        }
    }

    /// A connection to `node`'s agent.
    pub(crate) async fn client(&self, node: &str) -> Result<AgentClient, mcp_core::Error> {
        let endpoint = self.config.endpoint(node, &self.path)?;
        Ok(AgentClient::connect(&endpoint).await?)
    }
}
