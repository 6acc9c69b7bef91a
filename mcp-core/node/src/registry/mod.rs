//! The agent's registry: one SQLite file (`/srv/mcp/mcp.db`) holding everything a node
//! must remember, and the only place in MCP that speaks SQL.
//!
//! What it holds: services and their components as deployed (the canonical
//! definition included), port leases, certificates, proxy routes and DNS records the
//! agent owns, the containers it manages, known nodes, and an append-only event log.
//!
//! Guarantees:
//! * WAL journal, `synchronous=FULL`, foreign keys on: a committed change survives a
//!   crash or power loss, and a killed process leaves either all or none of each
//!   transaction.
//! * Every multi-row change runs in one transaction ([`Registry::transaction`]).
//! * Migrations ([`schema`]) are applied at open; a database written by a newer MCP is
//!   refused rather than misread.
//! * The file is created with mode 0600.

mod records;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use records::*;

use mcp_model::ErrorKind;
use mcp_model::spec::{Mode, ServiceDefinition};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = schema::MIGRATIONS.len() as u32;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The database file could not be opened or prepared.
    #[error("cannot open registry {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The database was written by a newer MCP; this one must not touch it.
    #[error(
        "registry {} has schema version {found}, newer than the {supported} this mcp-agent ({}) understands; upgrade the agent instead of downgrading",
        path.display(), mcp_model::VERSION
    )]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// A query failed.
    #[error("registry: {op}: {source}")]
    Sqlite {
        /// What was being done.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The named record does not exist.
    #[error("registry: no {what} named {name:?}")]
    NotFound {
        /// The kind of record.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The change conflicts with a record that exists.
    #[error("registry: {0}")]
    Conflict(String),
    /// A stored value cannot be read back (a bug or a hand-edited database).
    #[error("registry: corrupt {what}: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl RegistryError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Open { .. } => ErrorKind::Io,
            RegistryError::SchemaTooNew { .. } => ErrorKind::FailedPrecondition,
            RegistryError::Sqlite { .. } | RegistryError::Corrupt { .. } => ErrorKind::Internal,
            RegistryError::NotFound { .. } => ErrorKind::NotFound,
            RegistryError::Conflict(_) => ErrorKind::Conflict,
        }
    }
}

type Result<T, E = RegistryError> = std::result::Result<T, E>;

fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> RegistryError {
    move |source| RegistryError::Sqlite { op, source }
}

/// The registry: a handle on one database file, safe to share between threads.
#[derive(Debug)]
pub struct Registry {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Registry {
    /// Opens (creating if needed, mode 0600) the registry at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |source: Box<dyn std::error::Error + Send + Sync>| RegistryError::Open {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .or_else(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => std::fs::File::open(path),
                    _ => Err(e),
                })
                .map_err(|e| open_err(e.into()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_err(e.into()))?;
        Self::prepare(conn, path.to_owned())
    }

    /// An in-memory registry, for tests and offline planning.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(|e| RegistryError::Open {
            path: PathBuf::from(":memory:"),
            source: e.into(),
        })?;
        Self::prepare(conn, PathBuf::from(":memory:"))
    }

    fn prepare(mut conn: Connection, path: PathBuf) -> Result<Self> {
        let open_err = |e: rusqlite::Error| RegistryError::Open {
            path: path.clone(),
            source: e.into(),
        };
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        // journal_mode answers with a row; the others are silent.
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        let found: u32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(RegistryError::SchemaTooNew {
                path,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, migration) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)
                .map_err(open_err)?;
            tx.execute_batch(migration).map_err(open_err)?;
            tx.pragma_update(
                None,
                "user_version",
                u32::try_from(i + 1).unwrap_or(u32::MAX),
            )
            .map_err(open_err)?;
            tx.commit().map_err(open_err)?;
        }
        Ok(Registry {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The database file (`:memory:` for an in-memory registry).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        self.read(|tx| {
            tx.tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(sql("read schema version"))
        })
    }

    /// Runs `f` in one write transaction: every change `f` makes is committed together,
    /// or none is (when `f` returns an error, or the process dies first).
    pub fn transaction<T, E: From<RegistryError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql("begin transaction"))?;
        let tx = Tx { tx };
        let out = f(&tx)?;
        tx.tx.commit().map_err(sql("commit"))?;
        Ok(out)
    }

    /// Runs `f` on a consistent snapshot for reading.
    pub fn read<T, E: From<RegistryError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(sql("begin read"))?;
        f(&Tx { tx })
    }

    /// Every service, by name.
    pub fn services(&self) -> Result<Vec<ServiceRecord>> {
        self.read(|t| t.services())
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        self.read(|t| t.service(name))
    }

    /// Every port lease, by port.
    pub fn leases(&self) -> Result<Vec<PortLease>> {
        self.read(|t| t.leases())
    }

    /// Events matching `query`, oldest first.
    pub fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        self.read(|t| t.events(query))
    }

    /// Appends one event.
    pub fn append_event(&self, event: &NewEvent) -> Result<i64> {
        self.transaction(|t| t.append_event(event))
    }
}

/// An open transaction: every read and write of the registry goes through one.
#[derive(Debug)]
pub struct Tx<'c> {
    tx: rusqlite::Transaction<'c>,
}

/// Now, at the precision the registry stores times (milliseconds), so a record made
/// now equals itself read back.
pub(crate) fn now() -> SystemTime {
    from_millis(millis(SystemTime::now()))
}

pub(crate) fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn from_millis(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

impl Tx<'_> {
    /// Runs a query and maps every row with `f`.
    fn rows<T, P: rusqlite::Params>(
        &self,
        op: &'static str,
        query: &str,
        params: P,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let mut stmt = self.tx.prepare_cached(query).map_err(sql(op))?;
        stmt.query_map(params, f)
            .map_err(sql(op))?
            .collect::<Result<_, _>>()
            .map_err(sql(op))
    }

    // ---- services and components -------------------------------------------------

    /// Inserts or replaces a service and its components. Components of the service that
    /// are not in `record` are removed (with their container rows).
    pub fn put_service(&self, record: &ServiceRecord) -> Result<()> {
        let def = &record.definition;
        self.tx
            .execute(
                "INSERT INTO services (name, node, active, definition, definition_hash, deployed_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(name) DO UPDATE SET node = ?2, active = ?3, definition = ?4,
                     definition_hash = ?5, deployed_at = ?6, updated_at = ?7",
                params![
                    def.name,
                    def.node,
                    record.active,
                    def.to_toml(),
                    def.definition_hash(),
                    millis(record.deployed_at),
                    millis(record.updated_at),
                ],
            )
            .map_err(sql("write service"))?;
        let keep: Vec<&str> = record.components.iter().map(|c| c.name.as_str()).collect();
        let existing = self.component_names(&def.name)?;
        for name in existing.iter().filter(|n| !keep.contains(&n.as_str())) {
            self.tx
                .execute(
                    "DELETE FROM components WHERE service = ?1 AND name = ?2",
                    params![def.name, name],
                )
                .map_err(sql("remove component"))?;
        }
        for c in &record.components {
            self.tx
                .execute(
                    "INSERT INTO components (service, name, container_name, image, version, desired_state,
                         spec_hash, flapping_since)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT(service, name) DO UPDATE SET container_name = ?3, image = ?4,
                         version = ?5, desired_state = ?6, spec_hash = ?7, flapping_since = ?8",
                    params![
                        def.name,
                        c.name,
                        c.container_name,
                        c.image,
                        c.version,
                        c.desired.as_str(),
                        c.spec_hash,
                        c.flapping_since.map(millis),
                    ],
                )
                .map_err(|e| {
                    if is_constraint(&e) {
                        RegistryError::Conflict(format!(
                            "container name {:?} is already used by another service",
                            c.container_name
                        ))
                    } else {
                        sql("write component")(e)
                    }
                })?;
        }
        Ok(())
    }

    fn component_names(&self, service: &str) -> Result<Vec<String>> {
        self.rows(
            "read components",
            "SELECT name FROM components WHERE service = ?1 ORDER BY rowid",
            [service],
            |r| r.get(0),
        )
    }

    /// The service named `name`, with its components.
    pub fn service(&self, name: &str) -> Result<Option<ServiceRecord>> {
        let row = self
            .tx
            .prepare_cached(
                "SELECT active, definition, deployed_at, updated_at FROM services WHERE name = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([name], |r| {
                    Ok((
                        r.get::<_, bool>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()
            })
            .map_err(sql("read service"))?;
        let Some((active, text, deployed, updated)) = row else {
            return Ok(None);
        };
        let definition =
            ServiceDefinition::parse(&text, None).map_err(|e| RegistryError::Corrupt {
                what: "service definition",
                detail: format!("{name}: {e}"),
            })?;
        let components = self
            .rows(
                "read components",
                "SELECT name, container_name, image, version, desired_state, spec_hash, flapping_since
                 FROM components WHERE service = ?1 ORDER BY rowid",
                [name],
                |r| {
                    Ok((
                        (
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                        ),
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                    ))
                },
            )?
            .into_iter()
            .map(|((name, container_name, image, version), state, spec_hash, flapping)| {
                Ok(ComponentRecord {
                    desired: word(&state, "desired state")?,
                    name,
                    container_name,
                    image,
                    version,
                    spec_hash,
                    flapping_since: flapping.map(from_millis),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(ServiceRecord {
            definition,
            active,
            components,
            deployed_at: from_millis(deployed),
            updated_at: from_millis(updated),
        }))
    }

    /// Every service, by name.
    pub fn services(&self) -> Result<Vec<ServiceRecord>> {
        let names: Vec<String> = self.rows(
            "list services",
            "SELECT name FROM services ORDER BY name",
            [],
            |r| r.get(0),
        )?;
        names
            .iter()
            .filter_map(|n| self.service(n).transpose())
            .collect()
    }

    /// Sets whether the service is kept running (`stop` clears it, `start` sets it).
    pub fn set_service_active(&self, name: &str, active: bool, at: SystemTime) -> Result<()> {
        let n = self
            .tx
            .execute(
                "UPDATE services SET active = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, active, millis(at)],
            )
            .map_err(sql("update service"))?;
        if n == 0 {
            return Err(RegistryError::NotFound {
                what: "service",
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Sets the desired state of one component.
    pub fn set_component_state(
        &self,
        service: &str,
        component: &str,
        desired: DesiredState,
    ) -> Result<()> {
        let n = self
            .tx
            .execute(
                "UPDATE components SET desired_state = ?3 WHERE service = ?1 AND name = ?2",
                params![service, component, desired.as_str()],
            )
            .map_err(sql("update component"))?;
        if n == 0 {
            return Err(RegistryError::NotFound {
                what: "component",
                name: format!("{service}/{component}"),
            });
        }
        Ok(())
    }

    /// Marks a component as flapping since `since`, or clears the mark (`None`).
    pub fn set_component_flapping(
        &self,
        service: &str,
        component: &str,
        since: Option<SystemTime>,
    ) -> Result<()> {
        let n = self
            .tx
            .execute(
                "UPDATE components SET flapping_since = ?3 WHERE service = ?1 AND name = ?2",
                params![service, component, since.map(millis)],
            )
            .map_err(sql("update component"))?;
        if n == 0 {
            return Err(RegistryError::NotFound {
                what: "component",
                name: format!("{service}/{component}"),
            });
        }
        Ok(())
    }

    /// Removes a service: its row, components, container rows and port leases.
    /// Returns whether it existed. Certificates, proxy routes and DNS records are
    /// removed by whoever removes the real thing, with their own calls.
    pub fn remove_service(&self, name: &str) -> Result<bool> {
        self.release_service_leases(name)?;
        let n = self
            .tx
            .execute("DELETE FROM services WHERE name = ?1", [name])
            .map_err(sql("remove service"))?;
        Ok(n > 0)
    }

    // ---- port leases -------------------------------------------------------------

    /// Records a lease. Fails with [`RegistryError::Conflict`] when the port is leased
    /// or the route already holds another port.
    pub fn insert_lease(&self, lease: &PortLease) -> Result<()> {
        self.tx
            .execute(
                "INSERT INTO port_leases (port, service, component, route, leased_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    lease.port,
                    lease.service,
                    lease.component,
                    lease.route.as_deref().unwrap_or(""),
                    millis(lease.leased_at)
                ],
            )
            .map_err(|e| {
                if is_constraint(&e) {
                    RegistryError::Conflict(format!(
                        "port {} or route {}/{}/{} is already leased",
                        lease.port,
                        lease.service,
                        lease.component,
                        lease.route.as_deref().unwrap_or("-")
                    ))
                } else {
                    sql("write lease")(e)
                }
            })?;
        Ok(())
    }

    /// Every lease, by port.
    pub fn leases(&self) -> Result<Vec<PortLease>> {
        self.query_leases(
            "SELECT port, service, component, route, leased_at FROM port_leases ORDER BY port",
            [],
        )
    }

    /// The leases of one service, by port.
    pub fn service_leases(&self, service: &str) -> Result<Vec<PortLease>> {
        self.query_leases(
            "SELECT port, service, component, route, leased_at FROM port_leases WHERE service = ?1 ORDER BY port",
            [service],
        )
    }

    fn query_leases<P: rusqlite::Params>(&self, q: &str, p: P) -> Result<Vec<PortLease>> {
        self.rows("read leases", q, p, |r| {
            let route: String = r.get(3)?;
            Ok(PortLease {
                port: r.get(0)?,
                service: r.get(1)?,
                component: r.get(2)?,
                route: (!route.is_empty()).then_some(route),
                leased_at: from_millis(r.get(4)?),
            })
        })
    }

    /// Releases one port. Returns whether it was leased.
    pub fn release_port(&self, port: u16) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM port_leases WHERE port = ?1", [port])
            .map_err(sql("release lease"))?;
        Ok(n > 0)
    }

    /// Releases every port of a service. Returns the ports released.
    pub fn release_service_leases(&self, service: &str) -> Result<Vec<u16>> {
        let ports = self
            .service_leases(service)?
            .into_iter()
            .map(|l| l.port)
            .collect();
        self.tx
            .execute("DELETE FROM port_leases WHERE service = ?1", [service])
            .map_err(sql("release leases"))?;
        Ok(ports)
    }

    // ---- certificates, proxy routes, DNS records -------------------------------------

    /// Inserts or replaces the certificate for its hostname.
    pub fn put_certificate(&self, c: &CertificateRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO certificates (hostname, service, cert_path, key_path, serial, not_after, issuer)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![c.hostname, c.service, c.cert_path, c.key_path, c.serial, millis(c.not_after), c.issuer],
            )
            .map_err(sql("write certificate"))?;
        Ok(())
    }

    /// Every certificate, by hostname.
    pub fn certificates(&self) -> Result<Vec<CertificateRecord>> {
        self.rows(
            "read certificates",
            "SELECT hostname, service, cert_path, key_path, serial, not_after, issuer
             FROM certificates ORDER BY hostname",
            [],
            |r| {
                Ok(CertificateRecord {
                    hostname: r.get(0)?,
                    service: r.get(1)?,
                    cert_path: r.get(2)?,
                    key_path: r.get(3)?,
                    serial: r.get(4)?,
                    not_after: from_millis(r.get(5)?),
                    issuer: r.get(6)?,
                })
            },
        )
    }

    /// Forgets the certificate of `hostname`. Returns whether it was recorded.
    pub fn remove_certificate(&self, hostname: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM certificates WHERE hostname = ?1", [hostname])
            .map_err(sql("remove certificate"))?;
        Ok(n > 0)
    }

    /// Inserts or replaces the route for its listener and hostname.
    pub fn put_proxy_route(&self, r: &ProxyRouteRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO proxy_routes
                 (listener, hostname, backend, mode, tls_cert, tls_key, backend_tls, proxy_protocol, service)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.listener, r.hostname, r.backend, r.mode.as_str(), r.tls_cert, r.tls_key,
                    r.backend_tls, r.proxy_protocol, r.service
                ],
            )
            .map_err(sql("write proxy route"))?;
        Ok(())
    }

    /// Every proxy route, by listener and hostname.
    pub fn proxy_routes(&self) -> Result<Vec<ProxyRouteRecord>> {
        let rows = self.rows(
            "read proxy routes",
            "SELECT listener, hostname, backend, mode, tls_cert, tls_key, backend_tls, proxy_protocol, service
             FROM proxy_routes ORDER BY listener, hostname",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(3)?,
                    ProxyRouteRecord {
                        listener: r.get(0)?,
                        hostname: r.get(1)?,
                        backend: r.get(2)?,
                        mode: Mode::L4,
                        tls_cert: r.get(4)?,
                        tls_key: r.get(5)?,
                        backend_tls: r.get(6)?,
                        proxy_protocol: r.get(7)?,
                        service: r.get(8)?,
                    },
                ))
            },
        )?;
        rows.into_iter()
            .map(|(mode, mut route)| {
                route.mode = match mode.as_str() {
                    "l7" => Mode::L7,
                    "l4" => Mode::L4,
                    other => {
                        return Err(RegistryError::Corrupt {
                            what: "proxy route mode",
                            detail: other.to_owned(),
                        });
                    }
                };
                Ok(route)
            })
            .collect()
    }

    /// Forgets a proxy route. Returns whether it was recorded.
    pub fn remove_proxy_route(&self, listener: &str, hostname: &str) -> Result<bool> {
        let n = self
            .tx
            .execute(
                "DELETE FROM proxy_routes WHERE listener = ?1 AND hostname = ?2",
                [listener, hostname],
            )
            .map_err(sql("remove proxy route"))?;
        Ok(n > 0)
    }

    /// Inserts or replaces the edge route of its hostname.
    pub fn put_edge_route(&self, r: &EdgeRouteRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO edge_routes
                 (hostname, service, node, backend_hostname, backend, listener, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    r.hostname,
                    r.service,
                    r.node,
                    r.backend_hostname,
                    r.backend,
                    r.listener,
                    millis(r.updated_at)
                ],
            )
            .map_err(sql("write edge route"))?;
        Ok(())
    }

    /// Every edge route, by hostname.
    pub fn edge_routes(&self) -> Result<Vec<EdgeRouteRecord>> {
        self.rows(
            "read edge routes",
            "SELECT hostname, service, node, backend_hostname, backend, listener, updated_at
             FROM edge_routes ORDER BY hostname",
            [],
            |r| {
                Ok(EdgeRouteRecord {
                    hostname: r.get(0)?,
                    service: r.get(1)?,
                    node: r.get(2)?,
                    backend_hostname: r.get(3)?,
                    backend: r.get(4)?,
                    listener: r.get(5)?,
                    updated_at: from_millis(r.get(6)?),
                })
            },
        )
    }

    /// Forgets the edge route of `hostname`. Returns whether it was recorded.
    pub fn remove_edge_route(&self, hostname: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM edge_routes WHERE hostname = ?1", [hostname])
            .map_err(sql("remove edge route"))?;
        Ok(n > 0)
    }

    /// Opens a journal entry for `operation` of `service`; returns its id.
    pub fn open_journal(&self, service: &str, operation: &str, at: SystemTime) -> Result<i64> {
        self.tx
            .execute(
                "INSERT INTO journal (service, operation, started_at, undo) VALUES (?1, ?2, ?3, '[]')",
                params![service, operation, millis(at)],
            )
            .map_err(sql("open journal"))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Replaces the undo steps of journal entry `id`.
    pub fn set_journal(&self, id: i64, undo: &str) -> Result<()> {
        self.tx
            .execute(
                "UPDATE journal SET undo = ?2 WHERE id = ?1",
                params![id, undo],
            )
            .map_err(sql("write journal"))?;
        Ok(())
    }

    /// Closes journal entry `id` (the operation committed, or was undone).
    pub fn close_journal(&self, id: i64) -> Result<()> {
        self.tx
            .execute("DELETE FROM journal WHERE id = ?1", [id])
            .map_err(sql("close journal"))?;
        Ok(())
    }

    /// The open journal entries, oldest first.
    pub fn journal(&self) -> Result<Vec<JournalEntry>> {
        self.rows(
            "read journal",
            "SELECT id, service, operation, started_at, undo FROM journal ORDER BY id",
            [],
            |r| {
                Ok(JournalEntry {
                    id: r.get(0)?,
                    service: r.get(1)?,
                    operation: r.get(2)?,
                    started_at: from_millis(r.get(3)?),
                    undo: r.get(4)?,
                })
            },
        )
    }

    /// Inserts or replaces a DNS record the agent owns.
    pub fn put_dns_record(&self, d: &DnsRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO dns_records (zone, name, type, value, ttl, service)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![d.zone, d.name, d.rtype, d.value, d.ttl, d.service],
            )
            .map_err(sql("write DNS record"))?;
        Ok(())
    }

    /// Every DNS record the agent owns, by zone, name and type.
    pub fn dns_records(&self) -> Result<Vec<DnsRecord>> {
        self.rows(
            "read DNS records",
            "SELECT zone, name, type, value, ttl, service FROM dns_records ORDER BY zone, name, type, value",
            [],
            |r| {
                Ok(DnsRecord {
                    zone: r.get(0)?,
                    name: r.get(1)?,
                    rtype: r.get(2)?,
                    value: r.get(3)?,
                    ttl: r.get(4)?,
                    service: r.get(5)?,
                })
            },
        )
    }

    /// Forgets a DNS record. Returns whether it was recorded.
    pub fn remove_dns_record(&self, d: &DnsRecord) -> Result<bool> {
        let n = self
            .tx
            .execute(
                "DELETE FROM dns_records WHERE zone = ?1 AND name = ?2 AND type = ?3 AND value = ?4",
                params![d.zone, d.name, d.rtype, d.value],
            )
            .map_err(sql("remove DNS record"))?;
        Ok(n > 0)
    }

    // ---- containers and nodes ----------------------------------------------------------

    /// Inserts or replaces a managed container. Its component must be recorded.
    pub fn put_container(&self, c: &ContainerRecord) -> Result<()> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO containers (name, service, component, container_id, image, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![c.name, c.service, c.component, c.container_id, c.image, millis(c.created_at)],
            )
            .map_err(|e| {
                if is_constraint(&e) {
                    RegistryError::NotFound {
                        what: "component",
                        name: format!("{}/{}", c.service, c.component),
                    }
                } else {
                    sql("write container")(e)
                }
            })?;
        Ok(())
    }

    /// Every managed container, by name.
    pub fn containers(&self) -> Result<Vec<ContainerRecord>> {
        self.rows(
            "read containers",
            "SELECT name, service, component, container_id, image, created_at FROM containers ORDER BY name",
            [],
            |r| {
                Ok(ContainerRecord {
                    name: r.get(0)?,
                    service: r.get(1)?,
                    component: r.get(2)?,
                    container_id: r.get(3)?,
                    image: r.get(4)?,
                    created_at: from_millis(r.get(5)?),
                })
            },
        )
    }

    /// Forgets a container. Returns whether it was recorded.
    pub fn remove_container(&self, name: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM containers WHERE name = ?1", [name])
            .map_err(sql("remove container"))?;
        Ok(n > 0)
    }

    /// Inserts or replaces a node.
    pub fn put_node(&self, n: &NodeRecord) -> Result<()> {
        let addresses =
            serde_json::to_string(&n.addresses).map_err(|e| RegistryError::Corrupt {
                what: "node addresses",
                detail: e.to_string(),
            })?;
        self.tx
            .execute(
                "INSERT OR REPLACE INTO nodes (name, role, addresses, ssh, arch, agent_version, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    n.name,
                    n.role.as_str(),
                    addresses,
                    n.ssh,
                    n.arch,
                    n.agent_version,
                    n.last_seen.map(millis)
                ],
            )
            .map_err(sql("write node"))?;
        Ok(())
    }

    /// Every node, by name.
    pub fn nodes(&self) -> Result<Vec<NodeRecord>> {
        let rows = self.rows(
            "read nodes",
            "SELECT name, role, addresses, ssh, arch, agent_version, last_seen FROM nodes ORDER BY name",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(
                |(name, role, addresses, ssh, arch, agent_version, last_seen)| {
                    Ok(NodeRecord {
                        role: word(&role, "node role")?,
                        addresses: serde_json::from_str(&addresses).map_err(|e| {
                            RegistryError::Corrupt {
                                what: "node addresses",
                                detail: format!("{name}: {e}"),
                            }
                        })?,
                        name,
                        ssh,
                        arch,
                        agent_version,
                        last_seen: last_seen.map(from_millis),
                    })
                },
            )
            .collect()
    }

    /// Forgets a node. Returns whether it was recorded.
    pub fn remove_node(&self, name: &str) -> Result<bool> {
        let n = self
            .tx
            .execute("DELETE FROM nodes WHERE name = ?1", [name])
            .map_err(sql("remove node"))?;
        Ok(n > 0)
    }

    // ---- events ------------------------------------------------------------------------

    /// Appends an event, stamped now. Returns its id (ids only grow).
    pub fn append_event(&self, e: &NewEvent) -> Result<i64> {
        self.tx
            .execute(
                "INSERT INTO events (at, actor, action, service, detail, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![millis(SystemTime::now()), e.actor, e.action, e.service, e.detail, e.error],
            )
            .map_err(sql("append event"))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Events matching `q`, oldest first.
    pub fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let limit = q.limit.map_or(-1, i64::from);
        let last = q.last.map_or(-1, i64::from);
        self.rows(
            "read events",
            "SELECT id, at, actor, action, service, detail, error FROM (
                 SELECT * FROM events
                 WHERE (?1 IS NULL OR service = ?1) AND id > ?2
                 ORDER BY id DESC LIMIT ?4
             ) ORDER BY id LIMIT ?3",
            params![q.service, q.after_id.unwrap_or(0), limit, last],
            |r| {
                Ok(Event {
                    id: r.get(0)?,
                    node: String::new(),
                    at: from_millis(r.get(1)?),
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    service: r.get(4)?,
                    detail: r.get(5)?,
                    error: r.get(6)?,
                })
            },
        )
    }
}

/// A stored word of a closed vocabulary; anything else is a corrupt registry.
fn word<T: std::str::FromStr>(s: &str, what: &'static str) -> Result<T, RegistryError> {
    s.parse().map_err(|_| RegistryError::Corrupt {
        what,
        detail: s.to_owned(),
    })
}

#[cfg(test)]
mod tests;
