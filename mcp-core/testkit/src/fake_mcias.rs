//! An in-process stand-in for MCIAS: an HTTPS server (TLS 1.3, its own CA) speaking
//! the same JSON as the real one for login and token validation (see
//! `mcp_core::auth`), and recording what it was asked.
//!
//! Accounts are given at start; a successful login returns the token
//! `tok-<username>`. [`FakeMcias::EXPIRED`] is a token MCIAS reports as expired.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::https_fake::{HttpsFake, Request};

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
    /// Its base URL, `https://127.0.0.1:<port>` (or the address it was started on).
    pub url: String,
    /// PEM of the CA its certificate chains to.
    pub ca_pem: String,
    /// How many validation requests it answered.
    pub validations: Arc<AtomicUsize>,
    /// The user names of successful logins, in order.
    pub logins: Arc<Mutex<Vec<String>>>,
    _server: HttpsFake,
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
        Self::start_at(accounts, [127, 0, 0, 1].into())
    }

    /// [`FakeMcias::start`] on a free port of `ip`.
    pub fn start_at(accounts: Vec<Account>, ip: std::net::IpAddr) -> io::Result<Self> {
        let validations = Arc::new(AtomicUsize::new(0));
        let logins = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            accounts,
            validations: validations.clone(),
            logins: logins.clone(),
        });
        let server = HttpsFake::start_at(
            "MCIAS",
            Arc::new(move |r: &Request| match r.path.as_str() {
                "/v1/auth/login" => login(&state, &r.body),
                "/v1/token/validate" => validate(&state, r.bearer.as_deref()),
                _ => (404, serde_json::json!({"error": "not found"})),
            }),
            ip,
        )?;
        Ok(FakeMcias {
            url: server.url.clone(),
            ca_pem: server.ca_pem.clone(),
            validations,
            logins,
            _server: server,
        })
    }
}

struct State {
    accounts: Vec<Account>,
    validations: Arc<AtomicUsize>,
    logins: Arc<Mutex<Vec<String>>>,
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
