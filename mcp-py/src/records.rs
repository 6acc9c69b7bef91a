//! The read-only result classes: each wraps an `mcp_core` value and gives typed
//! attributes, `__repr__`, equality and `to_dict()`; timestamps are timezone-aware
//! `datetime`s. The `record!` macro writes the boilerplate.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// A time that becomes an aware `datetime` (UTC) in Python.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time(pub(crate) SystemTime);

impl<'py> IntoPyObject<'py> for Time {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let secs = self
            .0
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let dt = py.import("datetime")?;
        let utc = dt.getattr("timezone")?.getattr("utc")?;
        dt.getattr("datetime")?
            .call_method1("fromtimestamp", (secs, utc))
    }
}

/// A value made of plain Python data: records become dicts, lists are mapped.
pub(crate) fn plain<'py>(v: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(list) = v.cast::<PyList>() {
        let out = PyList::empty(v.py());
        for item in list.iter() {
            out.append(plain(item)?)?;
        }
        return Ok(out.into_any());
    }
    if v.hasattr("to_dict")? && !v.is_instance_of::<PyDict>() {
        return v.call_method0("to_dict");
    }
    Ok(v)
}

fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

macro_rules! record {
    ($(#[$doc:meta])* $py:ident($inner:ty) { $($(#[$fdoc:meta])* $field:ident: $ty:ty = |$s:ident| $get:expr;)* }) => {
        $(#[$doc])*
        #[pyclass(module = "metacircular_mcp", frozen, eq)]
        #[derive(Clone, PartialEq)]
        pub struct $py(pub(crate) $inner);

        #[pymethods]
        impl $py {
            $(
                $(#[$fdoc])*
                #[getter]
                fn $field(&self) -> $ty {
                    let $s = &self.0;
                    $get
                }
            )*

            /// The attributes as a dict (nested records become dicts too).
            fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
                let d = PyDict::new(slf.py());
                $( d.set_item(stringify!($field), plain(slf.getattr(stringify!($field))?)?)?; )*
                Ok(d)
            }

            fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                let mut parts: Vec<String> = Vec::new();
                $( parts.push(format!("{}={}", stringify!($field), slf.getattr(stringify!($field))?.repr()?)); )*
                Ok(format!("{}({})", stringify!($py), parts.join(", ")))
            }
        }
    };
}

record!(
    /// One problem in a service definition.
    Problem(mcp_core::spec::Problem) {
        file: Option<String> = |p| p.file.as_ref().map(|f| f.display().to_string());
        line: Option<usize> = |p| p.location.map(|l| l.line);
        column: Option<usize> = |p| p.location.map(|l| l.column);
        field: String = |p| p.field.clone();
        rule: String = |p| p.rule.as_str().to_owned();
        message: String = |p| p.message.clone();
    }
);

record!(
    /// A route as written (`[[components.routes]]`).
    Route(mcp_core::spec::Route) {
        name: Option<String> = |r| r.name.clone();
        port: u16 = |r| r.port;
        mode: String = |r| r.mode.as_str().to_owned();
        hostname: Option<String> = |r| r.hostname.clone();
        public: bool = |r| r.public;
    }
);

record!(
    /// A component as written (`[[components]]`).
    Component(mcp_core::spec::Component) {
        name: String = |c| c.name.clone();
        image: Option<String> = |c| c.image.clone();
        version: Option<String> = |c| c.version.clone();
        volumes: Vec<String> = |c| c.volumes.clone();
        cmd: Option<Vec<String>> = |c| c.cmd.clone();
        env: Vec<String> = |c| c.env.clone();
        network: Option<String> = |c| c.network.clone();
        user: Option<String> = |c| c.user.clone();
        restart: Option<String> = |c| c.restart.clone();
        ports: Vec<String> = |c| c.ports.clone();
        routes: Vec<Route> = |c| c.routes.iter().cloned().map(Route).collect();
    }
);

record!(
    /// A route with every convention applied.
    ResolvedRoute(mcp_core::spec::ResolvedRoute) {
        name: Option<String> = |r| r.name.clone();
        port_env: Vec<String> = |r| r.port_env.clone();
        listener_port: u16 = |r| r.listener_port;
        mode: String = |r| r.mode.as_str().to_owned();
        hostname: String = |r| r.hostname.clone();
        public: bool = |r| r.public;
    }
);

record!(
    /// A component with every convention applied.
    ResolvedComponent(mcp_core::spec::ResolvedComponent) {
        name: String = |c| c.name.clone();
        container_name: String = |c| c.container_name.clone();
        image: String = |c| c.image.clone();
        version: String = |c| c.version.clone();
        network: String = |c| c.network.clone();
        user: String = |c| c.user.clone();
        restart: String = |c| c.restart.clone();
        volumes: Vec<String> = |c| c.volumes.clone();
        cmd: Vec<String> = |c| c.cmd.clone();
        env: Vec<String> = |c| c.env.clone();
        ports: Vec<String> = |c| c.ports.clone();
        routes: Vec<ResolvedRoute> = |c| c.routes.iter().cloned().map(ResolvedRoute).collect();
    }
);

record!(
    /// A service with every convention applied: what the agent deploys.
    ResolvedService(mcp_core::spec::ResolvedService) {
        name: String = |s| s.name.clone();
        node: String = |s| s.node.clone();
        tier: String = |s| s.tier.as_str().to_owned();
        active: bool = |s| s.active;
        source_path: String = |s| s.source_path.clone();
        data_dir: String = |s| s.data_dir.display().to_string();
        definition_hash: String = |s| s.definition_hash.clone();
        components: Vec<ResolvedComponent> = |s| s.components.iter().cloned().map(ResolvedComponent).collect();
    }
);

record!(
    /// What an operation did: per container its change, per route its host port.
    Report(mcp_core::engine::Report) {
        service: String = |r| r.service.clone();
        components: Vec<(String, String)> = |r| r.components.iter().map(|(c, ch)| (c.clone(), ch.as_str().to_owned())).collect();
        ports: Vec<(String, Option<String>, u16)> = |r| r.ports.clone();
        warnings: Vec<String> = |r| r.warnings.clone();
    }
);

record!(
    /// One component's status.
    ComponentStatus(mcp_core::engine::ComponentStatus) {
        name: String = |c| c.name.clone();
        container: String = |c| c.container.clone();
        desired: String = |c| c.desired.as_str().to_owned();
        state: String = |c| c.state.clone();
        image: String = |c| c.image.clone();
        version: String = |c| c.version.clone();
        ports: Vec<(Option<String>, u16)> = |c| c.ports.clone();
        restart_count: u32 = |c| c.restart_count;
        started_at: Option<Time> = |c| c.started_at.map(Time);
        flapping_since: Option<Time> = |c| c.flapping_since.map(Time);
    }
);

record!(
    /// One service's status.
    ServiceStatus(mcp_core::engine::ServiceStatus) {
        name: String = |s| s.name.clone();
        node: String = |s| s.node.clone();
        active: bool = |s| s.active;
        components: Vec<ComponentStatus> = |s| s.components.iter().cloned().map(ComponentStatus).collect();
    }
);

record!(
    /// An event from a node's log.
    Event(mcp_core::registry::Event) {
        id: i64 = |e| e.id;
        at: Time = |e| Time(e.at);
        actor: String = |e| e.actor.clone();
        action: String = |e| e.action.clone();
        service: Option<String> = |e| e.service.clone();
        detail: String = |e| e.detail.clone();
        error: Option<String> = |e| e.error.clone();
    }
);

record!(
    /// A node's identity and capacity.
    NodeInfo(mcp_core::engine::NodeInfo) {
        node: String = |n| n.node.clone();
        version: String = |n| n.version.clone();
        started_at: Time = |n| Time(n.started_at);
        registry_schema_version: u32 = |n| n.registry_schema_version;
        runtime: String = |n| n.runtime.clone();
        services: u32 = |n| n.services;
        containers: u32 = |n| n.containers;
        cpus: u32 = |n| n.cpus;
        memory_bytes: u64 = |n| n.memory_bytes;
        memory_available_bytes: u64 = |n| n.memory_available_bytes;
        disk_free_bytes: u64 = |n| n.disk_free_bytes;
        ports_leased: u32 = |n| n.ports_leased;
        ports_total: u32 = |n| n.ports_total;
        role: String = |n| n.role.clone();
        build: String = |n| n.build.clone();
    }
);

record!(
    /// One line of a sync plan.
    SyncItem(mcp_core::engine::SyncItem) {
        service: String = |i| i.service.clone();
        action: String = |i| i.action.as_str().to_owned();
        reason: String = |i| i.reason.clone();
        error: Option<String> = |i| i.error.clone();
    }
);

record!(
    /// One line of a container's output.
    LogLine(mcp_core::api::LogLine) {
        container: String = |l| l.container.clone();
        line: String = |l| l.line.clone();
    }
);

record!(
    /// An mc-proxy route.
    ProxyRoute(mcp_core::registry::ProxyRouteRecord) {
        listener: String = |r| r.listener.clone();
        hostname: String = |r| r.hostname.clone();
        backend: String = |r| r.backend.clone();
        mode: String = |r| r.mode.as_str().to_owned();
        backend_tls: bool = |r| r.backend_tls;
        service: Option<String> = |r| r.service.clone();
    }
);

record!(
    /// An edge route: a public hostname an edge node routes to a service on a
    /// compute node.
    EdgeRoute((String, mcp_core::engine::EdgeRouteStatus)) {
        /// The edge node.
        edge: String = |r| r.0.clone();
        hostname: String = |r| r.1.route.hostname.clone();
        service: String = |r| r.1.route.service.clone();
        /// The compute node.
        node: String = |r| r.1.route.node.clone();
        backend: String = |r| r.1.route.backend.clone();
        backend_hostname: String = |r| r.1.route.backend_hostname.clone();
        listener: String = |r| r.1.route.listener.clone();
        cert_serial: Option<String> = |r| r.1.cert_serial.clone();
        cert_expires: Option<Time> = |r| r.1.cert_not_after.map(Time);
        /// `None` when not probed.
        backend_reachable: Option<bool> = |r| r.1.backend_reachable;
        backend_error: Option<String> = |r| r.1.backend_error.clone();
    }
);

record!(
    /// One completed step of a migration.
    MigrateStep(mcp_core::migrate::MigrateStep) {
        step: String = |s| s.step.to_owned();
        detail: String = |s| s.detail.clone();
    }
);

record!(
    /// A DNS record a node registered.
    DnsRecord(mcp_core::registry::DnsRecord) {
        zone: String = |d| d.zone.clone();
        name: String = |d| d.name.clone();
        rtype: String = |d| d.rtype.clone();
        value: String = |d| d.value.clone();
        ttl: u32 = |d| d.ttl;
    }
);

record!(
    /// A host port leased to a route (offline planning).
    PortLease(mcp_core::registry::PortLease) {
        port: u16 = |l| l.port;
        service: String = |l| l.service.clone();
        component: String = |l| l.component.clone();
        route: Option<String> = |l| l.route.clone();
    }
);

record!(
    /// One planned reconcile action.
    Action(mcp_core::reconcile::Action) {
        kind: String = |a| word(&a.kind);
        container: String = |a| a.container.clone();
        service: Option<String> = |a| a.service.clone();
        component: Option<String> = |a| a.component.clone();
        reason: String = |a| a.reason.to_string();
    }
);
