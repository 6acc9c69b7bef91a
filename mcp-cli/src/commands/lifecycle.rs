//! `deploy`, `adopt`, `undeploy`, `stop`, `start`, `restart`, `recover`, `snapshot`,
//! `migrate`.

use mcp_core::fleet::migrate::MigrateStep;

use super::Outcome;
use crate::args::{
    MigrateArgs, NodeArg, NodeServiceArg, ServiceArg, SnapshotArgs, SnapshotCommand,
};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output::{self, Spinner};
use crate::render;

/// Operations on a deployed service.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Stop,
    Start,
    Restart,
}

pub(crate) async fn deploy(ctx: &Context, service: &str) -> Outcome {
    let (path, def, warnings) = ctx.fleet.definition_with_warnings(service)?;
    render::definition_warnings(&warnings);
    let spinner = Spinner::start(&match &def.node {
        Some(node) => format!("deploying {} on {node}", def.name),
        None => format!("placing and deploying {}", def.name),
    });
    let deployed = ctx.fleet.deploy_file(&path, def).await;
    drop(spinner);
    let deployed = deployed?;
    if ctx.json {
        output::json(&deployed);
    } else {
        render::deployed(&deployed);
    }
    Ok(ExitStatus::Success)
}

pub(crate) async fn adopt(ctx: &Context, a: &ServiceArg) -> Outcome {
    let (_, def) = ctx.fleet.definition(&a.service)?;
    let node =
        mcp_core::fleet::placement::placed_node(&def).map_err(mcp_core::fleet::Error::from)?;
    let report = ctx.fleet.client(node).await?.adopt(&def.to_toml()).await?;
    show_report(ctx, "adopted", &report);
    Ok(ExitStatus::Success)
}

fn show_report(ctx: &Context, verb: &str, report: &mcp_core::view::Report) {
    if ctx.json {
        output::json(report);
    } else {
        render::report(verb, report);
    }
}

pub(crate) async fn service_op(ctx: &Context, a: &NodeServiceArg, op: Op) -> Outcome {
    let node = ctx.fleet.node_for(&a.service, a.node.as_deref())?;
    let mut client = ctx.fleet.client(&node).await?;
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
    show_report(ctx, done, &report?);
    Ok(ExitStatus::Success)
}

/// `mcp undeploy`: the compute node, then the service's edge routes.
pub(crate) async fn undeploy(ctx: &Context, a: &NodeServiceArg) -> Outcome {
    let node = ctx.fleet.node_for(&a.service, a.node.as_deref())?;
    let spinner = Spinner::start(&format!("undeploying {} on {node}", a.service));
    let undeployed = ctx.fleet.undeploy(&a.service, &node).await;
    drop(spinner);
    let undeployed = undeployed?;
    if ctx.json {
        output::json(&undeployed);
    } else {
        render::undeployed(&undeployed);
    }
    Ok(ExitStatus::problems_if(
        !undeployed.edge_failures.is_empty(),
    ))
}

pub(crate) async fn recover(ctx: &Context, a: &NodeArg) -> Outcome {
    let results = ctx.fleet.recover(a.node.as_deref()).await?;
    for (node, reports) in &results.answers {
        if reports.is_empty() && !ctx.json {
            output::line(&format!("{node}: nothing to recover"));
        }
        for r in reports {
            show_report(ctx, "recovered", r);
        }
    }
    Ok(ExitStatus::after(&results.failures))
}

pub(crate) async fn snapshot(ctx: &Context, a: &SnapshotArgs) -> Outcome {
    let (service, node) = match (&a.command, &a.service) {
        (Some(SnapshotCommand::Restore(r)), _) => return super::releases::restore(ctx, r).await,
        (Some(SnapshotCommand::List(l)), _) => (l.service.as_str(), l.node.as_deref()),
        (None, Some(s)) => (s.as_str(), a.node.as_deref()),
        // clap requires one of the two.
        (None, None) => return Ok(ExitStatus::Problems),
    };
    let node = ctx.fleet.node_for(service, node)?;
    let mut client = ctx.fleet.client(&node).await?;
    if a.command.is_some() {
        let snapshots = client.snapshots(service).await?;
        output::json_or(ctx.json, snapshots.as_slice(), render::snapshot_table);
        return Ok(ExitStatus::Success);
    }
    let spinner = Spinner::start(&format!("snapshotting {service} on {node}"));
    let s = client.create_snapshot(service).await;
    drop(spinner);
    output::json_or(ctx.json, &s?, |s| output::line(&render::snapshot_line(s)));
    Ok(ExitStatus::Success)
}

/// `mcp migrate SERVICE --to NODE` and `mcp migrate --all --from A --to B`: each step
/// is printed as it completes.
pub(crate) async fn migrate(ctx: &Context, a: &MigrateArgs) -> Outcome {
    let json = ctx.json;
    let mut show = |service: &str, s: &MigrateStep| {
        if !json {
            output::line(&format!("{service}: {:<11} {}", s.step, s.detail));
        }
    };
    let moved = match (&a.service, &a.from) {
        (Some(service), _) => {
            let mut each = |s: &MigrateStep| show(service, s);
            vec![
                ctx.fleet
                    .migrate(service, &a.to, a.force, &mut each)
                    .await?,
            ]
        }
        (None, Some(from)) => ctx.fleet.evacuate(from, &a.to, a.force, &mut show).await?,
        // clap requires one of the two.
        (None, None) => return Ok(ExitStatus::Problems),
    };
    if json {
        output::json(&moved);
    } else if moved.is_empty() {
        output::line("nothing to migrate: no definition names that node");
    }
    Ok(ExitStatus::Success)
}
