//! A throwaway node for end-to-end tests in other languages (the Python SDK's
//! pytest suite): rootful Podman test bed, a fake MCIAS, a real `mcp-agent`
//! and a real OCI registry (TLS, basic auth) for `build` to push to,
//! authenticating against it, a CLI configuration, a valid (operator) token,
//! an admin's and bad ones.
//!
//! Prints one JSON line describing it, then keeps it all up until standard input
//! closes, and removes everything it created.
//!
//! Run: `e2e_node <path to mcp-agent> [--proxy]`; with `--proxy` the agent
//! also has an mc-proxy (the recording fake) and a local CA for its
//! certificates.

use std::io::Read;
use std::path::{Path, PathBuf};

use mcp_testkit::fake_mcias::{Account, FakeMcias};
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::registry::LocalRegistry;
use mcp_testkit::testbed::{AgentAuth, Example, Mode, Testbed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let agent_bin = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: e2e_node <mcp-agent> [--proxy]")?,
    );
    let with_proxy = std::env::args().nth(2).is_some_and(|a| a == "--proxy");
    let bed = Testbed::new(Mode::Rootful)?;
    let image = bed.hello_image("v0.1.0")?;
    // The same with busybox inside, for `exec`.
    let tools_image = bed.tools_image(Example::Hello, "v0.1.0")?;
    let mcias = FakeMcias::start(vec![
        Account::new("kyle", "hunter2", "user"),
        Account::new("visitor", "pw", "guest"),
        Account::new("ada", "lovelace", "admin"),
    ])?;
    let dir = bed.dir();
    let proxy = with_proxy.then(FakeMcProxy::start).transpose()?;
    let extra = proxy
        .as_ref()
        .map(|p| proxy_section(p, dir))
        .unwrap_or_default();
    let agent = bed.start_agent_with(&agent_bin, &mcias_auth(&mcias), &extra)?;
    let services = dir.join("services");
    std::fs::create_dir_all(&services)?;
    let s = |p: &std::path::Path| p.display().to_string();
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
    let admin = bad("admin-token", &FakeMcias::token_for("ada"))?;
    let config = agent.cli_config(bed.node(), &token, &services, Some((&mcias.url, &mcias_ca)))?;
    let registry = LocalRegistry::start_tls("mcpuser", "mcppass")?;
    let workspace = add_build_sections(&config, &registry, dir)?;
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
            "admin_token": s(&admin),
            "workspace": s(&workspace),
            "registry": registry.host,
            "hello_context": s(&mcp_testkit::testbed::hello_context()?),
            "containers_conf": s(&mcp_testkit::testbed::containers_conf()),
        })
    );
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    drop(agent);
    drop(proxy);
    drop(registry);
    drop(mcias);
    drop(bed);
    Ok(())
}

/// The agent's mc-proxy (the recording fake `proxy`) and its local CA.
fn proxy_section(proxy: &FakeMcProxy, dir: &Path) -> String {
    format!(
        "{}\n[certs]\nlocal_ca_dir = {:?}\n",
        proxy.agent_section(&dir.join("proxy-certs")),
        dir.join("node-ca").display().to_string()
    )
}

/// `build` pushes to `registry` from a workspace of service source trees: the
/// `[build]` and `[registry]` sections added to the CLI configuration
/// `config`, their files written in `dir`. The workspace.
fn add_build_sections(
    config: &Path,
    registry: &LocalRegistry,
    dir: &Path,
) -> std::io::Result<PathBuf> {
    let workspace = dir.join("workspace");
    std::fs::create_dir_all(&workspace)?;
    let mut text = std::fs::read_to_string(config)?;
    text.push_str(&format!(
        "\n[build]\nworkspace = {:?}\n\n{}",
        workspace.display().to_string(),
        registry.config_section(dir)?
    ));
    std::fs::write(config, text)?;
    Ok(workspace)
}

/// The agent authenticates against `mcias`: role `user` operates, `admin`
/// administers.
fn mcias_auth(mcias: &FakeMcias) -> AgentAuth {
    AgentAuth::Mcias {
        url: mcias.url.clone(),
        ca_pem: mcias.ca_pem.clone(),
        operator_roles: vec!["user".into()],
        admins: Vec::new(),
    }
}
