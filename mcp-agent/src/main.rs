//! `mcp-agent`: the per-node daemon. For now it owns the node's registry file;
//! the gRPC server arrives with the agent API (docs/ARCHITECTURE.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcp_core::registry::Registry;

/// mcp-agent: the Metacircular Control Plane's per-node daemon.
#[derive(Debug, Parser)]
#[command(name = "mcp-agent", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the registry, or bring its schema up to date, and print its version.
    Migrate {
        /// The registry database.
        #[arg(long, default_value = "/srv/mcp/mcp.db")]
        db: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate { db } => match Registry::open(&db).and_then(|r| r.schema_version()) {
            Ok(v) => {
                println!("registry {} is at schema version {v}", db.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
