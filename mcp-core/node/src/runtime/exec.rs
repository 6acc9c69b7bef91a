//! A command running in a container, its standard streams carried as
//! messages: an [`ExecSession`] (what [`super::ContainerRuntime::exec`] returns).
//!
//! Without a terminal, the runtime's process (`podman exec -i`) gets pipes:
//! stdout and stderr come out apart. With one, it runs on a pseudo-terminal
//! the agent opens, as the leader of a session whose controlling terminal it
//! is (`setsid --ctty`), so that Podman puts it in raw mode, gives the
//! container's terminal its size, and follows a resize: the agent sets the
//! size on its side ([`ExecInput::Resize`]) and the kernel tells Podman
//! (SIGWINCH). Dropping the session kills the process.

use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use mcp_model::view::{ExecInput, ExecOutput, WindowSize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// How long output may still come after the process ended (a grandchild
/// holding the terminal open) before the exit status is sent anyway.
const DRAIN: Duration = Duration::from_secs(2);

/// Bytes read at a time.
const CHUNK: usize = 16 * 1024;

/// A running command: send it input, receive its output; the last output is
/// its exit status. Dropping it kills the process.
#[derive(Debug)]
pub struct ExecSession {
    /// Input for it.
    pub input: mpsc::Sender<ExecInput>,
    /// What it writes, then how it ended.
    pub output: mpsc::Receiver<ExecOutput>,
    /// Dropped with the session: the process is killed.
    _kill: oneshot::Sender<()>,
}

/// A pseudo-terminal: the agent's side, and the side the process gets.
pub(super) struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    /// A new pseudo-terminal of `size`.
    pub(super) fn open(size: WindowSize) -> std::io::Result<Self> {
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let slave = rustix::fs::open(
            name.as_c_str(),
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?;
        set_size(&master, size)?;
        Ok(Pty { master, slave })
    }
}

fn set_size(master: &OwnedFd, size: WindowSize) -> std::io::Result<()> {
    let winsize = rustix::termios::Winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    Ok(rustix::termios::tcsetwinsize(master, winsize)?)
}

/// Starts `cmd` and carries its streams: on `pty` when given (its stdin,
/// stdout and stderr all the terminal), else on pipes.
pub(super) fn spawn(
    mut cmd: std::process::Command,
    pty: Option<Pty>,
) -> std::io::Result<ExecSession> {
    let (input_tx, input_rx) = mpsc::channel(64);
    let (output_tx, output_rx) = mpsc::channel(64);
    let (kill_tx, kill_rx) = oneshot::channel();
    let mut readers = Vec::new();
    let child = match pty {
        Some(pty) => {
            cmd.stdin(Stdio::from(pty.slave.try_clone()?))
                .stdout(Stdio::from(pty.slave.try_clone()?))
                .stderr(Stdio::from(pty.slave));
            let child = tokio::process::Command::from(cmd).spawn()?;
            let reader = tokio::fs::File::from_std(std::fs::File::from(pty.master.try_clone()?));
            readers.push(tokio::spawn(pump(
                reader,
                output_tx.clone(),
                ExecOutput::Stdout,
            )));
            let writer = tokio::fs::File::from_std(std::fs::File::from(pty.master.try_clone()?));
            tokio::spawn(feed(writer, input_rx, Some(pty.master)));
            child
        }
        None => {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = tokio::process::Command::from(cmd).spawn()?;
            if let Some(out) = child.stdout.take() {
                readers.push(tokio::spawn(pump(
                    out,
                    output_tx.clone(),
                    ExecOutput::Stdout,
                )));
            }
            if let Some(err) = child.stderr.take() {
                readers.push(tokio::spawn(pump(
                    err,
                    output_tx.clone(),
                    ExecOutput::Stderr,
                )));
            }
            if let Some(stdin) = child.stdin.take() {
                tokio::spawn(feed(stdin, input_rx, None));
            }
            child
        }
    };
    tokio::spawn(wait(child, kill_rx, readers, output_tx));
    Ok(ExecSession {
        input: input_tx,
        output: output_rx,
        _kill: kill_tx,
    })
}

/// Sends what `from` yields as `wrap`ped output until its end (a terminal
/// whose every other side closed reads as an error: that is its end too).
async fn pump<R: AsyncRead + Unpin>(
    mut from: R,
    to: mpsc::Sender<ExecOutput>,
    wrap: fn(Vec<u8>) -> ExecOutput,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.send(wrap(buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes the input to `to` until it closes; resizes `pty` when there is one.
async fn feed<W: AsyncWrite + Unpin>(
    mut to: W,
    mut input: mpsc::Receiver<ExecInput>,
    pty: Option<OwnedFd>,
) {
    while let Some(message) = input.recv().await {
        match message {
            ExecInput::Stdin(bytes) => {
                if to.write_all(&bytes).await.is_err() || to.flush().await.is_err() {
                    return;
                }
            }
            ExecInput::Resize(size) => {
                if let Some(master) = &pty {
                    let _ = set_size(master, size);
                }
            }
            ExecInput::CloseStdin if pty.is_none() => return,
            ExecInput::CloseStdin => {}
        }
    }
}

/// Waits for the process (killing it when the session is dropped), lets its
/// output drain, and sends its exit status last.
async fn wait(
    mut child: tokio::process::Child,
    kill: oneshot::Receiver<()>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    output: mpsc::Sender<ExecOutput>,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill => {
            let _ = child.start_kill();
            child.wait().await
        }
    };
    for r in readers {
        let abort = r.abort_handle();
        if tokio::time::timeout(DRAIN, r).await.is_err() {
            abort.abort();
        }
    }
    let code = match status {
        Ok(s) => exit_code(s),
        Err(_) => 125,
    };
    let _ = output.send(ExecOutput::Exit(code)).await;
}

/// A process's status as a shell reports it: its code, or 128 + the signal.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(125)
}
