//! The operations the engine and the API perform on the store: [`Tx`]
//! inside a write transaction, [`Reader`] on a snapshot.

use std::collections::BTreeMap;

use redb::{
    ReadOnlyTable, ReadTransaction, ReadableTable, Table, TableDefinition, WriteTransaction,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::tables::*;
use crate::model::{AllowEntry, Policy, RuleSpec, ScriptSpec, ScriptVersion, Task, Time};

/// Alerts and incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignalKind {
    Alert,
    Incident,
}

impl SignalKind {
    /// `alert` or `incident`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::Alert => "alert",
            SignalKind::Incident => "incident",
        }
    }
}

/// An ingested alert or incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub id: u64,
    pub kind: SignalKind,
    /// The idempotency key: given by the sender, or the SHA-256 of the
    /// canonical JSON of `data`.
    pub key: String,
    /// The adapter it came through, such as `suricata-eve`.
    pub source: String,
    pub received_at: Time,
    /// For incidents: how many updates arrived after the first delivery.
    #[serde(default)]
    pub updates: u32,
    /// Policies it created or joined.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<u64>,
    pub data: serde_json::Value,
}

/// What [`Tx::insert_signal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// First delivery.
    New,
    /// Seen before with this key; nothing changed.
    Duplicate,
    /// An incident seen before, now with new data.
    Updated,
}

/// A target: where actions take effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRecord {
    pub id: String,
    pub provider: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub resource: String,
    pub endpoint: String,
    /// The name of the secret that authenticates against it; the value
    /// lives in the daemon's secret store, never here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}

/// One line of the audit log: who did what, when, to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: u64,
    pub at: Time,
    pub actor: String,
    /// What was done, such as `task.unblock` or `script.publish`.
    pub action: String,
    /// What it was done to, such as `task/42`.
    pub object: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// An API token as stored: its name, role, and the SHA-256 of its secret
/// part. The token itself is shown once, when created, and kept nowhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// Hex SHA-256 of the token's secret part.
    pub hash: String,
    pub created_at: Time,
    pub created_by: String,
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("store records serialize")
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|err| StoreError::Storage(format!("{what} record is unreadable: {err}")))
}

pub(super) fn load<K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    key: K::SelfType<'_>,
    what: &str,
) -> Result<Option<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    match table.get(key).map_err(StoreError::storage)? {
        Some(bytes) => decode(bytes.value(), what).map(Some),
        None => Ok(None),
    }
}

pub(super) fn load_all<K, T>(
    table: &impl ReadableTable<K, &'static [u8]>,
    what: &str,
) -> Result<Vec<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
{
    let mut out = Vec::new();
    for row in table.iter().map_err(StoreError::storage)? {
        let (_, value) = row.map_err(StoreError::storage)?;
        out.push(decode(value.value(), what)?);
    }
    Ok(out)
}

/// Operations inside a write transaction. See [`super::Store::write`] for
/// the contract: check first, then write.
pub struct Tx<'a> {
    txn: &'a WriteTransaction,
    now: Time,
}

impl<'a> Tx<'a> {
    pub(super) fn new(txn: &'a WriteTransaction, now: Time) -> Self {
        Self { txn, now }
    }

    /// The time this transaction started, used for every record it writes.
    pub fn now(&self) -> Time {
        self.now
    }

    pub(super) fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<Table<'a, K, V>, StoreError> {
        self.txn.open_table(def).map_err(StoreError::storage)
    }

    /// The next id of a counter (`task`, `policy`, `alert`, ...).
    pub fn next_id(&mut self, counter: &str) -> Result<u64, StoreError> {
        let mut table = self.table(COUNTERS)?;
        let next = table
            .get(counter)
            .map_err(StoreError::storage)?
            .map_or(0, |value| value.value())
            + 1;
        table.insert(counter, next).map_err(StoreError::storage)?;
        Ok(next)
    }

    /// Records an alert or incident unless its key was seen; an incident
    /// seen before with different data is updated.
    pub fn insert_signal(
        &mut self,
        kind: SignalKind,
        key: &str,
        source: &str,
        data: serde_json::Value,
    ) -> Result<(Signal, Ingested), StoreError> {
        let (records, keys, counter) = signal_tables(kind);
        let existing = self
            .table(keys)?
            .get(key)
            .map_err(StoreError::storage)?
            .map(|v| v.value());
        if let Some(id) = existing {
            let mut signal: Signal = load(&self.table(records)?, id, "alert")?
                .ok_or_else(|| StoreError::Storage(format!("alert key `{key}` has no record")))?;
            if kind == SignalKind::Incident && signal.data != data {
                signal.data = data;
                signal.updates += 1;
                self.put_signal(&signal)?;
                return Ok((signal, Ingested::Updated));
            }
            return Ok((signal, Ingested::Duplicate));
        }
        let id = self.next_id(counter)?;
        let signal = Signal {
            id,
            kind,
            key: key.to_string(),
            source: source.to_string(),
            received_at: self.now,
            updates: 0,
            policies: Vec::new(),
            data,
        };
        self.table(keys)?
            .insert(key, id)
            .map_err(StoreError::storage)?;
        self.put_signal(&signal)?;
        Ok((signal, Ingested::New))
    }

    /// Stores an alert or incident record as it is.
    pub fn put_signal(&mut self, signal: &Signal) -> Result<(), StoreError> {
        let (records, ..) = signal_tables(signal.kind);
        self.table(records)?
            .insert(signal.id, encode(signal).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    pub fn signal(&self, kind: SignalKind, id: u64) -> Result<Option<Signal>, StoreError> {
        load(&self.table(signal_tables(kind).0)?, id, "alert")
    }

    pub fn policy(&self, id: u64) -> Result<Option<Policy>, StoreError> {
        load(&self.table(POLICIES)?, id, "policy")
    }

    /// Writes a policy and moves its index entries from `old`'s.
    pub fn put_policy(&mut self, old: Option<&Policy>, policy: &Policy) -> Result<(), StoreError> {
        let old_keys = old.map(policy_keys).unwrap_or_default();
        let new_keys = policy_keys(policy);
        reindex(
            &mut self.table(POLICY_INDEX)?,
            policy.id,
            &old_keys,
            &new_keys,
        )?;
        self.table(POLICIES)?
            .insert(policy.id, encode(policy).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    pub fn task(&self, id: u64) -> Result<Option<Task>, StoreError> {
        load(&self.table(TASKS)?, id, "task")
    }

    /// Writes a task, moving its index entries from `old`'s, and keeps the
    /// run queue and revert timers in step with its fields.
    pub fn put_task(&mut self, old: Option<&Task>, task: &Task) -> Result<(), StoreError> {
        let old_keys = old.map(task_keys).unwrap_or_default();
        reindex(
            &mut self.table(TASK_INDEX)?,
            task.id,
            &old_keys,
            &task_keys(task),
        )?;
        let (old_due, old_timer) = old.map(schedule_of).unwrap_or_default();
        let (due, timer) = schedule_of(task);
        if old_due != due {
            let mut queue = self.table(TASK_QUEUE)?;
            if let Some(at) = old_due {
                queue
                    .remove((at.millis(), task.id))
                    .map_err(StoreError::storage)?;
            }
            if let Some(at) = due {
                queue
                    .insert((at.millis(), task.id), ())
                    .map_err(StoreError::storage)?;
            }
        }
        if old_timer != timer {
            let mut timers = self.table(REVERT_TIMERS)?;
            if let Some(at) = old_timer {
                timers
                    .remove((at.millis(), task.id))
                    .map_err(StoreError::storage)?;
            }
            if let Some(at) = timer {
                timers
                    .insert((at.millis(), task.id), ())
                    .map_err(StoreError::storage)?;
            }
        }
        let new_count = count_key(task);
        match old.map(count_key) {
            Some(old_count) if old_count == new_count => {}
            old_count => {
                let mut counts = self.table(TASK_COUNTS)?;
                if let Some(old_count) = old_count {
                    add_count(&mut counts, &old_count, -1)?;
                }
                add_count(&mut counts, &new_count, 1)?;
            }
        }
        self.table(TASKS)?
            .insert(task.id, encode(task).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// The tasks of a policy, oldest first.
    pub fn tasks_of(&self, policy: u64) -> Result<Vec<Task>, StoreError> {
        tasks_of(&self.table(TASK_INDEX)?, &self.table(TASKS)?, policy)
    }

    /// The policy an entity and script joined inside the dedup window.
    pub fn dedup(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let table = self.table(DEDUP)?;
        let found = table
            .get(key)
            .map_err(StoreError::storage)?
            .map(|v| v.value());
        Ok(found
            .filter(|(_, until)| *until > self.now.millis())
            .map(|(id, _)| id))
    }

    /// Opens a dedup window for `key` on `policy` until `until`.
    pub fn set_dedup(&mut self, key: &str, policy: u64, until: Time) -> Result<(), StoreError> {
        self.table(DEDUP)?
            .insert(key, (policy, until.millis()))
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// Publishes `spec` as the next version of its script.
    pub fn publish_script(
        &mut self,
        spec: ScriptSpec,
        by: &str,
    ) -> Result<ScriptVersion, StoreError> {
        let latest = self.latest_version(&spec.name)?;
        let version = ScriptVersion {
            version: latest + 1,
            spec,
            published_at: self.now,
            published_by: by.to_string(),
        };
        self.table(SCRIPTS)?
            .insert(
                (version.spec.name.as_str(), version.version),
                encode(&version).as_slice(),
            )
            .map_err(StoreError::storage)?;
        Ok(version)
    }

    /// One version of a script.
    pub fn script(&self, name: &str, version: u32) -> Result<Option<ScriptVersion>, StoreError> {
        load(&self.table(SCRIPTS)?, (name, version), "script")
    }

    /// The latest published version of a script, 0 when there is none.
    pub fn latest_version(&self, name: &str) -> Result<u32, StoreError> {
        let table = self.table(SCRIPTS)?;
        let mut range = table
            .range((name, 0)..=(name, u32::MAX))
            .map_err(StoreError::storage)?;
        Ok(match range.next_back() {
            Some(row) => row.map_err(StoreError::storage)?.0.value().1,
            None => 0,
        })
    }

    /// Creates or replaces a response rule.
    pub fn put_rule(&mut self, rule: &RuleSpec) -> Result<(), StoreError> {
        self.table(RULES)?
            .insert(rule.name.as_str(), encode(rule).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// The rule called `name`, if any.
    pub fn rule(&self, name: &str) -> Result<Option<RuleSpec>, StoreError> {
        load(&self.table(RULES)?, name, "rule")
    }

    /// Deletes a rule; false when there was none.
    pub fn delete_rule(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .table(RULES)?
            .remove(name)
            .map_err(StoreError::storage)?
            .is_some())
    }

    /// Creates or replaces a target.
    pub fn put_target(&mut self, target: &TargetRecord) -> Result<(), StoreError> {
        self.table(TARGETS)?
            .insert(target.id.as_str(), encode(target).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// Adds an allowlist entry; its id is assigned here.
    pub fn add_allow(&mut self, mut entry: AllowEntry) -> Result<AllowEntry, StoreError> {
        entry.id = self.next_id("allow")?;
        entry.created_at = self.now;
        self.table(ALLOWLIST)?
            .insert(entry.id, encode(&entry).as_slice())
            .map_err(StoreError::storage)?;
        Ok(entry)
    }

    /// Replaces an allowlist entry, keeping its id, author and creation
    /// time; false when there was none.
    pub fn replace_allow(&mut self, entry: &AllowEntry) -> Result<bool, StoreError> {
        let mut table = self.table(ALLOWLIST)?;
        let Some(old) = load::<u64, AllowEntry>(&table, entry.id, "allowlist")? else {
            return Ok(false);
        };
        let entry = AllowEntry {
            created_by: old.created_by,
            created_at: old.created_at,
            ..entry.clone()
        };
        table
            .insert(entry.id, encode(&entry).as_slice())
            .map_err(StoreError::storage)?;
        Ok(true)
    }

    /// Deletes a target; false when there was none.
    pub fn delete_target(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .table(TARGETS)?
            .remove(id)
            .map_err(StoreError::storage)?
            .is_some())
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let meta = self.table(META)?;
        let value = meta.get(key).map_err(StoreError::storage)?;
        Ok(value.map(|value| value.value().to_string()))
    }

    /// Ids of tasks under an index key such as `target=edge`, ascending.
    pub fn task_ids_with(&self, key: &str) -> Result<Vec<u64>, StoreError> {
        index_ids(&self.table(TASK_INDEX)?, key)
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.table(META)?
            .insert(key, value)
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// Creates or replaces an API token record.
    pub fn put_token(&mut self, token: &TokenRecord) -> Result<(), StoreError> {
        self.table(TOKENS)?
            .insert(token.name.as_str(), encode(token).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// The token called `name`, if any.
    pub fn token(&self, name: &str) -> Result<Option<TokenRecord>, StoreError> {
        load(&self.table(TOKENS)?, name, "token")
    }

    /// Deletes a token; false when there was none.
    pub fn delete_token(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .table(TOKENS)?
            .remove(name)
            .map_err(StoreError::storage)?
            .is_some())
    }

    /// Stores a sealed secret under `name`.
    pub fn put_secret(&mut self, name: &str, sealed: &[u8]) -> Result<(), StoreError> {
        self.table(SECRETS)?
            .insert(name, sealed)
            .map_err(StoreError::storage)?;
        Ok(())
    }

    /// Deletes a secret; false when there was none.
    pub fn delete_secret(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .table(SECRETS)?
            .remove(name)
            .map_err(StoreError::storage)?
            .is_some())
    }

    /// Removes an allowlist entry; false when there was none.
    pub fn remove_allow(&mut self, id: u64) -> Result<bool, StoreError> {
        Ok(self
            .table(ALLOWLIST)?
            .remove(id)
            .map_err(StoreError::storage)?
            .is_some())
    }

    /// Appends to the audit log.
    pub fn audit(
        &mut self,
        actor: &str,
        action: &str,
        object: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            id: self.next_id("audit")?,
            at: self.now,
            actor: actor.to_string(),
            action: action.to_string(),
            object: object.to_string(),
            detail: detail.to_string(),
        };
        self.table(AUDIT)?
            .insert(entry.id, encode(&entry).as_slice())
            .map_err(StoreError::storage)?;
        Ok(())
    }
}

/// Adds `delta` to a count, dropping it at zero.
pub(super) fn add_count(
    counts: &mut Table<'_, &str, u64>,
    key: &str,
    delta: i64,
) -> Result<(), StoreError> {
    let now = counts
        .get(key)
        .map_err(StoreError::storage)?
        .map_or(0, |value| value.value());
    let next = now.saturating_add_signed(delta);
    if next == 0 {
        counts.remove(key).map_err(StoreError::storage)?;
    } else {
        counts.insert(key, next).map_err(StoreError::storage)?;
    }
    Ok(())
}

/// When a task is due in the run queue and when its revert timer fires.
fn schedule_of(task: &Task) -> (Option<Time>, Option<Time>) {
    use crate::model::{RevertStatus, TaskStatus};
    let due = (task.status == TaskStatus::Waiting)
        .then(|| task.next_attempt_at.unwrap_or(task.created_at));
    let timer = task.revert.as_ref().and_then(|revert| match revert.status {
        RevertStatus::Scheduled => task.expires_at,
        RevertStatus::Reverting => Some(revert.next_attempt_at.unwrap_or(task.updated_at)),
        _ => None,
    });
    (due, timer)
}

/// The table of alerts or incidents.
pub(super) fn signal_table(kind: SignalKind) -> TableDefinition<'static, u64, &'static [u8]> {
    signal_tables(kind).0
}

fn signal_tables(
    kind: SignalKind,
) -> (
    TableDefinition<'static, u64, &'static [u8]>,
    TableDefinition<'static, &'static str, u64>,
    &'static str,
) {
    match kind {
        SignalKind::Alert => (ALERTS, ALERT_KEYS, "alert"),
        SignalKind::Incident => (INCIDENTS, INCIDENT_KEYS, "incident"),
    }
}

fn reindex(
    index: &mut Table<'_, (&str, u64), ()>,
    id: u64,
    old: &[String],
    new: &[String],
) -> Result<(), StoreError> {
    for key in old.iter().filter(|key| !new.contains(key)) {
        index
            .remove((key.as_str(), id))
            .map_err(StoreError::storage)?;
    }
    for key in new.iter().filter(|key| !old.contains(key)) {
        index
            .insert((key.as_str(), id), ())
            .map_err(StoreError::storage)?;
    }
    Ok(())
}

fn tasks_of(
    index: &impl ReadableTable<(&'static str, u64), ()>,
    tasks: &impl ReadableTable<u64, &'static [u8]>,
    policy: u64,
) -> Result<Vec<Task>, StoreError> {
    let ids = index_ids(index, &format!("policy={policy}"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(load::<u64, Task>(tasks, id, "task")?);
    }
    Ok(out)
}

/// Every id under one index key, ascending.
pub(super) fn index_ids(
    index: &impl ReadableTable<(&'static str, u64), ()>,
    key: &str,
) -> Result<Vec<u64>, StoreError> {
    let mut ids = Vec::new();
    for row in index
        .range((key, 0)..=(key, u64::MAX))
        .map_err(StoreError::storage)?
    {
        ids.push(row.map_err(StoreError::storage)?.0.value().1);
    }
    Ok(ids)
}

/// Reads on a consistent snapshot.
pub struct Reader {
    txn: ReadTransaction,
}

impl Reader {
    pub(super) fn new(txn: ReadTransaction) -> Self {
        Self { txn }
    }

    pub(super) fn table<K: redb::Key + 'static, V: redb::Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<ReadOnlyTable<K, V>, StoreError> {
        self.txn.open_table(def).map_err(StoreError::storage)
    }

    pub fn task(&self, id: u64) -> Result<Option<Task>, StoreError> {
        load(&self.table(TASKS)?, id, "task")
    }

    pub fn policy(&self, id: u64) -> Result<Option<Policy>, StoreError> {
        load(&self.table(POLICIES)?, id, "policy")
    }

    pub fn signal(&self, kind: SignalKind, id: u64) -> Result<Option<Signal>, StoreError> {
        load(&self.table(signal_tables(kind).0)?, id, "alert")
    }

    /// The tasks of a policy, oldest first.
    pub fn tasks_of(&self, policy: u64) -> Result<Vec<Task>, StoreError> {
        tasks_of(&self.table(TASK_INDEX)?, &self.table(TASKS)?, policy)
    }

    /// Ids of tasks with `status`, ascending.
    pub fn task_ids_with(&self, key: &str) -> Result<Vec<u64>, StoreError> {
        index_ids(&self.table(TASK_INDEX)?, key)
    }

    /// Ids of policies under an index key, ascending.
    pub fn policy_ids_with(&self, key: &str) -> Result<Vec<u64>, StoreError> {
        index_ids(&self.table(POLICY_INDEX)?, key)
    }

    /// One version of a script.
    pub fn script(&self, name: &str, version: u32) -> Result<Option<ScriptVersion>, StoreError> {
        load(&self.table(SCRIPTS)?, (name, version), "script")
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let meta = self.table(META)?;
        let value = meta.get(key).map_err(StoreError::storage)?;
        Ok(value.map(|value| value.value().to_string()))
    }

    /// A store-wide random value, created with the store, that makes
    /// idempotency keys unique across stores.
    pub fn salt(&self) -> Result<String, StoreError> {
        let meta = self.table(META)?;
        let salt = meta.get("salt").map_err(StoreError::storage)?;
        Ok(salt
            .map(|value| value.value().to_string())
            .unwrap_or_default())
    }

    /// Every version of a script, oldest first.
    pub fn script_versions(&self, name: &str) -> Result<Vec<ScriptVersion>, StoreError> {
        let table = self.table(SCRIPTS)?;
        let mut out = Vec::new();
        for row in table
            .range((name, 0)..=(name, u32::MAX))
            .map_err(StoreError::storage)?
        {
            out.push(decode(
                row.map_err(StoreError::storage)?.1.value(),
                "script",
            )?);
        }
        Ok(out)
    }

    /// The latest version of every script.
    pub fn latest_scripts(&self) -> Result<Vec<ScriptVersion>, StoreError> {
        let all: Vec<ScriptVersion> = load_all(&self.table(SCRIPTS)?, "script")?;
        let mut latest: BTreeMap<String, ScriptVersion> = BTreeMap::new();
        for version in all {
            latest.insert(version.spec.name.clone(), version);
        }
        Ok(latest.into_values().collect())
    }

    pub fn rules(&self) -> Result<Vec<RuleSpec>, StoreError> {
        load_all(&self.table(RULES)?, "rule")
    }

    pub fn targets(&self) -> Result<Vec<TargetRecord>, StoreError> {
        load_all(&self.table(TARGETS)?, "target")
    }

    pub fn allowlist(&self) -> Result<Vec<AllowEntry>, StoreError> {
        load_all(&self.table(ALLOWLIST)?, "allowlist")
    }

    /// The policy a dedup key points at, while its window is open.
    pub fn dedup(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let found = self
            .table(DEDUP)?
            .get(key)
            .map_err(StoreError::storage)?
            .map(|v| v.value());
        let now = Time::now().millis();
        Ok(found.filter(|(_, until)| *until > now).map(|(id, _)| id))
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        load_all(&self.table(TOKENS)?, "token")
    }

    /// Every sealed secret, by name.
    pub fn secrets(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let table = self.table(SECRETS)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::storage)? {
            let (name, sealed) = row.map_err(StoreError::storage)?;
            out.push((name.value().to_string(), sealed.value().to_vec()));
        }
        Ok(out)
    }

    /// Tasks by `status|action`.
    pub fn task_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let table = self.table(TASK_COUNTS)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::storage)? {
            let (key, count) = row.map_err(StoreError::storage)?;
            out.push((key.value().to_string(), count.value()));
        }
        Ok(out)
    }

    /// Waiting tasks in the run queue, due or not.
    pub fn queue_depth(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        self.table(TASK_QUEUE)?.len().map_err(StoreError::storage)
    }

    /// Waiting tasks due at or before `until`, with their due times.
    pub fn due_tasks(&self, until: Time, limit: usize) -> Result<Vec<(Time, u64)>, StoreError> {
        due(&self.table(TASK_QUEUE)?, until, limit)
    }

    /// Revert timers due at or before `until`.
    pub fn due_reverts(&self, until: Time, limit: usize) -> Result<Vec<(Time, u64)>, StoreError> {
        due(&self.table(REVERT_TIMERS)?, until, limit)
    }

    /// The earliest queued task or revert timer due after `after`.
    pub fn next_due_after(&self, after: Time) -> Result<Option<Time>, StoreError> {
        let mut next = None;
        for table in [self.table(TASK_QUEUE)?, self.table(REVERT_TIMERS)?] {
            let mut range = table
                .range((after.millis(), u64::MAX)..)
                .map_err(StoreError::storage)?;
            if let Some(row) = range.next() {
                let at = Time::from_millis(row.map_err(StoreError::storage)?.0.value().0);
                next = Some(next.map_or(at, |n: Time| n.min(at)));
            }
        }
        Ok(next)
    }

    /// The audit log, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let table = self.table(AUDIT)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(StoreError::storage)?.rev().take(limit) {
            out.push(decode(
                row.map_err(StoreError::storage)?.1.value(),
                "audit",
            )?);
        }
        Ok(out)
    }
}

fn due(
    table: &impl ReadableTable<(i64, u64), ()>,
    until: Time,
    limit: usize,
) -> Result<Vec<(Time, u64)>, StoreError> {
    let mut out = Vec::new();
    for row in table
        .range((i64::MIN, 0)..=(until.millis(), u64::MAX))
        .map_err(StoreError::storage)?
        .take(limit)
    {
        let (at, id) = row.map_err(StoreError::storage)?.0.value();
        out.push((Time::from_millis(at), id));
    }
    Ok(out)
}
