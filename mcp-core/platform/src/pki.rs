//! Certificate material MCP makes and reads itself: the local CA of a single-machine
//! node (`mcp-agent init --local`) and the agent's own TLS certificate, plus PEM
//! loading with errors that name the file (rustls-pki-types, not the unmaintained
//! rustls-pemfile).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use mcp_model::ErrorKind;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Generating or signing failed.
    #[error("cannot generate {what}: {message}")]
    Generate {
        /// What was being made.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
}

impl PkiError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PkiError::File { .. } => ErrorKind::InvalidInput,
            PkiError::Generate { .. } => ErrorKind::Internal,
        }
    }
}

fn generate_err(what: &'static str) -> impl Fn(rcgen::Error) -> PkiError {
    move |e| PkiError::Generate {
        what,
        message: e.to_string(),
    }
}

/// A PEM certificate and its PEM private key.
#[derive(Clone)]
pub struct CertifiedKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for CertifiedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertifiedKey")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Creates a self-signed CA named `common_name`.
pub fn create_ca(common_name: &str) -> Result<CertifiedKey, PkiError> {
    let key = KeyPair::generate().map_err(generate_err("CA key"))?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(generate_err("CA"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).map_err(generate_err("CA"))?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a server certificate for `names` (DNS names or IP addresses) signed by `ca`.
pub fn issue_server_cert(ca: &CertifiedKey, names: &[&str]) -> Result<CertifiedKey, PkiError> {
    let ca_key = KeyPair::from_pem(&ca.key_pem).map_err(generate_err("CA key"))?;
    let issuer = Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).map_err(generate_err("issuer"))?;
    let key = KeyPair::generate().map_err(generate_err("server key"))?;
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .map_err(generate_err("server certificate"))?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("mcp-agent"),
    );
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(generate_err("server certificate"))?;
    Ok(CertifiedKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// The certificates in the PEM file `path` (at least one).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let file_err = |message: String| PkiError::File {
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(format!("cannot read certificates: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_err("no certificate in the file".into()));
    }
    Ok(certs)
}

/// The private key in the PEM file `path`.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, PkiError> {
    let pem = mcp_model::fsutil::read_secret(path).map_err(|e| PkiError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| PkiError::File {
        path: path.to_owned(),
        message: format!("no usable private key: {e}"),
    })
}

/// The system's CA bundle (Debian's path), trusted when no CA is configured.
pub const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// An HTTPS client (TLS 1.3, ring) trusting `ca_pem`, or the system roots when
/// `None`; each request bounded by `timeout`. Shared by the clients of MCIAS, MCNS
/// and the certificate issuers. The error says which part failed.
pub fn https_client(
    ca_pem: Option<&[u8]>,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, String> {
    let system;
    let pem = match ca_pem {
        Some(p) => p,
        None => {
            system = std::fs::read(SYSTEM_ROOTS)
                .map_err(|e| format!("no CA configured and {SYSTEM_ROOTS}: {e}"))?;
            &system
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("CA bundle: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("CA certificate: {e}"))?;
    }
    let mut tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// A fresh random token: 32 bytes, hex.
pub fn random_token() -> Result<String, PkiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| PkiError::Generate {
        what: "token",
        message: e.to_string(),
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_ca_issues_a_server_certificate_rustls_accepts() {
        let ca = create_ca("mcp local CA").expect("ca");
        let server = issue_server_cert(&ca, &["localhost", "127.0.0.1"]).expect("server");
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, format!("{}{}", server.cert_pem, ca.cert_pem)).expect("write");
        mcp_model::fsutil::write_atomic(&key, server.key_pem.as_bytes(), 0o644).expect("write");
        assert!(
            load_key(&key)
                .expect_err("readable by others")
                .to_string()
                .contains("chmod 600"),
            "a key others can read is refused"
        );
        mcp_model::fsutil::write_atomic(&key, server.key_pem.as_bytes(), 0o600).expect("write");
        let chain = load_certs(&cert).expect("certs");
        assert_eq!(chain.len(), 2);
        let key = load_key(&key).expect("key");
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key);
        assert!(config.is_ok(), "{config:?}");
        let err = load_certs(&dir.path().join("missing.pem")).expect_err("missing");
        assert!(err.to_string().contains("missing.pem"), "{err}");
        assert_eq!(random_token().expect("token").len(), 64);
    }
}
