//! The daemon assembled from a data directory: the vault, the store, the
//! engine over a runtime and catalog, the API tokens, and the HTTP API on
//! a listening socket. `riposte serve` and the tests start it the same way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::api::{ApiState, Role, Tokens};
use crate::engine::{Catalog, Engine, EngineConfig};
use crate::runtime::Runtime;
use crate::store::Store;
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
}

/// A running daemon.
#[derive(Debug)]
pub struct Daemon {
    pub engine: Engine,
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
    pub async fn start(
        config: DaemonConfig,
        runtime: Arc<Runtime>,
        catalog: Catalog,
    ) -> anyhow::Result<Self> {
        create_private_dir(&config.data_dir)?;
        let vault = Vault::open(&config.data_dir).context("opening the master key")?;
        tracing::info!(key = %vault.source, "master key loaded");
        let store = Store::open(config.data_dir.join(STORE_FILE))?;
        let mut engine_config = config.engine.clone();
        engine_config.vault = Some(Arc::new(vault));
        let engine = Engine::start(engine_config, store, runtime, catalog)
            .await
            .context("starting the engine")?;
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
        self.engine.stop();
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

/// The bundled components, each granted the hosts it declares and the
/// credential of whichever target a task runs on.
pub async fn bundled_catalog(runtime: &Runtime) -> anyhow::Result<Catalog> {
    let mut catalog = Catalog::default();
    for &(name, wasm) in crate::bundled::ALL {
        let component = runtime
            .load(wasm.to_vec())
            .await
            .with_context(|| format!("loading the bundled component {name}"))?;
        let mut hosts = Vec::new();
        for host in &component.info().hosts {
            hosts.push(
                host.parse()
                    .map_err(|err| anyhow::anyhow!("{name} declares host `{host}`: {err}"))?,
            );
        }
        let grant = crate::runtime::Grant {
            hosts,
            secrets: vec!["target:*".into()],
        };
        catalog
            .install(component, grant)
            .map_err(anyhow::Error::msg)?;
    }
    Ok(catalog)
}

/// `riposte serve`: the daemon with the embedded defaults, until Ctrl-C
/// or SIGTERM.
pub async fn serve(data_dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    let runtime = Runtime::new(
        crate::runtime::RuntimeConfig::default(),
        crate::runtime::gate::Network::system(),
        crate::runtime::secrets::SecretStore::new(),
    )
    .map_err(|err| anyhow::anyhow!("building the runtime: {err:#}"))?;
    let catalog = bundled_catalog(&runtime).await?;
    let config = DaemonConfig {
        data_dir: data_dir.clone(),
        listen,
        engine: EngineConfig::default(),
    };
    let daemon = Daemon::start(config, Arc::new(runtime), catalog).await?;
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
    use super::*;

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
        let catalog = bundled_catalog(&runtime).await.unwrap();
        for action in [
            "AliyunWafBlockIP",
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
            assert!(catalog.action(action).is_some(), "{action} is not bundled");
        }
    }
}
