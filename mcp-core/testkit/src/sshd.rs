//! A real OpenSSH server (`sshd`, Debian's `openssh-server`) on a free loopback
//! port, for tests: its own host key, one client key authorized for root, no
//! passwords, no PAM. The client side (`ssh` options and a `known_hosts` holding
//! the host key) comes with it, so nothing of the machine's own SSH setup is used
//! or changed. Stopped when dropped.
//!
//! Also a stand-in for systemd, which these machines do not have: a small script
//! that (re)starts an agent from a root's `srv/mcp` the way `systemctl restart`
//! would, tracked by a pid file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::spawn::{self, StartError};

/// A running `sshd`.
#[derive(Debug)]
pub struct LocalSshd {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// `ssh` options that reach it with the client key and check its host key.
    pub options: Vec<String>,
    dir: tempfile::TempDir,
}

fn keygen(path: &Path) -> Result<(), String> {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "mcp-test", "-f"])
        .arg(path)
        .output()
        .map_err(|e| format!("ssh-keygen: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ssh-keygen: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn sshd_program() -> Option<PathBuf> {
    ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl LocalSshd {
    /// Starts `sshd`. Needs root (sshd's privilege separation) and
    /// openssh-server (`.ci/run` installs it).
    pub fn start() -> Result<Self, String> {
        let program = sshd_program()
            .ok_or("sshd is not installed: run .ci/run as root (it installs openssh-server)")?;
        spawn::retry(|| Self::try_start(&program))
    }

    fn try_start(program: &Path) -> Result<Self, StartError> {
        let dir = tempfile::Builder::new()
            .prefix("mcp-sshd-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        keygen(&d.join("host_key"))?;
        keygen(&d.join("client_key"))?;
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys"))
            .map_err(|e| e.to_string())?;
        // sshd's privilege separation directory (made by its package's service,
        // which does not run here).
        std::fs::create_dir_all("/run/sshd").map_err(|e| format!("/run/sshd: {e}"))?;
        let port = spawn::free_port()?;
        let conf = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             StrictModes no\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), conf).map_err(|e| e.to_string())?;
        let host_pub =
            std::fs::read_to_string(d.join("host_key.pub")).map_err(|e| e.to_string())?;
        let key_type_and_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", key_type_and_key.join(" ")),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("sshd.log")).map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start sshd: {e}"))?;
        let options = vec![
            "-i".into(),
            d.join("client_key").display().to_string(),
            "-p".into(),
            port.to_string(),
            "-o".into(),
            format!("UserKnownHostsFile={}", d.join("known_hosts").display()),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-F".into(),
            "/dev/null".into(),
        ];
        let mut sshd = LocalSshd {
            child,
            port,
            options,
            dir,
        };
        let log = sshd.dir.path().join("sshd.log");
        spawn::wait_listening(&mut sshd.child, "sshd", &log, ([127, 0, 0, 1], port).into())?;
        Ok(sshd)
    }

    /// What sshd logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// The `[ssh] options` line of a CLI configuration reaching this server.
    pub fn options_toml(&self) -> String {
        format!(
            "[{}]",
            self.options
                .iter()
                .map(|o| format!("{o:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl Drop for LocalSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test root at `dir`: a directory standing for a host's `/`, with a copy of
/// this machine's user database (`etc/passwd`, `group`, `shadow`, `gshadow`,
/// `login.defs`) for `useradd --prefix`. Returns it.
pub fn test_root(dir: &Path) -> Result<PathBuf, String> {
    let etc = dir.join("etc");
    std::fs::create_dir_all(&etc).map_err(|e| e.to_string())?;
    for f in ["passwd", "group", "shadow", "gshadow", "login.defs"] {
        let from = Path::new("/etc").join(f);
        if from.exists() {
            std::fs::copy(&from, etc.join(f)).map_err(|e| format!("{}: {e}", from.display()))?;
        }
    }
    Ok(dir.to_owned())
}

/// The stand-in for `systemctl restart mcp-agent` on a node provisioned under
/// `root`: writes `<root>/service` (a shell script) and returns its path. It stops
/// the agent it started before (pid file), waits for it to exit, and starts
/// `<root>/srv/mcp/mcp-agent serve` detached, logging to `<root>/agent.log`.
pub fn service_script(root: &Path) -> Result<PathBuf, String> {
    let script = format!(
        r#"#!/bin/sh
# Stands in for systemd (absent here): restarts the agent under {root}.
root={root}
pid="$root/agent.pid"
# What the caller's privilege prefix set, if anything (tests check it).
echo "${{MCP_PRIVILEGED:-}}" > "$root/privileged"
if [ -f "$pid" ]; then
    old=$(cat "$pid")
    kill "$old" 2>/dev/null || true
    n=0
    while kill -0 "$old" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
fi
cd /
setsid "$root/srv/mcp/mcp-agent" serve --config "$root/srv/mcp/mcp-agent.toml" \
    >>"$root/agent.log" 2>&1 </dev/null &
echo $! > "$pid"
"#,
        root = root.display()
    );
    let path = root.join("service");
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    Ok(path)
}

/// Stops the agent [`service_script`] started under `root`, if it runs.
pub fn stop_service(root: &Path) {
    if let Ok(pid) = std::fs::read_to_string(root.join("agent.pid")) {
        // (already gone when the test took the node down itself)
        let _ = Command::new("kill")
            .args(["-TERM", pid.trim()])
            .stderr(Stdio::null())
            .status();
        for _ in 0..100 {
            let alive = Command::new("kill")
                .args(["-0", pid.trim()])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !alive {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
