//! `metacircular_mcp`: Python bindings over `mcp_core`. Each method extracts its
//! arguments, releases the GIL, calls `mcp_core`, and converts the result; there is
//! no domain logic here. The Python package (`python/metacircular_mcp`) re-exports
//! this native module and adds the asyncio client.

// The classes are Python objects; `__repr__` is their debug form.
#![allow(missing_debug_implementations)]

mod client;
mod errors;
mod logging;
mod planning;
mod records;
mod spec;
mod streams;
mod wait;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", mcp_core::VERSION)?;
    m.add("McpError", py.get_type::<errors::McpError>())?;
    m.add("SpecError", py.get_type::<errors::SpecError>())?;
    m.add("AuthError", py.get_type::<errors::AuthError>())?;
    m.add("NotFound", py.get_type::<errors::NotFound>())?;
    m.add("AgentError", py.get_type::<errors::AgentError>())?;
    m.add("ConnectionError", errors::connection_error(py)?)?;
    m.add_class::<spec::ServiceDefinition>()?;
    m.add_function(wrap_pyfunction!(spec::load_dir, m)?)?;
    m.add_function(wrap_pyfunction!(spec::restore_definition, m)?)?;
    m.add_class::<records::Problem>()?;
    m.add_class::<records::Route>()?;
    m.add_class::<records::Component>()?;
    m.add_class::<records::ResolvedRoute>()?;
    m.add_class::<records::ResolvedComponent>()?;
    m.add_class::<records::ResolvedService>()?;
    m.add_class::<records::Report>()?;
    m.add_class::<records::ChangedComponent>()?;
    m.add_class::<records::PortAssignment>()?;
    m.add_class::<records::Certificate>()?;
    m.add_class::<records::ComponentStatus>()?;
    m.add_class::<records::ComponentUsage>()?;
    m.add_class::<records::SnapshotInfo>()?;
    m.add_class::<records::BuiltImage>()?;
    m.add_class::<records::Login>()?;
    m.add_class::<records::ServiceStatus>()?;
    m.add_class::<records::Event>()?;
    m.add_class::<records::NodeInfo>()?;
    m.add_class::<records::SyncItem>()?;
    m.add_class::<records::LogLine>()?;
    m.add_class::<records::ProxyRoute>()?;
    m.add_class::<records::EdgeRoute>()?;
    m.add_class::<records::MigrateStep>()?;
    m.add_class::<records::Deployed>()?;
    m.add_class::<records::Placement>()?;
    m.add_class::<records::RolledBack>()?;
    m.add_class::<records::Revision>()?;
    m.add_class::<records::RevisionImage>()?;
    m.add_class::<records::StatusReport>()?;
    m.add_class::<records::DnsRecord>()?;
    m.add_class::<records::PortLease>()?;
    m.add_class::<records::Action>()?;
    m.add_class::<records::DeployPreview>()?;
    m.add_class::<records::FieldChange>()?;
    m.add_class::<records::PlannedComponent>()?;
    m.add_class::<records::PlannedItem>()?;
    m.add_class::<records::ExecResult>()?;
    m.add_function(wrap_pyfunction!(records::restore, m)?)?;
    m.add_class::<client::Client>()?;
    m.add_class::<streams::LogIterator>()?;
    m.add_class::<wait::Cancel>()?;
    m.add_class::<streams::EventIterator>()?;
    m.add_class::<planning::PortPlanner>()?;
    m.add_class::<planning::Desired>()?;
    m.add_class::<planning::Observed>()?;
    m.add_function(wrap_pyfunction!(planning::plan_reconcile, m)?)?;
    Ok(())
}
