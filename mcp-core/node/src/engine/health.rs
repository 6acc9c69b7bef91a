//! Health checks: is a new container ready for traffic on a route? A TCP connect
//! to its host port, or, with the route's `health_path`, an HTTP `GET` answered
//! with 2xx or 3xx; retried until the route's timeout, and given up early when the
//! container stops running. Run before a route is pointed at the container. Then
//! the settling check: a new container counts as ready only once it has kept
//! running, without a restart, for its component's `ready_after`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::Engine;
use crate::runtime::ContainerState;
use mcp_model::spec::HealthCheck;

const ATTEMPT: Duration = Duration::from_secs(1);
/// The pause between probes: from `FIRST_PAUSE`, doubling up to `PAUSE`, so a
/// server that listens a few milliseconds after its start is seen at once.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
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
    /// The container stopped running, was restarted or disappeared while it
    /// was checked.
    #[error(
        "{container} {how} instead of answering on port {port} ({last}){}",
        last_lines(logs)
    )]
    NotRunning {
        /// The container.
        container: String,
        /// What happened: `is exited (exit code 1)`, `was restarted 2 times …`, `is gone`.
        how: String,
        /// The port checked.
        port: u16,
        /// The last probe's failure.
        last: ProbeFailure,
        /// Its last log lines, control characters escaped.
        logs: Vec<String>,
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
    /// The container exited or was restarted before it had run for its
    /// `ready_after`.
    #[error("{container} {} within {}s of starting (ready_after {}s){}", how, after.as_secs(), ready_after.as_secs(), last_lines(logs))]
    Unsettled {
        /// The container.
        container: String,
        /// What happened, as in [`HealthError::NotRunning`].
        how: String,
        /// When it was seen.
        after: Duration,
        /// The component's `ready_after`.
        ready_after: Duration,
        /// Its last log lines, control characters escaped.
        logs: Vec<String>,
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

/// How many log lines a failed settling check shows.
const LOG_LINES: usize = 10;

fn last_lines(logs: &[String]) -> String {
    if logs.is_empty() {
        return String::new();
    }
    let mut out = String::from("; its last log lines:");
    for l in logs {
        out.push_str("\n  | ");
        out.push_str(l);
    }
    out
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
        let mut pause = FIRST_PAUSE;
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
            std::thread::sleep(pause);
            pause = (pause * 2).min(PAUSE);
        }
    }

    /// Waits until `container`, started at `started`, has kept running without a
    /// restart for `ready_after`; fails as soon as it exits, restarts or is gone,
    /// with its last log lines. A `ready_after` of 0 asks nothing.
    pub(super) fn wait_settled(
        &self,
        container: &str,
        started: Instant,
        ready_after: Duration,
    ) -> Result<(), HealthError> {
        if ready_after.is_zero() {
            return Ok(());
        }
        loop {
            if let Some(how) = self.trouble(container)? {
                return Err(HealthError::Unsettled {
                    container: container.to_owned(),
                    how,
                    after: started.elapsed(),
                    ready_after,
                    logs: self.last_log_lines(container),
                });
            }
            let left = ready_after.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Ok(());
            }
            std::thread::sleep(left.min(ATTEMPT));
        }
    }

    /// The last lines `container` logged, control characters escaped (none when
    /// the runtime cannot say).
    fn last_log_lines(&self, container: &str) -> Vec<String> {
        let text = self
            .runtime
            .logs(container, Some(LOG_LINES))
            .unwrap_or_default();
        text.lines().map(mcp_model::text::escaped).collect()
    }

    /// `Ok` while `container` runs; else how it is, with the `last` probe failure.
    fn still_running(
        &self,
        container: &str,
        port: u16,
        last: &ProbeFailure,
    ) -> Result<(), HealthError> {
        match self.trouble(container)? {
            None => Ok(()),
            Some(how) => Err(HealthError::NotRunning {
                container: container.to_owned(),
                how,
                port,
                last: last.clone(),
                logs: self.last_log_lines(container),
            }),
        }
    }

    /// What is wrong with a new container, if anything: it is not running, the
    /// runtime restarted it (its restart policy hides a crash), or it is gone.
    fn trouble(&self, container: &str) -> Result<Option<String>, HealthError> {
        let info = self
            .runtime
            .inspect(container)
            .map_err(|source| HealthError::Inspect {
                container: container.to_owned(),
                source,
            })?;
        Ok(match info {
            Some(i) if i.state == ContainerState::Running && i.restart_count == 0 => None,
            Some(i) if i.restart_count > 0 => Some(format!(
                "was restarted {} time{} (last exit code {})",
                i.restart_count,
                if i.restart_count == 1 { "" } else { "s" },
                i.exit_code
            )),
            Some(i) => Some(format!(
                "is {} (exit code {})",
                i.state.as_str(),
                i.exit_code
            )),
            None => Some("is gone".to_owned()),
        })
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
