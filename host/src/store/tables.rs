//! Table definitions, the schema record and index keys.
//!
//! Records are JSON (`serde_json`) in `&[u8]` values: readable with any
//! redb tool, and tolerant of added optional fields. Every id comes from a
//! counter in [`COUNTERS`] and grows with commit order, so id order is
//! time order: lists walk ids backwards for "newest first", and retention
//! walks them forwards from the oldest.
//!
//! Secondary indexes are `(key, id) -> ()` tables where `key` is
//! `field=value` (`status=Failed`, `kind=ip`, `action=AliyunWafBlockIP`,
//! `entity=ip:1.2.3.4`, `policy=42`, ...), one table per record type.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};

use super::{OpenStoreError, SCHEMA_VERSION};
use crate::model::{Policy, Task};

pub const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
pub const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

pub const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
pub const ALERT_KEYS: TableDefinition<&str, u64> = TableDefinition::new("alert_keys");
pub const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("incidents");
pub const INCIDENT_KEYS: TableDefinition<&str, u64> = TableDefinition::new("incident_keys");

pub const SCRIPTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("scripts");
pub const RULES: TableDefinition<&str, &[u8]> = TableDefinition::new("rules");
pub const TARGETS: TableDefinition<&str, &[u8]> = TableDefinition::new("targets");
pub const ALLOWLIST: TableDefinition<u64, &[u8]> = TableDefinition::new("allowlist");

pub const POLICIES: TableDefinition<u64, &[u8]> = TableDefinition::new("policies");
pub const POLICY_INDEX: TableDefinition<(&str, u64), ()> = TableDefinition::new("policy_index");
/// `script|entity-key` -> (policy id, dedup window end in ms).
pub const DEDUP: TableDefinition<&str, (u64, i64)> = TableDefinition::new("dedup");

pub const TASKS: TableDefinition<u64, &[u8]> = TableDefinition::new("tasks");
pub const TASK_INDEX: TableDefinition<(&str, u64), ()> = TableDefinition::new("task_index");
/// Waiting tasks by the time they may start: `(due ms, task id)`.
pub const TASK_QUEUE: TableDefinition<(i64, u64), ()> = TableDefinition::new("task_queue");
/// Pending reverts by the time they are due: `(due ms, task id)`.
pub const REVERT_TIMERS: TableDefinition<(i64, u64), ()> = TableDefinition::new("revert_timers");

pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Tasks by `status|action` -> how many, kept in step by every task write
/// and delete, for metrics without a scan.
pub const TASK_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("task_counts");
/// API tokens by name: role and the SHA-256 of the secret part, never the
/// token itself.
pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
/// Secret values by name, sealed by [`crate::vault::Vault`]; the store
/// never holds one in clear.
pub const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");

/// Installed component versions by digest.
pub const COMPONENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("components");
/// The active version of each component: name -> digest.
pub const ACTIVE_COMPONENTS: TableDefinition<&str, &str> =
    TableDefinition::new("active_components");
/// The grant in force for each component, by name.
pub const GRANTS: TableDefinition<&str, &[u8]> = TableDefinition::new("grants");

/// Creates missing tables and checks or records the schema version.
pub fn init(db: &Database, path: &Path) -> Result<(), OpenStoreError> {
    let init_error = |err: &dyn std::fmt::Display| OpenStoreError::Init {
        path: path.to_path_buf(),
        message: err.to_string(),
    };
    let txn = db.begin_write().map_err(|err| init_error(&err))?;
    {
        let mut meta = txn.open_table(META).map_err(|err| init_error(&err))?;
        let found = meta
            .get("schema_version")
            .map_err(|err| init_error(&err))?
            .map(|value| value.value().to_string());
        match found {
            Some(found) if found != SCHEMA_VERSION.to_string() => {
                return Err(OpenStoreError::SchemaVersion {
                    path: path.to_path_buf(),
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
            None => {
                let version = SCHEMA_VERSION.to_string();
                meta.insert("schema_version", version.as_str())
                    .map_err(|err| init_error(&err))?;
                let salt = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
                meta.insert("salt", salt.as_str())
                    .map_err(|err| init_error(&err))?;
            }
        }
    }
    macro_rules! create {
        ($($table:expr),*) => {
            $( txn.open_table($table).map_err(|err| init_error(&err))?; )*
        };
    }
    create!(
        COUNTERS,
        ALERTS,
        ALERT_KEYS,
        INCIDENTS,
        INCIDENT_KEYS,
        SCRIPTS,
        RULES,
        TARGETS
    );
    create!(
        ALLOWLIST,
        POLICIES,
        POLICY_INDEX,
        DEDUP,
        TASKS,
        TASK_INDEX,
        TASK_QUEUE
    );
    create!(REVERT_TIMERS, AUDIT, TASK_COUNTS, TOKENS, SECRETS);
    create!(COMPONENTS, ACTIVE_COMPONENTS, GRANTS);
    txn.commit().map_err(|err| init_error(&err))
}

/// The index keys of a task.
pub fn task_keys(task: &Task) -> Vec<String> {
    vec![
        format!("status={}", task.status),
        format!("kind={}", task.entity.kind),
        format!("action={}", task.action),
        format!("target={}", task.target),
        format!("policy={}", task.policy_id),
        format!("entity={}", task.entity.key()),
    ]
}

/// The key of a task in [`TASK_COUNTS`].
pub fn count_key(task: &Task) -> String {
    format!("{}|{}", task.status, task.action)
}

/// The index keys of a policy.
pub fn policy_keys(policy: &Policy) -> Vec<String> {
    let mut keys = vec![
        format!("status={}", policy.status),
        format!("kind={}", policy.entity.kind),
        format!("entity={}", policy.entity.key()),
        format!("source={}", policy.source.kind.as_str()),
        format!("script={}", policy.script.name),
        format!("version={}@{}", policy.script.name, policy.script.version),
    ];
    keys.extend(
        policy
            .actions
            .iter()
            .map(|action| format!("action={action}")),
    );
    keys
}
