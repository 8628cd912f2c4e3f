//! One call into a component: a fresh store with its limits, gate and
//! secrets, the export call under one time budget, and the translation of
//! whatever happened into a [`CallReport`].

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use tokio::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::WasiHttpCtx;

use super::bindings::{HandlingComponent, HandlingComponentPre};
use super::gate::{self, EgressPolicy, GateHooks, Origin};
use super::guest_log::{self, GuestLog};
use super::secrets::{self, CallSecrets};
use super::state::{CallLimiter, CallState};
use super::stderr::StderrCapture;
use super::{CallReport, FailureKind, Grant, Limits, Runtime, TaskFailure, wit};

/// Bytes of the guest's stderr kept for failure messages (panic text).
const STDERR_CAPTURE: usize = 4096;

/// The identity of one call, for limits, logs and messages.
#[derive(Debug, Clone)]
pub(super) struct CallScope {
    pub(super) component: String,
    pub(super) action: String,
    pub(super) task_id: String,
    pub(super) endpoint: Option<Origin>,
    pub(super) credential: Option<String>,
}

pub(super) enum Invocation {
    Describe,
    Execute(wit::ActionRequest),
    Revert(wit::ActionRequest, String),
    Plan(wit::ActionRequest),
}

pub(super) enum Returned {
    Info(wit::ComponentInfo),
    Outcome(Result<wit::Outcome, wit::Failure>),
    Plan(Result<wit::PlanOutcome, wit::Failure>),
}

impl Runtime {
    /// Runs one invocation in a fresh store, within its limits and budget.
    pub(super) async fn invoke(
        &self,
        pre: &HandlingComponentPre<CallState>,
        grant: &Grant,
        scope: &CallScope,
        limits: Option<&Limits>,
        invocation: Invocation,
    ) -> CallReport<Returned> {
        let limits = limits.unwrap_or(&self.config.limits);
        // Wait for a call slot before the budget starts: a busy host
        // queues calls, and never holds more instances than the pool has.
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let started = Instant::now();
        let deadline = started + limits.deadline;
        let (mut store, gate) = self.new_store(grant, scope, limits, deadline);

        let span = tracing::info_span!(
            "component_call",
            component = %scope.component,
            action = %scope.action,
            task_id = %scope.task_id,
        );
        let call = async {
            let instance = pre.instantiate_async(&mut store).await?;
            call_export(&instance, &mut store, invocation).await
        };
        let outcome =
            tokio::time::timeout(limits.deadline, tracing::Instrument::instrument(call, span))
                .await;

        let state = store.data();
        state.log.finish();
        let redactor = state.log.redactor.clone();
        let result = match outcome {
            Err(_elapsed) => Err(deadline_failure(scope, limits)),
            Ok(Err(err)) => Err(trap_failure(scope, limits, state, &err, &redactor)),
            Ok(Ok(returned)) => check_output(scope, limits, returned, &redactor),
        };
        let mut refusals = gate
            .refusals
            .lock()
            .map(|refusals| refusals.clone())
            .unwrap_or_default();
        let refused = gate.refused.load(std::sync::atomic::Ordering::SeqCst);
        if refused > refusals.len() {
            refusals.push(format!(
                "{} more refused requests not recorded",
                refused - refusals.len()
            ));
        }
        CallReport {
            result,
            refusals,
            requests: gate.requests.load(std::sync::atomic::Ordering::SeqCst),
            elapsed: started.elapsed(),
            memory_bytes: state.limiter.memory_used,
        }
    }

    fn new_store(
        &self,
        grant: &Grant,
        scope: &CallScope,
        limits: &Limits,
        deadline: Instant,
    ) -> (Store<CallState>, Arc<gate::send::GateCall>) {
        let redactor = self.secrets.redactor();
        let gate_call = Arc::new(gate::send::GateCall {
            policy: EgressPolicy::new(grant.hosts.clone(), scope.endpoint.clone()),
            network: self.network.clone(),
            deadline,
            request_body_limit: limits.request_body_bytes,
            response_body_limit: limits.response_body_bytes,
            max_requests: limits.requests,
            requests: AtomicUsize::new(0),
            refusals: Default::default(),
            refused: AtomicUsize::new(0),
            component: scope.component.clone(),
            action: scope.action.clone(),
            task_id: scope.task_id.clone(),
            redactor: redactor.clone(),
        });
        let allowed = scope
            .credential
            .iter()
            .filter(|name| grant.allows_secret(name))
            .cloned()
            .collect();
        let stderr = StderrCapture::new(STDERR_CAPTURE);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(limits.header_bytes);
        let mut table = ResourceTable::new();
        table.set_max_capacity(limits.resources);

        let state = CallState {
            wasi,
            http,
            table,
            hooks: GateHooks {
                call: gate_call.clone(),
            },
            secrets: CallSecrets {
                store: self.secrets.clone(),
                allowed,
            },
            log: GuestLog {
                component: scope.component.clone(),
                action: scope.action.clone(),
                task_id: scope.task_id.clone(),
                redactor,
                max_lines: limits.log_lines,
                max_line_bytes: limits.log_line_bytes,
                written: 0,
                dropped: 0,
            },
            limiter: CallLimiter {
                memory_limit: limits.memory_bytes,
                memory_used: 0,
                table_elements: limits.table_elements,
                instances: limits.instances,
                tables: limits.tables,
                memory_exceeded: false,
                table_exceeded: false,
            },
            stderr,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // At every epoch tick, check the wall clock and otherwise yield to
        // the executor: a spinning guest then neither outlives its deadline
        // when the ticker lags (a busy machine) nor keeps a worker thread,
        // and every other call's timers, to itself.
        let wall_deadline = deadline.into_std();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if std::time::Instant::now() >= wall_deadline {
                Ok(wasmtime::UpdateDeadline::Interrupt)
            } else {
                Ok(wasmtime::UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        (store, gate_call)
    }
}

impl CallReport<Returned> {
    /// Unwraps the export's own `result`, turning the guest's typed failure
    /// into a [`TaskFailure`] (already redacted by `check_output`).
    pub(super) fn flatten<U>(
        self,
        f: impl FnOnce(Returned) -> Result<U, wit::Failure>,
    ) -> CallReport<U> {
        let result = self.result.and_then(|returned| {
            f(returned).map_err(|failure| TaskFailure::from_wit(failure, |text| text.to_string()))
        });
        CallReport {
            result,
            refusals: self.refusals,
            requests: self.requests,
            elapsed: self.elapsed,
            memory_bytes: self.memory_bytes,
        }
    }
}

async fn call_export(
    instance: &HandlingComponent,
    store: &mut Store<CallState>,
    invocation: Invocation,
) -> wasmtime::Result<Returned> {
    let handler = instance.riposte_component_handler();
    Ok(match invocation {
        Invocation::Describe => Returned::Info(handler.call_describe(&mut *store).await?),
        Invocation::Execute(request) => {
            Returned::Outcome(handler.call_execute(&mut *store, &request).await?)
        }
        Invocation::Revert(request, token) => {
            Returned::Outcome(handler.call_revert(&mut *store, &request, &token).await?)
        }
        Invocation::Plan(request) => {
            Returned::Plan(handler.call_plan(&mut *store, &request).await?)
        }
    })
}

fn deadline_failure(scope: &CallScope, limits: &Limits) -> TaskFailure {
    TaskFailure::new(
        FailureKind::Timeout,
        true,
        format!(
            "component `{}` action `{}` exceeded its deadline of {:?} and was stopped",
            scope.component, scope.action, limits.deadline
        ),
    )
}

/// Turns an error out of wasmtime into a failure that names the limit.
fn trap_failure(
    scope: &CallScope,
    limits: &Limits,
    state: &CallState,
    err: &wasmtime::Error,
    redactor: &secrets::Redactor,
) -> TaskFailure {
    let who = format!("component `{}` action `{}`", scope.component, scope.action);
    let internal = |message: String| TaskFailure::new(FailureKind::Internal, false, message);
    let trap = err.downcast_ref::<Trap>();
    if trap == Some(&Trap::Interrupt) {
        return deadline_failure(scope, limits);
    }
    if state.limiter.memory_exceeded {
        return internal(format!(
            "{who} exceeded its memory limit of {} MiB",
            limits.memory_bytes >> 20
        ));
    }
    if state.limiter.table_exceeded {
        return internal(format!(
            "{who} exceeded its table limit of {} elements",
            limits.table_elements
        ));
    }
    if trap == Some(&Trap::StackOverflow) {
        return internal(format!("{who} overflowed its stack (unbounded recursion?)"));
    }
    let stderr = state.stderr.text();
    if let Some(start) = stderr.find("panicked at") {
        // Rust prints `panicked at FILE:LINE:COL:` and the message on the
        // next line.
        let panic: Vec<&str> = stderr[start..].lines().take(2).collect();
        let mut panic = redactor.redact(&panic.join(" "));
        guest_log::truncate(&mut panic, 512);
        return internal(format!("{who} panicked: {panic}"));
    }
    if matches!(
        err.downcast_ref::<wasmtime::component::ResourceTableError>(),
        Some(wasmtime::component::ResourceTableError::Full)
    ) {
        return internal(format!(
            "{who} exceeded its limit of {} host resources (headers, requests, streams)",
            limits.resources
        ));
    }
    // The root cause says what went wrong; the outer layers are a wasm
    // backtrace, useless to an operator.
    let mut detail = redactor.redact(&err.root_cause().to_string());
    guest_log::truncate(&mut detail, 512);
    match trap {
        Some(Trap::MemoryOutOfBounds) => internal(format!(
            "{who} trapped: out of bounds memory access (often a guest stack overflow)"
        )),
        Some(trap) => internal(format!("{who} trapped: {trap}")),
        None => internal(format!("{who} failed: {detail}")),
    }
}

/// Redacts what the guest returned and enforces the output limit.
fn check_output(
    scope: &CallScope,
    limits: &Limits,
    returned: Returned,
    redactor: &secrets::Redactor,
) -> Result<Returned, TaskFailure> {
    let size = match &returned {
        Returned::Info(info) => info_size(info),
        Returned::Outcome(Ok(outcome)) => outcome_size(outcome),
        Returned::Outcome(Err(failure)) | Returned::Plan(Err(failure)) => failure.message.len(),
        Returned::Plan(Ok(plan)) => plan
            .changes
            .iter()
            .map(|change| ENTRY_COST + change.len())
            .sum(),
    };
    if size > limits.output_bytes {
        return Err(TaskFailure::new(
            FailureKind::Internal,
            false,
            format!(
                "component `{}` action `{}` returned {size} bytes, over the output limit \
                 of {} bytes",
                scope.component, scope.action, limits.output_bytes
            ),
        ));
    }
    let redact_failure = |mut failure: wit::Failure| {
        failure.message = redactor.redact(&failure.message);
        failure
    };
    Ok(match returned {
        Returned::Outcome(Ok(outcome))
            if outcome
                .revert_token
                .as_ref()
                .is_some_and(|token| redactor.redact(token) != *token) =>
        {
            // A token is stored and handed back verbatim, so it cannot be
            // redacted: a token carrying a secret is refused instead.
            return Err(TaskFailure::new(
                FailureKind::Internal,
                false,
                format!(
                    "component `{}` action `{}` returned a revert token containing a secret \
                     value; the outcome was refused",
                    scope.component, scope.action
                ),
            ));
        }
        Returned::Outcome(Ok(mut outcome)) => {
            outcome.detail = redactor.redact(&outcome.detail);
            for item in &mut outcome.items {
                item.item = redactor.redact(&item.item);
                item.detail = redactor.redact(&item.detail);
                item.failure = item.failure.take().map(redact_failure);
            }
            Returned::Outcome(Ok(outcome))
        }
        Returned::Outcome(Err(failure)) => Returned::Outcome(Err(redact_failure(failure))),
        Returned::Plan(Err(failure)) => Returned::Plan(Err(redact_failure(failure))),
        Returned::Plan(Ok(mut plan)) => {
            for change in &mut plan.changes {
                *change = redactor.redact(change);
            }
            Returned::Plan(Ok(plan))
        }
        other => other,
    })
}

/// What one list entry costs in the output limit beyond its text, so that
/// a million empty entries cannot pass as zero bytes.
const ENTRY_COST: usize = 64;

fn outcome_size(outcome: &wit::Outcome) -> usize {
    outcome.detail.len()
        + outcome.revert_token.as_ref().map_or(0, String::len)
        + outcome
            .items
            .iter()
            .map(|item| {
                ENTRY_COST
                    + item.item.len()
                    + item.detail.len()
                    + item.failure.as_ref().map_or(0, |f| f.message.len())
            })
            .sum::<usize>()
}

fn info_size(info: &wit::ComponentInfo) -> usize {
    info.name.len()
        + info.version.len()
        + info.description.len()
        + info.hosts.iter().map(String::len).sum::<usize>()
        + info
            .actions
            .iter()
            .map(|a| {
                ENTRY_COST * (1 + a.entity_kinds.len() + a.settings.len())
                    + a.id.len()
                    + a.action_type.len()
                    + a.description.len()
                    + a.settings
                        .iter()
                        .map(|s| s.name.len() + s.description.len())
                        .sum::<usize>()
            })
            .sum::<usize>()
}
