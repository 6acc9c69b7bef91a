//! The shared body of the in-process HTTPS stand-ins (MCIAS, MCNS, Metacrypt): a
//! TLS 1.3 server on a free loopback port with its own CA, reading one JSON
//! request per connection and answering with what a handler returns.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// One request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, query included.
    pub path: String,
    /// The bearer token, if any.
    pub bearer: Option<String>,
    /// The body as JSON (`null` when empty or not JSON).
    pub body: serde_json::Value,
}

/// What answers requests: a status and a body (JSON; a bare string goes out as text).
pub type Handler = Arc<dyn Fn(&Request) -> (u16, serde_json::Value) + Send + Sync>;

/// A running server. Stops when dropped.
#[derive(Debug)]
pub struct HttpsFake {
    /// `https://<ip>:<port>` (`127.0.0.1` unless started elsewhere).
    pub url: String,
    /// PEM of the CA its certificate chains to.
    pub ca_pem: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HttpsFake {
    /// Starts a server named `name` (in its CA's name) answering with `handler`, on
    /// a free loopback port.
    pub fn start(name: &str, handler: Handler) -> io::Result<Self> {
        Self::start_at(name, handler, [127, 0, 0, 1].into())
    }

    /// [`HttpsFake::start`] on a free port of `ip` (its certificate names it).
    pub fn start_at(name: &str, handler: Handler, ip: std::net::IpAddr) -> io::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = mcp_core::platform::pki::create_ca(&format!("fake {name} CA"))
            .map_err(io::Error::other)?;
        let ip_name = ip.to_string();
        let server =
            mcp_core::platform::pki::issue_server_cert(&ca, &[&ip_name, "127.0.0.1", "localhost"])
                .map_err(io::Error::other)?;
        let dir = tempfile::tempdir()?;
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, &server.cert_pem)?;
        mcp_core::fsutil::write_atomic(&key, server.key_pem.as_bytes(), 0o600)?;
        let chain = mcp_core::platform::pki::load_certs(&cert).map_err(io::Error::other)?;
        let key = mcp_core::platform::pki::load_key(&key).map_err(io::Error::other)?;
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind((ip, 0)))?;
        let addr: SocketAddr = listener.local_addr()?;
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, handler) = (acceptor.clone(), handler.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve(tls, &handler).await;
                    }
                });
            }
        });
        Ok(HttpsFake {
            url: format!("https://{addr}"),
            ca_pem: ca.cert_pem,
            runtime: Some(runtime),
        })
    }
}

impl Drop for HttpsFake {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// One HTTP/1.1 request per connection: read it, answer, close.
async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: S,
    handler: &Handler,
) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    let mut length = 0usize;
    let mut bearer = None;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "authorization" => bearer = value.strip_prefix("Bearer ").map(str::to_owned),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length.min(1 << 20)];
    reader.read_exact(&mut body).await?;
    let mut words = request_line.split_whitespace();
    let request = Request {
        method: words.next().unwrap_or("").to_owned(),
        path: words.next().unwrap_or("").to_owned(),
        bearer,
        body: serde_json::from_slice(&body).unwrap_or_default(),
    };
    let (status, reply) = handler(&request);
    // A bare string is sent as text (PEM); anything else as JSON.
    let (kind, text) = match reply {
        serde_json::Value::String(s) => ("text/plain", s),
        v => ("application/json", v.to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let mut stream = reader.into_inner();
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
