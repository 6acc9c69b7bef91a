//! `mcp ui`: a read-only web dashboard of the fleet, for the operator's own
//! browser. It runs inside the CLI process, which keeps the configuration's
//! credentials; pages carry only what they show.
//!
//! * [`Ui`] binds a port of 127.0.0.1 and answers there. Every request
//!   passes `guard`: its `Host` must be the listener's loopback name (no
//!   DNS rebinding), and it must carry the key printed with the URL — once in
//!   the query, then as a same-site, HTTP-only cookie — so other local users
//!   and other sites' pages read nothing. Only `GET`.
//! * `pages.rs`: the fleet (nodes and services), a service (components,
//!   routes, certificates with days left, DNS records, revisions, recent
//!   events) and the event log, server-rendered from the same view types as
//!   `--json` (`html.rs` escapes everything it is given).
//! * `feed.rs`: the live event feed, server-sent events from
//!   [`Fleet::changes`], which `feed.js` (the one script; no build step) puts at
//!   the top of the page's event table.

mod feed;
mod html;
mod pages;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mcp_core::fleet::Fleet;

/// The name of the cookie that carries the key.
const COOKIE: &str = "mcp_ui_key";

/// What the pages read from: the fleet, and the key a browser must show.
#[derive(Debug)]
struct Dashboard {
    fleet: Fleet,
    key: String,
    port: u16,
}

/// The dashboard, bound to its port on 127.0.0.1 with a key of its own,
/// not yet answering.
#[derive(Debug)]
pub struct Ui {
    listener: tokio::net::TcpListener,
    dashboard: Arc<Dashboard>,
}

impl Ui {
    /// Binds `127.0.0.1:port` (0: any free port) for a dashboard of
    /// `fleet`, and makes the key a browser must bring.
    pub async fn bind(fleet: Fleet, port: u16) -> Result<Ui, mcp_core::fleet::Error> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| mcp_core::fleet::Error::Io {
                what: format!("cannot listen on 127.0.0.1:{port}"),
                source,
            })?;
        let port = listener.local_addr().map_or(port, |a| a.port());
        let key = mcp_core::platform::pki::random_token()?;
        let dashboard = Arc::new(Dashboard { fleet, key, port });
        Ok(Ui {
            listener,
            dashboard,
        })
    }

    /// The address to open: the dashboard with its key, which the browser
    /// then keeps in a cookie.
    pub fn url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/?key={}",
            self.dashboard.port, self.dashboard.key
        )
    }

    /// Answers until the process ends.
    pub async fn serve(self) -> Result<(), mcp_core::fleet::Error> {
        let d = self.dashboard;
        let app = axum::Router::new()
            .route("/", get(pages::fleet))
            .route("/services/{name}", get(pages::service))
            .route("/events", get(pages::events))
            .route("/events/stream", get(feed::stream))
            .route(
                "/style.css",
                get(|| async { asset("text/css", html::STYLE) }),
            )
            .route(
                "/feed.js",
                get(|| async { asset("text/javascript", FEED_JS) }),
            )
            .layer(middleware::from_fn_with_state(d.clone(), guard))
            .with_state(d);
        axum::serve(self.listener, app)
            .await
            .map_err(|source| mcp_core::fleet::Error::Io {
                what: "the dashboard stopped answering".to_owned(),
                source,
            })
    }
}

const FEED_JS: &str = include_str!("feed.js");

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// Lets in a request for this listener carrying the key (setting the
/// cookie and dropping the key from the address when it came in the query);
/// refuses anything else. Every answer is marked not to be cached, framed or
/// sniffed, and may load scripts, styles and feeds only from here.
async fn guard(State(d): State<Arc<Dashboard>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let mut response = if !d.is_own_host(host) {
        refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "This dashboard answers only at 127.0.0.1 or localhost.",
        )
    } else if let Some(key) = query_param(req.uri(), "key") {
        if same(&key, &d.key) {
            let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", d.key);
            let to = req.uri().path().to_owned();
            (
                [(header::SET_COOKIE, cookie)],
                axum::response::Redirect::to(&to),
            )
                .into_response()
        } else {
            refuse(
                StatusCode::FORBIDDEN,
                "Wrong key: open the address `mcp ui` printed.",
            )
        }
    } else if cookie(&req, COOKIE).is_some_and(|k| same(k, &d.key)) {
        next.run(req).await
    } else {
        refuse(
            StatusCode::FORBIDDEN,
            "Open the address `mcp ui` printed: it carries the key.",
        )
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

impl Dashboard {
    /// Whether `host` (a `Host` header) names this listener on loopback.
    fn is_own_host(&self, host: &str) -> bool {
        ["127.0.0.1", "localhost"]
            .iter()
            .any(|name| host == format!("{name}:{}", self.port))
    }
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{why}\n"),
    )
        .into_response()
}

/// Whether `a` and `b` are equal, in time that does not depend on where they
/// differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name`.
fn cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The query parameter `name`, when its value is a plain word (names,
/// keys): anything else is as if absent.
pub(crate) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .filter(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_query_words_are_read() {
        let uri: Uri = "/services/a?node=n-1&key=abc123".parse().expect("uri");
        assert_eq!(query_param(&uri, "node").as_deref(), Some("n-1"));
        assert_eq!(query_param(&uri, "key").as_deref(), Some("abc123"));
        let odd: Uri = "/?node=%3Cx%3E&key=".parse().expect("uri");
        assert_eq!(query_param(&odd, "node"), None);
        assert_eq!(query_param(&odd, "key"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
