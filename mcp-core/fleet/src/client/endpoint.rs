//! Where and how to reach one node's agent ([`AgentEndpoint`]): its
//! addresses, the CA its certificate chains to, the token, the timeouts; from
//! the CLI configuration or given by hand.

use std::path::Path;
use std::time::Duration;

use mcp_model::config::{CliConfig, ConfigError, NodeEntry, expand_home};

/// Where and how to reach one node's agent: read from the CLI configuration
/// ([`AgentEndpoint::from_config`]: the CA and the token read from their
/// files, the token trimmed), or filled by hand for a node no file names.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use mcp_fleet::client::AgentEndpoint;
/// use mcp_model::config::CliConfig;
///
/// let dir = tempfile::tempdir()?;
/// let (ca, token) = (dir.path().join("ca.pem"), dir.path().join("token"));
/// std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\n")?; // the agents' CA
/// mcp_model::fsutil::write_atomic(&token, b"s3cret\n", 0o600)?; // owner-only
/// let path = dir.path().join("mcp.toml");
/// let text = format!(
///     "[[nodes]]\nname = \"rift\"\naddress = \"10.0.0.5:9444\"\n\n\
///      [tls]\nca_cert = {ca:?}\n\n[auth]\ntoken_path = {token:?}\n"
/// );
/// let config = CliConfig::parse(&text, &path, &[])?;
/// let endpoint = AgentEndpoint::from_config(&config, "rift", &path)?;
/// assert_eq!(endpoint.addresses, ["10.0.0.5:9444"]);
/// assert_eq!(endpoint.token, "s3cret");
/// // A CA file that is not there is "not found", and says which setting names it.
/// std::fs::remove_file(&ca)?;
/// let err = AgentEndpoint::from_config(&config, "rift", &path).unwrap_err();
/// assert_eq!(err.kind(), mcp_model::ErrorKind::NotFound);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AgentEndpoint {
    /// The node's name (for messages).
    pub node: String,
    /// `host:port` addresses, tried in order.
    pub addresses: Vec<String>,
    /// PEM of the CA that signed the agent's certificate.
    pub ca_pem: Vec<u8>,
    /// The name to verify the agent's certificate against; the address's host when
    /// `None`.
    pub server_name: Option<String>,
    /// The bearer token.
    pub token: String,
    /// How long to wait for each address.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for AgentEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentEndpoint")
            .field("node", &self.node)
            .field("addresses", &self.addresses)
            .field("server_name", &self.server_name)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl AgentEndpoint {
    /// How to reach node `name` of the CLI configuration `config` (read from
    /// `path`): its addresses, the CA and the token from their files.
    pub fn from_config(config: &CliConfig, name: &str, path: &Path) -> Result<Self, ConfigError> {
        Self::of_entry(config, config.node(name, path)?, path)
    }

    /// The CA file `path` (PEM): a missing file is [`ConfigError::Missing`]
    /// (not found), an unreadable one [`ConfigError::File`].
    pub fn read_ca(path: &Path) -> Result<Vec<u8>, ConfigError> {
        std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ConfigError::Missing {
                what: "agent CA",
                path: path.to_owned(),
                hint: "tls.ca_cert names the CA that signed the agents' certificates",
            },
            _ => ConfigError::File {
                what: "agent CA",
                path: path.to_owned(),
                message: e.to_string(),
            },
        })
    }

    /// How to reach `node` (configured or not yet) with the CA and token `config`
    /// names.
    pub fn of_entry(
        config: &CliConfig,
        node: &NodeEntry,
        path: &Path,
    ) -> Result<Self, ConfigError> {
        let ca = config
            .tls
            .ca_cert
            .as_ref()
            .ok_or_else(|| ConfigError::Invalid {
                path: path.to_owned(),
                message: "tls.ca_cert is not set: the CA that signed the agents' certificates"
                    .into(),
            })?;
        let ca = expand_home(ca);
        let ca_pem = Self::read_ca(&ca)?;
        let token_path = config.token_path();
        let token = match mcp_model::fsutil::read_secret(&token_path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(mcp_model::fsutil::SecretError::Exposed(e)) => {
                return Err(ConfigError::File {
                    what: "token",
                    path: token_path.clone(),
                    message: e.to_string(),
                });
            }
            Err(mcp_model::fsutil::SecretError::Io(e)) => {
                // Which kind of node it is only the agent knows: both ways.
                return Err(ConfigError::NoToken {
                    path: token_path.clone(),
                    message: e.to_string(),
                    hint: "a node with a token file: copy its admin token there (mode 0600; \
                           `mcp-agent init --local DIR` writes DIR/admin-token) or point \
                           [auth] token_path at it; a node using MCIAS: `mcp login` writes it"
                        .to_owned(),
                });
            }
        };
        Ok(AgentEndpoint {
            node: node.name.clone(),
            addresses: node.all_addresses(),
            ca_pem,
            server_name: config.tls.server_name.clone(),
            token: token.trim().to_owned(),
            connect_timeout: Duration::from_secs(5),
        })
    }
}
