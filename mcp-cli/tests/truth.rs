//! Commands tell the truth, through the real binaries: a deploy succeeds only
//! when its containers are ready (with or without a route, a crash at once is a
//! failure at step `health` with the container's last words, undone or put
//! back), and a configuration that is not there is an error, not an empty fleet.

use mcp_testkit::testbed::{Mode, Testbed, http_get};

mod common;

use common::{mcp, ok, service_port, text};

#[test]
fn a_deploy_succeeds_only_when_its_containers_are_ready() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (agent, config, services) = common::token_node(&bed, "");
    let write = |name: &str, crash: bool, extra: &str, routed: bool| {
        let mut def = bed.hello_definition(name, "v0.1.0", extra).to_toml();
        if crash {
            def = def.replace(
                &format!("env = [\"HELLO_NAME={name}\"]"),
                &format!("env = [\"HELLO_NAME={name}\", \"HELLO_CRASH=1\"]"),
            );
        }
        if !routed {
            def.truncate(def.find("[[components.routes]]").expect("a route"));
        }
        std::fs::write(services.join(format!("{name}.toml")), def).expect("definition");
    };
    let gone = |name: &str| {
        let out = bed.podman(&[
            "ps",
            "--all",
            "--quiet",
            "--filter",
            &format!("name=^{name}$"),
        ]);
        String::from_utf8_lossy(&out.stdout).trim().is_empty()
    };

    // A fresh service whose container exits at once: refused and undone.
    for (name, routed) in [(bed.name("crash"), true), (bed.name("crashworker"), false)] {
        write(&name, true, "ready_after = 2", routed);
        let out = mcp(&config, &["deploy", name.as_str()]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(4), "{said}");
        assert!(said.contains("step health"), "{said}");
        assert!(
            said.contains("HELLO_CRASH=1, exiting"),
            "its last log lines: {said}"
        );
        if !routed {
            assert!(said.contains("ready_after 2s"), "{said}");
        }
        assert!(
            gone(&name),
            "{name}'s container is removed: {}",
            agent.log()
        );
        assert!(
            !bed.dir().join("srv").join(name.as_str()).exists(),
            "the data directory it made is removed"
        );
        assert!(
            !text(&mcp(&config, &["ps"])).contains(name.as_str()),
            "not recorded"
        );
    }

    // A running service redeployed with a crashing version: the old one is back.
    let name = bed.name("steady");
    write(&name, false, "", true);
    ok(&config, &["deploy", name.as_str()]);
    let port = service_port(&config, &name);
    write(&name, true, "", true);
    let out = mcp(&config, &["deploy", name.as_str()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(
        http_get(port, "/", 100).expect("the previous version serves"),
        format!("{name} v0.1.0 port={port}\n")
    );
    ok(&config, &["undeploy", name.as_str()]);
}

/// `mcp` at a configuration of its own choosing, with `env` set and
/// `$MCP_CONFIG` unset unless `env` sets it.
fn mcp_with(
    home: &std::path::Path,
    env: &[(&str, &std::path::Path)],
    args: &[&str],
) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_mcp"));
    command
        .env_remove("MCP_CONFIG")
        .env("HOME", home)
        .env("NO_COLOR", "1");
    for (k, v) in env {
        command.env(k, v);
    }
    command.args(args).output().expect("run mcp")
}

#[test]
fn a_configuration_that_is_not_there_is_an_error_naming_it() {
    let home = tempfile::tempdir().expect("home");
    let missing = home.path().join("mistyped.toml");
    let said = |out: &std::process::Output| (out.status.code(), text(out));

    let (code, message) = said(&mcp(&missing, &["ps"]));
    assert_eq!(code, Some(3), "{message}");
    assert!(
        message.contains(&missing.display().to_string()) && message.contains("does not exist"),
        "--config: {message}"
    );
    let (code, message) = said(&mcp_with(
        home.path(),
        &[("MCP_CONFIG", &missing)],
        &["status", "x"],
    ));
    assert_eq!(code, Some(3), "$MCP_CONFIG: {message}");
    assert!(message.contains("does not exist"), "{message}");

    // None at the default path: how to make one.
    let (code, message) = said(&mcp_with(home.path(), &[], &["ps"]));
    assert_eq!(code, Some(3), "{message}");
    assert!(
        message.contains(".config/mcp/mcp.toml") && message.contains("mcp-agent init --local"),
        "{message}"
    );

    // A file without nodes.
    let empty = home.path().join("empty.toml");
    std::fs::write(&empty, "").expect("empty");
    let (code, message) = said(&mcp(&empty, &["ps"]));
    assert_eq!(code, Some(3), "{message}");
    assert!(message.contains("configures no nodes"), "{message}");

    // `node add` writes a configuration that is not there yet.
    ok(&missing, &["node", "add", "n1", "127.0.0.1:9444"]);
    assert!(missing.exists());
    // Validating a file needs no configuration.
    let def = home.path().join("svc.toml");
    std::fs::write(
        &def,
        "name = \"svc\"\nnode = \"n1\"\n\n[[components]]\nname = \"svc\"\nimage = \"localhost/hello:v0.1.0\"\n",
    )
    .expect("definition");
    let out = mcp_with(
        home.path(),
        &[],
        &["validate", def.to_str().expect("utf-8")],
    );
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn validate_reports_names_two_services_would_both_hold() {
    let dir = tempfile::tempdir().expect("dir");
    let def = |name: &str, component: &str, host: &str| {
        format!(
            "name = \"{name}\"\nnode = \"n1\"\n\n[[components]]\nname = \"{component}\"\nimage = \"localhost/hello:v0.1.0\"\n\n[[components.routes]]\nport = 443\nmode = \"l7\"\nhostname = \"{host}\"\n"
        )
    };
    let write =
        |file: &str, text: String| std::fs::write(dir.path().join(file), text).expect("write");
    write("uxapp.toml", def("uxapp", "api", "ux.example.net"));
    // Its one component is named like the service: container `uxapp-api` too.
    write(
        "uxapp-api.toml",
        def("uxapp-api", "uxapp-api", "api.example.net"),
    );
    write("shop.toml", def("shop", "shop", "UX.example.net"));
    let config = dir.path().join("none.toml");
    let out = mcp(&config, &["validate", dir.path().to_str().expect("utf-8")]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    let uxapp = dir.path().join("uxapp.toml").display().to_string();
    let container = said
        .lines()
        .find(|l| l.contains("container name \"uxapp-api\""))
        .unwrap_or_else(|| panic!("the container name clash: {said}"));
    assert!(
        container.contains("uxapp-api.toml")
            && container.contains(&uxapp)
            && container.contains("[unique-name]"),
        "both locations: {container}"
    );
    let host = said
        .lines()
        .find(|l| l.contains("hostname \"ux.example.net\""))
        .unwrap_or_else(|| panic!("the hostname clash, case aside: {said}"));
    assert!(
        host.contains("shop.toml")
            && host.contains(&uxapp)
            && host.contains("components[0].routes[0].hostname"),
        "both locations: {host}"
    );
}

#[test]
fn node_add_checks_what_it_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("mcp.toml");
    for (args, why) in [
        (&["n1", "node.example.net"][..], "no port"),
        (&["n1", "node.example.net:99999"][..], "port"),
        (&["n1", "[::1:9444"][..], "brackets"),
        (&["n1", "bad host:9444"][..], "DNS name"),
        (
            &["n1", "10.0.0.1:9444", "--arch", "sparc"][..],
            "unknown architecture",
        ),
        (&["bad/name", "10.0.0.1:9444"][..], "node"),
    ] {
        let mut argv = vec!["node", "add"];
        argv.extend(args);
        let out = mcp(&config, &argv);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert!(said.contains(why), "{args:?}: {said}");
        assert!(!config.exists(), "{args:?}: nothing written");
    }
    ok(
        &config,
        &["node", "add", "n1", "[::1]:9444", "--arch", "x86_64"],
    );
    let written = std::fs::read_to_string(&config).expect("config");
    assert!(written.contains("arch = \"amd64\""), "{written}");
    let out = mcp(&config, &["node", "add", "n1", "10.0.0.2:9444"]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(
        said.contains("--replace") && said.contains("[::1]:9444"),
        "{said}"
    );
    ok(
        &config,
        &["node", "add", "n1", "10.0.0.2:9444", "--replace"],
    );
    let written = std::fs::read_to_string(&config).expect("config");
    assert!(
        written.contains("10.0.0.2:9444") && !written.contains("::1"),
        "{written}"
    );
}

#[test]
fn logs_follow_a_component_across_restarts_and_redeploys() {
    use std::io::BufRead;
    use std::sync::mpsc;
    use std::time::Duration;
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    bed.hello_image("v0.2.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("follow");
    let write = |version: &str| {
        let def = bed.hello_definition(&name, version, "").to_toml();
        std::fs::write(services.join(format!("{name}.toml")), def).expect("definition");
    };
    write("v0.1.0");
    ok(&config, &["deploy", name.as_str()]);

    // --timestamps and --since, read once.
    let out = ok(&config, &["logs", name.as_str(), "--timestamps"]);
    let first = out.lines().next().unwrap_or_default();
    let (stamp, rest) = first.split_once(' ').unwrap_or_default();
    assert!(
        mcp_core::time::parse_rfc3339(stamp).is_some() && stamp.len() == 30,
        "an RFC 3339 time to the nanosecond first: {out}"
    );
    assert!(rest.contains(" v0.1.0 listening"), "{out}");
    assert!(ok(&config, &["logs", name.as_str(), "--since", "1h"]).contains("listening"));
    let future = ok(
        &config,
        &["logs", name.as_str(), "--since", "2099-01-01T00:00:00Z"],
    );
    assert!(
        future.trim().is_empty(),
        "nothing written since 2099: {future}"
    );
    let bad = mcp(&config, &["logs", name.as_str(), "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("neither a duration"), "{}", text(&bad));
    let json = ok(&config, &["--json", "logs", name.as_str(), "--tail", "1"]);
    let line: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert!(
        line["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{json}"
    );

    // -f: one process that stays with the component.
    let mut follower = std::process::Command::new(env!("CARGO_BIN_EXE_mcp"))
        .arg("--config")
        .arg(&config)
        .args(["logs", name.as_str(), "-f", "--since", "1h"])
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mcp logs -f");
    let stdout = follower.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let mut wait_for = |text: &str, n: usize| {
        for _ in 0..60 {
            if seen.iter().filter(|l| l.contains(text)).count() >= n {
                return;
            }
            while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                seen.push(l);
            }
        }
        let _ = follower.kill();
        panic!("{text:?} did not come {n} times: {seen:?}");
    };
    wait_for(" v0.1.0 listening", 1);
    ok(&config, &["restart", name.as_str()]);
    wait_for(" v0.1.0 listening", 2);
    write("v0.2.0");
    ok(&config, &["deploy", name.as_str()]);
    wait_for(" v0.2.0 listening", 1);
    // Undeployed: the follower ends by itself, successfully.
    ok(&config, &["undeploy", name.as_str()]);
    let mut status = None;
    for _ in 0..100 {
        status = follower.try_wait().expect("wait");
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let Some(status) = status else {
        let _ = follower.kill();
        panic!("mcp logs -f went on after the undeploy");
    };
    assert!(status.success(), "{status}");
    reader.join().expect("reader");
}

#[test]
fn only_changes_and_failed_changes_are_events() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("quiet");
    let file = services.join(format!("{name}.toml"));
    let def = bed.hello_definition(&name, "v0.1.0", "").to_toml();
    std::fs::write(&file, &def).expect("definition");
    let actions = || -> Vec<(String, bool)> {
        let out = ok(&config, &["--json", "events", name.as_str()]);
        let events: Vec<serde_json::Value> = serde_json::from_str(&out).expect("events");
        events
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or_default().to_owned(),
                    e["error"].is_string(),
                )
            })
            .collect()
    };
    let ok_ = |a: &str| (a.to_owned(), false);

    ok(&config, &["deploy", name.as_str()]);
    ok(&config, &["deploy", name.as_str()]);
    assert_eq!(
        actions(),
        [ok_("deploy")],
        "an unchanged deploy is no event"
    );
    ok(&config, &["stop", name.as_str()]);
    ok(&config, &["stop", name.as_str()]);
    assert_eq!(
        actions(),
        [ok_("deploy"), ok_("stop")],
        "stopping a stopped service"
    );
    ok(&config, &["start", name.as_str()]);
    ok(&config, &["recover"]);
    assert_eq!(
        actions(),
        [ok_("deploy"), ok_("stop"), ok_("start")],
        "recover with nothing to do"
    );
    // A failed change is one.
    std::fs::write(
        &file,
        def.replace("localhost/hello:v0.1.0", "localhost/hello:v9.9.9"),
    )
    .expect("definition");
    assert_eq!(
        mcp(&config, &["deploy", name.as_str()]).status.code(),
        Some(3)
    );
    assert_eq!(
        actions().last(),
        Some(&("deploy".to_owned(), true)),
        "{:?}",
        actions()
    );
    ok(&config, &["undeploy", name.as_str()]);
}

#[test]
fn documented_v1_keys_are_accepted_with_a_warning() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("legacy");
    let file = services.join(format!("{name}.toml"));
    let def = bed.hello_definition(&name, "v0.1.0", "").to_toml();
    assert!(!def.contains("[build]"), "{def}");
    let legacy = format!("{}\n\n[build]\nuses_mcdsl = true\n", def.trim_end());
    let line = legacy.lines().count();
    std::fs::write(&file, legacy).expect("definition");
    let path = file.to_str().expect("utf-8");

    let out = mcp(&config, &["validate", path]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "still valid: {said}");
    let warning = String::from_utf8_lossy(&out.stderr)
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("a warning on stderr: {said}"))
        .to_owned();
    assert!(
        warning.contains(&format!("{path}:{line}:1: build.uses_mcdsl"))
            && warning.contains("deprecated")
            && warning.contains("[build.images]")
            && warning.ends_with("[deprecated]"),
        "located, saying what replaces it: {warning}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&mcp(&config, &["--json", "validate", path]).stdout).expect("json");
    assert_eq!(json["ok"], true, "{json}");
    assert_eq!(json["warnings"][0]["rule"], "deprecated", "{json}");

    let out = mcp(&config, &["deploy", name.as_str()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("build.uses_mcdsl"),
        "deploy warns too: {}",
        text(&out)
    );
    ok(&config, &["undeploy", name.as_str()]);
}
