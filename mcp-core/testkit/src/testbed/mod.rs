//! A Podman test bed: a runtime (rootful, or rootless as the `mcptest` user), an
//! engine with its own registry, data root and instance label, and the example
//! service's image. Dropping it removes every container it created, found by label,
//! and nothing else.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mcp_core::names::ServiceName;
use mcp_core::node::engine::{Engine, EngineConfig};
use mcp_core::node::ports::BindProbe;
use mcp_core::node::registry::Registry;
use mcp_core::node::runtime::Podman;
use mcp_core::ports::PortRange;
use mcp_core::spec::ValidatedDefinition;

use crate::spawn::{self, StartError};

mod agent;
mod http;

pub use agent::{AgentAuth, RunningAgent};
pub use http::{http_exchange, http_get, http_get_at, http_post};

/// The unprivileged user that runs rootless Podman in tests (created by
/// `.ci/podman-setup.sh`).
pub const ROOTLESS_USER: &str = "mcptest";

/// The label on everything a test bed creates, for cleanup.
pub const TEST_LABEL: &str = "mcp-test.run";

/// The example service's image repository.
pub const HELLO_IMAGE: &str = "localhost/hello";

/// The stateful example service's image repository.
pub const NOTES_IMAGE: &str = "localhost/notes";

/// Podman settings these machines need (no systemd, cgroup v1 hybrid, capped
/// rlimits): the ones `mcp-agent init --local` writes. Harmless elsewhere.
const CONTAINERS_CONF: &str = mcp_core::node::local::NO_SYSTEMD_CONTAINERS_CONF;

/// Rootful (Podman as root) or rootless (as [`ROOTLESS_USER`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Podman as root.
    Rootful,
    /// Podman as an unprivileged user, as the platform runs it.
    Rootless,
}

/// A world-readable scratch directory shared by every test bed (the rootless user
/// must read the config and the image build context). One fixed directory, whose
/// files are replaced atomically, so runs neither collide nor pile up.
fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join("mcp-testbed");
        std::fs::create_dir_all(&dir).expect("create test bed dir");
        set_mode(&dir, 0o755);
        write_shared(
            &dir.join("containers.conf"),
            CONTAINERS_CONF.as_bytes(),
            0o644,
        )
        .expect("write containers.conf");
        dir
    })
}

/// Writes a file other processes may be reading: to a private name, then renamed.
fn write_shared(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    mcp_core::fsutil::write_atomic(path, contents, mode)
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

fn id_of(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The `podman` command line for `mode`.
/// The command that runs Podman, and the owner (uid, gid) of host directories.
type PodmanCommand = (Vec<String>, Option<(u32, u32)>);

fn podman_command(mode: Mode) -> Result<PodmanCommand, String> {
    let conf = shared_dir().join("containers.conf");
    match mode {
        Mode::Rootful => Ok((
            vec![
                "env".into(),
                format!("CONTAINERS_CONF={}", conf.display()),
                "podman".into(),
            ],
            None,
        )),
        Mode::Rootless => {
            let (Some(uid), Some(gid)) = (id_of(ROOTLESS_USER, "-u"), id_of(ROOTLESS_USER, "-g"))
            else {
                return Err(format!(
                    "user {ROOTLESS_USER} does not exist: run .ci/run as root (it sets up rootless Podman)"
                ));
            };
            Ok((
                vec![
                    "setpriv".into(),
                    format!("--reuid={uid}"),
                    format!("--regid={gid}"),
                    "--init-groups".into(),
                    "env".into(),
                    "-i".into(),
                    // Podman enters its working directory: the test's own (the
                    // checkout) may be one only root can enter (a 0700 home).
                    "--chdir=/".into(),
                    format!("HOME=/home/{ROOTLESS_USER}"),
                    format!("USER={ROOTLESS_USER}"),
                    format!("LOGNAME={ROOTLESS_USER}"),
                    "PATH=/usr/sbin:/usr/bin:/sbin:/bin".into(),
                    format!("XDG_RUNTIME_DIR=/run/user/{uid}"),
                    format!("CONTAINERS_CONF={}", conf.display()),
                    "podman".into(),
                ],
                Some((uid, gid)),
            ))
        }
    }
}

/// The `containers.conf` the test beds pass to Podman (set `CONTAINERS_CONF` to it
/// for other Podman users, e.g. `mcp build`).
pub fn containers_conf() -> PathBuf {
    shared_dir().join("containers.conf")
}

/// The example service's build context: its `Dockerfile` and static `hello` binary.
pub fn hello_context() -> Result<PathBuf, String> {
    Example::Hello.context()
}

/// The example services a test bed can build, each from `examples/<name>/`
/// (`main.rs` and a `Dockerfile`) into a `FROM scratch` image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Example {
    /// `hello`: stateless, std only.
    Hello,
    /// `notes`: keeps its notes in SQLite under its data directory (links
    /// Debian's `libsqlite3.a`).
    Notes,
}

impl Example {
    /// Its name: the directory under `examples/`, the binary, the image name.
    pub fn name(self) -> &'static str {
        match self {
            Example::Hello => "hello",
            Example::Notes => "notes",
        }
    }

    /// Its image repository.
    pub fn image(self) -> &'static str {
        match self {
            Example::Hello => HELLO_IMAGE,
            Example::Notes => NOTES_IMAGE,
        }
    }

    /// Its build context (`Dockerfile` and the static binary), compiled once per
    /// process.
    pub fn context(self) -> Result<PathBuf, String> {
        static CONTEXTS: OnceLock<Mutex<BTreeMap<&'static str, Result<PathBuf, String>>>> =
            OnceLock::new();
        let contexts = CONTEXTS.get_or_init(Default::default);
        let mut contexts = contexts.lock().unwrap_or_else(|p| p.into_inner());
        contexts
            .entry(self.name())
            .or_insert_with(|| compile_example(self.name()))
            .clone()
    }
}

/// Compiles `examples/<name>/main.rs` into a static binary in a shared build
/// context beside its `Dockerfile`.
fn compile_example(name: &str) -> Result<PathBuf, String> {
    let ctx = shared_dir().join(format!("{name}-context"));
    std::fs::create_dir_all(&ctx).map_err(|e| e.to_string())?;
    set_mode(&ctx, 0o755);
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let dockerfile = std::fs::read(src.join("Dockerfile")).map_err(|e| e.to_string())?;
    write_shared(&ctx.join("Dockerfile"), &dockerfile, 0o644).map_err(|e| e.to_string())?;
    let tmp = ctx.join(format!(".{name}.{}", std::process::id()));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args([
            "--edition",
            "2024",
            "-O",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "strip=symbols",
            "-o",
        ])
        .arg(&tmp)
        .arg(src.join("main.rs"))
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustc {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    set_mode(&tmp, 0o755);
    std::fs::rename(&tmp, ctx.join(name)).map_err(|e| e.to_string())?;
    Ok(ctx)
}

/// A test bed. See the module docs.
#[derive(Debug)]
pub struct Testbed {
    /// Rootful or rootless.
    pub mode: Mode,
    /// Unique id: the instance label of its engine and the value of [`TEST_LABEL`].
    pub id: String,
    /// This bed's own slice of host ports, so parallel beds (each with its own
    /// registry) never lease the same port.
    pub port_range: PortRange,
    argv: Vec<String>,
    owner: Option<(u32, u32)>,
    pki: Option<FleetPki>,
    edge: bool,
    netns: Option<(PathBuf, std::net::Ipv4Addr)>,
    dir: tempfile::TempDir,
}

/// What the agents of one test fleet share, as a real fleet's do: the platform CA
/// their TLS certificates come from, and the admin token they accept, so one CLI
/// configuration reaches them all.
#[derive(Debug, Clone)]
pub struct FleetPki {
    ca: mcp_core::platform::pki::CertifiedKey,
    token: String,
}

impl FleetPki {
    /// A fresh CA and token.
    pub fn new() -> Result<Self, String> {
        Ok(FleetPki {
            ca: mcp_core::platform::pki::create_ca("test fleet CA").map_err(|e| e.to_string())?,
            token: mcp_core::platform::pki::random_token().map_err(|e| e.to_string())?,
        })
    }

    /// The CA's private key, PEM (what `[provision] ca_key` points at).
    pub fn ca_key_pem(&self) -> &str {
        &self.ca.key_pem
    }

    /// Writes a CLI configuration in `dir` naming every `(node, address, role)`,
    /// with definitions in `services`; returns its path.
    pub fn cli_config(
        &self,
        dir: &Path,
        nodes: &[(&str, String, &str)],
        services: &Path,
    ) -> Result<PathBuf, String> {
        let w = |name: &str, text: &str| {
            mcp_core::fsutil::write_atomic(&dir.join(name), text.as_bytes(), 0o600)
                .map_err(|e| e.to_string())
        };
        w("fleet-ca.pem", &self.ca.cert_pem)?;
        w("fleet-token", &format!("{}\n", self.token))?;
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        let mut text = String::new();
        for (name, address, role) in nodes {
            text.push_str(&format!(
                "[[nodes]]\nname = \"{name}\"\naddress = \"{address}\"\nrole = \"{role}\"\n\n"
            ));
        }
        text.push_str(&format!(
            "[auth]\ntoken_path = {}\n\n[tls]\nca_cert = {}\nserver_name = \"localhost\"\n\n\
             [services]\ndir = {}\n",
            q(&dir.join("fleet-token")),
            q(&dir.join("fleet-ca.pem")),
            q(services),
        ));
        let path = dir.join("fleet.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Ok(path)
    }
}

/// A number for a new test bed or fake node, unique in this process.
pub fn next_bed() -> u32 {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The `n`th test bed's (or fake node's) slice of this process's host ports: 100
/// ports between 15000 and 32699, below the kernel's ephemeral range (32768 and
/// up), which it hands out for `bind(:0)` and outgoing connections, so no other
/// test's server or client takes a port the agent leased and has yet to bind.
pub fn port_slice(n: u32) -> PortRange {
    let slice = (std::process::id().wrapping_mul(7).wrapping_add(n) % 177) as u16;
    let start = 15000 + slice * 100;
    match PortRange::new(start, start + 99) {
        Ok(r) => r,
        Err(_) => unreachable!("15000 + 176 * 100 + 99 is a valid range"),
    }
}

impl Testbed {
    /// A test bed for `mode`. Fails with a message saying what to set up when Podman
    /// (or the rootless user) is not available.
    pub fn new(mode: Mode) -> Result<Self, String> {
        let (argv, owner) = podman_command(mode)?;
        let n = next_bed();
        let id = format!("t{}x{n}", std::process::id());
        let port_range = port_slice(n);
        let dir = tempfile::Builder::new()
            .prefix("mcp-tb-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        set_mode(dir.path(), 0o755);
        let tb = Testbed {
            mode,
            id,
            port_range,
            argv,
            owner,
            pki: None,
            edge: false,
            netns: None,
            dir,
        };
        let info = ["info", "--format", "{{.Host.OCIRuntime.Name}}"];
        let mut check = tb.podman(&info);
        if !check.status.success()
            && String::from_utf8_lossy(&check.stderr).contains("system migrate")
        {
            // Rootless state that outlived its processes (the pause process and
            // conmons gone, the runtime directory kept): Podman's own remedy.
            tb.podman(&["system", "migrate"]);
            check = tb.podman(&info);
        }
        if !check.status.success() {
            return Err(format!(
                "podman ({mode:?}) does not work here: {}; run .ci/run as root to install and configure it",
                String::from_utf8_lossy(&check.stderr).trim()
            ));
        }
        Ok(tb)
    }

    /// This bed's agents share `pki` with the other nodes of a test fleet.
    #[must_use]
    pub fn in_fleet(mut self, pki: &FleetPki) -> Self {
        self.pki = Some(pki.clone());
        self
    }

    /// This bed's agents run in the network namespace `path` (a
    /// [`crate::netns::Fabric`] node's), listening on `address:9444` and
    /// publishing containers there.
    #[must_use]
    pub fn in_netns(mut self, path: PathBuf, address: std::net::Ipv4Addr) -> Self {
        self.netns = Some((path, address));
        self
    }

    /// This bed's agents are edge nodes: `role = "edge"`, and a Podman command that
    /// does not exist, to show they need none.
    #[must_use]
    pub fn as_edge(mut self) -> Self {
        self.edge = true;
        self
    }

    /// The runtime, configured for this test bed's mode.
    pub fn runtime(&self) -> Podman {
        let p = Podman::with_command(self.argv.clone());
        match self.owner {
            Some((uid, gid)) => p.dir_owner(uid, gid),
            None => p,
        }
    }

    /// Runs podman (as this test bed's user) by hand, as an operator would.
    pub fn podman(&self, args: &[&str]) -> Output {
        // In the bed's network namespace, if it has one: its containers' networks
        // are torn down where they were set up.
        let mut command = match &self.netns {
            Some((ns, _)) => crate::netns::command_in(ns, &self.argv[0]),
            None => Command::new(&self.argv[0]),
        };
        command
            .args(&self.argv[1..])
            .args(args)
            .output()
            .expect("run podman")
    }

    /// The `[podman]` section of an agent configuration for this bed's mode: the
    /// command that runs Podman and, rootless, the user host files for containers
    /// belong to (the agent runs as root and Podman as the test user; on a real
    /// node the agent is the Podman user and needs no `data_owner`).
    pub fn podman_section(&self) -> String {
        let argv = self
            .argv
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let owner = self
            .owner
            .map(|(uid, gid)| format!("data_owner = \"{uid}:{gid}\"\n"))
            .unwrap_or_default();
        format!("[podman]\ncommand = [{argv}]\n{owner}")
    }

    /// A name unique to this test bed: `<base>-<id>`.
    pub fn name(&self, base: &str) -> ServiceName {
        ServiceName::parse(&format!("{base}-{}", self.id)).expect("a test name is a service name")
    }

    /// A scratch directory of this test bed.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Builds `localhost/hello:<version>` for this mode (once per process) and
    /// returns its reference.
    pub fn hello_image(&self, version: &str) -> Result<String, String> {
        self.example_image(Example::Hello, version)
    }

    /// Builds `example`'s image tagged `version` for this mode (once per process)
    /// and returns its reference.
    pub fn example_image(&self, example: Example, version: &str) -> Result<String, String> {
        let image = format!("{}:{version}", example.image());
        self.build_once(image, |image| {
            let ctx = example.context()?;
            let version = format!("VERSION={version}");
            let ctx = ctx.to_string_lossy();
            self.podman_build(&["--no-cache", "--build-arg", &version, "-t", image, &ctx])
        })
    }

    /// `example`'s image at `version` with Debian's static busybox added as
    /// `/bin/busybox` (a shell and tools for `mcp exec` to run), tagged
    /// `<repository>-tools:<version>`; built once per process and mode.
    pub fn tools_image(&self, example: Example, version: &str) -> Result<String, String> {
        let base = self.example_image(example, version)?;
        let image = format!("{}-tools:{version}", example.image());
        self.build_once(image, |image| {
            let busybox = ["/usr/bin/busybox", "/bin/busybox"]
                .into_iter()
                .find(|p| Path::new(p).is_file())
                .ok_or("no busybox: install busybox-static (.ci/prereqs.sh does)")?;
            let ctx = shared_dir().join(format!("{}-tools-{version}", example.name()));
            std::fs::create_dir_all(&ctx).map_err(|e| e.to_string())?;
            set_mode(&ctx, 0o755);
            let dockerfile = format!("FROM {base}\nCOPY busybox /bin/busybox\n");
            write_shared(&ctx.join("Dockerfile"), dockerfile.as_bytes(), 0o644)
                .map_err(|e| e.to_string())?;
            let bytes = std::fs::read(busybox).map_err(|e| format!("{busybox}: {e}"))?;
            write_shared(&ctx.join("busybox"), &bytes, 0o755).map_err(|e| e.to_string())?;
            self.podman_build(&["--pull=never", "-t", image, &ctx.to_string_lossy()])
        })
    }

    /// `image`, made by `build` unless this process already made it in this
    /// bed's mode.
    fn build_once(
        &self,
        image: String,
        build: impl FnOnce(&str) -> Result<(), String>,
    ) -> Result<String, String> {
        static BUILT: OnceLock<Mutex<HashSet<(Mode, String)>>> = OnceLock::new();
        let built = BUILT.get_or_init(Default::default);
        let mut built = built.lock().unwrap_or_else(|p| p.into_inner());
        if !built.contains(&(self.mode, image.clone())) {
            build(&image)?;
            built.insert((self.mode, image.clone()));
        }
        Ok(image)
    }

    /// `podman build --quiet ARGS…`; Podman's error when it fails.
    fn podman_build(&self, args: &[&str]) -> Result<(), String> {
        let out = self.podman(&[&["build", "--quiet"], args].concat());
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "podman build failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The node name of this test bed: its id, so the `mcp.node` label of its
    /// agents' containers is unique to it too.
    pub fn node(&self) -> &str {
        &self.id
    }

    /// An engine for this bed's node with its own registry and data root, this test
    /// bed's instance label, ports published on 127.0.0.1, and a 2 s stop grace.
    pub fn engine(&self) -> Arc<Engine> {
        let registry = Arc::new(Registry::open(&self.dir().join("mcp.db")).expect("open registry"));
        Arc::new(
            Engine::new(
                self.engine_config(),
                registry,
                Arc::new(self.runtime()),
                Box::new(BindProbe::default()),
            )
            .expect("engine"),
        )
    }

    /// The configuration [`Testbed::engine`] uses.
    pub fn engine_config(&self) -> EngineConfig {
        let mut config = EngineConfig::for_node(&self.id);
        config.instance = self.id.clone();
        config.conventions.data_root = self.dir().join("srv");
        // Every new container is still watched settling, for a shorter time.
        config.conventions.ready_after_secs = 1;
        config.stop_grace = Duration::from_secs(2);
        config.port_range = self.port_range;
        config.extra_labels = BTreeMap::from([(TEST_LABEL.to_owned(), self.id.clone())]);
        config
    }

    /// A definition of the stateful example service (`notes`) named `name`, on this
    /// bed's node, with one l7 route.
    pub fn notes_definition(&self, name: &str, version: &str) -> ValidatedDefinition {
        let node = &self.id;
        let text = format!(
            "name = \"{name}\"\nnode = \"{node}\"\n\n[[components]]\nname = \"{name}\"\nimage = \"{NOTES_IMAGE}:{version}\"\nenv = [\"NOTES_NAME={name}\"]\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\n"
        );
        ValidatedDefinition::parse(&text, None).expect("valid test definition")
    }

    /// A definition of the example service named `name`, on this bed's node, with one
    /// l7 route and `extra` appended to its component table.
    pub fn hello_definition(&self, name: &str, version: &str, extra: &str) -> ValidatedDefinition {
        let node = &self.id;
        let text = format!(
            "name = \"{name}\"\nnode = \"{node}\"\n\n[[components]]\nname = \"{name}\"\nimage = \"{HELLO_IMAGE}:{version}\"\nenv = [\"HELLO_NAME={name}\"]\n{extra}\n\n[[components.routes]]\nport = 8443\nmode = \"l7\"\n"
        );
        ValidatedDefinition::parse(&text, None).expect("valid test definition")
    }
}

impl Drop for Testbed {
    /// Removes every container this bed made: those its in-process engines labelled
    /// with the test label, and those its agents made (their node label is this
    /// bed's node name).
    fn drop(&mut self) {
        let mut ids: Vec<String> = Vec::new();
        for filter in [
            format!("label={TEST_LABEL}={}", self.id),
            format!(
                "label={}={}",
                mcp_core::node::runtime::labels::NODE,
                self.id
            ),
        ] {
            let out = self.podman(&["ps", "--all", "--quiet", "--filter", &filter]);
            ids.extend(
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .map(str::to_owned),
            );
        }
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            let mut args = vec!["rm", "--force", "--time", "0"];
            args.extend(ids.iter().map(String::as_str));
            let _ = self.podman(&args);
        }
    }
}
