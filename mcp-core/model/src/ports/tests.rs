//! Tests of the port set and the offline planner.

use std::collections::HashSet;

use super::*;

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

#[test]
fn range_parsing() {
    assert_eq!(
        "10000-60000".parse::<PortRange>().expect("parse"),
        PortRange::default()
    );
    for bad in ["", "0-10", "20-10", "a-b", "10", "1-70000"] {
        let err = bad.parse::<PortRange>().expect_err(bad);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }
}

#[test]
fn set_fills_every_port_once_then_reports_full() {
    // 130 ports: three words, the last one padded.
    let mut set = PortSet::new(range(1000, 1129));
    let mut seen = HashSet::new();
    while let Some(p) = set.take_next(|_| true) {
        assert!((1000..=1129).contains(&p));
        assert!(seen.insert(p), "port {p} handed out twice");
    }
    assert_eq!(seen.len(), 130);
    assert_eq!(set.len(), 130);
    assert!(set.remove(1064));
    assert_eq!(set.take_next(|_| true), Some(1064));
    assert_eq!(set.take_next(|_| true), None);
}

#[test]
fn set_is_next_fit_and_wraps() {
    let mut set = PortSet::new(range(1, 200));
    assert_eq!(set.take_next(|_| true), Some(1));
    assert_eq!(set.take_next(|_| true), Some(2));
    assert!(set.remove(1));
    // Next-fit: the port just released is not reused at once.
    assert_eq!(set.take_next(|_| true), Some(3));
    for p in 4..=200 {
        assert!(set.insert(p));
    }
    assert_eq!(
        set.take_next(|_| true),
        Some(1),
        "wraps around to the free port"
    );
    assert_eq!(set.take_next(|_| true), None);
}

#[test]
fn set_skips_refused_ports_without_taking_them() {
    let mut set = PortSet::new(range(100, 104));
    assert_eq!(set.take_next(|p| p > 102), Some(103));
    assert!(!set.contains(100) && !set.contains(101) && !set.contains(102));
    assert_eq!(set.take_next(|p| p == 999), None);
    assert_eq!(set.len(), 1);
}

#[test]
fn set_ignores_ports_outside_the_range() {
    let mut set = PortSet::new(range(100, 110));
    assert!(!set.insert(99));
    assert!(!set.insert(111));
    assert!(!set.contains(99));
    assert!(!set.remove(111));
    assert!(set.is_empty());
}

#[test]
fn planner_keeps_a_routes_port_and_leases_all_or_nothing() {
    let mut p = PortPlanner::new(range(20000, 20003), Box::new(NoProbe));
    let first = p
        .lease(&[
            req("a", Some("rest")),
            req("a", Some("grpc")),
            req("a", Some("rest")),
        ])
        .expect("lease");
    assert_eq!(first.len(), 3);
    assert_eq!(first[0].port, first[2].port, "one route, one port");
    assert_eq!(p.leased(), 2);
    let again = p.lease(&[req("a", Some("grpc"))]).expect("again");
    assert_eq!(again[0].port, first[1].port);
    // Two ports are left; three new routes do not fit, and nothing is leased.
    let err = p
        .lease(&[
            req("b", Some("x")),
            req("b", Some("y")),
            req("b", Some("z")),
        ])
        .expect_err("exhausted");
    assert_eq!(err.kind(), ErrorKind::Exhausted);
    let msg = err.to_string();
    assert!(
        msg.contains("2 of 4 ports are leased and 3 more were requested"),
        "{msg}"
    );
    assert_eq!(p.leased(), 2);
    p.lease(&[req("b", Some("x")), req("b", Some("y"))])
        .expect("two still fit");
}

#[test]
fn planner_adopts_exact_ports_and_refuses_taken_ones() {
    let mut p = PortPlanner::new(range(20000, 20009), Box::new(NoProbe));
    let held = p.adopt(&[(req("a", None), 20004)]).expect("adopt");
    assert_eq!(held[0].port, 20004);
    let err = p.adopt(&[(req("b", None), 20004)]).expect_err("taken");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("a/api/-"), "{err}");
    let mut wants = req("c", None);
    wants.preferred = Some(20004);
    assert_ne!(p.lease(&[wants]).expect("lease")[0].port, 20004);
    p.release(&[20004]);
    assert_eq!(p.leased(), 1);
}
