//! The live event feed: what [`Fleet::changes`](mcp_core::fleet::Fleet::changes)
//! follows on every node (or one service's), as server-sent events. Each
//! event is the view's JSON (`mcp-event`); a node's stream failing is said
//! (`failure`) and the rest go on.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use tokio_stream::StreamExt;

use crate::{Dashboard, query_param};

/// `GET /events/stream[?service=NAME]`.
pub(crate) async fn stream(State(d): State<Arc<Dashboard>>, uri: Uri) -> Response {
    let service = query_param(&uri, "service");
    let changes = match d.fleet.changes(service.as_deref(), None).await {
        Ok(changes) => changes,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let events = changes.map(|change| {
        Ok::<_, Infallible>(match change {
            Ok(event) => Sse::default()
                .event("mcp-event")
                .json_data(&event)
                .unwrap_or_else(|e| Sse::default().event("failure").data(e.to_string())),
            Err(e) => Sse::default().event("failure").data(e.to_string()),
        })
    });
    axum::response::Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
