//! The engine's every path on the recording fakes (`runtime::fake`): a deploy
//! step by step, each step failing on a first deploy and on a redeploy, the
//! journal finishing what a dead agent left, and the lifecycle operations. The
//! same paths run on real Podman in `tests/lifecycle.rs`; these run in
//! milliseconds and can break any step.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use mcp_model::ErrorKind;
use mcp_model::ports::PortRange;
use mcp_model::spec::{Conventions, ValidatedDefinition};
use mcp_model::view::{ComponentChange, Report, Step};

use super::*;
use crate::certs::{CertStore, LocalCa};
use crate::ports::BindProbe;
use crate::registry::Registry;
use crate::runtime::ContainerState;
use crate::runtime::fake::{FakeRegistrar, FakeRoutes, FakeRuntime, Op};

const IMAGE_V1: &str = "localhost/app:v1.0.0";
const IMAGE_V2: &str = "localhost/app:v2.0.0";

/// A port slice of its own for each bed: a running fake container listens on its
/// published ports, so health checks connect for real.
fn slice() -> PortRange {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let start = 20_000 + n * 16;
    PortRange::new(start, start + 15).expect("range")
}

/// An engine over a registry on disk and the fakes, with or without a proxy (and
/// DNS).
struct Bed {
    engine: Engine,
    runtime: Arc<FakeRuntime>,
    routes: Arc<FakeRoutes>,
    registrar: Arc<FakeRegistrar>,
    dir: tempfile::TempDir,
}

impl Bed {
    fn new(proxy: bool) -> Bed {
        let dir = tempfile::tempdir().expect("tempdir");
        let runtime = Arc::new(FakeRuntime::with_images(&[IMAGE_V1, IMAGE_V2]));
        let routes = Arc::new(FakeRoutes::default());
        let registrar = Arc::new(FakeRegistrar::default());
        let engine = Self::engine(&dir, &runtime, &routes, &registrar, proxy);
        Bed {
            engine,
            runtime,
            routes,
            registrar,
            dir,
        }
    }

    fn engine(
        dir: &tempfile::TempDir,
        runtime: &Arc<FakeRuntime>,
        routes: &Arc<FakeRoutes>,
        registrar: &Arc<FakeRegistrar>,
        proxy: bool,
    ) -> Engine {
        let mut config = EngineConfig::for_node("n1");
        config.port_range = slice();
        config.conventions = Conventions {
            data_root: dir.path().join("srv"),
            // A fake container does not exit by itself: no settling to wait for.
            ready_after_secs: 0,
            ..Conventions::default()
        };
        if proxy {
            let ca =
                LocalCa::open_or_create(&dir.path().join("ca"), Duration::from_secs(86_400 * 90))
                    .expect("ca");
            config.proxy = Some(ProxyIntegration {
                routes: routes.clone(),
                certs: CertStore::new(dir.path().join("certs")),
                issuer: Arc::new(ca),
                renew_window: Duration::from_secs(86_400 * 30),
            });
            config.dns = Some(DnsIntegration {
                registrar: registrar.clone(),
                zone: config.conventions.zone.clone(),
                addresses: vec![IpAddr::from([10, 0, 0, 7])],
                ttl: 300,
            });
        }
        let registry = Arc::new(Registry::open(&dir.path().join("mcp.db")).expect("registry"));
        let probe = BindProbe::default();
        Engine::new(config, registry, runtime.clone(), Box::new(probe)).expect("engine")
    }

    /// A new engine over the same registry and runtime: an agent started again.
    fn restart_agent(&mut self, proxy: bool) {
        self.engine = Self::engine(
            &self.dir,
            &self.runtime,
            &self.routes,
            &self.registrar,
            proxy,
        );
    }

    fn deploy(&self, def: &ValidatedDefinition) -> Result<Report> {
        self.engine.deploy(def, "tester")
    }

    /// What the node holds: containers, leases, services, routes, records.
    fn snapshot(&self) -> (Vec<String>, Vec<u16>, Vec<String>, usize, usize) {
        let containers = self
            .runtime
            .containers()
            .into_iter()
            .map(|c| c.name)
            .collect();
        let leases = self
            .engine
            .registry
            .leases()
            .expect("leases")
            .iter()
            .map(|l| l.port)
            .collect();
        let services = self
            .engine
            .registry
            .services()
            .expect("services")
            .iter()
            .map(|s| s.name().to_owned())
            .collect();
        (
            containers,
            leases,
            services,
            self.routes.routes().len(),
            self.registrar.records().len(),
        )
    }
}

/// A one-component service with an l7 route (checked by a TCP connect).
fn service(name: &str, image: &str, extra: &str) -> ValidatedDefinition {
    ValidatedDefinition::parse(
        &format!(
            "name = \"{name}\"\nnode = \"n1\"\n\n[[components]]\nname = \"{name}\"\nimage = \"{image}\"\n{extra}\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\nhealth_timeout = 2\n"
        ),
        None,
    )
    .expect("valid definition")
}

/// Arranges a failure on a bed.
type Arrange = Box<dyn Fn(&Bed)>;

/// The test service's name.
fn app() -> mcp_model::names::ServiceName {
    mcp_model::names::ServiceName::parse("app").expect("name")
}

fn step_of(e: &EngineError) -> Option<Step> {
    e.step()
}

#[test]
fn a_first_deploy_creates_leases_and_records_and_says_it_is_new() {
    for proxy in [false, true] {
        let bed = Bed::new(proxy);
        let report = bed.deploy(&service("app", IMAGE_V1, "")).expect("deploy");
        assert!(report.created, "a first deploy");
        assert_eq!(
            report.changes(),
            [("app".to_owned(), ComponentChange::Created)]
        );
        let (containers, leases, services, routes, records) = bed.snapshot();
        assert_eq!(containers, ["app"]);
        assert_eq!(leases.len(), 1);
        assert_eq!(services, ["app"]);
        assert_eq!((routes, records), if proxy { (1, 1) } else { (0, 0) });
        let again = bed.deploy(&service("app", IMAGE_V1, "")).expect("again");
        assert!(!again.created);
        assert_eq!(
            again.changes(),
            [("app".to_owned(), ComponentChange::Unchanged)]
        );
        assert_eq!(bed.runtime.calls_of(Op::Run).len(), 1, "nothing recreated");
    }
}

#[test]
fn each_step_failing_on_a_first_deploy_leaves_nothing() {
    let cases: Vec<(Step, Arrange)> = vec![
        (
            Step::Image,
            Box::new(|b| b.runtime.fail_on(Op::ImageExists, None)),
        ),
        (
            Step::Containers,
            Box::new(|b| b.runtime.fail_on(Op::Run, None)),
        ),
        (Step::Routes, Box::new(|b| b.routes.set_failing(true))),
        (Step::Dns, Box::new(|b| b.registrar.set_failing(true))),
    ];
    for (step, break_it) in cases {
        let bed = Bed::new(true);
        let before = bed.snapshot();
        break_it(&bed);
        let err = bed
            .deploy(&service("app", IMAGE_V1, ""))
            .expect_err("fails");
        assert_eq!(step_of(&err), Some(step), "{err}");
        bed.routes.set_failing(false);
        bed.registrar.set_failing(false);
        assert_eq!(bed.snapshot(), before, "{step:?} left something behind");
        assert!(
            bed.engine
                .registry
                .read(|t| t.journal())
                .expect("journal")
                .is_empty()
        );
    }
}

#[test]
fn a_container_that_exits_at_once_fails_at_health_and_is_removed() {
    for proxy in [false, true] {
        let bed = Bed::new(proxy);
        bed.runtime.crash_on_start("app");
        let err = bed
            .deploy(&service("app", IMAGE_V1, ""))
            .expect_err("unhealthy");
        assert_eq!(step_of(&err), Some(Step::Health), "proxy {proxy}: {err}");
        assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
        assert_eq!(bed.snapshot(), (vec![], vec![], vec![], 0, 0));
    }
}

#[test]
fn a_container_without_routes_must_keep_running_for_its_ready_after() {
    let bed = Bed::new(false);
    let text = |name: &str| {
        format!(
            "name = \"{name}\"\nnode = \"n1\"\n\n[[components]]\nname = \"{name}\"\nimage = \"{IMAGE_V1}\"\nready_after = 1\n"
        )
    };
    let worker = ValidatedDefinition::parse(&text("worker"), None).expect("worker");
    bed.deploy(&worker)
        .expect("a worker that keeps running is ready");
    bed.runtime.crash_on_start("crashy");
    let crashy = ValidatedDefinition::parse(&text("crashy"), None).expect("crashy");
    let err = bed.deploy(&crashy).expect_err("exits at once");
    assert_eq!(step_of(&err), Some(Step::Health), "{err}");
    assert!(err.to_string().contains("ready_after 1s"), "{err}");
    assert!(bed.runtime.container("crashy").is_none(), "undone");
}

#[test]
fn a_failed_redeploy_leaves_the_previous_version_serving() {
    for proxy in [false, true] {
        let bed = Bed::new(proxy);
        bed.deploy(&service("app", IMAGE_V1, "")).expect("v1");
        let v1 = bed.runtime.container("app").expect("v1 runs");
        let before = bed.snapshot();
        bed.runtime.fail_on(Op::Run, None);
        let err = bed
            .deploy(&service("app", IMAGE_V2, ""))
            .expect_err("v2 fails");
        assert_eq!(step_of(&err), Some(Step::Containers), "{err}");
        let now = bed.runtime.container("app").expect("v1 is back");
        assert_eq!((now.id, now.image.as_str()), (v1.id, IMAGE_V1));
        assert_eq!(now.state, ContainerState::Running);
        assert_eq!(bed.snapshot(), before, "proxy: {proxy}");
    }
}

#[test]
fn a_redeploy_behind_a_proxy_starts_the_new_container_beside_the_old_one() {
    let bed = Bed::new(true);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("v1");
    let old_port = bed.routes.routes()[0].backend.clone();
    let report = bed.deploy(&service("app", IMAGE_V2, "")).expect("v2");
    assert_eq!(
        report.changes(),
        [("app".to_owned(), ComponentChange::Replaced)]
    );
    let runs = bed.runtime.calls_of(Op::Run);
    assert_eq!(runs, ["app", "app-mcp-next"], "beside, then renamed");
    assert_eq!(bed.runtime.container("app").expect("v2").image, IMAGE_V2);
    assert_ne!(
        bed.routes.routes()[0].backend,
        old_port,
        "the route followed"
    );
    let (containers, leases, ..) = bed.snapshot();
    assert_eq!(
        (containers.len(), leases.len()),
        (1, 1),
        "the old port was released"
    );
}

#[test]
fn a_redeploy_failing_after_the_switch_puts_the_old_container_and_route_back() {
    let bed = Bed::new(true);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("v1");
    let before = bed.snapshot();
    let route = bed.routes.routes();
    let v1 = bed.runtime.container("app").expect("v1");
    bed.registrar.set_failing(true);
    let err = bed
        .deploy(&service("app", IMAGE_V2, ""))
        .expect_err("dns fails");
    assert_eq!(step_of(&err), Some(Step::Dns), "{err}");
    bed.registrar.set_failing(false);
    assert_eq!(bed.routes.routes(), route, "the route points at v1 again");
    assert_eq!(bed.runtime.container("app").expect("v1").id, v1.id);
    assert_eq!(bed.snapshot(), before);
}

#[test]
fn an_agent_killed_while_podman_creates_a_container_is_undone_when_it_starts_again() {
    let mut bed = Bed::new(false);
    bed.runtime.die_after(Op::Run, "app");
    let def = service("app", IMAGE_V1, "");
    let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bed.deploy(&def)));
    assert!(died.is_err(), "the agent died mid-deploy");
    assert!(
        bed.runtime.container("app").is_some(),
        "Podman made the container"
    );
    bed.restart_agent(false);
    assert!(
        bed.runtime.container("app").is_none(),
        "the journal undid it"
    );
    assert_eq!(bed.snapshot(), (vec![], vec![], vec![], 0, 0));
}

#[test]
fn a_container_name_of_another_service_is_refused_before_anything_changes() {
    let bed = Bed::new(false);
    let uxapp = ValidatedDefinition::parse(
        &format!("name = \"uxapp\"\nnode = \"n1\"\n\n[[components]]\nname = \"api\"\nimage = \"{IMAGE_V1}\"\n"),
        None,
    )
    .expect("uxapp");
    bed.deploy(&uxapp).expect("uxapp");
    let theirs = bed.runtime.container("uxapp-api").expect("uxapp-api runs");
    let calls = bed.runtime.calls().len();
    let err = bed
        .deploy(&service("uxapp-api", IMAGE_V1, ""))
        .expect_err("the name is taken");
    assert_eq!(step_of(&err), Some(Step::Validate), "{err}");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("uxapp"), "{err}");
    assert_eq!(
        bed.runtime.container("uxapp-api").expect("kept").id,
        theirs.id
    );
    let touched: Vec<_> = bed.runtime.calls()[calls..]
        .iter()
        .filter(|c| !matches!(c.op, Op::Inspect | Op::List | Op::ImageExists))
        .cloned()
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
}

#[test]
fn a_hostname_of_another_service_is_refused_before_anything_changes() {
    let bed = Bed::new(false);
    let text = |name: &str, host: &str| {
        format!(
            "name = \"{name}\"\nnode = \"n1\"\n\n[[components]]\nname = \"{name}\"\nimage = \"{IMAGE_V1}\"\n\n[[components.routes]]\nport = 443\nmode = \"l7\"\nhostname = \"{host}\"\n"
        )
    };
    let shop = ValidatedDefinition::parse(&text("shop", "shop.example.net"), None).expect("shop");
    bed.deploy(&shop).expect("shop");
    let before = bed.snapshot();
    let copy = ValidatedDefinition::parse(&text("copy", "SHOP.Example.net"), None).expect("copy");
    let err = bed.deploy(&copy).expect_err("the hostname is taken");
    assert_eq!(step_of(&err), Some(Step::Validate), "{err}");
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.to_string().contains("\"shop.example.net\"")
            && err.to_string().contains("service shop"),
        "{err}"
    );
    assert_eq!(bed.snapshot(), before, "nothing changed");
}

#[test]
fn a_stray_container_of_another_service_is_never_replaced() {
    let bed = Bed::new(false);
    // Another service's container holds the name, unknown to the registry.
    let other = service("other", IMAGE_V1, "");
    bed.deploy(&other).expect("other");
    bed.engine
        .registry
        .transaction(|tx| tx.remove_service("other"))
        .expect("forget it");
    bed.runtime.rename("other", "app").expect("rename");
    let stray = bed.runtime.container("app").expect("stray");
    let err = bed
        .deploy(&service("app", IMAGE_V1, ""))
        .expect_err("taken");
    assert_eq!(step_of(&err), Some(Step::Containers), "{err}");
    assert!(err.to_string().contains("of service other"), "{err}");
    assert_eq!(
        bed.runtime.container("app").expect("left alone").id,
        stray.id
    );
}

#[test]
fn stop_start_restart_and_undeploy() {
    let bed = Bed::new(true);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("deploy");
    let stopped = bed.engine.stop(&app(), "tester").expect("stop");
    assert_eq!(
        stopped.changes(),
        [("app".to_owned(), ComponentChange::Stopped)]
    );
    assert!(bed.routes.routes().is_empty() && bed.registrar.records().is_empty());
    let started = bed.engine.start(&app(), "tester").expect("start");
    assert_eq!(
        started.changes(),
        [("app".to_owned(), ComponentChange::Started)]
    );
    assert_eq!(
        (bed.routes.routes().len(), bed.registrar.records().len()),
        (1, 1)
    );
    let restarted = bed.engine.restart(&app(), "tester").expect("restart");
    assert_eq!(
        restarted.changes(),
        [("app".to_owned(), ComponentChange::Restarted)]
    );
    let gone = bed.engine.undeploy(&app(), "tester").expect("undeploy");
    assert_eq!(
        gone.changes(),
        [("app".to_owned(), ComponentChange::Removed)]
    );
    assert_eq!(bed.snapshot(), (vec![], vec![], vec![], 0, 0));
}

#[test]
fn a_stop_the_proxy_refuses_changes_nothing() {
    let bed = Bed::new(true);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("deploy");
    let before = bed.snapshot();
    bed.routes.set_failing(true);
    let err = bed.engine.stop(&app(), "tester").expect_err("proxy down");
    assert_eq!(step_of(&err), Some(Step::Routes), "{err}");
    bed.routes.set_failing(false);
    assert_eq!(bed.snapshot(), before);
    assert_eq!(
        bed.runtime.container("app").expect("runs").state,
        ContainerState::Running
    );
}

#[test]
fn a_failed_start_leaves_the_service_stopped() {
    let bed = Bed::new(false);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("deploy");
    bed.engine.stop(&app(), "tester").expect("stop");
    bed.runtime.fail_on(Op::Start, Some("app"));
    let err = bed.engine.start(&app(), "tester").expect_err("start fails");
    assert_eq!(step_of(&err), Some(Step::Start), "{err}");
    let rec = bed
        .engine
        .registry
        .service("app")
        .expect("read")
        .expect("app");
    assert!(!rec.active, "marked inactive again");
}

#[test]
fn adopt_and_recover() {
    let bed = Bed::new(false);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("deploy");
    bed.runtime.remove("app").expect("podman lost it");
    let reports = bed.engine.recover("tester").expect("recover");
    assert_eq!(
        reports[0].changes(),
        [("app".to_owned(), ComponentChange::Created)]
    );
    assert!(bed.runtime.container("app").is_some());
    bed.engine
        .registry
        .transaction(|tx| tx.remove_service("app"))
        .expect("the registry forgot it");
    bed.engine.ports().resync().expect("resync");
    let adopted = bed
        .engine
        .adopt(&service("app", IMAGE_V1, ""), "tester")
        .expect("adopt");
    assert!(adopted.created);
    assert_eq!(
        adopted.changes(),
        [("app".to_owned(), ComponentChange::Adopted)]
    );
}

#[test]
fn a_replace_event_names_the_versions() {
    let bed = Bed::new(false);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("v1");
    bed.deploy(&service("app", IMAGE_V2, "")).expect("v2");
    let events = bed
        .engine
        .registry
        .events(&crate::registry::EventQuery::default())
        .expect("events");
    let last = events.last().expect("an event");
    assert_eq!(last.action, "deploy");
    assert_eq!(last.detail, "app: replaced v1.0.0 → v2.0.0");
}

#[test]
fn the_preview_says_what_the_deploy_then_does_and_changes_nothing() {
    use mcp_model::view::{NEW_PORT, PlanChange};
    for proxy in [false, true] {
        let bed = Bed::new(proxy);
        let fresh = bed
            .engine
            .plan_deploy(&service("app", IMAGE_V1, ""), false)
            .expect("plan");
        assert!(fresh.created && fresh.changed());
        assert_eq!(fresh.ports[0].new.as_deref(), Some(NEW_PORT));
        assert_eq!(bed.snapshot().0.len(), 0, "planning created nothing");
        let report = bed.deploy(&service("app", IMAGE_V1, "")).expect("v1");
        assert_eq!(fresh.changes(), report.changes());
        let (routes, certs, dns) = if proxy { (1, 1, 1) } else { (0, 0, 0) };
        let adds = |items: &[mcp_model::view::PlannedItem]| {
            items.iter().filter(|i| i.change == PlanChange::Add).count()
        };
        assert_eq!(
            (
                adds(&fresh.routes),
                adds(&fresh.certificates),
                adds(&fresh.dns)
            ),
            (routes, certs, dns)
        );

        let same = bed
            .engine
            .plan_deploy(&service("app", IMAGE_V1, ""), false)
            .expect("plan");
        assert!(!same.changed(), "{same:?}");

        let v2 = service("app", IMAGE_V2, "env = [\"MODE=fast\"]");
        let runs = bed.runtime.calls_of(Op::Run).len();
        let plan = bed.engine.plan_deploy(&v2, false).expect("plan");
        assert_eq!(bed.runtime.calls_of(Op::Run).len(), runs, "nothing run");
        assert_eq!(plan.components[0].beside, proxy);
        assert_eq!(
            plan.components[0].reason,
            format!("image {IMAGE_V1} → {IMAGE_V2}")
        );
        let env = plan
            .definition
            .changes
            .iter()
            .find(|c| c.field.ends_with("env.MODE"))
            .expect("env change");
        assert_eq!(env.new.as_deref(), Some(mcp_model::spec::MASK));
        let report = bed.deploy(&v2).expect("v2");
        assert_eq!(plan.changes(), report.changes());
        if proxy {
            assert_eq!(plan.routes[0].change, PlanChange::Change, "a new backend");
            assert_eq!(plan.ports[0].change, PlanChange::Change);
        } else {
            assert_eq!(plan.ports[0].change, PlanChange::Keep);
            assert_eq!(
                plan.ports[0].new,
                Some(report.ports[0].port.to_string()),
                "the port kept"
            );
        }
    }
}

#[test]
fn exec_is_refused_for_a_stopped_or_flapping_component_naming_its_state() {
    use crate::runtime::ExecRequest;
    let bed = Bed::new(false);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("deploy");
    let request = |command: &[&str]| ExecRequest {
        command: command.iter().map(|s| (*s).to_owned()).collect(),
        tty: None,
        term: None,
    };
    let refusal = |r: &ExecRequest| {
        bed.engine
            .exec(&app(), None, r, "tester")
            .expect_err("refused")
    };
    // The fakes run no commands: a running component gets as far as the runtime.
    let e = refusal(&request(&["true"]));
    assert_eq!(e.kind(), ErrorKind::NotConfigured, "{e}");
    let e = refusal(&request(&[]));
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = refusal(&request(&["a\0b"]));
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    bed.engine
        .registry()
        .transaction(|tx| {
            tx.set_component_flapping("app", "app", Some(std::time::SystemTime::now()))
        })
        .expect("flapping");
    let e = refusal(&request(&["true"]));
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    assert!(e.to_string().contains("is flapping"), "{e}");
    bed.engine
        .registry()
        .transaction(|tx| tx.set_component_flapping("app", "app", None))
        .expect("not flapping");
    bed.engine.stop(&app(), "tester").expect("stop");
    let e = refusal(&request(&["true"]));
    assert!(e.to_string().contains("is stopped"), "{e}");
    let other = mcp_model::names::ComponentName::parse("nope").expect("name");
    let e = bed
        .engine
        .exec(&app(), Some(&other), &request(&["true"]), "tester")
        .expect_err("no such component");
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn a_sync_works_on_services_at_once_without_a_double_lease() {
    let bed = Bed::new(true);
    let names = ["s1", "s2", "s3", "s4", "s5", "s6"];
    let mut defs: Vec<ValidatedDefinition> =
        names.iter().map(|n| service(n, IMAGE_V1, "")).collect();
    // A seventh holding s1's hostname: refused as a later deploy would be.
    defs.push(
        ValidatedDefinition::parse(
            "name = \"s7\"\nnode = \"n1\"\n\n[[components]]\nname = \"s7\"\nimage = \"localhost/app:v1.0.0\"\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\nhostname = \"s1.svc.mcp.metacircular.net\"\n",
            None,
        )
        .expect("valid"),
    );
    let items = bed.engine.sync(&defs, false, "tester").expect("sync");
    for item in &items[..6] {
        assert_eq!(item.error, None, "{item:?}");
    }
    let refused = items[6].error.as_deref().unwrap_or_default();
    assert!(refused.contains("of the same sync"), "{refused}");
    let leases = bed.engine.registry().leases().expect("leases");
    let ports: std::collections::BTreeSet<u16> = leases.iter().map(|l| l.port).collect();
    assert_eq!(
        (leases.len(), ports.len()),
        (6, 6),
        "one port each, none shared"
    );
    assert_eq!(bed.runtime.calls_of(Op::Run).len(), 6);
}

#[test]
fn a_definition_for_another_node_or_none_is_refused_before_any_step() {
    let bed = Bed::new(false);
    for (node_line, wanted) in [("node = \"n2\"\n", "is for node n2"), ("", "names no node")] {
        let def = ValidatedDefinition::parse(
            &format!(
                "name = \"app\"\n{node_line}\n[[components]]\nname = \"app\"\nimage = \"{IMAGE_V1}\"\n"
            ),
            None,
        )
        .expect("valid");
        let e = bed.engine.deploy(&def, "tester").expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(wanted), "{e}");
        let e = bed
            .engine
            .sync(&[def], false, "tester")
            .expect_err("refused");
        assert!(e.to_string().contains(wanted), "{e}");
    }
    assert!(bed.runtime.calls_of(Op::Run).is_empty());
}

#[test]
fn a_read_during_the_monitors_relist_waits_for_it_instead_of_listing_again() {
    let bed = Bed::new(false);
    for n in ["s1", "s2", "app"] {
        bed.deploy(&service(n, IMAGE_V1, "")).expect("deploy");
    }
    // As right after the agent started: nothing known yet, a slow node.
    bed.engine.forget_observed();
    bed.runtime.slow_lists(Duration::from_millis(400));
    let lists = || bed.runtime.calls_of(Op::List).len();
    let before = lists();
    let desired = bed.engine.desired_containers().expect("desired");
    let statuses = std::thread::scope(|scope| {
        let relist = scope.spawn(|| bed.engine.observe(&desired));
        while lists() == before {
            std::thread::yield_now();
        }
        let statuses = bed.engine.statuses().expect("statuses");
        relist.join().expect("relist").expect("observed");
        statuses
    });
    assert_eq!(lists(), before + 1, "one listing answered both");
    assert_eq!(statuses.len(), 3);
    assert!(
        statuses
            .iter()
            .all(|s| s.components[0].state == ContainerState::Running),
        "{statuses:?}"
    );
}

#[test]
fn a_change_asks_again_about_its_service_alone_so_reads_after_it_ask_nothing() {
    let bed = Bed::new(false);
    for n in ["s1", "s2", "s3", "app"] {
        bed.deploy(&service(n, IMAGE_V1, "")).expect("deploy");
    }
    let reads = || {
        bed.runtime
            .calls()
            .iter()
            .filter(|c| matches!(c.op, Op::List | Op::Inspect))
            .count()
    };
    bed.engine.statuses().expect("statuses");
    let warm = reads();
    bed.engine.statuses().expect("statuses");
    assert_eq!(reads(), warm, "a warm read asks nothing");

    bed.deploy(&service("s4", IMAGE_V1, "")).expect("deploy");
    bed.engine.stop(&app(), "tester").expect("stop");
    let after_changes = reads();
    let statuses = bed.engine.statuses().expect("statuses");
    assert_eq!(
        reads(),
        after_changes,
        "the reads after a deploy and a stop ask nothing"
    );
    let state = |s: &str| {
        statuses
            .iter()
            .find(|st| st.service == s)
            .map(|st| st.components[0].state.clone())
    };
    assert_eq!(state("s4"), Some(ContainerState::Running));
    assert_eq!(state("app"), Some(ContainerState::Exited));
    assert_eq!(state("s1"), Some(ContainerState::Running));
}

#[test]
fn usage_takes_two_samples_for_a_rate_then_one_per_second() {
    let bed = Bed::new(false);
    bed.deploy(&service("app", IMAGE_V1, "")).expect("deploy");
    let samples = || bed.runtime.calls_of(Op::Usage).len();
    let first = bed.engine.usage(Some(&app())).expect("usage");
    assert_eq!(samples(), 2, "no basis: two samples, a second apart");
    assert_eq!(
        (first[0].cpu_percent, first[0].memory_bytes),
        (Some(0.0), Some(0))
    );
    bed.runtime
        .set_usage(&first[0].container, 500_000_000, 4096);
    std::thread::sleep(Duration::from_millis(1100));
    let again = bed.engine.usage(None).expect("usage");
    assert_eq!(samples(), 3, "a basis from the last minute: one more");
    let cpu = again[0].cpu_percent.expect("a rate");
    assert!(
        cpu > 0.0 && cpu < 50.0,
        "0.5 s of CPU over more than 1 s: {cpu}"
    );
    assert_eq!(again[0].memory_bytes, Some(4096));
    bed.engine.usage(None).expect("usage");
    assert_eq!(samples(), 3, "a sample younger than a second is used again");
}

#[test]
fn a_redeploy_beside_leases_every_components_ports_at_once_and_says_how_many() {
    let bed = Bed::new(true);
    let two = |image: &str| {
        let route = |port: u16| {
            format!("\n\n[[components.routes]]\nport = {port}\nmode = \"l7\"\nhealth_timeout = 2\n")
        };
        let (web, api) = (route(8443), route(9443));
        ValidatedDefinition::parse(
            &format!(
                "name = \"app\"\nnode = \"n1\"\n\n[[components]]\nname = \"web\"\nimage = \"{image}\"{web}\n[[components]]\nname = \"api\"\nimage = \"{image}\"{api}"
            ),
            None,
        )
        .expect("valid definition")
    };
    bed.deploy(&two(IMAGE_V1)).expect("v1");
    // Everything else leased but one port: the redeploy needs two beside.
    let free = bed.engine.config.port_range.len() - bed.engine.ports.leased();
    let filler: Vec<_> = (0..free - 1)
        .map(|i| super::preview::lease_request("filler", "c", Some(format!("r{i}"))))
        .collect();
    bed.engine.ports.lease(&filler).expect("filler");
    let before = bed.snapshot();
    let err = bed.deploy(&two(IMAGE_V2)).expect_err("one port for two");
    assert_eq!(step_of(&err), Some(Step::Ports), "{err}");
    let leased = bed.engine.config.port_range.len() - 1;
    assert!(
        err.to_string().contains(&format!(
            "{leased} of 16 ports are leased and 2 more were requested"
        )),
        "{err}"
    );
    assert_eq!(bed.snapshot(), before, "nothing changed");
    assert_eq!(bed.runtime.calls_of(Op::Run).len(), 2, "nothing was made");
}
