//! Replacing a node's agent (`mcp agent upgrade`): the new build beside the old
//! one, checked (SHA-256, `--version`), the old one kept, renamed into place,
//! restarted with the node's privileged command, and verified by the build id
//! NodeStatus reports; rolled back when it does not come up. Also how any step
//! waits for an agent to answer with a given build.

use std::path::Path;
use std::time::{Duration, Instant};

use mcp_model::config::{ConfigError, NodeEntry};

use super::target::{Layout, Remote, remote, remote_sha256, target_of};
use super::{
    NodeStepProgress, ProvisionError, ProvisionStep, StepProgress, StepState, Steps, sha256_of,
    short,
};
use crate::fleet::Fleet;
use crate::ssh::{SshError, quote};

impl Fleet {
    /// The build the node's agent runs now, if it answers.
    pub(super) async fn running_build(&self, entry: &NodeEntry) -> Option<String> {
        let mut endpoint =
            crate::client::AgentEndpoint::of_entry(self.config(), entry, self.path()).ok()?;
        endpoint.connect_timeout = Duration::from_secs(2);
        let mut c = crate::client::AgentClient::connect(&endpoint).await.ok()?;
        c.node_status().await.ok().map(|i| i.build)
    }

    /// Waits until the node's agent answers with build `sha`.
    pub(super) async fn wait_for_build(
        &self,
        entry: &NodeEntry,
        sha: &str,
    ) -> Result<(), crate::Error> {
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
        let after = self
            .replace_agent(
                &entry,
                &ssh,
                &layout,
                &build,
                &sha,
                before.as_ref(),
                &mut steps,
            )
            .await?;
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

    /// Steps install and restart: `build` in place of the node's agent (the old
    /// one kept), restarted, and answering with its build; the previous agent is
    /// put back when it does not. What the new agent says about itself.
    #[allow(clippy::too_many_arguments)]
    async fn replace_agent(
        &self,
        entry: &NodeEntry,
        ssh: &Remote,
        layout: &Layout,
        build: &Path,
        sha: &str,
        before: Option<&mcp_model::view::NodeInfo>,
        steps: &mut Steps<'_>,
    ) -> Result<mcp_model::view::NodeInfo, crate::Error> {
        let version = install_binary(ssh, layout, build, sha, true).await?;
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
        if let Err(e) = self.wait_for_build(entry, sha).await {
            let previous = before.map(|b| b.build.as_str());
            let back = self
                .roll_back(ssh, layout, entry, restart, previous)
                .await
                .map_or_else(|e| format!("NOT put back: {e}"), str::to_owned);
            return Err(ProvisionError::NotUp {
                node: entry.name.clone(),
                message: format!("{e}; the previous agent was {back}"),
            }
            .into());
        }
        Ok(self.client(&entry.name).await?.node_status().await?)
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

/// Copies `build` to `mcp-agent.new` there, checks its SHA-256 and that it runs
/// (`--version`), keeps the current binary as `mcp-agent.old` when `keep_old`,
/// and renames the new one into place. Returns what `--version` said.
pub(super) async fn install_binary(
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
