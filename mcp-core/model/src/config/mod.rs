//! The configuration files: the agent's (`/srv/mcp/mcp-agent.toml`, [`AgentConfig`])
//! and the operator's (`~/.config/mcp/mcp.toml`, [`CliConfig`]).
//!
//! Both are TOML; every key can be overridden from the environment:
//! `MCP_AGENT_<SECTION>_<KEY>` for the agent (`MCP_AGENT_SERVER_LISTEN`),
//! `MCP_<SECTION>_<KEY>` for the CLI (`MCP_AUTH_TOKEN_PATH`). A value that parses as
//! TOML (`true`, `5`, `["podman"]`) is taken as such, anything else as a string.
//! Every field is documented in `docs/configuration.md`.
//!
//! Configuration is plain data: this module parses, checks and edits it, and the
//! halves build what it describes (`mcp_node::wiring` the node's runtime,
//! issuers and registrars; `mcp_fleet` the connections to agents).

mod agent;
mod cli;
mod edit;
mod integrations;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::DocumentMut;

pub use agent::*;
pub use cli::*;
pub use edit::{add_node, remove_node};
pub use integrations::*;

use crate::ErrorKind;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file (with its environment overrides) is not a valid configuration.
    #[error("config {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line, column and key where known.
        message: String,
    },
    /// A node is not in the CLI configuration.
    #[error("node {node:?} is not in {} (known: {known}); add it with `mcp node add`", path.display())]
    UnknownNode {
        /// The node asked for.
        node: String,
        /// The config file.
        path: PathBuf,
        /// The nodes it has.
        known: String,
    },
    /// The CLI configuration names no node: the file named by `--config` or
    /// `$MCP_CONFIG` does not exist, there is none at the default path, or it
    /// lists no `[[nodes]]`.
    #[error("{}", no_nodes(path, *exists, *explicit))]
    NoNodes {
        /// The config file.
        path: PathBuf,
        /// Whether it exists.
        exists: bool,
        /// Whether it was named (`--config`, `$MCP_CONFIG`, a path given to the
        /// SDK) rather than the default.
        explicit: bool,
    },
    /// There is no token to present: the token file is missing or unreadable.
    #[error("no token at {}: {message}; {hint}", path.display())]
    NoToken {
        /// The token file.
        path: PathBuf,
        /// Why it could not be read.
        message: String,
        /// How to get one (the node's admin token, or `mcp login` with MCIAS).
        hint: String,
    },
    /// A node entry to add is malformed (its name, address or architecture).
    #[error("node {node:?}: {message}")]
    BadNode {
        /// The node's name as given.
        node: String,
        /// What is wrong.
        message: String,
    },
    /// A node to add is already configured.
    #[error("node {node:?} is already in {} (address {address}); pass --replace to overwrite it", path.display())]
    NodeExists {
        /// The node.
        node: String,
        /// The config file.
        path: PathBuf,
        /// Its configured address.
        address: String,
    },
    /// A file the configuration points to does not exist.
    #[error("{what} {} does not exist; {hint}", path.display())]
    Missing {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Which setting names it.
        hint: &'static str,
    },
    /// A file the configuration points to is unusable.
    #[error("{what} {}: {message}", path.display())]
    File {
        /// What the file is for.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl ConfigError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            ConfigError::Read { .. } => ErrorKind::Io,
            ConfigError::UnknownNode { .. }
            | ConfigError::NoNodes { .. }
            | ConfigError::Missing { .. } => ErrorKind::NotFound,
            ConfigError::File { .. }
            | ConfigError::Invalid { .. }
            | ConfigError::BadNode { .. } => ErrorKind::InvalidInput,
            ConfigError::NodeExists { .. } => ErrorKind::Conflict,
            ConfigError::NoToken { .. } => ErrorKind::Unauthenticated,
        }
    }
}

/// What [`ConfigError::NoNodes`] says: what is missing, and how to make it.
fn no_nodes(path: &Path, exists: bool, explicit: bool) -> String {
    let path = path.display();
    match (exists, explicit) {
        (true, _) => {
            format!("{path} configures no nodes: add one with `mcp node add NAME HOST:PORT`")
        }
        (false, true) => {
            format!(
                "configuration {path} does not exist (named by --config, $MCP_CONFIG or the program)"
            )
        }
        (false, false) => format!(
            "no configuration at {path}: for a node on this machine run `mcp-agent init --local DIR` \
             and pass --config DIR/mcp.toml (or set MCP_CONFIG); for a fleet, `mcp node add NAME HOST:PORT` \
             writes it (docs/configuration.md)"
        ),
    }
}

/// Expands a leading `~/` to `$HOME/`.
pub fn expand_home(path: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => std::env::var_os("HOME")
            .map_or_else(|| path.to_owned(), |home| PathBuf::from(home).join(rest)),
        Err(_) => path.to_owned(),
    }
}

/// Parses `text` with the environment overrides of `prefix` for `sections` applied.
fn parse_with_env<T: for<'de> Deserialize<'de>>(
    text: &str,
    path: &Path,
    prefix: &str,
    sections: &[&str],
    env: &[(String, String)],
) -> Result<T, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| invalid(e.to_string()))?;
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(prefix) else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        let Some((section, key)) = rest.split_once('_') else {
            continue;
        };
        if !sections.contains(&section) || key.is_empty() {
            continue;
        }
        let value: toml_edit::Value = value
            .parse::<toml_edit::Value>()
            .unwrap_or_else(|_| toml_edit::Value::from(value.as_str()));
        let table = doc
            .entry(section)
            .or_insert_with(toml_edit::table)
            .as_table_like_mut()
            .ok_or_else(|| invalid(format!("{var}: [{section}] is not a table")))?;
        table.insert(key, toml_edit::Item::Value(value));
    }
    toml_edit::de::from_str(&doc.to_string())
        .map_err(|e| invalid(e.to_string().trim_end().to_owned()))
}

fn process_env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// The text of the file `path` (`~` expanded); an error names it as `what`.
pub fn read_text(what: &'static str, path: &Path) -> Result<String, ConfigError> {
    let path = expand_home(path);
    std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
        what,
        path,
        message: e.to_string(),
    })
}

/// The host part of an agent address `host:port` (`[v6]:port` too; an address
/// without a port is all host).
pub fn host_of(address: &str) -> &str {
    match address.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => {
            host.trim_start_matches('[').trim_end_matches(']')
        }
        _ => address,
    }
}

/// Checks that `address` is `host:port` (a name, an IPv4 address, or an IPv6
/// address in brackets, and a port 1..=65535), without resolving it.
pub fn check_address(address: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "address {} is not HOST:PORT ({why})",
            crate::text::quoted(address)
        ))
    };
    let Some((host, port)) = address.rsplit_once(':') else {
        return bad("no port");
    };
    if port.parse::<u16>().ok().filter(|p| *p != 0).is_none() {
        return bad("the port must be 1..=65535");
    }
    if let Some(v6) = host.strip_prefix('[') {
        return match v6.strip_suffix(']').map(str::parse::<std::net::Ipv6Addr>) {
            Some(Ok(_)) => Ok(()),
            _ => bad("an IPv6 address goes in brackets: [::1]:9444"),
        };
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(());
    }
    if host.len() <= 253 && host.split('.').all(crate::names::is_host_label) {
        Ok(())
    } else {
        bad("the host must be a DNS name or an IP address")
    }
}

/// The Debian architecture name of `uname -m`'s answer.
pub fn debian_arch(uname_m: &str) -> String {
    match uname_m.trim() {
        "x86_64" => "amd64".into(),
        "aarch64" | "arm64" => "arm64".into(),
        "armv7l" => "armhf".into(),
        other => other.into(),
    }
}

/// The architectures agent builds are named for (`mcp-agent-<arch>`), Debian's
/// names.
pub const ARCHITECTURES: &[&str] = &["amd64", "arm64", "armhf"];

/// `[registry]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySection {
    /// The image registry host (`host:port`) of derived image names.
    #[serde(default)]
    pub url: Option<String>,
    /// PEM CA bundle trusted for registries besides the system roots.
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Registry hosts reached over plain HTTP (never any other).
    #[serde(default)]
    pub insecure: Vec<String>,
    /// User name for the registry at `url`.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the password for the registry at `url`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Use the MCIAS token (`[auth] token_path`) as the password: the platform's
    /// auto-login to MCR.
    #[serde(default)]
    pub use_token: bool,
}
