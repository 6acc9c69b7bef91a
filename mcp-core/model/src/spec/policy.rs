//! A node's host policy, applied to a definition: what may reach the host. Every
//! service may bind-mount its own data directory, join the platform network and
//! publish ports on the node's publish address inside its port range; anything
//! more (another host path, a volume option such as `U` or `suid`, the `host`
//! network, a port elsewhere) must be allowed by the node's `[policy]`, or the
//! definition is refused with the field's location and the key that refuses it,
//! before any step of a deploy.

use std::net::IpAddr;
use std::path::{Component as PathPart, Path, PathBuf};

use super::problem::{Rule, Sink};
use super::{Component, Conventions, ServiceDefinition};
use crate::config::PolicySection;
use crate::ports::PortRange;
use crate::text::quoted;

/// Volume options every service may use.
pub const SAFE_VOLUME_OPTIONS: &[&str] = &["ro", "rw", "z", "Z", "nosuid", "nodev", "noexec"];

/// What a node lets definitions ask of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    /// `[policy]` from the agent's configuration.
    pub section: PolicySection,
    /// Where services' data directories are (`<data_root>/<service>`).
    pub data_root: PathBuf,
    /// The only address ports may be published on.
    pub publish_address: IpAddr,
    /// The host ports routes and legacy ports may use.
    pub port_range: PortRange,
}

impl HostPolicy {
    /// The policy of a node with `section`, the platform's `conventions`, its
    /// publish address and port range.
    pub fn new(
        section: PolicySection,
        conventions: &Conventions,
        publish_address: IpAddr,
        port_range: PortRange,
    ) -> Self {
        HostPolicy {
            section,
            data_root: conventions.data_root.clone(),
            publish_address,
            port_range,
        }
    }

    /// Whether `host` (absolute, no `..`) may be bind-mounted by `service`: its
    /// data directory or beneath it, or beneath an allowed mount.
    pub fn mount_allowed(&self, service: &str, host: &Path) -> bool {
        let own = self.data_root.join(service);
        host.starts_with(&own)
            || self
                .section
                .allowed_mounts
                .iter()
                .any(|p| host.starts_with(p))
    }

    /// The allowed mounts, for messages.
    fn mounts_shown(&self) -> String {
        if self.section.allowed_mounts.is_empty() {
            "none".to_owned()
        } else {
            let all: Vec<String> = self
                .section
                .allowed_mounts
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            all.join(", ")
        }
    }
}

/// Reports everything in `def` that `policy` does not allow.
pub(super) fn check(
    def: &ServiceDefinition,
    conventions: &Conventions,
    policy: &HostPolicy,
    sink: &mut Sink<'_>,
) {
    for (i, c) in def.components.iter().enumerate() {
        let field = format!("components[{i}]");
        for (j, v) in c.volumes.iter().enumerate() {
            volume(&def.name, policy, &format!("{field}.volumes[{j}]"), v, sink);
        }
        network(c, conventions, policy, &format!("{field}.network"), sink);
        for (j, p) in c.ports.iter().enumerate() {
            legacy_port(policy, &format!("{field}.ports[{j}]"), p, sink);
        }
    }
}

fn volume(service: &str, policy: &HostPolicy, field: &str, v: &str, sink: &mut Sink<'_>) {
    if sink.flagged(field) {
        return;
    }
    let mut parts = v.splitn(3, ':');
    let host = Path::new(parts.next().unwrap_or_default());
    let options = parts.nth(1).unwrap_or_default();
    let plain = host.is_absolute()
        && host
            .components()
            .all(|c| matches!(c, PathPart::RootDir | PathPart::Normal(_)));
    if !plain {
        sink.report(
            field,
            Rule::Policy,
            format!(
                "host path {} must be absolute, without '.' or '..'",
                quoted(&host.display().to_string())
            ),
        );
        return;
    }
    if !policy.mount_allowed(service, host) {
        sink.report(
            field,
            Rule::Policy,
            format!(
                "host path {} is not this service's data directory ({}) nor under [policy] allowed_mounts ({})",
                quoted(&host.display().to_string()),
                policy.data_root.join(service).display(),
                policy.mounts_shown()
            ),
        );
        return;
    }
    let refused: Vec<&str> = options
        .split(',')
        .filter(|o| !o.is_empty())
        .filter(|o| {
            !SAFE_VOLUME_OPTIONS.contains(o)
                && !policy.section.allowed_volume_options.iter().any(|a| a == o)
        })
        .collect();
    if !refused.is_empty() {
        sink.report(
            field,
            Rule::Policy,
            format!(
                "volume option {} is not allowed on this node: [policy] allowed_volume_options does not list it (always allowed: {})",
                refused.iter().map(|o| quoted(o)).collect::<Vec<_>>().join(", "),
                SAFE_VOLUME_OPTIONS.join(", ")
            ),
        );
    }
}

fn network(
    c: &Component,
    conventions: &Conventions,
    policy: &HostPolicy,
    field: &str,
    sink: &mut Sink<'_>,
) {
    let network = c.network.as_deref().unwrap_or(&conventions.network);
    if sink.flagged(field) || policy.section.allowed_networks.iter().any(|n| n == network) {
        return;
    }
    sink.report(
        field,
        Rule::Policy,
        format!(
            "network {} is not in [policy] allowed_networks ({})",
            quoted(network),
            policy.section.allowed_networks.join(", ")
        ),
    );
}

fn legacy_port(policy: &HostPolicy, field: &str, p: &str, sink: &mut Sink<'_>) {
    if sink.flagged(field) {
        return;
    }
    let Some((ip, host)) = legacy_host_port(p) else {
        return;
    };
    if ip.is_some_and(|ip| ip != policy.publish_address) {
        sink.report(
            field,
            Rule::Policy,
            format!(
                "port mapping {} publishes on another address than this node's publish_address ({}); leave the address out",
                quoted(p),
                policy.publish_address
            ),
        );
    } else if !policy.port_range.contains(host) {
        sink.report(
            field,
            Rule::Policy,
            format!(
                "host port {host} of {} is outside this node's port range ({}, [ports] range)",
                quoted(p),
                policy.port_range
            ),
        );
    }
}

/// The host address (if given) and host port of a legacy `ports` entry
/// (`[hostip:]hostport:containerport[/proto]`), when it is well formed.
pub fn legacy_host_port(p: &str) -> Option<(Option<IpAddr>, u16)> {
    let spec = p
        .strip_suffix("/tcp")
        .or_else(|| p.strip_suffix("/udp"))
        .unwrap_or(p);
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [h, _] => Some((None, h.parse().ok()?)),
        [ip, h, _] => Some((Some(ip.parse().ok()?), h.parse().ok()?)),
        _ => None,
    }
}
