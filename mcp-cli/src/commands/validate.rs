//! `mcp validate PATH...`

use mcp_core::spec::{self, Problem, ServiceDefinition, SpecError};
use serde::Serialize;

use crate::args::ValidateArgs;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    definitions: usize,
    components: usize,
    routes: usize,
    problems: &'a [Problem],
}

pub(crate) fn run(
    ctx: &Context,
    args: &ValidateArgs,
) -> Result<ExitStatus, mcp_core::fleet::Error> {
    let paths = if args.paths.is_empty() {
        vec![ctx.fleet.config().services_dir()]
    } else {
        args.paths.clone()
    };
    let mut defs: Vec<ServiceDefinition> = Vec::new();
    let mut problems: Vec<Problem> = Vec::new();
    let (dirs, files): (Vec<_>, Vec<_>) = paths.into_iter().partition(|p| p.is_dir());
    for result in dirs
        .iter()
        .map(|d| spec::load_dir(d))
        .chain([spec::load_files(&files)])
    {
        match result {
            Ok(d) => defs.extend(d),
            Err(SpecError::Invalid { problems: p }) => problems.extend(p),
            Err(e) => return Err(e.into()),
        }
    }
    let components = defs.iter().map(|d| d.components.len()).sum();
    let routes = defs
        .iter()
        .flat_map(|d| &d.components)
        .map(|c| c.routes.len())
        .sum();
    if ctx.json {
        output::json(&Report {
            ok: problems.is_empty(),
            definitions: defs.len(),
            components,
            routes,
            problems: &problems,
        });
    } else if problems.is_empty() {
        output::line(&format!(
            "ok: {} service definition{} valid ({components} components, {routes} routes)",
            defs.len(),
            if defs.len() == 1 { "" } else { "s" }
        ));
    } else {
        for p in &problems {
            output::line(&p.to_string());
        }
        output::error(&format!(
            "{} problem{} found",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(if problems.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Problems
    })
}
