//! MCIAS, the platform's identity service: logging in (the operator's side gets a
//! token) and validating a bearer token (the agent asks who is calling).
//!
//! The MCIAS wire format (JSON over HTTPS):
//! * login: `POST <server_url>/v1/auth/login` with
//!   `{"username", "password", "totp_code"?, "service_name"}` → `200 {"token",
//!   "expires_at"?}`; 401 for wrong credentials, 403 when policy denies the login.
//! * validation: `POST <server_url><validate_path>` (default `/v1/token/validate`)
//!   with `Authorization: Bearer <token>` and `{"service_name"}` → `200 {"valid",
//!   "username", "account_type", "roles", "expires_at"?}`; 401 or `"valid": false`
//!   for an unknown or expired token.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use mcp_model::ErrorKind;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `authorization` header.
    #[error("missing bearer token: log in with `mcp login`")]
    Missing,
    /// The header is not `Bearer <token>` with a plausible token.
    #[error("malformed authorization header: expected `Bearer <token>`")]
    Malformed,
    /// The token is unknown, expired or revoked.
    #[error("token rejected: {0}")]
    Rejected(String),
    /// The account may not use this service (guests, or denied by policy).
    #[error("permission denied: {0}")]
    Denied(String),
    /// MCIAS could not be reached or answered nonsense.
    #[error("cannot check the token with MCIAS at {url}: {message}")]
    Unavailable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The authentication settings are unusable.
    #[error("authentication setup: {0}")]
    Setup(String),
}

impl AuthError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuthError::Missing | AuthError::Malformed | AuthError::Rejected(_) => {
                ErrorKind::Unauthenticated
            }
            AuthError::Denied(_) => ErrorKind::PermissionDenied,
            AuthError::Unavailable { .. } => ErrorKind::Unavailable,
            AuthError::Setup(_) => ErrorKind::InvalidInput,
        }
    }
}

/// Where MCIAS validates tokens unless configured otherwise.
pub const DEFAULT_VALIDATE_PATH: &str = "/v1/token/validate";

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Account name (recorded as the actor of events).
    pub username: String,
    /// `human` or `system`.
    pub account_type: String,
    /// MCIAS roles (`admin`, `user`, `guest`).
    pub roles: Vec<String>,
}

impl Identity {
    /// Whether the account is a guest (and nothing more).
    pub fn is_guest(&self) -> bool {
        self.roles.iter().any(|r| r == "guest")
            && !self.roles.iter().any(|r| r == "admin" || r == "user")
    }
}

/// A token MCIAS issued.
#[derive(Clone, Deserialize)]
pub struct LoginToken {
    /// The bearer token.
    pub token: String,
    /// When it expires, as MCIAS wrote it.
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl std::fmt::Debug for LoginToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A client of MCIAS's HTTPS API.
#[derive(Debug, Clone)]
pub struct McIasClient {
    http: reqwest::Client,
    server_url: String,
    validate_path: String,
    service_name: String,
}

/// Settings for [`McIasClient`].
#[derive(Debug, Clone)]
pub struct McIasSettings {
    /// Base URL, e.g. `https://mcias.metacircular.net:8443`.
    pub server_url: String,
    /// PEM of the CA to trust for MCIAS (the system roots when `None`).
    pub ca_pem: Option<Vec<u8>>,
    /// Path of the validation endpoint.
    pub validate_path: String,
    /// The service name MCIAS knows this program by.
    pub service_name: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl McIasClient {
    /// A client for `settings`.
    pub fn new(settings: &McIasSettings) -> Result<Self, AuthError> {
        let http = crate::pki::https_client(settings.ca_pem.as_deref(), settings.timeout)
            .map_err(|e| AuthError::Setup(format!("MCIAS: {e}")))?;
        Ok(McIasClient {
            http,
            server_url: settings.server_url.trim_end_matches('/').to_owned(),
            validate_path: settings.validate_path.clone(),
            service_name: settings.service_name.clone(),
        })
    }

    fn unavailable(&self, url: &str, e: impl std::fmt::Display) -> AuthError {
        AuthError::Unavailable {
            url: url.to_owned(),
            message: e.to_string(),
        }
    }

    /// Logs in with a password (and TOTP code when the account needs one).
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp_code: Option<&str>,
    ) -> Result<LoginToken, AuthError> {
        #[derive(Serialize)]
        struct Login<'a> {
            username: &'a str,
            password: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            totp_code: Option<&'a str>,
            service_name: &'a str,
        }
        let url = format!("{}/v1/auth/login", self.server_url);
        let resp = self
            .http
            .post(&url)
            .json(&Login {
                username,
                password,
                totp_code,
                service_name: &self.service_name,
            })
            .send()
            .await
            .map_err(|e| self.unavailable(&url, mcp_model::kind::chain(&e)))?;
        match resp.status().as_u16() {
            200 => resp
                .json::<LoginToken>()
                .await
                .map_err(|e| self.unavailable(&url, e)),
            401 => Err(AuthError::Rejected(
                "wrong username, password or TOTP code".into(),
            )),
            403 => Err(AuthError::Denied(format!(
                "MCIAS policy does not allow {username} to log in to {}",
                self.service_name
            ))),
            code => Err(self.unavailable(&url, format!("HTTP {code}"))),
        }
    }

    /// Asks MCIAS who `token` belongs to.
    pub async fn validate(&self, token: &str) -> Result<Identity, AuthError> {
        #[derive(Deserialize)]
        struct Answer {
            valid: bool,
            #[serde(default)]
            username: String,
            #[serde(default)]
            account_type: String,
            #[serde(default)]
            roles: Vec<String>,
        }
        let url = format!("{}{}", self.server_url, self.validate_path);
        let resp = self
            .http
            .post(&url)
            .bearer_auth(token)
            .json(&serde_json::json!({ "service_name": self.service_name }))
            .send()
            .await
            .map_err(|e| self.unavailable(&url, mcp_model::kind::chain(&e)))?;
        match resp.status().as_u16() {
            200 => {
                let a: Answer = resp.json().await.map_err(|e| self.unavailable(&url, e))?;
                if !a.valid {
                    return Err(AuthError::Rejected("unknown or expired token".into()));
                }
                Ok(Identity {
                    username: a.username,
                    account_type: a.account_type,
                    roles: a.roles,
                })
            }
            401 => Err(AuthError::Rejected("unknown or expired token".into())),
            403 => Err(AuthError::Denied("MCIAS policy denies this account".into())),
            code => Err(self.unavailable(&url, format!("HTTP {code}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guests_are_guests_only_without_other_roles() {
        let id = |roles: &[&str]| Identity {
            username: "u".into(),
            account_type: "human".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        assert!(id(&["guest"]).is_guest());
        assert!(!id(&["guest", "user"]).is_guest());
        assert!(!id(&["admin"]).is_guest());
    }
}
