//! Every RPC of the agent's service descriptor refuses a missing, malformed, expired
//! and guest token; a valid token gets through; the agent speaks TLS 1.3 only and
//! refuses to start without usable TLS material. The real `mcp-agent` binary, a fake
//! MCIAS over HTTPS.

use std::path::Path;
use std::sync::atomic::Ordering;

use mcp_core::node::access::Access;
use mcp_testkit::fake_mcias::{Account, FakeMcias};
use mcp_testkit::testbed::{AgentAuth, Mode, RunningAgent, Testbed};
use prost::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

/// `/<package>.<Service>/<Method>` for every method in the API's descriptor.
fn every_rpc() -> Vec<String> {
    let fds =
        mcp_core::api::prost_types::FileDescriptorSet::decode(mcp_core::api::FILE_DESCRIPTOR_SET)
            .expect("descriptor");
    let mut paths = Vec::new();
    for file in fds.file {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    paths
}

async fn channel(agent: &RunningAgent) -> Channel {
    let ca = std::fs::read(&agent.ca_cert).expect("ca");
    Channel::from_shared(format!("https://{}", agent.address))
        .expect("uri")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(ca))
                .domain_name("localhost"),
        )
        .expect("tls")
        .connect()
        .await
        .expect("connect")
}

/// Calls `path` with an empty message and the given `authorization` header.
async fn call(ch: &Channel, path: &str, auth: Option<&str>) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(e.to_string()))?;
    let mut req = tonic::Request::new(());
    if let Some(a) = auth {
        req.metadata_mut()
            .insert("authorization", a.parse().expect("ascii"));
    }
    let codec: tonic_prost::ProstCodec<(), ()> = tonic_prost::ProstCodec::default();
    let path = path.parse().expect("path");
    grpc.unary(req, path, codec).await.map(drop)
}

fn agent_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mcp-agent"))
}

#[test]
fn every_rpc_refuses_bad_tokens_and_accepts_a_good_one() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let mcias = FakeMcias::start(vec![
        Account::new("kyle", "pw", "user"),
        Account::new("dana", "pw", "deployer"),
        Account::new("root", "pw", "admin"),
        Account::new("visitor", "pw", "guest"),
    ])
    .expect("fake MCIAS");
    let agent = bed
        .start_agent(
            agent_bin(),
            &AgentAuth::Mcias {
                url: mcias.url.clone(),
                ca_pem: mcias.ca_pem.clone(),
                operator_roles: vec!["deployer".into()],
                admins: Vec::new(),
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ch = channel(&agent).await;
        let rpcs = every_rpc();
        assert!(rpcs.len() >= 19, "descriptor has {} RPCs", rpcs.len());
        let guest = format!("Bearer {}", FakeMcias::token_for("visitor"));
        let expired = format!("Bearer {}", FakeMcias::EXPIRED);
        let cases: [(&str, Option<&str>, tonic::Code); 5] = [
            ("missing", None, tonic::Code::Unauthenticated),
            ("malformed", Some("Token abc"), tonic::Code::Unauthenticated),
            (
                "empty bearer",
                Some("Bearer "),
                tonic::Code::Unauthenticated,
            ),
            (
                "expired",
                Some(expired.as_str()),
                tonic::Code::Unauthenticated,
            ),
            ("guest", Some(guest.as_str()), tonic::Code::PermissionDenied),
        ];
        for rpc in &rpcs {
            for (what, header, code) in &cases {
                let err = call(&ch, rpc, *header)
                    .await
                    .expect_err(&format!("{rpc} accepted a {what} token"));
                assert_eq!(err.code(), *code, "{rpc} with a {what} token: {err:?}");
                let kind = err
                    .metadata()
                    .get("mcp-error-kind")
                    .and_then(|v| v.to_str().ok());
                assert!(kind.is_some(), "{rpc}: no stable reason in {err:?}");
            }
        }
        // A valid token reaches exactly the handlers its account's access allows
        // (an empty request is then the handler's problem, never an
        // authentication one): viewer < operator < admin, by the core's table of
        // what each RPC needs (which names every RPC of the descriptor).
        let good = format!("Bearer {}", FakeMcias::token_for("kyle"));
        call(&ch, "/mcp.v1.McpAgentService/NodeStatus", Some(&good))
            .await
            .expect("valid token");
        let accounts = [
            ("kyle", Access::Read),
            ("dana", Access::Operate),
            ("root", Access::Admin),
        ];
        let mut denied = 0;
        for rpc in &rpcs {
            let needs = mcp_core::node::access::needed(rpc);
            for (account, has) in accounts {
                let token = format!("Bearer {}", FakeMcias::token_for(account));
                let result = call(&ch, rpc, Some(&token)).await;
                if has >= needs {
                    if let Err(e) = result {
                        assert!(
                            !matches!(
                                e.code(),
                                tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
                            ),
                            "{rpc} refused {account} ({has}): {e:?}"
                        );
                    }
                } else {
                    let e = result.expect_err(&format!("{rpc} let {account} ({has}) in"));
                    assert_eq!(
                        e.code(),
                        tonic::Code::PermissionDenied,
                        "{rpc} {account}: {e:?}"
                    );
                    let named = match needs {
                        Access::Operate => "needs an operator",
                        _ => "needs an admin",
                    };
                    assert!(
                        e.message().contains(named),
                        "{rpc}: names what is needed: {e:?}"
                    );
                    denied += 1;
                }
            }
        }
        assert!(
            denied >= 20,
            "viewers and operators are refused somewhere: {denied}"
        );
        // Valid answers are cached: many calls, few questions to MCIAS.
        let before = mcias.validations.load(Ordering::Relaxed);
        for _ in 0..20 {
            call(&ch, "/mcp.v1.McpAgentService/NodeStatus", Some(&good))
                .await
                .expect("cached");
        }
        assert_eq!(
            mcias.validations.load(Ordering::Relaxed),
            before,
            "cached for 30 s"
        );
    });
}

#[test]
fn tls_1_2_clients_are_refused() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let agent = bed
        .start_agent(agent_bin(), &AgentAuth::TokenFile)
        .unwrap_or_else(|e| panic!("{e}"));
    let ca = mcp_core::platform::pki::load_certs(&agent.ca_cert).expect("ca");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca[0].clone()).expect("root");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let handshake = |versions: &'static [&'static rustls::SupportedProtocolVersion]| {
            let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
            let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
            let address = agent.address;
            async move {
                let tcp = tokio::net::TcpStream::connect(address).await.expect("tcp");
                let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
                connector.connect(name, tcp).await.map(drop)
            }
        };
        static TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
        static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
        assert!(handshake(TLS12_ONLY).await.is_err(), "TLS 1.2 accepted");
        handshake(TLS13_ONLY).await.expect("TLS 1.3");
    });
}

#[test]
fn the_agent_refuses_to_start_without_usable_tls_or_on_a_public_address_with_a_token_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("mcp-agent.toml");
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:1\"\ntls_cert = {:?}\ntls_key = {:?}\n\n[node]\nname = \"n\"\n\n[database]\npath = {:?}\n\n[auth]\nmode = \"token-file\"\ntoken_file = \"/nonexistent\"\n",
        dir.path().join("missing.pem").display().to_string(),
        dir.path().join("missing.key").display().to_string(),
        dir.path().join("mcp.db").display().to_string(),
    );
    std::fs::write(&config, &base).expect("write");
    let run = |extra_env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(agent_bin());
        cmd.args(["serve", "--config"]).arg(&config);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run agent");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = run(&[]);
    assert!(!ok);
    assert!(
        err.contains("missing.pem"),
        "names the certificate file: {err}"
    );
    let (ok, err) = run(&[("MCP_AGENT_SERVER_LISTEN", "0.0.0.0:9444")]);
    assert!(!ok);
    assert!(err.contains("loopback only"), "{err}");

    // A key or token others can read is refused, naming the chmod that fixes it.
    let ca = mcp_core::platform::pki::create_ca("test").expect("ca");
    let server = mcp_core::platform::pki::issue_server_cert(&ca, &["localhost"]).expect("cert");
    let (cert, key, token) = (
        dir.path().join("missing.pem"),
        dir.path().join("missing.key"),
        dir.path().join("token"),
    );
    let write = |p: &Path, text: &str, mode| {
        mcp_core::fsutil::write_atomic(p, text.as_bytes(), mode).expect("write");
    };
    write(&cert, &server.cert_pem, 0o644);
    write(&key, &server.key_pem, 0o644);
    write(&token, "s3cret\n", 0o600);
    let token_env = [("MCP_AGENT_AUTH_TOKEN_FILE", token.to_str().expect("utf-8"))];
    let (ok, err) = run(&token_env);
    assert!(!ok);
    assert!(
        err.contains(&format!("chmod 600 {}", key.display())),
        "{err}"
    );
    write(&key, &server.key_pem, 0o600);
    write(&token, "s3cret\n", 0o640);
    let (ok, err) = run(&token_env);
    assert!(!ok);
    assert!(
        err.contains(&format!("chmod 600 {}", token.display())),
        "{err}"
    );
}
