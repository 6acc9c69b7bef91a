//! An agent killed (SIGKILL) in the middle of a deploy: when it starts again it
//! finds the open journal and undoes what the deploy had done, so the node holds
//! exactly its previous state: containers, leases, certificate files, proxy routes
//! and DNS records all compared. Once for a new service (killed while its
//! container is being health-checked), once for a zero-downtime redeploy (killed
//! while the replacement is being health-checked, the old version serving).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_core::node::registry::Registry;
use mcp_testkit::bind::LocalBind;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::testbed::{AgentAuth, Mode, RunningAgent, Testbed, http_get};

mod common;

use common::{agent_bin, mcp};

const ZONE: &str = "svc.mcp.metacircular.net";

fn mcp_cmd(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mcp"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env("NO_COLOR", "1");
    c
}

/// Everything the node holds: containers of this bed (name and id), leases,
/// certificate files, proxy routes and DNS answers for `names`.
#[derive(Debug, PartialEq, Eq)]
struct NodeState {
    containers: Vec<(String, String)>,
    leases: Vec<(String, String, u16)>,
    cert_files: Vec<String>,
    routes: BTreeMap<(String, String), String>,
    dns: Vec<(String, Vec<std::net::IpAddr>)>,
}

struct Node {
    /// First, so it is dropped (stopped) before the bed removes its containers: a
    /// running agent's monitor would bring them back.
    agent: RunningAgent,
    bed: Testbed,
    proxy: FakeMcProxy,
    bind: LocalBind,
    config: PathBuf,
    services: PathBuf,
}

impl Node {
    fn start() -> Node {
        let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
        bed.hello_image("v0.1.0").expect("image");
        bed.hello_image("v0.2.0").expect("image");
        let proxy = FakeMcProxy::start().expect("fake mc-proxy");
        let bind = LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}"));
        let dir = bed.dir().to_owned();
        let extra = format!(
            "{}\n[certs]\nlocal_ca_dir = {:?}\n\n{}",
            proxy.agent_section(&dir.join("proxy-certs")),
            dir.join("node-ca").display().to_string(),
            bind.agent_section("127.0.0.1", &dir.join("tsig.secret"))
                .expect("dns")
        );
        let agent = bed
            .start_agent_with(&agent_bin(), &AgentAuth::TokenFile, &extra)
            .unwrap_or_else(|e| panic!("{e}"));
        let services = dir.join("services");
        std::fs::create_dir_all(&services).expect("services");
        let config = agent
            .cli_config(bed.node(), &agent.token_file, &services, None)
            .expect("config");
        Node {
            bed,
            proxy,
            bind,
            agent,
            config,
            services,
        }
    }

    /// `mcp args`, which must succeed; the agent's log on failure.
    fn ok(&self, args: &[&str]) -> String {
        let out = mcp(&self.config, args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "mcp {args:?}: {text}\nagent log:\n{}",
            self.agent.log()
        );
        text
    }

    fn define(&self, name: &str, version: &str, health: &str) {
        let text = format!(
            "name = \"{name}\"\nnode = \"{}\"\n\n[[components]]\nname = \"{name}\"\nimage = \"localhost/hello:{version}\"\n\n[[components.routes]]\nport = 443\nmode = \"l7\"\n{health}\n",
            self.bed.node()
        );
        std::fs::write(self.services.join(format!("{name}.toml")), text).expect("definition");
    }

    fn state(&self, names: &[&str]) -> NodeState {
        let label = format!("label=mcp.node={}", self.bed.node());
        let out = self.bed.podman(&[
            "ps",
            "--all",
            "--filter",
            &label,
            "--format",
            "{{.Names}} {{.ID}}",
        ]);
        let mut containers: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(n, s)| (n.to_owned(), s.to_owned()))
            .collect();
        containers.sort();
        let registry = Registry::open(&self.agent.dir.join("mcp.db")).expect("registry");
        let leases = registry
            .leases()
            .expect("leases")
            .into_iter()
            .map(|l| (l.service, l.component, l.port))
            .collect();
        let mut cert_files: Vec<String> = std::fs::read_dir(self.bed.dir().join("proxy-certs"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        cert_files.sort();
        let routes = self
            .proxy
            .routes()
            .into_iter()
            .map(|(k, r)| (k, r.backend))
            .collect();
        let dns = names
            .iter()
            .map(|n| {
                let host = format!("{n}.{ZONE}");
                let a = mcp_core::node::dns::resolve(
                    self.bind.addr,
                    &host,
                    "A",
                    Duration::from_secs(2),
                )
                .expect("query");
                (host, a)
            })
            .collect();
        NodeState {
            containers,
            leases,
            cert_files,
            routes,
            dns,
        }
    }

    /// Starts `mcp deploy name` in the background.
    fn deploy_in_background(&self, name: &str) -> Child {
        mcp_cmd(&self.config, &["deploy", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mcp deploy")
    }

    /// Waits until a container named `name` runs.
    fn wait_for_container(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let out = self
                .bed
                .podman(&["ps", "--filter", &format!("name=^{name}$"), "--quiet"]);
            if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{name} never ran: {}", self.agent.log());
    }
}

#[test]
fn killed_during_a_first_deploy_leaves_nothing() {
    let mut n = Node::start();
    let name = n.bed.name("crash");
    let before = n.state(&[&name]);
    // A health check that never passes keeps the deploy waiting after its
    // container and certificate exist.
    n.define(
        &name,
        "v0.1.0",
        "health_path = \"/missing\"\nhealth_timeout = 120",
    );
    let mut deploy = n.deploy_in_background(&name);
    n.wait_for_container(&name);
    assert!(
        n.bed
            .dir()
            .join("proxy-certs")
            .join(format!("{name}.pem"))
            .exists(),
        "the certificate was issued before the containers"
    );
    n.agent.kill();
    let _ = deploy.wait();
    n.agent.restart(&[]).expect("restart");
    assert_eq!(n.state(&[&name]), before, "{}", n.agent.log());
    assert!(
        n.agent
            .log()
            .contains("finished an operation an earlier agent left open"),
        "{}",
        n.agent.log()
    );
    let events = n.ok(&["events", &name]);
    assert!(events.contains("recover-interrupted"), "{events}");
}

#[test]
fn killed_during_a_redeploy_leaves_the_old_version_serving() {
    let mut n = Node::start();
    let name = n.bed.name("steady");
    n.define(&name, "v0.1.0", "health_path = \"/healthz\"");
    n.ok(&["deploy", &name]);
    let before = n.state(&[&name]);
    let port: u16 = before
        .routes
        .values()
        .next()
        .and_then(|b| b.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .expect("backend port");
    // The replacement never becomes healthy; the agent dies while it waits.
    n.define(
        &name,
        "v0.2.0",
        "health_path = \"/missing\"\nhealth_timeout = 120",
    );
    let mut deploy = n.deploy_in_background(&name);
    n.wait_for_container(&format!("{name}-mcp-next"));
    n.agent.kill();
    let _ = deploy.wait();
    assert!(
        http_get(port, "/", 10).is_ok(),
        "the old version served throughout"
    );
    n.agent.restart(&[]).expect("restart");
    assert_eq!(n.state(&[&name]), before, "{}", n.agent.log());
    assert!(http_get(port, "/", 10).expect("old").contains("v0.1.0"));
}
