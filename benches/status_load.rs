//! Load on `ServiceStatus` over TLS: `CONCURRENCY` callers on `CONNECTIONS` HTTP/2
//! connections for `SECONDS`, then throughput and latency percentiles.
//!
//! Run against a running agent (see `benches/agent.sh`):
//! `status_load <cli-config> <node> <service> [seconds] [concurrency] [connections]`

use std::path::Path;
use std::time::{Duration, Instant};

use mcp_core::config::CliConfig;
use mcp_core::fleet::client::{AgentClient, AgentEndpoint};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, node, service, rest @ ..] = args.as_slice() else {
        return Err("usage: status_load <cli-config> <node> <service> [seconds] [concurrency] [connections]".into());
    };
    let seconds: u64 = rest.first().map_or(Ok(10), |s| s.parse())?;
    let concurrency: usize = rest.get(1).map_or(Ok(32), |s| s.parse())?;
    let connections: usize = rest.get(2).map_or(Ok(2), |s| s.parse())?;
    let cli = CliConfig::load(Path::new(config))?;
    let endpoint = AgentEndpoint::from_config(&cli, node, Path::new(config))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (latencies, errors, elapsed) = runtime.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..connections.max(1) {
            clients.push(AgentClient::connect(&endpoint).await?);
        }
        // Warm up (and fill the agent's caches) before measuring.
        clients[0].status(service).await?;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..concurrency {
            let mut client = clients[i % clients.len()].clone();
            let service = service.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match client.status(&service).await {
                        Ok(_) => lat.push(t.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                (lat, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await?;
            all.extend(lat);
            errors += e;
        }
        Ok::<_, Box<dyn std::error::Error>>((all, errors, start.elapsed()))
    })?;
    let mut sorted = latencies;
    sorted.sort();
    let rps = sorted.len() as f64 / elapsed.as_secs_f64();
    println!(
        "ServiceStatus over TLS: {} requests in {:.1}s = {rps:.0} req/s, errors {errors}, concurrency {concurrency} on {connections} connections",
        sorted.len(),
        elapsed.as_secs_f64()
    );
    println!(
        "latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&sorted, 0.50).as_secs_f64() * 1e3,
        percentile(&sorted, 0.90).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        percentile(&sorted, 1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}
