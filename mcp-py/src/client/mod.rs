//! `Client`: every operator operation, blocking, over `mcp_core::fleet` and the
//! shared `AgentClient`. Each call releases the GIL while it waits and wakes for
//! Python's signals, cancellation and its `timeout=` (`crate::wait`); the
//! streams it opens are `crate::streams`.

mod support;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use mcp_core::fleet::Fleet;
use mcp_core::fleet::exec::ExecCommand;
use mcp_core::view::LogQuery;
use pyo3::prelude::*;

use crate::errors::IntoPy;
use crate::logging::{self, Level};
use crate::records::{
    BuiltImage, ComponentUsage, DeployPreview, Deployed, DnsRecord, EdgeRoute, ExecResult, Login,
    MigrateStep, NodeInfo, ProxyRoute, Report, Revision, RolledBack, ServiceStatus, SnapshotInfo,
    StatusReport, SyncItem,
};
use crate::streams::{EventIterator, LogIterator};
use crate::wait::{self, Deadline, Runtime};
use support::{at_least_one, gather, since_of};

/// The fleet, as the CLI configuration describes it.
#[pyclass(module = "metacircular_mcp", frozen)]
pub struct Client {
    fleet: Fleet,
    rt: Runtime,
    /// Seconds every call may take unless it says otherwise.
    timeout: Option<f64>,
    closed: AtomicBool,
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
        let ca_pem = mcp_core::fleet::client::AgentEndpoint::read_ca(&ca_cert).py_err(py)?;
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
        .map(|d| {
            for w in &d.report.warnings {
                logging::emit("metacircular_mcp", Level::Warning, format!("{name}: {w}"));
            }
            logging::flush(py);
            Deployed(d)
        })
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

    /// Snapshots the service's data on its node (`mcp snapshot`): SQLite
    /// databases vacuumed while it runs, then the directory packed.
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn snapshot(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<SnapshotInfo> {
        let s = service.to_owned();
        self.on_service(
            py,
            self.deadline(timeout)?,
            service,
            node,
            |mut c| async move { Ok(c.create_snapshot(&s).await?) },
        )
        .map(SnapshotInfo)
    }

    /// The snapshots of the service kept on its node, oldest first.
    #[pyo3(signature = (service, node=None, timeout=None))]
    fn snapshots(
        &self,
        py: Python<'_>,
        service: &str,
        node: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<SnapshotInfo>> {
        let s = service.to_owned();
        self.on_service(
            py,
            self.deadline(timeout)?,
            service,
            node,
            |mut c| async move { Ok(c.snapshots(&s).await?) },
        )
        .map(|v| v.into_iter().map(SnapshotInfo).collect())
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

    /// Waits until every component of `service` is in `state` (`running`:
    /// and not held down for flapping), at `version` when given; the status
    /// that showed it. `TimeoutError` after `timeout` seconds, saying what
    /// was seen last.
    #[pyo3(signature = (service, version=None, state="running", timeout=60.0, node=None))]
    fn wait(
        &self,
        py: Python<'_>,
        service: &str,
        version: Option<String>,
        state: &str,
        timeout: f64,
        node: Option<&str>,
    ) -> PyResult<ServiceStatus> {
        let within = wait::seconds(timeout)?;
        let state = mcp_core::container::ContainerState::parse_known(state)
            .map_err(pyo3::exceptions::PyValueError::new_err)?;
        let wanted = mcp_core::fleet::observe::Wanted { state, version };
        // The call's own deadline is the wait's, with room for the last read.
        let deadline = self.deadline(Some(timeout + 10.0))?;
        let fleet = &self.fleet;
        self.call(py, deadline, || fleet.wait(service, node, &wanted, within))
            .map_err(|e| crate::errors::about(py, e, node, Some(service)))
            .map(ServiceStatus)
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
        let mut progress = |step: &mcp_core::fleet::migrate::MigrateStep| {
            let line = format!("{service}: {}: {}", step.step, step.detail);
            logging::emit("metacircular_mcp.migrate", Level::Info, line);
        };
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

    /// Adds (or replaces) a route on the proxy of `node` by hand, owned by no
    /// service: `listener` (`:443`), `hostname`, `backend` (`host:port`), `mode`
    /// (`l4`, or `l7` with `tls_cert` and `tls_key`, re-encrypting to the backend
    /// with `backend_tls`). The agent checks it; a service's route is refused.
    #[pyo3(signature = (node, listener, hostname, backend, mode="l4", tls_cert=None, tls_key=None, backend_tls=false, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn add_route(
        &self,
        py: Python<'_>,
        node: &str,
        listener: String,
        hostname: String,
        backend: String,
        mode: &str,
        tls_cert: Option<String>,
        tls_key: Option<String>,
        backend_tls: bool,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let deadline = self.deadline(timeout)?;
        let mode = mode
            .parse::<mcp_core::spec::Mode>()
            .map_err(pyo3::exceptions::PyValueError::new_err)?;
        let route = mcp_core::view::ProxyRouteRecord {
            listener,
            hostname,
            backend,
            mode,
            tls_cert,
            tls_key,
            backend_tls,
            proxy_protocol: false,
            service: None,
        };
        let fleet = &self.fleet;
        self.call(py, deadline, || fleet.add_route(node, &route))
            .map_err(|e| crate::errors::about(py, e, Some(node), None))
    }

    /// Removes the route of `listener` and `hostname` from the proxy of `node`;
    /// a service's route is refused (stop or redeploy the service instead).
    #[pyo3(signature = (node, listener, hostname, timeout=None))]
    fn remove_route(
        &self,
        py: Python<'_>,
        node: &str,
        listener: &str,
        hostname: &str,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let deadline = self.deadline(timeout)?;
        let fleet = &self.fleet;
        self.call(py, deadline, || {
            fleet.remove_route(node, listener, hostname)
        })
        .map_err(|e| crate::errors::about(py, e, Some(node), None))
    }

    /// Builds the images of `service` (a name, a file or a `ServiceDefinition`)
    /// from the configured `[build] workspace` and pushes them, every build
    /// before any push; each pushed image as its registry holds it. Podman's
    /// output is logged to `metacircular_mcp.build` (INFO).
    #[pyo3(signature = (service, timeout=None))]
    fn build(
        &self,
        py: Python<'_>,
        service: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Vec<BuiltImage>> {
        let deadline = self.deadline(timeout)?;
        let (_, def) = self.definition_of(py, service)?;
        let name = def.name.clone();
        let progress: mcp_core::fleet::builder::BuildProgress = Box::new(|item, stage, line| {
            let line = format!("{} {} | {line}", item.key, stage.as_str());
            logging::emit("metacircular_mcp.build", Level::Info, line);
        });
        let fleet = &self.fleet;
        self.call(py, deadline, || fleet.build(&def, progress))
            .map_err(|e| crate::errors::about(py, e, None, Some(&name)))
            .map(|v| v.into_iter().map(BuiltImage).collect())
    }

    /// Logs `username` in to MCIAS (`[mcias]` of the configuration) and stores
    /// the token in the configured token file (mode 0600), as `mcp login`
    /// does; later clients present it.
    #[pyo3(signature = (username, password, totp=None, timeout=None))]
    fn login(
        &self,
        py: Python<'_>,
        username: &str,
        password: &str,
        totp: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Login> {
        let deadline = self.deadline(timeout)?;
        let fleet = &self.fleet;
        self.call(py, deadline, || fleet.login(username, password, totp))
            .map(Login)
    }

    fn __repr__(&self) -> String {
        format!(
            "Client(config={:?}, nodes={:?})",
            self.fleet.path().display().to_string(),
            self.node_names()
        )
    }
}
