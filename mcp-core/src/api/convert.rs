//! The one place where wire types (`mcp_proto::v1`) and this crate's types meet.
//! Encoding is for the agent, decoding for the client; each pair is tested to
//! round-trip.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_proto::v1;
use prost_types::Timestamp;

use super::ApiError;
use crate::engine::{
    ComponentChange, ComponentStatus, NodeInfo, Report, ServiceStatus, SyncAction, SyncItem,
};
use crate::engine::{EdgeRouteRequest, EdgeRouteStatus};
use crate::registry::{DesiredState, DnsRecord, EdgeRouteRecord, Event, ProxyRouteRecord};
use crate::spec::Mode;

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

fn change(name: &str) -> Result<ComponentChange, ApiError> {
    Ok(match name {
        "created" => ComponentChange::Created,
        "replaced" => ComponentChange::Replaced,
        "unchanged" => ComponentChange::Unchanged,
        "started" => ComponentChange::Started,
        "stopped" => ComponentChange::Stopped,
        "restarted" => ComponentChange::Restarted,
        "removed" => ComponentChange::Removed,
        "adopted" => ComponentChange::Adopted,
        other => {
            return Err(ApiError::Protocol(format!(
                "unknown component change {other:?}"
            )));
        }
    })
}

fn port(p: u32) -> Result<u16, ApiError> {
    u16::try_from(p).map_err(|_| ApiError::Protocol(format!("port {p} out of range")))
}

fn route_name(r: String) -> Option<String> {
    (!r.is_empty()).then_some(r)
}

/// Encodes an operation's report.
pub fn encode_report(r: &Report) -> v1::OperationReply {
    v1::OperationReply {
        service: r.service.clone(),
        components: r
            .components
            .iter()
            .map(|(container, c)| v1::ComponentChange {
                container: container.clone(),
                change: c.as_str().to_owned(),
            })
            .collect(),
        ports: r
            .ports
            .iter()
            .map(|(component, route, p)| v1::PortAssignment {
                component: component.clone(),
                route: route.clone().unwrap_or_default(),
                port: u32::from(*p),
            })
            .collect(),
        warnings: r.warnings.clone(),
    }
}

/// Decodes an operation's report.
pub fn decode_report(r: v1::OperationReply) -> Result<Report, ApiError> {
    Ok(Report {
        service: r.service,
        components: r
            .components
            .into_iter()
            .map(|c| Ok((c.container, change(&c.change)?)))
            .collect::<Result<_, ApiError>>()?,
        ports: r
            .ports
            .into_iter()
            .map(|p| Ok((p.component, route_name(p.route), port(p.port)?)))
            .collect::<Result<_, ApiError>>()?,
        warnings: r.warnings,
    })
}

/// Encodes a service's status.
pub fn encode_status(s: &ServiceStatus) -> v1::ServiceStatus {
    v1::ServiceStatus {
        name: s.name.clone(),
        node: s.node.clone(),
        active: s.active,
        components: s
            .components
            .iter()
            .map(|c| v1::ComponentStatus {
                name: c.name.clone(),
                container: c.container.clone(),
                desired: c.desired.as_str().to_owned(),
                state: c.state.clone(),
                image: c.image.clone(),
                version: c.version.clone(),
                ports: c
                    .ports
                    .iter()
                    .map(|(route, p)| v1::PortAssignment {
                        component: c.name.clone(),
                        route: route.clone().unwrap_or_default(),
                        port: u32::from(*p),
                    })
                    .collect(),
                restart_count: c.restart_count,
                started_at: c.started_at.map(timestamp),
                flapping_since: c.flapping_since.map(timestamp),
            })
            .collect(),
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
pub fn decode_status(s: v1::ServiceStatus) -> Result<ServiceStatus, ApiError> {
    let owner = s.name.clone();
    Ok(ServiceStatus {
        name: s.name,
        node: s.node,
        active: s.active,
        components: s
            .components
            .into_iter()
            .map(|c| {
                Ok(ComponentStatus {
                    desired: match c.desired.as_str() {
                        "running" => DesiredState::Running,
                        "stopped" => DesiredState::Stopped,
                        other => {
                            return Err(ApiError::Protocol(format!(
                                "unknown desired state {other:?}"
                            )));
                        }
                    },
                    ports: c
                        .ports
                        .into_iter()
                        .map(|p| Ok((route_name(p.route), port(p.port)?)))
                        .collect::<Result<_, ApiError>>()?,
                    name: c.name,
                    container: c.container,
                    state: c.state,
                    image: c.image,
                    version: c.version,
                    restart_count: c.restart_count,
                    started_at: c.started_at.as_ref().map(system_time),
                    flapping_since: c.flapping_since.as_ref().map(system_time),
                })
            })
            .collect::<Result<_, ApiError>>()?,
        routes: s
            .routes
            .into_iter()
            .map(decode_route)
            .collect::<Result<_, _>>()?,
        certificates: s
            .certificates
            .into_iter()
            .map(|c| crate::registry::CertificateRecord {
                service: Some(owner.clone()),
                not_after: c
                    .not_after
                    .as_ref()
                    .map_or(std::time::UNIX_EPOCH, system_time),
                hostname: c.hostname,
                cert_path: c.cert_path,
                key_path: c.key_path,
                serial: c.serial,
                issuer: c.issuer,
            })
            .collect(),
        skipped: s.skipped,
    })
}

/// Encodes an event.
pub fn encode_event(e: &Event) -> v1::Event {
    v1::Event {
        id: e.id,
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
        at: e.at.as_ref().map_or(UNIX_EPOCH, system_time),
        actor: e.actor,
        action: e.action,
        service: route_name(e.service),
        detail: e.detail,
        error: route_name(e.error),
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
        role: n.role.clone(),
        build: n.build.clone(),
    }
}

/// Decodes node information.
pub fn decode_node(n: v1::NodeStatusResponse) -> NodeInfo {
    NodeInfo {
        started_at: n.started_at.as_ref().map_or(UNIX_EPOCH, system_time),
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
        role: n.role,
        build: n.build,
    }
}

/// Encodes a sync plan item.
pub fn encode_sync_item(i: &SyncItem) -> v1::SyncItem {
    v1::SyncItem {
        service: i.service.clone(),
        action: i.action.as_str().to_owned(),
        reason: i.reason.clone(),
        error: i.error.clone().unwrap_or_default(),
    }
}

/// Decodes a sync plan item.
pub fn decode_sync_item(i: v1::SyncItem) -> Result<SyncItem, ApiError> {
    let action = match i.action.as_str() {
        "build" => SyncAction::Build,
        "deploy" => SyncAction::Deploy,
        "redeploy" => SyncAction::Redeploy,
        "stop" => SyncAction::Stop,
        "start" => SyncAction::Start,
        "undeploy" => SyncAction::Undeploy,
        "unchanged" => SyncAction::Unchanged,
        "edge" => SyncAction::Edge,
        other => return Err(ApiError::Protocol(format!("unknown sync action {other:?}"))),
    };
    Ok(SyncItem {
        service: i.service,
        action,
        reason: i.reason,
        error: route_name(i.error),
    })
}

/// Encodes a proxy route.
pub fn encode_route(r: &ProxyRouteRecord) -> v1::ProxyRoute {
    v1::ProxyRoute {
        listener: r.listener.clone(),
        hostname: r.hostname.clone(),
        backend: r.backend.clone(),
        mode: r.mode.as_str().to_owned(),
        tls_cert: r.tls_cert.clone().unwrap_or_default(),
        tls_key: r.tls_key.clone().unwrap_or_default(),
        backend_tls: r.backend_tls,
        proxy_protocol: r.proxy_protocol,
        service: r.service.clone().unwrap_or_default(),
    }
}

/// Encodes a snapshot's description.
pub fn encode_snapshot(s: &crate::snapshot::SnapshotInfo) -> v1::Snapshot {
    v1::Snapshot {
        service: s.service.clone(),
        name: s.name.clone(),
        size_bytes: s.size_bytes,
        sha256: s.sha256.clone(),
        created_at: Some(timestamp(s.created_at)),
    }
}

/// Decodes a snapshot's description (`path` is the node's, not meaningful here).
pub fn decode_snapshot(s: v1::Snapshot) -> crate::snapshot::SnapshotInfo {
    crate::snapshot::SnapshotInfo {
        path: std::path::PathBuf::from(&s.name),
        service: s.service,
        name: s.name,
        size_bytes: s.size_bytes,
        sha256: s.sha256,
        created_at: s
            .created_at
            .as_ref()
            .map_or(std::time::UNIX_EPOCH, system_time),
    }
}

/// Encodes a node's proxy table.
pub fn encode_proxy_table(t: &crate::routes::ProxyTable) -> v1::ListProxyRoutesResponse {
    v1::ListProxyRoutesResponse {
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
pub fn decode_proxy_table(
    r: v1::ListProxyRoutesResponse,
) -> Result<crate::routes::ProxyTable, ApiError> {
    Ok(crate::routes::ProxyTable {
        status: crate::routes::ProxyStatus {
            version: r.proxy_version,
            uptime: std::time::Duration::from_secs(r.uptime_seconds),
            total_connections: r.total_connections,
            listeners: r
                .listeners
                .into_iter()
                .map(|l| crate::routes::ListenerStatus {
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
            .collect::<Result<_, _>>()?,
    })
}

/// Decodes a proxy route.
pub fn decode_route(r: v1::ProxyRoute) -> Result<ProxyRouteRecord, ApiError> {
    Ok(ProxyRouteRecord {
        mode: match r.mode.as_str() {
            "l4" => Mode::L4,
            "l7" => Mode::L7,
            other => return Err(ApiError::Protocol(format!("unknown route mode {other:?}"))),
        },
        listener: r.listener,
        hostname: r.hostname,
        backend: r.backend,
        tls_cert: route_name(r.tls_cert),
        tls_key: route_name(r.tls_key),
        backend_tls: r.backend_tls,
        proxy_protocol: r.proxy_protocol,
        service: route_name(r.service),
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
        service: None,
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
        route: EdgeRouteRecord {
            updated_at: r.updated_at.as_ref().map_or(UNIX_EPOCH, system_time),
            hostname: r.hostname,
            service: r.service,
            node: r.node,
            backend_hostname: r.backend_hostname,
            backend: r.backend,
            listener: r.listener,
        },
        cert_serial: Some(r.cert_serial).filter(|s| !s.is_empty()),
        cert_not_after: r.cert_not_after.as_ref().map(system_time),
        backend_reachable: r.backend_reachable,
        backend_error: Some(r.backend_error).filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_statuses_events_round_trip() {
        let report = Report {
            service: "web".into(),
            components: vec![("web-api".into(), ComponentChange::Replaced)],
            ports: vec![
                ("api".into(), Some("rest".into()), 10001),
                ("api".into(), None, 10002),
            ],
            warnings: vec!["w".into()],
        };
        assert_eq!(
            decode_report(encode_report(&report)).expect("decode"),
            report
        );

        let at = UNIX_EPOCH + Duration::new(1_800_000_000, 5);
        let status = ServiceStatus {
            name: "web".into(),
            node: "rift".into(),
            active: true,
            components: vec![ComponentStatus {
                name: "api".into(),
                container: "web-api".into(),
                desired: DesiredState::Running,
                state: "running".into(),
                image: "i".into(),
                version: "v1.0.0".into(),
                ports: vec![(Some("rest".into()), 10001)],
                restart_count: 2,
                started_at: Some(at),
                flapping_since: None,
            }],
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
            certificates: vec![crate::registry::CertificateRecord {
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
    fn bad_wire_values_are_protocol_errors() {
        let bad = v1::OperationReply {
            ports: vec![v1::PortAssignment {
                component: "a".into(),
                route: String::new(),
                port: 70000,
            }],
            ..Default::default()
        };
        assert!(matches!(decode_report(bad), Err(ApiError::Protocol(_))));
    }
}
