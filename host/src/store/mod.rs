//! The store: every record of riposte in one redb file, written by one
//! writer thread that groups many small changes into each transaction.
//!
//! What it owns: tables and secondary indexes, the schema version, id
//! counters, group commit, retention. What it must not do: decide anything.
//! The engine asks for changes through [`Store::write`] with operations on
//! [`Tx`] (claim a task, record a transition, schedule a timer) and reads
//! through [`Store::read`]; nothing outside this module sees a redb table,
//! so another backend can replace this one behind the same operations.
//!
//! # Durability
//!
//! [`Store::write`] returns only after the transaction holding its change
//! is committed with `fsync` (redb `Durability::Immediate`, two-phase
//! commit with quick repair, so reopening after a crash is fast). Changes
//! that arrive while a commit is running wait and go into the next
//! transaction together: throughput follows the batch size, not the fsync
//! rate.

mod query;
mod retention;
mod tables;
mod tx;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use redb::{Database, Durability, ReadableDatabase};

pub use query::{Page, PolicyFilter, TaskFilter};
pub use retention::Purged;
pub use tx::{AuditEntry, Ingested, Reader, Signal, SignalKind, TargetRecord, Tx};

use crate::model::Time;

/// The schema this build reads and writes. Bump it with any change to a
/// table's key or value layout, together with a migration.
pub const SCHEMA_VERSION: u32 = 1;

/// The most operations one transaction groups.
const MAX_BATCH: usize = 1024;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenStoreError {
    #[error("cannot open the store `{path}`: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error(
        "the store `{path}` has schema version {found}, and this riposte reads \
         version {expected}\nhint: use the riposte release that wrote it, or \
         restore a backup made by this release"
    )]
    SchemaVersion {
        path: PathBuf,
        found: String,
        expected: u32,
    },
    #[error("cannot initialise the store `{path}`: {message}")]
    Init { path: PathBuf, message: String },
}

/// Why an operation failed. Nothing an operation wrote is kept when it
/// fails, except where the operation says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change conflicts with the stored state (a task not in the
    /// expected status, a name taken).
    #[error("{0}")]
    Conflict(String),
    /// The input is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing the file failed; the transaction was rolled
    /// back and the operation may be retried.
    #[error("store i/o failed: {0}")]
    Storage(String),
    /// The store was closed.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    pub(crate) fn storage(err: impl std::fmt::Display) -> Self {
        StoreError::Storage(err.to_string())
    }
}

type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// An operation: run on the transaction (or told why there is none), it
/// returns what to do once the commit is known, and the storage error it
/// met, if any, which rolls back the whole transaction.
type Job = Box<dyn FnOnce(Result<&mut Tx<'_>, &StoreError>) -> (Finish, Option<StoreError>) + Send>;

/// A handle on the store; clones share the database and writer thread.
/// When the last clone is dropped, the writer finishes what was queued
/// and the file is closed.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    db: Arc<Database>,
    commits: Arc<std::sync::atomic::AtomicU64>,
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<thread::JoinHandle<()>>,
    path: PathBuf,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.shared.path)
            .finish()
    }
}

impl Store {
    /// Opens the store at `path`, creating it if missing, and starts the
    /// writer thread.
    ///
    /// A store written with another schema version is refused with
    /// [`OpenStoreError::SchemaVersion`] and left untouched.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenStoreError> {
        let path = path.as_ref().to_path_buf();
        let db = Database::builder()
            .create(&path)
            .map_err(|source| OpenStoreError::Database {
                path: path.clone(),
                source,
            })?;
        tables::init(&db, &path)?;
        let db = Arc::new(db);
        let (jobs, queue) = mpsc::channel::<Job>();
        let writer_db = db.clone();
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = commits.clone();
        let writer = thread::Builder::new()
            .name("riposte-store-writer".into())
            .spawn(move || writer(&writer_db, &queue, &counter))
            .map_err(|err| OpenStoreError::Init {
                path: path.clone(),
                message: format!("cannot start the writer thread: {err}"),
            })?;
        Ok(Self {
            shared: Arc::new(Shared {
                db,
                commits,
                jobs: Some(jobs),
                writer: Some(writer),
                path,
            }),
        })
    }

    /// Transactions committed since the store was opened (many operations
    /// share one).
    pub fn commits(&self) -> u64 {
        self.shared
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Runs `op` inside the next write transaction and returns its result
    /// once that transaction is durable.
    ///
    /// `op` must check before it writes: when it returns `NotFound`,
    /// `Conflict` or `Invalid`, it must not have changed anything, because
    /// the other operations of the same transaction are committed. When it
    /// returns [`StoreError::Storage`] (it may have written part of its
    /// change), or when the commit itself fails, the whole transaction is
    /// rolled back and every operation in it gets `Storage`; nothing of
    /// them is kept, and retrying is safe.
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.submit(op, move |result| {
            let _ = reply.send(result);
        })?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// [`Store::write`] for code outside an async runtime.
    pub fn write_blocking<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = mpsc::sync_channel(1);
        self.submit(op, move |result| {
            let _ = reply.send(result);
        })?;
        answer.recv().map_err(|_| StoreError::Closed)?
    }

    fn submit<T, F>(
        &self,
        op: F,
        reply: impl FnOnce(Result<T, StoreError>) + Send + 'static,
    ) -> Result<(), StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let job: Job = Box::new(move |tx| match tx {
            Ok(tx) => {
                let result = op(tx);
                // An operation may have written before it met a storage
                // error (an unreadable record, an i/o failure): its partial
                // change must not be committed with the rest.
                let poison = match &result {
                    Err(err @ StoreError::Storage(_)) => Some(err.clone()),
                    _ => None,
                };
                let finish: Finish = Box::new(move |commit: Option<&StoreError>| match commit {
                    Some(err) => reply(Err(err.clone())),
                    None => reply(result),
                });
                (finish, poison)
            }
            Err(err) => {
                let err = err.clone();
                let finish: Finish = Box::new(move |_| reply(Err(err)));
                (finish, None)
            }
        });
        let jobs = self.shared.jobs.as_ref().ok_or(StoreError::Closed)?;
        jobs.send(job).map_err(|_| StoreError::Closed)
    }

    /// Runs `op` on a consistent snapshot of the store.
    pub fn read<T>(
        &self,
        op: impl FnOnce(&Reader) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.shared.db.begin_read().map_err(StoreError::storage)?;
        op(&Reader::new(txn))
    }
}

/// The writer thread: takes every queued operation (up to [`MAX_BATCH`]),
/// runs them in one transaction, commits, then answers them all.
fn writer(db: &Database, queue: &mpsc::Receiver<Job>, commits: &std::sync::atomic::AtomicU64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(err) => {
                let err = StoreError::storage(err);
                tracing::error!(error = %err, "store: cannot begin a write transaction");
                for job in batch {
                    job(Err(&err)).0(None);
                }
                continue;
            }
        };
        txn.set_quick_repair(true);
        let _ = txn.set_durability(Durability::Immediate);
        let now = Time::now();
        let mut finishes = Vec::with_capacity(batch.len());
        let mut failed: Option<StoreError> = None;
        {
            let mut tx = Tx::new(&txn, now);
            for job in batch {
                match catch_unwind(AssertUnwindSafe(|| job(Ok(&mut tx)))) {
                    Ok((finish, poison)) => {
                        finishes.push(finish);
                        failed = failed.or(poison);
                    }
                    Err(_) => {
                        failed = failed.or(Some(StoreError::Storage(
                            "a store operation panicked".into(),
                        )));
                    }
                }
            }
        }
        let outcome = match failed {
            Some(err) => {
                txn.abort().ok();
                Some(StoreError::Storage(format!(
                    "the transaction was rolled back: {}",
                    match err {
                        StoreError::Storage(message) => message,
                        other => other.to_string(),
                    }
                )))
            }
            None => {
                let result = txn.commit().err().map(StoreError::storage);
                commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                result
            }
        };
        if let Some(err) = &outcome {
            tracing::error!(error = %err, operations = finishes.len(), "store: commit failed");
        }
        for finish in finishes {
            finish(outcome.as_ref());
        }
    }
}

#[cfg(test)]
mod tests;
