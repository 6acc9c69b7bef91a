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
    let dir = dir.canonicalize().map_err(io_err(dir))?;
    let p = |name: &str| dir.join(name);
    let mut created = Vec::new();

    let ca = if p("ca.pem").exists() && p("ca.key").exists() {
        CertifiedKey {
            cert_pem: std::fs::read_to_string(p("ca.pem")).map_err(io_err(&p("ca.pem")))?,
            key_pem: std::fs::read_to_string(p("ca.key")).map_err(io_err(&p("ca.key")))?,
        }
    } else {
        let ca = pki::create_ca(&format!("mcp local CA ({node})"))?;
        write_atomic(&p("ca.key"), ca.key_pem.as_bytes(), 0o600).map_err(io_err(&p("ca.key")))?;
        write_atomic(&p("ca.pem"), ca.cert_pem.as_bytes(), 0o644).map_err(io_err(&p("ca.pem")))?;
        created.extend([p("ca.key"), p("ca.pem")]);
        ca
    };
    if !(p("agent.pem").exists() && p("agent.key").exists()) {
        let server = pki::issue_server_cert(&ca, &["localhost", "127.0.0.1", "::1"])?;
        write_atomic(&p("agent.key"), server.key_pem.as_bytes(), 0o600)
            .map_err(io_err(&p("agent.key")))?;
        let chain = format!("{}{}", server.cert_pem, ca.cert_pem);
        write_atomic(&p("agent.pem"), chain.as_bytes(), 0o644).map_err(io_err(&p("agent.pem")))?;
        created.extend([p("agent.key"), p("agent.pem")]);
    }
    if !p("admin-token").exists() {
        let token = pki::random_token()?;
        write_atomic(&p("admin-token"), format!("{token}\n").as_bytes(), 0o600)
            .map_err(io_err(&p("admin-token")))?;
        created.push(p("admin-token"));
    }
    let services = p("services");
    std::fs::create_dir_all(&services).map_err(io_err(&services))?;

    let containers_conf = if Path::new("/run/systemd/system").exists() {
        None
    } else {
        if !p("containers.conf").exists() {
            write_atomic(
                &p("containers.conf"),
                NO_SYSTEMD_CONTAINERS_CONF.as_bytes(),
                0o644,
            )
            .map_err(io_err(&p("containers.conf")))?;
            created.push(p("containers.conf"));
        }
        Some(p("containers.conf"))
    };
    let q = |path: &Path| toml_edit::Value::from(path.display().to_string()).to_string();
    if !p("mcp-agent.toml").exists() {
        let mut text = format!(
            "# A single-machine node, made by `mcp-agent init --local`. See docs/configuration.md.\n\n\
             [server]\nlisten = \"{listen}\"\ntls_cert = {}\ntls_key = {}\n\n\
             [node]\nname = \"{node}\"\n\n\
             [database]\npath = {}\n\n\
             [auth]\nmode = \"token-file\"\ntoken_file = {}\n\n\
             [conventions]\ndata_root = {}\n",
            q(&p("agent.pem")),
            q(&p("agent.key")),
            q(&p("mcp.db")),
            q(&p("admin-token")),
            q(&p("srv")),
        );
        if let Some(conf) = &containers_conf {
            text.push_str(&format!(
                "\n[podman]\ncommand = [\"podman\"]\ncontainers_conf = {}\n",
                q(conf)
            ));
        }
        write_atomic(&p("mcp-agent.toml"), text.as_bytes(), 0o644)
            .map_err(io_err(&p("mcp-agent.toml")))?;
        created.push(p("mcp-agent.toml"));
    }
    if !p("mcp.toml").exists() {
        let text = format!(
            "# The CLI configuration for the local node. Use it with `mcp --config {}`.\n\n\
             [[nodes]]\nname = \"{node}\"\naddress = \"{listen}\"\nrole = \"compute\"\n\n\
             [auth]\ntoken_path = {}\n\n\
             [tls]\nca_cert = {}\nserver_name = \"localhost\"\n\n\
             [services]\ndir = {}\n\n\
             [conventions]\ndata_root = {}\n",
            p("mcp.toml").display(),
            q(&p("admin-token")),
            q(&p("ca.pem")),
            q(&services),
            q(&p("srv")),
        );
        write_atomic(&p("mcp.toml"), text.as_bytes(), 0o644).map_err(io_err(&p("mcp.toml")))?;
        created.push(p("mcp.toml"));
    }
    Ok(LocalNode {
        agent_config: p("mcp-agent.toml"),
        cli_config: p("mcp.toml"),
        token_file: p("admin-token"),
        ca_cert: p("ca.pem"),
        services_dir: services,
        listen,
        created,
        dir,
    })
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
