//! The append-only event log.

use super::*;

impl Tx<'_> {
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
