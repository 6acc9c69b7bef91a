//! `ServiceDefinition`: parsing, validation, derivations and format-preserving edits,
//! all delegated to `mcp_core::spec`.

use std::path::PathBuf;

use mcp_core::spec::{self, Conventions, DefinitionEditor};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::IntoPy;
use crate::records::{Component, Problem, ResolvedService};

/// A service definition. Read-only; edits return a new definition (and keep the
/// file's comments and layout).
#[pyclass(module = "metacircular_mcp", frozen)]
pub struct ServiceDefinition {
    pub(crate) def: spec::ServiceDefinition,
    text: String,
    path: Option<PathBuf>,
}

impl ServiceDefinition {
    pub(crate) fn new(def: spec::ServiceDefinition, text: String, path: Option<PathBuf>) -> Self {
        ServiceDefinition { def, text, path }
    }

    /// The file it was loaded from, if any.
    pub(crate) fn file_path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }
}

#[pymethods]
impl ServiceDefinition {
    /// Reads and validates the definition in `path`. Raises `SpecError`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let text = std::fs::read_to_string(&path)
            .map_err(|source| spec::SpecError::Read {
                path: path.clone(),
                source,
            })
            .py_err(py)?;
        let (def, warnings) =
            spec::ServiceDefinition::parse_with_warnings(&text, Some(&path)).py_err(py)?;
        deprecations(py, &warnings)?;
        Ok(ServiceDefinition::new(def, text, Some(path)))
    }

    /// Parses and validates TOML text. Raises `SpecError`.
    #[staticmethod]
    fn loads(py: Python<'_>, text: &str) -> PyResult<Self> {
        let (def, warnings) =
            spec::ServiceDefinition::parse_with_warnings(text, None).py_err(py)?;
        deprecations(py, &warnings)?;
        Ok(ServiceDefinition::new(def, text.to_owned(), None))
    }

    #[getter]
    fn name(&self) -> String {
        self.def.name.clone()
    }

    #[getter]
    fn node(&self) -> Option<String> {
        self.def.node.clone()
    }

    #[getter]
    fn tier(&self) -> Option<String> {
        self.def.tier.map(|t| t.as_str().to_owned())
    }

    #[getter]
    fn active(&self) -> bool {
        self.def.active
    }

    #[getter]
    fn path(&self) -> Option<String> {
        self.def.path.clone()
    }

    /// The version the service runs: `version`, else the one every
    /// component's image has (`None` when they differ).
    #[getter]
    fn version(&self) -> Option<String> {
        self.def.resolved_version()
    }

    #[getter]
    fn build_images(&self) -> std::collections::BTreeMap<String, String> {
        self.def.build_images.clone()
    }

    #[getter]
    fn components(&self) -> Vec<Component> {
        let def = &self.def;
        (def.components.iter().enumerate())
            .map(|(i, c)| Component((c.clone(), def.component_version(i))))
            .collect()
    }

    /// The source directory relative to the build workspace.
    #[getter]
    fn source_path(&self) -> String {
        self.def.source_path().to_owned()
    }

    /// SHA-256 of the canonical form.
    #[getter]
    fn definition_hash(&self) -> String {
        self.def.definition_hash()
    }

    /// The file it was loaded from, if any.
    #[getter]
    fn file(&self) -> Option<String> {
        self.path.as_ref().map(|p| p.display().to_string())
    }

    /// The TOML text (as written, with edits applied).
    #[getter]
    fn text(&self) -> String {
        self.text.clone()
    }

    /// The platform's rules; an empty list means valid.
    fn validate(&self) -> Vec<Problem> {
        self.def.validate().into_iter().map(Problem).collect()
    }

    /// Every derived value, with the platform's conventions, optionally overridden
    /// (`zone`, `registry`, `network`, `user`, `restart`, `data_root`).
    #[pyo3(signature = (**conventions))]
    fn resolve(
        &self,
        py: Python<'_>,
        conventions: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<ResolvedService> {
        let mut c = Conventions::default();
        if let Some(kw) = conventions {
            for (k, v) in kw.iter() {
                let key: String = k.extract()?;
                let value: String = v.extract()?;
                match key.as_str() {
                    "zone" => c.zone = value,
                    "registry" => c.registry = value,
                    "network" => c.network = value,
                    "user" => c.user = value,
                    "restart" => c.restart = value,
                    "data_root" => c.data_root = value.into(),
                    other => {
                        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                            "unknown convention {other:?}"
                        )));
                    }
                }
            }
        }
        let _ = py;
        Ok(ResolvedService(self.def.resolve(&c)))
    }

    /// The canonical TOML form.
    fn to_toml(&self) -> String {
        self.def.to_toml()
    }

    /// A copy with `version` set (for `component`, or every component), the file's
    /// comments and layout kept. Raises `SpecError` or `NotFound`.
    #[pyo3(signature = (version, component=None))]
    fn with_version(
        &self,
        py: Python<'_>,
        version: &str,
        component: Option<&str>,
    ) -> PyResult<Self> {
        let mut ed = DefinitionEditor::from_text(&self.text, self.path.as_deref()).py_err(py)?;
        ed.set_version(component, version).py_err(py)?;
        Ok(ServiceDefinition::new(
            ed.definition().clone(),
            ed.to_text(),
            self.path.clone(),
        ))
    }

    /// Writes the text to `path` (default: the file it was loaded from), atomically.
    #[pyo3(signature = (path=None))]
    fn save(&self, py: Python<'_>, path: Option<PathBuf>) -> PyResult<()> {
        let target = path.or_else(|| self.path.clone()).ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err("the definition has no file; pass a path")
        })?;
        mcp_core::fsutil::write_atomic(&target, self.text.as_bytes(), 0o644)
            .map_err(|source| spec::SpecError::Write {
                path: target.clone(),
                source,
            })
            .py_err(py)
    }

    /// The definition as plain data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = serde_json::to_string(&self.def)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        py.import("json")?.call_method1("loads", (json,))
    }

    fn __repr__(&self) -> String {
        format!(
            "ServiceDefinition(name={:?}, node={:?}, components={})",
            self.def.name,
            self.def.node,
            self.def.components.len()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Self>().is_ok_and(|o| o.get().def == self.def)
    }

    /// Pickles as its text and file.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> crate::records::Reduced<'py, (String, Option<PathBuf>)> {
        let restore = py
            .import("metacircular_mcp._native")?
            .getattr("_restore_definition")?;
        Ok((restore, (self.text.clone(), self.path.clone())))
    }
}

/// A definition pickled by `__reduce__`: parsed again from its text.
#[pyfunction]
#[pyo3(name = "_restore_definition")]
pub(crate) fn restore_definition(
    py: Python<'_>,
    text: String,
    path: Option<PathBuf>,
) -> PyResult<ServiceDefinition> {
    let def = spec::ServiceDefinition::parse(&text, path.as_deref()).py_err(py)?;
    Ok(ServiceDefinition::new(def, text, path))
}

/// Every definition in `path` (a directory), checked together. Raises `SpecError`
/// with every problem of every file.
#[pyfunction]
pub(crate) fn load_dir(py: Python<'_>, path: PathBuf) -> PyResult<Vec<ServiceDefinition>> {
    let defs = spec::load_dir(&path).py_err(py)?;
    Ok(defs
        .into_iter()
        .map(|d| {
            let file = path.join(format!("{}.toml", d.name));
            let text = std::fs::read_to_string(&file).unwrap_or_else(|_| d.to_toml());
            ServiceDefinition::new(d, text, Some(file))
        })
        .collect())
}

/// Each warning of a definition file as a Python `DeprecationWarning`.
pub(crate) fn deprecations(py: Python<'_>, warnings: &[spec::Problem]) -> PyResult<()> {
    let category = py.get_type::<pyo3::exceptions::PyDeprecationWarning>();
    for w in warnings {
        let text = std::ffi::CString::new(w.to_string().replace('\0', " "))
            .unwrap_or_else(|_| c"deprecated key".to_owned());
        PyErr::warn(py, &category, &text, 1)?;
    }
    Ok(())
}
