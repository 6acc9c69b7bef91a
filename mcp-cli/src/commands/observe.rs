//! `ps`, `status`, `top`, `logs`, `events`.

use mcp_core::view::LogQuery;
use tokio_stream::StreamExt;

use super::Outcome;
use crate::args::{EventsArgs, LogsArgs, PsArgs, StatusArgs, TopArgs};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;
use crate::render;

pub(crate) async fn ps(ctx: &Context, a: &PsArgs) -> Outcome {
    let node = a.node.as_deref();
    if a.watch {
        return watch(ctx, None, node, || draw_ps(ctx, node, true)).await;
    }
    draw_ps(ctx, node, false).await
}

async fn draw_ps(ctx: &Context, node: Option<&str>, watching: bool) -> Outcome {
    let all = ctx.fleet.services(node).await?.gather();
    if ctx.json {
        json(watching, &all.items);
    } else {
        let headers = ["SERVICE", "COMPONENT", "NODE", "STATE", "VERSION", "UPTIME"];
        output::table(&headers, &render::ps_rows(&all.items));
    }
    Ok(ExitStatus::after(&all.failures))
}

pub(crate) async fn status(ctx: &Context, a: &StatusArgs) -> Outcome {
    let (service, node) = (a.service.as_deref(), a.node.as_deref());
    if !a.watch {
        return draw_status(ctx, service, node, false).await;
    }
    let node = match service {
        Some(s) => Some(ctx.fleet.node_for(s, node)?),
        None => node.map(str::to_owned),
    };
    let node = node.as_deref();
    watch(ctx, service, node, || draw_status(ctx, service, node, true)).await
}

async fn draw_status(
    ctx: &Context,
    service: Option<&str>,
    node: Option<&str>,
    watching: bool,
) -> Outcome {
    let Some(service) = service else {
        let all = ctx.fleet.services(node).await?.gather();
        if ctx.json {
            json(watching, &all.items);
        } else {
            let headers = ["SERVICE", "NODE", "DESIRED", "RUNNING", "NOTE"];
            output::table(&headers, &render::status_rows(&all.items));
        }
        return Ok(ExitStatus::after(&all.failures));
    };
    let report = ctx.fleet.status(service, node).await?;
    if ctx.json {
        json(watching, &report);
    } else {
        render::status(&report);
    }
    Ok(ExitStatus::Success)
}

/// `top`: one sample; with `--watch` another every `--interval` seconds, in
/// place on a terminal, one table after another otherwise. JSON is one
/// object per component per line, each saying when it was sampled.
pub(crate) async fn top(ctx: &Context, a: &TopArgs) -> Outcome {
    let in_place = !ctx.json && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut first = true;
    loop {
        let all = ctx
            .fleet
            .top(a.service.as_deref(), a.node.as_deref())
            .await?
            .gather();
        if in_place {
            output::clear_screen();
        } else if !first && !ctx.json {
            output::line("");
        }
        first = false;
        if ctx.json {
            all.items.iter().for_each(output::json_line);
        } else {
            let headers = [
                "SERVICE",
                "COMPONENT",
                "NODE",
                "STATE",
                "CPU%",
                "MEMORY",
                "PIDS",
                "RESTARTS",
                "UPTIME",
            ];
            output::table(&headers, &render::top_rows(&all.items));
        }
        let status = ExitStatus::after(&all.failures);
        if !a.watch {
            return Ok(status);
        }
        tokio::time::sleep(std::time::Duration::from_secs(a.interval)).await;
    }
}

/// JSON: one document, or while watching one per line.
fn json<T: serde::Serialize + ?Sized>(watching: bool, value: &T) {
    if watching {
        output::json_line(value);
    } else {
        output::json(value);
    }
}

/// `--watch`: `draw` now, and again after whatever the nodes' events say
/// happened to `service` (or anything) on `node` (or any node); events that
/// come together are drawn once. On a terminal each drawing replaces the
/// last; otherwise they follow one another, a blank line between (JSON: one
/// line each). Runs until interrupted, or until every node's stream ends.
async fn watch<F, Fut>(
    ctx: &Context,
    service: Option<&str>,
    node: Option<&str>,
    mut draw: F,
) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let mut changes = Box::pin(ctx.fleet.changes(service, node).await?);
    let in_place = !ctx.json && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let mut first = true;
    loop {
        if in_place {
            output::clear_screen();
        } else if !first && !ctx.json {
            output::line("");
        }
        first = false;
        draw().await?;
        match changes.next().await {
            None => return Ok(ExitStatus::Success),
            Some(change) => {
                change?;
            }
        }
        // Whatever else happened in the same moment is in the next drawing.
        while let Ok(Some(change)) =
            tokio::time::timeout(std::time::Duration::from_millis(200), changes.next()).await
        {
            change?;
        }
    }
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
