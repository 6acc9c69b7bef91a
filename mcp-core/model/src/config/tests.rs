//! Tests of the configuration files.

use super::agent::resolve_owner;
use super::*;

#[test]
fn hosts_of_addresses() {
    assert_eq!(host_of("10.0.0.2:9444"), "10.0.0.2");
    assert_eq!(host_of("[fd00::2]:9444"), "fd00::2");
    assert_eq!(host_of("rift.example:9444"), "rift.example");
    assert_eq!(host_of("rift"), "rift");
}

#[test]
fn nodes_are_added_and_removed_keeping_comments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mcp.toml");
    std::fs::write(
        &path,
        "# my fleet
[auth]
token_path = \"/t\"  # keep
",
    )
    .expect("write");
    let node = NodeEntry {
        name: "rift".into(),
        address: Some("100.95.252.120:9444".into()),
        addresses: vec!["192.168.88.181:9444".into()],
        ssh: Some("rift".into()),
        arch: Some("amd64".into()),
        ..Default::default()
    };
    add_node(&path, &node).expect("add");
    add_node(&path, &node).expect("add again replaces");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(
        text.starts_with("# my fleet\n[auth]\ntoken_path = \"/t\"  # keep\n"),
        "{text}"
    );
    let c = CliConfig::load(&path).expect("load");
    assert_eq!(c.nodes, vec![node]);
    assert!(remove_node(&path, "rift").expect("remove"));
    assert!(!remove_node(&path, "rift").expect("remove again"));
    assert!(CliConfig::load(&path).expect("load").nodes.is_empty());
}

const AGENT: &str = r#"
[server]
listen = "127.0.0.1:9444"
tls_cert = "/srv/mcp/certs/cert.pem"
tls_key = "/srv/mcp/certs/key.pem"

[node]
name = "rift"
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn agent_defaults_and_environment_overrides() {
    let p = Path::new("mcp-agent.toml");
    let c = AgentConfig::parse(AGENT, p, &[]).expect("parse");
    assert_eq!(c.database.path, PathBuf::from("/srv/mcp/mcp.db"));
    assert_eq!(c.auth.mode, AuthMode::Mcias);
    assert_eq!(c.podman.command, ["podman"]);
    assert_eq!(c.conventions.network, "mcpnet");
    let c = AgentConfig::parse(
        AGENT,
        p,
        &env(&[
            ("MCP_AGENT_SERVER_LISTEN", "127.0.0.1:9555"),
            ("MCP_AGENT_MONITOR_ENABLED", "false"),
            ("MCP_AGENT_PODMAN_COMMAND", "[\"sudo\", \"podman\"]"),
            ("MCP_AGENT_PORTS_RANGE", "20000-20100"),
            ("MCP_AGENT_CONVENTIONS_ZONE", "example.net"),
            ("OTHER_VAR", "x"),
        ]),
    )
    .expect("parse");
    assert_eq!(c.server.listen.port(), 9555);
    assert!(!c.monitor.enabled);
    assert_eq!(c.podman.command, ["sudo", "podman"]);
    assert_eq!(c.port_range().expect("range").start(), 20000);
    assert_eq!(c.conventions.zone, "example.net");
}

#[test]
fn data_owner_is_a_user_name_or_uid_and_gid() {
    let dir = tempfile::tempdir().expect("tmp");
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        "root:x:0:0:root:/root:/bin/bash\nmcp:x:1001:1002::/srv/mcp:/bin/sh\n",
    )
    .expect("passwd");
    assert_eq!(resolve_owner("mcp", &passwd), Ok((1001, 1002)));
    assert_eq!(resolve_owner("1001:100", &passwd), Ok((1001, 100)));
    let err = resolve_owner("nobody-here", &passwd).expect_err("unknown");
    assert!(
        err.contains("nobody-here") && err.contains("passwd"),
        "{err}"
    );
    let err = resolve_owner("mcp:staff", &passwd).expect_err("not numeric");
    assert!(err.contains("UID:GID"), "{err}");

    let p = Path::new("/srv/mcp/mcp-agent.toml");
    let c = AgentConfig::parse(
        &format!("{AGENT}\n[podman]\ndata_owner = \"root\"\n"),
        p,
        &[],
    )
    .expect("root exists");
    assert_eq!(c.data_owner().expect("owner"), Some((0, 0)));
    let err = AgentConfig::parse(
        &format!("{AGENT}\n[podman]\ndata_owner = \"no-such-user-here\"\n"),
        p,
        &[],
    )
    .expect_err("unknown user");
    let msg = err.to_string();
    assert!(
        msg.contains("mcp-agent.toml") && msg.contains("podman.data_owner"),
        "{msg}"
    );
}

#[test]
fn agent_errors_name_the_file_and_the_problem() {
    let p = Path::new("/srv/mcp/mcp-agent.toml");
    let err =
        AgentConfig::parse(&format!("{AGENT}\n[server2]\nx = 1\n"), p, &[]).expect_err("unknown");
    let msg = err.to_string();
    assert!(
        msg.contains("/srv/mcp/mcp-agent.toml") && msg.contains("server2"),
        "{msg}"
    );
    let token_mode = format!("{AGENT}\n[auth]\nmode = \"token-file\"\ntoken_file = \"/t\"\n");
    AgentConfig::parse(&token_mode, p, &[]).expect("loopback is fine");
    let err = AgentConfig::parse(
        &token_mode,
        p,
        &env(&[("MCP_AGENT_SERVER_LISTEN", "0.0.0.0:9444")]),
    )
    .expect_err("token file off loopback");
    assert!(err.to_string().contains("loopback only"), "{err}");
    let err =
        AgentConfig::parse(AGENT, p, &env(&[("MCP_AGENT_PORTS_RANGE", "9-1")])).expect_err("range");
    assert!(err.to_string().contains("ports.range"), "{err}");
}

#[test]
fn cli_config_nodes_and_overrides() {
    let text = r#"
[[nodes]]
name = "rift"
address = "100.95.252.120:9444"
addresses = ["192.168.88.181:9444"]
ssh = "rift"
arch = "amd64"

[auth]
token_path = "~/.config/mcp/token"
"#;
    let p = Path::new("mcp.toml");
    let c = CliConfig::parse(
        text,
        p,
        &env(&[("MCP_AUTH_TOKEN_PATH", "/tmp/tok"), ("MCP_CONFIG", "/x")]),
    )
    .expect("parse");
    assert_eq!(c.token_path(), PathBuf::from("/tmp/tok"));
    assert_eq!(
        c.node("rift", p).expect("node").all_addresses(),
        ["100.95.252.120:9444", "192.168.88.181:9444"]
    );
    let err = c.node("orion", p).expect_err("unknown");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("known: rift"), "{err}");
    assert_eq!(CliConfig::parse("", p, &[]).expect("empty").nodes.len(), 0);
}
