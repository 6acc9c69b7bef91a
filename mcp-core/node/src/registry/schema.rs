//! The registry's schema, as numbered upgrades. Upgrade `n` (1-based) moves a
//! database from `PRAGMA user_version = n - 1` to `n`. Upgrades are append-only:
//! never edit one that has shipped, add a new one.

/// Every upgrade, in order. The schema version is the number applied.
pub(super) const UPGRADES: &[&str] = &[V1, V2, V3, V4, V5, V6];

const V1: &str = r#"
CREATE TABLE services (
    name            TEXT PRIMARY KEY,
    node            TEXT NOT NULL,
    active          INTEGER NOT NULL CHECK (active IN (0, 1)),
    definition      TEXT NOT NULL,          -- canonical TOML of the definition as deployed
    definition_hash TEXT NOT NULL,
    deployed_at     INTEGER NOT NULL,       -- unix milliseconds
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE components (
    service        TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    container_name TEXT NOT NULL UNIQUE,
    image          TEXT NOT NULL,
    version        TEXT NOT NULL,
    desired_state  TEXT NOT NULL CHECK (desired_state IN ('running', 'stopped')),
    PRIMARY KEY (service, name)
) STRICT;

-- A host port is leased to one route of one component. The primary key is what makes
-- "a port is never handed out twice" hold even across processes.
CREATE TABLE port_leases (
    port      INTEGER PRIMARY KEY CHECK (port BETWEEN 1 AND 65535),
    service   TEXT NOT NULL,
    component TEXT NOT NULL,
    route     TEXT NOT NULL,                -- '' for an unnamed route
    leased_at INTEGER NOT NULL,
    UNIQUE (service, component, route)
) STRICT;

CREATE TABLE certificates (
    hostname  TEXT PRIMARY KEY,
    service   TEXT,
    cert_path TEXT NOT NULL,
    key_path  TEXT NOT NULL,
    serial    TEXT NOT NULL,
    not_after INTEGER NOT NULL,
    issuer    TEXT NOT NULL
) STRICT;

CREATE TABLE proxy_routes (
    listener       TEXT NOT NULL,
    hostname       TEXT NOT NULL,
    backend        TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('l4', 'l7')),
    tls_cert       TEXT,
    tls_key        TEXT,
    backend_tls    INTEGER NOT NULL CHECK (backend_tls IN (0, 1)),
    proxy_protocol INTEGER NOT NULL CHECK (proxy_protocol IN (0, 1)),
    service        TEXT,                    -- NULL for routes added by hand
    PRIMARY KEY (listener, hostname)
) STRICT;

CREATE TABLE dns_records (
    zone    TEXT NOT NULL,
    name    TEXT NOT NULL,
    type    TEXT NOT NULL,
    value   TEXT NOT NULL,
    ttl     INTEGER NOT NULL,
    service TEXT,
    PRIMARY KEY (zone, name, type, value)
) STRICT;

CREATE TABLE containers (
    name         TEXT PRIMARY KEY,
    service      TEXT NOT NULL,
    component    TEXT NOT NULL,
    container_id TEXT NOT NULL,
    image        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    FOREIGN KEY (service, component) REFERENCES components(service, name) ON DELETE CASCADE
) STRICT;

CREATE TABLE nodes (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('compute', 'edge')),
    addresses     TEXT NOT NULL,            -- JSON array, tried in order
    ssh           TEXT,
    arch          TEXT NOT NULL,
    agent_version TEXT,
    last_seen     INTEGER
) STRICT;

CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    service TEXT,
    detail  TEXT NOT NULL,
    error   TEXT                            -- NULL when the action succeeded
) STRICT;
CREATE INDEX events_by_service ON events(service, id);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"#;

/// Per-component drift detection: the hash the container is labelled with, and the
/// flapping mark the monitor sets (cleared when an operator acts).
const V2: &str = r#"
ALTER TABLE components ADD COLUMN spec_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE components ADD COLUMN flapping_since INTEGER;
"#;

/// The journal of lifecycle operations in progress: what to undo if the agent dies
/// before the operation commits (the row goes in the commit's transaction).
const V3: &str = r#"
CREATE TABLE journal (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service    TEXT NOT NULL,
    operation  TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    undo       TEXT NOT NULL
) STRICT;
"#;

/// Edge routes (edge nodes): a public hostname routed to a service on a compute
/// node. The proxy route itself is in `proxy_routes`, owned by the service.
const V4: &str = r#"
CREATE TABLE edge_routes (
    hostname         TEXT PRIMARY KEY,
    service          TEXT NOT NULL,
    node             TEXT NOT NULL,
    backend_hostname TEXT NOT NULL,
    backend          TEXT NOT NULL,
    listener         TEXT NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;
"#;

/// Settings of this node kept with its state: the agent's instance id
/// (`instance`), which labels its containers. Event retention: the log stays
/// append-only, and may lose rows only from its oldest end.
const V5: &str = r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

DROP TRIGGER events_no_delete;
CREATE TRIGGER events_oldest_first BEFORE DELETE ON events
WHEN old.id > (SELECT min(id) FROM events)
BEGIN SELECT RAISE(ABORT, 'events are append-only: only the oldest may be dropped'); END;
CREATE INDEX events_at ON events(at);
"#;

/// Revisions: every deploy that changed a service, with what it ran (each image
/// by digest) and how it ended, and which one runs (`services.revision`). Kept
/// after an undeploy; cut to `[revisions] keep` per service when one is added.
const V6: &str = r#"
CREATE TABLE revisions (
    service         TEXT NOT NULL,
    number          INTEGER NOT NULL CHECK (number > 0),
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    version         TEXT NOT NULL,
    definition      TEXT NOT NULL,          -- canonical TOML
    definition_hash TEXT NOT NULL,
    images          TEXT NOT NULL,          -- JSON [{component, image, digest}]
    result          TEXT NOT NULL CHECK (result IN ('deployed', 'failed', 'rolled-back')),
    step            TEXT,                   -- where a failed one failed
    error           TEXT,
    rollback_of     INTEGER,                -- the revision a rollback brought back
    PRIMARY KEY (service, number)
) STRICT;

ALTER TABLE services ADD COLUMN revision INTEGER;
"#;
