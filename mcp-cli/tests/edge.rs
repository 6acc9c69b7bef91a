//! Edge nodes through the real binaries: a compute agent (real Podman) and an edge
//! agent configured with a Podman that does not exist, each with its own recording
//! mc-proxy, one CLI configuration for both. A public service gets its internal
//! route on the compute node and an edge route (public hostname, its own
//! certificate, re-encrypting to the compute node) on the edge node; `edge list`,
//! `edge status` (backend reachability), `node list` (roles, container counts)
//! and `ps` show it; a hostname outside the allowed domains and a deploy to the
//! edge node are refused with nothing changed; undeploy removes both routes and
//! the certificate; sync sets them up again and sync --prune removes them; a
//! route an undeploy could not remove (edge agent down) is removed by the next
//! sync --prune once the definition is gone; with the edge agent down, the
//! compute node still answers. An internal and a public route on one listener
//! (the platform's v2 shape) are one route and one port on the compute node.

use std::net::TcpListener;
use std::time::SystemTime;

use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::testbed::{AgentAuth, FleetPki, Mode, RunningAgent, Testbed};

mod common;

use common::{agent_bin, mcp, ok, row, text};

const ZONE: &str = "svc.mcp.metacircular.net";

struct Node {
    /// First, so it is dropped (stopped) before the bed removes its containers: a
    /// running agent's monitor would bring them back.
    agent: RunningAgent,
    bed: Testbed,
    proxy: FakeMcProxy,
}

fn start(bed: Testbed, extra: &str) -> Node {
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let config = format!(
        "{}\n{extra}",
        proxy.agent_section(&bed.dir().join("proxy-certs"))
    );
    let agent = bed
        .start_agent_with(&agent_bin(), &AgentAuth::TokenFile, &config)
        .unwrap_or_else(|e| panic!("{e}"));
    Node { bed, agent, proxy }
}

fn public_definition(name: &str, node: &str, port: u16, hostname: &str) -> String {
    format!(
        r#"name = "{name}"
node = "{node}"

[[components]]
name = "{name}"
image = "localhost/hello:v0.1.0"

[[components.routes]]
port = {port}
mode = "l7"
public = true
hostname = "{hostname}"
"#
    )
}

/// A compute node and an edge node, each with its own recording proxy, and one
/// CLI configuration for both.
struct Fleet {
    compute: Node,
    edge: Node,
    config: std::path::PathBuf,
    services: std::path::PathBuf,
}

fn fleet(pki: &FleetPki) -> Fleet {
    let compute_bed = Testbed::new(Mode::Rootful)
        .unwrap_or_else(|e| panic!("{e}"))
        .in_fleet(pki);
    compute_bed.hello_image("v0.1.0").expect("image");
    let compute = start(compute_bed, "");
    let edge_bed = Testbed::new(Mode::Rootful)
        .unwrap_or_else(|e| panic!("{e}"))
        .in_fleet(pki)
        .as_edge();
    let edge = start(edge_bed, "[edge]\nallowed_domains = [\"example.org\"]\n");
    let services = compute.bed.dir().join("services");
    std::fs::create_dir_all(&services).expect("services");
    let config = pki
        .cli_config(
            compute.bed.dir(),
            &[
                (
                    compute.bed.node(),
                    compute.agent.address.to_string(),
                    "compute",
                ),
                (edge.bed.node(), edge.agent.address.to_string(), "edge"),
            ],
            &services,
        )
        .expect("config");
    Fleet {
        compute,
        edge,
        config,
        services,
    }
}

#[test]
fn public_service_through_an_edge_node() {
    let pki = FleetPki::new().expect("pki");
    let Fleet {
        compute,
        mut edge,
        config,
        services,
    } = fleet(&pki);
    let (c, e) = (compute.bed.node(), edge.bed.node());

    // The compute node's proxy listener for the route: the fake proxy serves no
    // traffic, so the test listens there itself.
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let name = compute.bed.name("pub");
    let public = format!("www-{}.example.org", compute.bed.id);
    let internal = format!("{name}.{ZONE}");
    std::fs::write(
        services.join(format!("{name}.toml")),
        public_definition(&name, c, port, &public),
    )
    .expect("definition");

    // Deploy: internal route on the compute node, edge route on the edge node.
    let deployed = ok(&config, &["deploy", &name]);
    let backend = format!("127.0.0.1:{port}");
    assert!(
        deployed.contains(&format!("edge {e}: {public} → {backend}")),
        "{deployed}"
    );
    let inside = compute.proxy.routes();
    assert!(
        inside.contains_key(&(format!(":{port}"), internal.clone())),
        "internal route on the compute node: {inside:?}"
    );
    assert!(
        !inside.keys().any(|(_, h)| *h == public),
        "the public name is the edge's: {inside:?}"
    );
    let outside = edge.proxy.routes();
    let route = outside
        .get(&(":443".to_owned(), public.clone()))
        .unwrap_or_else(|| panic!("edge route: {outside:?}"));
    assert_eq!(route.backend, backend);
    assert_eq!(route.mode, "l7");
    assert!(route.backend_tls, "re-encrypts to the compute node");
    let cert = edge
        .bed
        .dir()
        .join("proxy-certs")
        .join(format!("{public}.pem"));
    assert_eq!(route.tls_cert, cert.display().to_string());
    let info =
        mcp_core::node::certs::inspect(&cert, &cert.with_extension("key"), SystemTime::now())
            .expect("the edge's own certificate");
    assert_eq!(info.hostnames, std::slice::from_ref(&public));

    // Listings.
    let list = ok(&config, &["edge", "list"]);
    let line = row(&list, e);
    assert!(
        line.contains(&public)
            && line.contains(name.as_str())
            && line.contains(c)
            && line.contains("d)"),
        "{list}"
    );
    let status = ok(&config, &["edge", "status"]);
    assert!(row(&status, e).contains("reachable"), "{status}");
    let nodes = ok(&config, &["node", "list"]);
    let (cr, er) = (row(&nodes, c), row(&nodes, e));
    assert!(
        cr.contains("compute") && cr.contains("reachable") && cr.trim_end().ends_with('1'),
        "{nodes}"
    );
    assert!(
        er.contains("edge") && er.contains("reachable") && er.trim_end().ends_with('0'),
        "{nodes}"
    );
    let ps = ok(&config, &["ps"]);
    assert!(row(&ps, &name).contains(c), "{ps}");
    let agents = ok(&config, &["agent", "status"]);
    assert!(agents.contains(c) && agents.contains(e), "{agents}");

    // No longer public: the redeploy takes the edge route away; public again
    // brings it back.
    let def_path = services.join(format!("{name}.toml"));
    let public_def = std::fs::read_to_string(&def_path).expect("definition");
    std::fs::write(
        &def_path,
        public_def
            .replace("public = true\n", "")
            .replace(&format!("hostname = \"{public}\"\n"), ""),
    )
    .expect("private");
    ok(&config, &["deploy", &name]);
    assert!(edge.proxy.routes().is_empty(), "{:?}", edge.proxy.routes());
    assert!(!cert.exists(), "edge certificate removed");
    std::fs::write(&def_path, &public_def).expect("public again");
    let out = mcp(&config, &["--json", "deploy", &name]);
    assert!(out.status.success(), "{}", text(&out));
    let deployed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(deployed["edges"][0]["edge"], e, "{deployed}");
    assert_eq!(
        deployed["edges"][0]["hostname"],
        public.as_str(),
        "{deployed}"
    );

    // The backend stops answering: status says so (exit 1).
    drop(listener);
    let out = mcp(&config, &["edge", "status"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        row(&text(&out), e).contains("unreachable"),
        "{}",
        text(&out)
    );

    // Refused with nothing changed: a hostname outside the allowed domains …
    let evil = compute.bed.name("evil");
    std::fs::write(
        services.join(format!("{evil}.toml")),
        public_definition(&evil, c, port + 1, "www.evilexample.org"),
    )
    .expect("definition");
    let out = mcp(&config, &["deploy", &evil]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("not under an allowed domain") && said.contains(e),
        "{said}"
    );
    assert!(
        !ok(&config, &["ps"]).contains(evil.as_str()),
        "nothing deployed"
    );
    assert!(
        !compute
            .proxy
            .routes()
            .keys()
            .any(|(_, h)| h.starts_with(evil.as_str()))
    );
    assert_eq!(edge.proxy.routes().len(), 1);
    std::fs::remove_file(services.join(format!("{evil}.toml"))).expect("rm");

    // … and a service sent to the edge node.
    let lost = compute.bed.name("lost");
    std::fs::write(
        services.join(format!("{lost}.toml")),
        compute
            .bed
            .hello_definition(&lost, "v0.1.0", "")
            .to_toml()
            .replace(&format!("node = \"{c}\""), &format!("node = \"{e}\"")),
    )
    .expect("definition");
    let out = mcp(&config, &["deploy", &lost]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("is an edge node: it runs no containers"),
        "{said}"
    );
    std::fs::remove_file(services.join(format!("{lost}.toml"))).expect("rm");

    // Undeploy removes both routes and the edge certificate.
    let undeployed = ok(&config, &["undeploy", &name]);
    assert!(
        undeployed.contains(&format!("edge {e}: removed {public}")),
        "{undeployed}"
    );
    assert!(edge.proxy.routes().is_empty(), "{:?}", edge.proxy.routes());
    assert!(!cert.exists(), "edge certificate removed");
    assert!(!compute.proxy.routes().keys().any(|(_, h)| *h == internal));

    // Sync brings the service and its edge route back; with the definition gone,
    // sync --prune takes both away.
    let synced = ok(&config, &["sync"]);
    assert!(synced.contains("edge"), "{synced}");
    assert!(
        edge.proxy
            .routes()
            .contains_key(&(":443".to_owned(), public.clone())),
        "{synced}"
    );
    std::fs::remove_file(services.join(format!("{name}.toml"))).expect("rm");
    let pruned = ok(&config, &["sync", "--prune"]);
    assert!(pruned.contains("undeploy"), "{pruned}");
    assert!(edge.proxy.routes().is_empty(), "{pruned}");

    // An undeploy while the edge node is down leaves its route there (reported,
    // exit 1); once the definition is gone, sync --prune removes it, after a dry
    // run that only names it.
    std::fs::write(&def_path, &public_def).expect("definition again");
    ok(&config, &["deploy", &name]);
    edge.agent.kill();
    let out = mcp(&config, &["undeploy", &name]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(e),
        "the edge node is named: {}",
        text(&out)
    );
    edge.agent.restart(&[]).expect("edge agent back");
    let public_route = (":443".to_owned(), public.clone());
    assert!(
        edge.proxy.routes().contains_key(&public_route),
        "left behind"
    );
    std::fs::remove_file(&def_path).expect("rm");
    let planned = ok(&config, &["sync", "--prune", "--dry-run"]);
    assert!(
        row(&planned, e).contains(name.as_str())
            && planned.contains(&format!("would remove {public}")),
        "{planned}"
    );
    assert!(edge.proxy.routes().contains_key(&public_route), "dry run");
    let pruned = ok(&config, &["sync", "--prune"]);
    assert!(
        row(&pruned, e).contains("edge") && pruned.contains(&format!("removed {public}")),
        "{pruned}"
    );
    assert!(edge.proxy.routes().is_empty(), "{pruned}");
    assert!(!ok(&config, &["edge", "list"]).contains(&public));

    // The edge node goes down: the rest keeps working.
    edge.agent.kill();
    let nodes = ok(&config, &["node", "list"]);
    assert!(row(&nodes, e).contains("unreachable"), "{nodes}");
    assert!(row(&nodes, c).contains("reachable"), "{nodes}");
    let out = mcp(&config, &["ps"]);
    assert!(
        text(&out).contains(e),
        "the failure is named: {}",
        text(&out)
    );
}

/// The platform's v2 shape (`mcq`): an internal route and a public route on one
/// listener. The node serves one route and one port; the edge reaches it.
#[test]
fn an_internal_and_a_public_route_on_one_listener() {
    let pki = FleetPki::new().expect("pki");
    let Fleet {
        compute,
        edge,
        config,
        services,
    } = fleet(&pki);
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let name = compute.bed.name("pair");
    let public = format!("MCQ-{}.example.org", compute.bed.id);
    let def = public_definition(&name, compute.bed.node(), port, &public).replace(
        "[[components.routes]]\n",
        &format!("[[components.routes]]\nname = \"internal\"\nport = {port}\nmode = \"l7\"\n\n[[components.routes]]\nname = \"public\"\n"),
    );
    let file = services.join(format!("{name}.toml"));
    std::fs::write(&file, def).expect("definition");
    ok(&config, &["validate", file.to_str().expect("utf-8")]);
    ok(&config, &["deploy", &name]);

    let internal = format!("{name}.{ZONE}");
    let mine: Vec<_> = compute
        .proxy
        .routes()
        .into_keys()
        .filter(|(_, h)| h.contains(name.as_str()) || h.contains("example.org"))
        .collect();
    assert_eq!(
        mine,
        [(format!(":{port}"), internal)],
        "one route on the node"
    );
    let status: serde_json::Value =
        serde_json::from_str(&ok(&config, &["--json", "status", &name])).expect("status");
    let ports = &status["components"][0]["ports"];
    assert_eq!(ports.as_array().map(Vec::len), Some(1), "one port: {ports}");
    let outside = edge.proxy.routes();
    let route = outside
        .get(&(":443".to_owned(), public.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("edge route, its hostname lowercased: {outside:?}"));
    assert_eq!(route.backend, format!("127.0.0.1:{port}"));
    ok(&config, &["undeploy", &name]);
    assert!(edge.proxy.routes().is_empty(), "{:?}", edge.proxy.routes());
}
