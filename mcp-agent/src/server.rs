//! Wiring: configuration → engine, authenticator, TLS 1.3 listener, gRPC server,
//! monitor thread; and an orderly shutdown on SIGTERM/SIGINT (stop accepting, let
//! in-flight RPCs finish within the grace period, stop the monitor, close the
//! registry). Containers keep running across agent restarts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use mcp_core::api::v1::mcp_agent_service_server::McpAgentServiceServer;
use mcp_core::config::AgentConfig;
use mcp_core::node::auth::Gate;
use mcp_core::node::engine::Engine;
use mcp_core::node::monitor::Monitor;
use mcp_core::node::wiring::Node;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Router;

use crate::auth::Authenticated;
use crate::service::AgentService;
use crate::slots::{Held, Slots};

/// Why the agent could not start or stopped unexpectedly.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Configuration, registry, certificates or runtime.
    #[error(transparent)]
    Core(#[from] mcp_core::node::Error),
    /// The TLS settings cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime or the server failed.
    #[error("{0}")]
    Server(String),
}

/// How often a connection is pinged; one that does not answer within
/// [`KEEPALIVE_TIMEOUT`] is closed.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered.
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// The most calls one connection carries at once.
const MAX_STREAMS: u32 = 128;
/// The most bytes of headers a request may have (the token is the largest).
const MAX_HEADERS: u32 = 16 * 1024;

/// `mcp-agent serve`: runs until SIGTERM or SIGINT.
pub fn serve(config_path: &Path, log_format: Option<&str>) -> Result<(), AgentError> {
    let config = AgentConfig::load(config_path).map_err(mcp_core::node::Error::from)?;
    init_tracing(log_format.unwrap_or(&config.log.format), &config.log.level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AgentError::Server(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run(config))
}

fn init_tracing(format: &str, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn tls_config(config: &AgentConfig) -> Result<rustls::ServerConfig, AgentError> {
    let chain = mcp_core::platform::pki::load_certs(&config.server.tls_cert)
        .map_err(mcp_core::node::Error::from)?;
    let key = mcp_core::platform::pki::load_key(&config.server.tls_key)
        .map_err(mcp_core::node::Error::from)?;
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .map_err(|e| AgentError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| {
        AgentError::Tls(format!(
            "{} and {} do not make a usable certificate: {e}",
            config.server.tls_cert.display(),
            config.server.tls_key.display()
        ))
    })?;
    tls.alpn_protocols = vec![b"h2".to_vec()];
    Ok(tls)
}

/// The agent's gRPC service over `engine`: every RPC admitted by `auth` (who is
/// calling, and whether they may call it),
/// messages up to a file's size. The TLS server serves it; tests serve it
/// in-process over any stream.
pub fn router(engine: Arc<Engine>, auth: Arc<Gate>, started_at: SystemTime) -> Router {
    let metrics = engine.metrics().clone();
    let service = Authenticated {
        inner: McpAgentServiceServer::new(AgentService::new(engine, started_at))
            .max_decoding_message_size(mcp_core::api::MAX_FILE_BYTES + (1 << 20))
            .max_encoding_message_size(mcp_core::api::MAX_FILE_BYTES + (1 << 20)),
        auth,
        metrics,
    };
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(Some(MAX_STREAMS))
        .http2_max_header_list_size(Some(MAX_HEADERS))
        .add_service(service)
}

async fn run(config: AgentConfig) -> Result<(), AgentError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started_at = SystemTime::now();
    // Hash the executable now, before an upgrade can replace the file.
    std::thread::spawn(mcp_core::fsutil::build_id);
    let tls = tls_config(&config)?;
    let node = open_node(&config).await?;
    let engine = node.engine;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| AgentError::Listen {
            addr: config.server.listen,
            source,
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = node.monitor.map(|cfg| {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("monitor".into())
            .spawn(move || Monitor::new(engine, cfg).run(&stop))
    });
    let (conns_tx, conns_rx) = mpsc::channel(64);
    let bounds = Bounds {
        slots: Slots::new(
            config.server.max_connections,
            config.server.max_connections_per_peer,
        ),
        handshake: Duration::from_secs(config.server.handshake_timeout_secs),
    };
    let accept = tokio::spawn(accept_loop(
        listener,
        TlsAcceptor::from(Arc::new(tls.clone())),
        bounds,
        conns_tx,
    ));
    let gate = Arc::new(node.gate);
    let metrics = serve_metrics(&config, &tls, &engine, &gate).await?;
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(
        router(engine.clone(), gate, started_at).serve_with_incoming_shutdown(
            ReceiverStream::new(conns_rx),
            async {
                let _ = shutdown_rx.await;
            },
        ),
    );
    tracing::info!(
        listen = %config.server.listen,
        node = %config.node.name,
        version = mcp_core::VERSION,
        monitor = config.monitor.enabled,
        "mcp-agent serving (TLS 1.3)"
    );
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let outcome = serve_until_signal(server, grace, move || {
        accept.abort();
        let _ = shutdown_tx.send(());
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    if let Some(m) = metrics {
        m.abort();
    }
    if let Some(Ok(handle)) = monitor {
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    drop(engine);
    tracing::info!("mcp-agent stopped; containers keep running");
    outcome
}

/// The metrics listener, when `[metrics] listen` asks for one.
async fn serve_metrics(
    config: &AgentConfig,
    tls: &rustls::ServerConfig,
    engine: &Arc<Engine>,
    gate: &Arc<Gate>,
) -> Result<Option<tokio::task::JoinHandle<()>>, AgentError> {
    let Some(listen) = config.metrics.listen else {
        return Ok(None);
    };
    let tls = config.metrics.tls.then(|| tls.clone());
    let served = crate::metrics::serve(&config.metrics, listen, tls, engine.clone(), gate.clone());
    match served.await {
        Ok(task) => Ok(Some(task)),
        Err(source) => Err(AgentError::Listen {
            addr: listen,
            source,
        }),
    }
}

/// The node an agent configured by `config` runs (opened on a blocking thread:
/// it reads files, opens the registry and asks Podman).
async fn open_node(config: &AgentConfig) -> Result<Node, AgentError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || Node::open(&config))
        .await
        .map_err(|e| AgentError::Server(e.to_string()))?
        .map_err(AgentError::from)
}

/// Waits for SIGTERM/SIGINT, then calls `shut` (no new connections) and gives
/// in-flight requests `grace` to finish; or reports the server ending on its own.
async fn serve_until_signal(
    mut server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    grace: Duration,
    shut: impl FnOnce(),
) -> Result<(), AgentError> {
    tokio::select! {
        signal = shutdown_signal() => {
            tracing::info!(signal, "shutting down: no new connections, finishing in-flight requests");
            shut();
            if tokio::time::timeout(grace, &mut server).await.is_err() {
                tracing::warn!(seconds = grace.as_secs(), "in-flight requests did not finish in time; closing them");
                server.abort();
            }
            Ok(())
        }
        ended = &mut server => Err(AgentError::Server(match ended {
            Ok(Ok(())) => "the server stopped unexpectedly".into(),
            Ok(Err(e)) => format!("the server failed: {e}"),
            Err(e) => format!("the server task failed: {e}"),
        })),
    }
}

/// How the accept loop bounds connections (`[server]`).
#[derive(Debug, Clone)]
struct Bounds {
    slots: Slots,
    handshake: Duration,
}

/// Accepts TCP connections and performs TLS handshakes concurrently, passing the
/// established streams on, each holding its slot until it closes. A connection
/// over the limits is closed at once; failed handshakes (TLS 1.2 clients,
/// scanners, a peer that never speaks) are logged and dropped.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    bounds: Bounds,
    conns: mpsc::Sender<Result<Held<TlsStream<TcpStream>>, std::io::Error>>,
) {
    let mut refused: u64 = 0;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(slot) = bounds.slots.take(peer.ip()) else {
            refused += 1;
            // A flood is one line per thousand, not one per connection.
            if refused % 1000 == 1 {
                tracing::warn!(%peer, refused, "connection limit reached; closing new connections");
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, conns, handshake) = (acceptor.clone(), conns.clone(), bounds.handshake);
        tokio::spawn(async move {
            match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = conns
                        .send(Ok(Held {
                            inner: tls,
                            _slot: slot,
                        }))
                        .await;
                }
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake refused"),
                Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
