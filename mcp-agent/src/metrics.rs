//! The metrics listener (`[metrics]`): `GET /metrics` in the Prometheus text
//! format, from [`Engine::scrape`], on an address of its own; over TLS 1.3
//! with the agent's certificate when `tls`, and only for a bearer token with
//! read access (as `NodeStatus` needs) when `token`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcp_core::config::MetricsSection;
use mcp_core::node::auth::Gate;
use mcp_core::node::engine::Engine;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The content type of the text format, version 0.0.4.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a scrape needs.
struct Served {
    engine: Arc<Engine>,
    gate: Option<Arc<Gate>>,
}

/// Binds `listen` and serves scrapes until the task is aborted; the error is
/// the bind's.
pub(crate) async fn serve(
    config: &MetricsSection,
    listen: SocketAddr,
    tls: Option<rustls::ServerConfig>,
    engine: Arc<Engine>,
    gate: Arc<Gate>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(listen).await?;
    let served = Arc::new(Served {
        engine,
        gate: config.token.then_some(gate),
    });
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state(served);
    tracing::info!(%listen, tls = tls.is_some(), token = config.token, "metrics served at /metrics");
    Ok(tokio::spawn(async move {
        let served = match tls {
            None => axum::serve(listener, app).await,
            Some(mut tls) => {
                tls.alpn_protocols = vec![b"http/1.1".to_vec()];
                let listener = TlsListener {
                    tcp: listener,
                    acceptor: TlsAcceptor::from(Arc::new(tls)),
                };
                axum::serve(listener, app).await
            }
        };
        if let Err(e) = served {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    }))
}

/// One scrape: the caller admitted (when a token is asked for), then every
/// family as the node is now.
async fn scrape(State(served): State<Arc<Served>>, headers: HeaderMap) -> Response {
    if let Some(gate) = &served.gate {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err(e) = gate.admit(token, "NodeStatus").await {
            let error = mcp_core::node::Error::from(e);
            let status = match error.kind() {
                mcp_core::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
                _ => StatusCode::UNAUTHORIZED,
            };
            return (status, format!("{error}\n")).into_response();
        }
    }
    let engine = served.engine.clone();
    match tokio::task::spawn_blocking(move || engine.scrape()).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// TLS connections for axum: a failed handshake is dropped, not an error.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, peer)) = self.tcp.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let handshake = self.acceptor.accept(tcp);
            match tokio::time::timeout(std::time::Duration::from_secs(10), handshake).await {
                Ok(Ok(tls)) => return (tls, peer),
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "metrics: TLS handshake refused"),
                Err(_) => tracing::info!(%peer, "metrics: TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
