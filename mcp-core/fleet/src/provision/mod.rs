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

mod render;
mod steps;
mod target;
mod upgrade;

use std::path::{Path, PathBuf};

use mcp_model::ErrorKind;
use mcp_model::view::NodeRole;

use crate::fleet::Fleet;
use target::Remote;

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

/// A provisioning, as reported: every step, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provisioned {
    /// The node.
    pub node: String,
    /// Whether only the checks ran.
    pub dry_run: bool,
    /// Each step and what it found or did.
    pub steps: Vec<ProvisionStep>,
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

pub use mcp_model::config::debian_arch;

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
}

/// The first 12 hex digits of a build id.
pub fn short(build: &str) -> &str {
    build.get(..12).unwrap_or(build)
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
}
