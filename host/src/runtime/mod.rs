//! The runtime: runs handling components in a sandbox.
//!
//! It owns one wasmtime [`Engine`] (component model, epoch interruption,
//! pooling allocator) and the [`Linker`] that gives components exactly the
//! imports of the `handling-component` world: outgoing HTTP through the
//! [`gate`], [`secrets`] as opaque handles, a capped and redacted log, and
//! WASI clocks and random. The WASI context of a call has no preopened
//! directory, no environment, no arguments, no stdin and no sockets.
//!
//! How a call runs:
//! 1. a component is compiled once and pre-linked into an `InstancePre`
//!    ([`Runtime::load`]);
//! 2. every call ([`Runtime::execute`], [`Runtime::revert`],
//!    [`Runtime::plan`]) gets a fresh store and instance, with its own
//!    memory, table and instance limits, epoch deadline and egress policy;
//! 3. one time budget drives the epoch deadline (for guest code), a timeout
//!    around the whole call (for a guest blocked in a host call, which
//!    epochs cannot interrupt) and every HTTP wait;
//! 4. a trap, a deadline or a limit becomes a [`TaskFailure`] naming the
//!    component, the action and the limit; the store is dropped, so a trap
//!    never poisons a later call.
//!
//! It must not touch the store or the engine's scheduling: it runs what it
//! is asked to and reports what happened.

mod bindings;
mod config;
mod failure;
pub mod gate;
mod guest_log;
pub mod secrets;
mod state;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::thread;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi_http::WasiHttpCtx;

pub use bindings::riposte::component::types as wit;
pub use config::{Limits, RuntimeConfig};
pub use failure::{FailureKind, TaskFailure};

use bindings::{HandlingComponent, HandlingComponentPre};
use gate::{EgressPolicy, GateHooks, HostGrant, Network, Origin};
use guest_log::GuestLog;
use secrets::{CallSecrets, SecretStore};
use state::{CallLimiter, CallState};

/// Bytes of the guest's stderr kept for failure messages (panic text).
const STDERR_CAPTURE: usize = 4096;

/// What an operator granted a component: hosts it may call and secrets it
/// may open. Empty grants reach nothing.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// Origins the component may call (see [`HostGrant`]).
    pub hosts: Vec<HostGrant>,
    /// Names of secrets the component may open, each only in calls whose
    /// target names it as its credential.
    pub secrets: Vec<String>,
}

/// A compiled, pre-linked component and what it said about itself.
#[derive(Clone)]
pub struct LoadedComponent {
    pre: HandlingComponentPre<CallState>,
    info: Arc<wit::ComponentInfo>,
    digest: String,
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedComponent")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl LoadedComponent {
    /// What `describe` returned at load time.
    pub fn info(&self) -> &wit::ComponentInfo {
        &self.info
    }

    /// The lower-case hex SHA-256 of the component's bytes.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The action called `id`, if this component implements it.
    pub fn action(&self, id: &str) -> Option<&wit::ActionInfo> {
        self.info.actions.iter().find(|action| action.id == id)
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not a valid component for this engine.
    #[error("not a valid WebAssembly component: {0:#}")]
    Compile(wasmtime::Error),
    /// The component imports something the host does not provide.
    #[error(
        "component cannot be linked (it must target the `riposte:component/handling-component` world): {0:#}"
    )]
    Link(wasmtime::Error),
    /// `describe` failed or returned something unusable.
    #[error("component's `describe` failed: {0}")]
    Describe(String),
}

/// What one call produced, with what the runtime saw along the way.
#[derive(Debug)]
pub struct CallReport<T> {
    /// The call's result.
    pub result: Result<T, TaskFailure>,
    /// Requests the gate refused, as `origin: reason`.
    pub refusals: Vec<String>,
    /// Requests the guest started (refused ones included).
    pub requests: usize,
    /// How long the call took, instantiation included.
    pub elapsed: Duration,
}

/// The sandbox host. Cheap to share behind an `Arc`; calls run
/// concurrently.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    config: RuntimeConfig,
    network: Network,
    secrets: SecretStore,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The identity of one call, for limits, logs and messages.
#[derive(Debug, Clone)]
struct CallScope {
    component: String,
    action: String,
    task_id: String,
    endpoint: Option<Origin>,
    credential: Option<String>,
}

enum Invocation {
    Describe,
    Execute(wit::ActionRequest),
    Revert(wit::ActionRequest, String),
    Plan(wit::ActionRequest),
}

enum Returned {
    Info(wit::ComponentInfo),
    Outcome(Result<wit::Outcome, wit::Failure>),
    Plan(Result<wit::PlanOutcome, wit::Failure>),
}

impl Runtime {
    /// Builds the engine and linker and starts the epoch ticker.
    ///
    /// `network` is how the gate resolves and connects (inject a
    /// [`gate::StaticResolver`] and [`gate::LoopbackOnlyConnector`] in
    /// tests); `secrets` holds the credential values components may use.
    pub fn new(
        config: RuntimeConfig,
        network: Network,
        secrets: SecretStore,
    ) -> wasmtime::Result<Self> {
        let engine = build_engine(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::riposte::component::secrets::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )?;
        bindings::riposte::component::log::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |state| state,
        )?;
        start_epoch_ticker(&engine, config.epoch_tick);
        Ok(Self {
            engine,
            linker,
            config,
            network,
            secrets,
        })
    }

    /// The engine, to compile or deserialize components with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Compiles `wasm` on a blocking thread, links it, and calls its
    /// `describe` with no grants. Nothing is registered anywhere: the
    /// caller decides what to do with the result.
    pub async fn load(&self, wasm: Vec<u8>) -> Result<LoadedComponent, LoadError> {
        let digest = hex::encode(Sha256::digest(&wasm));
        let engine = self.engine.clone();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &wasm))
            .await
            .map_err(|err| LoadError::Compile(wasmtime::Error::msg(err.to_string())))?
            .map_err(LoadError::Compile)?;
        self.link(component, digest).await
    }

    /// Links an already compiled (or deserialized) component and calls its
    /// `describe`.
    pub async fn link(
        &self,
        component: Component,
        digest: String,
    ) -> Result<LoadedComponent, LoadError> {
        let pre = self
            .linker
            .instantiate_pre(&component)
            .and_then(HandlingComponentPre::new)
            .map_err(LoadError::Link)?;
        let scope = CallScope {
            component: format!("component {}", &digest[..12.min(digest.len())]),
            action: "describe".into(),
            task_id: String::new(),
            endpoint: None,
            credential: None,
        };
        let report = self
            .invoke(&pre, &Grant::default(), &scope, None, Invocation::Describe)
            .await;
        let info = match report.result {
            Ok(Returned::Info(info)) => info,
            Ok(_) => unreachable!("describe returns component info"),
            Err(failure) => return Err(LoadError::Describe(failure.message)),
        };
        check_info(&info).map_err(LoadError::Describe)?;
        Ok(LoadedComponent {
            pre,
            info: Arc::new(info),
            digest,
        })
    }

    /// Performs `request` with `component` under `grant`.
    ///
    /// The action and entity kind are checked against the component's
    /// description first; a mismatch fails with `invalid-input` without
    /// calling the component.
    pub async fn execute(
        &self,
        component: &LoadedComponent,
        grant: &Grant,
        request: wit::ActionRequest,
        limits: Option<&Limits>,
    ) -> CallReport<wit::Outcome> {
        self.call_action(component, grant, limits, Invocation::Execute(request))
            .await
            .flatten(|returned| match returned {
                Returned::Outcome(outcome) => outcome,
                _ => unreachable!("execute returns an outcome"),
            })
    }

    /// Undoes what `execute` did, given the revert token it returned.
    pub async fn revert(
        &self,
        component: &LoadedComponent,
        grant: &Grant,
        request: wit::ActionRequest,
        token: String,
        limits: Option<&Limits>,
    ) -> CallReport<wit::Outcome> {
        self.call_action(component, grant, limits, Invocation::Revert(request, token))
            .await
            .flatten(|returned| match returned {
                Returned::Outcome(outcome) => outcome,
                _ => unreachable!("revert returns an outcome"),
            })
    }

    /// Asks what `execute` would change, without changing it.
    pub async fn plan(
        &self,
        component: &LoadedComponent,
        grant: &Grant,
        request: wit::ActionRequest,
        limits: Option<&Limits>,
    ) -> CallReport<wit::PlanOutcome> {
        self.call_action(component, grant, limits, Invocation::Plan(request))
            .await
            .flatten(|returned| match returned {
                Returned::Plan(plan) => plan,
                _ => unreachable!("plan returns a plan"),
            })
    }

    async fn call_action(
        &self,
        component: &LoadedComponent,
        grant: &Grant,
        limits: Option<&Limits>,
        invocation: Invocation,
    ) -> CallReport<Returned> {
        let request = match &invocation {
            Invocation::Execute(r) | Invocation::Revert(r, _) | Invocation::Plan(r) => r,
            Invocation::Describe => unreachable!("describe is called by `link`"),
        };
        let scope = CallScope {
            component: format!("{}@{}", component.info.name, component.info.version),
            action: request.action.clone(),
            task_id: request.task_id.clone(),
            endpoint: None,
            credential: request.target.credential.clone(),
        };
        let early = |failure: TaskFailure| CallReport {
            result: Err(failure),
            refusals: Vec::new(),
            requests: 0,
            elapsed: Duration::ZERO,
        };
        if let Err(failure) = check_request(component, request) {
            return early(failure);
        }
        let endpoint = match request.target.endpoint.as_str() {
            "" => None,
            url => match Origin::parse_url(url) {
                Ok(origin) => Some(origin),
                Err(refusal) => {
                    return early(TaskFailure::new(
                        FailureKind::InvalidInput,
                        false,
                        format!("target `{}` endpoint: {refusal}", request.target.id),
                    ));
                }
            },
        };
        let scope = CallScope { endpoint, ..scope };
        self.invoke(&component.pre, grant, &scope, limits, invocation)
            .await
    }

    /// Runs one invocation in a fresh store, within its limits and budget.
    async fn invoke(
        &self,
        pre: &HandlingComponentPre<CallState>,
        grant: &Grant,
        scope: &CallScope,
        limits: Option<&Limits>,
        invocation: Invocation,
    ) -> CallReport<Returned> {
        let limits = limits.unwrap_or(&self.config.limits);
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
        let refusals = gate
            .refusals
            .lock()
            .map(|refusals| refusals.clone())
            .unwrap_or_default();
        CallReport {
            result,
            refusals,
            requests: gate.requests.load(std::sync::atomic::Ordering::SeqCst),
            elapsed: started.elapsed(),
        }
    }

    fn new_store(
        &self,
        grant: &Grant,
        scope: &CallScope,
        limits: &Limits,
        deadline: Instant,
    ) -> (Store<CallState>, Arc<gate::send::GateCall>) {
        let gate_call = Arc::new(gate::send::GateCall {
            policy: EgressPolicy::new(grant.hosts.clone(), scope.endpoint.clone()),
            network: self.network.clone(),
            deadline,
            request_body_limit: limits.request_body_bytes,
            response_body_limit: limits.response_body_bytes,
            max_requests: limits.requests,
            requests: AtomicUsize::new(0),
            refusals: Default::default(),
            component: scope.component.clone(),
            action: scope.action.clone(),
            task_id: scope.task_id.clone(),
        });
        let allowed = scope
            .credential
            .iter()
            .filter(|name| grant.secrets.contains(name))
            .cloned()
            .collect();
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let wasi = WasiCtx::builder().stderr(stderr.clone()).build();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(64 * 1024);

        let state = CallState {
            wasi,
            http,
            table: ResourceTable::new(),
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
                redactor: self.secrets.redactor(),
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
        let tick = self.config.epoch_tick.as_nanos().max(1);
        let ticks = limits.deadline.as_nanos().div_ceil(tick) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        (store, gate_call)
    }
}

impl CallReport<Returned> {
    /// Unwraps the export's own `result`, turning the guest's typed failure
    /// into a [`TaskFailure`] (already redacted by `check_output`).
    fn flatten<U>(self, f: impl FnOnce(Returned) -> Result<U, wit::Failure>) -> CallReport<U> {
        let result = self.result.and_then(|returned| {
            f(returned).map_err(|failure| TaskFailure::from_wit(failure, |text| text.to_string()))
        });
        CallReport {
            result,
            refusals: self.refusals,
            requests: self.requests,
            elapsed: self.elapsed,
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

fn build_engine(config: &RuntimeConfig) -> wasmtime::Result<Engine> {
    let mut wasm = wasmtime::Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .memory_init_cow(true);
    if config.pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        let calls = config.max_concurrent_calls;
        let limits = &config.limits;
        // Each call is one component instance made of a handful of core
        // instances (the main module, adapters and shims); size every pool
        // together, as a short one fails instantiation under load.
        pool.total_component_instances(calls)
            .total_core_instances(calls * 16)
            .total_memories(calls * 2)
            .total_tables(calls * 16)
            .total_stacks(calls)
            .max_memories_per_component(4)
            .max_tables_per_component(32)
            .max_core_instances_per_component(limits.instances as u32)
            .max_memory_size(limits.memory_bytes)
            .table_elements(limits.table_elements);
        let mut pooled = wasm.clone();
        pooled.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&pooled) {
            Ok(engine) => return Ok(engine),
            Err(err) => tracing::warn!(
                error = %err,
                "pooling allocator unavailable, falling back to on-demand allocation"
            ),
        }
    }
    Engine::new(&wasm)
}

/// Advances the engine's epoch from a dedicated thread, so the deadline
/// fires even when every async worker is busy. The thread ends when the
/// engine is dropped.
fn start_epoch_ticker(engine: &Engine, tick: Duration) {
    let weak = engine.weak();
    thread::Builder::new()
        .name("riposte-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                thread::sleep(tick);
            }
        })
        .expect("spawning the epoch thread");
}

/// Refuses a request the component did not declare it can serve.
fn check_request(
    component: &LoadedComponent,
    request: &wit::ActionRequest,
) -> Result<(), TaskFailure> {
    let name = &component.info.name;
    let Some(action) = component.action(&request.action) else {
        let known: Vec<&str> = component
            .info
            .actions
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        return Err(TaskFailure::new(
            FailureKind::InvalidInput,
            false,
            format!(
                "component `{name}` has no action `{}`; it implements {}",
                request.action,
                known.join(", ")
            ),
        ));
    };
    if !action.entity_kinds.contains(&request.entity.kind) {
        return Err(TaskFailure::new(
            FailureKind::InvalidInput,
            false,
            format!(
                "action `{}` does not accept `{}` entities; it accepts {}",
                action.id,
                kind_name(request.entity.kind),
                action
                    .entity_kinds
                    .iter()
                    .map(|kind| format!("`{}`", kind_name(*kind)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// The WIT spelling of an entity kind.
pub fn kind_name(kind: wit::EntityKind) -> &'static str {
    match kind {
        wit::EntityKind::Ip => "ip",
        wit::EntityKind::Cidr => "cidr",
        wit::EntityKind::Domain => "domain",
        wit::EntityKind::Url => "url",
        wit::EntityKind::FileHash => "file-hash",
        wit::EntityKind::File => "file",
        wit::EntityKind::Process => "process",
        wit::EntityKind::Host => "host",
        wit::EntityKind::Container => "container",
        wit::EntityKind::CloudResource => "cloud-resource",
        wit::EntityKind::Account => "account",
    }
}

/// Checks a description for what the host relies on.
fn check_info(info: &wit::ComponentInfo) -> Result<(), String> {
    if info.name.is_empty() || info.version.is_empty() {
        return Err("name and version must not be empty".into());
    }
    if info.actions.is_empty() {
        return Err(format!("component `{}` declares no actions", info.name));
    }
    let mut seen = std::collections::HashSet::new();
    for action in &info.actions {
        let valid = !action.id.is_empty()
            && action.id.len() <= 64
            && action
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(format!(
                "action id `{}` must be 1 to 64 ASCII letters, digits, `-` or `_`",
                action.id
            ));
        }
        if !seen.insert(action.id.as_str()) {
            return Err(format!("action id `{}` is declared twice", action.id));
        }
    }
    for host in &info.hosts {
        // Declared hosts are what an operator will be asked to grant; they
        // must parse, or the grant review would be meaningless.
        host.parse::<HostGrant>().map_err(|err| err.to_string())?;
    }
    Ok(())
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
    let stderr = String::from_utf8_lossy(&state.stderr.contents()).into_owned();
    if let Some(start) = stderr.find("panicked at") {
        // Rust prints `panicked at FILE:LINE:COL:` and the message on the
        // next line.
        let panic: Vec<&str> = stderr[start..].lines().take(2).collect();
        let mut panic = redactor.redact(&panic.join(" "));
        guest_log::truncate(&mut panic, 512);
        return internal(format!("{who} panicked: {panic}"));
    }
    let mut detail = redactor.redact(&format!("{err:#}"));
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
        Returned::Info(info) => serde_size_info(info),
        Returned::Outcome(Ok(outcome)) => outcome_size(outcome),
        Returned::Outcome(Err(failure)) | Returned::Plan(Err(failure)) => failure.message.len(),
        Returned::Plan(Ok(plan)) => plan.changes.iter().map(String::len).sum(),
    };
    if size > limits.output_bytes {
        return Err(TaskFailure::new(
            FailureKind::Internal,
            false,
            format!(
                "component `{}` action `{}` returned {size} bytes, over the output limit of {} bytes",
                scope.component, scope.action, limits.output_bytes
            ),
        ));
    }
    let redact_failure = |mut failure: wit::Failure| {
        failure.message = redactor.redact(&failure.message);
        failure
    };
    Ok(match returned {
        Returned::Outcome(Ok(mut outcome)) => {
            outcome.detail = redactor.redact(&outcome.detail);
            for item in &mut outcome.items {
                item.detail = redactor.redact(&item.detail);
                item.failure = item.failure.take().map(redact_failure);
            }
            Returned::Outcome(Ok(outcome))
        }
        Returned::Outcome(Err(failure)) => Returned::Outcome(Err(redact_failure(failure))),
        Returned::Plan(Err(failure)) => Returned::Plan(Err(redact_failure(failure))),
        other => other,
    })
}

fn outcome_size(outcome: &wit::Outcome) -> usize {
    outcome.detail.len()
        + outcome.revert_token.as_ref().map_or(0, String::len)
        + outcome
            .items
            .iter()
            .map(|item| {
                item.item.len()
                    + item.detail.len()
                    + item.failure.as_ref().map_or(0, |f| f.message.len())
            })
            .sum::<usize>()
}

fn serde_size_info(info: &wit::ComponentInfo) -> usize {
    info.name.len()
        + info.version.len()
        + info.description.len()
        + info.hosts.iter().map(String::len).sum::<usize>()
        + info
            .actions
            .iter()
            .map(|a| {
                a.id.len()
                    + a.action_type.len()
                    + a.description.len()
                    + a.settings
                        .iter()
                        .map(|s| s.name.len() + s.description.len())
                        .sum::<usize>()
            })
            .sum::<usize>()
}
