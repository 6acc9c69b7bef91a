//! The ACME issuer against a real ACME server (pebble) that validates for real:
//! DNS-01 through a real BIND (TSIG-signed TXT updates), HTTP-01
//! through the issuer's responder, External Account Binding required or refused.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_model::ErrorKind;
use mcp_node::certs::acme::{AcmeIssuer, Challenge, Eab};
use mcp_node::certs::{CertIssuer, CertStore, inspect};
use mcp_node::dns::{DnsRegistrar, Rfc2136, records_for, tsig_algorithm};
use mcp_testkit::bind::LocalBind;
use mcp_testkit::pebble::LocalPebble;

const ZONE: &str = "svc.mcp.test";

fn registrar(bind: &LocalBind) -> Arc<Rfc2136> {
    Arc::new(
        Rfc2136::new(
            bind.addr,
            &bind.key_name,
            tsig_algorithm("hmac-sha256").expect("alg"),
            bind.secret.clone(),
            Duration::from_secs(2),
        )
        .expect("registrar"),
    )
}

fn issuer(pebble: &LocalPebble, dir: &std::path::Path, challenge: Challenge) -> AcmeIssuer {
    AcmeIssuer {
        directory: pebble.directory.clone(),
        ca_cert: Some(pebble.ca_file.clone()),
        eab: pebble.eab.as_ref().map(|(kid, key)| Eab {
            kid: kid.clone(),
            hmac_key: key.clone(),
        }),
        account_file: dir.join("acme-account.json"),
        contact: vec!["mailto:ops@example.net".into()],
        challenge,
        timeout: Duration::from_secs(30),
    }
}

/// Issues through `issuer` into a store and checks what lands on disk.
fn issue_and_check(issuer: &AcmeIssuer, dir: &std::path::Path, host: &str) {
    let store = CertStore::new(dir.join("certs"));
    let paths = store.paths("svc", host, host);
    let ensured = store
        .ensure(host, &paths, issuer, Duration::from_secs(30 * 86_400))
        .unwrap_or_else(|e| panic!("issue {host}: {e}"));
    assert_eq!(ensured.issued_by.as_deref(), Some("acme"));
    let info = inspect(&paths.cert, &paths.key, SystemTime::now()).expect("good chain");
    assert_eq!(info.hostnames, [host.to_owned()]);
    assert!(info.chain_len >= 2, "full chain: {info:?}");
}

#[test]
fn dns01_through_bind_with_eab() {
    let bind = LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}"));
    let pebble = LocalPebble::start(bind.addr, true).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tmp");
    let dns = registrar(&bind);
    let acme = issuer(
        &pebble,
        dir.path(),
        Challenge::Dns01 {
            registrar: dns.clone(),
            zone: ZONE.into(),
        },
    );
    issue_and_check(&acme, dir.path(), &format!("web.{ZONE}"));
    // The account is reused for the next certificate.
    let account = std::fs::read_to_string(dir.path().join("acme-account.json")).expect("account");
    issue_and_check(&acme, dir.path(), &format!("api.{ZONE}"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("acme-account.json")).expect("account"),
        account
    );

    // A wrong EAB key: refused, nothing written.
    let other = tempfile::tempdir().expect("tmp");
    let mut wrong = issuer(
        &pebble,
        other.path(),
        Challenge::Dns01 {
            registrar: dns,
            zone: ZONE.into(),
        },
    );
    wrong.eab = Some(Eab {
        kid: "kid-1".into(),
        hmac_key: b"not the key, not the key, not it".to_vec(),
    });
    let err = wrong.issue(&format!("x.{ZONE}")).expect_err("bad EAB");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(!other.path().join("acme-account.json").exists());
}

#[test]
fn http01_through_the_responder() {
    let bind = LocalBind::start(ZONE).unwrap_or_else(|e| panic!("{e}"));
    let pebble = LocalPebble::start(bind.addr, false).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("tmp");
    let host = format!("app.{ZONE}");
    // pebble must find the host: it resolves to where the responder listens.
    let addrs = [pebble.http01.ip()];
    registrar(&bind)
        .add(&records_for(&host, ZONE, &addrs, 60, "app").expect("zone"))
        .expect("A record");
    let acme = issuer(
        &pebble,
        dir.path(),
        Challenge::Http01 {
            listen: pebble.http01,
        },
    );
    issue_and_check(&acme, dir.path(), &host);

    // A host that does not resolve cannot be validated: refused, named.
    let err = acme
        .issue(&format!("nowhere.{ZONE}"))
        .expect_err("unresolvable");
    assert!(
        err.to_string().contains(&format!("nowhere.{ZONE}")),
        "{err}"
    );
}

mod metacrypt {
    //! The Metacrypt issuer against an in-process Metacrypt speaking its REST API.

    use std::time::{Duration, SystemTime};

    use mcp_model::ErrorKind;
    use mcp_node::certs::metacrypt::MetacryptIssuer;
    use mcp_node::certs::{CertIssuer, CertStore, inspect};
    use mcp_testkit::fake_metacrypt::FakeMetacrypt;

    fn issuer(m: &FakeMetacrypt, token: &str) -> MetacryptIssuer {
        MetacryptIssuer::new(
            &m.url,
            token,
            "pki",
            "infra",
            Duration::from_secs(90 * 86_400),
            Some(m.tls_ca_pem.as_bytes()),
            Duration::from_secs(5),
        )
        .expect("issuer")
    }

    #[test]
    fn issues_full_chains_and_names_refusals() {
        let m = FakeMetacrypt::start("agent-token").expect("metacrypt");
        let dir = tempfile::tempdir().expect("tmp");
        let store = CertStore::new(dir.path());
        let host = "mcq.svc.mcp.metacircular.net";
        let paths = store.paths("mcq", host, host);
        let window = Duration::from_secs(30 * 86_400);
        store
            .ensure(host, &paths, &issuer(&m, &m.token), window)
            .expect("issue");
        let info = inspect(&paths.cert, &paths.key, SystemTime::now()).expect("good");
        assert_eq!(
            (info.chain_len, info.hostnames.as_slice()),
            (2, [host.to_owned()].as_slice())
        );

        // Without a chain in the answer, the chain endpoint supplies it.
        m.leaf_only.store(true, std::sync::atomic::Ordering::SeqCst);
        let other = store.paths("mcq", "q.example.net", host);
        store
            .ensure("q.example.net", &other, &issuer(&m, &m.token), window)
            .expect("issue with fetched chain");
        assert_eq!(
            inspect(&other.cert, &other.key, SystemTime::now())
                .expect("good")
                .chain_len,
            2
        );

        // No chain anywhere: the leaf-only result is refused and nothing is left.
        m.no_chain.store(true, std::sync::atomic::Ordering::SeqCst);
        let third = store.paths("mcq", "r.example.net", host);
        let err = store
            .ensure("r.example.net", &third, &issuer(&m, &m.token), window)
            .expect_err("leaf only");
        assert!(err.to_string().contains("full chain"), "{err}");
        assert!(!third.cert.exists() && !third.key.exists());

        // A wrong token: refused, with Metacrypt's word.
        let err = issuer(&m, "wrong").issue(host).expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
        assert!(err.to_string().contains("403"), "{err}");
    }
}
