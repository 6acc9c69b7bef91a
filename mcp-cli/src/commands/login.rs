//! `mcp login`: asks MCIAS for a token and stores it (mode 0600). The password is
//! read from the terminal without echo, or from standard input with
//! `--password-stdin`; it never appears in arguments, the environment or logs.

use std::io::BufRead;

use mcp_core::platform::mcias::AuthError;

use super::Outcome;
use crate::args::LoginArgs;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

fn read_line(prompt: &str) -> Result<String, AuthError> {
    if !prompt.is_empty() {
        eprint!("{prompt}");
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| AuthError::Setup(format!("cannot read standard input: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) async fn run(ctx: &Context, a: &LoginArgs) -> Outcome {
    let username = match &a.username {
        Some(u) => u.clone(),
        None => read_line("username: ")?,
    };
    let password = if a.password_stdin {
        read_line("")?
    } else {
        rpassword::prompt_password("password: ")
            .map_err(|e| AuthError::Setup(format!("cannot read the password: {e}")))?
    };
    let totp = a.totp.then(|| read_line("TOTP code: ")).transpose()?;
    let login = ctx
        .fleet
        .login(&username, &password, totp.as_deref())
        .await?;
    let expires = login.expires_at.as_ref().map(|t| format!(" (expires {t})"));
    output::line(&format!(
        "logged in as {}; token saved to {}{}",
        login.username,
        login.token_path.display(),
        expires.unwrap_or_default()
    ));
    Ok(ExitStatus::Success)
}
