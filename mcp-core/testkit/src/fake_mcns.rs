//! An in-process stand-in for MCNS's REST API (see `mcp_core::node::dns::Mcns`): zones
//! and records in memory, `GET/POST /v1/zones/{zone}/records`,
//! `DELETE /v1/zones/{zone}/records/{id}`, a bearer token required, every mutation
//! recorded. Serves any zone.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use crate::https_fake::{HttpsFake, Request};

/// One record as MCNS holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its id.
    pub id: u64,
    /// Name within the zone.
    pub name: String,
    /// `A`, `AAAA`, …
    pub rtype: String,
    /// The address.
    pub value: String,
    /// TTL.
    pub ttl: u64,
}

#[derive(Debug, Default)]
struct State {
    zones: BTreeMap<String, Vec<Record>>,
    next_id: u64,
    calls: Vec<String>,
    down: bool,
}

/// A running fake MCNS. Stops when dropped.
#[derive(Debug)]
pub struct FakeMcns {
    /// Its base URL.
    pub url: String,
    /// PEM of its CA.
    pub ca_pem: String,
    /// The token it accepts.
    pub token: String,
    state: Arc<Mutex<State>>,
    _server: HttpsFake,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn handle(state: &Mutex<State>, token: &str, r: &Request) -> (u16, serde_json::Value) {
    let mut s = lock(state);
    if s.down {
        return (503, serde_json::json!({"error": "maintenance"}));
    }
    if r.bearer.as_deref() != Some(token) {
        return (401, serde_json::json!({"error": "unauthorized"}));
    }
    let parts: Vec<&str> = r.path.trim_start_matches('/').split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("GET", ["v1", "zones", zone, "records"]) => {
            let records: Vec<serde_json::Value> = s
                .zones
                .get(*zone)
                .into_iter()
                .flatten()
                .map(|r| serde_json::json!({"id": r.id, "name": r.name, "type": r.rtype, "value": r.value, "ttl": r.ttl}))
                .collect();
            (200, serde_json::json!({"records": records}))
        }
        ("POST", ["v1", "zones", zone, "records"]) => {
            let field = |k: &str| {
                r.body
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let (name, rtype, value) = (field("name"), field("type"), field("value"));
            if name.is_empty() || value.is_empty() {
                return (
                    400,
                    serde_json::json!({"error": "name and value are required"}),
                );
            }
            let zone = (*zone).to_owned();
            if s.zones.get(&zone).is_some_and(|z| {
                z.iter()
                    .any(|x| x.name == name && x.rtype == rtype && x.value == value)
            }) {
                return (409, serde_json::json!({"error": "exists"}));
            }
            s.next_id += 1;
            let record = Record {
                id: s.next_id,
                name,
                rtype,
                value,
                ttl: r
                    .body
                    .get("ttl")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(300),
            };
            s.calls.push(format!(
                "add {zone} {} {} {}",
                record.name, record.rtype, record.value
            ));
            s.zones.entry(zone).or_default().push(record.clone());
            (201, serde_json::json!({"id": record.id}))
        }
        ("DELETE", ["v1", "zones", zone, "records", id]) => {
            let zone = (*zone).to_owned();
            let Some(records) = s.zones.get_mut(&zone) else {
                return (404, serde_json::json!({"error": "no such zone"}));
            };
            let before = records.len();
            records.retain(|x| x.id.to_string() != *id);
            if records.len() == before {
                return (404, serde_json::json!({"error": "no such record"}));
            }
            s.calls.push(format!("delete {zone} {id}"));
            (204, serde_json::Value::Null)
        }
        _ => (404, serde_json::json!({"error": "not found"})),
    }
}

impl FakeMcns {
    /// Starts a fake MCNS accepting `token`.
    pub fn start(token: &str) -> io::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let (st, tok) = (state.clone(), token.to_owned());
        let server = HttpsFake::start("MCNS", Arc::new(move |r: &Request| handle(&st, &tok, r)))?;
        Ok(FakeMcns {
            url: server.url.clone(),
            ca_pem: server.ca_pem.clone(),
            token: token.to_owned(),
            state,
            _server: server,
        })
    }

    /// The records of `zone`.
    pub fn records(&self, zone: &str) -> Vec<Record> {
        lock(&self.state)
            .zones
            .get(zone)
            .cloned()
            .unwrap_or_default()
    }

    /// The mutations so far.
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    /// Makes every request fail with 503 (`true`) or succeed again.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }
}
