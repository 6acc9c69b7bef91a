//! The read-only result classes: each wraps an `mcp_core` value and gives typed
//! attributes, `__repr__`, equality and `to_dict()`; timestamps are timezone-aware
//! `datetime`s. `record!` writes the boilerplate of the definition records;
//! `view!` that of the results, whose `to_dict()` is the value's serde form, the
//! same the CLI prints with `--json` (times as RFC 3339 strings), so the
//! attributes carry the names of the view's fields (docs/json.md).

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

/// A JSON value as plain Python data.
fn to_python<'py>(py: Python<'py>, v: serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::IntoPyObjectExt;
    Ok(match v {
        serde_json::Value::Null => py.None().into_bound(py),
        serde_json::Value::Bool(b) => b.into_bound_py_any(py)?,
        serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => u.into_bound_py_any(py)?,
            (_, Some(i)) => i.into_bound_py_any(py)?,
            _ => n.as_f64().unwrap_or_default().into_bound_py_any(py)?,
        },
        serde_json::Value::String(s) => s.into_bound_py_any(py)?,
        serde_json::Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        serde_json::Value::Object(map) => {
            let d = PyDict::new(py);
            for (k, v) in map {
                d.set_item(k, to_python(py, v)?)?;
            }
            d.into_any()
        }
    })
}

/// A view's serde form as a dict.
pub(crate) fn view_dict<'py, T: serde::Serialize>(
    py: Python<'py>,
    v: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(v)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    to_python(py, value)
}

/// A view as JSON text.
fn view_json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// What `__reduce__` returns: the function that reads the value back, and
/// its arguments.
pub(crate) type Reduced<'py, A> = PyResult<(Bound<'py, PyAny>, A)>;

/// A value's pickled form: CBOR, a format that is not human-readable, so
/// times and bytes keep their exact values (JSON has them to the second, as
/// text).
fn pickled<T: serde::Serialize>(v: &T) -> PyResult<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(out)
}

/// A value read back from [`pickled`].
fn unpickled<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> PyResult<T> {
    ciborium::from_reader(bytes)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("not a pickled result: {e}")))
}

/// A result pickled by `__reduce__`: class `kind`, value `state`.
#[pyfunction]
#[pyo3(name = "_restore")]
pub(crate) fn restore(py: Python<'_>, kind: &str, state: &[u8]) -> PyResult<Py<PyAny>> {
    macro_rules! restore {
        ($($py:ident),* $(,)?) => {
            match kind {
                $(stringify!($py) => Ok(Bound::new(py, $py(unpickled(state)?))?.into_any().unbind()),)*
                _ => Err(pyo3::exceptions::PyValueError::new_err(format!("no result class {kind:?}"))),
            }
        };
    }
    restore!(
        Report,
        Revision,
        RevisionImage,
        RolledBack,
        Deployed,
        Placement,
        DeployPreview,
        FieldChange,
        PlannedComponent,
        PlannedItem,
        ExecResult,
        ChangedComponent,
        PortAssignment,
        ComponentStatus,
        ComponentUsage,
        SnapshotInfo,
        BuiltImage,
        Login,
        Certificate,
        ServiceStatus,
        StatusReport,
        Event,
        NodeInfo,
        SyncItem,
        LogLine,
        ProxyRoute,
        EdgeRoute,
        MigrateStep,
        DnsRecord,
    )
}

/// A stable hash of JSON text.
fn json_hash(json: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    json.hash(&mut h);
    h.finish()
}

macro_rules! view {
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

            /// The value as plain data: what `mcp --json` prints for it.
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                view_dict(py, &self.0)
            }

            /// The value as JSON text: exactly what `mcp --json` prints for it.
            fn to_json(&self) -> PyResult<String> {
                view_json(&self.0)
            }

            /// Equal values hash alike (a hash of their JSON).
            fn __hash__(&self) -> PyResult<u64> {
                view_json(&self.0).map(|j| json_hash(&j))
            }

            /// Pickles as the value itself, exactly (`pickle`, `copy`,
            /// `multiprocessing`).
            fn __reduce__<'py>(
                &self,
                py: Python<'py>,
            ) -> Reduced<'py, (&'static str, Vec<u8>)> {
                let restore = py.import("metacircular_mcp._native")?.getattr("_restore")?;
                Ok((restore, (stringify!($py), pickled(&self.0)?)))
            }

            fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
                let mut parts: Vec<String> = Vec::new();
                $( parts.push(format!("{}={}", stringify!($field), slf.getattr(stringify!($field))?.repr()?)); )*
                Ok(format!("{}({})", stringify!($py), parts.join(", ")))
            }
        }
    };
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
    /// A component as written (`[[components]]`), with the version it runs
    /// (`ServiceDefinition::component_version`).
    Component((mcp_core::spec::Component, Option<String>)) {
        name: String = |c| c.0.name.clone();
        image: Option<String> = |c| c.0.image.clone();
        version: Option<String> = |c| c.1.clone();
        volumes: Vec<String> = |c| c.0.volumes.clone();
        cmd: Option<Vec<String>> = |c| c.0.cmd.clone();
        env: Vec<String> = |c| c.0.env.clone();
        network: Option<String> = |c| c.0.network.clone();
        user: Option<String> = |c| c.0.user.clone();
        restart: Option<String> = |c| c.0.restart.clone();
        ports: Vec<String> = |c| c.0.ports.clone();
        routes: Vec<Route> = |c| c.0.routes.iter().cloned().map(Route).collect();
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
        local: bool = |r| r.local;
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
        node: Option<String> = |s| s.node.clone();
        tier: String = |s| s.tier.as_str().to_owned();
        active: bool = |s| s.active;
        source_path: String = |s| s.source_path.clone();
        data_dir: String = |s| s.data_dir.display().to_string();
        definition_hash: String = |s| s.definition_hash.clone();
        components: Vec<ResolvedComponent> = |s| s.components.iter().cloned().map(ResolvedComponent).collect();
    }
);

view!(
    /// What an operation did: per container its change, per route its host port.
    Report(mcp_core::view::Report) {
        service: String = |r| r.service.clone();
        node: String = |r| r.node.clone();
        /// Whether the operation put the service on the node (a first deploy).
        created: bool = |r| r.created;
        components: Vec<ChangedComponent> = |r| r.components.iter().cloned().map(ChangedComponent).collect();
        ports: Vec<PortAssignment> = |r| r.ports.iter().cloned().map(PortAssignment).collect();
        warnings: Vec<String> = |r| r.warnings.clone();
        /// The revision a deploy or rollback recorded (`None`: it changed nothing).
        revision: Option<u32> = |r| r.revision;
    }
);

view!(
    /// A deploy: the node's report, and the edge routes now serving the
    /// service's public hostnames.
    Deployed(mcp_core::fleet::public::Deployed) {
        service: String = |d| d.report.service.clone();
        node: String = |d| d.report.node.clone();
        /// Whether the service was new on the node.
        created: bool = |d| d.report.created;
        components: Vec<ChangedComponent> = |d| d.report.components.iter().cloned().map(ChangedComponent).collect();
        ports: Vec<PortAssignment> = |d| d.report.ports.iter().cloned().map(PortAssignment).collect();
        warnings: Vec<String> = |d| d.report.warnings.clone();
        /// The revision it recorded (`None`: it changed nothing).
        revision: Option<u32> = |d| d.report.revision;
        /// The edge routes serving its public hostnames (empty when it has none).
        edges: Vec<EdgeRoute> = |d| d.edges.iter().cloned().map(EdgeRoute).collect();
        /// Public hostnames nothing routes (the fleet has no edge node).
        unrouted: Vec<String> = |d| d.unrouted.clone();
        /// Where it was placed, when its definition named no node.
        placement: Option<Placement> = |d| d.placement.clone().map(Placement);
    }
);

view!(
    /// The compute node chosen for a `worker` service naming no node, and the
    /// capacity it was chosen by.
    Placement(mcp_core::view::Placement) {
        service: String = |p| p.service.clone();
        node: String = |p| p.node.clone();
        memory_available_bytes: u64 = |p| p.memory_available_bytes;
        cpus: u32 = |p| p.cpus;
        load_average: f64 = |p| p.load_average;
        containers: u32 = |p| p.containers;
        /// Whether the choice was written into the definition's file.
        written: bool = |p| p.written;
    }
);

view!(
    /// A rollback: the deploy of the revision brought back, and the definition
    /// file edited to say it.
    RolledBack(mcp_core::fleet::releases::RolledBack) {
        service: String = |r| r.deployed.report.service.clone();
        node: String = |r| r.deployed.report.node.clone();
        created: bool = |r| r.deployed.report.created;
        components: Vec<ChangedComponent> = |r| r.deployed.report.components.iter().cloned().map(ChangedComponent).collect();
        ports: Vec<PortAssignment> = |r| r.deployed.report.ports.iter().cloned().map(PortAssignment).collect();
        warnings: Vec<String> = |r| r.deployed.report.warnings.clone();
        /// The rollback's own revision.
        revision: Option<u32> = |r| r.deployed.report.revision;
        /// The revision brought back.
        to: Revision = |r| Revision(r.to.clone());
        edges: Vec<EdgeRoute> = |r| r.deployed.edges.iter().cloned().map(EdgeRoute).collect();
        unrouted: Vec<String> = |r| r.deployed.unrouted.clone();
        /// `None`: a rollback's definition names its node.
        placement: Option<Placement> = |r| r.deployed.placement.clone().map(Placement);
        /// The definition file edited to say it (`None`: left as it was).
        definition_file: Option<String> = |r| r.definition_file.as_ref().map(|p| p.display().to_string());
        /// Whether the file kept its comments and layout.
        layout_kept: bool = |r| r.layout_kept;
    }
);

view!(
    /// One revision of a service on its node.
    Revision(mcp_core::view::Revision) {
        service: String = |r| r.service.clone();
        node: String = |r| r.node.clone();
        number: u32 = |r| r.number;
        at: Time = |r| Time(r.at);
        actor: String = |r| r.actor.clone();
        version: String = |r| r.version.clone();
        /// The canonical definition.
        definition: String = |r| r.definition.clone();
        definition_hash: String = |r| r.definition_hash.clone();
        images: Vec<RevisionImage> = |r| r.images.iter().cloned().map(RevisionImage).collect();
        /// `deployed`, `failed` or `rolled-back`.
        result: String = |r| r.result.to_string();
        /// The step a failed revision failed at.
        step: Option<String> = |r| r.step.map(|s| s.to_string());
        error: Option<String> = |r| r.error.clone();
        /// The revision a rollback brought back.
        rollback_of: Option<u32> = |r| r.rollback_of;
        /// Whether it is what runs.
        current: bool = |r| r.current;
        /// What it changed from the revision before it, in one line.
        change: String = |r| r.change.clone();
    }
);

view!(
    /// What a deploy would do on the definition's node (`Client.diff`).
    DeployPreview(mcp_core::view::DeployPreview) {
        service: String = |p| p.service.clone();
        node: String = |p| p.node.clone();
        /// Not deployed there yet.
        created: bool = |p| p.created;
        /// Whether a deploy would change anything.
        changed: bool = |p| p.changed();
        /// The definition's fields that differ from the deployed one.
        definition: Vec<FieldChange> = |p| p.definition.changes.iter().cloned().map(FieldChange).collect();
        components: Vec<PlannedComponent> = |p| p.components.iter().cloned().map(PlannedComponent).collect();
        ports: Vec<PlannedItem> = |p| p.ports.iter().cloned().map(PlannedItem).collect();
        routes: Vec<PlannedItem> = |p| p.routes.iter().cloned().map(PlannedItem).collect();
        certificates: Vec<PlannedItem> = |p| p.certificates.iter().cloned().map(PlannedItem).collect();
        dns: Vec<PlannedItem> = |p| p.dns.iter().cloned().map(PlannedItem).collect();
        warnings: Vec<String> = |p| p.warnings.clone();
        /// What the deploy would do, in one line.
        effects: String = |p| p.effects();
    }
);

view!(
    /// One field of a definition that differs.
    FieldChange(mcp_core::spec::FieldChange) {
        field: String = |c| c.field.clone();
        old: Option<String> = |c| c.old.clone();
        /// The value after (a getter named as the wire and JSON name it).
        #[allow(clippy::wrong_self_convention, clippy::new_ret_no_self)]
        new: Option<String> = |c| c.new.clone();
        /// An environment value (masked unless asked for).
        secret: bool = |c| c.secret;
    }
);

view!(
    /// One container in a deploy preview.
    PlannedComponent(mcp_core::view::PlannedComponent) {
        container: String = |c| c.container.clone();
        component: String = |c| c.component.clone();
        /// As the deploy's report will say it.
        change: String = |c| c.change.to_string();
        reason: String = |c| c.reason.clone();
        /// Replaced beside the running container, without downtime.
        beside: bool = |c| c.beside;
        /// Its image would be pulled.
        pull: bool = |c| c.pull;
    }
);

view!(
    /// One port lease, route, certificate or DNS record in a deploy preview.
    PlannedItem(mcp_core::view::PlannedItem) {
        name: String = |i| i.name.clone();
        /// `add`, `remove`, `change` or `keep`.
        change: String = |i| i.change.to_string();
        old: Option<String> = |i| i.old.clone();
        /// The value after (a getter named as the wire and JSON name it).
        #[allow(clippy::wrong_self_convention, clippy::new_ret_no_self)]
        new: Option<String> = |i| i.new.clone();
    }
);

view!(
    /// A command run in a container to its end (`Client.exec`).
    ExecResult(mcp_core::view::ExecResult) {
        exit_code: i32 = |r| r.exit_code;
        stdout: std::borrow::Cow<'static, [u8]> = |r| std::borrow::Cow::Owned(r.stdout.clone());
        stderr: std::borrow::Cow<'static, [u8]> = |r| std::borrow::Cow::Owned(r.stderr.clone());
    }
);

view!(
    /// One image a revision ran.
    RevisionImage(mcp_core::view::RevisionImage) {
        component: String = |i| i.component.clone();
        image: String = |i| i.image.clone();
        /// The digest Podman ran.
        digest: Option<String> = |i| i.digest.clone();
    }
);

view!(
    /// One container's change in a report.
    ChangedComponent(mcp_core::view::ChangedComponent) {
        container: String = |c| c.container.clone();
        change: String = |c| c.change.to_string();
    }
);

view!(
    /// The host port of one route.
    PortAssignment(mcp_core::view::PortAssignment) {
        component: String = |p| p.component.clone();
        /// `None`: the component's unnamed route.
        route: Option<String> = |p| p.route.clone();
        port: u16 = |p| p.port;
    }
);

view!(
    /// One component's status.
    ComponentStatus(mcp_core::view::ComponentStatus) {
        name: String = |c| c.name.clone();
        container: String = |c| c.container.clone();
        desired: String = |c| c.desired.to_string();
        state: String = |c| c.state.to_string();
        image: String = |c| c.image.clone();
        version: String = |c| c.version.clone();
        ports: Vec<PortAssignment> = |c| c.ports.iter().cloned().map(PortAssignment).collect();
        restart_count: u32 = |c| c.restart_count;
        started_at: Option<Time> = |c| c.started_at.map(Time);
        flapping_since: Option<Time> = |c| c.flapping_since.map(Time);
    }
);

view!(
    /// What one component uses now (`mcp top`); the usage attributes are
    /// `None` when the runtime reports none for it.
    ComponentUsage(mcp_core::view::ComponentUsage) {
        service: String = |u| u.service.clone();
        component: String = |u| u.component.clone();
        node: String = |u| u.node.clone();
        container: String = |u| u.container.clone();
        state: String = |u| u.state.to_string();
        cpu_percent: Option<f64> = |u| u.cpu_percent;
        cpu_seconds: Option<f64> = |u| u.cpu_seconds;
        memory_bytes: Option<u64> = |u| u.memory_bytes;
        memory_limit_bytes: Option<u64> = |u| u.memory_limit_bytes;
        pids: Option<u64> = |u| u.pids;
        restart_count: u32 = |u| u.restart_count;
        started_at: Option<Time> = |u| u.started_at.map(Time);
        sampled_at: Time = |u| Time(u.sampled_at);
    }
);

view!(
    /// A snapshot of a service's data kept on its node.
    SnapshotInfo(mcp_core::view::SnapshotInfo) {
        service: String = |s| s.service.clone();
        node: String = |s| s.node.clone();
        name: String = |s| s.name.clone();
        size_bytes: u64 = |s| s.size_bytes;
        sha256: String = |s| s.sha256.clone();
        created_at: Time = |s| Time(s.created_at);
    }
);

view!(
    /// An image `build` built and pushed, as its registry holds it.
    BuiltImage(mcp_core::fleet::builder::BuiltImage) {
        key: String = |b| b.item.key.clone();
        dockerfile: String = |b| b.item.dockerfile.display().to_string();
        context: String = |b| b.item.context.display().to_string();
        image: String = |b| b.item.image.clone();
        version: String = |b| b.item.version.clone();
        digest: String = |b| b.summary.digest.clone();
        bytes: u64 = |b| b.summary.bytes;
        status: String = |b| b.status.to_owned();
    }
);

view!(
    /// A login that succeeded: who, and where the token was stored.
    Login(mcp_core::fleet::login::Login) {
        username: String = |l| l.username.clone();
        token_path: String = |l| l.token_path.display().to_string();
        expires_at: Option<String> = |l| l.expires_at.clone();
    }
);

view!(
    /// A certificate a node provisioned.
    Certificate(mcp_core::view::CertificateRecord) {
        hostname: String = |c| c.hostname.clone();
        service: Option<String> = |c| c.service.clone();
        cert_path: String = |c| c.cert_path.clone();
        key_path: String = |c| c.key_path.clone();
        serial: String = |c| c.serial.clone();
        not_after: Time = |c| Time(c.not_after);
        issuer: String = |c| c.issuer.clone();
    }
);

view!(
    /// One service's status.
    ServiceStatus(mcp_core::view::ServiceStatus) {
        service: String = |s| s.service.clone();
        node: String = |s| s.node.clone();
        active: bool = |s| s.active;
        components: Vec<ComponentStatus> = |s| s.components.iter().cloned().map(ComponentStatus).collect();
        /// Its proxy routes (one service's status only).
        routes: Vec<ProxyRoute> = |s| s.routes.iter().cloned().map(ProxyRoute).collect();
        /// Its certificates (one service's status only).
        certificates: Vec<Certificate> = |s| s.certificates.iter().cloned().map(Certificate).collect();
        /// Integration steps its node skips, and why.
        skipped: Vec<String> = |s| s.skipped.clone();
    }
);

view!(
    /// One service's status in detail, with its newest events.
    StatusReport(mcp_core::view::StatusReport) {
        service: String = |r| r.status.service.clone();
        node: String = |r| r.status.node.clone();
        active: bool = |r| r.status.active;
        components: Vec<ComponentStatus> = |r| r.status.components.iter().cloned().map(ComponentStatus).collect();
        routes: Vec<ProxyRoute> = |r| r.status.routes.iter().cloned().map(ProxyRoute).collect();
        certificates: Vec<Certificate> = |r| r.status.certificates.iter().cloned().map(Certificate).collect();
        skipped: Vec<String> = |r| r.status.skipped.clone();
        /// Its newest events, oldest first.
        recent_events: Vec<Event> = |r| r.events.iter().cloned().map(Event).collect();
    }
);

view!(
    /// An event from a node's log.
    Event(mcp_core::view::Event) {
        id: i64 = |e| e.id;
        node: String = |e| e.node.clone();
        at: Time = |e| Time(e.at);
        actor: String = |e| e.actor.clone();
        action: String = |e| e.action.clone();
        service: Option<String> = |e| e.service.clone();
        detail: String = |e| e.detail.clone();
        error: Option<String> = |e| e.error.clone();
    }
);

view!(
    /// A node's identity and capacity.
    NodeInfo(mcp_core::view::NodeInfo) {
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
        load_average: f64 = |n| n.load_average;
        disk_free_bytes: u64 = |n| n.disk_free_bytes;
        ports_leased: u32 = |n| n.ports_leased;
        ports_total: u32 = |n| n.ports_total;
        role: String = |n| n.role.to_string();
        build: String = |n| n.build.clone();
    }
);

view!(
    /// One line of a sync plan.
    SyncItem(mcp_core::view::SyncItem) {
        service: String = |i| i.service.clone();
        action: String = |i| i.action.to_string();
        reason: String = |i| i.reason.clone();
        error: Option<String> = |i| i.error.clone();
    }
);

view!(
    /// One line of a container's output.
    LogLine(mcp_core::view::LogLine) {
        container: String = |l| l.container.clone();
        time: Option<Time> = |l| l.time.map(Time);
        line: String = |l| l.line.clone();
    }
);

view!(
    /// An mc-proxy route.
    ProxyRoute(mcp_core::view::ProxyRouteRecord) {
        listener: String = |r| r.listener.clone();
        hostname: String = |r| r.hostname.clone();
        backend: String = |r| r.backend.clone();
        mode: String = |r| r.mode.to_string();
        tls_cert: Option<String> = |r| r.tls_cert.clone();
        tls_key: Option<String> = |r| r.tls_key.clone();
        backend_tls: bool = |r| r.backend_tls;
        proxy_protocol: bool = |r| r.proxy_protocol;
        service: Option<String> = |r| r.service.clone();
    }
);

view!(
    /// An edge route: a public hostname an edge node routes to a service on a
    /// compute node.
    EdgeRoute(mcp_core::view::EdgeRouteStatus) {
        /// The edge node.
        edge: String = |r| r.edge.clone();
        hostname: String = |r| r.route.hostname.clone();
        service: String = |r| r.route.service.clone();
        /// The compute node.
        node: String = |r| r.route.node.clone();
        backend_hostname: String = |r| r.route.backend_hostname.clone();
        backend: String = |r| r.route.backend.clone();
        listener: String = |r| r.route.listener.clone();
        updated_at: Time = |r| Time(r.route.updated_at);
        cert_serial: Option<String> = |r| r.cert_serial.clone();
        cert_expires: Option<Time> = |r| r.cert_not_after.map(Time);
        /// `None` when not probed.
        backend_reachable: Option<bool> = |r| r.backend_reachable;
        backend_error: Option<String> = |r| r.backend_error.clone();
    }
);

view!(
    /// One completed step of a migration.
    MigrateStep(mcp_core::fleet::migrate::MigrateStep) {
        step: String = |s| s.step.to_owned();
        detail: String = |s| s.detail.clone();
    }
);

view!(
    /// A DNS record a node registered.
    DnsRecord(mcp_core::view::DnsRecord) {
        zone: String = |d| d.zone.clone();
        name: String = |d| d.name.clone();
        rtype: String = |d| d.rtype.clone();
        value: String = |d| d.value.clone();
        ttl: u32 = |d| d.ttl;
        service: Option<String> = |d| d.service.clone();
    }
);

record!(
    /// A host port leased to a route (offline planning).
    PortLease(mcp_core::ports::PortLease) {
        port: u16 = |l| l.port;
        service: String = |l| l.service.clone();
        component: String = |l| l.component.clone();
        route: Option<String> = |l| l.route.clone();
    }
);

record!(
    /// One planned reconcile action.
    Action(mcp_core::plan::Action) {
        kind: String = |a| word(&a.kind);
        container: String = |a| a.container.clone();
        service: Option<String> = |a| a.service.clone();
        component: Option<String> = |a| a.component.clone();
        reason: String = |a| a.reason.to_string();
    }
);
