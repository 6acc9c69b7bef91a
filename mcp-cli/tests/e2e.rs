//! The real `mcp` against a real `mcp-agent` over TLS 1.3, with a fake MCIAS and
//! real Podman: every operator command, and the documented errors for bad tokens,
//! unknown services and invalid definitions, each changing nothing.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use mcp_testkit::fake_mcias::{Account, FakeMcias};
use mcp_testkit::testbed::{AgentAuth, Mode, Testbed, http_get};

mod common;

use common::agent_bin;

struct Cli {
    config: PathBuf,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[], None)
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp"));
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run mcp");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("mcp output")
    }

    /// Runs and expects exit code `code`; returns stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "mcp {args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_operator_command_against_a_real_agent() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let image = bed.hello_image("v0.1.0").expect("image");
    let mcias = FakeMcias::start(vec![
        Account::new("kyle", "hunter2", "user"),
        Account::new("visitor", "pw", "guest"),
    ])
    .expect("fake MCIAS");
    let mut agent = bed
        .start_agent(
            &agent_bin(),
            &AgentAuth::Mcias {
                url: mcias.url.clone(),
                ca_pem: mcias.ca_pem.clone(),
                operator_roles: vec!["user".into()],
                admins: Vec::new(),
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let services = bed.dir().join("services");
    std::fs::create_dir_all(&services).expect("services dir");
    let mcias_ca = bed.dir().join("mcias-ca.pem");
    std::fs::write(&mcias_ca, &mcias.ca_pem).expect("mcias ca");
    let token = bed.dir().join("token");
    let config = agent
        .cli_config(bed.node(), &token, &services, Some((&mcias.url, &mcias_ca)))
        .expect("cli config");
    let cli = Cli { config };
    let node = bed.node().to_owned();

    // login: password from stdin, token stored 0600.
    let out = cli.run_with(
        &["login", "--username", "kyle", "--password-stdin"],
        &[],
        Some("wrong\n"),
    );
    assert_eq!(
        out.status.code(),
        Some(7),
        "wrong password: {}",
        stderr(&out)
    );
    let out = cli.run_with(
        &["login", "--username", "kyle", "--password-stdin"],
        &[],
        Some("hunter2\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token)
            .expect("token")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hunter2"));

    // deploy, ps, status, logs.
    let name = bed.name("web");
    let def = bed.hello_definition(&name, "v0.1.0", "");
    std::fs::write(services.join(format!("{name}.toml")), def.to_toml()).expect("definition");
    let out = cli.expect(&["deploy", &name], 0);
    assert!(out.contains(&format!("{name}: created")), "{out}");
    let ps = cli.expect(&["ps"], 0);
    let header = ps.lines().next().expect("header");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["SERVICE", "COMPONENT", "NODE", "STATE", "VERSION", "UPTIME"]
    );
    let row = ps
        .lines()
        .find(|l| l.starts_with(name.as_str()))
        .unwrap_or_else(|| panic!("no row: {ps}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        [
            name.as_str(),
            name.as_str(),
            node.as_str(),
            "running",
            "v0.1.0"
        ],
        "{row}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&cli.expect(&["--json", "status", &name], 0)).expect("json");
    assert_eq!(status["components"][0]["state"], "running");
    let port = u16::try_from(
        status["components"][0]["ports"][0]["port"]
            .as_u64()
            .expect("port"),
    )
    .expect("u16");
    assert_eq!(
        http_get(port, "/", 100).expect("answers"),
        format!("{name} v0.1.0 port={port}\n")
    );
    let logs = cli.expect(&["logs", &name, "--tail", "20"], 0);
    assert!(logs.contains("listening on 0.0.0.0"), "{logs}");
    let streamed = cli.expect(&["--json", "logs", &name, "--tail", "5"], 0);
    for l in streamed.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["line"].is_string(), "one object per line: {l}");
    }
    let human = cli.expect(&["status", &name], 0);
    assert!(
        human.contains(&format!("port      (default route) -> {port}")),
        "{human}"
    );

    // stop, start, restart.
    cli.expect(&["stop", &name], 0);
    let ps = cli.expect(&["--json", "ps"], 0);
    assert!(ps.contains("\"exited\""), "{ps}");
    cli.expect(&["start", &name], 0);
    cli.expect(&["restart", &name], 0);
    http_get(port, "/", 100).expect("answers after restart");

    // Errors change nothing.
    let before = cli.expect(&["--json", "ps"], 0);
    let strip_uptime = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("started_at"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let secret = |name: &str, text: String| {
        mcp_core::fsutil::write_atomic(&bed.dir().join(name), text.as_bytes(), 0o600)
            .expect("write")
    };
    secret("bad-token", "not-a-token\n".into());
    secret("expired-token", format!("{}\n", FakeMcias::EXPIRED));
    secret(
        "guest-token",
        format!("{}\n", FakeMcias::token_for("visitor")),
    );
    for (file, needle) in [
        ("bad-token", "token rejected"),
        ("expired-token", "token rejected"),
        ("guest-token", "guest"),
    ] {
        let path = bed.dir().join(file);
        let out = cli.run_with(
            &["stop", &name],
            &[("MCP_AUTH_TOKEN_PATH", path.to_str().expect("utf-8"))],
            None,
        );
        assert_eq!(out.status.code(), Some(7), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{file}: {}", stderr(&out));
    }
    // A token others can read is refused before it is sent, naming the fix.
    let open = bed.dir().join("open-token");
    mcp_core::fsutil::write_atomic(
        &open,
        format!("{}\n", FakeMcias::token_for("kyle")).as_bytes(),
        0o644,
    )
    .expect("write");
    let out = cli.run_with(
        &["stop", &name],
        &[("MCP_AUTH_TOKEN_PATH", open.to_str().expect("utf-8"))],
        None,
    );
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("chmod 600 {}", open.display())),
        "{}",
        stderr(&out)
    );
    let out = cli.run(&["stop", "nosuchservice", "-n", &node]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("nosuchservice"), "{}", stderr(&out));
    let broken = services.join("broken.toml");
    std::fs::write(&broken, format!("name = \"broken\"\nnode = \"{node}\"\n[[components]]\nname = \"broken\"\nimage = \"{image}\"\nimage2 = 1\n")).expect("write");
    let out = cli.run(&["deploy", broken.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("broken.toml:6:1: components[0].image2: unknown key"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(&broken).expect("remove");
    let after = cli.expect(&["--json", "ps"], 0);
    assert_eq!(
        strip_uptime(&after),
        strip_uptime(&before),
        "errors changed nothing"
    );

    // recover: the container is lost, recover brings it back on its port.
    let rm = bed.podman(&["rm", "--force", "--time", "0", &name]);
    assert!(rm.status.success());
    // The agent's monitor may get there first; recover must be fine either way.
    cli.expect(&["recover"], 0);
    assert_eq!(
        http_get(port, "/", 100).expect("back"),
        format!("{name} v0.1.0 port={port}\n")
    );

    // adopt a hand-started container.
    let adopted = bed.name("hand");
    // The top of the bed's own port slice: below the ephemeral range, so nothing
    // else takes it before Podman binds it (the agent leases from the bottom).
    let hand_port = bed.port_range.end();
    let run = bed.podman(&[
        "run",
        "-d",
        "--name",
        &adopted,
        "--label",
        &format!("{}={}", mcp_testkit::testbed::TEST_LABEL, bed.id),
        "-e",
        &format!("PORT={hand_port}"),
        "-p",
        &format!("127.0.0.1:{hand_port}:{hand_port}"),
        &image,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    std::fs::write(
        services.join(format!("{adopted}.toml")),
        bed.hello_definition(&adopted, "v0.1.0", "").to_toml(),
    )
    .expect("definition");
    let out = cli.expect(&["adopt", &adopted], 0);
    assert!(out.contains("adopted"), "{out}");
    assert!(cli.expect(&["ps"], 0).contains(adopted.as_str()));

    // events: who did what.
    let events = cli.expect(&["events", &name], 0);
    assert!(
        events.starts_with("NODE ") && events.lines().next().is_some_and(|h| h.contains("ACTION")),
        "a header: {events}"
    );
    for action in ["deploy", "stop", "start", "restart"] {
        assert!(
            events
                .lines()
                .any(|l| l.contains(action) && l.contains("kyle")),
            "{action} by kyle:\n{events}"
        );
    }

    // The agent restarts (here with JSON logs); containers keep running meanwhile.
    assert!(agent.stop(), "agent log:\n{}", agent.log());
    let still = bed.podman(&["inspect", "--format", "{{.State.Status}}", &name]);
    assert_eq!(
        String::from_utf8_lossy(&still.stdout).trim(),
        "running",
        "container survived the agent"
    );
    agent
        .restart(&["--log-format", "json"])
        .unwrap_or_else(|e| panic!("{e}"));
    let ps = cli.expect(&["ps"], 0);
    assert!(
        ps.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains("running")),
        "{ps}"
    );
    let last = agent.log().lines().last().unwrap_or_default().to_owned();
    let json: serde_json::Value =
        serde_json::from_str(&last).unwrap_or_else(|e| panic!("not JSON ({e}): {last}"));
    assert!(
        json.get("level").is_some() && json.get("fields").is_some(),
        "{json}"
    );

    // node and agent views.
    let nodes = cli.expect(&["node", "list"], 0);
    assert!(nodes.contains("reachable"), "{nodes}");
    let agents = cli.expect(&["agent", "status"], 0);
    assert!(agents.contains(mcp_core::VERSION), "{agents}");
    let out = cli.run(&["route", "list", "-n", &node]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "not configured yet: {}",
        stderr(&out)
    );

    // undeploy both; nothing left.
    cli.expect(&["undeploy", &name], 0);
    cli.expect(&["undeploy", &adopted], 0);
    let ps = cli.expect(&["--json", "ps"], 0);
    assert_eq!(ps.trim(), "[]", "{ps}");

    // The agent stops cleanly on SIGTERM.
    assert!(agent.stop(), "agent log:\n{}", agent.log());
    assert!(agent.log().contains("mcp-agent stopped"), "{}", agent.log());
}

#[test]
fn edit_reopens_until_valid_and_keeps_comments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let services = dir.path().join("services");
    std::fs::create_dir_all(&services).expect("mkdir");
    let config = dir.path().join("mcp.toml");
    std::fs::write(
        &config,
        format!("[services]\ndir = {:?}\n", services.display().to_string()),
    )
    .expect("config");
    let original = "# keep me\nname = \"ed\"\nnode = \"n\"\n[[components]]\nname = \"ed\"\nimage = \"r.example/ed:v1.0.0\"\n";
    std::fs::write(services.join("ed.toml"), original).expect("definition");
    // An editor that first breaks the tag, then (seeing the errors) fixes it.
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nif grep -q '^# mcp:' \"$1\"; then sed -i 's/:latest/:v2.0.0/' \"$1\"; else sed -i 's/:v1.0.0/:latest/' \"$1\"; fi\n",
    )
    .expect("editor");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_mcp"))
        .args(["--config", config.to_str().expect("utf-8"), "edit", "ed"])
        .env("EDITOR", &editor)
        .env_remove("VISUAL")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pinned-version"),
        "errors were shown"
    );
    let saved = std::fs::read_to_string(services.join("ed.toml")).expect("read");
    assert_eq!(saved, original.replace(":v1.0.0", ":v2.0.0"));
}
