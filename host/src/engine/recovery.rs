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

/// The message of a task whose outcome a stop made unknowable.
pub const INTERRUPTED: &str = "interrupted: outcome unknown (the daemon stopped while the \
                               action ran, and the action is irreversible, so it is not run \
                               again)";

/// Settles tasks found `Executing`: back to `Waiting` or `Failed`.
pub(super) async fn settle_interrupted(engine: &Engine) -> Result<(), EngineError> {
    let store = &engine.inner().store;
    let executing = store.read(|r| r.task_ids_with("status=Executing"))?;
    let (requeued, failed) = store
        .write(move |tx| {
            let (mut requeued, mut failed) = (0usize, 0usize);
            for id in executing {
                let Some(old) = tx.task(id)? else { continue };
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
                if task.may_repeat() {
                    task.status = TaskStatus::Waiting;
                    task.next_attempt_at = None;
                    requeued += 1;
                } else {
                    task.status = TaskStatus::Failed;
                    task.failure =
                        Some(TaskFailure::new(FailureKind::Internal, false, INTERRUPTED));
                    failed += 1;
                }
                task.updated_at = now;
                tx.put_task(Some(&old), &task)?;
                super::run::refresh_policy(tx, task.policy_id)?;
            }
            Ok((requeued, failed))
        })
        .await?;
    if requeued + failed > 0 {
        tracing::warn!(requeued, failed, "reconciled tasks interrupted by a stop");
    }
    Ok(())
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
