//! `sync` and `build`.

use crate::args::{ServiceArg, SyncArgs};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

pub(crate) async fn sync(ctx: &Context, a: &SyncArgs) -> Result<ExitStatus, mcp_core::Error> {
    let (dry_run, prune) = (a.dry_run, a.prune);
    let results = ctx.fleet.sync(dry_run, prune).await?;
    let mut status = ExitStatus::Success;
    let mut rows = Vec::new();
    let mut json = Vec::new();
    for (node, r) in results {
        match r {
            Ok(items) => {
                for i in items {
                    if i.error.is_some() {
                        status = ExitStatus::Problems;
                    }
                    json.push(serde_json::json!({
                        "node": node, "service": i.service, "action": i.action.as_str(),
                        "reason": i.reason, "error": i.error,
                    }));
                    rows.push(vec![
                        node.clone(),
                        i.service,
                        i.action.as_str().to_owned(),
                        i.reason,
                        i.error.map(|e| format!("FAILED: {e}")).unwrap_or_default(),
                    ]);
                }
            }
            Err(e) => {
                output::error(&format!("{node}: {e}"));
                status = ExitStatus::Problems;
            }
        }
    }
    if ctx.json {
        output::json(&json);
    } else {
        if dry_run {
            output::line("dry run: nothing changed");
        }
        output::table(&["NODE", "SERVICE", "ACTION", "REASON", ""], &rows);
    }
    Ok(status)
}

pub(crate) async fn build(ctx: &Context, a: &ServiceArg) -> Result<ExitStatus, mcp_core::Error> {
    use mcp_core::build::Stage;
    let (_, def) = ctx.definition(&a.service)?;
    let json = ctx.json;
    let mut last = None;
    let progress = Box::new(
        move |item: &mcp_core::build::BuildItem, stage, line: &str| {
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
        },
    );
    let built = ctx.fleet.build(&def, progress).await?;
    if json {
        output::json(
            &built
                .iter()
                .map(|b| {
                    serde_json::json!({
                        "key": b.item.key, "image": b.item.image, "version": b.item.version,
                        "digest": b.summary.digest, "bytes": b.summary.bytes, "status": "ok",
                    })
                })
                .collect::<Vec<_>>(),
        );
    } else {
        for b in &built {
            output::line(&format!(
                "{}: ok ({}, {} pushed as {})",
                b.item.key,
                b.item.image,
                output::bytes(b.summary.bytes),
                b.summary.digest
            ));
        }
    }
    Ok(ExitStatus::Success)
}
