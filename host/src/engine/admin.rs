//! Operations an admin or operator asks for through the API beyond the
//! core flow: target credentials, deletions, enabling and disabling rules
//! and components, and handling an alert or incident by hand.

use std::collections::BTreeSet;

use super::{Draft, Engine, EngineError, store_to_engine};
use crate::model::{AllowEntry, Entity, RevertStatus, Source, SourceKind, TriggerKind};
use crate::runtime::secrets::SecretValue;
use crate::store::{SignalKind, StoreError, TargetRecord};
use crate::vault::{Credential, Vault};

/// The `meta` key holding the names of disabled components.
const DISABLED_COMPONENTS: &str = "disabled_components";

/// The secret name of a target's credential.
pub fn credential_name(target: &str) -> String {
    format!("target:{target}")
}

impl Engine {
    fn vault(&self) -> Result<&Vault, EngineError> {
        self.inner().config.vault.as_deref().ok_or_else(|| {
            EngineError::Conflict(
                "this daemon has no master key, so it cannot store credentials".into(),
            )
        })
    }

    /// The public id of a stored secret (an AccessKeyId), never the secret.
    pub fn secret_public_id(&self, name: &str) -> Option<String> {
        self.inner().runtime.secrets().public_id(name)
    }

    /// Unseals every stored credential into the runtime's secret store and
    /// applies the stored component switches; run once at start.
    pub(super) fn load_secrets_and_switches(&self) -> Result<(), EngineError> {
        let (sealed, disabled) = self
            .store()
            .read(|r| Ok((r.secrets()?, r.meta(DISABLED_COMPONENTS)?)))?;
        if !sealed.is_empty() {
            let vault = self.vault()?;
            for (name, bytes) in sealed {
                let credential = vault
                    .unseal_credential(&name, &bytes)
                    .map_err(|err| EngineError::Invalid(vec![err.to_string()]))?;
                self.inner().runtime.secrets().insert(
                    name,
                    SecretValue::new(credential.public_id, credential.secret.into_bytes()),
                );
            }
        }
        let disabled: Vec<String> = disabled
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        self.with_catalog(|catalog| {
            for name in &disabled {
                catalog.set_enabled(name, false);
            }
        });
        Ok(())
    }

    /// Creates or replaces a target; with `credential`, seals it under the
    /// target's credential name and points the target at it. Without one,
    /// a credential the target already had is kept.
    pub async fn set_target(
        &self,
        mut target: TargetRecord,
        credential: Option<Credential>,
        actor: &str,
    ) -> Result<(), EngineError> {
        let name = credential_name(&target.id);
        let sealed = match &credential {
            Some(credential) => {
                if credential.public_id.trim().is_empty() || credential.secret.is_empty() {
                    return Err(EngineError::Invalid(vec![
                        "field `credential`: both `public_id` and `secret` are required".into(),
                    ]));
                }
                Some(self.vault()?.seal_credential(&name, credential))
            }
            None => None,
        };
        if sealed.is_some() {
            target.credential = Some(name.clone());
        } else if target.credential.is_none() {
            let existing = self
                .planner()
                .targets
                .get(&target.id)
                .and_then(|t| t.credential.clone());
            target.credential = existing;
        }
        super::check_target(&target)?;
        let _changing = self.inner().target_changes.lock().await;
        let actor = actor.to_string();
        let id = target.id.clone();
        let secret_name = name.clone();
        self.store()
            .write(move |tx| {
                tx.put_target(&target)?;
                if let Some(sealed) = &sealed {
                    tx.put_secret(&secret_name, sealed)?;
                }
                let detail = if sealed.is_some() {
                    "credential set"
                } else {
                    ""
                };
                tx.audit(
                    &actor,
                    "target.put",
                    &format!("target/{}", target.id),
                    detail,
                )
            })
            .await?;
        if let Some(credential) = credential {
            self.inner().runtime.secrets().insert(
                name,
                SecretValue::new(credential.public_id, credential.secret.into_bytes()),
            );
        }
        tracing::info!(target_id = %id, "target saved");
        self.reload()
    }

    /// Deletes a target and its credential. Refused while a task on it is
    /// unfinished or has an effect that may still need reverting, since the
    /// revert needs the target.
    pub async fn delete_target(&self, id: &str, actor: &str) -> Result<(), EngineError> {
        let actor = actor.to_string();
        let id = id.to_string();
        let name = credential_name(&id);
        let secret = name.clone();
        let users: Vec<String> = self
            .planner()
            .scripts
            .values()
            .filter(|script| {
                script
                    .spec
                    .steps
                    .iter()
                    .any(|step| step.targets.contains(&id))
            })
            .map(|script| script.spec.name.clone())
            .collect();
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!(
                "target `{id}` is named by script(s) {}; publish versions without it first",
                users.join(", ")
            )));
        }
        let _changing = self.inner().target_changes.lock().await;
        let outcome = self
            .store()
            .write(move |tx| {
                if let Some(task) = task_needing_target(tx, &id)? {
                    return Ok(Err(EngineError::Conflict(format!(
                        "target `{id}` is still needed by task {task} (unfinished, or its \
                         effect is still in place); unblock it or wait for it first"
                    ))));
                }
                if !tx.delete_target(&id)? {
                    return Ok(Err(EngineError::NotFound(format!("target `{id}`"))));
                }
                tx.delete_secret(&secret)?;
                tx.audit(&actor, "target.delete", &format!("target/{id}"), "")?;
                Ok(Ok(()))
            })
            .await?;
        outcome?;
        self.inner().runtime.secrets().remove(&name);
        self.reload()
    }

    /// Deletes a response rule.
    pub async fn delete_rule(&self, name: &str, actor: &str) -> Result<(), EngineError> {
        let actor = actor.to_string();
        let rule = name.to_string();
        let deleted = self
            .store()
            .write(move |tx| {
                let deleted = tx.delete_rule(&rule)?;
                if deleted {
                    tx.audit(&actor, "rule.delete", &format!("rule/{rule}"), "")?;
                }
                Ok(deleted)
            })
            .await?;
        if !deleted {
            return Err(EngineError::NotFound(format!("rule `{name}`")));
        }
        self.reload()
    }

    /// Enables or disables a response rule, changing nothing else of it
    /// (read and written in one transaction, so a concurrent edit of the
    /// rule is not undone).
    pub async fn set_rule_enabled(
        &self,
        name: &str,
        enabled: bool,
        actor: &str,
    ) -> Result<crate::model::RuleSpec, EngineError> {
        let actor = actor.to_string();
        let rule = name.to_string();
        let saved = self
            .store()
            .write(move |tx| {
                let mut found = tx
                    .rule(&rule)?
                    .ok_or_else(|| StoreError::NotFound(format!("rule `{rule}`")))?;
                found.enabled = enabled;
                tx.put_rule(&found)?;
                let detail = if enabled { "enabled" } else { "disabled" };
                tx.audit(&actor, "rule.put", &format!("rule/{rule}"), detail)?;
                Ok(found)
            })
            .await
            .map_err(store_to_engine)?;
        self.reload()?;
        Ok(saved)
    }

    /// Replaces an allowlist entry's value, scope, expiry and reason.
    pub async fn replace_allow(
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
        let actor = actor.to_string();
        let id = entry.id;
        let saved = entry.clone();
        let replaced = self
            .store()
            .write(move |tx| {
                let replaced = tx.replace_allow(&entry)?;
                if replaced {
                    let detail = format!("{} {}", entry.kind, entry.value);
                    tx.audit(&actor, "allowlist.update", &format!("allow/{id}"), &detail)?;
                }
                Ok(replaced)
            })
            .await?;
        if !replaced {
            return Err(EngineError::NotFound(format!("allowlist entry {id}")));
        }
        self.reload()?;
        let stored = self
            .store()
            .read(|r| Ok(r.allowlist()?.into_iter().find(|entry| entry.id == id)))?;
        Ok(stored.unwrap_or(saved))
    }

    /// Enables or disables an installed component. A disabled component's
    /// actions start no new task; reverts of what it did still run.
    pub async fn set_component_enabled(
        &self,
        name: &str,
        enabled: bool,
        actor: &str,
    ) -> Result<(), EngineError> {
        if !self.planner().catalog.knows(name) {
            return Err(EngineError::NotFound(format!("component `{name}`")));
        }
        let actor = actor.to_string();
        let component = name.to_string();
        self.store()
            .write(move |tx| {
                let mut disabled: BTreeSet<String> = tx_disabled(tx)?;
                if enabled {
                    disabled.remove(&component);
                } else {
                    disabled.insert(component.clone());
                }
                let list = serde_json::to_string(&disabled).expect("names serialize");
                tx.set_meta(DISABLED_COMPONENTS, &list)?;
                let action = if enabled {
                    "component.enable"
                } else {
                    "component.disable"
                };
                tx.audit(&actor, action, &format!("component/{component}"), "")
            })
            .await?;
        self.with_catalog(|catalog| {
            catalog.set_enabled(name, enabled);
        });
        Ok(())
    }

    /// Handles a stored alert or incident by hand with the policies its
    /// matching rules recommend, as if it had just arrived, but with source
    /// `manual-handling`, without joining open policies and without the
    /// rules' rate limits.
    ///
    /// With `key`, a repeat of the same key by the same actor within a day
    /// opens nothing and answers the first policies, with `true`.
    pub async fn apply_recommended(
        &self,
        kind: SignalKind,
        id: u64,
        actor: &str,
        key: Option<&str>,
    ) -> Result<(Vec<u64>, bool), EngineError> {
        let key = key.map(|key| super::request_key(actor, key));
        // A repeat answers the first policies even if the rules changed
        // since; `open_drafts` checks again inside its transaction, for
        // two requests racing.
        if let Some(key) = &key {
            let seen = self.store().read(|r| r.dedup(key))?;
            if let Some(first) = seen {
                return Ok((vec![first], true));
            }
        }
        let signal = self
            .store()
            .read(|r| r.signal(kind, id))?
            .ok_or_else(|| EngineError::NotFound(format!("{} {id}", kind.as_str())))?;
        let trigger = match kind {
            SignalKind::Alert => TriggerKind::Alert,
            SignalKind::Incident => TriggerKind::Incident,
        };
        let planner = self.planner();
        let who = actor.to_string();
        let (drafts, skipped) = planner.drafts(trigger, &signal.data, |rule| Source {
            kind: SourceKind::ManualHandling,
            rule: Some(rule.name.clone()),
            alert: Some(id),
            actor: Some(who.clone()),
        });
        if drafts.is_empty() {
            let why = skipped
                .iter()
                .map(|s| format!("rule `{}`: {}", s.rule, s.reason))
                .collect::<Vec<_>>();
            let detail = if why.is_empty() {
                "no enabled response rule matches it".to_string()
            } else {
                why.join("; ")
            };
            return Err(EngineError::Conflict(format!(
                "nothing to apply to {} {id}: {detail}",
                kind.as_str()
            )));
        }
        self.open_drafts(drafts, Some(signal.data), actor, "alert.handle", key)
            .await
    }

    /// Runs a chosen script on an entity of a stored alert or incident
    /// (source `manual-handling`).
    pub async fn handle_with_script(
        &self,
        kind: SignalKind,
        id: u64,
        script: &str,
        entity: Entity,
        actor: &str,
        key: Option<&str>,
    ) -> Result<(u64, bool), EngineError> {
        let exists = self.store().read(|r| r.signal(kind, id))?.is_some();
        if !exists {
            return Err(EngineError::NotFound(format!("{} {id}", kind.as_str())));
        }
        let source = Source {
            kind: SourceKind::ManualHandling,
            rule: None,
            alert: Some(id),
            actor: Some(actor.to_string()),
        };
        let key = key.map(|key| super::request_key(actor, key));
        self.run_script_from(script, entity, source, actor, key)
            .await
    }

    /// Opens a policy for each draft and starts its tasks; with `key`, at
    /// most once per key (a repeat answers the first policy and `true`).
    pub(super) async fn open_drafts(
        &self,
        drafts: Vec<Draft>,
        data: Option<serde_json::Value>,
        actor: &str,
        audit_action: &'static str,
        key: Option<String>,
    ) -> Result<(Vec<u64>, bool), EngineError> {
        let planner = self.planner();
        let salt = self.inner().salt.clone();
        let actor = actor.to_string();
        let (ids, repeat, tasks) = self
            .store()
            .write(move |tx| {
                if let Some(key) = &key
                    && let Some(first) = tx.dedup(key)?
                {
                    return Ok((vec![first], true, Vec::new()));
                }
                let mut ids = Vec::new();
                let mut tasks = Vec::new();
                for draft in &drafts {
                    let (policy, created) = planner.open_policy(tx, draft, data.as_ref(), &salt)?;
                    let detail = format!("{} on {}", draft.script.spec.name, draft.entity);
                    tx.audit(
                        &actor,
                        audit_action,
                        &format!("policy/{}", policy.id),
                        &detail,
                    )?;
                    ids.push(policy.id);
                    tasks.extend(created);
                }
                if let (Some(key), Some(first)) = (&key, ids.first()) {
                    let until = crate::model::Time::from_millis(
                        tx.now().millis() + super::REQUEST_KEY_MILLIS,
                    );
                    tx.set_dedup(key, *first, until)?;
                }
                Ok((ids, false, tasks))
            })
            .await
            .map_err(store_to_engine)?;
        for task in tasks {
            self.dispatch(task.id, task.status);
        }
        Ok((ids, repeat))
    }
}

/// A task on target `id` that is unfinished or whose effect may still
/// need reverting, which needs the target.
fn task_needing_target(tx: &crate::store::Tx<'_>, id: &str) -> Result<Option<u64>, StoreError> {
    for task_id in tx.task_ids_with(&format!("target={id}"))?.into_iter().rev() {
        let Some(task) = tx.task(task_id)? else {
            continue;
        };
        let revert_open = task.revert.as_ref().is_some_and(|revert| {
            matches!(
                revert.status,
                RevertStatus::Scheduled | RevertStatus::Reverting | RevertStatus::RevertFailed
            )
        });
        let in_effect = task.status.took_effect()
            && task.reversible
            && task.revert_token.is_some()
            && task
                .revert
                .as_ref()
                .is_none_or(|revert| revert.status != RevertStatus::Unblocked);
        if !task.status.is_terminal() || revert_open || in_effect {
            return Ok(Some(task.id));
        }
    }
    Ok(None)
}

fn tx_disabled(tx: &crate::store::Tx<'_>) -> Result<BTreeSet<String>, StoreError> {
    Ok(tx
        .meta(DISABLED_COMPONENTS)?
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}
