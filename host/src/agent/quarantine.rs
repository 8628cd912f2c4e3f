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
//!
//! The agent runs as root on paths in directories other users may own, so
//! it never trusts a path twice. The file's directory is resolved once
//! (symbolic links followed), checked against the protected paths, and
//! then opened component by component without following any link; the
//! file is opened, checked, copied and unlinked relative to that directory
//! descriptor, and a restore creates, fills, chowns and renames its file
//! the same way. A directory swapped for a link midway makes the walk
//! fail instead of leading the agent elsewhere.

use std::ffi::{CString, OsStr};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use riposte_sdk::agent::{QuarantineRecord, RestoreReport};
use sha2::{Digest, Sha256};

use super::AgentError;
use super::config::ALWAYS_PROTECTED;

/// The quarantine store.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
    protected: Vec<PathBuf>,
    max_bytes: u64,
}

impl Quarantine {
    /// Opens (creating, mode 0700) the store in `dir`. Quarantine refuses
    /// [`ALWAYS_PROTECTED`], `protected` (the configuration's paths and the
    /// agent's own files), and the store itself; it takes files of at most
    /// `max_bytes`.
    pub fn open(dir: PathBuf, protected: &[PathBuf], max_bytes: u64) -> Result<Self, AgentError> {
        fs::create_dir_all(&dir).map_err(|err| AgentError::io(dir.display(), &err))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|err| AgentError::io(dir.display(), &err))?;
        let dir = fs::canonicalize(&dir).map_err(|err| AgentError::io(dir.display(), &err))?;
        let mut all: Vec<PathBuf> = Vec::new();
        for path in ALWAYS_PROTECTED
            .iter()
            .map(PathBuf::from)
            .chain(protected.iter().cloned())
            .chain(std::iter::once(dir.clone()))
        {
            // Both spellings: `/lib/systemd` may really be
            // `/usr/lib/systemd`, and a path that does not exist yet is
            // kept as written.
            if let Ok(real) = fs::canonicalize(&path)
                && real != path
            {
                all.push(real);
            }
            all.push(path);
        }
        Ok(Self {
            dir,
            protected: all,
            max_bytes,
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
        let given = checked_path(path)?;
        let path = resolved(&given)?;
        self.refuse_protected(&path)?;
        let id = entry_id(key, &given);
        let (parent, name) = open_parent(&path)?;
        if let Some(record) = self.record(&id)? {
            // A retry: finish a move a crash interrupted, then answer the
            // first record.
            if let Ok(file) = open_regular(&parent, &name, &path)
                && let Ok(meta) = file.metadata()
                && hash_file(file, meta.len()).ok().as_deref() == Some(record.sha256.as_str())
            {
                unlink_if_same(&parent, &name, &path, &meta)?;
            }
            return Ok(record);
        }
        // One descriptor, opened without following a final symlink, is
        // checked, hashed and copied: swapping the path for a link to
        // another file in between cannot make the agent take (and later
        // hand back) that other file's content.
        let mut source = open_regular(&parent, &name, &path)?;
        let meta = source
            .metadata()
            .map_err(|err| AgentError::io(path.display(), &err))?;
        if meta.len() > self.max_bytes {
            return Err(AgentError::Refused(format!(
                "{} is {} bytes; the agent quarantines files of at most {} bytes \
                 (`scan.max_file_bytes`)",
                path.display(),
                meta.len(),
                self.max_bytes
            )));
        }
        let content = self.dir.join(format!("{id}.bin"));
        let sha256 = match copy_hashing(&mut source, &content) {
            Ok(sha256) => sha256,
            Err(err) => {
                let _ = fs::remove_file(&content);
                return Err(err);
            }
        };
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
        unlink_if_same(&parent, &name, &path, &meta)?;
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
        let target = checked_path(&record.original_path)?;
        self.refuse_protected(&target)?;
        let content = self.dir.join(format!("{id}.bin"));
        let (parent, name) = open_parent_creating(&target)?;
        match open_regular(&parent, &name, &target) {
            Ok(existing) => {
                let same = existing
                    .metadata()
                    .ok()
                    .filter(|m| m.len() == record.size)
                    .and_then(|m| hash_file(existing, m.len()).ok())
                    .is_some_and(|hash| hash == record.sha256);
                if !same {
                    return Err(AgentError::Conflict(format!(
                        "{} exists again with other content; move it away before restoring",
                        target.display()
                    )));
                }
            }
            Err(AgentError::NotFound(_)) => {
                // The stored copy is mode 0000: make it readable to copy back.
                fs::set_permissions(&content, fs::Permissions::from_mode(0o600))
                    .map_err(|err| AgentError::io(content.display(), &err))?;
                let mut stored = fs::File::open(&content)
                    .map_err(|err| AgentError::io(content.display(), &err))?;
                let mut staged_name = b".".to_vec();
                staged_name.extend_from_slice(name.as_bytes());
                staged_name.extend_from_slice(b".riposte-restore");
                let staged_name = CString::new(staged_name)
                    .map_err(|_| AgentError::InvalidInput("a NUL in the file name".into()))?;
                // A name someone planted is removed; the staged file is then
                // created exclusively, filled, and given its owner, mode and
                // time through its own descriptor.
                // SAFETY: a directory fd and a NUL-terminated name.
                unsafe { libc::unlinkat(parent.as_raw_fd(), staged_name.as_ptr(), 0) };
                let mut staged = create_at(&parent, &staged_name, &target)?;
                std::io::copy(&mut stored, &mut staged)
                    .map_err(|err| AgentError::io(target.display(), &err))?;
                apply_metadata(&staged, &record, &target)?;
                staged
                    .sync_all()
                    .map_err(|err| AgentError::io(target.display(), &err))?;
                rename_at(&parent, &staged_name, &name, &target)?;
            }
            Err(err) => return Err(err),
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
        if let Some(protected) = self.protected.iter().find(|p| path.starts_with(p)) {
            return Err(AgentError::Refused(format!(
                "{} is protected (under `{}`) and is never quarantined or written",
                path.display(),
                protected.display()
            )));
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
    if !path.is_absolute() || !plain || path.file_name().is_none() {
        return Err(AgentError::InvalidInput(format!(
            "`{}` is not a plain absolute path; expected e.g. /tmp/dropper.sh",
            path.display()
        )));
    }
    Ok(path)
}

/// The path with its directory resolved (links followed, once) and its
/// last component kept: where the file really is.
fn resolved(path: &Path) -> Result<PathBuf, AgentError> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().unwrap_or_default();
    let real = fs::canonicalize(parent).map_err(|err| AgentError::io(parent.display(), &err))?;
    Ok(real.join(name))
}

/// Opens the directories of `path` from `/` one by one without following
/// any link; answers the parent's descriptor and the file name.
fn open_parent(path: &Path) -> Result<(OwnedFd, CString), AgentError> {
    walk(path, false)
}

/// [`open_parent`], creating missing directories (mode 0755, as root).
fn open_parent_creating(path: &Path) -> Result<(OwnedFd, CString), AgentError> {
    walk(path, true)
}

fn walk(path: &Path, create: bool) -> Result<(OwnedFd, CString), AgentError> {
    let name = path
        .file_name()
        .ok_or_else(|| AgentError::InvalidInput(format!("{} names no file", path.display())))?;
    let mut dir = open_dir_at(None, OsStr::new("/"), path)?;
    for part in path.parent().unwrap_or(Path::new("/")).components() {
        let Component::Normal(part) = part else {
            continue;
        };
        dir = match open_dir_at(Some(&dir), part, path) {
            Err(AgentError::NotFound(_)) if create => {
                let c = c_name(part)?;
                // SAFETY: a directory fd and a NUL-terminated name.
                let made = unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), 0o755) };
                if made != 0 {
                    let err = std::io::Error::last_os_error();
                    if err.raw_os_error() != Some(libc::EEXIST) {
                        return Err(AgentError::io(path.display(), &err));
                    }
                }
                open_dir_at(Some(&dir), part, path)?
            }
            other => other?,
        };
    }
    Ok((dir, c_name(name)?))
}

fn c_name(name: &OsStr) -> Result<CString, AgentError> {
    CString::new(name.as_bytes()).map_err(|_| AgentError::InvalidInput("a NUL in the path".into()))
}

fn open_dir_at(dir: Option<&OwnedFd>, name: &OsStr, path: &Path) -> Result<OwnedFd, AgentError> {
    let c = c_name(name)?;
    let base = dir.map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a directory fd (or AT_FDCWD), a NUL-terminated name, flags.
    let fd = unsafe { libc::openat(base, c.as_ptr(), flags) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => AgentError::Conflict(format!(
                "a directory on the way to {} is a symbolic link or not a directory (it \
                 changed since it was checked); nothing was done",
                path.display()
            )),
            _ => AgentError::io(path.display(), &err),
        });
    }
    // SAFETY: the kernel just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `name` in `dir` for reading: never through a link, never
/// blocking on a pipe, and only a regular file.
fn open_regular(dir: &OwnedFd, name: &CString, path: &Path) -> Result<fs::File, AgentError> {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    // SAFETY: a directory fd, a NUL-terminated name, flags.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ELOOP) => AgentError::InvalidInput(format!(
                "{} is a symbolic link; quarantine names the file itself",
                path.display()
            )),
            _ => AgentError::io(path.display(), &err),
        });
    }
    // SAFETY: the kernel just returned this descriptor.
    let file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let meta = file
        .metadata()
        .map_err(|err| AgentError::io(path.display(), &err))?;
    if !meta.is_file() {
        return Err(AgentError::InvalidInput(format!(
            "{} is not a regular file (directories, devices and pipes are not quarantined)",
            path.display()
        )));
    }
    Ok(file)
}

/// Removes `name` from `dir` only when it is still the file `meta` describes.
fn unlink_if_same(
    dir: &OwnedFd,
    name: &CString,
    path: &Path,
    meta: &fs::Metadata,
) -> Result<(), AgentError> {
    let mut now: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a directory fd, a NUL-terminated name, a stat buffer.
    let found = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut now,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if found != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::NotFound {
            return Ok(());
        }
        return Err(AgentError::io(path.display(), &err));
    }
    if now.st_dev != meta.dev() || now.st_ino != meta.ino() {
        return Err(AgentError::Conflict(format!(
            "{} was replaced while it was being quarantined; the copy taken is kept in the \
             store and the new file is left in place",
            path.display()
        )));
    }
    // SAFETY: a directory fd and a NUL-terminated name.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } != 0 {
        return Err(AgentError::io(
            path.display(),
            &std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn create_at(dir: &OwnedFd, name: &CString, path: &Path) -> Result<fs::File, AgentError> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a directory fd, a NUL-terminated name, flags and a mode.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(AgentError::io(
            path.display(),
            &std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the kernel just returned this descriptor.
    Ok(fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Renames `from` to `to` in `dir`, never over an existing file.
fn rename_at(dir: &OwnedFd, from: &CString, to: &CString, path: &Path) -> Result<(), AgentError> {
    let fd = dir.as_raw_fd();
    // SAFETY: directory fds and NUL-terminated names.
    let renamed =
        unsafe { libc::renameat2(fd, from.as_ptr(), fd, to.as_ptr(), libc::RENAME_NOREPLACE) };
    if renamed == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    let result = if err.raw_os_error() == Some(libc::EINVAL) {
        // A file system without RENAME_NOREPLACE: the target was checked
        // absent just before.
        // SAFETY: as above.
        unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) }
    } else {
        -1
    };
    if result == 0 {
        return Ok(());
    }
    // SAFETY: a directory fd and a NUL-terminated name.
    unsafe { libc::unlinkat(fd, from.as_ptr(), 0) };
    Err(match err.raw_os_error() {
        Some(libc::EEXIST) => AgentError::Conflict(format!(
            "{} appeared while it was being restored; it is left as it is",
            path.display()
        )),
        _ => AgentError::io(path.display(), &err),
    })
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

/// SHA-256 of at most `len` bytes of `file`.
fn hash_file(file: fs::File, len: u64) -> std::io::Result<String> {
    super::process::sha256_of(file.take(len))
}

/// Copies `source` into a new file `to` (mode 0600, created exclusively)
/// and answers the SHA-256 of the bytes copied.
fn copy_hashing(source: &mut fs::File, to: &Path) -> Result<String, AgentError> {
    let _ = fs::remove_file(to);
    let mut dest = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(to)
        .map_err(|err| AgentError::io(to.display(), &err))?;
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

/// Owner (when it differs), mode and modification time, on the open file.
fn apply_metadata(
    file: &fs::File,
    record: &QuarantineRecord,
    path: &Path,
) -> Result<(), AgentError> {
    let meta = file
        .metadata()
        .map_err(|err| AgentError::io(path.display(), &err))?;
    if meta.uid() != record.uid || meta.gid() != record.gid {
        std::os::unix::fs::fchown(file, Some(record.uid), Some(record.gid)).map_err(|err| {
            AgentError::io(format!("restoring the owner of {}", path.display()), &err)
        })?;
    }
    // After chown, which clears set-id bits.
    file.set_permissions(fs::Permissions::from_mode(record.mode))
        .map_err(|err| AgentError::io(path.display(), &err))?;
    let modified = UNIX_EPOCH + std::time::Duration::from_secs(record.modified.max(0) as u64);
    file.set_modified(modified)
        .map_err(|err| AgentError::io(path.display(), &err))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::agent::testing::TempDir as Scratch;

    fn plant(dir: &Path, name: &str, content: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn quarantine_and_restore_round_trip_bytes_mode_and_time() {
        let scratch = Scratch::new("trip");
        let store = Quarantine::open(scratch.0.join("store"), &[], 1 << 30).unwrap();
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
        let store = Quarantine::open(scratch.0.join("store"), &[], 1 << 30).unwrap();
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
    fn a_directory_swapped_for_a_link_before_restore_is_not_followed() {
        let scratch = Scratch::new("swap");
        let store = Quarantine::open(scratch.0.join("store"), &[], 1 << 30).unwrap();
        let home = scratch.0.join("home");
        fs::create_dir_all(&home).unwrap();
        let file = plant(&home, "ld.so.preload", b"/tmp/evil.so", 0o644);
        let record = store.quarantine("k", file.to_str().unwrap(), None).unwrap();
        // The owner replaces the directory with a link to a directory the
        // agent must never write (here a stand-in for /etc).
        let etc = scratch.0.join("etc");
        fs::create_dir_all(&etc).unwrap();
        fs::remove_dir(&home).unwrap();
        std::os::unix::fs::symlink(&etc, &home).unwrap();
        let err = store.restore(&record.id).unwrap_err();
        assert!(
            matches!(err, AgentError::Conflict(ref m) if m.contains("symbolic link")),
            "{err}"
        );
        assert_eq!(
            fs::read_dir(&etc).unwrap().count(),
            0,
            "nothing was written there"
        );
    }

    #[test]
    fn files_over_the_limit_and_the_agents_own_files_are_refused() {
        let scratch = Scratch::new("limits");
        let state = scratch.0.join("state");
        fs::create_dir_all(&state).unwrap();
        let audit = plant(&state, "audit.log", b"lines", 0o600);
        let store =
            Quarantine::open(state.join("quarantine"), std::slice::from_ref(&state), 4).unwrap();
        assert!(matches!(
            store.quarantine("k", audit.to_str().unwrap(), None),
            Err(AgentError::Refused(_))
        ));
        let big = plant(&scratch.0, "big", b"12345", 0o644);
        let err = store
            .quarantine("k", big.to_str().unwrap(), None)
            .unwrap_err();
        assert!(
            matches!(err, AgentError::Refused(ref m) if m.contains("at most 4 bytes")),
            "{err}"
        );
        assert!(big.exists());
        assert_eq!(
            fs::read_dir(store.dir()).unwrap().count(),
            0,
            "no partial copy left"
        );
    }

    #[test]
    fn a_crash_between_copy_and_removal_is_finished_by_the_retry() {
        let scratch = Scratch::new("crash");
        let store = Quarantine::open(scratch.0.join("store"), &[], 1 << 30).unwrap();
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
        let store = Quarantine::open(
            scratch.0.join("store"),
            std::slice::from_ref(&keep),
            1 << 30,
        )
        .unwrap();
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
