//! Making a Debian host a node (`mcp node provision`) and replacing the agent on
//! nodes (`mcp agent upgrade`), over SSH ([`crate::ssh`]).
//!
//! Provisioning is a list of steps, each a check and an action: the action runs
//! only when the check finds the node differs, so running it again changes
//! nothing and says so, and `--dry-run` runs only the checks. The steps: connect
//! (Debian, architecture), the agent build for that architecture, the `mcp` user,
//! its subordinate IDs (rootless Podman), lingering (when systemd-logind is
//! there), `/srv/mcp`, TLS material (issued from the platform CA), the token or
//! MCIAS settings, the agent's configuration, its systemd unit, the binary, start,
//! and registering the node in the CLI configuration.
//!
//! An upgrade puts the new binary beside the old one (`mcp-agent.new`), checks
//! its SHA-256 and that it runs, keeps the old one (`mcp-agent.old`), renames the
//! new one into place, restarts the agent with the node's privileged command, and
//! waits until NodeStatus reports the new build. If it does not come up, the old
//! binary is put back and started. Containers keep running throughout: the agent
//! does not own them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fleet::Fleet;
use crate::ssh::{SshError, SshTarget, quote};
use mcp_model::ErrorKind;
use mcp_model::config::{CliConfig, ConfigError, NodeEntry, read_text};
use mcp_model::view::NodeRole;

/// Errors of this module (besides SSH's, configuration's and the agent API's).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// The host is not one MCP provisions.
    #[error("{node}: {message}")]
    Host {
        /// The node.
        node: String,
        /// What is wrong.
        message: String,
    },
    /// No agent build for the node's architecture.
    #[error("no mcp-agent build for {arch} (node {node}): expected {}", expected.display())]
    NoBuild {
        /// The node.
        node: String,
        /// Its architecture.
        arch: String,
        /// Where the build was looked for.
        expected: PathBuf,
    },
    /// The provisioning settings are incomplete.
    #[error("{0}")]
    Settings(String),
    /// The new agent did not come up.
    #[error("{node}: {message}")]
    NotUp {
        /// The node.
        node: String,
        /// What happened, and what was put back.
        message: String,
    },
    /// A local file provisioning needs is unreadable.
    #[error("{what} {}: {message}", path.display())]
    Local {
        /// What the file is.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl ProvisionError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProvisionError::Host { .. } => ErrorKind::FailedPrecondition,
            ProvisionError::NoBuild { .. } => ErrorKind::NotFound,
            ProvisionError::Settings(_) => ErrorKind::InvalidInput,
            ProvisionError::NotUp { .. } => ErrorKind::Unavailable,
            ProvisionError::Local { .. } => ErrorKind::Io,
        }
    }
}

/// What a step found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// The node already was as it should be.
    Unchanged,
    /// The step changed the node.
    Changed,
    /// (dry run) The step would change the node.
    WouldChange,
    /// The step does not apply here.
    Skipped,
}

impl StepState {
    /// The state's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Unchanged => "ok",
            StepState::Changed => "changed",
            StepState::WouldChange => "would change",
            StepState::Skipped => "skipped",
        }
    }
}

/// One step of a provisioning or an upgrade, as reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProvisionStep {
    /// The step.
    pub step: &'static str,
    /// What it found or did.
    pub state: StepState,
    /// Details.
    pub detail: String,
}

/// Receives each step as it completes.
pub type StepProgress<'a> = &'a mut (dyn FnMut(&ProvisionStep) + Send);

/// Receives each node's steps as they complete, during a fleet-wide upgrade.
pub type NodeStepProgress<'a> = &'a mut (dyn FnMut(&str, &ProvisionStep) + Send);

/// The steps so far, each passed on as it completes.
struct Steps<'a> {
    done: Vec<ProvisionStep>,
    progress: StepProgress<'a>,
}

impl Steps<'_> {
    fn report(&mut self, step: &'static str, state: StepState, detail: String) {
        let s = ProvisionStep {
            step,
            state,
            detail,
        };
        (self.progress)(&s);
        self.done.push(s);
    }
}

/// What to provision: a configured node's name, with anything given here taking
/// precedence over its entry (a node not configured yet needs `address` and
/// `ssh`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProvisionRequest {
    /// The node's name.
    pub node: String,
    /// Where its agent will listen, `host:port`.
    pub address: Option<String>,
    /// Its SSH destination.
    pub ssh: Option<String>,
    /// Its role.
    pub role: Option<NodeRole>,
    /// Only check: report what would change.
    pub dry_run: bool,
}

/// The Debian architecture name of `uname -m`'s answer.
pub fn debian_arch(uname_m: &str) -> String {
    match uname_m.trim() {
        "x86_64" => "amd64".into(),
        "aarch64" | "arm64" => "arm64".into(),
        "armv7l" => "armhf".into(),
        other => other.into(),
    }
}

/// Where a node's files are, under its root.
#[derive(Debug, Clone)]
struct Layout {
    root: PathBuf,
}

impl Layout {
    fn path(&self, p: &str) -> String {
        self.root
            .join(p.trim_start_matches('/'))
            .display()
            .to_string()
    }
    fn srv(&self) -> String {
        self.path("/srv")
    }
    fn dir(&self) -> String {
        self.path("/srv/mcp")
    }
    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir())
    }
    fn etc(&self, name: &str) -> String {
        self.path(&format!("/etc/{name}"))
    }
    fn unit(&self) -> String {
        self.path("/etc/systemd/system/mcp-agent.service")
    }
    /// `--prefix ROOT` for useradd/usermod, when not `/`.
    fn prefix(&self) -> String {
        if self.root == Path::new("/") {
            String::new()
        } else {
            format!(" --prefix {}", quote(&self.root.display().to_string()))
        }
    }
}

/// One node's SSH target and layout, from its entry and the CLI configuration.
fn target_of(config: &CliConfig, entry: &NodeEntry) -> Result<(Remote, Layout), ProvisionError> {
    let destination = entry.ssh.clone().ok_or_else(|| {
        ProvisionError::Settings(format!(
            "node {} has no ssh target: set `ssh` in its [[nodes]] entry (or --ssh)",
            entry.name
        ))
    })?;
    Ok((
        Remote {
            ssh: SshTarget {
                destination,
                options: config
                    .ssh
                    .options
                    .iter()
                    .map(|o| {
                        mcp_model::config::expand_home(Path::new(o))
                            .display()
                            .to_string()
                    })
                    .collect(),
                sudo: entry.sudo.clone().unwrap_or_else(|| "sudo -n".into()),
            },
        },
        Layout {
            root: entry.root.clone().unwrap_or_else(|| PathBuf::from("/")),
        },
    ))
}

/// A node's SSH target for async callers: each call runs on a blocking thread.
#[derive(Debug, Clone)]
struct Remote {
    ssh: SshTarget,
}

impl Remote {
    /// [`SshTarget::run`].
    async fn run(
        &self,
        what: &str,
        script: &str,
        privileged: bool,
    ) -> Result<String, crate::Error> {
        let (t, what, script) = (self.ssh.clone(), what.to_owned(), script.to_owned());
        remote(move || t.run(&what, &script, privileged)).await
    }

    /// Whether the shell condition `test` holds there.
    async fn test(&self, what: &str, test: &str) -> Result<bool, crate::Error> {
        let out = self
            .run(
                what,
                &format!("if {test}; then echo y; else echo n; fi"),
                false,
            )
            .await?;
        Ok(out.trim() == "y")
    }

    /// The SHA-256 of `path` there, `None` when it does not exist.
    async fn sha256(&self, path: &str) -> Result<Option<String>, crate::Error> {
        let (t, path) = (self.ssh.clone(), path.to_owned());
        remote(move || remote_sha256(&t, &path)).await
    }

    /// [`SshTarget::read_file`].
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, crate::Error> {
        let (t, path) = (self.ssh.clone(), path.to_owned());
        remote(move || t.read_file(&path)).await
    }

    /// [`SshTarget::write_file`].
    async fn write(
        &self,
        path: &str,
        contents: &[u8],
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), crate::Error> {
        let (t, path, contents) = (self.ssh.clone(), path.to_owned(), contents.to_vec());
        let owner = owner.map(str::to_owned);
        remote(move || t.write_file(&path, &contents, mode, owner.as_deref())).await
    }
}

/// Runs a blocking SSH call off the async runtime.
async fn remote<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SshError> + Send + 'static,
) -> Result<T, crate::Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::Error::from(ProvisionError::Settings(format!("ssh task: {e}"))))?
        .map_err(crate::Error::from)
}

impl Fleet {
    /// The agent build for `arch`: `<agent_binaries>/mcp-agent-<arch>`, or
    /// `mcp-agent` there when `arch` is this machine's.
    pub fn agent_build(&self, node: &str, arch: &str) -> Result<PathBuf, crate::Error> {
        let dir = match &self.config().provision.agent_binaries {
            Some(d) => mcp_model::config::expand_home(d),
            None => std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(Path::to_owned))
                .unwrap_or_default(),
        };
        let named = dir.join(format!("mcp-agent-{arch}"));
        if named.is_file() {
            return Ok(named);
        }
        let local = debian_arch(std::env::consts::ARCH);
        let plain = dir.join("mcp-agent");
        if arch == local && plain.is_file() {
            return Ok(plain);
        }
        Err(ProvisionError::NoBuild {
            node: node.to_owned(),
            arch: arch.to_owned(),
            expected: named,
        }
        .into())
    }

    /// The node's architecture, from `uname -m` there (and checks it is Debian).
    async fn probe_host(&self, node: &str, ssh: &Remote) -> Result<String, crate::Error> {
        let out = ssh
            .run(
                "connecting",
                "uname -m; if [ -r /etc/debian_version ]; then cat /etc/debian_version; else echo none; fi",
                false,
            )
            .await?;
        let mut lines = out.lines();
        let arch = debian_arch(lines.next().unwrap_or_default());
        let debian = lines.next().unwrap_or("none").trim().to_owned();
        if debian == "none" {
            return Err(ProvisionError::Host {
                node: node.to_owned(),
                message: "not a Debian host (no /etc/debian_version): MCP provisions Debian".into(),
            }
            .into());
        }
        Ok(arch)
    }

    /// Provisions a node; returns every step. See the module documentation.
    pub async fn provision(
        &self,
        req: &ProvisionRequest,
        progress: StepProgress<'_>,
    ) -> Result<Vec<ProvisionStep>, crate::Error> {
        let config = self.config();
        let mut entry = config
            .nodes
            .iter()
            .find(|n| n.name == req.node)
            .cloned()
            .unwrap_or_else(|| NodeEntry {
                name: req.node.clone(),
                ..Default::default()
            });
        if let Some(a) = &req.address {
            entry.address = Some(a.clone());
        }
        if let Some(s) = &req.ssh {
            entry.ssh = Some(s.clone());
        }
        if let Some(r) = req.role {
            entry.role = Some(r);
        }
        let address = entry.address.clone().ok_or_else(|| {
            ProvisionError::Settings(format!(
                "node {}: where will its agent listen? give --address HOST:PORT",
                entry.name
            ))
        })?;
        let listen: std::net::SocketAddr = address.parse().map_err(|_| {
            ProvisionError::Settings(format!(
                "node {}: --address {address:?} is not IP:PORT (the agent binds it)",
                entry.name
            ))
        })?;
        let (ssh, layout) = target_of(config, &entry)?;
        let p = &config.provision;
        let dry = req.dry_run;
        let pending = if dry {
            StepState::WouldChange
        } else {
            StepState::Changed
        };
        let mut steps = Steps {
            done: Vec::new(),
            progress,
        };

        // settings, checked before the node is even asked
        let (ca_pem, ca_key_pem) = {
            let ca = config.tls.ca_cert.as_ref().ok_or_else(|| {
                ProvisionError::Settings("[tls] ca_cert is not set: the platform CA".into())
            })?;
            let key = p.ca_key.as_ref().ok_or_else(|| {
                ProvisionError::Settings(
                    "[provision] ca_key is not set: the platform CA's key issues the agent's certificate"
                        .into(),
                )
            })?;
            (read_text("CA certificate", ca)?, read_text("CA key", key)?)
        };
        let auth = self.agent_auth(&entry, listen)?;

        // connect
        let arch = self.probe_host(&entry.name, &ssh).await?;
        if let Some(a) = &entry.arch
            && *a != arch
        {
            return Err(ProvisionError::Host {
                node: entry.name.clone(),
                message: format!("configured as {a}, but the host is {arch}"),
            }
            .into());
        }
        entry.arch = Some(arch.clone());
        steps.report(
            "connect",
            StepState::Unchanged,
            format!("{} (Debian, {arch})", ssh.ssh.destination),
        );

        // binary available
        let build = self.agent_build(&entry.name, &arch)?;
        let build_sha = sha256_of(&build)?;
        steps.report(
            "build",
            StepState::Unchanged,
            format!("{} (sha256 {})", build.display(), short(&build_sha)),
        );

        let user = p.user.clone();

        // user
        let passwd = layout.etc("passwd");
        let exists = format!("grep -q {} {}", quote(&format!("^{user}:")), quote(&passwd));
        if ssh.test("checking the user", &exists).await? {
            steps.report("user", StepState::Unchanged, format!("{user} exists"));
        } else {
            if !dry {
                let add = format!(
                    "useradd{} --system --user-group --home-dir /srv/mcp --no-create-home --shell /usr/sbin/nologin {}",
                    layout.prefix(),
                    quote(&user)
                );
                ssh.run("creating the user", &add, true).await?;
            }
            steps.report("user", pending, format!("create system user {user}"));
        }

        // subordinate ids
        let (subuid, subgid) = (quote(&layout.etc("subuid")), quote(&layout.etc("subgid")));
        let line = quote(&format!("^{user}:"));
        let has = format!("grep -qs {line} {subuid} && grep -qs {line} {subgid}");
        if ssh.test("checking subordinate ids", &has).await? {
            steps.report(
                "subids",
                StepState::Unchanged,
                format!("{user} has subordinate ids"),
            );
        } else {
            if !dry {
                let add = format!(
                    "touch {subuid} {subgid} && usermod{} --add-subuids {r} --add-subgids {r} {}",
                    layout.prefix(),
                    quote(&user),
                    r = quote(&p.subids),
                );
                ssh.run("adding subordinate ids", &add, true).await?;
            }
            steps.report(
                "subids",
                pending,
                format!("subordinate uids and gids {} for {user}", p.subids),
            );
        }

        // lingering (rootless Podman keeps running without a login session)
        if layout.root != Path::new("/") {
            steps.report(
                "linger",
                StepState::Skipped,
                format!("not for a node under {}", layout.root.display()),
            );
        } else if !ssh
            .test("checking for logind", "command -v loginctl >/dev/null")
            .await?
        {
            steps.report(
                "linger",
                StepState::Skipped,
                "no systemd-logind on the host".into(),
            );
        } else if ssh
            .test(
                "checking lingering",
                &format!(
                    "[ -e {} ]",
                    quote(&format!("/var/lib/systemd/linger/{user}"))
                ),
            )
            .await?
        {
            steps.report("linger", StepState::Unchanged, format!("{user} lingers"));
        } else {
            if !dry {
                let enable = format!("loginctl enable-linger {}", quote(&user));
                ssh.run("enabling lingering", &enable, true).await?;
            }
            steps.report("linger", pending, format!("loginctl enable-linger {user}"));
        }

        // directories
        let lookup = format!(
            "awk -F: -v u={} '$1==u {{print $3\":\"$4}}' {}",
            quote(&user),
            quote(&passwd)
        );
        let owner = ssh.run("looking up the user", &lookup, false).await?;
        let owner = Some(owner.trim().to_owned()).filter(|o| !o.is_empty());
        let stat = format!(
            "stat -c %u:%g {} 2>/dev/null || echo none",
            quote(&layout.dir())
        );
        let current = ssh.run("checking /srv/mcp", &stat, false).await?;
        if owner.as_deref() == Some(current.trim()) {
            steps.report("directories", StepState::Unchanged, layout.dir());
        } else {
            if let (false, Some((uid, gid))) =
                (dry, owner.as_deref().and_then(|o| o.split_once(':')))
            {
                let make = format!(
                    "install -d -m 0755 {} && install -d -m 0750 -o {uid} -g {gid} {}",
                    quote(&layout.srv()),
                    quote(&layout.dir())
                );
                ssh.run("creating /srv/mcp", &make, true).await?;
            }
            steps.report(
                "directories",
                pending,
                format!("{} owned by {user}", layout.dir()),
            );
        }
        let owner = owner.as_deref();

        // TLS material
        let host = mcp_model::config::host_of(&address);
        let mut names: Vec<String> = Vec::new();
        for n in [host, entry.name.as_str(), "localhost"] {
            if !names.iter().any(|m| m == n) {
                names.push(n.to_owned());
            }
        }
        let names_text = names.join(" ") + "\n";
        let issued_for = ssh.read(&layout.file("agent.names")).await?;
        let trusted = ssh.read(&layout.file("ca.pem")).await?;
        if trusted.as_deref() == Some(ca_pem.as_bytes())
            && issued_for.as_deref() == Some(names_text.as_bytes())
        {
            steps.report(
                "tls",
                StepState::Unchanged,
                format!("certificate for {}", names.join(", ")),
            );
        } else {
            if !dry {
                let ca = mcp_platform::pki::CertifiedKey {
                    cert_pem: ca_pem.clone(),
                    key_pem: ca_key_pem.clone(),
                };
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let cert = mcp_platform::pki::issue_server_cert(&ca, &refs)?;
                let chain = format!("{}{ca_pem}", cert.cert_pem);
                for (file, contents, mode) in [
                    ("ca.pem", ca_pem.as_str(), 0o644),
                    ("agent.pem", chain.as_str(), 0o644),
                    ("agent.key", cert.key_pem.as_str(), 0o600),
                    ("agent.names", names_text.as_str(), 0o644),
                ] {
                    ssh.write(&layout.file(file), contents.as_bytes(), mode, owner)
                        .await?;
                }
            }
            steps.report(
                "tls",
                pending,
                format!("certificate for {} from the platform CA", names.join(", ")),
            );
        }

        // the agent's credentials, configuration and unit (the unit is root's)
        let mut files = Vec::new();
        match &auth {
            AgentAuth::TokenFile(token) => files.push((
                "token",
                layout.file("admin-token"),
                format!("{token}\n").into_bytes(),
                0o600,
                owner,
            )),
            AgentAuth::Mcias { ca: Some(ca), .. } => files.push((
                "mcias-ca",
                layout.file("mcias-ca.pem"),
                ca.clone().into_bytes(),
                0o644,
                owner,
            )),
            AgentAuth::Mcias { ca: None, .. } => {}
        }
        files.push((
            "config",
            layout.file("mcp-agent.toml"),
            self.render_agent_config(&entry, listen, &layout, &auth)?
                .into_bytes(),
            0o640,
            owner,
        ));
        files.push((
            "unit",
            layout.unit(),
            render_unit(&layout, &user).into_bytes(),
            0o644,
            None,
        ));
        for (step, path, contents, mode, owner) in files {
            if ssh.read(&path).await?.as_deref() == Some(contents.as_slice()) {
                steps.report(step, StepState::Unchanged, path);
                continue;
            }
            if !dry {
                ssh.write(&path, &contents, mode, owner).await?;
            }
            steps.report(step, pending, path);
        }

        // binary
        let binary = layout.file("mcp-agent");
        let installed = ssh.sha256(&binary).await?;
        if installed.as_deref() == Some(build_sha.as_str()) {
            steps.report("binary", StepState::Unchanged, binary.clone());
        } else {
            let detail = if dry {
                format!("install {}", build.display())
            } else {
                let version = install_binary(&ssh, &layout, &build, &build_sha, false).await?;
                format!("{binary} ({version})")
            };
            steps.report("binary", pending, detail);
        }

        // start
        let registered = NodeEntry {
            address: Some(address.clone()),
            ..entry.clone()
        };
        let running = self.running_build(&registered).await;
        if running.as_deref() == Some(build_sha.as_str()) {
            steps.report(
                "start",
                StepState::Unchanged,
                format!("running on {address}"),
            );
        } else {
            let restart = entry.restart_command.as_ref().unwrap_or(&p.restart_command);
            if !dry {
                ssh.run("restarting the agent", restart, true).await?;
                self.wait_for_build(&registered, &build_sha).await?;
            }
            steps.report("start", pending, format!("{restart} on {address}"));
        }

        // register
        let current = config.nodes.iter().find(|n| n.name == entry.name);
        if current == Some(&registered) {
            steps.report(
                "register",
                StepState::Unchanged,
                format!("in {}", self.path().display()),
            );
        } else {
            if !dry {
                mcp_model::config::add_node(self.path(), &registered)?;
            }
            steps.report(
                "register",
                pending,
                format!("[[nodes]] {} in {}", entry.name, self.path().display()),
            );
        }
        Ok(steps.done)
    }

    /// How a provisioned agent authenticates its callers.
    fn agent_auth(
        &self,
        entry: &NodeEntry,
        listen: std::net::SocketAddr,
    ) -> Result<AgentAuth, crate::Error> {
        let config = self.config();
        match config.provision.auth.as_str() {
            "mcias" => Ok(AgentAuth::Mcias {
                url: config.mcias.server_url.clone(),
                ca: config
                    .mcias
                    .ca_cert
                    .as_ref()
                    .map(|p| read_text("MCIAS CA", p))
                    .transpose()?,
            }),
            "token-file" => {
                if !listen.ip().is_loopback() {
                    return Err(ProvisionError::Settings(format!(
                        "node {}: [provision] auth = \"token-file\" only works for an agent on loopback (it would listen on {listen}); use \"mcias\"",
                        entry.name
                    ))
                    .into());
                }
                let token = read_text("token", &config.token_path())?;
                Ok(AgentAuth::TokenFile(token.trim().to_owned()))
            }
            other => Err(ProvisionError::Settings(format!(
                "[provision] auth = {other:?}: mcias or token-file"
            ))
            .into()),
        }
    }

    /// The agent's configuration: the operator's `[provision] agent_config` with
    /// this node's server, node, database, auth and paths set over it.
    fn render_agent_config(
        &self,
        entry: &NodeEntry,
        listen: std::net::SocketAddr,
        layout: &Layout,
        auth: &AgentAuth,
    ) -> Result<String, crate::Error> {
        let config = self.config();
        let read = |p: &Option<PathBuf>| -> Result<toml_edit::DocumentMut, crate::Error> {
            let Some(p) = p else {
                return Ok(toml_edit::DocumentMut::new());
            };
            let text = read_text("agent configuration", p)?;
            text.parse().map_err(|e: toml_edit::TomlError| {
                ProvisionError::Settings(format!("{}: {e}", p.display())).into()
            })
        };
        let mut doc = read(&config.provision.agent_config)?;
        // The node's own file goes over the fleet's, key by key.
        for (section, item) in read(&entry.agent_config)?.iter() {
            match (
                doc.get_mut(section).and_then(|i| i.as_table_mut()),
                item.as_table(),
            ) {
                (Some(base), Some(over)) => {
                    for (k, v) in over.iter() {
                        base.insert(k, v.clone());
                    }
                }
                _ => {
                    doc.insert(section, item.clone());
                }
            }
        }
        let mut set = |section: &str, key: &str, value: toml_edit::Value| {
            let table = doc
                .entry(section)
                .or_insert_with(toml_edit::table)
                .as_table_mut();
            if let Some(t) = table {
                t.insert(key, toml_edit::value(value));
            }
        };
        set("server", "listen", listen.to_string().into());
        set("server", "tls_cert", layout.file("agent.pem").into());
        set("server", "tls_key", layout.file("agent.key").into());
        set("node", "name", entry.name.clone().into());
        set(
            "node",
            "role",
            entry.role.unwrap_or_default().as_str().into(),
        );
        set("database", "path", layout.file("mcp.db").into());
        match auth {
            AgentAuth::TokenFile(_) => {
                set("auth", "mode", "token-file".into());
                set("auth", "token_file", layout.file("admin-token").into());
            }
            AgentAuth::Mcias { url, ca } => {
                set("auth", "mode", "mcias".into());
                set("mcias", "server_url", url.clone().into());
                if ca.is_some() {
                    set("mcias", "ca_cert", layout.file("mcias-ca.pem").into());
                }
            }
        }
        if layout.root != Path::new("/") {
            set("conventions", "data_root", layout.srv().into());
        }
        Ok(doc.to_string())
    }

    /// The build the node's agent runs now, if it answers.
    async fn running_build(&self, entry: &NodeEntry) -> Option<String> {
        let mut endpoint =
            crate::client::AgentEndpoint::of_entry(self.config(), entry, self.path()).ok()?;
        endpoint.connect_timeout = Duration::from_secs(2);
        let mut c = crate::client::AgentClient::connect(&endpoint).await.ok()?;
        c.node_status().await.ok().map(|i| i.build)
    }

    /// Waits until the node's agent answers with build `sha`.
    async fn wait_for_build(&self, entry: &NodeEntry, sha: &str) -> Result<(), crate::Error> {
        let timeout = Duration::from_secs(self.config().provision.start_timeout_secs);
        let start = Instant::now();
        let mut last = None;
        while start.elapsed() < timeout {
            last = self.running_build(entry).await;
            if last.as_deref() == Some(sha) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(ProvisionError::NotUp {
            node: entry.name.clone(),
            message: match last {
                None => format!("the agent did not answer within {} s", timeout.as_secs()),
                Some(b) => format!(
                    "the agent answers, but runs build {} instead of {}",
                    short(&b),
                    short(sha)
                ),
            },
        }
        .into())
    }

    /// Upgrades the agents of `node` (or of every node), one node after another;
    /// a node that fails does not stop the others.
    pub async fn upgrade_agents(
        &self,
        node: Option<&str>,
        progress: NodeStepProgress<'_>,
    ) -> Result<crate::results::NodeResults<Vec<ProvisionStep>>, crate::Error> {
        let mut each = Vec::new();
        for n in self.nodes(node)? {
            let mut show = |s: &ProvisionStep| progress(&n, s);
            let steps = self.upgrade_agent(&n, &mut show).await;
            each.push((n, steps));
        }
        Ok(crate::results::NodeResults::from_each(each))
    }

    /// Upgrades the agent of `node` to the build for its architecture; returns
    /// every step. See the module documentation.
    pub async fn upgrade_agent(
        &self,
        node: &str,
        progress: StepProgress<'_>,
    ) -> Result<Vec<ProvisionStep>, crate::Error> {
        let entry = self.config().node(node, self.path())?.clone();
        let (ssh, layout) = target_of(self.config(), &entry)?;
        let mut steps = Steps {
            done: Vec::new(),
            progress,
        };
        // An agent that does not answer (a broken one, say) is upgraded all the
        // same: the new build is what brings it back.
        let before = match self.client(node).await {
            Ok(mut c) => c.node_status().await.ok(),
            Err(_) => None,
        };
        steps.report(
            "status",
            StepState::Unchanged,
            match &before {
                Some(b) => format!("{} (build {})", b.version, short(&b.build)),
                None => "the agent does not answer; upgrading anyway".into(),
            },
        );
        let arch = match &entry.arch {
            Some(a) => a.clone(),
            None => self.probe_host(node, &ssh).await?,
        };
        let build = self.agent_build(node, &arch)?;
        let sha = sha256_of(&build)?;
        steps.report(
            "build",
            StepState::Unchanged,
            format!("{} for {arch} (build {})", build.display(), short(&sha)),
        );
        if before.as_ref().is_some_and(|b| b.build == sha) {
            steps.report(
                "install",
                StepState::Unchanged,
                "already running this build".into(),
            );
            return Ok(steps.done);
        }
        let version = install_binary(&ssh, &layout, &build, &sha, true).await?;
        steps.report(
            "install",
            StepState::Changed,
            format!(
                "{} ({version}); previous kept as mcp-agent.old",
                layout.file("mcp-agent")
            ),
        );
        let restart = entry
            .restart_command
            .as_ref()
            .unwrap_or(&self.config().provision.restart_command);
        ssh.run("restarting the agent", restart, true).await?;
        steps.report("restart", StepState::Changed, restart.clone());
        if let Err(e) = self.wait_for_build(&entry, &sha).await {
            let previous = before.as_ref().map(|b| b.build.as_str());
            let back = self
                .roll_back(&ssh, &layout, &entry, restart, previous)
                .await
                .map_or_else(|e| format!("NOT put back: {e}"), str::to_owned);
            return Err(ProvisionError::NotUp {
                node: node.to_owned(),
                message: format!("{e}; the previous agent was {back}"),
            }
            .into());
        }
        let after = self.client(node).await?.node_status().await?;
        steps.report(
            "verify",
            StepState::Changed,
            format!(
                "{} → {} (build {})",
                before.map_or_else(|| "?".to_owned(), |b| b.version),
                after.version,
                short(&after.build)
            ),
        );
        Ok(steps.done)
    }

    /// Puts `mcp-agent.old` back in place and restarts it; waits for it to report
    /// `previous` (when known).
    async fn roll_back(
        &self,
        ssh: &Remote,
        layout: &Layout,
        entry: &NodeEntry,
        restart: &str,
        previous: Option<&str>,
    ) -> Result<&'static str, crate::Error> {
        let back = format!(
            "mv -f {} {}",
            quote(&layout.file("mcp-agent.old")),
            quote(&layout.file("mcp-agent"))
        );
        ssh.run("putting the previous agent back", &back, true)
            .await?;
        ssh.run("restarting the agent", restart, true).await?;
        match previous {
            Some(build) => {
                self.wait_for_build(entry, build).await?;
                Ok("put back and restarted")
            }
            None => Ok("put back and restarted (it did not answer before either)"),
        }
    }
}

/// How a provisioned agent authenticates its callers.
#[derive(Debug, Clone)]
enum AgentAuth {
    TokenFile(String),
    Mcias { url: String, ca: Option<String> },
}

/// The first 12 hex digits of a build id.
pub fn short(build: &str) -> &str {
    build.get(..12).unwrap_or(build)
}

/// The systemd unit of the agent.
fn render_unit(layout: &Layout, user: &str) -> String {
    format!(
        "# Written by mcp node provision.\n\
         [Unit]\n\
         Description=MCP agent (Metacircular Control Plane)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\n\
         [Service]\n\
         User={user}\n\
         ExecStart={bin} serve --config {config}\n\
         Restart=on-failure\n\
         # Containers are Podman's (conmon), not the agent's: they keep running\n\
         # when the agent stops or is upgraded.\n\
         KillMode=process\n\
         Delegate=yes\n\n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        bin = layout.file("mcp-agent"),
        config = layout.file("mcp-agent.toml"),
    )
}

/// The SHA-256 of `path` there, `None` when it does not exist.
fn remote_sha256(t: &SshTarget, path: &str) -> Result<Option<String>, SshError> {
    let out = t.run(
        &format!("hashing {path}"),
        &format!(
            "if [ -e {p} ]; then sha256sum {p} | cut -c1-64; else echo none; fi",
            p = quote(path)
        ),
        true,
    )?;
    let h = out.trim();
    Ok((h != "none").then(|| h.to_owned()))
}

/// Copies `build` to `mcp-agent.new` there, checks its SHA-256 and that it runs
/// (`--version`), keeps the current binary as `mcp-agent.old` when `keep_old`,
/// and renames the new one into place. Returns what `--version` said.
async fn install_binary(
    ssh: &Remote,
    layout: &Layout,
    build: &Path,
    sha: &str,
    keep_old: bool,
) -> Result<String, crate::Error> {
    let bytes = std::fs::read(build).map_err(|e| ConfigError::File {
        what: "agent build",
        path: build.to_owned(),
        message: e.to_string(),
    })?;
    let (t, l, sha) = (ssh.ssh.clone(), layout.clone(), sha.to_owned());
    remote(move || {
        let new = l.file("mcp-agent.new");
        t.write_file(&new, &bytes, 0o755, None)?;
        match remote_sha256(&t, &new)? {
            Some(h) if h == sha => {}
            other => {
                return Err(SshError::Failed {
                    destination: t.destination.clone(),
                    what: format!("checking {new}"),
                    status: 1,
                    message: format!(
                        "SHA-256 {} after the copy, expected {sha}",
                        other.unwrap_or_default()
                    ),
                });
            }
        }
        let version = t
            .run(
                &format!("running {new} --version"),
                &format!("{} --version", quote(&new)),
                true,
            )?
            .trim()
            .to_owned();
        let keep = if keep_old {
            format!(
                "if [ -e {cur} ]; then cp -p {cur} {old}; fi && ",
                cur = quote(&l.file("mcp-agent")),
                old = quote(&l.file("mcp-agent.old"))
            )
        } else {
            String::new()
        };
        t.run(
            "putting the new agent in place",
            &format!(
                "{keep}mv -f {} {}",
                quote(&new),
                quote(&l.file("mcp-agent"))
            ),
            true,
        )?;
        Ok(version)
    })
    .await
}

/// The SHA-256 of an agent build.
fn sha256_of(build: &Path) -> Result<String, ProvisionError> {
    mcp_model::fsutil::sha256_file(build).map_err(|e| ProvisionError::Local {
        what: "agent build",
        path: build.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures() {
        assert_eq!(debian_arch("x86_64\n"), "amd64");
        assert_eq!(debian_arch("aarch64"), "arm64");
        assert_eq!(debian_arch("riscv64"), "riscv64");
    }

    #[test]
    fn layout_under_a_root() {
        let l = Layout {
            root: "/tmp/x".into(),
        };
        assert_eq!(l.file("mcp-agent"), "/tmp/x/srv/mcp/mcp-agent");
        assert_eq!(l.unit(), "/tmp/x/etc/systemd/system/mcp-agent.service");
        assert_eq!(l.prefix(), " --prefix '/tmp/x'");
        let l = Layout { root: "/".into() };
        assert_eq!(l.file("mcp.db"), "/srv/mcp/mcp.db");
        assert_eq!(l.prefix(), "");
    }
}
