//! Who is calling the agent: MCIAS bearer tokens, validated over HTTPS and cached
//! for 30 s (keyed by the token's SHA-256, never the token itself), or, on a
//! single-machine node, one admin token kept in a file. Guest accounts are refused;
//! what the others may do is [`crate::access`]'s, and [`Gate`] asks both.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mcp_model::config::{AgentConfig, AuthMode};
use mcp_platform::mcias::{AuthError, Identity, McIasClient, McIasSettings};
use sha2::Digest;

use crate::access::Authorizer;

/// How long a valid token is trusted without asking MCIAS again.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// Decides who a caller is, from the `authorization` header.
#[derive(Debug)]
pub enum Authenticator {
    /// Tokens are validated by MCIAS, valid answers cached for [`CACHE_TTL`].
    Mcias {
        /// The MCIAS client.
        client: McIasClient,
        /// SHA-256 of a token → who it is and until when that is trusted.
        cache: Mutex<HashMap<[u8; 32], (Identity, Instant)>>,
    },
    /// One admin token, from a file (single-machine nodes).
    TokenFile {
        /// SHA-256 of the token.
        digest: [u8; 32],
    },
}

impl Authenticator {
    /// MCIAS validation with a cache.
    pub fn mcias(client: McIasClient) -> Self {
        Authenticator::Mcias {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The admin token in `path`.
    pub fn token_file(path: &std::path::Path) -> Result<Self, AuthError> {
        let token = mcp_model::fsutil::read_secret(path)
            .map_err(|e| AuthError::Setup(format!("token file {}: {e}", path.display())))?;
        let token = String::from_utf8_lossy(&token);
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Setup(format!(
                "token file {} is empty",
                path.display()
            )));
        }
        Ok(Authenticator::TokenFile {
            digest: sha2::Sha256::digest(token.as_bytes()).into(),
        })
    }

    /// The authenticator an agent configured by `config` uses.
    pub fn from_config(config: &AgentConfig) -> Result<Self, AuthError> {
        match config.auth.mode {
            AuthMode::TokenFile => {
                let path = config.auth.token_file.as_ref().ok_or_else(|| {
                    AuthError::Setup("auth.mode = \"token-file\" needs auth.token_file".into())
                })?;
                Self::token_file(path)
            }
            AuthMode::Mcias => {
                let ca_pem = match &config.mcias.ca_cert {
                    Some(p) => Some(std::fs::read(p).map_err(|e| {
                        AuthError::Setup(format!("mcias.ca_cert {}: {e}", p.display()))
                    })?),
                    None => None,
                };
                Ok(Self::mcias(McIasClient::new(&McIasSettings {
                    server_url: config.mcias.server_url.clone(),
                    ca_pem,
                    validate_path: config.mcias.validate_path.clone(),
                    service_name: config.mcias.service_name.clone(),
                    timeout: Duration::from_secs(10),
                })?))
            }
        }
    }

    /// Who sends `header` (the value of `authorization`, if any).
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Identity, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .filter(|t| !t.is_empty() && t.len() <= 8192 && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or(AuthError::Malformed)?;
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let identity = match self {
            Authenticator::TokenFile { digest: want } => {
                // Compare without leaking where they differ.
                let diff = want
                    .iter()
                    .zip(&digest)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b));
                if diff != 0 {
                    return Err(AuthError::Rejected("not this node's admin token".into()));
                }
                Identity {
                    username: "admin".into(),
                    account_type: "human".into(),
                    roles: vec!["admin".into()],
                }
            }
            Authenticator::Mcias { client, cache } => {
                let now = Instant::now();
                let cached = {
                    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
                    cache.retain(|_, (_, until)| *until > now);
                    cache.get(&digest).map(|(id, _)| id.clone())
                };
                match cached {
                    Some(id) => id,
                    None => {
                        let id = client.validate(token).await?;
                        cache
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(digest, (id.clone(), now + CACHE_TTL));
                        id
                    }
                }
            }
        };
        if identity.is_guest() {
            return Err(AuthError::Denied(format!(
                "{} is a guest account; guests cannot use the agent",
                identity.username
            )));
        }
        Ok(identity)
    }
}

/// The agent's door: who is calling ([`Authenticator`]), and whether they may
/// call this method ([`Authorizer`]).
#[derive(Debug)]
pub struct Gate {
    /// Who is calling.
    pub authenticator: Authenticator,
    /// What they may do.
    pub authorizer: Authorizer,
}

impl Gate {
    /// The identity behind `header`, when it may call `method` (a gRPC path).
    pub async fn admit(&self, header: Option<&str>, method: &str) -> Result<Identity, AuthError> {
        let identity = self.authenticator.authenticate(header).await?;
        self.authorizer.allow(&identity, method)?;
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use mcp_model::ErrorKind;

    use super::*;

    #[tokio::test]
    async fn token_file_accepts_only_its_token_and_rejects_malformed_headers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        mcp_model::fsutil::write_atomic(&path, b"s3cret\n", 0o644).expect("write");
        let err = Authenticator::token_file(&path).expect_err("readable by others");
        assert!(
            err.to_string()
                .contains(&format!("chmod 600 {}", path.display())),
            "{err}"
        );
        mcp_model::fsutil::write_atomic(&path, b"s3cret\n", 0o600).expect("write");
        let auth = Authenticator::token_file(&path).expect("auth");
        assert_eq!(
            auth.authenticate(Some("Bearer s3cret"))
                .await
                .expect("ok")
                .username,
            "admin"
        );
        for (header, kind) in [
            (None, ErrorKind::Unauthenticated),
            (Some("Bearer wrong"), ErrorKind::Unauthenticated),
            (Some("Basic s3cret"), ErrorKind::Unauthenticated),
            (Some("Bearer "), ErrorKind::Unauthenticated),
            (Some("Bearer a b"), ErrorKind::Unauthenticated),
        ] {
            let err = auth.authenticate(header).await.expect_err("refused");
            assert_eq!(err.kind(), kind, "{header:?}");
        }
        let empty = dir.path().join("empty");
        mcp_model::fsutil::write_atomic(&empty, b"\n", 0o600).expect("write");
        assert!(Authenticator::token_file(&empty).is_err());
    }
}
