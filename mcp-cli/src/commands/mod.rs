//! One module per group of commands. Each handler resolves its arguments, calls
//! one `mcp_core` operation and renders the result (`crate::render`, or JSON
//! through serde with `--json`); failed nodes are printed beside the answers and
//! make the exit status 1.

mod edit;
mod exec;
mod fleet;
mod lifecycle;
mod login;
mod observe;
mod releases;
mod show;
mod sync;
mod ui;
mod validate;

use clap::CommandFactory;

use crate::args::{Command, CompletionsArgs};
use crate::context::Context;
use crate::exit::ExitStatus;

/// What every handler returns.
pub(crate) type Outcome = Result<ExitStatus, mcp_core::fleet::Error>;

/// Runs one command.
pub(crate) async fn run(ctx: &Context, command: Command) -> Outcome {
    match command {
        Command::Validate(a) => validate::run(ctx, &a).await,
        Command::Show(a) => show::run(ctx, &a),
        Command::Deploy(a) if a.dry_run => releases::dry_run(ctx, &a).await,
        Command::Deploy(a) => lifecycle::deploy(ctx, &a.service).await,
        Command::Diff(a) => releases::diff(ctx, &a).await,
        Command::Adopt(a) => lifecycle::adopt(ctx, &a).await,
        Command::Undeploy(a) => lifecycle::undeploy(ctx, &a).await,
        Command::Stop(a) => lifecycle::service_op(ctx, &a, lifecycle::Op::Stop).await,
        Command::Start(a) => lifecycle::service_op(ctx, &a, lifecycle::Op::Start).await,
        Command::Restart(a) => lifecycle::service_op(ctx, &a, lifecycle::Op::Restart).await,
        Command::Recover(a) => lifecycle::recover(ctx, &a).await,
        Command::Ps(a) => observe::ps(ctx, &a).await,
        Command::Status(a) => observe::status(ctx, &a).await,
        Command::Top(a) => observe::top(ctx, &a).await,
        Command::Ui(a) => ui::run(ctx, &a).await,
        Command::Logs(a) => observe::logs(ctx, &a).await,
        Command::Events(a) => observe::events(ctx, &a).await,
        Command::Edit(a) => edit::run(ctx, &a),
        Command::Sync(a) => sync::sync(ctx, &a).await,
        Command::Build(a) => sync::build(ctx, &a).await,
        Command::Snapshot(a) => lifecycle::snapshot(ctx, &a).await,
        Command::History(a) => releases::history(ctx, &a).await,
        Command::Exec(a) => exec::run(ctx, &a).await,
        Command::Rollback(a) => releases::rollback(ctx, &a).await,
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
    use clap_complete::Shell;
    use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};
    // bash, zsh and fish ask `mcp` itself as they complete (service and node
    // names included); elvish and powershell get a static script.
    let dynamic: Option<&dyn EnvCompleter> = match a.shell {
        Shell::Bash => Some(&Bash),
        Shell::Zsh => Some(&Zsh),
        Shell::Fish => Some(&Fish),
        _ => None,
    };
    let out = &mut std::io::stdout();
    match dynamic {
        Some(shell) => {
            if let Err(e) = shell.write_registration("COMPLETE", "mcp", "mcp", "mcp", out) {
                crate::output::error(&format!("error: {e}"));
            }
        }
        None => {
            let mut cmd = crate::args::Cli::command();
            clap_complete::generate(a.shell, &mut cmd, "mcp", out);
        }
    }
}
