//! The agent's service served in-process over `tokio::io::duplex`, in front of an
//! engine on the recording fake runtime: every answer goes through the real
//! authentication layer, the real handlers and the real proto conversions on both
//! sides (`mcp_core::fleet::client::AgentClient`), without TLS, Podman or a
//! process. The same paths run over TLS with the real binaries in the other tests
//! of this crate and of `mcp-cli`.

use std::time::SystemTime;

use mcp_core::ErrorKind;
use mcp_core::container::ContainerState;
use mcp_core::fleet::client::{AgentClient, ApiError};
use mcp_core::view::{ComponentChange, Step};
use mcp_testkit::fake_node::{FakeNode, Op};
use tokio_stream::StreamExt;
use tonic::transport::{Endpoint, Uri};

const IMAGE: &str = "localhost/app:v1.0.0";

/// A client of `node`'s agent service, served in-process, calling with `token`.
async fn client(node: &FakeNode, token: &str) -> AgentClient {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let router = mcp_agent::router(node.engine.clone(), node.auth.clone(), SystemTime::now());
    tokio::spawn(
        router.serve_with_incoming(tokio_stream::once(Ok::<_, std::io::Error>(server_io))),
    );
    let mut client_io = Some(client_io);
    let channel = Endpoint::from_static("http://in-process")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let io = client_io.take();
            async move {
                io.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("one connection only"))
            }
        }))
        .await
        .expect("in-process channel");
    AgentClient::over_channel(channel, token, "in-process").expect("client")
}

fn remote(e: &ApiError) -> (ErrorKind, Option<Step>) {
    match e {
        ApiError::Remote(r) => (r.kind, r.step),
        other => panic!("not an agent's answer: {other}"),
    }
}

#[tokio::test]
async fn a_deploy_says_it_is_new_and_status_shows_what_runs() {
    let node = FakeNode::new("inproc", &[IMAGE]);
    let mut c = client(&node, &node.token).await;
    let first = c
        .deploy(&node.definition("app", IMAGE))
        .await
        .expect("deploy");
    assert!(first.created, "a first deploy");
    assert_eq!(first.node, node.name);
    assert_eq!(
        first.changes(),
        [("app".to_owned(), ComponentChange::Created)]
    );
    assert_eq!(first.ports.len(), 1);
    let again = c
        .deploy(&node.definition("app", IMAGE))
        .await
        .expect("again");
    assert!(!again.created);
    assert_eq!(
        again.changes(),
        [("app".to_owned(), ComponentChange::Unchanged)]
    );

    let status = c.status("app").await.expect("status");
    assert_eq!(status.status.service, "app");
    assert_eq!(status.status.components[0].state, ContainerState::Running);
    assert_eq!(status.status.components[0].ports, first.ports);
    assert_eq!(status.definition.name, "app");
    assert!(
        status
            .events
            .iter()
            .any(|e| e.action == "deploy" && e.actor == "admin")
    );
    let listed = c.services().await.expect("services");
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_changes_nothing() {
    let node = FakeNode::new("inproc", &[IMAGE]);
    let mut c = client(&node, "not-the-token").await;
    let before = node.runtime.calls();
    let err = c
        .deploy(&node.definition("app", IMAGE))
        .await
        .expect_err("refused");
    assert_eq!(remote(&err).0, ErrorKind::Unauthenticated);
    assert_eq!(node.runtime.calls(), before, "the runtime was not touched");
    assert!(
        node.engine
            .registry()
            .services()
            .expect("services")
            .is_empty()
    );
}

#[tokio::test]
async fn a_failing_step_is_reported_with_its_kind_and_step_and_undone() {
    let node = FakeNode::new("inproc", &[IMAGE]);
    let mut c = client(&node, &node.token).await;
    node.runtime.fail_on(Op::Run, None);
    let err = c
        .deploy(&node.definition("app", IMAGE))
        .await
        .expect_err("fails");
    assert_eq!(remote(&err).1, Some(Step::Containers), "{err}");
    assert!(node.runtime.containers().is_empty(), "undone");
    assert!(node.engine.registry().leases().expect("leases").is_empty());
    let err = c.status("app").await.expect_err("not deployed");
    assert_eq!(remote(&err).0, ErrorKind::NotFound);
}

#[tokio::test]
async fn a_bad_definition_is_refused_with_its_location_before_any_step() {
    let node = FakeNode::new("inproc", &[IMAGE]);
    let mut c = client(&node, &node.token).await;
    let before = node.runtime.calls();
    let text = node
        .definition("app", IMAGE)
        .replace("port = 8443", "port = 0");
    let err = c.deploy(&text).await.expect_err("invalid");
    assert_eq!(remote(&err).0, ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("9:8: components[0].routes[0].port"),
        "located: {err}"
    );
    assert_eq!(node.runtime.calls(), before, "no step ran");
    let other_node = text
        .replace(&node.name, "elsewhere")
        .replace("port = 0", "port = 8443");
    let err = c.deploy(&other_node).await.expect_err("another node's");
    assert_eq!(remote(&err).0, ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn stop_start_and_undeploy_do_what_they_say_and_are_events() {
    let node = FakeNode::new("inproc", &[IMAGE]);
    let mut c = client(&node, &node.token).await;
    c.deploy(&node.definition("app", IMAGE))
        .await
        .expect("deploy");
    c.stop("app").await.expect("stop");
    let stopped = c.status("app").await.expect("status");
    assert!(!stopped.status.active);
    assert_ne!(stopped.status.components[0].state, ContainerState::Running);
    c.start("app").await.expect("start");
    assert_eq!(
        c.status("app").await.expect("status").status.components[0].state,
        ContainerState::Running
    );
    c.undeploy("app").await.expect("undeploy");
    assert!(node.runtime.containers().is_empty());
    assert!(c.services().await.expect("services").is_empty());
    let actions: Vec<String> = c
        .events(Some("app"), 0, 0, false)
        .await
        .expect("events")
        .map(|e| e.expect("event").action)
        .collect()
        .await;
    assert_eq!(actions, ["deploy", "stop", "start", "undeploy"]);
}

#[tokio::test]
async fn files_in_a_data_directory_never_lead_out_of_it() {
    use std::os::unix::fs::symlink;
    let node = FakeNode::new("inproc", &[IMAGE]);
    let mut c = client(&node, &node.token).await;
    c.deploy(&node.definition("app", IMAGE))
        .await
        .expect("deploy");
    let data = node.dir().join("srv/app");
    let outside = node.dir().join("outside");
    std::fs::create_dir_all(&outside).expect("outside");
    std::fs::write(outside.join("secret"), "host file").expect("secret");
    // What a container could plant in its own data directory.
    symlink(&outside, data.join("etc")).expect("dir link");
    symlink(outside.join("secret"), data.join("key")).expect("file link");
    symlink("../../outside/secret", data.join("up")).expect("relative link");
    std::fs::hard_link(outside.join("secret"), data.join("hard")).expect("hard link");

    for path in [
        "etc/secret",
        "key",
        "up",
        "hard",
        "../outside/secret",
        "/etc/passwd",
    ] {
        let err = c.pull_file("app", path).await.expect_err(path);
        assert_eq!(remote(&err).0, ErrorKind::InvalidInput, "{path}: {err}");
    }
    for path in ["etc/planted", "../outside/planted", "/tmp/planted"] {
        let err = c
            .push_file("app", path, b"x".to_vec(), 0o644)
            .await
            .expect_err(path);
        assert_eq!(remote(&err).0, ErrorKind::InvalidInput, "{path}: {err}");
    }
    assert!(!outside.join("planted").exists());
    // Pushing onto a planted link replaces the link; the host file is untouched.
    c.push_file("app", "key", b"mine".to_vec(), 0o600)
        .await
        .expect("replace");
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).expect("secret"),
        "host file"
    );
    assert_eq!(c.pull_file("app", "key").await.expect("pull"), b"mine");
    c.push_file("app", "conf/app.toml", b"a = 1".to_vec(), 0)
        .await
        .expect("push");
    assert_eq!(
        c.pull_file("app", "conf/app.toml").await.expect("pull"),
        b"a = 1"
    );
}

#[tokio::test]
async fn an_oversized_definition_is_refused_at_its_limit_with_nothing_done() {
    let node = FakeNode::new("inproc", &[IMAGE]);
    let mut c = client(&node, &node.token).await;
    let before = node.runtime.calls();
    // Four million environment entries would have been 17 s and 1.75 GB of
    // parsing; the byte limit stops them at the door.
    let env: String = (0..40_000).map(|i| format!("\"K{i}=v\", ")).collect();
    let text = node.definition("app", IMAGE).replacen(
        "\n\n[[components.routes]]",
        &format!("\nenv = [{env}]\n\n[[components.routes]]"),
        1,
    );
    let err = c.deploy(&text).await.expect_err("too large");
    assert_eq!(remote(&err).0, ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("larger than 262144 bytes"),
        "{err}"
    );
    assert!(err.to_string().contains("[limit]"), "{err}");
    let secret = node.definition("app", IMAGE).replacen(
        "\n\n[[components.routes]]",
        "\nenv = [\"A=one\\ntwo\"]\n\n[[components.routes]]",
        1,
    );
    let err = c.deploy(&secret).await.expect_err("newline in a value");
    assert_eq!(remote(&err).0, ErrorKind::InvalidInput);
    assert!(err.to_string().contains("control character"), "{err}");
    assert_eq!(node.runtime.calls(), before, "nothing done");
}
