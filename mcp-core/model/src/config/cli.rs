//! The operator's configuration, `~/.config/mcp/mcp.toml` ([`CliConfig`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ConfigError, RegistrySection, expand_home, parse_with_env, process_env};
use crate::spec::Conventions;

/// The operator's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CliConfig {
    /// `[[nodes]]`: the fleet.
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
    /// `[auth]`.
    #[serde(default)]
    pub auth: CliAuthSection,
    /// `[services]`.
    #[serde(default)]
    pub services: ServicesSection,
    /// `[build]`.
    #[serde(default)]
    pub build: BuildSection,
    /// `[registry]`.
    #[serde(default)]
    pub registry: RegistrySection,
    /// `[tls]`: how agents are verified.
    #[serde(default)]
    pub tls: TlsSection,
    /// `[mcias]`: where `mcp login` goes.
    #[serde(default)]
    pub mcias: CliMcIasSection,
    /// `[conventions]`: how definitions are shown.
    #[serde(default)]
    pub conventions: Conventions,
    /// `[ssh]`: how nodes are reached for provisioning and upgrades.
    #[serde(default)]
    pub ssh: SshSection,
    /// `[provision]`: what `mcp node provision` and `mcp agent upgrade` install.
    #[serde(default)]
    pub provision: ProvisionSection,
}

/// `[ssh]` of the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshSection {
    /// Extra `ssh` arguments for every node (`["-i", "~/.ssh/fleet"]`); the
    /// operator's `~/.ssh/config` applies too.
    pub options: Vec<String>,
}

/// `[provision]` of the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisionSection {
    /// The user the agent and rootless Podman run as.
    pub user: String,
    /// Subordinate UIDs and GIDs for it, `first-last`.
    pub subids: String,
    /// Where agent builds are: `mcp-agent-<arch>` (`amd64`, `arm64`), or
    /// `mcp-agent` for this machine's own architecture. Default: beside `mcp`.
    pub agent_binaries: Option<PathBuf>,
    /// A TOML file of further agent configuration (`[podman]`, `[mcproxy]`,
    /// `[dns]`, …) merged into every provisioned agent's configuration.
    pub agent_config: Option<PathBuf>,
    /// The private key of the CA in `[tls] ca_cert`, to issue agents' certificates.
    pub ca_key: Option<PathBuf>,
    /// How a provisioned agent authenticates callers: `mcias` (with `[mcias]`) or
    /// `token-file` (the operator's token; loopback nodes only).
    pub auth: String,
    /// The command that (re)starts the agent, run privileged on the node.
    pub restart_command: String,
    /// How long a (re)started agent gets to answer with the expected build.
    pub start_timeout_secs: u64,
}

impl Default for ProvisionSection {
    fn default() -> Self {
        ProvisionSection {
            user: "mcp".into(),
            subids: "100000-165535".into(),
            agent_binaries: None,
            agent_config: None,
            ca_key: None,
            auth: "mcias".into(),
            restart_command:
                "systemctl daemon-reload && systemctl enable mcp-agent && systemctl restart mcp-agent"
                    .into(),
            start_timeout_secs: 30,
        }
    }
}

/// One `[[nodes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Node name.
    pub name: String,
    /// The agent's `host:port`.
    #[serde(default)]
    pub address: Option<String>,
    /// Further addresses, tried in order after `address`.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// SSH target.
    #[serde(default)]
    pub ssh: Option<String>,
    /// Architecture (`amd64`, `arm64`).
    #[serde(default)]
    pub arch: Option<String>,
    /// `compute` (the default) or `edge`.
    #[serde(default)]
    pub role: Option<crate::view::NodeRole>,
    /// What makes a command privileged over SSH: `sudo -n` (default), `doas`, or
    /// `""` when the SSH user is root.
    #[serde(default)]
    pub sudo: Option<String>,
    /// The file system root the node's files are under (default `/`): `/srv/mcp`
    /// is `<root>/srv/mcp`. For test roots and chroots.
    #[serde(default)]
    pub root: Option<PathBuf>,
    /// This node's own agent configuration, merged over `[provision]
    /// agent_config` (its `[dns] addresses`, `[edge]`, `[podman]`, …).
    #[serde(default)]
    pub agent_config: Option<PathBuf>,
    /// This node's restart command, instead of `[provision] restart_command`.
    #[serde(default)]
    pub restart_command: Option<String>,
}

impl NodeEntry {
    /// Every address, in the order to try them.
    pub fn all_addresses(&self) -> Vec<String> {
        self.address
            .iter()
            .chain(&self.addresses)
            .cloned()
            .collect()
    }
}

/// `[auth]` of the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CliAuthSection {
    /// Where the bearer token is kept.
    pub token_path: PathBuf,
}

impl Default for CliAuthSection {
    fn default() -> Self {
        CliAuthSection {
            token_path: PathBuf::from("~/.config/mcp/token"),
        }
    }
}

/// `[services]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServicesSection {
    /// The directory of service definitions.
    pub dir: PathBuf,
}

impl Default for ServicesSection {
    fn default() -> Self {
        ServicesSection {
            dir: PathBuf::from("~/.config/mcp/services"),
        }
    }
}

/// `[build]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    /// The source workspace (`<workspace>/<path>` per service).
    #[serde(default)]
    pub workspace: Option<PathBuf>,
}

/// `[tls]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM CA that signed the agents' certificates.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Name to verify agent certificates against (each address's host when absent).
    #[serde(default)]
    pub server_name: Option<String>,
}

/// `[mcias]` of the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CliMcIasSection {
    /// Base URL.
    pub server_url: String,
    /// PEM CA bundle to trust for MCIAS.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// The service name to log in to.
    #[serde(default = "default_cli_service")]
    pub service_name: String,
}

fn default_cli_service() -> String {
    "mcp".into()
}

impl Default for CliMcIasSection {
    fn default() -> Self {
        CliMcIasSection {
            server_url: "https://mcias.metacircular.net:8443".into(),
            ca_cert: None,
            service_name: default_cli_service(),
        }
    }
}

const CLI_SECTIONS: &[&str] = &[
    "auth",
    "services",
    "build",
    "registry",
    "tls",
    "mcias",
    "ssh",
    "provision",
];

impl CliConfig {
    /// The default location: `$MCP_CONFIG`, else `~/.config/mcp/mcp.toml`.
    pub fn default_path() -> PathBuf {
        std::env::var_os("MCP_CONFIG").map_or_else(
            || expand_home(Path::new("~/.config/mcp/mcp.toml")),
            PathBuf::from,
        )
    }

    /// Reads `path` (an absent file is an empty configuration) and applies the
    /// `MCP_*` environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        Self::parse(&text, path, &process_env())
    }

    /// Parses `text` with the overrides in `env`.
    pub fn parse(text: &str, path: &Path, env: &[(String, String)]) -> Result<Self, ConfigError> {
        parse_with_env(text, path, "MCP_", CLI_SECTIONS, env)
    }

    /// The services directory, `~` expanded.
    pub fn services_dir(&self) -> PathBuf {
        expand_home(&self.services.dir)
    }

    /// The token file, `~` expanded.
    pub fn token_path(&self) -> PathBuf {
        expand_home(&self.auth.token_path)
    }

    /// The node named `name`.
    pub fn node(&self, name: &str, path: &Path) -> Result<&NodeEntry, ConfigError> {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| ConfigError::UnknownNode {
                node: name.to_owned(),
                path: path.to_owned(),
                known: if self.nodes.is_empty() {
                    "none".into()
                } else {
                    self.nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            })
    }
}
