//! What a deploy would do, and what it then does, through the real binaries
//! behind the (recording) mc-proxy with a local CA: `mcp diff` and `mcp deploy
//! --dry-run` say the same, and the deploy that follows does it, for an
//! environment change, an image change, an added route and a removed
//! component; `diff` exits 0 when nothing differs and 1 when something does,
//! environment values masked unless `--show-env`. And a rollback behind the
//! proxy: the failed v0.3.0 leaves v0.2.0 serving, the rollback to v0.1.0
//! switches the route without a failed request to a client of the old backend.

use std::path::Path;

use mcp_testkit::fake_mcproxy::FakeMcProxy;
use mcp_testkit::testbed::{Mode, Testbed, http_get};
use serde_json::Value;

mod common;

use common::{mcp, ok, text};

/// A node behind the fake proxy: `(proxy, agent, config, services)`.
fn proxied_node(
    bed: &Testbed,
) -> (
    FakeMcProxy,
    mcp_testkit::testbed::RunningAgent,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let proxy = FakeMcProxy::start().expect("fake mc-proxy");
    let dir = bed.dir();
    let extra = format!(
        "{}\n[certs]\nlocal_ca_dir = {:?}\n",
        proxy.agent_section(&dir.join("proxy-certs")),
        dir.join("node-ca").display().to_string()
    );
    let (agent, config, services) = common::token_node(bed, &extra);
    (proxy, agent, config, services)
}

/// The test service: `api` (hello at `version`, environment `env`, route
/// `web`, and `admin` when asked) and, when asked, a `worker` without routes.
fn definition(
    bed: &Testbed,
    name: &str,
    version: &str,
    env: &str,
    admin: bool,
    worker: bool,
) -> String {
    let mut s = format!(
        "name = \"{name}\"\nnode = \"{}\"\n\n[[components]]\nname = \"api\"\n\
         image = \"localhost/hello:{version}\"\nenv = [\"HELLO_NAME={name}\", \"MODE={env}\"]\n\n\
         [[components.routes]]\nname = \"web\"\nport = 8443\nmode = \"l7\"\n",
        bed.node()
    );
    if admin {
        s.push_str("\n[[components.routes]]\nname = \"admin\"\nport = 9443\nmode = \"l7\"\n");
    }
    if worker {
        s.push_str("\n[[components]]\nname = \"worker\"\nimage = \"localhost/hello:v0.1.0\"\n");
    }
    s
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `[(container, change)]` of a preview or a report.
fn changes(v: &Value) -> Vec<(String, String)> {
    v["components"]
        .as_array()
        .unwrap_or_else(|| panic!("components in {v}"))
        .iter()
        .map(|c| {
            (
                c["container"].as_str().unwrap_or_default().to_owned(),
                c["change"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The names of a preview's items of `kind` that the deploy leaves in place
/// (every change but `remove`), sorted.
fn kept(preview: &Value, kind: &str) -> Vec<String> {
    let mut names: Vec<String> = preview[kind]
        .as_array()
        .unwrap_or_else(|| panic!("{kind} in {preview}"))
        .iter()
        .filter(|i| i["change"] != "remove")
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

/// The proxy's routes for `host`, as the preview names them.
fn proxy_routes(proxy: &FakeMcProxy, host: &str) -> Vec<String> {
    let mut names: Vec<String> = proxy
        .routes()
        .keys()
        .filter(|(_, h)| h == host)
        .map(|(l, h)| format!("{l} {h}"))
        .collect();
    names.sort();
    names
}

/// `mcp diff` (exit 1, a difference) and `deploy --dry-run` say the same; the
/// deploy that follows does what they said. Returns the preview.
fn plan_then_deploy(config: &Path, name: &str, proxy: &FakeMcProxy, host: &str) -> Value {
    let diff = mcp(config, &["--json", "diff", name]);
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));
    let preview = json(&String::from_utf8_lossy(&diff.stdout));
    let dry = json(&ok(config, &["--json", "deploy", "--dry-run", name]));
    assert_eq!(dry, preview, "diff and deploy --dry-run agree");
    let report = json(&ok(config, &["--json", "deploy", name]));
    assert_eq!(changes(&preview), changes(&report), "{preview}\n{report}");
    assert_eq!(kept(&preview, "routes"), proxy_routes(proxy, host));
    let ports: Vec<String> = {
        let mut p: Vec<String> = report["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .map(|p| match p["route"].as_str() {
                Some(r) => format!("{}.{r}", p["component"].as_str().unwrap_or_default()),
                None => p["component"].as_str().unwrap_or_default().to_owned(),
            })
            .collect();
        p.sort();
        p
    };
    assert_eq!(kept(&preview, "ports"), ports, "{preview}\n{report}");
    let same = mcp(config, &["diff", name]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).contains("no changes"), "{}", text(&same));
    preview
}

/// The one entry of `preview`'s `kind` named `item`.
fn entry<'a>(preview: &'a Value, kind: &str, item: &str) -> &'a Value {
    preview[kind]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == item))
        .unwrap_or_else(|| panic!("{item} in {kind} of {preview}"))
}

#[test]
fn diff_and_dry_run_say_what_the_following_deploy_does() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    bed.hello_image("v0.1.0").expect("image");
    bed.hello_image("v0.2.0").expect("image");
    let (proxy, _agent, config, services) = proxied_node(&bed);
    let name = bed.name("plan");
    let host = format!("{name}.svc.mcp.metacircular.net");
    let file = services.join(format!("{name}.toml"));
    let write = |version: &str, env: &str, admin: bool, worker: bool| {
        std::fs::write(&file, definition(&bed, &name, version, env, admin, worker))
            .expect("definition");
    };

    // A first deploy: everything is new.
    write("v0.1.0", "slow", false, true);
    let first = plan_then_deploy(&config, &name, &proxy, &host);
    assert_eq!(first["created"], true);
    assert_eq!(entry(&first, "certificates", &host)["change"], "add");

    // An environment change: the api is replaced beside the running one (its
    // route moves to a new port), the worker kept; the value masked.
    write("v0.1.0", "fast", false, true);
    let human = mcp(&config, &["diff", &name]);
    assert_eq!(human.status.code(), Some(1), "{}", text(&human));
    let shown = text(&human);
    assert!(
        shown.contains("components[api].env.MODE") && shown.contains("•••"),
        "{shown}"
    );
    assert!(!shown.contains("fast"), "masked: {shown}");
    assert!(
        shown.contains(&format!("~ {name}-api  replaced beside the running one")),
        "{shown}"
    );
    let revealed = text(&mcp(&config, &["diff", &name, "--show-env"]));
    assert!(revealed.contains("env.MODE  slow → fast"), "{revealed}");
    let env = plan_then_deploy(&config, &name, &proxy, &host);
    let web = format!(":8443 {host}");
    assert_eq!(entry(&env, "routes", &web)["change"], "change");
    assert_eq!(entry(&env, "ports", "api.web")["new"], "(new port)");
    assert_eq!(entry(&env, "certificates", &host)["change"], "keep");

    // An image change.
    write("v0.2.0", "fast", false, true);
    let image = plan_then_deploy(&config, &name, &proxy, &host);
    let api = &image["components"][0];
    assert_eq!(
        api["reason"],
        "image localhost/hello:v0.1.0 → localhost/hello:v0.2.0"
    );

    // An added route.
    write("v0.2.0", "fast", true, true);
    let route = plan_then_deploy(&config, &name, &proxy, &host);
    assert_eq!(
        entry(&route, "routes", &format!(":9443 {host}"))["change"],
        "add"
    );
    assert_eq!(entry(&route, "ports", "api.admin")["change"], "add");

    // A removed component.
    write("v0.2.0", "fast", true, false);
    let removed = plan_then_deploy(&config, &name, &proxy, &host);
    assert!(
        changes(&removed).contains(&(format!("{name}-worker"), "removed".to_owned())),
        "{removed}"
    );

    // A definition the node refuses cannot be compared: exit 2, not 1.
    std::fs::write(&file, "name = \"broken\"\n").expect("broken");
    let broken = mcp(&config, &["diff", &name]);
    assert_eq!(broken.status.code(), Some(2), "{}", text(&broken));
    write("v0.2.0", "fast", true, false);
    ok(&config, &["undeploy", &name]);
}

/// The l7 backend's port of `host` in the proxy.
fn backend_port(proxy: &FakeMcProxy, host: &str) -> (String, u16) {
    let backend = proxy
        .routes()
        .get(&(":8443".to_owned(), host.to_owned()))
        .map(|r| r.backend.clone())
        .unwrap_or_else(|| panic!("a route for {host}: {:?}", proxy.routes()));
    let port = backend
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("port");
    (backend, port)
}

#[test]
fn a_rollback_behind_the_proxy_switches_without_a_failed_request() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    for v in ["v0.1.0", "v0.2.0", "v0.3.0"] {
        bed.hello_image(v).expect("image");
    }
    let (proxy, _agent, config, services) = proxied_node(&bed);
    let name = bed.name("back");
    let host = format!("{name}.svc.mcp.metacircular.net");
    let file = services.join(format!("{name}.toml"));
    let write = |version: &str, crash: bool| {
        let mut text = bed.hello_definition(&name, version, "").to_toml();
        if crash {
            let env = format!("\"HELLO_NAME={name}\"");
            assert!(text.contains(&env), "{text}");
            text = text.replace(&env, &format!("{env}, \"HELLO_CRASH=1\""));
        }
        std::fs::write(&file, text).expect("definition");
    };
    write("v0.1.0", false);
    ok(&config, &["deploy", &name]);
    write("v0.2.0", false);
    ok(&config, &["deploy", &name]);

    // v0.3.0 exits at once: it fails its health gate, and v0.2.0 keeps serving
    // through the route it had.
    let (before, port) = backend_port(&proxy, &host);
    write("v0.3.0", true);
    let failed = mcp(&config, &["deploy", &name]);
    assert_eq!(failed.status.code(), Some(4), "{}", text(&failed));
    assert_eq!(backend_port(&proxy, &host).0, before, "the route stayed");
    assert!(http_get(port, "/", 20).expect("v0.2.0").contains("v0.2.0"));

    // The rollback to v0.1.0 while a client polls v0.2.0's backend: no request
    // fails while the route still points there.
    let poller = {
        let key = (":8443".to_owned(), host.clone());
        let table = proxy.state_handle();
        let old = before.clone();
        std::thread::spawn(move || {
            let current = || table.route(&key).map(|r| r.backend);
            let (mut answered, mut failed) = (0u32, Vec::new());
            while current().as_ref() == Some(&old) {
                match http_get(port, "/", 1) {
                    Ok(_) => answered += 1,
                    Err(e) if current().as_ref() == Some(&old) => failed.push(e),
                    Err(_) => {}
                }
            }
            (answered, failed)
        })
    };
    let out = ok(&config, &["rollback", &name, "--to", "1"]);
    assert!(out.contains("to revision 1 (v0.1.0)"), "{out}");
    let (answered, failed) = poller.join().expect("poller");
    assert!(failed.is_empty(), "failed before the switch: {failed:?}");
    assert!(answered > 0, "the old backend answered while it was routed");
    let (after, port) = backend_port(&proxy, &host);
    assert_ne!(after, before);
    assert!(http_get(port, "/", 50).expect("v0.1.0").contains("v0.1.0"));
    let history: Value = json(&ok(&config, &["--json", "history", &name]));
    let results: Vec<&str> = history
        .as_array()
        .expect("revisions")
        .iter()
        .map(|r| r["result"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(results, ["deployed", "deployed", "failed", "rolled-back"]);
    ok(&config, &["undeploy", &name]);
}
