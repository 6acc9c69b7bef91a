//! A process killed in the middle of writing leaves a registry that passes
//! `PRAGMA integrity_check` and holds each transaction whole or not at all.
//!
//! The test re-runs this test binary as a child that writes transactions in a loop
//! (`crash_child_writer`, which does nothing unless `MCP_CRASH_DB` is set), kills it
//! with SIGKILL at varying moments, and checks the database after each kill.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use mcp_model::spec::ValidatedDefinition;
use mcp_node::registry::{
    ComponentRecord, ContainerRecord, DesiredState, EventQuery, NewEvent, PortLease, Registry,
    RegistryError, ServiceRecord,
};

const COMPONENTS: usize = 4;

fn definition(name: &str) -> ValidatedDefinition {
    let mut text = format!("name = \"{name}\"\nnode = \"local\"\nversion = \"v1.0.0\"\n");
    for c in 0..COMPONENTS {
        text.push_str(&format!(
            "[[components]]\nname = \"c{c}\"\n[[components.routes]]\nport = {}\nmode = \"l4\"\n",
            8000 + c
        ));
    }
    ValidatedDefinition::parse(&text, None).expect("valid fixture")
}

/// One deploy-shaped transaction: a service, its components and containers, a port
/// lease per component, and an event.
fn write_one(reg: &Registry, name: &str, first_port: u16) -> Result<(), RegistryError> {
    let def = definition(name);
    reg.transaction(|tx| {
        let now = SystemTime::now();
        tx.put_service(&ServiceRecord {
            components: def
                .components
                .iter()
                .map(|c| ComponentRecord {
                    name: c.name.clone(),
                    container_name: format!("{name}-{}", c.name),
                    image: "reg.example/x:v1.0.0".into(),
                    version: "v1.0.0".into(),
                    desired: DesiredState::Running,
                    spec_hash: String::new(),
                    flapping_since: None,
                })
                .collect(),
            definition: def.clone().into_inner(),
            active: true,
            deployed_at: now,
            updated_at: now,
        })?;
        for (i, c) in def.components.iter().enumerate() {
            let port = first_port + u16::try_from(i).unwrap_or(0);
            tx.insert_lease(&PortLease {
                port,
                service: name.into(),
                component: c.name.clone(),
                route: None,
                leased_at: now,
            })?;
            tx.put_container(&ContainerRecord {
                name: format!("{name}-{}", c.name),
                service: name.into(),
                component: c.name.clone(),
                container_id: format!("{port:064x}"),
                image: "reg.example/x:v1.0.0".into(),
                created_at: now,
            })?;
        }
        tx.append_event(&NewEvent {
            actor: "crash-test".into(),
            action: "deploy".into(),
            service: Some(name.into()),
            detail: "x".repeat(2000),
            error: None,
        })?;
        Ok(())
    })
}

#[test]
fn crash_child_writer() {
    let (Ok(path), Ok(round)) = (
        std::env::var("MCP_CRASH_DB"),
        std::env::var("MCP_CRASH_ROUND"),
    ) else {
        return; // Only meaningful as the child of the test below.
    };
    let reg = Registry::open(Path::new(&path)).expect("child opens registry");
    // Continue after the ports earlier rounds leased.
    let mut port = reg
        .leases()
        .expect("child reads leases")
        .iter()
        .map(|l| l.port + 1)
        .max()
        .unwrap_or(1024);
    for i in 0u64.. {
        if usize::from(port) + COMPONENTS > 65535 {
            // Out of ports for this test: idle until killed.
            std::thread::sleep(Duration::from_secs(3600));
        }
        write_one(&reg, &format!("svc-{round}-{i}"), port).expect("child write");
        port += COMPONENTS as u16;
        if i == 0 {
            println!("ready");
        }
    }
}

fn check(path: &Path) -> usize {
    let conn = rusqlite::Connection::open(path).expect("raw open");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(ok, "ok");
    drop(conn);
    let reg = Registry::open(path).expect("reopen after kill");
    let services = reg.services().expect("services");
    let leases = reg.leases().expect("leases");
    let containers = reg.read(|t| t.containers()).expect("containers");
    let events = reg.events(&EventQuery::default()).expect("events");
    for s in &services {
        assert_eq!(
            s.components.len(),
            COMPONENTS,
            "{}: partial components",
            s.name()
        );
        let n = leases.iter().filter(|l| l.service == s.name()).count();
        assert_eq!(n, COMPONENTS, "{}: partial leases", s.name());
        let n = containers.iter().filter(|c| c.service == s.name()).count();
        assert_eq!(n, COMPONENTS, "{}: partial containers", s.name());
    }
    assert_eq!(
        leases.len(),
        services.len() * COMPONENTS,
        "leases without a service"
    );
    assert_eq!(
        events.len(),
        services.len(),
        "events without a service, or the reverse"
    );
    services.len()
}

#[test]
fn killed_mid_write_leaves_whole_transactions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("mcp.db");
    let exe = std::env::current_exe().expect("test binary");
    let mut committed = 0;
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MCP_CRASH_DB", &db)
            .env("MCP_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn writer");
        let stdout = child.stdout.take().expect("stdout");
        let ready = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| l.trim_end().ends_with("ready"));
        assert!(ready, "writer never committed");
        // Let it run a varying while, so the kill lands at different points.
        std::thread::sleep(Duration::from_millis(5 + round * 17));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let now = check(&db);
        assert!(now > committed, "round {round}: nothing new committed");
        committed = now;
    }
}
