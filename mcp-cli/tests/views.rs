//! `mcp ps --watch` and `mcp status SERVICE --watch`, through the real
//! binaries: each draws at once and again when the node's events say
//! something happened (a deploy, a stop), with no polling to wait for; not on
//! a terminal, the drawings follow one another (JSON: one per line).

use mcp_testkit::testbed::{Mode, Testbed};

mod common;

use common::{Watching, ok};

#[test]
fn ps_and_status_watch_draw_again_when_something_happens() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("view").to_string();
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");

    let ps = Watching::start(&config, &["ps", "--watch"]);
    let drawn = ps.until("the first drawing", 0, |l| l.starts_with("SERVICE"));
    ok(&config, &["deploy", &name]);
    let drawn = ps.until("the deployed service, running", drawn, |l| {
        l.starts_with(&name) && l.contains("running")
    });

    let status = Watching::start(&config, &["--json", "status", &name, "--watch"]);
    let json = |l: &str| serde_json::from_str::<serde_json::Value>(l).ok();
    let seen = status.until("the status, as one JSON line", 0, |l| {
        json(l).is_some_and(|v| v["service"] == name.as_str() && v["active"] == true)
    });

    ok(&config, &["stop", &name]);
    ps.until("the stopped service", drawn, |l| {
        l.starts_with(&name) && !l.contains("running")
    });
    status.until("the status, stopped", seen, |l| {
        json(l).is_some_and(|v| v["active"] == false)
    });
    ok(&config, &["undeploy", &name]);
}
