//! `exec`: a command in a service's container. With a terminal, the local one
//! is put in raw mode (every keystroke, Ctrl-C included, goes to the
//! container's terminal) and its size follows a resize; without, stdin is
//! copied until its end and stdout and stderr come back apart. mcp exits with
//! the command's status.

use std::io::{IsTerminal, Read, Write};

use mcp_core::fleet::exec::{ExecCommand, ExecInputSender};
use mcp_core::view::{ExecInput, ExecOutput};

use super::Outcome;
use crate::args::ExecArgs;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::terminal::{self, RawMode};

pub(crate) async fn run(ctx: &Context, a: &ExecArgs) -> Outcome {
    // A terminal only when both ends are one (or asked for): output sent to a
    // file or a pipe must not go through a terminal's line discipline.
    let tty =
        !a.no_tty && (a.tty || (std::io::stdin().is_terminal() && std::io::stdout().is_terminal()));
    let cmd = ExecCommand {
        service: a.service.clone(),
        node: a.node.clone(),
        component: a.component.clone(),
        command: a.command.clone(),
        tty: tty.then(terminal::size),
        term: tty.then(|| std::env::var("TERM").ok()).flatten(),
    };
    let mut running = ctx.fleet.exec(&cmd).await?;
    // Raw only once the command runs: an error before it reads as usual.
    let _raw = tty.then(RawMode::enter).flatten();
    copy_stdin(running.input());
    if tty {
        follow_resizes(running.input());
    }
    while let Some(out) = running.next().await? {
        match out {
            ExecOutput::Stdout(b) => write(&mut std::io::stdout(), &b),
            ExecOutput::Stderr(b) => write(&mut std::io::stderr(), &b),
            ExecOutput::Exit(code) => {
                return Ok(ExitStatus::Code(u8::try_from(code).unwrap_or(255)));
            }
        }
    }
    Ok(ExitStatus::Code(255))
}

fn write(to: &mut impl Write, bytes: &[u8]) {
    let _ = to.write_all(bytes);
    let _ = to.flush();
}

/// Copies stdin to the command on a thread of its own (a read of a terminal
/// blocks until a key is pressed; the process may end before that), then says
/// it ended.
fn copy_stdin(input: ExecInputSender) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !input.blocking_send(ExecInput::Stdin(buf[..n].to_vec())) {
                        return;
                    }
                }
            }
        }
        input.blocking_send(ExecInput::CloseStdin);
    });
}

/// Sends the terminal's new size on every SIGWINCH.
fn follow_resizes(input: ExecInputSender) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut resized) = signal(SignalKind::window_change()) else {
        return;
    };
    tokio::spawn(async move {
        while resized.recv().await.is_some() {
            if !input.send(ExecInput::Resize(terminal::size())).await {
                return;
            }
        }
    });
}
