//! Where the operator's side placed a `worker` service that names no node
//! ([`Placement`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The compute node chosen for a service, and the capacity it was chosen by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// The service placed.
    pub service: String,
    /// The node chosen.
    pub node: String,
    /// Its available memory when asked, bytes.
    pub memory_available_bytes: u64,
    /// Its CPUs.
    pub cpus: u32,
    /// Its 1-minute load average when asked.
    pub load_average: f64,
    /// The containers it ran (counting those placed before in the same run).
    pub containers: u32,
    /// Whether the choice was written into the definition's file (not for a
    /// dry run or a definition built in code).
    pub written: bool,
}

impl fmt::Display for Placement {
    /// `placed on b: 12.1 GiB free, 3 containers`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[allow(clippy::cast_precision_loss)] // shown to one decimal
        let gib = self.memory_available_bytes as f64 / f64::from(1u32 << 30);
        let plural = if self.containers == 1 { "" } else { "s" };
        write!(
            f,
            "placed on {}: {gib:.1} GiB free, {} container{plural}",
            self.node, self.containers
        )
    }
}
