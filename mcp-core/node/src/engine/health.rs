//! Health checks: is a new container ready for traffic on a route? A TCP connect
//! to its host port, or, with the route's `health_path`, an HTTP `GET` answered
//! with 2xx or 3xx; retried until the route's timeout, and given up early when the
//! container stops running. Run before a route is pointed at the container.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::Engine;
use crate::runtime::ContainerState;
use mcp_model::spec::HealthCheck;

const ATTEMPT: Duration = Duration::from_secs(1);
const PAUSE: Duration = Duration::from_millis(100);

/// One attempt: `Ok` when healthy, else what was seen.
fn probe(addr: SocketAddr, check: &HealthCheck) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, ATTEMPT).map_err(|e| format!("connect: {e}"))?;
    let Some(path) = &check.path else {
        return Ok(());
    };
    stream
        .set_read_timeout(Some(ATTEMPT))
        .and_then(|()| stream.set_write_timeout(Some(ATTEMPT)))
        .map_err(|e| e.to_string())?;
    // One write: a request split over segments may be answered (and the socket
    // closed) before its end arrives, which resets the connection.
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: mcp-health\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("GET {path}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .map_err(|e| format!("GET {path}: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("GET {path}: not an HTTP answer"))?;
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("GET {path}: HTTP {status}"))
    }
}

impl Engine {
    /// Waits until `container` passes `check` on `port` of the publish address, or
    /// the check's timeout passes, or the container stops running. The error says
    /// what was seen last.
    pub(super) fn wait_healthy(
        &self,
        container: &str,
        port: u16,
        check: &HealthCheck,
    ) -> Result<(), String> {
        let addr = SocketAddr::new(self.config.publish_address, port);
        let deadline = Instant::now() + check.timeout;
        let mut last_state_check = Instant::now();
        // An answer ("HTTP 404") says more than a failed connect; keep the latest.
        let mut answer: Option<String> = None;
        loop {
            let last = match probe(addr, check) {
                Ok(()) => return Ok(()),
                Err(e) if e.contains(": HTTP ") => {
                    answer = Some(e.clone());
                    e
                }
                Err(e) => answer.clone().unwrap_or(e),
            };
            if last_state_check.elapsed() >= ATTEMPT {
                last_state_check = Instant::now();
                match self.runtime.inspect(container) {
                    Ok(Some(i)) if i.state == ContainerState::Running => {}
                    Ok(Some(i)) => {
                        return Err(format!(
                            "{container} is {} instead of answering on port {port} ({last})",
                            i.state.as_str()
                        ));
                    }
                    Ok(None) => return Err(format!("{container} is gone ({last})")),
                    Err(e) => return Err(format!("cannot inspect {container}: {e}")),
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{container} did not pass its health check on port {port} within {}s: {last}",
                    check.timeout.as_secs()
                ));
            }
            std::thread::sleep(PAUSE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(status: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut seen = Vec::new();
                let mut buf = [0u8; 256];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(format!("HTTP/1.0 {status}\r\n\r\n").as_bytes());
            }
        });
        addr
    }

    #[test]
    fn probes_tcp_and_http() {
        let tcp = HealthCheck {
            path: None,
            timeout: Duration::from_secs(1),
        };
        let http = HealthCheck {
            path: Some("/healthz".into()),
            timeout: Duration::from_secs(1),
        };
        assert!(probe(serve_once("200 OK"), &tcp).is_ok());
        assert!(probe(serve_once("204 No Content"), &http).is_ok());
        let err = probe(serve_once("503 Service Unavailable"), &http).expect_err("503");
        assert!(err.contains("HTTP 503"), "{err}");
        let closed = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        assert!(probe(closed, &tcp).expect_err("closed").contains("connect"));
    }
}
