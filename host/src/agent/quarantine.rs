//! The quarantine store: files moved out of reach, with what it takes to
//! put them back exactly.
//!
//! `<state>/quarantine/` (mode 0700) holds, per entry, `<id>.bin` (the
//! content, mode 0000) and `<id>.json` (the [`QuarantineRecord`]). An
//! entry's id is derived from the task's idempotency key and the path, so
//! a retried quarantine finds its own entry instead of failing on the file
//! it already moved. The content is copied and synced before the original
//! is removed: a crash in between leaves the file in both places, and the
//! retry finishes the move.
//!
//! A restore puts the content back with its mode, owner and modification
//! time, and renames the record to `<id>.restored.json`; a second restore
//! changes nothing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use riposte_sdk::agent::{QuarantineRecord, RestoreReport};
use sha2::{Digest, Sha256};

use super::AgentError;
use super::config::ALWAYS_PROTECTED;
use super::process::file_sha256;

/// The quarantine store.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
    protected: Vec<PathBuf>,
}

impl Quarantine {
    /// Opens (creating, mode 0700) the store in `dir`; `protected` are the
    /// configured paths refused on top of [`ALWAYS_PROTECTED`].
    pub fn open(dir: PathBuf, protected: &[PathBuf]) -> Result<Self, AgentError> {
        fs::create_dir_all(&dir).map_err(|err| AgentError::io(dir.display(), &err))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|err| AgentError::io(dir.display(), &err))?;
        let mut all: Vec<PathBuf> = ALWAYS_PROTECTED.iter().map(PathBuf::from).collect();
        all.extend(protected.iter().cloned());
        // The store itself is never quarantined into itself.
        all.push(dir.clone());
        Ok(Self {
            dir,
            protected: all,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Quarantines `path` for task `key`; `expected` is the SHA-256 the
    /// file must have.
    pub fn quarantine(
        &self,
        key: &str,
        path: &str,
        expected: Option<&str>,
    ) -> Result<QuarantineRecord, AgentError> {
        let path = checked_path(path)?;
        self.refuse_protected(&path)?;
        let id = entry_id(key, &path);
        if let Some(record) = self.record(&id)? {
            // A retry: finish a move a crash interrupted, then answer the
            // first record.
            if let Ok(meta) = fs::symlink_metadata(&path)
                && meta.is_file()
                && file_sha256(&path.to_string_lossy()).ok().as_deref() == Some(&record.sha256)
            {
                fs::remove_file(&path).map_err(|err| AgentError::io(path.display(), &err))?;
            }
            return Ok(record);
        }
        // One descriptor, opened without following a final symlink, is
        // checked, hashed and copied: swapping the path for a link to
        // another file in between cannot make the agent take (and later
        // hand back) that other file's content.
        let mut source = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .map_err(|err| match err.raw_os_error() {
                Some(libc::ELOOP) => AgentError::InvalidInput(format!(
                    "{} is a symbolic link; quarantine names the file itself",
                    path.display()
                )),
                _ => AgentError::io(path.display(), &err),
            })?;
        let meta = source
            .metadata()
            .map_err(|err| AgentError::io(path.display(), &err))?;
        if !meta.is_file() {
            return Err(AgentError::InvalidInput(format!(
                "{} is not a regular file (directories, devices and pipes are not \
                 quarantined)",
                path.display()
            )));
        }
        let content = self.dir.join(format!("{id}.bin"));
        let sha256 = copy_hashing(&mut source, &content)?;
        if let Some(expected) = expected
            && !expected.eq_ignore_ascii_case(&sha256)
        {
            let _ = fs::remove_file(&content);
            return Err(AgentError::Conflict(format!(
                "{} has SHA-256 {sha256}, not {expected}; it is left in place",
                path.display()
            )));
        }
        let record = QuarantineRecord {
            id: id.clone(),
            original_path: path.to_string_lossy().into_owned(),
            sha256,
            size: meta.len(),
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            modified: meta.mtime(),
            quarantined_at: unix_now(),
        };
        fs::set_permissions(&content, fs::Permissions::from_mode(0o000))
            .map_err(|err| AgentError::io(content.display(), &err))?;
        write_atomic(&self.dir.join(format!("{id}.json")), &record)?;
        // Unlink only the file that was copied.
        match fs::symlink_metadata(&path) {
            Ok(now) if now.dev() == meta.dev() && now.ino() == meta.ino() => {
                fs::remove_file(&path).map_err(|err| AgentError::io(path.display(), &err))?;
            }
            Ok(_) => {
                return Err(AgentError::Conflict(format!(
                    "{} was replaced while it was being quarantined; the copy taken is \
                     entry {id}, the new file is left in place",
                    path.display()
                )));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(AgentError::io(path.display(), &err)),
        }
        tracing::info!(id = %id, path = %path.display(), "file quarantined");
        Ok(record)
    }

    /// Restores entry `id`.
    pub fn restore(&self, id: &str) -> Result<RestoreReport, AgentError> {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AgentError::InvalidInput(format!(
                "`{id}` is not a quarantine id; expected 32 hex digits"
            )));
        }
        let done = self.dir.join(format!("{id}.restored.json"));
        let Some(record) = self.record(id)? else {
            if let Ok(text) = fs::read(&done) {
                let record: QuarantineRecord = serde_json::from_slice(&text)
                    .map_err(|err| AgentError::Internal(format!("{}: {err}", done.display())))?;
                return Ok(RestoreReport {
                    path: record.original_path,
                    restored: false,
                });
            }
            return Err(AgentError::NotFound(format!("no quarantine entry `{id}`")));
        };
        let target = PathBuf::from(&record.original_path);
        let content = self.dir.join(format!("{id}.bin"));
        if fs::symlink_metadata(&target).is_ok() {
            if file_sha256(&target.to_string_lossy()).ok().as_deref() != Some(&record.sha256) {
                return Err(AgentError::Conflict(format!(
                    "{} exists again with other content; move it away before restoring",
                    target.display()
                )));
            }
        } else {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|err| AgentError::io(parent.display(), &err))?;
            }
            // The stored copy is mode 0000: make it readable to copy back.
            fs::set_permissions(&content, fs::Permissions::from_mode(0o600))
                .map_err(|err| AgentError::io(content.display(), &err))?;
            let staged = target.with_file_name(format!(
                ".{}.riposte-restore",
                target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("file")
            ));
            // A name someone planted (a symlink to elsewhere) is removed,
            // then the staged file is created exclusively.
            match fs::remove_file(&staged) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(AgentError::io(staged.display(), &err));
                }
                _ => {}
            }
            let mut stored =
                fs::File::open(&content).map_err(|err| AgentError::io(content.display(), &err))?;
            copy_exclusive(&mut stored, &staged)?;
            apply_metadata(&staged, &record)?;
            fs::rename(&staged, &target).map_err(|err| AgentError::io(target.display(), &err))?;
        }
        fs::rename(self.dir.join(format!("{id}.json")), &done)
            .map_err(|err| AgentError::io(done.display(), &err))?;
        fs::remove_file(&content).map_err(|err| AgentError::io(content.display(), &err))?;
        tracing::info!(id = %id, path = %target.display(), "file restored");
        Ok(RestoreReport {
            path: record.original_path,
            restored: true,
        })
    }

    fn record(&self, id: &str) -> Result<Option<QuarantineRecord>, AgentError> {
        let path = self.dir.join(format!("{id}.json"));
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|err| AgentError::Internal(format!("{}: {err}", path.display()))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(AgentError::io(path.display(), &err)),
        }
    }

    fn refuse_protected(&self, path: &Path) -> Result<(), AgentError> {
        // Judge the real location too, so a symlinked directory cannot
        // smuggle a protected file past the check.
        let real = path
            .parent()
            .and_then(|parent| fs::canonicalize(parent).ok())
            .map(|parent| parent.join(path.file_name().unwrap_or_default()));
        for candidate in std::iter::once(path).chain(real.as_deref()) {
            if let Some(protected) = self.protected.iter().find(|p| candidate.starts_with(p)) {
                return Err(AgentError::Refused(format!(
                    "{} is protected (under `{}`) and is never quarantined",
                    path.display(),
                    protected.display()
                )));
            }
        }
        Ok(())
    }
}

/// An absolute path without `.` or `..` components.
fn checked_path(path: &str) -> Result<PathBuf, AgentError> {
    let path = PathBuf::from(path);
    let plain = path
        .components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !path.is_absolute() || !plain {
        return Err(AgentError::InvalidInput(format!(
            "`{}` is not a plain absolute path; expected e.g. /tmp/dropper.sh",
            path.display()
        )));
    }
    Ok(path)
}

fn entry_id(key: &str, path: &Path) -> String {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_os_str().as_encoded_bytes());
    hex::encode(&hasher.finalize()[..16])
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Copies `source` into a new file `to` (mode 0600, created exclusively)
/// and answers the SHA-256 of the bytes copied.
fn copy_hashing(source: &mut fs::File, to: &Path) -> Result<String, AgentError> {
    use std::io::Read;
    let _ = fs::remove_file(to);
    let mut dest = create_exclusive(to)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = source
            .read(&mut buf)
            .map_err(|err| AgentError::io("reading the file", &err))?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
        dest.write_all(&buf[..read])
            .map_err(|err| AgentError::io(to.display(), &err))?;
    }
    dest.sync_all()
        .map_err(|err| AgentError::io(to.display(), &err))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Copies `source` into a new file `to`, created exclusively (never
/// through a planted symlink), and syncs it.
fn copy_exclusive(source: &mut fs::File, to: &Path) -> Result<(), AgentError> {
    let mut dest = create_exclusive(to)?;
    std::io::copy(source, &mut dest).map_err(|err| AgentError::io(to.display(), &err))?;
    dest.sync_all()
        .map_err(|err| AgentError::io(to.display(), &err))
}

fn create_exclusive(path: &Path) -> Result<fs::File, AgentError> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|err| AgentError::io(path.display(), &err))
}

fn write_atomic(path: &Path, record: &QuarantineRecord) -> Result<(), AgentError> {
    let staged = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(record)
        .map_err(|err| AgentError::Internal(format!("encoding the record: {err}")))?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staged)
        .map_err(|err| AgentError::io(staged.display(), &err))?;
    file.write_all(&bytes)
        .and_then(|()| file.sync_all())
        .map_err(|err| AgentError::io(staged.display(), &err))?;
    fs::rename(&staged, path).map_err(|err| AgentError::io(path.display(), &err))
}

/// Mode, owner (when the agent may set it) and modification time.
fn apply_metadata(path: &Path, record: &QuarantineRecord) -> Result<(), AgentError> {
    let meta = fs::metadata(path).map_err(|err| AgentError::io(path.display(), &err))?;
    if meta.uid() != record.uid || meta.gid() != record.gid {
        std::os::unix::fs::chown(path, Some(record.uid), Some(record.gid)).map_err(|err| {
            AgentError::io(format!("restoring the owner of {}", path.display()), &err)
        })?;
    }
    // After chown, which clears set-id bits.
    fs::set_permissions(path, fs::Permissions::from_mode(record.mode))
        .map_err(|err| AgentError::io(path.display(), &err))?;
    let modified = UNIX_EPOCH + std::time::Duration::from_secs(record.modified.max(0) as u64);
    let file = fs::File::options()
        .write(true)
        .open(path)
        .map_err(|err| AgentError::io(path.display(), &err))?;
    file.set_modified(modified)
        .map_err(|err| AgentError::io(path.display(), &err))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "riposte-quarantine-{name}-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn plant(dir: &Path, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn quarantine_and_restore_round_trip_bytes_mode_and_time() {
        let scratch = Scratch::new("trip");
        let store = Quarantine::open(scratch.0.join("store"), &[]).unwrap();
        let content: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        let file = plant(&scratch.0, "dropper.sh", &content, 0o4751);
        let before = fs::metadata(&file).unwrap();
        let path = file.to_str().unwrap();

        let record = store.quarantine("task-1", path, None).unwrap();
        assert!(!file.exists());
        assert_eq!(record.mode, 0o4751);
        assert_eq!(record.size, 70_000);
        let stored = store.dir().join(format!("{}.bin", record.id));
        assert_eq!(fs::metadata(&stored).unwrap().mode() & 0o7777, 0);
        // A retry answers the same entry.
        assert_eq!(store.quarantine("task-1", path, None).unwrap(), record);

        let report = store.restore(&record.id).unwrap();
        assert!(report.restored);
        assert_eq!(fs::read(&file).unwrap(), content);
        let after = fs::metadata(&file).unwrap();
        assert_eq!(after.mode() & 0o7777, 0o4751);
        assert_eq!(after.mtime(), before.mtime());
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        assert!(!store.restore(&record.id).unwrap().restored);
    }

    #[test]
    fn symlinks_are_refused_and_a_planted_staging_link_does_not_redirect_a_restore() {
        let scratch = Scratch::new("links");
        let store = Quarantine::open(scratch.0.join("store"), &[]).unwrap();
        let secret = plant(&scratch.0, "secret", b"not yours", 0o600);
        let link = scratch.0.join("link");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        let err = store
            .quarantine("k", link.to_str().unwrap(), None)
            .unwrap_err();
        assert!(
            matches!(err, AgentError::InvalidInput(ref m) if m.contains("symbolic link")),
            "{err}"
        );
        assert!(secret.exists() && link.exists());

        let file = plant(&scratch.0, "dropper", b"payload", 0o755);
        let record = store.quarantine("k", file.to_str().unwrap(), None).unwrap();
        // Someone plants the staging name as a link to a file of theirs.
        let victim = plant(&scratch.0, "victim", b"original", 0o644);
        std::os::unix::fs::symlink(&victim, scratch.0.join(".dropper.riposte-restore")).unwrap();
        store.restore(&record.id).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"original");
        assert_eq!(fs::read(&file).unwrap(), b"payload");
        assert!(
            !fs::symlink_metadata(&file)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn a_crash_between_copy_and_removal_is_finished_by_the_retry() {
        let scratch = Scratch::new("crash");
        let store = Quarantine::open(scratch.0.join("store"), &[]).unwrap();
        let file = plant(&scratch.0, "x", b"payload", 0o644);
        let record = store.quarantine("k", file.to_str().unwrap(), None).unwrap();
        // Simulate the crash: the original is back, the entry exists.
        fs::write(&file, b"payload").unwrap();
        assert_eq!(
            store.quarantine("k", file.to_str().unwrap(), None).unwrap(),
            record
        );
        assert!(!file.exists());
    }

    #[test]
    fn protected_changed_and_odd_paths_stay_in_place() {
        let scratch = Scratch::new("refuse");
        let keep = scratch.0.join("keep");
        fs::create_dir_all(&keep).unwrap();
        let store = Quarantine::open(scratch.0.join("store"), std::slice::from_ref(&keep)).unwrap();
        let kept = plant(&keep, "config", b"x", 0o644);
        let err = store
            .quarantine("k", kept.to_str().unwrap(), None)
            .unwrap_err();
        assert!(matches!(err, AgentError::Refused(_)), "{err}");
        // Through a symlinked directory too.
        let link = scratch.0.join("link");
        std::os::unix::fs::symlink(&keep, &link).unwrap();
        let sneaky = link.join("config");
        assert!(matches!(
            store.quarantine("k", sneaky.to_str().unwrap(), None),
            Err(AgentError::Refused(_))
        ));
        assert!(matches!(
            store.quarantine("k", "/etc/passwd", None),
            Err(AgentError::Refused(_))
        ));
        let file = plant(&scratch.0, "y", b"content", 0o644);
        let wrong = "0".repeat(64);
        let err = store
            .quarantine("k", file.to_str().unwrap(), Some(&wrong))
            .unwrap_err();
        assert!(matches!(err, AgentError::Conflict(_)), "{err}");
        assert!(file.exists());
        for bad in ["relative/path", "/tmp/../etc/shadow"] {
            assert!(matches!(
                store.quarantine("k", bad, None),
                Err(AgentError::InvalidInput(_))
            ));
        }
        assert!(matches!(
            store.quarantine("k", scratch.0.join("none").to_str().unwrap(), None),
            Err(AgentError::NotFound(_))
        ));
        assert!(matches!(
            store.restore(&"ab".repeat(16)),
            Err(AgentError::NotFound(_))
        ));
    }
}
