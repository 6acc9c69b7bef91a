//! The CLI's context: the fleet (configuration, definitions, connections, from
//! `mcp_core::fleet`) and the global flags.

use std::ops::Deref;
use std::path::PathBuf;

use mcp_core::fleet::Fleet;

/// The loaded fleet and global flags.
pub(crate) struct Context {
    pub(crate) fleet: Fleet,
    pub(crate) json: bool,
}

impl Context {
    pub(crate) fn load(path: Option<PathBuf>, json: bool) -> Result<Self, mcp_core::Error> {
        Ok(Context {
            fleet: Fleet::load(path.as_deref())?,
            json,
        })
    }
}

impl Deref for Context {
    type Target = Fleet;

    fn deref(&self) -> &Fleet {
        &self.fleet
    }
}
