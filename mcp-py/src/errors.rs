//! The exception hierarchy, and the one place `mcp_core` errors become exceptions:
//! `McpError` → `SpecError` (with `.problems`), `AuthError`, `NotFound`, `AgentError`,
//! `ConnectionError` (also Python's own `ConnectionError`); a call that ran out of time (`exec(timeout=…)`) is Python's
//! own `TimeoutError`. Every exception carries `.reason`, the stable kind name,
//! and `.step` (the lifecycle step that failed), `.node` and `.service` where
//! they are known (`None` otherwise).

use mcp_core::ErrorKind;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};

pyo3::create_exception!(
    metacircular_mcp,
    McpError,
    pyo3::exceptions::PyException,
    "Any MCP error. `.reason` is the stable reason code (`not_found`, `conflict`, …)."
);
pyo3::create_exception!(
    metacircular_mcp,
    SpecError,
    McpError,
    "An invalid service definition. `.problems` lists every problem."
);
pyo3::create_exception!(
    metacircular_mcp,
    AuthError,
    McpError,
    "No valid token, or the account is not allowed."
);
pyo3::create_exception!(
    metacircular_mcp,
    NotFound,
    McpError,
    "No such service, node, file or component."
);
pyo3::create_exception!(
    metacircular_mcp,
    AgentError,
    McpError,
    "The agent (or the local operation) failed; `.reason` says how."
);

/// `metacircular_mcp.ConnectionError`, made once: an `McpError` and Python's
/// own `ConnectionError` both, so `except ConnectionError:` catches it as it
/// catches every other failure to connect.
pub(crate) fn connection_error(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    TYPE.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let bases = (
            py.get_type::<McpError>(),
            builtins.getattr("ConnectionError")?,
        );
        let body = PyDict::new(py);
        body.set_item("__module__", "metacircular_mcp")?;
        body.set_item("__doc__", "The node's agent could not be reached.")?;
        let made = builtins
            .getattr("type")?
            .call1(("ConnectionError", bases, body))?;
        Ok::<_, PyErr>(made.cast_into::<PyType>()?.unbind())
    })
    .map(|t| t.bind(py).clone())
}

/// Converts an `mcp_core` error into the matching exception.
pub(crate) fn to_py(py: Python<'_>, e: &mcp_core::fleet::Error) -> PyErr {
    let kind = e.kind();
    let message = e.to_string();
    let err = match (e, kind) {
        (mcp_core::fleet::Error::Spec(s), _) if !s.problems().is_empty() => {
            SpecError::new_err(message)
        }
        (mcp_core::fleet::Error::TimedOut(_), _) => {
            pyo3::exceptions::PyTimeoutError::new_err(message)
        }
        (_, ErrorKind::InvalidInput) => SpecError::new_err(message),
        (_, ErrorKind::Unauthenticated | ErrorKind::PermissionDenied) => {
            AuthError::new_err(message)
        }
        (_, ErrorKind::NotFound) => NotFound::new_err(message),
        (_, ErrorKind::Unreachable) => match connection_error(py) {
            Ok(ty) => PyErr::from_type(ty, message),
            Err(e) => e,
        },
        _ => AgentError::new_err(message),
    };
    let value = err.value(py);
    let _ = value.setattr("reason", kind.as_str());
    let _ = value.setattr("step", e.step().map(|s| s.as_str()));
    let _ = value.setattr("node", e.node());
    let _ = value.setattr("service", None::<&str>);
    let problems: Vec<crate::records::Problem> = match e {
        mcp_core::fleet::Error::Spec(s) => s
            .problems()
            .iter()
            .cloned()
            .map(crate::records::Problem)
            .collect(),
        _ => Vec::new(),
    };
    let _ = value.setattr("problems", problems);
    err
}

/// `Result<T, mcp_core::fleet::Error>` → `PyResult<T>`.
pub(crate) trait IntoPy<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T, E: Into<mcp_core::fleet::Error>> IntoPy<T> for Result<T, E> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e.into()))
    }
}

/// `err` said to be about `node` and `service` where it did not say already
/// (an error of a call the client made to one node, for one service).
pub(crate) fn about(
    py: Python<'_>,
    err: PyErr,
    node: Option<&str>,
    service: Option<&str>,
) -> PyErr {
    let value = err.value(py);
    for (name, given) in [("node", node), ("service", service)] {
        let unset = value.getattr(name).map_or(true, |v| v.is_none());
        if unset && given.is_some() && value.is_instance_of::<McpError>() {
            let _ = value.setattr(name, given);
        }
    }
    err
}
