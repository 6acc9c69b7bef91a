//! A real Prometheus server (Debian's `prometheus`) on a free loopback port,
//! scraping the given targets every second with a configuration and a data
//! directory of its own; queried through its HTTP API. Stopped when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::spawn::{self, StartError};
use crate::testbed::http_get_at;

/// A running Prometheus.
#[derive(Debug)]
pub struct LocalPrometheus {
    child: Child,
    /// Where its HTTP API listens.
    pub address: SocketAddr,
    dir: tempfile::TempDir,
}

impl LocalPrometheus {
    /// Starts Prometheus scraping `/metrics` of every target in `targets`
    /// (plain HTTP) every second, as job `mcp-agent`.
    pub fn start(targets: &[SocketAddr]) -> Result<Self, String> {
        spawn::retry(|| Self::try_start(targets))
    }

    fn try_start(targets: &[SocketAddr]) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("mcp-prometheus-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let port = spawn::free_port()?;
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: mcp-agent\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        std::fs::write(d.join("prometheus.yml"), config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("prometheus.log")).map_err(|e| e.to_string())?;
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                d.join("prometheus.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", d.join("data").display()))
            .arg(format!("--web.listen-address={address}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start prometheus (apt-get install prometheus): {e}"))?;
        let mut prometheus = LocalPrometheus {
            child,
            address,
            dir,
        };
        let log = prometheus.dir.path().join("prometheus.log");
        // Only ours was given this data directory.
        let data = prometheus.dir.path().join("data").display().to_string();
        spawn::wait_ready(&mut prometheus.child, "prometheus", &log, || {
            http_get_at(address, "/api/v1/status/flags", 1)
                .is_ok_and(|body| body.contains(&data))
                .into()
        })?;
        Ok(prometheus)
    }

    /// The result vector of the instant query `promql`, as Prometheus's JSON.
    pub fn query(&self, promql: &str) -> Result<Vec<serde_json::Value>, String> {
        let path = format!("/api/v1/query?query={}", percent_encoded(promql));
        let body = http_get_at(self.address, &path, 3)?;
        let answer: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        answer["data"]["result"]
            .as_array()
            .cloned()
            .ok_or_else(|| format!("no result in {body}"))
    }

    /// The value of the first sample `promql` selects, if any.
    pub fn value(&self, promql: &str) -> Result<Option<f64>, String> {
        Ok(self
            .query(promql)?
            .first()
            .and_then(|s| s["value"][1].as_str().and_then(|v| v.parse().ok())))
    }

    /// Prometheus's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for LocalPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` with everything but unreserved characters percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
