//! Filtered, paginated lists, newest first.
//!
//! A query walks the most selective index its filter names (or the whole
//! table without one) backwards from the cursor, and checks the other
//! filters on each record, so a page costs about `limit` reads when the
//! filters are on indexed fields.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::tables::{AUDIT, POLICIES, POLICY_INDEX, TASK_INDEX, TASKS};
use super::tx::{AuditEntry, Reader, Signal, SignalKind, decode, signal_table};
use crate::model::{Policy, Task, Time};

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `before` for the next page; `None` on the last one.
    pub next: Option<u64>,
}

/// Filters on tasks; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TaskFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub policy: Option<u64>,
    pub entity: Option<String>,
}

impl TaskFilter {
    fn index_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        if let Some(policy) = self.policy {
            keys.push(format!("policy={policy}"));
        }
        let pairs = [
            ("entity", &self.entity),
            ("target", &self.target),
            ("action", &self.action),
            ("status", &self.status),
            ("kind", &self.kind),
        ];
        for (field, value) in pairs {
            if let Some(value) = value {
                keys.push(format!("{field}={value}"));
            }
        }
        keys
    }
}

/// Filters on policies; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PolicyFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub action: Option<String>,
    /// `kind:value`, as [`crate::model::Entity::key`] writes it.
    pub entity: Option<String>,
    pub source: Option<String>,
    pub script: Option<String>,
    /// `name@version`: the runs of one script version.
    pub version: Option<String>,
    /// Created at or after.
    pub since: Option<Time>,
    /// Created before.
    pub until: Option<Time>,
}

impl PolicyFilter {
    fn index_keys(&self) -> Vec<String> {
        let pairs = [
            ("entity", &self.entity),
            ("version", &self.version),
            ("script", &self.script),
            ("action", &self.action),
            ("source", &self.source),
            ("status", &self.status),
            ("kind", &self.kind),
        ];
        pairs
            .into_iter()
            .filter_map(|(field, value)| value.as_ref().map(|value| format!("{field}={value}")))
            .collect()
    }
}

/// Filters on the audit log; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// An action such as `task.retry`, or a prefix ending in `.` such as
    /// `task.`.
    pub action: Option<String>,
    /// An object such as `task/42`.
    pub object: Option<String>,
    pub since: Option<Time>,
    pub until: Option<Time>,
}

impl AuditFilter {
    fn matches(&self, entry: &AuditEntry) -> bool {
        self.actor
            .as_ref()
            .is_none_or(|actor| &entry.actor == actor)
            && self.action.as_ref().is_none_or(|action| {
                if action.ends_with('.') {
                    entry.action.starts_with(action.as_str())
                } else {
                    &entry.action == action
                }
            })
            && self
                .object
                .as_ref()
                .is_none_or(|object| &entry.object == object)
            && self.since.is_none_or(|since| entry.at >= since)
            && self.until.is_none_or(|until| entry.at < until)
    }
}

/// The most records one audit or signal page may read past before it
/// returns what it found, so that a rare filter cannot scan the whole log.
const MAX_SCAN: usize = 100_000;

/// A page of alerts stops growing past this many bytes of records, since
/// one alert may be up to 1 MiB.
pub const MAX_PAGE_BYTES: usize = 8 << 20;

/// The most items a page holds.
pub const MAX_PAGE: usize = 500;

impl Reader {
    /// Tasks matching `filter`, newest first, with ids below `before`.
    pub fn list_tasks(
        &self,
        filter: &TaskFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<Task>, StoreError> {
        let keys = filter.index_keys();
        let tasks = self.table(TASKS)?;
        let index = self.table(TASK_INDEX)?;
        let check = |task: &Task| {
            let own = crate::store::tables::task_keys(task);
            keys.iter().all(|key| own.contains(key))
        };
        walk(&tasks, &index, keys.first(), before, limit, "task", check)
    }

    /// Policies matching `filter`, newest first, with ids below `before`.
    pub fn list_policies(
        &self,
        filter: &PolicyFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<Policy>, StoreError> {
        let keys = filter.index_keys();
        let policies = self.table(POLICIES)?;
        let index = self.table(POLICY_INDEX)?;
        let check = |policy: &Policy| {
            let own = crate::store::tables::policy_keys(policy);
            keys.iter().all(|key| own.contains(key))
                && filter.since.is_none_or(|since| policy.created_at >= since)
                && filter.until.is_none_or(|until| policy.created_at < until)
        };
        walk(
            &policies,
            &index,
            keys.first(),
            before,
            limit,
            "policy",
            check,
        )
    }
}

impl Reader {
    /// Audit entries matching `filter`, newest first, with ids below
    /// `before`. A page stops after [`MAX_SCAN`] records and then returns
    /// a cursor even if it is short.
    pub fn list_audit(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let table = self.table(AUDIT)?;
        let mut items = Vec::new();
        let mut scanned = 0;
        let mut last = None;
        for row in table
            .range(..before.unwrap_or(u64::MAX))
            .map_err(StoreError::storage)?
            .rev()
        {
            let (id, bytes) = row.map_err(StoreError::storage)?;
            last = Some(id.value());
            let entry: AuditEntry = decode(bytes.value(), "audit")?;
            if filter.matches(&entry) {
                items.push(entry);
                if items.len() >= limit {
                    break;
                }
            }
            scanned += 1;
            if scanned >= MAX_SCAN {
                break;
            }
        }
        let full = items.len() >= limit || scanned >= MAX_SCAN;
        let next = if full { last } else { None };
        Ok(Page { items, next })
    }

    /// Alerts or incidents, newest first, with ids below `before`.
    pub fn list_signals(
        &self,
        kind: SignalKind,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<Signal>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let table = self.table(signal_table(kind))?;
        let mut items = Vec::new();
        let mut last = None;
        let mut size = 0;
        for row in table
            .range(..before.unwrap_or(u64::MAX))
            .map_err(StoreError::storage)?
            .rev()
        {
            let (id, bytes) = row.map_err(StoreError::storage)?;
            last = Some(id.value());
            size += bytes.value().len();
            items.push(decode(bytes.value(), "alert")?);
            if items.len() >= limit || size >= MAX_PAGE_BYTES {
                break;
            }
        }
        let full = items.len() >= limit || size >= MAX_PAGE_BYTES;
        let next = if full { last } else { None };
        Ok(Page { items, next })
    }
}

fn walk<T: serde::de::DeserializeOwned>(
    records: &impl ReadableTable<u64, &'static [u8]>,
    index: &impl ReadableTable<(&'static str, u64), ()>,
    key: Option<&String>,
    before: Option<u64>,
    limit: usize,
    what: &str,
    check: impl Fn(&T) -> bool,
) -> Result<Page<T>, StoreError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let before = before.unwrap_or(u64::MAX);
    let mut items = Vec::new();
    let mut last = None;
    let mut push = |id: u64, bytes: &[u8]| -> Result<bool, StoreError> {
        let record: T = decode(bytes, what)?;
        if check(&record) {
            items.push(record);
            last = Some(id);
        }
        Ok(items.len() < limit)
    };
    match key {
        Some(key) => {
            let rows = index
                .range((key.as_str(), 0)..(key.as_str(), before))
                .map_err(StoreError::storage)?;
            for row in rows.rev() {
                let id = row.map_err(StoreError::storage)?.0.value().1;
                let Some(bytes) = records.get(id).map_err(StoreError::storage)? else {
                    continue;
                };
                if !push(id, bytes.value())? {
                    break;
                }
            }
        }
        None => {
            for row in records.range(..before).map_err(StoreError::storage)?.rev() {
                let (id, bytes) = row.map_err(StoreError::storage)?;
                if !push(id.value(), bytes.value())? {
                    break;
                }
            }
        }
    }
    let next = if items.len() >= limit { last } else { None };
    Ok(Page { items, next })
}
