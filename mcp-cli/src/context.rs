//! The CLI's context: the fleet (`mcp_core::fleet::Fleet`: the configuration,
//! definitions, connections) and the global flags.

use std::path::PathBuf;

use mcp_core::fleet::Fleet;

/// The loaded fleet and global flags.
pub(crate) struct Context {
    pub(crate) fleet: Fleet,
    pub(crate) json: bool,
}

impl Context {
    pub(crate) fn load(path: Option<PathBuf>, json: bool) -> Result<Self, mcp_core::fleet::Error> {
        Ok(Context {
            fleet: Fleet::load(path.as_deref())?,
            json,
        })
    }
}
