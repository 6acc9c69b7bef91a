//! The gRPC client of the agent API, over TLS with a bearer token. Methods take and
//! return the model's types; the wire types stay inside `mcp_proto::convert`.

mod endpoint;
mod error;
pub mod exec;

pub use endpoint::AgentEndpoint;
pub use error::ApiError;

use std::pin::Pin;

use mcp_proto::v1::{self, mcp_agent_service_client::McpAgentServiceClient};
use tokio_stream::{Stream, StreamExt};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use mcp_model::view::{ComponentUsage, DnsRecord, Event, ProxyRouteRecord};
use mcp_model::view::{LogLine, LogQuery, NodeInfo, Report, ServiceStatus, StatusReport, SyncItem};
use mcp_proto::convert;
use mcp_proto::status as wire;

#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// The `authorization` header for `token`.
fn bearer(token: &str) -> Result<MetadataValue<Ascii>, ApiError> {
    MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
        ApiError::Remote(wire::RemoteError {
            kind: mcp_model::ErrorKind::Unauthenticated,
            step: None,
            message: "the token contains characters a header cannot carry".into(),
        })
    })
}

/// A stream of items from the agent.
pub type ApiStream<T> = Pin<Box<dyn Stream<Item = Result<T, ApiError>> + Send>>;

/// A connection to one node's agent: every RPC, its answer decoded into the
/// model's view types.
///
/// ```
/// use std::time::Duration;
/// use mcp_fleet::client::{AgentClient, AgentEndpoint};
///
/// let endpoint = AgentEndpoint {
///     node: "n1".into(),
///     addresses: vec!["127.0.0.1:1".into()], // nothing listens here
///     ca_pem: mcp_platform::pki::create_ca("example CA")?.cert_pem.into_bytes(),
///     server_name: Some("localhost".into()),
///     token: "a-token".into(),
///     connect_timeout: Duration::from_secs(1),
/// };
/// let rt = tokio::runtime::Runtime::new()?;
/// let err = rt.block_on(AgentClient::connect(&endpoint)).unwrap_err();
/// assert_eq!(err.kind(), mcp_model::ErrorKind::Unreachable);
/// assert!(err.to_string().contains("node n1"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// An endpoint usually comes from the CLI configuration
/// ([`AgentEndpoint::from_config`]); with an agent that answers:
///
/// ```no_run
/// # async fn f(endpoint: mcp_fleet::client::AgentEndpoint) -> Result<(), mcp_fleet::client::ApiError> {
/// let mut agent = mcp_fleet::client::AgentClient::connect(&endpoint).await?;
/// let node = agent.node_status().await?;
/// println!("{} runs {} containers", node.node, node.containers);
/// for s in agent.services().await? {
///     println!("{}: {}/{} running", s.service, s.running(), s.components.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AgentClient {
    inner: McpAgentServiceClient<InterceptedService<Channel, Bearer>>,
    address: String,
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(<redacted>)")
    }
}

impl AgentClient {
    /// Connects to the first address of `endpoint` that answers.
    pub async fn connect(endpoint: &AgentEndpoint) -> Result<Self, ApiError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bearer = bearer(&endpoint.token)?;
        let mut last = String::from("no address configured");
        for address in &endpoint.addresses {
            let host = mcp_model::config::host_of(address);
            let tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&endpoint.ca_pem))
                .domain_name(
                    endpoint
                        .server_name
                        .clone()
                        .unwrap_or_else(|| host.to_owned()),
                );
            let channel = Channel::from_shared(format!("https://{address}"))
                .map_err(|e| ApiError::Tls {
                    node: endpoint.node.clone(),
                    message: format!("address {address:?}: {e}"),
                })?
                .tls_config(tls)
                .map_err(|e| ApiError::Tls {
                    node: endpoint.node.clone(),
                    message: mcp_model::kind::chain(&e),
                })?
                .connect_timeout(endpoint.connect_timeout);
            // The channel's own timeout covers the TCP connect; a host that
            // accepts and then hangs must not hold up the next address (or
            // the other nodes) either, so the whole handshake gets the same.
            let t = endpoint.connect_timeout;
            let connected = match tokio::time::timeout(t, channel.connect()).await {
                Ok(r) => r.map_err(|e| mcp_model::kind::chain(&e)),
                Err(_) => Err(format!(
                    "connected, but no TLS handshake within {} s",
                    t.as_secs()
                )),
            };
            match connected {
                Ok(ch) => return Ok(Self::with_bearer(ch, bearer, address)),
                Err(e) => last = format!("{address}: {e}"),
            }
        }
        Err(ApiError::Connect {
            node: endpoint.node.clone(),
            tried: endpoint.addresses.join(", "),
            message: last,
        })
    }

    /// A client over a channel already connected (in-process tests serve the
    /// agent over a pipe), calling with `token`; `address` is what it reports.
    pub fn over_channel(channel: Channel, token: &str, address: &str) -> Result<Self, ApiError> {
        Ok(Self::with_bearer(channel, bearer(token)?, address))
    }

    fn with_bearer(channel: Channel, bearer: MetadataValue<Ascii>, address: &str) -> Self {
        AgentClient {
            inner: McpAgentServiceClient::with_interceptor(channel, Bearer(bearer))
                .max_decoding_message_size(mcp_proto::MAX_FILE_BYTES + (1 << 20))
                .max_encoding_message_size(mcp_proto::MAX_FILE_BYTES + (1 << 20)),
            address: address.to_owned(),
        }
    }

    /// The address this client is connected to.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Deploys (or redeploys) the service defined by `definition` (TOML).
    pub async fn deploy(&mut self, definition: &str) -> Result<Report, ApiError> {
        let r = self
            .inner
            .deploy(v1::DefinitionRequest {
                definition: definition.to_owned(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_report(r.into_inner())?)
    }

    /// What deploying `definition` (TOML) would do on the node, changing
    /// nothing; environment values masked unless `show_env`.
    pub async fn plan_deploy(
        &mut self,
        definition: &str,
        show_env: bool,
    ) -> Result<mcp_model::view::DeployPreview, ApiError> {
        let r = self
            .inner
            .plan_deploy(v1::PlanDeployRequest {
                definition: definition.to_owned(),
                show_env,
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_preview(r.into_inner())?)
    }

    /// Starts a command in a service's container: `start` goes first, then
    /// whatever the returned [`exec::RemoteExec`] is sent.
    pub async fn exec(&mut self, start: v1::ExecStart) -> Result<exec::RemoteExec, ApiError> {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let first = v1::ExecRequest {
            input: Some(v1::exec_request::Input::Start(start)),
        };
        // The channel is new and has room: the start cannot fail to queue.
        let _ = tx.try_send(first);
        let output = self
            .inner
            .exec(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(|s| wire::from_status(&s))?
            .into_inner();
        Ok(exec::RemoteExec::new(tx, output))
    }

    /// Adopts the running containers of the service defined by `definition`.
    pub async fn adopt(&mut self, definition: &str) -> Result<Report, ApiError> {
        let r = self
            .inner
            .adopt(v1::DefinitionRequest {
                definition: definition.to_owned(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_report(r.into_inner())?)
    }

    /// Stops a service.
    pub async fn stop(&mut self, service: &str) -> Result<Report, ApiError> {
        let r = self
            .inner
            .stop(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_report(r.into_inner())?)
    }

    /// Starts a service.
    pub async fn start(&mut self, service: &str) -> Result<Report, ApiError> {
        let r = self
            .inner
            .start(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_report(r.into_inner())?)
    }

    /// Restarts a service.
    pub async fn restart(&mut self, service: &str) -> Result<Report, ApiError> {
        let r = self
            .inner
            .restart(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_report(r.into_inner())?)
    }

    /// Undeploys a service.
    pub async fn undeploy(&mut self, service: &str) -> Result<Report, ApiError> {
        let r = self
            .inner
            .undeploy(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_report(r.into_inner())?)
    }

    /// Every service on the node.
    pub async fn services(&mut self) -> Result<Vec<ServiceStatus>, ApiError> {
        let r = self
            .inner
            .list_services(v1::ListServicesRequest {})
            .await
            .map_err(|s| wire::from_status(&s))?;
        r.into_inner()
            .services
            .into_iter()
            .map(convert::decode_status)
            .collect::<Result<_, _>>()
            .map_err(ApiError::from)
    }

    /// What each component of `service` (or of every service) uses now.
    pub async fn top(&mut self, service: Option<&str>) -> Result<Vec<ComponentUsage>, ApiError> {
        let r = self
            .inner
            .top(v1::TopRequest {
                service: service.unwrap_or_default().to_owned(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        r.into_inner()
            .components
            .into_iter()
            .map(convert::decode_usage)
            .collect::<Result<_, _>>()
            .map_err(ApiError::from)
    }

    /// One service's status, its definition as deployed and its recent events.
    pub async fn status(&mut self, service: &str) -> Result<StatusReport, ApiError> {
        let r = self
            .inner
            .service_status(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?
            .into_inner();
        Ok(convert::decode_status_report(r)?)
    }

    /// A service's output as `query` asks: lines as they come while following,
    /// across restarts and replacements of its containers.
    pub async fn logs(
        &mut self,
        service: &str,
        query: &LogQuery,
    ) -> Result<ApiStream<LogLine>, ApiError> {
        let stream = self
            .inner
            .logs(convert::encode_logs_request(service, query))
            .await
            .map_err(|s| wire::from_status(&s))?
            .into_inner();
        Ok(Box::pin(stream.map(|r| {
            r.map(convert::decode_log_line)
                .map_err(|s| ApiError::from(wire::from_status(&s)))
        })))
    }

    /// Events after `after_id` (of `service`, or all), only the newest `limit` (0: all),
    /// then new ones while `follow`.
    pub async fn events(
        &mut self,
        service: Option<&str>,
        after_id: i64,
        limit: u32,
        follow: bool,
    ) -> Result<ApiStream<Event>, ApiError> {
        let stream = self
            .inner
            .events(v1::EventsRequest {
                service: service.unwrap_or_default().to_owned(),
                after_id,
                limit,
                follow,
            })
            .await
            .map_err(|s| wire::from_status(&s))?
            .into_inner();
        Ok(Box::pin(stream.map(|r| {
            r.map(convert::decode_event)
                .map_err(|s| ApiError::from(wire::from_status(&s)))
        })))
    }

    /// Asks this (edge) node to route public traffic for `req.hostname` to a
    /// service on a compute node; `check_only` validates without changing
    /// anything (and returns `None`).
    pub async fn setup_edge_route(
        &mut self,
        req: &mcp_model::view::EdgeRouteRequest,
        check_only: bool,
    ) -> Result<Option<mcp_model::view::EdgeRouteStatus>, ApiError> {
        let r = self
            .inner
            .setup_edge_route(convert::encode_edge_request(req, check_only))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner().route.map(convert::decode_edge_route))
    }

    /// Removes `service`'s edge routes on this (edge) node: every hostname, or
    /// only `hostname`. Returns the hostnames removed.
    pub async fn remove_edge_routes(
        &mut self,
        service: &str,
        hostname: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let r = self
            .inner
            .remove_edge_routes(v1::RemoveEdgeRoutesRequest {
                service: service.to_owned(),
                hostname: hostname.unwrap_or_default().to_owned(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner().hostnames)
    }

    /// This (edge) node's edge routes; with `probe`, whether each backend answers.
    pub async fn edge_routes(
        &mut self,
        probe: bool,
    ) -> Result<Vec<mcp_model::view::EdgeRouteStatus>, ApiError> {
        let r = self
            .inner
            .list_edge_routes(v1::ListEdgeRoutesRequest { probe })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner()
            .routes
            .into_iter()
            .map(convert::decode_edge_route)
            .collect())
    }

    /// The node's identity and capacity.
    pub async fn node_status(&mut self) -> Result<NodeInfo, ApiError> {
        let r = self
            .inner
            .node_status(v1::NodeStatusRequest {})
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_node(r.into_inner())?)
    }

    /// Pushes the node's desired definitions (TOML); returns the plan, applied unless
    /// `dry_run`.
    pub async fn sync(
        &mut self,
        definitions: Vec<String>,
        dry_run: bool,
        prune: bool,
    ) -> Result<Vec<SyncItem>, ApiError> {
        let r = self
            .inner
            .sync_definitions(v1::SyncRequest {
                definitions,
                dry_run,
                prune,
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        r.into_inner()
            .items
            .into_iter()
            .map(convert::decode_sync_item)
            .collect::<Result<_, _>>()
            .map_err(ApiError::from)
    }

    /// Recreates containers the runtime lost.
    pub async fn recover(&mut self) -> Result<Vec<Report>, ApiError> {
        let r = self
            .inner
            .recover(v1::RecoverRequest {})
            .await
            .map_err(|s| wire::from_status(&s))?;
        r.into_inner()
            .services
            .into_iter()
            .map(convert::decode_report)
            .collect::<Result<_, _>>()
            .map_err(ApiError::from)
    }

    /// Writes a file into a service's data directory.
    pub async fn push_file(
        &mut self,
        service: &str,
        path: &str,
        content: Vec<u8>,
        mode: u32,
    ) -> Result<u64, ApiError> {
        let r = self
            .inner
            .push_file(v1::PushFileRequest {
                service: service.to_owned(),
                path: path.to_owned(),
                content,
                mode,
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner().bytes_written)
    }

    /// Reads a file from a service's data directory.
    pub async fn pull_file(&mut self, service: &str, path: &str) -> Result<Vec<u8>, ApiError> {
        let r = self
            .inner
            .pull_file(v1::PullFileRequest {
                service: service.to_owned(),
                path: path.to_owned(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner().content)
    }

    /// Snapshots `service`'s data on the node.
    pub async fn create_snapshot(
        &mut self,
        service: &str,
    ) -> Result<mcp_model::view::SnapshotInfo, ApiError> {
        let r = self
            .inner
            .create_snapshot(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_snapshot(r.into_inner()))
    }

    /// The snapshots of `service` kept on the node, oldest first.
    pub async fn snapshots(
        &mut self,
        service: &str,
    ) -> Result<Vec<mcp_model::view::SnapshotInfo>, ApiError> {
        let r = self
            .inner
            .list_snapshots(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner()
            .snapshots
            .into_iter()
            .map(convert::decode_snapshot)
            .collect())
    }

    /// Restores snapshot `name` of `service` (the newest when `None`) into its
    /// data directory on the node, the service stopped around it; `force`
    /// replaces data the directory holds.
    pub async fn restore_snapshot(
        &mut self,
        service: &str,
        name: Option<&str>,
        force: bool,
    ) -> Result<Report, ApiError> {
        let r = self
            .inner
            .restore_snapshot(v1::RestoreSnapshotRequest {
                service: service.to_owned(),
                name: name.unwrap_or_default().to_owned(),
                force,
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_report(r.into_inner())?)
    }

    /// `service`'s revisions kept on the node, oldest first.
    pub async fn history(
        &mut self,
        service: &str,
    ) -> Result<Vec<mcp_model::view::Revision>, ApiError> {
        let r = self
            .inner
            .history(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner()
            .revisions
            .into_iter()
            .map(convert::decode_revision)
            .collect::<Result<_, _>>()?)
    }

    /// Deploys revision `to` of `service` again (by default the newest that
    /// deployed before the one that runs), by digest: the revision brought
    /// back and the report (with the rollback's own revision number).
    pub async fn rollback(
        &mut self,
        service: &str,
        to: Option<u32>,
    ) -> Result<mcp_model::view::NodeRollback, ApiError> {
        let r = self
            .inner
            .rollback(v1::RollbackRequest {
                service: service.to_owned(),
                to: to.unwrap_or(0),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_rollback(r.into_inner())?)
    }

    /// Streams snapshot `snapshot` of `service` from this node into `target`, which
    /// checks its SHA-256 and restores it into the service's data directory there
    /// (`force`: replacing data already there). The bytes pass through this
    /// process; neither agent needs credentials for the other. Returns the bytes
    /// moved.
    pub async fn copy_snapshot_to(
        &mut self,
        target: &mut AgentClient,
        service: &str,
        snapshot: &mcp_model::view::SnapshotInfo,
        force: bool,
    ) -> Result<u64, ApiError> {
        let mut source = self
            .inner
            .export_snapshot(v1::ExportSnapshotRequest {
                service: service.to_owned(),
                name: snapshot.name.clone(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?
            .into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel::<v1::ImportChunk>(8);
        let first = v1::ImportChunk {
            service: service.to_owned(),
            sha256: snapshot.sha256.clone(),
            force,
            data: Vec::new(),
        };
        let pump = tokio::spawn(async move {
            if tx.send(first).await.is_err() {
                return Ok(());
            }
            while let Some(chunk) = source.message().await? {
                let c = v1::ImportChunk {
                    data: chunk.data,
                    ..Default::default()
                };
                if tx.send(c).await.is_err() {
                    break;
                }
            }
            Ok::<_, tonic::Status>(())
        });
        let imported = target
            .inner
            .import_service_data(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await;
        let pumped = pump
            .await
            .map_err(|e| ApiError::Protocol(format!("copy task: {e}")))?;
        // The source's failure explains a truncated import best.
        pumped.map_err(|s| wire::from_status(&s))?;
        Ok(imported
            .map_err(|s| wire::from_status(&s))?
            .into_inner()
            .bytes_written)
    }

    /// Removes `service`'s data directory on the node (refused while deployed
    /// there).
    pub async fn remove_service_data(&mut self, service: &str) -> Result<(), ApiError> {
        self.inner
            .remove_service_data(service_req(service))
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(())
    }

    /// The node's proxy: its status and routes, each with its owning service.
    pub async fn proxy_routes(&mut self) -> Result<mcp_model::view::ProxyTable, ApiError> {
        let r = self
            .inner
            .list_proxy_routes(v1::ListProxyRoutesRequest {})
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(convert::decode_proxy_table(r.into_inner())?)
    }

    /// Adds (or replaces) a proxy route by hand.
    pub async fn add_proxy_route(&mut self, route: &ProxyRouteRecord) -> Result<(), ApiError> {
        self.inner
            .add_proxy_route(v1::AddProxyRouteRequest {
                route: Some(convert::encode_route(route)),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(())
    }

    /// Removes a proxy route.
    pub async fn remove_proxy_route(
        &mut self,
        listener: &str,
        hostname: &str,
    ) -> Result<(), ApiError> {
        self.inner
            .remove_proxy_route(v1::RemoveProxyRouteRequest {
                listener: listener.to_owned(),
                hostname: hostname.to_owned(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(())
    }

    /// The DNS records the node registered.
    pub async fn dns_records(&mut self) -> Result<Vec<DnsRecord>, ApiError> {
        let r = self
            .inner
            .list_dns_records(v1::ListDnsRecordsRequest {})
            .await
            .map_err(|s| wire::from_status(&s))?;
        Ok(r.into_inner()
            .records
            .into_iter()
            .map(convert::decode_dns)
            .collect())
    }

    /// The problems the node finds in `definition` (its rules and the node's
    /// host policy), located in the text; `file` is put on each.
    pub async fn check_definition(
        &mut self,
        definition: &str,
        file: Option<&std::path::Path>,
    ) -> Result<Vec<mcp_model::spec::Problem>, ApiError> {
        let r = self
            .inner
            .check_definition(v1::DefinitionRequest {
                definition: definition.to_owned(),
            })
            .await
            .map_err(|s| wire::from_status(&s))?;
        let problems = r.into_inner().problems.into_iter();
        Ok(problems
            .map(|p| convert::decode_problem(p, file))
            .collect::<Result<_, _>>()?)
    }
}

fn service_req(service: &str) -> v1::ServiceRequest {
    v1::ServiceRequest {
        service: service.to_owned(),
    }
}
