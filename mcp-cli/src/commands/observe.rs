//! `ps`, `status`, `logs`, `events`.

use std::time::SystemTime;

use mcp_core::engine::ServiceStatus;
use mcp_core::registry::Event;
use tokio_stream::StreamExt;

use crate::args::{EventsArgs, LogsArgs, NodeArg, StatusArgs};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

fn status_json(node: &str, s: &ServiceStatus) -> serde_json::Value {
    serde_json::json!({
        "service": s.name,
        "node": node,
        "active": s.active,
        "components": s.components.iter().map(|c| serde_json::json!({
            "name": c.name,
            "container": c.container,
            "desired": c.desired.as_str(),
            "state": c.state,
            "image": c.image,
            "version": c.version,
            "ports": c.ports.iter().map(|(r, p)| serde_json::json!({"route": r, "port": p})).collect::<Vec<_>>(),
            "restart_count": c.restart_count,
            "started_at": c.started_at.map(output::rfc3339),
            "flapping_since": c.flapping_since.map(output::rfc3339),
        })).collect::<Vec<_>>(),
        "routes": s.routes.iter().map(|r| serde_json::json!({
            "listener": r.listener, "hostname": r.hostname, "backend": r.backend,
            "mode": r.mode.as_str(), "tls_cert": r.tls_cert, "backend_tls": r.backend_tls,
        })).collect::<Vec<_>>(),
        "certificates": s.certificates.iter().map(|c| serde_json::json!({
            "hostname": c.hostname, "serial": c.serial, "not_after": output::rfc3339(c.not_after),
            "issuer": c.issuer, "cert_path": c.cert_path,
        })).collect::<Vec<_>>(),
        "skipped": s.skipped,
    })
}

fn event_json(node: &str, e: &Event) -> serde_json::Value {
    serde_json::json!({
        "id": e.id, "node": node, "at": output::rfc3339(e.at), "actor": e.actor,
        "action": e.action, "service": e.service, "detail": e.detail, "error": e.error,
    })
}

fn uptime_of(started: Option<SystemTime>) -> String {
    started
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map_or_else(|| "-".to_owned(), output::uptime)
}

/// Every service of the given nodes; unreachable nodes are reported, not fatal.
async fn all_statuses(
    ctx: &Context,
    only: Option<&str>,
) -> Result<(Vec<(String, ServiceStatus)>, bool), mcp_core::Error> {
    let nodes = ctx.nodes(only)?;
    let results = ctx
        .on_nodes(&nodes, |_, mut c| async move { Ok(c.services().await?) })
        .await;
    let (ok, failed) = super::partition(results)?;
    let all = ok
        .into_iter()
        .flat_map(|(node, services)| services.into_iter().map(move |s| (node.clone(), s)))
        .collect();
    let failed = !failed.is_empty();
    Ok((all, failed))
}

pub(crate) async fn ps(ctx: &Context, a: &NodeArg) -> Result<ExitStatus, mcp_core::Error> {
    let (all, failed) = all_statuses(ctx, a.node.as_deref()).await?;
    if ctx.json {
        output::json(
            &all.iter()
                .map(|(n, s)| status_json(n, s))
                .collect::<Vec<_>>(),
        );
    } else {
        let rows: Vec<Vec<String>> = all
            .iter()
            .flat_map(|(node, s)| {
                s.components.iter().map(move |c| {
                    let state = if c.is_flapping() {
                        "flapping".to_owned()
                    } else {
                        c.state.clone()
                    };
                    vec![
                        s.name.clone(),
                        c.name.clone(),
                        node.clone(),
                        output::state(&state),
                        c.version.clone(),
                        uptime_of(c.started_at),
                    ]
                })
            })
            .collect();
        output::table(
            &["SERVICE", "COMPONENT", "NODE", "STATE", "VERSION", "UPTIME"],
            &rows,
        );
    }
    Ok(if failed {
        ExitStatus::Problems
    } else {
        ExitStatus::Success
    })
}

pub(crate) async fn status(ctx: &Context, a: &StatusArgs) -> Result<ExitStatus, mcp_core::Error> {
    let Some(service) = &a.service else {
        let (all, failed) = all_statuses(ctx, a.node.as_deref()).await?;
        if ctx.json {
            output::json(
                &all.iter()
                    .map(|(n, s)| status_json(n, s))
                    .collect::<Vec<_>>(),
            );
        } else {
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|(node, s)| {
                    let running = s.components.iter().filter(|c| c.state == "running").count();
                    let flapping = s.components.iter().any(|c| c.is_flapping());
                    vec![
                        s.name.clone(),
                        node.clone(),
                        if s.active {
                            "active".into()
                        } else {
                            "stopped".into()
                        },
                        format!("{running}/{}", s.components.len()),
                        if flapping {
                            "flapping".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            output::table(&["SERVICE", "NODE", "DESIRED", "RUNNING", "NOTE"], &rows);
        }
        return Ok(if failed {
            ExitStatus::Problems
        } else {
            ExitStatus::Success
        });
    };
    let node = ctx.node_for(service, a.node.as_deref())?;
    let mut client = ctx.client(&node).await?;
    let (s, _definition, events) = client.status(service).await?;
    if ctx.json {
        let mut v = status_json(&node, &s);
        v["recent_events"] = events.iter().map(|e| event_json(&node, e)).collect();
        output::json(&v);
        return Ok(ExitStatus::Success);
    }
    output::line(&format!(
        "{} on {node}: {}",
        s.name,
        if s.active { "active" } else { "stopped" }
    ));
    for c in &s.components {
        output::line(&format!("  {} ({})", c.name, c.container));
        output::line(&format!(
            "    state     {} (should be {})",
            output::state(&c.state),
            c.desired.as_str()
        ));
        output::line(&format!("    version   {}  {}", c.version, c.image));
        output::line(&format!(
            "    uptime    {}  restarts {}",
            uptime_of(c.started_at),
            c.restart_count
        ));
        for (route, port) in &c.ports {
            output::line(&format!(
                "    port      {} -> {port}",
                route.as_deref().unwrap_or("(default route)")
            ));
        }
        if let Some(t) = c.flapping_since {
            output::line(&format!(
                "    FLAPPING  since {}: held down; `mcp start {}` after fixing it",
                output::rfc3339(t),
                s.name
            ));
        }
    }
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
            output::rfc3339(c.not_after),
            c.issuer
        ));
    }
    for why in &s.skipped {
        output::line(&format!("  skipped   {why}"));
    }
    if !events.is_empty() {
        output::line("  recent events");
        for e in &events {
            output::line(&format!("    {}", event_line(e)));
        }
    }
    Ok(ExitStatus::Success)
}

fn event_line(e: &Event) -> String {
    let mut s = format!(
        "{}  {:<9} {:<10} {}",
        output::rfc3339(e.at),
        e.action,
        e.actor,
        e.detail
    );
    if let Some(err) = &e.error {
        s.push_str(&format!("  ERROR: {err}"));
    }
    s
}

pub(crate) async fn logs(ctx: &Context, a: &LogsArgs) -> Result<ExitStatus, mcp_core::Error> {
    let node = ctx.node_for(&a.service, a.node.as_deref())?;
    let mut client = ctx.client(&node).await?;
    let mut stream = client
        .logs(
            &a.service,
            a.component.as_deref(),
            a.lines.unwrap_or(0),
            a.follow,
        )
        .await?;
    let mut containers = std::collections::BTreeSet::new();
    let mut buffered = Vec::new();
    while let Some(line) = stream.next().await {
        let line = line?;
        if ctx.json {
            output::json(&serde_json::json!({"container": line.container, "line": line.line}));
            continue;
        }
        containers.insert(line.container.clone());
        if a.follow {
            output::line(&format!("{} | {}", line.container, line.line));
        } else {
            buffered.push(line);
        }
    }
    for l in buffered {
        if containers.len() > 1 {
            output::line(&format!("{} | {}", l.container, l.line));
        } else {
            output::line(&l.line);
        }
    }
    Ok(ExitStatus::Success)
}

pub(crate) async fn events(ctx: &Context, a: &EventsArgs) -> Result<ExitStatus, mcp_core::Error> {
    let nodes = ctx.nodes(a.node.as_deref())?;
    let service = a.service.clone();
    let (limit, follow) = (a.limit, a.follow);
    if follow {
        let [node] = nodes.as_slice() else {
            return Err(mcp_core::config::ConfigError::Invalid {
                path: ctx.path().to_owned(),
                message: "`mcp events --follow` follows one node: pass -n NODE".into(),
            }
            .into());
        };
        let mut client = ctx.client(node).await?;
        let mut stream = client.events(service.as_deref(), 0, limit, true).await?;
        while let Some(e) = stream.next().await {
            let e = e?;
            if ctx.json {
                output::json(&event_json(node, &e));
            } else {
                output::line(&format!("{node}  {}", event_line(&e)));
            }
        }
        return Ok(ExitStatus::Success);
    }
    let results = ctx
        .on_nodes(&nodes, |_, mut c| {
            let service = service.clone();
            async move {
                let mut stream = c.events(service.as_deref(), 0, limit, false).await?;
                let mut out = Vec::new();
                while let Some(e) = stream.next().await {
                    out.push(e?);
                }
                Ok(out)
            }
        })
        .await;
    let (ok, failed) = super::partition(results)?;
    let failed = !failed.is_empty();
    let mut all: Vec<(String, Event)> = ok
        .into_iter()
        .flat_map(|(node, events)| events.into_iter().map(move |e| (node.clone(), e)))
        .collect();
    all.sort_by_key(|(_, e)| e.at);
    if ctx.json {
        output::json(
            &all.iter()
                .map(|(n, e)| event_json(n, e))
                .collect::<Vec<_>>(),
        );
    } else {
        for (node, e) in &all {
            let service = e.service.as_deref().unwrap_or("-");
            output::line(&format!("{node}  {service}  {}", event_line(e)));
        }
    }
    Ok(if failed {
        ExitStatus::Problems
    } else {
        ExitStatus::Success
    })
}
