//! `Client`: every operator operation, blocking, over `mcp_core::fleet` and the
//! shared `AgentClient`. Each call releases the GIL while it waits and wakes for
//! Python's signals, cancellation and its `timeout=` (`crate::wait`); the
//! streams it opens are `crate::streams`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mcp_core::fleet::Fleet;
use mcp_core::fleet::exec::ExecCommand;
use mcp_core::fleet::results::NodeResults;
use mcp_core::view::{LogQuery, Since};
use pyo3::prelude::*;

use crate::errors::{IntoPy, to_py};
use crate::records::{
    ComponentUsage, DeployPreview, Deployed, DnsRecord, EdgeRoute, ExecResult, MigrateStep,
    NodeInfo, ProxyRoute, Report, Revision, RolledBack, ServiceStatus, StatusReport, SyncItem,
};
use crate::streams::{EventIterator, LogIterator};
use crate::wait::{self, Deadline};

pub(crate) type Runtime = Arc<tokio::runtime::Runtime>;

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
    /// Seconds every call may take unless it says otherwise.
    timeout: Option<f64>,
    closed: AtomicBool,
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
    /// A missing file, or one that configures no node, raises `NotFound`.
    /// `timeout`: seconds each call may take unless it says otherwise.
    #[staticmethod]
    #[pyo3(signature = (path=None, timeout=None))]
    fn from_config(py: Python<'_>, path: Option<PathBuf>, timeout: Option<f64>) -> PyResult<Self> {
        Deadline::after(timeout)?;
        let fleet = Fleet::load(path.as_deref()).py_err(py)?;
        fleet.require_nodes().py_err(py)?;
        Client::new(py, fleet, timeout)
    }

    /// A client of one node, given explicitly: its name, `host:port` addresses (tried
    /// in order), the CA of its certificate (a PEM file) and a bearer token.
    #[staticmethod]
    #[pyo3(signature = (node, addresses, ca_cert, token, server_name=None, timeout=None))]
    fn connect(
        py: Python<'_>,
        node: String,
        addresses: Vec<String>,
        ca_cert: PathBuf,
        token: String,
        server_name: Option<String>,
        timeout: Option<f64>,
    ) -> PyResult<Self> {
        Deadline::after(timeout)?;
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
        Client::new(py, Fleet::direct(endpoint), timeout)
    }

    /// Ends the client: later calls raise `RuntimeError`. Iterators it opened
    /// keep their streams until they are closed.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        _kind: Option<Bound<'_, PyAny>>,
        _value: Option<Bound<'_, PyAny>>,
        _traceback: Option<Bound<'_, PyAny>>,
    ) -> bool {
        self.close();
        false
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
    #[pyo3(signature = (timeout=None))]
    fn nodes(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Vec<NodeInfo>> {
        let (fleet, deadline) = (&self.fleet, self.deadline(timeout)?);
        let nodes = fleet.nodes(None).py_err(py)?;
        let results = self.call(py, deadline, || async {
            Ok(fleet
                .ask(&nodes, |_, mut c| async move {
                    Ok(vec![c.node_status().await?])
                })
                .await)
        })?;
        gather(py, results).map(|v| v.into_iter().map(NodeInfo).collect())
    }

    /// Deploys the service: a name in the services directory, a file (`str`
    /// or `PathLike`), or a `ServiceDefinition` (sent as it is, edits
    /// included; a placement is written into its file when it has one).
    #[pyo3(signature = (service, timeout=None))]
    fn deploy(
        &self,
        py: Python<'_>,
        service: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Deployed> {
        let (fleet, deadline) = (&self.fleet, self.deadline(timeout)?);
        let (path, def) = self.definition_of(py, service)?;
        let name = def.name.clone();
        match path {
            Some(path) => self.call(py, deadline, || fleet.deploy_file(&path, def)),
            None => self.call(py, deadline, || async move { fleet.deploy(&def).await }),
        }
        .map_err(|e| crate::errors::about(py, e, None, Some(&name)))
        .map(Deployed)
    }

    /// What deploying the service (a name in the services directory, or a
    /// file) would do, changing nothing; environment values masked unless
    /// `show_env`.
    #[pyo3(signature = (service, show_env=false, timeout=None))]
    fn diff(
        &self,
        py: Python<'_>,
        service: &Bound<'_, PyAny>,
        show_env: bool,
        timeout: Option<f64>,
    ) -> PyResult<DeployPreview> {
        let (fleet, deadline) = (&self.fleet, self.deadline(timeout)?);
        let (_, def) = self.definition_of(py, service)?;
        self.call(py, deadline, || fleet.plan_deploy(&def, show_env))
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
        let deadline = self.deadline(None)?;
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
        let fleet = &self.fleet;
        let stdin = stdin.unwrap_or_default();
        self.call(py, deadline, || fleet.exec_output(&cmd, stdin, timeout))
            .map(ExecResult)
    }

    /// Adopts running containers as the definition describes.
    #[pyo3(signature = (service, timeout=None))]
    fn adopt(&self, py: Python<'_>, service: &str, timeout: Option<f64>) -> PyResult<Report> {
        let deadline = self.deadline(timeout)?;
        self.with_definition(py, deadline, service, |mut c, text| async move {
            Ok(c.adopt(&text).await?)
        })
        .map(Report)
    }

    /// Stops a service.
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn stop(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Report> {
        let s = service.to_owned();
        self.on_service(
            py,
            self.deadline(timeout)?,
            service,
            node,
            |mut c| async move { Ok(c.stop(&s).await?) },
        )
        .map(Report)
    }

    /// Starts a service.
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn start(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Report> {
        let s = service.to_owned();
        self.on_service(
            py,
            self.deadline(timeout)?,
            service,
            node,
            |mut c| async move { Ok(c.start(&s).await?) },
        )
        .map(Report)
    }

    /// Restarts a service.
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn restart(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Report> {
        let s = service.to_owned();
        self.on_service(
            py,
            self.deadline(timeout)?,
            service,
            node,
            |mut c| async move { Ok(c.restart(&s).await?) },
        )
        .map(Report)
    }

    /// Undeploys a service (its data stays).
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn undeploy(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Report> {
        let (fleet, deadline) = (&self.fleet, self.deadline(timeout)?);
        let node = fleet.node_for(service, node).py_err(py)?;
        let mut undeployed = self
            .call(py, deadline, || fleet.undeploy(service, &node))
            .map_err(|e| crate::errors::about(py, e, Some(&node), Some(service)))?;
        // An edge node that kept the service's routes is an error too: running
        // the undeploy again removes them.
        if !undeployed.edge_failures.is_empty() {
            return Err(undeployed.edge_failures.remove(0).error).py_err(py);
        }
        Ok(Report(undeployed.report))
    }

    /// The service's revisions on its node, oldest first.
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn history(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<Revision>> {
        let deadline = self.deadline(timeout)?;
        let list = self
            .call(py, deadline, || self.fleet.history(service, node))
            .map_err(|e| crate::errors::about(py, e, node, Some(service)))?;
        Ok(list.into_iter().map(Revision).collect())
    }

    /// Deploys revision `to` again (by default the newest that deployed before
    /// the one that runs), by digest, and edits the definition file to say it
    /// unless `keep_definition`.
    #[pyo3(signature = (service, to=None, node=None, keep_definition=false, timeout=None))]
    fn rollback(
        &self,
        py: Python<'_>,
        service: &str,
        to: Option<u32>,
        node: Option<&str>,
        keep_definition: bool,
        timeout: Option<f64>,
    ) -> PyResult<RolledBack> {
        let deadline = self.deadline(timeout)?;
        let fleet = &self.fleet;
        self.call(py, deadline, || {
            fleet.rollback(service, node, to, keep_definition)
        })
        .map(RolledBack)
    }

    /// Restores snapshot `snapshot` of the service (the newest when `None`) into
    /// its data directory, the service stopped around it; `force` replaces the
    /// data it holds.
    #[pyo3(signature = (service, snapshot=None, force=false, node=None, timeout=None))]
    fn restore_snapshot(
        &self,
        py: Python<'_>,
        service: &str,
        snapshot: Option<&str>,
        force: bool,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Report> {
        let deadline = self.deadline(timeout)?;
        let fleet = &self.fleet;
        self.call(py, deadline, || {
            fleet.restore_snapshot(service, node, snapshot, force)
        })
        .map(Report)
    }

    /// Recreates lost containers on `node` (or every node).
    #[pyo3(signature = (node=None, timeout=None))]
    fn recover(
        &self,
        py: Python<'_>,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<Report>> {
        let deadline = self.deadline(timeout)?;
        let results = self.call(py, deadline, || self.fleet.recover(node))?;
        gather(py, results).map(|v| v.into_iter().map(Report).collect())
    }

    /// Every service on `node` (or every node).
    #[pyo3(signature = (node=None, timeout=None))]
    fn ps(
        &self,
        py: Python<'_>,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<ServiceStatus>> {
        let deadline = self.deadline(timeout)?;
        let results = self.call(py, deadline, || self.fleet.services(node))?;
        gather(py, results).map(|v| v.into_iter().map(ServiceStatus).collect())
    }

    /// What each component of `service` (or of every service) uses now, on
    /// `node` (or the service's node, or every node), the nodes asked at once.
    #[pyo3(signature = (service=None, node=None, timeout=None))]
    fn top(
        &self,
        py: Python<'_>,
        service: Option<&str>,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<ComponentUsage>> {
        let deadline = self.deadline(timeout)?;
        let results = self.call(py, deadline, || self.fleet.top(service, node))?;
        gather(py, results).map(|v| v.into_iter().map(ComponentUsage).collect())
    }

    /// One service's status.
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn status(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<StatusReport> {
        let deadline = self.deadline(timeout)?;
        self.call(py, deadline, || self.fleet.status(service, node))
            .map_err(|e| crate::errors::about(py, e, node, Some(service)))
            .map(StatusReport)
    }

    /// A service's output: an iterator of `LogLine`. `since` is a duration or time as
    /// the CLI takes it (`"10m"`, `"2026-12-02T07:00:00Z"`), a `datetime.timedelta`
    /// or a `datetime.datetime`. With `follow`, it waits for new lines, across
    /// restarts and redeploys, until closed, or until no line came for
    /// `idle_timeout` seconds. `timeout` bounds opening the stream.
    #[pyo3(signature = (
        service, lines=None, follow=false, component=None, node=None, since=None,
        timeout=None, idle_timeout=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn logs(
        &self,
        py: Python<'_>,
        service: &str,
        lines: Option<i64>,
        follow: bool,
        component: Option<String>,
        node: Option<&str>,
        since: Option<Bound<'_, PyAny>>,
        timeout: Option<f64>,
        idle_timeout: Option<f64>,
    ) -> PyResult<LogIterator> {
        let deadline = self.deadline(timeout)?;
        let idle = idle_timeout.map(wait::seconds).transpose()?;
        let query = LogQuery {
            component,
            tail: lines.map(|n| at_least_one("lines", n)).transpose()?,
            since: since.as_ref().map(since_of).transpose()?,
            follow,
        };
        let s = service.to_owned();
        let stream = self.on_service(py, deadline, service, node, |mut c| async move {
            Ok(c.logs(&s, &query).await?)
        })?;
        Ok(LogIterator::new(stream, self.rt.clone(), idle))
    }

    /// Events of `node` (every node without `follow`): an iterator of `Event`, the
    /// newest `limit` (default 50) in time order, or with `after` every event
    /// whose `id` is larger (a cursor: ids increase per node); with `follow`
    /// (one node), new events as they come, until closed or until none came
    /// for `idle_timeout` seconds.
    #[pyo3(signature = (
        service=None, node=None, limit=None, follow=false, timeout=None, idle_timeout=None,
        after=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn events(
        &self,
        py: Python<'_>,
        service: Option<String>,
        node: Option<&str>,
        limit: Option<i64>,
        follow: bool,
        timeout: Option<f64>,
        idle_timeout: Option<f64>,
        after: Option<i64>,
    ) -> PyResult<EventIterator> {
        let (fleet, deadline) = (&self.fleet, self.deadline(timeout)?);
        let idle = idle_timeout.map(wait::seconds).transpose()?;
        let limit = match (limit, after) {
            (Some(n), _) => at_least_one("limit", n)?,
            // After a cursor: everything since it (0 is "all" on the wire).
            (None, Some(_)) => 0,
            (None, None) => 50,
        };
        let after = after.unwrap_or(0).max(0);
        let nodes = fleet.nodes(node).py_err(py)?;
        let streams = self.call(py, deadline, || async {
            let mut streams = Vec::new();
            for n in &nodes {
                let mut c = fleet.client(n).await?;
                streams.push(c.events(service.as_deref(), after, limit, follow).await?);
            }
            Ok(streams)
        })?;
        Ok(EventIterator::new(streams, self.rt.clone(), idle))
    }

    /// The proxy routes of `node`.
    #[pyo3(signature = (node, timeout=None))]
    fn routes(
        &self,
        py: Python<'_>,
        node: &str,
        timeout: Option<f64>,
    ) -> PyResult<Vec<ProxyRoute>> {
        let deadline = self.deadline(timeout)?;
        self.on_node(py, deadline, node, |mut c| async move {
            Ok(c.proxy_routes().await?)
        })
        .map(|t| t.routes.into_iter().map(ProxyRoute).collect())
    }

    /// The DNS records `node` registered.
    #[pyo3(signature = (node, timeout=None))]
    fn dns_records(
        &self,
        py: Python<'_>,
        node: &str,
        timeout: Option<f64>,
    ) -> PyResult<Vec<DnsRecord>> {
        let deadline = self.deadline(timeout)?;
        self.on_node(py, deadline, node, |mut c| async move {
            Ok(c.dns_records().await?)
        })
        .map(|v| v.into_iter().map(DnsRecord).collect())
    }

    /// The edge routes of every edge node (or of `node`); with `probe`, whether
    /// each backend accepts connections now.
    #[pyo3(signature = (node=None, probe=false, timeout=None))]
    fn edge_routes(
        &self,
        py: Python<'_>,
        node: Option<&str>,
        probe: bool,
        timeout: Option<f64>,
    ) -> PyResult<Vec<EdgeRoute>> {
        let deadline = self.deadline(timeout)?;
        let results = self.call(py, deadline, || self.fleet.edge_routes(node, probe))?;
        gather(py, results).map(|v| v.into_iter().map(EdgeRoute).collect())
    }

    /// Moves `service` to node `to` with its data (`force`: replace data the
    /// target has); the steps done. A failure raises, with the service running
    /// on its source again.
    #[pyo3(signature = (service, to, force=false, timeout=None))]
    fn migrate(
        &self,
        py: Python<'_>,
        service: &str,
        to: &str,
        force: bool,
        timeout: Option<f64>,
    ) -> PyResult<Vec<MigrateStep>> {
        let deadline = self.deadline(timeout)?;
        let mut progress = |_: &_| {};
        let fleet = &self.fleet;
        self.call(py, deadline, || {
            fleet.migrate(service, to, force, &mut progress)
        })
        .map(|moved| moved.steps.into_iter().map(MigrateStep).collect())
    }

    /// Sends every definition to its node: the plan, applied unless `dry_run`.
    #[pyo3(signature = (dry_run=true, prune=false, timeout=None))]
    fn sync(
        &self,
        py: Python<'_>,
        dry_run: bool,
        prune: bool,
        timeout: Option<f64>,
    ) -> PyResult<Vec<SyncItem>> {
        let deadline = self.deadline(timeout)?;
        let results = self.call(py, deadline, || self.fleet.sync(dry_run, prune))?;
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
    /// The definition `service` stands for (a `ServiceDefinition`, or a
    /// name or file as `mcp deploy` takes it, deprecations warned of), and
    /// the file it came from.
    fn definition_of(
        &self,
        py: Python<'_>,
        service: &Bound<'_, PyAny>,
    ) -> PyResult<(Option<PathBuf>, mcp_core::spec::ServiceDefinition)> {
        if let Ok(d) = service.cast::<crate::spec::ServiceDefinition>() {
            let d = d.get();
            return Ok((d.file_path().map(PathBuf::from), d.def.clone()));
        }
        let name: PathBuf = service.extract().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(
                "service: a name, a path (str or os.PathLike) or a ServiceDefinition",
            )
        })?;
        let (path, def, warnings) = self
            .fleet
            .definition_with_warnings(&name.to_string_lossy())
            .py_err(py)?;
        crate::spec::deprecations(py, &warnings)?;
        Ok((Some(path), def))
    }

    fn new(py: Python<'_>, fleet: Fleet, timeout: Option<f64>) -> PyResult<Client> {
        Ok(Client {
            fleet,
            rt: runtime(py)?,
            timeout,
            closed: AtomicBool::new(false),
        })
    }

    /// When a call given `timeout` (else the client's) must end; a closed
    /// client refuses.
    fn deadline(&self, timeout: Option<f64>) -> PyResult<Deadline> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the client is closed",
            ));
        }
        Deadline::of(timeout, self.timeout)
    }

    fn call<T: Send, Fut>(
        &self,
        py: Python<'_>,
        deadline: Deadline,
        make: impl FnOnce() -> Fut + Send,
    ) -> PyResult<T>
    where
        Fut: std::future::Future<Output = Result<T, mcp_core::fleet::Error>>,
    {
        wait::call(py, &self.rt, deadline, make)
    }

    fn on_node<T: Send, F, Fut>(
        &self,
        py: Python<'_>,
        deadline: Deadline,
        node: &str,
        f: F,
    ) -> PyResult<T>
    where
        F: FnOnce(mcp_core::fleet::client::AgentClient) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, mcp_core::fleet::Error>> + Send,
    {
        let fleet = &self.fleet;
        self.call(py, deadline, || async {
            let c = fleet.client(node).await?;
            f(c).await
        })
        .map_err(|e| crate::errors::about(py, e, Some(node), None))
    }

    fn on_service<T: Send, F, Fut>(
        &self,
        py: Python<'_>,
        deadline: Deadline,
        service: &str,
        node: Option<&str>,
        f: F,
    ) -> PyResult<T>
    where
        F: FnOnce(mcp_core::fleet::client::AgentClient) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, mcp_core::fleet::Error>> + Send,
    {
        let node = self.fleet.node_for(service, node).py_err(py)?;
        self.on_node(py, deadline, &node, f)
            .map_err(|e| crate::errors::about(py, e, None, Some(service)))
    }

    fn with_definition<T: Send, F, Fut>(
        &self,
        py: Python<'_>,
        deadline: Deadline,
        service: &str,
        f: F,
    ) -> PyResult<T>
    where
        F: FnOnce(mcp_core::fleet::client::AgentClient, String) -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, mcp_core::fleet::Error>> + Send,
    {
        let (_, def) = self.fleet.definition(service).py_err(py)?;
        let node = mcp_core::fleet::placement::placed_node(&def)
            .map_err(mcp_core::fleet::Error::from)
            .py_err(py)?;
        let text = def.to_toml();
        self.on_node(py, deadline, node, |c| f(c, text))
    }
}

/// `n` as a count of at least one (`lines=`, `limit=`); a `ValueError`
/// otherwise.
fn at_least_one(what: &str, n: i64) -> PyResult<u32> {
    u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be a whole number from 1 to {}, not {n}",
            u32::MAX
        ))
    })
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
