//! An in-process stand-in for Metacrypt's PKI over REST (see
//! `mcp_core::node::certs::metacrypt`): issues certificates for the `infra` issuer of
//! mount `pki` from its own CA, requires a bearer token, and serves the CA chain.
//! Can be told to leave the chain out of its answers, or to refuse.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::https_fake::{HttpsFake, Request};

/// A running fake Metacrypt. Stops when dropped.
#[derive(Debug)]
pub struct FakeMetacrypt {
    /// Its base URL.
    pub url: String,
    /// PEM of the CA its HTTPS certificate chains to.
    pub tls_ca_pem: String,
    /// PEM of the CA it issues from.
    pub issuing_ca_pem: String,
    /// The token it accepts.
    pub token: String,
    /// Certificates issued.
    pub issued: Arc<AtomicUsize>,
    /// Answer without `ca_chain` (clients must fetch the chain).
    pub leaf_only: Arc<AtomicBool>,
    /// Serve no chain endpoint either.
    pub no_chain: Arc<AtomicBool>,
    _server: HttpsFake,
}

impl FakeMetacrypt {
    /// Starts a fake Metacrypt accepting `token`.
    pub fn start(token: &str) -> io::Result<Self> {
        let ca = mcp_core::platform::pki::create_ca("fake Metacrypt infra CA")
            .map_err(io::Error::other)?;
        let issued = Arc::new(AtomicUsize::new(0));
        let leaf_only = Arc::new(AtomicBool::new(false));
        let no_chain = Arc::new(AtomicBool::new(false));
        let (ca2, tok, n, lo, nc) = (
            ca.clone(),
            token.to_owned(),
            issued.clone(),
            leaf_only.clone(),
            no_chain.clone(),
        );
        let handler = move |r: &Request| -> (u16, serde_json::Value) {
            match (r.method.as_str(), r.path.as_str()) {
                ("GET", "/v1/pki/pki/ca/chain") if !nc.load(Ordering::SeqCst) => {
                    (200, serde_json::Value::String(ca2.cert_pem.clone()))
                }
                ("POST", "/v1/pki/pki/issue/infra") => {
                    if r.bearer.as_deref() != Some(tok.as_str()) {
                        return (403, serde_json::json!({"error": "permission denied"}));
                    }
                    let Some(cn) = r.body.get("common_name").and_then(|v| v.as_str()) else {
                        return (400, serde_json::json!({"error": "common_name is required"}));
                    };
                    match mcp_core::platform::pki::issue_server_cert(&ca2, &[cn]) {
                        Ok(leaf) => {
                            n.fetch_add(1, Ordering::SeqCst);
                            let chain: Vec<&str> = if lo.load(Ordering::SeqCst) {
                                vec![]
                            } else {
                                vec![ca2.cert_pem.as_str()]
                            };
                            (
                                200,
                                serde_json::json!({
                                    "certificate": leaf.cert_pem,
                                    "private_key": leaf.key_pem,
                                    "ca_chain": chain,
                                }),
                            )
                        }
                        Err(e) => (500, serde_json::json!({"error": e.to_string()})),
                    }
                }
                _ => (404, serde_json::json!({"error": "not found"})),
            }
        };
        let server = HttpsFake::start("Metacrypt", Arc::new(handler))?;
        Ok(FakeMetacrypt {
            url: server.url.clone(),
            tls_ca_pem: server.ca_pem.clone(),
            issuing_ca_pem: ca.cert_pem,
            token: token.to_owned(),
            issued,
            leaf_only,
            no_chain,
            _server: server,
        })
    }
}
