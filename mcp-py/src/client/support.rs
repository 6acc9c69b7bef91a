//! What every `Client` method shares: the runtime the calls run on, waiting
//! for a call (`crate::wait`) on a node or a service's node, the definition a
//! `service` argument stands for, the answers of a fleet-wide query, and the
//! checks of counts and times that are Python's own values.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mcp_core::fleet::Fleet;
use mcp_core::fleet::results::NodeResults;
use mcp_core::view::Since;
use pyo3::prelude::*;

use super::Client;
use crate::errors::{IntoPy, to_py};
use crate::logging::{self, Level};
use crate::wait::{self, Deadline, Runtime};

pub(super) fn runtime(py: Python<'_>) -> PyResult<Runtime> {
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

/// The items of a fleet-wide query: every node's answer as one list. A node that
/// failed is logged (logger `metacircular_mcp`, level WARNING), as the CLI prints
/// it beside the answers; when no node answered, the first failure is raised
/// (its `.node` says whose).
pub(super) fn gather<T>(py: Python<'_>, results: NodeResults<Vec<T>>) -> PyResult<Vec<T>> {
    let all = results.require_any().py_err(py)?.gather();
    for f in &all.failures {
        logging::emit("metacircular_mcp", Level::Warning, f.to_string());
    }
    logging::flush(py);
    Ok(all.items)
}

impl Client {
    /// The definition `service` stands for (a `ServiceDefinition`, or a
    /// name or file as `mcp deploy` takes it, deprecations warned of), and
    /// the file it came from.
    pub(super) fn definition_of(
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

    pub(super) fn new(py: Python<'_>, fleet: Fleet, timeout: Option<f64>) -> PyResult<Client> {
        Ok(Client {
            fleet,
            rt: runtime(py)?,
            timeout,
            closed: AtomicBool::new(false),
        })
    }

    /// When a call given `timeout` (else the client's) must end; a closed
    /// client refuses.
    pub(super) fn deadline(&self, timeout: Option<f64>) -> PyResult<Deadline> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the client is closed",
            ));
        }
        Deadline::of(timeout, self.timeout)
    }

    pub(super) fn call<T: Send, Fut>(
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

    pub(super) fn on_node<T: Send, F, Fut>(
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

    pub(super) fn on_service<T: Send, F, Fut>(
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

    pub(super) fn with_definition<T: Send, F, Fut>(
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
pub(super) fn at_least_one(what: &str, n: i64) -> PyResult<u32> {
    u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be a whole number from 1 to {}, not {n}",
            u32::MAX
        ))
    })
}

/// `since=` of `logs`: a string as the CLI takes it, a `timedelta` or a `datetime`.
pub(super) fn since_of(v: &Bound<'_, PyAny>) -> PyResult<Since> {
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
