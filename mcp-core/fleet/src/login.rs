//! `mcp login`: a token from MCIAS for the configured service, stored where the
//! configuration says (`[auth] token_path`), readable by its owner only.

use std::path::PathBuf;
use std::time::Duration;

use mcp_model::config::{ConfigError, expand_home};
use mcp_platform::mcias::{DEFAULT_VALIDATE_PATH, McIasClient, McIasSettings};
use serde::Serialize;

use crate::fleet::Fleet;

/// How long the login request may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);

/// A login that succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Login {
    /// Who logged in.
    pub username: String,
    /// Where the token was stored (mode 0600).
    pub token_path: PathBuf,
    /// When the token expires, as MCIAS wrote it.
    pub expires_at: Option<String>,
}

impl Fleet {
    /// Logs `username` in to MCIAS (`[mcias]`) and stores the token in the token
    /// file, replacing it atomically, mode 0600.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp: Option<&str>,
    ) -> Result<Login, crate::Error> {
        let m = &self.config().mcias;
        let ca_pem = match &m.ca_cert {
            Some(p) => {
                let p = expand_home(p);
                Some(std::fs::read(&p).map_err(|e| ConfigError::File {
                    what: "MCIAS CA",
                    path: p.clone(),
                    message: e.to_string(),
                })?)
            }
            None => None,
        };
        let client = McIasClient::new(&McIasSettings {
            server_url: m.server_url.clone(),
            ca_pem,
            validate_path: DEFAULT_VALIDATE_PATH.into(),
            service_name: m.service_name.clone(),
            timeout: LOGIN_TIMEOUT,
        })?;
        let token = client.login(username, password, totp).await?;
        let token_path = self.config().token_path();
        store_token(&token_path, &token.token)?;
        Ok(Login {
            username: username.to_owned(),
            token_path,
            expires_at: token.expires_at,
        })
    }
}

/// Writes `token` to `path` (its directory made when missing), mode 0600.
fn store_token(path: &std::path::Path, token: &str) -> Result<(), ConfigError> {
    fn err(
        what: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> ConfigError {
        let path = path.to_owned();
        move |e| ConfigError::File {
            what,
            path,
            message: e.to_string(),
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err("token directory", dir))?;
    }
    mcp_model::fsutil::write_atomic(path, format!("{token}\n").as_bytes(), 0o600)
        .map_err(err("token", path))
}
