//! An in-process stand-in for mc-proxy's admin API: a gRPC server on a real Unix
//! socket speaking `proto/mcproxy/v1/admin.proto`, holding the route table in
//! memory and recording every call, so tests can compare the table with what MCP
//! should have told it. Failures can be injected per operation.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mcp_proto::mcproxy::v1 as wire;
use mcp_proto::mcproxy::v1::proxy_admin_server::{ProxyAdmin, ProxyAdminServer};
use mcp_proto::tonic::{self, Request, Response, Status};

/// The table and the call log, shared with the server task.
#[derive(Debug, Default)]
struct State {
    /// `(listener, hostname)` → route.
    routes: BTreeMap<(String, String), wire::Route>,
    /// `"add :443 host -> backend (l7)"`, `"remove :443 host"`, in order.
    calls: Vec<String>,
    /// Operations that fail (`"add"`, `"remove"`, `"list"`, `"status"`) and how.
    failing: BTreeMap<String, tonic::Code>,
}

/// A running fake mc-proxy. Stops (and removes its socket) when dropped.
#[derive(Debug)]
pub struct FakeMcProxy {
    /// The admin socket.
    pub socket: PathBuf,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct Server {
    state: Arc<Mutex<State>>,
    started: Instant,
}

impl Server {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self, op: &str) -> Result<(), Status> {
        match self.state().failing.get(op) {
            Some(code) => Err(Status::new(*code, format!("injected failure of {op}"))),
            None => Ok(()),
        }
    }
}

#[tonic::async_trait]
impl ProxyAdmin for Server {
    async fn status(
        &self,
        _: Request<wire::StatusRequest>,
    ) -> Result<Response<wire::StatusResponse>, Status> {
        self.check("status")?;
        let state = self.state();
        let mut listeners: BTreeMap<&str, u32> = BTreeMap::new();
        for (listener, _) in state.routes.keys() {
            *listeners.entry(listener).or_default() += 1;
        }
        Ok(Response::new(wire::StatusResponse {
            version: "fake-mc-proxy 1.0.0".into(),
            uptime_seconds: self.started.elapsed().as_secs(),
            total_connections: 0,
            listeners: listeners
                .into_iter()
                .map(|(address, routes)| wire::Listener {
                    address: address.to_owned(),
                    routes,
                    active_connections: 0,
                })
                .collect(),
        }))
    }

    async fn list_routes(
        &self,
        _: Request<wire::ListRoutesRequest>,
    ) -> Result<Response<wire::ListRoutesResponse>, Status> {
        self.check("list")?;
        Ok(Response::new(wire::ListRoutesResponse {
            routes: self.state().routes.values().cloned().collect(),
        }))
    }

    async fn add_route(
        &self,
        request: Request<wire::AddRouteRequest>,
    ) -> Result<Response<wire::AddRouteResponse>, Status> {
        self.check("add")?;
        let route = request
            .into_inner()
            .route
            .ok_or_else(|| Status::invalid_argument("no route"))?;
        if !matches!(route.mode.as_str(), "l4" | "l7") {
            return Err(Status::invalid_argument(format!(
                "unknown mode {:?}",
                route.mode
            )));
        }
        let mut state = self.state();
        state.calls.push(format!(
            "add {} {} -> {} ({})",
            route.listener, route.hostname, route.backend, route.mode
        ));
        state
            .routes
            .insert((route.listener.clone(), route.hostname.clone()), route);
        Ok(Response::new(wire::AddRouteResponse {}))
    }

    async fn remove_route(
        &self,
        request: Request<wire::RemoveRouteRequest>,
    ) -> Result<Response<wire::RemoveRouteResponse>, Status> {
        self.check("remove")?;
        let r = request.into_inner();
        let mut state = self.state();
        state
            .calls
            .push(format!("remove {} {}", r.listener, r.hostname));
        match state.routes.remove(&(r.listener, r.hostname)) {
            Some(_) => Ok(Response::new(wire::RemoveRouteResponse {})),
            None => Err(Status::not_found("no such route")),
        }
    }
}

impl FakeMcProxy {
    /// Starts a fake mc-proxy on a fresh socket in a private directory.
    pub fn start() -> io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let socket = dir.path().join("mc-proxy.sock");
        let state = Arc::new(Mutex::new(State::default()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::UnixListener::bind(&socket)?
        };
        let server = Server {
            state: state.clone(),
            started: Instant::now(),
        };
        runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(ProxyAdminServer::new(server))
                .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener)),
        );
        Ok(FakeMcProxy {
            socket,
            state,
            runtime: Some(runtime),
            _dir: dir,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `[mcproxy]` section of an agent configuration that talks to this
    /// proxy and writes the certificates of its routes to `cert_dir`.
    pub fn agent_section(&self, cert_dir: &Path) -> String {
        format!(
            "[mcproxy]\nsocket = {:?}\ncert_dir = {:?}\n",
            self.socket.display().to_string(),
            cert_dir.display().to_string()
        )
    }

    /// The route table: `(listener, hostname)` → route.
    pub fn routes(&self) -> BTreeMap<(String, String), wire::Route> {
        self.state().routes.clone()
    }

    /// A handle on the table that other threads can hold.
    pub fn state_handle(&self) -> TableHandle {
        TableHandle(self.state.clone())
    }

    /// The calls received so far.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Makes `op` (`add`, `remove`, `list`, `status`) fail with `code` until healed.
    pub fn fail(&self, op: &str, code: tonic::Code) {
        self.state().failing.insert(op.to_owned(), code);
    }

    /// Makes every operation succeed again.
    pub fn heal(&self) {
        self.state().failing.clear();
    }

    /// Puts a route in the table directly, as an operator's hand would.
    pub fn insert(&self, route: wire::Route) {
        self.state()
            .routes
            .insert((route.listener.clone(), route.hostname.clone()), route);
    }
}

/// A shareable view of a fake proxy's table.
#[derive(Debug, Clone)]
pub struct TableHandle(Arc<Mutex<State>>);

impl TableHandle {
    /// The route of `(listener, hostname)`, if any.
    pub fn route(&self, key: &(String, String)) -> Option<wire::Route> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .routes
            .get(key)
            .cloned()
    }
}

impl Drop for FakeMcProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
