//! The fleet end to end: three nodes on this machine, each provisioned with
//! `mcp node provision` over a real sshd into its own test root, each agent on
//! its own loopback address: compute node A (rootful Podman, 127.0.0.2), compute
//! node B (rootless Podman, 127.0.0.3) and edge node E (no Podman, 127.0.0.4),
//! each with its own recording mc-proxy, all registering names in one real BIND.
//!
//! A public service keeping its data in SQLite (the `notes` example) is deployed
//! on A (internal route on A, edge route on E, its name in DNS at A), a note is
//! written through it, and it is migrated to B, where it serves that note (DNS and
//! the edge route follow); every agent is upgraded (the container keeps running),
//! and A is taken down (it hangs: connections accepted, never answered):
//! `node list`, `ps`, `status`, `edge status` and `agent status` are checked at
//! each stage, and keep answering for B and E with A gone.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_testkit::bind::LocalBind;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::relay::Tarpit;
use mcp_testkit::sshd::{LocalSshd, service_script, stop_service, test_root};
use mcp_testkit::testbed::{Example, FleetPki, Mode, Testbed, http_get_at, http_post};

mod common;

use common::{agent_bin, mcp, ok, row, service_port, text};

const ZONE: &str = "svc.mcp.metacircular.net";

fn q(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

/// One node: its bed (image, cleanup by instance label), test root, proxy,
/// address and agent configuration.
struct Node {
    bed: Testbed,
    root: PathBuf,
    proxy: FakeMcProxy,
    ip: &'static str,
    port: u16,
}

impl Node {
    fn new(mode: Mode, pki: &FleetPki, ip: &'static str) -> Node {
        let bed = Testbed::new(mode)
            .unwrap_or_else(|e| panic!("{e}"))
            .in_fleet(pki);
        let root = test_root(&bed.dir().join("root")).expect("test root");
        let port = TcpListener::bind((ip, 0))
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        Node {
            proxy: FakeMcProxy::start().expect("fake mc-proxy"),
            bed,
            root,
            ip,
            port,
        }
    }

    fn name(&self) -> &str {
        self.bed.node()
    }

    fn data(&self, service: &str) -> PathBuf {
        self.root.join("srv").join(service)
    }

    /// `port` on the address this node publishes on.
    fn at(&self, port: u16) -> std::net::SocketAddr {
        (self.ip.parse::<std::net::IpAddr>().expect("ip"), port).into()
    }

    /// This node's own agent configuration file; returns its path.
    fn agent_config(&self, extra: &str) -> PathBuf {
        let text = format!(
            "[node]\npublish_address = \"{ip}\"\n\n{podman}\n\
             [ports]\nrange = \"{range}\"\n\n[monitor]\ninterval_secs = 1\n\n{proxy}\n{extra}",
            ip = self.ip,
            podman = self.bed.podman_section(),
            range = self.bed.port_range,
            proxy = self
                .proxy
                .agent_section(&self.bed.dir().join("proxy-certs")),
        );
        let path = self.bed.dir().join("agent-node.toml");
        std::fs::write(&path, text).expect("agent config");
        path
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        stop_service(&self.root);
    }
}

#[test]
fn three_nodes_public_service_migration_upgrade_and_a_node_down() {
    let pki = FleetPki::new().expect("pki");
    let sshd = LocalSshd::start().unwrap_or_else(|e| panic!("{e}"));
    let bind = LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}"));
    let a = Node::new(Mode::Rootful, &pki, "127.0.0.2");
    let b = Node::new(Mode::Rootless, &pki, "127.0.0.3");
    let e = Node::new(Mode::Rootful, &pki, "127.0.0.4");
    a.bed
        .example_image(Example::Notes, "v0.1.0")
        .expect("image");
    b.bed
        .example_image(Example::Notes, "v0.1.0")
        .expect("image");
    let dir = a.bed.dir();

    let dns = |ip: &str| {
        bind.agent_section(ip, &dir.join("tsig.secret"))
            .expect("dns")
    };
    let configs = [
        a.agent_config(&dns(a.ip)),
        b.agent_config(&dns(b.ip)),
        e.agent_config("[edge]\nallowed_domains = [\"example.org\"]\n"),
    ];

    let builds = dir.join("builds");
    std::fs::create_dir_all(&builds).expect("builds");
    let build = builds.join("mcp-agent-amd64");
    std::fs::copy(agent_bin(), &build).expect("build");
    std::fs::write(dir.join("ca.key"), pki.ca_key_pem()).expect("ca key");
    let services = dir.join("services");
    std::fs::create_dir_all(&services).expect("services");
    let config = pki.cli_config(dir, &[], &services).expect("config");
    let mut extra = std::fs::OpenOptions::new()
        .append(true)
        .open(&config)
        .expect("config");
    write!(
        extra,
        "\n[ssh]\noptions = {}\n\n[provision]\nagent_binaries = {}\nca_key = {}\n\
         auth = \"token-file\"\nstart_timeout_secs = 20\n",
        sshd.options_toml(),
        q(&builds),
        q(&dir.join("ca.key")),
    )
    .expect("append");
    for (n, (node, role)) in [(&a, "compute"), (&b, "compute"), (&e, "edge")]
        .into_iter()
        .enumerate()
    {
        let service = service_script(&node.root).expect("service script");
        write!(
            extra,
            "\n[[nodes]]\nname = \"{}\"\naddress = \"{}:{}\"\nssh = \"root@127.0.0.1\"\n\
             sudo = \"\"\nrole = \"{role}\"\nroot = {}\nagent_config = {}\nrestart_command = {}\n",
            node.name(),
            node.ip,
            node.port,
            q(&node.root),
            q(&configs[n]),
            q(&service),
        )
        .expect("node");
    }
    drop(extra);

    // Provision all three.
    for node in [&a, &b, &e] {
        let out = ok(&config, &["node", "provision", node.name()]);
        assert!(out.contains(&format!("{}: register", node.name())), "{out}");
    }
    let nodes = ok(&config, &["node", "list"]);
    for (node, role) in [(&a, "compute"), (&b, "compute"), (&e, "edge")] {
        let r = row(&nodes, node.name());
        assert!(
            r.contains(role) && r.contains("reachable") && r.trim_end().ends_with('0'),
            "{nodes}"
        );
    }

    // A public service on A. The test plays the compute nodes' proxy listeners
    // (the recording proxies serve no traffic), so the edge can probe them.
    let listen_a = TcpListener::bind((a.ip, 0)).expect("listener on A");
    let backend_port = listen_a.local_addr().expect("addr").port();
    let listen_b = TcpListener::bind((b.ip, backend_port)).expect("listener on B");
    let name = a.bed.name("shop");
    let public = format!("shop-{}.example.org", a.bed.id);
    let internal = format!("{name}.{ZONE}");
    let def_path = services.join(format!("{name}.toml"));
    std::fs::write(
        &def_path,
        format!(
            "name = \"{name}\"\nnode = \"{}\"\n\n[[components]]\nname = \"{name}\"\n\
             image = \"localhost/notes:v0.1.0\"\nenv = [\"NOTES_NAME={name}\"]\n\n\
             [[components.routes]]\nport = {backend_port}\n\
             mode = \"l7\"\npublic = true\nhostname = \"{public}\"\n",
            a.name()
        ),
    )
    .expect("definition");
    let deployed = ok(&config, &["deploy", &name]);
    assert!(
        deployed.contains(&format!(
            "edge {}: {public} → {}:{backend_port}",
            e.name(),
            a.ip
        )),
        "{deployed}"
    );
    let resolves = || {
        mcp_core::node::dns::resolve(bind.addr, &internal, "A", Duration::from_secs(2))
            .expect("dns")
    };
    assert_eq!(resolves(), [a.ip.parse::<std::net::IpAddr>().expect("ip")]);
    assert!(
        a.proxy
            .routes()
            .contains_key(&(format!(":{backend_port}"), internal.clone()))
    );
    let ps = ok(&config, &["ps"]);
    assert!(row(&ps, &name).contains(a.name()), "{ps}");
    let edge = ok(&config, &["edge", "status"]);
    let r = row(&edge, e.name());
    assert!(
        r.contains(&public)
            && r.contains(&format!("{}:{backend_port}", a.ip))
            && r.contains("reachable"),
        "{edge}"
    );
    let nodes = ok(&config, &["node", "list"]);
    assert!(row(&nodes, a.name()).trim_end().ends_with('1'), "{nodes}");

    // Its data: a note it keeps in SQLite in its data directory on A.
    let on_a = a.at(service_port(&config, &name));
    http_get_at(on_a, "/healthz", 100).expect("up");
    http_post(on_a, "/notes", "order 1").expect("note");
    assert!(a.data(&name).join("notes.db").exists());

    // Migrate to B: data, DNS and the edge route follow.
    let moved = ok(&config, &["migrate", &name, "--to", b.name()]);
    assert!(moved.contains(&format!("{name}: edge")), "{moved}");
    assert_eq!(
        http_get_at(b.at(service_port(&config, &name)), "/notes", 100).expect("notes on B"),
        "order 1\n",
        "the service on B serves the note written on A"
    );
    assert!(!a.data(&name).exists(), "A is clean");
    assert_eq!(resolves(), [b.ip.parse::<std::net::IpAddr>().expect("ip")]);
    let ps = ok(&config, &["ps"]);
    assert!(row(&ps, &name).contains(b.name()), "{ps}");
    drop(listen_a);
    let edge = ok(&config, &["edge", "status"]);
    let r = row(&edge, e.name());
    assert!(
        r.contains(&format!("{}:{backend_port}", b.ip)) && r.contains("reachable"),
        "{edge}"
    );
    let nodes = ok(&config, &["node", "list"]);
    assert!(row(&nodes, a.name()).trim_end().ends_with('0'), "{nodes}");
    assert!(row(&nodes, b.name()).trim_end().ends_with('1'), "{nodes}");

    // Upgrade every agent; the container on B keeps running.
    let container = || {
        let out = b
            .bed
            .podman(&["inspect", "--format", "{{.Id}} {{.State.Running}}", &name]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = container();
    assert!(before.ends_with("true"), "{before}");
    let mut bytes = std::fs::read(&build).expect("build");
    bytes.extend_from_slice(b"\0fleet upgrade\0");
    std::fs::write(&build, &bytes).expect("new build");
    let new = mcp_core::node::snapshot::sha256_file(&build).expect("hash");
    // E first: the fleet now runs two builds, and agent status says so.
    let upgraded = ok(&config, &["agent", "upgrade", e.name()]);
    assert!(
        upgraded.contains(&format!("{}: verify", e.name())),
        "{upgraded}"
    );
    let agents = ok(&config, &["agent", "status"]);
    assert!(
        agents.contains("2 different builds") && row(&agents, e.name()).contains(&new[..12]),
        "{agents}"
    );
    // Then every node: E is left alone, A and B upgraded.
    let upgraded = ok(&config, &["agent", "upgrade"]);
    assert!(
        upgraded.contains("already running this build"),
        "{upgraded}"
    );
    for node in [&a, &b] {
        assert!(
            upgraded.contains(&format!("{}: verify", node.name())),
            "{upgraded}"
        );
    }
    let agents = ok(&config, &["agent", "status"]);
    assert!(
        agents.contains(&format!("all reachable agents run {}", mcp_core::VERSION))
            && agents.contains(&new[..12]),
        "{agents}"
    );
    assert_eq!(container(), before, "the container kept running");

    // A goes down, and hangs rather than refusing: it accepts connections and
    // never answers. Everything else keeps answering; A is reported when its
    // timeout runs out.
    stop_service(&a.root);
    let a_addr: std::net::SocketAddr = format!("{}:{}", a.ip, a.port).parse().expect("addr");
    let _hung = Tarpit::start(a_addr).expect("tarpit");
    let nodes = ok(&config, &["node", "list"]);
    assert!(row(&nodes, a.name()).contains("unreachable"), "{nodes}");
    for node in [&b, &e] {
        let r = row(&nodes, node.name());
        assert!(
            r.contains("reachable") && !r.contains("unreachable"),
            "{nodes}"
        );
    }
    let out = mcp(&config, &["ps"]);
    let ps = text(&out);
    assert!(row(&ps, &name).contains(b.name()), "{ps}");
    assert!(ps.contains(a.name()), "A's failure is named: {ps}");
    let status = text(&mcp(&config, &["status"]));
    assert!(row(&status, &name).contains(b.name()), "{status}");
    assert!(status.contains(a.name()), "A's failure is named: {status}");
    // sync --prune asks every node: A's failure in place, B's plan still there.
    let sync = text(&mcp(&config, &["sync", "--dry-run", "--prune"]));
    assert!(sync.contains(a.name()), "A's failure is named: {sync}");
    assert!(
        sync.lines()
            .any(|l| l.contains(b.name()) && l.contains(name.as_str()) && l.contains("unchanged")),
        "{sync}"
    );
    let edge = ok(&config, &["edge", "status"]);
    assert!(row(&edge, e.name()).contains("reachable"), "{edge}");
    let out = mcp(&config, &["agent", "status"]);
    let agents = text(&out);
    assert_eq!(out.status.code(), Some(1), "{agents}");
    assert!(row(&agents, a.name()).contains("unreachable"), "{agents}");
    assert!(row(&agents, b.name()).contains(&new[..12]), "{agents}");

    // B's first address hangs too: its second one is tried, and answers.
    let b_hung = Tarpit::start(format!("{}:0", b.ip).parse().expect("addr")).expect("tarpit");
    let b_real = format!("{}:{}", b.ip, b.port);
    let text_now = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text_now.replace(
            &format!("address = \"{b_real}\"\n"),
            &format!(
                "address = \"{}\"\naddresses = [\"{b_real}\"]\n",
                b_hung.addr
            ),
        ),
    )
    .expect("config");
    let nodes = ok(&config, &["node", "list"]);
    let r = row(&nodes, b.name());
    assert!(r.contains(&b_real) && r.contains("reachable"), "{nodes}");

    ok(&config, &["undeploy", &name]);
    drop(listen_b);
}
