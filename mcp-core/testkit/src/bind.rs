//! A real BIND 9 (`named`, Debian's `bind9`) on a free loopback port, for tests:
//! one primary zone that accepts RFC 2136 updates signed with a fresh TSIG key
//! (hmac-sha256), no recursion, no rndc channel. Stopped when dropped.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
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
        spawn::retry(|| Self::try_start(zone, None))
    }

    /// [`LocalBind::start`] in the network namespace `netns`, listening on `ip`
    /// there.
    pub fn start_in(zone: &str, netns: &Path, ip: Ipv4Addr) -> Result<Self, String> {
        spawn::retry(|| Self::try_start(zone, Some((netns, ip))))
    }

    fn try_start(zone: &str, netns: Option<(&Path, Ipv4Addr)>) -> Result<Self, StartError> {
        let ip = netns.map_or(Ipv4Addr::LOCALHOST, |(_, ip)| ip);
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
        let key_name = "mcp-update-key".to_owned();
        let conf = named_conf(d, zone, &key_name, &secret, SocketAddr::from((ip, port)));
        let zone_file = format!(
            "$TTL 60\n@ IN SOA ns.{zone}. hostmaster.{zone}. ( 1 60 60 3600 60 )\n  IN NS ns.{zone}.\nns IN A 127.0.0.1\nharness-instance IN A {id}\n"
        );
        std::fs::write(d.join("named.conf"), conf).map_err(|e| e.to_string())?;
        std::fs::write(d.join("zone.db"), zone_file).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("named.log")).map_err(|e| e.to_string())?;
        let child = match netns {
            Some((ns, _)) => crate::netns::command_in(ns, "named"),
            None => Command::new("named"),
        }
        .args(["-g", "-4", "-c"])
        .arg(d.join("named.conf"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start named (apt-get install bind9): {e}"))?;
        let mut bind = LocalBind {
            child,
            addr: SocketAddr::from((ip, port)),
            zone: zone.to_owned(),
            key_name,
            secret,
            dir,
        };
        let (addr, log) = (bind.addr, bind.dir.path().join("named.log"));
        let instance = format!("harness-instance.{zone}");
        let ns = netns.map(|(ns, _)| ns.to_owned());
        spawn::wait_ready(&mut bind.child, "named", &log, || {
            let instance = instance.clone();
            let ask = move || {
                mcp_core::node::dns::resolve(addr, &instance, "A", Duration::from_millis(200))
                    .is_ok_and(|a| a == [std::net::IpAddr::V4(id)])
            };
            let answered = match &ns {
                Some(ns) => crate::netns::run_in(ns, ask).unwrap_or(false),
                None => ask(),
            };
            if answered {
                Probe::Ready
            } else if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("address in use")) {
                Probe::PortTaken
            } else {
                Probe::NotYet
            }
        })?;
        Ok(bind)
    }

    /// The `[dns]` section of an agent configuration that registers `address` in
    /// this server's zone, signing with its key; the secret is written to
    /// `secret_file`.
    pub fn agent_section(&self, address: &str, secret_file: &Path) -> Result<String, String> {
        std::fs::write(secret_file, self.secret_base64())
            .map_err(|e| format!("{}: {e}", secret_file.display()))?;
        Ok(format!(
            "[dns]\nregistrar = \"rfc2136\"\naddresses = [\"{address}\"]\nserver = \"{}\"\n\
             tsig_key_name = \"{}\"\ntsig_secret_file = {:?}\n",
            self.addr,
            self.key_name,
            secret_file.display().to_string()
        ))
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

/// `named.conf` for a primary of `zone` in `dir` on `addr`, updates signed with
/// `key_name`'s `secret` allowed.
fn named_conf(dir: &Path, zone: &str, key_name: &str, secret: &[u8], addr: SocketAddr) -> String {
    let secret_b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let (ip, port) = (addr.ip(), addr.port());
    format!(
        r#"key "{key_name}" {{ algorithm hmac-sha256; secret "{secret_b64}"; }};
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ {ip}; }};
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
        dir = dir.display()
    )
}
