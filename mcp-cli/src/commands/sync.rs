//! `sync` and `build`.

use mcp_core::engine::EngineError;

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

pub(crate) fn build(_ctx: &Context, a: &ServiceArg) -> Result<ExitStatus, mcp_core::Error> {
    Err(EngineError::Unsupported(format!(
        "mcp build {}: building and pushing images is not implemented yet; build the image with podman and tag it with the definition's image reference",
        a.service
    ))
    .into())
}
