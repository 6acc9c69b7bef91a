//! Proxy routes: what mc-proxy is told so that a service is reachable by name.
//!
//! A [`ProxyRoute`] maps a listener (`:443`) and an SNI hostname to a backend
//! (`127.0.0.1:<host port>`), in mode `l4` (TLS passthrough) or `l7` (the proxy
//! terminates TLS with a certificate MCP provisions). [`RouteTable`] is what the
//! engine needs from a proxy; [`McProxy`] implements it over mc-proxy's gRPC admin
//! API on its Unix socket (`proto/mcproxy/v1/admin.proto`). The mode always reaches
//! the proxy as given: the original MCP once turned every l7 route into l4 without
//! a word.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_proto::mcproxy::v1 as wire;
use mcp_proto::mcproxy::v1::proxy_admin_client::ProxyAdminClient;

use mcp_model::ErrorKind;
use mcp_model::spec::Mode;
use mcp_model::view::{ListenerStatus, ProxyStatus};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// No proxy is configured on this node.
    #[error("no proxy is configured on this node: set [mcproxy] socket in the agent configuration")]
    NotConfigured,
    /// A route is malformed.
    #[error("route {hostname:?} on {listener}: {message}")]
    Invalid {
        /// The listener.
        listener: String,
        /// The hostname.
        hostname: String,
        /// What is wrong.
        message: String,
    },
    /// The proxy cannot be reached.
    #[error("mc-proxy at {}: {message}", socket.display())]
    Unavailable {
        /// The admin socket.
        socket: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The proxy answered with an error.
    #[error("mc-proxy refused {operation}: {message}")]
    Refused {
        /// What was asked.
        operation: &'static str,
        /// The proxy's word.
        message: String,
        /// The classification of its answer.
        kind: ErrorKind,
    },
}

impl RouteError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RouteError::NotConfigured => ErrorKind::NotConfigured,
            RouteError::Invalid { .. } => ErrorKind::InvalidInput,
            RouteError::Unavailable { .. } => ErrorKind::Unavailable,
            RouteError::Refused { kind, .. } => *kind,
        }
    }
}

/// One route of the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ProxyRoute {
    /// Listener address: `:443` (every address) or `host:port`.
    pub listener: String,
    /// The SNI hostname.
    pub hostname: String,
    /// Where connections go: `host:port`.
    pub backend: String,
    /// Who terminates TLS.
    pub mode: Mode,
    /// `l7`: the PEM full chain the proxy presents.
    pub tls_cert: Option<PathBuf>,
    /// `l7`: its private key.
    pub tls_key: Option<PathBuf>,
    /// `l7`: re-encrypt to the backend ("re-encrypt" in listings).
    pub backend_tls: bool,
    /// Send a PROXY protocol header to the backend.
    pub proxy_protocol: bool,
}

/// The listener address of proxy port `port`: `:443`.
pub fn listener(port: u16) -> String {
    format!(":{port}")
}

impl ProxyRoute {
    /// Checks what the proxy would refuse or mis-serve: listener and backend
    /// addresses, the hostname, and certificate paths exactly for `l7`.
    pub fn check(&self) -> Result<(), RouteError> {
        let invalid = |message: String| RouteError::Invalid {
            listener: self.listener.clone(),
            hostname: self.hostname.clone(),
            message,
        };
        let port_of = |addr: &str| {
            addr.rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .filter(|p| *p != 0)
        };
        if port_of(&self.listener).is_none() {
            return Err(invalid(format!(
                "listener {:?} is not \":PORT\" or \"HOST:PORT\"",
                self.listener
            )));
        }
        match self.backend.rsplit_once(':') {
            Some((host, _)) if !host.is_empty() && port_of(&self.backend).is_some() => {}
            _ => {
                return Err(invalid(format!(
                    "backend {:?} is not \"HOST:PORT\"",
                    self.backend
                )));
            }
        }
        let host_ok = !self.hostname.is_empty()
            && self.hostname.len() <= 253
            && self.hostname.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !host_ok {
            return Err(invalid("the hostname is not a DNS name".into()));
        }
        match self.mode {
            Mode::L7 if self.tls_cert.is_none() || self.tls_key.is_none() => Err(invalid(
                "an l7 route needs a certificate and a key (--tls-cert, --tls-key)".into(),
            )),
            Mode::L4 if self.tls_cert.is_some() || self.tls_key.is_some() => Err(invalid(
                "an l4 route passes TLS through: it takes no certificate".into(),
            )),
            Mode::L4 if self.backend_tls => Err(invalid(
                "backend TLS (re-encrypt) applies to l7 routes only".into(),
            )),
            _ => Ok(()),
        }
    }

    fn to_wire(&self) -> wire::Route {
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        wire::Route {
            listener: self.listener.clone(),
            hostname: self.hostname.clone(),
            backend: self.backend.clone(),
            mode: self.mode.as_str().to_owned(),
            tls_cert: path(&self.tls_cert),
            tls_key: path(&self.tls_key),
            backend_tls: self.backend_tls,
            proxy_protocol: self.proxy_protocol,
        }
    }

    fn from_wire(r: wire::Route) -> Result<Self, String> {
        let mode = match r.mode.as_str() {
            "l4" => Mode::L4,
            "l7" => Mode::L7,
            other => return Err(format!("unknown route mode {other:?}")),
        };
        let path = |s: String| (!s.is_empty()).then(|| PathBuf::from(s));
        Ok(ProxyRoute {
            listener: r.listener,
            hostname: r.hostname,
            backend: r.backend,
            mode,
            tls_cert: path(r.tls_cert),
            tls_key: path(r.tls_key),
            backend_tls: r.backend_tls,
            proxy_protocol: r.proxy_protocol,
        })
    }
}

/// What the engine needs from a proxy. Implementations are blocking: the engine
/// runs on plain threads.
pub trait RouteTable: Send + Sync + std::fmt::Debug {
    /// The proxy's status.
    fn status(&self) -> Result<ProxyStatus, RouteError>;
    /// Every route.
    fn list(&self) -> Result<Vec<ProxyRoute>, RouteError>;
    /// Adds `route`, replacing the one with the same listener and hostname.
    fn add(&self, route: &ProxyRoute) -> Result<(), RouteError>;
    /// Removes the route of `listener` and `hostname`; `false` when there was none.
    fn remove(&self, listener: &str, hostname: &str) -> Result<bool, RouteError>;
}

/// mc-proxy's admin API over its Unix socket.
#[derive(Debug, Clone)]
pub struct McProxy {
    socket: PathBuf,
    timeout: Duration,
}

impl McProxy {
    /// A client of the admin socket at `socket`; each call is bounded by `timeout`.
    pub fn new(socket: impl Into<PathBuf>, timeout: Duration) -> Self {
        McProxy {
            socket: socket.into(),
            timeout,
        }
    }

    /// The admin socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn unavailable(&self, message: impl std::fmt::Display) -> RouteError {
        RouteError::Unavailable {
            socket: self.socket.clone(),
            message: message.to_string(),
        }
    }

    /// Connects, runs `call`, and maps every failure; one connection per call.
    fn call<T, F, Fut>(&self, operation: &'static str, call: F) -> Result<T, RouteError>
    where
        F: FnOnce(ProxyAdminClient<tonic::transport::Channel>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let socket = self.socket.clone();
        let timeout = self.timeout;
        let fut = async move {
            let endpoint = tonic::transport::Endpoint::from_static("http://mc-proxy")
                .connect_timeout(timeout)
                .timeout(timeout);
            let channel = endpoint
                .connect_with_connector(tower::service_fn(move |_: http::Uri| {
                    let socket = socket.clone();
                    async move {
                        tokio::net::UnixStream::connect(socket)
                            .await
                            .map(hyper_util::rt::TokioIo::new)
                    }
                }))
                .await
                .map_err(|e| self.unavailable(mcp_model::kind::chain(&e)))?;
            tokio::time::timeout(timeout, call(ProxyAdminClient::new(channel)))
                .await
                .map_err(|_| self.unavailable(format!("no answer within {timeout:?}")))?
                .map(tonic::Response::into_inner)
                .map_err(|s| self.status_error(operation, &s))
        };
        crate::bridge::block_on(fut).map_err(|e| self.unavailable(e))?
    }

    fn status_error(&self, operation: &'static str, s: &tonic::Status) -> RouteError {
        use tonic::Code;
        let kind = match s.code() {
            Code::InvalidArgument | Code::OutOfRange => ErrorKind::InvalidInput,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists | Code::Aborted => ErrorKind::Conflict,
            Code::FailedPrecondition => ErrorKind::FailedPrecondition,
            Code::PermissionDenied | Code::Unauthenticated => ErrorKind::PermissionDenied,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
                return self.unavailable(format!("{operation}: {}", s.message()));
            }
            _ => ErrorKind::Internal,
        };
        RouteError::Refused {
            operation,
            message: s.message().to_owned(),
            kind,
        }
    }
}

impl RouteTable for McProxy {
    fn status(&self) -> Result<ProxyStatus, RouteError> {
        let s = self.call("Status", |mut c| async move {
            c.status(wire::StatusRequest {}).await
        })?;
        Ok(ProxyStatus {
            version: s.version,
            uptime: Duration::from_secs(s.uptime_seconds),
            total_connections: s.total_connections,
            listeners: s
                .listeners
                .into_iter()
                .map(|l| ListenerStatus {
                    address: l.address,
                    routes: l.routes,
                    active_connections: l.active_connections,
                })
                .collect(),
        })
    }

    fn list(&self) -> Result<Vec<ProxyRoute>, RouteError> {
        let r = self.call("ListRoutes", |mut c| async move {
            c.list_routes(wire::ListRoutesRequest {}).await
        })?;
        r.routes
            .into_iter()
            .map(|r| ProxyRoute::from_wire(r).map_err(|e| self.unavailable(e)))
            .collect()
    }

    fn add(&self, route: &ProxyRoute) -> Result<(), RouteError> {
        route.check()?;
        let request = wire::AddRouteRequest {
            route: Some(route.to_wire()),
        };
        self.call(
            "AddRoute",
            |mut c| async move { c.add_route(request).await },
        )
        .map(drop)
    }

    fn remove(&self, listener: &str, hostname: &str) -> Result<bool, RouteError> {
        let request = wire::RemoveRouteRequest {
            listener: listener.to_owned(),
            hostname: hostname.to_owned(),
        };
        match self.call("RemoveRoute", |mut c| async move {
            c.remove_route(request).await
        }) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(mode: Mode) -> ProxyRoute {
        ProxyRoute {
            listener: ":443".into(),
            hostname: "mcq.svc.mcp.metacircular.net".into(),
            backend: "127.0.0.1:48080".into(),
            mode,
            tls_cert: None,
            tls_key: None,
            backend_tls: false,
            proxy_protocol: false,
        }
    }

    #[test]
    fn routes_are_checked_before_the_proxy_sees_them() {
        assert!(route(Mode::L4).check().is_ok());
        let err = route(Mode::L7).check().expect_err("l7 without cert");
        assert!(err.to_string().contains("--tls-cert"), "{err}");
        let mut l7 = route(Mode::L7);
        l7.tls_cert = Some("/srv/mc-proxy/certs/mcq.pem".into());
        l7.tls_key = Some("/srv/mc-proxy/certs/mcq.key".into());
        l7.backend_tls = true;
        assert!(l7.check().is_ok());
        for (field, value) in [
            ("listener", "443"),
            ("listener", ":0"),
            ("backend", "48080"),
            ("backend", ":48080"),
            ("hostname", "-bad.example"),
            ("hostname", "a..b"),
        ] {
            let mut r = route(Mode::L4);
            match field {
                "listener" => r.listener = value.into(),
                "backend" => r.backend = value.into(),
                _ => r.hostname = value.into(),
            }
            let err = r.check().expect_err(value);
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
        let mut l4 = route(Mode::L4);
        l4.backend_tls = true;
        assert!(l4.check().is_err());
    }

    #[test]
    fn a_missing_socket_is_unavailable_and_names_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let proxy = McProxy::new(dir.path().join("none.sock"), Duration::from_secs(2));
        let err = proxy.list().expect_err("no socket");
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert!(err.to_string().contains("none.sock"), "{err}");
    }
}
