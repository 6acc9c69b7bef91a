//! Registry tests on real database files.

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use mcp_model::spec::ServiceDefinition;

const DEF: &str = r#"
name = "web"
node = "rift"
[[components]]
name = "api"
image = "mcr.example.net:8443/web:v1.0.0"
[[components.routes]]
port = 443
mode = "l7"
[[components]]
name = "ui"
image = "mcr.example.net:8443/web-ui:v1.0.0"
"#;

fn record(def: &ServiceDefinition) -> ServiceRecord {
    let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    ServiceRecord {
        definition: def.clone(),
        active: true,
        components: def
            .components
            .iter()
            .map(|c| ComponentRecord {
                name: c.name.clone(),
                container_name: format!("{}-{}", def.name, c.name),
                image: c.image.clone().unwrap_or_default(),
                version: "v1.0.0".into(),
                desired: DesiredState::Running,
                spec_hash: String::new(),
                flapping_since: None,
            })
            .collect(),
        deployed_at: at,
        updated_at: at,
    }
}

fn open() -> (Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = Registry::open(&dir.path().join("mcp.db")).expect("open");
    (reg, dir)
}

#[test]
fn opens_with_the_promised_settings() {
    use std::os::unix::fs::PermissionsExt;
    let (reg, dir) = open();
    assert_eq!(reg.schema_version().expect("version"), SCHEMA_VERSION);
    let conn = reg.conn.lock().expect("lock");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("q");
    assert_eq!(mode, "wal");
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .expect("q");
    assert_eq!(fk, 1);
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .expect("q");
    assert_eq!(sync, 2, "synchronous=FULL");
    let perms = std::fs::metadata(dir.path().join("mcp.db"))
        .expect("meta")
        .permissions();
    assert_eq!(perms.mode() & 0o777, 0o600);
}

#[test]
fn refuses_a_database_from_a_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mcp.db");
    drop(Registry::open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
    }
    let err = Registry::open(&path).expect_err("newer schema");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
        "{msg}"
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn reopening_keeps_data_and_does_not_rerun_schema_upgrades() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mcp.db");
    let def = ServiceDefinition::parse(DEF, None).expect("def");
    {
        let reg = Registry::open(&path).expect("open");
        reg.transaction(|t| t.put_service(&record(&def)))
            .expect("put");
    }
    let reg = Registry::open(&path).expect("reopen");
    let got = reg.service("web").expect("read").expect("present");
    assert_eq!(got, record(&def));
    assert_eq!(
        got.definition, def,
        "the definition as deployed round-trips"
    );
}

#[test]
fn put_service_replaces_components_and_cascades_containers() {
    let (reg, _dir) = open();
    let def = ServiceDefinition::parse(DEF, None).expect("def");
    let mut rec = record(&def);
    reg.transaction(|t| {
        t.put_service(&rec)?;
        t.put_container(&ContainerRecord {
            name: "web-ui".into(),
            service: "web".into(),
            component: "ui".into(),
            container_id: "abc".into(),
            image: "x".into(),
            created_at: UNIX_EPOCH,
        })
    })
    .expect("put");
    rec.components.retain(|c| c.name == "api");
    reg.transaction(|t| t.put_service(&rec)).expect("put again");
    let got = reg.service("web").expect("read").expect("present");
    assert_eq!(got.components.len(), 1);
    assert!(reg.read(|t| t.containers()).expect("containers").is_empty());
}

#[test]
fn a_container_needs_its_component() {
    let (reg, _dir) = open();
    let err = reg
        .transaction(|t| {
            t.put_container(&ContainerRecord {
                name: "ghost".into(),
                service: "nope".into(),
                component: "api".into(),
                container_id: "1".into(),
                image: "x".into(),
                created_at: UNIX_EPOCH,
            })
        })
        .expect_err("foreign key");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn a_failed_transaction_leaves_nothing() {
    let (reg, _dir) = open();
    let def = ServiceDefinition::parse(DEF, None).expect("def");
    let lease = |port| PortLease {
        port,
        service: "web".into(),
        component: "api".into(),
        route: None,
        leased_at: UNIX_EPOCH,
    };
    let err = reg
        .transaction(|t| {
            t.put_service(&record(&def))?;
            t.insert_lease(&lease(10001))?;
            t.insert_lease(&lease(10002)) // same route again: conflict
        })
        .expect_err("conflict");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(reg.services().expect("services").is_empty());
    assert!(reg.leases().expect("leases").is_empty());
}

#[test]
fn remove_service_releases_its_leases() {
    let (reg, _dir) = open();
    let def = ServiceDefinition::parse(DEF, None).expect("def");
    reg.transaction(|t| {
        t.put_service(&record(&def))?;
        t.insert_lease(&PortLease {
            port: 10001,
            service: "web".into(),
            component: "api".into(),
            route: None,
            leased_at: UNIX_EPOCH,
        })
    })
    .expect("put");
    assert!(
        reg.transaction(|t| t.remove_service("web"))
            .expect("remove")
    );
    assert!(reg.services().expect("services").is_empty());
    assert!(reg.leases().expect("leases").is_empty());
    assert!(
        !reg.transaction(|t| t.remove_service("web"))
            .expect("idempotent")
    );
}

#[test]
fn active_flag_and_component_state() {
    let (reg, _dir) = open();
    let def = ServiceDefinition::parse(DEF, None).expect("def");
    reg.transaction(|t| t.put_service(&record(&def)))
        .expect("put");
    reg.transaction(|t| {
        t.set_service_active("web", false, UNIX_EPOCH)?;
        t.set_component_state("web", "ui", DesiredState::Stopped)
    })
    .expect("update");
    let got = reg.service("web").expect("read").expect("present");
    assert!(!got.active);
    assert_eq!(got.components[1].desired, DesiredState::Stopped);
    let err = reg
        .transaction(|t| t.set_service_active("nope", true, UNIX_EPOCH))
        .expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn certificates_routes_dns_nodes_round_trip() {
    let (reg, _dir) = open();
    let cert = CertificateRecord {
        hostname: "web.svc.mcp.metacircular.net".into(),
        service: Some("web".into()),
        cert_path: "/srv/mc-proxy/certs/web.pem".into(),
        key_path: "/srv/mc-proxy/certs/web.key".into(),
        serial: "0a1b".into(),
        not_after: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        issuer: "local".into(),
    };
    let route = ProxyRouteRecord {
        listener: ":443".into(),
        hostname: cert.hostname.clone(),
        backend: "127.0.0.1:10001".into(),
        mode: Mode::L7,
        tls_cert: Some(cert.cert_path.clone()),
        tls_key: Some(cert.key_path.clone()),
        backend_tls: false,
        proxy_protocol: false,
        service: Some("web".into()),
    };
    let dns = DnsRecord {
        zone: "svc.mcp.metacircular.net".into(),
        name: "web".into(),
        rtype: "A".into(),
        value: "127.0.0.1".into(),
        ttl: 300,
        service: Some("web".into()),
    };
    let node = NodeRecord {
        name: "rift".into(),
        role: NodeRole::Compute,
        addresses: vec!["100.95.252.120:9444".into(), "192.168.88.181:9444".into()],
        ssh: Some("rift".into()),
        arch: "amd64".into(),
        agent_version: Some("0.1.0".into()),
        last_seen: Some(UNIX_EPOCH + Duration::from_millis(1_234)),
    };
    reg.transaction(|t| {
        t.put_certificate(&cert)?;
        t.put_proxy_route(&route)?;
        t.put_dns_record(&dns)?;
        t.put_node(&node)
    })
    .expect("put");
    let (certs, routes, records, nodes) = reg
        .read(|t| {
            Ok::<_, RegistryError>((
                t.certificates()?,
                t.proxy_routes()?,
                t.dns_records()?,
                t.nodes()?,
            ))
        })
        .expect("read");
    assert_eq!(certs, vec![cert.clone()]);
    assert_eq!(routes, vec![route.clone()]);
    assert_eq!(records, vec![dns.clone()]);
    assert_eq!(nodes, vec![node]);
    reg.transaction(|t| {
        assert!(t.remove_certificate(&cert.hostname)?);
        assert!(t.remove_proxy_route(":443", &route.hostname)?);
        assert!(t.remove_dns_record(&dns)?);
        assert!(t.remove_node("rift")?);
        Ok::<_, RegistryError>(())
    })
    .expect("remove");
    assert!(reg.read(|t| t.certificates()).expect("read").is_empty());
}

#[test]
fn events_are_append_only_and_filterable() {
    let (reg, _dir) = open();
    for (i, svc) in ["a", "b", "a"].iter().enumerate() {
        reg.append_event(&NewEvent {
            actor: "kyle".into(),
            action: "deploy".into(),
            service: Some((*svc).into()),
            detail: format!("#{i}"),
            error: (i == 2).then(|| "boom".into()),
        })
        .expect("append");
    }
    let all = reg.events(&EventQuery::default()).expect("events");
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let a = reg
        .events(&EventQuery {
            service: Some("a".into()),
            ..Default::default()
        })
        .expect("events");
    assert_eq!(
        a.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["#0", "#2"]
    );
    assert_eq!(a[1].error.as_deref(), Some("boom"));
    let after = reg
        .events(&EventQuery {
            after_id: Some(all[0].id),
            limit: Some(1),
            ..Default::default()
        })
        .expect("events");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, all[1].id);
    let newest = reg
        .events(&EventQuery {
            last: Some(2),
            ..Default::default()
        })
        .expect("events");
    assert_eq!(
        newest.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[1].id, all[2].id]
    );

    let conn = reg.conn.lock().expect("lock");
    let upd = conn.execute("UPDATE events SET detail = 'x'", []);
    assert!(upd.is_err(), "update must be refused");
    let newest = all[2].id;
    let del = conn.execute("DELETE FROM events WHERE id = ?1", [newest]);
    assert!(del.is_err(), "a hole in the log must be refused");
    let oldest = conn.execute("DELETE FROM events WHERE id = ?1", [all[0].id]);
    assert_eq!(oldest.ok(), Some(1), "the oldest may go (retention)");
}

#[test]
fn the_event_log_keeps_what_its_retention_says_and_bounds_each_event() {
    let (reg, _dir) = open();
    let event = |detail: String| NewEvent {
        actor: "kyle".into(),
        action: "deploy".into(),
        service: Some("a".into()),
        detail,
        error: Some("e".repeat(10_000)),
    };
    // An event from long ago, as a node that ran for a year has.
    reg.transaction(|t| {
        t.tx.execute(
            "INSERT INTO events (at, actor, action, service, detail) VALUES (1000, 'old', 'deploy', 'a', 'ancient')",
            [],
        )
        .map_err(sql("insert"))
    })
    .expect("old event");
    reg.set_event_retention(mcp_model::config::EventsSection {
        keep_days: 1,
        keep_rows: 3,
    });
    for i in 0..5 {
        reg.append_event(&event(format!("#{i}"))).expect("append");
    }
    let kept = reg.events(&EventQuery::default()).expect("events");
    assert_eq!(
        kept.iter().map(|e| e.detail.as_str()).collect::<Vec<_>>(),
        ["#2", "#3", "#4"],
        "the newest three, the ancient one gone"
    );
    let error = kept[0].error.as_deref().expect("error");
    assert!(
        error.len() < super::events::MAX_EVENT_TEXT + 64,
        "{}",
        error.len()
    );
    assert!(
        error.ends_with("(5904 bytes cut)"),
        "{}",
        &error[error.len() - 40..]
    );
}

#[test]
fn a_version_1_database_with_data_is_upgraded_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mcp.db");
    let def = ServiceDefinition::parse(DEF, None).expect("def");
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(schema::UPGRADES[0]).expect("v1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        conn.execute(
            "INSERT INTO services VALUES ('web', 'rift', 1, ?1, 'h', 0, 0)",
            [def.to_toml()],
        )
        .expect("service");
        conn.execute(
            "INSERT INTO components VALUES ('web', 'api', 'web-api', 'img', 'v1.0.0', 'running')",
            [],
        )
        .expect("component");
    }
    let reg = Registry::open(&path).expect("upgrade");
    assert_eq!(reg.schema_version().expect("version"), SCHEMA_VERSION);
    let got = reg.service("web").expect("read").expect("present");
    assert_eq!(got.components[0].spec_hash, "");
    assert_eq!(got.components[0].flapping_since, None);
}

/// What `mcp status` reads of a service, read again and again, is prepared once
/// (see `Tx::rows`): a statement SQLite prepares again on every step made
/// `ServiceStatus` 2.5 times slower (docs/benchmarks.md).
#[test]
fn reads_are_not_prepared_again() {
    let (reg, _dir) = open();
    let def = ServiceDefinition::parse(DEF, None).expect("parse");
    reg.transaction(|t| t.put_service(&record(&def)))
        .expect("put");
    for _ in 0..10 {
        reg.service("web").expect("service");
        reg.read(|t| t.service_leases("web")).expect("leases");
        reg.events(&EventQuery {
            service: Some("web".into()),
            last: Some(10),
            ..EventQuery::default()
        })
        .expect("events");
    }
    let conn = reg.conn.lock().expect("lock");
    for sql in [services::COMPONENTS, leases::SERVICE_LEASES, events::EVENTS] {
        let stmt = conn.prepare_cached(sql).expect("cached");
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "prepared again: {sql}"
        );
    }
}

#[test]
fn revisions_are_numbered_kept_to_their_limit_and_the_running_one_stays() {
    let dir = tempfile::tempdir().expect("tmp");
    let reg = Registry::open(&dir.path().join("mcp.db")).expect("open");
    let def = ServiceDefinition::parse(DEF, None).expect("def");
    reg.transaction(|t| t.put_service(&record(&def)))
        .expect("service");
    let revision = |result| NewRevision {
        service: "web".into(),
        actor: "ops".into(),
        version: "v1.0.0".into(),
        definition: def.clone(),
        images: vec![mcp_model::view::RevisionImage {
            component: "api".into(),
            image: "mcr.example.net:8443/web:v1.0.0".into(),
            digest: Some(format!("sha256:{}", "a".repeat(64))),
        }],
        result,
        step: None,
        error: None,
        rollback_of: None,
    };
    use mcp_model::view::RevisionResult::{Deployed, Failed};
    // 1 runs; 2..=5 fail; with keep = 3 the newest three stay, and 1 too.
    reg.transaction(|t| t.add_revision(&revision(Deployed), true, 3))
        .expect("first");
    for _ in 0..4 {
        reg.transaction(|t| t.add_revision(&revision(Failed), false, 3))
            .expect("failed");
    }
    let kept = reg.read(|t| t.revisions("web")).expect("read");
    let numbers: Vec<(u32, bool)> = kept.iter().map(|r| (r.number, r.current)).collect();
    assert_eq!(numbers, [(1, true), (3, false), (4, false), (5, false)]);
    assert_eq!(kept[0].images[0].digest.as_deref().map(str::len), Some(71));
    assert_eq!(
        reg.read(|t| t.current_revision("web")).expect("current"),
        Some(1)
    );
    // A new one that runs: numbers go on, 1 goes with the limit.
    let n = reg
        .transaction(|t| t.add_revision(&revision(Deployed), true, 3))
        .expect("next");
    assert_eq!(n, 6);
    let numbers: Vec<u32> = reg
        .read(|t| t.revisions("web"))
        .expect("read")
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(numbers, [4, 5, 6]);
    // Kept after the service is gone; nothing runs.
    reg.transaction(|t| t.remove_service("web"))
        .expect("remove");
    assert_eq!(
        reg.read(|t| t.current_revision("web")).expect("current"),
        None
    );
    assert_eq!(reg.read(|t| t.revisions("web")).expect("read").len(), 3);
}
