//! Running tasks and reverts, the timer loop and retention.
//!
//! A run: wait for a provider/target slot and a rate token; claim the task
//! (`Waiting` -> `Executing`, attempt committed); call the component;
//! commit the outcome with the retry decision; then let the policy move to
//! its next step.

use std::time::Duration;

use tracing::{Instrument, info_span};

use super::Engine;
use super::plan::Planner;
use crate::model::{
    Attempt, Policy, Revert, RevertStatus, StepStatus, Task, TaskStatus, Time, derive_status,
};
use crate::runtime::{FailureKind, TaskFailure, wit};
use crate::store::{SignalKind, StoreError, TargetRecord, Tx};

/// The longest wait between tries to record an outcome (about 25 s of
/// tries in all); after that the task is left `Executing` for the
/// reconciliation at the next start.
const RECORD_RETRY_MAX: Duration = Duration::from_secs(13);

/// Writes the outcome of a call, which must not be lost, retrying storage
/// errors with a doubling wait up to [`RECORD_RETRY_MAX`].
async fn write_persistently<T, F>(
    engine: &Engine,
    what: &str,
    op: impl Fn() -> F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
{
    let mut wait = Duration::from_millis(50);
    loop {
        match engine.inner().store.write(op()).await {
            Err(StoreError::Storage(err)) if wait <= RECORD_RETRY_MAX => {
                tracing::error!(error = %err, retry_in = ?wait,
                    "cannot record the outcome of {what}; retrying");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            other => return other,
        }
    }
}

/// Frees a task's in-flight slot when its run ends, even by a panic.
struct Slot<'a> {
    engine: &'a Engine,
    task: u64,
    revert: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.engine.release_slot(self.task, self.revert);
    }
}

/// Runs one attempt of `task`, if it is still waiting and due.
pub(super) async fn run_task(engine: Engine, task: u64) {
    let span = info_span!(
        "task",
        task_id = task,
        action = tracing::field::Empty,
        component = tracing::field::Empty,
        target = tracing::field::Empty
    );
    let slot = Slot {
        engine: &engine,
        task,
        revert: false,
    };
    let retry = attempt(&engine, task).instrument(span).await;
    drop(slot);
    if retry {
        // The new run waits for `next_attempt_at` itself.
        engine.dispatch(task, TaskStatus::Waiting);
    }
}

/// One attempt; true when the task is waiting for a retry.
async fn attempt(engine: &Engine, id: u64) -> bool {
    let inner = engine.inner();
    let Ok(Some(peek)) = inner.store.read(|r| r.task(id)) else {
        return false;
    };
    if peek.status != TaskStatus::Waiting {
        return false;
    }
    let span = tracing::Span::current();
    span.record("action", peek.action.as_str());
    span.record("component", peek.component.as_str());
    span.record("target", peek.target.as_str());
    if let Some(at) = peek.next_attempt_at {
        let wait = at.until(Time::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
    let permits = inner
        .limiters
        .acquire(&peek.provider, &peek.target, &peek.action)
        .await;

    // The version that runs is fixed here and recorded with the attempt:
    // a version activated while this attempt runs is used by the next one.
    let planner = engine.planner();
    let resolved = resolve(&planner, &peek, false);
    let ran_on = resolved
        .as_ref()
        .ok()
        .map(|(installed, _)| RanOn::of(installed));
    let salt = inner.salt.clone();
    let claim_planner = planner.clone();
    let claimed = inner
        .store
        .write(move |tx| claim(tx, id, &claim_planner, &salt, ran_on.as_ref()))
        .await;
    let task = match claimed {
        Ok(Claim::Run(task)) => *task,
        Ok(Claim::Ignored(created)) => {
            for task in created {
                engine.dispatch(task.id, task.status);
            }
            return false;
        }
        Ok(Claim::NotDue) => return false,
        Err(err) => {
            tracing::error!(error = %err, "cannot record the start of an attempt; not running it");
            return false;
        }
    };

    let result = match resolved {
        Err(failure) => Err(failure),
        Ok((installed, target)) => {
            let request = request_of(&task, target);
            let report = inner
                .runtime
                .execute(
                    &installed.component,
                    &installed.grant,
                    request,
                    inner.config.call_limits.as_ref(),
                )
                .await;
            record_call_metrics(&task.action, "execute", &report);
            with_refusals(report)
        }
    };
    // The provider and target slots are for calls, not for bookkeeping.
    drop(permits);
    match &result {
        Ok(outcome) => tracing::info!(detail = %outcome.detail, "task attempt succeeded"),
        Err(failure) => tracing::info!(kind = %failure.kind, message = %failure.message,
            "task attempt failed"),
    }

    let backoff = inner.config.backoff;
    let salt = inner.salt.clone();
    let planner = engine.planner();
    // The action ran: its outcome must be recorded, or a block would have
    // no expiry and an irreversible action no record.
    let recorded = write_persistently(engine, "an attempt", || {
        let (task, result, planner, salt) =
            (task.clone(), result.clone(), planner.clone(), salt.clone());
        move |tx: &mut Tx<'_>| {
            let Some(task) = record(tx, task.clone(), result.clone(), &backoff)? else {
                return Ok(None);
            };
            // The outcome and the policy's next step commit together.
            let created = if task.status.is_terminal() {
                advance_in(tx, &planner, &salt, task.policy_id)?
            } else {
                refresh_policy(tx, task.policy_id)?;
                Vec::new()
            };
            Ok(Some((task, created)))
        }
    })
    .await;
    match recorded {
        Ok(Some((next, _))) if next.status == TaskStatus::Waiting => return true,
        // A new expiry needs no wake-up: it is at least a second away (the
        // shortest duration), and the timer loop looks a second ahead.
        Ok(Some((done, created))) => {
            let took = done
                .updated_at
                .millis()
                .saturating_sub(done.created_at.millis());
            crate::metrics::record_task(
                &done.action,
                &done.status.to_string(),
                Duration::from_millis(took.max(0) as u64),
            );
            for task in created {
                engine.dispatch(task.id, task.status);
            }
        }
        Ok(None) => {}
        Err(err) => tracing::error!(error = %err,
            "cannot record the outcome of an attempt; reconciliation will settle it"),
    }
    false
}

/// What claiming a task did.
enum Claim {
    /// The task is `Executing`, its attempt committed: call the component.
    Run(Box<Task>),
    /// The allowlist or guardrails now forbid it: it ended `Ignored`, and
    /// these tasks of the policy's next step were created.
    Ignored(Vec<Task>),
    /// It is no longer waiting, or not yet due.
    NotDue,
}

/// `Waiting` -> `Executing` with a new attempt, after checking the
/// allowlist and guardrails again (they may have changed while the task
/// waited in the queue or for a retry).
fn claim(
    tx: &mut Tx<'_>,
    id: u64,
    planner: &Planner,
    salt: &str,
    ran_on: Option<&RanOn>,
) -> Result<Claim, StoreError> {
    let Some(old) = tx.task(id)? else {
        return Ok(Claim::NotDue);
    };
    let now = tx.now();
    if old.status != TaskStatus::Waiting || old.next_attempt_at.is_some_and(|at| at > now) {
        return Ok(Claim::NotDue);
    }
    if let Some(reason) = planner.recheck(&old, now) {
        let mut task = old.clone();
        if task.attempt_count == 0 {
            task.status = TaskStatus::Ignored;
            task.ignored_reason = Some(reason);
        } else {
            // An earlier attempt may have taken effect (a timeout, a crash):
            // `Failed` keeps that visible, where `Ignored` would say nothing
            // was done.
            task.status = TaskStatus::Failed;
            task.failure = Some(TaskFailure::new(
                FailureKind::Conflict,
                false,
                format!(
                    "not retried: {reason}; an earlier attempt may have taken effect, \
                     check the target"
                ),
            ));
        }
        task.next_attempt_at = None;
        task.updated_at = now;
        tx.put_task(Some(&old), &task)?;
        return advance_in(tx, planner, salt, task.policy_id).map(Claim::Ignored);
    }
    let mut task = old.clone();
    task.status = TaskStatus::Executing;
    task.attempt_count += 1;
    task.budget_attempts += 1;
    task.budget_start.get_or_insert(now);
    task.next_attempt_at = None;
    if let Some(ran_on) = ran_on {
        task.component_version = ran_on.version.clone();
    }
    task.push_attempt(Attempt {
        number: task.attempt_count,
        started_at: now,
        ended_at: None,
        detail: None,
        failure: None,
        component_version: ran_on.map(|r| r.version.clone()),
        component_digest: ran_on.map(|r| r.digest.clone()),
    });
    task.updated_at = now;
    tx.put_task(Some(&old), &task)?;
    refresh_policy(tx, task.policy_id)?;
    Ok(Claim::Run(Box::new(task)))
}

/// Commits the outcome of an attempt and decides on a retry.
fn record(
    tx: &mut Tx<'_>,
    claimed: Task,
    result: Result<wit::Outcome, TaskFailure>,
    backoff: &super::Backoff,
) -> Result<Option<Task>, StoreError> {
    let Some(old) = tx.task(claimed.id)? else {
        return Ok(None);
    };
    if old.status != TaskStatus::Executing || old.attempt_count != claimed.attempt_count {
        return Ok(None);
    }
    let now = tx.now();
    let mut task = old.clone();
    task.updated_at = now;
    let attempt = task
        .attempts
        .last_mut()
        .expect("a claimed task has an attempt");
    attempt.ended_at = Some(now);
    match result {
        Ok(outcome) => {
            attempt.detail = Some(outcome.detail.clone());
            let partial = outcome.items.iter().any(|item| item.failure.is_some());
            task.status = if partial {
                TaskStatus::PartiallySucceeded
            } else {
                TaskStatus::Succeeded
            };
            task.detail = Some(outcome.detail);
            task.failure = None;
            task.revert_token = outcome.revert_token;
            if task.duration.is_some() && task.revert_token.is_none() {
                tracing::warn!(task_id = task.id, action = %task.action,
                    "the step has a duration but the component returned no revert token; \
                     nothing will be reverted at expiry");
            }
            if let (Some(duration), true, Some(_)) =
                (task.duration, task.reversible, &task.revert_token)
            {
                task.expires_at = Some(now.plus(duration.duration()));
                task.revert = Some(Revert {
                    status: RevertStatus::Scheduled,
                    requested_by: Some("expiry".into()),
                    requested_at: None,
                    done_at: None,
                    attempts: 0,
                    next_attempt_at: None,
                    failure: None,
                });
            }
        }
        Err(failure) => {
            attempt.failure = Some(failure.clone());
            let first = task.budget_start.unwrap_or(now);
            let delay = backoff.delay(task.budget_attempts, failure.retry_after);
            let in_budget = task.budget_attempts < backoff.max_attempts
                && now.plus(delay) <= first.plus(backoff.max_total);
            if task.may_repeat() && is_transient(&failure) && in_budget {
                task.status = TaskStatus::Waiting;
                task.next_attempt_at = Some(now.plus(delay));
            } else {
                task.status = TaskStatus::Failed;
            }
            task.failure = Some(failure);
        }
    }
    tx.put_task(Some(&old), &task)?;
    Ok(Some(task))
}

/// Failures worth a retry with backoff: the component says a retry may
/// help, and the kind is one that passes with time.
fn is_transient(failure: &TaskFailure) -> bool {
    failure.retryable
        && matches!(
            failure.kind,
            FailureKind::Throttled | FailureKind::Unreachable | FailureKind::Timeout
        )
}

/// Recomputes a policy's status from its tasks and stores it if changed.
pub(super) fn refresh_policy(tx: &mut Tx<'_>, id: u64) -> Result<Option<Policy>, StoreError> {
    let Some(old) = tx.policy(id)? else {
        return Ok(None);
    };
    let tasks = tx.tasks_of(id)?;
    let status = derive_status(&super::plan::statuses(&tasks), old.steps_remain());
    if status == old.status {
        return Ok(Some(old));
    }
    let mut policy = old.clone();
    policy.status = status;
    policy.updated_at = tx.now();
    tx.put_policy(Some(&old), &policy)?;
    Ok(Some(policy))
}

/// Moves a policy to its next step once the current one is finished, and
/// starts the new step's tasks.
pub(super) async fn advance(engine: &Engine, policy: u64) -> Result<(), StoreError> {
    let planner = engine.planner();
    let salt = engine.inner().salt.clone();
    let created = engine
        .inner()
        .store
        .write(move |tx| advance_in(tx, &planner, &salt, policy))
        .await?;
    for task in created {
        engine.dispatch(task.id, task.status);
    }
    Ok(())
}

/// [`advance`] inside a write: marks a finished running step done,
/// evaluates the next ones, stores the new tasks and the policy's status.
fn advance_in(
    tx: &mut Tx<'_>,
    planner: &Planner,
    salt: &str,
    policy: u64,
) -> Result<Vec<Task>, StoreError> {
    let Some(old) = tx.policy(policy)? else {
        return Ok(Vec::new());
    };
    // Even a policy whose tasks are all terminal is looked at: its last
    // running step is marked done here.
    let open = |s: &crate::model::StepState| {
        s.status == StepStatus::Running || s.status == StepStatus::Pending
    };
    if !old.steps.iter().any(open) {
        return refresh_policy(tx, policy).map(|_| Vec::new());
    }
    // The planner holds the latest version of each script compiled; an
    // older version is read (and its CEL compiled) from the store.
    let cached = planner
        .scripts
        .get(&old.script.name)
        .filter(|script| script.version == old.script.version)
        .cloned();
    let script = match cached {
        Some(script) => script,
        None => match tx.script(&old.script.name, old.script.version)? {
            Some(script) => std::sync::Arc::new(script),
            None => return Ok(Vec::new()),
        },
    };
    let existing = tx.tasks_of(policy)?;
    // Only a pending step's `when` needs the alert.
    let pending = old.steps.iter().any(|s| s.status == StepStatus::Pending);
    let alert = match old.source.alert.filter(|_| pending) {
        Some(id) => {
            let kind = match old.source.kind {
                crate::model::SourceKind::IncidentRule => SignalKind::Incident,
                _ => SignalKind::Alert,
            };
            tx.signal(kind, id)?.map(|signal| signal.data)
        }
        None => None,
    };
    let mut new = old.clone();
    let created = planner.advance(tx, &script, &mut new, &existing, alert.as_ref(), salt)?;
    let mut all = existing;
    all.extend(created.iter().cloned());
    new.status = derive_status(&super::plan::statuses(&all), new.steps_remain());
    if new != old {
        tx.put_policy(Some(&old), &new)?;
    }
    for task in &created {
        tx.put_task(None, task)?;
    }
    Ok(created)
}

/// Runs (or retries) the revert of `task`.
pub(super) async fn run_revert(engine: Engine, task: u64) {
    let span = info_span!("revert", task_id = task);
    let _slot = Slot {
        engine: &engine,
        task,
        revert: true,
    };
    revert(&engine, task).instrument(span).await;
}

async fn revert(engine: &Engine, id: u64) {
    let inner = engine.inner();
    let claimed = inner.store.write(move |tx| claim_revert(tx, id)).await;
    let task = match claimed {
        Ok(Some(task)) => task,
        Ok(None) => return,
        Err(err) => {
            tracing::error!(error = %err, "cannot record the start of a revert");
            return;
        }
    };
    let permits = inner
        .limiters
        .acquire(&task.provider, &task.target, &task.action)
        .await;
    let planner = engine.planner();
    let result = match resolve(&planner, &task, true) {
        Ok((installed, target)) => {
            let token = task.revert_token.clone().unwrap_or_default();
            let report = inner
                .runtime
                .revert(
                    &installed.component,
                    &installed.grant,
                    request_of(&task, target),
                    token,
                    inner.config.call_limits.as_ref(),
                )
                .await;
            record_call_metrics(&task.action, "revert", &report);
            with_refusals(report)
        }
        Err(failure) => Err(failure),
    };
    // The provider and target slots are for calls, not for bookkeeping.
    drop(permits);
    let backoff = inner.config.revert_backoff;
    let recorded = write_persistently(engine, "a revert", || {
        let result = result.clone();
        move |tx: &mut Tx<'_>| record_revert(tx, id, result.clone(), &backoff)
    })
    .await;
    match recorded {
        Ok(Some(revert)) if revert.status == RevertStatus::Unblocked => {
            tracing::info!("unblocked");
        }
        Ok(Some(revert)) if revert.status == RevertStatus::RevertFailed => {
            let failure = revert.failure.map(|f| f.to_string()).unwrap_or_default();
            tracing::error!(failure = %failure,
                "revert failed for good; the block stays in place until an operator acts");
        }
        Ok(_) => inner.wake.notify_one(),
        Err(err) => tracing::error!(error = %err, "cannot record the outcome of a revert"),
    }
}

/// Marks a due revert as running, with one more attempt.
fn claim_revert(tx: &mut Tx<'_>, id: u64) -> Result<Option<Task>, StoreError> {
    let Some(old) = tx.task(id)? else {
        return Ok(None);
    };
    let now = tx.now();
    let Some(revert) = &old.revert else {
        return Ok(None);
    };
    let due = match revert.status {
        RevertStatus::Scheduled => old.expires_at.is_some_and(|at| at <= now),
        RevertStatus::Reverting => revert.next_attempt_at.is_none_or(|at| at <= now),
        _ => false,
    };
    if !due {
        return Ok(None);
    }
    let mut task = old.clone();
    let revert = task.revert.as_mut().expect("checked above");
    if revert.status == RevertStatus::Scheduled {
        revert.requested_at = Some(now);
    }
    revert.status = RevertStatus::Reverting;
    revert.attempts += 1;
    revert.next_attempt_at = None;
    task.updated_at = now;
    tx.put_task(Some(&old), &task)?;
    Ok(Some(task))
}

fn record_revert(
    tx: &mut Tx<'_>,
    id: u64,
    result: Result<wit::Outcome, TaskFailure>,
    backoff: &super::Backoff,
) -> Result<Option<Revert>, StoreError> {
    let Some(old) = tx.task(id)? else {
        return Ok(None);
    };
    let now = tx.now();
    let mut task = old.clone();
    let Some(revert) = task.revert.as_mut() else {
        return Ok(None);
    };
    match result {
        Ok(_) => {
            revert.status = RevertStatus::Unblocked;
            revert.done_at = Some(now);
            revert.failure = None;
        }
        Err(failure) => {
            let first = revert.requested_at.unwrap_or(now);
            let delay = backoff.delay(revert.attempts, failure.retry_after);
            let in_budget = revert.attempts < backoff.max_attempts
                && now.plus(delay) <= first.plus(backoff.max_total);
            if failure.retryable && in_budget {
                revert.next_attempt_at = Some(now.plus(delay));
            } else {
                revert.status = RevertStatus::RevertFailed;
            }
            revert.failure = Some(failure);
        }
    }
    let revert = revert.clone();
    task.updated_at = now;
    tx.put_task(Some(&old), &task)?;
    let object = format!("task/{id}");
    let detail = match revert.status {
        RevertStatus::Unblocked => "unblocked",
        RevertStatus::RevertFailed => "revert failed",
        _ => "revert will be retried",
    };
    let actor = revert
        .requested_by
        .clone()
        .unwrap_or_else(|| "expiry".into());
    tx.audit(&actor, "task.revert", &object, detail)?;
    Ok(Some(revert))
}

/// The component version an attempt ran on.
struct RanOn {
    version: String,
    digest: String,
}

impl RanOn {
    fn of(installed: &super::Installed) -> Self {
        Self {
            version: installed.component.info().version.clone(),
            digest: installed.component.digest().to_string(),
        }
    }
}

/// The component and target a task runs with, or why it cannot run: the
/// action's component was removed, or the target deleted, since the task
/// was created.
///
/// Execution uses the active version. A revert uses the version whose
/// attempt succeeded (its revert token is that version's), while it is
/// installed, else the active one. A disabled component starts nothing
/// new, but still reverts what it did: a block must not outlive its expiry
/// because its component was disabled.
fn resolve<'p>(
    planner: &'p Planner,
    task: &Task,
    revert: bool,
) -> Result<(std::sync::Arc<super::Installed>, &'p TargetRecord), TaskFailure> {
    let executed = revert
        .then(|| task.executed_digest())
        .flatten()
        .and_then(|digest| planner.catalog.version(digest));
    let active = || planner.catalog.action(&task.action).map(|(i, _)| i);
    let Some(installed) = executed.or_else(active) else {
        return Err(TaskFailure::new(
            FailureKind::NotFound,
            false,
            format!("no installed component implements `{}`", task.action),
        ));
    };
    let component = &installed.component.info().name;
    if !revert && !planner.catalog.is_enabled(component) {
        return Err(TaskFailure::new(
            FailureKind::InvalidInput,
            false,
            format!("component `{component}` is disabled; enable it, then retry the task"),
        ));
    }
    let Some(target) = planner.targets.get(&task.target) else {
        return Err(TaskFailure::new(
            FailureKind::NotFound,
            false,
            format!("target `{}` no longer exists", task.target),
        ));
    };
    Ok((installed, target))
}

/// The WIT request for a task on a target.
fn request_of(task: &Task, target: &TargetRecord) -> wit::ActionRequest {
    wit::ActionRequest {
        action: task.action.clone(),
        task_id: task.id.to_string(),
        idempotency_key: task.idempotency_key.clone(),
        attempt: task.attempt_count.max(1),
        entity: task.entity.to_wit(),
        target: wit::Target {
            id: target.id.clone(),
            provider: target.provider.clone(),
            account: target.account.clone(),
            region: target.region.clone(),
            resource: target.resource.clone(),
            endpoint: target.endpoint.clone(),
            credential: target.credential.clone(),
            settings: target
                .settings
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
        },
        duration_seconds: task.duration.map(|span| span.seconds()),
        parameters: task
            .parameters
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect(),
    }
}

/// How often the timer loop looks for tasks left `Executing` by a run that
/// could not record its outcome.
const ORPHAN_SWEEP: Duration = Duration::from_secs(60);

/// How far ahead the timer loop looks at most; it also wakes when told.
const TIMER_HORIZON: Duration = Duration::from_secs(1);

/// Starts due tasks and reverts, and sleeps until the next one is due.
pub(super) async fn timer_loop(engine: Engine) {
    let mut stop = engine.inner().stop.subscribe();
    let mut last_sweep = std::time::Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        if last_sweep.elapsed() >= ORPHAN_SWEEP {
            last_sweep = std::time::Instant::now();
            super::recovery::settle_orphans(&engine).await;
        }
        let now = Time::now();
        let due = engine
            .inner()
            .store
            .read(|r| Ok((r.due_tasks(now, 10_000)?, r.due_reverts(now, 10_000)?)));
        match due {
            Ok((tasks, reverts)) => {
                for (_, id) in tasks {
                    if !engine.is_in_flight(id, false) {
                        engine.dispatch(id, TaskStatus::Waiting);
                    }
                }
                for (_, id) in reverts {
                    if !engine.is_in_flight(id, true) {
                        engine.dispatch_revert(id);
                    }
                }
            }
            Err(err) => tracing::error!(error = %err, "timer loop cannot read the store"),
        }
        let next = engine
            .inner()
            .store
            .read(|r| r.next_due_after(now))
            .ok()
            .flatten();
        let sleep = next.map_or(TIMER_HORIZON, |at| at.until(Time::now()).min(TIMER_HORIZON));
        tokio::select! {
            () = tokio::time::sleep(sleep.max(Duration::from_millis(1))) => {}
            () = engine.inner().wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

/// Deletes records older than the retention period, a batch at a time.
pub(super) async fn retention_loop(engine: Engine) {
    let mut stop = engine.inner().stop.subscribe();
    let config = &engine.inner().config;
    loop {
        let cutoff = Time::from_millis(
            Time::now().millis() - i64::try_from(config.retention.seconds() * 1000).unwrap_or(0),
        );
        let batch = config.purge_batch;
        loop {
            match engine
                .inner()
                .store
                .write(move |tx| tx.purge(cutoff, batch))
                .await
            {
                Ok(purged) => {
                    if purged.policies + purged.alerts + purged.audit > 0 {
                        tracing::info!(
                            policies = purged.policies,
                            tasks = purged.tasks,
                            alerts = purged.alerts,
                            audit = purged.audit,
                            "retention purge"
                        );
                    }
                    if !purged.more {
                        break;
                    }
                }
                Err(err) => {
                    tracing::error!(error = %err, "retention purge failed");
                    break;
                }
            }
            tokio::task::yield_now().await;
        }
        tokio::select! {
            () = tokio::time::sleep(config.purge_every) => {}
            _ = stop.changed() => return,
        }
    }
}

fn record_call_metrics<T>(
    action: &str,
    kind: &'static str,
    report: &crate::runtime::CallReport<T>,
) {
    let outcome = match &report.result {
        Ok(_) => "ok".to_string(),
        Err(failure) => failure.kind.to_string(),
    };
    crate::metrics::record_call(
        action,
        kind,
        report.elapsed,
        &outcome,
        report.refusals.len(),
    );
}

/// The call's result, with the requests the egress gate refused named in
/// a failure's message (the guest only learns "not granted"), so that an
/// operator sees which origin to grant or which endpoint is wrong.
fn with_refusals<T>(report: crate::runtime::CallReport<T>) -> Result<T, TaskFailure> {
    let mut result = report.result;
    if let Err(failure) = &mut result
        && !report.refusals.is_empty()
    {
        const SHOWN: usize = 3;
        let mut named = report.refusals[..report.refusals.len().min(SHOWN)].join("; ");
        if report.refusals.len() > SHOWN {
            named.push_str(&format!("; and {} more", report.refusals.len() - SHOWN));
        }
        failure.message = format!("{}; the egress gate refused: {named}", failure.message);
    }
    result
}
