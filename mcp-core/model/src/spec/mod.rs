//! Service definitions: the TOML files an operator writes, one per service
//! (`~/.config/mcp/services/<service>.toml`).
//!
//! This module owns the whole life of a definition on the way in:
//!
//! * the model ([`ServiceDefinition`], [`Component`], [`Route`]) holding exactly what
//!   the file says, with defaults applied only where the platform defines them as
//!   part of the format (`active`, `public`);
//! * parsing ([`ServiceDefinition::parse`], [`ServiceDefinition::load`], [`load_dir`])
//!   that reports *every* problem at once, each with file, line, column, field and the
//!   rule broken ([`Problem`]);
//! * validation rules ([`ServiceDefinition::validate`]) shared by files and by
//!   definitions built in code, and [`ValidatedDefinition`], the proof that they
//!   hold, which is what the engine takes;
//! * the platform's derivations in one place ([`ServiceDefinition::resolve`] with
//!   [`Conventions`]): default hostnames, `$PORT`/`$PORT_<NAME>` names, container
//!   names, image references and versions;
//! * canonical serialisation ([`ServiceDefinition::to_toml`]) and the definition hash
//!   that labels containers;
//! * format-preserving edits ([`DefinitionEditor`]) that keep comments and layout;
//! * what changed between two definitions, field by field ([`diff`]).

mod derive;
mod diff;
mod edit;
mod image;
pub mod limits;
mod parse;
mod policy;
mod problem;
mod rules;
mod serialize;
mod unique;
mod validated;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use derive::{
    Conventions, DEFAULT_HEALTH_TIMEOUT, DEFAULT_READY_AFTER, HealthCheck, ResolvedComponent,
    ResolvedRoute, ResolvedService,
};
pub use diff::{DefinitionDiff, FieldChange, MASK, diff};
pub use edit::DefinitionEditor;
pub use image::{ImageRef, is_pinned_version};
pub use policy::{HostPolicy, SAFE_VOLUME_OPTIONS, legacy_host_port};
pub use problem::{Location, Problem, Rule};
pub use rules::check_hostname;
pub use unique::HeldName;
pub use validated::ValidatedDefinition;

use crate::ErrorKind;

/// A service definition, as written by the operator.
///
/// Construct one by parsing ([`ServiceDefinition::parse`], [`ServiceDefinition::load`])
/// or in code; in the latter case call [`ServiceDefinition::validate`] before use.
///
/// ```
/// use mcp_model::spec::{Conventions, ServiceDefinition};
///
/// let text = r#"
/// name = "web"
/// node = "n1"
/// [[components]]
/// name = "api"
/// image = "registry.example/web-api:v1.4.0"
/// [[components.routes]]
/// name = "rest"
/// port = 8443
/// mode = "l7"
/// "#;
/// let def = ServiceDefinition::parse(text, None)?;
/// assert!(def.validate().is_empty());
/// // Every convention applied: the container's name, its version, the
/// // route's hostname and the variable its port arrives in.
/// let resolved = def.resolve(&Conventions::default());
/// let api = &resolved.components[0];
/// assert_eq!(api.container_name, "web-api");
/// assert_eq!(api.version, "v1.4.0");
/// assert!(api.routes[0].port_env.contains(&"PORT_REST".to_owned()));
///
/// // An invalid one: every problem, located.
/// let broken = ServiceDefinition::parse("name = \"Web!\"\n", None).unwrap_err();
/// assert!(!broken.problems().is_empty());
/// for p in broken.problems() {
///     println!("{}: {} [{}]", p.field, p.message, p.rule);
/// }
/// # Ok::<(), mcp_model::spec::SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDefinition {
    /// Service name: drives `/srv/<name>`, the default hostname and image names.
    pub name: String,
    /// The node the service runs on (a name from the CLI's `[[nodes]]`); `None`
    /// for a `worker` service not placed yet: the operator's side places it
    /// on a compute node and writes the choice into the file (`Fleet::place`).
    pub node: Option<String>,
    /// Placement tier (`core` or `worker`, `worker` when absent): a `core`
    /// service names its node; a `worker` service may leave it to placement.
    pub tier: Option<Tier>,
    /// Whether MCP keeps the service running. Defaults to `true`.
    pub active: bool,
    /// Source directory relative to the build workspace; defaults to `name`.
    pub path: Option<String>,
    /// Image tag for every component that does not pin its own.
    pub version: Option<String>,
    /// `[build.images]`: image repository name → Dockerfile path, sorted by name.
    pub build_images: BTreeMap<String, String>,
    /// `[snapshot]`: how the service's data is snapshotted, if not the default.
    pub snapshot: Option<SnapshotSpec>,
    /// `[[components]]`, in file order.
    pub components: Vec<Component>,
}

crate::words! {
    /// Where a service is placed when a master does the placing.
    pub enum Tier: "tier" {
        /// Runs on the master node; never migrated.
        Core => "core",
        /// Runs on any compute node.
        Worker => "worker",
    }
}

/// `[snapshot]`: how a service's data directory is captured.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SnapshotSpec {
    /// `grpc`, `cli`, `full`, `exec: <command>`, or absent for the default.
    pub method: Option<String>,
    /// Paths relative to `/srv/<service>/` left out of snapshots.
    pub exclude: Vec<String>,
}

/// One container of a service (`[[components]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    /// Component name, unique within the service (`api`, `web`).
    pub name: String,
    /// Full image reference with a pinned tag; derived from the registry, the service
    /// name and the version when absent.
    pub image: Option<String>,
    /// Image tag override for this component when `image` is absent.
    pub version: Option<String>,
    /// Extra volume mounts, `host:container[:options]`.
    pub volumes: Vec<String>,
    /// Command override; the image's `CMD` when absent.
    pub cmd: Option<Vec<String>>,
    /// Extra environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// Container network; the agent's default (`mcpnet`) when absent.
    pub network: Option<String>,
    /// Container user; the agent's default (`0:0`) when absent.
    pub user: Option<String>,
    /// Restart policy; the agent's default (`unless-stopped`) when absent.
    pub restart: Option<String>,
    /// Legacy explicit port publications, `[hostip:]hostport:containerport`.
    pub ports: Vec<String>,
    /// Seconds a new container must keep running, without a restart, before a
    /// deploy counts it ready (after its routes' health checks); the agent's
    /// default (`[conventions] ready_after_secs`, 3) when absent. 0..=600.
    pub ready_after: Option<u32>,
    /// `[[components.routes]]`, in file order.
    pub routes: Vec<Route>,
}

/// A route from mc-proxy to a component (`[[components.routes]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Route name; gives `$PORT_<NAME>`. Required when a component has several routes.
    pub name: Option<String>,
    /// The mc-proxy listener port (443, 8443, 9443), not a container port.
    pub port: u16,
    /// Who terminates TLS.
    pub mode: Mode,
    /// Hostname override; `<service>.<zone>` when absent.
    pub hostname: Option<String>,
    /// Whether an edge node routes public traffic to this route. Defaults to `false`.
    pub public: bool,
    /// The HTTP path whose answer (2xx or 3xx) says a new container is ready for
    /// traffic (l7 routes: the backend speaks plain HTTP). Absent: a TCP connect to
    /// the port.
    pub health_path: Option<String>,
    /// Seconds a new container has to pass its health check (default 30).
    pub health_timeout: Option<u32>,
}

crate::words! {
    /// Routing mode of a route.
    pub enum Mode: "route mode" {
        /// TLS passthrough by SNI: the service terminates TLS itself.
        L4 => "l4",
        /// mc-proxy terminates TLS with a certificate MCP provisions.
        L7 => "l7",
    }
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A definition file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A definition file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// One or more definitions are invalid. Every problem found is listed.
    #[error("{}", problem::summarize(problems))]
    Invalid {
        /// Every problem, in file order.
        problems: Vec<Problem>,
    },
    /// An edit referred to something the definition does not have.
    #[error("{0}")]
    NoSuchComponent(String),
}

impl SpecError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SpecError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            SpecError::Read { .. } | SpecError::Write { .. } => ErrorKind::Io,
            SpecError::Invalid { .. } => ErrorKind::InvalidInput,
            SpecError::NoSuchComponent(_) => ErrorKind::NotFound,
        }
    }

    /// The problems, when the error is [`SpecError::Invalid`]; empty otherwise.
    pub fn problems(&self) -> &[Problem] {
        match self {
            SpecError::Invalid { problems } => problems,
            _ => &[],
        }
    }
}

impl ServiceDefinition {
    /// Parses and validates a definition from TOML text. `origin` names the file in
    /// problems (use `None` for text that did not come from a file).
    ///
    /// Every problem is reported, not just the first: structural ones (syntax, types,
    /// unknown keys, missing fields) and rule violations alike.
    pub fn parse(text: &str, origin: Option<&Path>) -> Result<Self, SpecError> {
        Self::parse_located(text, origin, None).map(|(def, _)| def)
    }

    /// [`ServiceDefinition::parse`], with the warnings too: keys of older formats
    /// that are accepted and ignored ([`Rule::Deprecated`]), each located and
    /// saying what replaces it.
    pub fn parse_with_warnings(
        text: &str,
        origin: Option<&Path>,
    ) -> Result<(Self, Vec<Problem>), SpecError> {
        Self::parse_located(text, origin, None)
    }

    /// [`ServiceDefinition::parse`], and then the node's host policy with its
    /// conventions: what the definition asks of the host (mounts, volume options,
    /// networks, published ports) that `policy` does not allow is a located
    /// problem too.
    pub fn parse_for_node(
        text: &str,
        origin: Option<&Path>,
        conventions: &Conventions,
        policy: &HostPolicy,
    ) -> Result<Self, SpecError> {
        Self::parse_located(text, origin, Some((conventions, policy))).map(|(def, _)| def)
    }

    fn parse_located(
        text: &str,
        origin: Option<&Path>,
        host: Option<(&Conventions, &HostPolicy)>,
    ) -> Result<(Self, Vec<Problem>), SpecError> {
        let parsed = parse::parse_located(text, origin, host);
        match parsed.definition {
            Some(def) if parsed.problems.is_empty() => Ok((def, parsed.warnings)),
            _ => Err(SpecError::Invalid {
                problems: parsed.problems,
            }),
        }
    }

    /// Reads, parses and validates the definition in `path`.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        Self::load_with_warnings(path).map(|(def, _)| def)
    }

    /// [`ServiceDefinition::load`], with the warnings too (as
    /// [`ServiceDefinition::parse_with_warnings`]).
    pub fn load_with_warnings(path: &Path) -> Result<(Self, Vec<Problem>), SpecError> {
        use std::io::Read;
        let read_err = |source| SpecError::Read {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(limits::MAX_BYTES as u64 + 1).read_to_end(&mut bytes))
            .map_err(read_err)?;
        if bytes.len() > limits::MAX_BYTES {
            let text = String::from_utf8_lossy(&bytes);
            let problem = limits::too_long(&text, Some(path));
            return Err(SpecError::Invalid {
                problems: problem.into_iter().collect(),
            });
        }
        match std::str::from_utf8(&bytes) {
            Ok(text) => Self::parse_with_warnings(text, Some(path)),
            Err(e) => Err(SpecError::Invalid {
                problems: vec![limits::not_utf8(&bytes, &e, Some(path))],
            }),
        }
    }

    /// Checks the platform's rules on a definition (for example one built in code).
    /// Problems carry field paths but no file locations. An empty list means valid.
    pub fn validate(&self) -> Vec<Problem> {
        let mut sink = problem::Sink::unlocated();
        rules::check(self, &mut sink);
        sink.into_problems()
    }

    /// What the definition asks of the host that the node's `policy` does not
    /// allow (unlocated; [`ServiceDefinition::parse_for_node`] locates them).
    pub fn policy_problems(&self, conventions: &Conventions, policy: &HostPolicy) -> Vec<Problem> {
        let mut sink = problem::Sink::unlocated();
        policy::check(self, conventions, policy, &mut sink);
        sink.into_problems()
    }

    /// The canonical TOML form: fields in a fixed order, defaults written out.
    /// Parsing it gives back an equal definition.
    pub fn to_toml(&self) -> String {
        serialize::to_toml(self)
    }

    /// A stable hash (SHA-256, hex) of the canonical form. Two definitions hash equal
    /// exactly when they deploy the same thing; the agent labels containers with it to
    /// detect drift.
    pub fn definition_hash(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(self.to_toml().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Applies the platform's conventions: every derived value, ready to deploy.
    /// Call on a valid definition; on an invalid one the derived values are best effort.
    pub fn resolve(&self, conventions: &Conventions) -> ResolvedService {
        derive::resolve(self, conventions)
    }

    /// The source directory relative to the build workspace (`path`, or the name).
    pub fn source_path(&self) -> &str {
        self.path.as_deref().unwrap_or(&self.name)
    }

    /// The component named `name`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }
}

/// Loads every `*.toml` definition in `dir` (not recursive), sorted by file name.
///
/// All files are read and every problem in every file is reported together. Besides
/// each file's own rules, the set must have unique service names, and each file must
/// be named after its service (`<name>.toml`), since commands find definitions by
/// service name.
pub fn load_dir(dir: &Path) -> Result<Vec<ServiceDefinition>, SpecError> {
    load_checked(&definition_files(&[dir.to_owned()])?, true, &mut Vec::new())
}

/// Loads the definitions in `paths`, reporting every problem in every file together,
/// and checks that service names are unique across them.
pub fn load_files(paths: &[PathBuf]) -> Result<Vec<ServiceDefinition>, SpecError> {
    load_checked(paths, false, &mut Vec::new())
}

/// The definition files `paths` name: each file, and every `*.toml` in each
/// directory (not recursive), sorted per directory.
pub fn definition_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecError> {
    let mut out = Vec::new();
    for p in paths {
        if !p.is_dir() {
            out.push(p.clone());
            continue;
        }
        let read_err = |source| SpecError::Read {
            path: p.clone(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(p).map_err(read_err)? {
            let path = entry.map_err(read_err)?.path();
            if path.extension().is_some_and(|e| e == "toml") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        out.extend(files);
    }
    Ok(out)
}

/// What [`check_paths`] found: how much is defined, and every problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validation {
    /// Whether there are no problems.
    pub ok: bool,
    /// Definitions read that are valid.
    pub definitions: usize,
    /// Their components.
    pub components: usize,
    /// Their routes.
    pub routes: usize,
    /// Every problem in every file, located.
    pub problems: Vec<Problem>,
    /// Every warning (deprecated keys, accepted and ignored), located; they do
    /// not make a definition invalid.
    pub warnings: Vec<Problem>,
}

/// Checks every definition in `paths` (a directory means each `*.toml` in it,
/// as [`load_dir`]; files are checked together, as [`load_files`]). Problems are
/// collected, not returned as an error; a file that cannot be read is an error.
pub fn check_paths(paths: &[PathBuf]) -> Result<Validation, SpecError> {
    let (dirs, files): (Vec<_>, Vec<_>) = paths.iter().cloned().partition(|p| p.is_dir());
    let mut defs: Vec<ServiceDefinition> = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let dirs = dirs
        .iter()
        .map(|d| Ok((definition_files(std::slice::from_ref(d))?, true)));
    for set in dirs.chain([Ok((files, false))]) {
        let (paths, check_file_names) = set?;
        match load_checked(&paths, check_file_names, &mut warnings) {
            Ok(d) => defs.extend(d),
            Err(SpecError::Invalid { problems: p }) => problems.extend(p),
            Err(e) => return Err(e),
        }
    }
    let components = defs.iter().map(|d| d.components.len()).sum();
    let routes = defs
        .iter()
        .flat_map(|d| &d.components)
        .map(|c| c.routes.len())
        .sum();
    Ok(Validation {
        ok: problems.is_empty(),
        definitions: defs.len(),
        components,
        routes,
        problems,
        warnings,
    })
}

/// Loads `paths` as one set; the files' warnings are added to `warnings`.
fn load_checked(
    paths: &[PathBuf],
    check_file_names: bool,
    warnings: &mut Vec<Problem>,
) -> Result<Vec<ServiceDefinition>, SpecError> {
    let mut defs: Vec<(PathBuf, ServiceDefinition)> = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        match ServiceDefinition::load_with_warnings(path) {
            Ok((def, w)) => {
                warnings.extend(w);
                defs.push((path.clone(), def));
            }
            Err(SpecError::Invalid { problems: p }) => problems.extend(p),
            Err(e) => return Err(e),
        }
    }
    problems.extend(rules::check_set(&defs));
    if check_file_names {
        problems.extend(rules::check_file_names(&defs));
    }
    if problems.is_empty() {
        Ok(defs.into_iter().map(|(_, d)| d).collect())
    } else {
        Err(SpecError::Invalid { problems })
    }
}
