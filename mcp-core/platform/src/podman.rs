//! The `podman` command, as both halves run it: the node's container runtime
//! (`mcp_node::runtime::Podman`) and the operator's image builds. Runs it, captures
//! or streams its output, and classifies a failure once, where it happens
//! ([`PodmanFailure`]), so nobody reads Podman's wording again.

use std::process::{Command, Stdio};

use mcp_model::ErrorKind;

/// What kind of failure Podman reported, judged from its message when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PodmanFailure {
    /// The container, image or network does not exist.
    NotFound,
    /// A name or address is already in use.
    Conflict,
    /// A registry refused the credentials (or their absence).
    Unauthorized,
    /// The container was between states (exiting as it was killed, say): the
    /// same request a moment later succeeds.
    Busy,
    /// Anything else.
    Other,
}

impl PodmanFailure {
    /// The class of Podman's message `message`.
    fn of(message: &str) -> Self {
        let m = message.to_ascii_lowercase();
        if m.contains("no such") || m.contains("not known") || m.contains("manifest unknown") {
            PodmanFailure::NotFound
        } else if m.contains("already in use") || m.contains("already exists") {
            PodmanFailure::Conflict
        } else if m.contains("unauthorized")
            || m.contains("authentication required")
            || m.contains("access denied")
        {
            PodmanFailure::Unauthorized
        } else if m.contains("container state improper") {
            PodmanFailure::Busy
        } else {
            PodmanFailure::Other
        }
    }
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PodmanError {
    /// Podman ran and failed; `message` is Podman's own.
    #[error("podman {op} {target}: {message}")]
    Failed {
        /// The operation (`create`, `start`, `pull`, …).
        op: &'static str,
        /// The container, image or network it was applied to.
        target: String,
        /// Podman's error output.
        message: String,
        /// What kind of failure it is.
        failure: PodmanFailure,
    },
    /// Podman is not installed (or the configured program does not exist).
    #[error("cannot run {program}: {source} (is podman installed?)")]
    Missing {
        /// The program.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The command line was longer than the system allows.
    #[error("podman {op} {target}: the command line is too long for the system ({source})")]
    TooLong {
        /// The operation.
        op: &'static str,
        /// What it was applied to.
        target: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Podman could not be started for another reason.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl PodmanError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PodmanError::Failed { failure, .. } => match failure {
                PodmanFailure::NotFound => ErrorKind::NotFound,
                PodmanFailure::Conflict => ErrorKind::Conflict,
                PodmanFailure::Unauthorized => ErrorKind::Unauthenticated,
                PodmanFailure::Busy | PodmanFailure::Other => ErrorKind::Unavailable,
            },
            PodmanError::Missing { .. } | PodmanError::Spawn { .. } => ErrorKind::Unavailable,
            PodmanError::TooLong { .. } => ErrorKind::InvalidInput,
        }
    }

    /// Whether Podman said the thing asked about does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            PodmanError::Failed {
                failure: PodmanFailure::NotFound,
                ..
            }
        )
    }

    /// Whether Podman found the container between states: worth asking again.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            PodmanError::Failed {
                failure: PodmanFailure::Busy,
                ..
            }
        )
    }

    /// Podman failed with `message` doing `op` to `target`: classified now.
    pub fn failed(op: &'static str, target: &str, message: String) -> Self {
        PodmanError::Failed {
            op,
            target: target.to_owned(),
            failure: PodmanFailure::of(&message),
            message,
        }
    }
}

/// How Podman is run: the program and its leading arguments, and environment
/// variables for every call.
///
/// Plain `podman` for a process that runs as the Podman user (the platform's
/// rootless setup), or a prefix such as `setpriv --reuid=mcp … podman` to drive
/// another user's rootless Podman.
#[derive(Debug, Clone)]
pub struct PodmanCommand {
    argv: Vec<String>,
    env: Vec<(String, String)>,
}

impl Default for PodmanCommand {
    fn default() -> Self {
        PodmanCommand {
            argv: vec!["podman".to_owned()],
            env: Vec::new(),
        }
    }
}

impl PodmanCommand {
    /// Podman run through `argv` (program and leading arguments); `podman` when
    /// `argv` is empty.
    pub fn new(argv: Vec<String>) -> Self {
        if argv.is_empty() {
            return Self::default();
        }
        PodmanCommand {
            argv,
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every call (for example `CONTAINERS_CONF`).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The program run.
    pub fn program(&self) -> &str {
        &self.argv[0]
    }

    /// The command for `args`, with stdin closed, run from `/` (Podman may run as
    /// another user, who cannot always enter the caller's working directory).
    pub fn command(&self, args: &[&str]) -> Command {
        self.wrapped(&[], args)
    }

    /// [`PodmanCommand::command`], run through `wrapper`: a program and its
    /// leading arguments that then run Podman (`setsid --ctty --wait`).
    pub fn wrapped(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let (program, leading): (&str, Vec<&str>) = match wrapper.split_first() {
            Some((program, rest)) => (
                program,
                rest.iter()
                    .copied()
                    .chain(self.argv.iter().map(String::as_str))
                    .collect(),
            ),
            None => (
                &self.argv[0],
                self.argv[1..].iter().map(String::as_str).collect(),
            ),
        };
        let mut cmd = Command::new(program);
        cmd.args(leading).args(args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null());
        cmd.current_dir("/");
        cmd
    }

    /// Why `cmd` could not be started, for `op` on `target`.
    pub fn spawn_error(
        &self,
        op: &'static str,
        target: &str,
        source: std::io::Error,
    ) -> PodmanError {
        match source.raw_os_error() {
            Some(7) => PodmanError::TooLong {
                op,
                target: target.to_owned(),
                source,
            },
            _ if source.kind() == std::io::ErrorKind::NotFound => PodmanError::Missing {
                program: self.argv[0].clone(),
                source,
            },
            _ => PodmanError::Spawn {
                program: self.argv[0].clone(),
                source,
            },
        }
    }

    /// Runs Podman with `args` doing `op` to `target`; its stdout, or its error.
    pub fn exec(
        &self,
        op: &'static str,
        target: &str,
        args: &[&str],
    ) -> Result<String, PodmanError> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| self.spawn_error(op, target, e))?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Podman prefixes its message with "Error: "; a stray syslog warning may
        // precede it on hosts without /dev/log.
        let message = stderr
            .lines()
            .filter(|l| !l.contains("failed to connect to syslog"))
            .map(|l| l.trim_start_matches("Error: "))
            .collect::<Vec<_>>()
            .join("; ");
        Err(PodmanError::failed(
            op,
            target,
            if message.is_empty() {
                format!("exited with {}", out.status)
            } else {
                message
            },
        ))
    }

    /// Runs Podman with `args`, passing each line of its (merged) output to
    /// `progress`; fails with the last lines of output when Podman does.
    pub fn run_streaming(
        &self,
        op: &'static str,
        target: &str,
        args: &[&str],
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), PodmanError> {
        use std::io::BufRead;
        let spawn_err = |e| self.spawn_error(op, target, e);
        let (reader, writer) = std::io::pipe().map_err(spawn_err)?;
        let mut cmd = self.command(args);
        cmd.stdout(writer.try_clone().map_err(spawn_err)?)
            .stderr(writer);
        let mut child = cmd.spawn().map_err(spawn_err)?;
        // `cmd` holds the write ends; drop it so the reader sees EOF when podman exits.
        drop(cmd);
        let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        for line in std::io::BufReader::new(reader)
            .lines()
            .map_while(std::result::Result::ok)
        {
            progress(&line);
            tail.push_back(line);
            if tail.len() > 15 {
                tail.pop_front();
            }
        }
        let status = child.wait().map_err(spawn_err)?;
        if status.success() {
            return Ok(());
        }
        Err(PodmanError::failed(
            op,
            target,
            tail.iter()
                .map(|l| l.trim_start_matches("Error: "))
                .collect::<Vec<_>>()
                .join("\n"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_when_made() {
        let missing = PodmanError::failed("inspect", "x", "no such container x".into());
        assert!(missing.is_not_found());
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        let taken = PodmanError::failed(
            "create",
            "x",
            "the container name \"x\" is already in use".into(),
        );
        assert_eq!(taken.kind(), ErrorKind::Conflict);
        let refused = PodmanError::failed(
            "push",
            "r/x:v1",
            "Error: writing blob: unauthorized: authentication required".into(),
        );
        assert_eq!(refused.kind(), ErrorKind::Unauthenticated);
        let other = PodmanError::failed("start", "x", "OCI runtime error".into());
        assert_eq!(other.kind(), ErrorKind::Unavailable);
        assert!(!other.is_busy());
        // Podman 4.3's `rm --force` of a container exiting on its own just then.
        let busy = PodmanError::failed(
            "rm",
            "x",
            "cannot remove container 5054 as it could not be stopped: sending SIGKILL \
             to container 5054: container state improper: stopped"
                .into(),
        );
        assert!(busy.is_busy(), "{busy}");
        assert_eq!(busy.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn a_missing_program_and_a_long_command_line_say_so() {
        let podman = PodmanCommand::new(vec!["/nonexistent/podman".into()]);
        let err = podman.exec("info", "", &["info"]).expect_err("missing");
        assert!(matches!(err, PodmanError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("is podman installed?"), "{err}");
        let e2big = podman.spawn_error("create", "x", std::io::Error::from_raw_os_error(7));
        assert_eq!(e2big.kind(), ErrorKind::InvalidInput);
        assert!(!e2big.to_string().contains("installed"), "{e2big}");
    }
}
