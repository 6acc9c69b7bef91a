//! A throwaway node for end-to-end tests in other languages (the Python SDK's
//! pytest suite): rootful Podman test bed, a fake MCIAS, a real `mcp-agent`
//! authenticating against it, a CLI configuration, a valid token and bad ones.
//!
//! Prints one JSON line describing it, then keeps it all up until standard input
//! closes, and removes everything it created.
//!
//! Run: `e2e_node <path to mcp-agent>`

use std::io::Read;
use std::path::PathBuf;

use mcp_testkit::fake_mcias::{Account, FakeMcias};
use mcp_testkit::testbed::{AgentAuth, Example, Mode, Testbed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let agent_bin = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: e2e_node <mcp-agent>")?,
    );
    let bed = Testbed::new(Mode::Rootful)?;
    let image = bed.hello_image("v0.1.0")?;
    // The same with busybox inside, for `exec`.
    let tools_image = bed.tools_image(Example::Hello, "v0.1.0")?;
    let mcias = FakeMcias::start(vec![
        Account::new("kyle", "hunter2", "user"),
        Account::new("visitor", "pw", "guest"),
    ])?;
    let agent = bed.start_agent(
        &agent_bin,
        &AgentAuth::Mcias {
            url: mcias.url.clone(),
            ca_pem: mcias.ca_pem.clone(),
            operator_roles: vec!["user".into()],
            admins: Vec::new(),
        },
    )?;
    let dir = bed.dir();
    let services = dir.join("services");
    std::fs::create_dir_all(&services)?;
    let mcias_ca = dir.join("mcias-ca.pem");
    std::fs::write(&mcias_ca, &mcias.ca_pem)?;
    let token = dir.join("token");
    let secret =
        |p: &std::path::Path, text: &str| mcp_core::fsutil::write_atomic(p, text.as_bytes(), 0o600);
    secret(&token, &format!("{}\n", FakeMcias::token_for("kyle")))?;
    let bad = |name: &str, text: &str| -> std::io::Result<PathBuf> {
        let p = dir.join(name);
        secret(&p, &format!("{text}\n"))?;
        Ok(p)
    };
    let wrong = bad("wrong-token", "not-a-token")?;
    let expired = bad("expired-token", FakeMcias::EXPIRED)?;
    let guest = bad("guest-token", &FakeMcias::token_for("visitor"))?;
    let config = agent.cli_config(bed.node(), &token, &services, Some((&mcias.url, &mcias_ca)))?;
    let s = |p: &std::path::Path| p.display().to_string();
    println!(
        "{}",
        serde_json::json!({
            "config": s(&config),
            "node": bed.node(),
            "services": s(&services),
            "image": image,
            "tools_image": tools_image,
            "prefix": bed.name("py"),
            "token": s(&token),
            "wrong_token": s(&wrong),
            "expired_token": s(&expired),
            "guest_token": s(&guest),
        })
    );
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    drop(agent);
    drop(mcias);
    drop(bed);
    Ok(())
}
