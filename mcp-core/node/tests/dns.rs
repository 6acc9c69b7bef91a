//! The RFC 2136 registrar against a real BIND 9: records added resolve through an
//! ordinary query, adding twice and removing twice are harmless, removal takes
//! only the records named, and a wrong key, an unsigned server or a server that is
//! down each give their own error.

use std::net::IpAddr;
use std::time::Duration;

use mcp_model::ErrorKind;
use mcp_node::dns::{DnsRegistrar, Rfc2136, records_for, resolve, tsig_algorithm};
use mcp_testkit::bind::LocalBind;

const T: Duration = Duration::from_secs(2);

fn registrar(bind: &LocalBind, secret: Vec<u8>) -> Rfc2136 {
    Rfc2136::new(
        bind.addr,
        &bind.key_name,
        tsig_algorithm("hmac-sha256").expect("alg"),
        secret,
        T,
    )
    .expect("registrar")
}

fn sorted(mut v: Vec<IpAddr>) -> Vec<IpAddr> {
    v.sort();
    v
}

#[test]
fn updates_resolve_and_are_idempotent() {
    let bind = LocalBind::start("svc.mcp.test").unwrap_or_else(|e| panic!("{e}"));
    let dns = registrar(&bind, bind.secret.clone());
    let addrs: Vec<IpAddr> = vec![
        "192.168.88.181".parse().expect("a"),
        "100.95.252.120".parse().expect("a"),
        "fd7a:115c:a1e0::1".parse().expect("aaaa"),
    ];
    let web = records_for("web.svc.mcp.test", "svc.mcp.test", &addrs, 300, "web").expect("zone");
    let api =
        records_for("api.svc.mcp.test", "svc.mcp.test", &addrs[..1], 300, "api").expect("zone");
    dns.add(&web).expect("add");
    dns.add(&web).expect("add again");
    dns.add(&api).expect("add api");
    assert_eq!(
        sorted(resolve(bind.addr, "web.svc.mcp.test", "A", T).expect("query")),
        sorted(addrs[..2].to_vec())
    );
    assert_eq!(
        resolve(bind.addr, "web.svc.mcp.test", "AAAA", T).expect("query"),
        addrs[2..].to_vec()
    );
    // Removing one record of a name leaves the others.
    dns.remove(&web[..1]).expect("remove one");
    assert_eq!(
        resolve(bind.addr, "web.svc.mcp.test", "A", T).expect("query"),
        addrs[1..2].to_vec()
    );
    dns.remove(&web).expect("remove all");
    dns.remove(&web).expect("remove again");
    assert!(
        resolve(bind.addr, "web.svc.mcp.test", "A", T)
            .expect("query")
            .is_empty()
    );
    assert_eq!(
        resolve(bind.addr, "api.svc.mcp.test", "A", T).expect("query"),
        addrs[..1].to_vec(),
        "other names untouched"
    );
}

#[test]
fn wrong_key_and_server_down_are_errors() {
    let bind = LocalBind::start("svc.mcp.test").unwrap_or_else(|e| panic!("{e}"));
    let addrs: Vec<IpAddr> = vec!["192.168.88.181".parse().expect("a")];
    let rec = records_for("x.svc.mcp.test", "svc.mcp.test", &addrs, 300, "x").expect("zone");

    let wrong = registrar(&bind, b"not-the-secret-not-the-secret-xx".to_vec());
    let err = wrong.add(&rec).expect_err("bad signature");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(
        resolve(bind.addr, "x.svc.mcp.test", "A", T)
            .expect("query")
            .is_empty(),
        "nothing added"
    );

    // A zone the server does not serve.
    let other = records_for("x.other.test", "other.test", &addrs, 300, "x").expect("zone");
    let err = registrar(&bind, bind.secret.clone())
        .add(&other)
        .expect_err("not our zone");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");

    let addr = bind.addr;
    let secret = bind.secret.clone();
    let key = bind.key_name.clone();
    drop(bind);
    let down = Rfc2136::new(
        addr,
        &key,
        tsig_algorithm("hmac-sha256").expect("alg"),
        secret,
        T,
    )
    .expect("registrar");
    let err = down.add(&rec).expect_err("down");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

mod engine {
    //! The DNS step of the engine on real Podman, with BIND and a recording proxy.

    use std::net::IpAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use mcp_model::ErrorKind;
    use mcp_model::view::Step;
    use mcp_node::certs::{CertStore, LocalCa};
    use mcp_node::dns::{Rfc2136, resolve, tsig_algorithm};
    use mcp_node::engine::{DnsIntegration, Engine, ProxyIntegration};
    use mcp_node::ports::BindProbe;
    use mcp_node::proxy::McProxy;
    use mcp_node::registry::Registry;
    use mcp_testkit::bind::LocalBind;
    use mcp_testkit::fake_mcproxy::FakeMcProxy;
    use mcp_testkit::testbed::{Mode, Testbed};

    const T: Duration = Duration::from_secs(2);
    const ZONE: &str = "svc.mcp.metacircular.net";

    fn engine(
        bed: &Testbed,
        proxy: &FakeMcProxy,
        bind: &LocalBind,
        secret: Vec<u8>,
    ) -> Arc<Engine> {
        let mut config = bed.engine_config();
        config.proxy = Some(ProxyIntegration {
            routes: Arc::new(McProxy::new(&proxy.socket, T)),
            certs: CertStore::new(bed.dir().join("certs")),
            issuer: Arc::new(
                LocalCa::open_or_create(&bed.dir().join("ca"), Duration::from_secs(90 * 86_400))
                    .expect("ca"),
            ),
            renew_window: Duration::from_secs(30 * 86_400),
        });
        config.dns = Some(DnsIntegration {
            registrar: Arc::new(
                Rfc2136::new(
                    bind.addr,
                    &bind.key_name,
                    tsig_algorithm("hmac-sha256").expect("alg"),
                    secret,
                    T,
                )
                .expect("registrar"),
            ),
            zone: ZONE.into(),
            addresses: vec![
                "192.168.88.181".parse().expect("a"),
                "100.95.252.120".parse().expect("a"),
            ],
            ttl: 300,
        });
        let registry = Arc::new(Registry::open(&bed.dir().join("mcp.db")).expect("registry"));
        Arc::new(
            Engine::new(
                config,
                registry,
                Arc::new(bed.runtime()),
                Box::new(BindProbe::default()),
            )
            .expect("engine"),
        )
    }

    fn a(bind: &LocalBind, name: &str) -> Vec<IpAddr> {
        let mut v = resolve(bind.addr, &format!("{name}.{ZONE}"), "A", T).expect("query");
        v.sort();
        v
    }

    #[test]
    fn names_follow_the_lifecycle_and_failures_undo_everything() {
        let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
        bed.hello_image("v0.1.0").expect("image");
        let proxy = FakeMcProxy::start().expect("proxy");
        let bind = LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}"));
        let engine = engine(&bed, &proxy, &bind, bind.secret.clone());
        let both: Vec<IpAddr> = vec![
            "100.95.252.120".parse().expect("a"),
            "192.168.88.181".parse().expect("a"),
        ];

        let name = bed.name("named");
        let def = bed.hello_definition(&name, "v0.1.0", "");
        let report = engine.deploy(&def, "tester").expect("deploy");
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(a(&bind, &name), both);
        let owned = engine
            .registry()
            .read(|t| t.dns_records())
            .expect("records");
        assert_eq!(owned.len(), 2, "{owned:?}");
        assert!(
            owned
                .iter()
                .all(|r| r.service.as_deref() == Some(name.as_str()))
        );

        // A second service wanting the same name is a conflict, refused before
        // any step, and leaves nothing.
        let twin = bed.name("twin");
        let twin_def = mcp_model::spec::ValidatedDefinition::parse(
            &bed.hello_definition(&twin, "v0.1.0", "")
                .to_toml()
                .replace("port = 8443", "port = 9443")
                .replace(
                    "mode = \"l7\"",
                    &format!("mode = \"l7\"\nhostname = \"{name}.{ZONE}\""),
                ),
            None,
        )
        .expect("twin");
        let err = engine.deploy(&twin_def, "tester").expect_err("same name");
        assert_eq!(err.step(), Some(Step::Validate), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("is held by service {name}")),
            "{err}"
        );
        assert!(engine.runtime().inspect(&twin).expect("inspect").is_none());
        assert_eq!(proxy.routes().len(), 1, "the twin's route was rolled back");
        assert_eq!(a(&bind, &name), both, "the first service's records stay");

        // Stop takes the name away; start brings it back.
        engine.stop(&name, "tester").expect("stop");
        assert!(a(&bind, &name).is_empty());
        assert!(
            engine
                .registry()
                .read(|t| t.dns_records())
                .expect("records")
                .is_empty()
        );
        engine.start(&name, "tester").expect("start");
        assert_eq!(a(&bind, &name), both);

        // A server refusing updates (wrong key): a new service is rolled back
        // whole, its route included; the running one is untouched.
        let refused = engine_with_wrong_key(&bed, &proxy, &bind);
        let other = bed.name("other");
        let err = refused
            .deploy(&bed.hello_definition(&other, "v0.1.0", ""), "tester")
            .expect_err("refused");
        assert_eq!(err.step(), Some(Step::Dns), "{err}");
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
        assert!(a(&bind, &other).is_empty());
        assert!(
            !proxy
                .routes()
                .keys()
                .any(|(_, h)| h.starts_with(other.as_str())),
            "route rolled back: {:?}",
            proxy.routes()
        );
        assert!(
            refused
                .runtime()
                .inspect(&other)
                .expect("inspect")
                .is_none()
        );
        // Stopping through the refusing server fails before anything stops.
        let err = refused.stop(&name, "tester").expect_err("refused");
        assert_eq!(err.step(), Some(Step::Dns), "{err}");
        assert_eq!(proxy.routes().len(), 1, "the route was put back");
        assert_eq!(a(&bind, &name), both);

        engine.undeploy(&name, "tester").expect("undeploy");
        assert!(a(&bind, &name).is_empty());
        assert!(proxy.routes().is_empty());
    }

    fn engine_with_wrong_key(bed: &Testbed, proxy: &FakeMcProxy, bind: &LocalBind) -> Arc<Engine> {
        engine(
            bed,
            proxy,
            bind,
            b"not-the-secret-not-the-secret-xx".to_vec(),
        )
    }
}

mod mcns {
    //! The MCNS registrar against an in-process MCNS speaking its REST API.

    use std::net::IpAddr;
    use std::time::Duration;

    use mcp_model::ErrorKind;
    use mcp_node::dns::{DnsRegistrar, Mcns, records_for};
    use mcp_testkit::fake_mcns::FakeMcns;

    #[test]
    fn adds_and_removes_idempotently_and_names_errors() {
        let server = FakeMcns::start("agent-token").expect("mcns");
        let dns = Mcns::new(
            &server.url,
            &server.token,
            Some(&server.ca_pem),
            Duration::from_secs(5),
        )
        .expect("client");
        let addrs: Vec<IpAddr> = vec![
            "192.168.88.181".parse().expect("a"),
            "100.95.252.120".parse().expect("a"),
        ];
        let recs = records_for(
            "mcq.svc.mcp.metacircular.net",
            "svc.mcp.metacircular.net",
            &addrs,
            300,
            "mcq",
        )
        .expect("zone");
        dns.add(&recs).expect("add");
        dns.add(&recs).expect("add again (409 is fine)");
        let held: Vec<(String, String, String)> = server
            .records("svc.mcp.metacircular.net")
            .into_iter()
            .map(|r| (r.name, r.rtype, r.value))
            .collect();
        assert_eq!(
            held,
            [
                (
                    "mcq".to_owned(),
                    "A".to_owned(),
                    "192.168.88.181".to_owned()
                ),
                (
                    "mcq".to_owned(),
                    "A".to_owned(),
                    "100.95.252.120".to_owned()
                ),
            ]
        );
        dns.remove(&recs[..1]).expect("remove one");
        assert_eq!(server.records("svc.mcp.metacircular.net").len(), 1);
        dns.remove(&recs).expect("remove all");
        dns.remove(&recs).expect("remove again");
        assert!(server.records("svc.mcp.metacircular.net").is_empty());

        // Wrong token: refused, named.
        let wrong = Mcns::new(
            &server.url,
            "nope",
            Some(&server.ca_pem),
            Duration::from_secs(5),
        )
        .expect("client");
        let err = wrong.add(&recs).expect_err("unauthorized");
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
        assert!(err.to_string().contains("401"), "{err}");
        // Untrusted CA: unavailable, with the TLS reason.
        let untrusted =
            Mcns::new(&server.url, &server.token, None, Duration::from_secs(5)).expect("client");
        let err = untrusted.add(&recs).expect_err("unknown CA");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        // Down (503): unavailable, with the status.
        server.set_down(true);
        let err = dns.add(&recs).expect_err("down");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.to_string().contains("503"), "{err}");
    }
}
