//! The runtime: runs handling components in a sandbox.
//!
//! It owns one wasmtime [`Engine`] (component model, epoch interruption,
//! pooling allocator) and the [`Linker`] that gives components the imports
//! of the `handling-component` world: outgoing HTTP through the [`gate`],
//! [`secrets`] as opaque handles, a capped and redacted log, and WASI clocks
//! and random. The rest of WASI 0.2 is linked too, because language
//! runtimes (Rust's std among them) import it, but a call's WASI context
//! grants nothing through it: no preopened directory, no environment, no
//! arguments, no stdin and no sockets.
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
//! It must not touch the database or the engine's task scheduling: it runs
//! what it is asked to and reports what happened, in a [`CallReport`].

mod bindings;
mod call;
mod checks;
mod config;
mod engine;
mod failure;
pub mod gate;
mod guest_log;
pub mod secrets;
mod state;
mod stderr;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

pub use bindings::riposte::component::types as wit;
pub use checks::kind_name;
pub use config::{Limits, RuntimeConfig};
pub use failure::{FailureKind, TaskFailure};

use bindings::HandlingComponentPre;
use call::{CallScope, Invocation, Returned};
use checks::{check_info, check_request};
use engine::{base_config, build_engine, start_epoch_ticker};
use gate::{HostGrant, Network, Origin};
use secrets::SecretStore;
use state::CallState;

/// Log directives every subscriber of a riposte process must apply, after
/// any operator setting: wasmtime's WASI crates trace every host call with
/// its arguments (header values, bodies, guest output) at `trace` level,
/// which would carry whatever a guest holds, unredacted, into the log.
pub const LOG_SAFETY_DIRECTIVES: &[&str] = &[
    "wasmtime_wasi_http=info",
    "wasmtime_wasi=info",
    "wasmtime=info",
];

/// The budget of `describe` at load time.
const DESCRIBE_DEADLINE: Duration = Duration::from_secs(5);

/// What an operator granted a component: hosts it may call and secrets it
/// may open. Empty grants reach nothing.
#[derive(Debug, Clone, Default)]
pub struct Grant {
    /// Origins the component may call (see [`HostGrant`]).
    pub hosts: Vec<HostGrant>,
    /// Names of secrets the component may open, each only in calls whose
    /// target names it as its credential. A name ending in `*` grants every
    /// name with that prefix (`target:*`: the credential of whichever
    /// target a task runs on, and no other).
    pub secrets: Vec<String>,
}

impl Grant {
    /// Whether the secret called `name` is granted.
    pub fn allows_secret(&self, name: &str) -> bool {
        self.secrets
            .iter()
            .any(|granted| match granted.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => granted == name,
            })
    }
}

/// A compiled, pre-linked component and what it said about itself.
#[derive(Clone)]
pub struct LoadedComponent {
    pre: HandlingComponentPre<CallState>,
    info: Arc<wit::ComponentInfo>,
    digest: String,
    /// `name@version`, as logs and failure messages name it.
    label: String,
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
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly binary: {0}")]
    NotWasm(String),
    /// The bytes are not a valid component for this engine.
    #[error("not a valid WebAssembly component: {0:#}")]
    Compile(wasmtime::Error),
    /// The component imports something the host does not provide.
    #[error(
        "component cannot be linked (it must target the \
         `riposte:component/handling-component` world): {0:#}"
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
    /// Linear memory the instance held at the end of the call, summed over
    /// its memories (0 when the call never instantiated).
    pub memory_bytes: usize,
}

/// The sandbox host. Cheap to share behind an `Arc`; calls run
/// concurrently.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    config: RuntimeConfig,
    network: Network,
    secrets: SecretStore,
    /// One permit per call that may run at once (admission control for
    /// the instance pool).
    slots: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
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
        let slots = tokio::sync::Semaphore::new(config.max_concurrent_calls.max(1) as usize);
        Ok(Self {
            engine,
            linker,
            config,
            network,
            secrets,
            slots,
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

    /// The secret values components may use; changes apply to the next
    /// call.
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// A hex key that changes whenever artifacts compiled for this
    /// runtime's engine could stop being loadable (another wasmtime, other
    /// compile settings or CPU features): the AOT cache keys files by it.
    pub fn compatibility_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }

    /// Compiles `wasm` into an artifact this runtime can deserialize, in a
    /// throwaway engine with the same code settings: compiler state the
    /// engine keeps (wasmtime 48 retains register-allocator contexts) goes
    /// with it instead of growing the long-lived engine. Falls back to the
    /// runtime engine if the two would not be compatible. Blocking.
    pub fn precompile(&self, wasm: &[u8]) -> Result<Vec<u8>, LoadError> {
        let throwaway = Engine::new(&base_config()).ok().filter(|engine| {
            use std::hash::{Hash, Hasher};
            let key = |engine: &Engine| {
                let mut hasher = std::hash::DefaultHasher::new();
                engine.precompile_compatibility_hash().hash(&mut hasher);
                hasher.finish()
            };
            key(engine) == key(&self.engine)
        });
        throwaway
            .as_ref()
            .unwrap_or(&self.engine)
            .precompile_component(wasm)
            .map_err(LoadError::Compile)
    }

    /// Compiles `wasm` on a blocking thread, links it, and calls its
    /// `describe` with no grants. Nothing is registered anywhere: the
    /// caller decides what to do with the result.
    pub async fn load(&self, wasm: Vec<u8>) -> Result<LoadedComponent, LoadError> {
        if wasm.is_empty() {
            return Err(LoadError::NotWasm("the file is empty".into()));
        }
        if !wasm.starts_with(b"\0asm") {
            return Err(LoadError::NotWasm(
                "it does not start with the WebAssembly magic bytes `\\0asm`".into(),
            ));
        }
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
        // `describe` only builds a record: a short budget, so that a
        // component that hangs at load is rejected quickly.
        let limits = Limits {
            deadline: self.config.limits.deadline.min(DESCRIBE_DEADLINE),
            ..self.config.limits.clone()
        };
        let report = self
            .invoke(
                &pre,
                &Grant::default(),
                &scope,
                Some(&limits),
                Invocation::Describe,
            )
            .await;
        let info = match report.result {
            Ok(Returned::Info(info)) => info,
            Ok(_) => unreachable!("describe returns component info"),
            Err(failure) => return Err(LoadError::Describe(failure.message)),
        };
        check_info(&info).map_err(LoadError::Describe)?;
        Ok(LoadedComponent {
            pre,
            label: format!("{}@{}", info.name, info.version),
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
        self.call_action(component, grant, limits, Invocation::Execute(request), true)
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
        self.call_action(
            component,
            grant,
            limits,
            Invocation::Revert(request, token),
            true,
        )
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
        self.call_action(component, grant, limits, Invocation::Plan(request), true)
            .await
            .flatten(|returned| match returned {
                Returned::Plan(plan) => plan,
                _ => unreachable!("plan returns a plan"),
            })
    }

    /// Calls `describe` again, in a fresh instance with no grants (the
    /// conformance kit checks that it answers the same every time).
    pub async fn describe(&self, component: &LoadedComponent) -> CallReport<wit::ComponentInfo> {
        let scope = CallScope {
            component: component.label.clone(),
            action: "describe".into(),
            task_id: String::new(),
            endpoint: None,
            credential: None,
        };
        let report = self
            .invoke(
                &component.pre,
                &Grant::default(),
                &scope,
                None,
                Invocation::Describe,
            )
            .await;
        report.flatten(|returned| match returned {
            Returned::Info(info) => Ok(info),
            _ => unreachable!("describe returns component info"),
        })
    }

    /// Like [`Runtime::execute`] (`revert` false) or [`Runtime::plan`],
    /// but without the host's check of the action and entity kind: the
    /// conformance kit uses it to see whether the component itself
    /// refuses what it did not declare.
    pub(crate) async fn call_unchecked(
        &self,
        component: &LoadedComponent,
        grant: &Grant,
        request: wit::ActionRequest,
        plan: bool,
    ) -> CallReport<()> {
        let invocation = if plan {
            Invocation::Plan(request)
        } else {
            Invocation::Execute(request)
        };
        self.call_action(component, grant, None, invocation, false)
            .await
            .flatten(|returned| match returned {
                Returned::Outcome(result) => result.map(drop),
                Returned::Plan(result) => result.map(drop),
                Returned::Info(_) => unreachable!("actions do not describe"),
            })
    }

    async fn call_action(
        &self,
        component: &LoadedComponent,
        grant: &Grant,
        limits: Option<&Limits>,
        invocation: Invocation,
        checked: bool,
    ) -> CallReport<Returned> {
        let request = match &invocation {
            Invocation::Execute(r) | Invocation::Revert(r, _) | Invocation::Plan(r) => r,
            Invocation::Describe => unreachable!("describe is called by `link`"),
        };
        let scope = CallScope {
            component: component.label.clone(),
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
            memory_bytes: 0,
        };
        if checked && let Err(failure) = check_request(component, request) {
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
}
