//! The route handlers. Each parses its input strictly, asks the engine or
//! reads the store, and answers JSON or a problem document.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ApiState;
use super::auth::{Caller, Role};
use super::body::{Document, Json, PathId, Query, Raw, WasmBody, parse_json, parse_object};
use super::problem::Problem;
use crate::ingest::{self, Format, Parsed};
use crate::model::{
    AllowEntry, Entity, EntityKind, Policy, PolicyStatus, RuleSpec, ScriptSpec, SourceKind, Task,
    TaskStatus, Time,
};
use crate::registry::InstallStatus;
use crate::store::{AuditFilter, Page, PolicyFilter, SignalKind, TargetRecord, TaskFilter};
use crate::vault::Credential;

type Answer = Result<Response, Problem>;

fn ok<T: Serialize>(value: T) -> Answer {
    Ok(axum::Json(value).into_response())
}

fn with_status<T: Serialize>(status: StatusCode, value: T) -> Answer {
    Ok((status, axum::Json(value)).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The default page size.
const DEFAULT_LIMIT: usize = 50;

fn page_limit(limit: Option<usize>) -> Result<usize, Problem> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=crate::store::MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(Problem::invalid(vec![format!(
            "query `limit`: {n} is out of range; expected 1 to {}",
            crate::store::MAX_PAGE
        )])),
    }
}

// ----- health, metrics, document -----

pub async fn healthz() -> Answer {
    ok(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<ApiState>) -> Answer {
    if !state.ready.load(std::sync::atomic::Ordering::Acquire) {
        return Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            "the daemon is still starting",
        ));
    }
    state.engine.store().read(|r| r.salt())?;
    ok(json!({"status": "ready"}))
}

pub async fn metrics(State(state): State<ApiState>) -> Answer {
    let (tasks, depth) = state
        .engine
        .store()
        .read(|r| Ok((r.task_counts()?, r.queue_depth()?)))?;
    let text = crate::metrics::render(&tasks, depth, state.engine.in_flight());
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

pub async fn openapi_json() -> Answer {
    ok(super::openapi::document())
}

pub async fn no_route(uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        format!(
            "there is no route `{}`; the routes are listed at /v1/openapi.json",
            uri.path()
        ),
    )
}

pub async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!(
            "`{}` does not take {method}; see /v1/openapi.json",
            uri.path()
        ),
    )
}

// ----- shared parsing -----

/// An entity as a request names it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityInput {
    pub kind: String,
    pub value: String,
}

impl EntityInput {
    fn parse(&self, field: &str) -> Result<Entity, Problem> {
        let kind = EntityKind::parse(&self.kind)
            .map_err(|err| Problem::invalid(vec![format!("field `{field}.kind`: {err}")]))?;
        Entity::parse(kind, &self.value)
            .map_err(|err| Problem::invalid(vec![format!("field `{field}.value`: {err}")]))
    }
}

fn parse_kind(field: &str, text: &str) -> Result<EntityKind, Problem> {
    EntityKind::parse(text).map_err(|err| Problem::invalid(vec![format!("query `{field}`: {err}")]))
}

/// A status name as the store writes it, matched without regard to case.
fn canonical<T: std::fmt::Display>(field: &str, text: &str, all: &[T]) -> Result<String, Problem> {
    all.iter()
        .map(ToString::to_string)
        .find(|name| name.eq_ignore_ascii_case(text))
        .ok_or_else(|| {
            let names: Vec<String> = all.iter().map(ToString::to_string).collect();
            Problem::invalid(vec![format!(
                "query `{field}`: `{text}` is not a status; expected one of {}",
                names.join(", ")
            )])
        })
}

/// `kind:value` for an entity filter given as `entity_kind` and `entity`.
fn entity_key(kind: Option<&String>, value: Option<&String>) -> Result<Option<String>, Problem> {
    match (kind, value) {
        (_, None) => Ok(None),
        (None, Some(_)) => Err(Problem::invalid(vec![
            "query `entity`: give `entity_kind` too, so the value can be normalized".into(),
        ])),
        (Some(kind), Some(value)) => {
            let kind = parse_kind("entity_kind", kind)?;
            let entity = Entity::parse(kind, value)
                .map_err(|err| Problem::invalid(vec![format!("query `entity`: {err}")]))?;
            Ok(Some(entity.key()))
        }
    }
}

// ----- policies -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyQuery {
    status: Option<String>,
    entity_kind: Option<String>,
    entity: Option<String>,
    action: Option<String>,
    source: Option<String>,
    script: Option<String>,
    version: Option<String>,
    since: Option<Time>,
    until: Option<Time>,
    before: Option<u64>,
    limit: Option<usize>,
}

const SOURCES: [SourceKind; 4] = [
    SourceKind::ManualHandling,
    SourceKind::IncidentRule,
    SourceKind::AlertRule,
    SourceKind::ManualScriptRun,
];

pub async fn list_policies(State(state): State<ApiState>, Query(q): Query<PolicyQuery>) -> Answer {
    let limit = page_limit(q.limit)?;
    let source = match &q.source {
        None => None,
        Some(text) => Some(
            SOURCES
                .iter()
                .map(|s| s.as_str())
                .find(|s| s == text)
                .ok_or_else(|| {
                    Problem::invalid(vec![format!(
                        "query `source`: `{text}` is not a source; expected one of \
                         manual-handling, incident-rule, alert-rule, manual-script-run"
                    )])
                })?
                .to_string(),
        ),
    };
    if let Some(version) = &q.version
        && !version
            .rsplit_once('@')
            .is_some_and(|(name, v)| !name.is_empty() && v.parse::<u32>().is_ok())
    {
        return Err(Problem::invalid(vec![format!(
            "query `version`: `{version}` is not `NAME@VERSION`, such as `block-attacker@2`"
        )]));
    }
    if let (Some(since), Some(until)) = (q.since, q.until)
        && since >= until
    {
        return Err(Problem::invalid(vec![format!(
            "query `since`: {since} is not before `until` {until}"
        )]));
    }
    let filter = PolicyFilter {
        status: q
            .status
            .as_deref()
            .map(|s| canonical("status", s, &PolicyStatus::ALL))
            .transpose()?,
        kind: q
            .entity_kind
            .as_deref()
            .map(|k| parse_kind("entity_kind", k).map(|k| k.to_string()))
            .transpose()?,
        entity: entity_key(q.entity_kind.as_ref(), q.entity.as_ref())?,
        action: q.action,
        source,
        script: q.script,
        version: q.version,
        since: q.since,
        until: q.until,
    };
    let page = state
        .engine
        .store()
        .read(|r| r.list_policies(&filter, q.before, limit))?;
    ok(page)
}

pub async fn get_policy(State(state): State<ApiState>, PathId(id): PathId<u64>) -> Answer {
    let found = state.engine.store().read(|r| {
        let Some(policy) = r.policy(id)? else {
            return Ok(None);
        };
        let source = match (policy.source.alert, policy.source.kind) {
            (Some(signal), SourceKind::IncidentRule) => r.signal(SignalKind::Incident, signal)?,
            (Some(signal), _) => r
                .signal(SignalKind::Alert, signal)?
                .or(r.signal(SignalKind::Incident, signal)?),
            (None, _) => None,
        };
        let tasks = r.tasks_of(id)?;
        Ok(Some((policy, source, tasks)))
    })?;
    let (policy, source, tasks) =
        found.ok_or_else(|| Problem::not_found(format!("policy {id}")))?;
    ok(json!({"policy": policy, "source": source, "tasks": tasks}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

pub async fn policy_script(
    State(state): State<ApiState>,
    PathId(id): PathId<u64>,
    Query(q): Query<PageQuery>,
) -> Answer {
    let limit = page_limit(q.limit)?;
    let found = state.engine.store().read(|r| {
        let Some(policy) = r.policy(id)? else {
            return Ok(None);
        };
        let script = r.script(&policy.script.name, policy.script.version)?;
        let filter = PolicyFilter {
            version: Some(format!("{}@{}", policy.script.name, policy.script.version)),
            ..PolicyFilter::default()
        };
        let runs: Page<Policy> = r.list_policies(&filter, q.before, limit)?;
        Ok(Some((script, runs)))
    })?;
    let (script, runs) = found.ok_or_else(|| Problem::not_found(format!("policy {id}")))?;
    let script = script.ok_or_else(|| Problem::not_found(format!("the script of policy {id}")))?;
    ok(json!({"script": script, "runs": runs}))
}

// ----- tasks -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    status: Option<String>,
    entity_kind: Option<String>,
    entity: Option<String>,
    action: Option<String>,
    target: Option<String>,
    policy: Option<u64>,
    before: Option<u64>,
    limit: Option<usize>,
}

pub async fn list_tasks(State(state): State<ApiState>, Query(q): Query<TaskQuery>) -> Answer {
    let limit = page_limit(q.limit)?;
    let filter = TaskFilter {
        status: q
            .status
            .as_deref()
            .map(|s| canonical("status", s, &TaskStatus::ALL))
            .transpose()?,
        kind: q
            .entity_kind
            .as_deref()
            .map(|k| parse_kind("entity_kind", k).map(|k| k.to_string()))
            .transpose()?,
        entity: entity_key(q.entity_kind.as_ref(), q.entity.as_ref())?,
        action: q.action,
        target: q.target,
        policy: q.policy,
    };
    let page = state
        .engine
        .store()
        .read(|r| r.list_tasks(&filter, q.before, limit))?;
    ok(page)
}

pub async fn get_task(State(state): State<ApiState>, PathId(id): PathId<u64>) -> Answer {
    let task: Option<Task> = state.engine.store().read(|r| r.task(id))?;
    ok(task.ok_or_else(|| Problem::not_found(format!("task {id}")))?)
}

pub async fn retry_task(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<u64>,
) -> Answer {
    state.engine.retry(id, &caller.name).await?;
    with_status(
        StatusCode::ACCEPTED,
        json!({"task": id, "status": "Waiting"}),
    )
}

pub async fn unblock_task(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<u64>,
) -> Answer {
    state.engine.unblock(id, &caller.name).await?;
    with_status(
        StatusCode::ACCEPTED,
        json!({"task": id, "revert": "Reverting"}),
    )
}

// ----- scripts -----

pub async fn list_scripts(State(state): State<ApiState>) -> Answer {
    let items = state.engine.store().read(|r| r.latest_scripts())?;
    ok(json!({"items": items}))
}

pub async fn create_script(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Document(spec): Document<ScriptSpec>,
) -> Answer {
    let version = state.engine.create_script(spec, &caller.name).await?;
    with_status(StatusCode::CREATED, version)
}

pub async fn validate_script(
    State(state): State<ApiState>,
    Document(spec): Document<ScriptSpec>,
) -> Answer {
    let problems = spec
        .validate(&state.engine.known())
        .err()
        .unwrap_or_default();
    ok(json!({"valid": problems.is_empty(), "problems": problems}))
}

pub async fn script_versions(
    State(state): State<ApiState>,
    PathId(name): PathId<String>,
) -> Answer {
    let items = state.engine.store().read(|r| r.script_versions(&name))?;
    if items.is_empty() {
        return Err(Problem::not_found(format!("script `{name}`")));
    }
    ok(json!({"items": items}))
}

pub async fn publish_version(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
    Document(spec): Document<ScriptSpec>,
) -> Answer {
    if spec.name != name {
        return Err(Problem::invalid(vec![format!(
            "field `name`: `{}` differs from the script in the path, `{name}`",
            spec.name
        )]));
    }
    let exists = !state
        .engine
        .store()
        .read(|r| r.script_versions(&name))?
        .is_empty();
    if !exists {
        return Err(Problem::not_found(format!(
            "script `{name}` (create it with POST /v1/scripts)"
        )));
    }
    let version = state.engine.publish_script(spec, &caller.name).await?;
    with_status(StatusCode::CREATED, version)
}

pub async fn script_version(
    State(state): State<ApiState>,
    PathId((name, version)): PathId<(String, u32)>,
) -> Answer {
    let found = state.engine.store().read(|r| r.script(&name, version))?;
    ok(found.ok_or_else(|| Problem::not_found(format!("script `{name}` version {version}")))?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunScript {
    entity: EntityInput,
}

pub async fn run_script(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
    headers: HeaderMap,
    Json(input): Json<RunScript>,
) -> Answer {
    let entity = input.entity.parse("entity")?;
    let key = idempotency_key(&headers)?;
    let (policy, repeat) = state
        .engine
        .run_script_once(&name, entity, &caller.name, key.as_deref())
        .await?;
    if repeat {
        return ok(json!({"policy": policy, "repeat": true}));
    }
    with_status(StatusCode::ACCEPTED, json!({"policy": policy}))
}

// ----- rules -----

pub async fn list_rules(State(state): State<ApiState>) -> Answer {
    let mut items = state.engine.rules();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    ok(json!({"items": items}))
}

fn find_rule(state: &ApiState, name: &str) -> Result<RuleSpec, Problem> {
    state
        .engine
        .rules()
        .into_iter()
        .find(|rule| rule.name == name)
        .ok_or_else(|| Problem::not_found(format!("rule `{name}`")))
}

pub async fn get_rule(State(state): State<ApiState>, PathId(name): PathId<String>) -> Answer {
    ok(find_rule(&state, &name)?)
}

pub async fn put_rule(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
    Document(mut rule): Document<RuleSpec>,
) -> Answer {
    if rule.name.is_empty() {
        rule.name = name.clone();
    } else if rule.name != name {
        return Err(Problem::invalid(vec![format!(
            "field `name`: `{}` differs from the rule in the path, `{name}`",
            rule.name
        )]));
    }
    state.engine.put_rule(rule.clone(), &caller.name).await?;
    ok(rule)
}

pub async fn delete_rule(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
) -> Answer {
    state.engine.delete_rule(&name, &caller.name).await?;
    no_content()
}

pub async fn enable_rule(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
) -> Answer {
    ok(state
        .engine
        .set_rule_enabled(&name, true, &caller.name)
        .await?)
}

pub async fn disable_rule(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
) -> Answer {
    ok(state
        .engine
        .set_rule_enabled(&name, false, &caller.name)
        .await?)
}

// ----- allowlist -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowInput {
    kind: String,
    value: String,
    reason: String,
    #[serde(default)]
    expires_at: Option<Time>,
    #[serde(default)]
    scope: Option<crate::model::Scope>,
}

/// The longest allowlist reason accepted.
const MAX_REASON: usize = 1024;

impl AllowInput {
    fn entry(self, id: u64) -> Result<AllowEntry, Problem> {
        if self.reason.len() > MAX_REASON {
            return Err(Problem::invalid(vec![format!(
                "field `reason`: {} bytes; at most {MAX_REASON} are kept",
                self.reason.len()
            )]));
        }
        let kind = EntityKind::parse(&self.kind)
            .map_err(|err| Problem::invalid(vec![format!("field `kind`: {err}")]))?;
        if let Some(at) = self.expires_at
            && at <= Time::now()
        {
            return Err(Problem::invalid(vec![format!(
                "field `expires_at`: {at} is in the past; give a future time or none"
            )]));
        }
        Ok(AllowEntry {
            id,
            kind,
            value: self.value,
            scope: self.scope.unwrap_or(crate::model::Scope::Global),
            expires_at: self.expires_at,
            reason: self.reason,
            created_by: String::new(),
            created_at: Time::now(),
        })
    }
}

pub async fn list_allow(State(state): State<ApiState>) -> Answer {
    let mut items = state.engine.store().read(|r| r.allowlist())?;
    items.sort_by_key(|entry| std::cmp::Reverse(entry.id));
    ok(json!({"items": items}))
}

pub async fn add_allow(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Json(input): Json<AllowInput>,
) -> Answer {
    let entry = state
        .engine
        .add_allow(input.entry(0)?, &caller.name)
        .await?;
    with_status(StatusCode::CREATED, entry)
}

pub async fn get_allow(State(state): State<ApiState>, PathId(id): PathId<u64>) -> Answer {
    let entry = state
        .engine
        .store()
        .read(|r| Ok(r.allowlist()?.into_iter().find(|e| e.id == id)))?;
    ok(entry.ok_or_else(|| Problem::not_found(format!("allowlist entry {id}")))?)
}

pub async fn replace_allow(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<u64>,
    Json(input): Json<AllowInput>,
) -> Answer {
    let entry = state
        .engine
        .replace_allow(input.entry(id)?, &caller.name)
        .await?;
    ok(entry)
}

pub async fn remove_allow(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<u64>,
) -> Answer {
    state.engine.remove_allow(id, &caller.name).await?;
    no_content()
}

// ----- targets -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetInput {
    provider: String,
    endpoint: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    settings: BTreeMap<String, String>,
    /// Write-only.
    #[serde(default)]
    credential: Option<Credential>,
}

/// A target as the API shows it: the credential's name and public id,
/// never its secret.
fn target_view(state: &ApiState, target: TargetRecord) -> Value {
    let credential = target.credential.as_ref().map(|name| {
        let public_id = state.engine.secret_public_id(name);
        json!({"name": name, "public_id": public_id, "set": public_id.is_some()})
    });
    let mut value = serde_json::to_value(&target).expect("targets serialize");
    if let Value::Object(fields) = &mut value {
        fields.insert("credential".into(), credential.unwrap_or(Value::Null));
    }
    value
}

pub async fn list_targets(State(state): State<ApiState>) -> Answer {
    let targets = state.engine.store().read(|r| r.targets())?;
    let items: Vec<Value> = targets
        .into_iter()
        .map(|target| target_view(&state, target))
        .collect();
    ok(json!({"items": items}))
}

fn find_target(state: &ApiState, id: &str) -> Result<TargetRecord, Problem> {
    state
        .engine
        .store()
        .read(|r| Ok(r.targets()?.into_iter().find(|t| t.id == id)))?
        .ok_or_else(|| Problem::not_found(format!("target `{id}`")))
}

pub async fn get_target(State(state): State<ApiState>, PathId(id): PathId<String>) -> Answer {
    let target = find_target(&state, &id)?;
    ok(target_view(&state, target))
}

pub async fn put_target(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<String>,
    raw: Raw,
) -> Answer {
    // serde's messages quote the value they could not read; for the
    // credential that value may be the secret.
    let input: TargetInput = parse_object(&raw.bytes).map_err(|mut problem| {
        let about_credential = problem
            .errors
            .iter()
            .any(|e| e.starts_with("field `credential"));
        if about_credential {
            let only = "field `credential`: expected an object with `public_id` and `secret` \
                        strings and nothing else";
            problem.errors = vec![only.to_string()];
            problem.detail = only.to_string();
        }
        problem
    })?;
    let target = TargetRecord {
        id: id.clone(),
        provider: input.provider,
        account: input.account,
        region: input.region,
        resource: input.resource,
        endpoint: input.endpoint,
        credential: None,
        settings: input.settings,
    };
    state
        .engine
        .set_target(target, input.credential, &caller.name)
        .await?;
    let target = find_target(&state, &id)?;
    ok(target_view(&state, target))
}

pub async fn delete_target(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<String>,
) -> Answer {
    state.engine.delete_target(&id, &caller.name).await?;
    no_content()
}

// ----- components -----

fn action_view(action: &crate::runtime::wit::ActionInfo) -> Value {
    let kinds: Vec<&str> = action
        .entity_kinds
        .iter()
        .map(|k| crate::runtime::kind_name(*k))
        .collect();
    let settings: Vec<Value> = action
        .settings
        .iter()
        .map(|s| json!({"name": s.name, "description": s.description, "required": s.required}))
        .collect();
    json!({
        "id": action.id,
        "action_type": action.action_type,
        "description": action.description,
        "entity_kinds": kinds,
        "reversible": action.reversible,
        "retryable": action.retryable,
        "settings": settings,
    })
}

/// A component as the API shows it: the active version's description and
/// every installed version with its status.
fn component_view(state: &ApiState, view: &crate::registry::ComponentView) -> Value {
    let shown = view
        .active_record()
        .or_else(|| view.versions.last())
        .and_then(|record| state.registry.loaded(&record.digest));
    let info = shown.as_ref().map(|loaded| loaded.info());
    let versions: Vec<Value> = view
        .versions
        .iter()
        .map(|record| {
            let missing = view.missing(record);
            let status = if view.active.as_deref() == Some(record.digest.as_str()) {
                "active"
            } else if view.broken.contains_key(&record.digest) {
                "unloadable"
            } else if record.awaiting_grant && !missing.is_empty() {
                "awaiting-grant"
            } else {
                "inactive"
            };
            json!({
                "version": record.version,
                "digest": record.digest,
                "size": record.size,
                "status": status,
                "source": record.source,
                "installed_by": record.installed_by,
                "installed_at": record.installed_at,
                "signed_by": record.signed_by,
                "actions": record.actions,
                "requested": {"hosts": record.requested.hosts, "secrets": record.requested.secrets},
                "missing": missing,
                "error": view.broken.get(&record.digest),
            })
        })
        .collect();
    let grant = match &view.grant {
        Some(grant) => json!({
            "hosts": grant.grant.hosts,
            "secrets": grant.grant.secrets,
            "granted_by": grant.granted_by,
            "granted_at": grant.granted_at,
        }),
        None => json!({"hosts": [], "secrets": [], "granted_by": null, "granted_at": null}),
    };
    json!({
        "name": view.name,
        "version": view.active_record().map(|r| r.version.clone()),
        "digest": view.active,
        "description": info.map(|i| i.description.clone()),
        "enabled": view.enabled,
        "actions": info.map(|i| i.actions.iter().map(action_view).collect::<Vec<_>>()).unwrap_or_default(),
        "hosts": info.map(|i| i.hosts.clone()).unwrap_or_default(),
        "needs_credential": info.is_some_and(|i| i.needs_credential),
        "grant": grant,
        "versions": versions,
    })
}

pub async fn list_components(State(state): State<ApiState>) -> Answer {
    let items: Vec<Value> = state
        .registry
        .overview()?
        .iter()
        .map(|view| component_view(&state, view))
        .collect();
    ok(json!({"items": items}))
}

fn find_component(state: &ApiState, name: &str) -> Result<Value, Problem> {
    state
        .registry
        .overview()?
        .into_iter()
        .find(|view| view.name == name)
        .map(|view| component_view(state, &view))
        .ok_or_else(|| Problem::not_found(format!("component `{name}`")))
}

pub async fn get_component(State(state): State<ApiState>, PathId(name): PathId<String>) -> Answer {
    ok(find_component(&state, &name)?)
}

pub async fn enable_component(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
) -> Answer {
    state
        .engine
        .set_component_enabled(&name, true, &caller.name)
        .await?;
    ok(find_component(&state, &name)?)
}

pub async fn disable_component(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
) -> Answer {
    state
        .engine
        .set_component_enabled(&name, false, &caller.name)
        .await?;
    ok(find_component(&state, &name)?)
}

/// The header carrying a component's minisign signature, base64-encoded
/// (a `.minisig` file spans several lines).
pub const SIGNATURE_HEADER: &str = "x-riposte-signature";

pub async fn upload_component(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    WasmBody(wasm): WasmBody,
) -> Answer {
    let signature = match headers.get(SIGNATURE_HEADER) {
        None => None,
        Some(value) => {
            use base64::Engine as _;
            let text = value
                .to_str()
                .ok()
                .and_then(|v| {
                    base64::engine::general_purpose::STANDARD
                        .decode(v.trim())
                        .ok()
                })
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    Problem::bad_request(format!(
                        "header `{SIGNATURE_HEADER}` must be the base64 of a .minisig file \
                         (`base64 -w0 component.wasm.minisig`)"
                    ))
                })?;
            Some(text)
        }
    };
    let upload = crate::registry::Upload {
        wasm: wasm.to_vec(),
        signature,
        source: "upload".into(),
        actor: caller.name.clone(),
    };
    // Its own task: a client that goes away, or the request timeout, must
    // not cut an install short.
    let registry = state.registry.clone();
    let done = tokio::spawn(async move { registry.install(upload).await })
        .await
        .map_err(|err| Problem::internal(format!("the install task failed: {err}")))??;
    let (code, status, missing) = match &done.status {
        InstallStatus::Active => (StatusCode::CREATED, "active", Vec::new()),
        InstallStatus::AwaitingGrant(missing) => {
            (StatusCode::CREATED, "awaiting-grant", missing.clone())
        }
        InstallStatus::Inactive => (StatusCode::CREATED, "inactive", Vec::new()),
        InstallStatus::Unchanged => (StatusCode::OK, "unchanged", Vec::new()),
    };
    let cache = match &done.cache {
        Some(crate::registry::CacheUse::Hit) => "hit",
        Some(crate::registry::CacheUse::Compiled) => "compiled",
        Some(crate::registry::CacheUse::Rebuilt(_)) => "rebuilt",
        None => "none",
    };
    with_status(
        code,
        json!({
            "status": status,
            "name": done.record.name,
            "version": done.record.version,
            "digest": done.record.digest,
            "missing": missing,
            "cache": cache,
            "component": find_component(&state, &done.record.name)?,
        }),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantInput {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
}

pub async fn grant_component(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
    Json(input): Json<GrantInput>,
) -> Answer {
    let spec = crate::store::GrantSpec {
        hosts: input.hosts,
        secrets: input.secrets,
    };
    let activated = state.registry.grant(&name, spec, &caller.name).await?;
    ok(json!({
        "activated": activated.map(|r| r.version),
        "component": find_component(&state, &name)?,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateInput {
    pub version: String,
}

pub async fn activate_component(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
    Json(input): Json<ActivateInput>,
) -> Answer {
    state
        .registry
        .activate(&name, &input.version, &caller.name)
        .await?;
    ok(find_component(&state, &name)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    pub version: Option<String>,
    #[serde(default)]
    pub force: bool,
}

pub async fn remove_component(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
    Query(query): Query<RemoveQuery>,
) -> Answer {
    let removed = state
        .registry
        .remove(&name, query.version.as_deref(), query.force, &caller.name)
        .await?;
    let versions: Vec<Value> = removed
        .iter()
        .map(|r| json!({"version": r.version, "digest": r.digest}))
        .collect();
    ok(json!({"name": name, "removed": versions}))
}

// ----- alerts and incidents -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestQuery {
    format: Option<String>,
}

fn parse_format(q: &IngestQuery) -> Result<Option<Format>, Problem> {
    q.format
        .as_deref()
        .map(|name| {
            Format::parse(name)
                .map_err(|err| Problem::invalid(vec![format!("query `format`: {err}")]))
        })
        .transpose()
}

/// The longest idempotency key accepted.
const MAX_KEY: usize = 256;

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .ok()
        .filter(|t| !t.is_empty() && t.len() <= MAX_KEY)
        .ok_or_else(|| {
            Problem::invalid(vec![format!(
                "header `Idempotency-Key`: expected 1 to {MAX_KEY} visible ASCII characters"
            )])
        })?;
    Ok(Some(text.to_string()))
}

async fn ingest_one(
    state: ApiState,
    kind: SignalKind,
    q: IngestQuery,
    headers: HeaderMap,
    raw: Raw,
) -> Answer {
    let format = parse_format(&q)?;
    // Senders' keys live in a namespace of their own, so that one can never
    // equal the content key (`sha256:...`) of an alert sent without one, or
    // the key of a batch line.
    let key = idempotency_key(&headers)?.map(|key| format!("key:{key}"));
    let record: Value = parse_json(&raw.bytes)?;
    let format = format
        .or_else(|| ingest::detect(&record))
        .unwrap_or(Format::Generic);
    match ingest::parse_record(format, &record) {
        Ok(Parsed::Alert(alert)) => {
            let report = state
                .engine
                .ingest(kind, key, format.as_str(), alert)
                .await?;
            with_status(StatusCode::ACCEPTED, report)
        }
        Ok(Parsed::Skipped(reason)) => ok(json!({"skipped_record": reason})),
        Err(reason) => Err(Problem::invalid(vec![reason])),
    }
}

/// How many records of one batch are ingested at once; they commit
/// together through the store's group commit.
const BATCH_CONCURRENCY: usize = 64;

async fn ingest_batch(
    state: ApiState,
    kind: SignalKind,
    q: IngestQuery,
    headers: HeaderMap,
    raw: Raw,
) -> Answer {
    let format = parse_format(&q)?;
    let key = idempotency_key(&headers)?;
    let text = std::str::from_utf8(&raw.bytes)
        .map_err(|_| Problem::bad_request("the body is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(Problem::bad_request(
            "the body is empty; expected JSON lines or a JSON array of records",
        ));
    }
    let lines = text.lines().filter(|line| !line.trim().is_empty()).count();
    if lines > super::MAX_BATCH_RECORDS && !text.trim_start().starts_with('[') {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-records",
            "Too many records",
            format!(
                "the batch has {lines} lines; send at most {} records per request",
                super::MAX_BATCH_RECORDS
            ),
        ));
    }
    // Blank lines are not records: they get no result. Each result keeps
    // its place in the document: the line for JSON lines, the element for
    // an array.
    let records: Vec<_> = ingest::parse_document(format, text)
        .into_iter()
        .enumerate()
        .filter(
            |(_, record)| !matches!(record, Ok(Parsed::Skipped(reason)) if reason == "blank line"),
        )
        .collect();
    if records.len() > super::MAX_BATCH_RECORDS {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-records",
            "Too many records",
            format!(
                "the batch has {} records; send at most {} per request",
                records.len(),
                super::MAX_BATCH_RECORDS
            ),
        ));
    }
    let mut results: Vec<Value> = vec![Value::Null; records.len()];
    let mut lines = vec![0; records.len()];
    let (mut ingested, mut duplicates, mut skipped, mut failed) = (0usize, 0usize, 0usize, 0usize);
    let mut running = tokio::task::JoinSet::new();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(BATCH_CONCURRENCY));
    for (index, (place, record)) in records.into_iter().enumerate() {
        let line = place + 1;
        lines[index] = line;
        match record {
            Err(err) => {
                failed += 1;
                results[index] = json!({"line": err.line, "error": err.reason});
            }
            Ok(Parsed::Skipped(reason)) => {
                skipped += 1;
                results[index] = json!({"line": line, "skipped": reason});
            }
            Ok(Parsed::Alert(alert)) => {
                let engine = state.engine.clone();
                let key = key.as_ref().map(|key| format!("batch:{key}#{line}"));
                let source = alert
                    .get("format")
                    .and_then(Value::as_str)
                    .unwrap_or("generic")
                    .to_string();
                let permit = permits.clone().acquire_owned().await.expect("never closed");
                running.spawn(async move {
                    let result = engine.ingest(kind, key, &source, alert).await;
                    drop(permit);
                    (index, result)
                });
            }
        }
    }
    while let Some(joined) = running.join_next().await {
        let (index, result) = joined.map_err(|err| Problem::internal(err.to_string()))?;
        let line = lines[index];
        results[index] = match result {
            Ok(report) => {
                if report.delivery == "duplicate" {
                    duplicates += 1;
                } else {
                    ingested += 1;
                }
                json!({"line": line, "report": report})
            }
            Err(err) => {
                failed += 1;
                let problem = Problem::from(err);
                json!({"line": line, "error": problem.detail})
            }
        };
    }
    ok(json!({
        "results": results,
        "ingested": ingested,
        "duplicates": duplicates,
        "skipped": skipped,
        "failed": failed,
    }))
}

pub async fn ingest_alert(
    State(state): State<ApiState>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    raw: Raw,
) -> Answer {
    ingest_one(state, SignalKind::Alert, q, headers, raw).await
}

pub async fn ingest_incident(
    State(state): State<ApiState>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    raw: Raw,
) -> Answer {
    ingest_one(state, SignalKind::Incident, q, headers, raw).await
}

pub async fn ingest_alert_batch(
    State(state): State<ApiState>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    raw: Raw,
) -> Answer {
    ingest_batch(state, SignalKind::Alert, q, headers, raw).await
}

pub async fn ingest_incident_batch(
    State(state): State<ApiState>,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    raw: Raw,
) -> Answer {
    ingest_batch(state, SignalKind::Incident, q, headers, raw).await
}

fn list_signals(state: &ApiState, kind: SignalKind, q: PageQuery) -> Answer {
    let limit = page_limit(q.limit)?;
    ok(state
        .engine
        .store()
        .read(|r| r.list_signals(kind, q.before, limit))?)
}

fn get_signal(state: &ApiState, kind: SignalKind, id: u64) -> Answer {
    let found = state.engine.store().read(|r| r.signal(kind, id))?;
    ok(found.ok_or_else(|| Problem::not_found(format!("{} {id}", kind.as_str())))?)
}

pub async fn list_alerts(State(state): State<ApiState>, Query(q): Query<PageQuery>) -> Answer {
    list_signals(&state, SignalKind::Alert, q)
}

pub async fn list_incidents(State(state): State<ApiState>, Query(q): Query<PageQuery>) -> Answer {
    list_signals(&state, SignalKind::Incident, q)
}

pub async fn get_alert(State(state): State<ApiState>, PathId(id): PathId<u64>) -> Answer {
    get_signal(&state, SignalKind::Alert, id)
}

pub async fn get_incident(State(state): State<ApiState>, PathId(id): PathId<u64>) -> Answer {
    get_signal(&state, SignalKind::Incident, id)
}

/// How an operator handles an alert or incident by hand.
#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum HandleInput {
    /// Open the policies its matching rules recommend.
    ApplyRecommended,
    /// Run a chosen script on an entity.
    RunScript { script: String, entity: EntityInput },
    /// Put an entity on the allowlist.
    Allowlist {
        entity: EntityInput,
        reason: String,
        #[serde(default)]
        expires_at: Option<Time>,
    },
}

async fn handle(
    state: ApiState,
    caller: Caller,
    kind: SignalKind,
    id: u64,
    headers: HeaderMap,
    input: HandleInput,
) -> Answer {
    let key = idempotency_key(&headers)?;
    match input {
        HandleInput::ApplyRecommended => {
            let (policies, repeat) = state
                .engine
                .apply_recommended(kind, id, &caller.name, key.as_deref())
                .await?;
            if repeat {
                return ok(json!({"policies": policies, "repeat": true}));
            }
            with_status(StatusCode::ACCEPTED, json!({"policies": policies}))
        }
        HandleInput::RunScript { script, entity } => {
            let entity = entity.parse("entity")?;
            let (policy, repeat) = state
                .engine
                .handle_with_script(kind, id, &script, entity, &caller.name, key.as_deref())
                .await?;
            if repeat {
                return ok(json!({"policies": [policy], "repeat": true}));
            }
            with_status(StatusCode::ACCEPTED, json!({"policies": [policy]}))
        }
        HandleInput::Allowlist {
            entity,
            reason,
            expires_at,
        } => {
            if state.engine.store().read(|r| r.signal(kind, id))?.is_none() {
                return Err(Problem::not_found(format!("{} {id}", kind.as_str())));
            }
            let input = AllowInput {
                kind: entity.kind,
                value: entity.value,
                reason,
                expires_at,
                scope: None,
            };
            let entry = state
                .engine
                .add_allow(input.entry(0)?, &caller.name)
                .await?;
            with_status(StatusCode::CREATED, entry)
        }
    }
}

pub async fn handle_alert(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<u64>,
    headers: HeaderMap,
    Json(input): Json<HandleInput>,
) -> Answer {
    handle(state, caller, SignalKind::Alert, id, headers, input).await
}

pub async fn handle_incident(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(id): PathId<u64>,
    headers: HeaderMap,
    Json(input): Json<HandleInput>,
) -> Answer {
    handle(state, caller, SignalKind::Incident, id, headers, input).await
}

// ----- audit -----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    object: Option<String>,
    since: Option<Time>,
    until: Option<Time>,
    before: Option<u64>,
    limit: Option<usize>,
}

pub async fn list_audit(State(state): State<ApiState>, Query(q): Query<AuditQuery>) -> Answer {
    let limit = page_limit(q.limit)?;
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        object: q.object,
        since: q.since,
        until: q.until,
    };
    ok(state
        .engine
        .store()
        .read(|r| r.list_audit(&filter, q.before, limit))?)
}

// ----- tokens -----

pub async fn list_tokens(State(state): State<ApiState>) -> Answer {
    let items: Vec<Value> = state
        .tokens
        .list()
        .into_iter()
        .map(|(record, last_used)| {
            json!({
                "name": record.name,
                "role": record.role,
                "created_at": record.created_at,
                "created_by": record.created_by,
                "last_used_at": last_used,
            })
        })
        .collect();
    ok(json!({"items": items}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    name: String,
    role: String,
}

pub async fn create_token(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Json(input): Json<TokenInput>,
) -> Answer {
    let role = Role::parse(&input.role)
        .map_err(|err| Problem::invalid(vec![format!("field `role`: {err}")]))?;
    let (record, token) = state
        .tokens
        .create(state.engine.store(), &input.name, role, &caller.name)
        .await?;
    with_status(
        StatusCode::CREATED,
        json!({"name": record.name, "role": record.role, "token": token}),
    )
}

pub async fn revoke_token(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    PathId(name): PathId<String>,
) -> Answer {
    state
        .tokens
        .revoke(state.engine.store(), &name, &caller.name)
        .await?;
    no_content()
}
