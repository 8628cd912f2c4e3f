//! The daemon assembled from a data directory: the vault, the store, the
//! engine over a runtime and catalog, the API tokens, and the HTTP API on
//! a listening socket. `riposte serve` and the tests start it the same way.

mod config;

pub use config::{CONFIG_FILE, FileConfig};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::api::{ApiState, Role, Tokens};
use crate::engine::{Engine, EngineConfig};
use crate::registry::{Registry, RegistryConfig, SignaturePolicy, Upload};
use crate::runtime::Runtime;
use crate::store::{GrantSpec, Store};
use crate::vault::Vault;

/// The store file's name inside the data directory.
pub const STORE_FILE: &str = "riposte.redb";
/// Where the first admin token is written, inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// How to start the daemon.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    /// Where the API listens; port 0 picks a free one.
    pub listen: SocketAddr,
    pub engine: EngineConfig,
    /// Components installed at every start, each granted what it asks for
    /// plus what its entry adds: the embedded configuration's bundled
    /// components, or a test's fixtures.
    pub preinstalled: Vec<Preinstalled>,
    /// Whether components must be signed, and by which keys.
    pub signatures: SignaturePolicy,
    /// Install `.wasm` files dropped into `<data_dir>/components`.
    pub watch_components: bool,
    /// Grants declared by configuration, by component name: they replace
    /// the stored grant at every start.
    pub declared_grants: Vec<(String, GrantSpec)>,
}

/// A component the daemon's configuration installs and grants.
#[derive(Debug, Clone)]
pub struct Preinstalled {
    pub wasm: Vec<u8>,
    /// Granted on top of what the component asks for (a test grants its
    /// loopback server's port).
    pub extra: GrantSpec,
}

impl Preinstalled {
    /// The components bundled into this binary.
    pub fn bundled() -> Vec<Self> {
        crate::bundled::ALL
            .iter()
            .map(|(_, wasm)| Self {
                wasm: wasm.to_vec(),
                extra: GrantSpec::default(),
            })
            .collect()
    }
}

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    pub engine: Engine,
    pub registry: Registry,
    pub state: ApiState,
    /// The address the API listens on.
    pub addr: SocketAddr,
    /// Set when this start created the first admin token.
    pub admin_token_file: Option<PathBuf>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Daemon {
    /// Opens the data directory and starts the engine and the API.
    pub async fn start(config: DaemonConfig, runtime: Arc<Runtime>) -> anyhow::Result<Self> {
        create_private_dir(&config.data_dir)?;
        let vault = Vault::open(&config.data_dir).context("opening the master key")?;
        tracing::info!(key = %vault.source, "master key loaded");
        let store = Store::open(config.data_dir.join(STORE_FILE))?;
        let mut registry_config = RegistryConfig::in_data_dir(&config.data_dir);
        registry_config.signatures = config.signatures.clone();
        registry_config.declared_grants = config.declared_grants.clone();
        if !config.watch_components {
            registry_config.watch_dir = None;
        }
        let registry = Registry::open(registry_config, store.clone(), runtime.clone())
            .await
            .context("opening the component registry")?;
        preinstall(&registry, &config.preinstalled).await?;
        let mut engine_config = config.engine.clone();
        engine_config.vault = Some(Arc::new(vault));
        let engine = Engine::start(engine_config, store, runtime, registry.catalog())
            .await
            .context("starting the engine")?;
        registry.attach(engine.clone());
        let tokens = Tokens::load(engine.store())?;
        let admin_token_file = if tokens.is_empty() {
            Some(first_admin_token(&tokens, &engine, &config.data_dir).await?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let state = ApiState {
            engine: engine.clone(),
            registry: registry.clone(),
            tokens,
            ready: Arc::new(AtomicBool::new(false)),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::api::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        state
            .ready
            .store(true, std::sync::atomic::Ordering::Release);
        tracing::info!(%addr, "API listening");
        Ok(Self {
            engine,
            registry,
            state,
            addr,
            admin_token_file,
            stop: Some(stop),
            server,
        })
    }

    /// Stops accepting requests, lets those in progress finish, and stops
    /// the engine's timers.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
        self.registry.stop().await;
        self.engine.stop();
        // The engine's loops, the last connections and their handlers
        // let go of the store within moments; wait for them, so that the
        // file is closed (and can be opened again) once this returns.
        let store = self.engine.store().clone();
        drop(self);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while store.handles() > 1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        if store.handles() > 1 {
            tracing::warn!("the store is still in use 10 s after shutdown");
        }
    }
}

/// Creates the admin token and writes it to `admin.token` (mode 0600);
/// only its hash is stored.
async fn first_admin_token(
    tokens: &Tokens,
    engine: &Engine,
    data_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let (_, token) = tokens
        .create(engine.store(), "admin", Role::Admin, "riposte")
        .await
        .context("creating the first admin token")?;
    let _ = std::fs::remove_file(&path);
    crate::vault::write_private(&path, format!("{token}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path)
        .with_context(|| format!("creating the data directory {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", path.display()))?;
    }
    Ok(())
}

/// The default data directory, `RIPOSTE_DATA` or `./riposte-data`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("RIPOSTE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("riposte-data"))
}

/// The default API address, `RIPOSTE_LISTEN` or `127.0.0.1:8640`.
pub fn default_listen() -> Result<SocketAddr, String> {
    let text = std::env::var("RIPOSTE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8640".into());
    text.parse()
        .map_err(|_| format!("RIPOSTE_LISTEN: `{text}` is not an address such as 127.0.0.1:8640"))
}

/// Installs the configuration's components and grants each what it asks
/// for plus its entry's extras (as a configuration file's grant would).
async fn preinstall(registry: &Registry, components: &[Preinstalled]) -> anyhow::Result<()> {
    for component in components {
        let done = registry
            .install_bundled(Upload {
                wasm: component.wasm.clone(),
                signature: None,
                source: "bundled".into(),
                actor: "riposte".into(),
            })
            .await
            .context("installing a bundled component")?;
        let record = &done.record;
        let stored = registry
            .overview()?
            .into_iter()
            .find(|view| view.name == record.name)
            .and_then(|view| view.grant)
            .map(|stored| stored.grant)
            .unwrap_or_default();
        // What it asks for and the entry's extras, on top of what is
        // granted already (a grant the configuration file declares).
        let mut grant = stored.clone();
        for host in record.requested.hosts.iter().chain(&component.extra.hosts) {
            if !grant.hosts.contains(host) {
                grant.hosts.push(host.clone());
            }
        }
        for secret in record
            .requested
            .secrets
            .iter()
            .chain(&component.extra.secrets)
        {
            if !grant.secrets.contains(secret) {
                grant.secrets.push(secret.clone());
            }
        }
        if !stored.missing(&grant).is_empty() {
            registry
                .grant(&record.name, grant, "config")
                .await
                .with_context(|| format!("granting the bundled component {}", record.name))?;
        }
    }
    Ok(())
}

/// `riposte serve`: the daemon with the embedded defaults and the
/// configuration file, if any, until Ctrl-C or SIGTERM.
pub async fn serve(data_dir: PathBuf, listen: SocketAddr, file: FileConfig) -> anyhow::Result<()> {
    let runtime = Runtime::new(
        crate::runtime::RuntimeConfig::default(),
        crate::runtime::gate::Network::system(),
        crate::runtime::secrets::SecretStore::new(),
    )
    .map_err(|err| anyhow::anyhow!("building the runtime: {err:#}"))?;
    let config = DaemonConfig {
        data_dir: data_dir.clone(),
        listen,
        engine: EngineConfig::default(),
        preinstalled: Preinstalled::bundled(),
        signatures: file.signatures,
        watch_components: file.watch_components,
        declared_grants: file.grants,
    };
    let daemon = Daemon::start(config, Arc::new(runtime)).await?;
    println!("riposte: API on http://{}", daemon.addr);
    println!("riposte: data in {}", data_dir.display());
    match &daemon.admin_token_file {
        Some(path) => println!(
            "riposte: first start; the admin token is in {} (readable by you only). \
             Only its hash is stored: keep it safe",
            path.display()
        ),
        None => println!("riposte: tokens are in the store; `riposte token list` shows them"),
    }
    wait_for_stop().await;
    println!("riposte: stopping");
    daemon.shutdown().await;
    Ok(())
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async {
                match term.as_mut() {
                    Some(term) => { term.recv().await; }
                    None => std::future::pending::<()>().await,
                }
            } => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod bundled_tests {
    use std::collections::BTreeSet;

    use crate::runtime::Runtime;
    use crate::runtime::gate::HostGrant;

    // Every bundled component must load, declare hosts the grant parser
    // accepts and actions no other bundled component claims, or `serve`
    // would not start.
    #[tokio::test]
    async fn every_bundled_component_loads_with_grantable_hosts() {
        let runtime = Runtime::new(
            crate::runtime::RuntimeConfig::default(),
            crate::runtime::gate::Network::system(),
            crate::runtime::secrets::SecretStore::new(),
        )
        .unwrap();
        let mut actions = BTreeSet::new();
        for (name, wasm) in crate::bundled::ALL {
            let component = runtime.load(wasm.to_vec()).await.unwrap();
            for host in &component.info().hosts {
                let parsed: Result<HostGrant, _> = host.parse();
                assert!(parsed.is_ok(), "{name} declares host `{host}`");
            }
            for action in &component.info().actions {
                assert!(
                    actions.insert(action.id.clone()),
                    "{} is claimed twice",
                    action.id
                );
            }
        }
        for action in [
            "AliyunWafBlockIP",
            "AliYunWafMonitorIP",
            "WafWhiteListBatch",
            "AliyunFirewallProcess",
            "CfwWhiteListBatch",
            "AliyunFirewallMonitorIPin",
            "AliyunFirewallMonitorIPOut",
            "AliyunCFWBlockDNS",
            "SecurityPolicyBlockIP",
            "RegionCLBProcess",
            "RegionALBProcess",
            "AliyunDDoSProxyBlockIP",
            "AliyunDDoSProxyWhiteIP",
            "CDNProcess",
            "DcdnWafBanIP",
            "TencentCFWBlockIP",
            "TencentWafBlockIP",
            "HuaWeiRegionCfwBlockIP",
            "HuaWeiWafBlockIP",
        ] {
            assert!(actions.contains(action), "{action} is not bundled");
        }
    }
}
