//! `mcp show SERVICE|FILE`

use crate::args::ServiceArg;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;
use crate::render;

pub(crate) fn run(ctx: &Context, args: &ServiceArg) -> Result<ExitStatus, mcp_core::fleet::Error> {
    let (_, def) = ctx.fleet.definition(&args.service)?;
    let s = def.resolve(&ctx.fleet.config().conventions);
    if ctx.json {
        output::json(&s);
        return Ok(ExitStatus::Success);
    }
    render::resolved(&s);
    Ok(ExitStatus::Success)
}
