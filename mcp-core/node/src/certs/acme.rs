//! An ACME issuer (RFC 8555, instant-acme): any ACME server, with External Account
//! Binding when the server wants it, proving control of a hostname by HTTP-01 (a
//! short-lived responder on a configured address) or DNS-01 (a TXT record through
//! the node's DNS registrar, removed afterwards). The account is created once and
//! its credentials kept in a file (mode 0600).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, ExternalAccountKey,
    Identifier, NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{CertError, CertIssuer, IssuedCert};
use crate::dns::DnsRegistrar;
use crate::registry::DnsRecord;

/// How an ACME issuer proves control of a hostname.
#[derive(Debug, Clone)]
pub enum Challenge {
    /// HTTP-01: answer `GET /.well-known/acme-challenge/<token>` on this address
    /// (where the hostname's port 80, or the server's configured HTTP port, lands).
    Http01 {
        /// Where the responder listens while a challenge is open.
        listen: SocketAddr,
    },
    /// DNS-01: a TXT record `_acme-challenge.<hostname>` in `zone`.
    Dns01 {
        /// Who publishes it.
        registrar: Arc<dyn DnsRegistrar>,
        /// The zone hostnames are in.
        zone: String,
    },
}

/// External Account Binding: the key id and the HMAC key (raw bytes).
#[derive(Clone)]
pub struct Eab {
    /// The key id the server gave.
    pub kid: String,
    /// The HMAC key, decoded.
    pub hmac_key: Vec<u8>,
}

impl std::fmt::Debug for Eab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eab")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// An ACME certificate issuer.
#[derive(Debug, Clone)]
pub struct AcmeIssuer {
    /// The directory URL.
    pub directory: String,
    /// A PEM root to trust for the ACME server's own HTTPS (a test CA); `None`:
    /// the system roots.
    pub ca_cert: Option<PathBuf>,
    /// External Account Binding, when the server requires it.
    pub eab: Option<Eab>,
    /// Where the account's credentials are kept.
    pub account_file: PathBuf,
    /// `mailto:` contacts of the account.
    pub contact: Vec<String>,
    /// How control of a hostname is proven.
    pub challenge: Challenge,
    /// How long one issuance may take.
    pub timeout: Duration,
}

impl AcmeIssuer {
    fn fail(&self, hostname: &str, message: impl std::fmt::Display) -> CertError {
        CertError::Issue {
            issuer: format!("acme {}", self.directory),
            hostname: hostname.to_owned(),
            message: message.to_string(),
        }
    }

    fn refused(&self, hostname: &str, message: impl std::fmt::Display) -> CertError {
        CertError::Refused {
            issuer: format!("acme {}", self.directory),
            hostname: hostname.to_owned(),
            message: message.to_string(),
        }
    }

    fn builder(&self) -> Result<instant_acme::AccountBuilder, instant_acme::Error> {
        match &self.ca_cert {
            Some(p) => Account::builder_with_root(p),
            None => Account::builder(),
        }
    }

    /// The account: from the credentials file, or created (and saved) now.
    async fn account(&self, hostname: &str) -> Result<Account, CertError> {
        if let Ok(text) = std::fs::read_to_string(&self.account_file)
            && let Ok(creds) = serde_json::from_str::<AccountCredentials>(&text)
        {
            return self
                .builder()
                .map_err(|e| self.fail(hostname, e))?
                .from_credentials(creds)
                .await
                .map_err(|e| self.fail(hostname, format!("restoring the account: {e}")));
        }
        let contact: Vec<&str> = self.contact.iter().map(String::as_str).collect();
        let eab = self
            .eab
            .as_ref()
            .map(|e| ExternalAccountKey::new(e.kid.clone(), &e.hmac_key));
        let (account, creds) = self
            .builder()
            .map_err(|e| self.fail(hostname, e))?
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.directory.clone(),
                eab.as_ref(),
            )
            .await
            .map_err(|e| self.refused(hostname, format!("creating the account: {e}")))?;
        let text = serde_json::to_string(&creds).map_err(|e| self.fail(hostname, e))?;
        if let Some(dir) = self.account_file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.fail(hostname, e))?;
        }
        mcp_model::fsutil::write_atomic(&self.account_file, text.as_bytes(), 0o600).map_err(
            |e| {
                self.fail(
                    hostname,
                    format!("saving {}: {e}", self.account_file.display()),
                )
            },
        )?;
        Ok(account)
    }

    /// Publishes the DNS-01 record `_acme-challenge.<hostname>` with `value` in
    /// `zone`; the caller removes it once the order is done.
    async fn publish_dns01(
        &self,
        hostname: &str,
        registrar: &Arc<dyn DnsRegistrar>,
        zone: &str,
        value: String,
    ) -> Result<DnsRecord, CertError> {
        let name = format!("_acme-challenge.{hostname}");
        let relative = name
            .strip_suffix(&format!(".{zone}"))
            .ok_or_else(|| self.fail(hostname, format!("{hostname} is not in zone {zone}")))?
            .to_owned();
        let record = DnsRecord {
            zone: zone.to_owned(),
            name: relative,
            rtype: "TXT".into(),
            value,
            ttl: 60,
            service: None,
        };
        let registrar = registrar.clone();
        let r = record.clone();
        tokio::task::spawn_blocking(move || registrar.add(&[r]))
            .await
            .map_err(|e| self.fail(hostname, e))?
            .map_err(|e| self.fail(hostname, format!("DNS-01 record: {e}")))?;
        Ok(record)
    }

    /// Sends a CSR for a fresh key once the order is ready and waits for the
    /// certificate.
    async fn finalize(
        &self,
        hostname: &str,
        order: &mut Order,
        retry: &RetryPolicy,
    ) -> Result<IssuedCert, CertError> {
        let key = rcgen::KeyPair::generate().map_err(|e| self.fail(hostname, e))?;
        let mut params = rcgen::CertificateParams::new(vec![hostname.to_owned()])
            .map_err(|e| self.fail(hostname, e))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params
            .serialize_request(&key)
            .map_err(|e| self.fail(hostname, e))?;
        order
            .finalize_csr(csr.der())
            .await
            .map_err(|e| self.refused(hostname, format!("finalize: {e}")))?;
        let chain_pem = order
            .poll_certificate(retry)
            .await
            .map_err(|e| self.refused(hostname, format!("certificate: {e}")))?;
        Ok(IssuedCert {
            chain_pem,
            key_pem: key.serialize_pem(),
        })
    }

    async fn order(
        &self,
        hostname: &str,
        cleanup: &mut Vec<DnsRecord>,
    ) -> Result<IssuedCert, CertError> {
        let account = self.account(hostname).await?;
        // The HTTP-01 responder answers for every token of this order.
        let tokens: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let responder = match &self.challenge {
            Challenge::Http01 { listen } => Some(
                Responder::start(*listen, tokens.clone())
                    .await
                    .map_err(|e| {
                        self.fail(hostname, format!("HTTP-01 responder on {listen}: {e}"))
                    })?,
            ),
            Challenge::Dns01 { .. } => None,
        };
        let mut order = account
            .new_order(&NewOrder::new(&[Identifier::Dns(hostname.to_owned())]))
            .await
            .map_err(|e| self.refused(hostname, format!("new order: {e}")))?;
        let mut authorizations = order.authorizations();
        while let Some(result) = authorizations.next().await {
            let mut authz = result.map_err(|e| self.fail(hostname, e))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(self.refused(hostname, format!("authorization is {other:?}"))),
            }
            let kind = match self.challenge {
                Challenge::Http01 { .. } => ChallengeType::Http01,
                Challenge::Dns01 { .. } => ChallengeType::Dns01,
            };
            let mut challenge = authz.challenge(kind.clone()).ok_or_else(|| {
                self.refused(hostname, format!("the server offers no {kind:?} challenge"))
            })?;
            match &self.challenge {
                Challenge::Http01 { .. } => {
                    tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(
                        challenge.token.clone(),
                        challenge.key_authorization().as_str().to_owned(),
                    );
                }
                Challenge::Dns01 { registrar, zone } => {
                    let value = challenge.key_authorization().dns_value();
                    cleanup.push(self.publish_dns01(hostname, registrar, zone, value).await?);
                }
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| self.fail(hostname, e))?;
        }
        let retry = RetryPolicy::new().timeout(self.timeout);
        let status = order
            .poll_ready(&retry)
            .await
            .map_err(|e| self.refused(hostname, format!("validation: {e}")))?;
        if status != OrderStatus::Ready {
            return Err(self.refused(
                hostname,
                format!("the order is {status:?} after validation"),
            ));
        }
        let issued = self.finalize(hostname, &mut order, &retry).await?;
        drop(responder);
        Ok(issued)
    }
}

impl CertIssuer for AcmeIssuer {
    fn name(&self) -> &str {
        "acme"
    }

    fn issue(&self, hostname: &str) -> Result<IssuedCert, CertError> {
        let mut cleanup = Vec::new();
        let result = crate::bridge::block_on(async {
            tokio::time::timeout(self.timeout, self.order(hostname, &mut cleanup))
                .await
                .unwrap_or_else(|_| {
                    Err(self.fail(
                        hostname,
                        format!("no certificate within {:?}", self.timeout),
                    ))
                })
        })
        .map_err(|e| self.fail(hostname, e))
        .and_then(|r| r);
        if let (Challenge::Dns01 { registrar, .. }, false) = (&self.challenge, cleanup.is_empty())
            && let Err(e) = registrar.remove(&cleanup)
        {
            tracing::warn!(hostname, error = %e, "cannot remove the DNS-01 record");
        }
        result
    }
}

/// The HTTP-01 responder: serves key authorizations by token while it lives.
struct Responder {
    task: tokio::task::JoinHandle<()>,
}

impl Responder {
    async fn start(
        listen: SocketAddr,
        tokens: Arc<Mutex<BTreeMap<String, String>>>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let tokens = tokens.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 2048];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let path = request.split_whitespace().nth(1).unwrap_or("");
                    let answer = path
                        .strip_prefix("/.well-known/acme-challenge/")
                        .and_then(|t| tokens.lock().ok().and_then(|m| m.get(t).cloned()));
                    let response = match answer {
                        Some(body) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
                    };
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Responder { task })
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
