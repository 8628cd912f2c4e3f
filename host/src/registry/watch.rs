//! The watched components directory: a `.wasm` file dropped there (with
//! its `.wasm.minisig` beside it when signed) is installed like an upload.
//!
//! Files are read once they have been quiet for [`QUIET`], so a file still
//! being copied is not read half-written; `mv` into the directory is the
//! safe way to drop a large file. Deleting a file does not uninstall
//! anything: removal is explicit (`riposte component remove`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::Watcher as _;

use super::{InstallStatus, Registry, Upload};

/// How long a file must see no change before it is read.
const QUIET: Duration = Duration::from_millis(300);

/// Starts watching `dir`; files already there are installed first. The
/// task ends when the registry is stopped.
pub(super) fn start(registry: Registry, dir: PathBuf) -> Option<tokio::task::JoinHandle<()>> {
    let (sender, mut events) = tokio::sync::mpsc::unbounded_channel::<PathBuf>();
    let watcher = {
        let sender = sender.clone();
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(
                event.kind,
                notify::EventKind::Access(_) | notify::EventKind::Remove(_)
            ) {
                return;
            }
            for path in event.paths {
                if let Some(wasm) = component_file(&path) {
                    let _ = sender.send(wasm);
                }
            }
        })
        .and_then(|mut watcher| {
            watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
            Ok(watcher)
        })
    };
    let watcher = match watcher {
        Ok(watcher) => watcher,
        Err(err) => {
            tracing::error!(dir = %dir.display(), error = %err,
                "cannot watch the components directory; load components over the API");
            return None;
        }
    };
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            if let Some(wasm) = component_file(&entry.path()) {
                let _ = sender.send(wasm);
            }
        }
    }
    tracing::info!(dir = %dir.display(), "watching for components");
    let mut stop = registry.inner_stop();
    Some(tokio::spawn(async move {
        let _watcher = watcher;
        let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
        loop {
            let next = tokio::select! {
                _ = stop.changed() => return,
                next = tokio::time::timeout(QUIET / 3, events.recv()) => next,
            };
            match next {
                Ok(Some(path)) => {
                    pending.insert(path, Instant::now());
                }
                Ok(None) => return,
                Err(_) => {}
            }
            let quiet: Vec<PathBuf> = pending
                .iter()
                .filter(|(_, at)| at.elapsed() >= QUIET)
                .map(|(path, _)| path.clone())
                .collect();
            for path in quiet {
                pending.remove(&path);
                install_file(&registry, &path).await;
            }
        }
    }))
}

/// The component file an event path stands for: the `.wasm` itself, or
/// the `.wasm` a `.wasm.minisig` signs. Hidden and temporary files are not
/// components.
fn component_file(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') {
        return None;
    }
    if name.ends_with(".wasm") {
        Some(path.to_path_buf())
    } else {
        name.strip_suffix(".minisig")
            .filter(|wasm| wasm.ends_with(".wasm"))
            .map(|wasm| path.with_file_name(wasm))
    }
}

async fn install_file(registry: &Registry, path: &Path) {
    let wasm = match std::fs::read(path) {
        Ok(wasm) => wasm,
        // Gone again (a temporary file renamed away): nothing to do.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
        Err(err) => {
            tracing::warn!(file = %path.display(), error = %err, "cannot read a dropped component");
            return;
        }
    };
    let signature_path = PathBuf::from(format!("{}.minisig", path.display()));
    let signature = std::fs::read_to_string(&signature_path).ok();
    let upload = Upload {
        wasm,
        signature,
        source: format!("file:{}", path.display()),
        actor: "watcher".into(),
    };
    match registry.install(upload).await {
        Ok(done) if done.status == InstallStatus::Unchanged => {
            tracing::debug!(file = %path.display(), "dropped component already installed");
        }
        Ok(done) => tracing::info!(file = %path.display(), component = %done.record.name,
            version = %done.record.version, status = ?done.status, "dropped component installed"),
        Err(err) => {
            tracing::warn!(file = %path.display(), reason = %err, "dropped component refused");
            registry
                .record_refusal(&format!("file:{}", path.display()), &err.to_string())
                .await;
        }
    }
}
