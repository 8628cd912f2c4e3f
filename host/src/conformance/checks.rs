//! The checks, in the order the report lists them (see the module docs of
//! [`super`] for what each one means).

use std::collections::BTreeSet;
use std::time::Duration;

use super::backend::{ALL_KINDS, Backend, Fault};
use super::{Check, Report, Status};
use crate::runtime::{
    CallReport, FailureKind, Grant, LoadedComponent, Runtime, TaskFailure, kind_name, wit,
};

/// Runs every check of `component` against `backend`.
pub(super) async fn run(
    runtime: &Runtime,
    component: &LoadedComponent,
    backend: &dyn Backend,
) -> Report {
    let info = component.info().clone();
    let mut kit = Kit {
        runtime,
        component,
        backend,
        grant: Grant {
            hosts: backend.grants(),
            secrets: backend
                .secrets()
                .into_iter()
                .map(|(name, _)| name)
                .collect(),
        },
        report: Report {
            component: format!(
                "{} {} (sha256 {})",
                info.name,
                info.version,
                component.digest()
            ),
            backend: backend.name(),
            checks: Vec::new(),
        },
        calls: Calls::default(),
        next_key: 0,
    };

    kit.describe().await;
    for action in &info.actions {
        for (index, kind) in action.entity_kinds.iter().enumerate() {
            kit.accepts(action, *kind, index == 0).await;
        }
        for kind in ALL_KINDS {
            if !action.entity_kinds.contains(&kind) {
                kit.refuses(action, kind).await;
            }
        }
        if let Some(kind) = action.entity_kinds.first() {
            kit.failures(action, *kind, info.needs_credential).await;
        }
    }
    kit.limits();
    kit.report
}

struct Kit<'a> {
    runtime: &'a Runtime,
    component: &'a LoadedComponent,
    backend: &'a dyn Backend,
    grant: Grant,
    report: Report,
    calls: Calls,
    next_key: u32,
}

/// What every call cost, for the limits check.
#[derive(Default)]
struct Calls {
    count: usize,
    peak_memory: usize,
    slowest: Duration,
    /// Calls ended by the runtime for a limit or the deadline.
    limited: Vec<String>,
}

impl Calls {
    fn record<T>(&mut self, what: &str, report: &CallReport<T>) {
        self.count += 1;
        self.peak_memory = self.peak_memory.max(report.memory_bytes);
        self.slowest = self.slowest.max(report.elapsed);
        if let Err(failure) = &report.result {
            let limit = failure.message.contains("exceeded its")
                || failure.message.contains("over the output limit")
                || failure.message.contains("overflowed its stack");
            if limit {
                self.limited.push(format!("{what}: {}", failure.message));
            }
        }
    }
}

impl Kit<'_> {
    fn add(&mut self, name: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.report.checks.push(Check {
            name: name.into(),
            status,
            detail: detail.into(),
        });
    }

    fn verdict(&mut self, name: String, problems: Vec<String>, passed: impl Into<String>) {
        if problems.is_empty() {
            self.add(name, Status::Pass, passed);
        } else {
            self.add(name, Status::Fail, problems.join("; "));
        }
    }

    /// `status` unless there are `problems`.
    fn finish(&mut self, name: String, status: Status, detail: String, problems: Vec<String>) {
        if problems.is_empty() {
            self.add(name, status, detail);
        } else {
            self.add(name, Status::Fail, problems.join("; "));
        }
    }

    /// A request for `action` on `entity` with a fresh idempotency key.
    fn request(&mut self, action: &wit::ActionInfo, entity: wit::Entity) -> wit::ActionRequest {
        self.next_key += 1;
        let task_id = format!("conformance-{}", self.next_key);
        wit::ActionRequest {
            action: action.id.clone(),
            idempotency_key: format!("{task_id}-{}", fastrand::u32(..)),
            task_id,
            attempt: 1,
            entity,
            target: self.backend.target(action),
            duration_seconds: action.reversible.then_some(3600),
            parameters: Vec::new(),
        }
    }

    fn state(&self) -> BTreeSet<String> {
        self.backend.state()
    }

    /// State-changing requests the backend received since `from`.
    fn changing_since(&self, from: usize) -> Vec<String> {
        self.backend
            .requests()
            .into_iter()
            .skip(from)
            .filter(|observed| observed.changes_state)
            .map(|observed| observed.summary)
            .collect()
    }

    async fn execute(
        &mut self,
        grant: &Grant,
        request: wit::ActionRequest,
    ) -> Result<wit::Outcome, TaskFailure> {
        let report = self
            .runtime
            .execute(self.component, grant, request, None)
            .await;
        self.calls.record("execute", &report);
        report.result
    }

    async fn plan(&mut self, request: wit::ActionRequest) -> Result<wit::PlanOutcome, TaskFailure> {
        let report = self
            .runtime
            .plan(self.component, &self.grant, request, None)
            .await;
        self.calls.record("plan", &report);
        report.result
    }

    async fn revert(
        &mut self,
        request: wit::ActionRequest,
        token: String,
    ) -> Result<wit::Outcome, TaskFailure> {
        let report = self
            .runtime
            .revert(self.component, &self.grant, request, token, None)
            .await;
        self.calls.record("revert", &report);
        report.result
    }

    async fn describe(&mut self) {
        let info = self.component.info();
        let detail = format!(
            "`{}` {}: {} action(s), asks for {} host(s){}",
            info.name,
            info.version,
            info.actions.len(),
            info.hosts.len(),
            if info.needs_credential {
                " and a credential"
            } else {
                ""
            }
        );
        self.add("describe is valid", Status::Pass, detail);

        let expected = format!("{info:?}");
        let mut problems = Vec::new();
        for call in 1..=2 {
            let report = self.runtime.describe(self.component).await;
            self.calls.record("describe", &report);
            match report.result {
                Ok(again) if format!("{again:?}") == expected => {}
                Ok(again) => problems.push(format!(
                    "call {call} answered differently: {again:?} instead of {expected}"
                )),
                Err(failure) => problems.push(format!("call {call} failed: {failure}")),
            }
        }
        self.verdict(
            "describe is stable".into(),
            problems,
            "two more calls in fresh instances answered the same",
        );
    }

    /// `plan`, `execute` and `revert` on a sample of a declared kind; with
    /// `full`, each property on its own line, and the repeats.
    async fn accepts(&mut self, action: &wit::ActionInfo, kind: wit::EntityKind, full: bool) {
        let label = format!("{} `{}`", action.id, kind_name(kind));
        let entity = self.backend.entity(kind);
        let request = self.request(action, entity);
        let before = self.state();

        let from = self.backend.requests().len();
        let plan = self.plan(request.clone()).await;
        let changed = self.changing_since(from);
        let mut problems = Vec::new();
        match &plan {
            Ok(plan) if plan.reversible != action.reversible => problems.push(format!(
                "plan says reversible {} but describe says {}",
                plan.reversible, action.reversible
            )),
            Ok(_) => {}
            Err(failure) => problems.push(format!("plan failed: {failure}")),
        }
        if self.state() != before {
            problems.push("the state changed".into());
        }
        if !changed.is_empty() {
            problems.push(format!("plan sent {}", changed.join(", ")));
        }
        let planned = plan
            .map(|plan| plan.changes.join(" / "))
            .unwrap_or_default();
        if full {
            self.verdict(
                format!("{label}: plan changes nothing"),
                std::mem::take(&mut problems),
                format!("plans: {planned}"),
            );
        }

        let first = match self.execute(&self.grant.clone(), request.clone()).await {
            Ok(outcome) => outcome,
            Err(failure) => {
                problems.push(format!("execute failed: {failure}"));
                let name = format!("{label}: accepted by plan, execute and revert");
                self.verdict(name, problems, "");
                return;
            }
        };
        let executed = self.state();
        let acted = executed != before;

        if full {
            let retry = wit::ActionRequest {
                attempt: 2,
                ..request.clone()
            };
            let mut repeat_problems = Vec::new();
            match self.execute(&self.grant.clone(), retry).await {
                Ok(second) => {
                    let after = self.state();
                    if after != executed {
                        repeat_problems.push(format!(
                            "the state changed again: {}",
                            difference(&executed, &after)
                        ));
                    }
                    if acted && second.changed {
                        repeat_problems.push(
                            "the repeat says `changed: true` although the first call had \
                             made the change"
                                .into(),
                        );
                    }
                }
                Err(failure) => repeat_problems.push(format!("the repeat failed: {failure}")),
            }
            self.verdict(
                format!("{label}: repeated execute is idempotent"),
                repeat_problems,
                format!(
                    "first: {}; the repeat with the same idempotency key changed nothing",
                    first.detail
                ),
            );
        }

        let no_revert = |reason: &str| {
            if full {
                (
                    format!("{label}: revert after execute restores the state"),
                    Status::Skip,
                    reason.to_owned(),
                )
            } else {
                (
                    format!("{label}: accepted by plan and execute"),
                    Status::Pass,
                    first.detail.clone(),
                )
            }
        };
        let token = match (first.revert_token.clone(), acted) {
            _ if !action.reversible => {
                let (name, status, detail) = no_revert("the action is not reversible");
                self.finish(name, status, detail, problems);
                return;
            }
            (Some(token), _) => token,
            (None, false) => {
                let (name, status, detail) =
                    no_revert("execute changed nothing and returned no token");
                self.finish(name, status, detail, problems);
                return;
            }
            (None, true) => {
                problems.push("execute changed the state but returned no revert token".into());
                let name = format!("{label}: revert after execute restores the state");
                self.verdict(name, problems, "");
                return;
            }
        };
        match self.revert(request.clone(), token.clone()).await {
            Ok(_) => {
                let after = self.state();
                if after != before {
                    problems.push(format!(
                        "after revert the state differs from before execute: {}",
                        difference(&before, &after)
                    ));
                }
            }
            Err(failure) => problems.push(format!("revert failed: {failure}")),
        }
        if !full {
            let name = format!("{label}: accepted by plan, execute and revert");
            self.verdict(name, problems, first.detail);
            return;
        }
        self.verdict(
            format!("{label}: revert after execute restores the state"),
            std::mem::take(&mut problems),
            "",
        );

        let retry = wit::ActionRequest {
            attempt: 2,
            ..request
        };
        match self.revert(retry, token).await {
            Ok(outcome) if outcome.changed => {
                problems.push("a second revert says `changed: true`".into());
            }
            Ok(_) => {}
            Err(failure) => problems.push(format!("a second revert failed: {failure}")),
        }
        if self.state() != before {
            problems.push("a second revert changed the state".into());
        }
        self.verdict(
            format!("{label}: a second revert is a success that changes nothing"),
            problems,
            "",
        );
    }

    /// The component itself refuses an undeclared kind.
    async fn refuses(&mut self, action: &wit::ActionInfo, kind: wit::EntityKind) {
        let request = self.request(action, self.backend.entity(kind));
        let before = self.state();
        let from = self.backend.requests().len();
        let mut problems = Vec::new();
        for plan in [true, false] {
            let what = if plan { "plan" } else { "execute" };
            let report = self
                .runtime
                .call_unchecked(self.component, &self.grant, request.clone(), plan)
                .await;
            self.calls.record(what, &report);
            match report.result {
                Err(failure) if failure.kind == FailureKind::InvalidInput => {}
                Err(failure) => problems.push(format!("{what} failed with {failure}")),
                Ok(()) => problems.push(format!("{what} succeeded")),
            }
        }
        if self.state() != before {
            problems.push("the state changed".into());
        }
        let changed = self.changing_since(from);
        if !changed.is_empty() {
            problems.push(format!("it sent {}", changed.join(", ")));
        }
        self.verdict(
            format!(
                "{} refuses `{}` with invalid-input",
                action.id,
                kind_name(kind)
            ),
            problems,
            "plan and execute, called directly (the host would refuse first)",
        );
    }

    /// Injected faults and refused capabilities give typed failures.
    async fn failures(
        &mut self,
        action: &wit::ActionInfo,
        kind: wit::EntityKind,
        needs_credential: bool,
    ) {
        for fault in Fault::ALL {
            let name = format!("{}: typed failure when {}", action.id, fault.describe());
            let request = self.request(action, self.backend.entity(kind));
            let before = self.state();
            let from = self.backend.requests().len();
            if !self.backend.inject(fault) {
                self.add(name, Status::Skip, "the backend cannot play this fault");
                continue;
            }
            let result = self.execute(&self.grant.clone(), request).await;
            self.backend.clear_faults();
            if self.backend.requests().len() == from {
                self.add(name, Status::Skip, "execute made no request");
                continue;
            }
            let mut problems = Vec::new();
            let expected = match fault {
                Fault::Forbidden => "permission-denied",
                Fault::Throttled => "throttled, retryable",
                Fault::Unavailable => "a retryable failure",
            };
            match &result {
                Ok(outcome) => problems.push(format!("execute succeeded: {}", outcome.detail)),
                Err(failure) => {
                    let typed = match fault {
                        Fault::Forbidden => failure.kind == FailureKind::PermissionDenied,
                        Fault::Throttled => {
                            failure.kind == FailureKind::Throttled && failure.retryable
                        }
                        Fault::Unavailable => failure.retryable,
                    };
                    if !typed {
                        problems.push(format!(
                            "expected {expected}, got {} (retryable {})",
                            failure, failure.retryable
                        ));
                    }
                    if fault == Fault::Throttled
                        && let Some(ms) = self.backend.retry_after_ms()
                        && failure.retry_after != Some(Duration::from_millis(ms))
                    {
                        problems.push(format!(
                            "the provider asked to wait {ms} ms; the failure says {:?}",
                            failure.retry_after
                        ));
                    }
                }
            }
            if self.state() != before {
                problems.push("the state changed".into());
            }
            let seen = result.err().map(|f| f.to_string()).unwrap_or_default();
            self.verdict(name, problems, seen);
        }

        self.unreachable(action, kind).await;
        self.not_granted(action, kind, needs_credential).await;
    }

    async fn unreachable(&mut self, action: &wit::ActionInfo, kind: wit::EntityKind) {
        let name = format!(
            "{}: typed failure when the endpoint is unreachable",
            action.id
        );
        let mut request = self.request(action, self.backend.entity(kind));
        // A port that was just free: nothing listens there.
        let port = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(listener) => listener.local_addr().map(|addr| addr.port()).unwrap_or(9),
            Err(_) => 9,
        };
        let dead = format!("http://127.0.0.1:{port}");
        let path = request
            .target
            .endpoint
            .split("://")
            .nth(1)
            .and_then(|rest| rest.find('/').map(|at| rest[at..].to_owned()))
            .unwrap_or_default();
        request.target.endpoint = format!("{dead}{path}");
        let mut grant = self.grant.clone();
        grant
            .hosts
            .push(dead.parse().expect("a loopback origin is a valid grant"));
        let before = self.state();
        let result = self.execute(&grant, request).await;
        let mut problems = Vec::new();
        match &result {
            Ok(_) => {
                self.add(name, Status::Skip, "execute succeeded without a request");
                return;
            }
            Err(failure)
                if matches!(
                    failure.kind,
                    FailureKind::Unreachable | FailureKind::Timeout
                ) && failure.retryable => {}
            Err(failure) => problems.push(format!(
                "expected a retryable unreachable or timeout, got {failure} (retryable {})",
                failure.retryable
            )),
        }
        if self.state() != before {
            problems.push("the state changed".into());
        }
        let seen = result.err().map(|f| f.to_string()).unwrap_or_default();
        self.verdict(name, problems, seen);
    }

    async fn not_granted(
        &mut self,
        action: &wit::ActionInfo,
        kind: wit::EntityKind,
        needs_credential: bool,
    ) {
        let cases = [
            (
                "the host is not granted",
                Grant {
                    hosts: Vec::new(),
                    secrets: self.grant.secrets.clone(),
                },
                true,
            ),
            (
                "the credential is not granted",
                Grant {
                    hosts: self.grant.hosts.clone(),
                    secrets: Vec::new(),
                },
                needs_credential,
            ),
        ];
        for (what, grant, applies) in cases {
            let name = format!("{}: typed failure when {what}", action.id);
            if !applies {
                self.add(name, Status::Skip, "the component needs no credential");
                continue;
            }
            let request = self.request(action, self.backend.entity(kind));
            let before = self.state();
            let from = self.backend.requests().len();
            let result = self.execute(&grant, request).await;
            let mut problems = Vec::new();
            match &result {
                Ok(_) if self.backend.requests().len() == from && self.state() == before => {
                    self.add(name, Status::Skip, "execute needs neither");
                    continue;
                }
                Ok(outcome) => problems.push(format!("execute succeeded: {}", outcome.detail)),
                Err(failure) if failure.kind == FailureKind::Internal => problems.push(format!(
                    "expected a typed failure (unreachable, permission-denied), got {failure}"
                )),
                Err(_) => {}
            }
            if self.state() != before {
                problems.push("the state changed".into());
            }
            let seen = result.err().map(|f| f.to_string()).unwrap_or_default();
            self.verdict(name, problems, seen);
        }
    }

    fn limits(&mut self) {
        let limits = self.runtime.config().limits.clone();
        let detail = format!(
            "{} calls; peak memory {:.1} MiB of {} MiB; slowest call {} ms of {} s",
            self.calls.count,
            self.calls.peak_memory as f64 / f64::from(1 << 20),
            limits.memory_bytes >> 20,
            self.calls.slowest.as_millis(),
            limits.deadline.as_secs()
        );
        let problems = std::mem::take(&mut self.calls.limited);
        let status = if problems.is_empty() {
            Status::Pass
        } else {
            Status::Fail
        };
        let detail = if problems.is_empty() {
            detail
        } else {
            format!("{detail}; {}", problems.join("; "))
        };
        self.add("stays within the default limits", status, detail);
    }
}

/// What is in one state and not the other, for messages.
fn difference(before: &BTreeSet<String>, after: &BTreeSet<String>) -> String {
    let added: Vec<&String> = after.difference(before).collect();
    let removed: Vec<&String> = before.difference(after).collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!(
            "added {}",
            added
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !removed.is_empty() {
        parts.push(format!(
            "removed {}",
            removed
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    parts.join("; ")
}
