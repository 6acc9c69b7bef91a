//! Images end to end, against a real registry with TLS and basic auth: edit a
//! definition's version, `mcp sync --dry-run` shows build and redeploy, `mcp sync`
//! builds, pushes and redeploys, `mcp ps` shows the new version; and the errors:
//! missing Dockerfile, failing build (nothing pushed), no source, missing tag.

use std::path::Path;

use mcp_testkit::registry::LocalRegistry;
use mcp_testkit::testbed::{AgentAuth, Mode, Testbed};

mod common;

use common::{agent_bin, mcp, text};

#[test]
fn sync_builds_pushes_and_redeploys_a_new_version() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let registry = LocalRegistry::start_tls("mcpuser", "mcppass").unwrap_or_else(|e| panic!("{e}"));
    let dir = bed.dir();
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let registry_toml = common::registry_section(&bed, &registry);
    let agent = bed
        .start_agent_with(&agent_bin(), &AgentAuth::TokenFile, &registry_toml)
        .unwrap_or_else(|e| panic!("{e}"));
    let services = dir.join("services");
    let workspace = dir.join("workspace");
    std::fs::create_dir_all(&services).expect("services");
    let config = agent
        .cli_config(bed.node(), &agent.token_file, &services, None)
        .expect("config");
    let mut text_config = std::fs::read_to_string(&config).expect("read");
    text_config.push_str(&format!(
        "\n[build]\nworkspace = {}\n\n{registry_toml}",
        q(&workspace)
    ));
    std::fs::write(&config, text_config).expect("write");

    // A service whose source tree is the example's build context.
    let name = bed.name("img");
    let src = workspace.join(&name);
    std::fs::create_dir_all(&src).expect("src");
    let ctx = mcp_testkit::testbed::hello_context().expect("context");
    for f in ["Dockerfile", "hello"] {
        std::fs::copy(ctx.join(f), src.join(f)).expect("copy");
    }
    let def_path = services.join(format!("{name}.toml"));
    let definition = |version: &str| {
        format!(
            "name = \"{name}\"\nnode = \"{}\"\n\n[build.images]\n{name} = \"Dockerfile\"\n\n[[components]]\nname = \"{name}\"\nimage = \"{}/mcp/{name}:{version}\"\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\n",
            bed.node(),
            registry.host
        )
    };
    std::fs::write(&def_path, definition("v0.1.0")).expect("definition");

    let plan = mcp(&config, &["sync", "--dry-run"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let out = text(&plan);
    assert!(
        out.contains("build") && out.contains("not in the registry"),
        "{out}"
    );
    assert!(out.contains("deploy"), "{out}");

    let synced = mcp(&config, &["sync"]);
    assert!(synced.status.success(), "{}", text(&synced));
    let ps = text(&mcp(&config, &["ps"]));
    assert!(
        ps.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains("running") && l.contains("v0.1.0")),
        "{ps}"
    );

    // A new version: the plan says build, redeploy; sync does it.
    std::fs::write(&def_path, definition("v0.2.0")).expect("definition");
    let plan = text(&mcp(&config, &["sync", "--dry-run"]));
    let mine: Vec<&str> = plan.lines().filter(|l| l.contains(name.as_str())).collect();
    assert!(mine.iter().any(|l| l.contains("build")), "{plan}");
    assert!(mine.iter().any(|l| l.contains("redeploy")), "{plan}");
    let synced = mcp(&config, &["sync"]);
    assert!(synced.status.success(), "{}", text(&synced));
    let ps = text(&mcp(&config, &["ps"]));
    assert!(
        ps.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains("running") && l.contains("v0.2.0")),
        "{ps}"
    );

    // Unchanged stays unchanged; `active = false` stops; back to active starts.
    let plan = text(&mcp(&config, &["sync", "--dry-run"]));
    assert!(
        plan.lines()
            .any(|l| l.contains(name.as_str()) && l.contains("unchanged")),
        "{plan}"
    );
    let inactive = definition("v0.2.0").replacen("\n\n", "\nactive = false\n\n", 1);
    std::fs::write(&def_path, &inactive).expect("definition");
    let plan = text(&mcp(&config, &["sync", "--dry-run"]));
    assert!(
        plan.lines().any(|l| l.contains(name.as_str())
            && l.contains("stop")
            && l.contains("active = false")),
        "{plan}"
    );
    assert!(mcp(&config, &["sync"]).status.success());
    let ps = text(&mcp(&config, &["ps"]));
    assert!(
        ps.lines()
            .any(|l| l.starts_with(name.as_str()) && !l.contains("running")),
        "{ps}"
    );
    std::fs::write(&def_path, definition("v0.2.0")).expect("definition");
    let plan = text(&mcp(&config, &["sync", "--dry-run"]));
    assert!(
        plan.lines().any(|l| l.contains(name.as_str())
            && l.contains("start")
            && l.contains("active = true")),
        "{plan}"
    );
    assert!(mcp(&config, &["sync"]).status.success());
    // A service stopped by hand stays stopped across syncs.
    assert!(mcp(&config, &["stop", &name]).status.success());
    let synced = text(&mcp(&config, &["sync"]));
    assert!(
        synced.lines().any(|l| l.contains(name.as_str())
            && l.contains("unchanged")
            && l.contains("mcp start")),
        "{synced}"
    );
    assert!(mcp(&config, &["start", &name]).status.success());

    // `mcp build` prints progress and `key: ok`.
    let built = mcp(&config, &["build", &name]);
    assert!(built.status.success(), "{}", text(&built));
    assert!(
        text(&built)
            .lines()
            .any(|l| l.starts_with(&format!("{name}: ok (")) && l.contains("sha256:")),
        "{}",
        text(&built)
    );
    let built = mcp(&config, &["--json", "build", &name]);
    let summary: serde_json::Value = serde_json::from_slice(&built.stdout).expect("json");
    assert_eq!(summary[0]["status"], "ok", "{summary}");
    assert!(
        summary[0]["bytes"].as_u64().is_some_and(|b| b > 0),
        "{summary}"
    );
    // A wrong password: the push is refused, exit 7.
    std::fs::write(dir.join("registry-password"), "wrong\n").expect("password");
    let refused = mcp(&config, &["build", &name]);
    assert_eq!(refused.status.code(), Some(7), "{}", text(&refused));
    assert!(text(&refused).contains("pushing"), "{}", text(&refused));
    std::fs::write(dir.join("registry-password"), "mcppass\n").expect("password");

    // Errors, each pushing and deploying nothing.
    let broken = bed.name("broken");
    std::fs::create_dir_all(workspace.join(&broken)).expect("src");
    std::fs::write(
        workspace.join(&broken).join("Dockerfile"),
        "FROM scratch\nCOPY does-not-exist /x\n",
    )
    .expect("dockerfile");
    std::fs::write(
        services.join(format!("{broken}.toml")),
        definition("v0.1.0").replace(name.as_str(), &broken),
    )
    .expect("def");
    let out = mcp(&config, &["build", &broken]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("building") && text(&out).contains("nothing was pushed"),
        "{}",
        text(&out)
    );
    std::fs::remove_file(workspace.join(&broken).join("Dockerfile")).expect("rm");
    let out = mcp(&config, &["build", &broken]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "missing Dockerfile: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("Dockerfile") && text(&out).contains("does not exist"),
        "{}",
        text(&out)
    );
    // No source at all: sync reports it, the other service is unaffected, exit 1.
    std::fs::remove_dir_all(workspace.join(&broken)).expect("rm");
    let out = mcp(&config, &["sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("mcp build {broken}")),
        "{}",
        text(&out)
    );
    let ps = text(&mcp(&config, &["ps"]));
    assert!(
        ps.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains("v0.2.0")),
        "{ps}"
    );
    assert!(!ps.contains(broken.as_str()), "{ps}");
    std::fs::remove_file(services.join(format!("{broken}.toml"))).expect("rm");

    // Deploying a tag that is not in the registry fails before touching anything.
    std::fs::write(&def_path, definition("v9.9.9")).expect("definition");
    let out = mcp(&config, &["deploy", &name]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("mcp/{name}:v9.9.9")),
        "{}",
        text(&out)
    );
    let ps = text(&mcp(&config, &["ps"]));
    assert!(
        ps.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains("running") && l.contains("v0.2.0")),
        "{ps}"
    );

    // Without its definition, --prune plans the service's undeploy (and does it).
    std::fs::remove_file(&def_path).expect("rm definition");
    let plan = text(&mcp(&config, &["sync", "--dry-run", "--prune"]));
    assert!(
        plan.lines().any(|l| l.contains(name.as_str())
            && l.contains("undeploy")
            && l.contains("no definition")),
        "{plan}"
    );
    let out = mcp(&config, &["sync", "--prune"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&mcp(&config, &["ps"])).contains(name.as_str()));
}
