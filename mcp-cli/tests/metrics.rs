//! The agent's metrics, through the real binaries: what `/metrics` serves
//! passes `promtool check metrics`, and a real Prometheus scraping the agent
//! sees it up, a deploy counted, the l7 route's certificate expiry, and the
//! monitor's repair of a killed container.

use std::time::{Duration, SystemTime};

use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::prometheus::LocalPrometheus;
use mcp_testkit::spawn::free_port;
use mcp_testkit::testbed::{Mode, Testbed, http_get_at};

mod common;

use common::ok;

/// Waits up to 60 s for `what` (Prometheus scrapes every second).
fn eventually(what: &str, mut done: impl FnMut() -> Result<bool, String>) {
    let mut last = String::new();
    for _ in 0..300 {
        match done() {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("never: {what} {last}");
}

/// `promtool check metrics` on `text`: its complaints, if any.
fn promtool(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("promtool (apt-get install prometheus): {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn prometheus_scrapes_the_agent_through_a_deploy_a_break_and_a_repair() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let metrics: std::net::SocketAddr = ([127, 0, 0, 1], free_port().expect("port")).into();
    let extra = format!(
        "{}\n[metrics]\nlisten = \"{metrics}\"\n",
        proxy.agent_section(&bed.dir().join("proxy-certs"))
    );
    let (_agent, config, services) = common::token_node(&bed, &extra);
    let prometheus = LocalPrometheus::start(&[metrics]).unwrap_or_else(|e| panic!("{e}"));
    eventually("Prometheus finds the agent up", || {
        Ok(prometheus.value("up{job=\"mcp-agent\"}")? == Some(1.0))
    });

    // A deploy of a service with an l7 route: counted, its certificate's
    // expiry shown, its component running.
    let name = bed.name("metrics");
    std::fs::write(
        services.join(format!("{name}.toml")),
        bed.hello_definition(&name, "v0.1.0", "").to_toml(),
    )
    .expect("definition");
    ok(&config, &["deploy", &name]);
    let text = http_get_at(metrics, "/metrics", 10).expect("metrics");
    promtool(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
    eventually("the deploy counted", || {
        Ok(prometheus
            .value("sum(mcp_operations_total{kind=\"deploy\",result=\"ok\"})")?
            .is_some_and(|n| n >= 1.0))
    });
    let in_30_days = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("now")
        .as_secs_f64()
        + 30.0 * 86400.0;
    eventually("the l7 route's certificate expiry", || {
        let query = format!("mcp_certificate_not_after_timestamp_seconds{{service=\"{name}\"}}");
        Ok(prometheus.value(&query)?.is_some_and(|t| t > in_30_days))
    });
    let running = format!("mcp_components{{service=\"{name}\",state=\"running\"}}");
    eventually("the component running", || {
        Ok(prometheus.value(&running)? == Some(1.0))
    });
    let memory = format!("mcp_component_memory_bytes{{service=\"{name}\"}}");
    eventually("the component's memory, sampled from Podman", || {
        Ok(prometheus.value(&memory)?.is_some_and(|b| b > 0.0))
    });
    eventually("RPCs counted by method", || {
        Ok(prometheus
            .value("sum(mcp_rpcs_total{method=\"Deploy\",code=\"OK\"})")?
            .is_some_and(|n| n >= 1.0))
    });

    // Broken and repaired: the monitor's events round and its repair counted.
    let repairs = "sum(mcp_repairs_total{result=\"ok\"}) or vector(0)";
    let before = prometheus.value(repairs).expect("query").unwrap_or(0.0);
    let killed = bed.podman(&["kill", &name]);
    assert!(killed.status.success(), "podman kill");
    eventually("the repair counted", || {
        Ok(prometheus.value(repairs)?.is_some_and(|n| n > before))
    });
    eventually("the component running again", || {
        Ok(prometheus.value(&running)? == Some(1.0))
    });
    assert!(
        prometheus
            .value("sum(mcp_monitor_rounds_total{kind=\"events\"})")
            .expect("query")
            .is_some_and(|n| n >= 1.0),
        "events rounds counted"
    );

    // Undeployed: its series are gone at the next scrape.
    ok(&config, &["undeploy", &name]);
    let text = http_get_at(metrics, "/metrics", 10).expect("metrics");
    assert!(!text.contains(&format!("service=\"{name}\"")), "{text}");
    promtool(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
}

#[test]
fn the_documented_alert_rules_are_valid() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/alerts.yml");
    let out = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool (apt-get install prometheus)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The status line of `GET /metrics` on `addr`, with `token` as a bearer token.
fn status_line(addr: std::net::SocketAddr, token: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
    write!(s, "GET /metrics HTTP/1.0\r\n{auth}\r\n").expect("write");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn metrics_asking_for_a_token_refuse_a_scrape_without_one() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let metrics: std::net::SocketAddr = ([127, 0, 0, 1], free_port().expect("port")).into();
    let extra = format!("[metrics]\nlisten = \"{metrics}\"\ntoken = true\n");
    let (agent, _config, _services) = common::token_node(&bed, &extra);
    let token = std::fs::read_to_string(&agent.token_file).expect("token");
    assert!(
        status_line(metrics, None).contains(" 401 "),
        "{}",
        status_line(metrics, None)
    );
    assert!(status_line(metrics, Some("wrong")).contains(" 401 "));
    assert!(
        status_line(metrics, Some(token.trim())).contains(" 200 "),
        "{}",
        status_line(metrics, Some(token.trim()))
    );
}
