//! The node's host policy through the real binaries: what a definition asks of
//! the host that `[policy]` does not allow (a host path, a volume option, the
//! host network, a port outside the range, a symlink planted in the data
//! directory) is refused before any step, located in the file and naming the
//! key, both by `mcp deploy` and by `mcp validate --node`; nothing runs. What the
//! policy lists is allowed.

use mcp_testkit::testbed::{Mode, Testbed};

mod common;

use common::{mcp, ok, text};

#[test]
fn the_host_policy_refuses_what_it_does_not_allow() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let shared = bed.dir().join("shared");
    std::fs::create_dir_all(&shared).expect("shared");
    let extra = format!(
        "[policy]\nallowed_mounts = [{:?}]\n",
        shared.display().to_string()
    );
    let (_agent, config, services) = common::token_node(&bed, &extra);
    let name = bed.name("pol");
    let data = bed.dir().join("srv").join(name.as_str());
    std::fs::create_dir_all(&data).expect("data dir");
    std::os::unix::fs::symlink("/etc", data.join("etc")).expect("planted link");
    let definition = |extra: &str| {
        let def = bed.hello_definition(&name, "v0.1.0", "").to_toml();
        // After the component's own keys, before its routes.
        def.replacen(
            "[[components.routes]]",
            &format!("{extra}\n\n[[components.routes]]"),
            1,
        )
    };
    let file = services.join(format!("{name}.toml"));
    let refused: Vec<(String, &str)> = vec![
        ("volumes = [\"/:/host\"]".into(), "allowed_mounts"),
        ("volumes = [\"/etc:/etc\"]".into(), "allowed_mounts"),
        (
            format!(
                "volumes = [\"{}:/data:U\"]\nuser = \"4242:4242\"",
                data.display()
            ),
            "allowed_volume_options",
        ),
        (
            format!("volumes = [\"{}:/data:suid,dev,exec\"]", data.display()),
            "allowed_volume_options",
        ),
        ("network = \"host\"".into(), "allowed_networks"),
        ("ports = [\"127.0.0.1:22:8080\"]".into(), "range"),
        (
            format!("volumes = [\"{}:/x\"]", data.join("etc").display()),
            "allowed_mounts",
        ),
    ];
    for (asks, key) in &refused {
        std::fs::write(&file, definition(asks)).expect("definition");
        let out = mcp(&config, &["deploy", name.as_str()]);
        let said = text(&out);
        assert_eq!(out.status.code(), Some(1), "{asks}: {said}");
        assert!(said.contains("[policy]"), "{asks}: {said}");
        assert!(said.contains(key), "{asks}: names {key}: {said}");
        let checked = mcp(
            &config,
            &[
                "validate",
                "--node",
                bed.node(),
                file.to_str().expect("utf-8"),
            ],
        );
        let said = text(&checked);
        if !asks.contains("/x\"") {
            // The planted link is on the node's disk: only a deploy sees it.
            assert_eq!(
                checked.status.code(),
                Some(1),
                "validate --node {asks}: {said}"
            );
            assert!(
                said.contains(&format!("{}:", file.display())) && said.contains(key),
                "located in the file, naming {key}: {said}"
            );
        }
        assert!(
            !text(&mcp(&config, &["ps"])).contains(name.as_str()),
            "{asks}: nothing deployed"
        );
    }
    // Plain validate (no node) knows no policy: it accepts the host network.
    std::fs::write(&file, definition("network = \"host\"")).expect("definition");
    ok(&config, &["validate", file.to_str().expect("utf-8")]);

    // What the policy lists is allowed.
    std::fs::write(
        &file,
        definition(&format!("volumes = [\"{}:/shared:ro\"]", shared.display())),
    )
    .expect("definition");
    ok(
        &config,
        &[
            "validate",
            "--node",
            bed.node(),
            file.to_str().expect("utf-8"),
        ],
    );
    ok(&config, &["deploy", name.as_str()]);
    ok(&config, &["undeploy", name.as_str()]);
}

/// A legacy `ports` entry inside the range is leased like a route's port: the
/// deploy reports it, a second service asking for the same host port is refused
/// at step `ports` with nothing of the first touched, and an undeploy releases it.
#[test]
fn legacy_ports_are_leased() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let fixed = bed.port_range.end();
    let first = bed.name("fixed");
    let second = bed.name("fixed2");
    for (name, port) in [
        (&first, format!("{fixed}:8080")),
        (&second, format!("127.0.0.1:{fixed}:8080")),
    ] {
        let def = bed.hello_definition(name, "v0.1.0", "").to_toml().replacen(
            "[[components.routes]]",
            &format!("ports = [\"{port}\"]\n\n[[components.routes]]"),
            1,
        );
        std::fs::write(services.join(format!("{name}.toml")), def).expect("definition");
    }
    let deployed = ok(&config, &["deploy", first.as_str(), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&deployed).expect("json");
    let leased: Vec<(String, u64)> = report["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["route"].as_str().unwrap_or("").to_owned(),
                p["port"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert!(
        leased.contains(&("ports[0]".to_owned(), u64::from(fixed))),
        "the legacy port is leased: {deployed}"
    );
    let out = mcp(&config, &["deploy", second.as_str()]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(
        said.contains("step ports") && said.contains(&fixed.to_string()),
        "{said}"
    );
    assert!(said.contains(first.as_str()), "names the holder: {said}");
    assert!(
        !text(&mcp(&config, &["ps"])).contains(second.as_str()),
        "nothing of the second deployed"
    );
    let published = bed.podman(&["port", first.as_str()]);
    assert!(
        String::from_utf8_lossy(&published.stdout).contains(&format!("127.0.0.1:{fixed}")),
        "published on the publish address: {}",
        String::from_utf8_lossy(&published.stdout)
    );
    ok(&config, &["undeploy", first.as_str()]);
    ok(&config, &["deploy", second.as_str()]);
    ok(&config, &["undeploy", second.as_str()]);
}
