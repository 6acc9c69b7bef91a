//! Every RPC whose request carries a name (a service, node or component, in the
//! request or in a message inside it) refuses a hostile one (`..`, a path, a NUL,
//! a control character, an empty required name) as `invalid_input`, and nothing
//! on the node changes: no runtime call, no registry row, no file. The RPCs are
//! read from the API's descriptor, so a new RPC with a name field is tested
//! without being listed here. Served in-process on the fake runtime.

use std::time::SystemTime;

use mcp_core::api::prost_types::field_descriptor_proto::Type;
use mcp_core::api::prost_types::{DescriptorProto, FileDescriptorSet, MethodDescriptorProto};
use mcp_testkit::fake_node::FakeNode;
use prost::Message;
use tonic::transport::{Endpoint, Uri};

/// Fields that carry names, by field name.
const NAME_FIELDS: &[&str] = &["service", "node", "component"];

/// Name fields where `""` means "every one" (a filter), not a missing name.
const OPTIONAL: &[(&str, &str)] = &[
    ("EventsRequest", "service"),
    ("TopRequest", "service"),
    ("LogsRequest", "component"),
    // A route added by hand belongs to no service.
    ("ProxyRoute", "service"),
];

const HOSTILE: &[&str] = &["..", "../x", "/etc", "a/b", "a\0b", "a\nb", "x\x1b[2J"];

/// A message of raw protobuf bytes.
#[derive(Clone, Default, PartialEq)]
struct Raw(Vec<u8>);

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Raw({} bytes)", self.0.len())
    }
}

impl Message for Raw {
    fn encode_raw(&self, buf: &mut impl prost::bytes::BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl prost::bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Appends field `number` (length-delimited) with `bytes`.
fn put(out: &mut Vec<u8>, number: i32, bytes: &[u8]) {
    prost::encoding::encode_key(
        number as u32,
        prost::encoding::WireType::LengthDelimited,
        out,
    );
    prost::encoding::encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

struct Api {
    messages: Vec<(String, DescriptorProto)>,
    methods: Vec<(String, MethodDescriptorProto)>,
}

impl Api {
    fn load() -> Self {
        let fds =
            FileDescriptorSet::decode(mcp_core::api::FILE_DESCRIPTOR_SET).expect("descriptor");
        let mut messages = Vec::new();
        let mut methods = Vec::new();
        for file in fds.file {
            let package = file.package().to_owned();
            for m in &file.message_type {
                messages.push((format!(".{package}.{}", m.name()), m.clone()));
            }
            if package != "mcp.v1" {
                continue;
            }
            for service in &file.service {
                for method in &service.method {
                    let path = format!("/{package}.{}/{}", service.name(), method.name());
                    methods.push((path, method.clone()));
                }
            }
        }
        Api { messages, methods }
    }

    fn message(&self, full_name: &str) -> &DescriptorProto {
        &self
            .messages
            .iter()
            .find(|(n, _)| n == full_name)
            .unwrap_or_else(|| panic!("no message {full_name}"))
            .1
    }

    /// Every way to put one bad name into a message of type `full_name`: the
    /// encoded message with every name field valid but the one (`bad` in it),
    /// named `Message.field`. Nested messages are followed one level.
    fn variants(&self, full_name: &str, bad: &str, depth: usize) -> Vec<(String, Vec<u8>)> {
        let m = self.message(full_name);
        let mut out = Vec::new();
        let names: Vec<_> = m
            .field
            .iter()
            .filter(|f| f.r#type() == Type::String && NAME_FIELDS.contains(&f.name()))
            .collect();
        for target in &names {
            let optional = OPTIONAL.contains(&(m.name(), target.name()));
            if bad.is_empty() && optional {
                continue;
            }
            let mut bytes = Vec::new();
            for f in &names {
                let value = if f.number() == target.number() {
                    bad
                } else {
                    "ok"
                };
                put(&mut bytes, f.number(), value.as_bytes());
            }
            out.push((format!("{}.{}", m.name(), target.name()), bytes));
        }
        if depth > 0 {
            for f in m.field.iter().filter(|f| f.r#type() == Type::Message) {
                for (what, inner) in self.variants(f.type_name(), bad, depth - 1) {
                    let mut bytes = Vec::new();
                    put(&mut bytes, f.number(), &inner);
                    out.push((what, bytes));
                }
            }
        }
        out
    }
}

async fn channel(node: &FakeNode) -> tonic::transport::Channel {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let router = mcp_agent::router(node.engine.clone(), node.auth.clone(), SystemTime::now());
    tokio::spawn(
        router.serve_with_incoming(tokio_stream::once(Ok::<_, std::io::Error>(server_io))),
    );
    let mut client_io = Some(client_io);
    Endpoint::from_static("http://in-process")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let io = client_io.take();
            async move {
                io.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("one connection only"))
            }
        }))
        .await
        .expect("in-process channel")
}

/// Calls `path` with `body`; the status it failed with.
async fn call(
    ch: &tonic::transport::Channel,
    token: &str,
    path: &str,
    method: &MethodDescriptorProto,
    body: Vec<u8>,
) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(e.to_string()))?;
    let codec: tonic_prost::ProstCodec<Raw, Raw> = tonic_prost::ProstCodec::default();
    let path = path.parse().expect("path");
    let auth = format!("Bearer {token}").parse().expect("ascii");
    if method.client_streaming() {
        let mut req = tonic::Request::new(tokio_stream::once(Raw(body)));
        req.metadata_mut().insert("authorization", auth);
        return grpc.client_streaming(req, path, codec).await.map(drop);
    }
    let mut req = tonic::Request::new(Raw(body));
    req.metadata_mut().insert("authorization", auth);
    if method.server_streaming() {
        let mut stream = grpc.server_streaming(req, path, codec).await?.into_inner();
        while stream.message().await?.is_some() {}
        return Ok(());
    }
    grpc.unary(req, path, codec).await.map(drop)
}

/// What the node holds that a request could change.
fn state(node: &FakeNode) -> (usize, usize, Vec<std::path::PathBuf>) {
    let calls = node
        .runtime
        .calls()
        .iter()
        .filter(|c| {
            !matches!(
                c.op,
                mcp_testkit::fake_node::Op::List | mcp_testkit::fake_node::Op::Inspect
            )
        })
        .count();
    let services = node.engine.registry().services().expect("services").len();
    let mut files = Vec::new();
    let mut stack = vec![node.dir().to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
            if !e.path().to_string_lossy().contains("mcp.db") {
                files.push(e.path());
            }
        }
    }
    files.sort();
    (calls, services, files)
}

#[tokio::test]
async fn every_rpc_with_a_name_refuses_a_hostile_one_and_touches_nothing() {
    let node = FakeNode::new("names", &["localhost/app:v1.0.0"]);
    let ch = channel(&node).await;
    let api = Api::load();
    let before = state(&node);
    let mut tried = Vec::new();
    for (path, method) in &api.methods {
        for bad in HOSTILE.iter().chain(&[""]) {
            for (field, body) in api.variants(method.input_type(), bad, 1) {
                let err = call(&ch, &node.token, path, method, body)
                    .await
                    .expect_err(&format!("{path} accepted {field} = {bad:?}"));
                assert_eq!(
                    err.code(),
                    tonic::Code::InvalidArgument,
                    "{path} with {field} = {bad:?}: {err:?}"
                );
                let kind = err
                    .metadata()
                    .get("mcp-error-kind")
                    .and_then(|v| v.to_str().ok());
                assert_eq!(kind, Some("invalid_input"), "{path} {field}: {err:?}");
                assert!(
                    !err.message().contains('\n'),
                    "{path}: raw newline in {err:?}"
                );
                tried.push(format!("{path} {field}"));
            }
        }
        assert_eq!(state(&node), before, "{path} changed something");
    }
    tried.sort();
    tried.dedup();
    // The descriptor has name fields in these requests at least; a new RPC with
    // one is tried too.
    for must in [
        "McpAgentService/Stop ServiceRequest.service",
        "McpAgentService/PushFile PushFileRequest.service",
        "McpAgentService/ImportServiceData ImportChunk.service",
        "McpAgentService/RemoveServiceData ServiceRequest.service",
        "McpAgentService/SetupEdgeRoute SetupEdgeRouteRequest.node",
        "McpAgentService/Logs LogsRequest.component",
    ] {
        assert!(
            tried.iter().any(|t| t.ends_with(must)),
            "{must} not tried: {tried:#?}"
        );
    }
}
