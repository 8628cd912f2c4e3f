//! Stores filled in bulk for benchmarks: a million tasks in seconds,
//! written the way the engine writes them.

use std::collections::BTreeMap;

use riposte::model::{
    Entity, EntityKind, Policy, PolicyStatus, ScriptRef, Source, SourceKind, Task, TaskStatus, Time,
};
use riposte::store::Store;

/// A distinct private address for each `n`.
pub fn ip(n: usize) -> String {
    format!("10.{}.{}.{}", 64 + n / 65_536, (n / 256) % 256, n % 256)
}

/// Writes `tasks` succeeded block tasks, each with its policy, straight
/// into the store at `path` in batches of 10,000. Every 100th task is
/// `Failed` and every other one is on target `edge-2`, so that filters
/// have something to select. The store is left open (not closed), as a
/// crash would leave it.
pub fn fill_store(path: &std::path::Path, tasks: usize) {
    let store = Store::open(path).unwrap();
    let store = std::mem::ManuallyDrop::new(store);
    let batch = 10_000;
    let now = Time::now();
    for chunk in 0..tasks.div_ceil(batch) {
        store
            .write_blocking(move |tx| {
                for n in chunk * batch..((chunk + 1) * batch).min(tasks) {
                    let id = n as u64 + 1;
                    let entity = Entity::parse(EntityKind::Ip, &ip(n)).unwrap();
                    let policy = Policy {
                        id,
                        entity: entity.clone(),
                        script: ScriptRef {
                            name: "block".into(),
                            version: 1,
                        },
                        targets: vec!["edge".into()],
                        actions: vec!["CountedBlock".into()],
                        source: Source {
                            kind: SourceKind::AlertRule,
                            rule: Some("block-rule".into()),
                            alert: Some(id),
                            actor: None,
                        },
                        status: PolicyStatus::Succeeded,
                        steps: Vec::new(),
                        joined_alerts: Vec::new(),
                        joined: 0,
                        created_at: now,
                        updated_at: now,
                    };
                    tx.put_policy(None, &policy)?;
                    let mut task = task(id, entity, now);
                    if n % 100 == 99 {
                        task.status = TaskStatus::Failed;
                    }
                    if n % 2 == 1 {
                        task.target = "edge-2".into();
                    }
                    tx.put_task(None, &task)?;
                }
                Ok(())
            })
            .unwrap();
    }
}

/// One task as the engine would have recorded it.
pub fn task(id: u64, entity: Entity, now: Time) -> Task {
    Task {
        id,
        policy_id: id,
        step: 0,
        action: "CountedBlock".into(),
        component: "fixture-counter".into(),
        component_version: "0.1.0".into(),
        reversible: true,
        retryable: true,
        entity,
        target: "edge".into(),
        provider: "test".into(),
        duration: None,
        parameters: BTreeMap::new(),
        idempotency_key: format!("rp{id}"),
        status: TaskStatus::Succeeded,
        ignored_reason: None,
        attempts: Vec::new(),
        attempt_count: 1,
        budget_start: None,
        budget_attempts: 0,
        next_attempt_at: None,
        failure: None,
        detail: Some("/block".into()),
        revert_token: Some(format!("rp{id}")),
        expires_at: None,
        revert: None,
        created_at: now,
        updated_at: now,
    }
}
