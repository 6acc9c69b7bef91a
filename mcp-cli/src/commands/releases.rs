//! `history`, `rollback`, `snapshot restore`.

use super::Outcome;
use crate::args::{NodeServiceArg, RestoreArgs, RollbackArgs};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output::{self, Spinner};
use crate::render;

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
