//! The node's host policy through the real binaries: what a definition asks of
//! the host that `[policy]` does not allow (a host path, a volume option, the
//! host network, a port outside the range, a symlink planted in the data
//! directory) is refused before any step, located in the file and naming the
//! key, both by `mcp deploy` and by `mcp validate --node`; nothing runs. What the
//! policy lists is allowed.

use mcp_testkit::testbed::{AgentAuth, Mode, Testbed};

mod common;

use common::{agent_bin, mcp, ok, text};

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
    let agent = bed
        .start_agent_with(&agent_bin(), &AgentAuth::TokenFile, &extra)
        .unwrap_or_else(|e| panic!("{e}"));
    let services = bed.dir().join("services");
    std::fs::create_dir_all(&services).expect("services");
    let config = agent
        .cli_config(bed.node(), &agent.token_file, &services, None)
        .expect("config");
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
