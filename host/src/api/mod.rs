//! The HTTP API: JSON under `/v1`, bearer tokens with roles, errors as
//! RFC 9457 problem documents, an OpenAPI document and Prometheus metrics.
//!
//! What it owns: request parsing, authorization and answers. It reads the
//! store for lists and asks the engine for every change, so that each
//! change is validated, audited and acted on in one place.
//!
//! Every route is declared once in [`ROUTES`], with its method, path,
//! role and summary; the router, the authorization check and the OpenAPI
//! document all read that table, so a route cannot be served without a
//! role or left out of the document.

mod auth;
mod body;
mod handlers;
mod openapi;
mod problem;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};

pub use auth::{Caller, Role, TOKEN_PREFIX, Tokens};
pub use openapi::document as openapi_document;
pub use problem::{PROBLEM_BASE, Problem};

use crate::engine::Engine;

/// The largest request body accepted, except on batch ingestion.
pub const MAX_BODY: usize = 2 << 20;
/// The largest batch ingestion body.
pub const MAX_BATCH_BODY: usize = 8 << 20;
/// The most records one batch may hold; larger feeds are split by the
/// sender (`riposte alert send` sends 500 per request).
pub const MAX_BATCH_RECORDS: usize = 10_000;
/// How long a request may take before it is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub engine: Engine,
    pub registry: crate::registry::Registry,
    pub tokens: Tokens,
    /// Set once start-up finished; `/readyz` answers 503 before.
    pub ready: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").finish_non_exhaustive()
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token needed (health, readiness, the OpenAPI document).
    Public,
    /// A token with at least this role.
    Role(Role),
}

/// One route of the API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// The path template, as axum matches it (`/v1/tasks/{id}`).
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// The OpenAPI schema of a success answer (a name in
    /// `components/schemas`), or `None` for no body.
    pub answer: Option<&'static str>,
    /// The success status.
    pub status: u16,
    /// The request body's schema, if it takes one.
    pub body: Option<&'static str>,
    /// Query parameters, by name and schema type.
    pub query: &'static [(&'static str, &'static str)],
}

const V: Access = Access::Role(Role::Viewer);
const O: Access = Access::Role(Role::Operator);
const A: Access = Access::Role(Role::Admin);
const P: Access = Access::Public;

const PAGE: &[(&str, &str)] = &[("limit", "integer"), ("before", "integer")];
const POLICY_QUERY: &[(&str, &str)] = &[
    ("status", "string"),
    ("entity_kind", "string"),
    ("entity", "string"),
    ("action", "string"),
    ("source", "string"),
    ("script", "string"),
    ("version", "string"),
    ("since", "string"),
    ("until", "string"),
    ("limit", "integer"),
    ("before", "integer"),
];
const TASK_QUERY: &[(&str, &str)] = &[
    ("status", "string"),
    ("entity_kind", "string"),
    ("entity", "string"),
    ("action", "string"),
    ("target", "string"),
    ("policy", "integer"),
    ("limit", "integer"),
    ("before", "integer"),
];
const AUDIT_QUERY: &[(&str, &str)] = &[
    ("actor", "string"),
    ("action", "string"),
    ("object", "string"),
    ("since", "string"),
    ("until", "string"),
    ("limit", "integer"),
    ("before", "integer"),
];
const INGEST_QUERY: &[(&str, &str)] = &[("format", "string")];

macro_rules! route {
    ($method:literal, $path:literal, $access:expr, $summary:literal, $answer:expr, $status:literal, $body:expr, $query:expr) => {
        Route {
            method: $method,
            path: $path,
            access: $access,
            summary: $summary,
            answer: $answer,
            status: $status,
            body: $body,
            query: $query,
        }
    };
}

/// Every route of the API.
pub const ROUTES: &[Route] = &[
    route!(
        "GET",
        "/healthz",
        P,
        "The process is up",
        Some("Status"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/readyz",
        P,
        "The daemon has started and the store answers",
        Some("Status"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/metrics",
        V,
        "Prometheus metrics",
        Some("Text"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/openapi.json",
        P,
        "This document",
        Some("Any"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/policies",
        V,
        "List handling policies, newest first",
        Some("PolicyPage"),
        200,
        None,
        POLICY_QUERY
    ),
    route!(
        "GET",
        "/v1/policies/{id}",
        V,
        "A policy with its source and tasks",
        Some("PolicyDetail"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/policies/{id}/script",
        V,
        "The script version a policy ran, with that version's runs",
        Some("PolicyScript"),
        200,
        None,
        PAGE
    ),
    route!(
        "GET",
        "/v1/tasks",
        V,
        "List handling tasks, newest first",
        Some("TaskPage"),
        200,
        None,
        TASK_QUERY
    ),
    route!(
        "GET",
        "/v1/tasks/{id}",
        V,
        "A task with its attempts and failure",
        Some("Task"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/tasks/{id}/retry",
        O,
        "Retry a failed task",
        Some("TaskAccepted"),
        202,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/tasks/{id}/unblock",
        O,
        "Revert a succeeded reversible task now",
        Some("TaskAccepted"),
        202,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/scripts",
        V,
        "The latest version of each script",
        Some("ScriptList"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/scripts",
        A,
        "Create a script (version 1)",
        Some("ScriptVersion"),
        201,
        Some("ScriptSpec"),
        &[]
    ),
    route!(
        "POST",
        "/v1/scripts/validate",
        O,
        "Check a script without saving it",
        Some("Validation"),
        200,
        Some("ScriptSpec"),
        &[]
    ),
    route!(
        "GET",
        "/v1/scripts/{name}/versions",
        V,
        "Every version of a script, oldest first",
        Some("ScriptList"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/scripts/{name}/versions",
        A,
        "Publish a new version of a script",
        Some("ScriptVersion"),
        201,
        Some("ScriptSpec"),
        &[]
    ),
    route!(
        "GET",
        "/v1/scripts/{name}/versions/{version}",
        V,
        "One version of a script",
        Some("ScriptVersion"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/scripts/{name}/run",
        O,
        "Run a script on an entity by hand",
        Some("PolicyAccepted"),
        202,
        Some("RunScript"),
        &[]
    ),
    route!(
        "GET",
        "/v1/rules",
        V,
        "List response rules",
        Some("RuleList"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/rules/{name}",
        V,
        "One response rule",
        Some("Rule"),
        200,
        None,
        &[]
    ),
    route!(
        "PUT",
        "/v1/rules/{name}",
        A,
        "Create or replace a response rule",
        Some("Rule"),
        200,
        Some("Rule"),
        &[]
    ),
    route!(
        "DELETE",
        "/v1/rules/{name}",
        A,
        "Delete a response rule",
        None,
        204,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/rules/{name}/enable",
        A,
        "Enable a response rule",
        Some("Rule"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/rules/{name}/disable",
        A,
        "Disable a response rule",
        Some("Rule"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/allowlist",
        V,
        "List allowlist entries",
        Some("AllowList"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/allowlist",
        O,
        "Add an allowlist entry",
        Some("AllowEntry"),
        201,
        Some("AllowInput"),
        &[]
    ),
    route!(
        "GET",
        "/v1/allowlist/{id}",
        V,
        "One allowlist entry",
        Some("AllowEntry"),
        200,
        None,
        &[]
    ),
    route!(
        "PUT",
        "/v1/allowlist/{id}",
        O,
        "Replace an allowlist entry",
        Some("AllowEntry"),
        200,
        Some("AllowInput"),
        &[]
    ),
    route!(
        "DELETE",
        "/v1/allowlist/{id}",
        O,
        "Remove an allowlist entry",
        None,
        204,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/targets",
        V,
        "List targets (credentials are never returned)",
        Some("TargetList"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/targets/{id}",
        V,
        "One target",
        Some("Target"),
        200,
        None,
        &[]
    ),
    route!(
        "PUT",
        "/v1/targets/{id}",
        A,
        "Create or replace a target; the credential is write-only",
        Some("Target"),
        200,
        Some("TargetInput"),
        &[]
    ),
    route!(
        "DELETE",
        "/v1/targets/{id}",
        A,
        "Delete a target and its credential",
        None,
        204,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/components",
        V,
        "List installed components",
        Some("ComponentList"),
        200,
        None,
        &[]
    ),
    route!(
        "GET",
        "/v1/components/{name}",
        V,
        "One component: actions, grants, version",
        Some("Component"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/components",
        A,
        "Install a component version (body: the .wasm; optional minisign signature in \
         X-Riposte-Signature, base64)",
        Some("ComponentInstall"),
        201,
        Some("Wasm"),
        &[]
    ),
    route!(
        "DELETE",
        "/v1/components/{name}",
        A,
        "Remove a component (or one inactive version); refused while its tasks wait, unless \
         forced",
        Some("ComponentRemoved"),
        200,
        None,
        &[("version", "string"), ("force", "boolean")]
    ),
    route!(
        "POST",
        "/v1/components/{name}/grant",
        A,
        "Replace a component's grant; a version waiting for it becomes active",
        Some("GrantAnswer"),
        200,
        Some("GrantInput"),
        &[]
    ),
    route!(
        "POST",
        "/v1/components/{name}/activate",
        A,
        "Make an installed version the active one (upgrade or rollback)",
        Some("Component"),
        200,
        Some("ActivateInput"),
        &[]
    ),
    route!(
        "POST",
        "/v1/components/{name}/enable",
        A,
        "Let a component start tasks",
        Some("Component"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/components/{name}/disable",
        A,
        "Stop a component starting tasks (reverts still run)",
        Some("Component"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/alerts",
        O,
        "Ingest one alert",
        Some("IngestAnswer"),
        202,
        Some("Any"),
        INGEST_QUERY
    ),
    route!(
        "POST",
        "/v1/alerts/batch",
        O,
        "Ingest alerts: a JSON array or JSON lines",
        Some("BatchAnswer"),
        200,
        Some("Any"),
        INGEST_QUERY
    ),
    route!(
        "GET",
        "/v1/alerts",
        V,
        "List alerts, newest first",
        Some("SignalPage"),
        200,
        None,
        PAGE
    ),
    route!(
        "GET",
        "/v1/alerts/{id}",
        V,
        "One alert",
        Some("Signal"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/alerts/{id}/handle",
        O,
        "Handle an alert by hand",
        Some("HandleAnswer"),
        202,
        Some("HandleInput"),
        &[]
    ),
    route!(
        "POST",
        "/v1/incidents",
        O,
        "Ingest one incident (or an update of one)",
        Some("IngestAnswer"),
        202,
        Some("Any"),
        INGEST_QUERY
    ),
    route!(
        "POST",
        "/v1/incidents/batch",
        O,
        "Ingest incidents: a JSON array or JSON lines",
        Some("BatchAnswer"),
        200,
        Some("Any"),
        INGEST_QUERY
    ),
    route!(
        "GET",
        "/v1/incidents",
        V,
        "List incidents, newest first",
        Some("SignalPage"),
        200,
        None,
        PAGE
    ),
    route!(
        "GET",
        "/v1/incidents/{id}",
        V,
        "One incident",
        Some("Signal"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/incidents/{id}/handle",
        O,
        "Handle an incident by hand",
        Some("HandleAnswer"),
        202,
        Some("HandleInput"),
        &[]
    ),
    route!(
        "GET",
        "/v1/audit",
        V,
        "The audit log, newest first",
        Some("AuditPage"),
        200,
        None,
        AUDIT_QUERY
    ),
    route!(
        "GET",
        "/v1/tokens",
        A,
        "List API tokens (never the tokens themselves)",
        Some("TokenList"),
        200,
        None,
        &[]
    ),
    route!(
        "POST",
        "/v1/tokens",
        A,
        "Create a token; it is shown once",
        Some("NewToken"),
        201,
        Some("TokenInput"),
        &[]
    ),
    route!(
        "DELETE",
        "/v1/tokens/{name}",
        A,
        "Revoke a token",
        None,
        204,
        None,
        &[]
    ),
];

fn handler(method: &str, path: &str) -> MethodRouter<ApiState> {
    use handlers::*;
    match (method, path) {
        ("GET", "/healthz") => get(healthz),
        ("GET", "/readyz") => get(readyz),
        ("GET", "/metrics") => get(metrics),
        ("GET", "/v1/openapi.json") => get(openapi_json),
        ("GET", "/v1/policies") => get(list_policies),
        ("GET", "/v1/policies/{id}") => get(get_policy),
        ("GET", "/v1/policies/{id}/script") => get(policy_script),
        ("GET", "/v1/tasks") => get(list_tasks),
        ("GET", "/v1/tasks/{id}") => get(get_task),
        ("POST", "/v1/tasks/{id}/retry") => post(retry_task),
        ("POST", "/v1/tasks/{id}/unblock") => post(unblock_task),
        ("GET", "/v1/scripts") => get(list_scripts),
        ("POST", "/v1/scripts") => post(create_script),
        ("POST", "/v1/scripts/validate") => post(validate_script),
        ("GET", "/v1/scripts/{name}/versions") => get(script_versions),
        ("POST", "/v1/scripts/{name}/versions") => post(publish_version),
        ("GET", "/v1/scripts/{name}/versions/{version}") => get(script_version),
        ("POST", "/v1/scripts/{name}/run") => post(run_script),
        ("GET", "/v1/rules") => get(list_rules),
        ("GET", "/v1/rules/{name}") => get(get_rule),
        ("PUT", "/v1/rules/{name}") => put(put_rule),
        ("DELETE", "/v1/rules/{name}") => delete(delete_rule),
        ("POST", "/v1/rules/{name}/enable") => post(enable_rule),
        ("POST", "/v1/rules/{name}/disable") => post(disable_rule),
        ("GET", "/v1/allowlist") => get(list_allow),
        ("POST", "/v1/allowlist") => post(add_allow),
        ("GET", "/v1/allowlist/{id}") => get(get_allow),
        ("PUT", "/v1/allowlist/{id}") => put(replace_allow),
        ("DELETE", "/v1/allowlist/{id}") => delete(remove_allow),
        ("GET", "/v1/targets") => get(list_targets),
        ("GET", "/v1/targets/{id}") => get(get_target),
        ("PUT", "/v1/targets/{id}") => put(put_target),
        ("DELETE", "/v1/targets/{id}") => delete(delete_target),
        ("GET", "/v1/components") => get(list_components),
        ("GET", "/v1/components/{name}") => get(get_component),
        ("POST", "/v1/components") => post(upload_component)
            .layer(DefaultBodyLimit::max(crate::registry::MAX_COMPONENT_BYTES)),
        ("DELETE", "/v1/components/{name}") => delete(remove_component),
        ("POST", "/v1/components/{name}/grant") => post(grant_component),
        ("POST", "/v1/components/{name}/activate") => post(activate_component),
        ("POST", "/v1/components/{name}/enable") => post(enable_component),
        ("POST", "/v1/components/{name}/disable") => post(disable_component),
        ("POST", "/v1/alerts") => post(ingest_alert),
        ("POST", "/v1/alerts/batch") => {
            post(ingest_alert_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY))
        }
        ("GET", "/v1/alerts") => get(list_alerts),
        ("GET", "/v1/alerts/{id}") => get(get_alert),
        ("POST", "/v1/alerts/{id}/handle") => post(handle_alert),
        ("POST", "/v1/incidents") => post(ingest_incident),
        ("POST", "/v1/incidents/batch") => {
            post(ingest_incident_batch).layer(DefaultBodyLimit::max(MAX_BATCH_BODY))
        }
        ("GET", "/v1/incidents") => get(list_incidents),
        ("GET", "/v1/incidents/{id}") => get(get_incident),
        ("POST", "/v1/incidents/{id}/handle") => post(handle_incident),
        ("GET", "/v1/audit") => get(list_audit),
        ("GET", "/v1/tokens") => get(list_tokens),
        ("POST", "/v1/tokens") => post(create_token),
        ("DELETE", "/v1/tokens/{name}") => delete(revoke_token),
        _ => unreachable!("route {method} {path} is in ROUTES but has no handler"),
    }
}

/// The API's router.
pub fn router(state: ApiState) -> Router {
    let mut router: Router<ApiState> = Router::new();
    for route in ROUTES {
        router = router.route(route.path, handler(route.method, route.path));
    }
    router
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::wrong_method)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorize,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(observe))
        .with_state(state)
}

/// Checks the caller's role for the route a request matched, and records
/// the request's metrics by route template.
async fn authorize(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let response = check_and_run(&state, request, next, &path).await;
    if method != Method::OPTIONS {
        crate::metrics::record_http(
            method.as_str(),
            &path,
            response.status().as_u16(),
            started.elapsed(),
        );
    }
    response
}

async fn check_and_run(state: &ApiState, mut request: Request, next: Next, path: &str) -> Response {
    // axum answers HEAD with the GET handler, so HEAD needs GET's role.
    let method = match request.method().as_str() {
        "HEAD" => "GET".to_string(),
        other => other.to_string(),
    };
    let access = match ROUTES.iter().find(|r| r.path == path && r.method == method) {
        Some(route) => route.access,
        // A method the path has no handler for (axum adds none but HEAD,
        // mapped above): the router answers 405.
        None if ROUTES.iter().any(|r| r.path == path) => {
            return next.run(request).await;
        }
        // A handler reached without a table entry is a bug; refuse all but
        // admins rather than serve it open.
        None => Access::Role(Role::Admin),
    };
    let Access::Role(needed) = access else {
        return next.run(request).await;
    };
    // Two Authorization headers are refused: which one counts is ambiguous.
    let mut values = request.headers().get_all(header::AUTHORIZATION).iter();
    let header = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    };
    let caller = match state.tokens.authenticate(header) {
        Ok(caller) => caller,
        Err(_) => {
            let mut response = Problem::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "send a valid token as `Authorization: Bearer rpt_...`; the daemon wrote the \
                 first admin token to `admin.token` in its data directory",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            return response;
        }
    };
    if caller.role < needed {
        return Problem::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            format!(
                "token `{}` has role {}; {} {} needs role {} or higher",
                caller.name,
                caller.role.as_str(),
                method,
                path,
                needed.as_str()
            ),
        )
        .into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Times out slow requests.
async fn observe(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            format!(
                "the request took longer than {} s and was abandoned; a change it asked for \
                 may still complete, so check before repeating it",
                REQUEST_TIMEOUT.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Connections served at once; further ones wait in the listen queue.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API on `listener` until `shutdown` resolves, then lets the
/// requests in progress finish (for at most [`REQUEST_TIMEOUT`]).
///
/// Each connection must send its headers within [`HEADER_TIMEOUT`] (the
/// request timeout only starts once they are read), and at most
/// [`MAX_CONNECTIONS`] are served at once, so slow or idle clients cannot
/// hold every file descriptor.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};

    let app = router(state);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of descriptors, or a connection reset before
                    // accept: wait a little rather than spin.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(REQUEST_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running at shutdown were abandoned");
    }
    Ok(())
}
