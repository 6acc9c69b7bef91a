//! Routes, certificates and DNS through the real binaries: an agent configured with
//! a (recording) mc-proxy and a real BIND deploys a service with an l7 route; the
//! name resolves, `mcp route list`, `mcp dns` and `mcp status` show the route, the
//! record and the certificate; manual routes are added and removed, a service's
//! route cannot be removed by hand, and stop and undeploy take away exactly what
//! deploy added. Without a proxy or DNS, status says the steps are skipped.

use std::path::Path;

use mcp_testkit::bind::LocalBind;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::testbed::{AgentAuth, Mode, Testbed};

mod common;

use common::{agent_bin, mcp, ok, text};

#[test]
fn routes_and_certificates_through_the_binaries() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let bind = LocalBind::start("svc.mcp.metacircular.net").unwrap_or_else(|e| panic!("{e}"));
    let dir = bed.dir();
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    let certs = dir.join("proxy-certs");
    let extra = format!(
        "{}\n[certs]\nlocal_ca_dir = {}\n\n{}",
        proxy.agent_section(&certs),
        q(&dir.join("node-ca")),
        bind.agent_section("10.0.0.7", &dir.join("tsig.secret"))
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
    let node = bed.node();
    let name = bed.name("routed");
    let host = format!("{name}.svc.mcp.metacircular.net");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");

    ok(&config, &["deploy", &name]);
    let routes = proxy.routes();
    let route = routes
        .get(&(":8443".to_owned(), host.clone()))
        .unwrap_or_else(|| panic!("route registered: {routes:?}"));
    assert_eq!(route.mode, "l7");
    assert_eq!(
        route.tls_cert,
        certs.join(format!("{name}.pem")).display().to_string()
    );

    let resolves = || {
        mcp_core::node::dns::resolve(bind.addr, &host, "A", std::time::Duration::from_secs(2))
            .expect("query")
    };
    assert_eq!(
        resolves(),
        ["10.0.0.7".parse::<std::net::IpAddr>().expect("ip")]
    );
    let dns = ok(&config, &["dns", "-n", node]);
    assert!(dns.contains("ZONE: svc.mcp.metacircular.net"), "{dns}");
    assert!(
        dns.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains(" A ") && l.contains("10.0.0.7")),
        "{dns}"
    );

    let list = ok(&config, &["route", "list", "-n", node]);
    assert!(list.contains("mc-proxy fake-mc-proxy"), "{list}");
    assert!(list.contains(":8443 routes=1"), "{list}");
    assert!(
        list.contains(&format!("l7 {host} → {}", route.backend))
            && list.contains(&format!("[{name}]")),
        "{list}"
    );
    let status = ok(&config, &["status", &name]);
    assert!(
        status.contains(&format!("route     l7 :8443 {host}")),
        "{status}"
    );
    assert!(
        status.contains(&format!("cert      {host} serial")),
        "{status}"
    );
    assert!(status.contains("local"), "{status}");

    // Manual routes: checked, added, listed, removed; a service's route is not
    // removed by hand.
    let out = mcp(
        &config,
        &[
            "route",
            "add",
            "-n",
            node,
            ":443",
            "manual.example",
            "127.0.0.1:9",
            "--mode",
            "l7",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("--tls-cert"), "{}", text(&out));
    ok(
        &config,
        &[
            "route",
            "add",
            "-n",
            node,
            ":443",
            "manual.example",
            "127.0.0.1:9",
            "--mode",
            "l4",
        ],
    );
    assert_eq!(
        proxy
            .routes()
            .get(&(":443".to_owned(), "manual.example".to_owned()))
            .map(|r| r.mode.clone()),
        Some("l4".to_owned())
    );
    let out = mcp(&config, &["route", "remove", "-n", node, ":8443", &host]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("belongs to service {name}")),
        "{}",
        text(&out)
    );
    ok(
        &config,
        &["route", "remove", "-n", node, ":443", "manual.example"],
    );
    let out = mcp(
        &config,
        &["route", "remove", "-n", node, ":443", "manual.example"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // Stop withdraws the route; undeploy takes the certificate too.
    ok(&config, &["stop", &name]);
    assert!(proxy.routes().is_empty(), "{:?}", proxy.routes());
    assert!(resolves().is_empty());
    ok(&config, &["start", &name]);
    assert_eq!(proxy.routes().len(), 1);
    assert_eq!(resolves().len(), 1);
    ok(&config, &["undeploy", &name]);
    assert!(proxy.routes().is_empty());
    assert!(resolves().is_empty());
    let left: Vec<_> = std::fs::read_dir(&certs)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "certificate files left: {left:?}");
}

#[test]
fn without_a_proxy_status_says_the_step_is_skipped() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let (_agent, config, services) = common::token_node(&bed, "");
    let name = bed.name("plain");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");
    let deployed = ok(&config, &["deploy", &name]);
    assert!(deployed.contains("no proxy configured"), "{deployed}");
    let status = ok(&config, &["status", &name]);
    assert!(
        status.contains("skipped   routes and certificates skipped"),
        "{status}"
    );
    assert!(status.contains("skipped   DNS records skipped"), "{status}");
    for args in [
        vec!["route", "list", "-n", bed.node()],
        vec!["dns", "-n", bed.node()],
    ] {
        let out = mcp(&config, &args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", text(&out));
    }
    ok(&config, &["undeploy", &name]);
}
