//! A command running in a container, its standard streams carried as
//! messages: an [`ExecSession`] (what [`super::ContainerRuntime::exec`] returns).
//!
//! Without a terminal, the runtime's process (`podman exec -i`) gets pipes:
//! stdout and stderr come out apart. With one, it runs on a pseudo-terminal
//! the agent opens, as the leader of a session whose controlling terminal it
//! is (`setsid --ctty`), so that Podman puts it in raw mode, gives the
//! container's terminal its size, and follows a resize: the agent sets the
//! size on its side ([`ExecInput::Resize`]) and the kernel tells Podman
//! (SIGWINCH). The terminal is read and written without blocking a thread
//! ([`AsyncFd`]).
//!
//! Dropping the session ends the command: the `podman exec` process is killed,
//! and so is every process that carries the session's marker in its
//! environment (`MCP_EXEC_ID`): the command and what it started inside the
//! container, which Podman would leave running.

use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

use mcp_model::view::{ExecInput, ExecOutput, WindowSize};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

/// How long output may still come after the process ended (a grandchild
/// holding the terminal open), counted from the last output: a slow reader
/// of the output never loses any.
const DRAIN: Duration = Duration::from_secs(2);

/// Bytes read at a time.
const CHUNK: usize = 16 * 1024;

/// The environment variable that marks a session's processes.
pub(super) const MARKER: &str = "MCP_EXEC_ID";

/// The end of input on a terminal (VEOF, Ctrl-D): what a command reading a
/// terminal takes as the end of a file.
const EOF_KEY: u8 = 0x04;

/// A running command: send it input, receive its output; the last output is
/// its exit status. Dropping it kills the command.
#[derive(Debug)]
pub struct ExecSession {
    /// Input for it.
    pub input: mpsc::Sender<ExecInput>,
    /// What it writes, then how it ended.
    pub output: mpsc::Receiver<ExecOutput>,
    /// Dropped with the session: the command is killed.
    _kill: oneshot::Sender<()>,
    /// Held for as long as the session lives (the node's cap on sessions).
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl ExecSession {
    /// The session, holding `slot` until it is dropped.
    pub fn holding(mut self, slot: tokio::sync::OwnedSemaphorePermit) -> Self {
        self._slot = Some(slot);
        self
    }
}

/// A pseudo-terminal: the agent's side, and the side the process gets.
pub(super) struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
}

impl Pty {
    /// A new pseudo-terminal of `size`.
    pub(super) fn open(size: WindowSize) -> std::io::Result<Self> {
        use rustix::fs::{Mode, OFlags};
        use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let name = ptsname(&master, Vec::new())?;
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let flags = rustix::fs::fcntl_getfl(&master)?;
        rustix::fs::fcntl_setfl(&master, flags | OFlags::NONBLOCK)?;
        set_size(&master, size)?;
        Ok(Pty { master, slave })
    }
}

fn set_size(master: &impl AsFd, size: WindowSize) -> std::io::Result<()> {
    let winsize = rustix::termios::Winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    Ok(rustix::termios::tcsetwinsize(master, winsize)?)
}

/// Starts `cmd` (whose command carries `marker` in its environment) and
/// carries its streams: on `pty` when given (its stdin, stdout and stderr all
/// the terminal), else on pipes.
pub(super) fn spawn(
    mut cmd: std::process::Command,
    pty: Option<Pty>,
    marker: String,
) -> std::io::Result<ExecSession> {
    let (input_tx, input_rx) = mpsc::channel(64);
    let (output_tx, output_rx) = mpsc::channel(64);
    let (kill_tx, kill_rx) = oneshot::channel();
    let (exited_tx, exited_rx) = watch::channel(false);
    let mut readers = Vec::new();
    let child = match pty {
        Some(pty) => {
            cmd.stdin(Stdio::from(pty.slave.try_clone()?))
                .stdout(Stdio::from(pty.slave.try_clone()?))
                .stderr(Stdio::from(pty.slave));
            let child = tokio::process::Command::from(cmd).spawn()?;
            let master = std::sync::Arc::new(register(pty.master)?);
            readers.push(tokio::spawn(pump_pty(
                master.clone(),
                output_tx.clone(),
                exited_rx,
            )));
            tokio::spawn(feed_pty(master, input_rx));
            child
        }
        None => {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = tokio::process::Command::from(cmd).spawn()?;
            if let Some(out) = child.stdout.take() {
                let (tx, exited) = (output_tx.clone(), exited_rx.clone());
                readers.push(tokio::spawn(pump(out, tx, ExecOutput::Stdout, exited)));
            }
            if let Some(err) = child.stderr.take() {
                let (tx, exited) = (output_tx.clone(), exited_rx);
                readers.push(tokio::spawn(pump(err, tx, ExecOutput::Stderr, exited)));
            }
            if let Some(stdin) = child.stdin.take() {
                tokio::spawn(feed(stdin, input_rx));
            }
            child
        }
    };
    tokio::spawn(wait(child, kill_rx, exited_tx, readers, output_tx, marker));
    Ok(ExecSession {
        input: input_tx,
        output: output_rx,
        _kill: kill_tx,
        _slot: None,
    })
}

/// The terminal's agent side with the async runtime's reactor, to be awaited
/// without a thread of its own.
#[allow(unsafe_code)]
fn register(master: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the `OwnedFd` owns an open descriptor (non-blocking, see
    // `Pty::open`), and nothing replaces or closes it while the `AsyncFd`
    // owns it: it is closed when the `AsyncFd` drops, after deregistering.
    unsafe { AsyncFd::register(master) }.map_err(std::io::Error::from)
}

/// Resolves [`DRAIN`] after the process ended (never before).
async fn idle_after_exit(exited: &mut watch::Receiver<bool>) {
    if exited.wait_for(|e| *e).await.is_err() {
        // The waiter is gone: so is the process.
    }
    tokio::time::sleep(DRAIN).await;
}

/// Sends what `from` yields as `wrap`ped output until its end, or until it
/// has been quiet for [`DRAIN`] after the process ended. A send waits for the
/// reader as long as it takes.
async fn pump<R: AsyncRead + Unpin>(
    mut from: R,
    to: mpsc::Sender<ExecOutput>,
    wrap: fn(Vec<u8>) -> ExecOutput,
    mut exited: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            () = idle_after_exit(&mut exited) => return,
        };
        if to.send(wrap(buf[..n].to_vec())).await.is_err() {
            return;
        }
    }
}

/// [`pump`] for the terminal's agent side (whose end, once every other side
/// closed, reads as an error).
async fn pump_pty(
    master: std::sync::Arc<AsyncFd<OwnedFd>>,
    to: mpsc::Sender<ExecOutput>,
    mut exited: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let read = async {
            loop {
                let mut ready = master.readable().await?;
                match ready.try_io(|fd| Ok(rustix::io::read(fd, &mut buf)?)) {
                    Ok(result) => return result,
                    Err(_would_block) => continue,
                }
            }
        };
        let n = tokio::select! {
            read = read => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            () = idle_after_exit(&mut exited) => return,
        };
        if to
            .send(ExecOutput::Stdout(buf[..n].to_vec()))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Writes the input to the process's stdin pipe until the input ends.
async fn feed<W: AsyncWrite + Unpin>(mut to: W, mut input: mpsc::Receiver<ExecInput>) {
    while let Some(message) = input.recv().await {
        match message {
            ExecInput::Stdin(bytes) => {
                if to.write_all(&bytes).await.is_err() || to.flush().await.is_err() {
                    return;
                }
            }
            ExecInput::Resize(_) => {}
            ExecInput::CloseStdin => return,
        }
    }
}

/// Writes the input to the terminal; a resize sizes it, the end of input is
/// Ctrl-D (what a command reading a terminal takes as its end).
async fn feed_pty(master: std::sync::Arc<AsyncFd<OwnedFd>>, mut input: mpsc::Receiver<ExecInput>) {
    while let Some(message) = input.recv().await {
        let bytes = match message {
            ExecInput::Stdin(bytes) => bytes,
            ExecInput::Resize(size) => {
                let _ = set_size(master.get_ref(), size);
                continue;
            }
            ExecInput::CloseStdin => vec![EOF_KEY],
        };
        let mut rest: &[u8] = &bytes;
        while !rest.is_empty() {
            let Ok(mut ready) = master.writable().await else {
                return;
            };
            match ready.try_io(|fd| Ok(rustix::io::write(fd, rest)?)) {
                Ok(Ok(n)) => rest = &rest[n..],
                Ok(Err(_)) => return,
                Err(_would_block) => {}
            }
        }
    }
}

/// Waits for the process (killing it, and what carries `marker`, when the
/// session is dropped), lets its output drain, and sends its exit status last.
async fn wait(
    mut child: tokio::process::Child,
    kill: oneshot::Receiver<()>,
    exited: watch::Sender<bool>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    output: mpsc::Sender<ExecOutput>,
    marker: String,
) {
    let status = tokio::select! {
        status = child.wait() => status,
        _ = kill => {
            let _ = child.start_kill();
            let status = child.wait().await;
            tokio::task::spawn_blocking(move || kill_marked(&marker));
            status
        }
    };
    let _ = exited.send(true);
    for r in readers {
        let _ = r.await;
    }
    let code = match status {
        Ok(s) => exit_code(s),
        Err(_) => 125,
    };
    let _ = output.send(ExecOutput::Exit(code)).await;
}

/// Kills every process whose environment holds `MCP_EXEC_ID=<marker>`: what
/// a dropped session left running inside its container. Best effort: a
/// process this agent may not look at or signal is left.
fn kill_marked(marker: &str) {
    let needle = format!("{MARKER}={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == needle.as_bytes())
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// A process's status as a shell reports it: its code, or 128 + the signal.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(125)
}
