//! `mcp-agent`: the per-node daemon. Parses its command line and calls the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mcp-agent: the Metacircular Control Plane's per-node daemon.
#[derive(Debug, Parser)]
#[command(name = "mcp-agent", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the agent API (TLS 1.3) and run the monitor.
    Serve {
        /// The agent's configuration.
        #[arg(long, default_value = "/srv/mcp/mcp-agent.toml")]
        config: PathBuf,
        /// Log format: text or json (overrides [log] format).
        #[arg(long)]
        log_format: Option<String>,
    },
    /// Set up a single-machine node in DIR: local CA, certificate, admin token,
    /// agent and CLI configuration. Existing files are kept.
    Init {
        /// Make a local node (the only kind `init` makes).
        #[arg(long, required = true)]
        local: bool,
        /// The state directory.
        dir: PathBuf,
        /// Where the agent will listen (loopback only).
        #[arg(long, default_value = "127.0.0.1:9444")]
        listen: SocketAddr,
        /// The node's name.
        #[arg(long, default_value = "local")]
        node: String,
    },
    /// Create the registry, or bring its schema up to date, and print its version.
    Schema {
        /// The registry database.
        #[arg(long, default_value = "/srv/mcp/mcp.db")]
        db: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, log_format } => mcp_agent::serve(&config, log_format.as_deref()),
        Command::Init {
            dir, listen, node, ..
        } => mcp_agent::init_local(&dir, &node, listen),
        Command::Schema { db } => mcp_agent::schema(&db),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcp-agent: {e}");
            ExitCode::FAILURE
        }
    }
}
