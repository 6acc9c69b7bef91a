//! Authentication of every RPC: a service wrapped around the whole generated server,
//! so no method can be reached without a valid token and the access it needs,
//! including methods added later (they need admin until classified).
//! The caller's identity goes into the request's extensions for the handlers.
//! Every call is counted in the node's metrics, by method and status code.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mcp_core::node::auth::Gate;
use mcp_core::node::metrics::Metrics;
use tonic::body::Body;
use tonic::server::NamedService;

/// `inner`, reachable only with a valid bearer token.
#[derive(Clone)]
pub(crate) struct Authenticated<S> {
    pub(crate) inner: S,
    pub(crate) auth: Arc<Gate>,
    pub(crate) metrics: Arc<Metrics>,
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Authenticated<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        // The clone takes the readiness of `self.inner`; keep the ready one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let metrics = self.metrics.clone();
        let began = std::time::Instant::now();
        Box::pin(async move {
            let method = method_of(req.uri().path());
            let response = admit_and_call(&auth, &mut inner, req).await;
            metrics.rpc(method, code_of(&response), began.elapsed());
            Ok(response)
        })
    }
}

/// The method a request path names, if the access table knows it; any other
/// path is `unknown` (a label must not take a caller's words).
fn method_of(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or("");
    mcp_core::node::access::classified()
        .find(|m| *m == name)
        .unwrap_or("unknown")
}

/// The gRPC status code `response` carries in its headers: an error's
/// (a trailers-only response), or `OK` (a successful call's status comes in
/// the trailers; an error in the middle of a stream is not seen here).
fn code_of(response: &http::Response<Body>) -> &'static str {
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from);
    code_name(code)
}

/// The name gRPC gives `code`, as in `grpc-status` documentation.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// `inner`'s answer to `req` when `auth` admits it, else the refusal.
async fn admit_and_call<S>(
    auth: &Gate,
    inner: &mut S,
    mut req: http::Request<Body>,
) -> http::Response<Body>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
{
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
    match auth.admit(header.as_deref(), req.uri().path()).await {
        Ok(identity) => {
            req.extensions_mut().insert(identity);
            match inner.call(req).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        Err(e) => {
            tracing::info!(path = %req.uri().path(), error = %e, "refused");
            let failure = crate::failure::Failure::Node(e.into());
            tonic::Status::from(failure).into_http()
        }
    }
}
