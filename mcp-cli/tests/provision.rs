//! Provisioning and agent upgrades through the real `mcp`, over a real `sshd` on
//! loopback, into a test root (a directory standing for the host's `/`: its own
//! `etc/passwd` for `useradd --prefix`, its own `srv/mcp`), never the machine's
//! own `/srv` or users. systemd is absent here, so the node's restart command is a
//! small script that does what `systemctl restart mcp-agent` would. The SSH user
//! is root, but privileged commands still go through a prefix (`env …`, standing
//! in for `sudo -n`), so the prefixing is exercised.
//!
//! Provision: `--dry-run` changes nothing; the real run creates the user, its
//! subordinate IDs, `/srv/mcp`, TLS, token, configuration, unit and binary,
//! starts the agent and registers the node; a second run changes nothing. A
//! service deployed there keeps its container through the upgrades. Upgrade: a
//! new build is installed and verified by the build NodeStatus reports; again is
//! a no-op; no build for the node's architecture is a clear error; a build that
//! does not start is rolled back to the previous one.

use std::io::Write;
use std::path::{Path, PathBuf};

use mcp_testkit::sshd::{LocalSshd, service_script, stop_service, test_root};
use mcp_testkit::testbed::{FleetPki, Mode, Testbed, containers_conf};

mod common;

use common::{agent_bin, mcp, ok, text};

fn sha256(path: &Path) -> String {
    mcp_core::node::snapshot::sha256_file(path).expect("hash")
}

/// The agent runs under the test root; stop it when the test ends, however it
/// ends.
struct RootAgent(PathBuf);

impl Drop for RootAgent {
    fn drop(&mut self) {
        stop_service(&self.0);
    }
}

#[test]
fn provision_then_upgrade_over_ssh() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let sshd = LocalSshd::start().unwrap_or_else(|e| panic!("{e}"));
    let pki = FleetPki::new().expect("pki");
    let dir = bed.dir();
    let node = bed.node();

    // The test root: the user database useradd works on, and the restart script.
    let root = test_root(&dir.join("root")).expect("test root");
    let service = service_script(&root).expect("service script");
    let _agent = RootAgent(root.clone());

    // Agent builds, per architecture.
    let builds = dir.join("builds");
    std::fs::create_dir_all(&builds).expect("builds");
    let first = builds.join("mcp-agent-amd64");
    std::fs::copy(agent_bin(), &first).expect("build");

    let q = |p: &Path| format!("{:?}", p.display().to_string());
    // The agent listens at the top of the bed's own port slice: below the
    // ephemeral range, so nothing else takes it while the node is provisioned (the
    // agent leases container ports from the bottom).
    let port = bed.port_range.end();
    let address = format!("127.0.0.1:{port}");
    std::fs::write(
        dir.join("agent-extra.toml"),
        format!(
            "[podman]\ncommand = [\"env\", \"CONTAINERS_CONF={}\", \"podman\"]\n\n\
             [monitor]\ninterval_secs = 1\n\n[ports]\nrange = \"{}\"\n",
            containers_conf().display(),
            bed.port_range
        ),
    )
    .expect("extra");
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
        "\n[ssh]\noptions = {}\n\n[provision]\nagent_binaries = {}\nagent_config = {}\n\
         ca_key = {}\nauth = \"token-file\"\nrestart_command = {}\nstart_timeout_secs = 10\n\n\
         [[nodes]]\nname = \"{node}\"\naddress = \"{address}\"\nssh = \"root@127.0.0.1\"\n\
         sudo = \"env MCP_PRIVILEGED=1\"\nroot = {}\n",
        sshd.options_toml(),
        q(&builds),
        q(&dir.join("agent-extra.toml")),
        q(&dir.join("ca.key")),
        q(&service),
        q(&root),
    )
    .expect("append");
    drop(extra);

    // Dry run: every step checked, nothing changed.
    let dry = ok(&config, &["node", "provision", node, "--dry-run"]);
    assert!(dry.contains("would change"), "{dry}");
    assert!(!dry.contains(" changed "), "{dry}");
    assert!(!root.join("srv/mcp").exists(), "{dry}");

    // The real run.
    let done = ok(&config, &["node", "provision", node]);
    for step in [
        "connect",
        "build",
        "user",
        "subids",
        "linger",
        "directories",
        "tls",
        "token",
        "config",
        "unit",
        "binary",
        "start",
        "register",
    ] {
        assert!(done.contains(&format!("{node}: {step}")), "{step}: {done}");
    }
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).expect("passwd");
    assert!(passwd.lines().any(|l| l.starts_with("mcp:")), "{passwd}");
    let subuid = std::fs::read_to_string(root.join("etc/subuid")).expect("subuid");
    assert!(subuid.contains("mcp:100000:65536"), "{subuid}");
    let unit =
        std::fs::read_to_string(root.join("etc/systemd/system/mcp-agent.service")).expect("unit");
    assert!(
        unit.contains(&format!(
            "ExecStart={}/srv/mcp/mcp-agent serve --config",
            root.display()
        )) && unit.contains("User=mcp")
            && unit.contains("KillMode=process"),
        "{unit}"
    );
    use std::os::unix::fs::PermissionsExt;
    let key_mode = std::fs::metadata(root.join("srv/mcp/agent.key"))
        .expect("key")
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);
    let nodes = ok(&config, &["node", "list"]);
    assert!(
        nodes.contains("reachable") && !nodes.contains("unreachable"),
        "{nodes}"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("privileged"))
            .expect("marker")
            .trim(),
        "1",
        "the restart went through the node's privilege prefix"
    );
    let registered = std::fs::read_to_string(&config).expect("config");
    assert!(registered.contains("arch = \"amd64\""), "{registered}");

    // Again: nothing to do.
    let again = ok(&config, &["node", "provision", node]);
    assert!(
        !again.contains(" changed ") && !again.contains("would change"),
        "{again}"
    );

    // A service on the node, whose container must survive the upgrades.
    let name = bed.name("kept");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");
    ok(&config, &["deploy", &name]);
    let container_id = || {
        let out = bed.podman(&["inspect", "--format", "{{.Id}} {{.State.Running}}", &name]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = container_id();
    assert!(before.ends_with("true"), "{before}");

    // Upgrade to a new build (the same program with a different hash).
    let mut bytes = std::fs::read(&first).expect("read build");
    bytes.extend_from_slice(b"\0mcp upgrade test build\0");
    std::fs::write(&first, &bytes).expect("new build");
    let new_sha = sha256(&first);
    let upgraded = ok(&config, &["agent", "upgrade"]);
    assert!(upgraded.contains(&format!("{node}: verify")), "{upgraded}");
    let status = ok(&config, &["agent", "status"]);
    assert!(status.contains(&new_sha[..12]), "{new_sha}: {status}");
    assert_eq!(
        sha256(&root.join("srv/mcp/mcp-agent")),
        new_sha,
        "installed in place"
    );
    assert!(root.join("srv/mcp/mcp-agent.old").exists(), "previous kept");
    assert_eq!(container_id(), before, "the container kept running");
    let again = ok(&config, &["agent", "upgrade", node]);
    assert!(again.contains("already running this build"), "{again}");

    // No build for the node's architecture.
    let arm = std::fs::read_to_string(&config)
        .expect("config")
        .replace("arch = \"amd64\"", "arch = \"arm64\"");
    std::fs::write(&config, arm).expect("arch");
    let out = mcp(&config, &["agent", "upgrade", node]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("no mcp-agent build for arm64") && said.contains("mcp-agent-arm64"),
        "{said}"
    );

    // A build that does not start is rolled back.
    std::fs::write(
        builds.join("mcp-agent-arm64"),
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo mcp-agent 9.9.9; exit 0; fi\nexit 1\n",
    )
    .expect("bad build");
    std::fs::set_permissions(
        builds.join("mcp-agent-arm64"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    let out = mcp(&config, &["agent", "upgrade", node]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("put back and restarted"), "{said}");
    let status = ok(&config, &["agent", "status"]);
    assert!(
        status.contains(&new_sha[..12]),
        "the previous build runs: {status}"
    );
    assert_eq!(container_id(), before, "the container kept running");

    ok(&config, &["undeploy", &name]);
}
