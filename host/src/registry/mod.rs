//! The component registry: which component versions are installed, which
//! one of each is active, what each is granted, and the bytes and
//! compiled artifacts on disk.
//!
//! What it owns:
//! - installing a version (uploaded, dropped into the watched directory,
//!   or bundled): size and signature checks, compile through the AOT
//!   [`cache`], validation (`describe`, the world, action identifiers),
//!   then a record in the store and the bytes in `blobs/`;
//! - activation: a version becomes active only when its component's grant
//!   covers every host and secret its `describe` asks for; the switch is
//!   one catalog swap, so running tasks finish on the version they claimed
//!   and the next claim sees the new one;
//! - grants, rollback to any installed version, and removal.
//!
//! What it must not do: run tasks. It changes the engine's catalog and
//! records its changes (audited) in the store.

mod cache;
mod signature;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

pub use cache::{Cache, CacheUse};
pub use signature::{SignaturePolicy, TrustedKey};

use crate::engine::{Catalog, Engine};
use crate::model::TaskStatus;
use crate::runtime::gate::HostGrant;
use crate::runtime::{Grant, LoadError, LoadedComponent, Runtime};
use crate::store::{ComponentRecord, GrantRecord, GrantSpec, Store, StoreError};

/// The largest component accepted (an interpreter-based component, such as
/// one built with componentize-py, is about 20 MB).
pub const MAX_COMPONENT_BYTES: usize = 64 << 20;

/// The secret pattern a component that needs a credential asks for: the
/// credential of whichever target a task runs on.
pub const TARGET_CREDENTIALS: &str = "target:*";

/// How the registry is set up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Holds `blobs/` (installed bytes by digest) and `cache/` (compiled
    /// artifacts).
    pub dir: PathBuf,
    /// Watched for `.wasm` files to install, when set.
    pub watch_dir: Option<PathBuf>,
    pub signatures: SignaturePolicy,
    /// Grants declared in configuration, by component name; they replace
    /// the stored grant at every start.
    pub declared_grants: Vec<(String, GrantSpec)>,
    pub max_bytes: usize,
}

impl RegistryConfig {
    /// The layout under a data directory: `registry/` and a watched
    /// `components/`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("registry"),
            watch_dir: Some(data_dir.join("components")),
            signatures: SignaturePolicy::default(),
            declared_grants: Vec::new(),
            max_bytes: MAX_COMPONENT_BYTES,
        }
    }
}

/// A component to install.
#[derive(Debug, Clone)]
pub struct Upload {
    pub wasm: Vec<u8>,
    /// The text of its `.minisig`, if it came with one.
    pub signature: Option<String>,
    /// `upload`, `bundled`, `file:<path>`.
    pub source: String,
    pub actor: String,
}

/// What an install did.
#[derive(Debug, Clone)]
pub struct Installation {
    pub record: ComponentRecord,
    pub status: InstallStatus,
    pub cache: Option<CacheUse>,
}

/// Where an installed version stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstallStatus {
    /// It is the active version now.
    Active,
    /// Installed and inactive: its grant lacks what these name.
    AwaitingGrant(Vec<String>),
    /// Installed and inactive: another version stays active (bundled
    /// versions do not replace an operator's choice).
    Inactive,
    /// These exact bytes were installed already; nothing changed.
    Unchanged,
}

/// Why a registry operation was refused. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error("the component is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("signature refused: {0}")]
    Signature(String),
    #[error("{0}")]
    Invalid(#[from] LoadError),
    #[error("{0}")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
}

/// The registry. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("dir", &self.inner.config.dir)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    runtime: Arc<Runtime>,
    config: RegistryConfig,
    cache: Cache,
    /// Set once the engine runs; before that, changes go to `initial`.
    engine: OnceLock<Engine>,
    initial: std::sync::Mutex<Catalog>,
    /// One change at a time: installs, activations, grants, removals.
    changes: tokio::sync::Mutex<()>,
    /// Versions whose stored bytes could not be loaded at start, by digest.
    broken: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    /// How each installed version was obtained at start, by digest.
    loads: std::sync::Mutex<Vec<(String, CacheUse)>>,
    /// Set to stop the directory watcher.
    stop: tokio::sync::watch::Sender<bool>,
    watcher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A version at start: loaded, or why not.
type Loaded = Result<(LoadedComponent, CacheUse), String>;

impl Registry {
    /// Opens the registry: applies declared grants and loads every
    /// installed version (through the AOT cache). Call
    /// [`Registry::catalog`] for the engine, then [`Registry::attach`].
    pub async fn open(
        config: RegistryConfig,
        store: Store,
        runtime: Arc<Runtime>,
    ) -> Result<Self, RegistryError> {
        for dir in [config.dir.join("blobs"), config.dir.join("cache")] {
            create_private_dir(&dir)?;
        }
        if let Some(dir) = &config.watch_dir {
            create_private_dir(dir)?;
        }
        let registry = Self {
            inner: Arc::new(Inner {
                cache: Cache::new(config.dir.join("cache")),
                store,
                runtime,
                config,
                engine: OnceLock::new(),
                initial: std::sync::Mutex::default(),
                changes: tokio::sync::Mutex::new(()),
                broken: std::sync::Mutex::default(),
                loads: std::sync::Mutex::default(),
                stop: tokio::sync::watch::Sender::new(false),
                watcher: std::sync::Mutex::default(),
            }),
        };
        registry.apply_declared_grants().await?;
        registry.load_installed().await?;
        Ok(registry)
    }

    /// The catalog of what is installed, to start the engine with.
    pub fn catalog(&self) -> Catalog {
        self.inner
            .initial
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Hands catalog changes to the running engine from now on, and
    /// starts watching the components directory.
    pub fn attach(&self, engine: Engine) {
        let _ = self.inner.engine.set(engine);
        if let Some(dir) = self.inner.config.watch_dir.clone() {
            let task = watch::start(self.clone(), dir);
            *self.inner.watcher.lock().unwrap_or_else(|e| e.into_inner()) = task;
        }
    }

    /// Stops the directory watcher and waits for it (the daemon's
    /// shutdown; an install it started finishes first).
    pub async fn stop(&self) {
        let _ = self.inner.stop.send(true);
        let task = self
            .inner
            .watcher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    fn inner_stop(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// Audits a component refused from `source`, for installs nobody
    /// waits on (the watched directory).
    async fn record_refusal(&self, source: &str, reason: &str) {
        let (source, reason) = (source.to_string(), reason.to_string());
        let recorded = self
            .store()
            .write(move |tx| tx.audit("watcher", "component.refuse", &source, &reason))
            .await;
        if let Err(err) = recorded {
            tracing::error!(error = %err, "cannot audit a refused component");
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Applies a change to the catalog in force.
    fn change_catalog(&self, change: impl FnOnce(&mut Catalog)) {
        match self.inner.engine.get() {
            Some(engine) => engine.with_catalog(change),
            None => change(&mut self.inner.initial.lock().unwrap_or_else(|e| e.into_inner())),
        }
    }

    fn current_catalog(&self) -> Catalog {
        match self.inner.engine.get() {
            Some(engine) => engine.planner().catalog.clone(),
            None => self.catalog(),
        }
    }

    async fn apply_declared_grants(&self) -> Result<(), RegistryError> {
        for (name, spec) in &self.inner.config.declared_grants {
            let grant = runtime_grant(spec)?;
            let spec = GrantSpec {
                hosts: grant.hosts.iter().map(|h| h.to_string()).collect(),
                secrets: spec.secrets.clone(),
            };
            let name = name.clone();
            self.store()
                .write(move |tx| {
                    if tx
                        .grant(&name)?
                        .is_some_and(|stored| stored.grant == spec && stored.granted_by == "config")
                    {
                        return Ok(());
                    }
                    let record = GrantRecord {
                        component: name.clone(),
                        grant: spec.clone(),
                        granted_by: "config".into(),
                        granted_at: tx.now(),
                    };
                    tx.put_grant(&record)?;
                    tx.audit(
                        "config",
                        "component.grant",
                        &format!("component/{name}"),
                        &grant_summary(&spec),
                    )
                })
                .await?;
        }
        Ok(())
    }

    /// Loads every installed version from `blobs/`, compiling only what
    /// the cache lacks, and activates the active ones.
    async fn load_installed(&self) -> Result<(), RegistryError> {
        let (records, active, grants) = self
            .store()
            .read(|r| Ok((r.components()?, r.active_components()?, r.grants()?)))?;
        let mut tasks = tokio::task::JoinSet::new();
        for record in records {
            let registry = self.clone();
            tasks.spawn(async move {
                let loaded = registry.load_stored(&record).await;
                (record, loaded)
            });
        }
        let mut catalog = Catalog::default();
        while let Some(joined) = tasks.join_next().await {
            let Ok((record, loaded)) = joined else {
                continue;
            };
            match loaded {
                Ok((component, used)) => {
                    self.inner
                        .loads
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((record.digest.clone(), used));
                    let spec = grants
                        .iter()
                        .find(|g| g.component == record.name)
                        .map(|g| g.grant.clone())
                        .unwrap_or_default();
                    catalog.add_version(component, runtime_grant(&spec).unwrap_or_default());
                }
                Err(reason) => {
                    tracing::error!(component = %record.name, version = %record.version,
                        digest = %record.digest, reason = %reason,
                        "installed component version cannot be loaded; it stays unavailable");
                    self.inner
                        .broken
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(record.digest.clone(), reason);
                }
            }
        }
        for (name, digest) in active {
            if let Err(reason) = catalog.activate(&digest) {
                tracing::error!(component = %name, reason = %reason,
                    "the active version of a component cannot be activated");
            }
        }
        *self.inner.initial.lock().unwrap_or_else(|e| e.into_inner()) = catalog;
        Ok(())
    }

    /// Loads one stored version, checking its bytes against its digest.
    async fn load_stored(&self, record: &ComponentRecord) -> Loaded {
        let path = self.blob_path(&record.digest);
        let wasm =
            std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        if hex::encode(Sha256::digest(&wasm)) != record.digest {
            return Err(format!(
                "{} does not match its recorded SHA-256; restore it or install the component again",
                path.display()
            ));
        }
        self.compile_and_link(wasm, record.digest.clone())
            .await
            .map_err(|err| err.to_string())
    }

    async fn compile_and_link(
        &self,
        wasm: Vec<u8>,
        digest: String,
    ) -> Result<(LoadedComponent, CacheUse), LoadError> {
        if wasm.is_empty() {
            return Err(LoadError::NotWasm("the file is empty".into()));
        }
        if !wasm.starts_with(b"\0asm") {
            return Err(LoadError::NotWasm(
                "it does not start with the WebAssembly magic bytes `\\0asm`".into(),
            ));
        }
        let registry = self.clone();
        let key = digest.clone();
        let (component, used) = tokio::task::spawn_blocking(move || {
            registry
                .inner
                .cache
                .component(&registry.inner.runtime, &key, &wasm)
        })
        .await
        .map_err(|err| LoadError::Compile(wasmtime::Error::msg(err.to_string())))??;
        let loaded = self.inner.runtime.link(component, digest).await?;
        Ok((loaded, used))
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        self.inner
            .config
            .dir
            .join("blobs")
            .join(format!("{digest}.wasm"))
    }

    /// Installs a component version. It becomes active at once when its
    /// component's grant covers what it asks for; otherwise it waits for
    /// [`Registry::grant`]. The previous version stays active on any
    /// refusal.
    pub async fn install(&self, upload: Upload) -> Result<Installation, RegistryError> {
        self.install_as(upload, false).await
    }

    /// Installs a component shipped inside the riposte binary (or declared
    /// by the daemon's configuration): no signature is asked for, and it
    /// becomes active unless an operator activated a version of their own.
    pub async fn install_bundled(&self, upload: Upload) -> Result<Installation, RegistryError> {
        self.install_as(upload, true).await
    }

    async fn install_as(
        &self,
        upload: Upload,
        bundled: bool,
    ) -> Result<Installation, RegistryError> {
        let size = upload.wasm.len();
        if size > self.inner.config.max_bytes {
            return Err(RegistryError::TooLarge {
                size,
                limit: self.inner.config.max_bytes,
            });
        }
        let digest = hex::encode(Sha256::digest(&upload.wasm));
        let _changing = self.inner.changes.lock().await;
        if let Some(record) = self.store().read(|r| r.component(&digest))? {
            return Ok(Installation {
                record,
                status: InstallStatus::Unchanged,
                cache: None,
            });
        }
        let signed_by = if bundled {
            None
        } else {
            self.inner
                .config
                .signatures
                .check(&upload.wasm, upload.signature.as_deref())
                .map_err(RegistryError::Signature)?
        };
        let wasm = upload.wasm;
        let (component, used) = self.compile_and_link(wasm.clone(), digest.clone()).await?;
        let info = component.info().clone();

        let (records, active, grant) = {
            let name = info.name.clone();
            self.store().read(move |r| {
                let records = r.components()?;
                let active = r
                    .active_components()?
                    .into_iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, digest)| digest);
                let grant = r.grants()?.into_iter().find(|g| g.component == name);
                Ok((records, active, grant))
            })?
        };
        if let Some(same) = records
            .iter()
            .find(|r| r.name == info.name && r.version == info.version)
        {
            return Err(RegistryError::Conflict(format!(
                "`{}` version {} is already installed with other content (sha256 {}); \
                 give the new build a new version",
                info.name, info.version, same.digest
            )));
        }
        self.current_catalog()
            .check_conflicts(&info)
            .map_err(RegistryError::Conflict)?;

        let requested = requested_grant(&info);
        let granted = grant.as_ref().map(|g| g.grant.clone()).unwrap_or_default();
        let missing = granted.missing(&requested);
        let operator_active = active.as_ref().is_some_and(|digest| {
            records
                .iter()
                .any(|r| &r.digest == digest && r.source != "bundled")
        });
        let status = if !missing.is_empty() {
            InstallStatus::AwaitingGrant(missing)
        } else if bundled && operator_active {
            InstallStatus::Inactive
        } else {
            InstallStatus::Active
        };

        write_atomically(&self.blob_path(&digest), &wasm)
            .map_err(|err| RegistryError::Io(format!("storing the component: {err}")))?;
        let record = ComponentRecord {
            digest: digest.clone(),
            name: info.name.clone(),
            version: info.version.clone(),
            size: size as u64,
            actions: info.actions.iter().map(|a| a.id.clone()).collect(),
            requested,
            source: upload.source,
            installed_by: upload.actor.clone(),
            installed_at: crate::model::Time::now(),
            signed_by,
            awaiting_grant: matches!(status, InstallStatus::AwaitingGrant(_)),
        };
        let activate = status == InstallStatus::Active;
        let stored = {
            let (record, actor) = (record.clone(), upload.actor);
            let detail = match &status {
                InstallStatus::Active => "active".to_string(),
                InstallStatus::AwaitingGrant(missing) => {
                    format!("awaiting grant of {}", missing.join(", "))
                }
                _ => "inactive".to_string(),
            };
            self.store()
                .write(move |tx| {
                    let mut record = record.clone();
                    record.installed_at = tx.now();
                    tx.put_component(&record)?;
                    if activate {
                        tx.set_active_component(&record.name, Some(&record.digest))?;
                    }
                    tx.audit(
                        &actor,
                        "component.install",
                        &format!("component/{}@{}", record.name, record.version),
                        &format!("sha256 {} from {}: {detail}", record.digest, record.source),
                    )?;
                    Ok(record)
                })
                .await
        };
        let record = match stored {
            Ok(record) => record,
            Err(err) => {
                let _ = std::fs::remove_file(self.blob_path(&digest));
                return Err(err.into());
            }
        };
        let grant = runtime_grant(&granted).unwrap_or_default();
        let mut activated = Ok(());
        self.change_catalog(|catalog| {
            catalog.add_version(component, grant);
            if activate {
                activated = catalog.activate(&digest);
            }
        });
        if let Err(reason) = activated {
            tracing::error!(reason = %reason, "activating an installed component failed");
        }
        tracing::info!(component = %record.name, version = %record.version,
            digest = %record.digest, source = %record.source, status = ?status,
            "component installed");
        Ok(Installation {
            record,
            status,
            cache: Some(used),
        })
    }

    /// Makes an installed version the active one (upgrade or rollback).
    pub async fn activate(
        &self,
        name: &str,
        version: &str,
        actor: &str,
    ) -> Result<ComponentRecord, RegistryError> {
        let _changing = self.inner.changes.lock().await;
        let (record, grant) = self.find_version(name, version)?;
        if self.current_catalog().version(&record.digest).is_none() {
            let reason = self
                .inner
                .broken
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&record.digest)
                .cloned()
                .unwrap_or_else(|| "it is not loaded".into());
            return Err(RegistryError::Conflict(format!(
                "`{name}` version {version} cannot be activated: {reason}"
            )));
        }
        let missing = grant
            .map(|g| g.grant)
            .unwrap_or_default()
            .missing(&record.requested);
        if !missing.is_empty() {
            return Err(RegistryError::Conflict(format!(
                "`{name}` version {version} asks for {} beyond its grant; grant it first",
                missing.join(", ")
            )));
        }
        let mut candidate = self.current_catalog();
        candidate
            .activate(&record.digest)
            .map_err(RegistryError::Conflict)?;
        let (digest, actor, stored) = (record.digest.clone(), actor.to_string(), record.clone());
        self.store()
            .write(move |tx| {
                let mut record = stored.clone();
                record.awaiting_grant = false;
                tx.put_component(&record)?;
                tx.set_active_component(&record.name, Some(&record.digest))?;
                tx.audit(
                    &actor,
                    "component.activate",
                    &format!("component/{}@{}", record.name, record.version),
                    &format!("sha256 {}", record.digest),
                )
            })
            .await?;
        self.change_catalog(|catalog| {
            if let Err(reason) = catalog.activate(&digest) {
                tracing::error!(reason = %reason, "activation failed after it was recorded");
            }
        });
        Ok(record)
    }

    /// Replaces a component's grant. A version waiting for a grant that
    /// this one covers becomes active (the most recently installed one).
    /// Returns the version activated, if any.
    pub async fn grant(
        &self,
        name: &str,
        spec: GrantSpec,
        actor: &str,
    ) -> Result<Option<ComponentRecord>, RegistryError> {
        let grant = runtime_grant(&spec)?;
        let mut spec = spec;
        spec.hosts = grant.hosts.iter().map(|h| h.to_string()).collect();
        let waiting = {
            let _changing = self.inner.changes.lock().await;
            let versions = self.versions_of(name)?;
            if versions.is_empty() {
                return Err(RegistryError::NotFound(format!("component `{name}`")));
            }
            let (name_owned, actor_owned, spec_owned) =
                (name.to_string(), actor.to_string(), spec.clone());
            self.store()
                .write(move |tx| {
                    let record = GrantRecord {
                        component: name_owned.clone(),
                        grant: spec_owned.clone(),
                        granted_by: actor_owned.clone(),
                        granted_at: tx.now(),
                    };
                    tx.put_grant(&record)?;
                    tx.audit(
                        &actor_owned,
                        "component.grant",
                        &format!("component/{name_owned}"),
                        &grant_summary(&spec_owned),
                    )
                })
                .await?;
            self.change_catalog(|catalog| catalog.set_grant(name, &grant));
            versions
                .into_iter()
                .filter(|r| r.awaiting_grant && spec.missing(&r.requested).is_empty())
                .max_by_key(|r| r.installed_at)
        };
        match waiting {
            Some(record) => self.activate(name, &record.version, actor).await.map(Some),
            None => Ok(None),
        }
    }

    /// Removes one inactive version, or (with `version` `None`) the whole
    /// component: every version, its grant and its files. Refused while
    /// tasks of the component wait or run, unless `force`.
    pub async fn remove(
        &self,
        name: &str,
        version: Option<&str>,
        force: bool,
        actor: &str,
    ) -> Result<Vec<ComponentRecord>, RegistryError> {
        let _changing = self.inner.changes.lock().await;
        let versions = self.versions_of(name)?;
        if versions.is_empty() {
            return Err(RegistryError::NotFound(format!("component `{name}`")));
        }
        let active = self
            .store()
            .read(|r| r.active_components())?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, digest)| digest);
        let removed: Vec<ComponentRecord> = match version {
            Some(version) => {
                let record = versions
                    .iter()
                    .find(|r| r.version == version)
                    .cloned()
                    .ok_or_else(|| {
                        RegistryError::NotFound(format!("`{name}` version {version}"))
                    })?;
                if active.as_deref() == Some(record.digest.as_str()) {
                    return Err(RegistryError::Conflict(format!(
                        "`{name}` version {version} is the active version; activate another \
                         version first, or remove the whole component"
                    )));
                }
                vec![record]
            }
            None => {
                let busy = self.pending_tasks(&versions)?;
                if busy > 0 && !force {
                    return Err(RegistryError::Conflict(format!(
                        "{busy} task(s) of `{name}` are waiting or running; wait for them, \
                         or remove with force (they will fail: no component implements \
                         their action)"
                    )));
                }
                versions
            }
        };
        let whole = version.is_none();
        let (records, actor_owned, name_owned) =
            (removed.clone(), actor.to_string(), name.to_string());
        self.store()
            .write(move |tx| {
                for record in &records {
                    tx.delete_component(&record.digest)?;
                    tx.audit(
                        &actor_owned,
                        "component.remove",
                        &format!("component/{}@{}", record.name, record.version),
                        &format!(
                            "sha256 {}{}",
                            record.digest,
                            if force { ", forced" } else { "" }
                        ),
                    )?;
                }
                if whole {
                    tx.set_active_component(&name_owned, None)?;
                    tx.delete_grant(&name_owned)?;
                }
                Ok(())
            })
            .await?;
        self.change_catalog(|catalog| {
            for record in &removed {
                catalog.remove_version(&record.digest);
            }
        });
        for record in &removed {
            let _ = std::fs::remove_file(self.blob_path(&record.digest));
            self.inner.cache.forget(&record.digest);
        }
        Ok(removed)
    }

    /// Tasks of these versions' actions that are waiting or executing.
    fn pending_tasks(&self, versions: &[ComponentRecord]) -> Result<u64, RegistryError> {
        let counts = self.store().read(|r| r.task_counts())?;
        let actions: std::collections::BTreeSet<&str> = versions
            .iter()
            .flat_map(|r| r.actions.iter().map(String::as_str))
            .collect();
        Ok(counts
            .iter()
            .filter_map(|(key, count)| {
                let (status, action) = key.split_once('|')?;
                let pending = status == TaskStatus::Waiting.as_str()
                    || status == TaskStatus::Executing.as_str();
                (pending && actions.contains(action)).then_some(*count)
            })
            .sum())
    }

    fn find_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<(ComponentRecord, Option<GrantRecord>), RegistryError> {
        let (records, grant) = self.store().read(|r| Ok((r.components()?, r.grants()?)))?;
        let record = records
            .into_iter()
            .find(|r| r.name == name && r.version == version)
            .ok_or_else(|| RegistryError::NotFound(format!("`{name}` version {version}")))?;
        Ok((record, grant.into_iter().find(|g| g.component == name)))
    }

    /// Every installed version of `name`, oldest first.
    pub fn versions_of(&self, name: &str) -> Result<Vec<ComponentRecord>, RegistryError> {
        let mut versions: Vec<ComponentRecord> = self
            .store()
            .read(|r| r.components())?
            .into_iter()
            .filter(|r| r.name == name)
            .collect();
        versions.sort_by_key(|r| r.installed_at);
        Ok(versions)
    }

    /// Every installed component: its versions, active digest and grant.
    pub fn overview(&self) -> Result<Vec<ComponentView>, RegistryError> {
        let (records, active, grants) = self
            .store()
            .read(|r| Ok((r.components()?, r.active_components()?, r.grants()?)))?;
        let catalog = self.current_catalog();
        let broken = self
            .inner
            .broken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut by_name: std::collections::BTreeMap<String, ComponentView> = Default::default();
        for record in records {
            let view = by_name
                .entry(record.name.clone())
                .or_insert_with(|| ComponentView {
                    name: record.name.clone(),
                    active: active
                        .iter()
                        .find(|(n, _)| *n == record.name)
                        .map(|(_, d)| d.clone()),
                    enabled: catalog.is_enabled(&record.name),
                    grant: grants.iter().find(|g| g.component == record.name).cloned(),
                    versions: Vec::new(),
                    broken: Default::default(),
                });
            if let Some(reason) = broken.get(&record.digest) {
                view.broken.insert(record.digest.clone(), reason.clone());
            }
            view.versions.push(record);
        }
        let mut views: Vec<ComponentView> = by_name.into_values().collect();
        for view in &mut views {
            view.versions.sort_by_key(|r| r.installed_at);
        }
        Ok(views)
    }

    /// The loaded component with this digest, for inspection.
    pub fn loaded(&self, digest: &str) -> Option<LoadedComponent> {
        self.current_catalog()
            .version(digest)
            .map(|installed| installed.component.clone())
    }

    /// How each installed version was loaded at start: from the AOT
    /// cache, or compiled (and why), by digest.
    pub fn startup_loads(&self) -> Vec<(String, CacheUse)> {
        self.inner
            .loads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The cache file a version's artifact is kept in (for tests and
    /// operators who want to check it).
    pub fn cache_path(&self, digest: &str) -> PathBuf {
        self.inner.cache.path(&self.inner.runtime, digest)
    }
}

/// One component as the registry knows it.
#[derive(Debug, Clone)]
pub struct ComponentView {
    pub name: String,
    /// The active version's digest.
    pub active: Option<String>,
    pub enabled: bool,
    pub grant: Option<GrantRecord>,
    /// Installed versions, oldest first.
    pub versions: Vec<ComponentRecord>,
    /// Versions that could not be loaded at start, with the reason.
    pub broken: std::collections::BTreeMap<String, String>,
}

impl ComponentView {
    /// The active version's record.
    pub fn active_record(&self) -> Option<&ComponentRecord> {
        let digest = self.active.as_deref()?;
        self.versions.iter().find(|r| r.digest == digest)
    }

    /// What a version lacks from the grant in force.
    pub fn missing(&self, record: &ComponentRecord) -> Vec<String> {
        self.grant
            .as_ref()
            .map(|g| g.grant.clone())
            .unwrap_or_default()
            .missing(&record.requested)
    }
}

/// What a component's description asks to be granted, in canonical form.
pub fn requested_grant(info: &crate::runtime::wit::ComponentInfo) -> GrantSpec {
    GrantSpec {
        hosts: info
            .hosts
            .iter()
            .map(|host| {
                host.parse::<HostGrant>()
                    .map(|h| h.to_string())
                    .unwrap_or_else(|_| host.clone())
            })
            .collect(),
        secrets: if info.needs_credential {
            vec![TARGET_CREDENTIALS.to_string()]
        } else {
            Vec::new()
        },
    }
}

/// The runtime form of a grant; refuses patterns that do not parse.
pub fn runtime_grant(spec: &GrantSpec) -> Result<Grant, RegistryError> {
    let mut hosts = Vec::new();
    for host in &spec.hosts {
        hosts.push(
            host.parse::<HostGrant>()
                .map_err(|err| RegistryError::BadRequest(format!("grant host `{host}`: {err}")))?,
        );
    }
    for secret in &spec.secrets {
        let valid = !secret.is_empty()
            && secret.len() <= 128
            && secret
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '/' && c != '\\');
        if !valid {
            return Err(RegistryError::BadRequest(format!(
                "grant secret `{secret}` must be 1 to 128 printable ASCII characters without \
                 slashes, such as `target:*` or `target:edge`"
            )));
        }
    }
    Ok(Grant {
        hosts,
        secrets: spec.secrets.clone(),
    })
}

fn grant_summary(spec: &GrantSpec) -> String {
    format!(
        "hosts [{}], secrets [{}]",
        spec.hosts.join(", "),
        spec.secrets.join(", ")
    )
}

fn create_private_dir(dir: &Path) -> Result<(), RegistryError> {
    std::fs::create_dir_all(dir)
        .map_err(|err| RegistryError::Io(format!("creating {}: {err}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|err| RegistryError::Io(format!("making {} private: {err}", dir.display())))?;
    }
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path` and renames it into
/// place, so a reader never sees a partial file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", fastrand::u64(..)));
    let result = (|| {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
