//! Nodes in network namespaces of their own, joined by a private bridge: compute
//! nodes A (rootful Podman) and B (rootless) and an edge node E, each with its
//! own network stack and address, and the operator (the real `mcp`, MCIAS,
//! which the agents ask, and a real BIND they register names in) in a fourth. Nothing is shared but the bridge: the CLI
//! reaches each agent at its node's address; the public `notes` service answers
//! on A's address (and not on the machine's loopback) and keeps a note written
//! through it; the edge node routes to and probes A's proxy listener across the
//! bridge; the service migrates to B with its note (the CLI relaying the
//! snapshot between the two namespaces), and the DNS record and the edge route
//! follow; with A's
//! agent down, B and E still answer. The other multi-node tests give nodes
//! loopback addresses instead (decision 77); this one shows the agents need no
//! more.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use mcp_testkit::bind::LocalBind;
use mcp_testkit::fake_mcias::{Account, FakeMcias};
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::netns::Fabric;
use mcp_testkit::testbed::{
    AgentAuth, Example, FleetPki, Mode, Testbed, http_get, http_get_at, http_post,
};

mod common;

const ZONE: &str = "svc.mcp.metacircular.net";

use common::{agent_bin, port_in_status, row, text};

/// The real `mcp`, run in the operator's namespace.
fn mcp(fabric: &Fabric, config: &Path, args: &[&str]) -> Output {
    fabric
        .command("ops", env!("CARGO_BIN_EXE_mcp"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run mcp")
}

fn ok(fabric: &Fabric, config: &Path, args: &[&str]) -> String {
    let out = mcp(fabric, config, args);
    assert!(out.status.success(), "mcp {args:?}: {}", text(&out));
    text(&out)
}

fn proxy_config(proxy: &FakeMcProxy, bed: &Testbed) -> String {
    proxy.agent_section(&bed.dir().join("proxy-certs"))
}

#[test]
fn nodes_in_their_own_network_namespaces() {
    let fabric = Fabric::new(&["a", "b", "e"]).unwrap_or_else(|e| panic!("{e}"));
    let (addr_a, addr_b, addr_e) = (
        fabric.address("a"),
        fabric.address("b"),
        fabric.address("e"),
    );
    let mcias = fabric
        .run_in("ops", || {
            FakeMcias::start_at(vec![Account::new("ops", "pw", "admin")], Fabric::OPS.into())
        })
        .expect("in ops")
        .expect("fake MCIAS");
    let auth = AgentAuth::Mcias {
        url: mcias.url.clone(),
        ca_pem: mcias.ca_pem.clone(),
        operator_roles: Vec::new(),
        admins: Vec::new(),
    };
    let pki = FleetPki::new().expect("pki");
    let bed = |mode, node: &str| {
        Testbed::new(mode)
            .unwrap_or_else(|e| panic!("{e}"))
            .in_fleet(&pki)
            .in_netns(fabric.path(node), fabric.address(node))
    };
    let (a_bed, b_bed) = (bed(Mode::Rootful, "a"), bed(Mode::Rootless, "b"));
    for compute in [&a_bed, &b_bed] {
        compute
            .example_image(Example::Notes, "v0.1.0")
            .expect("image");
    }
    let e_bed = bed(Mode::Rootful, "e").as_edge();
    // DNS in the operator's namespace too; each compute node registers its own
    // address.
    let bind = LocalBind::start_in(ZONE, &fabric.path("ops"), Fabric::OPS)
        .unwrap_or_else(|e| panic!("{e}"));
    let secret = a_bed.dir().join("tsig.secret");
    let dns = |ip: Ipv4Addr| bind.agent_section(&ip.to_string(), &secret).expect("dns");
    let bind_addr = bind.addr;
    let resolves = |host: &str| {
        let host = host.to_owned();
        fabric
            .run_in("ops", move || {
                mcp_core::node::dns::resolve(bind_addr, &host, "A", Duration::from_secs(2))
            })
            .expect("in ops")
            .expect("dns")
    };
    let (a_proxy, b_proxy, e_proxy) = (
        FakeMcProxy::start().expect("proxy"),
        FakeMcProxy::start().expect("proxy"),
        FakeMcProxy::start().expect("proxy"),
    );
    let mut a = a_bed
        .start_agent_with(
            &agent_bin(),
            &auth,
            &format!("{}\n{}", proxy_config(&a_proxy, &a_bed), dns(addr_a)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let _b = b_bed
        .start_agent_with(
            &agent_bin(),
            &auth,
            &format!("{}\n{}", proxy_config(&b_proxy, &b_bed), dns(addr_b)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let _e = e_bed
        .start_agent_with(
            &agent_bin(),
            &auth,
            &format!(
                "{}\n[edge]\nallowed_domains = [\"example.org\"]\n",
                proxy_config(&e_proxy, &e_bed)
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (a_name, b_name, e_name) = (a_bed.node(), b_bed.node(), e_bed.node());

    let dir = a_bed.dir();
    let services = dir.join("services");
    std::fs::create_dir_all(&services).expect("services");
    let config = pki
        .cli_config(
            dir,
            &[
                (a_name, format!("{addr_a}:9444"), "compute"),
                (b_name, format!("{addr_b}:9444"), "compute"),
                (e_name, format!("{addr_e}:9444"), "edge"),
            ],
            &services,
        )
        .expect("config");
    // The agents ask MCIAS: the operator's token is one it issued.
    mcp_core::fsutil::write_atomic(
        &dir.join("fleet-token"),
        FakeMcias::token_for("ops").as_bytes(),
        0o600,
    )
    .expect("token");

    let nodes = ok(&fabric, &config, &["node", "list"]);
    for (name, role, addr) in [
        (a_name, "compute", addr_a),
        (b_name, "compute", addr_b),
        (e_name, "edge", addr_e),
    ] {
        let r = row(&nodes, name);
        assert!(
            r.contains(role) && r.contains(&addr.to_string()) && r.contains("reachable"),
            "{nodes}"
        );
    }

    // A public service on A. The test plays the compute nodes' proxy listeners
    // (the recording proxies serve no traffic), each in its node's namespace, so
    // the edge node can probe them.
    let listen_a = fabric
        .run_in("a", move || TcpListener::bind((addr_a, 0)))
        .expect("in a")
        .expect("listener on A");
    let listener_port = listen_a.local_addr().expect("addr").port();
    let _listen_b = fabric
        .run_in("b", move || TcpListener::bind((addr_b, listener_port)))
        .expect("in b")
        .expect("listener on B");
    let name = a_bed.name("shop");
    let public = format!("shop-{}.example.org", a_bed.id);
    std::fs::write(
        services.join(format!("{name}.toml")),
        format!(
            "name = \"{name}\"\nnode = \"{a_name}\"\n\n[[components]]\nname = \"{name}\"\n\
             image = \"localhost/notes:v0.1.0\"\nenv = [\"NOTES_NAME={name}\"]\n\n\
             [[components.routes]]\nport = {listener_port}\nmode = \"l7\"\npublic = true\n\
             hostname = \"{public}\"\n"
        ),
    )
    .expect("definition");
    let deployed = ok(&fabric, &config, &["deploy", &name]);
    let internal = format!("{name}.{ZONE}");
    assert_eq!(resolves(&internal), [IpAddr::V4(addr_a)], "DNS at A");
    assert!(
        deployed.contains(&format!(
            "edge {e_name}: {public} → {addr_a}:{listener_port}"
        )),
        "{deployed}"
    );

    // The container answers on A's address, seen from the operator's namespace,
    // and nothing of it is on this machine's own loopback. A note is written
    // through it.
    let port = service_port(&fabric, &config, &name);
    let on_a = SocketAddr::new(IpAddr::V4(addr_a), port);
    let answer = fabric
        .run_in("ops", move || {
            http_get_at(on_a, "/healthz", 100)?;
            http_post(on_a, "/notes", "written on A")?;
            http_get_at(on_a, "/notes", 1)
        })
        .expect("in ops")
        .expect("the service answers on A's address");
    assert_eq!(answer, "written on A\n");
    assert!(
        !http_get(port, "/notes", 1).is_ok_and(|body| body.contains("written on A")),
        "not on the machine's loopback"
    );

    let ps = ok(&fabric, &config, &["ps"]);
    assert!(
        row(&ps, &name).contains(a_name) && row(&ps, &name).contains("running"),
        "{ps}"
    );
    let edge_status = |backend: std::net::Ipv4Addr| {
        let edge = ok(&fabric, &config, &["edge", "status"]);
        let r = row(&edge, e_name).to_owned();
        assert!(
            r.contains(&public)
                && r.contains(&format!("{backend}:{listener_port}"))
                && r.contains("reachable"),
            "{edge}"
        );
    };
    edge_status(addr_a);
    assert!(
        e_proxy
            .routes()
            .contains_key(&(":443".to_owned(), public.clone())),
        "the edge route"
    );

    // Migrated to B with its data: the CLI relays the snapshot from A's namespace
    // to B's; on B the service serves the note, and the edge route follows.
    let moved = ok(&fabric, &config, &["migrate", &name, "--to", b_name]);
    assert!(moved.contains(&format!("{name}: edge")), "{moved}");
    assert_eq!(resolves(&internal), [IpAddr::V4(addr_b)], "DNS follows");
    let on_b = SocketAddr::new(IpAddr::V4(addr_b), service_port(&fabric, &config, &name));
    let notes = fabric
        .run_in("ops", move || http_get_at(on_b, "/notes", 100))
        .expect("in ops")
        .expect("the service answers on B's address");
    assert_eq!(notes, "written on A\n");
    let ps = ok(&fabric, &config, &["ps"]);
    assert!(row(&ps, &name).contains(b_name), "{ps}");
    drop(listen_a);
    edge_status(addr_b);

    // A's agent goes down: B and E still answer, A is named unreachable.
    assert!(a.stop(), "A stops cleanly");
    let nodes = ok(&fabric, &config, &["node", "list"]);
    assert!(row(&nodes, a_name).contains("unreachable"), "{nodes}");
    for name in [b_name, e_name] {
        let r = row(&nodes, name);
        assert!(
            r.contains("reachable") && !r.contains("unreachable"),
            "{nodes}"
        );
    }
    assert!(ok(&fabric, &config, &["edge", "list"]).contains(&public));

    // Undeployed from B: nothing is left on the nodes that answered.
    let undeployed = ok(&fabric, &config, &["undeploy", &name]);
    assert!(
        undeployed.contains(&format!("edge {e_name}: removed {public}")),
        "{undeployed}"
    );
    assert!(e_proxy.routes().is_empty(), "{:?}", e_proxy.routes());
    assert!(resolves(&internal).is_empty(), "DNS record removed");
    for proxy in [&a_proxy, &b_proxy] {
        assert!(
            !proxy
                .routes()
                .keys()
                .any(|(_, h)| h.starts_with(name.as_str())),
            "{:?}",
            proxy.routes()
        );
    }
    let ps = text(&mcp(&fabric, &config, &["ps"]));
    assert!(!ps.lines().any(|l| l.starts_with(name.as_str())), "{ps}");
    assert!(
        ps.contains(&format!("{a_name}: cannot reach")),
        "A named: {ps}"
    );
}

/// The host port of `service`'s first route, from `mcp --json status`.
fn service_port(fabric: &Fabric, config: &Path, service: &str) -> u16 {
    let out = mcp(fabric, config, &["--json", "status", service]);
    assert!(out.status.success(), "{}", text(&out));
    port_in_status(&out.stdout)
}
