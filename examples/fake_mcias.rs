//! An in-process stand-in for MCIAS: an HTTPS server (TLS 1.3, its own CA) speaking
//! the same JSON as the real one for login and token validation (see
//! `mcp_core::auth`), and recording what it was asked.
//!
//! Accounts are given at start; a successful login returns the token
//! `tok-<username>`. [`FakeMcias::EXPIRED`] is a token MCIAS reports as expired.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// One account.
#[derive(Debug, Clone)]
pub struct Account {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
    /// MCIAS roles (`admin`, `user`, `guest`).
    pub roles: Vec<String>,
}

impl Account {
    /// An account with one role.
    pub fn new(username: &str, password: &str, role: &str) -> Self {
        Account {
            username: username.into(),
            password: password.into(),
            roles: vec![role.into()],
        }
    }
}

/// A running fake MCIAS. Stops when dropped.
#[derive(Debug)]
pub struct FakeMcias {
    /// Its base URL, `https://127.0.0.1:<port>`.
    pub url: String,
    /// PEM of the CA its certificate chains to.
    pub ca_pem: String,
    /// How many validation requests it answered.
    pub validations: Arc<AtomicUsize>,
    /// The user names of successful logins, in order.
    pub logins: Arc<Mutex<Vec<String>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FakeMcias {
    /// A token MCIAS says has expired.
    pub const EXPIRED: &'static str = "expired-token";

    /// The token a login of `username` gets.
    pub fn token_for(username: &str) -> String {
        format!("tok-{username}")
    }

    /// Starts a fake MCIAS on a free loopback port.
    pub fn start(accounts: Vec<Account>) -> io::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let ca = mcp_core::pki::create_ca("fake MCIAS CA").map_err(io::Error::other)?;
        let server = mcp_core::pki::issue_server_cert(&ca, &["127.0.0.1", "localhost"])
            .map_err(io::Error::other)?;
        let dir = tempfile::tempdir()?;
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, &server.cert_pem)?;
        std::fs::write(&key, &server.key_pem)?;
        let chain = mcp_core::pki::load_certs(&cert).map_err(io::Error::other)?;
        let key = mcp_core::pki::load_key(&key).map_err(io::Error::other)?;
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
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr: SocketAddr = listener.local_addr()?;
        let validations = Arc::new(AtomicUsize::new(0));
        let logins = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            accounts,
            validations: validations.clone(),
            logins: logins.clone(),
        });
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, state) = (acceptor.clone(), state.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = serve(tls, &state).await;
                    }
                });
            }
        });
        Ok(FakeMcias {
            url: format!("https://{addr}"),
            ca_pem: ca.cert_pem,
            validations,
            logins,
            runtime: Some(runtime),
        })
    }
}

impl Drop for FakeMcias {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

struct State {
    accounts: Vec<Account>,
    validations: Arc<AtomicUsize>,
    logins: Arc<Mutex<Vec<String>>>,
}

/// One HTTP/1.1 request per connection: read it, answer, close.
async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: S,
    state: &State,
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
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let (status, reply) = match path {
        "/v1/auth/login" => login(state, &body),
        "/v1/token/validate" => validate(state, bearer.as_deref()),
        _ => (404, serde_json::json!({"error": "not found"})),
    };
    let text = reply.to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let mut stream = reader.into_inner();
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

fn login(state: &State, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    match state
        .accounts
        .iter()
        .find(|a| a.username == field("username"))
    {
        Some(a) if a.password == field("password") => {
            if let Ok(mut l) = state.logins.lock() {
                l.push(a.username.clone());
            }
            (
                200,
                serde_json::json!({"token": FakeMcias::token_for(&a.username), "expires_at": "2027-01-01T00:00:00Z"}),
            )
        }
        _ => (401, serde_json::json!({"error": "invalid credentials"})),
    }
}

fn validate(state: &State, bearer: Option<&str>) -> (u16, serde_json::Value) {
    state.validations.fetch_add(1, Ordering::Relaxed);
    let Some(token) = bearer else {
        return (401, serde_json::json!({"error": "no token"}));
    };
    if token == FakeMcias::EXPIRED {
        return (
            200,
            serde_json::json!({"valid": false, "error": "token expired"}),
        );
    }
    match state
        .accounts
        .iter()
        .find(|a| FakeMcias::token_for(&a.username) == token)
    {
        Some(a) => (
            200,
            serde_json::json!({
                "valid": true, "username": a.username, "account_type": "human", "roles": a.roles,
            }),
        ),
        None => (401, serde_json::json!({"error": "unknown token"})),
    }
}
