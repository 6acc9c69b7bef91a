//! The RFC 2136 registrar against a real BIND 9: records added resolve through an
//! ordinary query, adding twice and removing twice are harmless, removal takes
//! only the records named, and a wrong key, an unsigned server or a server that is
//! down each give their own error.

use std::net::IpAddr;
use std::time::Duration;

use mcp_core::ErrorKind;
use mcp_core::dns::{DnsRegistrar, Rfc2136, records_for, resolve, tsig_algorithm};
use mcp_examples::bind::LocalBind;

const T: Duration = Duration::from_secs(2);

fn registrar(bind: &LocalBind, secret: Vec<u8>) -> Rfc2136 {
    Rfc2136::new(
        bind.addr,
        &bind.key_name,
        tsig_algorithm("hmac-sha256").expect("alg"),
        secret,
        T,
    )
    .expect("registrar")
}

fn sorted(mut v: Vec<IpAddr>) -> Vec<IpAddr> {
    v.sort();
    v
}

#[test]
fn updates_resolve_and_are_idempotent() {
    let bind = LocalBind::start("svc.mcp.test").unwrap_or_else(|e| panic!("{e}"));
    let dns = registrar(&bind, bind.secret.clone());
    let addrs: Vec<IpAddr> = vec![
        "192.168.88.181".parse().expect("a"),
        "100.95.252.120".parse().expect("a"),
        "fd7a:115c:a1e0::1".parse().expect("aaaa"),
    ];
    let web = records_for("web.svc.mcp.test", "svc.mcp.test", &addrs, 300, "web").expect("zone");
    let api =
        records_for("api.svc.mcp.test", "svc.mcp.test", &addrs[..1], 300, "api").expect("zone");
    dns.add(&web).expect("add");
    dns.add(&web).expect("add again");
    dns.add(&api).expect("add api");
    assert_eq!(
        sorted(resolve(bind.addr, "web.svc.mcp.test", "A", T).expect("query")),
        sorted(addrs[..2].to_vec())
    );
    assert_eq!(
        resolve(bind.addr, "web.svc.mcp.test", "AAAA", T).expect("query"),
        addrs[2..].to_vec()
    );
    // Removing one record of a name leaves the others.
    dns.remove(&web[..1]).expect("remove one");
    assert_eq!(
        resolve(bind.addr, "web.svc.mcp.test", "A", T).expect("query"),
        addrs[1..2].to_vec()
    );
    dns.remove(&web).expect("remove all");
    dns.remove(&web).expect("remove again");
    assert!(
        resolve(bind.addr, "web.svc.mcp.test", "A", T)
            .expect("query")
            .is_empty()
    );
    assert_eq!(
        resolve(bind.addr, "api.svc.mcp.test", "A", T).expect("query"),
        addrs[..1].to_vec(),
        "other names untouched"
    );
}

#[test]
fn wrong_key_and_server_down_are_errors() {
    let bind = LocalBind::start("svc.mcp.test").unwrap_or_else(|e| panic!("{e}"));
    let addrs: Vec<IpAddr> = vec!["192.168.88.181".parse().expect("a")];
    let rec = records_for("x.svc.mcp.test", "svc.mcp.test", &addrs, 300, "x").expect("zone");

    let wrong = registrar(&bind, b"not-the-secret-not-the-secret-xx".to_vec());
    let err = wrong.add(&rec).expect_err("bad signature");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");
    assert!(
        resolve(bind.addr, "x.svc.mcp.test", "A", T)
            .expect("query")
            .is_empty(),
        "nothing added"
    );

    // A zone the server does not serve.
    let other = records_for("x.other.test", "other.test", &addrs, 300, "x").expect("zone");
    let err = registrar(&bind, bind.secret.clone())
        .add(&other)
        .expect_err("not our zone");
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition, "{err}");

    let addr = bind.addr;
    let secret = bind.secret.clone();
    let key = bind.key_name.clone();
    drop(bind);
    let down = Rfc2136::new(
        addr,
        &key,
        tsig_algorithm("hmac-sha256").expect("alg"),
        secret,
        T,
    )
    .expect("registrar");
    let err = down.add(&rec).expect_err("down");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}
