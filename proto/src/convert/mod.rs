//! The one place where wire types (`v1`) and the model's types (`mcp_model::view`)
//! meet. Encoding is for the agent, decoding for the client; each pair is tested to
//! round-trip. Every closed vocabulary has exactly one conversion each way here,
//! and a value this side does not know is [`Malformed`], never a guess.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_model::container::ContainerState;
use mcp_model::spec::{Location, Mode, Problem, Rule};
use mcp_model::view::{
    CertificateRecord, ChangedComponent, ComponentChange, ComponentStatus, DesiredState, DnsRecord,
    EdgeRouteRecord, EdgeRouteRequest, EdgeRouteStatus, Event, ListenerStatus, LogLine, LogQuery,
    NodeInfo, NodeRole, PortAssignment, ProxyRouteRecord, ProxyStatus, ProxyTable, Report,
    ServiceStatus, Since, SnapshotInfo, StatusReport, SyncAction, SyncItem,
};
use prost_types::Timestamp;

use crate::v1;

/// A message from the other side that does not make sense here: a value out of
/// range, a word this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed reply: {0}")]
pub struct Malformed(pub String);

type Result<T, E = Malformed> = std::result::Result<T, E>;

/// Conversions of a closed vocabulary: `encode` to the wire's `i32`, `decode` from
/// it, both exhaustive.
macro_rules! vocabulary {
    ($encode:ident, $decode:ident, $model:ty, $wire:ty, $what:literal { $($m:ident <=> $w:ident),+ $(,)? }) => {
        /// Encodes this vocabulary's word.
        pub fn $encode(v: $model) -> i32 {
            let w = match v {
                $( <$model>::$m => <$wire>::$w, )+
            };
            w as i32
        }

        /// Decodes this vocabulary's word.
        pub fn $decode(v: i32) -> Result<$model> {
            match <$wire>::try_from(v) {
                $( Ok(<$wire>::$w) => Ok(<$model>::$m), )+
                _ => Err(Malformed(format!(concat!("unknown ", $what, " {}"), v))),
            }
        }
    };
}

mod exec;
mod preview;
mod revision;
mod usage;

pub use exec::{
    decode_exec_input, decode_exec_output, decode_window, encode_exec_input, encode_exec_output,
    encode_window,
};
pub use preview::{decode_preview, encode_preview};
pub use revision::{decode_revision, decode_rollback, encode_revision, encode_rollback};
pub use usage::{decode_usage, encode_usage};

/// A wire timestamp.
pub fn timestamp(t: SystemTime) -> Timestamp {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        },
        Err(_) => Timestamp::default(),
    }
}

/// A time from the wire (times before 1970 become the epoch).
pub fn system_time(t: &Timestamp) -> SystemTime {
    let secs = u64::try_from(t.seconds).unwrap_or(0);
    let nanos = u32::try_from(t.nanos).unwrap_or(0);
    UNIX_EPOCH + Duration::new(secs, nanos.min(999_999_999))
}

fn time_or_epoch(t: Option<&Timestamp>) -> SystemTime {
    t.map_or(UNIX_EPOCH, system_time)
}

/// The wire's empty string as `None`.
fn some(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn port(p: u32) -> Result<u16> {
    u16::try_from(p).map_err(|_| Malformed(format!("port {p} out of range")))
}

vocabulary!(encode_change, decode_change, ComponentChange, v1::Change, "component change" {
    Created <=> Created, Replaced <=> Replaced, Unchanged <=> Unchanged, Started <=> Started,
    Stopped <=> Stopped, Restarted <=> Restarted, Removed <=> Removed, Adopted <=> Adopted,
});
vocabulary!(encode_desired, decode_desired, DesiredState, v1::DesiredState, "desired state" {
    Running <=> Running, Stopped <=> Stopped,
});
vocabulary!(encode_role, decode_role, NodeRole, v1::NodeRole, "node role" {
    Compute <=> Compute, Edge <=> Edge,
});
vocabulary!(encode_action, decode_action, SyncAction, v1::SyncAction, "sync action" {
    Build <=> Build, Deploy <=> Deploy, Redeploy <=> Redeploy, Stop <=> Stop, Start <=> Start,
    Undeploy <=> Undeploy, Unchanged <=> Unchanged, Edge <=> Edge, Place <=> Place,
});
vocabulary!(encode_mode, decode_mode, Mode, v1::Mode, "route mode" {
    L4 <=> L4, L7 <=> L7,
});

/// Encodes a container state: the word, and the runtime's own for another state.
pub fn encode_state(s: &ContainerState) -> (i32, String) {
    use v1::ContainerState as W;
    let w = match s {
        ContainerState::Created => W::Created,
        ContainerState::Running => W::Running,
        ContainerState::Paused => W::Paused,
        ContainerState::Exited => W::Exited,
        ContainerState::Missing => W::Missing,
        ContainerState::Other(detail) => return (W::Other as i32, detail.clone()),
    };
    (w as i32, String::new())
}

/// Decodes a container state.
pub fn decode_state(state: i32, detail: String) -> Result<ContainerState> {
    use v1::ContainerState as W;
    Ok(match W::try_from(state) {
        Ok(W::Created) => ContainerState::Created,
        Ok(W::Running) => ContainerState::Running,
        Ok(W::Paused) => ContainerState::Paused,
        Ok(W::Exited) => ContainerState::Exited,
        Ok(W::Missing) => ContainerState::Missing,
        Ok(W::Other) => ContainerState::Other(detail),
        _ => return Err(Malformed(format!("unknown container state {state}"))),
    })
}

fn encode_port(p: &PortAssignment) -> v1::PortAssignment {
    v1::PortAssignment {
        component: p.component.clone(),
        route: p.route.clone().unwrap_or_default(),
        port: u32::from(p.port),
    }
}

fn decode_port(p: v1::PortAssignment) -> Result<PortAssignment> {
    Ok(PortAssignment {
        port: port(p.port)?,
        component: p.component,
        route: some(p.route),
    })
}

/// Encodes an operation's report.
pub fn encode_report(r: &Report) -> v1::OperationReply {
    v1::OperationReply {
        service: r.service.clone(),
        node: r.node.clone(),
        created: r.created,
        components: r
            .components
            .iter()
            .map(|c| v1::ComponentChange {
                container: c.container.clone(),
                change: encode_change(c.change),
            })
            .collect(),
        ports: r.ports.iter().map(encode_port).collect(),
        warnings: r.warnings.clone(),
        revision: r.revision.unwrap_or(0),
    }
}

/// Decodes an operation's report.
pub fn decode_report(r: v1::OperationReply) -> Result<Report> {
    Ok(Report {
        service: r.service,
        node: r.node,
        created: r.created,
        components: r
            .components
            .into_iter()
            .map(|c| {
                Ok(ChangedComponent {
                    change: decode_change(c.change)?,
                    container: c.container,
                })
            })
            .collect::<Result<_>>()?,
        ports: r
            .ports
            .into_iter()
            .map(decode_port)
            .collect::<Result<_>>()?,
        warnings: r.warnings,
        revision: (r.revision != 0).then_some(r.revision),
    })
}

fn encode_component(c: &ComponentStatus) -> v1::ComponentStatus {
    let (state, state_detail) = encode_state(&c.state);
    v1::ComponentStatus {
        name: c.name.clone(),
        container: c.container.clone(),
        desired: encode_desired(c.desired),
        state,
        state_detail,
        image: c.image.clone(),
        version: c.version.clone(),
        ports: c.ports.iter().map(encode_port).collect(),
        restart_count: c.restart_count,
        started_at: c.started_at.map(timestamp),
        flapping_since: c.flapping_since.map(timestamp),
    }
}

fn decode_component(c: v1::ComponentStatus) -> Result<ComponentStatus> {
    Ok(ComponentStatus {
        desired: decode_desired(c.desired)?,
        state: decode_state(c.state, c.state_detail)?,
        ports: c
            .ports
            .into_iter()
            .map(decode_port)
            .collect::<Result<_>>()?,
        started_at: c.started_at.as_ref().map(system_time),
        flapping_since: c.flapping_since.as_ref().map(system_time),
        name: c.name,
        container: c.container,
        image: c.image,
        version: c.version,
        restart_count: c.restart_count,
    })
}

/// Encodes a service's status.
pub fn encode_status(s: &ServiceStatus) -> v1::ServiceStatus {
    v1::ServiceStatus {
        service: s.service.clone(),
        node: s.node.clone(),
        active: s.active,
        components: s.components.iter().map(encode_component).collect(),
        routes: s.routes.iter().map(encode_route).collect(),
        certificates: s
            .certificates
            .iter()
            .map(|c| v1::Certificate {
                hostname: c.hostname.clone(),
                cert_path: c.cert_path.clone(),
                key_path: c.key_path.clone(),
                serial: c.serial.clone(),
                not_after: Some(timestamp(c.not_after)),
                issuer: c.issuer.clone(),
            })
            .collect(),
        skipped: s.skipped.clone(),
    }
}

/// Decodes a service's status.
pub fn decode_status(s: v1::ServiceStatus) -> Result<ServiceStatus> {
    let owner = s.service.clone();
    Ok(ServiceStatus {
        components: s
            .components
            .into_iter()
            .map(decode_component)
            .collect::<Result<_>>()?,
        routes: s
            .routes
            .into_iter()
            .map(decode_route)
            .collect::<Result<_>>()?,
        certificates: s
            .certificates
            .into_iter()
            .map(|c| CertificateRecord {
                service: Some(owner.clone()),
                not_after: time_or_epoch(c.not_after.as_ref()),
                hostname: c.hostname,
                cert_path: c.cert_path,
                key_path: c.key_path,
                serial: c.serial,
                issuer: c.issuer,
            })
            .collect(),
        service: s.service,
        node: s.node,
        active: s.active,
        skipped: s.skipped,
    })
}

/// Encodes a service's status report.
pub fn encode_status_report(r: &StatusReport) -> v1::ServiceStatusResponse {
    v1::ServiceStatusResponse {
        status: Some(encode_status(&r.status)),
        definition: r.definition.to_toml(),
        recent_events: r.events.iter().map(encode_event).collect(),
    }
}

/// Decodes a service's status report.
pub fn decode_status_report(r: v1::ServiceStatusResponse) -> Result<StatusReport> {
    let status = r
        .status
        .ok_or_else(|| Malformed("status reply without a status".into()))?;
    let definition = mcp_model::spec::ServiceDefinition::parse(&r.definition, None)
        .map_err(|e| Malformed(format!("the stored definition: {e}")))?;
    Ok(StatusReport {
        status: decode_status(status)?,
        definition,
        events: r.recent_events.into_iter().map(decode_event).collect(),
    })
}

/// Encodes an event.
pub fn encode_event(e: &Event) -> v1::Event {
    v1::Event {
        id: e.id,
        node: e.node.clone(),
        at: Some(timestamp(e.at)),
        actor: e.actor.clone(),
        action: e.action.clone(),
        service: e.service.clone().unwrap_or_default(),
        detail: e.detail.clone(),
        error: e.error.clone().unwrap_or_default(),
    }
}

/// Decodes an event.
pub fn decode_event(e: v1::Event) -> Event {
    Event {
        id: e.id,
        node: e.node,
        at: time_or_epoch(e.at.as_ref()),
        actor: e.actor,
        action: e.action,
        service: some(e.service),
        detail: e.detail,
        error: some(e.error),
    }
}

/// The request for `service`'s output as `query` asks.
pub fn encode_logs_request(service: &str, query: &LogQuery) -> v1::LogsRequest {
    v1::LogsRequest {
        service: service.to_owned(),
        component: query.component.clone().unwrap_or_default(),
        tail: query.tail.unwrap_or(0),
        follow: query.follow,
        since: query.since.map(|s| match s {
            Since::Ago(d) => v1::logs_request::Since::SinceSeconds(d.as_secs()),
            Since::At(t) => v1::logs_request::Since::SinceTime(timestamp(t)),
        }),
    }
}

/// What a logs request asks (its service is parsed by the caller).
pub fn decode_log_query(r: &v1::LogsRequest) -> LogQuery {
    LogQuery {
        component: some(r.component.clone()),
        tail: (r.tail > 0).then_some(r.tail),
        since: r.since.as_ref().map(|s| match s {
            v1::logs_request::Since::SinceSeconds(n) => Since::Ago(Duration::from_secs(*n)),
            v1::logs_request::Since::SinceTime(t) => Since::At(system_time(t)),
        }),
        follow: r.follow,
    }
}

/// Encodes a line of output.
pub fn encode_log_line(l: LogLine) -> v1::LogChunk {
    v1::LogChunk {
        container: l.container,
        line: l.line,
        time: l.time.map(timestamp),
    }
}

/// Decodes a line of output.
pub fn decode_log_line(c: v1::LogChunk) -> LogLine {
    LogLine {
        container: c.container,
        time: c.time.as_ref().map(system_time),
        line: c.line,
    }
}

/// Encodes node information.
pub fn encode_node(n: &NodeInfo) -> v1::NodeStatusResponse {
    v1::NodeStatusResponse {
        node: n.node.clone(),
        version: n.version.clone(),
        started_at: Some(timestamp(n.started_at)),
        registry_schema_version: n.registry_schema_version,
        runtime: n.runtime.clone(),
        services: n.services,
        containers: n.containers,
        cpus: n.cpus,
        memory_bytes: n.memory_bytes,
        memory_available_bytes: n.memory_available_bytes,
        disk_free_bytes: n.disk_free_bytes,
        ports_leased: n.ports_leased,
        ports_total: n.ports_total,
        role: encode_role(n.role),
        build: n.build.clone(),
        load_average: n.load_average,
    }
}

/// Decodes node information.
pub fn decode_node(n: v1::NodeStatusResponse) -> Result<NodeInfo> {
    Ok(NodeInfo {
        started_at: time_or_epoch(n.started_at.as_ref()),
        role: decode_role(n.role)?,
        node: n.node,
        version: n.version,
        registry_schema_version: n.registry_schema_version,
        runtime: n.runtime,
        services: n.services,
        containers: n.containers,
        cpus: n.cpus,
        memory_bytes: n.memory_bytes,
        memory_available_bytes: n.memory_available_bytes,
        disk_free_bytes: n.disk_free_bytes,
        ports_leased: n.ports_leased,
        ports_total: n.ports_total,
        build: n.build,
        load_average: n.load_average,
    })
}

/// Encodes a definition's problem (its file, which the agent does not know, left
/// out).
pub fn encode_problem(p: &Problem) -> v1::DefinitionProblem {
    let (line, column) = p
        .location
        .map_or((0, 0), |l| (l.line as u32, l.column as u32));
    v1::DefinitionProblem {
        line,
        column,
        field: p.field.clone(),
        rule: p.rule.as_str().to_owned(),
        message: p.message.clone(),
    }
}

/// Decodes a problem the agent found in `file`'s text.
pub fn decode_problem(
    p: v1::DefinitionProblem,
    file: Option<&std::path::Path>,
) -> Result<Problem, Malformed> {
    let rule = Rule::parse(&p.rule).ok_or_else(|| Malformed(format!("rule {:?}", p.rule)))?;
    Ok(Problem {
        file: file.map(std::path::Path::to_owned),
        location: (p.line > 0).then_some(Location {
            line: p.line as usize,
            column: p.column as usize,
        }),
        field: p.field,
        rule,
        message: p.message,
    })
}

/// Encodes a sync plan item.
pub fn encode_sync_item(i: &SyncItem) -> v1::SyncItem {
    v1::SyncItem {
        service: i.service.clone(),
        action: encode_action(i.action),
        reason: i.reason.clone(),
        error: i.error.clone().unwrap_or_default(),
    }
}

/// Decodes a sync plan item.
pub fn decode_sync_item(i: v1::SyncItem) -> Result<SyncItem> {
    Ok(SyncItem {
        action: decode_action(i.action)?,
        service: i.service,
        reason: i.reason,
        error: some(i.error),
    })
}

/// Encodes a proxy route.
pub fn encode_route(r: &ProxyRouteRecord) -> v1::ProxyRoute {
    v1::ProxyRoute {
        listener: r.listener.clone(),
        hostname: r.hostname.clone(),
        backend: r.backend.clone(),
        mode: encode_mode(r.mode),
        tls_cert: r.tls_cert.clone().unwrap_or_default(),
        tls_key: r.tls_key.clone().unwrap_or_default(),
        backend_tls: r.backend_tls,
        proxy_protocol: r.proxy_protocol,
        service: r.service.clone().unwrap_or_default(),
    }
}

/// Decodes a proxy route.
pub fn decode_route(r: v1::ProxyRoute) -> Result<ProxyRouteRecord> {
    Ok(ProxyRouteRecord {
        mode: decode_mode(r.mode)?,
        listener: r.listener,
        hostname: r.hostname,
        backend: r.backend,
        tls_cert: some(r.tls_cert),
        tls_key: some(r.tls_key),
        backend_tls: r.backend_tls,
        proxy_protocol: r.proxy_protocol,
        service: some(r.service),
    })
}

/// Encodes a snapshot's description.
pub fn encode_snapshot(s: &SnapshotInfo) -> v1::Snapshot {
    v1::Snapshot {
        service: s.service.clone(),
        node: s.node.clone(),
        name: s.name.clone(),
        size_bytes: s.size_bytes,
        sha256: s.sha256.clone(),
        created_at: Some(timestamp(s.created_at)),
    }
}

/// Decodes a snapshot's description (`path` is the node's, not meaningful here).
pub fn decode_snapshot(s: v1::Snapshot) -> SnapshotInfo {
    SnapshotInfo {
        path: std::path::PathBuf::from(&s.name),
        created_at: time_or_epoch(s.created_at.as_ref()),
        service: s.service,
        node: s.node,
        name: s.name,
        size_bytes: s.size_bytes,
        sha256: s.sha256,
    }
}

/// Encodes a node's proxy table.
pub fn encode_proxy_table(t: &ProxyTable) -> v1::ListProxyRoutesResponse {
    v1::ListProxyRoutesResponse {
        node: t.node.clone(),
        routes: t.routes.iter().map(encode_route).collect(),
        proxy_version: t.status.version.clone(),
        uptime_seconds: t.status.uptime.as_secs(),
        total_connections: t.status.total_connections,
        listeners: t
            .status
            .listeners
            .iter()
            .map(|l| v1::ProxyListener {
                address: l.address.clone(),
                routes: l.routes,
                active_connections: l.active_connections,
            })
            .collect(),
    }
}

/// Decodes a node's proxy table.
pub fn decode_proxy_table(r: v1::ListProxyRoutesResponse) -> Result<ProxyTable> {
    Ok(ProxyTable {
        node: r.node,
        status: ProxyStatus {
            version: r.proxy_version,
            uptime: Duration::from_secs(r.uptime_seconds),
            total_connections: r.total_connections,
            listeners: r
                .listeners
                .into_iter()
                .map(|l| ListenerStatus {
                    address: l.address,
                    routes: l.routes,
                    active_connections: l.active_connections,
                })
                .collect(),
        },
        routes: r
            .routes
            .into_iter()
            .map(decode_route)
            .collect::<Result<_>>()?,
    })
}

/// Encodes a DNS record.
pub fn encode_dns(d: &DnsRecord) -> v1::DnsRecord {
    v1::DnsRecord {
        zone: d.zone.clone(),
        name: d.name.clone(),
        r#type: d.rtype.clone(),
        value: d.value.clone(),
        ttl: d.ttl,
        service: d.service.clone().unwrap_or_default(),
    }
}

/// Decodes a DNS record.
pub fn decode_dns(d: v1::DnsRecord) -> DnsRecord {
    DnsRecord {
        zone: d.zone,
        name: d.name,
        rtype: d.r#type,
        value: d.value,
        ttl: d.ttl,
        service: (!d.service.is_empty()).then_some(d.service),
    }
}

/// Encodes an edge route request.
pub fn encode_edge_request(r: &EdgeRouteRequest, check_only: bool) -> v1::SetupEdgeRouteRequest {
    v1::SetupEdgeRouteRequest {
        hostname: r.hostname.clone(),
        service: r.service.clone(),
        node: r.node.clone(),
        backend_hostname: r.backend_hostname.clone(),
        backend: r.backend.clone(),
        listener: r.listener.clone(),
        check_only,
    }
}

/// Decodes an edge route request; also says whether it is a check only.
pub fn decode_edge_request(r: v1::SetupEdgeRouteRequest) -> (EdgeRouteRequest, bool) {
    (
        EdgeRouteRequest {
            hostname: r.hostname,
            service: r.service,
            node: r.node,
            backend_hostname: r.backend_hostname,
            backend: r.backend,
            listener: r.listener,
        },
        r.check_only,
    )
}

/// Encodes an edge route and its state.
pub fn encode_edge_route(s: &EdgeRouteStatus) -> v1::EdgeRoute {
    let r = &s.route;
    v1::EdgeRoute {
        edge: s.edge.clone(),
        hostname: r.hostname.clone(),
        service: r.service.clone(),
        node: r.node.clone(),
        backend_hostname: r.backend_hostname.clone(),
        backend: r.backend.clone(),
        listener: r.listener.clone(),
        updated_at: Some(timestamp(r.updated_at)),
        cert_serial: s.cert_serial.clone().unwrap_or_default(),
        cert_not_after: s.cert_not_after.map(timestamp),
        backend_reachable: s.backend_reachable,
        backend_error: s.backend_error.clone().unwrap_or_default(),
    }
}

/// Decodes an edge route and its state.
pub fn decode_edge_route(r: v1::EdgeRoute) -> EdgeRouteStatus {
    EdgeRouteStatus {
        edge: r.edge,
        route: EdgeRouteRecord {
            updated_at: time_or_epoch(r.updated_at.as_ref()),
            hostname: r.hostname,
            service: r.service,
            node: r.node,
            backend_hostname: r.backend_hostname,
            backend: r.backend,
            listener: r.listener,
        },
        cert_serial: some(r.cert_serial),
        cert_not_after: r.cert_not_after.as_ref().map(system_time),
        backend_reachable: r.backend_reachable,
        backend_error: some(r.backend_error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_statuses_events_round_trip() {
        let mut report = Report::new("web", "rift");
        report.created = true;
        report.push("web-api", ComponentChange::Replaced);
        report.ports = vec![
            PortAssignment {
                component: "api".into(),
                route: Some("rest".into()),
                port: 10001,
            },
            PortAssignment {
                component: "api".into(),
                route: None,
                port: 10002,
            },
        ];
        report.warnings = vec!["w".into()];
        assert_eq!(
            decode_report(encode_report(&report)).expect("decode"),
            report
        );

        let at = UNIX_EPOCH + Duration::new(1_800_000_000, 5);
        let component = ComponentStatus {
            name: "api".into(),
            container: "web-api".into(),
            desired: DesiredState::Running,
            state: ContainerState::Running,
            image: "i".into(),
            version: "v1.0.0".into(),
            ports: vec![PortAssignment {
                component: "api".into(),
                route: Some("rest".into()),
                port: 10001,
            }],
            restart_count: 2,
            started_at: Some(at),
            flapping_since: None,
        };
        let status = ServiceStatus {
            service: "web".into(),
            node: "rift".into(),
            active: true,
            components: vec![
                component.clone(),
                ComponentStatus {
                    state: ContainerState::Other("stopping".into()),
                    ..component
                },
            ],
            routes: vec![ProxyRouteRecord {
                listener: ":443".into(),
                hostname: "web.example".into(),
                backend: "127.0.0.1:10001".into(),
                mode: Mode::L7,
                tls_cert: Some("/c/web.pem".into()),
                tls_key: Some("/c/web.key".into()),
                backend_tls: true,
                proxy_protocol: false,
                service: Some("web".into()),
            }],
            certificates: vec![CertificateRecord {
                hostname: "web.example".into(),
                service: Some("web".into()),
                cert_path: "/c/web.pem".into(),
                key_path: "/c/web.key".into(),
                serial: "0a:0b".into(),
                not_after: UNIX_EPOCH + Duration::from_secs(1_900_000_000),
                issuer: "local".into(),
            }],
            skipped: vec!["dns: not configured".into()],
        };
        assert_eq!(
            decode_status(encode_status(&status)).expect("decode"),
            status
        );

        let event = Event {
            id: 7,
            node: "rift".into(),
            at,
            actor: "kyle".into(),
            action: "deploy".into(),
            service: Some("web".into()),
            detail: "d".into(),
            error: None,
        };
        assert_eq!(decode_event(encode_event(&event)), event);
    }

    #[test]
    fn every_word_of_every_vocabulary_round_trips() {
        for &c in ComponentChange::ALL {
            assert_eq!(decode_change(encode_change(c)), Ok(c));
        }
        for &a in SyncAction::ALL {
            assert_eq!(decode_action(encode_action(a)), Ok(a));
        }
        for &d in DesiredState::ALL {
            assert_eq!(decode_desired(encode_desired(d)), Ok(d));
        }
        for &r in NodeRole::ALL {
            assert_eq!(decode_role(encode_role(r)), Ok(r));
        }
        for &m in Mode::ALL {
            assert_eq!(decode_mode(encode_mode(m)), Ok(m));
        }
    }

    #[test]
    fn bad_wire_values_are_malformed() {
        let bad = v1::OperationReply {
            ports: vec![v1::PortAssignment {
                component: "a".into(),
                route: String::new(),
                port: 70000,
            }],
            ..Default::default()
        };
        assert!(decode_report(bad).is_err());
        assert!(decode_change(0).is_err(), "unspecified is not a word");
        assert!(decode_mode(99).is_err());
    }
}
