//! The AOT cache: compiled components on disk, so that a restart or a
//! reload of an unchanged component does not compile it again.
//!
//! A file is named by the component's SHA-256 and the runtime's
//! compatibility key, so an artifact made by another wasmtime or with
//! other settings is never even opened. Its content starts with a magic
//! line and the SHA-256 of the artifact that follows: deserializing runs
//! native code, so a file that was truncated, flipped or replaced fails
//! that check and is rebuilt instead of loaded.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::runtime::{LoadError, Runtime};

const MAGIC: &[u8; 16] = b"riposte-aot-v1\n\0";

/// How a compiled component was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheUse {
    /// Loaded from a valid cache file.
    Hit,
    /// Compiled; no cache file existed.
    Compiled,
    /// Compiled because the cache file was unusable (the reason).
    Rebuilt(String),
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where the artifact of `digest` for `runtime` lives.
    pub fn path(&self, runtime: &Runtime, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{}.cwasm", runtime.compatibility_key()))
    }

    /// The compiled component for `wasm` (whose SHA-256 is `digest`): from
    /// the cache when a valid artifact is there, else compiled and stored.
    /// Blocking: call it from a blocking thread.
    pub fn component(
        &self,
        runtime: &Runtime,
        digest: &str,
        wasm: &[u8],
    ) -> Result<(Component, CacheUse), LoadError> {
        let path = self.path(runtime, digest);
        let rebuilt = match read_artifact(&path) {
            Ok(Some(artifact)) => {
                // SAFETY: the bytes are an artifact this daemon serialized
                // into its private data directory, checked against the
                // SHA-256 written with them, and named by the engine's
                // compatibility key; wasmtime checks the version and
                // settings recorded inside again.
                match unsafe { Component::deserialize(runtime.engine(), &artifact) } {
                    Ok(component) => return Ok((component, CacheUse::Hit)),
                    Err(err) => Some(format!("wasmtime refused it: {err}")),
                }
            }
            Ok(None) => None,
            Err(reason) => Some(reason),
        };
        if let Some(reason) = &rebuilt {
            tracing::warn!(file = %path.display(), reason = %reason,
                "AOT cache entry unusable; compiling again");
            let _ = std::fs::remove_file(&path);
        }
        let artifact = runtime.precompile(wasm)?;
        // SAFETY: the artifact was just produced by `precompile` for an
        // engine compatible with the runtime's.
        let component = unsafe { Component::deserialize(runtime.engine(), &artifact) }
            .map_err(LoadError::Compile)?;
        if let Err(err) = write_artifact(&path, &artifact) {
            tracing::warn!(file = %path.display(), error = %err,
                "cannot write the AOT cache entry; the next start compiles again");
        }
        let used = match rebuilt {
            Some(reason) => CacheUse::Rebuilt(reason),
            None => CacheUse::Compiled,
        };
        Ok((component, used))
    }

    /// Deletes every artifact of `digest`, whatever engine made it.
    pub fn forget(&self, digest: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{digest}-");
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The artifact in `path`, `None` when there is no file, or why the file
/// cannot be trusted.
fn read_artifact(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot read it: {err}")),
    };
    let header = MAGIC.len() + 32;
    if bytes.len() < header || !bytes.starts_with(MAGIC) {
        return Err("it is not a riposte AOT artifact (bad header)".into());
    }
    let (sum, artifact) = bytes[MAGIC.len()..].split_at(32);
    if Sha256::digest(artifact).as_slice() != sum {
        return Err("its checksum does not match its content".into());
    }
    Ok(Some(artifact.to_vec()))
}

/// Writes `artifact` with its header, atomically (a temporary file renamed
/// into place), readable by the daemon's user only.
fn write_artifact(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(MAGIC.len() + 32 + artifact.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&Sha256::digest(artifact));
    bytes.extend_from_slice(artifact);
    super::write_atomically(path, &bytes)
}
