//! Command-line arguments: clap derive structs and their help text, nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// mcp: the Metacircular Control Plane.
///
/// Deploys and manages services on the platform's nodes from TOML service
/// definitions (~/.config/mcp/services/<service>.toml).
#[derive(Debug, Parser)]
#[command(name = "mcp", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check service definitions and print every problem as file:line:col.
    ///
    /// Exits 0 when all are valid, 1 when any problem is found.
    Validate(ValidateArgs),
    /// Show a service definition with every platform convention applied: container
    /// names, images, versions, hostnames, $PORT variables, volumes.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Definition files or directories of them (default: ~/.config/mcp/services).
    pub(crate) paths: Vec<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// A definition file, or a service name looked up in the services directory.
    pub(crate) service: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}
