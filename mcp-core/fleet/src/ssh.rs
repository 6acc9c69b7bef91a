//! Running commands on a node over SSH, for provisioning and agent upgrades: the
//! system OpenSSH client (`ssh`), so the operator's `~/.ssh/config`, agent, keys
//! and `known_hosts` apply as they do everywhere else. Scripts run as `sh -c`,
//! quoted once for the remote shell; files go through `cat` on standard input
//! into a temporary file that is renamed into place.

use std::io::Write;
use std::process::{Command, Stdio};

use mcp_model::ErrorKind;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SshError {
    /// `ssh` could not be run.
    #[error("cannot run ssh: {0} (is openssh-client installed?)")]
    Spawn(std::io::Error),
    /// The connection failed (ssh's exit status 255).
    #[error("ssh {destination}: cannot connect: {message}")]
    Connect {
        /// Where.
        destination: String,
        /// ssh's own message.
        message: String,
    },
    /// The remote command failed.
    #[error("on {destination}: {what} failed (exit {status}): {message}")]
    Failed {
        /// Where.
        destination: String,
        /// What was being done.
        what: String,
        /// Its exit status.
        status: i32,
        /// Its standard error.
        message: String,
    },
}

impl SshError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SshError::Spawn(_) | SshError::Connect { .. } => ErrorKind::Unavailable,
            SshError::Failed { .. } => ErrorKind::FailedPrecondition,
        }
    }
}

/// A node reached over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// `[user@]host`, or an `ssh://user@host:port` URI, or a `Host` of the
    /// operator's ssh configuration.
    pub destination: String,
    /// Further `ssh` arguments (`-i KEY`, `-o …`), before the destination.
    pub options: Vec<String>,
    /// What makes a command privileged there: `sudo -n`, `doas`, or empty when
    /// the SSH user is root.
    pub sudo: String,
}

/// `s` quoted for a POSIX shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl SshTarget {
    /// Runs `script` with `sh -c` there (as root through the node's `sudo` when
    /// `privileged`); returns its standard output. `what` names the step in
    /// errors.
    pub fn run(&self, what: &str, script: &str, privileged: bool) -> Result<String, SshError> {
        self.run_with_input(what, script, privileged, &[])
    }

    /// [`SshTarget::run`] with `input` on the script's standard input.
    pub fn run_with_input(
        &self,
        what: &str,
        script: &str,
        privileged: bool,
        input: &[u8],
    ) -> Result<String, SshError> {
        let mut remote = format!("sh -c {}", quote(script));
        if privileged && !self.sudo.trim().is_empty() {
            remote = format!("{} {remote}", self.sudo.trim());
        }
        let mut child = Command::new("ssh")
            .args(&self.options)
            .args(["-o", "BatchMode=yes", "--"])
            .arg(&self.destination)
            .arg(remote)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(SshError::Spawn)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its input closes the pipe early.
            let _ = stdin.write_all(input);
        }
        let out = child.wait_with_output().map_err(SshError::Spawn)?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        match out.status.code() {
            Some(0) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            Some(255) => Err(SshError::Connect {
                destination: self.destination.clone(),
                message: stderr,
            }),
            code => Err(SshError::Failed {
                destination: self.destination.clone(),
                what: what.to_owned(),
                status: code.unwrap_or(-1),
                message: stderr,
            }),
        }
    }

    /// Writes `contents` to `path` there (privileged), mode `mode`, owner `owner`
    /// (`uid:gid`) when given: into a temporary file beside it, then renamed, so
    /// a reader never sees half a file. Missing parent directories are made.
    pub fn write_file(
        &self,
        path: &str,
        contents: &[u8],
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), SshError> {
        let tmp = format!("{path}.mcp-tmp");
        let chown = owner
            .map(|o| format!(" && chown {} {}", quote(o), quote(&tmp)))
            .unwrap_or_default();
        let parent = std::path::Path::new(path)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "/".into());
        let script = format!(
            "mkdir -p {d} && umask 077 && cat > {t} && chmod {mode:o} {t}{chown} && mv -f {t} {p}",
            d = quote(&parent),
            t = quote(&tmp),
            p = quote(path),
        );
        self.run_with_input(&format!("writing {path}"), &script, true, contents)
            .map(drop)
    }

    /// The contents of `path` there, or `None` when it does not exist.
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SshError> {
        let script = format!(
            "if [ -e {p} ]; then echo y; cat {p}; else echo n; fi",
            p = quote(path)
        );
        let out = self.run(&format!("reading {path}"), &script, true)?;
        Ok(out.strip_prefix("y\n").map(|rest| rest.as_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
