//! `Client`: every operator operation, blocking, over `mcp_core::fleet` and the
//! shared `AgentClient`. Each call releases the GIL while it waits.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use mcp_core::fleet::Fleet;
use mcp_core::fleet::client::ApiStream;
use mcp_core::fleet::exec::ExecCommand;
use mcp_core::fleet::results::NodeResults;
use mcp_core::view::{LogQuery, Since};
use pyo3::prelude::*;
use tokio_stream::StreamExt;

use crate::errors::{IntoPy, to_py};
use crate::records::{
    ComponentUsage, DeployPreview, Deployed, DnsRecord, EdgeRoute, Event, ExecResult, LogLine,
    MigrateStep, NodeInfo, ProxyRoute, Report, Revision, RolledBack, ServiceStatus, StatusReport,
    SyncItem,
};

type Runtime = Arc<tokio::runtime::Runtime>;

fn runtime(py: Python<'_>) -> PyResult<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| {
            let e = mcp_core::platform::mcias::AuthError::Setup(e.to_string());
            to_py(py, &e.into())
        })
}

/// The fleet, as the CLI configuration describes it.
#[pyclass(module = "metacircular_mcp", frozen)]
pub struct Client {
    fleet: Fleet,
    rt: Runtime,
}

/// The items of a fleet-wide query: every node's answer as one list. A node that
/// failed is logged (logger `metacircular_mcp`, level WARNING), as the CLI prints
/// it beside the answers; when no node answered, the first failure is raised.
fn gather<T>(py: Python<'_>, results: NodeResults<Vec<T>>) -> PyResult<Vec<T>> {
    let all = results.require_any().py_err(py)?.gather();
    if !all.failures.is_empty() {
        let logger = py
            .import("logging")
            .and_then(|l| l.call_method1("getLogger", ("metacircular_mcp",)));
        for f in &all.failures {
            if let Ok(logger) = &logger {
                let _ = logger.call_method1("warning", ("%s", f.to_string()));
            }
        }
    }
    Ok(all.items)
}

#[pymethods]
impl Client {
    /// The client of the CLI configuration at `path` (default `$MCP_CONFIG`, else
    /// `~/.config/mcp/mcp.toml`); the token is read from its `[auth] token_path`.
    #[staticmethod]
    #[pyo3(signature = (path=None))]
    fn from_config(py: Python<'_>, path: Option<PathBuf>) -> PyResult<Self> {
        let fleet = Fleet::load(path.as_deref()).py_err(py)?;
        Ok(Client {
            fleet,
            rt: runtime(py)?,
        })
    }

    /// A client of one node, given explicitly: its name, `host:port` addresses (tried
    /// in order), the CA of its certificate (a PEM file) and a bearer token.
    #[staticmethod]
    #[pyo3(signature = (node, addresses, ca_cert, token, server_name=None))]
    fn connect(
        py: Python<'_>,
        node: String,
        addresses: Vec<String>,
        ca_cert: PathBuf,
        token: String,
        server_name: Option<String>,
    ) -> PyResult<Self> {
        let ca_pem = std::fs::read(&ca_cert)
            .map_err(|e| mcp_core::config::ConfigError::File {
                what: "agent CA",
                path: ca_cert.clone(),
                message: e.to_string(),
            })
            .py_err(py)?;
        let endpoint = mcp_core::fleet::client::AgentEndpoint {
            node,
            addresses,
            ca_pem,
            server_name,
            token,
            connect_timeout: std::time::Duration::from_secs(5),
        };
        Ok(Client {
            fleet: Fleet::direct(endpoint),
            rt: runtime(py)?,
        })
    }

    /// The configured node names.
    #[getter]
    fn node_names(&self) -> Vec<String> {
        self.fleet
            .config()
            .nodes
            .iter()
            .map(|n| n.name.clone())
            .collect()
    }

    /// Each reachable node's identity and capacity (unreachable ones are left out;
    /// raises `ConnectionError` when none answers).
    fn nodes(&self, py: Python<'_>) -> PyResult<Vec<NodeInfo>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let results = py.detach(|| {
            let nodes = fleet.nodes(None)?;
            Ok::<_, mcp_core::fleet::Error>(rt.block_on(fleet.ask(&nodes, |_, mut c| async move {
                Ok(vec![c.node_status().await?])
            })))
        });
        gather(py, results.py_err(py)?).map(|v| v.into_iter().map(NodeInfo).collect())
    }

    /// Deploys the service (a name in the services directory, or a file).
    fn deploy(&self, py: Python<'_>, service: &str) -> PyResult<Deployed> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let (path, def, warnings) = fleet.definition_with_warnings(service).py_err(py)?;
        crate::spec::deprecations(py, &warnings)?;
        py.detach(|| rt.block_on(fleet.deploy_file(&path, def)))
            .py_err(py)
            .map(Deployed)
    }

    /// What deploying the service (a name in the services directory, or a
    /// file) would do, changing nothing; environment values masked unless
    /// `show_env`.
    #[pyo3(signature = (service, show_env=false))]
    fn diff(&self, py: Python<'_>, service: &str, show_env: bool) -> PyResult<DeployPreview> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let (_, def, warnings) = fleet.definition_with_warnings(service).py_err(py)?;
        crate::spec::deprecations(py, &warnings)?;
        py.detach(|| rt.block_on(fleet.plan_deploy(&def, show_env)))
            .py_err(py)
            .map(DeployPreview)
    }

    /// Runs `command` in the service's running container (its only component,
    /// or `component`) without a terminal, `stdin` as its input, to its end or
    /// for at most `timeout` seconds.
    #[pyo3(signature = (service, command, component=None, node=None, stdin=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn exec(
        &self,
        py: Python<'_>,
        service: &str,
        command: Vec<String>,
        component: Option<String>,
        node: Option<String>,
        stdin: Option<Vec<u8>>,
        timeout: Option<f64>,
    ) -> PyResult<ExecResult> {
        let timeout = timeout
            .map(|t| {
                std::time::Duration::try_from_secs_f64(t)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        pyo3::exceptions::PyValueError::new_err(
                            "timeout must be a positive number of seconds",
                        )
                    })
            })
            .transpose()?;
        let cmd = ExecCommand {
            service: service.to_owned(),
            node,
            component,
            command,
            tty: None,
            term: None,
        };
        let (fleet, rt) = (&self.fleet, &self.rt);
        py.detach(|| rt.block_on(fleet.exec_output(&cmd, stdin.unwrap_or_default(), timeout)))
            .py_err(py)
            .map(ExecResult)
    }

    /// Adopts running containers as the definition describes.
    fn adopt(&self, py: Python<'_>, service: &str) -> PyResult<Report> {
        self.with_definition(py, service, |mut c, text| async move {
            Ok(c.adopt(&text).await?)
        })
        .map(Report)
    }

    /// Stops a service.
    #[pyo3(signature = (service, node=None))]
    fn stop(&self, py: Python<'_>, service: &str, node: Option<&str>) -> PyResult<Report> {
        let s = service.to_owned();
        self.on_service(
            py,
            service,
            node,
            |mut c| async move { Ok(c.stop(&s).await?) },
        )
        .map(Report)
    }

    /// Starts a service.
    #[pyo3(signature = (service, node=None))]
    fn start(&self, py: Python<'_>, service: &str, node: Option<&str>) -> PyResult<Report> {
        let s = service.to_owned();
        self.on_service(
            py,
            service,
            node,
            |mut c| async move { Ok(c.start(&s).await?) },
        )
        .map(Report)
    }

    /// Restarts a service.
    #[pyo3(signature = (service, node=None))]
    fn restart(&self, py: Python<'_>, service: &str, node: Option<&str>) -> PyResult<Report> {
        let s = service.to_owned();
        self.on_service(py, service, node, |mut c| async move {
            Ok(c.restart(&s).await?)
        })
        .map(Report)
    }

    /// Undeploys a service (its data stays).
    #[pyo3(signature = (service, node=None))]
    fn undeploy(&self, py: Python<'_>, service: &str, node: Option<&str>) -> PyResult<Report> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let node = fleet.node_for(service, node).py_err(py)?;
        let mut undeployed = py
            .detach(|| rt.block_on(fleet.undeploy(service, &node)))
            .py_err(py)?;
        // An edge node that kept the service's routes is an error too: running
        // the undeploy again removes them.
        if !undeployed.edge_failures.is_empty() {
            return Err(undeployed.edge_failures.remove(0).error).py_err(py);
        }
        Ok(Report(undeployed.report))
    }

    /// The service's revisions on its node, oldest first.
    #[pyo3(signature = (service, node=None))]
    fn history(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
    ) -> PyResult<Vec<Revision>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let list = py
            .detach(|| rt.block_on(fleet.history(service, node)))
            .py_err(py)?;
        Ok(list.into_iter().map(Revision).collect())
    }

    /// Deploys revision `to` again (by default the newest that deployed before
    /// the one that runs), by digest, and edits the definition file to say it
    /// unless `keep_definition`.
    #[pyo3(signature = (service, to=None, node=None, keep_definition=false))]
    fn rollback(
        &self,
        py: Python<'_>,
        service: &str,
        to: Option<u32>,
        node: Option<&str>,
        keep_definition: bool,
    ) -> PyResult<RolledBack> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        py.detach(|| rt.block_on(fleet.rollback(service, node, to, keep_definition)))
            .py_err(py)
            .map(RolledBack)
    }

    /// Restores snapshot `snapshot` of the service (the newest when `None`) into
    /// its data directory, the service stopped around it; `force` replaces the
    /// data it holds.
    #[pyo3(signature = (service, snapshot=None, force=false, node=None))]
    fn restore_snapshot(
        &self,
        py: Python<'_>,
        service: &str,
        snapshot: Option<&str>,
        force: bool,
        node: Option<&str>,
    ) -> PyResult<Report> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        py.detach(|| rt.block_on(fleet.restore_snapshot(service, node, snapshot, force)))
            .py_err(py)
            .map(Report)
    }

    /// Recreates lost containers on `node` (or every node).
    #[pyo3(signature = (node=None))]
    fn recover(&self, py: Python<'_>, node: Option<&str>) -> PyResult<Vec<Report>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let results = py.detach(|| rt.block_on(fleet.recover(node))).py_err(py)?;
        gather(py, results).map(|v| v.into_iter().map(Report).collect())
    }

    /// Every service on `node` (or every node).
    #[pyo3(signature = (node=None))]
    fn ps(&self, py: Python<'_>, node: Option<&str>) -> PyResult<Vec<ServiceStatus>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let results = py.detach(|| rt.block_on(fleet.services(node))).py_err(py)?;
        gather(py, results).map(|v| v.into_iter().map(ServiceStatus).collect())
    }

    /// What each component of `service` (or of every service) uses now, on
    /// `node` (or the service's node, or every node), the nodes asked at once.
    #[pyo3(signature = (service=None, node=None))]
    fn top(
        &self,
        py: Python<'_>,
        service: Option<&str>,
        node: Option<&str>,
    ) -> PyResult<Vec<ComponentUsage>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let results = py
            .detach(|| rt.block_on(fleet.top(service, node)))
            .py_err(py)?;
        gather(py, results).map(|v| v.into_iter().map(ComponentUsage).collect())
    }

    /// One service's status.
    #[pyo3(signature = (service, node=None))]
    fn status(&self, py: Python<'_>, service: &str, node: Option<&str>) -> PyResult<StatusReport> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        py.detach(|| rt.block_on(fleet.status(service, node)))
            .py_err(py)
            .map(StatusReport)
    }

    /// A service's output: an iterator of `LogLine`. `since` is a duration or time as
    /// the CLI takes it (`"10m"`, `"2026-12-02T07:00:00Z"`), a `datetime.timedelta`
    /// or a `datetime.datetime`. With `follow`, it waits for new lines, across
    /// restarts and redeploys, until closed.
    #[pyo3(signature = (service, lines=None, follow=false, component=None, node=None, since=None))]
    #[allow(clippy::too_many_arguments)]
    fn logs(
        &self,
        py: Python<'_>,
        service: &str,
        lines: Option<u32>,
        follow: bool,
        component: Option<String>,
        node: Option<&str>,
        since: Option<Bound<'_, PyAny>>,
    ) -> PyResult<LogIterator> {
        let query = LogQuery {
            component,
            tail: lines,
            since: since.as_ref().map(since_of).transpose()?,
            follow,
        };
        let s = service.to_owned();
        let stream = self.on_service(py, service, node, |mut c| async move {
            Ok(c.logs(&s, &query).await?)
        })?;
        Ok(LogIterator {
            stream: Mutex::new(stream),
            rt: self.rt.clone(),
        })
    }

    /// Events of `node` (every node without `follow`): an iterator of `Event`, the
    /// newest `limit` first in time order; with `follow` (one node), new events as
    /// they come.
    #[pyo3(signature = (service=None, node=None, limit=50, follow=false))]
    fn events(
        &self,
        py: Python<'_>,
        service: Option<String>,
        node: Option<&str>,
        limit: u32,
        follow: bool,
    ) -> PyResult<EventIterator> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let nodes = fleet.nodes(node).py_err(py)?;
        let streams = py
            .detach(|| {
                rt.block_on(async {
                    let mut streams = Vec::new();
                    for n in &nodes {
                        let mut c = fleet.client(n).await?;
                        streams.push(c.events(service.as_deref(), 0, limit, follow).await?);
                    }
                    Ok::<_, mcp_core::fleet::Error>(streams)
                })
            })
            .py_err(py)?;
        Ok(EventIterator {
            streams: Mutex::new(streams.into()),
            rt: self.rt.clone(),
        })
    }

    /// The proxy routes of `node`.
    fn routes(&self, py: Python<'_>, node: &str) -> PyResult<Vec<ProxyRoute>> {
        self.on_node(py, node, |mut c| async move { Ok(c.proxy_routes().await?) })
            .map(|t| t.routes.into_iter().map(ProxyRoute).collect())
    }

    /// The DNS records `node` registered.
    fn dns_records(&self, py: Python<'_>, node: &str) -> PyResult<Vec<DnsRecord>> {
        self.on_node(py, node, |mut c| async move { Ok(c.dns_records().await?) })
            .map(|v| v.into_iter().map(DnsRecord).collect())
    }

    /// The edge routes of every edge node (or of `node`); with `probe`, whether
    /// each backend accepts connections now.
    #[pyo3(signature = (node=None, probe=false))]
    fn edge_routes(
        &self,
        py: Python<'_>,
        node: Option<&str>,
        probe: bool,
    ) -> PyResult<Vec<EdgeRoute>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let results = py
            .detach(|| rt.block_on(fleet.edge_routes(node, probe)))
            .py_err(py)?;
        gather(py, results).map(|v| v.into_iter().map(EdgeRoute).collect())
    }

    /// Moves `service` to node `to` with its data (`force`: replace data the
    /// target has); the steps done. A failure raises, with the service running
    /// on its source again.
    #[pyo3(signature = (service, to, force=false))]
    fn migrate(
        &self,
        py: Python<'_>,
        service: &str,
        to: &str,
        force: bool,
    ) -> PyResult<Vec<MigrateStep>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        py.detach(|| rt.block_on(fleet.migrate(service, to, force, &mut |_| {})))
            .py_err(py)
            .map(|moved| moved.steps.into_iter().map(MigrateStep).collect())
    }

    /// Sends every definition to its node: the plan, applied unless `dry_run`.
    #[pyo3(signature = (dry_run=true, prune=false))]
    fn sync(&self, py: Python<'_>, dry_run: bool, prune: bool) -> PyResult<Vec<SyncItem>> {
        let (fleet, rt) = (&self.fleet, &self.rt);
        let results = py
            .detach(|| rt.block_on(fleet.sync(dry_run, prune)))
            .py_err(py)?;
        gather(py, results).map(|v| v.into_iter().map(SyncItem).collect())
    }

    fn __repr__(&self) -> String {
        format!(
            "Client(config={:?}, nodes={:?})",
            self.fleet.path().display().to_string(),
            self.node_names()
        )
    }
}

impl Client {
    fn on_node<T: Send, F, Fut>(&self, py: Python<'_>, node: &str, f: F) -> PyResult<T>
    where
        F: FnOnce(mcp_core::fleet::client::AgentClient) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, mcp_core::fleet::Error>> + Send,
    {
        let (fleet, rt) = (&self.fleet, &self.rt);
        py.detach(|| {
            rt.block_on(async {
                let c = fleet.client(node).await?;
                f(c).await
            })
        })
        .py_err(py)
    }

    fn on_service<T: Send, F, Fut>(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        f: F,
    ) -> PyResult<T>
    where
        F: FnOnce(mcp_core::fleet::client::AgentClient) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, mcp_core::fleet::Error>> + Send,
    {
        let node = self.fleet.node_for(service, node).py_err(py)?;
        self.on_node(py, &node, f)
    }

    fn with_definition<T: Send, F, Fut>(&self, py: Python<'_>, service: &str, f: F) -> PyResult<T>
    where
        F: FnOnce(mcp_core::fleet::client::AgentClient, String) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, mcp_core::fleet::Error>> + Send,
    {
        let (_, def) = self.fleet.definition(service).py_err(py)?;
        let node = mcp_core::fleet::placement::placed_node(&def)
            .map_err(mcp_core::fleet::Error::from)
            .py_err(py)?;
        let text = def.to_toml();
        self.on_node(py, node, |c| f(c, text))
    }
}

/// Lines of a container's output, as they come.
#[pyclass(module = "metacircular_mcp")]
pub struct LogIterator {
    stream: Mutex<ApiStream<mcp_core::view::LogLine>>,
    rt: Runtime,
}

#[pymethods]
impl LogIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<LogLine>> {
        let (stream, rt) = (&self.stream, &self.rt);
        let next = py.detach(|| {
            let mut s = stream.lock().unwrap_or_else(|p| p.into_inner());
            rt.block_on(s.next())
        });
        match next {
            None => Ok(None),
            Some(r) => r.py_err(py).map(|l| Some(LogLine(l))),
        }
    }
}

/// Events, as they come (node after node).
#[pyclass(module = "metacircular_mcp")]
pub struct EventIterator {
    streams: Mutex<std::collections::VecDeque<ApiStream<mcp_core::view::Event>>>,
    rt: Runtime,
}

#[pymethods]
impl EventIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        let (streams, rt) = (&self.streams, &self.rt);
        let next = py.detach(|| {
            let mut streams = streams.lock().unwrap_or_else(|p| p.into_inner());
            while let Some(s) = streams.front_mut() {
                if let Some(item) = rt.block_on(s.next()) {
                    return Some(item);
                }
                streams.pop_front();
            }
            None
        });
        match next {
            None => Ok(None),
            Some(r) => r.py_err(py).map(|e| Some(Event(e))),
        }
    }
}

/// `since=` of `logs`: a string as the CLI takes it, a `timedelta` or a `datetime`.
fn since_of(v: &Bound<'_, PyAny>) -> PyResult<Since> {
    if let Ok(text) = v.extract::<String>() {
        return Since::parse(&text).map_err(pyo3::exceptions::PyValueError::new_err);
    }
    if v.hasattr("total_seconds")? {
        let secs: f64 = v.call_method0("total_seconds")?.extract()?;
        return std::time::Duration::try_from_secs_f64(secs)
            .map(Since::Ago)
            .map_err(|_| pyo3::exceptions::PyValueError::new_err("since: a negative timedelta"));
    }
    if v.hasattr("timestamp")? {
        let secs: f64 = v.call_method0("timestamp")?.extract()?;
        return std::time::Duration::try_from_secs_f64(secs)
            .map(|d| Since::At(std::time::UNIX_EPOCH + d))
            .map_err(|_| pyo3::exceptions::PyValueError::new_err("since: a time before 1970"));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(
        "since: a str, datetime.timedelta or datetime.datetime",
    ))
}
