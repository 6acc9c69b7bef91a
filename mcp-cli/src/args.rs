//! Command-line arguments: clap derive structs and their help text, nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;
use mcp_core::spec::Mode;
use mcp_core::view::NodeRole;

/// mcp: the Metacircular Control Plane.
///
/// Deploys and manages services on the platform's nodes from TOML service
/// definitions (~/.config/mcp/services/SERVICE.toml).
#[derive(Debug, Parser)]
#[command(name = "mcp", version, propagate_version = true)]
pub(crate) struct Cli {
    /// The CLI configuration (default: $MCP_CONFIG, else ~/.config/mcp/mcp.toml).
    #[arg(long, global = true, env = "MCP_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check service definitions and print every problem as file:line:col.
    Validate(ValidateArgs),
    /// Show a definition with every platform convention applied.
    Show(ServiceArg),
    /// Deploy (or redeploy) a service on its node.
    Deploy(DeployArgs),
    /// What a deploy would change: the definition against the deployed one,
    /// then its containers, ports, routes, certificates and DNS records. Exit 0
    /// when nothing differs, 1 when something does.
    Diff(DiffArgs),
    /// Remove a service: containers, ports, registry entry (its data stays).
    Undeploy(NodeServiceArg),
    /// Stop a service's containers; it stays stopped until started.
    Stop(NodeServiceArg),
    /// Start a stopped service.
    Start(NodeServiceArg),
    /// Restart a service's containers.
    Restart(NodeServiceArg),
    /// Take containers started by hand into the registry, as the definition says.
    Adopt(ServiceArg),
    /// Recreate containers the runtime lost, from the registry, on the same ports.
    Recover(NodeArg),
    /// List every managed container: SERVICE COMPONENT NODE STATE VERSION UPTIME.
    Ps(PsArgs),
    /// A service in detail (or every service).
    Status(StatusArgs),
    /// What each component uses: SERVICE COMPONENT NODE STATE CPU% MEMORY
    /// PIDS RESTARTS UPTIME, the nodes asked at once.
    Top(TopArgs),
    /// A read-only web dashboard of the fleet on 127.0.0.1, until interrupted:
    /// nodes, services, a service in detail, the live event feed.
    Ui(UiArgs),
    /// A service's container output.
    Logs(LogsArgs),
    /// The event log: who did what, and what the monitor repaired.
    Events(EventsArgs),
    /// Edit a definition in $EDITOR; it is saved only when valid.
    Edit(ServiceArg),
    /// Push every definition to its node and apply it (deploy, redeploy, stop).
    Sync(SyncArgs),
    /// Build and push a service's images.
    Build(ServiceArg),
    /// Snapshot a service's data on its node (`mcp snapshot SERVICE`), list its
    /// snapshots (`mcp snapshot list SERVICE`), or restore one
    /// (`mcp snapshot restore SERVICE [SNAPSHOT]`).
    Snapshot(SnapshotArgs),
    /// A service's revisions on its node: REV WHEN WHO VERSION RESULT CHANGE
    /// (`*` marks the one that runs).
    History(NodeServiceArg),
    /// Run a command in a service's running container (a terminal when stdin
    /// is one); its exit status is mcp's.
    Exec(ExecArgs),
    /// Deploy an earlier revision again, every image by the digest it ran, and
    /// edit the definition file to say it.
    Rollback(RollbackArgs),
    /// Move a service to another node with its data (or, with --all, every
    /// service of a node).
    Migrate(MigrateArgs),
    /// The fleet's nodes.
    #[command(subcommand)]
    Node(NodeCommand),
    /// mc-proxy routes of a node.
    #[command(subcommand)]
    Route(RouteCommand),
    /// DNS records the nodes registered.
    Dns(NodeArg),
    /// Edge routes: public hostnames the edge nodes route to compute nodes.
    #[command(subcommand)]
    Edge(EdgeCommand),
    /// The agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Log in to MCIAS and store the token.
    Login(LoginArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Definition files or directories of them (default: the services directory).
    pub(crate) paths: Vec<PathBuf>,
    /// Also check them against this node's host policy (asks its agent).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ServiceArg {
    /// A service name (its definition is in the services directory) or a file.
    #[arg(add = services())]
    pub(crate) service: String,
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// A service name (its definition is in the services directory) or a file.
    #[arg(add = services())]
    pub(crate) service: String,
    /// Only say what the deploy would do (as `mcp diff`); change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// With --dry-run: show environment values (masked otherwise).
    #[arg(long, requires = "dry_run")]
    pub(crate) show_env: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// A service name (its definition is in the services directory) or a file.
    #[arg(add = services())]
    pub(crate) service: String,
    /// Show environment values (masked otherwise).
    #[arg(long)]
    pub(crate) show_env: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SnapshotArgs {
    #[command(subcommand)]
    pub(crate) command: Option<SnapshotCommand>,
    /// The service to snapshot.
    #[arg(required = true, add = services())]
    pub(crate) service: Option<String>,
    /// The node (default: from the service's definition).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The service to move.
    #[arg(required_unless_present = "all", conflicts_with = "all", add = services())]
    pub(crate) service: Option<String>,
    /// The node to move it to.
    #[arg(long, add = nodes())]
    pub(crate) to: String,
    /// Move every service whose definition names --from, stopping at the first
    /// failure.
    #[arg(long, requires = "from")]
    pub(crate) all: bool,
    /// The node to empty (with --all).
    #[arg(long, requires = "all", add = nodes())]
    pub(crate) from: Option<String>,
    /// Replace data the target already has for the service.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SnapshotCommand {
    /// The snapshots of a service kept on its node, oldest first.
    List(NodeServiceArg),
    /// Restore a snapshot kept on the node into the service's data directory,
    /// the service stopped around it.
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The service.
    #[arg(add = services())]
    pub(crate) service: String,
    /// The snapshot (default: the newest; `mcp snapshot list` names them).
    pub(crate) snapshot: Option<String>,
    /// Replace the data the service's directory holds.
    #[arg(long)]
    pub(crate) force: bool,
    /// The node (default: from the service's definition).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The service.
    #[arg(add = services())]
    pub(crate) service: String,
    /// The revision to bring back (default: the newest that deployed before the
    /// one that runs).
    #[arg(long, value_name = "REV")]
    pub(crate) to: Option<u32>,
    /// Leave the definition file as it is (`mcp sync` would then deploy it
    /// again).
    #[arg(long)]
    pub(crate) keep_definition: bool,
    /// The node (default: from the service's definition).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NodeServiceArg {
    /// The service.
    #[arg(add = services())]
    pub(crate) service: String,
    /// The node (default: from the service's definition).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct NodeArg {
    /// Only this node (default: every node).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    /// Only this node (default: every node).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
    /// Draw again whenever something happens (the nodes' events), until
    /// interrupted.
    #[arg(short = 'w', long)]
    pub(crate) watch: bool,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The service (default: every service).
    #[arg(add = services())]
    pub(crate) service: Option<String>,
    /// The node (default: from the definition, or every node).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
    /// Draw again whenever something happens (the nodes' events), until
    /// interrupted.
    #[arg(short = 'w', long)]
    pub(crate) watch: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    /// The service (default: every service).
    #[arg(add = services())]
    pub(crate) service: Option<String>,
    /// Only this node (default: the service's, or every node).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
    /// Sample again every `--interval` seconds, until interrupted.
    #[arg(short = 'w', long)]
    pub(crate) watch: bool,
    /// Seconds between samples with `--watch`.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) interval: u64,
}

#[derive(Debug, Args)]
pub(crate) struct UiArgs {
    /// The port on 127.0.0.1 (0: any free port, printed).
    #[arg(short = 'p', long, default_value_t = 9470)]
    pub(crate) port: u16,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The service.
    #[arg(add = services())]
    pub(crate) service: String,
    /// The component (default: the service's only one).
    #[arg(short, long)]
    pub(crate) component: Option<String>,
    /// The node (default: from the definition).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
    /// A terminal even when stdin is not one.
    #[arg(short = 't', long, conflicts_with = "no_tty")]
    pub(crate) tty: bool,
    /// No terminal even when stdin is one (output and errors apart).
    #[arg(short = 'T', long)]
    pub(crate) no_tty: bool,
    /// The program and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The service.
    #[arg(add = services())]
    pub(crate) service: String,
    /// The last N lines of each container (default: all).
    #[arg(long, visible_alias = "lines", value_name = "N")]
    pub(crate) tail: Option<u32>,
    /// Only output written since then: a duration (10m, 1h30m, 2d) or an RFC 3339
    /// time (2026-12-02T07:00:00Z).
    #[arg(long, value_name = "WHEN", value_parser = mcp_core::view::Since::parse)]
    pub(crate) since: Option<mcp_core::view::Since>,
    /// Show when each line was written (RFC 3339, UTC, to the nanosecond).
    #[arg(long)]
    pub(crate) timestamps: bool,
    /// Keep printing new output, across restarts and redeploys, until interrupted.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Only this component.
    #[arg(short, long)]
    pub(crate) component: Option<String>,
    /// The node (default: from the definition).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Only this service's events.
    #[arg(add = services())]
    pub(crate) service: Option<String>,
    /// Only this node (default: every node).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
    /// The last N events.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: u32,
    /// Keep printing new events.
    #[arg(short, long)]
    pub(crate) follow: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Print the plan and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Undeploy services that have no definition.
    #[arg(long)]
    pub(crate) prune: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NodeCommand {
    /// List the nodes with their agent version and reachability.
    List,
    /// Add a node to the CLI configuration.
    Add(NodeAddArgs),
    /// Make a Debian host a node over SSH: user, subordinate IDs, /srv/mcp, TLS,
    /// configuration, systemd unit, binary, start, register. Safe to run again.
    Provision(ProvisionArgs),
    /// Remove a node from the CLI configuration.
    Remove {
        /// The node's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RouteCommand {
    /// List a node's mc-proxy routes.
    List {
        /// The node.
        #[arg(short = 'n', long, add = nodes())]
        node: String,
    },
    /// Add a route by hand.
    Add(RouteAddArgs),
    /// Remove a route.
    Remove {
        /// The node.
        #[arg(short = 'n', long, add = nodes())]
        node: String,
        /// Listener, e.g. :443.
        listener: String,
        /// Hostname.
        hostname: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct NodeAddArgs {
    /// The node's name.
    pub(crate) name: String,
    /// The agent's host:port.
    pub(crate) address: String,
    /// SSH target.
    #[arg(long)]
    pub(crate) ssh: Option<String>,
    /// Architecture (amd64, arm64, armhf; x86_64 and aarch64 are translated).
    #[arg(long)]
    pub(crate) arch: Option<String>,
    /// compute or edge.
    #[arg(long)]
    pub(crate) role: Option<NodeRole>,
    /// Overwrite a node of that name already in the configuration.
    #[arg(long)]
    pub(crate) replace: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ProvisionArgs {
    /// The node's name.
    pub(crate) name: String,
    /// Where its agent will listen, IP:PORT (default: its configured address).
    #[arg(long)]
    pub(crate) address: Option<String>,
    /// SSH destination (default: its configured `ssh`).
    #[arg(long)]
    pub(crate) ssh: Option<String>,
    /// compute or edge (default: its configured role, else compute).
    #[arg(long)]
    pub(crate) role: Option<NodeRole>,
    /// Check every step and report what would change; change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RouteAddArgs {
    /// The node.
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: String,
    /// Listener, e.g. :443.
    pub(crate) listener: String,
    /// Hostname.
    pub(crate) hostname: String,
    /// Backend host:port.
    pub(crate) backend: String,
    /// l4 or l7.
    #[arg(long, default_value = "l4")]
    pub(crate) mode: Mode,
    /// Certificate path (l7).
    #[arg(long)]
    pub(crate) tls_cert: Option<String>,
    /// Key path (l7).
    #[arg(long)]
    pub(crate) tls_key: Option<String>,
    /// Re-encrypt to the backend with TLS (l7).
    #[arg(long)]
    pub(crate) backend_tls: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EdgeCommand {
    /// Every edge route: public hostname, service, compute node, backend, and
    /// certificate expiry.
    List(EdgeArg),
    /// The edge routes with whether each backend accepts connections now.
    Status(EdgeArg),
}

#[derive(Debug, Args)]
pub(crate) struct EdgeArg {
    /// Only this edge node (default: every node with role edge).
    #[arg(short = 'n', long, add = nodes())]
    pub(crate) node: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Agent versions and builds across the fleet, and skew.
    Status,
    /// Replace the agent on every node (or one) with the build for its
    /// architecture, over SSH; containers keep running.
    Upgrade {
        /// Only this node (default: every node: new RPCs do not work against old
        /// agents).
        node: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// MCIAS user name (asked when absent).
    #[arg(short, long)]
    pub(crate) username: Option<String>,
    /// Read the password from standard input instead of the terminal.
    #[arg(long)]
    pub(crate) password_stdin: bool,
    /// Ask for a TOTP code too.
    #[arg(long)]
    pub(crate) totp: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub(crate) shell: clap_complete::Shell,
}

/// Completes service names (`crate::complete`).
fn services() -> ArgValueCompleter {
    ArgValueCompleter::new(crate::complete::services)
}

/// Completes node names (`crate::complete`).
fn nodes() -> ArgValueCompleter {
    ArgValueCompleter::new(crate::complete::nodes)
}
