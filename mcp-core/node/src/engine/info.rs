//! What the node is: version, runtime, capacity (`NodeStatus`).

use mcp_model::view::NodeInfo;
use std::time::SystemTime;

use super::Engine;

impl Engine {
    /// This node's identity and capacity. `started_at` is when the agent started.
    pub fn node_info(&self, started_at: SystemTime) -> Result<NodeInfo, crate::Error> {
        let services = self.registry.services()?;
        let containers = services.iter().map(|s| s.components.len()).sum::<usize>();
        let (memory_bytes, memory_available_bytes) = meminfo();
        Ok(NodeInfo {
            node: self.config.node.clone(),
            version: mcp_model::VERSION.to_owned(),
            started_at,
            registry_schema_version: self.registry.schema_version()?,
            runtime: self.runtime_description(),
            services: u32::try_from(services.len()).unwrap_or(u32::MAX),
            containers: u32::try_from(containers).unwrap_or(u32::MAX),
            cpus: std::thread::available_parallelism()
                .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
            memory_bytes,
            memory_available_bytes,
            load_average: load_average(),
            disk_free_bytes: disk_free(&self.config.conventions.data_root),
            ports_leased: u32::try_from(self.ports.leased()).unwrap_or(u32::MAX),
            ports_total: u32::try_from(self.config.port_range.len()).unwrap_or(u32::MAX),
            role: self.config.role,
            build: mcp_model::fsutil::build_id().to_owned(),
        })
    }
}

impl Engine {
    /// Every metric of the node, counted and as it is now, in the Prometheus
    /// text format.
    pub fn scrape(&self) -> Result<String, crate::Error> {
        let registry_bytes = ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut path = self.registry.path().as_os_str().to_owned();
                path.push(suffix);
                std::fs::metadata(path).ok()
            })
            .map(|m| m.len())
            .sum();
        let now = crate::metrics::Snapshot {
            node: self.config.node.clone(),
            role: self.config.role,
            version: mcp_model::VERSION.to_owned(),
            build: mcp_model::fsutil::build_id().to_owned(),
            services: self.statuses()?,
            usage: self.usage_for_metrics(&self.registry.services()?, self.config.usage_every)?,
            ports_total: self.config.port_range.len(),
            ports_leased: self.ports.leased(),
            certificates: self.registry.read(|t| t.certificates())?,
            registry_bytes,
            event_rows: self.registry.read(|t| t.event_rows())?,
        };
        Ok(self.metrics.render(&now))
    }

    /// The runtime and its version; asked once (it costs a slow `podman info`) and
    /// kept, unless the runtime was unavailable.
    fn runtime_description(&self) -> String {
        if let Some(d) = self.runtime_description.get() {
            return d.clone();
        }
        match self.runtime.describe() {
            Ok(d) => self.runtime_description.get_or_init(|| d).clone(),
            Err(e) => format!("unavailable: {e}"),
        }
    }
}

/// Total and available memory from `/proc/meminfo` (zero where unreadable).
fn meminfo() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// The 1-minute load average from `/proc/loadavg` (zero where unreadable).
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Free bytes on the filesystem holding `path` (or its nearest existing parent).
fn disk_free(path: &std::path::Path) -> u64 {
    let existing = path.ancestors().find(|p| p.exists()).unwrap_or(path);
    std::process::Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(existing)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse().ok())
        })
        .unwrap_or(0)
}
