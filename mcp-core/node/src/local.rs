//! A single-machine node with embedded defaults (`mcp-agent init --local DIR`): a
//! local CA, the agent's TLS certificate, an admin token (mode 0600), the agent's
//! configuration (token-file authentication, loopback only) and a CLI
//! configuration that reaches it. Re-running keeps what exists, so a node keeps its
//! CA, token and registry.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mcp_model::fsutil::write_atomic;
use mcp_platform::pki::{self, CertifiedKey};

/// What [`init_local`] creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNode {
    /// The state directory.
    pub dir: PathBuf,
    /// The agent's configuration file.
    pub agent_config: PathBuf,
    /// The CLI configuration file.
    pub cli_config: PathBuf,
    /// The admin token file.
    pub token_file: PathBuf,
    /// The local CA certificate.
    pub ca_cert: PathBuf,
    /// The directory of service definitions the CLI configuration uses.
    pub services_dir: PathBuf,
    /// Where the agent listens.
    pub listen: SocketAddr,
    /// Files written this time (existing ones are kept).
    pub created: Vec<PathBuf>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> crate::Error + '_ {
    move |source| {
        crate::runtime::RuntimeError::Dir {
            path: path.to_owned(),
            source,
        }
        .into()
    }
}

/// Settings that machines without systemd need for Podman (cgroupfs, runc, capped
/// rlimits, file event log). Written for the local node only when systemd is absent.
pub const NO_SYSTEMD_CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"#;

/// Initialises (or completes) a single-machine node in `dir`, named `node`,
/// listening on `listen` (which must be a loopback address).
pub fn init_local(dir: &Path, node: &str, listen: SocketAddr) -> Result<LocalNode, crate::Error> {
    if !listen.ip().is_loopback() {
        return Err(crate::engine::EngineError::Conflict(format!(
            "a local node listens on loopback only, not {listen}"
        ))
        .into());
    }
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut state = State {
        dir: dir.canonicalize().map_err(io_err(dir))?,
        created: Vec::new(),
    };
    state.tls(node)?;
    if !state.p("admin-token").exists() {
        let token = pki::random_token()?;
        state.write("admin-token", format!("{token}\n").as_bytes(), 0o600)?;
    }
    let services = state.p("services");
    std::fs::create_dir_all(&services).map_err(io_err(&services))?;
    let containers_conf = state.containers_conf()?;
    state.agent_config(node, listen, containers_conf.as_deref())?;
    state.cli_config(node, listen)?;
    // The registry, and with it the agent's instance id, exists from here on.
    let registry = crate::registry::Registry::open(&state.p("mcp.db"))?;
    crate::wiring::instance_id(&registry, node)?;
    Ok(LocalNode {
        agent_config: state.p("mcp-agent.toml"),
        cli_config: state.p("mcp.toml"),
        token_file: state.p("admin-token"),
        ca_cert: state.p("ca.pem"),
        services_dir: services,
        listen,
        created: state.created,
        dir: state.dir,
    })
}

/// The state directory being filled, and the files written so far.
struct State {
    dir: PathBuf,
    created: Vec<PathBuf>,
}

impl State {
    fn p(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Writes `name` (mode `mode`) and notes it created.
    fn write(&mut self, name: &str, contents: &[u8], mode: u32) -> Result<(), crate::Error> {
        let path = self.p(name);
        write_atomic(&path, contents, mode).map_err(io_err(&path))?;
        self.created.push(path);
        Ok(())
    }

    fn read(&self, name: &str) -> Result<String, crate::Error> {
        let path = self.p(name);
        std::fs::read_to_string(&path).map_err(io_err(&path))
    }

    /// The local CA (kept when it exists) and the agent's certificate from it.
    fn tls(&mut self, node: &str) -> Result<(), crate::Error> {
        let ca = if self.p("ca.pem").exists() && self.p("ca.key").exists() {
            CertifiedKey {
                cert_pem: self.read("ca.pem")?,
                key_pem: self.read("ca.key")?,
            }
        } else {
            let ca = pki::create_ca(&format!("mcp local CA ({node})"))?;
            self.write("ca.key", ca.key_pem.as_bytes(), 0o600)?;
            self.write("ca.pem", ca.cert_pem.as_bytes(), 0o644)?;
            ca
        };
        if !(self.p("agent.pem").exists() && self.p("agent.key").exists()) {
            let server = pki::issue_server_cert(&ca, &["localhost", "127.0.0.1", "::1"])?;
            self.write("agent.key", server.key_pem.as_bytes(), 0o600)?;
            let chain = format!("{}{}", server.cert_pem, ca.cert_pem);
            self.write("agent.pem", chain.as_bytes(), 0o644)?;
        }
        Ok(())
    }

    /// Podman settings for a machine without systemd (none with systemd).
    fn containers_conf(&mut self) -> Result<Option<PathBuf>, crate::Error> {
        if Path::new("/run/systemd/system").exists() {
            return Ok(None);
        }
        if !self.p("containers.conf").exists() {
            self.write(
                "containers.conf",
                NO_SYSTEMD_CONTAINERS_CONF.as_bytes(),
                0o644,
            )?;
        }
        Ok(Some(self.p("containers.conf")))
    }

    /// The agent's configuration, unless there is one.
    fn agent_config(
        &mut self,
        node: &str,
        listen: SocketAddr,
        containers_conf: Option<&Path>,
    ) -> Result<(), crate::Error> {
        if self.p("mcp-agent.toml").exists() {
            return Ok(());
        }
        let mut text = format!(
            "# A single-machine node, made by `mcp-agent init --local`. See docs/configuration.md.\n\n\
             [server]\nlisten = \"{listen}\"\ntls_cert = {}\ntls_key = {}\n\n\
             [node]\nname = \"{node}\"\n\n\
             [database]\npath = {}\n\n\
             [auth]\nmode = \"token-file\"\ntoken_file = {}\n\n\
             [conventions]\ndata_root = {}\n\n\
             [metrics]\nlisten = \"{}\"\n",
            quoted(&self.p("agent.pem")),
            quoted(&self.p("agent.key")),
            quoted(&self.p("mcp.db")),
            quoted(&self.p("admin-token")),
            quoted(&self.p("srv")),
            SocketAddr::new(listen.ip(), listen.port().wrapping_add(1)),
        );
        if let Some(conf) = containers_conf {
            text.push_str(&format!(
                "\n[podman]\ncommand = [\"podman\"]\ncontainers_conf = {}\n",
                quoted(conf)
            ));
        }
        self.write("mcp-agent.toml", text.as_bytes(), 0o644)
    }

    /// The CLI configuration that reaches the agent, unless there is one.
    fn cli_config(&mut self, node: &str, listen: SocketAddr) -> Result<(), crate::Error> {
        if self.p("mcp.toml").exists() {
            return Ok(());
        }
        let text = format!(
            "# The CLI configuration for the local node. Use it with `mcp --config {}`.\n\n\
             [[nodes]]\nname = \"{node}\"\naddress = \"{listen}\"\nrole = \"compute\"\n\n\
             [auth]\ntoken_path = {}\n\n\
             [tls]\nca_cert = {}\nserver_name = \"localhost\"\n\n\
             [services]\ndir = {}\n\n\
             [conventions]\ndata_root = {}\n",
            self.p("mcp.toml").display(),
            quoted(&self.p("admin-token")),
            quoted(&self.p("ca.pem")),
            quoted(&self.p("services")),
            quoted(&self.p("srv")),
        );
        self.write("mcp.toml", text.as_bytes(), 0o644)
    }
}

/// `path` as a TOML string.
fn quoted(path: &Path) -> String {
    toml_edit::Value::from(path.display().to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_a_consistent_node_and_rerunning_keeps_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let listen: SocketAddr = "127.0.0.1:19444".parse().expect("addr");
        let node = init_local(dir.path(), "local", listen).expect("init");
        for secret in ["admin-token", "ca.key", "agent.key"] {
            let mode = std::fs::metadata(dir.path().join(secret))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{secret}");
        }
        let agent = mcp_model::config::AgentConfig::load(&node.agent_config).expect("agent config");
        assert_eq!(agent.server.listen, listen);
        assert_eq!(
            agent.metrics.listen,
            Some("127.0.0.1:19445".parse().expect("addr"))
        );
        assert_eq!(agent.auth.mode, mcp_model::config::AuthMode::TokenFile);
        let cli = mcp_model::config::CliConfig::load(&node.cli_config).expect("cli config");
        let entry = cli.node("local", &node.cli_config).expect("the node");
        assert_eq!(entry.all_addresses(), ["127.0.0.1:19444"]);
        assert_eq!(cli.token_path(), node.token_file);
        let token = std::fs::read_to_string(&node.token_file).expect("token");

        let again = init_local(dir.path(), "local", listen).expect("again");
        assert!(again.created.is_empty(), "{:?}", again.created);
        assert_eq!(
            std::fs::read_to_string(&node.token_file).expect("token"),
            token
        );

        let err = init_local(dir.path(), "local", "0.0.0.0:9444".parse().expect("addr"))
            .expect_err("not loopback");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
