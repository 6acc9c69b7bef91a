//! `mcp edit SERVICE`: `$EDITOR` on a copy of the definition; saved only when valid.
//! While it is not, the editor reopens with the problems as comments at the top
//! (removed again when read back); saving it unchanged, or empty, aborts.

use std::path::Path;

use mcp_core::spec::{Problem, ServiceDefinition, SpecError};

use crate::args::ServiceArg;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

const MARK: &str = "# mcp:";

/// What one round in the editor came to.
enum Round {
    /// Saved, left unchanged, or aborted.
    Done(ExitStatus),
    /// Invalid: show this text (the problems on top) again.
    Again(String),
}

pub(crate) fn run(ctx: &Context, a: &ServiceArg) -> Result<ExitStatus, mcp_core::fleet::Error> {
    let path = ctx.fleet.definition_path(&a.service);
    let io = |source| SpecError::Read {
        path: path.clone(),
        source,
    };
    let original = std::fs::read_to_string(&path).map_err(io)?;
    let scratch = tempfile::Builder::new()
        .prefix("mcp-edit-")
        .suffix(".toml")
        .tempfile()
        .map_err(io)?;
    let mut shown = original.clone();
    loop {
        match round(&path, &original, &shown, scratch.path()).map_err(io)? {
            Round::Done(status) => return Ok(status),
            Round::Again(text) => shown = text,
        }
    }
}

/// Shows `shown` in the editor (through `scratch`) and judges what comes back.
fn round(path: &Path, original: &str, shown: &str, scratch: &Path) -> std::io::Result<Round> {
    std::fs::write(scratch, shown)?;
    if !edit(scratch)? {
        return Ok(Round::Done(ExitStatus::Problems));
    }
    let edited = std::fs::read_to_string(scratch)?;
    let text = strip_marks(&edited);
    if text.trim().is_empty() || edited == shown {
        let unchanged = text == original;
        output::error(if unchanged {
            "no changes"
        } else {
            "aborted; nothing saved"
        });
        return Ok(Round::Done(ExitStatus::problems_if(!unchanged)));
    }
    match ServiceDefinition::parse(&text, Some(path)) {
        Ok(_) => {
            mcp_core::fsutil::write_atomic(path, text.as_bytes(), 0o644)?;
            output::line(&format!("saved {}", path.display()));
            Ok(Round::Done(ExitStatus::Success))
        }
        Err(e) => {
            for p in e.problems() {
                output::error(&p.to_string());
            }
            Ok(Round::Again(format!("{}{text}", marks(e.problems()))))
        }
    }
}

/// Runs `$VISUAL` (else `$EDITOR`, else `vi`) on `file`; whether it succeeded.
fn edit(file: &Path) -> std::io::Result<bool> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("mcp-edit")
        .arg(file)
        .status()?;
    if !status.success() {
        output::error(&format!(
            "editor {editor:?} failed ({status}); nothing saved"
        ));
    }
    Ok(status.success())
}

/// The problems as comment lines for the top of the file.
fn marks(problems: &[Problem]) -> String {
    let mut header = format!(
        "{MARK} not saved: fix these problems, or save unchanged to abort (lines starting '{MARK}' are dropped)\n"
    );
    for p in problems {
        header.push_str(&format!("{MARK} {p}\n"));
    }
    header
}

fn strip_marks(text: &str) -> String {
    text.lines()
        .skip_while(|l| l.starts_with(MARK))
        .map(|l| format!("{l}\n"))
        .collect()
}
