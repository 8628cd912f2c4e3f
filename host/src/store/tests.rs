//! Store behaviour the engine and operators rely on.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable};

use super::*;
use crate::model::{
    Entity, EntityKind, Policy, PolicyStatus, RevertStatus, ScriptRef, Source, SourceKind, Task,
    TaskStatus,
};

fn scratch() -> (tempdir::Dir, Store) {
    let dir = tempdir::Dir::new();
    let store = Store::open(dir.path().join("riposte.redb")).unwrap();
    (dir, store)
}

/// A scratch directory removed on drop (std only, no tempfile crate).
mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Self {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "riposte-store-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn policy(id: u64, value: &str) -> Policy {
    Policy {
        id,
        entity: Entity::parse(EntityKind::Ip, value).unwrap(),
        script: ScriptRef {
            name: "block".into(),
            version: 1,
        },
        targets: vec!["waf".into()],
        actions: vec!["Block".into()],
        source: Source {
            kind: SourceKind::AlertRule,
            rule: Some("r".into()),
            alert: Some(1),
            actor: None,
        },
        status: PolicyStatus::Waiting,
        steps: Vec::new(),
        joined_alerts: Vec::new(),
        joined: 0,
        created_at: Time::from_millis(1_000),
        updated_at: Time::from_millis(1_000),
    }
}

fn task(id: u64, policy: u64, value: &str) -> Task {
    Task {
        id,
        policy_id: policy,
        step: 0,
        action: "Block".into(),
        component: "c".into(),
        component_version: "1".into(),
        reversible: true,
        retryable: true,
        entity: Entity::parse(EntityKind::Ip, value).unwrap(),
        target: "waf".into(),
        provider: "aliyun".into(),
        duration: None,
        parameters: BTreeMap::new(),
        idempotency_key: format!("key-{id}"),
        status: TaskStatus::Waiting,
        ignored_reason: None,
        attempts: Vec::new(),
        attempt_count: 0,
        budget_start: None,
        budget_attempts: 0,
        next_attempt_at: None,
        failure: None,
        detail: None,
        revert_token: None,
        expires_at: None,
        revert: None,
        created_at: Time::from_millis(1_000),
        updated_at: Time::from_millis(1_000),
    }
}

#[test]
fn records_survive_a_reopen_and_indexes_follow_changes() {
    let (dir, store) = scratch();
    store
        .write_blocking(|tx| {
            tx.put_policy(None, &policy(1, "203.0.113.1"))?;
            for id in 1..=3 {
                tx.put_task(None, &task(id, 1, "203.0.113.1"))?;
            }
            Ok(())
        })
        .unwrap();
    store
        .write_blocking(|tx| {
            let old = tx.task(2)?.unwrap();
            let mut new = old.clone();
            new.status = TaskStatus::Failed;
            tx.put_task(Some(&old), &new)
        })
        .unwrap();
    drop(store);

    let store = Store::open(dir.path().join("riposte.redb")).unwrap();
    let failed = TaskFilter {
        status: Some("Failed".into()),
        ..TaskFilter::default()
    };
    let page = store.read(|r| r.list_tasks(&failed, None, 10)).unwrap();
    assert_eq!(page.items.iter().map(|t| t.id).collect::<Vec<_>>(), [2]);
    let waiting = store
        .read(|r| r.due_tasks(Time::from_millis(i64::MAX), 10))
        .unwrap();
    assert_eq!(
        waiting.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        [1, 3]
    );
}

#[test]
fn pages_are_newest_first_and_the_cursor_continues() {
    let (_dir, store) = scratch();
    store
        .write_blocking(|tx| {
            for id in 1..=7 {
                tx.put_task(None, &task(id, 1, "203.0.113.1"))?;
            }
            Ok(())
        })
        .unwrap();
    let filter = TaskFilter {
        kind: Some("ip".into()),
        ..TaskFilter::default()
    };
    let first = store.read(|r| r.list_tasks(&filter, None, 3)).unwrap();
    assert_eq!(
        first.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        [7, 6, 5]
    );
    let second = store
        .read(|r| r.list_tasks(&filter, first.next, 3))
        .unwrap();
    assert_eq!(
        second.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        [4, 3, 2]
    );
    let last = store
        .read(|r| r.list_tasks(&filter, second.next, 3))
        .unwrap();
    assert_eq!(last.items.iter().map(|t| t.id).collect::<Vec<_>>(), [1]);
    assert_eq!(last.next, None);
}

#[test]
fn another_schema_version_is_refused_and_left_untouched() {
    let (dir, store) = scratch();
    let path = dir.path().join("riposte.redb");
    drop(store);
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(tables::META)
            .unwrap()
            .insert("schema_version", "999")
            .unwrap();
        txn.commit().unwrap();
    }
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("schema version 999") && err.contains("reads version 1"),
        "{err}"
    );
    let db = redb::Database::open(&path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(tables::META).unwrap();
    assert_eq!(meta.get("schema_version").unwrap().unwrap().value(), "999");
}

#[test]
fn a_file_that_is_not_a_store_is_refused_with_its_path() {
    let dir = tempdir::Dir::new();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "not a database, just some notes".repeat(200)).unwrap();
    let err = Store::open(&path).unwrap_err().to_string();
    assert!(err.contains("notes.txt"), "{err}");
    let kept = std::fs::read_to_string(&path).unwrap();
    assert!(kept.starts_with("not a database"));
}

#[test]
fn revert_timers_follow_the_task_and_cancel_with_it() {
    let (_dir, store) = scratch();
    let mut blocked = task(1, 1, "203.0.113.1");
    blocked.status = TaskStatus::Succeeded;
    blocked.expires_at = Some(Time::from_millis(60_000));
    blocked.revert = Some(crate::model::Revert {
        status: RevertStatus::Scheduled,
        requested_by: None,
        requested_at: None,
        done_at: None,
        attempts: 0,
        next_attempt_at: None,
        failure: None,
    });
    let stored = blocked.clone();
    store
        .write_blocking(move |tx| tx.put_task(None, &stored))
        .unwrap();
    let due = store
        .read(|r| r.due_reverts(Time::from_millis(60_000), 10))
        .unwrap();
    assert_eq!(due, [(Time::from_millis(60_000), 1)]);

    let mut unblocked = blocked.clone();
    unblocked.revert.as_mut().unwrap().status = RevertStatus::Unblocked;
    store
        .write_blocking(move |tx| tx.put_task(Some(&blocked), &unblocked))
        .unwrap();
    let due = store
        .read(|r| r.due_reverts(Time::from_millis(i64::MAX), 10))
        .unwrap();
    assert!(due.is_empty());
}

#[test]
fn the_same_alert_key_is_stored_once_and_incidents_update() {
    let (_dir, store) = scratch();
    let data = serde_json::json!({"src_ip": "203.0.113.1"});
    let first = data.clone();
    let (signal, how) = store
        .write_blocking(move |tx| tx.insert_signal(SignalKind::Alert, "k1", "test", first.clone()))
        .unwrap();
    assert_eq!((signal.id, how), (1, Ingested::New));
    let again = data.clone();
    let (signal, how) = store
        .write_blocking(move |tx| tx.insert_signal(SignalKind::Alert, "k1", "test", again.clone()))
        .unwrap();
    assert_eq!((signal.id, how), (1, Ingested::Duplicate));

    let v1 = serde_json::json!({"state": "open"});
    let v2 = serde_json::json!({"state": "contained"});
    store
        .write_blocking(move |tx| tx.insert_signal(SignalKind::Incident, "i1", "test", v1.clone()))
        .unwrap();
    let (signal, how) = store
        .write_blocking(move |tx| tx.insert_signal(SignalKind::Incident, "i1", "test", v2.clone()))
        .unwrap();
    assert_eq!((signal.updates, how), (1, Ingested::Updated));
}

#[test]
fn retention_keeps_blocks_that_must_still_expire() {
    let (_dir, store) = scratch();
    let mut done = policy(1, "203.0.113.1");
    done.status = PolicyStatus::Succeeded;
    let mut live = policy(2, "203.0.113.2");
    live.status = PolicyStatus::Succeeded;
    let mut finished = task(1, 1, "203.0.113.1");
    finished.status = TaskStatus::Succeeded;
    let mut blocking = task(2, 2, "203.0.113.2");
    blocking.status = TaskStatus::Succeeded;
    blocking.expires_at = Some(Time::from_millis(10_000_000));
    blocking.revert = Some(crate::model::Revert {
        status: RevertStatus::Scheduled,
        requested_by: None,
        requested_at: None,
        done_at: None,
        attempts: 0,
        next_attempt_at: None,
        failure: None,
    });
    store
        .write_blocking(move |tx| {
            tx.put_policy(None, &done)?;
            tx.put_policy(None, &live)?;
            tx.put_task(None, &finished)?;
            tx.put_task(None, &blocking)
        })
        .unwrap();
    let purged = store
        .write_blocking(|tx| tx.purge(Time::from_millis(5_000), 100))
        .unwrap();
    assert_eq!((purged.policies, purged.tasks), (1, 1));
    assert!(store.read(|r| r.policy(1)).unwrap().is_none());
    assert!(store.read(|r| r.task(1)).unwrap().is_none());
    assert!(store.read(|r| r.task(2)).unwrap().is_some());
    let by_status = store.read(|r| r.task_ids_with("status=Succeeded")).unwrap();
    assert_eq!(by_status, [2]);
}

#[tokio::test]
async fn concurrent_writers_are_grouped_and_all_answered() {
    let (_dir, store) = scratch();
    let mut handles = Vec::new();
    for _ in 0..200 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store.write(|tx| tx.next_id("task")).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(handle.await.unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    assert!(
        store.commits() < 200,
        "200 concurrent writes took {} commits",
        store.commits()
    );
}

#[test]
fn closed_dedup_windows_are_purged_a_bounded_slice_at_a_time() {
    let (_dir, store) = scratch();
    store
        .write_blocking(|tx| {
            for n in 0..10 {
                let until = if n % 2 == 0 { 1 } else { i64::MAX };
                tx.set_dedup(
                    &format!("script|ip:203.0.113.{n}"),
                    n,
                    Time::from_millis(until),
                )?;
            }
            Ok(())
        })
        .unwrap();
    // Five closed windows; each purge looks at 4 * batch = 4 entries.
    let mut removed = 0;
    for _ in 0..3 {
        removed += store
            .write_blocking(|tx| tx.purge(Time::from_millis(0), 1))
            .unwrap()
            .dedup;
    }
    assert_eq!(removed, 5);
    let open = store
        .write_blocking(|tx| {
            let mut open = 0;
            for n in 0..10 {
                open += usize::from(tx.dedup(&format!("script|ip:203.0.113.{n}"))?.is_some());
            }
            Ok(open)
        })
        .unwrap();
    assert_eq!(open, 5, "open windows are kept");
}

#[test]
fn retention_steps_over_kept_blocks_and_ends_its_round() {
    let (_dir, store) = scratch();
    // Five old policies whose permanent blocks are still in place, then
    // three old ones that are finished.
    store
        .write_blocking(|tx| {
            for id in 1..=8 {
                let mut p = policy(id, &format!("203.0.113.{id}"));
                p.status = PolicyStatus::Succeeded;
                tx.put_policy(None, &p)?;
                let mut t = task(id, id, &format!("203.0.113.{id}"));
                t.status = TaskStatus::Succeeded;
                if id <= 5 {
                    t.revert_token = Some(format!("rule-{id}"));
                }
                tx.put_task(None, &t)?;
            }
            Ok(())
        })
        .unwrap();
    let mut rounds = 0;
    let mut purged = 0;
    loop {
        let batch = store
            .write_blocking(|tx| tx.purge(Time::from_millis(5_000), 2))
            .unwrap();
        purged += batch.policies;
        rounds += 1;
        assert!(rounds < 10, "retention never ends its round");
        if !batch.more {
            break;
        }
    }
    assert_eq!(purged, 3, "only the finished policies go");
    for id in 1..=5 {
        assert!(
            store.read(|r| r.task(id)).unwrap().is_some(),
            "block {id} kept"
        );
    }
    // The next round starts from the beginning again and finds nothing.
    let again = store
        .write_blocking(|tx| tx.purge(Time::from_millis(5_000), 2))
        .unwrap();
    assert_eq!(again.policies, 0);
}

#[test]
fn a_failing_operation_is_rolled_back_alone_and_its_batch_mates_commit() {
    let (_dir, store) = scratch();
    // The first write holds the writer while the next two queue up, so
    // they share one transaction.
    let (tell, wait) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.write_blocking(move |_tx| {
                let _ = tell.send(());
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok(())
            })
        })
    };
    wait.recv().unwrap();
    let failing = {
        let store = store.clone();
        std::thread::spawn(move || {
            store.write_blocking(|tx| {
                tx.put_task(None, &task(1, 1, "203.0.113.1"))?;
                Err::<(), _>(StoreError::Storage(
                    "simulated failure after a write".into(),
                ))
            })
        })
    };
    let innocent = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            store.write_blocking(|tx| tx.put_task(None, &task(2, 1, "203.0.113.2")))
        })
    };
    blocker.join().unwrap().unwrap();
    let err = failing.join().unwrap().unwrap_err();
    assert!(matches!(err, StoreError::Storage(_)), "{err}");
    innocent.join().unwrap().unwrap();
    assert!(
        store.read(|r| r.task(1)).unwrap().is_none(),
        "the partial write was kept"
    );
    assert!(
        store.read(|r| r.task(2)).unwrap().is_some(),
        "the innocent write was lost"
    );
}
