//! Starting test servers on free loopback ports without racing the tests that run
//! alongside.
//!
//! A port found free is released before the server binds it, so a parallel test
//! can take it in between (another server of ours, or `named`'s TCP listener on a
//! port it checked only for UDP). A probe that merely connects would then reach
//! that other server and call ours ready, and ours would exit a moment later with
//! "address already in use". So every harness here:
//!
//! 1. waits on a probe that recognises *its own* server where the protocol allows
//!    (pebble's HTTPS under its own CA, a record only this `named` serves);
//! 2. treats its child exiting before it is ready as a lost race ([`StartError::Lost`]), and
//!    checks the child is still running a moment after the probe succeeds;
//! 3. starts again on fresh ports ([`retry`]) a few times before giving up with
//!    the child's log.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// How many times [`retry`] starts a server that lost its port.
pub const ATTEMPTS: usize = 4;

/// A port free on 127.0.0.1 for both TCP and UDP when asked.
pub fn free_port() -> Result<u16, String> {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = udp.local_addr().map_err(|e| e.to_string())?.port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free port on 127.0.0.1".into())
}

/// `N` distinct TCP ports free on 127.0.0.1 when asked (each held until all are
/// chosen, so none is handed out twice).
pub fn free_ports<const N: usize>() -> Result<[u16; N], String> {
    let mut held = Vec::with_capacity(N);
    let mut ports = [0u16; N];
    for port in &mut ports {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        *port = listener.local_addr().map_err(|e| e.to_string())?.port();
        held.push(listener);
    }
    Ok(ports)
}

/// Why one attempt at starting a server failed.
#[derive(Debug)]
pub enum StartError {
    /// The child exited before it was ready: most likely its port was taken in
    /// between. Worth another attempt on fresh ports.
    Lost(String),
    /// Anything else (not installed, bad setup, never answered): final.
    Fatal(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Lost(message) | StartError::Fatal(message) => f.write_str(message),
        }
    }
}

impl From<String> for StartError {
    fn from(message: String) -> Self {
        StartError::Fatal(message)
    }
}

/// What a readiness probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Our server answered.
    Ready,
    /// Nothing yet (or someone else's server).
    NotYet,
    /// Our server says its port is taken, but keeps running (`named` does).
    PortTaken,
}

impl From<bool> for Probe {
    fn from(ready: bool) -> Self {
        if ready { Probe::Ready } else { Probe::NotYet }
    }
}

/// How long a server may take to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits up to [`READY_TIMEOUT`] until `probe` recognises the server `child` runs,
/// and the child is still running a moment later. Its `log` file is quoted in the
/// error.
pub fn wait_ready(
    child: &mut Child,
    what: &str,
    log: &Path,
    mut probe: impl FnMut() -> Probe,
) -> Result<(), StartError> {
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    let timeout = READY_TIMEOUT;
    let exited = |child: &mut Child| match child.try_wait() {
        Ok(Some(status)) => Some(StartError::Lost(format!(
            "{what} exited ({status}): {}",
            log()
        ))),
        _ => None,
    };
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(lost) = exited(child) {
            return Err(lost);
        }
        match probe() {
            Probe::Ready => {
                std::thread::sleep(Duration::from_millis(100));
                return match exited(child) {
                    Some(lost) => Err(lost),
                    None => Ok(()),
                };
            }
            Probe::PortTaken => {
                return Err(StartError::Lost(format!(
                    "{what} could not bind its port: {}",
                    log()
                )));
            }
            Probe::NotYet => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Err(StartError::Fatal(format!(
        "{what} did not answer within {timeout:?}: {}",
        log()
    )))
}

/// [`wait_ready`] for a server that cannot be told from another by what it says:
/// ready when `addr` accepts connections and `child` still runs a moment later.
pub fn wait_listening(
    child: &mut Child,
    what: &str,
    log: &Path,
    addr: SocketAddr,
) -> Result<(), StartError> {
    wait_ready(child, what, log, || {
        std::net::TcpStream::connect(addr).is_ok().into()
    })
}

/// Runs `start` until it succeeds, fails for good, or has lost its port
/// [`ATTEMPTS`] times.
pub fn retry<T>(mut start: impl FnMut() -> Result<T, StartError>) -> Result<T, String> {
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        match start() {
            Ok(server) => return Ok(server),
            Err(StartError::Fatal(message)) => return Err(message),
            Err(StartError::Lost(message)) => last = message,
        }
    }
    Err(format!("{last} (after {ATTEMPTS} attempts on fresh ports)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct() {
        let ports = free_ports::<8>().expect("ports");
        let mut sorted = ports.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
    }

    #[test]
    fn a_child_that_exits_is_a_lost_race_and_retried() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("false.log");
        std::fs::write(&log, "its log").expect("log");
        let mut tries = 0;
        let err = retry(|| -> Result<(), StartError> {
            tries += 1;
            let mut child = std::process::Command::new("false")
                .spawn()
                .map_err(|e| e.to_string())?;
            wait_ready(&mut child, "false", &log, || Probe::NotYet)
        })
        .expect_err("never ready");
        assert_eq!(tries, ATTEMPTS);
        assert!(
            err.contains("false exited") && err.contains("its log"),
            "{err}"
        );
    }
}
