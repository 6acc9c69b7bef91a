//! The monitor follows Podman's events, through the real binaries on a local
//! node whose relist is an hour away (so nothing but events can make it act).
//! Through `podman events` (`[monitor] events_log = false`): a killed
//! container is started again and the repair recorded; an event stream that
//! breaks while a container is removed is started again and followed by a
//! relist, which recreates it; and a crash loop is still found flapping.
//! Reading Podman's event log itself (the default, with the `file` logger the
//! test beds use): no `podman events` process runs, and a killed container is
//! still started again at once.

use std::path::Path;
use std::time::Duration;

use mcp_testkit::testbed::{Mode, Testbed};

mod common;

use common::{ok, text};

const NO_RELIST: &str = "[monitor]\ninterval_secs = 3600\nrelist_secs = 3600\nflap_threshold = 2\n";
const THROUGH_PODMAN_EVENTS: &str = "events_log = false\n";

/// Waits up to 30 s for `what` (a functional bound: without events nothing
/// would happen for an hour).
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("never: {what}");
}

/// `podman inspect --format FORMAT NAME`, or `None` when there is no such
/// container.
fn inspect(bed: &Testbed, name: &str, format: &str) -> Option<String> {
    let out = bed.podman(&["container", "inspect", "--format", format, name]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// `podman kill` of `name`, then waits until it runs again (a new start).
fn kill_and_see_it_run_again(bed: &Testbed, name: &str) {
    let started = inspect(bed, name, "{{.State.StartedAt}}");
    let killed = bed.podman(&["kill", name]);
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );
    eventually("the killed container runs again", || {
        running(bed, name) && inspect(bed, name, "{{.State.StartedAt}}") != started
    });
}

fn running(bed: &Testbed, name: &str) -> bool {
    inspect(bed, name, "{{.State.Running}}").as_deref() == Some("true")
}

/// The agent's `podman events` process.
fn events_process(agent_pid: u32) -> Option<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-P", &agent_pid.to_string(), "-f", "events --format json"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

fn signal(pid: &str, sig: &str) {
    let out = std::process::Command::new("kill")
        .args([sig, pid])
        .output()
        .expect("kill");
    assert!(out.status.success(), "kill {sig} {pid}");
}

fn status_json(config: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&ok(config, &["--json", "status", name])).expect("status")
}

#[test]
fn the_monitor_acts_on_events_and_relists_after_a_gap() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (agent, config, services) =
        common::token_node(&bed, &format!("{NO_RELIST}{THROUGH_PODMAN_EVENTS}"));
    let name = bed.name("watch");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");
    ok(&config, &["deploy", &name]);
    eventually("the event stream runs", || {
        events_process(agent.pid()).is_some()
    });

    // Killed: started again from the event, and the repair recorded.
    kill_and_see_it_run_again(&bed, &name);
    let events = ok(&config, &["events", &name]);
    assert!(events.contains("drift"), "{events}");

    // The stream breaks while the container is removed (its event never comes):
    // the stream is started again, and the relist that follows recreates it.
    let pid = events_process(agent.pid()).expect("podman events");
    signal(&pid, "-STOP");
    let removed = bed.podman(&["rm", "-f", &name]);
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    signal(&pid, "-KILL");
    eventually("the removed container is recreated", || {
        running(&bed, &name)
    });
    assert_ne!(events_process(agent.pid()), Some(pid), "a new stream");

    // A crash loop, seen only through events, is still found flapping.
    let crashing = bed
        .hello_definition(&name, "v0.1.0", "ready_after = 0")
        .to_toml()
        .replace(
            &format!("\"HELLO_NAME={name}\""),
            &format!("\"HELLO_NAME={name}\", \"HELLO_CRASH=1\""),
        );
    let crashing = crashing[..crashing.find("[[components.routes]]").expect("a route")].to_owned();
    std::fs::write(services.join(format!("{name}.toml")), crashing).expect("crashing");
    let deployed = common::mcp(&config, &["deploy", &name]);
    assert!(deployed.status.success(), "{}", text(&deployed));
    eventually("the crash loop is marked flapping", || {
        status_json(&config, &name)["components"][0]["flapping_since"].is_string()
    });
    ok(&config, &["undeploy", &name]);
}

#[test]
fn the_monitor_reads_podmans_event_log_without_a_podman_process() {
    let bed = Testbed::new(Mode::Rootless).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (agent, config, services) = common::token_node(&bed, NO_RELIST);
    let name = bed.name("tail");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");
    ok(&config, &["deploy", &name]);
    eventually("the agent follows Podman's event log", || {
        agent.log().contains("following Podman's event log")
    });
    kill_and_see_it_run_again(&bed, &name);
    assert_eq!(
        events_process(agent.pid()),
        None,
        "no podman events process"
    );
    let events = ok(&config, &["events", &name]);
    assert!(events.contains("drift"), "{events}");
    ok(&config, &["undeploy", &name]);
}
