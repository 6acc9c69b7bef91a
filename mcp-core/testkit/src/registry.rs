//! A real OCI registry (Debian's `docker-registry`, distribution 2.8) on a free
//! loopback port, for tests: plain HTTP, or TLS with htpasswd basic auth. Stopped
//! when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::spawn::{self, StartError};

/// A running registry.
#[derive(Debug)]
pub struct LocalRegistry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// The CA of its certificate (TLS only).
    pub ca_pem: Option<String>,
    /// Its user and password (TLS only).
    pub user: Option<(String, String)>,
    dir: tempfile::TempDir,
}

impl LocalRegistry {
    /// A plain-HTTP registry without authentication.
    pub fn start_http() -> Result<Self, String> {
        Self::start(None)
    }

    /// A TLS registry requiring `user`/`password`.
    pub fn start_tls(user: &str, password: &str) -> Result<Self, String> {
        Self::start(Some((user, password)))
    }

    fn start(tls_user: Option<(&str, &str)>) -> Result<Self, String> {
        spawn::retry(|| Self::try_start(tls_user))
    }

    fn try_start(tls_user: Option<(&str, &str)>) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("mcp-registry-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = spawn::free_port()?;
        let host = format!("127.0.0.1:{port}");
        let d = dir.path();
        let secret = mcp_core::platform::pki::random_token().map_err(|e| e.to_string())?;
        let mut config = format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: {host}\n  secret: {secret}\n",
            d.join("data").display()
        );
        let (mut ca_pem, mut user) = (None, None);
        if let Some((u, p)) = tls_user {
            let ca = mcp_core::platform::pki::create_ca("test registry CA")
                .map_err(|e| e.to_string())?;
            let cert = mcp_core::platform::pki::issue_server_cert(&ca, &["127.0.0.1", "localhost"])
                .map_err(|e| e.to_string())?;
            std::fs::write(
                d.join("cert.pem"),
                format!("{}{}", cert.cert_pem, ca.cert_pem),
            )
            .map_err(|e| e.to_string())?;
            std::fs::write(d.join("key.pem"), &cert.key_pem).map_err(|e| e.to_string())?;
            std::fs::create_dir_all(d.join("certs.d")).map_err(|e| e.to_string())?;
            std::fs::write(d.join("certs.d/ca.crt"), &ca.cert_pem).map_err(|e| e.to_string())?;
            let out = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .map_err(|e| format!("htpasswd: {e}"))?;
            std::fs::write(d.join("htpasswd"), &out.stdout).map_err(|e| e.to_string())?;
            config.push_str(&format!(
                "  tls: {{certificate: {}, key: {}}}\nauth:\n  htpasswd: {{realm: mcp-test, path: {}}}\n",
                d.join("cert.pem").display(),
                d.join("key.pem").display(),
                d.join("htpasswd").display()
            ));
            ca_pem = Some(ca.cert_pem);
            user = Some((u.to_owned(), p.to_owned()));
        }
        std::fs::write(d.join("config.yml"), config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("registry.log")).map_err(|e| e.to_string())?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                format!("cannot start docker-registry (apt-get install docker-registry): {e}")
            })?;
        let mut registry = LocalRegistry {
            child,
            host,
            ca_pem,
            user,
            dir,
        };
        let log = registry.dir.path().join("registry.log");
        let addr = ([127, 0, 0, 1], port).into();
        spawn::wait_listening(&mut registry.child, "docker-registry", &log, addr)?;
        Ok(registry)
    }

    /// A directory holding `ca.crt`, for `podman --cert-dir` (TLS only).
    pub fn cert_dir(&self) -> Option<PathBuf> {
        self.ca_pem
            .as_ref()
            .map(|_| self.dir.path().join("certs.d"))
    }

    /// The flags `podman push`/`pull` need to reach this registry.
    pub fn podman_flags(&self) -> Vec<String> {
        match (self.cert_dir(), &self.user) {
            (Some(dir), Some((u, p))) => vec![
                format!("--cert-dir={}", dir.display()),
                format!("--creds={u}:{p}"),
            ],
            _ => vec!["--tls-verify=false".to_owned()],
        }
    }

    /// The `[registry]` section of a configuration (the agent's or the CLI's)
    /// that reaches this registry as its user, with its CA and the password
    /// written into `dir` (`registry-ca.pem`, `registry-password`).
    pub fn config_section(&self, dir: &Path) -> std::io::Result<String> {
        let q = |p: &Path| format!("{:?}", p.display().to_string());
        let mut section = format!("[registry]\nurl = {:?}\n", self.host);
        if let Some(ca) = &self.ca_pem {
            let path = dir.join("registry-ca.pem");
            std::fs::write(&path, ca)?;
            section.push_str(&format!("ca_cert = {}\n", q(&path)));
        }
        if let Some((user, password)) = &self.user {
            let path = dir.join("registry-password");
            mcp_core::fsutil::write_atomic(&path, format!("{password}\n").as_bytes(), 0o600)?;
            section.push_str(&format!(
                "username = {user:?}\npassword_file = {}\n",
                q(&path)
            ));
        }
        Ok(section)
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
