//! The pages, each from the fleet's answers as the view types give them:
//! the fleet (`/`), a service (`/services/NAME`) and the event log
//! (`/events`). A node that does not answer is said on the page, not hidden.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html as Page, IntoResponse, Response};
use mcp_core::fleet::results::NodeFailure;
use mcp_core::time::{rfc3339, uptime};
use mcp_core::view::{Event, ServiceStatus, StatusReport};

use crate::html::{Html, Nav, esc, link, page, state, table};
use crate::{Dashboard, query_param};

/// How many events the event page and a service's page start with.
const RECENT: u32 = 50;

/// `GET /`: every node and every service.
pub(crate) async fn fleet(State(d): State<Arc<Dashboard>>) -> Response {
    let (nodes, services) = tokio::join!(d.fleet.node_list(), d.fleet.services(None));
    let mut body = Html::default();
    match nodes {
        Ok(nodes) => {
            let rows: Vec<Vec<Html>> = nodes
                .iter()
                .map(|n| {
                    vec![
                        esc(&n.name),
                        esc(n.role.as_str()),
                        esc(n.version.as_deref().unwrap_or("-")),
                        esc(n.address.as_deref().unwrap_or("-")),
                        state(n.status.as_str()),
                        esc(&n.containers.map_or("-".to_owned(), |c| c.to_string())),
                        esc(n.error.as_deref().or(n.runtime.as_deref()).unwrap_or("")),
                    ]
                })
                .collect();
            let headers = [
                "Node",
                "Role",
                "Version",
                "Address",
                "Reachability",
                "Containers",
                "Runtime",
            ];
            body.push(table("nodes", "Nodes", &headers, &rows));
        }
        Err(e) => body.push(failure("Nodes", &e.to_string())),
    }
    match services {
        Ok(answers) => {
            let all = answers.gather();
            body.push(services_table(&all.items));
            body.push(unanswered(&all.failures));
        }
        Err(e) => body.push(failure("Services", &e.to_string())),
    }
    Page(page("Fleet", Nav::Fleet, body).0).into_response()
}

/// One row per service: state, version, ports, restarts, node.
fn services_table(services: &[ServiceStatus]) -> Html {
    let rows: Vec<Vec<Html>> = services
        .iter()
        .map(|s| {
            let mut versions: Vec<&str> = s.components.iter().map(|c| c.version.as_str()).collect();
            versions.dedup();
            let ports: Vec<String> = s
                .components
                .iter()
                .flat_map(|c| c.ports.iter().map(|p| p.port.to_string()))
                .collect();
            let word = match (s.is_flapping(), s.active) {
                (true, _) => "flapping",
                (false, true) if s.running() == s.components.len() => "running",
                (false, true) => "degraded",
                (false, false) => "stopped",
            };
            let href = format!("/services/{}?node={}", s.service, s.node);
            vec![
                link(&href, &s.service),
                state(word),
                esc(&format!("{}/{}", s.running(), s.components.len())),
                esc(&versions.join(", ")),
                esc(&ports.join(", ")),
                esc(&s
                    .components
                    .iter()
                    .map(|c| c.restart_count)
                    .sum::<u32>()
                    .to_string()),
                esc(&s.node),
            ]
        })
        .collect();
    let headers = [
        "Service", "State", "Running", "Version", "Ports", "Restarts", "Node",
    ];
    table("services", "Services", &headers, &rows)
}

/// `GET /services/NAME[?node=NODE]`.
pub(crate) async fn service(
    State(d): State<Arc<Dashboard>>,
    Path(name): Path<String>,
    uri: Uri,
) -> Response {
    let node = query_param(&uri, "node");
    let report = match d.fleet.status(&name, node.as_deref()).await {
        Ok(r) => r,
        Err(e) => {
            let status = if e.kind() == mcp_core::ErrorKind::NotFound {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_GATEWAY
            };
            let body = failure("Service", &e.to_string());
            return (status, Page(page(&name, Nav::Service, body).0)).into_response();
        }
    };
    let node = report.status.node.clone();
    let (records, history) = tokio::join!(
        d.fleet.dns_records(Some(&node)),
        d.fleet.history(&name, Some(&node))
    );
    let mut body = summary(&report);
    body.push(components_table(&report.status));
    body.push(routes_and_certificates(&report.status));
    match records {
        Ok(r) => {
            let rows: Vec<Vec<Html>> = r
                .gather()
                .items
                .iter()
                .filter(|r| r.value.service.as_deref() == Some(name.as_str()))
                .map(|r| {
                    let r = &r.value;
                    let ttl = r.ttl.to_string();
                    [&r.name, &r.zone, &r.rtype, &r.value, &ttl]
                        .map(|s| esc(s))
                        .to_vec()
                })
                .collect();
            body.push(table(
                "dns",
                "DNS records",
                &["Name", "Zone", "Type", "Value", "TTL"],
                &rows,
            ));
        }
        Err(e) => body.push(failure("DNS records", &e.to_string())),
    }
    if let Ok(revisions) = history {
        let rows: Vec<Vec<Html>> = revisions
            .iter()
            .rev()
            .map(|r| {
                let number = format!("{}{}", r.number, if r.current { " (runs)" } else { "" });
                vec![
                    esc(&number),
                    esc(&rfc3339(r.at)),
                    esc(&r.actor),
                    esc(&r.version),
                    state(r.result.as_str()),
                    esc(&r.change),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let headers = ["Revision", "When", "Who", "Version", "Result", "Change"];
            body.push(table("revisions", "Revisions", &headers, &rows));
        }
    }
    let stream = format!("/events/stream?service={name}");
    body.push(events_table("Recent events", &report.events, &stream));
    Page(page(&name, Nav::Service, body).0).into_response()
}

/// The service's node, whether it is kept running, how many components run.
fn summary(r: &StatusReport) -> Html {
    let s = &r.status;
    Html(format!(
        "<dl><dt>Node</dt><dd>{}</dd><dt>Kept running</dt><dd>{}</dd><dt>Running</dt><dd>{}/{}</dd></dl>",
        esc(&s.node).0,
        if s.active { "yes" } else { "no (stopped)" },
        s.running(),
        s.components.len()
    ))
}

fn components_table(s: &ServiceStatus) -> Html {
    let now = SystemTime::now();
    let rows: Vec<Vec<Html>> = s
        .components
        .iter()
        .map(|c| {
            let ports: Vec<String> = c.ports.iter().map(|p| p.port.to_string()).collect();
            let up = c
                .started_at
                .and_then(|t| now.duration_since(t).ok())
                .map_or_else(|| "-".to_owned(), uptime);
            vec![
                esc(&c.name),
                state(c.shown_state()),
                esc(&c.version),
                esc(&c.image),
                esc(&ports.join(", ")),
                esc(&c.restart_count.to_string()),
                esc(&up),
            ]
        })
        .collect();
    let headers = [
        "Component",
        "State",
        "Version",
        "Image",
        "Ports",
        "Restarts",
        "Uptime",
    ];
    table("components", "Components", &headers, &rows)
}

fn routes_and_certificates(s: &ServiceStatus) -> Html {
    let routes: Vec<Vec<Html>> = s
        .routes
        .iter()
        .map(|r| {
            vec![
                esc(&r.hostname),
                esc(r.mode.as_str()),
                esc(&r.listener),
                esc(&r.backend),
            ]
        })
        .collect();
    let mut out = table(
        "routes",
        "Routes",
        &["Hostname", "Mode", "Listener", "Backend"],
        &routes,
    );
    let now = SystemTime::now();
    let certificates: Vec<Vec<Html>> = s
        .certificates
        .iter()
        .map(|c| {
            let days = c
                .not_after
                .duration_since(now)
                .map_or(0, |d| d.as_secs() / 86_400);
            vec![
                esc(&c.hostname),
                esc(&c.issuer),
                esc(&rfc3339(c.not_after)),
                esc(&days.to_string()),
            ]
        })
        .collect();
    let headers = ["Hostname", "Issuer", "Expires", "Days left"];
    out.push(table(
        "certificates",
        "Certificates",
        &headers,
        &certificates,
    ));
    out
}

/// `GET /events`: the newest events of every node, and new ones as they come.
pub(crate) async fn events(State(d): State<Arc<Dashboard>>) -> Response {
    let body = match d.fleet.events(None, None, RECENT).await {
        Ok(all) => {
            let mut body = events_table("Events", &all.items, "/events/stream");
            body.push(unanswered(&all.failures));
            body
        }
        Err(e) => failure("Events", &e.to_string()),
    };
    Page(page("Events", Nav::Events, body).0).into_response()
}

/// `events` newest first, in a table the feed (`stream`) adds to.
fn events_table(caption: &str, events: &[Event], stream: &str) -> Html {
    let mut out = format!(
        "<section aria-labelledby=\"events-h\"><h2 id=\"events-h\">{}</h2>\
         <p class=\"note\" id=\"feed-status\" role=\"status\" aria-live=\"polite\"></p>",
        esc(caption).0
    );
    if events.is_empty() {
        out.push_str("<p class=\"none\" id=\"events-none\">None yet.</p>");
    }
    out.push_str("<table id=\"events\"><thead><tr>");
    for h in ["Time", "Node", "Service", "Actor", "Action", "Detail"] {
        out.push_str(&format!("<th scope=\"col\">{h}</th>"));
    }
    out.push_str(&format!(
        "</tr></thead><tbody data-stream=\"{}\">",
        esc(stream).0
    ));
    for e in events.iter().rev() {
        let service = e.service.as_deref().map_or_else(Html::default, |s| {
            link(&format!("/services/{s}?node={}", e.node), s)
        });
        let detail = match &e.error {
            Some(err) => format!("{} (error: {err})", e.detail),
            None => e.detail.clone(),
        };
        out.push_str(&format!(
            "<tr data-key=\"{}/{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.node).0,
            e.id,
            esc(&rfc3339(e.at)).0,
            esc(&e.node).0,
            service.0,
            esc(&e.actor).0,
            esc(&e.action).0,
            esc(&detail).0,
        ));
    }
    out.push_str("</tbody></table></section>");
    Html(out)
}

/// The nodes that did not answer, if any.
fn unanswered(failures: &[NodeFailure]) -> Html {
    let mut out = Html::default();
    for f in failures {
        out.push(Html(format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(&f.to_string()).0
        )));
    }
    out
}

/// What could not be shown, and why.
fn failure(what: &str, why: &str) -> Html {
    Html(format!(
        "<section><h2>{}</h2><p class=\"error\" role=\"alert\">{}</p></section>",
        esc(what).0,
        esc(why).0
    ))
}
