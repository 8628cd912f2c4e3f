//! The conformance kit: `riposte component check FILE` loads a handling
//! component in the real runtime and checks it against the contract of
//! `wit/component.wit`, then says what passed and what did not.
//!
//! What it checks, each as one or more lines of the [`Report`]:
//! 1. `describe` is valid (the checks the host applies at load) and stable
//!    (a second call in a fresh instance answers the same);
//! 2. each action accepts each entity kind it declares: `plan`, `execute`,
//!    `revert` succeed on a sample entity of that kind;
//! 3. each action refuses every kind it does not declare with
//!    `invalid-input`, from `plan` and from `execute`, changing nothing.
//!    The host refuses such requests before calling a component, so the
//!    kit calls the component directly to see what the component itself
//!    does (a script published later, or another host, may not check);
//! 4. `plan` changes nothing: the backend's state is the same after it,
//!    and no state-changing request (`POST`, `PUT`, `PATCH`, `DELETE`, a
//!    provider's `Create*`) was sent;
//! 5. a repeated `execute` (same idempotency key, next attempt) leaves the
//!    state as the first one did and says `changed: false`;
//! 6. `revert` after `execute` restores the state, and a second `revert`
//!    succeeds with `changed: false` ("already gone");
//! 7. failures are typed: a refused credential gives `permission-denied`,
//!    throttling gives a retryable `throttled` (with the provider's
//!    retry-after when it sent one), an unavailable provider or an
//!    unreachable endpoint a retryable failure, a host that is not
//!    granted and a secret that is not granted a typed failure rather
//!    than a trap; none of them changes the state;
//! 8. every call stays within the default limits ([`Limits::default`]),
//!    with the peak memory and the slowest call shown.
//!
//! The state is observed through a [`Backend`] on loopback: by default the
//! [`RecordingEndpoint`], a small REST store that records every request;
//! components that call Alibaba Cloud are checked against the provider
//! simulator ([`AliyunSimulator`]). Nothing leaves `127.0.0.1`: the
//! runtime's resolver knows no names and its connector dials loopback only.
//!
//! [`Limits::default`]: crate::runtime::Limits

mod aliyun;
mod backend;
mod checks;
mod endpoint;

use std::fmt;
use std::sync::Arc;

pub use aliyun::AliyunSimulator;
pub use backend::{ALL_KINDS, Backend, Fault, Observed, sample_entity};
pub use endpoint::{EndpointRequest, RecordingEndpoint};

use crate::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver};
use crate::runtime::secrets::SecretStore;
use crate::runtime::{LoadError, Runtime, RuntimeConfig};

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The component did what the contract asks.
    Pass,
    /// It did not; the detail says what happened instead.
    Fail,
    /// The check does not apply (an irreversible action has no revert)
    /// or the backend cannot play it.
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. "NotifyWebhook `ip`: plan changes nothing".
    pub name: String,
    pub status: Status,
    /// What was seen, for people.
    pub detail: String,
}

/// What the kit found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `name version (sha256 …)` of the component.
    pub component: String,
    /// What it was checked against.
    pub backend: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.failed().next().is_none()
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|check| check.status == Status::Fail)
    }

    /// The check called `name`, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|check| check.name == name)
    }

    fn count(&self, status: Status) -> usize {
        self.checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}", self.component)?;
        writeln!(f, "against {}\n", self.backend)?;
        for check in &self.checks {
            let mark = match check.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            writeln!(f, "  {mark}  {}", check.name)?;
            if !check.detail.is_empty() {
                writeln!(f, "        {}", check.detail)?;
            }
        }
        writeln!(
            f,
            "\nconformance: {} passed, {} failed, {} skipped",
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        )
    }
}

/// Which backend to check against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// The simulator when the component's hosts name a provider it
    /// serves, else the recording endpoint.
    #[default]
    Auto,
    /// The recording endpoint.
    Endpoint,
    /// The provider simulator's Alibaba Cloud APIs.
    Aliyun,
}

impl std::str::FromStr for BackendChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(Self::Auto),
            "endpoint" => Ok(Self::Endpoint),
            "aliyun" => Ok(Self::Aliyun),
            other => Err(format!(
                "`{other}` is not a conformance backend; expected `auto`, `endpoint` \
                 (the recording endpoint) or `aliyun` (the provider simulator)"
            )),
        }
    }
}

/// Why the kit could not run its checks at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The component does not load; nothing else can be checked.
    #[error("the component cannot be loaded: {0}")]
    Load(#[from] LoadError),
    /// The runtime or a backend could not start.
    #[error("{0}")]
    Setup(String),
}

/// Loads `wasm`, picks a backend, runs every check and returns the report.
/// Must run inside a multi-threaded tokio runtime (the recording endpoint
/// serves on it while the component waits for answers).
pub async fn check(wasm: Vec<u8>, choice: BackendChoice) -> Result<Report, CheckError> {
    // The component is loaded once without a backend to learn its hosts.
    let probe = runtime_for(Vec::new())?;
    let loaded = probe.load(wasm.clone()).await?;
    let hosts = loaded.info().hosts.clone();
    drop(probe);

    let backend: Arc<dyn Backend> = match choice {
        BackendChoice::Aliyun => Arc::new(start_aliyun()?),
        BackendChoice::Auto if AliyunSimulator::serves(&hosts) => Arc::new(start_aliyun()?),
        BackendChoice::Auto | BackendChoice::Endpoint => {
            Arc::new(RecordingEndpoint::start().await.map_err(|err| {
                CheckError::Setup(format!("starting the recording endpoint: {err}"))
            })?)
        }
    };
    check_with(wasm, backend).await
}

/// Runs every check of `wasm` against `backend` (a provider component's
/// own backend, for example).
pub async fn check_with(wasm: Vec<u8>, backend: Arc<dyn Backend>) -> Result<Report, CheckError> {
    let runtime = runtime_for(backend.secrets())?;
    let component = runtime.load(wasm).await?;
    Ok(checks::run(&runtime, &component, backend.as_ref()).await)
}

fn start_aliyun() -> Result<AliyunSimulator, CheckError> {
    AliyunSimulator::start()
        .map_err(|err| CheckError::Setup(format!("starting the provider simulator: {err}")))
}

/// A runtime with the default configuration and limits whose network
/// reaches loopback only and resolves no name.
fn runtime_for(
    secrets: Vec<(String, crate::runtime::secrets::SecretValue)>,
) -> Result<Runtime, CheckError> {
    let store = SecretStore::new();
    for (name, value) in secrets {
        store.insert(name, value);
    }
    let network = Network::new(
        Arc::new(StaticResolver::new()),
        Arc::new(LoopbackOnlyConnector::new()),
    );
    Runtime::new(RuntimeConfig::default(), network, store)
        .map_err(|err| CheckError::Setup(format!("building the runtime: {err:#}")))
}
