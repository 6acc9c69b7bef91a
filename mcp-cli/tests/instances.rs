//! Two agents on one host with the same node name (as two `mcp-agent init
//! --local` nodes are, both named `local`) each own only the containers they
//! made: neither's monitor takes the other's for orphans, because the instance
//! label is an id each made with its own registry.

use std::time::{Duration, Instant};

use mcp_testkit::testbed::{AgentAuth, Mode, RunningAgent, Testbed};

mod common;

use common::{agent_bin, ok};

/// The id of the running container `name`, if one runs.
fn running(bed: &Testbed, name: &str) -> Option<String> {
    let out = bed.podman(&[
        "ps",
        "--filter",
        &format!("name=^{name}$"),
        "--quiet",
        "--no-trunc",
    ]);
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!id.is_empty()).then_some(id)
}

#[test]
fn two_agents_with_one_node_name_leave_each_other_alone() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let start = |dir: &str| -> RunningAgent {
        bed.start_agent_in(dir, &agent_bin(), &AgentAuth::TokenFile, "")
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let agents = [start("agent-a"), start("agent-b")];
    let mut nodes = Vec::new();
    for (agent, which) in agents.iter().zip(["one", "two"]) {
        let services = bed.dir().join(format!("services-{which}"));
        std::fs::create_dir_all(&services).expect("services");
        let config = agent
            .cli_config(bed.node(), &agent.token_file, &services, None)
            .expect("config");
        let name = bed.name(which);
        let def = bed.hello_definition(&name, "v0.1.0", "").to_toml();
        std::fs::write(services.join(format!("{name}.toml")), def).expect("definition");
        ok(&config, &["deploy", name.as_str()]);
        nodes.push((config, name.to_string()));
    }
    // Each agent repairs its own container; the other one's is never touched.
    for (mine, theirs) in [(0, 1), (1, 0)] {
        let (mine, theirs) = (&nodes[mine].1, &nodes[theirs].1);
        let before = running(&bed, theirs).expect("theirs runs");
        let old = running(&bed, mine).expect("mine runs");
        let rm = bed.podman(&["rm", "--force", "--time", "0", mine]);
        assert!(
            rm.status.success(),
            "{}",
            String::from_utf8_lossy(&rm.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while running(&bed, mine).is_none_or(|id| id == old) {
            assert!(Instant::now() < deadline, "{mine} was never recreated");
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            running(&bed, theirs),
            Some(before),
            "{theirs} is left alone by the agent that repaired {mine}"
        );
    }
    for (config, name) in &nodes {
        ok(config, &["undeploy", name]);
    }
}
