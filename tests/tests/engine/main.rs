//! The engine end to end: alerts in, counted side effects out, against
//! the counter fixture and a loopback endpoint that records every call.

mod blocks;
mod crash;
mod dedup;
mod guard;
mod retry;
mod steps;
mod triggers;
mod validation;

use std::time::{Duration, Instant};

use riposte::engine::Engine;
use riposte::model::{Task, TaskStatus};
use riposte::store::{SignalKind, TaskFilter};
use serde_json::json;

/// Every task of the engine's store, oldest first.
pub fn all_tasks(engine: &Engine) -> Vec<Task> {
    let mut page = engine
        .store()
        .read(|r| r.list_tasks(&TaskFilter::default(), None, 500))
        .unwrap()
        .items;
    page.reverse();
    page
}

/// Waits until `check` holds on all tasks, or panics after `limit`.
pub async fn wait_tasks(
    engine: &Engine,
    what: &str,
    limit: Duration,
    check: impl Fn(&[Task]) -> bool,
) -> Vec<Task> {
    let start = Instant::now();
    loop {
        let tasks = all_tasks(engine);
        if check(&tasks) {
            return tasks;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}; tasks: {:#?}",
            tasks
                .iter()
                .map(|t| (
                    t.id,
                    t.status,
                    t.failure.as_ref().map(|f| f.message.clone())
                ))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether every task is in `status`.
pub fn all_in(tasks: &[Task], status: TaskStatus, count: usize) -> bool {
    tasks.len() == count && tasks.iter().all(|task| task.status == status)
}

/// Ingests an alert for `kind` (the rule's name) from `ip`.
pub async fn alert(engine: &Engine, kind: &str, ip: &str) -> riposte::engine::IngestReport {
    engine
        .ingest(
            SignalKind::Alert,
            None,
            "test",
            json!({"kind": kind, "src_ip": ip}),
        )
        .await
        .unwrap()
}
