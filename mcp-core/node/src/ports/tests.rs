//! Tests of the registry-backed allocator, on real registry files.

use std::collections::HashSet;
use std::sync::Arc;

use mcp_model::ErrorKind;
use mcp_model::ports::{LeaseRequest, NoProbe, PortRange};

use super::*;
use crate::registry::Registry;

fn range(a: u16, b: u16) -> PortRange {
    PortRange::new(a, b).expect("range")
}

fn req(service: &str, route: Option<&str>) -> LeaseRequest {
    LeaseRequest {
        service: service.into(),
        component: "api".into(),
        route: route.map(str::to_owned),
        preferred: None,
    }
}

fn allocator(r: PortRange) -> (Arc<Registry>, PortAllocator, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Arc::new(Registry::open(&dir.path().join("mcp.db")).expect("open"));
    let alloc = PortAllocator::new(registry.clone(), r, Box::new(NoProbe)).expect("allocator");
    (registry, alloc, dir)
}

#[test]
fn leases_are_unique_persisted_and_stable_per_route() {
    let (registry, alloc, _dir) = allocator(range(20000, 20009));
    let first = alloc
        .lease(&[
            req("a", Some("rest")),
            req("a", Some("grpc")),
            req("b", None),
        ])
        .expect("lease");
    let ports: HashSet<u16> = first.iter().map(|l| l.port).collect();
    assert_eq!(ports.len(), 3);
    assert_eq!(registry.leases().expect("leases").len(), 3);

    // Asking again for the same routes returns the same ports (stable across redeploys).
    let again = alloc
        .lease(&[req("a", Some("grpc")), req("a", Some("rest"))])
        .expect("lease again");
    assert_eq!(again[0].port, first[1].port);
    assert_eq!(again[1].port, first[0].port);
    assert_eq!(registry.leases().expect("leases").len(), 3);

    // A new allocator over the same registry knows the leases.
    let alloc2 =
        PortAllocator::new(registry.clone(), range(20000, 20009), Box::new(NoProbe)).expect("new");
    assert_eq!(alloc2.leased(), 3);
    let more = alloc2.lease(&[req("c", None)]).expect("lease c");
    assert!(!ports.contains(&more[0].port));
}

#[test]
fn preferred_port_is_used_when_free() {
    let (_registry, alloc, _dir) = allocator(range(20000, 20009));
    let mut r = req("a", None);
    r.preferred = Some(20007);
    assert_eq!(alloc.lease(&[r.clone()]).expect("lease")[0].port, 20007);
    let mut other = req("b", None);
    other.preferred = Some(20007);
    assert_ne!(alloc.lease(&[other]).expect("lease")[0].port, 20007);
}

#[test]
fn exhaustion_names_the_range_and_leases_nothing() {
    let (registry, alloc, _dir) = allocator(range(20000, 20002));
    alloc.lease(&[req("a", None)]).expect("one");
    let err = alloc
        .lease(&[
            req("b", Some("x")),
            req("b", Some("y")),
            req("b", Some("z")),
        ])
        .expect_err("only two left");
    assert_eq!(err.kind(), ErrorKind::Exhausted);
    let msg = err.to_string();
    assert!(msg.contains("20000-20002"), "{msg}");
    assert!(msg.contains("1 of 3 ports are leased"), "{msg}");
    assert_eq!(
        registry.leases().expect("leases").len(),
        1,
        "nothing leased"
    );
    assert_eq!(alloc.leased(), 1, "in-memory state rolled back");
    alloc
        .lease(&[req("b", Some("x")), req("b", Some("y"))])
        .expect("two still fit");
}

#[test]
fn release_frees_ports() {
    let (registry, alloc, _dir) = allocator(range(20000, 20001));
    let a = alloc
        .lease(&[req("a", Some("p")), req("a", Some("q"))])
        .expect("lease");
    alloc.release(&[a[0].port]).expect("release");
    assert_eq!(alloc.leased(), 1);
    assert_eq!(
        alloc.release_service("a").expect("release all"),
        vec![a[1].port]
    );
    assert!(registry.leases().expect("leases").is_empty());
    assert_eq!(
        alloc
            .lease(&[req("b", Some("p")), req("b", Some("q"))])
            .expect("reuse")
            .len(),
        2
    );
}

#[test]
fn a_port_bound_on_the_host_is_never_leased() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bound = listener.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Arc::new(Registry::open(&dir.path().join("mcp.db")).expect("open"));

    // A range of just the bound port: exhausted, though nothing is leased.
    let only = PortAllocator::new(
        registry.clone(),
        range(bound, bound),
        Box::new(BindProbe::default()),
    )
    .expect("allocator");
    let err = only.lease(&[req("a", None)]).expect_err("bound");
    assert_eq!(err.kind(), ErrorKind::Exhausted);

    // Preferring the bound port does not get it either.
    let lo = bound.saturating_sub(3).max(1);
    let hi = bound.saturating_add(3);
    let alloc = PortAllocator::new(registry, range(lo, hi), Box::new(BindProbe::default()))
        .expect("allocator");
    let mut r = req("a", None);
    r.preferred = Some(bound);
    for l in alloc.lease(&[r]).into_iter().flatten() {
        assert_ne!(l.port, bound);
    }
    drop(listener);
}

#[test]
fn concurrent_callers_never_share_a_port() {
    let (registry, alloc, _dir) = allocator(range(30000, 30999));
    let alloc = Arc::new(alloc);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let alloc = alloc.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| {
                        alloc
                            .lease(&[req(&format!("s{t}"), Some(&format!("r{i}")))])
                            .expect("lease")[0]
                            .port
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for t in threads {
        for p in t.join().expect("thread") {
            assert!(all.insert(p), "port {p} leased twice");
        }
    }
    assert_eq!(all.len(), 400);
    assert_eq!(registry.leases().expect("leases").len(), 400);
}
