//! The registry client against a real registry (docker-registry 2.8): plain HTTP,
//! and TLS with basic auth; and its errors: wrong password, unknown CA, registry
//! down, plain HTTP not allowed.

use mcp_model::ErrorKind;
use mcp_platform::images::{Credentials, ImageRegistry, RegistrySettings};
use mcp_testkit::registry::LocalRegistry;
use mcp_testkit::testbed::{Mode, Testbed};

fn push(bed: &Testbed, registry: &LocalRegistry, repo: &str, version: &str) -> String {
    let local = bed.hello_image(version).expect("image");
    let target = format!("{}/{repo}:{version}", registry.host);
    // `push SOURCE DESTINATION`, not tag + push + rmi: concurrent tag and untag
    // of one image in the same storage can lose a name.
    let mut args = vec!["push".to_owned()];
    args.extend(registry.podman_flags());
    args.push(local);
    args.push(target.clone());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bed.podman(&args);
    assert!(
        out.status.success(),
        "push: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    target
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn plain_http_registry_only_when_allowed() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let registry = LocalRegistry::start_http().unwrap_or_else(|e| panic!("{e}"));
    let image = push(&bed, &registry, "mcp/hello", "v0.1.0");
    let client = ImageRegistry::new(RegistrySettings {
        insecure_hosts: vec![registry.host.clone()],
        ..Default::default()
    });
    rt().block_on(async {
        assert!(client.exists(&image).await.expect("exists"));
        let missing = format!("{}/mcp/hello:v9.9.9", registry.host);
        assert!(!client.exists(&missing).await.expect("exists"));
        assert!(
            client
                .digest(&image)
                .await
                .expect("digest")
                .starts_with("sha256:")
        );
        let summary = client.summary(&image).await.expect("summary");
        assert_eq!(summary.digest, client.digest(&image).await.expect("digest"));
        assert!(summary.bytes > 0, "{summary:?}");
        assert_eq!(client.tags(&image).await.expect("tags"), ["v0.1.0"]);
        // Without the host allowed, plain HTTP is never used.
        let strict = ImageRegistry::new(RegistrySettings::default());
        let err = strict
            .exists(&image)
            .await
            .expect_err("https to an http registry");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    });
}

#[test]
fn tls_registry_with_basic_auth_and_its_errors() {
    let bed = Testbed::new(Mode::Rootful).unwrap_or_else(|e| panic!("{e}"));
    let registry = LocalRegistry::start_tls("mcpuser", "mcppass").unwrap_or_else(|e| panic!("{e}"));
    let image = push(&bed, &registry, "mcp/hello", "v0.1.0");
    let ca = registry.ca_pem.clone().map(String::into_bytes);
    let settings = |password: &str| RegistrySettings {
        ca_pem: ca.clone(),
        credentials: vec![(
            registry.host.clone(),
            Credentials::Basic {
                username: "mcpuser".into(),
                password: password.into(),
            },
        )],
        ..Default::default()
    };
    rt().block_on(async {
        let good = ImageRegistry::new(settings("mcppass"));
        assert!(good.exists(&image).await.expect("exists"));
        assert!(
            !good
                .exists(&format!("{}/mcp/hello:v2.0.0", registry.host))
                .await
                .expect("missing tag")
        );

        let err = ImageRegistry::new(settings("wrong"))
            .exists(&image)
            .await
            .expect_err("wrong password");
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
        assert!(err.to_string().contains(&registry.host), "{err}");

        let unknown_ca = ImageRegistry::new(RegistrySettings {
            ca_pem: None,
            ..settings("mcppass")
        });
        let err = unknown_ca.exists(&image).await.expect_err("unknown CA");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(
            err.to_string().to_lowercase().contains("certificate")
                || err.to_string().contains("UnknownIssuer"),
            "{err}"
        );

        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let down = format!("127.0.0.1:{closed}/mcp/hello:v0.1.0");
        let err = good.exists(&down).await.expect_err("registry down");
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    });
}
