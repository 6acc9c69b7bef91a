//! A command in a service's running container, from the operator's side
//! (`mcp exec`): [`Fleet::exec`] starts it on the service's node and returns
//! a [`RemoteExec`] to talk to it (the CLI's interactive terminal is built on
//! it); [`Fleet::exec_output`] runs one without a terminal to its end, with a
//! timeout, and returns its [`ExecResult`] (what Python's `exec` returns).

use std::time::Duration;

use mcp_model::view::{ExecInput, ExecOutput, ExecResult, WindowSize};
use mcp_proto::convert;
use mcp_proto::v1;

use crate::client::ApiError;
pub use crate::client::exec::{ExecInputSender, RemoteExec};

/// The most standard input one message carries.
const STDIN_CHUNK: usize = 64 * 1024;
use crate::fleet::Fleet;

/// What to run, and where.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecCommand {
    /// The service.
    pub service: String,
    /// Its node (by default its definition's).
    pub node: Option<String>,
    /// The component (by default the service's only one).
    pub component: Option<String>,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// A terminal of this size (raw keystrokes in, one stream out); `None`:
    /// standard input, output and error apart.
    pub tty: Option<WindowSize>,
    /// `TERM` inside, with a terminal.
    pub term: Option<String>,
}

impl Fleet {
    /// Starts `cmd` in its service's running container (operator role).
    /// Refused before anything runs when the component is stopped, flapping or
    /// not there, naming its state.
    ///
    /// ```no_run
    /// # async fn f(fleet: &mcp_fleet::Fleet) -> Result<(), mcp_fleet::Error> {
    /// use mcp_fleet::exec::ExecCommand;
    /// use mcp_model::view::ExecOutput;
    /// let cmd = ExecCommand {
    ///     service: "hello".into(),
    ///     command: vec!["cat".into(), "/srv/hello/notes.txt".into()],
    ///     ..ExecCommand::default()
    /// };
    /// let mut running = fleet.exec(&cmd).await?;
    /// while let Some(out) = running.next().await? {
    ///     match out {
    ///         ExecOutput::Stdout(b) | ExecOutput::Stderr(b) => print!("{}", String::from_utf8_lossy(&b)),
    ///         ExecOutput::Exit(code) => println!("exit {code}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn exec(&self, cmd: &ExecCommand) -> Result<RemoteExec, crate::Error> {
        let node = self.node_for(&cmd.service, cmd.node.as_deref())?;
        let start = v1::ExecStart {
            service: cmd.service.clone(),
            component: cmd.component.clone().unwrap_or_default(),
            command: cmd.command.clone(),
            tty: cmd.tty.map(convert::encode_window),
            term: cmd.term.clone().unwrap_or_default(),
        };
        let mut client = self.client(&node).await?;
        Ok(client.exec(start).await?)
    }

    /// Runs `cmd` without a terminal to its end, `stdin` as its standard input,
    /// and returns its exit status and output. After `timeout` the call ends
    /// (the node kills the command) and the error is
    /// [`crate::Error::TimedOut`] ([`mcp_model::ErrorKind::Unavailable`]).
    pub async fn exec_output(
        &self,
        cmd: &ExecCommand,
        stdin: Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<ExecResult, crate::Error> {
        let cmd = ExecCommand {
            tty: None,
            ..cmd.clone()
        };
        let run = async {
            let mut running = self.exec(&cmd).await?;
            for chunk in stdin.chunks(STDIN_CHUNK) {
                if !running.send(ExecInput::Stdin(chunk.to_vec())).await {
                    break;
                }
            }
            running.send(ExecInput::CloseStdin).await;
            let mut result = ExecResult {
                exit_code: -1,
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            while let Some(out) = running.next().await? {
                match out {
                    ExecOutput::Stdout(b) => result.stdout.extend(b),
                    ExecOutput::Stderr(b) => result.stderr.extend(b),
                    ExecOutput::Exit(code) => {
                        result.exit_code = code;
                        return Ok(result);
                    }
                }
            }
            Err(
                ApiError::Protocol("the command's output ended without its exit status".into())
                    .into(),
            )
        };
        match timeout {
            None => run.await,
            Some(t) => tokio::time::timeout(t, run).await.unwrap_or_else(|_| {
                Err(crate::Error::TimedOut(format!(
                    "{} in {} did not finish within {} s",
                    cmd.command.first().map_or("the command", String::as_str),
                    cmd.service,
                    t.as_secs_f64()
                )))
            }),
        }
    }
}
