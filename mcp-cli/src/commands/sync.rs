//! `sync` and `build`.

use std::collections::BTreeMap;

use mcp_core::engine::EngineError;
use mcp_core::spec;

use crate::args::{ServiceArg, SyncArgs};
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

pub(crate) async fn sync(ctx: &Context, a: &SyncArgs) -> Result<ExitStatus, mcp_core::Error> {
    let defs = spec::load_dir(&ctx.config.services_dir())?;
    let mut by_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &defs {
        ctx.config.node(&d.node, &ctx.path)?;
        by_node.entry(d.node.clone()).or_default().push(d.to_toml());
    }
    let nodes: Vec<String> = by_node.keys().cloned().collect();
    let (dry_run, prune) = (a.dry_run, a.prune);
    let by_node = &by_node;
    let results = super::on_nodes(ctx, &nodes, |node, mut c| async move {
        let node_defs = by_node.get(&node).cloned().unwrap_or_default();
        Ok(c.sync(node_defs, dry_run, prune).await?)
    })
    .await;
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
