//! The engine: triggers in, tasks out. It matches alerts against response
//! rules, extracts and normalizes entities, joins duplicates inside the
//! dedup window, applies the allowlist and guardrails, opens policies and
//! tasks, runs them through the runtime under concurrency and rate limits,
//! retries what may pass, reverts on schedule or on request, and
//! reconciles after a crash.
//!
//! What it owns: decisions and scheduling. What it must not touch: redb
//! tables (it goes through [`crate::store`] operations) and wasmtime (it
//! goes through [`crate::runtime::Runtime`]).
//!
//! # Durability
//!
//! A task's move to `Executing`, with its attempt number, is committed
//! before its component is called, and its outcome is committed before a
//! later step, a retry or a revert timer depends on it. On start, tasks
//! found `Executing` ran when the daemon stopped: those of actions that
//! may repeat (retryable and reversible) go back to `Waiting` with the same
//! idempotency key; the others end `Failed` with "interrupted: outcome
//! unknown" and are never run again on the engine's own initiative.

mod admin;
mod catalog;
mod limits;
mod plan;
mod recovery;
mod run;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

pub use admin::credential_name;
pub use catalog::{Catalog, Installed};
pub use limits::{Backoff, Rate, default_rates};
pub use plan::{Draft, Planner, Skipped};

use crate::model::{
    AllowEntry, Entity, Guardrails, KEPT_ALERT_IDS, Known, RuleSpec, ScriptSpec, ScriptVersion,
    Source, SourceKind, Span, Time, TriggerKind,
};
use crate::runtime::{Limits, Runtime};
use crate::store::{Ingested, SignalKind, Store, StoreError, TargetRecord};

/// How the engine behaves; every field has a production default.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Calls running at once per provider.
    pub provider_concurrency: usize,
    /// Calls running at once per target.
    pub target_concurrency: usize,
    /// Rate limits by action identifier or provider.
    pub rates: BTreeMap<String, Rate>,
    /// Retries of failed tasks.
    pub backoff: Backoff,
    /// Retries of failed reverts.
    pub revert_backoff: Backoff,
    /// Records older than this are purged.
    pub retention: Span,
    /// How often retention runs, and how many records a batch deletes.
    pub purge_every: Duration,
    pub purge_batch: usize,
    pub guardrails: Guardrails,
    /// Per-call limits; `None` uses the runtime's.
    pub call_limits: Option<Limits>,
    /// Seals target credentials at rest; without one, credentials cannot
    /// be stored.
    pub vault: Option<Arc<crate::vault::Vault>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            provider_concurrency: 32,
            target_concurrency: 8,
            rates: default_rates(),
            backoff: Backoff::default(),
            revert_backoff: Backoff {
                max_attempts: 10,
                max_total: Duration::from_secs(3600),
                ..Backoff::default()
            },
            retention: Span::from_seconds(90 * 86_400).expect("90 days is a valid span"),
            purge_every: Duration::from_secs(600),
            purge_batch: 500,
            guardrails: Guardrails::with_local_addresses(Vec::new()),
            call_limits: None,
            vault: None,
        }
    }
}

/// Why an engine operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The input is not valid; each line names a field.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the record's state (retry of a task
    /// that did not fail, unblock of an irreversible action).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What ingesting one alert or incident did.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub signal: u64,
    /// `new`, `duplicate` or `updated`.
    pub delivery: &'static str,
    /// Policies opened for it.
    pub opened: Vec<u64>,
    /// Policies it joined inside their dedup window.
    pub joined: Vec<u64>,
    /// Tasks created (ignored ones included).
    pub tasks: usize,
    /// Rules that matched but produced nothing, with the reason.
    pub skipped: Vec<(String, String)>,
}

pub(crate) struct Inner {
    store: Store,
    runtime: Arc<Runtime>,
    config: EngineConfig,
    planner: RwLock<Arc<Planner>>,
    /// Held across a reload's read and install, so that two reloads racing
    /// cannot install an older snapshot over a newer one.
    reload: Mutex<()>,
    limiters: limits::Limiters,
    /// Per-rule policy rate limits, by rule name: (window start, count).
    rule_windows: Mutex<BTreeMap<String, (Instant, u32)>>,
    /// Held across changes to targets and their credentials, so that the
    /// store and the runtime's secret store change in the same order.
    target_changes: tokio::sync::Mutex<()>,
    /// Tasks (and reverts) with a run in progress in this process.
    in_flight: Mutex<HashSet<(u64, bool)>>,
    wake: Notify,
    salt: String,
    stop: tokio::sync::watch::Sender<bool>,
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads rules, scripts, targets and the allowlist from `store`,
    /// reconciles tasks interrupted by a stop, and starts the timer and
    /// retention loops. Overdue revert timers fire at once.
    pub async fn start(
        config: EngineConfig,
        store: Store,
        runtime: Arc<Runtime>,
        catalog: Catalog,
    ) -> Result<Self, EngineError> {
        let salt = store.read(|r| r.salt())?;
        let limiters = limits::Limiters::new(
            config.provider_concurrency,
            config.target_concurrency,
            config.rates.clone(),
        );
        let (stop, _) = tokio::sync::watch::channel(false);
        let planner = Planner {
            catalog,
            guardrails: config.guardrails.clone(),
            ..Planner::default()
        };
        let engine = Self {
            inner: Arc::new(Inner {
                store,
                runtime,
                config,
                planner: RwLock::new(Arc::new(planner)),
                reload: Mutex::new(()),
                limiters,
                rule_windows: Mutex::default(),
                target_changes: tokio::sync::Mutex::new(()),
                in_flight: Mutex::default(),
                wake: Notify::new(),
                salt,
                stop,
            }),
        };
        engine.reload()?;
        engine.load_secrets_and_switches()?;
        recovery::settle_interrupted(&engine).await?;
        // Due timers fire while open policies are being moved on.
        tokio::spawn(run::timer_loop(engine.clone()));
        tokio::spawn(run::retention_loop(engine.clone()));
        recovery::advance_open_policies(&engine).await;
        Ok(engine)
    }

    /// The store the engine writes to.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Stops the timer loops. Calls in progress finish on their own.
    pub fn stop(&self) {
        let _ = self.inner.stop.send(true);
        self.inner.wake.notify_waiters();
    }

    pub(crate) fn planner(&self) -> Arc<Planner> {
        self.inner
            .planner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Re-reads rules, scripts, targets and the allowlist into a new
    /// planner snapshot.
    fn reload(&self) -> Result<(), EngineError> {
        let _reloading = self.inner.reload.lock().unwrap_or_else(|e| e.into_inner());
        let (rules, scripts, targets, allowlist) = self.inner.store.read(|r| {
            Ok((
                r.rules()?,
                r.latest_scripts()?,
                r.targets()?,
                r.allowlist()?,
            ))
        })?;
        let mut planner = self
            .inner
            .planner
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *planner = Arc::new(Planner {
            catalog: planner.catalog.clone(),
            targets: targets.into_iter().map(|t| (t.id.clone(), t)).collect(),
            allowlist,
            guardrails: planner.guardrails.clone(),
            scripts: scripts
                .into_iter()
                .map(|s| (s.spec.name.clone(), Arc::new(s)))
                .collect(),
            rules,
        });
        Ok(())
    }

    /// Changes the catalog of the current planner snapshot.
    pub(crate) fn with_catalog(&self, change: impl FnOnce(&mut Catalog)) {
        let _reloading = self.inner.reload.lock().unwrap_or_else(|e| e.into_inner());
        let mut planner = self
            .inner
            .planner
            .write()
            .unwrap_or_else(|e| e.into_inner());
        let mut next = Planner::clone(&planner);
        change(&mut next.catalog);
        *planner = Arc::new(next);
    }

    /// The response rules, scripts (latest versions), targets and allowlist
    /// in force.
    pub fn rules(&self) -> Vec<RuleSpec> {
        self.planner().rules.clone()
    }

    /// What scripts and rules may name right now.
    pub fn known(&self) -> Known {
        let planner = self.planner();
        Known {
            actions: planner.catalog.facts(),
            targets: planner
                .targets
                .values()
                .map(|t| (t.id.clone(), t.provider.clone()))
                .collect(),
            scripts: planner.scripts.keys().cloned().collect(),
        }
    }

    /// Creates or replaces a target.
    pub async fn put_target(&self, target: TargetRecord, actor: &str) -> Result<(), EngineError> {
        check_target(&target)?;
        let actor = actor.to_string();
        self.inner
            .store
            .write(move |tx| {
                tx.put_target(&target)?;
                tx.audit(&actor, "target.put", &format!("target/{}", target.id), "")
            })
            .await?;
        self.reload()
    }

    /// Validates `spec` and publishes it as the script's next version.
    pub async fn publish_script(
        &self,
        spec: ScriptSpec,
        actor: &str,
    ) -> Result<ScriptVersion, EngineError> {
        spec.validate(&self.known()).map_err(EngineError::Invalid)?;
        let actor = actor.to_string();
        let version = self
            .inner
            .store
            .write(move |tx| {
                let version = tx.publish_script(spec.clone(), &actor)?;
                let object = format!("script/{}", version.spec.name);
                tx.audit(
                    &actor,
                    "script.publish",
                    &object,
                    &format!("version {}", version.version),
                )?;
                Ok(version)
            })
            .await?;
        self.reload()?;
        Ok(version)
    }

    /// Validates `spec` and publishes it as version 1 of a new script;
    /// refused when a script of that name exists.
    pub async fn create_script(
        &self,
        spec: ScriptSpec,
        actor: &str,
    ) -> Result<ScriptVersion, EngineError> {
        spec.validate(&self.known()).map_err(EngineError::Invalid)?;
        let actor = actor.to_string();
        let version = self
            .inner
            .store
            .write(move |tx| {
                let name = &spec.name;
                if tx.latest_version(name)? > 0 {
                    return Err(StoreError::Conflict(format!(
                        "script `{name}` exists; publish a new version with \
                         POST /v1/scripts/{name}/versions"
                    )));
                }
                let version = tx.publish_script(spec.clone(), &actor)?;
                tx.audit(
                    &actor,
                    "script.publish",
                    &format!("script/{name}"),
                    "version 1",
                )?;
                Ok(version)
            })
            .await
            .map_err(store_to_engine)?;
        self.reload()?;
        Ok(version)
    }

    /// Validates and saves a response rule.
    pub async fn put_rule(&self, rule: RuleSpec, actor: &str) -> Result<(), EngineError> {
        rule.validate(&self.known()).map_err(EngineError::Invalid)?;
        let actor = actor.to_string();
        self.inner
            .store
            .write(move |tx| {
                tx.put_rule(&rule)?;
                let detail = if rule.enabled { "enabled" } else { "disabled" };
                tx.audit(&actor, "rule.put", &format!("rule/{}", rule.name), detail)
            })
            .await?;
        self.reload()
    }

    /// Adds an allowlist entry after normalizing its value.
    pub async fn add_allow(
        &self,
        mut entry: AllowEntry,
        actor: &str,
    ) -> Result<AllowEntry, EngineError> {
        entry.value = AllowEntry::check_value(entry.kind, &entry.value)
            .map_err(|err| EngineError::Invalid(vec![format!("field `value`: {err}")]))?;
        if entry.reason.trim().is_empty() {
            return Err(EngineError::Invalid(vec![
                "field `reason`: say why this entity must never be acted on".into(),
            ]));
        }
        entry.created_by = actor.to_string();
        let actor = actor.to_string();
        let entry = self
            .inner
            .store
            .write(move |tx| {
                let entry = tx.add_allow(entry.clone())?;
                let detail = format!("{} {}", entry.kind, entry.value);
                tx.audit(
                    &actor,
                    "allowlist.add",
                    &format!("allow/{}", entry.id),
                    &detail,
                )?;
                Ok(entry)
            })
            .await?;
        self.reload()?;
        Ok(entry)
    }

    /// Removes an allowlist entry.
    pub async fn remove_allow(&self, id: u64, actor: &str) -> Result<(), EngineError> {
        let actor = actor.to_string();
        let removed = self
            .inner
            .store
            .write(move |tx| {
                let removed = tx.remove_allow(id)?;
                if removed {
                    tx.audit(&actor, "allowlist.remove", &format!("allow/{id}"), "")?;
                }
                Ok(removed)
            })
            .await?;
        if !removed {
            return Err(EngineError::NotFound(format!("allowlist entry {id}")));
        }
        self.reload()
    }

    /// Ingests an alert or incident: stores it once per key, runs the
    /// matching rules, opens or joins policies, and starts their tasks.
    ///
    /// `key` is the sender's idempotency key; without one, the SHA-256 of
    /// the canonical JSON of `data` is used, so the same alert delivered
    /// twice is recognised.
    pub async fn ingest(
        &self,
        kind: SignalKind,
        key: Option<String>,
        source: &str,
        data: Value,
    ) -> Result<IngestReport, EngineError> {
        check_alert(&data).map_err(|err| EngineError::Invalid(vec![err]))?;
        let key = key.unwrap_or_else(|| content_key(&data));
        let planner = self.planner();
        let source_kind = match kind {
            SignalKind::Alert => SourceKind::AlertRule,
            SignalKind::Incident => SourceKind::IncidentRule,
        };
        let make_source = |rule: &RuleSpec| Source {
            kind: source_kind,
            rule: Some(rule.name.clone()),
            alert: None,
            actor: None,
        };
        let (first, second) = match kind {
            SignalKind::Alert => (TriggerKind::Alert, None),
            SignalKind::Incident => (TriggerKind::Incident, Some(TriggerKind::IncidentUpdate)),
        };
        let on_new = planner.drafts(first, &data, make_source);
        let on_update = second.map(|trigger| planner.drafts(trigger, &data, make_source));
        let engine = self.clone();
        let source = source.to_string();
        let salt = self.inner.salt.clone();
        let (report, tasks) = self
            .inner
            .store
            .write(move |tx| {
                let (mut signal, delivery) = tx.insert_signal(kind, &key, &source, data.clone())?;
                if delivery == Ingested::Duplicate && signal.data != data {
                    return Err(StoreError::Conflict(format!(
                        "idempotency key already used by alert {} with different content; \
                         use a new key for a new alert",
                        signal.id
                    )));
                }
                let (drafts, skipped) = match (delivery, on_update.clone()) {
                    (Ingested::Duplicate, _) => (Vec::new(), Vec::new()),
                    (Ingested::Updated, Some(update)) => update,
                    (Ingested::Updated, None) => (Vec::new(), Vec::new()),
                    (Ingested::New, _) => on_new.clone(),
                };
                let mut report = IngestReport {
                    signal: signal.id,
                    delivery: match delivery {
                        Ingested::New => "new",
                        Ingested::Duplicate => "duplicate",
                        Ingested::Updated => "updated",
                    },
                    opened: Vec::new(),
                    joined: Vec::new(),
                    tasks: 0,
                    skipped: skipped.into_iter().map(|s| (s.rule, s.reason)).collect(),
                };
                let mut tasks = Vec::new();
                for mut draft in drafts {
                    draft.source.alert = Some(signal.id);
                    if let Some((dedup_key, _)) = &draft.dedup
                        && let Some(existing) = tx.dedup(dedup_key)?
                    {
                        Planner::join(tx, existing, signal.id)?;
                        report.joined.push(existing);
                        continue;
                    }
                    if let Some(rule) = &draft.rule
                        && let Err(reason) = engine.check_rule_rate(rule, &planner)
                    {
                        report.skipped.push((rule.clone(), reason));
                        continue;
                    }
                    let (policy, created) =
                        planner.open_policy(tx, &draft, Some(&signal.data), &salt)?;
                    report.opened.push(policy.id);
                    report.tasks += created.len();
                    tasks.extend(created);
                }
                let before = signal.policies.len();
                for id in report.opened.iter().chain(&report.joined) {
                    if signal.policies.len() < KEPT_ALERT_IDS && !signal.policies.contains(id) {
                        signal.policies.push(*id);
                    }
                }
                if signal.policies.len() != before {
                    tx.put_signal(&signal)?;
                }
                Ok((report, tasks))
            })
            .await
            .map_err(store_to_engine)?;
        for task in tasks {
            self.dispatch(task.id, task.status);
        }
        tracing::info!(
            signal = report.signal,
            delivery = report.delivery,
            opened = report.opened.len(),
            joined = report.joined.len(),
            tasks = report.tasks,
            "ingested"
        );
        Ok(report)
    }

    /// Counts one policy against its rule's rate limit.
    fn check_rule_rate(&self, rule: &str, planner: &Planner) -> Result<(), String> {
        let Some(limit) = planner
            .rules
            .iter()
            .find(|r| r.name == rule)
            .and_then(|r| r.rate_limit)
        else {
            return Ok(());
        };
        let mut windows = self
            .inner
            .rule_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let window = windows.entry(rule.to_string()).or_insert((now, 0));
        if now.duration_since(window.0) >= limit.per.duration() {
            *window = (now, 0);
        }
        if window.1 >= limit.count {
            return Err(format!("rate limit `{limit}` of rule `{rule}` reached"));
        }
        window.1 += 1;
        Ok(())
    }

    /// Runs the latest version of a script on `entity` by hand (source
    /// `manual-script-run`); never joins an existing policy.
    pub async fn run_script(
        &self,
        script: &str,
        entity: Entity,
        actor: &str,
    ) -> Result<u64, EngineError> {
        let source = Source {
            kind: SourceKind::ManualScriptRun,
            rule: None,
            alert: None,
            actor: Some(actor.to_string()),
        };
        self.run_script_from(script, entity, source, actor, None)
            .await
            .map(|(policy, _)| policy)
    }

    /// [`Engine::run_script`] with the caller's idempotency key: a repeat
    /// of the same key by the same actor within a day opens nothing and
    /// answers the first policy, with `true`.
    pub async fn run_script_once(
        &self,
        script: &str,
        entity: Entity,
        actor: &str,
        key: Option<&str>,
    ) -> Result<(u64, bool), EngineError> {
        let source = Source {
            kind: SourceKind::ManualScriptRun,
            rule: None,
            alert: None,
            actor: Some(actor.to_string()),
        };
        let key = key.map(|key| request_key(actor, key));
        self.run_script_from(script, entity, source, actor, key)
            .await
    }

    /// Runs the latest version of a script on `entity` with `source`;
    /// with `key`, at most once per key for a day.
    pub(crate) async fn run_script_from(
        &self,
        script: &str,
        entity: Entity,
        source: Source,
        actor: &str,
        key: Option<String>,
    ) -> Result<(u64, bool), EngineError> {
        let planner = self.planner();
        let version = planner
            .scripts
            .get(script)
            .cloned()
            .ok_or_else(|| EngineError::NotFound(format!("script `{script}`")))?;
        let draft = Draft {
            entity,
            script: version,
            source,
            dedup: None,
            rule: None,
        };
        let actor = actor.to_string();
        let salt = self.inner.salt.clone();
        let (policy, repeat, tasks) = self
            .inner
            .store
            .write(move |tx| {
                if let Some(key) = &key
                    && let Some(policy) = tx.dedup(key)?
                {
                    return Ok((policy, true, Vec::new()));
                }
                let (policy, tasks) = planner.open_policy(tx, &draft, None, &salt)?;
                if let Some(key) = &key {
                    let until = Time::from_millis(tx.now().millis() + REQUEST_KEY_MILLIS);
                    tx.set_dedup(key, policy.id, until)?;
                }
                let detail = format!("{} on {}", draft.script.spec.name, draft.entity);
                tx.audit(
                    &actor,
                    "script.run",
                    &format!("policy/{}", policy.id),
                    &detail,
                )?;
                Ok((policy.id, false, tasks))
            })
            .await?;
        for task in tasks {
            self.dispatch(task.id, task.status);
        }
        Ok((policy, repeat))
    }

    /// Retries a `Failed` task by hand; refused with the reason for tasks
    /// in another status and for irreversible actions.
    pub async fn retry(&self, task: u64, actor: &str) -> Result<(), EngineError> {
        let planner = self.planner();
        let actor = actor.to_string();
        self.inner
            .store
            .write(move |tx| {
                let old = tx
                    .task(task)?
                    .ok_or_else(|| StoreError::NotFound(format!("task {task}")))?;
                old.check_retryable().map_err(StoreError::Conflict)?;
                if let Some((installed, _)) = planner.catalog.action(&old.action) {
                    let component = &installed.component.info().name;
                    if !planner.catalog.is_enabled(component) {
                        return Err(StoreError::Conflict(format!(
                            "component `{component}` is disabled; enable it before retrying \
                             task {task}"
                        )));
                    }
                }
                let mut new = old.clone();
                new.status = crate::model::TaskStatus::Waiting;
                new.next_attempt_at = None;
                new.budget_start = None;
                new.budget_attempts = 0;
                new.updated_at = tx.now();
                tx.put_task(Some(&old), &new)?;
                run::refresh_policy(tx, new.policy_id)?;
                tx.audit(&actor, "task.retry", &format!("task/{task}"), "")
            })
            .await
            .map_err(store_to_engine)?;
        self.dispatch(task, crate::model::TaskStatus::Waiting);
        Ok(())
    }

    /// Reverts (unblocks) a succeeded, reversible task now, through its
    /// component's `revert`; a pending revert timer is cancelled.
    pub async fn unblock(&self, task: u64, actor: &str) -> Result<(), EngineError> {
        let actor = actor.to_string();
        self.inner
            .store
            .write(move |tx| {
                let old = tx
                    .task(task)?
                    .ok_or_else(|| StoreError::NotFound(format!("task {task}")))?;
                old.check_revertible().map_err(StoreError::Conflict)?;
                let mut new = old.clone();
                new.revert = Some(crate::model::Revert {
                    status: crate::model::RevertStatus::Reverting,
                    requested_by: Some(actor.clone()),
                    requested_at: Some(tx.now()),
                    done_at: None,
                    attempts: 0,
                    next_attempt_at: None,
                    failure: None,
                });
                new.updated_at = tx.now();
                tx.put_task(Some(&old), &new)?;
                tx.audit(&actor, "task.unblock", &format!("task/{task}"), "")
            })
            .await
            .map_err(store_to_engine)?;
        self.dispatch_revert(task);
        Ok(())
    }

    /// Starts a run of `task` unless one is in progress.
    pub(crate) fn dispatch(&self, task: u64, status: crate::model::TaskStatus) {
        if status != crate::model::TaskStatus::Waiting || !self.claim_slot(task, false) {
            return;
        }
        tokio::spawn(run::run_task(self.clone(), task));
    }

    /// Starts a revert of `task` unless one is in progress.
    pub(crate) fn dispatch_revert(&self, task: u64) {
        if self.claim_slot(task, true) {
            tokio::spawn(run::run_revert(self.clone(), task));
        }
    }

    fn claim_slot(&self, task: u64, revert: bool) -> bool {
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        in_flight.insert((task, revert))
    }

    pub(crate) fn release_slot(&self, task: u64, revert: bool) {
        let mut in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        in_flight.remove(&(task, revert));
    }

    pub(crate) fn is_in_flight(&self, task: u64, revert: bool) -> bool {
        let in_flight = self
            .inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        in_flight.contains(&(task, revert))
    }

    /// Runs in progress in this process.
    pub fn in_flight(&self) -> usize {
        self.inner
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// How long a caller's idempotency key for a manual run is remembered.
pub(crate) const REQUEST_KEY_MILLIS: i64 = 86_400_000;

/// The dedup-table key of a caller's idempotency key; `:` cannot occur in
/// a script name, so it never meets a rule's dedup key.
pub(crate) fn request_key(actor: &str, key: &str) -> String {
    format!("request:{actor}:{key}")
}

/// Checks a target's id, endpoint and provider.
fn check_target(target: &TargetRecord) -> Result<(), EngineError> {
    let mut problems = Vec::new();
    if let Err(err) = crate::model::check_name(&target.id) {
        problems.push(format!("field `id`: {err}"));
    }
    if let Err(err) = crate::runtime::gate::Origin::parse_url(&target.endpoint) {
        problems.push(format!(
            "field `endpoint`: {err}; expected a base URL such as \
             `https://wafopenapi.cn-hangzhou.aliyuncs.com`"
        ));
    }
    if target.provider.trim().is_empty() {
        problems.push("field `provider`: must not be empty".into());
    }
    if !problems.is_empty() {
        return Err(EngineError::Invalid(problems));
    }
    Ok(())
}

fn store_to_engine(err: StoreError) -> EngineError {
    match err {
        StoreError::NotFound(what) => EngineError::NotFound(what),
        StoreError::Conflict(why) => EngineError::Conflict(why),
        other => EngineError::Store(other),
    }
}

/// The deepest nesting of an alert's JSON accepted; the store must read
/// back whatever it accepted (serde_json stops at 128 levels).
pub const MAX_ALERT_DEPTH: usize = 64;

/// The largest alert accepted, as compact JSON.
pub const MAX_ALERT_BYTES: usize = 1 << 20;

/// Refuses alerts the store could not read back or that would bloat it.
fn check_alert(data: &Value) -> Result<(), String> {
    let mut deepest = 0;
    let mut stack = vec![(data, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if deepest > MAX_ALERT_DEPTH {
            return Err(format!(
                "the alert is nested more than {MAX_ALERT_DEPTH} levels deep; \
                 flatten it before sending"
            ));
        }
        match value {
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            Value::Object(fields) => stack.extend(fields.values().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    let size = serde_json::to_vec(data)
        .map(|bytes| bytes.len())
        .unwrap_or(usize::MAX);
    if size > MAX_ALERT_BYTES {
        return Err(format!(
            "the alert is {size} bytes of JSON; at most {MAX_ALERT_BYTES} are accepted"
        ));
    }
    Ok(())
}

/// The idempotency key of an alert without one: SHA-256 of its canonical
/// JSON (object keys sorted).
pub fn content_key(data: &Value) -> String {
    let canonical = serde_json::to_vec(data).expect("JSON values serialize");
    format!("sha256:{}", hex::encode(Sha256::digest(canonical)))
}
