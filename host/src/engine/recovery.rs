//! Reconciliation at start: settle what a stop (a crash, a kill) left
//! half done.
//!
//! - `Executing` tasks whose action may repeat go back to `Waiting`; the
//!   retry carries the same idempotency key, so the provider sees one
//!   action. Others end `Failed` with "interrupted: outcome unknown".
//! - Policies whose running step finished while the daemon was down move
//!   on to their next step.
//! - `Waiting` tasks and due revert timers are picked up by the timer
//!   loop on its first pass, overdue ones at once.

use super::{Engine, EngineError};
use crate::model::{PolicyStatus, TaskStatus};
use crate::runtime::{FailureKind, TaskFailure};
use crate::store::{StoreError, Tx};

/// The message of a task whose outcome a stop made unknowable.
pub const INTERRUPTED: &str = "interrupted: outcome unknown (the daemon stopped while the \
                               action ran, and the action is irreversible, so it is not run \
                               again)";

/// Settles tasks found `Executing` at start: back to `Waiting` or
/// `Failed`.
pub(super) async fn settle_interrupted(engine: &Engine) -> Result<(), EngineError> {
    let executing = engine
        .inner()
        .store
        .read(|r| r.task_ids_with("status=Executing"))?;
    settle(engine, executing, "reconciled tasks interrupted by a stop").await;
    Ok(())
}

/// Settles tasks left `Executing` by a run of this process that could not
/// record its outcome (the store failed for longer than the run retried):
/// the same treatment as after a crash, so that no task stays `Executing`
/// until the next restart.
pub(super) async fn settle_orphans(engine: &Engine) {
    let executing = engine
        .inner()
        .store
        .read(|r| r.task_ids_with("status=Executing"));
    let Ok(executing) = executing else { return };
    let orphans = executing
        .into_iter()
        .filter(|id| !engine.is_in_flight(*id, false))
        .collect();
    settle(
        engine,
        orphans,
        "settled tasks whose outcome could not be recorded",
    )
    .await;
}

/// One write per task, sent together so that they share commits; a task
/// whose record cannot be read is logged and left alone.
async fn settle(engine: &Engine, ids: Vec<u64>, what: &'static str) {
    let mut writes = tokio::task::JoinSet::new();
    for id in ids {
        let store = engine.inner().store.clone();
        writes.spawn(async move { (id, store.write(move |tx| settle_one(tx, id)).await) });
    }
    let (mut requeued, mut failed) = (0usize, 0usize);
    while let Some(joined) = writes.join_next().await {
        match joined {
            Ok((_, Ok(Some(true)))) => requeued += 1,
            Ok((_, Ok(Some(false)))) => failed += 1,
            Ok((_, Ok(None))) => {}
            Ok((id, Err(err))) => {
                tracing::error!(task_id = id, error = %err, "cannot settle an interrupted task");
            }
            Err(err) => tracing::error!(error = %err, "settling a task panicked"),
        }
    }
    if requeued + failed > 0 {
        tracing::warn!(requeued, failed, "{what}");
    }
}

/// `Some(true)` when the task goes back to `Waiting`, `Some(false)` when it
/// ends `Failed`, `None` when it is no longer `Executing`.
fn settle_one(tx: &mut Tx<'_>, id: u64) -> Result<Option<bool>, StoreError> {
    let Some(old) = tx.task(id)? else {
        return Ok(None);
    };
    if old.status != TaskStatus::Executing {
        return Ok(None);
    }
    let now = tx.now();
    let mut task = old.clone();
    let repeat = task.may_repeat();
    if let Some(attempt) = task.attempts.last_mut()
        && attempt.ended_at.is_none()
    {
        attempt.ended_at = Some(now);
        attempt.failure = Some(TaskFailure::new(
            FailureKind::Internal,
            repeat,
            "interrupted: the daemon stopped during this attempt",
        ));
    }
    if repeat {
        task.status = TaskStatus::Waiting;
        task.next_attempt_at = None;
    } else {
        task.status = TaskStatus::Failed;
        task.failure = Some(TaskFailure::new(FailureKind::Internal, false, INTERRUPTED));
    }
    task.updated_at = now;
    tx.put_task(Some(&old), &task)?;
    super::run::refresh_policy(tx, task.policy_id)?;
    Ok(Some(repeat))
}

/// Moves on the policies whose running step finished while the daemon was
/// down. A policy that cannot be moved on (an unreadable record) is logged
/// and left as it is: one bad record must not keep the daemon from
/// starting.
pub(super) async fn advance_open_policies(engine: &Engine) {
    let open = engine.inner().store.read(|r| {
        let mut ids = r.policy_ids_with(&format!("status={}", PolicyStatus::Executing))?;
        ids.extend(r.policy_ids_with(&format!("status={}", PolicyStatus::Waiting))?);
        Ok(ids)
    });
    let open = match open {
        Ok(open) => open,
        Err(err) => {
            tracing::error!(error = %err, "cannot list open policies at start");
            return;
        }
    };
    // Concurrently, so that their writes share commits.
    let mut runs = tokio::task::JoinSet::new();
    for policy in open {
        let engine = engine.clone();
        runs.spawn(async move {
            if let Err(err) = super::run::advance(&engine, policy).await {
                tracing::error!(policy, error = %err, "cannot move a policy on at start");
            }
        });
    }
    while runs.join_next().await.is_some() {}
}
