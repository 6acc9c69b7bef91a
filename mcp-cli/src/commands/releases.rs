//! `diff`, `deploy --dry-run`, `history`, `rollback`, `snapshot restore`.

use super::Outcome;
use crate::args::{DeployArgs, DiffArgs, NodeServiceArg, RestoreArgs, RollbackArgs};
use crate::context::Context;
use crate::exit::{self, ExitStatus};
use crate::output::{self, Spinner};
use crate::render;

/// The preview of deploying `service` (a name or a file), rendered.
async fn preview(
    ctx: &Context,
    service: &str,
    show_env: bool,
) -> Result<bool, mcp_core::fleet::Error> {
    let (_, def, warnings) = ctx.fleet.definition_with_warnings(service)?;
    render::definition_warnings(&warnings);
    let preview = ctx.fleet.plan_deploy(&def, show_env).await?;
    output::json_or(ctx.json, &preview, render::preview);
    Ok(preview.changed())
}

pub(crate) async fn diff(ctx: &Context, a: &DiffArgs) -> Outcome {
    match preview(ctx, &a.service, a.show_env).await {
        Ok(true) => Ok(ExitStatus::Differs),
        Ok(false) => Ok(ExitStatus::Success),
        Err(e) if exit::code(e.kind()) == 1 => {
            output::error(&format!("error: {e}"));
            Ok(ExitStatus::Trouble)
        }
        Err(e) => Err(e),
    }
}

pub(crate) async fn dry_run(ctx: &Context, a: &DeployArgs) -> Outcome {
    preview(ctx, &a.service, a.show_env).await?;
    Ok(ExitStatus::Success)
}

pub(crate) async fn history(ctx: &Context, a: &NodeServiceArg) -> Outcome {
    let revisions = ctx.fleet.history(&a.service, a.node.as_deref()).await?;
    output::json_or(ctx.json, revisions.as_slice(), render::history_table);
    Ok(ExitStatus::Success)
}

pub(crate) async fn rollback(ctx: &Context, a: &RollbackArgs) -> Outcome {
    let spinner = Spinner::start(&format!("rolling back {}", a.service));
    let done = ctx
        .fleet
        .rollback(&a.service, a.node.as_deref(), a.to, a.keep_definition)
        .await;
    drop(spinner);
    output::json_or(ctx.json, &done?, render::rolled_back);
    Ok(ExitStatus::Success)
}

pub(crate) async fn restore(ctx: &Context, a: &RestoreArgs) -> Outcome {
    let spinner = Spinner::start(&format!("restoring {}'s data", a.service));
    let report = ctx
        .fleet
        .restore_snapshot(
            &a.service,
            a.node.as_deref(),
            a.snapshot.as_deref(),
            a.force,
        )
        .await;
    drop(spinner);
    output::json_or(ctx.json, &report?, |r| render::report("restored", r));
    Ok(ExitStatus::Success)
}
