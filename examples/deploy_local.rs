//! Deploys the bundled example service on this machine through the public
//! `mcp_core` API, with real Podman: builds its image locally, deploys it, asks it
//! for its name over HTTP on the leased port, shows its status, restarts it, and
//! undeploys it.
//!
//! Run (as root, after `.ci/run` or `examples/demo.sh` set up Podman):
//! `cargo run -p mcp-examples --example deploy_local [rootless]`

use mcp_core::spec::{ServiceDefinition, ValidatedDefinition};
use mcp_testkit::testbed::{Mode, Testbed, http_get};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = match std::env::args().nth(1).as_deref() {
        Some("rootless") => Mode::Rootless,
        _ => Mode::Rootful,
    };
    let bed = Testbed::new(mode)?;
    bed.hello_image("v0.1.0")?;
    let mut def = ServiceDefinition::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("services/hello.toml"),
    )?;
    // The test bed's engine runs a node of its own name, so its containers carry a
    // label no other run shares.
    def.node = Some(bed.node().to_owned());
    let def = ValidatedDefinition::new(def)?;
    let engine = bed.engine();

    println!("deploying {} ({mode:?} podman)", def.name);
    let report = engine.deploy(&def, "example")?;
    for p in &report.ports {
        println!(
            "  {} route {} -> 127.0.0.1:{}",
            p.component,
            p.route.as_deref().unwrap_or("(default)"),
            p.port
        );
    }
    let port = report.ports[0].port;
    print!(
        "  GET http://127.0.0.1:{port}/ -> {}",
        http_get(port, "/", 50)?
    );

    let status = engine.status(def.service())?;
    for c in &status.components {
        println!(
            "  {}: {} ({}), restarts {}",
            c.container, c.state, c.version, c.restart_count
        );
    }
    engine.restart(def.service(), "example")?;
    print!("  after restart -> {}", http_get(port, "/", 50)?);

    engine.undeploy(def.service(), "example")?;
    println!(
        "undeployed {} (undeploy keeps a service's data directory)",
        def.name
    );
    Ok(())
}
