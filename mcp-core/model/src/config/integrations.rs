//! The agent's sections for the node's integrations: the proxy (`[mcproxy]`),
//! certificates (`[certs]`), snapshots (`[snapshots]`) and DNS (`[dns]`).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[mcproxy]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McProxySection {
    /// mc-proxy's admin socket. Unset: routes and certificates are skipped (and
    /// reports and status say so).
    pub socket: Option<PathBuf>,
    /// Where the proxy reads certificates.
    pub cert_dir: PathBuf,
    /// Seconds each admin call may take.
    pub timeout_secs: u64,
}

impl Default for McProxySection {
    fn default() -> Self {
        McProxySection {
            socket: None,
            cert_dir: "/srv/mc-proxy/certs".into(),
            timeout_secs: 10,
        }
    }
}

/// `[certs]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CertsSection {
    /// `local`: the node's embedded CA; `acme`: an ACME server; `metacrypt`: the
    /// platform's CA service.
    pub issuer: String,
    /// Certificates with fewer days left are renewed.
    pub renew_window_days: u64,
    /// `local`: the CA's directory (default: `ca/` beside the database).
    pub local_ca_dir: Option<PathBuf>,
    /// `local`, `metacrypt`: days a certificate is valid.
    pub validity_days: u64,
    /// `metacrypt`: its base URL.
    pub metacrypt_url: Option<String>,
    /// `metacrypt`: PEM CA bundle to trust (default: system roots).
    pub metacrypt_ca_cert: Option<PathBuf>,
    /// `metacrypt`: file holding the bearer token (the agent's MCIAS token).
    pub metacrypt_token_file: Option<PathBuf>,
    /// `metacrypt`: the PKI mount.
    pub metacrypt_mount: String,
    /// `metacrypt`: the issuer within it.
    pub metacrypt_issuer: String,
    /// `acme`: the directory URL.
    pub acme_directory: Option<String>,
    /// `acme`: a PEM root to trust for the ACME server's HTTPS (default: system roots).
    pub acme_ca_cert: Option<PathBuf>,
    /// `acme`: `http-01` or `dns-01` (through `[dns]`).
    pub acme_challenge: String,
    /// `acme`, `http-01`: where the challenge responder listens.
    pub acme_http01_listen: Option<SocketAddr>,
    /// `acme`: External Account Binding key id.
    pub acme_eab_kid: Option<String>,
    /// `acme`: file holding the EAB HMAC key, base64url.
    pub acme_eab_hmac_key_file: Option<PathBuf>,
    /// `acme`: contact addresses of the account (`mailto:…`).
    pub acme_contact: Vec<String>,
    /// `acme`: where the account's credentials are kept (default: beside the
    /// database).
    pub acme_account_file: Option<PathBuf>,
    /// `acme`: seconds one issuance may take.
    pub acme_timeout_secs: u64,
}

impl Default for CertsSection {
    fn default() -> Self {
        CertsSection {
            issuer: "local".into(),
            renew_window_days: 30,
            local_ca_dir: None,
            validity_days: 90,
            metacrypt_url: None,
            metacrypt_ca_cert: None,
            metacrypt_token_file: None,
            metacrypt_mount: "pki".into(),
            metacrypt_issuer: "infra".into(),
            acme_directory: None,
            acme_ca_cert: None,
            acme_challenge: "http-01".into(),
            acme_http01_listen: None,
            acme_eab_kid: None,
            acme_eab_hmac_key_file: None,
            acme_contact: Vec::new(),
            acme_account_file: None,
            acme_timeout_secs: 120,
        }
    }
}

/// `[snapshots]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SnapshotsSection {
    /// The directory (`<dir>/<service>/<UTC time>.tar.zst`); default `snapshots/`
    /// beside the database.
    pub dir: Option<PathBuf>,
    /// How many snapshots of each service are kept.
    pub retain: usize,
}

impl Default for SnapshotsSection {
    fn default() -> Self {
        SnapshotsSection {
            dir: None,
            retain: 7,
        }
    }
}

/// `[dns]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsSection {
    /// `rfc2136` (TSIG-signed dynamic updates) or `mcns` (its REST API). Unset:
    /// DNS registration is skipped (and reports and status say so).
    pub registrar: Option<String>,
    /// The zone (default: `[conventions] zone`).
    pub zone: Option<String>,
    /// The node's addresses every hostname points at (LAN, overlay).
    pub addresses: Vec<IpAddr>,
    /// TTL of the records, seconds.
    pub ttl: u32,
    /// Seconds each update may take.
    pub timeout_secs: u64,
    /// `rfc2136`: the primary server, `host:port`.
    pub server: Option<SocketAddr>,
    /// `rfc2136`: the TSIG key's name.
    pub tsig_key_name: Option<String>,
    /// `rfc2136`: `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub tsig_algorithm: String,
    /// `rfc2136`: file holding the TSIG secret, base64 (as in BIND's key file).
    pub tsig_secret_file: Option<PathBuf>,
    /// `mcns`: its base URL.
    pub url: Option<String>,
    /// `mcns`: PEM CA bundle trusted besides the system roots.
    pub ca_cert: Option<PathBuf>,
    /// `mcns`: file holding the bearer token (the agent's MCIAS system token).
    pub token_file: Option<PathBuf>,
}

impl Default for DnsSection {
    fn default() -> Self {
        DnsSection {
            registrar: None,
            zone: None,
            addresses: Vec::new(),
            ttl: 300,
            timeout_secs: 5,
            server: None,
            tsig_key_name: None,
            tsig_algorithm: "hmac-sha256".into(),
            tsig_secret_file: None,
            url: None,
            ca_cert: None,
            token_file: None,
        }
    }
}
