//! The node's metrics, in the Prometheus text format (`[metrics]`, served by
//! the agent on a listener of its own; every family in docs/observability.md).
//!
//! Two kinds of family:
//! * **counted as it happens** ([`Metrics`]): RPCs, lifecycle operations,
//!   monitor rounds and repairs, integration errors. Kept for the agent's
//!   life, recorded by the engine, the monitor and the agent's RPC layer;
//! * **read at the scrape** ([`Snapshot`]): components by state, leases,
//!   certificates, the registry. Built afresh for each scrape from what the
//!   engine knows at that moment, so a service that is gone leaves no series.
//!
//! Labels come only from closed sets or from names the registry holds
//! (service, component, hostname), so the number of series is bounded by what
//! the node runs.

use std::time::{Duration, SystemTime};

use mcp_model::view::{CertificateRecord, ComponentUsage, NodeRole, ServiceStatus};
use prometheus::{
    CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets of operation and RPC durations, seconds: a status read takes
/// milliseconds, a deploy with a readiness gate seconds to minutes.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The families counted as things happen.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    rpcs: IntCounterVec,
    rpc_seconds: HistogramVec,
    operations: IntCounterVec,
    operation_seconds: HistogramVec,
    monitor_rounds: IntCounterVec,
    repairs: IntCounterVec,
    flapping_marked: IntCounter,
    integration_errors: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every family at zero.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(BUCKETS.to_vec()),
                labels,
            )
            .expect("valid histogram");
            registry
                .register(Box::new(h.clone()))
                .expect("registered once");
            h
        };
        let rpcs = counter(
            "mcp_rpcs_total",
            "RPCs answered, by method and gRPC status code.",
            &["method", "code"],
        );
        let rpc_seconds = histogram(
            "mcp_rpc_duration_seconds",
            "Time until an RPC's response began, by method.",
            &["method"],
        );
        let operations = counter(
            "mcp_operations_total",
            "Lifecycle operations (deploy, stop, start, restart, undeploy, ...), by kind, result (ok or error) and the step that failed (empty when none did).",
            &["kind", "result", "step"],
        );
        let operation_seconds = histogram(
            "mcp_operation_duration_seconds",
            "How long lifecycle operations took, by kind and result.",
            &["kind", "result"],
        );
        let monitor_rounds = counter(
            "mcp_monitor_rounds_total",
            "Monitor rounds: relist (the whole node) or events (the containers events named).",
            &["kind"],
        );
        let repairs = counter(
            "mcp_repairs_total",
            "What the monitor did to a container (start, create, replace, remove, report), by result.",
            &["kind", "result"],
        );
        let flapping_marked = IntCounter::new(
            "mcp_flapping_marked_total",
            "Containers the monitor marked flapping and held down.",
        )
        .expect("valid counter");
        registry
            .register(Box::new(flapping_marked.clone()))
            .expect("registered once");
        let integration_errors = counter(
            "mcp_integration_errors_total",
            "Failed calls to the node's integrations: proxy (mc-proxy), dns (MCNS), issuer (certificates, renewals included), registry (images).",
            &["kind"],
        );
        Metrics {
            registry,
            rpcs,
            rpc_seconds,
            operations,
            operation_seconds,
            monitor_rounds,
            repairs,
            flapping_marked,
            integration_errors,
        }
    }

    /// An RPC `method` answered with gRPC status `code` after `took`.
    pub fn rpc(&self, method: &str, code: &str, took: Duration) {
        self.rpcs.with_label_values(&[method, code]).inc();
        self.rpc_seconds
            .with_label_values(&[method])
            .observe(took.as_secs_f64());
    }

    /// A lifecycle operation `kind` ended after `took`: `Ok`, or failed (at
    /// the step named, when it failed at one).
    pub fn operation(&self, kind: &str, outcome: Result<(), Option<&str>>, took: Duration) {
        let (result, step) = match outcome {
            Ok(()) => ("ok", ""),
            Err(step) => ("error", step.unwrap_or("")),
        };
        self.operations
            .with_label_values(&[kind, result, step])
            .inc();
        self.operation_seconds
            .with_label_values(&[kind, result])
            .observe(took.as_secs_f64());
        if let Some(system) = integration_of_step(step) {
            self.integration_error(system);
        }
    }

    /// A monitor round: `relist` or `events`.
    pub fn monitor_round(&self, kind: &str) {
        self.monitor_rounds.with_label_values(&[kind]).inc();
    }

    /// A repair of kind `kind` (an action's kind), `ok` or not.
    pub fn repair(&self, kind: &str, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.repairs.with_label_values(&[kind, result]).inc();
    }

    /// A container marked flapping.
    pub fn flapping_marked(&self) {
        self.flapping_marked.inc();
    }

    /// A failed call to integration `kind` (`proxy`, `dns`, `issuer`, `registry`).
    pub fn integration_error(&self, kind: &str) {
        self.integration_errors.with_label_values(&[kind]).inc();
    }

    /// Every family, the counted ones and `now`'s, in the Prometheus text
    /// format (version 0.0.4).
    pub fn render(&self, now: &Snapshot) -> String {
        let scraped = now.registry();
        let mut families = self.registry.gather();
        families.extend(scraped.gather());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
            tracing::warn!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The integration a failure at deploy step `step` was a call to.
fn integration_of_step(step: &str) -> Option<&'static str> {
    match step {
        "routes" => Some("proxy"),
        "dns" => Some("dns"),
        "certs" => Some("issuer"),
        "image" => Some("registry"),
        _ => None,
    }
}

/// What the node looks like at a scrape.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// This node.
    pub node: String,
    /// What it does.
    pub role: NodeRole,
    /// The agent's version and build id.
    pub version: String,
    /// The agent's build id.
    pub build: String,
    /// Every service's status.
    pub services: Vec<ServiceStatus>,
    /// What each component uses, sampled at most once per monitor tick.
    pub usage: Vec<ComponentUsage>,
    /// Ports in the range, and leased.
    pub ports_total: usize,
    /// Ports leased.
    pub ports_leased: usize,
    /// Certificates the node provisioned.
    pub certificates: Vec<CertificateRecord>,
    /// The registry file's size, bytes (with its write-ahead log).
    pub registry_bytes: u64,
    /// Rows of the event log.
    pub event_rows: u64,
}

impl Snapshot {
    /// The scrape-time families, in a registry of their own.
    fn registry(&self) -> Registry {
        let r = Registry::new();
        let one = |name: &str, help: &str, value: u64| {
            let g = IntGauge::new(name, help).expect("valid gauge");
            g.set(i64::try_from(value).unwrap_or(i64::MAX));
            let _ = r.register(Box::new(g));
        };
        gauge(
            &r,
            "mcp_build_info",
            "The agent: its version, build id, node and role (always 1).",
            &["version", "build_id", "node", "role"],
        )
        .with_label_values(&[&self.version, &self.build, &self.node, self.role.as_str()])
        .set(1);
        self.components(&r);
        self.usage(&r);
        one(
            "mcp_port_range_size",
            "Host ports in the node's range.",
            self.ports_total as u64,
        );
        one(
            "mcp_ports_leased",
            "Host ports leased to routes.",
            self.ports_leased as u64,
        );
        self.certificates(&r);
        one(
            "mcp_registry_size_bytes",
            "Size of the registry's SQLite files (database and write-ahead log).",
            self.registry_bytes,
        );
        one(
            "mcp_event_rows",
            "Rows the event log holds.",
            self.event_rows,
        );
        r
    }

    /// Every component: its state, whether it is kept running, its restarts.
    fn components(&self, r: &Registry) {
        let components = gauge(
            r,
            "mcp_components",
            "Components, by service, component and state (running, exited, missing, flapping, ...); 1 per component.",
            &["service", "component", "state"],
        );
        let restarts = IntCounterVec::new(
            Opts::new(
                "mcp_component_restarts_total",
                "Restarts of a component's container by the runtime since it was created.",
            ),
            &["service", "component"],
        )
        .expect("valid counter");
        let _ = r.register(Box::new(restarts.clone()));
        let desired = gauge(
            r,
            "mcp_component_desired_running",
            "Whether MCP keeps a component running (1) or holds it stopped (0).",
            &["service", "component"],
        );
        for s in &self.services {
            for c in &s.components {
                let who = [s.service.as_str(), c.name.as_str()];
                components
                    .with_label_values(&[who[0], who[1], c.shown_state()])
                    .set(1);
                restarts
                    .with_label_values(&who)
                    .inc_by(u64::from(c.restart_count));
                desired.with_label_values(&who).set(i64::from(
                    c.desired == mcp_model::view::DesiredState::Running,
                ));
            }
        }
    }

    /// What each running component uses: CPU time and memory.
    fn usage(&self, r: &Registry) {
        let cpu = CounterVec::new(
            Opts::new(
                "mcp_component_cpu_seconds_total",
                "CPU time a component's container used since it started, seconds (sampled from the runtime at most once per monitor tick).",
            ),
            &["service", "component"],
        )
        .expect("valid counter");
        let _ = r.register(Box::new(cpu.clone()));
        let memory = gauge(
            r,
            "mcp_component_memory_bytes",
            "Memory a component's container uses, bytes (sampled with the CPU time).",
            &["service", "component"],
        );
        for u in &self.usage {
            let who = [u.service.as_str(), u.component.as_str()];
            if let Some(seconds) = u.cpu_seconds {
                cpu.with_label_values(&who).inc_by(seconds);
            }
            if let Some(bytes) = u.memory_bytes {
                memory
                    .with_label_values(&who)
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            }
        }
    }

    /// When each certificate expires.
    fn certificates(&self, r: &Registry) {
        let not_after = GaugeVec::new(
            Opts::new(
                "mcp_certificate_not_after_timestamp_seconds",
                "When a certificate the node provisioned expires, seconds since the epoch, by hostname and service.",
            ),
            &["hostname", "service"],
        )
        .expect("valid gauge");
        let _ = r.register(Box::new(not_after.clone()));
        for c in &self.certificates {
            let at = c
                .not_after
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            not_after
                .with_label_values(&[&c.hostname, c.service.as_deref().unwrap_or("")])
                .set(at);
        }
    }
}

/// A gauge family registered in `r`.
fn gauge(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid gauge");
    let _ = r.register(Box::new(g.clone()));
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_and_scraped_families_render_in_the_text_format() {
        let m = Metrics::new();
        m.rpc("Deploy", "OK", Duration::from_millis(20));
        m.operation("deploy", Ok(()), Duration::from_secs(2));
        m.operation("deploy", Err(Some("dns")), Duration::from_secs(1));
        m.repair("start", true);
        let now = Snapshot {
            node: "n1".into(),
            role: NodeRole::Compute,
            version: "0.1.0".into(),
            build: "abc".into(),
            services: Vec::new(),
            usage: vec![ComponentUsage {
                service: "web".into(),
                component: "api".into(),
                node: "n1".into(),
                container: "web-api".into(),
                state: mcp_model::container::ContainerState::Running,
                cpu_percent: None,
                cpu_seconds: Some(1.5),
                memory_bytes: Some(2048),
                memory_limit_bytes: Some(1 << 30),
                pids: Some(1),
                restart_count: 0,
                started_at: None,
                sampled_at: SystemTime::now(),
            }],
            ports_total: 100,
            ports_leased: 3,
            certificates: Vec::new(),
            registry_bytes: 4096,
            event_rows: 7,
        };
        let text = m.render(&now);
        for line in [
            "# TYPE mcp_rpcs_total counter",
            "mcp_rpcs_total{code=\"OK\",method=\"Deploy\"} 1",
            "mcp_operations_total{kind=\"deploy\",result=\"error\",step=\"dns\"} 1",
            "mcp_integration_errors_total{kind=\"dns\"} 1",
            "mcp_repairs_total{kind=\"start\",result=\"ok\"} 1",
            "mcp_ports_leased 3",
            "mcp_event_rows 7",
            "mcp_component_cpu_seconds_total{component=\"api\",service=\"web\"} 1.5",
            "mcp_component_memory_bytes{component=\"api\",service=\"web\"} 2048",
            "mcp_build_info{build_id=\"abc\",node=\"n1\",role=\"compute\",version=\"0.1.0\"} 1",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }
}
