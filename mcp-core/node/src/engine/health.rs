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

/// What one probe saw instead of a healthy answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeFailure {
    /// Nothing accepted the connection.
    #[error("connect: {0}")]
    Connect(String),
    /// The connection broke during the request.
    #[error("GET {path}: {error}")]
    Request {
        /// The health path.
        path: String,
        /// What broke.
        error: String,
    },
    /// Something answered, but not HTTP.
    #[error("GET {path}: not an HTTP answer")]
    NotHttp {
        /// The health path.
        path: String,
    },
    /// An HTTP answer outside 2xx and 3xx.
    #[error("GET {path}: HTTP {status}")]
    Status {
        /// The health path.
        path: String,
        /// The status code.
        status: u16,
    },
}

impl ProbeFailure {
    /// Whether the container answered with a status: that says more than a
    /// failed connect or a connection closed early, which a starting server
    /// gives too.
    fn is_answer(&self) -> bool {
        matches!(self, ProbeFailure::Status { .. })
    }
}

/// Why a new container was not found ready for traffic.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The container stopped running while it was checked.
    #[error("{container} is {} instead of answering on port {port} ({last})", state.as_str())]
    NotRunning {
        /// The container.
        container: String,
        /// Its state.
        state: ContainerState,
        /// The port checked.
        port: u16,
        /// The last probe's failure.
        last: ProbeFailure,
    },
    /// The container disappeared while it was checked.
    #[error("{container} is gone ({last})")]
    Gone {
        /// The container.
        container: String,
        /// The last probe's failure.
        last: ProbeFailure,
    },
    /// The runtime could not say how the container is.
    #[error("cannot inspect {container}: {source}")]
    Inspect {
        /// The container.
        container: String,
        /// The runtime's error.
        #[source]
        source: crate::runtime::RuntimeError,
    },
    /// The check's timeout passed without a healthy answer.
    #[error("{container} did not pass its health check on port {port} within {}s: {last}", timeout.as_secs())]
    Timeout {
        /// The container.
        container: String,
        /// The port checked.
        port: u16,
        /// The route's health timeout.
        timeout: Duration,
        /// The last probe's failure.
        last: ProbeFailure,
    },
}

/// One attempt: `Ok` when healthy, else what was seen.
fn probe(addr: SocketAddr, check: &HealthCheck) -> Result<(), ProbeFailure> {
    let mut stream = TcpStream::connect_timeout(&addr, ATTEMPT)
        .map_err(|e| ProbeFailure::Connect(e.to_string()))?;
    let Some(path) = &check.path else {
        return Ok(());
    };
    let broke = |e: std::io::Error| ProbeFailure::Request {
        path: path.clone(),
        error: e.to_string(),
    };
    stream
        .set_read_timeout(Some(ATTEMPT))
        .and_then(|()| stream.set_write_timeout(Some(ATTEMPT)))
        .map_err(broke)?;
    // One write: a request split over segments may be answered (and the socket
    // closed) before its end arrives, which resets the connection.
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: mcp-health\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(broke)?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(broke)?;
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| ProbeFailure::NotHttp { path: path.clone() })?;
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(ProbeFailure::Status {
            path: path.clone(),
            status,
        })
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
    ) -> Result<(), HealthError> {
        let addr = SocketAddr::new(self.config.publish_address, port);
        let deadline = Instant::now() + check.timeout;
        let mut last_state_check = Instant::now();
        // An answer ("HTTP 404") says more than a failed connect; keep the latest.
        let mut answer: Option<ProbeFailure> = None;
        loop {
            let last = match probe(addr, check) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_answer() => {
                    answer = Some(e.clone());
                    e
                }
                Err(e) => answer.clone().unwrap_or(e),
            };
            if last_state_check.elapsed() >= ATTEMPT {
                last_state_check = Instant::now();
                self.still_running(container, port, &last)?;
            }
            if Instant::now() >= deadline {
                return Err(HealthError::Timeout {
                    container: container.to_owned(),
                    port,
                    timeout: check.timeout,
                    last,
                });
            }
            std::thread::sleep(PAUSE);
        }
    }

    /// `Ok` while `container` runs; else how it is, with the `last` probe failure.
    fn still_running(
        &self,
        container: &str,
        port: u16,
        last: &ProbeFailure,
    ) -> Result<(), HealthError> {
        let container = container.to_owned();
        match self.runtime.inspect(&container) {
            Ok(Some(i)) if i.state == ContainerState::Running => Ok(()),
            Ok(Some(i)) => Err(HealthError::NotRunning {
                container,
                state: i.state,
                port,
                last: last.clone(),
            }),
            Ok(None) => Err(HealthError::Gone {
                container,
                last: last.clone(),
            }),
            Err(source) => Err(HealthError::Inspect { container, source }),
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
        assert_eq!(
            err,
            ProbeFailure::Status {
                path: "/healthz".into(),
                status: 503
            }
        );
        assert!(err.is_answer());
        let closed = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        let err = probe(closed, &tcp).expect_err("closed");
        assert!(matches!(err, ProbeFailure::Connect(_)), "{err}");
        assert!(!err.is_answer());
    }
}
