//! `ui`: the read-only dashboard (`mcp_ui`), served from this process.

use super::Outcome;
use crate::args::UiArgs;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

pub(crate) async fn run(ctx: &Context, a: &UiArgs) -> Outcome {
    let ui = mcp_ui::Ui::bind(ctx.fleet.clone(), a.port).await?;
    output::line(&format!("dashboard: {}", ui.url()));
    output::line(
        "(read-only; this address carries its key: share it with no one; Ctrl-C stops it)",
    );
    ui.serve().await?;
    Ok(ExitStatus::Success)
}
