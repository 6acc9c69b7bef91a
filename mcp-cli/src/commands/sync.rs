//! `sync` and `build`.

use mcp_core::fleet::builder::{BuildItem, Stage};

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
    let status = ExitStatus::after(&plan.failures);
    let failed = plan.items.iter().any(|i| i.value.error.is_some());
    Ok(if failed { ExitStatus::Problems } else { status })
}

pub(crate) async fn build(ctx: &Context, a: &ServiceArg) -> Outcome {
    let (_, def) = ctx.fleet.definition(&a.service)?;
    let json = ctx.json;
    let mut last = None;
    let progress = Box::new(move |item: &BuildItem, stage, line: &str| {
        if json {
            return;
        }
        if last != Some((item.key.clone(), stage)) {
            output::line(&match stage {
                Stage::Build => {
                    format!("building {} from {}", item.image, item.dockerfile.display())
                }
                Stage::Push => format!("pushing {}", item.image),
            });
            last = Some((item.key.clone(), stage));
        }
        output::line(&format!("  {} | {line}", item.key));
    });
    let built = ctx.fleet.build(&def, progress).await?;
    if json {
        output::json(&built);
    }
    for b in built.iter().filter(|_| !json) {
        let size = output::bytes(b.summary.bytes);
        let (key, image, digest) = (&b.item.key, &b.item.image, &b.summary.digest);
        output::line(&format!("{key}: ok ({image}, {size} pushed as {digest})"));
    }
    Ok(ExitStatus::Success)
}
