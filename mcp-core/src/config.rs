//! The configuration files: the agent's (`/srv/mcp/mcp-agent.toml`, [`AgentConfig`])
//! and the operator's (`~/.config/mcp/mcp.toml`, [`CliConfig`]).
//!
//! Both are TOML; every key can be overridden from the environment:
//! `MCP_AGENT_<SECTION>_<KEY>` for the agent (`MCP_AGENT_SERVER_LISTEN`),
//! `MCP_<SECTION>_<KEY>` for the CLI (`MCP_AUTH_TOKEN_PATH`). A value that parses as
//! TOML (`true`, `5`, `["podman"]`) is taken as such, anything else as a string.
//! Every field is documented in `docs/configuration.md`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use toml_edit::DocumentMut;

use crate::ErrorKind;
use crate::api::AgentEndpoint;
use crate::ports::PortRange;
use crate::spec::Conventions;

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
            ConfigError::UnknownNode { .. } => ErrorKind::NotFound,
            ConfigError::File { .. } | ConfigError::Invalid { .. } => ErrorKind::InvalidInput,
        }
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

// ---- agent ------------------------------------------------------------------------------

/// The agent's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `[server]`: where and how the gRPC API listens.
    pub server: ServerSection,
    /// `[node]`: this node.
    pub node: NodeSection,
    /// `[database]`: the registry.
    #[serde(default)]
    pub database: DatabaseSection,
    /// `[auth]`: how callers are authenticated.
    #[serde(default)]
    pub auth: AuthSection,
    /// `[mcias]`: the identity service.
    #[serde(default)]
    pub mcias: McIasSection,
    /// `[podman]`: the container runtime.
    #[serde(default)]
    pub podman: PodmanSection,
    /// `[monitor]`: the reconcile loop.
    #[serde(default)]
    pub monitor: MonitorSection,
    /// `[ports]`: host ports for routes.
    #[serde(default)]
    pub ports: PortsSection,
    /// `[conventions]`: defaults applied to definitions.
    #[serde(default)]
    pub conventions: Conventions,
    /// `[registry]`: how images are checked and pulled.
    #[serde(default)]
    pub registry: RegistrySection,
    /// `[mcproxy]`: the node's proxy.
    #[serde(default)]
    pub mcproxy: McProxySection,
    /// `[certs]`: certificates for l7 routes.
    #[serde(default)]
    pub certs: CertsSection,
    /// `[dns]`: DNS registration.
    #[serde(default)]
    pub dns: DnsSection,
    /// `[snapshots]`: where snapshots of services' data go.
    #[serde(default)]
    pub snapshots: SnapshotsSection,
    /// `[edge]`: what an edge node accepts to route.
    #[serde(default)]
    pub edge: EdgeSection,
    /// `[log]`: logging.
    #[serde(default)]
    pub log: LogSection,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// `host:port` to listen on (TLS 1.3 only).
    pub listen: SocketAddr,
    /// PEM certificate chain of the agent.
    pub tls_cert: PathBuf,
    /// PEM private key of the agent.
    pub tls_key: PathBuf,
    /// How long in-flight RPCs get to finish on shutdown, seconds.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_secs: u64,
}

fn default_shutdown_grace() -> u64 {
    10
}

/// `[node]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// This node's name; definitions must name it.
    pub name: String,
    /// Address container ports are published on.
    #[serde(default = "loopback")]
    pub publish_address: IpAddr,
    /// `compute` (runs containers; the default) or `edge` (runs only proxy routes
    /// for public traffic, and needs no container runtime).
    #[serde(default)]
    pub role: crate::registry::NodeRole,
}

/// `[edge]`: an edge node's rules for public routes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeSection {
    /// The domains public hostnames must fall under (the domain itself or a name
    /// ending in `.` + domain). Empty: the edge routes nothing.
    pub allowed_domains: Vec<String>,
}

fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

/// `[database]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// The registry file.
    pub path: PathBuf,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            path: PathBuf::from("/srv/mcp/mcp.db"),
        }
    }
}

/// How callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// MCIAS bearer tokens (the platform).
    Mcias,
    /// One admin token in a file; only on loopback (a single-machine node).
    TokenFile,
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// `mcias` or `token-file`.
    pub mode: AuthMode,
    /// The admin token file (`token-file` mode).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            mode: AuthMode::Mcias,
            token_file: None,
        }
    }
}

/// `[mcias]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McIasSection {
    /// Base URL.
    pub server_url: String,
    /// PEM CA bundle to trust for MCIAS (system roots when absent).
    #[serde(default)]
    pub ca_cert: Option<PathBuf>,
    /// Path of the token validation endpoint.
    #[serde(default = "default_validate_path")]
    pub validate_path: String,
    /// The name MCIAS knows the agent by.
    #[serde(default = "default_agent_service")]
    pub service_name: String,
}

fn default_validate_path() -> String {
    "/v1/token/validate".into()
}

fn default_agent_service() -> String {
    "mcp-agent".into()
}

impl Default for McIasSection {
    fn default() -> Self {
        McIasSection {
            server_url: "https://mcias.metacircular.net:8443".into(),
            ca_cert: None,
            validate_path: default_validate_path(),
            service_name: default_agent_service(),
        }
    }
}

/// `[podman]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PodmanSection {
    /// The command that runs Podman (program and leading arguments).
    pub command: Vec<String>,
    /// A `containers.conf` for every Podman call (`CONTAINERS_CONF`).
    #[serde(default)]
    pub containers_conf: Option<PathBuf>,
    /// The user host files for containers belong to, when Podman runs as another
    /// user than the agent: `NAME` (from `/etc/passwd`) or `UID:GID`.
    #[serde(default)]
    pub data_owner: Option<String>,
}

impl Default for PodmanSection {
    fn default() -> Self {
        PodmanSection {
            command: vec!["podman".into()],
            containers_conf: None,
            data_owner: None,
        }
    }
}

/// The user database `[podman] data_owner` names are looked up in.
const PASSWD: &str = "/etc/passwd";

/// `NAME` (looked up in `passwd`: its uid and primary group) or `UID:GID`.
fn resolve_owner(owner: &str, passwd: &Path) -> Result<(u32, u32), String> {
    if let Some((uid, gid)) = owner.split_once(':') {
        let id = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{owner:?} is neither a user name nor UID:GID"))
        };
        return Ok((id(uid)?, id(gid)?));
    }
    let users = std::fs::read_to_string(passwd)
        .map_err(|e| format!("cannot look up {owner:?} in {}: {e}", passwd.display()))?;
    users
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.len() > 3 && f[0] == owner)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| format!("no user {owner:?} in {}", passwd.display()))
}

/// `[monitor]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorSection {
    /// Whether the monitor runs.
    pub enabled: bool,
    /// Seconds between ticks.
    pub interval_secs: u64,
    /// More restarts than this in the window mark a container flapping.
    pub flap_threshold: u32,
    /// The flap window, seconds.
    pub flap_window_secs: u64,
    /// Seconds between certificate renewal passes.
    pub renew_interval_secs: u64,
}

impl Default for MonitorSection {
    fn default() -> Self {
        let d = crate::reconcile::MonitorConfig::default();
        MonitorSection {
            enabled: true,
            interval_secs: d.interval.as_secs(),
            flap_threshold: d.flap_threshold,
            flap_window_secs: d.flap_window.as_secs(),
            renew_interval_secs: d.renew_interval.as_secs(),
        }
    }
}

impl MonitorSection {
    /// As the monitor takes it.
    pub fn monitor_config(&self) -> crate::reconcile::MonitorConfig {
        crate::reconcile::MonitorConfig {
            interval: Duration::from_secs(self.interval_secs.max(1)),
            flap_threshold: self.flap_threshold,
            flap_window: Duration::from_secs(self.flap_window_secs),
            renew_interval: Duration::from_secs(self.renew_interval_secs.max(1)),
        }
    }
}

/// `[ports]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortsSection {
    /// `START-END`.
    pub range: String,
}

impl Default for PortsSection {
    fn default() -> Self {
        PortsSection {
            range: PortRange::default().to_string(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: String,
    /// A `tracing` filter, e.g. `info` or `mcp_core=debug`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

const AGENT_SECTIONS: &[&str] = &[
    "server",
    "node",
    "database",
    "auth",
    "mcias",
    "podman",
    "monitor",
    "ports",
    "conventions",
    "registry",
    "mcproxy",
    "certs",
    "dns",
    "snapshots",
    "log",
];

impl AgentConfig {
    /// Reads `path` and applies the `MCP_AGENT_*` environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path, &process_env())
    }

    /// Parses `text` (read from `path`) with the overrides in `env`, and checks it.
    pub fn parse(text: &str, path: &Path, env: &[(String, String)]) -> Result<Self, ConfigError> {
        let config: AgentConfig = parse_with_env(text, path, "MCP_AGENT_", AGENT_SECTIONS, env)?;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        self.port_range()
            .map_err(|e| invalid(format!("ports.range: {e}")))?;
        if self.node.name.trim().is_empty() {
            return Err(invalid("node.name must not be empty".into()));
        }
        if self.podman.command.is_empty() {
            return Err(invalid("podman.command must name a program".into()));
        }
        if let Some(owner) = &self.podman.data_owner {
            resolve_owner(owner, Path::new(PASSWD))
                .map_err(|e| invalid(format!("podman.data_owner: {e}")))?;
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid(format!(
                "log.format must be text or json, not {:?}",
                self.log.format
            )));
        }
        if self.auth.mode == AuthMode::TokenFile {
            if self.auth.token_file.is_none() {
                return Err(invalid(
                    "auth.mode = \"token-file\" needs auth.token_file".into(),
                ));
            }
            if !self.server.listen.ip().is_loopback() {
                return Err(invalid(format!(
                    "server.listen = {}: a node authenticated by a token file listens on loopback only (127.0.0.1 or ::1); use MCIAS to listen elsewhere",
                    self.server.listen
                )));
            }
        }
        if let Some(problem) = self.certs_problem() {
            return Err(invalid(problem));
        }
        if self.certs.validity_days <= self.certs.renew_window_days {
            return Err(invalid(format!(
                "certs.validity_days ({}) must exceed certs.renew_window_days ({}), or every certificate would be renewed at once",
                self.certs.validity_days, self.certs.renew_window_days
            )));
        }
        if let Some(problem) = self.dns_problem() {
            return Err(invalid(problem));
        }
        if self.registry.use_token {
            return Err(invalid(
                "registry.use_token: the agent holds no MCIAS token; give the registry password in registry.password_file".into(),
            ));
        }
        Ok(())
    }

    /// The proxy integration this configuration describes (`None` without
    /// `[mcproxy] socket`).
    pub fn proxy_integration(
        &self,
    ) -> Result<Option<crate::engine::ProxyIntegration>, crate::Error> {
        let Some(socket) = &self.mcproxy.socket else {
            return Ok(None);
        };
        let day = Duration::from_secs(86_400);
        let issuer = self.cert_issuer()?;
        Ok(Some(crate::engine::ProxyIntegration {
            routes: std::sync::Arc::new(crate::routes::McProxy::new(
                expand_home(socket),
                Duration::from_secs(self.mcproxy.timeout_secs.max(1)),
            )),
            certs: crate::certs::CertStore::new(expand_home(&self.mcproxy.cert_dir)),
            issuer,
            renew_window: day * u32::try_from(self.certs.renew_window_days).unwrap_or(u32::MAX),
        }))
    }

    /// What is wrong with `[certs]`, if anything.
    fn certs_problem(&self) -> Option<String> {
        let c = &self.certs;
        match c.issuer.as_str() {
            "local" => None,
            "acme" => {
                if c.acme_directory.is_none() {
                    return Some("certs.issuer = \"acme\" needs certs.acme_directory".into());
                }
                if c.acme_eab_kid.is_some() != c.acme_eab_hmac_key_file.is_some() {
                    return Some(
                        "certs.acme_eab_kid and certs.acme_eab_hmac_key_file go together".into(),
                    );
                }
                match c.acme_challenge.as_str() {
                    "http-01" if c.acme_http01_listen.is_none() => Some(
                        "certs.acme_challenge = \"http-01\" needs certs.acme_http01_listen (where the ACME server's HTTP-01 requests arrive)".into(),
                    ),
                    "dns-01" if self.dns.registrar.is_none() => Some(
                        "certs.acme_challenge = \"dns-01\" needs a DNS registrar ([dns] registrar)".into(),
                    ),
                    "http-01" | "dns-01" => None,
                    other => Some(format!(
                        "certs.acme_challenge = {other:?}: use \"http-01\" or \"dns-01\""
                    )),
                }
            }
            "metacrypt" => (c.metacrypt_url.is_none() || c.metacrypt_token_file.is_none()).then(|| {
                "certs.issuer = \"metacrypt\" needs certs.metacrypt_url and certs.metacrypt_token_file".into()
            }),
            other => Some(format!(
                "certs.issuer = {other:?}: use \"local\", \"acme\" or \"metacrypt\""
            )),
        }
    }

    /// The certificate issuer `[certs]` describes.
    fn cert_issuer(&self) -> Result<std::sync::Arc<dyn crate::certs::CertIssuer>, crate::Error> {
        let c = &self.certs;
        let day = Duration::from_secs(86_400);
        let beside_db = |file: &str| {
            self.database
                .path
                .parent()
                .unwrap_or(Path::new("."))
                .join(file)
        };
        if let Some(problem) = self.certs_problem() {
            return Err(ConfigError::Invalid {
                path: PathBuf::from("agent configuration"),
                message: problem,
            }
            .into());
        }
        if c.issuer == "local" {
            let ca_dir = match &c.local_ca_dir {
                Some(d) => expand_home(d),
                None => beside_db("ca"),
            };
            return Ok(std::sync::Arc::new(crate::certs::LocalCa::open_or_create(
                &ca_dir,
                day * u32::try_from(c.validity_days).unwrap_or(u32::MAX),
            )?));
        }
        if c.issuer == "metacrypt" {
            let read = |what: &'static str, p: &Path| {
                let p = expand_home(p);
                std::fs::read(&p).map_err(|e| ConfigError::File {
                    what,
                    path: p.clone(),
                    message: e.to_string(),
                })
            };
            let token = match &c.metacrypt_token_file {
                Some(p) => String::from_utf8_lossy(&read("Metacrypt token", p)?)
                    .trim()
                    .to_owned(),
                None => String::new(),
            };
            let ca = c
                .metacrypt_ca_cert
                .as_deref()
                .map(|p| read("Metacrypt CA", p))
                .transpose()?;
            return Ok(std::sync::Arc::new(
                crate::certs::metacrypt::MetacryptIssuer::new(
                    c.metacrypt_url.as_deref().unwrap_or_default(),
                    &token,
                    &c.metacrypt_mount,
                    &c.metacrypt_issuer,
                    day * u32::try_from(c.validity_days).unwrap_or(u32::MAX),
                    ca.as_deref(),
                    Duration::from_secs(30),
                )?,
            ));
        }
        let eab = match (&c.acme_eab_kid, &c.acme_eab_hmac_key_file) {
            (Some(kid), Some(file)) => {
                let file = expand_home(file);
                let text = std::fs::read_to_string(&file).map_err(|e| ConfigError::File {
                    what: "ACME EAB key",
                    path: file.clone(),
                    message: e.to_string(),
                })?;
                let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(text.trim().trim_end_matches('='))
                    .map_err(|e| ConfigError::File {
                        what: "ACME EAB key",
                        path: file.clone(),
                        message: format!("not base64url: {e}"),
                    })?;
                Some(crate::certs::acme::Eab {
                    kid: kid.clone(),
                    hmac_key: key,
                })
            }
            _ => None,
        };
        let challenge = match (c.acme_challenge.as_str(), c.acme_http01_listen) {
            ("http-01", Some(listen)) => crate::certs::acme::Challenge::Http01 { listen },
            _ => {
                let dns = self
                    .dns_integration()?
                    .ok_or_else(|| ConfigError::Invalid {
                        path: PathBuf::from("agent configuration"),
                        message: "certs.acme_challenge = \"dns-01\" needs [dns]".into(),
                    })?;
                crate::certs::acme::Challenge::Dns01 {
                    registrar: dns.registrar,
                    zone: dns.zone,
                }
            }
        };
        Ok(std::sync::Arc::new(crate::certs::acme::AcmeIssuer {
            directory: c.acme_directory.clone().unwrap_or_default(),
            ca_cert: c.acme_ca_cert.as_deref().map(expand_home),
            eab,
            account_file: c
                .acme_account_file
                .as_deref()
                .map(expand_home)
                .unwrap_or_else(|| beside_db("acme-account.json")),
            contact: c.acme_contact.clone(),
            challenge,
            timeout: Duration::from_secs(c.acme_timeout_secs.max(1)),
        }))
    }

    /// What is wrong with `[dns]`, if anything.
    fn dns_problem(&self) -> Option<String> {
        let d = &self.dns;
        let kind = d.registrar.as_deref()?;
        let missing = |fields: &[(&str, bool)]| {
            let names: Vec<&str> = fields
                .iter()
                .filter(|(_, set)| !set)
                .map(|(n, _)| *n)
                .collect();
            (!names.is_empty())
                .then(|| format!("dns.registrar = {kind:?} needs {}", names.join(", ")))
        };
        match kind {
            "rfc2136" => missing(&[
                ("dns.server", d.server.is_some()),
                ("dns.tsig_key_name", d.tsig_key_name.is_some()),
                ("dns.tsig_secret_file", d.tsig_secret_file.is_some()),
            ]),
            "mcns" => missing(&[
                ("dns.url", d.url.is_some()),
                ("dns.token_file", d.token_file.is_some()),
            ]),
            other => Some(format!(
                "dns.registrar = {other:?}: use \"rfc2136\" or \"mcns\""
            )),
        }
        .or_else(|| {
            d.addresses.is_empty().then(|| {
                "dns.addresses is empty: list the node's addresses the records point at".into()
            })
        })
    }

    /// The DNS integration this configuration describes (`None` without
    /// `[dns] registrar`). Every missing or unreadable setting is named.
    pub fn dns_integration(&self) -> Result<Option<crate::engine::DnsIntegration>, crate::Error> {
        let d = &self.dns;
        let Some(kind) = d.registrar.as_deref() else {
            return Ok(None);
        };
        let invalid = |message: String| ConfigError::Invalid {
            path: PathBuf::from("agent configuration"),
            message,
        };
        if let Some(problem) = self.dns_problem() {
            return Err(invalid(problem).into());
        }
        let read = |what: &'static str, p: &Path| {
            let p = expand_home(p);
            std::fs::read_to_string(&p).map_err(|e| ConfigError::File {
                what,
                path: p.clone(),
                message: e.to_string(),
            })
        };
        let timeout = Duration::from_secs(d.timeout_secs.max(1));
        let registrar: std::sync::Arc<dyn crate::dns::DnsRegistrar> = match kind {
            "rfc2136" => {
                let (Some(server), Some(key), Some(secret_file)) =
                    (d.server, &d.tsig_key_name, &d.tsig_secret_file)
                else {
                    return Ok(None);
                };
                let secret = base64::engine::general_purpose::STANDARD
                    .decode(read("TSIG secret", secret_file)?.trim())
                    .map_err(|e| ConfigError::File {
                        what: "TSIG secret",
                        path: expand_home(secret_file),
                        message: format!("not base64: {e}"),
                    })?;
                std::sync::Arc::new(crate::dns::Rfc2136::new(
                    server,
                    key,
                    crate::dns::tsig_algorithm(&d.tsig_algorithm)?,
                    secret,
                    timeout,
                )?)
            }
            "mcns" => {
                let (Some(url), Some(token_file)) = (&d.url, &d.token_file) else {
                    return Ok(None);
                };
                let ca = d
                    .ca_cert
                    .as_deref()
                    .map(|p| read("MCNS CA", p))
                    .transpose()?;
                std::sync::Arc::new(crate::dns::Mcns::new(
                    url,
                    read("MCNS token", token_file)?.trim(),
                    ca.as_deref(),
                    timeout,
                )?)
            }
            _ => return Ok(None),
        };
        Ok(Some(crate::engine::DnsIntegration {
            registrar,
            zone: d
                .zone
                .clone()
                .unwrap_or_else(|| self.conventions.zone.clone()),
            addresses: d.addresses.clone(),
            ttl: d.ttl,
        }))
    }

    /// The snapshot store: `[snapshots] dir`, or `snapshots/` beside the database.
    pub fn snapshot_store(&self) -> crate::snapshot::SnapshotStore {
        crate::snapshot::SnapshotStore {
            dir: match &self.snapshots.dir {
                Some(d) => expand_home(d),
                None => self
                    .database
                    .path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("snapshots"),
            },
            retain: self.snapshots.retain.max(1),
        }
    }

    /// The port range.
    pub fn port_range(&self) -> Result<PortRange, crate::ports::PortError> {
        self.ports.range.parse()
    }

    /// `[podman] data_owner` as (uid, gid); `None` when unset.
    pub fn data_owner(&self) -> Result<Option<(u32, u32)>, ConfigError> {
        self.podman
            .data_owner
            .as_deref()
            .map(|owner| {
                resolve_owner(owner, Path::new(PASSWD)).map_err(|e| ConfigError::Invalid {
                    path: PathBuf::from("agent configuration"),
                    message: format!("podman.data_owner: {e}"),
                })
            })
            .transpose()
    }

    /// How the agent reaches registries (`use_token` needs a token: the agent uses
    /// `password_file`).
    pub fn registry_settings(&self) -> Result<crate::images::RegistrySettings, ConfigError> {
        registry_settings(&self.registry, None)
    }
}

/// Registry settings from a `[registry]` section; `token` is the MCIAS token file
/// `use_token` refers to.
fn registry_settings(
    r: &RegistrySection,
    token: Option<&Path>,
) -> Result<crate::images::RegistrySettings, ConfigError> {
    let read = |what: &'static str, p: &Path| {
        let p = expand_home(p);
        std::fs::read(&p).map_err(|e| ConfigError::File {
            what,
            path: p.clone(),
            message: e.to_string(),
        })
    };
    let ca_pem = r
        .ca_cert
        .as_deref()
        .map(|p| read("registry CA", p))
        .transpose()?;
    let mut credentials = Vec::new();
    if let (Some(host), Some(user)) = (&r.url, &r.username) {
        let password = match (r.use_token, token) {
            (true, Some(t)) => Some(read("token", t)?),
            _ => r
                .password_file
                .as_deref()
                .map(|p| read("registry password", p))
                .transpose()?,
        };
        if let Some(pw) = password {
            credentials.push((
                host.clone(),
                crate::images::Credentials::Basic {
                    username: user.clone(),
                    password: String::from_utf8_lossy(&pw).trim().to_owned(),
                },
            ));
        }
    }
    Ok(crate::images::RegistrySettings {
        ca_pem,
        insecure_hosts: r.insecure.clone(),
        credentials,
        timeout: None,
    })
}

// ---- CLI ---------------------------------------------------------------------------------

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
    pub role: Option<crate::registry::NodeRole>,
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

/// The text of the file `path` (`~` expanded); an error names it as `what`.
pub(crate) fn read_text(what: &'static str, path: &Path) -> Result<String, ConfigError> {
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

/// `[mcproxy]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McProxySection {
    /// mc-proxy's admin socket. Unset: routes and certificates are skipped (and
    /// reports and status say so).
    pub socket: Option<PathBuf>,
    /// Where the proxy reads certificates.
    pub cert_dir: PathBuf,
    /// Seconds each admin call may take.
    pub timeout_secs: u64,
}

impl Default for McProxySection {
    fn default() -> Self {
        McProxySection {
            socket: None,
            cert_dir: "/srv/mc-proxy/certs".into(),
            timeout_secs: 10,
        }
    }
}

/// `[certs]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertsSection {
    /// `local`: the node's embedded CA; `acme`: an ACME server; `metacrypt`: the
    /// platform's CA service.
    pub issuer: String,
    /// Certificates with fewer days left are renewed.
    pub renew_window_days: u64,
    /// `local`: the CA's directory (default: `ca/` beside the database).
    pub local_ca_dir: Option<PathBuf>,
    /// `local`, `metacrypt`: days a certificate is valid.
    pub validity_days: u64,
    /// `metacrypt`: its base URL.
    pub metacrypt_url: Option<String>,
    /// `metacrypt`: PEM CA bundle to trust (default: system roots).
    pub metacrypt_ca_cert: Option<PathBuf>,
    /// `metacrypt`: file holding the bearer token (the agent's MCIAS token).
    pub metacrypt_token_file: Option<PathBuf>,
    /// `metacrypt`: the PKI mount.
    pub metacrypt_mount: String,
    /// `metacrypt`: the issuer within it.
    pub metacrypt_issuer: String,
    /// `acme`: the directory URL.
    pub acme_directory: Option<String>,
    /// `acme`: a PEM root to trust for the ACME server's HTTPS (default: system roots).
    pub acme_ca_cert: Option<PathBuf>,
    /// `acme`: `http-01` or `dns-01` (through `[dns]`).
    pub acme_challenge: String,
    /// `acme`, `http-01`: where the challenge responder listens.
    pub acme_http01_listen: Option<SocketAddr>,
    /// `acme`: External Account Binding key id.
    pub acme_eab_kid: Option<String>,
    /// `acme`: file holding the EAB HMAC key, base64url.
    pub acme_eab_hmac_key_file: Option<PathBuf>,
    /// `acme`: contact addresses of the account (`mailto:…`).
    pub acme_contact: Vec<String>,
    /// `acme`: where the account's credentials are kept (default: beside the
    /// database).
    pub acme_account_file: Option<PathBuf>,
    /// `acme`: seconds one issuance may take.
    pub acme_timeout_secs: u64,
}

impl Default for CertsSection {
    fn default() -> Self {
        CertsSection {
            issuer: "local".into(),
            renew_window_days: 30,
            local_ca_dir: None,
            validity_days: 90,
            metacrypt_url: None,
            metacrypt_ca_cert: None,
            metacrypt_token_file: None,
            metacrypt_mount: "pki".into(),
            metacrypt_issuer: "infra".into(),
            acme_directory: None,
            acme_ca_cert: None,
            acme_challenge: "http-01".into(),
            acme_http01_listen: None,
            acme_eab_kid: None,
            acme_eab_hmac_key_file: None,
            acme_contact: Vec::new(),
            acme_account_file: None,
            acme_timeout_secs: 120,
        }
    }
}

/// `[snapshots]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotsSection {
    /// The directory (`<dir>/<service>/<UTC time>.tar.zst`); default `snapshots/`
    /// beside the database.
    pub dir: Option<PathBuf>,
    /// How many snapshots of each service are kept.
    pub retain: usize,
}

impl Default for SnapshotsSection {
    fn default() -> Self {
        SnapshotsSection {
            dir: None,
            retain: 7,
        }
    }
}

/// `[dns]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsSection {
    /// `rfc2136` (TSIG-signed dynamic updates) or `mcns` (its REST API). Unset:
    /// DNS registration is skipped (and reports and status say so).
    pub registrar: Option<String>,
    /// The zone (default: `[conventions] zone`).
    pub zone: Option<String>,
    /// The node's addresses every hostname points at (LAN, overlay).
    pub addresses: Vec<IpAddr>,
    /// TTL of the records, seconds.
    pub ttl: u32,
    /// Seconds each update may take.
    pub timeout_secs: u64,
    /// `rfc2136`: the primary server, `host:port`.
    pub server: Option<SocketAddr>,
    /// `rfc2136`: the TSIG key's name.
    pub tsig_key_name: Option<String>,
    /// `rfc2136`: `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub tsig_algorithm: String,
    /// `rfc2136`: file holding the TSIG secret, base64 (as in BIND's key file).
    pub tsig_secret_file: Option<PathBuf>,
    /// `mcns`: its base URL.
    pub url: Option<String>,
    /// `mcns`: PEM CA bundle trusted besides the system roots.
    pub ca_cert: Option<PathBuf>,
    /// `mcns`: file holding the bearer token (the agent's MCIAS system token).
    pub token_file: Option<PathBuf>,
}

impl Default for DnsSection {
    fn default() -> Self {
        DnsSection {
            registrar: None,
            zone: None,
            addresses: Vec::new(),
            ttl: 300,
            timeout_secs: 5,
            server: None,
            tsig_key_name: None,
            tsig_algorithm: "hmac-sha256".into(),
            tsig_secret_file: None,
            url: None,
            ca_cert: None,
            token_file: None,
        }
    }
}

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

    /// How to reach registries: the CA bundle, plain-HTTP hosts, and credentials for
    /// the configured registry (password file, or the MCIAS token); other hosts fall
    /// back to Podman's `auth.json`.
    pub fn registry_settings(&self) -> Result<crate::images::RegistrySettings, ConfigError> {
        registry_settings(&self.registry, Some(&self.token_path()))
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

    /// How to reach node `name`: its addresses, the CA and the token from their files.
    pub fn endpoint(&self, name: &str, path: &Path) -> Result<AgentEndpoint, ConfigError> {
        self.endpoint_of(self.node(name, path)?, path)
    }

    /// How to reach `node` (configured or not yet): its addresses, the CA and the
    /// token from their files.
    pub fn endpoint_of(&self, node: &NodeEntry, path: &Path) -> Result<AgentEndpoint, ConfigError> {
        let ca = self
            .tls
            .ca_cert
            .as_ref()
            .ok_or_else(|| ConfigError::Invalid {
                path: path.to_owned(),
                message: "tls.ca_cert is not set: the CA that signed the agents' certificates"
                    .into(),
            })?;
        let ca = expand_home(ca);
        let ca_pem = std::fs::read(&ca).map_err(|e| ConfigError::File {
            what: "agent CA",
            path: ca.clone(),
            message: e.to_string(),
        })?;
        let token_path = self.token_path();
        let token = std::fs::read_to_string(&token_path).map_err(|e| ConfigError::File {
            what: "token",
            path: token_path.clone(),
            message: format!("{e}; log in with `mcp login`"),
        })?;
        Ok(AgentEndpoint {
            node: node.name.clone(),
            addresses: node.all_addresses(),
            ca_pem,
            server_name: self.tls.server_name.clone(),
            token: token.trim().to_owned(),
            connect_timeout: Duration::from_secs(5),
        })
    }
}

/// Adds (or replaces) a `[[nodes]]` entry in the CLI configuration at `path`, keeping
/// the file's comments and layout. The file is created when absent.
pub fn add_node(path: &Path, node: &NodeEntry) -> Result<(), ConfigError> {
    edit_cli_config(path, |doc| {
        remove_node_entry(doc, &node.name);
        let mut t = toml_edit::Table::new();
        t.insert("name", toml_edit::value(&node.name));
        if let Some(a) = &node.address {
            t.insert("address", toml_edit::value(a));
        }
        if !node.addresses.is_empty() {
            t.insert(
                "addresses",
                toml_edit::value(
                    node.addresses
                        .iter()
                        .map(String::as_str)
                        .collect::<toml_edit::Array>(),
                ),
            );
        }
        let role = node.role.map(|r| r.as_str().to_owned());
        let root = node.root.as_ref().map(|r| r.display().to_string());
        let agent_config = node.agent_config.as_ref().map(|r| r.display().to_string());
        for (k, v) in [
            ("ssh", &node.ssh),
            ("arch", &node.arch),
            ("role", &role),
            ("sudo", &node.sudo),
            ("root", &root),
            ("agent_config", &agent_config),
            ("restart_command", &node.restart_command),
        ] {
            if let Some(v) = v {
                t.insert(k, toml_edit::value(v));
            }
        }
        let nodes = doc
            .entry("nodes")
            .or_insert_with(|| toml_edit::Item::ArrayOfTables(toml_edit::ArrayOfTables::new()));
        match nodes.as_array_of_tables_mut() {
            Some(aot) => {
                aot.push(t);
                Ok(())
            }
            None => Err("`nodes` is not an array of tables ([[nodes]])".to_owned()),
        }
    })
}

/// Removes node `name` from the CLI configuration at `path`. Returns whether it was
/// there.
pub fn remove_node(path: &Path, name: &str) -> Result<bool, ConfigError> {
    let mut removed = false;
    edit_cli_config(path, |doc| {
        removed = remove_node_entry(doc, name);
        Ok(())
    })?;
    Ok(removed)
}

fn remove_node_entry(doc: &mut DocumentMut, name: &str) -> bool {
    let Some(aot) = doc
        .get_mut("nodes")
        .and_then(toml_edit::Item::as_array_of_tables_mut)
    else {
        return false;
    };
    let before = aot.len();
    aot.retain(|t| t.get("name").and_then(toml_edit::Item::as_str) != Some(name));
    aot.len() != before
}

fn edit_cli_config(
    path: &Path,
    f: impl FnOnce(&mut DocumentMut) -> Result<(), String>,
) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
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
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| invalid(e.to_string()))?;
    f(&mut doc).map_err(invalid)?;
    let out = doc.to_string();
    CliConfig::parse(&out, path, &[])?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ConfigError::Read {
            path: dir.to_owned(),
            source,
        })?;
    }
    crate::fsutil::write_atomic(path, out.as_bytes(), 0o644).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of("10.0.0.2:9444"), "10.0.0.2");
        assert_eq!(host_of("[fd00::2]:9444"), "fd00::2");
        assert_eq!(host_of("rift.example:9444"), "rift.example");
        assert_eq!(host_of("rift"), "rift");
    }

    #[test]
    fn registry_credentials_from_a_password_file_or_the_mcias_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mcp.toml");
        std::fs::write(dir.path().join("token"), "mcias-token\n").expect("token");
        std::fs::write(dir.path().join("pw"), "s3cret\n").expect("pw");
        let config = |registry: &str| {
            let text = format!(
                "[auth]\ntoken_path = {:?}\n\n[registry]\nurl = \"mcr.example:8443\"\nusername = \"kyle\"\n{registry}",
                dir.path().join("token")
            );
            CliConfig::parse(&text, &path, &[])
                .expect("parse")
                .registry_settings()
        };
        let password = |s: crate::images::RegistrySettings| match &s.credentials[..] {
            [(host, crate::images::Credentials::Basic { password, .. })] => {
                assert_eq!(host, "mcr.example:8443");
                password.clone()
            }
            other => panic!("{other:?}"),
        };
        let pw = format!("password_file = {:?}\n", dir.path().join("pw"));
        assert_eq!(password(config(&pw).expect("settings")), "s3cret");
        let token = format!("{pw}use_token = true\n");
        assert_eq!(password(config(&token).expect("settings")), "mcias-token");
        let missing = "password_file = \"/nonexistent/pw\"\n";
        let err = config(missing).expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/pw"), "{err}");
        // The agent has no token to use.
        let err = AgentConfig::parse(
            "[server]\nlisten = \"127.0.0.1:9444\"\ntls_cert = \"/c\"\ntls_key = \"/k\"\n\n[node]\nname = \"rift\"\n\n[registry]\nuse_token = true\n",
            &path,
            &[],
        )
        .expect_err("agent use_token");
        assert!(err.to_string().contains("registry.use_token"), "{err}");
    }

    #[test]
    fn nodes_are_added_and_removed_keeping_comments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mcp.toml");
        std::fs::write(
            &path,
            "# my fleet
[auth]
token_path = \"/t\"  # keep
",
        )
        .expect("write");
        let node = NodeEntry {
            name: "rift".into(),
            address: Some("100.95.252.120:9444".into()),
            addresses: vec!["192.168.88.181:9444".into()],
            ssh: Some("rift".into()),
            arch: Some("amd64".into()),
            ..Default::default()
        };
        add_node(&path, &node).expect("add");
        add_node(&path, &node).expect("add again replaces");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("# my fleet\n[auth]\ntoken_path = \"/t\"  # keep\n"),
            "{text}"
        );
        let c = CliConfig::load(&path).expect("load");
        assert_eq!(c.nodes, vec![node]);
        assert!(remove_node(&path, "rift").expect("remove"));
        assert!(!remove_node(&path, "rift").expect("remove again"));
        assert!(CliConfig::load(&path).expect("load").nodes.is_empty());
    }

    const AGENT: &str = r#"
[server]
listen = "127.0.0.1:9444"
tls_cert = "/srv/mcp/certs/cert.pem"
tls_key = "/srv/mcp/certs/key.pem"

[node]
name = "rift"
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn agent_defaults_and_environment_overrides() {
        let p = Path::new("mcp-agent.toml");
        let c = AgentConfig::parse(AGENT, p, &[]).expect("parse");
        assert_eq!(c.database.path, PathBuf::from("/srv/mcp/mcp.db"));
        assert_eq!(c.auth.mode, AuthMode::Mcias);
        assert_eq!(c.podman.command, ["podman"]);
        assert_eq!(c.conventions.network, "mcpnet");
        let c = AgentConfig::parse(
            AGENT,
            p,
            &env(&[
                ("MCP_AGENT_SERVER_LISTEN", "127.0.0.1:9555"),
                ("MCP_AGENT_MONITOR_ENABLED", "false"),
                ("MCP_AGENT_PODMAN_COMMAND", "[\"sudo\", \"podman\"]"),
                ("MCP_AGENT_PORTS_RANGE", "20000-20100"),
                ("MCP_AGENT_CONVENTIONS_ZONE", "example.net"),
                ("OTHER_VAR", "x"),
            ]),
        )
        .expect("parse");
        assert_eq!(c.server.listen.port(), 9555);
        assert!(!c.monitor.enabled);
        assert_eq!(c.podman.command, ["sudo", "podman"]);
        assert_eq!(c.port_range().expect("range").start(), 20000);
        assert_eq!(c.conventions.zone, "example.net");
    }

    #[test]
    fn data_owner_is_a_user_name_or_uid_and_gid() {
        let dir = tempfile::tempdir().expect("tmp");
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\nmcp:x:1001:1002::/srv/mcp:/bin/sh\n",
        )
        .expect("passwd");
        assert_eq!(resolve_owner("mcp", &passwd), Ok((1001, 1002)));
        assert_eq!(resolve_owner("1001:100", &passwd), Ok((1001, 100)));
        let err = resolve_owner("nobody-here", &passwd).expect_err("unknown");
        assert!(
            err.contains("nobody-here") && err.contains("passwd"),
            "{err}"
        );
        let err = resolve_owner("mcp:staff", &passwd).expect_err("not numeric");
        assert!(err.contains("UID:GID"), "{err}");

        let p = Path::new("/srv/mcp/mcp-agent.toml");
        let c = AgentConfig::parse(
            &format!("{AGENT}\n[podman]\ndata_owner = \"root\"\n"),
            p,
            &[],
        )
        .expect("root exists");
        assert_eq!(c.data_owner().expect("owner"), Some((0, 0)));
        let err = AgentConfig::parse(
            &format!("{AGENT}\n[podman]\ndata_owner = \"no-such-user-here\"\n"),
            p,
            &[],
        )
        .expect_err("unknown user");
        let msg = err.to_string();
        assert!(
            msg.contains("mcp-agent.toml") && msg.contains("podman.data_owner"),
            "{msg}"
        );
    }

    #[test]
    fn agent_errors_name_the_file_and_the_problem() {
        let p = Path::new("/srv/mcp/mcp-agent.toml");
        let err = AgentConfig::parse(&format!("{AGENT}\n[server2]\nx = 1\n"), p, &[])
            .expect_err("unknown");
        let msg = err.to_string();
        assert!(
            msg.contains("/srv/mcp/mcp-agent.toml") && msg.contains("server2"),
            "{msg}"
        );
        let token_mode = format!("{AGENT}\n[auth]\nmode = \"token-file\"\ntoken_file = \"/t\"\n");
        AgentConfig::parse(&token_mode, p, &[]).expect("loopback is fine");
        let err = AgentConfig::parse(
            &token_mode,
            p,
            &env(&[("MCP_AGENT_SERVER_LISTEN", "0.0.0.0:9444")]),
        )
        .expect_err("token file off loopback");
        assert!(err.to_string().contains("loopback only"), "{err}");
        let err = AgentConfig::parse(AGENT, p, &env(&[("MCP_AGENT_PORTS_RANGE", "9-1")]))
            .expect_err("range");
        assert!(err.to_string().contains("ports.range"), "{err}");
    }

    #[test]
    fn cli_config_nodes_and_overrides() {
        let text = r#"
[[nodes]]
name = "rift"
address = "100.95.252.120:9444"
addresses = ["192.168.88.181:9444"]
ssh = "rift"
arch = "amd64"

[auth]
token_path = "~/.config/mcp/token"
"#;
        let p = Path::new("mcp.toml");
        let c = CliConfig::parse(
            text,
            p,
            &env(&[("MCP_AUTH_TOKEN_PATH", "/tmp/tok"), ("MCP_CONFIG", "/x")]),
        )
        .expect("parse");
        assert_eq!(c.token_path(), PathBuf::from("/tmp/tok"));
        assert_eq!(
            c.node("rift", p).expect("node").all_addresses(),
            ["100.95.252.120:9444", "192.168.88.181:9444"]
        );
        let err = c.node("orion", p).expect_err("unknown");
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.to_string().contains("known: rift"), "{err}");
        assert_eq!(CliConfig::parse("", p, &[]).expect("empty").nodes.len(), 0);
    }
}
