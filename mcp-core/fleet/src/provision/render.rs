//! What provisioning writes on a node: the agent's configuration (the fleet's
//! `[provision] agent_config`, the node's own over it, and this node's server,
//! node, database, auth and paths over both), how the agent authenticates its
//! callers, and its systemd unit.

use std::path::{Path, PathBuf};

use mcp_model::config::{NodeEntry, read_text};

use super::ProvisionError;
use super::target::Layout;
use crate::fleet::Fleet;

impl Fleet {
    /// How a provisioned agent authenticates its callers.
    pub(super) fn agent_auth(
        &self,
        entry: &NodeEntry,
        listen: std::net::SocketAddr,
    ) -> Result<AgentAuth, crate::Error> {
        let config = self.config();
        match config.provision.auth.as_str() {
            "mcias" => Ok(AgentAuth::Mcias {
                url: config.mcias.server_url.clone(),
                ca: config
                    .mcias
                    .ca_cert
                    .as_ref()
                    .map(|p| read_text("MCIAS CA", p))
                    .transpose()?,
            }),
            "token-file" => {
                if !listen.ip().is_loopback() {
                    return Err(ProvisionError::Settings(format!(
                        "node {}: [provision] auth = \"token-file\" only works for an agent on loopback (it would listen on {listen}); use \"mcias\"",
                        entry.name
                    ))
                    .into());
                }
                let token = read_text("token", &config.token_path())?;
                Ok(AgentAuth::TokenFile(token.trim().to_owned()))
            }
            other => Err(ProvisionError::Settings(format!(
                "[provision] auth = {other:?}: mcias or token-file"
            ))
            .into()),
        }
    }

    /// The agent's configuration: the operator's `[provision] agent_config` with
    /// this node's server, node, database, auth and paths set over it.
    pub(super) fn render_agent_config(
        &self,
        entry: &NodeEntry,
        listen: std::net::SocketAddr,
        layout: &Layout,
        auth: &AgentAuth,
    ) -> Result<String, crate::Error> {
        let config = self.config();
        let read = |p: &Option<PathBuf>| -> Result<toml_edit::DocumentMut, crate::Error> {
            let Some(p) = p else {
                return Ok(toml_edit::DocumentMut::new());
            };
            let text = read_text("agent configuration", p)?;
            text.parse().map_err(|e: toml_edit::TomlError| {
                ProvisionError::Settings(format!("{}: {e}", p.display())).into()
            })
        };
        let mut doc = read(&config.provision.agent_config)?;
        // The node's own file goes over the fleet's, key by key.
        for (section, item) in read(&entry.agent_config)?.iter() {
            match (
                doc.get_mut(section).and_then(|i| i.as_table_mut()),
                item.as_table(),
            ) {
                (Some(base), Some(over)) => {
                    for (k, v) in over.iter() {
                        base.insert(k, v.clone());
                    }
                }
                _ => {
                    doc.insert(section, item.clone());
                }
            }
        }
        let mut set = |section: &str, key: &str, value: toml_edit::Value| {
            let table = doc
                .entry(section)
                .or_insert_with(toml_edit::table)
                .as_table_mut();
            if let Some(t) = table {
                t.insert(key, toml_edit::value(value));
            }
        };
        set("server", "listen", listen.to_string().into());
        set("server", "tls_cert", layout.file("agent.pem").into());
        set("server", "tls_key", layout.file("agent.key").into());
        set("node", "name", entry.name.clone().into());
        set(
            "node",
            "role",
            entry.role.unwrap_or_default().as_str().into(),
        );
        set("database", "path", layout.file("mcp.db").into());
        match auth {
            AgentAuth::TokenFile(_) => {
                set("auth", "mode", "token-file".into());
                set("auth", "token_file", layout.file("admin-token").into());
            }
            AgentAuth::Mcias { url, ca } => {
                set("auth", "mode", "mcias".into());
                set("mcias", "server_url", url.clone().into());
                if ca.is_some() {
                    set("mcias", "ca_cert", layout.file("mcias-ca.pem").into());
                }
            }
        }
        if layout.root != Path::new("/") {
            set("conventions", "data_root", layout.srv().into());
        }
        Ok(doc.to_string())
    }
}

/// How a provisioned agent authenticates its callers.
#[derive(Debug, Clone)]
pub(super) enum AgentAuth {
    TokenFile(String),
    Mcias { url: String, ca: Option<String> },
}

/// The systemd unit of the agent.
pub(super) fn render_unit(layout: &Layout, user: &str) -> String {
    format!(
        "# Written by mcp node provision.\n\
         [Unit]\n\
         Description=MCP agent (Metacircular Control Plane)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\n\
         [Service]\n\
         User={user}\n\
         ExecStart={bin} serve --config {config}\n\
         Restart=on-failure\n\
         # Containers are Podman's (conmon), not the agent's: they keep running\n\
         # when the agent stops or is upgraded.\n\
         KillMode=process\n\
         Delegate=yes\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        bin = layout.file("mcp-agent"),
        config = layout.file("mcp-agent.toml"),
    )
}
