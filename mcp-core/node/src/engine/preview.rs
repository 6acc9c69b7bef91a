//! The deploy planner: what deploying a definition would do on this node, found
//! without changing anything ([`Engine::plan_deploy`], a [`DeployPreview`]).
//!
//! It takes its decisions from the functions the deploy acts on: the validate
//! step ([`Engine::validate_deploy`]), [`ContainerAction`] for each container,
//! the lease requests and their rule (`lease_requests`,
//! [`mcp_model::ports::LeaseRequest::holds`]: a route keeps the port it had), the
//! routes and records the deploy would register ([`Engine::desired_routes`],
//! [`Engine::desired_records`]) and the certificate rule
//! ([`crate::certs::CertStore::freshness`]). What only the deploy can know is
//! said as such: the port a new lease gets ([`NEW_PORT`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use mcp_model::ports::{LeaseRequest, PortLease};
use mcp_model::spec::{ResolvedComponent, ResolvedService, ValidatedDefinition, legacy_host_port};
use mcp_model::view::{
    ComponentChange, DeployPreview, NEW_PORT, PlanChange, PlannedComponent, PlannedItem, Step,
};

use super::{Engine, Result, step_err};
use crate::certs::Freshness;
use crate::proxy::ProxyRoute;
use crate::registry::{ComponentRecord, ServiceRecord};
use crate::runtime::{ContainerInfo, ContainerSpec, ContainerState, RuntimeError};

/// What the containers step does with one component's container: the one
/// decision the deploy acts on and the preview shows.
pub(super) enum ContainerAction {
    /// Its specification and image are as wanted: kept, started or stopped as
    /// the definition's `active` says (the change).
    Keep(ContainerInfo, ComponentChange),
    /// Replaced beside the running container, the routes switched to the new
    /// one once it is ready: only behind a proxy, for a running component with
    /// routes and no fixed host ports.
    Beside(ContainerInfo),
    /// Stopped, moved aside and replaced in place.
    InPlace(ContainerInfo),
    /// Created: there is none.
    Create,
}

impl ContainerAction {
    /// What the deploy does with `existing` (the container the registry recorded
    /// under `spec`'s name, as the runtime sees it) for component `c`; `gated`:
    /// a proxy routes to the service and it is active.
    pub(super) fn decide(
        existing: Option<ContainerInfo>,
        spec: &ContainerSpec,
        c: &ResolvedComponent,
        gated: bool,
        active: bool,
    ) -> Self {
        let Some(info) = existing else {
            return ContainerAction::Create;
        };
        let running = info.state == ContainerState::Running;
        if info.spec_hash() == Some(spec.hash()) && info.image == spec.image {
            let change = match (active, running) {
                (true, false) => ComponentChange::Started,
                (false, true) => ComponentChange::Stopped,
                _ => ComponentChange::Unchanged,
            };
            ContainerAction::Keep(info, change)
        } else if gated && !c.routes.is_empty() && c.ports.is_empty() && running {
            ContainerAction::Beside(info)
        } else {
            ContainerAction::InPlace(info)
        }
    }

    /// The change the deploy's report names.
    fn change(&self) -> ComponentChange {
        match self {
            ContainerAction::Keep(_, change) => *change,
            ContainerAction::Beside(_) | ContainerAction::InPlace(_) => ComponentChange::Replaced,
            ContainerAction::Create => ComponentChange::Created,
        }
    }
}

impl Engine {
    /// What deploying `def` here would do, changing nothing: the definition's
    /// fields that differ from the deployed one (environment values masked
    /// unless `show_env`), each container kept, started, stopped, replaced
    /// (beside the running one or in place), created or removed, and the port
    /// leases, proxy routes, certificates and DNS records added, changed,
    /// removed or kept. Refused as the deploy would refuse it at step validate
    /// (and at step image for a `localhost/` image that is not here).
    pub fn plan_deploy(&self, def: &ValidatedDefinition, show_env: bool) -> Result<DeployPreview> {
        let resolved = def.resolve(&self.config.conventions);
        let previous = self.validate_deploy(def, &resolved)?;
        let pulls = self.missing_images(&resolved)?;
        let definition = previous
            .as_ref()
            .map(|p| mcp_model::spec::diff(&p.definition, def))
            .unwrap_or_default();
        let mut preview = DeployPreview {
            service: def.name.clone(),
            node: self.config.node.clone(),
            created: previous.is_none(),
            definition: if show_env {
                definition
            } else {
                definition.masked()
            },
            components: Vec::new(),
            ports: Vec::new(),
            routes: Vec::new(),
            certificates: Vec::new(),
            dns: Vec::new(),
            warnings: self.skipped_steps(),
        };
        let fail = |step: Step| move |e: crate::Error| step_err("deploy", &def.name, step)(e);
        let mut leases = self
            .planned_leases(&resolved, &mut preview)
            .map_err(fail(Step::Ports))?;
        let gated = self.proxy().is_some() && def.active;
        for c in &resolved.components {
            let spec = self.container_spec(&resolved, c, &leases);
            let existing = self
                .recorded_container(previous.as_ref(), &spec.name)
                .map_err(|e| fail(Step::Containers)(e.into()))?;
            let action = ContainerAction::decide(existing, &spec, c, gated, def.active);
            if let ContainerAction::Beside(_) = action {
                renew_ports(&c.name, &mut leases, &mut preview.ports);
            }
            preview.components.push(PlannedComponent {
                container: spec.name.clone(),
                component: c.name.clone(),
                change: action.change(),
                reason: reason(&action, &spec),
                beside: matches!(action, ContainerAction::Beside(_)),
                pull: pulls.contains(c.image.as_str()),
            });
        }
        push_removed(&previous, &mut preview);
        let routes = if def.active {
            self.desired_routes(&resolved, &leases)
        } else {
            Vec::new()
        };
        self.check_routes(&def.name, &routes)
            .map_err(fail(Step::Routes))?;
        let owned = self.owned_routes(&def.name).map_err(fail(Step::Routes))?;
        preview.routes = compare_routes(&owned, &routes);
        preview.certificates = self.planned_certs(&resolved).map_err(fail(Step::Certs))?;
        let records = if def.active {
            self.desired_records(&resolved)
        } else {
            Vec::new()
        };
        let owned = self.owned_records(&def.name).map_err(fail(Step::Dns))?;
        preview.dns = compare_records(&owned, &records);
        Ok(preview)
    }

    /// The container the registry recorded for `previous` under `name`, as the
    /// runtime sees it; `None` for one it never recorded (a fresh deploy costs
    /// no runtime call; a stray container holding the name is dealt with when
    /// creating, see `Engine::create_container`).
    pub(super) fn recorded_container(
        &self,
        previous: Option<&ServiceRecord>,
        name: &str,
    ) -> Result<Option<ContainerInfo>, RuntimeError> {
        let recorded =
            previous.is_some_and(|p| p.components.iter().any(|pc| pc.container_name == name));
        if recorded {
            self.runtime.inspect(name)
        } else {
            Ok(None)
        }
    }

    /// The images of `resolved` that are not on the node (the deploy would pull
    /// them). A missing `localhost/` one is refused as step image refuses it.
    fn missing_images(
        &self,
        resolved: &mcp_model::spec::ResolvedService,
    ) -> Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for c in &resolved.components {
            let fail = step_err("deploy", &resolved.name, Step::Image);
            if self.image_missing(&c.image).map_err(fail)? {
                out.insert(c.image.clone());
            }
        }
        Ok(out)
    }

    /// The leases the ports step would hand out, as [`crate::ports::PortAllocator`]
    /// does (a route, or a fixed legacy host port, keeps the lease it holds; a
    /// new route gets a port only then, here port 0), with a [`PlannedItem`]
    /// for each in `preview.ports`, and one for each lease no route holds any
    /// more (released).
    fn planned_leases(
        &self,
        resolved: &mcp_model::spec::ResolvedService,
        preview: &mut DeployPreview,
    ) -> Result<Vec<PortLease>, crate::Error> {
        let name = resolved.name.as_str();
        let held = self.registry.read(|t| t.service_leases(name))?;
        let (legacy, routes) = lease_requests(resolved);
        self.ports.check_adopt(&legacy)?;
        let requests = legacy
            .into_iter()
            .map(|(r, port)| (r, Some(port)))
            .chain(routes.into_iter().map(|r| (r, None)));
        let mut out: Vec<PortLease> = Vec::new();
        for (request, fixed) in requests {
            let have = held
                .iter()
                .find(|l| request.holds(l) && fixed.is_none_or(|p| p == l.port));
            let port = have.map(|l| l.port).or(fixed).unwrap_or(0);
            preview.ports.push(PlannedItem {
                name: lease_name(&request.component, request.route.as_deref()),
                change: if have.is_some() {
                    PlanChange::Keep
                } else {
                    PlanChange::Add
                },
                old: have.map(|l| l.port.to_string()),
                new: Some(port_text(port)),
            });
            out.push(PortLease {
                port,
                service: request.service,
                component: request.component,
                route: request.route,
                leased_at: SystemTime::now(),
            });
        }
        for l in held
            .iter()
            .filter(|l| !out.iter().any(|o| o.port == l.port))
        {
            preview.ports.push(PlannedItem {
                name: lease_name(&l.component, l.route.as_deref()),
                change: PlanChange::Remove,
                old: Some(l.port.to_string()),
                new: None,
            });
        }
        Ok(out)
    }

    /// The certificate of every l7 hostname, kept or issued as the certs step
    /// would, and those of hostnames the service no longer has (removed).
    fn planned_certs(
        &self,
        resolved: &mcp_model::spec::ResolvedService,
    ) -> Result<Vec<PlannedItem>, crate::Error> {
        let Some(p) = self.proxy() else {
            return Ok(Vec::new());
        };
        let now = SystemTime::now();
        let hostnames = super::routing::l7_hostnames(resolved);
        let mut out = Vec::new();
        for hostname in &hostnames {
            let paths = self.cert_paths(p, &resolved.name, hostname);
            let issued = format!("issued by {}", p.issuer.name());
            out.push(
                match p.certs.freshness(hostname, &paths, p.renew_window, now) {
                    Freshness::Fresh(info) => {
                        let kept = Some(expiry(info.not_after, now));
                        item(hostname, PlanChange::Keep, kept.clone(), kept)
                    }
                    Freshness::Stale {
                        exists: true,
                        reason,
                    } => item(hostname, PlanChange::Change, Some(reason), Some(issued)),
                    Freshness::Stale { exists: false, .. } => {
                        item(hostname, PlanChange::Add, None, Some(issued))
                    }
                },
            );
        }
        for c in self.registry.read(|t| t.certificates())? {
            if c.service.as_deref() == Some(resolved.name.as_str())
                && !hostnames.contains(c.hostname.as_str())
            {
                let old = Some(expiry(c.not_after, now));
                out.push(item(&c.hostname, PlanChange::Remove, old, None));
            }
        }
        Ok(out)
    }
}

/// The leases the ports step asks for: the legacy `ports` entries' (each with
/// its fixed host port), then one per leased route.
pub(super) fn lease_requests(
    resolved: &ResolvedService,
) -> (Vec<(LeaseRequest, u16)>, Vec<LeaseRequest>) {
    let name = resolved.name.as_str();
    let legacy = resolved
        .components
        .iter()
        .flat_map(|c| {
            c.ports.iter().enumerate().filter_map(|(i, p)| {
                legacy_host_port(p).map(|(_, host)| {
                    (
                        lease_request(name, &c.name, Some(format!("ports[{i}]"))),
                        host,
                    )
                })
            })
        })
        .collect();
    let routes = resolved
        .components
        .iter()
        .flat_map(|c| {
            c.leased_routes()
                .map(|r| lease_request(name, &c.name, r.name.clone()))
        })
        .collect();
    (legacy, routes)
}

/// The lease request of one route of `component`.
pub(super) fn lease_request(service: &str, component: &str, route: Option<String>) -> LeaseRequest {
    LeaseRequest {
        service: service.to_owned(),
        component: component.to_owned(),
        route,
        preferred: None,
    }
}

/// A component replaced beside its running container leases new ports for its
/// routes (the old container keeps serving on the old ones until the switch).
fn renew_ports(component: &str, leases: &mut [PortLease], ports: &mut [PlannedItem]) {
    for l in leases.iter_mut().filter(|l| l.component == component) {
        let name = lease_name(component, l.route.as_deref());
        if let Some(p) = ports.iter_mut().find(|p| p.name == name) {
            if p.change == PlanChange::Keep {
                p.change = PlanChange::Change;
            }
            p.new = Some(NEW_PORT.to_owned());
        }
        l.port = 0;
    }
}

/// The containers of components the definition no longer has: removed.
fn push_removed(previous: &Option<ServiceRecord>, preview: &mut DeployPreview) {
    let kept: Vec<&str> = preview
        .components
        .iter()
        .map(|c| c.container.as_str())
        .collect();
    let removed: Vec<PlannedComponent> = removed_components(previous.as_ref(), &kept)
        .map(|old| PlannedComponent {
            container: old.container_name.clone(),
            component: old.name.clone(),
            change: ComponentChange::Removed,
            reason: "not in the definition".into(),
            beside: false,
            pull: false,
        })
        .collect();
    preview.components.extend(removed);
}

/// The components `previous` recorded whose containers are not among `kept`
/// (the containers the new definition has): the deploy removes them.
pub(super) fn removed_components<'a>(
    previous: Option<&'a ServiceRecord>,
    kept: &'a [&str],
) -> impl Iterator<Item = &'a ComponentRecord> + 'a {
    previous
        .into_iter()
        .flat_map(|p| &p.components)
        .filter(move |old| !kept.contains(&old.container_name.as_str()))
}

/// Why `action` for the container `spec` describes.
fn reason(action: &ContainerAction, spec: &ContainerSpec) -> String {
    match action {
        ContainerAction::Keep(_, ComponentChange::Started) => "active and not running".into(),
        ContainerAction::Keep(_, ComponentChange::Stopped) => "active = false".into(),
        ContainerAction::Keep(..) => "as defined".into(),
        ContainerAction::Beside(info) | ContainerAction::InPlace(info)
            if info.image != spec.image =>
        {
            format!("image {} → {}", info.image, spec.image)
        }
        ContainerAction::Beside(_) | ContainerAction::InPlace(_) => {
            "its container specification changed".into()
        }
        ContainerAction::Create => "new component".into(),
    }
}

/// The proxy routes the service has against those the deploy would leave.
fn compare_routes(owned: &[ProxyRoute], desired: &[ProxyRoute]) -> Vec<PlannedItem> {
    let name = |r: &ProxyRoute| format!("{} {}", r.listener, r.hostname);
    let backend = |r: &ProxyRoute| match r.backend.strip_suffix(":0") {
        Some(host) => format!("{host}:{NEW_PORT}"),
        None => r.backend.clone(),
    };
    let before: BTreeMap<String, &ProxyRoute> = owned.iter().map(|r| (name(r), r)).collect();
    let mut out = Vec::new();
    for want in desired {
        let k = name(want);
        let new = Some(format!("{} {}", want.mode.as_str(), backend(want)));
        out.push(match before.get(&k) {
            Some(have) => {
                let old = Some(format!("{} {}", have.mode.as_str(), backend(have)));
                let change = if *have == want {
                    PlanChange::Keep
                } else {
                    PlanChange::Change
                };
                item(&k, change, old, new)
            }
            None => item(&k, PlanChange::Add, None, new),
        });
    }
    for (k, have) in before {
        if !desired.iter().any(|r| name(r) == k) {
            let old = Some(format!("{} {}", have.mode.as_str(), backend(have)));
            out.push(item(&k, PlanChange::Remove, old, None));
        }
    }
    out
}

/// The DNS records the service has against those the deploy would leave.
fn compare_records(
    owned: &[mcp_model::view::DnsRecord],
    desired: &[mcp_model::view::DnsRecord],
) -> Vec<PlannedItem> {
    let name = |r: &mcp_model::view::DnsRecord| format!("{}.{} {}", r.name, r.zone, r.rtype);
    let same = |a: &mcp_model::view::DnsRecord, b: &mcp_model::view::DnsRecord| {
        name(a) == name(b) && a.value == b.value
    };
    let mut out = Vec::new();
    for want in desired {
        let new = Some(want.value.clone());
        out.push(if owned.iter().any(|have| same(have, want)) {
            item(&name(want), PlanChange::Keep, new.clone(), new)
        } else {
            item(&name(want), PlanChange::Add, None, new)
        });
    }
    for have in owned.iter().filter(|h| !desired.iter().any(|w| same(h, w))) {
        out.push(item(
            &name(have),
            PlanChange::Remove,
            Some(have.value.clone()),
            None,
        ));
    }
    out
}

fn item(name: &str, change: PlanChange, old: Option<String>, new: Option<String>) -> PlannedItem {
    PlannedItem {
        name: name.to_owned(),
        change,
        old,
        new,
    }
}

/// A lease's name in the preview: `component`, or `component.route`.
fn lease_name(component: &str, route: Option<&str>) -> String {
    match route {
        Some(r) => format!("{component}.{r}"),
        None => component.to_owned(),
    }
}

/// A planned port: its number, or [`NEW_PORT`] for 0.
fn port_text(port: u16) -> String {
    if port == 0 {
        NEW_PORT.to_owned()
    } else {
        port.to_string()
    }
}

/// `expires in N days` (or `expired`).
fn expiry(not_after: SystemTime, now: SystemTime) -> String {
    match not_after.duration_since(now) {
        Ok(left) => format!("expires in {} days", left.as_secs() / 86_400),
        Err(_) => "expired".into(),
    }
}
