//! The lifecycle engine on real Podman, rootful and rootless: deploy, redeploy,
//! stop/start/restart/undeploy, monitor repairs, flapping, recover, adopt, and
//! failed deploys that leave nothing behind.

use std::collections::BTreeSet;
use std::sync::Arc;

use mcp_model::ErrorKind;
use mcp_model::plan::ActionKind;
use mcp_model::view::{ComponentChange, Step};
use mcp_node::engine::Engine;
use mcp_node::monitor::{Monitor, MonitorConfig};
use mcp_node::registry::EventQuery;
use mcp_node::runtime::{ContainerState, labels};
use mcp_testkit::testbed::{Mode, Testbed, http_get};

/// Runs a scenario rootful and rootless.
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn rootful() {
                super::$name(super::Mode::Rootful);
            }
            #[test]
            fn rootless() {
                super::$name(super::Mode::Rootless);
            }
        }
    )*};
}

both_modes!(
    deploy_redeploy_stop_start_restart_undeploy,
    monitor_repairs_killed_and_removed_containers,
    crash_loop_is_marked_flapping,
    recover_recreates_lost_containers_on_the_same_ports,
    adopt_takes_a_hand_started_container,
    failed_deploys_leave_nothing_behind,
    redeploy_replaces_only_changed_components,
    followed_logs_go_on_across_restarts_and_redeploys,
    monitor_loop_runs_until_stopped,
    a_stray_container_holding_the_name,
);

fn bed(mode: Mode) -> Testbed {
    Testbed::new(mode).unwrap_or_else(|e| panic!("{e}"))
}

fn port_of(engine: &Engine, service: &str) -> u16 {
    let leases = engine
        .registry()
        .read(|t| t.service_leases(service))
        .expect("leases");
    assert_eq!(leases.len(), 1, "{leases:?}");
    leases[0].port
}

fn state(engine: &Engine, container: &str) -> Option<ContainerState> {
    engine
        .runtime()
        .inspect(container)
        .expect("inspect")
        .map(|i| i.state)
}

fn events(engine: &Engine, service: &str) -> Vec<(String, Option<String>)> {
    engine
        .registry()
        .events(&EventQuery {
            service: Some(service.into()),
            ..Default::default()
        })
        .expect("events")
        .into_iter()
        .map(|e| (e.action, e.error))
        .collect()
}

fn deploy_redeploy_stop_start_restart_undeploy(mode: Mode) {
    let bed = bed(mode);
    bed.hello_image("v0.1.0").expect("image v0.1.0");
    bed.hello_image("v0.2.0").expect("image v0.2.0");
    let engine = bed.engine();
    let name = bed.name("hello");
    let def = bed.hello_definition(&name, "v0.1.0", "");

    let report = engine.deploy(&def, "tester").expect("deploy");
    assert_eq!(
        report.changes(),
        [(name.to_string(), ComponentChange::Created)]
    );
    let port = port_of(&engine, &name);
    let body = http_get(port, "/", 100).expect("answers");
    assert_eq!(
        body,
        format!("{name} v0.1.0 port={port}\n"),
        "$PORT is the leased port"
    );

    let info = engine
        .runtime()
        .inspect(&name)
        .expect("inspect")
        .expect("exists");
    assert_eq!(info.label(labels::MANAGED), Some("true"));
    assert_eq!(info.label(labels::SERVICE), Some(name.as_str()));
    assert_eq!(info.label(labels::VERSION), Some("v0.1.0"));
    assert_eq!(info.env_var("PORT"), Some(port.to_string().as_str()));
    assert!(
        bed.dir().join("srv").join(&name).is_dir(),
        "data dir created"
    );

    // Same definition again: nothing touched.
    let again = engine.deploy(&def, "tester").expect("redeploy");
    assert_eq!(
        again.changes(),
        [(name.to_string(), ComponentChange::Unchanged)]
    );
    assert_eq!(
        engine
            .runtime()
            .inspect(&name)
            .expect("inspect")
            .expect("exists")
            .id,
        info.id
    );

    // New version: replaced, same port.
    let v2 = bed.hello_definition(&name, "v0.2.0", "");
    let upgraded = engine.deploy(&v2, "tester").expect("upgrade");
    assert_eq!(
        upgraded.changes(),
        [(name.to_string(), ComponentChange::Replaced)]
    );
    assert_eq!(port_of(&engine, &name), port, "the route keeps its port");
    assert_eq!(
        http_get(port, "/", 100).expect("answers"),
        format!("{name} v0.2.0 port={port}\n")
    );
    let names: BTreeSet<String> = engine
        .runtime()
        .list(&[(labels::INSTANCE, &bed.id)])
        .expect("list")
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([name.to_string()]),
        "the old container is gone"
    );

    // Stop (twice: idempotent), start, restart.
    engine.stop(&name, "tester").expect("stop");
    engine.stop(&name, "tester").expect("stop again");
    assert_eq!(state(&engine, &name), Some(ContainerState::Exited));
    assert!(!engine.status(&name).expect("status").active);
    engine.start(&name, "tester").expect("start");
    http_get(port, "/", 100).expect("answers after start");
    engine.restart(&name, "tester").expect("restart");
    http_get(port, "/", 100).expect("answers after restart");
    let logs = engine.runtime().logs(&name, Some(50)).expect("logs");
    assert!(logs.contains("listening on 0.0.0.0"), "{logs}");
    // What `mcp status` shows: the status, the definition deployed, and only the
    // newest events, oldest first.
    let report = engine.status_report(&name, 2).expect("report");
    assert_eq!(report.status, engine.status(&name).expect("status"));
    assert_eq!(report.definition.name, name);
    let recent: Vec<&str> = report.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(recent, ["start", "restart"]);

    // Undeploy: no container, no lease, no row; data kept. Again: nothing of it
    // is left, so it is not found (and not an event).
    engine.undeploy(&name, "tester").expect("undeploy");
    let again = engine
        .undeploy(&name, "tester")
        .expect_err("undeploy again");
    assert_eq!(again.kind(), ErrorKind::NotFound, "{again}");
    assert_eq!(state(&engine, &name), None);
    assert!(engine.registry().leases().expect("leases").is_empty());
    assert!(engine.registry().service(&name).expect("read").is_none());
    assert!(bed.dir().join("srv").join(&name).is_dir(), "data dir kept");
    let actions: Vec<String> = events(&engine, &name).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        actions,
        ["deploy", "deploy", "stop", "start", "restart", "undeploy"],
        "an unchanged redeploy and a second stop are no events"
    );
    let err = engine.stop(&name, "tester").expect_err("not deployed");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

fn fast_monitor(engine: &Arc<Engine>, threshold: u32) -> Monitor {
    Monitor::new(
        engine.clone(),
        MonitorConfig {
            interval: std::time::Duration::from_millis(200),
            flap_threshold: threshold,
            flap_window: std::time::Duration::from_secs(120),
            ..MonitorConfig::default()
        },
    )
}

fn monitor_repairs_killed_and_removed_containers(mode: Mode) {
    let bed = bed(mode);
    bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let name = bed.name("mon");
    engine
        .deploy(&bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect("deploy");
    let port = port_of(&engine, &name);
    let mut monitor = fast_monitor(&engine, 10);
    assert!(monitor.tick().expect("tick").actions.is_empty(), "in sync");

    // Killed by hand: Podman's restart policy does not apply to `podman kill`.
    assert!(bed.podman(&["kill", &name]).status.success());
    assert_eq!(state(&engine, &name), Some(ContainerState::Exited));
    let tick = monitor.tick().expect("tick");
    assert_eq!(tick.actions.len(), 1, "{tick:?}");
    assert_eq!(tick.actions[0].0.kind, ActionKind::Start);
    assert_eq!(tick.actions[0].1, None);
    http_get(port, "/", 100).expect("back after kill");

    // Removed by hand: recreated on the same port.
    assert!(
        bed.podman(&["rm", "--force", "--time", "0", &name])
            .status
            .success()
    );
    let tick = monitor.tick().expect("tick");
    assert_eq!(tick.actions[0].0.kind, ActionKind::Create, "{tick:?}");
    assert_eq!(
        http_get(port, "/", 100).expect("back after rm"),
        format!("{name} v0.1.0 port={port}\n")
    );

    // An orphan with our labels (say, left by a crashed deploy) is removed.
    let orphan = bed.name("orphan");
    let image = bed.hello_image("v0.1.0").expect("image");
    let run = bed.podman(&[
        "create",
        "--name",
        &orphan,
        "--label",
        &format!("{}=true", labels::MANAGED),
        "--label",
        &format!("{}={}", labels::INSTANCE, bed.id),
        "--label",
        &format!("{}=ghost", labels::SERVICE),
        "--label",
        &format!("{}={}", mcp_testkit::testbed::TEST_LABEL, bed.id),
        &image,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let tick = monitor.tick().expect("tick");
    assert_eq!(tick.actions[0].0.kind, ActionKind::Remove, "{tick:?}");
    assert_eq!(state(&engine, &orphan), None);

    let drift: Vec<_> = events(&engine, &name)
        .into_iter()
        .filter(|(a, _)| a == "drift")
        .collect();
    assert_eq!(drift.len(), 2, "{drift:?}");
    assert!(
        monitor.tick().expect("tick").actions.is_empty(),
        "in sync again"
    );
}

fn crash_loop_is_marked_flapping(mode: Mode) {
    let bed = bed(mode);
    bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let name = bed.name("flap");
    let def = bed.hello_definition(&name, "v0.1.0", "");
    engine.deploy(&def, "tester").expect("deploy healthy");
    // A deploy sees a container that exits at once, and puts the running one back.
    let crash = |extra: &str| {
        bed.hello_definition(&name, "v0.1.0", extra)
            .to_toml()
            .replace(
                &format!("env = [\"HELLO_NAME={name}\"]"),
                &format!("env = [\"HELLO_NAME={name}\", \"HELLO_CRASH=1\"]"),
            )
    };
    let refused = mcp_model::spec::ValidatedDefinition::parse(&crash(""), None).expect("valid");
    let err = engine
        .deploy(&refused, "tester")
        .expect_err("exits at once");
    assert_eq!(err.step(), Some(Step::Health), "{err}");
    assert!(
        err.to_string().contains("HELLO_CRASH=1, exiting"),
        "its log: {err}"
    );
    http_get(port_of(&engine, &name), "/", 100).expect("the running one is back");
    // Without a route and with `ready_after = 0` a deploy has nothing to wait for:
    // it succeeds, and Podman's restart policy restarts the container in a loop.
    let crashing = crash("ready_after = 0");
    let crashing = crashing[..crashing.find("[[components.routes]]").expect("a route")].to_owned();
    let crashing = mcp_model::spec::ValidatedDefinition::parse(&crashing, None).expect("valid");
    engine.deploy(&crashing, "tester").expect("deploy crashing");

    let mut monitor = fast_monitor(&engine, 3);
    let mut flapped = false;
    for _ in 0..50 {
        let tick = monitor.tick().expect("tick");
        if tick.flapping.contains(&name.to_string()) {
            flapped = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(flapped, "never marked flapping");
    let status = engine.status(&name).expect("status");
    assert!(status.components[0].is_flapping(), "{status:?}");
    // The container is removed when it is marked, or by the next ticks if Podman
    // refused while restarting it.
    for _ in 0..10 {
        if state(&engine, &name).is_none() {
            break;
        }
        monitor.tick().expect("tick");
    }
    assert_eq!(
        state(&engine, &name),
        None,
        "a flapping container is taken away"
    );

    // Not restarted automatically.
    for _ in 0..3 {
        let tick = monitor.tick().expect("tick");
        assert!(
            tick.actions
                .iter()
                .all(|(a, _)| a.kind != ActionKind::Start && a.kind != ActionKind::Create),
            "{tick:?}"
        );
    }
    let flap_event = engine
        .registry()
        .events(&EventQuery {
            service: Some(name.to_string()),
            ..Default::default()
        })
        .expect("events")
        .into_iter()
        .find(|e| e.action == "flapping")
        .expect("flapping event");
    assert!(
        flap_event.detail.contains("HELLO_CRASH=1, exiting"),
        "the crash output is kept: {}",
        flap_event.detail
    );
    assert!(
        engine.recover("tester").expect("recover").is_empty(),
        "recover leaves it down too"
    );

    // The operator acts: a healthy redeploy, then start, clears it.
    engine.deploy(&def, "tester").expect("deploy fixed");
    engine.start(&name, "tester").expect("start");
    assert!(!engine.status(&name).expect("status").components[0].is_flapping());
    http_get(port_of(&engine, &name), "/", 100).expect("healthy again");
}

fn recover_recreates_lost_containers_on_the_same_ports(mode: Mode) {
    let bed = bed(mode);
    bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let a = bed.name("reca");
    let b = bed.name("recb");
    engine
        .deploy(&bed.hello_definition(&a, "v0.1.0", ""), "tester")
        .expect("deploy a");
    engine
        .deploy(&bed.hello_definition(&b, "v0.1.0", ""), "tester")
        .expect("deploy b");
    engine.stop(&b, "tester").expect("stop b");
    let (pa, pb) = (port_of(&engine, &a), port_of(&engine, &b));

    // Podman's state is lost: every container of ours is gone.
    let filter = format!("label={}={}", labels::INSTANCE, bed.id);
    let ids = bed.podman(&["ps", "--all", "--quiet", "--filter", &filter]);
    let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 2);
    let mut rm = vec!["rm", "--force", "--time", "0"];
    rm.extend(ids.iter().map(String::as_str));
    assert!(bed.podman(&rm).status.success());

    let reports = engine.recover("tester").expect("recover");
    assert_eq!(reports.len(), 2);
    assert_eq!(
        (port_of(&engine, &a), port_of(&engine, &b)),
        (pa, pb),
        "no port reallocated"
    );
    assert_eq!(
        http_get(pa, "/", 100).expect("a answers"),
        format!("{a} v0.1.0 port={pa}\n")
    );
    assert_eq!(
        state(&engine, &b),
        Some(ContainerState::Created),
        "a stopped service stays stopped"
    );
    assert!(
        engine.recover("tester").expect("recover again").is_empty(),
        "nothing left to recover"
    );
}

fn adopt_takes_a_hand_started_container(mode: Mode) {
    let bed = bed(mode);
    let image = bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let name = bed.name("adopt");
    // Started by hand during an outage, the way the platform's runbook does it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let publish = format!("127.0.0.1:{port}:{port}");
    let label = format!("{}={}", mcp_testkit::testbed::TEST_LABEL, bed.id);
    let env_port = format!("PORT={port}");
    let env_name = format!("HELLO_NAME={name}");
    let run = bed.podman(&[
        "run", "-d", "--name", &name, "--label", &label, "-e", &env_port, "-e", &env_name, "-p",
        &publish, &image,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let before = engine
        .runtime()
        .inspect(&name)
        .expect("inspect")
        .expect("running");

    let def = bed.hello_definition(&name, "v0.1.0", "");
    let report = engine.adopt(&def, "tester").expect("adopt");
    assert_eq!(
        report.changes(),
        [(name.to_string(), ComponentChange::Adopted)]
    );
    assert_eq!(port_of(&engine, &name), port, "the port it already uses");
    let after = engine
        .runtime()
        .inspect(&name)
        .expect("inspect")
        .expect("still there");
    assert_eq!(after.id, before.id, "not touched");
    assert_eq!(
        engine.status(&name).expect("status").components[0].state,
        ContainerState::Running
    );

    // The monitor leaves a healthy adopted container alone.
    let mut monitor = fast_monitor(&engine, 10);
    assert!(monitor.tick().expect("tick").actions.is_empty());
    let err = engine.adopt(&def, "tester").expect_err("already adopted");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    engine.undeploy(&name, "tester").expect("undeploy");
    assert_eq!(state(&engine, &name), None);
}

fn failed_deploys_leave_nothing_behind(mode: Mode) {
    let bed = bed(mode);
    bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let everything_gone = |name: &str| {
        assert_eq!(state(&engine, name), None, "container left behind");
        assert!(
            engine.registry().leases().expect("leases").is_empty(),
            "lease left behind"
        );
        assert!(
            engine.registry().service(name).expect("read").is_none(),
            "registry row left behind"
        );
        assert!(
            !bed.dir().join("srv").join(name).exists(),
            "the data directory the deploy made is left behind"
        );
        assert_eq!(
            events(&engine, name)
                .last()
                .map(|(a, e)| (a.as_str(), e.is_some())),
            Some(("deploy", true))
        );
    };

    // A bad image name: fails at the image step.
    let name = bed.name("badimage");
    let def = bed.hello_definition(&name, "v9.9.9", "");
    let err = engine.deploy(&def, "tester").expect_err("no such image");
    assert!(err.to_string().contains("localhost/hello:v9.9.9"), "{err}");
    assert_eq!(
        match &err {
            mcp_node::engine::EngineError::Step { step, .. } => Some(*step),
            _ => None,
        },
        Some(Step::Image)
    );
    everything_gone(&name);

    // A port conflict: the legacy explicit port (inside the node's range, as the
    // host policy requires) is held by someone else.
    let taken = bed.port_range.end();
    let holder = std::net::TcpListener::bind(("127.0.0.1", taken)).expect("bind");
    let name = bed.name("conflict");
    let def = bed.hello_definition(
        &name,
        "v0.1.0",
        &format!("ports = [\"127.0.0.1:{taken}:9999\"]"),
    );
    let err = engine.deploy(&def, "tester").expect_err("port in use");
    assert_eq!(err.step(), Some(Step::Containers), "{err}");
    everything_gone(&name);

    // A Podman error: a user that does not exist in the image.
    let name = bed.name("baduser");
    let def = bed.hello_definition(&name, "v0.1.0", "user = \"nosuchuser\"");
    let err = engine.deploy(&def, "tester").expect_err("no such user");
    assert_eq!(err.step(), Some(Step::Containers), "{err}");
    assert!(
        err.to_string().contains("nosuchuser"),
        "Podman's message reaches the caller: {err}"
    );
    everything_gone(&name);

    // A failed redeploy keeps the running version and its registry row.
    let name = bed.name("keep");
    engine
        .deploy(&bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect("deploy");
    let port = port_of(&engine, &name);
    let before = engine
        .registry()
        .service(&name)
        .expect("read")
        .expect("row");
    let broken = bed.hello_definition(&name, "v0.1.0", "user = \"nosuchuser\"");
    engine
        .deploy(&broken, "tester")
        .expect_err("broken redeploy");
    assert_eq!(
        engine.registry().service(&name).expect("read"),
        Some(before),
        "registry as before"
    );
    assert_eq!(port_of(&engine, &name), port);
    assert_eq!(
        http_get(port, "/", 100).expect("old version still serves"),
        format!("{name} v0.1.0 port={port}\n")
    );
    drop(holder);
}

fn redeploy_replaces_only_changed_components(mode: Mode) {
    let bed = bed(mode);
    let image = bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let name = bed.name("two");
    let node = bed.node().to_owned();
    let text = |web_greeting: &str| {
        format!(
            "name = \"{name}\"\nnode = \"{node}\"\n\n[[components]]\nname = \"api\"\nimage = \"{image}\"\n\n[[components.routes]]\nname = \"rest\"\nport = 8443\nmode = \"l4\"\n\n[[components]]\nname = \"web\"\nimage = \"{image}\"\nenv = [\"GREETING={web_greeting}\"]\n\n[[components.routes]]\nport = 443\nmode = \"l7\"\n"
        )
    };
    let def = mcp_model::spec::ValidatedDefinition::parse(&text("one"), None).expect("valid");
    engine.deploy(&def, "tester").expect("deploy");
    let api = format!("{name}-api");
    let web = format!("{name}-web");
    let id = |c: &str| {
        engine
            .runtime()
            .inspect(c)
            .expect("inspect")
            .expect("exists")
            .id
    };
    let (api_id, web_id) = (id(&api), id(&web));
    let ports: Vec<u16> = engine
        .registry()
        .read(|t| t.service_leases(&name))
        .expect("leases")
        .iter()
        .map(|l| l.port)
        .collect();

    let changed = mcp_model::spec::ValidatedDefinition::parse(&text("two"), None).expect("valid");
    let report = engine.deploy(&changed, "tester").expect("redeploy");
    assert_eq!(
        report.changes(),
        [
            (api.clone(), ComponentChange::Unchanged),
            (web.clone(), ComponentChange::Replaced)
        ]
    );
    assert_eq!(id(&api), api_id, "the unchanged component kept running");
    assert_ne!(id(&web), web_id);
    let after: Vec<u16> = engine
        .registry()
        .read(|t| t.service_leases(&name))
        .expect("leases")
        .iter()
        .map(|l| l.port)
        .collect();
    assert_eq!(after, ports, "no port changed");
    let web_port = engine.status(&name).expect("status").components[1].ports[0].port;
    assert!(
        http_get(web_port, "/", 100)
            .expect("web answers")
            .starts_with("two\n")
    );
    let rest_port = engine.status(&name).expect("status").components[0].ports[0].port;
    let api_info = engine
        .runtime()
        .inspect(&api)
        .expect("inspect")
        .expect("exists");
    assert_eq!(
        api_info.env_var("PORT_REST"),
        Some(rest_port.to_string().as_str())
    );
    assert_eq!(
        api_info.env_var("PORT"),
        Some(rest_port.to_string().as_str()),
        "a single named route gets both"
    );
}

fn followed_logs_go_on_across_restarts_and_redeploys(mode: Mode) {
    use mcp_model::view::{LogLine, LogQuery};
    use mcp_node::engine::LogHalt;
    use std::time::Duration;
    let bed = bed(mode);
    bed.hello_image("v0.1.0").expect("image");
    bed.hello_image("v0.2.0").expect("image");
    let engine = bed.engine();
    let name = bed.name("logs");
    engine
        .deploy(&bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect("deploy");
    let service: mcp_model::names::ServiceName = name.parse().expect("name");
    let sources = engine.log_sources(&service, None).expect("sources");
    assert_eq!(sources.len(), 1, "{sources:?}");
    let query = LogQuery {
        follow: true,
        ..LogQuery::default()
    };
    let halt = LogHalt::default();
    let (tx, rx) = std::sync::mpsc::channel::<LogLine>();
    // Waits until a line containing `text` has come `n` times in all.
    let mut seen: Vec<LogLine> = Vec::new();
    let wait_for = |text: &str, n: usize, seen: &mut Vec<LogLine>| {
        for _ in 0..60 {
            if seen.iter().filter(|l| l.line.contains(text)).count() >= n {
                return;
            }
            while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
                seen.push(l);
            }
        }
        panic!("{text:?} did not come {n} times: {seen:?}");
    };
    /// Ends the follower when the test fails, so the scope can join it.
    struct HaltOnDrop<'a>(&'a LogHalt);
    impl Drop for HaltOnDrop<'_> {
        fn drop(&mut self) {
            self.0.halt();
        }
    }
    std::thread::scope(|scope| {
        let _guard = HaltOnDrop(&halt);
        let reader = scope.spawn(|| {
            let mut send = |l| tx.send(l).is_ok();
            engine.read_logs(&service, &sources[0], &query, &halt, &mut send)
        });
        wait_for(" v0.1.0 listening", 1, &mut seen);
        // Restarted: the same container again, from the line after the last one sent.
        engine.restart(&service, "tester").expect("restart");
        wait_for(" v0.1.0 listening", 2, &mut seen);
        // Replaced by a redeploy: the new container, from its first line.
        engine
            .deploy(&bed.hello_definition(&name, "v0.2.0", ""), "tester")
            .expect("redeploy");
        wait_for(" v0.2.0 listening", 1, &mut seen);
        // Undeployed: the follower ends by itself.
        engine.undeploy(&service, "tester").expect("undeploy");
        reader.join().expect("reader").expect("read_logs");
    });
    while let Ok(l) = rx.try_recv() {
        seen.push(l);
    }
    let mut keys: Vec<_> = seen.iter().map(|l| (l.time, l.line.clone())).collect();
    let all = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), all, "no line twice: {seen:?}");
    assert_eq!(
        seen.iter()
            .filter(|l| l.line.contains(" v0.1.0 listening"))
            .count(),
        2,
        "{seen:?}"
    );
    assert!(seen.iter().all(|l| l.time.is_some()), "{seen:?}");
}

fn monitor_loop_runs_until_stopped(mode: Mode) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let bed = bed(mode);
    bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let name = bed.name("loop");
    engine
        .deploy(&bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect("deploy");
    let stop = Arc::new(AtomicBool::new(false));
    let handle = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || fast_monitor(&engine, 10).run(&stop))
    };
    assert!(bed.podman(&["kill", &name]).status.success());
    let mut back = false;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if state(&engine, &name) == Some(ContainerState::Running) {
            back = true;
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    handle.join().expect("monitor thread");
    assert!(
        back,
        "the running monitor never restarted the killed container"
    );
    assert!(
        events(&engine, &name)
            .iter()
            .any(|(a, e)| a == "drift" && e.is_none())
    );
}

fn a_stray_container_holding_the_name(mode: Mode) {
    let bed = bed(mode);
    let image = bed.hello_image("v0.1.0").expect("image");
    let engine = bed.engine();
    let test_label = format!("{}={}", mcp_testkit::testbed::TEST_LABEL, bed.id);

    // Left by an interrupted operation of this agent: replaced.
    let ours = bed.name("ours");
    let created = bed.podman(&[
        "create",
        "--name",
        &ours,
        "--label",
        &format!("{}={}", labels::INSTANCE, bed.id),
        "--label",
        &test_label,
        &image,
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    engine
        .deploy(&bed.hello_definition(&ours, "v0.1.0", ""), "tester")
        .expect("deploy over our stray");
    http_get(port_of(&engine, &ours), "/", 100).expect("answers");

    // Someone else's: refused, untouched, nothing leaked.
    let theirs = bed.name("theirs");
    let created = bed.podman(&["create", "--name", &theirs, "--label", &test_label, &image]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let before = engine
        .runtime()
        .inspect(&theirs)
        .expect("inspect")
        .expect("exists")
        .id;
    let err = engine
        .deploy(&bed.hello_definition(&theirs, "v0.1.0", ""), "tester")
        .expect_err("foreign container");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("does not manage"), "{err}");
    assert_eq!(
        engine
            .runtime()
            .inspect(&theirs)
            .expect("inspect")
            .expect("still there")
            .id,
        before
    );
    assert!(engine.registry().service(&theirs).expect("read").is_none());
    assert_eq!(
        engine.registry().leases().expect("leases").len(),
        1,
        "only the first service's lease"
    );
}
