//! Migration through the real binaries: two real agents (two nodes of one fleet,
//! sharing a CA and a token, each with its own recording mc-proxy, data root and
//! registry) and a real BIND. The stateful example service (`notes`, which keeps
//! its notes in SQLite in its data directory) moves from node A to node B with a
//! note written through it on A: on B it serves that note, A is left clean, the
//! route and the DNS record move. Three faults first, each of which must leave the
//! service running on A with its data and nothing on B: the target's data path not
//! writable, a checksum mismatch, the target unreachable mid-stream; and data
//! already on the target is refused without `--force` and left alone. Then
//! `--all --from B --to A` moves it back, with a note written on B, and stops at
//! the next service, whose data A already has: that one and the one after it keep
//! running on B.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_testkit::bind::LocalBind;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::relay::CutRelay;
use mcp_testkit::testbed::{
    AgentAuth, Example, FleetPki, Mode, RunningAgent, Testbed, http_get, http_post,
};

mod common;

use common::{agent_bin, mcp, service_port, text};

const ZONE: &str = "svc.mcp.metacircular.net";

/// One node: its bed, agent and proxy.
struct Node {
    /// First, so it is dropped (stopped) before the bed removes its containers: a
    /// running agent's monitor would bring them back.
    agent: RunningAgent,
    bed: Testbed,
    proxy: FakeMcProxy,
}

impl Node {
    fn start(pki: &FleetPki, bind: &LocalBind, mode: Mode, dns_address: &str) -> Node {
        let bed = Testbed::new(mode)
            .unwrap_or_else(|e| panic!("{e}"))
            .in_fleet(pki);
        bed.example_image(Example::Notes, "v0.1.0").expect("image");
        let proxy = FakeMcProxy::start().expect("fake mc-proxy");
        let dir = bed.dir();
        let extra = format!(
            "{}\n{}",
            proxy.agent_section(&dir.join("proxy-certs")),
            bind.agent_section(dns_address, &dir.join("tsig.secret"))
                .expect("dns")
        );
        let agent = bed
            .start_agent_with(&agent_bin(), &AgentAuth::TokenFile, &extra)
            .unwrap_or_else(|e| panic!("{e}"));
        Node { bed, agent, proxy }
    }

    fn data(&self, service: &str) -> PathBuf {
        self.bed.dir().join("srv").join(service)
    }

    fn snapshots(&self, service: &str) -> PathBuf {
        self.agent.dir.join("snapshots").join(service)
    }
}

/// What must hold while the service is (still, or again) on `a`.
fn on_node(config: &Path, name: &str, a: &Node, b: &Node, bind: &LocalBind, address: &str) {
    let ps = text(&mcp(config, &["ps"]));
    let line = ps
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} in ps: {ps}"));
    assert!(
        line.contains(a.bed.node()) && line.contains("running"),
        "{name} runs on {}: {ps}",
        a.bed.node()
    );
    assert_eq!(
        ps.lines().filter(|l| l.starts_with(name)).count(),
        1,
        "only once: {ps}"
    );
    assert!(a.data(name).join("notes.db").exists(), "data on the source");
    assert!(!b.data(name).exists(), "no data on the target");
    let host = format!("{name}.{ZONE}");
    let found =
        mcp_core::node::dns::resolve(bind.addr, &host, "A", Duration::from_secs(2)).expect("dns");
    assert_eq!(
        found,
        [address.parse::<std::net::IpAddr>().expect("ip")],
        "DNS"
    );
    assert!(
        a.proxy.routes().keys().any(|(_, h)| *h == host),
        "route on the source's proxy"
    );
    assert!(
        !b.proxy.routes().keys().any(|(_, h)| *h == host),
        "no route on the target's proxy"
    );
    let leftovers: Vec<_> = std::fs::read_dir(b.snapshots(name))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".incoming"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        leftovers.is_empty(),
        "no partial upload on the target: {leftovers:?}"
    );
}

/// The service's notes, asked through its published port.
fn notes(config: &Path, name: &str) -> String {
    http_get(service_port(config, name), "/notes", 100).expect("notes")
}

#[test]
fn migrate_with_data_and_faults() {
    let pki = FleetPki::new().expect("pki");
    let bind = LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}"));
    // The nodes share this machine's Podman, whose container names are global:
    // A runs rootful and B rootless (as compute nodes do), so each has its own.
    let a = Node::start(&pki, &bind, Mode::Rootful, "127.0.0.2");
    let b = Node::start(&pki, &bind, Mode::Rootless, "127.0.0.3");
    let relay = CutRelay::start(b.agent.address).expect("relay");
    let services = a.bed.dir().join("services");
    std::fs::create_dir_all(&services).expect("services");
    let config = pki
        .cli_config(
            a.bed.dir(),
            &[
                (a.bed.node(), a.agent.address.to_string(), "compute"),
                (b.bed.node(), relay.addr.to_string(), "compute"),
            ],
            &services,
        )
        .expect("config");
    let name = a.bed.name("moving");
    let def_path = services.join(format!("{name}.toml"));
    std::fs::write(&def_path, a.bed.notes_definition(&name, "v0.1.0").to_toml())
        .expect("definition");
    let out = mcp(&config, &["deploy", &name]);
    assert!(out.status.success(), "{}", text(&out));

    // The service's data: a note it keeps in its live SQLite database, and 2 MiB
    // that do not compress (so the copy takes many chunks).
    let on_a = service_port(&config, &name);
    http_get(on_a, "/healthz", 100).expect("up");
    http_post(([127, 0, 0, 1], on_a).into(), "/notes", "written on A").expect("note");
    assert_eq!(notes(&config, &name), "written on A\n");
    let mut noise = vec![0u8; 2 << 20];
    getrandom::fill(&mut noise).expect("random");
    std::fs::write(a.data(&name).join("blob"), &noise).expect("blob");
    on_node(&config, &name, &a, &b, &bind, "127.0.0.2");

    // Fault 1: the target's data path cannot be written (a file where the data
    // root should be).
    let b_root = b.bed.dir().join("srv");
    std::fs::write(&b_root, "not a directory").expect("block");
    let out = mcp(&config, &["migrate", &name, "--to", b.bed.node()]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("step copy") && said.contains("started again"),
        "{said}"
    );
    std::fs::remove_file(&b_root).expect("unblock");
    on_node(&config, &name, &a, &b, &bind, "127.0.0.2");

    // Fault 2: the snapshot changes after its checksum was taken (a bad disk).
    let fleet = mcp_core::fleet::Fleet::load(Some(&config)).expect("fleet");
    let a_snaps = a.snapshots(&name);
    let mut corrupt = |s: &mcp_core::fleet::migrate::MigrateStep| {
        if s.step == "snapshot" {
            let file = a_snaps.join(s.detail.split(' ').next().expect("name"));
            let mut bytes = std::fs::read(&file).expect("snapshot");
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
            std::fs::write(&file, bytes).expect("corrupt");
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let err = rt
        .block_on(fleet.migrate(&name, b.bed.node(), false, &mut corrupt))
        .expect_err("a corrupt snapshot is refused");
    let said = err.to_string();
    assert!(
        said.contains("step copy") && said.contains("started again"),
        "{said}"
    );
    assert!(
        said.to_lowercase().contains("checksum") || said.contains("sha"),
        "{said}"
    );
    on_node(&config, &name, &a, &b, &bind, "127.0.0.2");

    // Fault 3: the network to the target fails in the middle of the copy.
    relay.arm(512 * 1024);
    let out = mcp(&config, &["migrate", &name, "--to", b.bed.node()]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert_eq!(relay.cuts(), 1, "the relay cut the copy: {said}");
    assert!(
        said.contains("step copy") && said.contains("started again"),
        "{said}"
    );
    on_node(&config, &name, &a, &b, &bind, "127.0.0.2");

    // The target already has data for the service: refused without --force,
    // and the target's data is left alone.
    std::fs::create_dir_all(b.data(&name)).expect("stray");
    std::fs::write(b.data(&name).join("stray"), "the target's own").expect("stray");
    let out = mcp(&config, &["migrate", &name, "--to", b.bed.node()]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("--force") && said.contains("started again"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(b.data(&name).join("stray")).expect("kept"),
        "the target's own"
    );
    let ps = text(&mcp(&config, &["ps"]));
    assert!(
        ps.lines().any(|l| l.starts_with(name.as_str())
            && l.contains(a.bed.node())
            && l.contains("running")),
        "{ps}"
    );

    // The migration, restarted with --force, goes through.
    let out = mcp(
        &config,
        &["migrate", &name, "--to", b.bed.node(), "--force"],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(!b.data(&name).join("stray").exists(), "replaced");
    for step in [
        "stop",
        "snapshot",
        "copy",
        "deploy",
        "verify",
        "undeploy",
        "remove-data",
    ] {
        assert!(said.contains(&format!("{name}: {step}")), "{step}: {said}");
    }
    on_node(&config, &name, &b, &a, &bind, "127.0.0.3");
    assert_eq!(
        notes(&config, &name),
        "written on A\n",
        "the service on B serves the note written on A"
    );
    assert_eq!(
        std::fs::read(b.data(&name).join("blob")).expect("blob"),
        noise
    );
    let def = std::fs::read_to_string(&def_path).expect("definition");
    assert!(
        def.contains(&format!("node = \"{}\"", b.bed.node())),
        "{def}"
    );

    // Evacuating B brings it back, with what was written on B, and stops at the
    // first service that fails. In name order B runs "moving", "stay" and "then";
    // A already has data for "stay", so that one is refused and keeps running on
    // B, and "then" is never tried.
    let on_b = service_port(&config, &name);
    http_post(([127, 0, 0, 1], on_b).into(), "/notes", "written on B").expect("note");
    let (stay, then) = (a.bed.name("stay"), a.bed.name("then"));
    for other in [&stay, &then] {
        std::fs::write(
            services.join(format!("{other}.toml")),
            b.bed.notes_definition(other, "v0.1.0").to_toml(),
        )
        .expect("definition");
        let out = mcp(&config, &["deploy", other]);
        assert!(out.status.success(), "{}", text(&out));
    }
    std::fs::create_dir_all(a.data(&stay)).expect("stray");
    std::fs::write(a.data(&stay).join("stray"), "A's own").expect("stray");
    let evacuate = [
        "migrate",
        "--all",
        "--from",
        b.bed.node(),
        "--to",
        a.bed.node(),
    ];
    let out = mcp(&config, &evacuate);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(stay.as_str()) && said.contains("--force"),
        "{said}"
    );
    on_node(&config, &name, &a, &b, &bind, "127.0.0.2");
    assert_eq!(notes(&config, &name), "written on A\nwritten on B\n");
    let ps = text(&mcp(&config, &["ps"]));
    for other in [&stay, &then] {
        assert!(
            ps.lines().any(|l| l.starts_with(other.as_str())
                && l.contains(b.bed.node())
                && l.contains("running")),
            "{other} still on B: {ps}"
        );
    }
    assert!(!said.contains(&format!("{then}: stop")), "{said}");
    assert_eq!(
        std::fs::read_to_string(a.data(&stay).join("stray")).expect("kept"),
        "A's own"
    );
    for other in [&stay, &then] {
        let out = mcp(&config, &["undeploy", other]);
        assert!(out.status.success(), "{}", text(&out));
    }

    let out = mcp(&config, &["undeploy", &name]);
    assert!(out.status.success(), "{}", text(&out));
}
