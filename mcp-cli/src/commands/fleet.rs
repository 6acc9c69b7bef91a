//! `node list|add|provision|remove`, `agent status|upgrade`, `route
//! list|add|remove`, `dns`, `edge list|status`.

use mcp_core::config::{self, NodeEntry};
use mcp_core::fleet::provision::{ProvisionRequest, ProvisionStep};
use mcp_core::fleet::survey::Reachability;
use mcp_core::view::ProxyRouteRecord;

use super::Outcome;
use crate::args::{AgentCommand, EdgeCommand, NodeArg, NodeCommand, RouteCommand};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;
use crate::render;

pub(crate) async fn node(ctx: &Context, c: NodeCommand) -> Outcome {
    match c {
        NodeCommand::List => node_list(ctx).await,
        NodeCommand::Add(a) => node_add(
            ctx,
            NodeEntry {
                name: a.name,
                address: Some(a.address),
                ssh: a.ssh,
                arch: a.arch,
                role: a.role,
                ..Default::default()
            },
            a.replace,
        ),
        NodeCommand::Provision(a) => {
            let req = ProvisionRequest {
                node: a.name,
                address: a.address,
                ssh: a.ssh,
                role: a.role,
                dry_run: a.dry_run,
            };
            provision(ctx, req).await
        }
        NodeCommand::Remove { name } => node_remove(ctx, &name),
    }
}

/// `mcp node add`: a `[[nodes]]` entry in the CLI configuration.
fn node_add(ctx: &Context, entry: NodeEntry, replace: bool) -> Outcome {
    ctx.fleet.add_node(entry.clone(), replace)?;
    let path = ctx.fleet.path().display();
    output::line(&format!("added node {} to {path}", entry.name));
    Ok(ExitStatus::Success)
}

/// `mcp node remove`: the node's entry leaves the CLI configuration.
fn node_remove(ctx: &Context, name: &str) -> Outcome {
    ctx.fleet.config().node(name, ctx.fleet.path())?;
    config::remove_node(ctx.fleet.path(), name)?;
    let path = ctx.fleet.path().display();
    output::line(&format!("removed node {name} from {path}"));
    Ok(ExitStatus::Success)
}

/// `mcp node list`: every node asked at once.
async fn node_list(ctx: &Context) -> Outcome {
    let nodes = ctx.fleet.node_list().await?;
    if ctx.json {
        output::json(&nodes);
    } else {
        let headers = ["NAME", "ROLE", "ADDRESS", "VERSION", "STATUS", "CONTAINERS"];
        output::table(&headers, &render::node_rows(&nodes));
    }
    for n in nodes.iter().filter(|n| n.status == Reachability::Refused) {
        output::error(&format!(
            "node {}: {}",
            n.name,
            n.error.as_deref().unwrap_or("refused")
        ));
    }
    // A node that refused the caller is the caller's to fix: its credentials.
    if nodes.iter().any(|n| n.status == Reachability::Refused) {
        return Ok(ExitStatus::Refused);
    }
    Ok(ExitStatus::Success)
}

/// Prints a provisioning or upgrade step of `node` as it completes.
fn step_line(node: &str, s: &ProvisionStep) {
    output::line(&format!(
        "{node}: {:<11} {:<12} {}",
        s.step,
        s.state.as_str(),
        s.detail
    ));
}

/// `mcp node provision`.
async fn provision(ctx: &Context, req: ProvisionRequest) -> Outcome {
    let json = ctx.json;
    let node = req.node.clone();
    let mut show = |s: &ProvisionStep| {
        if !json {
            step_line(&node, s)
        }
    };
    let provisioned = ctx.fleet.provision(&req, &mut show).await?;
    if json {
        output::json(&provisioned);
    }
    Ok(ExitStatus::Success)
}

pub(crate) async fn agent(ctx: &Context, c: AgentCommand) -> Outcome {
    if let AgentCommand::Upgrade { node } = &c {
        let json = ctx.json;
        let mut show = |n: &str, s: &ProvisionStep| {
            if !json {
                step_line(n, s)
            }
        };
        let upgraded = ctx.fleet.upgrade_agents(node.as_deref(), &mut show).await?;
        if json {
            output::json(&upgraded.answers);
        }
        return Ok(ExitStatus::after(&upgraded.failures));
    }
    let survey = ctx.fleet.agent_survey().await?;
    if ctx.json {
        output::json(&survey);
    } else {
        let headers = ["NODE", "VERSION", "BUILD", "UPTIME", "RUNTIME"];
        output::table(&headers, &render::agent_rows(&survey));
        if let Some(line) = render::skew_line(&survey.skew) {
            output::line(&line);
        }
    }
    Ok(ExitStatus::problems_if(survey.has_failures()))
}

pub(crate) async fn route(ctx: &Context, c: RouteCommand) -> Outcome {
    match c {
        RouteCommand::List { node } => {
            let table = ctx.fleet.proxy_routes(&node).await?;
            output::json_or(ctx.json, &table, render::proxy_table);
        }
        RouteCommand::Add(a) => {
            let route = ProxyRouteRecord {
                listener: a.listener,
                hostname: a.hostname,
                backend: a.backend,
                mode: a.mode,
                tls_cert: a.tls_cert,
                tls_key: a.tls_key,
                backend_tls: a.backend_tls,
                proxy_protocol: false,
                service: None,
            };
            ctx.fleet.add_route(&a.node, &route).await?;
            output::line("route added");
        }
        RouteCommand::Remove {
            node,
            listener,
            hostname,
        } => {
            ctx.fleet.remove_route(&node, &listener, &hostname).await?;
            output::line("route removed");
        }
    }
    Ok(ExitStatus::Success)
}

pub(crate) async fn dns(ctx: &Context, a: &NodeArg) -> Outcome {
    let all = ctx.fleet.dns_records(a.node.as_deref()).await?.gather();
    if ctx.json {
        output::json(&all.items);
    } else {
        render::dns_tables(&all.items);
    }
    Ok(ExitStatus::after(&all.failures))
}

/// `mcp edge list` and `mcp edge status` (which also tries every backend).
pub(crate) async fn edge(ctx: &Context, c: EdgeCommand) -> Outcome {
    let (a, probe) = match &c {
        EdgeCommand::List(a) => (a, false),
        EdgeCommand::Status(a) => (a, true),
    };
    let all = ctx
        .fleet
        .edge_routes(a.node.as_deref(), probe)
        .await?
        .gather();
    if ctx.json {
        output::json(&all.items);
    } else {
        render::edge_table(&all.items, probe);
    }
    let unreachable = all.items.iter().any(|s| s.backend_reachable == Some(false));
    Ok(ExitStatus::after(&all.failures).or_problems_if(unreachable))
}
