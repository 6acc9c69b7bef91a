//! Authentication of every RPC: a service wrapped around the whole generated server,
//! so no method can be reached without a valid token and the access it needs,
//! including methods added later (they need admin until classified).
//! The caller's identity goes into the request's extensions for the handlers.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use mcp_core::node::auth::Gate;
use tonic::body::Body;
use tonic::server::NamedService;

/// `inner`, reachable only with a valid bearer token.
#[derive(Clone)]
pub(crate) struct Authenticated<S> {
    pub(crate) inner: S,
    pub(crate) auth: Arc<Gate>,
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

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // The clone takes the readiness of `self.inner`; keep the ready one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            let header = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
            match auth.admit(header.as_deref(), req.uri().path()).await {
                Ok(identity) => {
                    req.extensions_mut().insert(identity);
                    inner.call(req).await
                }
                Err(e) => {
                    tracing::info!(path = %req.uri().path(), error = %e, "refused");
                    let failure = crate::failure::Failure::Node(e.into());
                    Ok(tonic::Status::from(failure).into_http())
                }
            }
        })
    }
}
