//! A real ACME server (Debian's `pebble`) on free loopback ports, for tests: its
//! own HTTPS certificate from a fresh CA, challenges validated for real (DNS
//! through the given server, HTTP-01 on a chosen port), optionally requiring
//! External Account Binding. Stopped when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

use crate::spawn::{self, StartError};

/// A running pebble.
#[derive(Debug)]
pub struct LocalPebble {
    child: Child,
    /// The directory URL.
    pub directory: String,
    /// The PEM file of the CA pebble's own HTTPS certificate chains to.
    pub ca_file: PathBuf,
    /// Where pebble connects for HTTP-01 challenges (`127.0.0.1:<httpPort>`).
    pub http01: SocketAddr,
    /// The EAB key id and raw HMAC key, when required.
    pub eab: Option<(String, Vec<u8>)>,
    dir: tempfile::TempDir,
}

impl LocalPebble {
    /// Starts pebble resolving names through `dns` (our BIND), requiring EAB when
    /// `eab`. Ready once its directory answers over HTTPS under its own CA.
    pub fn start(dns: SocketAddr, eab: bool) -> Result<Self, String> {
        spawn::retry(|| Self::try_start(dns, eab))
    }

    fn try_start(dns: SocketAddr, eab: bool) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("mcp-pebble-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let ca = write_tls(d)?;
        let [api, mgmt, http, tls] = spawn::free_ports::<4>()?;
        let eab = if eab {
            let mut key = vec![0u8; 32];
            getrandom::fill(&mut key).map_err(|e| e.to_string())?;
            Some(("kid-1".to_owned(), key))
        } else {
            None
        };
        let config = pebble_json(d, [api, mgmt, http, tls], eab.as_ref());
        std::fs::write(d.join("pebble.json"), config.to_string()).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("pebble.log")).map_err(|e| e.to_string())?;
        let child = Command::new("pebble")
            .arg("-config")
            .arg(d.join("pebble.json"))
            .arg("-dnsserver")
            .arg(dns.to_string())
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start pebble (apt-get install pebble): {e}"))?;
        let mut pebble = LocalPebble {
            child,
            directory: format!("https://127.0.0.1:{api}/dir"),
            ca_file: d.join("ca.pem"),
            http01: SocketAddr::from(([127, 0, 0, 1], http)),
            eab,
            dir,
        };
        // Another test's server on this port would fail the handshake: only ours
        // holds a certificate from this CA.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let client = mcp_core::platform::pki::https_client(
            Some(ca.cert_pem.as_bytes()),
            Duration::from_secs(2),
        )?;
        let directory = pebble.directory.clone();
        let log = pebble.dir.path().join("pebble.log");
        spawn::wait_ready(&mut pebble.child, "pebble", &log, || {
            // (the request's timer starts when it is built, inside the runtime)
            runtime
                .block_on(async { client.get(&directory).send().await })
                .is_ok_and(|r| r.status().is_success())
                .into()
        })?;
        Ok(pebble)
    }

    /// pebble's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}

impl Drop for LocalPebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A CA and a server certificate for pebble's API in `dir` (`ca.pem`,
/// `cert.pem`, `key.pem`); the CA.
fn write_tls(dir: &Path) -> Result<mcp_core::platform::pki::CertifiedKey, String> {
    let ca = mcp_core::platform::pki::create_ca("test pebble TLS CA").map_err(|e| e.to_string())?;
    let server = mcp_core::platform::pki::issue_server_cert(&ca, &["127.0.0.1", "localhost"])
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("ca.pem"), &ca.cert_pem).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("cert.pem"), &server.cert_pem).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("key.pem"), &server.key_pem).map_err(|e| e.to_string())?;
    Ok(ca)
}

/// pebble's configuration: its API, management, HTTP-01 and TLS-ALPN ports, and
/// the EAB key it requires, if any.
fn pebble_json(d: &Path, ports: [u16; 4], eab: Option<&(String, Vec<u8>)>) -> serde_json::Value {
    let [api, mgmt, http, tls] = ports;
    let mac_keys = eab
        .as_ref()
        .map(|(kid, key)| {
            serde_json::json!({ kid: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key) })
        })
        .unwrap_or_else(|| serde_json::json!({}));
    serde_json::json!({"pebble": {
        "listenAddress": format!("127.0.0.1:{api}"),
        "managementListenAddress": format!("127.0.0.1:{mgmt}"),
        "certificate": d.join("cert.pem"),
        "privateKey": d.join("key.pem"),
        "httpPort": http,
        "tlsPort": tls,
        "ocspResponderURL": "",
        "externalAccountBindingRequired": eab.is_some(),
        "externalAccountMACKeys": mac_keys,
    }})
}
