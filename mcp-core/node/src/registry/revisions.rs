//! Revisions: a service's releases on this node, numbered from 1, each with the
//! images it ran by digest and how it ended; which one runs is
//! `services.revision`. Cut to the newest `keep` per service (and always the one
//! that runs) in the transaction that adds one.

use super::*;
use mcp_model::view::{Revision, RevisionImage, RevisionResult, Step};

/// A service's revisions, oldest first, each marked if it runs (see `Tx::rows`
/// on the `CAST`).
const REVISIONS: &str = "SELECT r.service, r.number, r.at, r.actor, r.version, r.definition,
         r.definition_hash, r.images, r.result, r.step, r.error, r.rollback_of,
         r.number = (SELECT revision FROM services WHERE name = r.service)
     FROM revisions r WHERE r.service = CAST(?1 AS TEXT) ORDER BY r.number";

/// A revision to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRevision {
    /// The service.
    pub service: String,
    /// Who deployed it.
    pub actor: String,
    /// Its version, as [`Revision::version`] says it.
    pub version: String,
    /// The definition.
    pub definition: ServiceDefinition,
    /// Every component's image, with the digest that ran.
    pub images: Vec<RevisionImage>,
    /// How it ended.
    pub result: RevisionResult,
    /// Where it failed.
    pub step: Option<Step>,
    /// Why.
    pub error: Option<String>,
    /// The revision it rolled back to.
    pub rollback_of: Option<u32>,
}

impl Tx<'_> {
    /// Adds `r` as the service's next revision, and when `runs`, makes it the
    /// one that runs (the service's row must exist). Revisions beyond the newest
    /// `keep` go, except the one that runs. Returns its number.
    pub fn add_revision(&self, r: &NewRevision, runs: bool, keep: u32) -> Result<u32> {
        let number: u32 = self
            .tx
            .query_row(
                "SELECT coalesce(max(number), 0) + 1 FROM revisions WHERE service = ?1",
                [&r.service],
                |row| row.get(0),
            )
            .map_err(sql("number revision"))?;
        let images = serde_json::to_string(&r.images).map_err(|e| RegistryError::Corrupt {
            what: "revision images",
            detail: e.to_string(),
        })?;
        self.tx
            .execute(
                "INSERT INTO revisions (service, number, at, actor, version, definition,
                     definition_hash, images, result, step, error, rollback_of)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    r.service,
                    number,
                    millis(SystemTime::now()),
                    r.actor,
                    r.version,
                    r.definition.to_toml(),
                    r.definition.definition_hash(),
                    images,
                    r.result.as_str(),
                    r.step.map(|s| s.as_str()),
                    r.error.as_deref().map(super::events::bounded),
                    r.rollback_of,
                ],
            )
            .map_err(sql("add revision"))?;
        if runs {
            self.tx
                .execute(
                    "UPDATE services SET revision = ?2 WHERE name = ?1",
                    params![r.service, number],
                )
                .map_err(sql("mark the revision that runs"))?;
        }
        self.tx
            .execute(
                "DELETE FROM revisions WHERE service = ?1 AND number <= ?2
                 AND number IS NOT (SELECT revision FROM services WHERE name = ?1)",
                params![r.service, i64::from(number) - i64::from(keep.max(1))],
            )
            .map_err(sql("drop old revisions"))?;
        Ok(number)
    }

    /// The service's revisions kept, oldest first (`change` left empty: the
    /// engine says what each changed).
    pub fn revisions(&self, service: &str) -> Result<Vec<Revision>> {
        let rows = self.rows("read revisions", REVISIONS, [service], |r| {
            Ok(RevisionRow {
                service: r.get(0)?,
                number: r.get(1)?,
                at: r.get(2)?,
                actor: r.get(3)?,
                version: r.get(4)?,
                definition: r.get(5)?,
                definition_hash: r.get(6)?,
                images: r.get(7)?,
                result: r.get(8)?,
                step: r.get(9)?,
                error: r.get(10)?,
                rollback_of: r.get(11)?,
                current: r.get::<_, Option<bool>>(12)?.unwrap_or(false),
            })
        })?;
        rows.into_iter().map(RevisionRow::into_revision).collect()
    }

    /// The number of the revision that runs, if any.
    pub fn current_revision(&self, service: &str) -> Result<Option<u32>> {
        self.tx
            .query_row(
                "SELECT revision FROM services WHERE name = ?1",
                [service],
                |r| r.get::<_, Option<u32>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(sql("read the revision that runs"))
    }
}

/// A revision as stored.
struct RevisionRow {
    service: String,
    number: u32,
    at: i64,
    actor: String,
    version: String,
    definition: String,
    definition_hash: String,
    images: String,
    result: String,
    step: Option<String>,
    error: Option<String>,
    rollback_of: Option<u32>,
    current: bool,
}

impl RevisionRow {
    fn into_revision(self) -> Result<Revision> {
        let images = serde_json::from_str(&self.images).map_err(|e| RegistryError::Corrupt {
            what: "revision images",
            detail: format!("{} revision {}: {e}", self.service, self.number),
        })?;
        Ok(Revision {
            node: String::new(),
            number: self.number,
            at: from_millis(self.at),
            actor: self.actor,
            version: self.version,
            definition: self.definition,
            definition_hash: self.definition_hash,
            images,
            result: word(&self.result, "revision result")?,
            step: self.step.as_deref().map(|s| word(s, "step")).transpose()?,
            error: self.error,
            rollback_of: self.rollback_of,
            current: self.current,
            change: String::new(),
            service: self.service,
        })
    }
}
