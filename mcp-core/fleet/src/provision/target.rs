//! Where a node is and how its files lie: its SSH target ([`Remote`], each call
//! on a blocking thread) and its layout under its root ([`Layout`]: `/srv/mcp`,
//! the unit, `/etc`).

use std::path::{Path, PathBuf};

use mcp_model::config::{CliConfig, NodeEntry};

use super::ProvisionError;
use crate::ssh::{SshError, SshTarget, quote};

/// Where a node's files are, under its root.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) root: PathBuf,
}

impl Layout {
    pub(super) fn path(&self, p: &str) -> String {
        self.root
            .join(p.trim_start_matches('/'))
            .display()
            .to_string()
    }
    pub(super) fn srv(&self) -> String {
        self.path("/srv")
    }
    pub(super) fn dir(&self) -> String {
        self.path("/srv/mcp")
    }
    pub(super) fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir())
    }
    pub(super) fn etc(&self, name: &str) -> String {
        self.path(&format!("/etc/{name}"))
    }
    pub(super) fn unit(&self) -> String {
        self.path("/etc/systemd/system/mcp-agent.service")
    }
    /// `--prefix ROOT` for useradd/usermod, when not `/`.
    pub(super) fn prefix(&self) -> String {
        if self.root == Path::new("/") {
            String::new()
        } else {
            format!(" --prefix {}", quote(&self.root.display().to_string()))
        }
    }
}

/// One node's SSH target and layout, from its entry and the CLI configuration.
pub(super) fn target_of(
    config: &CliConfig,
    entry: &NodeEntry,
) -> Result<(Remote, Layout), ProvisionError> {
    let destination = entry.ssh.clone().ok_or_else(|| {
        ProvisionError::Settings(format!(
            "node {} has no ssh target: set `ssh` in its [[nodes]] entry (`mcp node provision --ssh DEST` records it)",
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
pub(super) struct Remote {
    pub(super) ssh: SshTarget,
}

impl Remote {
    /// [`SshTarget::run`].
    pub(super) async fn run(
        &self,
        what: &str,
        script: &str,
        privileged: bool,
    ) -> Result<String, crate::Error> {
        let (t, what, script) = (self.ssh.clone(), what.to_owned(), script.to_owned());
        remote(move || t.run(&what, &script, privileged)).await
    }

    /// Whether the shell condition `test` holds there.
    pub(super) async fn test(&self, what: &str, test: &str) -> Result<bool, crate::Error> {
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
    pub(super) async fn sha256(&self, path: &str) -> Result<Option<String>, crate::Error> {
        let (t, path) = (self.ssh.clone(), path.to_owned());
        remote(move || remote_sha256(&t, &path)).await
    }

    /// [`SshTarget::read_file`].
    pub(super) async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, crate::Error> {
        let (t, path) = (self.ssh.clone(), path.to_owned());
        remote(move || t.read_file(&path)).await
    }

    /// [`SshTarget::write_file`].
    pub(super) async fn write(
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
pub(super) async fn remote<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SshError> + Send + 'static,
) -> Result<T, crate::Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::Error::from(ProvisionError::Settings(format!("ssh task: {e}"))))?
        .map_err(crate::Error::from)
}

/// The SHA-256 of `path` there, `None` when it does not exist.
pub(super) fn remote_sha256(t: &SshTarget, path: &str) -> Result<Option<String>, SshError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
