//! `ps`, `status`, `logs`, `events`.

use mcp_core::view::LogQuery;
use tokio_stream::StreamExt;

use super::Outcome;
use crate::args::{EventsArgs, LogsArgs, NodeArg, StatusArgs};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;
use crate::render;

pub(crate) async fn ps(ctx: &Context, a: &NodeArg) -> Outcome {
    let all = ctx.fleet.services(a.node.as_deref()).await?.gather();
    if ctx.json {
        output::json(&all.items);
    } else {
        let headers = ["SERVICE", "COMPONENT", "NODE", "STATE", "VERSION", "UPTIME"];
        output::table(&headers, &render::ps_rows(&all.items));
    }
    Ok(ExitStatus::after(&all.failures))
}

pub(crate) async fn status(ctx: &Context, a: &StatusArgs) -> Outcome {
    let Some(service) = &a.service else {
        let all = ctx.fleet.services(a.node.as_deref()).await?.gather();
        if ctx.json {
            output::json(&all.items);
        } else {
            let headers = ["SERVICE", "NODE", "DESIRED", "RUNNING", "NOTE"];
            output::table(&headers, &render::status_rows(&all.items));
        }
        return Ok(ExitStatus::after(&all.failures));
    };
    let report = ctx.fleet.status(service, a.node.as_deref()).await?;
    if ctx.json {
        output::json(&report);
    } else {
        render::status(&report);
    }
    Ok(ExitStatus::Success)
}

pub(crate) async fn logs(ctx: &Context, a: &LogsArgs) -> Outcome {
    let node = ctx.fleet.node_for(&a.service, a.node.as_deref())?;
    let mut client = ctx.fleet.client(&node).await?;
    let query = LogQuery {
        component: a.component.clone(),
        tail: a.tail,
        since: a.since,
        follow: a.follow,
    };
    let mut stream = client.logs(&a.service, &query).await?;
    let mut buffered = Vec::new();
    while let Some(line) = stream.next().await {
        let line = line?;
        if ctx.json {
            output::json_line(&line);
        } else if a.follow {
            output::line(&render::log_line(&line, true, a.timestamps));
        } else {
            buffered.push(line);
        }
    }
    render::log_lines(buffered, a.timestamps);
    Ok(ExitStatus::Success)
}

pub(crate) async fn events(ctx: &Context, a: &EventsArgs) -> Outcome {
    if a.follow {
        return follow_events(ctx, a).await;
    }
    let all = ctx
        .fleet
        .events(a.service.as_deref(), a.node.as_deref(), a.limit)
        .await?;
    if ctx.json {
        output::json(&all.items);
    } else {
        output::table(&render::EVENT_HEADERS, &render::event_rows(&all.items));
    }
    Ok(ExitStatus::after(&all.failures))
}

/// `mcp events --follow`: one node's events as they come.
async fn follow_events(ctx: &Context, a: &EventsArgs) -> Outcome {
    let node = ctx
        .fleet
        .only_node(a.node.as_deref(), "`mcp events --follow`")?;
    let mut client = ctx.fleet.client(&node).await?;
    let mut stream = client
        .events(a.service.as_deref(), 0, a.limit, true)
        .await?;
    if !ctx.json {
        output::line(&render::event_header());
    }
    while let Some(e) = stream.next().await {
        let e = e?;
        if ctx.json {
            output::json_line(&e);
        } else {
            output::line(&render::event_line(&e));
        }
    }
    Ok(ExitStatus::Success)
}
