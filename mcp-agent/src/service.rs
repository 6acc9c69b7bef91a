//! The gRPC adapter: each RPC extracts its request, runs one `mcp_core` call on a
//! blocking thread (the engine's calls block), and converts the result. Conversions
//! live in `mcp_core::api::convert`, error mapping in `mcp_core::api::status`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_core::api::convert;
use mcp_core::api::v1::{self, mcp_agent_service_server::McpAgentService};
use mcp_core::names::{ComponentName, NameError, NodeName, ServiceName};
use mcp_core::node::engine::{Engine, LogHalt};
use mcp_core::node::registry::EventQuery;
use mcp_core::node::runtime::{ExecRequest, ExecSession};
use mcp_core::platform::mcias::Identity;
use mcp_core::spec::ValidatedDefinition;
use mcp_core::view::{ExecInput, ExecOutput};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::failure::Failure;

/// How often a followed event log looks for new events.
const EVENT_POLL: Duration = Duration::from_millis(500);
/// How many recent events `ServiceStatus` returns.
const RECENT_EVENTS: u32 = 10;

type RpcResult<T> = Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Bytes per chunk when streaming a snapshot.
const DATA_CHUNK: usize = 256 * 1024;

/// The agent API over one engine.
pub(crate) struct AgentService {
    engine: Arc<Engine>,
    started_at: SystemTime,
}

impl AgentService {
    pub(crate) fn new(engine: Arc<Engine>, started_at: SystemTime) -> Self {
        AgentService { engine, started_at }
    }

    /// Runs `f` with the engine on a blocking thread; errors become statuses.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, mcp_core::node::Error> + Send + 'static,
    ) -> Result<T, Status> {
        let engine = self.engine.clone();
        Ok(tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| Failure::Task(e.to_string()))?
            .map_err(Failure::Node)?)
    }
}

/// Who called (the auth layer put it there).
fn actor<T>(req: &Request<T>) -> String {
    req.extensions()
        .get::<Identity>()
        .map_or_else(|| "unknown".to_owned(), |i| i.username.clone())
}

/// A definition from a request: parsed, validated and checked against this
/// node's host policy, every problem located.
fn parse(e: &Engine, definition: &str) -> Result<ValidatedDefinition, mcp_core::node::Error> {
    Ok(ValidatedDefinition::parse_for_node(
        definition,
        &e.config().conventions,
        &e.host_policy(),
    )?)
}

/// A service name from a request, parsed before anything is touched.
fn service_name(name: &str) -> Result<ServiceName, Status> {
    ServiceName::parse(name).map_err(|e| Failure::Node(e.into()).into())
}

/// A node name from a request.
fn node_name(name: &str) -> Result<NodeName, Status> {
    NodeName::parse(name).map_err(|e| Failure::Node(e.into()).into())
}

/// An optional name filter (`""` means every one).
fn filter<T: std::str::FromStr<Err = NameError>>(name: &str) -> Result<Option<T>, Status> {
    if name.is_empty() {
        return Ok(None);
    }
    T::from_str(name)
        .map(Some)
        .map_err(|e| Failure::Node(e.into()).into())
}

#[tonic::async_trait]
impl McpAgentService for AgentService {
    async fn deploy(&self, req: Request<v1::DefinitionRequest>) -> RpcResult<v1::OperationReply> {
        let actor = actor(&req);
        let text = req.into_inner().definition;
        let r = self
            .blocking(move |e| Ok(e.deploy(&parse(e, &text)?, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_report(&r)))
    }

    async fn stop(&self, req: Request<v1::ServiceRequest>) -> RpcResult<v1::OperationReply> {
        let actor = actor(&req);
        let service = service_name(&req.into_inner().service)?;
        let r = self
            .blocking(move |e| Ok(e.stop(&service, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_report(&r)))
    }

    async fn start(&self, req: Request<v1::ServiceRequest>) -> RpcResult<v1::OperationReply> {
        let actor = actor(&req);
        let service = service_name(&req.into_inner().service)?;
        let r = self
            .blocking(move |e| Ok(e.start(&service, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_report(&r)))
    }

    async fn restart(&self, req: Request<v1::ServiceRequest>) -> RpcResult<v1::OperationReply> {
        let actor = actor(&req);
        let service = service_name(&req.into_inner().service)?;
        let r = self
            .blocking(move |e| Ok(e.restart(&service, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_report(&r)))
    }

    async fn undeploy(&self, req: Request<v1::ServiceRequest>) -> RpcResult<v1::OperationReply> {
        let actor = actor(&req);
        let service = service_name(&req.into_inner().service)?;
        let r = self
            .blocking(move |e| Ok(e.undeploy(&service, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_report(&r)))
    }

    async fn list_services(
        &self,
        _req: Request<v1::ListServicesRequest>,
    ) -> RpcResult<v1::ListServicesResponse> {
        let services = self.blocking(|e| e.statuses()).await?;
        Ok(Response::new(v1::ListServicesResponse {
            services: services.iter().map(convert::encode_status).collect(),
        }))
    }

    async fn service_status(
        &self,
        req: Request<v1::ServiceRequest>,
    ) -> RpcResult<v1::ServiceStatusResponse> {
        let service = service_name(&req.into_inner().service)?;
        let report = self
            .blocking(move |e| Ok(e.status_report(&service, RECENT_EVENTS)?))
            .await?;
        Ok(Response::new(convert::encode_status_report(&report)))
    }

    async fn top(&self, req: Request<v1::TopRequest>) -> RpcResult<v1::TopResponse> {
        let r = req.into_inner();
        let service = (!r.service.is_empty())
            .then(|| service_name(&r.service))
            .transpose()?;
        let usage = self
            .blocking(move |e| Ok(e.usage(service.as_ref())?))
            .await?;
        Ok(Response::new(v1::TopResponse {
            components: usage.iter().map(convert::encode_usage).collect(),
        }))
    }

    type LogsStream = BoxStream<v1::LogChunk>;

    async fn logs(&self, req: Request<v1::LogsRequest>) -> RpcResult<Self::LogsStream> {
        let r = req.into_inner();
        let service = service_name(&r.service)?;
        let component: Option<ComponentName> = filter(&r.component)?;
        let query = convert::decode_log_query(&r);
        let sources = {
            let service = service.clone();
            self.blocking(move |e| Ok(e.log_sources(&service, component.as_ref())?))
                .await?
        };
        let (tx, rx) = mpsc::channel(256);
        for source in sources {
            let (engine, tx) = (self.engine.clone(), tx.clone());
            let (service, query) = (service.clone(), query.clone());
            // Stop reading when the client goes away, even while no line comes; the
            // watcher ends with the read, so its sender does not keep the stream open.
            let halt = LogHalt::default();
            let done = Arc::new(tokio::sync::Notify::new());
            let watch = (tx.clone(), halt.clone(), done.clone());
            tokio::spawn(async move {
                let (tx, halt, done) = watch;
                tokio::select! {
                    () = tx.closed() => halt.halt(),
                    () = done.notified() => {}
                }
            });
            tokio::task::spawn_blocking(move || {
                let mut send = |line| tx.blocking_send(Ok(convert::encode_log_line(line))).is_ok();
                if let Err(e) = engine.read_logs(&service, &source, &query, &halt, &mut send) {
                    let _ = tx.blocking_send(Err(Failure::Node(e).into()));
                }
                done.notify_one();
            });
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type EventsStream = BoxStream<v1::Event>;

    async fn events(&self, req: Request<v1::EventsRequest>) -> RpcResult<Self::EventsStream> {
        let r = req.into_inner();
        let service = filter::<ServiceName>(&r.service)?.map(String::from);
        let first = EventQuery {
            service: service.clone(),
            after_id: Some(r.after_id),
            limit: None,
            last: (r.limit > 0).then_some(r.limit),
        };
        let initial = {
            let q = first.clone();
            self.blocking(move |e| Ok(e.events(&q)?)).await?
        };
        let (tx, rx) = mpsc::channel(256);
        let engine = self.engine.clone();
        let follow = r.follow;
        tokio::spawn(async move {
            let mut last = r.after_id;
            for e in &initial {
                last = e.id;
                if tx.send(Ok(convert::encode_event(e))).await.is_err() {
                    return;
                }
            }
            while follow && !tx.is_closed() {
                tokio::select! {
                    () = tokio::time::sleep(EVENT_POLL) => {}
                    () = tx.closed() => return,
                }
                let q = EventQuery {
                    service: service.clone(),
                    after_id: Some(last),
                    ..EventQuery::default()
                };
                let engine = engine.clone();
                let more = tokio::task::spawn_blocking(move || engine.events(&q)).await;
                let Ok(Ok(more)) = more else { continue };
                for e in &more {
                    last = e.id;
                    if tx.send(Ok(convert::encode_event(e))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn node_status(
        &self,
        _req: Request<v1::NodeStatusRequest>,
    ) -> RpcResult<v1::NodeStatusResponse> {
        let started = self.started_at;
        let info = self.blocking(move |e| e.node_info(started)).await?;
        Ok(Response::new(convert::encode_node(&info)))
    }

    async fn sync_definitions(&self, req: Request<v1::SyncRequest>) -> RpcResult<v1::SyncResponse> {
        let actor = actor(&req);
        let r = req.into_inner();
        let items = self
            .blocking(move |e| {
                let defs = r
                    .definitions
                    .iter()
                    .map(|d| parse(e, d))
                    .collect::<Result<Vec<_>, _>>()?;
                if r.dry_run {
                    e.plan_sync(&defs, r.prune)
                } else {
                    e.sync(&defs, r.prune, &actor)
                }
            })
            .await?;
        Ok(Response::new(v1::SyncResponse {
            items: items.iter().map(convert::encode_sync_item).collect(),
        }))
    }

    async fn adopt(&self, req: Request<v1::DefinitionRequest>) -> RpcResult<v1::OperationReply> {
        let actor = actor(&req);
        let text = req.into_inner().definition;
        let r = self
            .blocking(move |e| Ok(e.adopt(&parse(e, &text)?, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_report(&r)))
    }

    async fn recover(&self, req: Request<v1::RecoverRequest>) -> RpcResult<v1::RecoverResponse> {
        let actor = actor(&req);
        let reports = self.blocking(move |e| e.recover(&actor)).await?;
        Ok(Response::new(v1::RecoverResponse {
            services: reports.iter().map(convert::encode_report).collect(),
        }))
    }

    async fn push_file(
        &self,
        req: Request<v1::PushFileRequest>,
    ) -> RpcResult<v1::PushFileResponse> {
        let actor = actor(&req);
        let r = req.into_inner();
        let service = service_name(&r.service)?;
        let n = self
            .blocking(move |e| e.push_file(&service, &r.path, &r.content, r.mode, &actor))
            .await?;
        Ok(Response::new(v1::PushFileResponse { bytes_written: n }))
    }

    async fn pull_file(
        &self,
        req: Request<v1::PullFileRequest>,
    ) -> RpcResult<v1::PullFileResponse> {
        let r = req.into_inner();
        let service = service_name(&r.service)?;
        let content = self
            .blocking(move |e| e.pull_file(&service, &r.path))
            .await?;
        Ok(Response::new(v1::PullFileResponse { content }))
    }

    async fn create_snapshot(&self, req: Request<v1::ServiceRequest>) -> RpcResult<v1::Snapshot> {
        let actor = actor(&req);
        let service = service_name(&req.into_inner().service)?;
        let s = self
            .blocking(move |e| Ok(e.snapshot(&service, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_snapshot(&s)))
    }

    async fn list_snapshots(
        &self,
        req: Request<v1::ServiceRequest>,
    ) -> RpcResult<v1::ListSnapshotsResponse> {
        let service = service_name(&req.into_inner().service)?;
        let list = self.blocking(move |e| e.snapshots(&service)).await?;
        Ok(Response::new(v1::ListSnapshotsResponse {
            snapshots: list.iter().map(convert::encode_snapshot).collect(),
        }))
    }

    type ExportSnapshotStream = BoxStream<v1::DataChunk>;

    async fn export_snapshot(
        &self,
        req: Request<v1::ExportSnapshotRequest>,
    ) -> RpcResult<Self::ExportSnapshotStream> {
        use tokio::io::AsyncReadExt;
        let r = req.into_inner();
        let service = service_name(&r.service)?;
        let path = self
            .blocking(move |e| e.snapshot_file(&service, &r.name))
            .await?;
        let mut file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Failure::Transfer(format!("{}: {e}", path.display())))?;
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let mut buf = vec![0u8; DATA_CHUNK];
            loop {
                match file.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        let chunk = v1::DataChunk {
                            data: buf[..n].to_vec(),
                        };
                        if tx.send(Ok(chunk)).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(Failure::Transfer(e.to_string()).into())).await;
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn import_service_data(
        &self,
        req: Request<tonic::Streaming<v1::ImportChunk>>,
    ) -> RpcResult<v1::ImportResponse> {
        use tokio::io::AsyncWriteExt;
        let actor = actor(&req);
        let mut chunks = req.into_inner();
        let first = chunks
            .message()
            .await?
            .ok_or_else(|| Failure::Request("no data".into()))?;
        let service = service_name(&first.service)?;
        let (sha256, force) = (first.sha256.clone(), first.force);
        if sha256.is_empty() {
            return Err(Failure::Request("the first chunk carries the SHA-256".into()).into());
        }
        let incoming = {
            let service = service.clone();
            self.blocking(move |e| e.incoming_file(&service)).await?
        };
        let io = |e: std::io::Error| Failure::Transfer(e.to_string());
        let mut file = tokio::fs::File::from_std(incoming.reopen().map_err(io)?);
        file.write_all(&first.data).await.map_err(io)?;
        while let Some(chunk) = chunks.message().await? {
            file.write_all(&chunk.data).await.map_err(io)?;
        }
        file.sync_all().await.map_err(io)?;
        drop(file);
        let n = self
            .blocking(move |e| {
                let n = e.import_data(&service, incoming.path(), &sha256, force, &actor)?;
                drop(incoming);
                Ok(n)
            })
            .await?;
        Ok(Response::new(v1::ImportResponse { bytes_written: n }))
    }

    async fn remove_service_data(
        &self,
        req: Request<v1::ServiceRequest>,
    ) -> RpcResult<v1::RemoveServiceDataResponse> {
        let actor = actor(&req);
        let service = service_name(&req.into_inner().service)?;
        self.blocking(move |e| Ok(e.remove_data(&service, &actor)?))
            .await?;
        Ok(Response::new(v1::RemoveServiceDataResponse {}))
    }

    async fn setup_edge_route(
        &self,
        req: Request<v1::SetupEdgeRouteRequest>,
    ) -> RpcResult<v1::SetupEdgeRouteResponse> {
        let actor = actor(&req);
        let (r, check_only) = convert::decode_edge_request(req.into_inner());
        service_name(&r.service)?;
        node_name(&r.node)?;
        let route = self
            .blocking(move |e| {
                if check_only {
                    e.check_edge_route(&r)?;
                    return Ok(None);
                }
                Ok(Some(e.setup_edge_route(&r, &actor)?))
            })
            .await?;
        Ok(Response::new(v1::SetupEdgeRouteResponse {
            route: route.as_ref().map(convert::encode_edge_route),
        }))
    }

    async fn remove_edge_routes(
        &self,
        req: Request<v1::RemoveEdgeRoutesRequest>,
    ) -> RpcResult<v1::RemoveEdgeRoutesResponse> {
        let actor = actor(&req);
        let r = req.into_inner();
        let service = service_name(&r.service)?;
        let hostnames = self
            .blocking(move |e| {
                let one = Some(r.hostname.as_str()).filter(|h| !h.is_empty());
                Ok(e.remove_edge_routes(&service, one, &actor)?)
            })
            .await?;
        Ok(Response::new(v1::RemoveEdgeRoutesResponse { hostnames }))
    }

    async fn list_edge_routes(
        &self,
        req: Request<v1::ListEdgeRoutesRequest>,
    ) -> RpcResult<v1::ListEdgeRoutesResponse> {
        let probe = req.into_inner().probe;
        let routes = self.blocking(move |e| e.edge_routes(probe)).await?;
        Ok(Response::new(v1::ListEdgeRoutesResponse {
            routes: routes.iter().map(convert::encode_edge_route).collect(),
        }))
    }

    async fn list_proxy_routes(
        &self,
        _req: Request<v1::ListProxyRoutesRequest>,
    ) -> RpcResult<v1::ListProxyRoutesResponse> {
        let table = self.blocking(|e| e.proxy_table()).await?;
        Ok(Response::new(convert::encode_proxy_table(&table)))
    }

    async fn add_proxy_route(
        &self,
        req: Request<v1::AddProxyRouteRequest>,
    ) -> RpcResult<v1::AddProxyRouteResponse> {
        let actor = actor(&req);
        let route = req
            .into_inner()
            .route
            .ok_or_else(|| Failure::Request("no route given".into()))?;
        let route = convert::decode_route(route).map_err(|e| Failure::Request(e.to_string()))?;
        if let Some(owner) = &route.service {
            service_name(owner)?;
        }
        let route = mcp_core::node::engine::proxy_route(&route);
        self.blocking(move |e| e.add_route(&route, &actor)).await?;
        Ok(Response::new(v1::AddProxyRouteResponse {}))
    }

    async fn remove_proxy_route(
        &self,
        req: Request<v1::RemoveProxyRouteRequest>,
    ) -> RpcResult<v1::RemoveProxyRouteResponse> {
        let actor = actor(&req);
        let r = req.into_inner();
        self.blocking(move |e| e.remove_route(&r.listener, &r.hostname, &actor))
            .await?;
        Ok(Response::new(v1::RemoveProxyRouteResponse {}))
    }

    async fn list_dns_records(
        &self,
        _req: Request<v1::ListDnsRecordsRequest>,
    ) -> RpcResult<v1::ListDnsRecordsResponse> {
        let records = self.blocking(|e| e.dns_records()).await?;
        Ok(Response::new(v1::ListDnsRecordsResponse {
            records: records.iter().map(convert::encode_dns).collect(),
        }))
    }

    async fn check_definition(
        &self,
        req: Request<v1::DefinitionRequest>,
    ) -> RpcResult<v1::CheckDefinitionResponse> {
        let text = req.into_inner().definition;
        let problems = self
            .blocking(move |e| match parse(e, &text) {
                Ok(_) => Ok(Vec::new()),
                Err(mcp_core::node::Error::Spec(s)) if !s.problems().is_empty() => {
                    Ok(s.problems().to_vec())
                }
                Err(err) => Err(err),
            })
            .await?;
        Ok(Response::new(v1::CheckDefinitionResponse {
            problems: problems.iter().map(convert::encode_problem).collect(),
        }))
    }

    async fn history(&self, req: Request<v1::ServiceRequest>) -> RpcResult<v1::HistoryResponse> {
        let service = service_name(&req.into_inner().service)?;
        let list = self.blocking(move |e| Ok(e.history(&service)?)).await?;
        Ok(Response::new(v1::HistoryResponse {
            revisions: list.iter().map(convert::encode_revision).collect(),
        }))
    }

    async fn rollback(&self, req: Request<v1::RollbackRequest>) -> RpcResult<v1::RollbackReply> {
        let actor = actor(&req);
        let r = req.into_inner();
        let service = service_name(&r.service)?;
        let to = (r.to != 0).then_some(r.to);
        let back = self
            .blocking(move |e| Ok(e.rollback(&service, to, &actor)?))
            .await?;
        Ok(Response::new(convert::encode_rollback(&back)))
    }

    async fn restore_snapshot(
        &self,
        req: Request<v1::RestoreSnapshotRequest>,
    ) -> RpcResult<v1::OperationReply> {
        let actor = actor(&req);
        let r = req.into_inner();
        let service = service_name(&r.service)?;
        let name = (!r.name.is_empty()).then_some(r.name);
        let report = self
            .blocking(move |e| {
                Ok(e.restore_snapshot(&service, name.as_deref(), r.force, &actor)?)
            })
            .await?;
        Ok(Response::new(convert::encode_report(&report)))
    }

    async fn plan_deploy(
        &self,
        req: Request<v1::PlanDeployRequest>,
    ) -> RpcResult<v1::DeployPreview> {
        let r = req.into_inner();
        let preview = self
            .blocking(move |e| Ok(e.plan_deploy(&parse(e, &r.definition)?, r.show_env)?))
            .await?;
        Ok(Response::new(convert::encode_preview(&preview)))
    }

    type ExecStream = BoxStream<v1::ExecReply>;

    async fn exec(
        &self,
        req: Request<tonic::Streaming<v1::ExecRequest>>,
    ) -> RpcResult<Self::ExecStream> {
        let actor = actor(&req);
        let mut inbound = req.into_inner();
        let Some(v1::exec_request::Input::Start(start)) =
            inbound.message().await?.and_then(|m| m.input)
        else {
            return Err(Failure::Request("the first message starts the command".into()).into());
        };
        let service = service_name(&start.service)?;
        let component: Option<ComponentName> = filter(&start.component)?;
        let tty = start
            .tty
            .as_ref()
            .map(convert::decode_window)
            .transpose()
            .map_err(|e| Failure::Request(e.to_string()))?;
        let request = ExecRequest {
            command: start.command,
            tty,
            term: (!start.term.is_empty()).then_some(start.term),
        };
        let session = self
            .blocking(move |e| e.exec(&service, component.as_ref(), &request, &actor))
            .await?;
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(relay_exec(session, inbound, tx));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Carries a command's output back until it ends or the caller goes away (then
/// the session is dropped: the command is killed), while a task of its own
/// carries the caller's input to it, so a command that stops reading never
/// stops its output, nor hides that the caller left. The end of the caller's
/// stream is the end of standard input; a malformed message ends the call.
async fn relay_exec(
    mut session: ExecSession,
    inbound: tonic::Streaming<v1::ExecRequest>,
    tx: mpsc::Sender<Result<v1::ExecReply, Status>>,
) {
    let mut feeder = tokio::spawn(feed_exec(inbound, session.input.clone()));
    let mut feeding = true;
    loop {
        tokio::select! {
            output = session.output.recv() => {
                let Some(output) = output else { break };
                let last = matches!(output, ExecOutput::Exit(_));
                if tx.send(Ok(convert::encode_exec_output(output))).await.is_err() || last {
                    break;
                }
            }
            fed = &mut feeder, if feeding => {
                feeding = false;
                if !matches!(fed, Ok(true)) {
                    break;
                }
            }
            () = tx.closed() => break,
        }
    }
    feeder.abort();
}

/// The caller's messages as the command's input; `true` when its stream ended
/// (end of input) or the command took no more, `false` when the caller broke
/// off or sent what is not input.
async fn feed_exec(
    mut inbound: tonic::Streaming<v1::ExecRequest>,
    input: mpsc::Sender<ExecInput>,
) -> bool {
    loop {
        let (message, end) = match inbound.message().await {
            Ok(Some(m)) => (convert::decode_exec_input(m), false),
            Ok(None) => (Ok(ExecInput::CloseStdin), true),
            Err(_) => return false,
        };
        let Ok(message) = message else { return false };
        if input.send(message).await.is_err() || end {
            return true;
        }
    }
}
