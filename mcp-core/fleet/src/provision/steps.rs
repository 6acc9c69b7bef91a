//! The provisioning steps, one function each, in order: connect, build, user,
//! subids, linger, directories, tls, the agent's files (token or MCIAS CA,
//! config, unit), binary, start, register. Each checks first and acts only when
//! the node differs (never with `--dry-run`), and reports what it found or did.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mcp_model::config::{NodeEntry, read_text};

use super::render::{AgentAuth, render_unit};
use super::target::{Layout, Remote, target_of};
use super::upgrade::install_binary;
use super::{
    ProvisionError, ProvisionRequest, Provisioned, StepProgress, StepState, Steps, sha256_of, short,
};
use crate::fleet::Fleet;
use crate::ssh::quote;

/// One provisioning in progress: the node as it will be registered, where and
/// how it is reached, and the steps so far.
struct Provisioning<'f> {
    fleet: &'f Fleet,
    entry: NodeEntry,
    address: String,
    ssh: Remote,
    layout: Layout,
    /// Only check.
    dry: bool,
    steps: Steps<'f>,
    auth: AgentAuth,
    ca_pem: String,
    ca_key_pem: String,
    user: String,
    /// `uid:gid` of the user, once it exists.
    owner: Option<String>,
    build: PathBuf,
    build_sha: String,
}

impl Fleet {
    /// Provisions a node; returns every step. See the module documentation.
    pub async fn provision(
        &self,
        req: &ProvisionRequest,
        progress: StepProgress<'_>,
    ) -> Result<Provisioned, crate::Error> {
        let mut p = Provisioning::new(self, req, progress)?;
        p.connect().await?;
        p.user().await?;
        p.subids().await?;
        p.linger().await?;
        p.directories().await?;
        p.tls().await?;
        p.files().await?;
        p.binary().await?;
        p.start().await?;
        p.register()?;
        Ok(Provisioned {
            node: req.node.clone(),
            dry_run: req.dry_run,
            steps: p.steps.done,
        })
    }
}

impl<'f> Provisioning<'f> {
    /// The node `req` names, with its settings checked before it is asked
    /// anything.
    fn new(
        fleet: &'f Fleet,
        req: &ProvisionRequest,
        progress: StepProgress<'f>,
    ) -> Result<Self, crate::Error> {
        let config = fleet.config();
        let mut entry = config
            .nodes
            .iter()
            .find(|n| n.name == req.node)
            .cloned()
            .unwrap_or_else(|| NodeEntry {
                name: req.node.clone(),
                ..Default::default()
            });
        entry.address = req.address.clone().or(entry.address);
        entry.ssh = req.ssh.clone().or(entry.ssh);
        entry.role = req.role.or(entry.role);
        let (address, listen) = listen_address(&entry)?;
        let (ssh, layout) = target_of(config, &entry)?;
        let ca = config.tls.ca_cert.as_ref().ok_or_else(|| {
            ProvisionError::Settings("[tls] ca_cert is not set: the platform CA".into())
        })?;
        let key = config.provision.ca_key.as_ref().ok_or_else(|| {
            ProvisionError::Settings(
                "[provision] ca_key is not set: the platform CA's key issues the agent's certificate"
                    .into(),
            )
        })?;
        let auth = fleet.agent_auth(&entry, listen)?;
        Ok(Provisioning {
            fleet,
            address,
            ssh,
            layout,
            dry: req.dry_run,
            steps: Steps {
                done: Vec::new(),
                progress,
            },
            auth,
            ca_pem: read_text("CA certificate", ca)?,
            ca_key_pem: read_text("CA key", key)?,
            user: config.provision.user.clone(),
            owner: None,
            build: PathBuf::new(),
            build_sha: String::new(),
            entry,
        })
    }

    /// What a step that changes something says: it changed it, or would.
    fn pending(&self) -> StepState {
        if self.dry {
            StepState::WouldChange
        } else {
            StepState::Changed
        }
    }

    /// Steps connect and build: the host is Debian, of the configured
    /// architecture, and there is an agent build for it.
    async fn connect(&mut self) -> Result<(), crate::Error> {
        let arch = self.fleet.probe_host(&self.entry.name, &self.ssh).await?;
        if let Some(a) = &self.entry.arch
            && *a != arch
        {
            return Err(ProvisionError::Host {
                node: self.entry.name.clone(),
                message: format!("configured as {a}, but the host is {arch}"),
            }
            .into());
        }
        self.entry.arch = Some(arch.clone());
        let destination = self.ssh.ssh.destination.clone();
        self.steps.report(
            "connect",
            StepState::Unchanged,
            format!("{destination} (Debian, {arch})"),
        );
        self.build = self.fleet.agent_build(&self.entry.name, &arch)?;
        self.build_sha = sha256_of(&self.build)?;
        let detail = format!(
            "{} (sha256 {})",
            self.build.display(),
            short(&self.build_sha)
        );
        self.steps.report("build", StepState::Unchanged, detail);
        Ok(())
    }

    /// Step user: the system user the agent and rootless Podman run as.
    async fn user(&mut self) -> Result<(), crate::Error> {
        let user = self.user.clone();
        let passwd = self.layout.etc("passwd");
        let exists = format!("grep -q {} {}", quote(&format!("^{user}:")), quote(&passwd));
        if self.ssh.test("checking the user", &exists).await? {
            self.steps
                .report("user", StepState::Unchanged, format!("{user} exists"));
            return Ok(());
        }
        if !self.dry {
            let add = format!(
                "useradd{} --system --user-group --home-dir /srv/mcp --no-create-home --shell /usr/sbin/nologin {}",
                self.layout.prefix(),
                quote(&user)
            );
            self.ssh.run("creating the user", &add, true).await?;
        }
        let state = self.pending();
        self.steps
            .report("user", state, format!("create system user {user}"));
        Ok(())
    }

    /// Step subids: subordinate uids and gids for rootless Podman.
    async fn subids(&mut self) -> Result<(), crate::Error> {
        let user = self.user.clone();
        let subuid = quote(&self.layout.etc("subuid"));
        let subgid = quote(&self.layout.etc("subgid"));
        let line = quote(&format!("^{user}:"));
        let has = format!("grep -qs {line} {subuid} && grep -qs {line} {subgid}");
        if self.ssh.test("checking subordinate ids", &has).await? {
            let detail = format!("{user} has subordinate ids");
            self.steps.report("subids", StepState::Unchanged, detail);
            return Ok(());
        }
        let range = self.fleet.config().provision.subids.clone();
        if !self.dry {
            let add = format!(
                "touch {subuid} {subgid} && usermod{} --add-subuids {r} --add-subgids {r} {}",
                self.layout.prefix(),
                quote(&user),
                r = quote(&range),
            );
            self.ssh.run("adding subordinate ids", &add, true).await?;
        }
        let state = self.pending();
        let detail = format!("subordinate uids and gids {range} for {user}");
        self.steps.report("subids", state, detail);
        Ok(())
    }

    /// Step linger: rootless Podman keeps running without a login session
    /// (where systemd-logind is there).
    async fn linger(&mut self) -> Result<(), crate::Error> {
        let user = self.user.clone();
        if self.layout.root != Path::new("/") {
            let detail = format!("not for a node under {}", self.layout.root.display());
            self.steps.report("linger", StepState::Skipped, detail);
            return Ok(());
        }
        let logind = "command -v loginctl >/dev/null";
        if !self.ssh.test("checking for logind", logind).await? {
            let detail = "no systemd-logind on the host".into();
            self.steps.report("linger", StepState::Skipped, detail);
            return Ok(());
        }
        let lingers = format!(
            "[ -e {} ]",
            quote(&format!("/var/lib/systemd/linger/{user}"))
        );
        if self.ssh.test("checking lingering", &lingers).await? {
            self.steps
                .report("linger", StepState::Unchanged, format!("{user} lingers"));
            return Ok(());
        }
        if !self.dry {
            let enable = format!("loginctl enable-linger {}", quote(&user));
            self.ssh.run("enabling lingering", &enable, true).await?;
        }
        let state = self.pending();
        self.steps
            .report("linger", state, format!("loginctl enable-linger {user}"));
        Ok(())
    }

    /// Step directories: `/srv/mcp`, owned by the user.
    async fn directories(&mut self) -> Result<(), crate::Error> {
        let lookup = format!(
            "awk -F: -v u={} '$1==u {{print $3\":\"$4}}' {}",
            quote(&self.user),
            quote(&self.layout.etc("passwd"))
        );
        let owner = self.ssh.run("looking up the user", &lookup, false).await?;
        self.owner = Some(owner.trim().to_owned()).filter(|o| !o.is_empty());
        let dir = self.layout.dir();
        let stat = format!("stat -c %u:%g {} 2>/dev/null || echo none", quote(&dir));
        let current = self.ssh.run("checking /srv/mcp", &stat, false).await?;
        if self.owner.as_deref() == Some(current.trim()) {
            self.steps.report("directories", StepState::Unchanged, dir);
            return Ok(());
        }
        if let (false, Some((uid, gid))) = (
            self.dry,
            self.owner.as_deref().and_then(|o| o.split_once(':')),
        ) {
            let make = format!(
                "install -d -m 0755 {} && install -d -m 0750 -o {uid} -g {gid} {}",
                quote(&self.layout.srv()),
                quote(&dir)
            );
            self.ssh.run("creating /srv/mcp", &make, true).await?;
        }
        let state = self.pending();
        let detail = format!("{dir} owned by {}", self.user);
        self.steps.report("directories", state, detail);
        Ok(())
    }

    /// Step tls: the agent's certificate, issued from the platform CA for its
    /// host, its name and `localhost`.
    async fn tls(&mut self) -> Result<(), crate::Error> {
        let host = mcp_model::config::host_of(&self.address);
        let mut names: Vec<String> = Vec::new();
        for n in [host, self.entry.name.as_str(), "localhost"] {
            if !names.iter().any(|m| m == n) {
                names.push(n.to_owned());
            }
        }
        let names_text = names.join(" ") + "\n";
        let issued_for = self.ssh.read(&self.layout.file("agent.names")).await?;
        let trusted = self.ssh.read(&self.layout.file("ca.pem")).await?;
        if trusted.as_deref() == Some(self.ca_pem.as_bytes())
            && issued_for.as_deref() == Some(names_text.as_bytes())
        {
            let detail = format!("certificate for {}", names.join(", "));
            self.steps.report("tls", StepState::Unchanged, detail);
            return Ok(());
        }
        if !self.dry {
            self.issue_certificate(&names, &names_text).await?;
        }
        let state = self.pending();
        let detail = format!("certificate for {} from the platform CA", names.join(", "));
        self.steps.report("tls", state, detail);
        Ok(())
    }

    async fn issue_certificate(
        &self,
        names: &[String],
        names_text: &str,
    ) -> Result<(), crate::Error> {
        let ca = mcp_platform::pki::CertifiedKey {
            cert_pem: self.ca_pem.clone(),
            key_pem: self.ca_key_pem.clone(),
        };
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let cert = mcp_platform::pki::issue_server_cert(&ca, &refs)?;
        let chain = format!("{}{}", cert.cert_pem, self.ca_pem);
        for (file, contents, mode) in [
            ("ca.pem", self.ca_pem.as_str(), 0o644),
            ("agent.pem", chain.as_str(), 0o644),
            ("agent.key", cert.key_pem.as_str(), 0o600),
            ("agent.names", names_text, 0o644),
        ] {
            let path = self.layout.file(file);
            self.ssh
                .write(&path, contents.as_bytes(), mode, self.owner.as_deref())
                .await?;
        }
        Ok(())
    }

    /// Steps token or mcias-ca, config and unit: the agent's credentials, its
    /// configuration and its systemd unit (the unit is root's).
    async fn files(&mut self) -> Result<(), crate::Error> {
        let owner = self.owner.clone();
        let mut files = Vec::new();
        match &self.auth {
            AgentAuth::TokenFile(token) => {
                let contents = format!("{token}\n").into_bytes();
                files.push((
                    "token",
                    self.layout.file("admin-token"),
                    contents,
                    0o600,
                    owner.clone(),
                ));
            }
            AgentAuth::Mcias { ca: Some(ca), .. } => {
                let contents = ca.clone().into_bytes();
                files.push((
                    "mcias-ca",
                    self.layout.file("mcias-ca.pem"),
                    contents,
                    0o644,
                    owner.clone(),
                ));
            }
            AgentAuth::Mcias { ca: None, .. } => {}
        }
        let listen = listen_address(&self.entry)?.1;
        let config =
            self.fleet
                .render_agent_config(&self.entry, listen, &self.layout, &self.auth)?;
        files.push((
            "config",
            self.layout.file("mcp-agent.toml"),
            config.into_bytes(),
            0o640,
            owner,
        ));
        let unit = render_unit(&self.layout, &self.user).into_bytes();
        files.push(("unit", self.layout.unit(), unit, 0o644, None));
        for (step, path, contents, mode, owner) in files {
            if self.ssh.read(&path).await?.as_deref() == Some(contents.as_slice()) {
                self.steps.report(step, StepState::Unchanged, path);
                continue;
            }
            if !self.dry {
                self.ssh
                    .write(&path, &contents, mode, owner.as_deref())
                    .await?;
            }
            let state = self.pending();
            self.steps.report(step, state, path);
        }
        Ok(())
    }

    /// Step binary: the agent build installed as `/srv/mcp/mcp-agent`.
    async fn binary(&mut self) -> Result<(), crate::Error> {
        let binary = self.layout.file("mcp-agent");
        let installed = self.ssh.sha256(&binary).await?;
        if installed.as_deref() == Some(self.build_sha.as_str()) {
            self.steps.report("binary", StepState::Unchanged, binary);
            return Ok(());
        }
        let detail = if self.dry {
            format!("install {}", self.build.display())
        } else {
            let version =
                install_binary(&self.ssh, &self.layout, &self.build, &self.build_sha, false)
                    .await?;
            format!("{binary} ({version})")
        };
        let state = self.pending();
        self.steps.report("binary", state, detail);
        Ok(())
    }

    /// The node's entry as it will be registered.
    fn registered(&self) -> NodeEntry {
        NodeEntry {
            address: Some(self.address.clone()),
            ..self.entry.clone()
        }
    }

    /// Step start: the agent runs this build (restarted with the node's
    /// privileged command when it does not).
    async fn start(&mut self) -> Result<(), crate::Error> {
        let registered = self.registered();
        let address = self.address.clone();
        let running = self.fleet.running_build(&registered).await;
        if running.as_deref() == Some(self.build_sha.as_str()) {
            let detail = format!("running on {address}");
            self.steps.report("start", StepState::Unchanged, detail);
            return Ok(());
        }
        let provision = &self.fleet.config().provision;
        let restart = self
            .entry
            .restart_command
            .clone()
            .unwrap_or_else(|| provision.restart_command.clone());
        if !self.dry {
            self.ssh.run("restarting the agent", &restart, true).await?;
            self.fleet
                .wait_for_build(&registered, &self.build_sha)
                .await?;
        }
        let state = self.pending();
        self.steps
            .report("start", state, format!("{restart} on {address}"));
        Ok(())
    }

    /// Step register: the node in the CLI configuration, as provisioned.
    fn register(&mut self) -> Result<(), crate::Error> {
        let registered = self.registered();
        let path = self.fleet.path().display().to_string();
        let current = self
            .fleet
            .config()
            .nodes
            .iter()
            .find(|n| n.name == registered.name);
        if current == Some(&registered) {
            self.steps
                .report("register", StepState::Unchanged, format!("in {path}"));
            return Ok(());
        }
        if !self.dry {
            mcp_model::config::add_node(self.fleet.path(), &registered)?;
        }
        let state = self.pending();
        let detail = format!("[[nodes]] {} in {path}", registered.name);
        self.steps.report("register", state, detail);
        Ok(())
    }
}

/// Where the node's agent will listen: its address, as text and as what it binds.
fn listen_address(entry: &NodeEntry) -> Result<(String, SocketAddr), ProvisionError> {
    let address = entry.address.clone().ok_or_else(|| {
        ProvisionError::Settings(format!(
            "node {}: where will its agent listen? give --address HOST:PORT",
            entry.name
        ))
    })?;
    let listen = address.parse().map_err(|_| {
        ProvisionError::Settings(format!(
            "node {}: --address {address:?} is not IP:PORT (the agent binds it)",
            entry.name
        ))
    })?;
    Ok((address, listen))
}
