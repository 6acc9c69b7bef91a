//! Releases through the real binaries on a local node: revisions recorded by
//! every deploy that changes a service (with the digest each image ran, and a
//! failed one too), `mcp history`, `mcp rollback` by digest (a tag rebuilt with
//! other content does not change what comes back) with the definition file
//! edited to match, comments kept; the same against a real registry, where a
//! tag pushed again with other content does not change what `rollback --to 1`
//! pulls and runs; and `mcp snapshot restore` bringing back a note the `notes`
//! example lost.

use std::path::Path;

use mcp_testkit::registry::LocalRegistry;
use mcp_testkit::testbed::{Example, Mode, Testbed, http_get, http_post};

mod common;

use common::{mcp, ok, service_port, text};

/// The hello service's definition file as an operator writes it, comments
/// and all, at `version`, with `extra` more environment.
fn definition(bed: &Testbed, name: &str, version: &str, extra: &str) -> String {
    format!(
        "# The release test service.\nname = \"{name}\"\nnode = \"{}\"   # the bed's node\n\n\
         [[components]]\nname = \"{name}\"\n# pinned by the test\nimage = \"localhost/hello:{version}\"\n\
         env = [\"HELLO_NAME={name}\"{extra}]\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\n",
        bed.node()
    )
}

/// What the service answers on `/`.
fn answer(config: &Path, name: &str) -> String {
    http_get(service_port(config, name), "/", 20).unwrap_or_else(|e| panic!("GET /: {e}"))
}

fn history(config: &Path, name: &str) -> Vec<serde_json::Value> {
    let out = ok(config, &["--json", "history", name]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn history_and_rollback_by_digest_with_the_definition_file_edited_back() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    for v in ["v0.1.0", "v0.2.0", "v0.3.0"] {
        bed.hello_image(v).expect("image");
    }
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("rel");
    let file = services.join(format!("{name}.toml"));

    // v0.1.0, v0.2.0, then a v0.3.0 that exits at once: it fails its readiness
    // gate and v0.2.0 keeps running.
    for (version, rev) in [("v0.1.0", 1), ("v0.2.0", 2)] {
        std::fs::write(&file, definition(&bed, &name, version, "")).expect("definition");
        if rev == 2 {
            // The plan says what changed, field by field.
            let plan = ok(&config, &["sync", "--dry-run"]);
            let row = plan
                .lines()
                .find(|l| l.contains(name.as_str()))
                .unwrap_or_default();
            assert!(
                row.contains("redeploy")
                    && row.contains("image localhost/hello:v0.1.0 → localhost/hello:v0.2.0"),
                "{plan}"
            );
            // Then what the deploy would do, from the planner `mcp diff` shows.
            assert!(row.contains(&format!("; replaces {name}")), "{plan}");
        }
        let out = ok(&config, &["deploy", &name]);
        assert!(out.contains(&format!("(revision {rev})")), "{out}");
        assert!(answer(&config, &name).contains(version));
    }
    std::fs::write(
        &file,
        definition(&bed, &name, "v0.3.0", ", \"HELLO_CRASH=1\""),
    )
    .expect("v3");
    let failed = mcp(&config, &["deploy", &name]);
    assert!(!failed.status.success(), "{}", text(&failed));
    assert!(text(&failed).contains("health"), "{}", text(&failed));
    assert!(answer(&config, &name).contains("v0.2.0"), "v0.2.0 runs");

    let revisions = history(&config, &name);
    assert_eq!(revisions.len(), 3, "{revisions:?}");
    let field = |r: &serde_json::Value, f: &str| r[f].as_str().unwrap_or_default().to_owned();
    for (r, version, result, current) in [
        (&revisions[0], "v0.1.0", "deployed", false),
        (&revisions[1], "v0.2.0", "deployed", true),
        (&revisions[2], "v0.3.0", "failed", false),
    ] {
        assert_eq!(field(r, "version"), version, "{r}");
        assert_eq!(field(r, "result"), result, "{r}");
        assert_eq!(r["current"], current, "{r}");
        assert!(
            r["images"][0]["digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha256:")),
            "{r}"
        );
    }
    assert_eq!(field(&revisions[2], "step"), "health");
    assert!(field(&revisions[1], "change").contains("v0.1.0 → localhost/hello:v0.2.0"));
    let table = ok(&config, &["history", &name]);
    assert!(table.starts_with("REV"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("*2")), "{table}");
    assert!(table.contains("failed at health"), "{table}");

    // Back to the revision before the one that runs: v0.1.0, by digest, the
    // file edited to say it with its comments, and sync sees nothing to do.
    let out = ok(&config, &["rollback", &name]);
    assert!(out.contains("to revision 1 (v0.1.0)"), "{out}");
    assert!(answer(&config, &name).contains("v0.1.0"));
    let edited = std::fs::read_to_string(&file).expect("file");
    for kept in [
        "# The release test service.",
        "# the bed's node",
        "# pinned by the test",
    ] {
        assert!(edited.contains(kept), "{kept:?} kept:\n{edited}");
    }
    assert!(
        edited.contains("localhost/hello:v0.1.0") && !edited.contains("HELLO_CRASH"),
        "{edited}"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&ok(&config, &["--json", "sync", "--dry-run"])).expect("plan");
    let mine = plan
        .as_array()
        .and_then(|a| a.iter().find(|i| i["service"] == name.as_str()))
        .unwrap_or_else(|| panic!("{name} in {plan}"));
    assert_eq!(mine["action"], "unchanged", "{mine}");
    let revisions = history(&config, &name);
    let last = revisions.last().expect("a rollback revision");
    assert_eq!(field(last, "result"), "rolled-back");
    assert_eq!(last["rollback_of"], 1);
    assert_eq!(last["current"], true);

    // The tag rebuilt with other content: a rollback to revision 1 still runs
    // what revision 1 ran.
    let ctx = mcp_testkit::testbed::hello_context().expect("context");
    let rebuilt = bed.podman(&[
        "build",
        "--quiet",
        "--no-cache",
        "--build-arg",
        "VERSION=v6.6.6",
        "-t",
        "localhost/hello:v0.1.0",
        &ctx.to_string_lossy(),
    ]);
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    ok(&config, &["rollback", &name, "--to", "2"]);
    assert!(answer(&config, &name).contains("v0.2.0"));
    ok(
        &config,
        &["rollback", &name, "--to", "1", "--keep-definition"],
    );
    let now = answer(&config, &name);
    assert!(now.contains("v0.1.0") && !now.contains("v6.6.6"), "{now}");
    let revisions = history(&config, &name);
    assert_eq!(
        revisions.last().expect("last")["images"][0]["digest"],
        revisions[0]["images"][0]["digest"],
        "{revisions:?}"
    );

    // Nothing to bring back, and no such revision: refused, nothing changes.
    let none = mcp(&config, &["rollback", &name, "--to", "99"]);
    assert_eq!(none.status.code(), Some(3), "{}", text(&none));
    let failed_one = mcp(&config, &["rollback", &name, "--to", "3"]);
    assert!(
        text(&failed_one).contains("failed at step health"),
        "{}",
        text(&failed_one)
    );
    ok(&config, &["undeploy", &name]);
}

#[test]
fn a_tag_pushed_again_does_not_change_what_a_rollback_brings_back() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let registry = LocalRegistry::start_tls("mcpuser", "mcppass").unwrap_or_else(|e| panic!("{e}"));
    let (_agent, config, services) =
        common::token_node(&bed, &common::registry_section(&bed, &registry));
    let name = bed.name("repush");
    let repo = format!("{}/mcp/{name}", registry.host);
    let file = services.join(format!("{name}.toml"));
    let ctx = mcp_testkit::testbed::hello_context().expect("context");
    let podman = |args: &[&str]| {
        let out = bed.podman(args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // `repo:tag` built with `content` and pushed; no copy kept on the node, so
    // what the agent runs comes from the registry.
    let push = |tag: &str, content: &str| {
        let image = format!("{repo}:{tag}");
        let version = format!("VERSION={content}");
        podman(&[
            "build",
            "--quiet",
            "--no-cache",
            "--build-arg",
            &version,
            "-t",
            &image,
            &ctx.to_string_lossy(),
        ]);
        let mut args = vec!["push".to_owned(), "--quiet".to_owned()];
        args.extend(registry.podman_flags());
        args.push(image.clone());
        podman(&args.iter().map(String::as_str).collect::<Vec<_>>());
        podman(&["rmi", &image]);
    };
    let deploy = |tag: &str| {
        std::fs::write(
            &file,
            bed.hello_definition(&name, "v0.0.0", "")
                .to_toml()
                .replace("localhost/hello:v0.0.0", &format!("{repo}:{tag}")),
        )
        .expect("definition");
        ok(&config, &["deploy", &name]);
    };
    push("v0.1.0", "v0.1.0");
    deploy("v0.1.0");
    assert!(answer(&config, &name).contains("v0.1.0"));
    push("v0.2.0", "v0.2.0");
    deploy("v0.2.0");
    assert!(answer(&config, &name).contains("v0.2.0"));

    // v0.1.0 pushed again with other content, and the one pulled before gone
    // from the node: only the registry still has revision 1's digest.
    podman(&["rmi", &format!("{repo}:v0.1.0")]);
    push("v0.1.0", "v6.6.6");
    let out = ok(&config, &["rollback", &name, "--to", "1"]);
    assert!(out.contains("to revision 1"), "{out}");
    let now = answer(&config, &name);
    assert!(now.contains("v0.1.0") && !now.contains("v6.6.6"), "{now}");
    let revisions = history(&config, &name);
    let digest = |r: &serde_json::Value| r["images"][0]["digest"].clone();
    assert_eq!(
        digest(&revisions[2]),
        digest(&revisions[0]),
        "{revisions:?}"
    );
    assert!(
        std::fs::read_to_string(&file)
            .expect("file")
            .contains(&format!("{repo}:v0.1.0")),
        "the file names the tag again"
    );
    ok(&config, &["undeploy", &name]);
}

#[test]
fn snapshot_restore_brings_back_a_lost_note() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.example_image(Example::Notes, "v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("notes");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.notes_definition(&name, "v0.1.0").to_toml(),
    )
    .expect("definition");
    ok(&config, &["deploy", &name]);
    let at = |config: &Path| -> std::net::SocketAddr {
        ([127, 0, 0, 1], service_port(config, &name)).into()
    };
    http_post(at(&config), "/notes", "written before the snapshot").expect("post");
    ok(&config, &["snapshot", &name]);

    // The note is lost: the database goes while the service is stopped.
    ok(&config, &["stop", &name]);
    let data = bed.dir().join("srv").join(&name);
    for f in ["notes.db", "notes.db-wal", "notes.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    ok(&config, &["start", &name]);
    let notes = http_get(service_port(&config, &name), "/notes", 20).expect("notes");
    assert!(!notes.contains("written before"), "{notes}");

    // Over data the directory holds, only with --force; then the note is back
    // and the service runs.
    let refused = mcp(&config, &["snapshot", "restore", &name]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("--force"), "{}", text(&refused));
    let out = ok(&config, &["snapshot", "restore", &name, "--force"]);
    assert!(out.contains("restored"), "{out}");
    let notes = http_get(service_port(&config, &name), "/notes", 20).expect("notes");
    assert!(notes.contains("written before the snapshot"), "{notes}");
    let events = ok(&config, &["events", &name]);
    assert!(events.contains("restore-snapshot"), "{events}");
    ok(&config, &["undeploy", &name]);
}
