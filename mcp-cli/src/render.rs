//! How each result reads on a terminal: the lines and table rows of `mcp_core`'s
//! view types. The same values go out as JSON through serde (`--json`), so a
//! field shown here is a field of the view.

use std::time::SystemTime;

use mcp_core::container::ContainerState;
use mcp_core::fleet::builder::{BuildItem, BuildProgress, BuiltImage, Stage};
use mcp_core::fleet::public::{Deployed, Undeployed};
use mcp_core::fleet::releases::RolledBack;
use mcp_core::fleet::results::OnNode;
use mcp_core::fleet::survey::{AgentSurvey, NodeListing, Reachability, Skew};
use mcp_core::spec::{ResolvedService, Validation};
use mcp_core::time::{rfc3339, uptime};
use mcp_core::view::{
    ComponentChange, ComponentUsage, DeployPreview, DnsRecord, EdgeRouteStatus, Event, LogLine,
    PlanChange, PlannedItem, ProxyTable, Report, Revision, RevisionResult, ServiceStatus,
    SnapshotInfo, StatusReport, SyncItem,
};

use crate::output;

/// Rows of a table.
pub(crate) type Rows = Vec<Vec<String>>;

/// How long ago `t` was, as the platform prints uptimes; `-` when unknown.
fn since(t: Option<SystemTime>) -> String {
    t.and_then(|t| SystemTime::now().duration_since(t).ok())
        .map_or_else(|| "-".to_owned(), uptime)
}

/// `state`, coloured; `reachable` is shown as healthy as `running`.
fn coloured(state: &str) -> String {
    match state {
        "reachable" => output::state("running").replace("running", "reachable"),
        other => output::state(other),
    }
}

/// An operation's report: what it did to each container and the host ports.
pub(crate) fn report(verb: &str, r: &Report) {
    let revision = r
        .revision
        .map_or_else(String::new, |n| format!(" (revision {n})"));
    output::line(&format!("{verb} {} on {}{revision}", r.service, r.node));
    for c in &r.components {
        output::line(&format!("  {}: {}", c.container, c.change));
    }
    let word = if verb == "undeployed" {
        "released host port"
    } else {
        "host port"
    };
    for p in &r.ports {
        let route = p
            .route
            .as_deref()
            .map_or_else(String::new, |r| format!(" route {r}"));
        output::line(&format!("  {}{route}: {word} {}", p.component, p.port));
    }
    for w in &r.warnings {
        output::error(&format!("warning: {w}"));
    }
}

/// A deploy: its report, the edge routes serving it, and unrouted hostnames.
pub(crate) fn deployed(d: &Deployed) {
    if let Some(p) = &d.placement {
        let written = if p.written {
            " (written into its definition)"
        } else {
            ""
        };
        output::line(&format!("{}: {p}{written}", p.service));
    }
    report("deployed", &d.report);
    for s in &d.edges {
        output::line(&format!(
            "  edge {}: {} → {} (certificate {} until {})",
            s.edge,
            s.route.hostname,
            s.route.backend,
            s.cert_serial.as_deref().unwrap_or("-"),
            s.cert_not_after.map_or_else(|| "-".into(), rfc3339)
        ));
    }
    for h in &d.unrouted {
        output::error(&format!(
            "warning: public hostname {h} is not routed: the fleet has no edge node"
        ));
    }
}

/// A rollback: the deploy of the revision brought back, and the definition file.
pub(crate) fn rolled_back(r: &RolledBack) {
    let to = &r.to;
    output::line(&format!(
        "rolled back {} to revision {} ({})",
        to.service, to.number, to.version
    ));
    deployed(&r.deployed);
    if let Some(path) = &r.definition_file {
        let how = if r.layout_kept {
            "its comments and layout kept"
        } else {
            "rewritten in canonical form"
        };
        output::line(&format!(
            "  {} now says revision {} ({how})",
            path.display(),
            to.number
        ));
    }
}

/// `mcp history`: one row per revision, `*` on the one that runs.
pub(crate) fn history_table(revisions: &[Revision]) {
    let rows: Rows = revisions
        .iter()
        .map(|r| {
            let mark = if r.current { "*" } else { " " };
            vec![
                format!("{mark}{}", r.number),
                rfc3339(r.at),
                r.actor.clone(),
                r.version.clone(),
                revision_result(r),
                if r.change.is_empty() {
                    "-".into()
                } else {
                    r.change.clone()
                },
            ]
        })
        .collect();
    output::table(
        &["REV", "WHEN", "WHO", "VERSION", "RESULT", "CHANGE"],
        &rows,
    );
}

/// What a deploy would do (`mcp diff`, `deploy --dry-run`): the definition's
/// changed fields, then each container, lease, route, certificate and record
/// marked `+` (added), `-` (removed), `~` (changed) or `=` (kept).
pub(crate) fn preview(p: &DeployPreview) {
    let state = if p.created {
        "not deployed there yet".to_owned()
    } else if !p.definition.is_empty() {
        format!("{} definition field(s) differ", p.definition.changes.len())
    } else if p.changed() {
        "the definition is the same; what runs would change".to_owned()
    } else {
        "no changes".to_owned()
    };
    output::line(&format!("{} on {}: {state}", p.service, p.node));
    for c in &p.definition.changes {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        output::line(&format!(
            "  {}  {} → {}",
            c.field,
            show(&c.old),
            show(&c.new)
        ));
    }
    output::line("containers");
    for c in &p.components {
        let (mark, how) = match c.change {
            ComponentChange::Created => ("+", "created".to_owned()),
            ComponentChange::Removed => ("-", "removed".to_owned()),
            ComponentChange::Unchanged => ("=", "kept".to_owned()),
            ComponentChange::Replaced if c.beside => {
                ("~", "replaced beside the running one".to_owned())
            }
            ComponentChange::Replaced => ("~", "replaced in place".to_owned()),
            other => ("~", other.to_string()),
        };
        let pull = if c.pull { ", image pulled" } else { "" };
        output::line(&format!(
            "  {mark} {}  {how} ({}{pull})",
            c.container, c.reason
        ));
    }
    for (title, items) in [
        ("ports", &p.ports),
        ("routes", &p.routes),
        ("certificates", &p.certificates),
        ("dns", &p.dns),
    ] {
        if !items.is_empty() {
            output::line(title);
            items.iter().for_each(planned_item);
        }
    }
    for w in &p.warnings {
        output::error(&format!("warning: {w}"));
    }
}

/// One lease, route, certificate or record of a preview.
fn planned_item(i: &PlannedItem) {
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let (mark, text) = match i.change {
        PlanChange::Add => ("+", value(&i.new)),
        PlanChange::Remove => ("-", value(&i.old)),
        PlanChange::Change => ("~", format!("{} → {}", value(&i.old), value(&i.new))),
        PlanChange::Keep => ("=", value(&i.new)),
    };
    output::line(&format!("  {mark} {}  {text}", i.name));
}

/// How a revision ended, in words.
fn revision_result(r: &Revision) -> String {
    match (r.result, r.step, r.rollback_of) {
        (RevisionResult::Failed, Some(step), _) => format!("failed at {step}"),
        (RevisionResult::RolledBack, _, Some(to)) => format!("rolled back to {to}"),
        (result, _, _) => result.to_string(),
    }
}

/// An undeploy: its report, and the edge routes removed or left.
pub(crate) fn undeployed(u: &Undeployed) {
    report("undeployed", &u.report);
    for r in &u.edges_removed {
        output::line(&format!("  edge {}: removed {}", r.edge, r.hostname));
    }
    let service = &u.report.service;
    for f in &u.edge_failures {
        output::error(&format!(
            "edge node {}: its routes for {service} stay until `mcp undeploy {service}` runs again: {}",
            f.node, f.error
        ));
    }
}

/// `mcp ps`: one row per component.
pub(crate) fn ps_rows(services: &[ServiceStatus]) -> Rows {
    services
        .iter()
        .flat_map(|s| {
            s.components.iter().map(move |c| {
                vec![
                    s.service.clone(),
                    c.name.clone(),
                    s.node.clone(),
                    output::state(c.shown_state()),
                    c.version.clone(),
                    since(c.started_at),
                ]
            })
        })
        .collect()
}

/// `mcp top`: one row per component; `-` where the runtime reports nothing.
pub(crate) fn top_rows(usage: &[ComponentUsage]) -> Rows {
    let dash = || "-".to_owned();
    usage
        .iter()
        .map(|u| {
            vec![
                u.service.clone(),
                u.component.clone(),
                u.node.clone(),
                output::state(u.state.as_str()),
                u.cpu_percent.map_or_else(dash, |p| format!("{p:.1}")),
                u.memory_bytes.map_or_else(dash, output::bytes),
                u.pids.map_or_else(dash, |p| p.to_string()),
                u.restart_count.to_string(),
                since(u.started_at),
            ]
        })
        .collect()
}

/// `mcp status` without a service: one row per service.
pub(crate) fn status_rows(services: &[ServiceStatus]) -> Rows {
    services
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                s.node.clone(),
                (if s.active { "active" } else { "stopped" }).into(),
                format!("{}/{}", s.running(), s.components.len()),
                (if s.is_flapping() { "flapping" } else { "" }).into(),
            ]
        })
        .collect()
}

/// `mcp status SERVICE`: everything about it.
pub(crate) fn status(r: &StatusReport) {
    let s = &r.status;
    let active = if s.active { "active" } else { "stopped" };
    output::line(&format!("{} on {}: {active}", s.service, s.node));
    for c in &s.components {
        output::line(&format!("  {} ({})", c.name, c.container));
        output::line(&format!(
            "    state     {} (should be {})",
            output::state(c.state.as_str()),
            c.desired
        ));
        output::line(&format!("    version   {}  {}", c.version, c.image));
        let up = since(c.started_at.filter(|_| c.state == ContainerState::Running));
        output::line(&format!("    uptime    {up}  restarts {}", c.restart_count));
        for p in &c.ports {
            let route = p.route.as_deref().unwrap_or("(default route)");
            output::line(&format!("    port      {route} -> {}", p.port));
        }
        if let Some(t) = c.flapping_since {
            output::line(&format!(
                "    FLAPPING  since {}: held down; `mcp start {}` after fixing it",
                rfc3339(t),
                s.service
            ));
        }
    }
    status_integrations(s);
    if !r.events.is_empty() {
        output::line("  recent events");
        for e in &r.events {
            output::line(&format!(
                "    {}",
                padded(&event_cells(e)[2..], &FOLLOW_WIDTHS[2..])
            ));
        }
    }
}

/// A service's routes, certificates and skipped steps.
fn status_integrations(s: &ServiceStatus) {
    for r in &s.routes {
        let re = if r.backend_tls { " (re-encrypt)" } else { "" };
        output::line(&format!(
            "  route     {} {} {} → {}{re}",
            r.mode, r.listener, r.hostname, r.backend
        ));
    }
    for c in &s.certificates {
        let left = c.not_after.duration_since(SystemTime::now()).map_or_else(
            |_| "EXPIRED".to_owned(),
            |d| format!("{}d left", d.as_secs() / 86_400),
        );
        output::line(&format!(
            "  cert      {} serial {} expires {} ({left}, {})",
            c.hostname,
            c.serial,
            rfc3339(c.not_after),
            c.issuer
        ));
    }
    for why in &s.skipped {
        output::line(&format!("  skipped   {why}"));
    }
}

/// One event: when, what, who, detail, and the error.
pub(crate) const EVENT_HEADERS: [&str; 6] =
    ["NODE", "SERVICE", "TIME", "ACTION", "ACTOR", "DETAIL"];

/// `mcp events`: one row per event (a failed one's error after its detail).
pub(crate) fn event_rows(events: &[Event]) -> Rows {
    events.iter().map(event_cells).collect()
}

fn event_cells(e: &Event) -> Vec<String> {
    let mut detail = e.detail.clone();
    if let Some(err) = &e.error {
        if !detail.is_empty() {
            detail.push_str("  ");
        }
        detail.push_str(&format!("ERROR: {err}"));
    }
    vec![
        e.node.clone(),
        e.service.clone().unwrap_or_else(|| "-".into()),
        rfc3339(e.at),
        e.action.clone(),
        e.actor.clone(),
        detail,
    ]
}

/// The widths `mcp events --follow` pads to, since rows come one at a time: a
/// node and a service name up to 16, an RFC 3339 time, an action and an actor.
const FOLLOW_WIDTHS: [usize; 5] = [16, 16, 20, 18, 12];

fn padded(cells: &[String], widths: &[usize]) -> String {
    let mut out = String::new();
    for (i, c) in cells.iter().enumerate() {
        match widths.get(i) {
            Some(w) => out.push_str(&format!("{c:<w$}  ")),
            None => out.push_str(c),
        }
    }
    out.trim_end().to_owned()
}

/// `mcp events --follow`: the header line, aligned as its rows are.
pub(crate) fn event_header() -> String {
    padded(&EVENT_HEADERS.map(str::to_owned), &FOLLOW_WIDTHS)
}

/// `mcp events --follow`: one event, aligned under [`event_header`].
pub(crate) fn event_line(e: &Event) -> String {
    padded(&event_cells(e), &FOLLOW_WIDTHS)
}

/// `mcp node list`: one row per node.
pub(crate) fn node_rows(nodes: &[NodeListing]) -> Rows {
    nodes
        .iter()
        .map(|n| {
            let role = if n.role == n.configured_role {
                n.role.to_string()
            } else {
                format!("{} (configured: {})", n.role, n.configured_role)
            };
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            vec![
                n.name.clone(),
                role,
                dash(&n.address),
                dash(&n.version),
                match n.status {
                    Reachability::Unknown => n.status.to_string(),
                    other => coloured(other.as_str()),
                },
                n.containers.map_or_else(|| "-".into(), |c| c.to_string()),
            ]
        })
        .collect()
}

/// `mcp agent status`: one row per agent.
pub(crate) fn agent_rows(survey: &AgentSurvey) -> Rows {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    survey
        .agents
        .iter()
        .map(|a| {
            vec![
                a.node.clone(),
                dash(&a.version),
                a.build
                    .as_deref()
                    .map_or("-", mcp_core::fleet::provision::short)
                    .to_owned(),
                a.uptime_seconds
                    .map_or_else(|| "-".into(), |s| uptime(std::time::Duration::from_secs(s))),
                match &a.error {
                    Some(e) => format!("unreachable: {e}"),
                    None => dash(&a.runtime),
                },
            ]
        })
        .collect()
}

/// What the agents' versions and builds say, in one line.
pub(crate) fn skew_line(skew: &Skew) -> Option<String> {
    match skew {
        Skew::Unknown => None,
        Skew::None { version, build } => Some(format!(
            "all reachable agents run {version} (build {build})"
        )),
        Skew::Builds { version, builds } => Some(format!(
            "no version skew, but {builds} different builds of {version}; `mcp agent upgrade` makes them one"
        )),
        Skew::Versions { versions } => Some(format!(
            "version skew: {}; upgrade all nodes together (`mcp agent upgrade`)",
            versions.join(", ")
        )),
    }
}

/// `mcp route list`: the proxy's status, then each listener with its routes.
pub(crate) fn proxy_table(table: &ProxyTable) {
    let s = &table.status;
    output::line(&format!(
        "mc-proxy {}  up {}  connections={}",
        s.version,
        uptime(s.uptime),
        s.total_connections
    ));
    let mut listeners: Vec<(String, u64)> = s
        .listeners
        .iter()
        .map(|l| (l.address.clone(), l.active_connections))
        .collect();
    for r in &table.routes {
        if !listeners.iter().any(|(a, _)| *a == r.listener) {
            listeners.push((r.listener.clone(), 0));
        }
    }
    for (l, active) in listeners {
        let here: Vec<_> = table.routes.iter().filter(|r| r.listener == l).collect();
        output::line(&format!("{l} routes={} active={active}", here.len()));
        for r in here {
            let re = if r.backend_tls { " (re-encrypt)" } else { "" };
            let owner = r
                .service
                .as_ref()
                .map(|s| format!("  [{s}]"))
                .unwrap_or_default();
            output::line(&format!(
                "  {} {} → {}{re}{owner}",
                r.mode, r.hostname, r.backend
            ));
        }
    }
}

/// `mcp dns`: the records, one table per zone.
pub(crate) fn dns_tables(records: &[OnNode<DnsRecord>]) {
    let mut zones: Vec<&str> = records.iter().map(|r| r.value.zone.as_str()).collect();
    zones.dedup();
    zones.sort_unstable();
    zones.dedup();
    for z in zones {
        output::line(&format!("ZONE: {z}"));
        let rows: Rows = records
            .iter()
            .map(|r| &r.value)
            .filter(|r| r.zone == z)
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.rtype.clone(),
                    r.value.clone(),
                    r.ttl.to_string(),
                ]
            })
            .collect();
        output::table(&["NAME", "TYPE", "VALUE", "TTL"], &rows);
    }
}

/// `mcp edge list|status`: one row per edge route; with `probe`, its backend's
/// state too.
/// The edge routes as a table (with each backend's state when `probe`d).
pub(crate) fn edge_table(routes: &[EdgeRouteStatus], probe: bool) {
    let mut headers = vec![
        "EDGE",
        "HOSTNAME",
        "SERVICE",
        "NODE",
        "BACKEND",
        "CERT EXPIRES",
    ];
    if probe {
        headers.push("BACKEND STATE");
    }
    output::table(&headers, &edge_rows(routes, probe));
}

fn edge_rows(routes: &[EdgeRouteStatus], probe: bool) -> Rows {
    let now = SystemTime::now();
    routes
        .iter()
        .map(|s| {
            let r = &s.route;
            let expires = s.cert_not_after.map_or_else(
                || "-".to_owned(),
                |t| {
                    let days = t.duration_since(now).map_or(0, |d| d.as_secs() / 86_400);
                    format!("{} ({days}d)", rfc3339(t))
                },
            );
            let mut row = vec![
                s.edge.clone(),
                r.hostname.clone(),
                r.service.clone(),
                r.node.clone(),
                r.backend.clone(),
                expires,
            ];
            if probe {
                row.push(match (s.backend_reachable, &s.backend_error) {
                    (Some(true), _) => coloured("reachable"),
                    (Some(false), e) => {
                        coloured("unreachable")
                            + &e.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
                    }
                    (None, _) => "-".into(),
                });
            }
            row
        })
        .collect()
}

/// `mcp sync`: one row per plan item.
pub(crate) fn sync_rows(items: &[OnNode<SyncItem>]) -> Rows {
    items
        .iter()
        .map(|i| {
            let v = &i.value;
            vec![
                i.node.clone(),
                v.service.clone(),
                v.action.to_string(),
                v.reason.clone(),
                v.error
                    .as_ref()
                    .map(|e| format!("FAILED: {e}"))
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

/// `mcp snapshot list`: one row per snapshot.
pub(crate) fn snapshot_table(snapshots: &[SnapshotInfo]) {
    let rows: Rows = snapshots
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                output::bytes(s.size_bytes),
                s.sha256.chars().take(16).collect(),
            ]
        })
        .collect();
    output::table(&["SNAPSHOT", "SIZE", "SHA256"], &rows);
}

/// A snapshot just taken.
pub(crate) fn snapshot_line(s: &SnapshotInfo) -> String {
    format!(
        "{} on {}: {} ({}, sha256 {})",
        s.service,
        s.node,
        s.name,
        output::bytes(s.size_bytes),
        s.sha256
    )
}

/// A resolved definition (`mcp show`): every derived value, per component.
pub(crate) fn resolved(s: &ResolvedService) {
    output::line(&format!(
        "service  {} (node {}, tier {}, {})",
        s.name,
        s.node.as_deref().unwrap_or("not placed yet"),
        s.tier.as_str(),
        if s.active { "active" } else { "inactive" }
    ));
    output::line(&format!("source   <workspace>/{}", s.source_path));
    output::line(&format!("data     {}", s.data_dir.display()));
    output::line(&format!("hash     {}", s.definition_hash));
    for c in &s.components {
        output::line(&format!("component {}", c.name));
        output::line(&format!("  container  {}", c.container_name));
        output::line(&format!("  image      {} (version {})", c.image, c.version));
        output::line(&format!(
            "  runs as    user {}, network {}, restart {}",
            c.user, c.network, c.restart
        ));
        for v in &c.volumes {
            output::line(&format!("  volume     {v}"));
        }
        if !c.cmd.is_empty() {
            output::line(&format!("  cmd        {:?}", c.cmd));
        }
        for e in &c.env {
            output::line(&format!("  env        {e}"));
        }
        for p in &c.ports {
            output::line(&format!("  publish    {p}"));
        }
        for r in &c.routes {
            let vars: Vec<String> = r.port_env.iter().map(|v| format!("${v}")).collect();
            output::line(&format!(
                "  route      :{} {} {}{} -> host port in {}",
                r.listener_port,
                r.mode,
                r.hostname,
                if r.public { " (public)" } else { "" },
                vars.join(", ")
            ));
        }
    }
}

/// `mcp validate`: a count of what is valid, or every problem.
pub(crate) fn validation(v: &Validation) {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    definition_warnings(&v.warnings);
    if v.ok {
        output::line(&format!(
            "ok: {} service definition{} valid ({} components, {} routes)",
            v.definitions,
            plural(v.definitions),
            v.components,
            v.routes
        ));
        return;
    }
    for p in &v.problems {
        output::line(&p.to_string());
    }
    let n = v.problems.len();
    output::error(&format!("{n} problem{} found", plural(n)));
}

/// Warnings about definition files (deprecated keys), on stderr.
pub(crate) fn definition_warnings(warnings: &[mcp_core::spec::Problem]) {
    for w in warnings {
        output::error(&format!("warning: {w}"));
    }
}

/// `mcp build`'s progress: a line when an image's build or push starts, then
/// Podman's output under its key; nothing with `--json`.
pub(crate) fn build_progress(json: bool) -> BuildProgress {
    let mut last = None;
    Box::new(move |item: &BuildItem, stage, line: &str| {
        if json {
            return;
        }
        if last != Some((item.key.clone(), stage)) {
            output::line(&match stage {
                Stage::Build => {
                    format!("building {} from {}", item.image, item.dockerfile.display())
                }
                Stage::Push => format!("pushing {}", item.image),
            });
            last = Some((item.key.clone(), stage));
        }
        output::line(&format!("  {} | {line}", item.key));
    })
}

/// The images `mcp build` pushed.
pub(crate) fn built(built: &[BuiltImage]) {
    for b in built {
        let size = output::bytes(b.summary.bytes);
        let (key, image, digest) = (&b.item.key, &b.item.image, &b.summary.digest);
        output::line(&format!("{key}: ok ({image}, {size} pushed as {digest})"));
    }
}

/// Buffered log lines: prefixed with their container when there are several.
pub(crate) fn log_lines(lines: Vec<LogLine>, timestamps: bool) {
    let several = lines.iter().any(|l| l.container != lines[0].container);
    for l in &lines {
        output::line(&log_line(l, several, timestamps));
    }
}

/// One line of output: `[container | ][time ]line`.
pub(crate) fn log_line(l: &LogLine, container: bool, timestamps: bool) -> String {
    let mut out = String::new();
    if container {
        out.push_str(&l.container);
        out.push_str(" | ");
    }
    if let Some(t) = l.time.filter(|_| timestamps) {
        out.push_str(&mcp_core::time::rfc3339_nanos(t));
        out.push(' ');
    }
    out.push_str(&l.line);
    out
}
