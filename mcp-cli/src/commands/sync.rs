//! `sync` and `build`.

use super::Outcome;
use crate::args::{ServiceArg, SyncArgs};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;
use crate::render;

pub(crate) async fn sync(ctx: &Context, a: &SyncArgs) -> Outcome {
    let plan = ctx.fleet.sync(a.dry_run, a.prune).await?.gather_tagged();
    if ctx.json {
        output::json(&plan.items);
    } else {
        if a.dry_run {
            output::line("dry run: nothing changed");
        }
        let headers = ["NODE", "SERVICE", "ACTION", "REASON", ""];
        output::table(&headers, &render::sync_rows(&plan.items));
    }
    let failed = plan.items.iter().any(|i| i.value.error.is_some());
    Ok(ExitStatus::after(&plan.failures).or_problems_if(failed))
}

pub(crate) async fn build(ctx: &Context, a: &ServiceArg) -> Outcome {
    let (_, def) = ctx.fleet.definition(&a.service)?;
    let progress = render::build_progress(ctx.json);
    let built = ctx.fleet.build(&def, progress).await?;
    output::json_or(ctx.json, built.as_slice(), render::built);
    Ok(ExitStatus::Success)
}
