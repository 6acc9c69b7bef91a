//! `mcp login`: asks MCIAS for a token and stores it (mode 0600). The password is
//! read from the terminal without echo, or from standard input with
//! `--password-stdin`; it never appears in arguments, the environment or logs.

use std::io::BufRead;
use std::time::Duration;

use mcp_core::auth::{McIasClient, McIasSettings};

use crate::args::LoginArgs;
use crate::context::Context;
use crate::exit::ExitStatus;
use crate::output;

fn read_line(prompt: &str) -> Result<String, mcp_core::Error> {
    if !prompt.is_empty() {
        eprint!("{prompt}");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        mcp_core::auth::AuthError::Setup(format!("cannot read standard input: {e}"))
    })?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) async fn run(ctx: &Context, a: &LoginArgs) -> Result<ExitStatus, mcp_core::Error> {
    let username = match &a.username {
        Some(u) => u.clone(),
        None => read_line("username: ")?,
    };
    let password = if a.password_stdin {
        read_line("")?
    } else {
        rpassword::prompt_password("password: ").map_err(|e| {
            mcp_core::auth::AuthError::Setup(format!("cannot read the password: {e}"))
        })?
    };
    let totp = if a.totp {
        Some(read_line("TOTP code: ")?)
    } else {
        None
    };
    let ca_pem = match &ctx.config().mcias.ca_cert {
        Some(p) => {
            let p = mcp_core::config::expand_home(p);
            Some(
                std::fs::read(&p).map_err(|e| mcp_core::config::ConfigError::File {
                    what: "MCIAS CA",
                    path: p.clone(),
                    message: e.to_string(),
                })?,
            )
        }
        None => None,
    };
    let client = McIasClient::new(&McIasSettings {
        server_url: ctx.config().mcias.server_url.clone(),
        ca_pem,
        validate_path: "/v1/token/validate".into(),
        service_name: ctx.config().mcias.service_name.clone(),
        timeout: Duration::from_secs(15),
    })?;
    let token = client.login(&username, &password, totp.as_deref()).await?;
    let path = ctx.config().token_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| mcp_core::config::ConfigError::File {
            what: "token directory",
            path: dir.to_owned(),
            message: e.to_string(),
        })?;
    }
    mcp_core::fsutil::write_atomic(&path, format!("{}\n", token.token).as_bytes(), 0o600).map_err(
        |e| mcp_core::config::ConfigError::File {
            what: "token",
            path: path.clone(),
            message: e.to_string(),
        },
    )?;
    output::line(&format!(
        "logged in as {username}; token saved to {}{}",
        path.display(),
        token
            .expires_at
            .map(|t| format!(" (expires {t})"))
            .unwrap_or_default()
    ));
    Ok(ExitStatus::Success)
}
