//! The event log: append-only, and cut from its oldest end only, by the
//! retention of `[events]`. What an event stores is bounded: a long detail or
//! error (Podman's output) is cut with a marker.

use super::*;

/// Events after `?2` (of service `?1`, or all), the newest `?4`, at most `?3`
/// (see `Tx::rows` on the `CAST`s).
pub(super) const EVENTS: &str = "SELECT id, at, actor, action, service, detail, error FROM (
         SELECT * FROM events
         WHERE (?1 IS NULL OR service = CAST(?1 AS TEXT)) AND id > ?2
         ORDER BY id DESC LIMIT CAST(?4 AS INTEGER)
     ) ORDER BY id LIMIT CAST(?3 AS INTEGER)";

/// The most bytes an event's detail or error keeps.
pub const MAX_EVENT_TEXT: usize = 4096;

/// `text` cut to [`MAX_EVENT_TEXT`] bytes (at a character boundary), with a
/// marker saying how much was cut.
pub(super) fn bounded(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_EVENT_TEXT {
        return text.into();
    }
    let mut end = MAX_EVENT_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..end], text.len() - end).into()
}

impl Tx<'_> {
    /// How many events the log holds.
    pub fn event_rows(&self) -> Result<u64> {
        let n: Vec<i64> = self.rows("count events", "SELECT count(*) FROM events", [], |r| {
            r.get(0)
        })?;
        Ok(n.first().map_or(0, |n| u64::try_from(*n).unwrap_or(0)))
    }

    /// Appends an event, stamped now. Returns its id (ids only grow).
    pub fn append_event(&self, e: &NewEvent) -> Result<i64> {
        self.tx
            .execute(
                "INSERT INTO events (at, actor, action, service, detail, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    millis(SystemTime::now()),
                    e.actor,
                    e.action,
                    e.service,
                    bounded(&e.detail),
                    e.error.as_deref().map(bounded)
                ],
            )
            .map_err(sql("append event"))?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Drops the events `keep` no longer keeps: older than its days, or beyond
    /// its newest rows, oldest first. Returns how many went.
    pub fn prune_events(&self, keep: &mcp_model::config::EventsSection) -> Result<usize> {
        let cutoff = SystemTime::now()
            .checked_sub(std::time::Duration::from_secs(
                u64::from(keep.keep_days) * 86_400,
            ))
            .unwrap_or(UNIX_EPOCH);
        let old = self
            .tx
            .execute(
                "DELETE FROM events WHERE id <= (SELECT max(id) FROM events WHERE at < ?1)",
                [millis(cutoff)],
            )
            .map_err(sql("drop old events"))?;
        let beyond = self
            .tx
            .execute(
                "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                [i64::from(keep.keep_rows)],
            )
            .map_err(sql("drop events beyond the newest"))?;
        Ok(old + beyond)
    }

    /// Events matching `q`, oldest first.
    pub fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let limit = q.limit.map_or(-1, i64::from);
        let last = q.last.map_or(-1, i64::from);
        self.rows(
            "read events",
            EVENTS,
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
