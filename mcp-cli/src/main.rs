//! `mcp`: the operator's command line. Parses arguments, calls `mcp_core`, prints the
//! result, and maps errors to exit codes in one place ([`exit`]).

mod args;
mod commands;
mod exit;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    let result = match args.command {
        args::Command::Validate(a) => commands::validate::run(&a),
        args::Command::Show(a) => commands::show::run(&a),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => exit::report(&e),
    }
}
