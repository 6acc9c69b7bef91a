//! Offline planning without an agent: the port allocator over given leases, and the
//! reconcile planner over given states. Both are `mcp_core`'s own.

use std::sync::Mutex;

use mcp_core::container::{ContainerState, SpecHash};
use mcp_core::plan::{DesiredContainer, ObservedContainer};
use mcp_core::ports::{LeaseRequest, NoProbe, PortRange};
use pyo3::prelude::*;

use crate::errors::IntoPy;
use crate::records::{Action, PortLease};

/// The platform's leasing rule, offline: `mcp_core`'s port planner.
#[pyclass(module = "metacircular_mcp")]
pub struct PortPlanner {
    inner: Mutex<mcp_core::ports::PortPlanner>,
}

impl PortPlanner {
    fn planner(&self) -> std::sync::MutexGuard<'_, mcp_core::ports::PortPlanner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl PortPlanner {
    /// A planner over `range` (`"START-END"`) with `leased` ports already taken.
    #[new]
    #[pyo3(signature = (range="10000-60000", leased=Vec::new()))]
    fn new(py: Python<'_>, range: &str, leased: Vec<u16>) -> PyResult<Self> {
        let range: PortRange = range.parse().py_err(py)?;
        let mut inner = mcp_core::ports::PortPlanner::new(range, Box::new(NoProbe));
        let taken: Vec<(LeaseRequest, u16)> = leased
            .iter()
            .map(|p| {
                let request = LeaseRequest {
                    service: "(existing)".into(),
                    component: "(existing)".into(),
                    route: Some(p.to_string()),
                    preferred: Some(*p),
                };
                (request, *p)
            })
            .collect();
        inner.adopt(&taken).py_err(py)?;
        Ok(PortPlanner {
            inner: Mutex::new(inner),
        })
    }

    /// Leases a port for one route; the same route gets the same port again.
    #[pyo3(signature = (service, component, route=None, preferred=None))]
    fn lease(
        &self,
        py: Python<'_>,
        service: String,
        component: String,
        route: Option<String>,
        preferred: Option<u16>,
    ) -> PyResult<PortLease> {
        let request = LeaseRequest {
            service,
            component,
            route,
            preferred,
        };
        let mut leases = self.planner().lease(&[request]).py_err(py)?;
        leases
            .pop()
            .map(PortLease)
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("no lease returned"))
    }

    /// Releases ports.
    fn release(&self, ports: Vec<u16>) {
        self.planner().release(&ports);
    }

    /// How many ports are leased.
    #[getter]
    fn leased(&self) -> usize {
        self.planner().leased()
    }

    fn __repr__(&self) -> String {
        let p = self.planner();
        format!(
            "PortPlanner(range={:?}, leased={})",
            p.range().to_string(),
            p.leased()
        )
    }
}

/// A container the registry wants (for `plan_reconcile`).
#[pyclass(module = "metacircular_mcp", frozen, get_all)]
#[derive(Clone)]
pub struct Desired {
    service: String,
    component: String,
    container: String,
    image: String,
    spec_hash: Option<String>,
    run: bool,
    flapping: bool,
}

#[pymethods]
impl Desired {
    #[new]
    #[pyo3(signature = (service, component, container, image, spec_hash=None, run=true, flapping=false))]
    fn new(
        service: String,
        component: String,
        container: String,
        image: String,
        spec_hash: Option<String>,
        run: bool,
        flapping: bool,
    ) -> Self {
        Desired {
            service,
            component,
            container,
            image,
            spec_hash,
            run,
            flapping,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Desired(service={:?}, component={:?}, container={:?}, image={:?}, spec_hash={}, run={}, flapping={})",
            self.service,
            self.component,
            self.container,
            self.image,
            py_opt(&self.spec_hash),
            py_bool(self.run),
            py_bool(self.flapping)
        )
    }
}

/// An optional string as Python writes it: `None`, or the string quoted.
fn py_opt(o: &Option<String>) -> String {
    o.as_ref()
        .map_or_else(|| "None".to_owned(), |s| format!("{s:?}"))
}

/// `True`/`False`, as Python writes them.
fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// A container the runtime has (for `plan_reconcile`).
#[pyclass(module = "metacircular_mcp", frozen, get_all)]
#[derive(Clone)]
pub struct Observed {
    name: String,
    image: String,
    state: String,
    spec_hash: Option<String>,
    service: Option<String>,
    component: Option<String>,
}

#[pymethods]
impl Observed {
    #[new]
    #[pyo3(signature = (name, image, state="running".to_owned(), spec_hash=None, service=None, component=None))]
    fn new(
        name: String,
        image: String,
        state: String,
        spec_hash: Option<String>,
        service: Option<String>,
        component: Option<String>,
    ) -> PyResult<Self> {
        ContainerState::parse_known(&state).map_err(pyo3::exceptions::PyValueError::new_err)?;
        Ok(Observed {
            name,
            image,
            state,
            spec_hash,
            service,
            component,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Observed(name={:?}, image={:?}, state={:?}, spec_hash={}, service={}, component={})",
            self.name,
            self.image,
            self.state,
            py_opt(&self.spec_hash),
            py_opt(&self.service),
            py_opt(&self.component)
        )
    }
}

fn hash(s: &Option<String>) -> Option<SpecHash> {
    // Any text stands for a hash: equal texts, equal hashes.
    s.as_ref()
        .map(|t| t.parse().unwrap_or_else(|_| SpecHash::digest(t.as_bytes())))
}

/// The reconcile plan that brings `observed` to `desired`: `mcp_core`'s planner.
#[pyfunction]
pub(crate) fn plan_reconcile(
    desired: Vec<PyRef<'_, Desired>>,
    observed: Vec<PyRef<'_, Observed>>,
) -> Vec<Action> {
    let d: Vec<DesiredContainer> = desired
        .iter()
        .map(|d| DesiredContainer {
            service: d.service.clone(),
            component: d.component.clone(),
            container: d.container.clone(),
            image: d.image.clone(),
            spec_hash: hash(&d.spec_hash),
            run: d.run,
            flapping: d.flapping,
        })
        .collect();
    let o: Vec<ObservedContainer> = observed
        .iter()
        .map(|o| ObservedContainer {
            name: o.name.clone(),
            image: o.image.clone(),
            state: ContainerState::parse(&o.state),
            spec_hash: hash(&o.spec_hash),
            service: o.service.clone(),
            component: o.component.clone(),
        })
        .collect();
    mcp_core::plan::plan(&d, &o)
        .into_iter()
        .map(Action)
        .collect()
}
