//! An engine wired the way the daemon wires it, for tests and the test
//! daemon: the counter fixture granted the counting endpoint, a store in a
//! scratch directory, one target, and scripts and rules from YAML.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use riposte::engine::{Backoff, Catalog, Engine, EngineConfig};
use riposte::model::{Guardrails, RuleSpec, ScriptSpec};
use riposte::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver};
use riposte::runtime::{Grant, Runtime, RuntimeConfig};
use riposte::store::{Store, TargetRecord};

/// Engine settings for tests: quick retries, no rate limit unless a test
/// sets one.
pub fn test_config() -> EngineConfig {
    EngineConfig {
        rates: Default::default(),
        backoff: Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_millis(400),
            max_attempts: 8,
            max_total: Duration::from_secs(30),
        },
        revert_backoff: Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_millis(400),
            max_attempts: 8,
            max_total: Duration::from_secs(30),
        },
        guardrails: Guardrails::with_local_addresses(Vec::new()),
        ..EngineConfig::default()
    }
}

/// A scratch directory removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(label: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("riposte-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn store(&self) -> PathBuf {
        self.0.join("riposte.redb")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts an engine on the store at `store`, with the counter fixture
/// granted `http://127.0.0.1:PORT` and target `edge` pointing there.
pub async fn start_engine(store: &Path, port: u16, config: EngineConfig) -> Engine {
    crate::init_logs();
    start_engine_quiet(store, port, config).await
}

/// [`start_engine`] without the test log capture, for the test daemon.
pub async fn start_engine_quiet(store: &Path, port: u16, config: EngineConfig) -> Engine {
    let (runtime, catalog) = counter_runtime(port, Vec::new()).await;
    let store = Store::open(store).expect("the store opens");
    let engine = Engine::start(config, store, runtime, catalog)
        .await
        .expect("the engine starts");
    engine
        .put_target(
            TargetRecord {
                id: "edge".into(),
                provider: "test".into(),
                account: "acct".into(),
                region: String::new(),
                resource: "edge-1".into(),
                endpoint: format!("http://127.0.0.1:{port}"),
                credential: None,
                settings: Default::default(),
            },
            "tests",
        )
        .await
        .unwrap();
    engine
}

/// A runtime on a loopback-only network, with the counter fixture
/// installed and granted `http://127.0.0.1:PORT` and `secrets`.
pub async fn counter_runtime(port: u16, secrets: Vec<String>) -> (Arc<Runtime>, Catalog) {
    let runtime = test_runtime();
    let component = runtime
        .load(crate::wasm(crate::guests::FIXTURE_COUNTER))
        .await
        .expect("the counter fixture loads");
    let grant = Grant {
        hosts: vec![format!("http://127.0.0.1:{port}").parse().unwrap()],
        secrets,
    };
    let mut catalog = Catalog::default();
    catalog.install(component, grant).unwrap();
    (runtime, catalog)
}

/// A runtime on a loopback-only network with room for 64 concurrent
/// calls.
pub fn test_runtime() -> Arc<Runtime> {
    let network = Network::new(
        Arc::new(StaticResolver::new()),
        Arc::new(LoopbackOnlyConnector::new()),
    );
    let runtime = Runtime::new(
        RuntimeConfig {
            max_concurrent_calls: 64,
            ..RuntimeConfig::default()
        },
        network,
        riposte::runtime::secrets::SecretStore::new(),
    )
    .expect("building the runtime");
    Arc::new(runtime)
}

/// Engine settings for load drivers: concurrency bounds out of the way.
pub fn bench_config() -> EngineConfig {
    EngineConfig {
        provider_concurrency: 256,
        target_concurrency: 256,
        ..test_config()
    }
}

/// A numeric setting from the environment, or `default`.
pub fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A block script on `alert.src_ip` with `duration`, and a rule firing it
/// on every alert with `alert.kind == kind`.
pub async fn install_block(engine: &Engine, name: &str, action: &str, duration: Option<&str>) {
    let duration = duration
        .map(|d| format!("    duration: {d}\n"))
        .unwrap_or_default();
    let script = format!(
        "name: {name}\nentity: {{kind: ip, from: alert.src_ip}}\nsteps:\n  - id: act\n    \
         action: {action}\n    targets: [edge]\n{duration}"
    );
    if !engine.known().scripts.contains(name) {
        let spec = ScriptSpec::from_yaml(&script).unwrap();
        engine.publish_script(spec, "tests").await.unwrap();
    }
    let rule = format!(
        "name: {name}-rule\ntrigger: alert\ncondition: alert.kind == '{name}'\nscript: {name}\n"
    );
    engine
        .put_rule(RuleSpec::from_yaml(&rule).unwrap(), "tests")
        .await
        .unwrap();
}
