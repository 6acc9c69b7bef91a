//! A Metacrypt issuer: the platform's secrets service issues certificates from
//! its PKI mount over REST, authenticated with the agent's MCIAS token.
//!
//! Metacrypt's issue endpoint is not published; MCP speaks
//! `POST /v1/pki/{mount}/issue/{issuer}` with `{"common_name", "dns_names",
//! "ttl"}` and reads `{"certificate", "private_key", "ca_chain"?}` (PEM). When the
//! answer carries no chain, the public `GET /v1/pki/{mount}/ca/chain` supplies it,
//! so the proxy always gets a full chain.

use std::time::Duration;

use super::{CertError, CertIssuer, IssuedCert};

/// Issues certificates from a Metacrypt PKI mount.
#[derive(Clone)]
pub struct MetacryptIssuer {
    url: String,
    token: String,
    mount: String,
    issuer: String,
    ttl: Duration,
    http: reqwest::Client,
}

impl std::fmt::Debug for MetacryptIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetacryptIssuer")
            .field("url", &self.url)
            .field("mount", &self.mount)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Issued {
    certificate: String,
    private_key: String,
    #[serde(default)]
    ca_chain: Vec<String>,
}

impl MetacryptIssuer {
    /// An issuer at `url` (mount `mount`, issuer `issuer`), sending `token`, trusting
    /// `ca_pem` or the system roots; certificates valid for `ttl`.
    pub fn new(
        url: &str,
        token: &str,
        mount: &str,
        issuer: &str,
        ttl: Duration,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, CertError> {
        let http =
            mcp_platform::pki::https_client(ca_pem, timeout).map_err(|e| CertError::Issue {
                issuer: "metacrypt".into(),
                hostname: String::new(),
                message: e,
            })?;
        Ok(MetacryptIssuer {
            url: url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            mount: mount.to_owned(),
            issuer: issuer.to_owned(),
            ttl,
            http,
        })
    }

    fn fail(&self, hostname: &str, message: impl std::fmt::Display) -> CertError {
        CertError::Issue {
            issuer: format!("metacrypt {}", self.url),
            hostname: hostname.to_owned(),
            message: message.to_string(),
        }
    }

    async fn issue_async(&self, hostname: &str) -> Result<IssuedCert, CertError> {
        let resp = self
            .http
            .post(format!(
                "{}/v1/pki/{}/issue/{}",
                self.url, self.mount, self.issuer
            ))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({
                "common_name": hostname,
                "dns_names": [hostname],
                "ttl": format!("{}h", self.ttl.as_secs() / 3600),
            }))
            .send()
            .await
            .map_err(|e| self.fail(hostname, mcp_model::kind::chain(&e)))?;
        let status = resp.status();
        let body = resp
            .text()
            .await
            .map_err(|e| self.fail(hostname, mcp_model::kind::chain(&e)))?;
        if status.is_server_error() {
            return Err(self.fail(hostname, format!("HTTP {status}: {}", body.trim())));
        }
        if !status.is_success() {
            return Err(CertError::Refused {
                issuer: format!("metacrypt {}", self.url),
                hostname: hostname.to_owned(),
                message: format!("HTTP {status}: {}", body.trim()),
            });
        }
        let issued: Issued = serde_json::from_str(&body)
            .map_err(|e| self.fail(hostname, format!("unexpected answer: {e}")))?;
        let mut chain = issued.ca_chain.join("\n");
        if chain.trim().is_empty() {
            let resp = self
                .http
                .get(format!("{}/v1/pki/{}/ca/chain", self.url, self.mount))
                .send()
                .await
                .map_err(|e| self.fail(hostname, mcp_model::kind::chain(&e)))?;
            if resp.status().is_success() {
                chain = resp
                    .text()
                    .await
                    .map_err(|e| self.fail(hostname, mcp_model::kind::chain(&e)))?;
            }
        }
        let leaf = issued.certificate.trim_end();
        Ok(IssuedCert {
            chain_pem: format!("{leaf}\n{}", chain.trim_start()),
            key_pem: issued.private_key,
        })
    }
}

impl CertIssuer for MetacryptIssuer {
    fn name(&self) -> &str {
        "metacrypt"
    }

    fn issue(&self, hostname: &str) -> Result<IssuedCert, CertError> {
        crate::bridge::block_on(self.issue_async(hostname)).map_err(|e| self.fail(hostname, e))?
    }
}
