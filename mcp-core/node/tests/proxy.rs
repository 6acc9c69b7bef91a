//! The proxy steps on real Podman with a recording mc-proxy on a real Unix socket:
//! deploy issues the l7 certificate and registers the route after the container
//! runs; stop and undeploy withdraw exactly what deploy added; a failure in any
//! step (issuer, proxy, a route held by someone else) leaves the node as it was.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_model::ErrorKind;
use mcp_model::view::Step;
use mcp_node::certs::{CertError, CertIssuer, CertStore, IssuedCert, LocalCa};
use mcp_node::engine::{Engine, ProxyIntegration};
use mcp_node::ports::BindProbe;
use mcp_node::proxy::McProxy;
use mcp_node::registry::Registry;
use mcp_node::runtime::ContainerState;
use mcp_proto::mcproxy::v1 as wire;
use mcp_proto::tonic::Code;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::testbed::{Mode, Testbed, http_get};

/// An issuer that is down.
#[derive(Debug)]
struct DownIssuer;

impl CertIssuer for DownIssuer {
    fn name(&self) -> &str {
        "down"
    }
    fn issue(&self, hostname: &str) -> Result<IssuedCert, CertError> {
        Err(CertError::Issue {
            issuer: "down".into(),
            hostname: hostname.into(),
            message: "connection refused".into(),
        })
    }
}

struct Node {
    bed: Testbed,
    proxy: FakeMcProxy,
    engine: Arc<Engine>,
}

fn node_with(issuer: Option<Arc<dyn CertIssuer>>) -> Node {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let engine = engine(&bed, &proxy, issuer);
    Node { bed, proxy, engine }
}

fn engine(bed: &Testbed, proxy: &FakeMcProxy, issuer: Option<Arc<dyn CertIssuer>>) -> Arc<Engine> {
    engine_with_window(bed, proxy, issuer, Duration::from_secs(30 * 86_400))
}

fn engine_with_window(
    bed: &Testbed,
    proxy: &FakeMcProxy,
    issuer: Option<Arc<dyn CertIssuer>>,
    renew_window: Duration,
) -> Arc<Engine> {
    let issuer = issuer.unwrap_or_else(|| {
        Arc::new(
            LocalCa::open_or_create(&bed.dir().join("ca"), Duration::from_secs(90 * 86_400))
                .expect("ca"),
        )
    });
    let mut config = bed.engine_config();
    config.proxy = Some(ProxyIntegration {
        routes: Arc::new(McProxy::new(&proxy.socket, Duration::from_secs(5))),
        certs: CertStore::new(bed.dir().join("certs")),
        issuer,
        renew_window,
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

fn table(proxy: &FakeMcProxy) -> Table {
    proxy
        .routes()
        .into_values()
        .map(|r| {
            (
                format!("{} {}", r.listener, r.hostname),
                (r.backend, r.mode, r.tls_cert),
            )
        })
        .collect()
}

/// The proxy's table as `"listener hostname"` → (backend, mode, certificate).
type Table = BTreeMap<String, (String, String, String)>;

/// Everything a node holds for the proxy: the table, the owned-route and
/// certificate records, and the certificate files.
fn snapshot(n: &Node) -> (Table, usize, Vec<String>, Vec<String>) {
    let routes = n
        .engine
        .registry()
        .read(|t| t.proxy_routes())
        .expect("routes");
    let certs: Vec<String> = n
        .engine
        .registry()
        .read(|t| t.certificates())
        .expect("certs")
        .into_iter()
        .map(|c| format!("{} {}", c.hostname, c.serial))
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(n.bed.dir().join("certs"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    (table(&n.proxy), routes.len(), certs, files)
}

#[test]
fn routes_and_certificates_follow_the_lifecycle() {
    let n = node_with(None);
    let name = n.bed.name("web");
    let host = format!("{name}.svc.mcp.metacircular.net");
    let def = n.bed.hello_definition(&name, "v0.1.0", "");
    let report = n.engine.deploy(&def, "tester").expect("deploy");
    assert_eq!(report.warnings, [mcp_node::engine::DNS_NOT_CONFIGURED]);
    let port = port_of(&n.engine, &name);
    let cert = n.bed.dir().join(format!("certs/{name}.pem"));
    assert_eq!(
        table(&n.proxy),
        BTreeMap::from([(
            format!(":8443 {host}"),
            (
                format!("127.0.0.1:{port}"),
                "l7".to_owned(),
                cert.display().to_string()
            )
        )])
    );
    // The container answered before the route was added: it serves now.
    assert!(http_get(port, "/", 100).is_ok());
    let info = mcp_node::certs::inspect(&cert, &cert.with_extension("key"), SystemTime::now())
        .expect("a good full chain");
    assert_eq!(info.hostnames, std::slice::from_ref(&host));
    let recorded = n
        .engine
        .registry()
        .read(|t| t.certificates())
        .expect("certs");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].serial, info.serial);
    assert_eq!(recorded[0].issuer, "local");

    // Redeploying the same definition changes nothing at the proxy, and the
    // certificate is reused.
    let calls = n.proxy.calls().len();
    n.engine.deploy(&def, "tester").expect("redeploy");
    assert_eq!(n.proxy.calls().len(), calls, "{:?}", n.proxy.calls());
    let again = n
        .engine
        .registry()
        .read(|t| t.certificates())
        .expect("certs");
    assert_eq!(again[0].serial, info.serial);

    // Stop withdraws the route; start puts it back.
    n.engine.stop(&name, "tester").expect("stop");
    assert!(n.proxy.routes().is_empty());
    assert_eq!(state(&n.engine, &name), Some(ContainerState::Exited));
    assert_eq!(
        n.proxy.calls().last().map(String::as_str),
        Some(format!("remove :8443 {host}").as_str())
    );
    n.engine.start(&name, "tester").expect("start");
    assert_eq!(table(&n.proxy).len(), 1);

    // Undeploy removes the route, the certificate files and the records.
    n.engine.undeploy(&name, "tester").expect("undeploy");
    assert_eq!(snapshot(&n), (BTreeMap::new(), 0, vec![], vec![]));
}

#[test]
fn failures_leave_the_node_as_it_was() {
    let n = node_with(None);
    let name = n.bed.name("keep");
    n.engine
        .deploy(&n.bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect("deploy");
    let port = port_of(&n.engine, &name);
    let before = snapshot(&n);

    // The proxy fails while a changed definition is deployed, after its new
    // container started: the old container is back, serving, and the proxy and
    // records are as they were.
    n.proxy.fail("list", Code::Unavailable);
    let changed = n
        .bed
        .hello_definition(&name, "v0.1.0", "restart = \"always\"");
    let err = n.engine.deploy(&changed, "tester").expect_err("proxy down");
    assert_eq!(err.step(), Some(Step::Routes), "{err}");
    n.proxy.heal();
    assert_eq!(snapshot(&n).0, before.0);
    assert_eq!(snapshot(&n), before);
    assert!(http_get(port, "/", 100).is_ok(), "the old container serves");

    // A new service whose route cannot be added leaves nothing: no container,
    // lease, certificate, route or record.
    let fresh = n.bed.name("fresh");
    n.proxy.fail("add", Code::Unavailable);
    let err = n
        .engine
        .deploy(&n.bed.hello_definition(&fresh, "v0.1.0", ""), "tester")
        .expect_err("proxy down");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    n.proxy.heal();
    assert_eq!(state(&n.engine, &fresh), None);
    assert_eq!(snapshot(&n), before);
    assert!(
        n.engine
            .registry()
            .read(|t| t.service_leases(&fresh))
            .expect("leases")
            .is_empty()
    );

    // A route someone else holds is a conflict, named, before any container.
    let taken = n.bed.name("taken");
    n.proxy.insert(wire::Route {
        listener: ":8443".into(),
        hostname: format!("{taken}.svc.mcp.metacircular.net"),
        backend: "127.0.0.1:1".into(),
        mode: "l4".into(),
        ..Default::default()
    });
    let err = n
        .engine
        .deploy(&n.bed.hello_definition(&taken, "v0.1.0", ""), "tester")
        .expect_err("conflict");
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("mcp route remove"), "{err}");
    assert_eq!(state(&n.engine, &taken), None);
    assert_eq!(n.proxy.routes().len(), 2, "the foreign route stays");

    // Stop with the proxy refusing removals: nothing stops, the route stays.
    n.proxy.fail("remove", Code::Unavailable);
    let err = n.engine.stop(&name, "tester").expect_err("proxy down");
    assert_eq!(err.step(), Some(Step::Routes), "{err}");
    assert_eq!(state(&n.engine, &name), Some(ContainerState::Running));
    n.proxy.heal();
}

#[test]
fn an_issuer_that_is_down_fails_the_deploy_at_certs() {
    let n = node_with(Some(Arc::new(DownIssuer)));
    let name = n.bed.name("nocert");
    let err = n
        .engine
        .deploy(&n.bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect_err("no issuer");
    assert_eq!(err.step(), Some(Step::Certs), "{err}");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert_eq!(state(&n.engine, &name), None);
    assert_eq!(snapshot(&n), (BTreeMap::new(), 0, vec![], vec![]));
}

/// The definition of `name` at `version` with `route_extra` in its route table.
fn with_route(
    bed: &Testbed,
    name: &str,
    version: &str,
    route_extra: &str,
) -> mcp_model::spec::ValidatedDefinition {
    let text = bed
        .hello_definition(name, version, "")
        .to_toml()
        .replace("mode = \"l7\"", &format!("mode = \"l7\"\n{route_extra}"));
    mcp_model::spec::ValidatedDefinition::parse(&text, None).expect("definition")
}

#[test]
fn a_redeploy_switches_without_a_failed_request() {
    let n = node_with(None);
    n.bed.hello_image("v0.2.0").expect("image");
    let name = n.bed.name("zd");
    let host = format!("{name}.svc.mcp.metacircular.net");
    n.engine
        .deploy(
            &with_route(&n.bed, &name, "v0.1.0", "health_path = \"/healthz\""),
            "tester",
        )
        .expect("deploy");
    let old_port = port_of(&n.engine, &name);
    let backend = |p: &FakeMcProxy| {
        p.routes()
            .get(&(":8443".to_owned(), host.clone()))
            .map(|r| r.backend.clone())
    };
    let old_backend = backend(&n.proxy).expect("route");

    // A client polls the old port for as long as the route points at it. A
    // failure counts only if the route still pointed there after it.
    let poller = {
        let socket = n.proxy.socket.clone();
        let host = host.clone();
        let old_backend = old_backend.clone();
        std::thread::spawn(move || {
            use mcp_node::proxy::RouteTable;
            let proxy = McProxy::new(&socket, Duration::from_secs(5));
            let current = || {
                proxy
                    .list()
                    .expect("list")
                    .into_iter()
                    .find(|r| r.hostname == host)
                    .map(|r| r.backend)
            };
            let (mut ok, mut failed) = (0u32, Vec::new());
            loop {
                let now = current();
                if now.as_ref() != Some(&old_backend) {
                    return (ok, failed, now);
                }
                match http_get(old_port, "/", 1) {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        if current().as_ref() == Some(&old_backend) {
                            failed.push(e);
                        }
                    }
                }
            }
        })
    };
    let report = n
        .engine
        .deploy(
            &with_route(&n.bed, &name, "v0.2.0", "health_path = \"/healthz\""),
            "tester",
        )
        .expect("redeploy");
    let (ok, failed, switched_to) = poller.join().expect("poller");
    assert!(
        failed.is_empty(),
        "requests failed before the switch: {failed:?}"
    );
    assert!(ok > 0, "the poller got answers");
    let new_port = port_of(&n.engine, &name);
    assert_ne!(new_port, old_port);
    assert_eq!(switched_to, Some(format!("127.0.0.1:{new_port}")));
    assert_eq!(
        report.changes(),
        [(name.to_string(), mcp_model::view::ComponentChange::Replaced)]
    );
    assert!(
        http_get(new_port, "/", 50)
            .expect("new version")
            .contains("v0.2.0")
    );
    assert_eq!(state(&n.engine, &name), Some(ContainerState::Running));
    assert_eq!(state(&n.engine, &format!("{name}-mcp-next")), None);
    assert_eq!(state(&n.engine, &format!("{name}-mcp-previous")), None);
    assert!(
        http_get(old_port, "/", 1).is_err(),
        "the old container is gone"
    );
    // The lease moved: one lease, the new port, under the component's own name.
    let leases = n
        .engine
        .registry()
        .read(|t| t.service_leases(&name))
        .expect("leases");
    assert_eq!(leases.len(), 1);
    assert_eq!(
        (leases[0].component.as_str(), leases[0].port),
        (name.as_str(), new_port)
    );
    // The recorded spec matches the renamed container: a redeploy keeps it.
    let again = n
        .engine
        .deploy(
            &with_route(&n.bed, &name, "v0.2.0", "health_path = \"/healthz\""),
            "tester",
        )
        .expect("redeploy unchanged");
    assert_eq!(
        again.changes(),
        [(
            name.to_string(),
            mcp_model::view::ComponentChange::Unchanged
        )]
    );
}

#[test]
fn an_unhealthy_new_version_leaves_the_old_one_serving() {
    let n = node_with(None);
    n.bed.hello_image("v0.2.0").expect("image");
    let name = n.bed.name("sick");
    n.engine
        .deploy(&n.bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect("deploy");
    let port = port_of(&n.engine, &name);
    let before = snapshot(&n);
    let err = n
        .engine
        .deploy(
            &with_route(
                &n.bed,
                &name,
                "v0.2.0",
                "health_path = \"/missing\"\nhealth_timeout = 2",
            ),
            "tester",
        )
        .expect_err("unhealthy");
    assert_eq!(err.step(), Some(Step::Health), "{err}");
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert_eq!(snapshot(&n), before);
    assert_eq!(port_of(&n.engine, &name), port);
    assert!(http_get(port, "/", 10).is_ok(), "the old version serves");
    assert_eq!(state(&n.engine, &format!("{name}-mcp-next")), None);

    // A new service that never answers is not routed, and leaves nothing.
    let mute = n.bed.name("mute");
    let def = with_route(
        &n.bed,
        &mute,
        "v0.1.0",
        "health_path = \"/missing\"\nhealth_timeout = 1",
    );
    let err = n.engine.deploy(&def, "tester").expect_err("unhealthy");
    assert_eq!(err.step(), Some(Step::Health), "{err}");
    assert_eq!(state(&n.engine, &mute), None);
    assert_eq!(snapshot(&n), before);
}

#[test]
fn certificates_inside_the_window_are_renewed_and_the_proxy_told() {
    let n = node_with(None);
    let name = n.bed.name("renew");
    n.engine
        .deploy(&n.bed.hello_definition(&name, "v0.1.0", ""), "tester")
        .expect("deploy");
    let before = n
        .engine
        .registry()
        .read(|t| t.certificates())
        .expect("certs");
    // Nothing is due with the normal window.
    let renewed = n.engine.renew_certificates("tester").expect("pass");
    assert!(renewed.is_empty(), "{renewed:?}");
    // A window longer than the validity makes it due.
    let eager = engine_with_window(&n.bed, &n.proxy, None, Duration::from_secs(100 * 86_400));
    let calls = n.proxy.calls().len();
    let renewed = eager.renew_certificates("tester").expect("pass");
    assert_eq!(renewed.len(), 1, "{renewed:?}");
    assert!(renewed[0].error.is_none(), "{renewed:?}");
    assert_ne!(renewed[0].serial, before[0].serial);
    let after = n
        .engine
        .registry()
        .read(|t| t.certificates())
        .expect("certs");
    assert_eq!(after[0].serial, renewed[0].serial);
    let cert = std::path::PathBuf::from(&after[0].cert_path);
    let on_disk = mcp_node::certs::inspect(&cert, &cert.with_extension("key"), SystemTime::now())
        .expect("good");
    assert_eq!(on_disk.serial, renewed[0].serial);
    assert!(
        n.proxy.calls()[calls..]
            .iter()
            .any(|c| c.starts_with("add :8443")),
        "the proxy was told: {:?}",
        n.proxy.calls()
    );
    let events = n
        .engine
        .registry()
        .events(&mcp_node::registry::EventQuery {
            service: Some(name.to_string()),
            ..Default::default()
        })
        .expect("events");
    assert!(
        events
            .iter()
            .any(|e| e.action == "cert-renew" && e.error.is_none()),
        "{events:?}"
    );
}
