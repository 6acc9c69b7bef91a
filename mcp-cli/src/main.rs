//! `mcp`: the operator's command line. Parses arguments, calls `mcp_core`, prints the
//! result, and maps errors to exit codes in one place ([`exit`]).

mod args;
mod commands;
mod complete;
mod context;
mod exit;
mod output;
mod render;
mod terminal;

use std::process::ExitCode;

use clap::Parser;
use mcp_core::ErrorKind;

fn main() -> ExitCode {
    // A shell asking for completions (`COMPLETE=bash mcp …`): answer and exit.
    clap_complete::CompleteEnv::with_factory(<args::Cli as clap::CommandFactory>::command)
        .complete();
    let cli = args::Cli::parse();
    if let args::Command::Completions(a) = &cli.command {
        commands::completions(a);
        return ExitCode::SUCCESS;
    }
    let ctx = match context::Context::load(cli.config.clone(), cli.json) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return exit::fail(
                ErrorKind::Internal,
                &format!("cannot start the async runtime: {e}"),
            );
        }
    };
    match runtime.block_on(commands::run(&ctx, cli.command)) {
        Ok(status) => status.into(),
        Err(e) => exit::report(&e),
    }
}
