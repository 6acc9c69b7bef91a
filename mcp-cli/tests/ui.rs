//! `mcp ui` through the real binaries and a real browser (headless
//! Chromium over the DevTools protocol): the fleet page shows the test node
//! and its service, a service's page its components, routes, certificates
//! (a fake mc-proxy, the local CA), DNS records (BIND 9) and events, the event page takes a new event live from the feed; all of
//! it reached with the keyboard alone, in light and dark mode. Requests
//! without the key, or for another host name, are refused. The screenshots
//! are kept in `target/tmp/ui/`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use mcp_testkit::bind::LocalBind;
use mcp_testkit::chromium::Browser;
use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::testbed::{Mode, Testbed, http_exchange};

mod common;

use common::ok;

/// A running `mcp ui --port 0` and the address it printed.
struct Dashboard {
    child: std::process::Child,
    url: String,
}

impl Dashboard {
    fn start(config: &std::path::Path) -> Dashboard {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mcp"))
            .arg("--config")
            .arg(config)
            .args(["ui", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mcp ui");
        let mut first = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout);
        lines.read_line(&mut first).expect("the address");
        std::thread::spawn(move || for _ in lines.lines() {});
        let url = first
            .trim()
            .strip_prefix("dashboard: ")
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_owned();
        Dashboard { child, url }
    }

    /// `http://127.0.0.1:PORT`.
    fn origin(&self) -> &str {
        self.url.split("/?").next().expect("origin")
    }

    fn addr(&self) -> std::net::SocketAddr {
        let hostport = self.origin().trim_start_matches("http://");
        hostport.parse().expect("address")
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_of(response: &str) -> &str {
    response.split_whitespace().nth(1).unwrap_or_default()
}

#[test]
fn the_dashboard_shows_the_fleet_in_a_real_browser() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let bind = LocalBind::start("svc.mcp.metacircular.net").unwrap_or_else(|e| panic!("{e}"));
    let dir = bed.dir();
    let extra = format!(
        "{}\n{}",
        proxy.agent_section(&dir.join("proxy-certs")),
        bind.agent_section("127.0.0.1", &dir.join("tsig.secret"))
            .expect("dns")
    );
    let (_agent, config, services) = common::token_node(&bed, &extra);
    let name = bed.name("dash").to_string();
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");
    ok(&config, &["deploy", &name]);
    let ui = Dashboard::start(&config);

    // Without the key, or under another name (DNS rebinding): refused.
    let host = ui.addr().to_string();
    let plain = |path: &str, host: &str, cookie: &str| {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}Connection: close\r\n\r\n");
        http_exchange(ui.addr(), &request).expect("an answer")
    };
    assert_eq!(status_of(&plain("/", &host, "")), "403");
    assert_eq!(
        status_of(&plain("/", &host, "Cookie: mcp_ui_key=wrong\r\n")),
        "403"
    );
    let key = ui.url.rsplit("key=").next().expect("key");
    let cookie = format!("Cookie: mcp_ui_key={key}\r\n");
    let fleet = plain("/", &host, &cookie);
    assert_eq!(status_of(&fleet), "200", "{fleet}");
    assert!(
        fleet.contains(&name) && !fleet.contains(key),
        "the page never carries the key"
    );
    assert_eq!(status_of(&plain("/", "evil.example:80", &cookie)), "421");

    let mut b = Browser::start().unwrap_or_else(|e| panic!("{e}"));
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui");
    let wait = |b: &mut Browser, what: &str, js: &str| {
        b.wait_for(what, js, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{e}"))
    };

    // The fleet: the key traded for a cookie, the node and its service.
    b.goto(&ui.url).expect("the dashboard");
    wait(
        &mut b,
        "the key gone from the address",
        "location.search === '' && location.pathname === '/'",
    );
    let node = bed.node();
    wait(
        &mut b,
        "the node, reachable",
        &format!(
            "[...document.querySelectorAll('#nodes tr')].some(r => r.textContent.includes('{node}') && r.textContent.includes('reachable'))"
        ),
    );
    wait(
        &mut b,
        "the service, running",
        &format!(
            "[...document.querySelectorAll('#services tr')].some(r => r.textContent.includes('{name}') && r.textContent.includes('running'))"
        ),
    );
    let light = b
        .eval("getComputedStyle(document.body).backgroundColor")
        .expect("colour");
    b.screenshot(&shots.join("fleet-light.png"))
        .expect("screenshot");
    b.dark(true).expect("dark");
    let dark = b
        .eval("getComputedStyle(document.body).backgroundColor")
        .expect("colour");
    assert_ne!(light, dark, "dark mode has colours of its own");
    b.screenshot(&shots.join("fleet-dark.png"))
        .expect("screenshot");
    b.dark(false).expect("light");

    // By keyboard: the skip link first, `/` to the first link (the
    // service), Enter to its page.
    b.press("Tab").expect("tab");
    let focused = b.eval("document.activeElement.textContent").expect("focus");
    assert_eq!(focused, "Skip to content");
    b.press("/").expect("slash");
    assert_eq!(
        b.eval("document.activeElement.textContent").expect("focus"),
        name.as_str()
    );
    b.press("Enter").expect("enter");
    wait(
        &mut b,
        "the service's page",
        &format!("location.pathname === '/services/{name}' && document.readyState === 'complete'"),
    );
    for (table, text) in [
        ("components", "running"),
        ("routes", "l7"),
        ("certificates", "Days left"),
        ("dns", &name),
        ("events", "deploy"),
    ] {
        wait(
            &mut b,
            &format!("{table} showing {text}"),
            &format!(
                "(document.getElementById('{table}') || {{textContent: ''}}).textContent.includes('{text}')"
            ),
        );
    }
    let days = wait(
        &mut b,
        "days left",
        "document.querySelector('#certificates tbody td:nth-child(4)').textContent",
    );
    let days: u64 = days
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("a number of days");
    assert!(days > 30, "a fresh certificate: {days} days left");
    b.screenshot(&shots.join("service.png"))
        .expect("screenshot");

    // The event page, by its key; a stop appears without reloading.
    b.press("e").expect("e");
    wait(
        &mut b,
        "the event page, live",
        "location.pathname === '/events' && document.getElementById('feed-status').textContent.startsWith('Live')",
    );
    ok(&config, &["stop", &name]);
    wait(
        &mut b,
        "the stop, from the feed",
        &format!(
            "[...document.querySelectorAll('#events tbody tr')].some(r => r.textContent.includes('{name}') && r.cells[4].textContent === 'stop')"
        ),
    );
    b.screenshot(&shots.join("events.png")).expect("screenshot");
    eprintln!("screenshots in {}", shots.display());
    drop(b);
    ok(&config, &["undeploy", &name]);
}
