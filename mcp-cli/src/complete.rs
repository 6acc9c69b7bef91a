//! Shell completion of names: service names from the services directory and
//! node names from the configuration (clap_complete's dynamic engine: the shell
//! asks `mcp` itself, so the names are always the current ones). Reads the
//! configuration `$MCP_CONFIG` or the default names; never fails, never
//! connects.

use std::ffi::OsStr;

use clap_complete::engine::CompletionCandidate;
use mcp_core::config::CliConfig;

/// The configuration completion reads, if there is one.
fn config() -> Option<CliConfig> {
    CliConfig::load(&CliConfig::default_path()).ok()
}

/// The names in `names` that start with what is typed.
fn matching(current: &OsStr, names: impl Iterator<Item = String>) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut out: Vec<String> = names.filter(|n| n.starts_with(typed.as_ref())).collect();
    out.sort();
    out.into_iter().map(CompletionCandidate::new).collect()
}

/// Service names: `<service>.toml` files in the services directory.
pub(crate) fn services(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(dir) = config().map(|c| c.services_dir()).filter(|d| d.is_dir()) else {
        return Vec::new();
    };
    let files = mcp_core::spec::definition_files(&[dir]).unwrap_or_default();
    let names = files
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
    matching(current, names)
}

/// Node names: the configuration's `[[nodes]]`.
pub(crate) fn nodes(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = config().map(|c| c.nodes).unwrap_or_default();
    matching(current, names.into_iter().map(|n| n.name))
}
