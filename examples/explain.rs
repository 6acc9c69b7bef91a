//! Explains service definitions through the public `mcp_core` API: validates a
//! directory of them, applies the platform's conventions, and plans host ports
//! offline (the model's port planner: no node, no registry), printing what a
//! deploy would set up.
//!
//! Run: `cargo run -p mcp-examples --example explain -- examples/services`

use std::path::PathBuf;

use mcp_core::ports::{LeaseRequest, NoProbe, PortPlanner, PortRange};
use mcp_core::spec::{self, Conventions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("examples/services"), PathBuf::from);
    let defs = spec::load_dir(&dir)?;
    let mut ports = PortPlanner::new(PortRange::default(), Box::new(NoProbe));
    let conventions = Conventions::default();
    for def in &defs {
        let service = def.resolve(&conventions);
        println!(
            "{} on node {}",
            service.name,
            service.node.as_deref().unwrap_or("(to be placed)")
        );
        for c in &service.components {
            let requests: Vec<LeaseRequest> = c
                .routes
                .iter()
                .map(|r| LeaseRequest {
                    service: service.name.clone(),
                    component: c.name.clone(),
                    route: r.name.clone(),
                    preferred: None,
                })
                .collect();
            let leases = ports.lease(&requests)?;
            println!(
                "  {} runs {} as container {}",
                c.name, c.image, c.container_name
            );
            for (r, lease) in c.routes.iter().zip(&leases) {
                let env: Vec<String> = r
                    .port_env
                    .iter()
                    .map(|v| format!("{v}={}", lease.port))
                    .collect();
                println!(
                    "    {} :{} {} -> 127.0.0.1:{} ({})",
                    r.mode,
                    r.listener_port,
                    r.hostname,
                    lease.port,
                    env.join(" ")
                );
            }
        }
    }
    Ok(())
}
