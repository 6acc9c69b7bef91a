//! The container runtime: a [`ContainerRuntime`] trait in domain terms, and the
//! Podman implementation ([`Podman`]) that drives the `podman` CLI.
//!
//! The engine never builds a Podman command line itself: it describes a container as
//! a [`ContainerSpec`] (already resolved: name, image, user, network, volumes, env,
//! published ports, labels) and asks the runtime. Every container MCP creates carries
//! labels ([`labels`]) saying it is managed, by which agent instance, for which
//! service and component, at which version and specification hash; that is how the
//! monitor tells drift, orphans and hand-started containers apart.

mod cgroup;
pub mod events;
mod events_log;
pub mod exec;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod logs;
mod podman;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;

pub use events::{EventStopper, EventStream, RuntimeEvent};
pub use exec::ExecSession;
pub use logs::{LogEntry, LogRead, LogStopper, LogStream};
pub use mcp_model::container::{ContainerState, SpecHash, labels};
pub use podman::Podman;

use mcp_model::ErrorKind;
use mcp_model::plan::ObservedContainer;
use mcp_platform::podman::PodmanError;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// Podman failed, or could not be run (classified where it happened).
    #[error(transparent)]
    Podman(#[from] PodmanError),
    /// Podman's output could not be understood.
    #[error("podman {op}: unexpected output: {detail}")]
    Parse {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// This node runs no containers (an edge node).
    #[error("{node} is an edge node: it runs no containers (deploy services to a compute node)")]
    NoContainers {
        /// The node.
        node: String,
    },
    /// A command could not be started in a container.
    #[error("cannot run a command in {container}: {source}")]
    Exec {
        /// The container.
        container: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// This runtime cannot run commands in containers.
    #[error("this runtime cannot run commands in containers")]
    NoExec,
    /// This runtime gives no event stream.
    #[error("this runtime gives no event stream")]
    NoEvents,
    /// A host directory could not be prepared.
    #[error("cannot prepare {}: {source}", path.display())]
    Dir {
        /// The directory.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl RuntimeError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RuntimeError::Podman(e) => e.kind(),
            RuntimeError::Parse { .. } => ErrorKind::Internal,
            RuntimeError::Dir { .. } | RuntimeError::Exec { .. } => ErrorKind::Io,
            RuntimeError::NoExec | RuntimeError::NoEvents => ErrorKind::NotConfigured,
            RuntimeError::NoContainers { .. } => ErrorKind::FailedPrecondition,
        }
    }

    /// Whether the error says the container (or image) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, RuntimeError::Podman(e) if e.is_not_found())
    }

    /// Whether Podman found the container between states, so that the same
    /// request a moment later is expected to succeed.
    pub fn is_busy(&self) -> bool {
        matches!(self, RuntimeError::Podman(e) if e.is_busy())
    }
}

type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Everything needed to create one container, with every convention already applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// Full image reference.
    pub image: String,
    /// `--user`.
    pub user: String,
    /// `--network`.
    pub network: String,
    /// `--restart`.
    pub restart: String,
    /// `-v`, in order.
    pub volumes: Vec<String>,
    /// `-e KEY=VALUE`, in order.
    pub env: Vec<String>,
    /// `-p [ip:]host:container`, in order.
    pub publish: Vec<String>,
    /// `--label`, sorted. The spec-hash label is added at creation.
    pub labels: BTreeMap<String, String>,
    /// Command after the image (empty: the image's `CMD`).
    pub cmd: Vec<String>,
}

impl ContainerSpec {
    /// A stable hash of everything in the spec except its name and the spec-hash
    /// label itself. Equal hashes mean an existing container can be kept. The name
    /// is left out so a container started under a temporary name (a zero-downtime
    /// replacement) keeps its identity once renamed.
    pub fn hash(&self) -> SpecHash {
        let mut copy = self.clone();
        copy.name.clear();
        copy.labels.remove(labels::SPEC_HASH);
        // Informational, added after containers were first hashed: a container
        // made before it existed is not drift.
        copy.labels.remove(labels::NODE);
        SpecHash::digest(&serde_json::to_vec(&copy).unwrap_or_default())
    }

    /// The arguments of `podman run`/`podman create` for this spec, spec-hash label
    /// included; printable as a recovery command when MCP itself is down. With
    /// `env_file` the environment is read from it (`--env-file`), else it is
    /// spelled out (`-e`, for a command an operator runs by hand).
    pub fn podman_args(&self, env_file: Option<&Path>) -> Vec<String> {
        let mut args = vec![
            "--name".to_owned(),
            self.name.clone(),
            "--user".to_owned(),
            self.user.clone(),
            "--restart".to_owned(),
            self.restart.clone(),
            "--network".to_owned(),
            self.network.clone(),
        ];
        for v in &self.volumes {
            args.extend(["-v".to_owned(), v.clone()]);
        }
        match env_file {
            Some(f) => args.extend(["--env-file".to_owned(), f.display().to_string()]),
            None => {
                for e in &self.env {
                    args.extend(["-e".to_owned(), e.clone()]);
                }
            }
        }
        for p in &self.publish {
            args.extend(["-p".to_owned(), p.clone()]);
        }
        let mut labels = self.labels.clone();
        labels.insert(labels::SPEC_HASH.to_owned(), self.hash().to_string());
        for (k, v) in &labels {
            args.extend(["--label".to_owned(), format!("{k}={v}")]);
        }
        args.push(self.image.clone());
        args.extend(self.cmd.iter().cloned());
        args
    }
}

/// What the runtime knows about one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// Runtime id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Image reference it was created from.
    pub image: String,
    /// Run state.
    pub state: ContainerState,
    /// Exit code of the last run.
    pub exit_code: i32,
    /// How many times the runtime restarted it (restart policy).
    pub restart_count: u32,
    /// When it last started.
    pub started_at: Option<SystemTime>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Environment (`KEY=VALUE`).
    pub env: Vec<String>,
    /// Its cgroup, as the runtime reports it (`None` when it has none: not
    /// running, or rootless Podman on cgroup v1).
    pub cgroup: Option<String>,
}

impl ContainerInfo {
    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    /// The parsed `mcp.spec-hash` label, when present and well formed.
    pub fn spec_hash(&self) -> Option<SpecHash> {
        self.label(labels::SPEC_HASH)?.parse().ok()
    }

    /// The value of environment variable `key`.
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.split_once('=').and_then(|(k, v)| (k == key).then_some(v)))
    }
}

impl From<&ContainerInfo> for ObservedContainer {
    fn from(c: &ContainerInfo) -> Self {
        let label = |k| c.label(k).map(str::to_owned);
        ObservedContainer {
            name: c.name.clone(),
            image: c.image.clone(),
            state: c.state.clone(),
            spec_hash: c.spec_hash(),
            service: label(labels::SERVICE),
            component: label(labels::COMPONENT),
        }
    }
}

/// A command to run in a container ([`ContainerRuntime::exec`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The program and its arguments.
    pub command: Vec<String>,
    /// A terminal of this size; `None`: pipes, stdout and stderr apart.
    pub tty: Option<mcp_model::view::WindowSize>,
    /// `TERM` inside, with a terminal.
    pub term: Option<String>,
}

/// A container runtime. Calls block; async callers run them on a blocking thread.
pub trait ContainerRuntime: Send + Sync + std::fmt::Debug {
    /// Whether `image` is present locally.
    fn image_exists(&self, image: &str) -> Result<bool>;
    /// Pulls `image`, reaching its registry as `registry` says.
    fn pull(&self, image: &str, registry: &mcp_platform::images::RegistrySettings) -> Result<()>;
    /// The digest (`sha256:…`) of the local image `image` names, which
    /// `<repository>@<digest>` names from then on, whatever its tag comes to
    /// mean; `None` when it is not present.
    fn image_digest(&self, image: &str) -> Result<Option<String>>;
    /// Creates network `name` when it does not exist.
    fn ensure_network(&self, name: &str) -> Result<()>;
    /// Creates host directory `path` (for a bind mount) owned by the runtime's user.
    fn ensure_dir(&self, path: &Path) -> Result<()>;
    /// The user (uid, gid) host files for containers must belong to when it is not
    /// the caller's own (Podman run as another user): restored data is given to it.
    fn data_owner(&self) -> Option<(u32, u32)> {
        None
    }
    /// Creates (does not start) a container. Returns its id.
    fn create(&self, spec: &ContainerSpec) -> Result<String>;
    /// Creates and starts a container in one step. Returns its id. On failure the
    /// container may exist (created but not running).
    fn run(&self, spec: &ContainerSpec) -> Result<String>;
    /// Starts a container.
    fn start(&self, name: &str) -> Result<()>;
    /// Stops a container: SIGTERM, then SIGKILL after `grace`.
    fn stop(&self, name: &str, grace: Duration) -> Result<()>;
    /// Restarts a container.
    fn restart(&self, name: &str, grace: Duration) -> Result<()>;
    /// Removes a container, stopping it first. Returns whether it existed.
    fn remove(&self, name: &str) -> Result<bool>;
    /// Renames a container.
    fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// The container named `name`, if it exists.
    fn inspect(&self, name: &str) -> Result<Option<ContainerInfo>>;
    /// Every container, in any state, carrying all of `labels` (`key=value`).
    fn list(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>>;
    /// The last `tail` lines of a container's output (all when `None`), as text.
    fn logs(&self, name: &str, tail: Option<usize>) -> Result<String> {
        let read = LogRead {
            tail,
            ..LogRead::default()
        };
        let mut stream = self.read_logs(name, &read)?;
        let mut out = String::new();
        for entry in stream.by_ref() {
            out.push_str(&entry.text);
            out.push('\n');
        }
        stream.finish()?;
        Ok(out)
    }
    /// A container's output (by name or id) as `read` asks, line by line with
    /// times; while following, until the container stops or the stream is dropped.
    fn read_logs(&self, container: &str, read: &LogRead) -> Result<LogStream>;
    /// The runtime and its version, e.g. `podman 4.3.1 (rootless)`.
    fn describe(&self) -> Result<String>;
    /// Starts `request` in the running container `container`; its streams go
    /// through the session, which must be used inside a Tokio runtime.
    fn exec(&self, container: &str, request: &ExecRequest) -> Result<ExecSession> {
        let _ = (container, request);
        Err(RuntimeError::NoExec)
    }
    /// Follows what happens to containers, from now on, until the stream is
    /// dropped or breaks.
    fn events(&self) -> Result<EventStream> {
        Err(RuntimeError::NoEvents)
    }
    /// What each of the `running` containers uses now, one sample each; a
    /// runtime that cannot measure gives none.
    fn usage(&self, running: &[ContainerInfo]) -> Result<Vec<ContainerUsage>> {
        let _ = running;
        Ok(Vec::new())
    }
}

/// One sample of what a running container uses ([`ContainerRuntime::usage`]):
/// counters since it started, and gauges now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerUsage {
    /// The container's name.
    pub name: String,
    /// CPU time used since it started, nanoseconds.
    pub cpu_nanos: u64,
    /// Memory in use, bytes.
    pub memory_bytes: u64,
    /// Its memory limit (the host's memory when it has none), bytes.
    pub memory_limit_bytes: u64,
    /// Processes in it.
    pub pids: u64,
    /// When the runtime read the numbers.
    pub at: SystemTime,
}

/// The runtime of an edge node: there are no containers. Listing finds none and
/// inspecting finds nothing, so status and the monitor work unchanged; anything
/// that would create, start or pull fails with [`RuntimeError::NoContainers`].
#[derive(Debug, Clone)]
pub struct NoContainers {
    node: String,
}

impl NoContainers {
    /// The runtime of edge node `node`.
    pub fn new(node: &str) -> Self {
        NoContainers {
            node: node.to_owned(),
        }
    }

    fn refuse<T>(&self) -> Result<T> {
        Err(RuntimeError::NoContainers {
            node: self.node.clone(),
        })
    }
}

impl ContainerRuntime for NoContainers {
    fn image_exists(&self, _image: &str) -> Result<bool> {
        self.refuse()
    }
    fn pull(&self, _image: &str, _registry: &mcp_platform::images::RegistrySettings) -> Result<()> {
        self.refuse()
    }
    fn image_digest(&self, _image: &str) -> Result<Option<String>> {
        self.refuse()
    }
    fn ensure_network(&self, _name: &str) -> Result<()> {
        self.refuse()
    }
    fn ensure_dir(&self, _path: &Path) -> Result<()> {
        self.refuse()
    }
    fn create(&self, _spec: &ContainerSpec) -> Result<String> {
        self.refuse()
    }
    fn run(&self, _spec: &ContainerSpec) -> Result<String> {
        self.refuse()
    }
    fn start(&self, _name: &str) -> Result<()> {
        self.refuse()
    }
    fn stop(&self, _name: &str, _grace: Duration) -> Result<()> {
        self.refuse()
    }
    fn restart(&self, _name: &str, _grace: Duration) -> Result<()> {
        self.refuse()
    }
    fn remove(&self, _name: &str) -> Result<bool> {
        Ok(false)
    }
    fn rename(&self, _from: &str, _to: &str) -> Result<()> {
        self.refuse()
    }
    fn inspect(&self, _name: &str) -> Result<Option<ContainerInfo>> {
        Ok(None)
    }
    fn list(&self, _labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>> {
        Ok(Vec::new())
    }
    fn read_logs(&self, _container: &str, _read: &LogRead) -> Result<LogStream> {
        self.refuse()
    }
    fn describe(&self) -> Result<String> {
        Ok("none (edge node)".to_owned())
    }
}
