//! `mcp validate PATH...`

use mcp_core::spec;

use crate::args::ValidateArgs;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;
use crate::render;

pub(crate) async fn run(
    ctx: &Context,
    args: &ValidateArgs,
) -> Result<ExitStatus, mcp_core::fleet::Error> {
    let paths = if args.paths.is_empty() {
        vec![ctx.fleet.config().services_dir()]
    } else {
        args.paths.clone()
    };
    let v = match &args.node {
        Some(node) => ctx.fleet.check_on_node(&paths, node).await?,
        None => spec::check_paths(&paths)?,
    };
    if ctx.json {
        output::json(&v);
    } else {
        render::validation(&v);
    }
    Ok(ExitStatus::problems_if(!v.ok))
}
