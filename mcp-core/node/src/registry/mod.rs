//! The agent's registry: one SQLite file (`/srv/mcp/mcp.db`) holding everything a node
//! must remember, and the only place in MCP that speaks SQL.
//!
//! What it holds: services and their components as deployed (the canonical
//! definition included), port leases, certificates, proxy routes and DNS records the
//! agent owns, the containers it manages, known nodes, an append-only event log,
//! and every service's revisions.
//!
//! Guarantees:
//! * WAL journal, `synchronous=FULL`, foreign keys on: a committed change survives a
//!   crash or power loss, and a killed process leaves either all or none of each
//!   transaction.
//! * Every multi-row change runs in one transaction ([`Registry::transaction`]).
//! * Schema upgrades (`schema.rs`) are applied at open; a database written by a newer MCP is
//!   refused rather than misread.
//! * The file is created with mode 0600.

mod events;
mod integrations;
mod inventory;
mod journal;
mod leases;
mod records;
mod revisions;
mod schema;
mod services;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use records::*;
pub use revisions::NewRevision;

use mcp_model::ErrorKind;
use mcp_model::spec::{Mode, ServiceDefinition};

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = schema::UPGRADES.len() as u32;

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
    retention: Mutex<mcp_model::config::EventsSection>,
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
        for (i, upgrade) in schema::UPGRADES.iter().enumerate().skip(found as usize) {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)
                .map_err(open_err)?;
            tx.execute_batch(upgrade).map_err(open_err)?;
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
            retention: Mutex::new(Default::default()),
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

    /// The id this agent labels its containers with (`mcp.instance`), stored the
    /// first time it is asked for and kept: `fresh` for a new registry, so two
    /// agents with the same node name on one host never take each other's
    /// containers for orphans; `legacy` (the node name, which containers carried
    /// before the id existed) for a registry that already records services.
    pub fn instance_id(&self, fresh: &str, legacy: &str) -> Result<String> {
        self.transaction(|tx| {
            let found: Option<String> = tx
                .tx
                .query_row(
                    "SELECT value FROM settings WHERE key = 'instance'",
                    [],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql("read instance id"))?;
            if let Some(id) = found {
                return Ok(id);
            }
            let used: bool = tx
                .tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM services) OR EXISTS (SELECT 1 FROM journal)",
                    [],
                    |r| r.get(0),
                )
                .map_err(sql("read services"))?;
            let id = if used { legacy } else { fresh };
            tx.tx
                .execute(
                    "INSERT INTO settings (key, value) VALUES ('instance', ?1)",
                    [id],
                )
                .map_err(sql("store instance id"))?;
            Ok(id.to_owned())
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

    /// Appends one event and, in the same transaction, drops what the retention
    /// ([`Registry::set_event_retention`]) no longer keeps.
    pub fn append_event(&self, event: &NewEvent) -> Result<i64> {
        let keep = *self.retention.lock().unwrap_or_else(|p| p.into_inner());
        self.transaction(|t| {
            let id = t.append_event(event)?;
            t.prune_events(&keep)?;
            Ok(id)
        })
    }

    /// How long events are kept (`[events]`; its defaults until set).
    pub fn set_event_retention(&self, keep: mcp_model::config::EventsSection) {
        *self.retention.lock().unwrap_or_else(|p| p.into_inner()) = keep;
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
    /// Runs a query and maps every row with `f`. The statement is cached, so it
    /// must not depend on a bound value for its plan: SQLite (3.54) marks a
    /// statement expired on every bind of a parameter compared with `=` in a
    /// query with `ORDER BY`, or used as a `LIMIT`, and prepares it again on
    /// the next step. Such parameters are written `CAST(?1 AS TEXT)` or
    /// `CAST(?3 AS INTEGER)`, which plans the same (the index is still used)
    /// and is never re-prepared; `reads_are_not_prepared_again` checks it.
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
