//! `metacircular_mcp`: Python bindings over `mcp_core`. Each function extracts its
//! arguments, calls `mcp_core`, and converts the result; no domain logic lives here.

use pyo3::prelude::*;

/// The metacircular_mcp module.
#[pymodule]
mod metacircular_mcp {
    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", mcp_core::VERSION)
    }

    /// Checks a service definition's TOML text and returns its problems, one line
    /// each (`line:col: field: message [rule]`); an empty list means valid.
    #[pyfunction]
    fn validate(text: &str) -> Vec<String> {
        match mcp_core::spec::ServiceDefinition::parse(text, None) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(ToString::to_string).collect(),
        }
    }
}
