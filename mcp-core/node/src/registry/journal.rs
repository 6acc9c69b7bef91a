//! The journal of operations in progress (see `engine/journal.rs`).

use super::*;

impl Tx<'_> {
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
}
