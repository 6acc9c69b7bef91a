//! One module per command: resolve arguments, call `mcp_core`, print.

pub(crate) mod show;
pub(crate) mod validate;

use std::path::PathBuf;

/// The operator's services directory, `~/.config/mcp/services`.
pub(crate) fn services_dir() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".config/mcp/services")
}
