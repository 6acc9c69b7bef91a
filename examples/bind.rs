//! A real BIND 9 (`named`, Debian's `bind9`) on a free loopback port, for tests:
//! one primary zone that accepts RFC 2136 updates signed with a fresh TSIG key
//! (hmac-sha256), no recursion, no rndc channel. Stopped when dropped.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

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

fn free_port() -> Result<u16, String> {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = udp.local_addr().map_err(|e| e.to_string())?.port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port for named".into())
}

impl LocalBind {
    /// Starts `named` serving `zone`.
    pub fn start(zone: &str) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("mcp-bind-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let port = free_port()?;
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| e.to_string())?;
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
            "$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. ( 1 60 60 3600 60 )\n  IN NS ns.{zone}.\nns IN A 127.0.0.1\n"
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
        let bind = LocalBind {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            zone: zone.to_owned(),
            key_name,
            secret,
            dir,
        };
        for _ in 0..100 {
            let probe = mcp_core::dns::resolve(
                bind.addr,
                &format!("ns.{zone}"),
                "A",
                Duration::from_millis(200),
            );
            if probe.is_ok_and(|a| !a.is_empty()) {
                return Ok(bind);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("named never answered: {}", bind.log()))
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
