//! TLS certificates for l7 routes: issuing, checking, storing, renewing.
//!
//! One certificate per hostname (no wildcards), written for the proxy as a PEM full
//! chain (leaf first) and a PEM key (mode 0600), each replaced atomically. A
//! certificate on disk is reused while it covers the hostname, matches its key,
//! holds its chain and has more than the renewal window left; otherwise the
//! configured [`CertIssuer`] issues a new one. [`inspect`] is the one place
//! certificate files are judged: a leaf-only file (mc-proxy fails silently on
//! those), a key that does not match, an expired certificate or one for another
//! host is an error naming the file and the problem.
//!
//! Issuers: [`LocalCa`], an embedded CA (the default when nothing else is
//! configured), [`acme::AcmeIssuer`], any ACME server, and
//! [`metacrypt::MetacryptIssuer`], the platform's own CA service.

pub mod acme;
pub mod metacrypt;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DnType, Issuer, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use mcp_model::ErrorKind;

/// How long before expiry a certificate is renewed, unless configured.
pub const DEFAULT_RENEW_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A certificate or key file is unusable.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The issuer could not issue.
    #[error("issuing a certificate for {hostname} from {issuer}: {message}")]
    Issue {
        /// The issuer.
        issuer: String,
        /// The hostname.
        hostname: String,
        /// Why.
        message: String,
    },
    /// The issuer refused the request.
    #[error("{issuer} refused a certificate for {hostname}: {message}")]
    Refused {
        /// The issuer.
        issuer: String,
        /// The hostname.
        hostname: String,
        /// Its word.
        message: String,
    },
}

impl CertError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CertError::File { .. } => ErrorKind::InvalidInput,
            CertError::Issue { .. } => ErrorKind::Unavailable,
            CertError::Refused { .. } => ErrorKind::FailedPrecondition,
        }
    }
}

fn file_err(path: &Path) -> impl Fn(String) -> CertError + '_ {
    move |message| CertError::File {
        path: path.to_owned(),
        message,
    }
}

/// A certificate as an issuer hands it over.
#[derive(Clone)]
pub struct IssuedCert {
    /// PEM: the leaf, then the intermediates (the root may follow).
    pub chain_pem: String,
    /// PEM private key.
    pub key_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("chain_pem", &self.chain_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Something that issues certificates. Implementations are blocking.
pub trait CertIssuer: Send + Sync + std::fmt::Debug {
    /// A short name for events, status and errors (`local`, `acme`, `metacrypt`).
    fn name(&self) -> &str;
    /// A certificate for exactly `hostname`.
    fn issue(&self, hostname: &str) -> Result<IssuedCert, CertError>;
}

/// An embedded CA (rcgen): what a node uses when no external issuer is configured.
/// Its certificate and key live in a directory (`ca.pem`, `ca.key`, mode 0600),
/// created on first use.
#[derive(Clone)]
pub struct LocalCa {
    ca: mcp_platform::pki::CertifiedKey,
    validity: Duration,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

impl LocalCa {
    /// The CA in `dir`, created there when absent. Certificates it issues are valid
    /// for `validity`.
    pub fn open_or_create(dir: &Path, validity: Duration) -> Result<Self, CertError> {
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        let io = |p: &Path| {
            let p = p.to_owned();
            move |e: std::io::Error| CertError::File {
                path: p.clone(),
                message: e.to_string(),
            }
        };
        if !cert.exists() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let ca = mcp_platform::pki::create_ca("MCP node CA").map_err(|e| CertError::File {
                path: cert.clone(),
                message: e.to_string(),
            })?;
            mcp_model::fsutil::write_atomic(&key, ca.key_pem.as_bytes(), 0o600)
                .map_err(io(&key))?;
            mcp_model::fsutil::write_atomic(&cert, ca.cert_pem.as_bytes(), 0o644)
                .map_err(io(&cert))?;
        }
        Ok(LocalCa {
            ca: mcp_platform::pki::CertifiedKey {
                cert_pem: std::fs::read_to_string(&cert).map_err(io(&cert))?,
                key_pem: std::fs::read_to_string(&key).map_err(io(&key))?,
            },
            validity,
        })
    }

    /// The CA certificate, PEM (what clients of the proxy trust).
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }
}

impl CertIssuer for LocalCa {
    fn name(&self) -> &str {
        "local"
    }

    fn issue(&self, hostname: &str) -> Result<IssuedCert, CertError> {
        let fail = |e: rcgen::Error| CertError::Issue {
            issuer: "local".into(),
            hostname: hostname.to_owned(),
            message: e.to_string(),
        };
        let ca_key = KeyPair::from_pem(&self.ca.key_pem).map_err(fail)?;
        let issuer = Issuer::from_ca_cert_pem(&self.ca.cert_pem, ca_key).map_err(fail)?;
        let key = KeyPair::generate().map_err(fail)?;
        let mut params = CertificateParams::new(vec![hostname.to_owned()]).map_err(fail)?;
        params.distinguished_name.push(DnType::CommonName, hostname);
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(60)).into();
        params.not_after = (now + self.validity).into();
        let mut serial = [0u8; 16];
        getrandom::fill(&mut serial).map_err(|e| CertError::Issue {
            issuer: "local".into(),
            hostname: hostname.to_owned(),
            message: e.to_string(),
        })?;
        serial[0] &= 0x7f;
        params.serial_number = Some(serial.to_vec().into());
        let cert = params.signed_by(&key, &issuer).map_err(fail)?;
        Ok(IssuedCert {
            chain_pem: format!("{}{}", cert.pem(), self.ca.cert_pem),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What a certificate file holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertInfo {
    /// DNS names of the leaf (subject alternative names).
    pub hostnames: Vec<String>,
    /// The leaf's serial number, hex with colons.
    pub serial: String,
    /// The leaf's expiry.
    pub not_after: SystemTime,
    /// Certificates in the file (a full chain has at least two).
    pub chain_len: usize,
}

fn to_system_time(t: x509_parser::time::ASN1Time) -> SystemTime {
    let secs = t.timestamp();
    match u64::try_from(secs) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::from_secs(s),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

/// Reads and judges a certificate file and its key: PEM that parses, a full chain
/// (not the leaf alone), a key that matches the leaf, and no certificate of the
/// chain expired at `now`.
pub fn inspect(cert_path: &Path, key_path: &Path, now: SystemTime) -> Result<CertInfo, CertError> {
    let cert_err = file_err(cert_path);
    let pem = std::fs::read(cert_path).map_err(|e| cert_err(e.to_string()))?;
    let ders = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(format!("bad certificate PEM: {e}")))?;
    if ders.is_empty() {
        return Err(cert_err("no certificate in the file".into()));
    }
    if ders.len() < 2 {
        return Err(cert_err(
            "holds only the leaf certificate: the proxy needs the full chain (leaf, then intermediates)"
                .into(),
        ));
    }
    let mut info = None;
    for (i, der) in ders.iter().enumerate() {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| cert_err(format!("certificate {} does not parse: {e}", i + 1)))?;
        let not_after = to_system_time(cert.validity().not_after);
        if not_after <= now {
            return Err(cert_err(format!(
                "{} expired at {}",
                if i == 0 {
                    "the certificate".to_owned()
                } else {
                    format!("certificate {} of the chain", i + 1)
                },
                cert.validity().not_after
            )));
        }
        if i == 0 {
            let hostnames = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|san| {
                    san.value
                        .general_names
                        .iter()
                        .filter_map(|n| match n {
                            x509_parser::extensions::GeneralName::DNSName(d) => {
                                Some((*d).to_owned())
                            }
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            info = Some((
                CertInfo {
                    hostnames,
                    serial: cert.raw_serial_as_string(),
                    not_after,
                    chain_len: ders.len(),
                },
                cert.public_key().raw.to_vec(),
            ));
        }
    }
    let Some((info, leaf_spki)) = info else {
        return Err(cert_err(format!("{} certificates, no leaf", ders.len())));
    };
    let key_err = file_err(key_path);
    let key_pem = std::fs::read_to_string(key_path).map_err(|e| key_err(e.to_string()))?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| key_err(format!("no usable key: {e}")))?;
    if rcgen::PublicKeyData::subject_public_key_info(&key) != leaf_spki {
        return Err(key_err(format!(
            "does not match the certificate in {}",
            cert_path.display()
        )));
    }
    Ok(info)
}

impl CertInfo {
    /// Whether this certificate serves `hostname` for longer than `window` after
    /// `now`; otherwise why not.
    pub fn fresh_for(
        &self,
        hostname: &str,
        now: SystemTime,
        window: Duration,
    ) -> Result<(), String> {
        if !self
            .hostnames
            .iter()
            .any(|h| h.eq_ignore_ascii_case(hostname))
        {
            return Err(format!(
                "it is for {}, not {hostname}",
                if self.hostnames.is_empty() {
                    "no DNS name".to_owned()
                } else {
                    self.hostnames.join(", ")
                }
            ));
        }
        if self.not_after <= now + window {
            return Err("it expires within the renewal window".into());
        }
        Ok(())
    }
}

/// Where certificates live for the proxy, and how they get there.
#[derive(Debug, Clone)]
pub struct CertStore {
    dir: PathBuf,
}

/// The paths of one hostname's certificate and key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CertPaths {
    /// Full-chain PEM.
    pub cert: PathBuf,
    /// Private key PEM (mode 0600).
    pub key: PathBuf,
}

/// What a hostname's certificate files hold ([`CertStore::freshness`]).
#[derive(Debug, Clone)]
pub enum Freshness {
    /// A certificate good beyond the renewal window.
    Fresh(CertInfo),
    /// A new one is needed.
    Stale {
        /// Whether there are files (replaced), or none (issued afresh).
        exists: bool,
        /// Why: `none yet`, `it expires within the renewal window`, ….
        reason: String,
    },
}

/// What [`CertStore::ensure`] did.
#[derive(Debug, Clone)]
pub struct Ensured {
    /// The hostname.
    pub hostname: String,
    /// Where the files are.
    pub paths: CertPaths,
    /// What they hold now.
    pub info: CertInfo,
    /// Who issued it (`None` when the file on disk was reused).
    pub issued_by: Option<String>,
    /// Why a new one was issued (`None` when reused).
    pub reason: Option<String>,
    /// The files as they were before, to put back on rollback (`None`: there were
    /// none, or nothing was written).
    pub previous: Option<SavedFiles>,
}

/// The bytes of a certificate and key pair, kept to restore them.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedFiles {
    /// Where they were.
    pub paths: CertPaths,
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl std::fmt::Debug for SavedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedFiles")
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl CertStore {
    /// Certificates in `dir` (mc-proxy's cert directory, `/srv/mc-proxy/certs`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CertStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files of `hostname` for `service`: `<service>.pem`/`.key` for the
    /// service's default hostname, `<hostname>.pem`/`.key` for any other.
    pub fn paths(&self, service: &str, hostname: &str, default_hostname: &str) -> CertPaths {
        let stem = if hostname == default_hostname {
            service
        } else {
            hostname
        };
        CertPaths {
            cert: self.dir.join(format!("{stem}.pem")),
            key: self.dir.join(format!("{stem}.key")),
        }
    }

    /// Whether the files at `paths` hold a certificate that serves `hostname`
    /// beyond `window` after `now`: the rule [`CertStore::ensure`] follows, and
    /// the deploy preview shows.
    pub fn freshness(
        &self,
        hostname: &str,
        paths: &CertPaths,
        window: Duration,
        now: SystemTime,
    ) -> Freshness {
        if !paths.cert.exists() && !paths.key.exists() {
            return Freshness::Stale {
                exists: false,
                reason: "none yet".into(),
            };
        }
        let reason = match inspect(&paths.cert, &paths.key, now) {
            Ok(info) => match info.fresh_for(hostname, now, window) {
                Ok(()) => return Freshness::Fresh(info),
                Err(why) => why,
            },
            Err(e) => format!("the file on disk is unusable ({e})"),
        };
        Freshness::Stale {
            exists: true,
            reason,
        }
    }

    /// Makes `paths` hold a good certificate for `hostname`: the one there when it
    /// is fresh (see [`CertInfo::fresh_for`]), else a new one from `issuer`, written
    /// atomically (key first, mode 0600).
    pub fn ensure(
        &self,
        hostname: &str,
        paths: &CertPaths,
        issuer: &dyn CertIssuer,
        window: Duration,
    ) -> Result<Ensured, CertError> {
        let now = SystemTime::now();
        let (existing, reason) = match self.freshness(hostname, paths, window, now) {
            Freshness::Fresh(info) => {
                return Ok(Ensured {
                    hostname: hostname.to_owned(),
                    paths: paths.clone(),
                    info,
                    issued_by: None,
                    reason: None,
                    previous: None,
                });
            }
            Freshness::Stale { exists, reason } => (exists, reason),
        };
        let previous = if existing {
            Some(self.save(paths)?)
        } else {
            None
        };
        let issued = issuer.issue(hostname)?;
        self.write(paths, &issued)?;
        let info = match inspect(&paths.cert, &paths.key, now) {
            Ok(info) => info,
            Err(e) => {
                // Never leave a bad pair where the proxy reads it.
                self.put_back(paths, previous.as_ref());
                return Err(CertError::Issue {
                    issuer: issuer.name().to_owned(),
                    hostname: hostname.to_owned(),
                    message: format!("the issued certificate is unusable: {e}"),
                });
            }
        };
        if let Err(why) = info.fresh_for(hostname, now, Duration::ZERO) {
            self.put_back(paths, previous.as_ref());
            return Err(CertError::Issue {
                issuer: issuer.name().to_owned(),
                hostname: hostname.to_owned(),
                message: format!("the issued certificate is unusable: {why}"),
            });
        }
        Ok(Ensured {
            hostname: hostname.to_owned(),
            paths: paths.clone(),
            info,
            issued_by: Some(issuer.name().to_owned()),
            reason: Some(reason),
            previous,
        })
    }

    fn save(&self, paths: &CertPaths) -> Result<SavedFiles, CertError> {
        let read = |p: &Path| {
            std::fs::read(p).or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Ok(Vec::new()),
                _ => Err(file_err(p)(e.to_string())),
            })
        };
        Ok(SavedFiles {
            paths: paths.clone(),
            cert: read(&paths.cert)?,
            key: read(&paths.key)?,
        })
    }

    fn write(&self, paths: &CertPaths, issued: &IssuedCert) -> Result<(), CertError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| file_err(&self.dir)(e.to_string()))?;
        mcp_model::fsutil::write_atomic(&paths.key, issued.key_pem.as_bytes(), 0o600)
            .map_err(|e| file_err(&paths.key)(e.to_string()))?;
        mcp_model::fsutil::write_atomic(&paths.cert, issued.chain_pem.as_bytes(), 0o644)
            .map_err(|e| file_err(&paths.cert)(e.to_string()))
    }

    /// Puts `saved` back, or removes the files when there was nothing before.
    /// Best effort: used while undoing.
    pub fn put_back(&self, paths: &CertPaths, saved: Option<&SavedFiles>) {
        let result = match saved {
            Some(s) => mcp_model::fsutil::write_atomic(&s.paths.key, &s.key, 0o600)
                .and_then(|()| mcp_model::fsutil::write_atomic(&s.paths.cert, &s.cert, 0o644)),
            None => self.remove(paths),
        };
        if let Err(e) = result {
            tracing::error!(cert = %paths.cert.display(), error = %e, "cannot restore certificate files");
        }
    }

    /// Removes a certificate's files (absent ones are fine).
    pub fn remove(&self, paths: &CertPaths) -> std::io::Result<()> {
        for p in [&paths.cert, &paths.key] {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(dir: &Path) -> LocalCa {
        LocalCa::open_or_create(&dir.join("ca"), Duration::from_secs(90 * 86_400)).expect("ca")
    }

    #[test]
    fn issues_reuses_and_renews() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = CertStore::new(dir.path().join("certs"));
        let issuer = ca(dir.path());
        let paths = store.paths("mcq", "mcq.svc.test", "mcq.svc.test");
        assert!(paths.cert.ends_with("certs/mcq.pem"));
        assert!(
            store
                .paths("mcq", "q.example", "mcq.svc.test")
                .key
                .ends_with("certs/q.example.key")
        );
        let first = store
            .ensure("mcq.svc.test", &paths, &issuer, DEFAULT_RENEW_WINDOW)
            .expect("issue");
        assert_eq!(first.issued_by.as_deref(), Some("local"));
        assert_eq!(first.info.hostnames, ["mcq.svc.test"]);
        assert_eq!(first.info.chain_len, 2);
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&paths.key)
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = store
            .ensure("mcq.svc.test", &paths, &issuer, DEFAULT_RENEW_WINDOW)
            .expect("reuse");
        assert!(again.issued_by.is_none());
        assert_eq!(again.info.serial, first.info.serial);
        // A window longer than the validity renews, and keeps the old files to undo.
        let renewed = store
            .ensure(
                "mcq.svc.test",
                &paths,
                &issuer,
                Duration::from_secs(100 * 86_400),
            )
            .expect("renew");
        assert_ne!(renewed.info.serial, first.info.serial);
        assert!(
            renewed
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("renewal window"))
        );
        store.put_back(&paths, renewed.previous.as_ref());
        let restored = inspect(&paths.cert, &paths.key, SystemTime::now()).expect("restored");
        assert_eq!(restored.serial, first.info.serial);
        // Another hostname in the same files is reissued.
        let other = store
            .ensure("other.svc.test", &paths, &issuer, DEFAULT_RENEW_WINDOW)
            .expect("other");
        assert!(
            other
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("not other.svc.test"))
        );
    }

    #[test]
    fn bad_files_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().expect("tmp");
        let issuer = ca(dir.path());
        let a = issuer.issue("a.test").expect("a");
        let b = issuer.issue("b.test").expect("b");
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            p
        };
        let now = SystemTime::now();
        let key_a = write("a.key", &a.key_pem);
        // Leaf only.
        let leaf_end = a.chain_pem.find("-----END CERTIFICATE-----").expect("end") + 26;
        let leaf = write("leaf.pem", &a.chain_pem[..leaf_end]);
        let err = inspect(&leaf, &key_a, now).expect_err("leaf only");
        assert!(
            err.to_string().contains("leaf.pem") && err.to_string().contains("full chain"),
            "{err}"
        );
        // Key of another certificate.
        let chain_b = write("b.pem", &b.chain_pem);
        let err = inspect(&chain_b, &key_a, now).expect_err("wrong key");
        assert!(
            err.to_string().contains("a.key") && err.to_string().contains("does not match"),
            "{err}"
        );
        // Expired (judged at a time after its expiry).
        let chain_a = write("a.pem", &a.chain_pem);
        let later = now + Duration::from_secs(91 * 86_400);
        let err = inspect(&chain_a, &key_a, later).expect_err("expired");
        assert!(err.to_string().contains("expired"), "{err}");
        // Wrong host.
        let info = inspect(&chain_a, &key_a, now).expect("good");
        let why = info
            .fresh_for("b.test", now, DEFAULT_RENEW_WINDOW)
            .expect_err("host");
        assert!(why.contains("a.test"), "{why}");
        // Garbage.
        let junk = write("junk.pem", "not pem");
        assert_eq!(
            inspect(&junk, &key_a, now).expect_err("junk").kind(),
            ErrorKind::InvalidInput
        );
    }
}
