//! Images in OCI registries, without shelling out: whether a tag exists (a manifest
//! `HEAD` accepting OCI and Docker manifests), a manifest's digest, a repository's
//! tags; and where credentials come from (the configuration, Podman's `auth.json`,
//! or an MCIAS token used as the password, the platform's "auto-login to MCR").
//!
//! TLS is verified against the system roots plus a configurable CA bundle; plain
//! HTTP is used only for hosts explicitly listed as insecure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use mcp_model::ErrorKind;
use mcp_model::config::{ConfigError, RegistrySection, expand_home};
pub use mcp_model::spec::ImageRef;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The image reference cannot be used.
    #[error("image reference {image:?}: {message}")]
    Reference {
        /// The reference.
        image: String,
        /// What is wrong.
        message: String,
    },
    /// The registry refused the credentials (or wanted some).
    #[error("registry {registry} refused the credentials for {image}: {message}")]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// The image.
        image: String,
        /// The registry's word.
        message: String,
    },
    /// The registry could not be reached or its certificate was not trusted.
    #[error("registry {registry} ({image}): {message}")]
    Unavailable {
        /// The registry host.
        registry: String,
        /// The image.
        image: String,
        /// What went wrong.
        message: String,
    },
    /// The image, or its tag, is not in the registry.
    #[error("{image} is not in registry {registry}")]
    NotFound {
        /// The registry host.
        registry: String,
        /// The image.
        image: String,
    },
    /// A `localhost/` image (built on the node, never pulled) is not there.
    #[error(
        "{image} is not on this node: localhost/ images are built here (podman build), never pulled"
    )]
    NotLocal {
        /// The image.
        image: String,
    },
}

impl ImageError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImageError::Reference { .. } => ErrorKind::InvalidInput,
            ImageError::Unauthorized { .. } => ErrorKind::Unauthenticated,
            ImageError::Unavailable { .. } => ErrorKind::Unavailable,
            ImageError::NotFound { .. } | ImageError::NotLocal { .. } => ErrorKind::NotFound,
        }
    }
}

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials.
    Anonymous,
    /// User name and password (or an MCIAS token as the password).
    Basic {
        /// User name.
        username: String,
        /// Password or token.
        password: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
        }
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// PEM bundle trusted besides the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Hosts (`host:port`) reached over plain HTTP. Nothing else ever is.
    pub insecure_hosts: Vec<String>,
    /// Per host (`host:port`), the credentials; hosts not listed are looked up in
    /// Podman's `auth.json`, then used anonymously.
    pub credentials: Vec<(String, Credentials)>,
    /// Per-request timeout (default 30 s).
    pub timeout: Option<Duration>,
}

impl RegistrySettings {
    /// How to reach registries by a `[registry]` section: its CA bundle, its
    /// plain-HTTP hosts, and credentials for the registry at `url` (from
    /// `password_file`, or with `use_token` the MCIAS token in the file `token`);
    /// other hosts fall back to Podman's `auth.json`.
    pub fn from_section(r: &RegistrySection, token: Option<&Path>) -> Result<Self, ConfigError> {
        let read = |what: &'static str, p: &Path| {
            let p = expand_home(p);
            std::fs::read(&p).map_err(|e| ConfigError::File {
                what,
                path: p.clone(),
                message: e.to_string(),
            })
        };
        let ca_pem = r
            .ca_cert
            .as_deref()
            .map(|p| read("registry CA", p))
            .transpose()?;
        let mut credentials = Vec::new();
        if let (Some(host), Some(user)) = (&r.url, &r.username) {
            let password = match (r.use_token, token) {
                (true, Some(t)) => Some(read("token", t)?),
                _ => r
                    .password_file
                    .as_deref()
                    .map(|p| read("registry password", p))
                    .transpose()?,
            };
            if let Some(pw) = password {
                credentials.push((
                    host.clone(),
                    Credentials::Basic {
                        username: user.clone(),
                        password: String::from_utf8_lossy(&pw).trim().to_owned(),
                    },
                ));
            }
        }
        Ok(RegistrySettings {
            ca_pem,
            insecure_hosts: r.insecure.clone(),
            credentials,
            timeout: None,
        })
    }
}

/// What a registry holds for one image reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageSummary {
    /// The manifest digest (`sha256:…`).
    pub digest: String,
    /// Bytes of the config and layers, as the manifest declares them.
    pub bytes: u64,
}

/// A client of OCI registries.
#[derive(Clone)]
pub struct ImageRegistry {
    client: Client,
    settings: RegistrySettings,
}

impl std::fmt::Debug for ImageRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageRegistry")
            .field("insecure_hosts", &self.settings.insecure_hosts)
            .finish_non_exhaustive()
    }
}

impl ImageRegistry {
    /// A client with `settings`.
    pub fn new(settings: RegistrySettings) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = settings.timeout.unwrap_or(Duration::from_secs(30));
        let config = ClientConfig {
            protocol: if settings.insecure_hosts.is_empty() {
                ClientProtocol::Https
            } else {
                ClientProtocol::HttpsExcept(settings.insecure_hosts.clone())
            },
            extra_root_certificates: settings
                .ca_pem
                .iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            read_timeout: Some(timeout),
            connect_timeout: Some(timeout),
            ..ClientConfig::default()
        };
        ImageRegistry {
            client: Client::new(config),
            settings,
        }
    }

    fn reference(image: &str) -> Result<Reference, ImageError> {
        image
            .parse::<Reference>()
            .map_err(|e| ImageError::Reference {
                image: image.to_owned(),
                message: e.to_string(),
            })
    }

    /// The credentials used for `registry` (a `host:port`).
    pub fn credentials_for(&self, registry: &str) -> Credentials {
        self.settings
            .credentials
            .iter()
            .find(|(h, _)| h == registry)
            .map(|(_, c)| c.clone())
            .or_else(|| podman_auth(registry))
            .unwrap_or(Credentials::Anonymous)
    }

    fn auth(&self, registry: &str) -> RegistryAuth {
        match self.credentials_for(registry) {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => RegistryAuth::Basic(username, password),
        }
    }

    fn error(&self, image: &str, registry: &str, e: OciDistributionError) -> ImageError {
        let message = mcp_model::kind::chain(&e);
        match e {
            OciDistributionError::ImageManifestNotFoundError(_) => ImageError::NotFound {
                registry: registry.to_owned(),
                image: image.to_owned(),
            },
            OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::UnauthorizedError { .. } => ImageError::Unauthorized {
                registry: registry.to_owned(),
                image: image.to_owned(),
                message,
            },
            OciDistributionError::RegistryError { ref envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        oci_client::errors::OciErrorCode::ManifestUnknown
                            | oci_client::errors::OciErrorCode::NameUnknown
                    )
                }) =>
            {
                ImageError::NotFound {
                    registry: registry.to_owned(),
                    image: image.to_owned(),
                }
            }
            OciDistributionError::RegistryError { ref envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(
                        e.code,
                        oci_client::errors::OciErrorCode::Unauthorized
                            | oci_client::errors::OciErrorCode::Denied
                    )
                }) =>
            {
                ImageError::Unauthorized {
                    registry: registry.to_owned(),
                    image: image.to_owned(),
                    message,
                }
            }
            OciDistributionError::ServerError { code: 404, .. } => ImageError::NotFound {
                registry: registry.to_owned(),
                image: image.to_owned(),
            },
            OciDistributionError::ServerError {
                code: 401 | 403, ..
            } => ImageError::Unauthorized {
                registry: registry.to_owned(),
                image: image.to_owned(),
                message,
            },
            _ => ImageError::Unavailable {
                registry: registry.to_owned(),
                image: image.to_owned(),
                message,
            },
        }
    }

    /// The digest of `image`'s manifest (`sha256:…`).
    pub async fn digest(&self, image: &str) -> Result<String, ImageError> {
        let r = Self::reference(image)?;
        let registry = r.resolve_registry().to_owned();
        self.client
            .fetch_manifest_digest(&r, &self.auth(&registry))
            .await
            .map_err(|e| self.error(image, &registry, e))
    }

    /// Whether `image` (with its tag) is in its registry.
    pub async fn exists(&self, image: &str) -> Result<bool, ImageError> {
        match self.digest(image).await {
            Ok(_) => Ok(true),
            Err(ImageError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The digest of `image`'s manifest and the bytes of its config and layers (for
    /// a multi-platform index, only the index's own entries are counted).
    pub async fn summary(&self, image: &str) -> Result<ImageSummary, ImageError> {
        let r = Self::reference(image)?;
        let registry = r.resolve_registry().to_owned();
        let (manifest, digest) = self
            .client
            .pull_manifest(&r, &self.auth(&registry))
            .await
            .map_err(|e| self.error(image, &registry, e))?;
        let bytes = match manifest {
            oci_client::manifest::OciManifest::Image(m) => std::iter::once(m.config.size)
                .chain(m.layers.iter().map(|l| l.size))
                .sum::<i64>(),
            oci_client::manifest::OciManifest::ImageIndex(i) => {
                i.manifests.iter().map(|m| m.size).sum()
            }
        };
        Ok(ImageSummary {
            digest,
            bytes: u64::try_from(bytes).unwrap_or(0),
        })
    }

    /// The tags of `image`'s repository.
    pub async fn tags(&self, image: &str) -> Result<Vec<String>, ImageError> {
        let r = Self::reference(image)?;
        let registry = r.resolve_registry().to_owned();
        self.client
            .list_tags(&r, &self.auth(&registry), None, None)
            .await
            .map(|t| t.tags)
            .map_err(|e| self.error(image, &registry, e))
    }
}

/// A private scratch directory (mode 0700), removed when dropped: where credentials
/// and certificates for one Podman call are written.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new one under the system temporary directory.
    pub fn new() -> std::io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let token = crate::pki::random_token().map_err(std::io::Error::other)?;
        let dir = std::env::temp_dir().join(format!("mcp-{}-{}", std::process::id(), &token[..16]));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(ScratchDir(dir))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The flags `podman push`/`pull` need for `image`'s registry under `settings`:
/// `--tls-verify=false` only for an insecure host; the CA bundle as `--cert-dir`;
/// credentials as an `--authfile` (mode 0600), never on the command line. Files go
/// in `scratch`.
pub fn podman_flags(
    image: &str,
    settings: &RegistrySettings,
    scratch: &Path,
) -> std::io::Result<Vec<String>> {
    let host = ImageRef::parse(image)
        .ok()
        .and_then(|r| r.registry)
        .unwrap_or_default();
    let mut flags = Vec::new();
    if settings.insecure_hosts.contains(&host) {
        flags.push("--tls-verify=false".to_owned());
    } else if let Some(ca) = &settings.ca_pem {
        let dir = scratch.join("certs");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("ca.crt"), ca)?;
        flags.push(format!("--cert-dir={}", dir.display()));
    }
    if let Some((_, Credentials::Basic { username, password })) =
        settings.credentials.iter().find(|(h, _)| *h == host)
    {
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        let json = serde_json::json!({ "auths": { host.clone(): { "auth": auth } } });
        let file = scratch.join("auth.json");
        mcp_model::fsutil::write_atomic(&file, json.to_string().as_bytes(), 0o600)?;
        flags.push(format!("--authfile={}", file.display()));
    }
    Ok(flags)
}

/// Credentials for `registry` from Podman's (or Docker's) `auth.json`:
/// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
/// `~/.config/containers/auth.json`, `~/.docker/config.json`, first found.
pub fn podman_auth(registry: &str) -> Option<Credentials> {
    let env = |k: &str| std::env::var_os(k).map(PathBuf::from);
    let candidates: Vec<PathBuf> = [
        env("REGISTRY_AUTH_FILE"),
        env("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")),
        env("HOME").map(|h| h.join(".config/containers/auth.json")),
        env("HOME").map(|h| h.join(".docker/config.json")),
    ]
    .into_iter()
    .flatten()
    .collect();
    candidates.iter().find_map(|p| auth_file_entry(p, registry))
}

fn auth_file_entry(path: &Path, registry: &str) -> Option<Credentials> {
    let text = std::fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let encoded = json.get("auths")?.get(registry)?.get("auth")?.as_str()?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (user, pass) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(Credentials::Basic {
        username: user.to_owned(),
        password: pass.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_json_entries_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("auth.json");
        std::fs::write(
            &path,
            r#"{"auths": {"reg.example:5443": {"auth": "bWNwdXNlcjptY3BwYXNz"}}}"#,
        )
        .expect("write");
        assert_eq!(
            auth_file_entry(&path, "reg.example:5443"),
            Some(Credentials::Basic {
                username: "mcpuser".into(),
                password: "mcppass".into()
            })
        );
        assert_eq!(auth_file_entry(&path, "other:1"), None);
        let shown = format!(
            "{:?}",
            Credentials::Basic {
                username: "u".into(),
                password: "secret".into()
            }
        );
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn registry_credentials_from_a_password_file_or_the_mcias_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token = dir.path().join("token");
        std::fs::write(&token, "mcias-token\n").expect("token");
        std::fs::write(dir.path().join("pw"), "s3cret\n").expect("pw");
        let section = |password_file: &Path, use_token: bool| RegistrySection {
            url: Some("mcr.example:8443".into()),
            username: Some("kyle".into()),
            password_file: Some(password_file.to_owned()),
            use_token,
            ..RegistrySection::default()
        };
        let password = |s: RegistrySettings| match &s.credentials[..] {
            [(host, Credentials::Basic { password, .. })] => {
                assert_eq!(host, "mcr.example:8443");
                password.clone()
            }
            other => panic!("{other:?}"),
        };
        let pw = dir.path().join("pw");
        let settings = RegistrySettings::from_section(&section(&pw, false), Some(&token));
        assert_eq!(password(settings.expect("settings")), "s3cret");
        let settings = RegistrySettings::from_section(&section(&pw, true), Some(&token));
        assert_eq!(password(settings.expect("settings")), "mcias-token");
        let missing = Path::new("/nonexistent/pw");
        let err = RegistrySettings::from_section(&section(missing, false), None)
            .expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/pw"), "{err}");
    }
}
