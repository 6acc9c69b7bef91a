//! `Exec`'s messages: the start, the input that follows, the output.

use mcp_model::view::{ExecInput, ExecOutput, WindowSize};

use super::{Malformed, Result};
use crate::v1;
use crate::v1::exec_reply::Output;
use crate::v1::exec_request::Input;

/// Encodes a window size.
pub fn encode_window(w: WindowSize) -> v1::WindowSize {
    v1::WindowSize {
        rows: w.rows.into(),
        cols: w.cols.into(),
    }
}

/// Decodes a window size (each side at most 65535).
pub fn decode_window(w: &v1::WindowSize) -> Result<WindowSize> {
    let side = |n: u32| u16::try_from(n).map_err(|_| Malformed(format!("window size {n}")));
    Ok(WindowSize {
        rows: side(w.rows)?,
        cols: side(w.cols)?,
    })
}

/// Encodes one input message (never the start).
pub fn encode_exec_input(i: ExecInput) -> v1::ExecRequest {
    let input = match i {
        ExecInput::Stdin(bytes) => Input::Stdin(bytes),
        ExecInput::Resize(w) => Input::Resize(encode_window(w)),
        ExecInput::CloseStdin => Input::CloseStdin(true),
    };
    v1::ExecRequest { input: Some(input) }
}

/// Decodes one input message after the start; a second start is malformed.
pub fn decode_exec_input(r: v1::ExecRequest) -> Result<ExecInput> {
    match r.input {
        Some(Input::Stdin(bytes)) => Ok(ExecInput::Stdin(bytes)),
        Some(Input::Resize(w)) => Ok(ExecInput::Resize(decode_window(&w)?)),
        Some(Input::CloseStdin(_)) => Ok(ExecInput::CloseStdin),
        Some(Input::Start(_)) => Err(Malformed("exec: a second start".into())),
        None => Err(Malformed("exec: an empty message".into())),
    }
}

/// Encodes one output message.
pub fn encode_exec_output(o: ExecOutput) -> v1::ExecReply {
    let output = match o {
        ExecOutput::Stdout(bytes) => Output::Stdout(bytes),
        ExecOutput::Stderr(bytes) => Output::Stderr(bytes),
        ExecOutput::Exit(code) => Output::ExitCode(code),
    };
    v1::ExecReply {
        output: Some(output),
    }
}

/// Decodes one output message.
pub fn decode_exec_output(r: v1::ExecReply) -> Result<ExecOutput> {
    match r.output {
        Some(Output::Stdout(bytes)) => Ok(ExecOutput::Stdout(bytes)),
        Some(Output::Stderr(bytes)) => Ok(ExecOutput::Stderr(bytes)),
        Some(Output::ExitCode(code)) => Ok(ExecOutput::Exit(code)),
        None => Err(Malformed("exec: an empty reply".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_messages_round_trip() {
        let size = WindowSize { rows: 24, cols: 80 };
        for i in [
            ExecInput::Stdin(b"ls\n".to_vec()),
            ExecInput::Resize(size),
            ExecInput::CloseStdin,
        ] {
            assert_eq!(decode_exec_input(encode_exec_input(i.clone())), Ok(i));
        }
        for o in [
            ExecOutput::Stdout(b"a".to_vec()),
            ExecOutput::Stderr(b"b".to_vec()),
            ExecOutput::Exit(3),
        ] {
            assert_eq!(decode_exec_output(encode_exec_output(o.clone())), Ok(o));
        }
        let huge = v1::WindowSize {
            rows: 70_000,
            cols: 80,
        };
        assert!(decode_window(&huge).is_err());
        assert!(decode_exec_input(v1::ExecRequest { input: None }).is_err());
    }
}
