//! `mcp edit SERVICE`: `$EDITOR` on a copy of the definition; saved only when valid.
//! While it is not, the editor reopens with the problems as comments at the top
//! (removed again when read back); saving it unchanged, or empty, aborts.

use mcp_core::spec::{ServiceDefinition, SpecError};

use crate::args::ServiceArg;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

const MARK: &str = "# mcp:";

fn strip_marks(text: &str) -> String {
    text.lines()
        .skip_while(|l| l.starts_with(MARK))
        .map(|l| format!("{l}\n"))
        .collect()
}

pub(crate) fn run(ctx: &Context, a: &ServiceArg) -> Result<ExitStatus, mcp_core::fleet::Error> {
    let path = ctx.fleet.definition_path(&a.service);
    let io = |e: std::io::Error| SpecError::Read {
        path: path.clone(),
        source: e,
    };
    let original = std::fs::read_to_string(&path).map_err(io)?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let scratch = tempfile::Builder::new()
        .prefix("mcp-edit-")
        .suffix(".toml")
        .tempfile()
        .map_err(io)?;
    let mut shown = original.clone();
    loop {
        std::fs::write(scratch.path(), &shown).map_err(io)?;
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("mcp-edit")
            .arg(scratch.path())
            .status()
            .map_err(io)?;
        if !status.success() {
            output::error(&format!(
                "editor {editor:?} failed ({status}); nothing saved"
            ));
            return Ok(ExitStatus::Problems);
        }
        let edited = std::fs::read_to_string(scratch.path()).map_err(io)?;
        let text = strip_marks(&edited);
        if text.trim().is_empty() || edited == shown {
            output::error(if text == original {
                "no changes"
            } else {
                "aborted; nothing saved"
            });
            return Ok(if text == original {
                ExitStatus::Success
            } else {
                ExitStatus::Problems
            });
        }
        match ServiceDefinition::parse(&text, Some(&path)) {
            Ok(_) => {
                mcp_core::fsutil::write_atomic(&path, text.as_bytes(), 0o644).map_err(io)?;
                output::line(&format!("saved {}", path.display()));
                return Ok(ExitStatus::Success);
            }
            Err(e) => {
                for p in e.problems() {
                    output::error(&p.to_string());
                }
                let mut header = format!(
                    "{MARK} not saved: fix these problems, or save unchanged to abort (lines starting '{MARK}' are dropped)\n"
                );
                for p in e.problems() {
                    header.push_str(&format!("{MARK} {p}\n"));
                }
                shown = format!("{header}{text}");
            }
        }
    }
}
