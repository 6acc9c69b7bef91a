//! Snapshots through the real binaries: a running service's data directory with a
//! live SQLite database (WAL) is snapshotted by its agent; `mcp snapshot list`
//! shows it; the archive restores to the same data, without the live WAL files.

use mcp_testkit::testbed::{Mode, Testbed};

mod common;

use common::mcp;

#[test]
fn snapshot_list_and_restore() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (agent, config, services) = common::token_node(&bed, "[snapshots]\nretain = 2\n");
    let name = bed.name("data");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml()
            + "\n[snapshot]\nexclude = [\"cache/\"]\n",
    )
    .expect("definition");
    let out = mcp(&config, &["deploy", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The service's data: a live SQLite database (kept open, so its WAL exists), a
    // config file, and a cache the definition excludes.
    let data = bed.dir().join("srv").join(&name);
    let db = mcp_core::node::registry::Registry::open(&data.join("app.db")).expect("db");
    db.append_event(&mcp_core::node::registry::NewEvent {
        actor: "app".into(),
        action: "write".into(),
        service: None,
        detail: "the data that must survive".into(),
        error: None,
    })
    .expect("write");
    std::fs::write(data.join("app.toml"), "x = 1\n").expect("toml");
    std::fs::create_dir_all(data.join("cache")).expect("cache");
    std::fs::write(data.join("cache/blob"), "junk").expect("blob");

    let out = mcp(&config, &["--json", "snapshot", &name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let file = snap["name"].as_str().expect("name").to_owned();
    let sha = snap["sha256"].as_str().expect("sha").to_owned();
    let list = mcp(&config, &["snapshot", "list", &name]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success() && text.contains(&file), "{text}");

    let archive = agent.dir.join("snapshots").join(&name).join(&file);
    let target = bed.dir().join("restored");
    mcp_core::node::snapshot::restore(&archive, &sha, &target, false, None).expect("restore");
    let listing: Vec<String> = std::fs::read_dir(&target)
        .expect("restored")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !target.join("app.db-wal").exists(),
        "no live WAL in the archive: {listing:?}"
    );
    let restored =
        mcp_core::node::registry::Registry::open(&target.join("app.db")).expect("restored db");
    let events = restored
        .events(&mcp_core::node::registry::EventQuery::default())
        .expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.detail == "the data that must survive"),
        "{events:?}"
    );
    assert!(target.join("app.toml").exists());
    assert!(!target.join("cache").exists(), "excluded");
    drop(db);

    // Retention: the newest two stay.
    for _ in 0..2 {
        assert!(mcp(&config, &["snapshot", &name]).status.success());
    }
    let list =
        String::from_utf8_lossy(&mcp(&config, &["snapshot", "list", &name]).stdout).into_owned();
    assert_eq!(
        list.lines()
            .filter(|l| l.ends_with(".tar.zst") || l.contains(".tar.zst"))
            .count(),
        2,
        "{list}"
    );
    assert!(!list.contains(&file), "{list}");
    assert!(mcp(&config, &["undeploy", &name]).status.success());
}
