//! `deploy`, `adopt`, `undeploy`, `stop`, `start`, `restart`, `recover`, `snapshot`,
//! `migrate`.

use mcp_core::engine::Report;

use crate::args::{
    MigrateArgs, NodeArg, NodeServiceArg, ServiceArg, SnapshotArgs, SnapshotCommand,
};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output::{self, Spinner};

/// Operations on a deployed service.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Stop,
    Start,
    Restart,
}

/// A report as JSON.
fn report_json(node: &str, r: &Report) -> serde_json::Value {
    serde_json::json!({
        "service": r.service,
        "node": node,
        "components": r.components.iter().map(|(c, ch)| serde_json::json!({"container": c, "change": ch.as_str()})).collect::<Vec<_>>(),
        "ports": r.ports.iter().map(|(c, route, p)| serde_json::json!({"component": c, "route": route, "port": p})).collect::<Vec<_>>(),
        "warnings": r.warnings,
    })
}

pub(crate) fn print_report(ctx: &Context, verb: &str, node: &str, r: &Report) {
    if ctx.json {
        output::json(&report_json(node, r));
        return;
    }
    output::line(&format!("{verb} {} on {node}", r.service));
    for (container, change) in &r.components {
        output::line(&format!("  {container}: {}", change.as_str()));
    }
    let port_word = if verb == "undeployed" {
        "released host port"
    } else {
        "host port"
    };
    for (component, route, port) in &r.ports {
        let route = route
            .as_deref()
            .map_or_else(String::new, |r| format!(" route {r}"));
        output::line(&format!("  {component}{route}: {port_word} {port}"));
    }
    for w in &r.warnings {
        output::error(&format!("warning: {w}"));
    }
}

pub(crate) async fn deploy(ctx: &Context, a: &ServiceArg) -> Result<ExitStatus, mcp_core::Error> {
    let (_, def) = ctx.definition(&a.service)?;
    let spinner = Spinner::start(&format!("deploying {} on {}", def.name, def.node));
    let deployed = ctx.deploy(&def).await;
    drop(spinner);
    let deployed = deployed?;
    if ctx.json {
        let mut json = report_json(&def.node, &deployed.report);
        json["edges"] = deployed
            .edges
            .iter()
            .flat_map(|o| o.result.iter().flatten().map(move |s| (o.node.as_str(), s)))
            .map(|(edge, s)| {
                serde_json::json!({
                    "edge": edge, "hostname": s.route.hostname, "backend": s.route.backend,
                    "cert_serial": s.cert_serial, "cert_expires": s.cert_not_after.map(output::rfc3339),
                })
            })
            .collect();
        json["unrouted"] = deployed.unrouted.clone().into();
        output::json(&json);
    } else {
        print_report(ctx, "deployed", &def.node, &deployed.report);
        for o in &deployed.edges {
            for s in o.result.iter().flatten() {
                output::line(&format!(
                    "  edge {}: {} → {} (certificate {} until {})",
                    o.node,
                    s.route.hostname,
                    s.route.backend,
                    s.cert_serial.as_deref().unwrap_or("-"),
                    s.cert_not_after.map_or_else(|| "-".into(), output::rfc3339)
                ));
            }
        }
        for h in &deployed.unrouted {
            output::error(&format!(
                "warning: public hostname {h} is not routed: the fleet has no edge node"
            ));
        }
    }
    Ok(ExitStatus::Success)
}

pub(crate) async fn adopt(ctx: &Context, a: &ServiceArg) -> Result<ExitStatus, mcp_core::Error> {
    let (_, def) = ctx.definition(&a.service)?;
    let mut client = ctx.client(&def.node).await?;
    let report = client.adopt(&def.to_toml()).await?;
    print_report(ctx, "adopted", &def.node, &report);
    Ok(ExitStatus::Success)
}

pub(crate) async fn service_op(
    ctx: &Context,
    a: &NodeServiceArg,
    op: Op,
) -> Result<ExitStatus, mcp_core::Error> {
    let node = ctx.node_for(&a.service, a.node.as_deref())?;
    let mut client = ctx.client(&node).await?;
    let (doing, done) = match op {
        Op::Stop => ("stopping", "stopped"),
        Op::Start => ("starting", "started"),
        Op::Restart => ("restarting", "restarted"),
    };
    let spinner = Spinner::start(&format!("{doing} {} on {node}", a.service));
    let report = match op {
        Op::Stop => client.stop(&a.service).await,
        Op::Start => client.start(&a.service).await,
        Op::Restart => client.restart(&a.service).await,
    };
    drop(spinner);
    print_report(ctx, done, &node, &report?);
    Ok(ExitStatus::Success)
}

/// `mcp undeploy`: the compute node, then the service's edge routes.
pub(crate) async fn undeploy(
    ctx: &Context,
    a: &NodeServiceArg,
) -> Result<ExitStatus, mcp_core::Error> {
    let service = a.service.as_str();
    let node = &ctx.node_for(service, a.node.as_deref())?;
    let spinner = Spinner::start(&format!("undeploying {service} on {node}"));
    let undeployed = ctx.undeploy(service, node).await;
    drop(spinner);
    let (report, edges) = undeployed?;
    let mut status = ExitStatus::Success;
    let mut removed = Vec::new();
    if !ctx.json {
        print_report(ctx, "undeployed", node, &report);
    }
    for (edge, r) in edges {
        match r {
            Ok(hosts) => {
                for h in hosts {
                    if !ctx.json {
                        output::line(&format!("  edge {edge}: removed {h}"));
                    }
                    removed.push(serde_json::json!({"edge": edge, "hostname": h}));
                }
            }
            Err(e) => {
                output::error(&format!(
                    "edge node {edge}: its routes for {service} stay until `mcp undeploy {service}` runs again: {e}"
                ));
                status = ExitStatus::Problems;
            }
        }
    }
    if ctx.json {
        let mut json = report_json(node, &report);
        json["edges_removed"] = removed.into();
        output::json(&json);
    }
    Ok(status)
}

pub(crate) async fn recover(ctx: &Context, a: &NodeArg) -> Result<ExitStatus, mcp_core::Error> {
    let nodes = ctx.nodes(a.node.as_deref())?;
    let results = ctx
        .on_nodes(&nodes, |_, mut c| async move { Ok(c.recover().await?) })
        .await;
    let (ok, failed) = super::partition(results)?;
    for (node, reports) in ok {
        if reports.is_empty() && !ctx.json {
            output::line(&format!("{node}: nothing to recover"));
        }
        for r in &reports {
            print_report(ctx, "recovered", &node, r);
        }
    }
    let status = if failed.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    };
    Ok(status)
}

pub(crate) async fn snapshot(
    ctx: &Context,
    a: &SnapshotArgs,
) -> Result<ExitStatus, mcp_core::Error> {
    let (list, service, node) = match (&a.command, &a.service) {
        (Some(SnapshotCommand::List(l)), _) => (true, l.service.as_str(), l.node.as_deref()),
        (None, Some(s)) => (false, s.as_str(), a.node.as_deref()),
        // clap requires one of the two.
        (None, None) => return Ok(ExitStatus::Problems),
    };
    let node = ctx.node_for(service, node)?;
    let mut client = ctx.client(&node).await?;
    let json = |s: &mcp_core::snapshot::SnapshotInfo| {
        serde_json::json!({
            "service": s.service, "node": node, "name": s.name, "size_bytes": s.size_bytes,
            "sha256": s.sha256, "created_at": output::rfc3339(s.created_at),
        })
    };
    if list {
        let snapshots = client.snapshots(service).await?;
        if ctx.json {
            output::json(&snapshots.iter().map(json).collect::<Vec<_>>());
        } else {
            let rows: Vec<Vec<String>> = snapshots
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
        return Ok(ExitStatus::Success);
    }
    let spinner = Spinner::start(&format!("snapshotting {service} on {node}"));
    let s = client.create_snapshot(service).await;
    drop(spinner);
    let s = s?;
    if ctx.json {
        output::json(&json(&s));
    } else {
        output::line(&format!(
            "{service} on {node}: {} ({}, sha256 {})",
            s.name,
            output::bytes(s.size_bytes),
            s.sha256
        ));
    }
    Ok(ExitStatus::Success)
}

/// `mcp migrate SERVICE --to NODE` and `mcp migrate --all --from A --to B`: each step
/// is printed as it completes.
pub(crate) async fn migrate(ctx: &Context, a: &MigrateArgs) -> Result<ExitStatus, mcp_core::Error> {
    let json = ctx.json;
    let mut show = |service: &str, s: &mcp_core::migrate::MigrateStep| {
        if !json {
            output::line(&format!("{service}: {:<11} {}", s.step, s.detail));
        }
    };
    let moved = match (&a.service, &a.from) {
        (Some(service), _) => {
            let mut each = |s: &mcp_core::migrate::MigrateStep| show(service, s);
            let steps = ctx.migrate(service, &a.to, a.force, &mut each).await?;
            vec![(service.clone(), steps)]
        }
        (None, Some(from)) => ctx.evacuate(from, &a.to, a.force, &mut show).await?,
        // clap requires one of the two.
        (None, None) => return Ok(ExitStatus::Problems),
    };
    if json {
        output::json(
            &moved
                .iter()
                .map(|(service, steps)| serde_json::json!({"service": service, "node": a.to, "steps": steps}))
                .collect::<Vec<_>>(),
        );
    } else if moved.is_empty() {
        output::line("nothing to migrate: no definition names that node");
    }
    Ok(ExitStatus::Success)
}
