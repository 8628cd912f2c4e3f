//! Retention: deleting old policies with their tasks, old alerts and old
//! audit lines, in bounded batches so that a purge never holds the writer
//! for long.
//!
//! A policy is kept, whatever its age, while any of its tasks is not
//! terminal or is still in effect and reversible (a block to expire, a
//! permanent block, a failed revert): purging it would lose the only
//! record of how to lift that block.

use redb::ReadableTable;

use super::StoreError;
use super::tables::*;
use super::tx::{Signal, Tx, decode};
use crate::model::{Policy, RevertStatus, Task, Time};

/// What one purge batch removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub policies: usize,
    pub tasks: usize,
    pub alerts: usize,
    pub audit: usize,
    /// Closed dedup windows removed.
    pub dedup: usize,
    /// Whether more old records remain for the next batch.
    pub more: bool,
}

impl Tx<'_> {
    /// Deletes up to `batch` records of each kind created before `cutoff`.
    pub fn purge(&mut self, cutoff: Time, batch: usize) -> Result<Purged, StoreError> {
        let mut purged = Purged::default();
        // Policies are walked in id (creation) order from a cursor kept in
        // `meta`, so that old policies that must be kept (blocks still in
        // place) are stepped over once per round, not read again and again.
        let cursor: u64 = {
            let meta = self.table(META)?;
            let value = meta.get("purge_cursor").map_err(StoreError::storage)?;
            value.and_then(|v| v.value().parse().ok()).unwrap_or(0)
        };
        let (candidates, scanned, reached_new) = {
            let table = self.table(POLICIES)?;
            let mut out = Vec::new();
            let (mut scanned, mut reached_new) = (Vec::new(), false);
            let rows = table
                .range(cursor.saturating_add(1)..)
                .map_err(StoreError::storage)?;
            for row in rows.take(batch) {
                let (id, bytes) = row.map_err(StoreError::storage)?;
                let policy: Policy = decode(bytes.value(), "policy")?;
                if policy.created_at >= cutoff {
                    reached_new = true;
                    break;
                }
                scanned.push(id.value());
                if policy.updated_at < cutoff {
                    out.push(policy);
                }
            }
            (out, scanned, reached_new)
        };
        let more_policies = scanned.len() == batch && !reached_new;
        purged.more |= more_policies;
        let next = if more_policies {
            scanned.last().copied().unwrap_or(0)
        } else {
            0
        };
        self.table(META)?
            .insert("purge_cursor", next.to_string().as_str())
            .map_err(StoreError::storage)?;
        for policy in candidates {
            let tasks = self.tasks_of(policy.id)?;
            if tasks.iter().any(still_needed) || !policy.status.is_terminal() {
                continue;
            }
            for task in &tasks {
                self.delete_task(task)?;
            }
            let mut index = self.table(POLICY_INDEX)?;
            for key in policy_keys(&policy) {
                index
                    .remove((key.as_str(), policy.id))
                    .map_err(StoreError::storage)?;
            }
            self.table(POLICIES)?
                .remove(policy.id)
                .map_err(StoreError::storage)?;
            purged.policies += 1;
            purged.tasks += tasks.len();
        }
        for (records, keys) in [(ALERTS, ALERT_KEYS), (INCIDENTS, INCIDENT_KEYS)] {
            let old: Vec<Signal> = {
                let table = self.table(records)?;
                let mut out = Vec::new();
                for row in table.iter().map_err(StoreError::storage)?.take(batch) {
                    let signal: Signal =
                        decode(row.map_err(StoreError::storage)?.1.value(), "alert")?;
                    if signal.received_at >= cutoff {
                        break;
                    }
                    out.push(signal);
                }
                out
            };
            purged.more |= old.len() == batch;
            for signal in old {
                self.table(keys)?
                    .remove(signal.key.as_str())
                    .map_err(StoreError::storage)?;
                self.table(records)?
                    .remove(signal.id)
                    .map_err(StoreError::storage)?;
                purged.alerts += 1;
            }
        }
        let old_audit: Vec<u64> = {
            let table = self.table(AUDIT)?;
            let mut out = Vec::new();
            for row in table.iter().map_err(StoreError::storage)?.take(batch) {
                let (id, bytes) = row.map_err(StoreError::storage)?;
                let entry: super::AuditEntry = decode(bytes.value(), "audit")?;
                if entry.at >= cutoff {
                    break;
                }
                out.push(id.value());
            }
            out
        };
        purged.more |= old_audit.len() == batch;
        for id in old_audit {
            self.table(AUDIT)?.remove(id).map_err(StoreError::storage)?;
            purged.audit += 1;
        }
        purged.dedup = self.purge_dedup(batch * 4)?;
        Ok(purged)
    }

    /// Removes closed dedup windows, looking at no more than `budget`
    /// entries per call and continuing where the last call stopped, so the
    /// table does not grow with every entity ever seen.
    fn purge_dedup(&mut self, budget: usize) -> Result<usize, StoreError> {
        let now = self.now().millis();
        let cursor: String = {
            let meta = self.table(META)?;
            let value = meta.get("dedup_cursor").map_err(StoreError::storage)?;
            value.map(|v| v.value().to_string()).unwrap_or_default()
        };
        let (closed, last, scanned) = {
            let table = self.table(DEDUP)?;
            let mut closed = Vec::new();
            let mut last = None;
            let mut scanned = 0;
            let range = table
                .range(cursor.as_str()..)
                .map_err(StoreError::storage)?;
            for row in range.take(budget) {
                let (key, value) = row.map_err(StoreError::storage)?;
                let key = key.value().to_string();
                if value.value().1 <= now {
                    closed.push(key.clone());
                }
                last = Some(key);
                scanned += 1;
            }
            (closed, last, scanned)
        };
        let mut table = self.table(DEDUP)?;
        for key in &closed {
            table.remove(key.as_str()).map_err(StoreError::storage)?;
        }
        // Continue after the last key seen, or from the start once the end
        // of the table was reached.
        let next = match last {
            Some(key) if scanned == budget => format!("{key}\u{0}"),
            _ => String::new(),
        };
        self.table(META)?
            .insert("dedup_cursor", next.as_str())
            .map_err(StoreError::storage)?;
        Ok(closed.len())
    }

    fn delete_task(&mut self, task: &Task) -> Result<(), StoreError> {
        let mut index = self.table(TASK_INDEX)?;
        for key in task_keys(task) {
            index
                .remove((key.as_str(), task.id))
                .map_err(StoreError::storage)?;
        }
        super::tx::add_count(&mut self.table(TASK_COUNTS)?, &count_key(task), -1)?;
        self.table(TASKS)?
            .remove(task.id)
            .map_err(StoreError::storage)?;
        Ok(())
    }
}

/// Whether a task's record must outlive retention: it is not finished, or
/// its action is still in effect and could be undone (a permanent block, a
/// block whose revert failed, one still to expire). Deleting it would lose
/// the only way to lift the block through riposte.
fn still_needed(task: &Task) -> bool {
    let in_effect = task.status.took_effect()
        && task.reversible
        && task.revert_token.is_some()
        && task
            .revert
            .as_ref()
            .is_none_or(|revert| revert.status != RevertStatus::Unblocked);
    let pending = task.revert.as_ref().is_some_and(|revert| {
        matches!(
            revert.status,
            RevertStatus::Scheduled | RevertStatus::Reverting
        )
    });
    !task.status.is_terminal() || in_effect || pending
}
