//! `mcp show SERVICE|FILE`

use crate::args::ServiceArg;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

pub(crate) fn run(ctx: &Context, args: &ServiceArg) -> Result<ExitStatus, mcp_core::fleet::Error> {
    let (_, def) = ctx.fleet.definition(&args.service)?;
    let s = def.resolve(&ctx.fleet.config().conventions);
    if ctx.json {
        output::json(&s);
        return Ok(ExitStatus::Success);
    }
    output::line(&format!(
        "service  {} (node {}, tier {}, {})",
        s.name,
        s.node,
        s.tier.as_str(),
        if s.active { "active" } else { "inactive" }
    ));
    output::line(&format!("source   <workspace>/{}", s.source_path));
    output::line(&format!("data     {}", s.data_dir.display()));
    output::line(&format!("hash     {}", s.definition_hash));
    for c in &s.components {
        output::line(&format!("component {}", c.name));
        output::line(&format!("  container  {}", c.container_name));
        output::line(&format!("  image      {} (version {})", c.image, c.version));
        output::line(&format!(
            "  runs as    user {}, network {}, restart {}",
            c.user, c.network, c.restart
        ));
        for v in &c.volumes {
            output::line(&format!("  volume     {v}"));
        }
        if !c.cmd.is_empty() {
            output::line(&format!("  cmd        {:?}", c.cmd));
        }
        for e in &c.env {
            output::line(&format!("  env        {e}"));
        }
        for p in &c.ports {
            output::line(&format!("  publish    {p}"));
        }
        for r in &c.routes {
            let vars: Vec<String> = r.port_env.iter().map(|v| format!("${v}")).collect();
            output::line(&format!(
                "  route      :{} {} {}{} -> host port in {}",
                r.listener_port,
                r.mode,
                r.hostname,
                if r.public { " (public)" } else { "" },
                vars.join(", ")
            ));
        }
    }
    Ok(ExitStatus::Success)
}
