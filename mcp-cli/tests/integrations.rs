//! The integrations end to end, through the real `mcp` and `mcp-agent`: a service
//! with one l4 and one l7 route gets its l7 certificate from a real ACME server
//! (pebble, DNS-01 validated through a real BIND), both routes in the (recording)
//! mc-proxy with the right mode and certificate paths, and its name in BIND at the
//! node's address; a redeploy switches the route without a failed request to a
//! client of the old backend; stop and undeploy remove exactly what deploy added.

use std::path::Path;
use std::time::{Duration, SystemTime};

use mcp_testkit::bind::LocalBind;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::pebble::LocalPebble;
use mcp_testkit::testbed::{AgentAuth, Mode, Testbed, http_get};

mod common;

use common::{agent_bin, ok};

const ZONE: &str = "svc.mcp.metacircular.net";

fn definition(name: &str, node: &str, version: &str) -> String {
    format!(
        r#"name = "{name}"
node = "{node}"

[[components]]
name = "{name}"
image = "localhost/hello:{version}"
env = ["HELLO_NAME={name}"]

[[components.routes]]
name = "web"
port = 443
mode = "l7"
health_path = "/healthz"

[[components.routes]]
name = "api"
port = 8443
mode = "l4"
"#
    )
}

#[test]
fn deploy_redeploy_stop_undeploy_with_acme_proxy_and_dns() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    bed.hello_image("v0.2.0").expect("image");
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let bind = LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}"));
    let pebble = LocalPebble::start(bind.addr, false).unwrap_or_else(|e| panic!("{e}"));
    let dir = bed.dir();
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let certs = dir.join("proxy-certs");
    let extra = format!(
        "{}\n[certs]\nissuer = \"acme\"\nacme_directory = \"{}\"\nacme_ca_cert = {}\n\
         acme_challenge = \"dns-01\"\nacme_account_file = {}\n\n{}",
        proxy.agent_section(&certs),
        pebble.directory,
        q(&pebble.ca_file),
        q(&dir.join("acme-account.json")),
        bind.agent_section("127.0.0.1", &dir.join("tsig.secret"))
            .expect("dns")
    );
    let agent = bed
        .start_agent_with(&agent_bin(), &AgentAuth::TokenFile, &extra)
        .unwrap_or_else(|e| panic!("{e}"));
    let services = dir.join("services");
    std::fs::create_dir_all(&services).expect("services");
    let config = agent
        .cli_config(bed.node(), &agent.token_file, &services, None)
        .expect("config");
    let name = bed.name("full");
    let host = format!("{name}.{ZONE}");
    let def_path = services.join(format!("{name}.toml"));
    std::fs::write(&def_path, definition(&name, bed.node(), "v0.1.0")).expect("definition");

    // Deploy: both routes, the l7 one with the ACME certificate, the name in DNS.
    let deployed = ok(&config, &["deploy", &name]);
    assert!(!deployed.contains("skipped"), "{deployed}");
    let routes = proxy.routes();
    let web = routes
        .get(&(":443".to_owned(), host.clone()))
        .unwrap_or_else(|| panic!("l7 route: {routes:?}"));
    let api = routes
        .get(&(":8443".to_owned(), host.clone()))
        .unwrap_or_else(|| panic!("l4 route: {routes:?}"));
    assert_eq!((web.mode.as_str(), api.mode.as_str()), ("l7", "l4"));
    let cert = certs.join(format!("{name}.pem"));
    assert_eq!(web.tls_cert, cert.display().to_string());
    assert_eq!(
        web.tls_key,
        certs.join(format!("{name}.key")).display().to_string()
    );
    assert!(api.tls_cert.is_empty() && api.tls_key.is_empty());
    let info =
        mcp_core::node::certs::inspect(&cert, &cert.with_extension("key"), SystemTime::now())
            .expect("a good full chain from pebble");
    assert_eq!(info.hostnames, std::slice::from_ref(&host));
    let resolves = || {
        mcp_core::node::dns::resolve(bind.addr, &host, "A", Duration::from_secs(2)).expect("query")
    };
    assert_eq!(
        resolves(),
        ["127.0.0.1".parse::<std::net::IpAddr>().expect("ip")]
    );
    let status = ok(&config, &["status", &name]);
    assert!(
        status.contains(&format!("cert      {host} serial")) && status.contains("acme"),
        "{status}"
    );

    // Redeploy a new version while a client polls the old l7 backend: no request
    // fails while the route still points there.
    let old_backend = web.backend.clone();
    let old_port: u16 = old_backend
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("port");
    std::fs::write(&def_path, definition(&name, bed.node(), "v0.2.0")).expect("definition");
    let poller = {
        let key = (":443".to_owned(), host.clone());
        let table = proxy.state_handle();
        std::thread::spawn(move || {
            let current = || table.route(&key).map(|r| r.backend);
            let (mut ok, mut failed) = (0u32, Vec::new());
            loop {
                if current().as_ref() != Some(&old_backend) {
                    return (ok, failed);
                }
                match http_get(old_port, "/", 1) {
                    Ok(_) => ok += 1,
                    Err(e) if current().as_ref() == Some(&old_backend) => failed.push(e),
                    Err(_) => {}
                }
            }
        })
    };
    ok(&config, &["deploy", &name]);
    let (answered, failed) = poller.join().expect("poller");
    assert!(failed.is_empty(), "failed before the switch: {failed:?}");
    assert!(answered > 0);
    let web = proxy
        .routes()
        .get(&(":443".to_owned(), host.clone()))
        .cloned()
        .expect("route");
    let new_port: u16 = web
        .backend
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("port");
    assert_ne!(new_port, old_port);
    assert!(http_get(new_port, "/", 50).expect("new").contains("v0.2.0"));
    let ps = ok(&config, &["ps"]);
    assert!(
        ps.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains("running") && l.contains("v0.2.0")),
        "{ps}"
    );

    // Stop withdraws the routes and the name; undeploy takes the certificate too.
    ok(&config, &["stop", &name]);
    assert!(proxy.routes().is_empty(), "{:?}", proxy.routes());
    assert!(resolves().is_empty());
    ok(&config, &["undeploy", &name]);
    assert!(proxy.routes().is_empty());
    assert!(resolves().is_empty());
    let left: Vec<_> = std::fs::read_dir(&certs)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "certificate files left: {left:?}");
}
