//! Placement and parallel sync through the real binaries: two compute agents
//! (A, B) and an edge agent (E) on this machine, one CLI configuration.
//!
//! While B is down, a `worker` definition naming no node is placed on A — the
//! edge node is never chosen, the node that cannot be asked is skipped —
//! first as `sync --dry-run` shows it (the file untouched), then by `mcp
//! deploy`, which writes `node` into the file after `name`, comments kept, and
//! the next deploy leaves it there. With B up, `mcp sync` places four more
//! services across A and B (each file written) and runs them: on a node given
//! several, their deploys overlap (each container started before another's
//! five-second readiness wait was over), and no host port is leased twice.
//! Within one deploy, too, a service's components are made at once.

use std::net::TcpListener;
use std::path::Path;

use mcp_testkit::testbed::{AgentAuth, FleetPki, Mode, RunningAgent, Testbed};

mod common;

use common::{agent_bin, ok, service_port};

/// A `worker` definition naming no node, with a comment, the hello image and
/// `extra` in its component.
fn unplaced(name: &str, extra: &str) -> String {
    format!(
        "# placed by mcp\nname = \"{name}\"\ntier = \"worker\" # any compute node\n\n\
         [[components]]\nname = \"{name}\"\nimage = \"localhost/hello:v0.1.0\"\n\
         env = [\"HELLO_NAME={name}\"]\n{extra}\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\n"
    )
}

fn start(bed: &Testbed, extra: &str) -> RunningAgent {
    bed.start_agent_with(&agent_bin(), &AgentAuth::TokenFile, extra)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The `node = "…"` a definition file names, if any.
fn node_in(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).expect("definition");
    text.lines()
        .find_map(|l| l.strip_prefix("node = \""))
        .map(|rest| rest.trim_end_matches('"').to_owned())
}

/// When the service's container started, nanoseconds since the epoch.
fn started_ns(bed: &Testbed, service: &str) -> i128 {
    let out = bed.podman(&[
        "container",
        "inspect",
        "--format",
        "{{.State.StartedAt.UnixNano}}",
        service,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("started at of {service}: {text}"))
}

#[test]
fn worker_services_are_placed_written_kept_and_synced_at_once() {
    let pki = FleetPki::new().expect("pki");
    let bed = |edge: bool| {
        let bed = Testbed::new(Mode::Rootful)
            .unwrap_or_else(|e| panic!("{e}"))
            .in_fleet(&pki);
        if edge { bed.as_edge() } else { bed }
    };
    let (a_bed, b_bed, e_bed) = (bed(false), bed(false), bed(true));
    for b in [&a_bed, &b_bed] {
        b.hello_image("v0.1.0").expect("image");
    }
    let a = start(&a_bed, "");
    let e = start(&e_bed, "[edge]\nallowed_domains = [\"example.org\"]\n");
    let (an, bn, en) = (a_bed.node(), b_bed.node(), e_bed.node());
    let services = a_bed.dir().join("services");
    std::fs::create_dir_all(&services).expect("services");
    let configure = |b_address: String| {
        pki.cli_config(
            a_bed.dir(),
            &[
                (an, a.address.to_string(), "compute"),
                (bn, b_address, "compute"),
                (en, e.address.to_string(), "edge"),
            ],
            &services,
        )
        .expect("config")
    };
    // B is down: nothing listens where the configuration says it is.
    let nowhere = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let config = configure(nowhere.to_string());

    // A dry run shows the placement and writes nothing.
    let first = a_bed.name("placed");
    let first_file = services.join(format!("{first}.toml"));
    let text = unplaced(&first, "");
    std::fs::write(&first_file, &text).expect("definition");
    let plan = ok(&config, &["sync", "--dry-run"]);
    let line = plan
        .lines()
        .find(|l| l.contains(first.as_str()) && l.contains("place"))
        .unwrap_or_else(|| panic!("no placement: {plan}"));
    assert!(line.contains(&format!("placed on {an}: ")), "{plan}");
    assert_eq!(std::fs::read_to_string(&first_file).expect("file"), text);

    // The deploy places it on A (the edge is never chosen, B cannot be asked)
    // and writes it down; the next deploy keeps it.
    let out = ok(&config, &["deploy", &first]);
    assert!(
        out.contains(&format!("{first}: placed on {an}: "))
            && out.contains("container")
            && out.contains("(written into its definition)"),
        "{out}"
    );
    let written = std::fs::read_to_string(&first_file).expect("file");
    assert_eq!(
        written,
        text.replacen(
            &format!("name = \"{first}\"\n"),
            &format!("name = \"{first}\"\nnode = \"{an}\"\n"),
            1
        ),
        "node written after name, the comments kept"
    );
    let again = ok(&config, &["deploy", &first]);
    assert!(!again.contains("placed on"), "{again}");
    assert_eq!(node_in(&first_file).as_deref(), Some(an));

    // B comes up; a sync places four services over A and B and runs them.
    let b = start(&b_bed, "");
    let config = configure(b.address.to_string());
    let names: Vec<String> = (1..=4)
        .map(|i| a_bed.name(&format!("many{i}")).to_string())
        .collect();
    for n in &names {
        std::fs::write(
            services.join(format!("{n}.toml")),
            unplaced(n, "ready_after = 5"),
        )
        .expect("definition");
    }
    let synced = ok(&config, &["sync"]);
    let mut by_node: Vec<(&str, Vec<&String>)> = vec![(an, Vec::new()), (bn, Vec::new())];
    for n in &names {
        let node = node_in(&services.join(format!("{n}.toml")))
            .unwrap_or_else(|| panic!("{n} not written: {synced}"));
        assert!(
            synced.contains(&format!("placed on {node}: ")),
            "{n} on {node}: {synced}"
        );
        let slot = by_node
            .iter_mut()
            .find(|(name, _)| *name == node)
            .unwrap_or_else(|| panic!("{n} placed on {node}, not a compute node"));
        slot.1.push(n);
    }

    // On each node given several, one deploy began before another's
    // readiness wait ended; no port leased twice.
    let mut overlapped = false;
    for ((node, placed), node_bed) in by_node.iter().zip([&a_bed, &b_bed]) {
        let mut starts: Vec<i128> = placed.iter().map(|n| started_ns(node_bed, n)).collect();
        starts.sort_unstable();
        overlapped |= starts.windows(2).any(|w| w[1] - w[0] < 4_000_000_000);
        let mut ports: Vec<u16> = placed.iter().map(|n| service_port(&config, n)).collect();
        if *node == an {
            ports.push(service_port(&config, &first));
        }
        let leased = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), leased, "a port leased twice on {node}");
    }
    assert!(
        overlapped,
        "services of one node synced one after another: {by_node:?}"
    );
    drop((a, b, e));
}

#[test]
fn a_deploy_makes_its_components_at_once() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("trio");
    let mut text = format!("name = \"{name}\"\nnode = \"{}\"\n", bed.node());
    for c in ["one", "two", "three"] {
        text.push_str(&format!(
            "\n[[components]]\nname = \"{c}\"\nimage = \"localhost/hello:v0.1.0\"\n\
             env = [\"HELLO_NAME={c}\"]\nready_after = 6\n\n[[components.routes]]\n\
             port = 8443\nmode = \"l7\"\nhostname = \"{c}-{name}.svc.mcp.metacircular.net\"\n"
        ));
    }
    std::fs::write(services.join(format!("{name}.toml")), text).expect("definition");
    let out = ok(&config, &["deploy", &name]);
    assert_eq!(out.matches("created").count(), 3, "{out}");
    // Made one after another, each would start six seconds (its readiness
    // wait) after the one before.
    let mut starts: Vec<i128> = ["one", "two", "three"]
        .iter()
        .map(|c| started_ns(&bed, &format!("{name}-{c}")))
        .collect();
    starts.sort_unstable();
    assert!(
        starts.windows(2).all(|w| w[1] - w[0] < 5_000_000_000),
        "components made one after another: {starts:?}"
    );
    drop(agent);
}
