//! A real BIND 9 (`named`, Debian's `bind9`) on a free loopback port, for tests:
//! one primary zone that accepts RFC 2136 updates signed with a fresh TSIG key
//! (hmac-sha256), no recursion, no rndc channel. Stopped when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

use crate::spawn::{self, Probe, StartError};

/// A running `named`.
#[derive(Debug)]
pub struct LocalBind {
    child: Child,
    /// Where it answers (UDP and TCP).
    pub addr: SocketAddr,
    /// Its zone, without the trailing dot.
    pub zone: String,
    /// The TSIG key's name.
    pub key_name: String,
    /// The TSIG secret, raw bytes.
    pub secret: Vec<u8>,
    dir: tempfile::TempDir,
}

impl LocalBind {
    /// Starts `named` serving `zone`. Ready once it answers for a name only this
    /// instance serves (`named` keeps running when it cannot bind its port, and
    /// every test's zone is the same).
    pub fn start(zone: &str) -> Result<Self, String> {
        spawn::retry(|| Self::try_start(zone))
    }

    fn try_start(zone: &str) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("mcp-bind-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let port = spawn::free_port()?;
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
        let mut id = [0u8; 3];
        getrandom::fill(&mut id).map_err(|e| e.to_string())?;
        let id = std::net::Ipv4Addr::new(127, id[0], id[1], id[2]);
        let secret_b64 = base64::engine::general_purpose::STANDARD.encode(&secret);
        let key_name = "mcp-update-key".to_owned();
        let conf = format!(
            r#"key "{key_name}" {{ algorithm hmac-sha256; secret "{secret_b64}"; }};
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    allow-transfer {{ none; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
zone "{zone}" {{
    type primary;
    file "{dir}/zone.db";
    update-policy {{ grant "{key_name}" zonesub ANY; }};
}};
"#,
            dir = d.display()
        );
        let zone_file = format!(
            "$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. ( 1 60 60 3600 60 )\n  IN NS ns.{zone}.\nns IN A 127.0.0.1\nharness-instance IN A {id}\n"
        );
        std::fs::write(d.join("named.conf"), conf).map_err(|e| e.to_string())?;
        std::fs::write(d.join("zone.db"), zone_file).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("named.log")).map_err(|e| e.to_string())?;
        let child = Command::new("named")
            .args(["-g", "-4", "-c"])
            .arg(d.join("named.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start named (apt-get install bind9): {e}"))?;
        let mut bind = LocalBind {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            zone: zone.to_owned(),
            key_name,
            secret,
            dir,
        };
        let (addr, log) = (bind.addr, bind.dir.path().join("named.log"));
        spawn::wait_ready(&mut bind.child, "named", &log, || {
            let answer = mcp_core::dns::resolve(
                addr,
                &format!("harness-instance.{zone}"),
                "A",
                Duration::from_millis(200),
            );
            if answer.is_ok_and(|a| a == [std::net::IpAddr::V4(id)]) {
                Probe::Ready
            } else if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("address in use")) {
                Probe::PortTaken
            } else {
                Probe::NotYet
            }
        })?;
        Ok(bind)
    }

    /// The TSIG secret as BIND writes it (base64).
    pub fn secret_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.secret)
    }

    /// named's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }
}

impl Drop for LocalBind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
