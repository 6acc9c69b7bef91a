//! The agent's configuration, `/srv/mcp/mcp-agent.toml` ([`AgentConfig`]).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{
    CertsSection, ConfigError, DnsSection, McProxySection, RegistrySection, SnapshotsSection,
    parse_with_env, process_env,
};
use crate::ports::PortRange;
use crate::spec::Conventions;

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
    /// `[policy]`: what a definition may ask of this host.
    #[serde(default)]
    pub policy: PolicySection,
    /// `[events]`: how long the event log keeps what happened.
    #[serde(default)]
    pub events: EventsSection,
    /// `[revisions]`: how many releases of each service are kept.
    #[serde(default)]
    pub revisions: RevisionsSection,
    /// `[sync]`: how a sync applies its plan.
    #[serde(default)]
    pub sync: SyncSection,
    /// `[metrics]`: the Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsSection,
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
    /// The most connections open at once; more are closed as they arrive.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// The most connections open at once from one address.
    #[serde(default = "default_max_connections_per_peer")]
    pub max_connections_per_peer: usize,
    /// How long a connection may take to complete its TLS handshake, seconds.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_secs: u64,
}

fn default_shutdown_grace() -> u64 {
    10
}

fn default_max_connections() -> usize {
    1024
}

fn default_max_connections_per_peer() -> usize {
    64
}

fn default_handshake_timeout() -> u64 {
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
    pub role: crate::view::NodeRole,
}

/// `[edge]`: an edge node's rules for public routes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeSection {
    /// The domains public hostnames must fall under (the domain itself or a name
    /// ending in `.` + domain). Empty: the edge routes nothing.
    pub allowed_domains: Vec<String>,
}

/// `[policy]`: what a definition may ask of this host, beyond what every service
/// gets (its own data directory, the platform network). Default deny.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySection {
    /// Host directories (absolute; each with everything beneath it) that
    /// definitions may bind-mount besides a service's own data directory.
    pub allowed_mounts: Vec<PathBuf>,
    /// Volume options allowed besides `ro`, `rw`, `z`, `Z`, `nosuid`, `nodev` and
    /// `noexec` (for example `U`, which makes Podman chown the host directory).
    pub allowed_volume_options: Vec<String>,
    /// Networks containers may join. `host` gives a container the node's network
    /// stack, bypassing `publish_address` and the port range.
    pub allowed_networks: Vec<String>,
}

impl Default for PolicySection {
    fn default() -> Self {
        PolicySection {
            allowed_mounts: Vec::new(),
            allowed_volume_options: Vec::new(),
            allowed_networks: vec!["mcpnet".into(), "none".into()],
        }
    }
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
    /// Accounts that may run lifecycle operations (deploy, stop, start,
    /// restart, undeploy, sync, adopt, recover). Every other non-guest account
    /// may only read.
    pub operators: Vec<String>,
    /// MCIAS roles whose accounts are operators.
    pub operator_roles: Vec<String>,
    /// Accounts that may also run the data, file, route, DNS and edge
    /// operations, besides those with the MCIAS `admin` role.
    pub admins: Vec<String>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            mode: AuthMode::Mcias,
            token_file: None,
            operators: Vec::new(),
            operator_roles: Vec::new(),
            admins: Vec::new(),
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
pub(super) fn resolve_owner(owner: &str, passwd: &Path) -> Result<(u32, u32), String> {
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
    /// Whether it follows the runtime's events, looking at a container as
    /// soon as something happens to it.
    pub events: bool,
    /// Whether, with Podman's `file` event logger, it reads Podman's event
    /// log directly (woken by inotify, costing nothing while nothing
    /// happens) rather than through `podman events` (which polls the log four
    /// times a second). Used only once a probe shows the log is live.
    pub events_log: bool,
    /// Seconds between full relists while it follows events (the safety net).
    pub relist_secs: u64,
    /// Seconds between full relists while there are no events (not followed,
    /// or the stream broke and is being started again).
    pub interval_secs: u64,
    /// More restarts than this in the window mark a container flapping.
    pub flap_threshold: u32,
    /// The flap window, seconds.
    pub flap_window_secs: u64,
    /// Seconds between certificate renewal passes.
    pub renew_interval_secs: u64,
}

impl Default for MonitorSection {
    /// Events followed with a relist every 5 minutes (every 10 s without
    /// events); flapping at more than 5 restarts in 5 minutes; certificates
    /// looked at hourly.
    fn default() -> Self {
        MonitorSection {
            enabled: true,
            events: true,
            events_log: true,
            relist_secs: 300,
            interval_secs: 10,
            flap_threshold: 5,
            flap_window_secs: 300,
            renew_interval_secs: 3600,
        }
    }
}

/// `[events]`: retention of the event log. An event older than `keep_days`, or
/// beyond the newest `keep_rows`, is dropped (oldest first) when one is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventsSection {
    /// Days an event is kept.
    pub keep_days: u32,
    /// Events kept at most.
    pub keep_rows: u32,
}

impl Default for EventsSection {
    /// 90 days, at most 100 000 events (a few tens of megabytes).
    fn default() -> Self {
        EventsSection {
            keep_days: 90,
            keep_rows: 100_000,
        }
    }
}

/// `[revisions]`: how many revisions of each service the registry keeps (the
/// newest, and always the one that runs), for `mcp history` and `mcp rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RevisionsSection {
    /// Revisions kept per service, at least 1.
    pub keep: u32,
}

impl Default for RevisionsSection {
    /// The last 10.
    fn default() -> Self {
        RevisionsSection { keep: 10 }
    }
}

/// `[sync]`: how many services a sync works on at once (each under its own
/// lock; a service's steps stay in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncSection {
    /// Services deployed, stopped or removed at once, at least 1.
    pub workers: u32,
}

impl Default for SyncSection {
    /// 3: sized for the platform's 2-core nodes (a deploy waits on Podman
    /// most of the time, so three overlap its waits; measured in
    /// docs/benchmarks.md, two were slower than a `podman run` loop).
    fn default() -> Self {
        SyncSection { workers: 3 }
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

/// `[metrics]`: metrics in the Prometheus text format on a listener of their
/// own (`GET /metrics`). Off unless `listen` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Where to serve them; unset: not served. `mcp-agent init --local` sets
    /// the loopback address one port above the agent's.
    pub listen: Option<SocketAddr>,
    /// Serve them over TLS 1.3 with `[server]`'s certificate.
    pub tls: bool,
    /// Ask for a bearer token with read access, as the gRPC API does.
    pub token: bool,
}

impl Default for MetricsSection {
    /// Not served; TLS and the token off once served.
    fn default() -> Self {
        MetricsSection {
            listen: None,
            tls: false,
            token: false,
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
    "events",
    "revisions",
    "sync",
    "metrics",
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
        if let Some(problem) = self.metrics_problem() {
            return Err(invalid(problem));
        }
        if self.sync.workers == 0 {
            return Err(invalid("sync.workers must be at least 1".into()));
        }
        if self.revisions.keep == 0 {
            return Err(invalid(
                "revisions.keep must be at least 1: the revision that runs is always kept".into(),
            ));
        }
        if self.registry.use_token {
            return Err(invalid(
                "registry.use_token: the agent holds no MCIAS token; give the registry password in registry.password_file".into(),
            ));
        }
        Ok(())
    }

    /// What is wrong with `[metrics]`, if anything: a listener that is not
    /// loopback must ask for a token (metrics name every service).
    pub fn metrics_problem(&self) -> Option<String> {
        let m = &self.metrics;
        let listen = m.listen?;
        if listen == self.server.listen {
            return Some(format!(
                "metrics.listen ({listen}) is server.listen: metrics need a listener of their own"
            ));
        }
        if !listen.ip().is_loopback() && !m.token {
            return Some(format!(
                "metrics.listen ({listen}) is not loopback: set metrics.token = true (and metrics.tls) so that only callers with read access see them"
            ));
        }
        None
    }

    /// What is wrong with `[certs]`, if anything.
    pub fn certs_problem(&self) -> Option<String> {
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

    /// What is wrong with `[dns]`, if anything.
    pub fn dns_problem(&self) -> Option<String> {
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
}
