//! Decisions: which rules an alert matches, which entities a script
//! extracts, and which tasks each step of a policy creates. The matching
//! and extraction run before the store is touched; policy creation and
//! step advancement run inside a store write, so that two alerts (or two
//! finishing tasks) racing each other see each other's effects.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Value, json};

use super::catalog::Catalog;
use crate::model::{
    AllowEntry, Bindings, Entity, Expr, Guardrails, KEPT_ALERT_IDS, Policy, PolicyStatus, RuleSpec,
    ScriptRef, ScriptVersion, Source, Span, StepState, StepStatus, Task, TaskStatus, Time,
    TriggerKind, derive_status,
};
use crate::store::{StoreError, TargetRecord, Tx};

/// The most entities one alert yields per rule; more are reported and
/// left alone, so one alert cannot flood the engine.
pub const MAX_ENTITIES: usize = 256;

/// An immutable snapshot of everything decisions depend on; replaced as a
/// whole when an operator changes any of it.
#[derive(Debug, Clone, Default)]
pub struct Planner {
    pub catalog: Catalog,
    pub targets: BTreeMap<String, TargetRecord>,
    pub allowlist: Vec<AllowEntry>,
    pub guardrails: Guardrails,
    /// The latest version of each script.
    pub scripts: HashMap<String, Arc<ScriptVersion>>,
    pub rules: Vec<RuleSpec>,
}

/// One policy to open (or join) for a trigger.
#[derive(Debug, Clone)]
pub struct Draft {
    pub entity: Entity,
    pub script: Arc<ScriptVersion>,
    pub source: Source,
    /// `None` for manual runs, which never join an existing policy.
    pub dedup: Option<(String, Span)>,
    pub rule: Option<String>,
}

/// Why a trigger produced no policy for a rule, for the ingest report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub rule: String,
    pub reason: String,
}

impl Planner {
    /// The drafts `alert` leads to under the rules listening to `trigger`.
    pub fn drafts(
        &self,
        trigger: TriggerKind,
        alert: &Value,
        source: impl Fn(&RuleSpec) -> Source,
    ) -> (Vec<Draft>, Vec<Skipped>) {
        let mut drafts = Vec::new();
        let mut skipped = Vec::new();
        let bindings = Bindings {
            alert: Some(alert),
            ..Bindings::default()
        };
        for rule in self
            .rules
            .iter()
            .filter(|r| r.enabled && r.trigger == trigger)
        {
            let skip = |reason: String| Skipped {
                rule: rule.name.clone(),
                reason,
            };
            match rule.condition.as_ref().map(|c| c.is_true(&bindings)) {
                Some(Ok(false)) => continue,
                Some(Err(err)) => {
                    skipped.push(skip(err));
                    continue;
                }
                _ => {}
            }
            let Some(script) = self.scripts.get(&rule.script) else {
                skipped.push(skip(format!("script `{}` is not published", rule.script)));
                continue;
            };
            match script.spec.trigger.as_ref().map(|c| c.is_true(&bindings)) {
                Some(Ok(false)) => continue,
                Some(Err(err)) => {
                    skipped.push(skip(err));
                    continue;
                }
                _ => {}
            }
            let values = match script.spec.entity.from.strings(&bindings) {
                Ok(values) => values,
                Err(err) => {
                    skipped.push(skip(err));
                    continue;
                }
            };
            let mut seen = HashSet::new();
            if values.len() > MAX_ENTITIES {
                skipped.push(skip(format!(
                    "the alert names {} entities; only the first {MAX_ENTITIES} are acted on",
                    values.len()
                )));
            }
            for value in values {
                if seen.len() >= MAX_ENTITIES {
                    break;
                }
                let entity = match Entity::parse(script.spec.entity.kind, &value) {
                    Ok(entity) => entity,
                    Err(err) => {
                        skipped.push(skip(format!("entity: {err}")));
                        continue;
                    }
                };
                let entity = match attributes(&script.spec.entity.attributes, &bindings) {
                    Ok(attributes) => entity.with_attributes(attributes),
                    Err(err) => {
                        skipped.push(skip(format!("entity attributes: {err}")));
                        continue;
                    }
                };
                if !seen.insert(entity.clone()) {
                    continue;
                }
                drafts.push(Draft {
                    dedup: Some((
                        format!("{}|{}", script.spec.name, entity.key()),
                        rule.dedup_window,
                    )),
                    entity,
                    script: script.clone(),
                    source: source(rule),
                    rule: Some(rule.name.clone()),
                });
            }
        }
        (drafts, skipped)
    }

    /// Creates the policy of `draft` with the tasks of its first runnable
    /// step, inside `tx`.
    pub fn open_policy(
        &self,
        tx: &mut Tx<'_>,
        draft: &Draft,
        alert: Option<&Value>,
        salt: &str,
    ) -> Result<(Policy, Vec<Task>), StoreError> {
        let now = tx.now();
        let id = tx.next_id("policy")?;
        let mut policy = Policy {
            id,
            entity: draft.entity.clone(),
            script: ScriptRef {
                name: draft.script.spec.name.clone(),
                version: draft.script.version,
            },
            targets: Vec::new(),
            actions: Vec::new(),
            source: draft.source.clone(),
            status: PolicyStatus::Waiting,
            steps: draft
                .script
                .spec
                .steps
                .iter()
                .map(|step| StepState {
                    id: step.id.clone(),
                    status: StepStatus::Pending,
                    note: None,
                })
                .collect(),
            joined_alerts: Vec::new(),
            joined: 0,
            created_at: now,
            updated_at: now,
        };
        let tasks = self.advance(tx, &draft.script, &mut policy, &[], alert, salt)?;
        policy.status = derive_status(&statuses(&tasks), policy.steps_remain());
        tx.put_policy(None, &policy)?;
        for task in &tasks {
            tx.put_task(None, task)?;
        }
        if let Some((key, window)) = &draft.dedup {
            tx.set_dedup(key, id, now.plus(window.duration()))?;
        }
        Ok((policy, tasks))
    }

    /// Records that `alert` joined `policy` inside its dedup window.
    pub fn join(tx: &mut Tx<'_>, policy: u64, alert: u64) -> Result<(), StoreError> {
        let Some(old) = tx.policy(policy)? else {
            return Ok(());
        };
        let mut joined = old.clone();
        joined.joined += 1;
        if joined.joined_alerts.len() < KEPT_ALERT_IDS {
            joined.joined_alerts.push(alert);
        }
        joined.updated_at = tx.now();
        tx.put_policy(Some(&old), &joined)
    }

    /// Moves `policy` through its steps: a running step whose tasks are all
    /// terminal is done; pending steps are evaluated in order until one
    /// creates tasks. Returns the new tasks (not yet stored).
    pub fn advance(
        &self,
        tx: &mut Tx<'_>,
        script: &ScriptVersion,
        policy: &mut Policy,
        existing: &[Task],
        alert: Option<&Value>,
        salt: &str,
    ) -> Result<Vec<Task>, StoreError> {
        // Tasks created here count for the following steps' conditions.
        let mut known: Vec<Task> = existing.to_vec();
        let mut created = Vec::new();
        for index in 0..policy.steps.len() {
            match policy.steps[index].status {
                StepStatus::Done | StepStatus::Skipped => continue,
                StepStatus::Running => {
                    let open = known
                        .iter()
                        .any(|task| task.step == index && !task.status.is_terminal());
                    if open {
                        break;
                    }
                    policy.steps[index].status = StepStatus::Done;
                    continue;
                }
                StepStatus::Pending => {}
            }
            let step = &script.spec.steps[index];
            let bindings = Bindings {
                alert,
                entity: Some(json!({
                    "kind": policy.entity.kind.as_str(),
                    "value": policy.entity.value,
                })),
                steps: Some(step_summaries(policy, &known)),
            };
            match step.when.as_ref().map(|when| when.is_true(&bindings)) {
                Some(Ok(false)) => {
                    policy.steps[index].status = StepStatus::Skipped;
                    continue;
                }
                Some(Err(err)) => {
                    tracing::warn!(policy = policy.id, step = %step.id, error = %err,
                        "step condition failed; step skipped");
                    policy.steps[index].status = StepStatus::Skipped;
                    policy.steps[index].note = Some(err);
                    continue;
                }
                _ => {}
            }
            let tasks = self.step_tasks(tx, policy, index, script, salt)?;
            if tasks.is_empty() {
                policy.steps[index].status = StepStatus::Done;
                policy.steps[index].note = Some("no target matched the step's selectors".into());
                continue;
            }
            // A step whose tasks were all ignored (allowlist, guardrail)
            // is done at once: no task will finish later to move it on.
            let all_ignored = tasks.iter().all(|task| task.status.is_terminal());
            known.extend(tasks.iter().cloned());
            created.extend(tasks);
            if all_ignored {
                policy.steps[index].status = StepStatus::Done;
                policy.steps[index].note = Some("every task of the step was ignored".into());
                continue;
            }
            policy.steps[index].status = StepStatus::Running;
            break;
        }
        policy.updated_at = tx.now();
        Ok(created)
    }

    /// The tasks of step `index` of `policy`, one per selected target;
    /// ignored ones carry their reason.
    fn step_tasks(
        &self,
        tx: &mut Tx<'_>,
        policy: &mut Policy,
        index: usize,
        script: &ScriptVersion,
        salt: &str,
    ) -> Result<Vec<Task>, StoreError> {
        let step = &script.spec.steps[index];
        let mut targets: Vec<&TargetRecord> = Vec::new();
        for selector in &step.targets {
            let ids: Vec<String> = match selector.strip_prefix("provider:") {
                Some(provider) => self
                    .targets
                    .values()
                    .filter(|t| t.provider == provider)
                    .map(|t| t.id.clone())
                    .collect(),
                None => vec![selector.clone()],
            };
            for id in ids {
                if let Some(target) = self.targets.get(&id)
                    && !targets.iter().any(|t| t.id == id)
                {
                    targets.push(target);
                }
            }
        }
        let action = self.catalog.action(&step.action);
        let now = tx.now();
        let mut tasks = Vec::new();
        for target in targets {
            let id = tx.next_id("task")?;
            let (component, version, reversible, retryable) = match &action {
                Some((installed, info)) => (
                    installed.component.info().name.clone(),
                    installed.component.info().version.clone(),
                    info.reversible,
                    info.retryable,
                ),
                None => (String::new(), String::new(), false, false),
            };
            let ignored = self.refusal(&policy.entity, &step.action, &target.id, now, &action);
            tasks.push(Task {
                id,
                policy_id: policy.id,
                step: index,
                action: step.action.clone(),
                component,
                component_version: version,
                reversible,
                retryable,
                entity: policy.entity.clone(),
                target: target.id.clone(),
                provider: target.provider.clone(),
                duration: step.duration,
                parameters: step.parameters.clone(),
                idempotency_key: idempotency_key(salt, id, now),
                status: if ignored.is_some() {
                    TaskStatus::Ignored
                } else {
                    TaskStatus::Waiting
                },
                ignored_reason: ignored,
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
                created_at: now,
                updated_at: now,
            });
            for (list, value) in [
                (&mut policy.targets, &target.id),
                (&mut policy.actions, &step.action),
            ] {
                if !list.contains(value) {
                    list.push(value.clone());
                }
            }
        }
        Ok(tasks)
    }

    /// Why a queued task must not run any more: the allowlist or the
    /// guardrails changed since it was created.
    pub fn recheck(&self, task: &Task, now: Time) -> Option<String> {
        self.guard(&task.entity, &task.action, &task.target, now)
    }

    /// The guardrail or allowlist entry that forbids acting on `entity`.
    fn guard(&self, entity: &Entity, action: &str, target: &str, now: Time) -> Option<String> {
        if let Err(reason) = self.guardrails.check(entity) {
            return Some(reason);
        }
        self.allowlist
            .iter()
            .find(|entry| entry.covers(entity, action, target, now))
            .map(|entry| {
                format!(
                    "allowlisted by entry {} ({} `{}`): {}",
                    entry.id, entry.kind, entry.value, entry.reason
                )
            })
    }

    /// Why a task must not run: no component, a kind the action does not
    /// take, a guardrail, or an allowlist entry.
    fn refusal(
        &self,
        entity: &Entity,
        action: &str,
        target: &str,
        now: Time,
        found: &Option<(
            Arc<super::catalog::Installed>,
            crate::runtime::wit::ActionInfo,
        )>,
    ) -> Option<String> {
        let Some((installed, info)) = found else {
            return Some(format!("no installed component implements `{action}`"));
        };
        let component = &installed.component.info().name;
        if !self.catalog.is_enabled(component) {
            return Some(format!("component `{component}` is disabled"));
        }
        let accepts = info
            .entity_kinds
            .iter()
            .any(|kind| crate::runtime::kind_name(*kind) == entity.kind.as_str());
        if !accepts {
            return Some(format!(
                "`{action}` does not accept `{}` entities",
                entity.kind
            ));
        }
        self.guard(entity, action, target, now)
    }
}

/// Evaluates a script's entity attributes over the alert: each gives one
/// string, or none when it is null; a list or another type is an error.
fn attributes(
    expressions: &BTreeMap<String, Expr>,
    bindings: &Bindings<'_>,
) -> Result<BTreeMap<String, String>, String> {
    let mut attributes = BTreeMap::new();
    for (name, expression) in expressions {
        match expression.strings(bindings)?.as_slice() {
            [] => {}
            [value] => {
                attributes.insert(name.clone(), value.clone());
            }
            values => {
                return Err(format!(
                    "`{name}` gave {} values; an attribute takes one",
                    values.len()
                ));
            }
        }
    }
    Ok(attributes)
}

/// The statuses of `tasks`.
pub fn statuses(tasks: &[Task]) -> Vec<TaskStatus> {
    tasks.iter().map(|task| task.status).collect()
}

/// `steps.<id>` for CEL: `status` (a policy status over the step's tasks,
/// or `Skipped`/`Pending`) and counts.
fn step_summaries(policy: &Policy, tasks: &[Task]) -> Value {
    let mut steps = serde_json::Map::new();
    for (index, step) in policy.steps.iter().enumerate() {
        let mine: Vec<_> = tasks.iter().filter(|t| t.step == index).collect();
        let count = |status: TaskStatus| mine.iter().filter(|t| t.status == status).count();
        let status = match step.status {
            StepStatus::Skipped => "Skipped".to_string(),
            StepStatus::Pending => "Pending".to_string(),
            _ => {
                derive_status(&mine.iter().map(|t| t.status).collect::<Vec<_>>(), false).to_string()
            }
        };
        steps.insert(
            step.id.clone(),
            json!({
                "status": status,
                "succeeded": count(TaskStatus::Succeeded) + count(TaskStatus::PartiallySucceeded),
                "failed": count(TaskStatus::Failed),
                "ignored": count(TaskStatus::Ignored),
            }),
        );
    }
    Value::Object(steps)
}

/// The key a task passes on every attempt: unique across tasks and stores
/// (the salt), and across a store restored from a backup that hands out
/// the same task ids again (the creation time); short enough for provider
/// name fields.
fn idempotency_key(salt: &str, task: u64, created: Time) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{salt}:{task}:{}", created.millis()));
    format!("rp{task}-{}", &hex::encode(digest)[..12])
}
