//! Fuzz target: the agent's answers and requests from any bytes, decoded as
//! protobuf and converted to MCP's views, as the client and the agent do: each
//! conversion must succeed or say what is malformed, never panic.

use mcp_proto::{convert, v1};
use prost::Message;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some((&which, bytes)) = data.split_first() else {
            return;
        };
        match which % 8 {
            0 => drop(v1::OperationReply::decode(bytes).map(convert::decode_report)),
            1 => drop(v1::ServiceStatusResponse::decode(bytes).map(convert::decode_status_report)),
            2 => drop(v1::NodeStatusResponse::decode(bytes).map(convert::decode_node)),
            3 => drop(v1::ListProxyRoutesResponse::decode(bytes).map(convert::decode_proxy_table)),
            4 => drop(v1::SyncItem::decode(bytes).map(convert::decode_sync_item)),
            5 => drop(v1::ProxyRoute::decode(bytes).map(convert::decode_route)),
            6 => drop(v1::SetupEdgeRouteRequest::decode(bytes).map(convert::decode_edge_request)),
            _ => drop(v1::DefinitionProblem::decode(bytes).map(|p| convert::decode_problem(p, None))),
        }
    });
}
