//! The composition root: [`Node::open`] builds a node from its configuration (plain
//! data, `mcp_model::config::AgentConfig`): the registry, the container runtime, the
//! certificate issuer, the DNS registrar, the proxy client, the authenticator, the authorizer and
//! the engine over them. Nothing else in the workspace chooses an implementation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use mcp_model::config::{AgentConfig, ConfigError, expand_home};
use mcp_model::view::NodeRole;
use mcp_platform::images::RegistrySettings;

use crate::access::Authorizer;
use crate::auth::{Authenticator, Gate};
use crate::certs::{CertIssuer, CertStore, LocalCa, acme, metacrypt};
use crate::dns::{DnsRegistrar, Mcns, Rfc2136, tsig_algorithm};
use crate::engine::{DnsIntegration, Engine, EngineConfig, ProxyIntegration};
use crate::monitor::MonitorConfig;
use crate::ports::BindProbe;
use crate::proxy::McProxy;
use crate::registry::Registry;
use crate::runtime::{ContainerRuntime, NoContainers, Podman, RuntimeError};
use crate::snapshot::SnapshotStore;

const DAY: Duration = Duration::from_secs(86_400);

/// A node, as its configuration describes it.
#[derive(Debug)]
pub struct Node {
    /// The lifecycle engine over the node's registry and runtime.
    pub engine: Arc<Engine>,
    /// Who may call it, and what they may do.
    pub gate: Gate,
    /// How the monitor runs (`None`: it does not).
    pub monitor: Option<MonitorConfig>,
}

impl Node {
    /// Opens the node `config` describes: creates the registry's directory when
    /// needed, opens (or creates) the registry, and builds every integration it
    /// configures. Every missing or unreadable setting is named.
    pub fn open(config: &AgentConfig) -> crate::Result<Node> {
        Ok(Node {
            engine: Arc::new(engine(config)?),
            gate: Gate {
                authenticator: Authenticator::from_config(config)?,
                authorizer: Authorizer::from_section(&config.auth),
            },
            monitor: config.monitor.enabled.then(|| monitor_config(config)),
        })
    }
}

/// The engine an agent configured by `config` runs: its registry, Podman as
/// configured, its conventions, ports and labels.
pub fn engine(config: &AgentConfig) -> crate::Result<Engine> {
    if let Some(dir) = config.database.path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|source| RuntimeError::Dir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let registry = Arc::new(Registry::open(&config.database.path)?);
    registry.set_event_retention(config.events);
    let engine_config = EngineConfig {
        node: config.node.name.clone(),
        instance: instance_id(&registry, &config.node.name)?,
        conventions: config.conventions.clone(),
        publish_address: config.node.publish_address,
        stop_grace: Duration::from_secs(10),
        port_range: config.port_range()?,
        extra_labels: BTreeMap::new(),
        registry: RegistrySettings::from_section(&config.registry, None)?,
        proxy: proxy_integration(config)?,
        dns: dns_integration(config)?,
        snapshots: snapshot_store(config),
        role: config.node.role,
        allowed_domains: config.edge.allowed_domains.clone(),
        policy: config.policy.clone(),
        revisions_keep: config.revisions.keep,
        sync_workers: config.sync.workers.max(1) as usize,
        usage_every: Duration::from_secs(config.monitor.interval_secs.max(1)),
    };
    let probe = BindProbe::new(vec![config.node.publish_address]);
    Engine::new(engine_config, registry, runtime(config)?, Box::new(probe))
}

/// The agent's instance id, from its registry (made there the first time).
pub fn instance_id(registry: &Registry, node: &str) -> crate::Result<String> {
    let token = mcp_platform::pki::random_token()?;
    Ok(registry.instance_id(&token[..16], node)?)
}

/// The container runtime: Podman as `[podman]` says, or none on an edge node.
fn runtime(config: &AgentConfig) -> crate::Result<Arc<dyn ContainerRuntime>> {
    if config.node.role == NodeRole::Edge {
        return Ok(Arc::new(NoContainers::new(&config.node.name)));
    }
    let mut podman = Podman::with_command(config.podman.command.clone());
    if let Some(conf) = &config.podman.containers_conf {
        podman = podman.env("CONTAINERS_CONF", &conf.display().to_string());
    }
    if let Some((uid, gid)) = config.data_owner()? {
        podman = podman.dir_owner(uid, gid);
    }
    Ok(Arc::new(
        podman.podman_events_only(!config.monitor.events_log),
    ))
}

/// How the monitor runs, from `[monitor]`.
pub fn monitor_config(config: &AgentConfig) -> MonitorConfig {
    let m = &config.monitor;
    MonitorConfig {
        interval: Duration::from_secs(m.interval_secs.max(1)),
        relist: Duration::from_secs(m.relist_secs.max(1)),
        events: m.events,
        flap_threshold: m.flap_threshold,
        flap_window: Duration::from_secs(m.flap_window_secs),
        renew_interval: Duration::from_secs(m.renew_interval_secs.max(1)),
    }
}

/// The snapshot store: `[snapshots] dir`, or `snapshots/` beside the database.
pub fn snapshot_store(config: &AgentConfig) -> SnapshotStore {
    SnapshotStore {
        node: config.node.name.clone(),
        dir: match &config.snapshots.dir {
            Some(d) => expand_home(d),
            None => beside_database(config, "snapshots"),
        },
        retain: config.snapshots.retain.max(1),
    }
}

fn beside_database(config: &AgentConfig, file: &str) -> PathBuf {
    config
        .database
        .path
        .parent()
        .unwrap_or(Path::new("."))
        .join(file)
}

fn invalid(message: String) -> ConfigError {
    ConfigError::Invalid {
        path: PathBuf::from("agent configuration"),
        message,
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, ConfigError> {
    let path = expand_home(path);
    std::fs::read(&path).map_err(|e| ConfigError::File {
        what,
        path: path.clone(),
        message: e.to_string(),
    })
}

fn read_trimmed(what: &'static str, path: &Path) -> Result<String, ConfigError> {
    Ok(String::from_utf8_lossy(&read(what, path)?)
        .trim()
        .to_owned())
}

fn days(n: u64) -> Duration {
    DAY * u32::try_from(n).unwrap_or(u32::MAX)
}

/// The proxy integration `[mcproxy]` and `[certs]` describe (`None` without
/// `[mcproxy] socket`).
pub fn proxy_integration(config: &AgentConfig) -> crate::Result<Option<ProxyIntegration>> {
    let Some(socket) = &config.mcproxy.socket else {
        return Ok(None);
    };
    Ok(Some(ProxyIntegration {
        routes: Arc::new(McProxy::new(
            expand_home(socket),
            Duration::from_secs(config.mcproxy.timeout_secs.max(1)),
        )),
        certs: CertStore::new(expand_home(&config.mcproxy.cert_dir)),
        issuer: cert_issuer(config)?,
        renew_window: days(config.certs.renew_window_days),
    }))
}

/// The certificate issuer `[certs]` describes.
fn cert_issuer(config: &AgentConfig) -> crate::Result<Arc<dyn CertIssuer>> {
    if let Some(problem) = config.certs_problem() {
        return Err(invalid(problem).into());
    }
    match config.certs.issuer.as_str() {
        "local" => local_ca(config),
        "metacrypt" => metacrypt_issuer(config),
        _ => acme_issuer(config),
    }
}

fn local_ca(config: &AgentConfig) -> crate::Result<Arc<dyn CertIssuer>> {
    let c = &config.certs;
    let dir = match &c.local_ca_dir {
        Some(d) => expand_home(d),
        None => beside_database(config, "ca"),
    };
    Ok(Arc::new(LocalCa::open_or_create(
        &dir,
        days(c.validity_days),
    )?))
}

fn metacrypt_issuer(config: &AgentConfig) -> crate::Result<Arc<dyn CertIssuer>> {
    let c = &config.certs;
    let token = match &c.metacrypt_token_file {
        Some(p) => read_trimmed("Metacrypt token", p)?,
        None => String::new(),
    };
    let ca = c
        .metacrypt_ca_cert
        .as_deref()
        .map(|p| read("Metacrypt CA", p))
        .transpose()?;
    Ok(Arc::new(metacrypt::MetacryptIssuer::new(
        c.metacrypt_url.as_deref().unwrap_or_default(),
        &token,
        &c.metacrypt_mount,
        &c.metacrypt_issuer,
        days(c.validity_days),
        ca.as_deref(),
        Duration::from_secs(30),
    )?))
}

fn acme_issuer(config: &AgentConfig) -> crate::Result<Arc<dyn CertIssuer>> {
    let c = &config.certs;
    let eab = match (&c.acme_eab_kid, &c.acme_eab_hmac_key_file) {
        (Some(kid), Some(file)) => Some(acme::Eab {
            kid: kid.clone(),
            hmac_key: eab_key(file)?,
        }),
        _ => None,
    };
    let challenge = match (c.acme_challenge.as_str(), c.acme_http01_listen) {
        ("http-01", Some(listen)) => acme::Challenge::Http01 { listen },
        _ => {
            let dns = dns_integration(config)?
                .ok_or_else(|| invalid("certs.acme_challenge = \"dns-01\" needs [dns]".into()))?;
            acme::Challenge::Dns01 {
                registrar: dns.registrar,
                zone: dns.zone,
            }
        }
    };
    Ok(Arc::new(acme::AcmeIssuer {
        directory: c.acme_directory.clone().unwrap_or_default(),
        ca_cert: c.acme_ca_cert.as_deref().map(expand_home),
        eab,
        account_file: c
            .acme_account_file
            .as_deref()
            .map(expand_home)
            .unwrap_or_else(|| beside_database(config, "acme-account.json")),
        contact: c.acme_contact.clone(),
        challenge,
        timeout: Duration::from_secs(c.acme_timeout_secs.max(1)),
    }))
}

/// The ACME EAB HMAC key in `file`, base64url.
fn eab_key(file: &Path) -> Result<Vec<u8>, ConfigError> {
    let text = read_trimmed("ACME EAB key", file)?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| ConfigError::File {
            what: "ACME EAB key",
            path: expand_home(file),
            message: format!("not base64url: {e}"),
        })
}

/// The DNS integration `[dns]` describes (`None` without `[dns] registrar`).
/// Every missing or unreadable setting is named.
pub fn dns_integration(config: &AgentConfig) -> crate::Result<Option<DnsIntegration>> {
    let d = &config.dns;
    if d.registrar.is_none() {
        return Ok(None);
    }
    if let Some(problem) = config.dns_problem() {
        return Err(invalid(problem).into());
    }
    let timeout = Duration::from_secs(d.timeout_secs.max(1));
    let registrar: Arc<dyn DnsRegistrar> = match (d.registrar.as_deref(), d.server) {
        (Some("rfc2136"), Some(server)) => {
            let (Some(key), Some(secret_file)) = (&d.tsig_key_name, &d.tsig_secret_file) else {
                return Ok(None);
            };
            let secret = base64::engine::general_purpose::STANDARD
                .decode(read_trimmed("TSIG secret", secret_file)?)
                .map_err(|e| ConfigError::File {
                    what: "TSIG secret",
                    path: expand_home(secret_file),
                    message: format!("not base64: {e}"),
                })?;
            Arc::new(Rfc2136::new(
                server,
                key,
                tsig_algorithm(&d.tsig_algorithm)?,
                secret,
                timeout,
            )?)
        }
        (Some("mcns"), _) => {
            let (Some(url), Some(token_file)) = (&d.url, &d.token_file) else {
                return Ok(None);
            };
            let ca = d
                .ca_cert
                .as_deref()
                .map(|p| read("MCNS CA", p))
                .transpose()?;
            let ca = ca.map(|b| String::from_utf8_lossy(&b).into_owned());
            Arc::new(Mcns::new(
                url,
                &read_trimmed("MCNS token", token_file)?,
                ca.as_deref(),
                timeout,
            )?)
        }
        _ => return Ok(None),
    };
    Ok(Some(DnsIntegration {
        registrar,
        zone: d
            .zone
            .clone()
            .unwrap_or_else(|| config.conventions.zone.clone()),
        addresses: d.addresses.clone(),
        ttl: d.ttl,
    }))
}
