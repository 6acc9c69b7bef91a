//! `mcp top` through the real binaries and rootful Podman: a component that
//! keeps a core busy shows more CPU than an idle one, with its memory,
//! processes and uptime; `--watch` samples again, one table after another
//! when not on a terminal.

use mcp_testkit::testbed::{HELLO_IMAGE, Mode, Testbed};

mod common;

use common::{Watching, ok};

/// A definition of the example service on `bed`'s node, no routes, with `env`.
fn definition(bed: &Testbed, name: &str, env: &str) -> String {
    format!(
        "name = \"{name}\"\nnode = \"{}\"\n\n[[components]]\nname = \"web\"\nimage = \"{HELLO_IMAGE}:v0.1.0\"\nenv = [\"HELLO_NAME={name}\"{env}]\n",
        bed.node()
    )
}

#[test]
fn top_shows_a_busy_component_above_an_idle_one() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let busy = bed.name("busy").to_string();
    let idle = bed.name("idle").to_string();
    for (name, env) in [(&busy, ", \"HELLO_BUSY=1\""), (&idle, "")] {
        let path = services.join(format!("{name}.toml"));
        std::fs::write(path, definition(&bed, name, env)).expect("definition");
        ok(&config, &["deploy", name]);
    }

    // One sample is two, a second apart, when the node has none: a rate.
    let out = ok(&config, &["--json", "top"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["service"] == name)
            .unwrap_or_else(|| panic!("no row of {name} in\n{out}"))
            .clone()
    };
    let (b, i) = (row(&busy), row(&idle));
    let cpu = |r: &serde_json::Value| r["cpu_percent"].as_f64().expect("cpu_percent");
    assert!(
        cpu(&b) > 20.0 && cpu(&b) > cpu(&i),
        "busy {} % against idle {} %\n{out}",
        cpu(&b),
        cpu(&i)
    );
    for r in [&b, &i] {
        assert_eq!(r["state"], "running", "{out}");
        assert_eq!(r["node"], bed.node(), "{out}");
        assert!(r["memory_bytes"].as_u64().is_some_and(|m| m > 0), "{out}");
        assert!(r["pids"].as_u64().is_some_and(|p| p >= 1), "{out}");
        assert!(
            r["started_at"].is_string() && r["sampled_at"].is_string(),
            "{out}"
        );
    }

    // One service, as a table.
    let table = ok(&config, &["top", &busy]);
    assert!(
        table.starts_with("SERVICE") && table.contains("CPU%"),
        "{table}"
    );
    assert!(table.contains(&busy) && !table.contains(&idle), "{table}");

    // Watching: sampled again, the tables one after another.
    let watching = Watching::start(&config, &["top", "--watch", "--interval", "1"]);
    let first = watching.until("a table", 0, |l| l.starts_with("SERVICE"));
    watching.until("another table", first, |l| l.starts_with("SERVICE"));
    drop(watching);

    ok(&config, &["stop", &idle]);
    let stopped = ok(&config, &["--json", "top", &idle]);
    let r: serde_json::Value = serde_json::from_str(stopped.trim()).expect("one row");
    assert!(
        r["cpu_percent"].is_null() && r["memory_bytes"].is_null(),
        "{stopped}"
    );
    for name in [&busy, &idle] {
        ok(&config, &["undeploy", name]);
    }
}
