//! The edge engine (`mcp_core::engine` on an edge node), in process, with a
//! recording mc-proxy on a real Unix socket and no container runtime at all: what
//! an edge node refuses (compute role, hostnames outside the allowed domains,
//! backends outside the zone, a proxy that fails), what a route leaves behind
//! (certificate, proxy route, records), that the monitor's renewal re-adds edge
//! routes with the new certificate, that an unreachable backend is reported, and
//! that removal leaves nothing.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use mcp_model::ErrorKind;
use mcp_model::ports::NoProbe;
use mcp_model::view::EdgeRouteRequest;
use mcp_node::certs::{CertStore, LocalCa};
use mcp_node::engine::{Engine, EngineConfig, ProxyIntegration};
use mcp_node::proxy::McProxy;
use mcp_node::registry::{NodeRole, Registry};
use mcp_node::runtime::NoContainers;
use mcp_proto::tonic::Code;
use mcp_testkit::fake_mcproxy::FakeMcProxy;

fn edge_engine(
    dir: &std::path::Path,
    proxy: &FakeMcProxy,
    role: NodeRole,
    window: Duration,
) -> Engine {
    let mut config = EngineConfig::for_node("svc");
    config.role = role;
    config.allowed_domains = vec!["example.org".into()];
    config.snapshots.dir = dir.join("snapshots");
    config.conventions.data_root = dir.join("srv");
    config.proxy = Some(ProxyIntegration {
        routes: Arc::new(McProxy::new(&proxy.socket, Duration::from_secs(5))),
        certs: CertStore::new(dir.join("certs")),
        issuer: Arc::new(
            LocalCa::open_or_create(&dir.join("ca"), Duration::from_secs(90 * 86_400)).expect("ca"),
        ),
        renew_window: window,
    });
    let registry = Arc::new(Registry::open(&dir.join("mcp.db")).expect("registry"));
    Engine::new(
        config,
        registry,
        Arc::new(NoContainers::new("svc")),
        Box::new(NoProbe),
    )
    .expect("engine")
}

fn request(hostname: &str, backend: &str) -> EdgeRouteRequest {
    EdgeRouteRequest {
        hostname: hostname.into(),
        service: "shop".into(),
        node: "rift".into(),
        backend_hostname: "shop.svc.mcp.metacircular.net".into(),
        backend: backend.into(),
        listener: ":443".into(),
    }
}

#[test]
fn edge_routes_checked_set_up_renewed_and_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let day = Duration::from_secs(86_400);
    let engine = edge_engine(dir.path(), &proxy, NodeRole::Edge, 30 * day);
    let backend = TcpListener::bind("127.0.0.1:0").expect("backend");
    let backend_addr = backend.local_addr().expect("addr").to_string();

    // Refused, with nothing changed.
    let kind = |r: Result<(), mcp_node::Error>| r.expect_err("refused").kind();
    assert_eq!(
        kind(engine.check_edge_route(&request("www.evilexample.org", &backend_addr))),
        ErrorKind::InvalidInput
    );
    let mut outside = request("www.example.org", &backend_addr);
    outside.backend_hostname = "shop.example.com".into();
    assert_eq!(
        kind(engine.check_edge_route(&outside)),
        ErrorKind::InvalidInput
    );
    let compute_dir = tempfile::tempdir().expect("dir");
    let compute = edge_engine(compute_dir.path(), &proxy, NodeRole::Compute, 30 * day);
    assert_eq!(
        kind(compute.check_edge_route(&request("www.example.org", &backend_addr))),
        ErrorKind::FailedPrecondition
    );
    proxy.fail("add", Code::Unavailable);
    let failed = engine.setup_edge_route(&request("www.example.org", &backend_addr), "tester");
    assert_eq!(
        failed.expect_err("proxy down").kind(),
        ErrorKind::Unavailable
    );
    proxy.heal();
    assert!(proxy.routes().is_empty());
    assert!(
        !dir.path().join("certs/www.example.org.pem").exists(),
        "the new certificate was taken back"
    );
    assert!(engine.edge_routes(false).expect("routes").is_empty());

    // Set up: certificate for the public name, an l7 route re-encrypting to the
    // backend, the records.
    let s = engine
        .setup_edge_route(&request("www.example.org", &backend_addr), "tester")
        .expect("set up");
    let route = proxy
        .routes()
        .remove(&(":443".to_owned(), "www.example.org".to_owned()))
        .expect("route");
    assert_eq!(
        (
            route.backend.as_str(),
            route.mode.as_str(),
            route.backend_tls
        ),
        (backend_addr.as_str(), "l7", true)
    );
    let cert = dir.path().join("certs/www.example.org.pem");
    assert_eq!(route.tls_cert, cert.display().to_string());
    let listed = engine.edge_routes(true).expect("routes");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].cert_serial, s.cert_serial);
    assert_eq!(listed[0].backend_reachable, Some(true));
    // A route added by hand cannot take it over.
    let by_hand = mcp_node::proxy::ProxyRoute {
        listener: ":443".into(),
        hostname: "www.example.org".into(),
        backend: "127.0.0.1:1".into(),
        mode: mcp_model::spec::Mode::L4,
        tls_cert: None,
        tls_key: None,
        backend_tls: false,
        proxy_protocol: false,
    };
    assert_eq!(
        engine
            .add_route(&by_hand, "tester")
            .expect_err("owned")
            .kind(),
        ErrorKind::Conflict
    );

    // Renewal (a window longer than the validity makes it due) re-adds the route.
    let eager = edge_engine(dir.path(), &proxy, NodeRole::Edge, 100 * day);
    let calls = proxy.calls().len();
    let renewed = eager.renew_certificates("tester").expect("renewal");
    assert_eq!(renewed.len(), 1, "{renewed:?}");
    assert!(renewed[0].error.is_none(), "{renewed:?}");
    assert_ne!(Some(&renewed[0].serial), s.cert_serial.as_ref());
    assert!(
        proxy.calls()[calls..]
            .iter()
            .any(|c| c.contains("www.example.org")),
        "{:?}",
        proxy.calls()
    );

    // The backend goes away: reported, with why.
    drop(backend);
    let listed = engine.edge_routes(true).expect("routes");
    assert_eq!(listed[0].backend_reachable, Some(false));
    assert!(listed[0].backend_error.is_some());

    // Removed: route, certificate, records.
    let removed = engine
        .remove_edge_routes(&"shop".parse().expect("name"), None, "tester")
        .expect("removed");
    assert_eq!(removed, ["www.example.org"]);
    assert!(proxy.routes().is_empty());
    assert!(!cert.exists());
    assert!(engine.edge_routes(false).expect("routes").is_empty());
    assert!(
        engine
            .registry()
            .read(|t| t.certificates())
            .expect("certs")
            .is_empty()
    );
}
