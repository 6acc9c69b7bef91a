//! Network namespaces for tests: a small private network of its own, so several
//! nodes on one machine each have their own network stack and address, as on a
//! real overlay. Needs root and `ip` (iproute2).
//!
//! A [`Fabric`] is one namespace for the operator (`ops`, holding a bridge at
//! [`Fabric::OPS`]) and one per node, joined to the bridge by a veth pair, with
//! the node's address on its end (`10.231.0.1`, `.2`, …). Every address lives
//! inside these namespaces: nothing is added to the machine's own network.
//! Programs run in a namespace with `nsenter --net=` ([`Fabric::command`]; Podman
//! must be entered that way, not with `ip netns exec`), and the test process opens
//! sockets in one from a thread that joined it ([`Fabric::run_in`]). Dropping the
//! fabric deletes the namespaces and with them their links.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private network of namespaces. See the module docs.
#[derive(Debug)]
pub struct Fabric {
    prefix: String,
    nodes: Vec<String>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip (apt-get install iproute2): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

impl Fabric {
    /// The operator namespace's address on the bridge.
    pub const OPS: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 254);

    /// Creates the `ops` namespace and one per name in `nodes`, each node at
    /// `10.231.0.<index + 1>`.
    pub fn new(nodes: &[&str]) -> Result<Fabric, String> {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let fabric = Fabric {
            prefix: format!("mcp{}x{n}", std::process::id()),
            nodes: nodes.iter().map(|s| (*s).to_owned()).collect(),
        };
        // Dropped on error: what was made is deleted.
        let ops = fabric.ns("ops");
        ip(&["netns", "add", &ops])?;
        ip(&["-n", &ops, "link", "set", "lo", "up"])?;
        ip(&["-n", &ops, "link", "add", "br0", "type", "bridge"])?;
        ip(&[
            "-n",
            &ops,
            "addr",
            "add",
            &format!("{}/24", Self::OPS),
            "dev",
            "br0",
        ])?;
        ip(&["-n", &ops, "link", "set", "br0", "up"])?;
        for (i, node) in nodes.iter().enumerate() {
            let ns = fabric.ns(node);
            let (inner, outer) = (format!("v{i}"), format!("v{i}b"));
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n", &ops, "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["-n", &ops, "link", "set", &inner, "netns", &ns])?;
            ip(&["-n", &ops, "link", "set", &outer, "master", "br0", "up"])?;
            let addr = format!("{}/24", fabric.address(node));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", &inner])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
        }
        Ok(fabric)
    }

    /// The namespace's name for `node` (or `ops`).
    fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.prefix)
    }

    /// The namespace file of `node` (or `ops`).
    pub fn path(&self, node: &str) -> PathBuf {
        PathBuf::from("/run/netns").join(self.ns(node))
    }

    /// `node`'s address (`0.0.0.0` for a name the fabric does not have).
    pub fn address(&self, node: &str) -> Ipv4Addr {
        self.nodes
            .iter()
            .position(|n| n == node)
            .and_then(|i| u8::try_from(i + 1).ok())
            .map_or(Ipv4Addr::UNSPECIFIED, |last| {
                Ipv4Addr::new(10, 231, 0, last)
            })
    }

    /// `program` run in `node`'s (or `ops`'s) namespace.
    pub fn command(&self, node: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        command_in(&self.path(node), program)
    }

    /// Runs `f` on a thread that joined `node`'s (or `ops`'s) namespace: sockets
    /// it opens (and threads it starts) belong there, and stay there.
    pub fn run_in<T: Send + 'static>(
        &self,
        node: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        run_in(&self.path(node), f)
    }
}

/// `program` run in the network namespace at `path`: `nsenter` joins it and execs
/// the program, so the child process is the program itself.
pub fn command_in(path: &Path, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={}", path.display()))
        .arg("--")
        .arg(program);
    cmd
}

/// Runs `f` on a thread that joined the network namespace at `path`.
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::thread::spawn(move || {
        setns::join(&file)?;
        Ok(f())
    })
    .join()
    .map_err(|_| "the thread in the namespace panicked".to_owned())?
}

impl Drop for Fabric {
    fn drop(&mut self) {
        for node in self.nodes.iter().map(String::as_str).chain(["ops"]) {
            let _ = ip(&["netns", "del", &self.ns(node)]);
        }
    }
}

/// Joining a network namespace: one libc call std does not have.
#[allow(unsafe_code)]
mod setns {
    use std::os::fd::AsRawFd;

    unsafe extern "C" {
        fn setns(fd: i32, nstype: i32) -> i32;
    }

    const CLONE_NEWNET: i32 = 0x4000_0000;

    /// Moves the calling thread into the network namespace `file` refers to.
    pub(super) fn join(file: &std::fs::File) -> Result<(), String> {
        // SAFETY: a valid namespace file descriptor; only this thread's network
        // namespace changes.
        if unsafe { setns(file.as_raw_fd(), CLONE_NEWNET) } == 0 {
            Ok(())
        } else {
            Err(format!("setns: {}", std::io::Error::last_os_error()))
        }
    }
}
