//! One module per group of commands: resolve arguments, call `mcp_core`, print.

mod edit;
mod fleet;
mod lifecycle;
mod login;
mod observe;
mod show;
mod sync;
mod validate;

use clap::CommandFactory;

use crate::args::{Command, CompletionsArgs};
use crate::context::Context;
use crate::exit::ExitStatus;

/// Runs one command.
pub(crate) async fn run(ctx: &Context, command: Command) -> Result<ExitStatus, mcp_core::Error> {
    match command {
        Command::Validate(a) => validate::run(ctx, &a),
        Command::Show(a) => show::run(ctx, &a),
        Command::Deploy(a) => lifecycle::deploy(ctx, &a).await,
        Command::Adopt(a) => lifecycle::adopt(ctx, &a).await,
        Command::Undeploy(a) => lifecycle::undeploy(ctx, &a).await,
        Command::Stop(a) => lifecycle::service_op(ctx, &a, lifecycle::Op::Stop).await,
        Command::Start(a) => lifecycle::service_op(ctx, &a, lifecycle::Op::Start).await,
        Command::Restart(a) => lifecycle::service_op(ctx, &a, lifecycle::Op::Restart).await,
        Command::Recover(a) => lifecycle::recover(ctx, &a).await,
        Command::Ps(a) => observe::ps(ctx, &a).await,
        Command::Status(a) => observe::status(ctx, &a).await,
        Command::Logs(a) => observe::logs(ctx, &a).await,
        Command::Events(a) => observe::events(ctx, &a).await,
        Command::Edit(a) => edit::run(ctx, &a),
        Command::Sync(a) => sync::sync(ctx, &a).await,
        Command::Build(a) => sync::build(ctx, &a).await,
        Command::Snapshot(a) => lifecycle::snapshot(ctx, &a).await,
        Command::Migrate(a) => lifecycle::migrate(ctx, &a).await,
        Command::Node(c) => fleet::node(ctx, c).await,
        Command::Route(c) => fleet::route(ctx, c).await,
        Command::Dns(a) => fleet::dns(ctx, &a).await,
        Command::Edge(c) => fleet::edge(ctx, c).await,
        Command::Agent(c) => fleet::agent(ctx, c).await,
        Command::Login(a) => login::run(ctx, &a).await,
        Command::Completions(a) => {
            completions(&a);
            Ok(ExitStatus::Success)
        }
    }
}

/// `mcp completions SHELL`.
pub(crate) fn completions(a: &CompletionsArgs) {
    let mut cmd = crate::args::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "mcp", &mut std::io::stdout());
}

/// Per-node results split: the nodes that answered, and those that failed.
pub(crate) type Split<T> = (Vec<(String, T)>, Vec<(String, mcp_core::Error)>);

/// Splits per-node results into successes and failures; when every node failed, the
/// first failure is the command's error (so its exit code says why).
pub(crate) fn partition<T>(
    results: Vec<(String, Result<T, mcp_core::Error>)>,
) -> Result<Split<T>, mcp_core::Error> {
    let total = results.len();
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for (node, r) in results {
        match r {
            Ok(v) => ok.push((node, v)),
            Err(e) => failed.push((node, e)),
        }
    }
    if total > 0 && ok.is_empty() {
        let (_, first) = failed.remove(0);
        for (n, other) in &failed {
            crate::output::error(&format!("{n}: {other}"));
        }
        return Err(first);
    }
    for (node, e) in &failed {
        crate::output::error(&format!("{node}: {e}"));
    }
    Ok((ok, failed))
}
