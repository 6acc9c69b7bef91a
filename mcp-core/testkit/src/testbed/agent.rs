//! Real `mcp-agent` processes on a test bed: configured for the bed's runtime,
//! port slice and (fleet) PKI, started without racing other tests for a port,
//! restarted, stopped and killed.

use super::*;

/// How a test agent authenticates callers.
#[derive(Debug, Clone)]
pub enum AgentAuth {
    /// Against a (fake) MCIAS at `url`, trusting `ca_pem`.
    Mcias {
        /// Base URL.
        url: String,
        /// CA of its certificate.
        ca_pem: String,
        /// `[auth] operator_roles`.
        operator_roles: Vec<String>,
        /// `[auth] admins`.
        admins: Vec<String>,
    },
    /// With an admin token file.
    TokenFile,
}

/// A real `mcp-agent` process serving this test bed's node. Stopped with SIGTERM
/// when dropped.
#[derive(Debug)]
pub struct RunningAgent {
    child: std::process::Child,
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// Its directory: config, certificates, registry, log.
    pub dir: PathBuf,
    /// The CA of its certificate.
    pub ca_cert: PathBuf,
    /// Its admin token file (token-file mode).
    pub token_file: PathBuf,
    agent_bin: PathBuf,
    netns: Option<PathBuf>,
}

impl Testbed {
    /// Starts `agent_bin` for this bed's node, with `auth`, the monitor ticking every
    /// second, and waits until it accepts connections.
    pub fn start_agent(&self, agent_bin: &Path, auth: &AgentAuth) -> Result<RunningAgent, String> {
        self.start_agent_with(agent_bin, auth, "")
    }

    /// [`Testbed::start_agent`] with `extra` appended to the agent's configuration
    /// (a `[monitor]` section in it replaces the bed's, which relists every
    /// second).
    pub fn start_agent_with(
        &self,
        agent_bin: &Path,
        auth: &AgentAuth,
        extra: &str,
    ) -> Result<RunningAgent, String> {
        self.start_agent_in(&format!("agent-{}", self.id), agent_bin, auth, extra)
    }

    /// [`Testbed::start_agent_with`] in the bed's subdirectory `dir`: a second agent
    /// for the same node name (its own registry, certificate and log), as two
    /// `init --local` nodes on one host are.
    pub fn start_agent_in(
        &self,
        dir: &str,
        agent_bin: &Path,
        auth: &AgentAuth,
        extra: &str,
    ) -> Result<RunningAgent, String> {
        let dir = self.dir().join(dir);
        spawn::retry(|| self.try_start_agent(&dir, agent_bin, auth, extra))
    }

    fn try_start_agent(
        &self,
        dir: &Path,
        agent_bin: &Path,
        auth: &AgentAuth,
        extra: &str,
    ) -> Result<RunningAgent, StartError> {
        let dir = dir.to_owned();
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let ca = match &self.pki {
            Some(p) => p.ca.clone(),
            None => {
                mcp_core::platform::pki::create_ca("test agent CA").map_err(|e| e.to_string())?
            }
        };
        let cert = mcp_core::platform::pki::issue_server_cert(&ca, &["localhost", "127.0.0.1"])
            .map_err(|e| e.to_string())?;
        // Only their owner may read the bed's files: the agent and the CLI refuse
        // secrets others can read.
        let w = |name: &str, text: &str| {
            mcp_core::fsutil::write_atomic(&dir.join(name), text.as_bytes(), 0o600)
                .map_err(|e| e.to_string())
        };
        w("ca.pem", &ca.cert_pem)?;
        w("agent.pem", &format!("{}{}", cert.cert_pem, ca.cert_pem))?;
        w("agent.key", &cert.key_pem)?;
        let token = match &self.pki {
            Some(p) => p.token.clone(),
            None => mcp_core::platform::pki::random_token().map_err(|e| e.to_string())?,
        };
        w("admin-token", &format!("{token}\n"))?;
        // In its own network namespace every port is free.
        let (address, publish): (std::net::SocketAddr, String) = match &self.netns {
            Some((_, ip)) => ((*ip, 9444).into(), format!("publish_address = \"{ip}\"\n")),
            None => (([127, 0, 0, 1], spawn::free_port()?).into(), String::new()),
        };
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        let podman = if self.edge {
            "[podman]\ncommand = [\"/nonexistent/podman\"]\n".to_owned()
        } else {
            self.podman_section()
        };
        let role = if self.edge { "edge" } else { "compute" };
        let auth_toml = auth_section(auth, &dir)?;
        // A `[monitor]` of the caller's replaces the bed's fast one.
        let monitor = if extra.contains("[monitor]") {
            ""
        } else {
            "[monitor]\ninterval_secs = 1\n"
        };
        let config = format!(
            "[server]\nlisten = \"{address}\"\ntls_cert = {}\ntls_key = {}\nshutdown_grace_secs = 5\n\n\
             [node]\nname = \"{}\"\nrole = \"{role}\"\n{publish}\n[database]\npath = {}\n\n{auth_toml}\n\
             {podman}\n{monitor}\n\
             [ports]\nrange = \"{}\"\n\n[conventions]\ndata_root = {}\nready_after_secs = 1\n",
            q(&dir.join("agent.pem")),
            q(&dir.join("agent.key")),
            self.id,
            q(&dir.join("mcp.db")),
            self.port_range,
            q(&self.dir().join("srv")),
        );
        w("mcp-agent.toml", &format!("{config}\n{extra}"))?;
        let netns = self.netns.as_ref().map(|(path, _)| path.clone());
        let child = spawn_agent(agent_bin, &dir, netns.as_deref(), &[])?;
        let mut agent = RunningAgent {
            child,
            address,
            netns,
            ca_cert: dir.join("ca.pem"),
            token_file: dir.join("admin-token"),
            agent_bin: agent_bin.to_owned(),
            dir,
        };
        agent.wait_listening()?;
        Ok(agent)
    }
}

/// The `[auth]` (and `[mcias]`) sections for `auth`, its files written in `dir`.
fn auth_section(auth: &AgentAuth, dir: &Path) -> Result<String, String> {
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    Ok(match auth {
        AgentAuth::Mcias {
            url,
            ca_pem,
            operator_roles,
            admins,
        } => {
            let ca = dir.join("mcias-ca.pem");
            mcp_core::fsutil::write_atomic(&ca, ca_pem.as_bytes(), 0o600)
                .map_err(|e| e.to_string())?;
            format!(
                "[auth]\nmode = \"mcias\"\noperator_roles = {operator_roles:?}\nadmins = {admins:?}\n\n\
                 [mcias]\nserver_url = {url:?}\nca_cert = {}\n",
                q(&ca)
            )
        }
        AgentAuth::TokenFile => format!(
            "[auth]\nmode = \"token-file\"\ntoken_file = {}\n",
            q(&dir.join("admin-token"))
        ),
    })
}

fn spawn_agent(
    agent_bin: &Path,
    dir: &Path,
    netns: Option<&Path>,
    extra: &[&str],
) -> Result<std::process::Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("agent.log"))
        .map_err(|e| e.to_string())?;
    let mut command = match netns {
        Some(ns) => crate::netns::command_in(ns, agent_bin),
        None => Command::new(agent_bin),
    };
    command
        .args(["serve", "--config"])
        .arg(dir.join("mcp-agent.toml"))
        .args(extra)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", agent_bin.display()))
}

impl RunningAgent {
    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_listening(&mut self) -> Result<(), StartError> {
        let log = self.dir.join("agent.log");
        let Some(ns) = self.netns.clone() else {
            return spawn::wait_listening(&mut self.child, "the agent", &log, self.address);
        };
        let address = self.address;
        spawn::wait_ready(&mut self.child, "the agent", &log, || {
            crate::netns::run_in(&ns, move || std::net::TcpStream::connect(address).is_ok())
                .unwrap_or(false)
                .into()
        })
    }

    /// Starts the agent again (after [`RunningAgent::stop`]) with the same
    /// configuration, plus `extra` arguments to `serve`.
    pub fn restart(&mut self, extra: &[&str]) -> Result<(), String> {
        self.child = spawn_agent(&self.agent_bin, &self.dir, self.netns.as_deref(), extra)?;
        self.wait_listening().map_err(|e| e.to_string())
    }

    /// What the agent logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }

    /// Writes a CLI configuration reaching this agent as node `node`, with the token
    /// kept in `token_path` and definitions in `services`; returns its path.
    pub fn cli_config(
        &self,
        node: &str,
        token_path: &Path,
        services: &Path,
        mcias: Option<(&str, &Path)>,
    ) -> Result<PathBuf, String> {
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        let mut text = format!(
            "[[nodes]]\nname = \"{node}\"\naddress = \"{}\"\n\n[auth]\ntoken_path = {}\n\n\
             [tls]\nca_cert = {}\nserver_name = \"localhost\"\n\n[services]\ndir = {}\n",
            self.address,
            q(token_path),
            q(&self.ca_cert),
            q(services),
        );
        if let Some((url, ca)) = mcias {
            text.push_str(&format!(
                "\n[mcias]\nserver_url = {url:?}\nca_cert = {}\n",
                q(ca)
            ));
        }
        let path = self.dir.join("mcp.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Ok(path)
    }

    /// Kills the agent outright (SIGKILL): no shutdown, whatever it was doing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the agent with SIGTERM and waits (at most 15 s) for it to exit; returns
    /// whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..150 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}
