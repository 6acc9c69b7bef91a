//! `node list|add|remove`, `agent status`, `route list|add|remove`, `dns`,
//! `edge list|status`.

use std::collections::BTreeSet;

use mcp_core::config::{self, NodeEntry};
use mcp_core::provision::{ProvisionRequest, ProvisionStep, short};
use mcp_core::registry::ProxyRouteRecord;
use mcp_core::spec::Mode;

use crate::args::{AgentCommand, EdgeCommand, NodeArg, NodeCommand, RouteCommand};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

pub(crate) async fn node(ctx: &Context, c: NodeCommand) -> Result<ExitStatus, mcp_core::Error> {
    match c {
        NodeCommand::List => node_list(ctx).await,
        NodeCommand::Add {
            name,
            address,
            ssh,
            arch,
            role,
        } => {
            let entry = NodeEntry {
                name: name.clone(),
                address: Some(address),
                addresses: Vec::new(),
                ssh,
                arch,
                role,
                ..Default::default()
            };
            config::add_node(ctx.path(), &entry)?;
            output::line(&format!("added node {name} to {}", ctx.path().display()));
            Ok(ExitStatus::Success)
        }
        NodeCommand::Provision {
            name,
            address,
            ssh,
            role,
            dry_run,
        } => {
            provision(
                ctx,
                ProvisionRequest {
                    node: name,
                    address,
                    ssh,
                    role,
                    dry_run,
                },
            )
            .await
        }
        NodeCommand::Remove { name } => {
            if config::remove_node(ctx.path(), &name)? {
                output::line(&format!(
                    "removed node {name} from {}",
                    ctx.path().display()
                ));
                Ok(ExitStatus::Success)
            } else {
                Err(config::ConfigError::UnknownNode {
                    node: name,
                    path: ctx.path().to_owned(),
                    known: ctx
                        .config()
                        .nodes
                        .iter()
                        .map(|n| n.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .into())
            }
        }
    }
}

/// `mcp node list`: every node asked at once. A node without an address (being
/// provisioned) is `unknown`; one that does not answer is `unreachable`. The role
/// is the agent's own when it answers (the configuration's otherwise, with a
/// note when they disagree).
async fn node_list(ctx: &Context) -> Result<ExitStatus, mcp_core::Error> {
    let all = ctx.nodes(None)?;
    let addressed: Vec<String> = all
        .iter()
        .filter(|n| {
            ctx.config()
                .node(n, ctx.path())
                .is_ok_and(|e| !e.all_addresses().is_empty())
        })
        .cloned()
        .collect();
    let mut results: std::collections::BTreeMap<String, _> = ctx
        .on_nodes(&addressed, |_, mut c| async move {
            let info = c.node_status().await?;
            Ok((c.address().to_owned(), info))
        })
        .await
        .into_iter()
        .collect();
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for name in all {
        let entry = ctx.config().node(&name, ctx.path())?;
        let configured = entry.role.unwrap_or_default().as_str().to_owned();
        match results.remove(&name) {
            Some(Ok((address, info))) => {
                let role = if info.role.is_empty() || info.role == configured {
                    configured.clone()
                } else {
                    format!("{} (configured: {configured})", info.role)
                };
                json.push(serde_json::json!({
                    "name": name, "role": if info.role.is_empty() { &configured } else { &info.role },
                    "configured_role": configured, "address": address, "version": info.version,
                    "status": "reachable", "containers": info.containers, "runtime": info.runtime,
                }));
                rows.push(vec![
                    name,
                    role,
                    address,
                    info.version,
                    output::state("running").replace("running", "reachable"),
                    info.containers.to_string(),
                ]);
            }
            Some(Err(e)) => {
                let address = entry.all_addresses().join(",");
                json.push(serde_json::json!({
                    "name": name, "role": configured, "address": address, "status": "unreachable", "error": e.to_string(),
                }));
                rows.push(vec![
                    name,
                    configured,
                    address,
                    "-".into(),
                    output::state("unreachable"),
                    "-".into(),
                ]);
            }
            None => {
                json.push(serde_json::json!({
                    "name": name, "role": configured, "address": null, "status": "unknown",
                }));
                rows.push(vec![
                    name,
                    configured,
                    "-".into(),
                    "-".into(),
                    "unknown".into(),
                    "-".into(),
                ]);
            }
        }
    }
    if ctx.json {
        output::json(&json);
    } else {
        output::table(
            &["NAME", "ROLE", "ADDRESS", "VERSION", "STATUS", "CONTAINERS"],
            &rows,
        );
    }
    Ok(ExitStatus::Success)
}

/// Prints a provisioning or upgrade step as it completes.
fn show_step(json: bool, node: &str) -> impl FnMut(&ProvisionStep) + Send + '_ {
    move |s| {
        if !json {
            output::line(&format!(
                "{node}: {:<11} {:<12} {}",
                s.step,
                s.state.as_str(),
                s.detail
            ));
        }
    }
}

/// `mcp node provision`.
async fn provision(ctx: &Context, req: ProvisionRequest) -> Result<ExitStatus, mcp_core::Error> {
    let mut show = show_step(ctx.json, &req.node);
    let steps = ctx.provision(&req, &mut show).await?;
    if ctx.json {
        output::json(
            &serde_json::json!({"node": req.node, "dry_run": req.dry_run, "steps": steps}),
        );
    }
    Ok(ExitStatus::Success)
}

/// `mcp agent upgrade [NODE]`: node by node; a failed node does not stop the
/// others.
async fn upgrade(ctx: &Context, node: Option<&str>) -> Result<ExitStatus, mcp_core::Error> {
    let nodes = ctx.nodes(node)?;
    let mut json = Vec::new();
    let mut failed = false;
    for n in &nodes {
        let mut show = show_step(ctx.json, n);
        match ctx.upgrade_agent(n, &mut show).await {
            Ok(steps) => json.push(serde_json::json!({"node": n, "steps": steps})),
            Err(e) => {
                failed = true;
                output::error(&format!("{n}: upgrade failed: {e}"));
                json.push(serde_json::json!({"node": n, "error": e.to_string()}));
            }
        }
    }
    if ctx.json {
        output::json(&json);
    }
    Ok(if failed {
        ExitStatus::Problems
    } else {
        ExitStatus::Success
    })
}

pub(crate) async fn agent(ctx: &Context, c: AgentCommand) -> Result<ExitStatus, mcp_core::Error> {
    if let AgentCommand::Upgrade { node } = &c {
        return upgrade(ctx, node.as_deref()).await;
    }
    let nodes = ctx.nodes(None)?;
    let results = ctx
        .on_nodes(&nodes, |_, mut c| async move { Ok(c.node_status().await?) })
        .await;
    let mut versions = BTreeSet::new();
    let mut builds = BTreeSet::new();
    let mut rows = Vec::new();
    let mut json = Vec::new();
    let mut failed = false;
    for (node, r) in results {
        match r {
            Ok(info) => {
                versions.insert(info.version.clone());
                builds.insert(info.build.clone());
                let up = std::time::SystemTime::now()
                    .duration_since(info.started_at)
                    .map_or_else(|_| "-".into(), output::uptime);
                json.push(serde_json::json!({"node": node, "version": info.version, "build": info.build, "uptime": up, "runtime": info.runtime}));
                rows.push(vec![
                    node,
                    info.version,
                    short(&info.build).to_owned(),
                    up,
                    info.runtime,
                ]);
            }
            Err(e) => {
                failed = true;
                json.push(serde_json::json!({"node": node, "error": e.to_string()}));
                rows.push(vec![
                    node,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("unreachable: {e}"),
                ]);
            }
        }
    }
    let skew = versions.len() > 1;
    if ctx.json {
        output::json(
            &serde_json::json!({"agents": json, "skew": skew, "builds_differ": builds.len() > 1}),
        );
    } else {
        output::table(&["NODE", "VERSION", "BUILD", "UPTIME", "RUNTIME"], &rows);
        match (versions.len(), builds.len()) {
            (0, _) => {}
            (1, 1) => output::line(&format!(
                "all reachable agents run {} (build {})",
                versions.iter().next().map_or("", String::as_str),
                builds.iter().next().map_or("", |b| short(b))
            )),
            (1, _) => output::line(&format!(
                "no version skew, but {} different builds of {}; `mcp agent upgrade` makes them one",
                builds.len(),
                versions.iter().next().map_or("", String::as_str)
            )),
            _ => output::line(&format!(
                "version skew: {}; upgrade all nodes together (`mcp agent upgrade`)",
                versions.into_iter().collect::<Vec<_>>().join(", ")
            )),
        }
    }
    Ok(if failed {
        ExitStatus::Problems
    } else {
        ExitStatus::Success
    })
}

pub(crate) async fn route(ctx: &Context, c: RouteCommand) -> Result<ExitStatus, mcp_core::Error> {
    match c {
        RouteCommand::List { node } => {
            let mut client = ctx.client(&node).await?;
            let table = client.proxy_routes().await?;
            if ctx.json {
                output::json(&serde_json::json!({
                    "proxy": {
                        "version": table.status.version,
                        "uptime_seconds": table.status.uptime.as_secs(),
                        "total_connections": table.status.total_connections,
                        "listeners": table.status.listeners,
                    },
                    "routes": table.routes.iter().map(|r| serde_json::json!({
                        "listener": r.listener, "hostname": r.hostname, "backend": r.backend,
                        "mode": r.mode.as_str(), "tls_cert": r.tls_cert, "tls_key": r.tls_key,
                        "backend_tls": r.backend_tls, "proxy_protocol": r.proxy_protocol,
                        "service": r.service,
                    })).collect::<Vec<_>>(),
                }));
                return Ok(ExitStatus::Success);
            }
            let s = &table.status;
            output::line(&format!(
                "mc-proxy {}  up {}  connections={}",
                s.version,
                output::uptime(s.uptime),
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
                let here: Vec<&ProxyRouteRecord> =
                    table.routes.iter().filter(|r| r.listener == l).collect();
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
            Ok(ExitStatus::Success)
        }
        RouteCommand::Add {
            node,
            listener,
            hostname,
            backend,
            mode,
            tls_cert,
            tls_key,
            backend_tls,
        } => {
            let mode = match mode.as_str() {
                "l4" => Mode::L4,
                "l7" => Mode::L7,
                other => {
                    return Err(config::ConfigError::Invalid {
                        path: ctx.path().to_owned(),
                        message: format!("--mode must be l4 or l7, not {other:?}"),
                    }
                    .into());
                }
            };
            let mut client = ctx.client(&node).await?;
            client
                .add_proxy_route(&ProxyRouteRecord {
                    listener,
                    hostname,
                    backend,
                    mode,
                    tls_cert,
                    tls_key,
                    backend_tls,
                    proxy_protocol: false,
                    service: None,
                })
                .await?;
            output::line("route added");
            Ok(ExitStatus::Success)
        }
        RouteCommand::Remove {
            node,
            listener,
            hostname,
        } => {
            let mut client = ctx.client(&node).await?;
            client.remove_proxy_route(&listener, &hostname).await?;
            output::line("route removed");
            Ok(ExitStatus::Success)
        }
    }
}

pub(crate) async fn dns(ctx: &Context, a: &NodeArg) -> Result<ExitStatus, mcp_core::Error> {
    let nodes = ctx.nodes(a.node.as_deref())?;
    let results = ctx
        .on_nodes(&nodes, |_, mut c| async move { Ok(c.dns_records().await?) })
        .await;
    let (ok, failed) = super::partition(results)?;
    for (_, records) in ok {
        let zones: BTreeSet<&str> = records.iter().map(|r| r.zone.as_str()).collect();
        for z in zones {
            output::line(&format!("ZONE: {z}"));
            let rows: Vec<Vec<String>> = records
                .iter()
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
    let status = if failed.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    };
    Ok(status)
}

/// `mcp edge list` and `mcp edge status` (which also tries every backend).
pub(crate) async fn edge(ctx: &Context, c: EdgeCommand) -> Result<ExitStatus, mcp_core::Error> {
    let (a, probe) = match &c {
        EdgeCommand::List(a) => (a, false),
        EdgeCommand::Status(a) => (a, true),
    };
    let results = ctx.edge_routes(a.node.as_deref(), probe).await?;
    if results.is_empty() {
        output::error("no edge nodes: give a node `role = \"edge\"` in the configuration");
        return Ok(ExitStatus::Problems);
    }
    let (ok, failed) = super::partition(results)?;
    let now = std::time::SystemTime::now();
    let mut rows = Vec::new();
    let mut json = Vec::new();
    let mut unreachable = false;
    for (edge, routes) in ok {
        for s in routes {
            let r = &s.route;
            let expires = s.cert_not_after.map_or_else(
                || "-".to_owned(),
                |t| {
                    let days = t.duration_since(now).map_or(0, |d| d.as_secs() / 86_400);
                    format!("{} ({days}d)", output::rfc3339(t))
                },
            );
            let backend_state = match (s.backend_reachable, &s.backend_error) {
                (Some(true), _) => output::state("running").replace("running", "reachable"),
                (Some(false), e) => {
                    unreachable = true;
                    output::state("unreachable")
                        + &e.as_ref().map(|e| format!(": {e}")).unwrap_or_default()
                }
                (None, _) => "-".into(),
            };
            json.push(serde_json::json!({
                "edge": edge, "hostname": r.hostname, "service": r.service, "node": r.node,
                "backend": r.backend, "backend_hostname": r.backend_hostname,
                "listener": r.listener, "cert_serial": s.cert_serial,
                "cert_expires": s.cert_not_after.map(output::rfc3339),
                "backend_reachable": s.backend_reachable, "backend_error": s.backend_error,
            }));
            let mut row = vec![
                edge.clone(),
                r.hostname.clone(),
                r.service.clone(),
                r.node.clone(),
                r.backend.clone(),
                expires,
            ];
            if probe {
                row.push(backend_state);
            }
            rows.push(row);
        }
    }
    if ctx.json {
        output::json(&json);
    } else {
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
        output::table(&headers, &rows);
    }
    Ok(if failed.is_empty() && !unreachable {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    })
}
