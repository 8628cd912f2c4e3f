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

mod components;
mod query;
mod retention;
mod tables;
mod tx;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

use redb::{Database, Durability, ReadableDatabase};

pub use components::{ComponentRecord, GrantRecord, GrantSpec};
pub use query::{AuditFilter, MAX_PAGE, Page, PolicyFilter, TaskFilter};
pub use retention::Purged;
pub use tx::{AuditEntry, Ingested, Reader, Signal, SignalKind, TargetRecord, TokenRecord, Tx};

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

/// An operation waiting for the writer. `run` may be called more than
/// once: when another operation of its transaction fails, the transaction
/// is rolled back and the others run again in a new one. `answer` is
/// called exactly once, after the commit (or the failure) is known.
trait Operation: Send {
    /// Runs on the transaction; returns the storage error that must roll
    /// the transaction back, if the operation met one.
    fn run(&mut self, tx: &mut Tx<'_>) -> Option<StoreError>;
    /// Answers the caller: the result of the last run, or `failed`.
    fn answer(self: Box<Self>, failed: Option<StoreError>);
}

struct Pending<T, F, R> {
    op: F,
    result: Option<Result<T, StoreError>>,
    reply: R,
}

impl<T, F, R> Operation for Pending<T, F, R>
where
    T: Send,
    F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send,
    R: FnOnce(Result<T, StoreError>) + Send,
{
    fn run(&mut self, tx: &mut Tx<'_>) -> Option<StoreError> {
        let result = (self.op)(tx);
        // An operation may have written before it met a storage error (an
        // unreadable record, an i/o failure): its partial change must not
        // be committed.
        let poison = match &result {
            Err(err @ StoreError::Storage(_)) => Some(err.clone()),
            _ => None,
        };
        self.result = Some(result);
        poison
    }

    fn answer(self: Box<Self>, failed: Option<StoreError>) {
        let result = match (failed, self.result) {
            (Some(err), _) => Err(err),
            (None, Some(result)) => result,
            (None, None) => Err(StoreError::Storage("the operation never ran".into())),
        };
        (self.reply)(result);
    }
}

type Job = Box<dyn Operation>;

/// A handle on the store; clones share the database and writer thread.
/// When the last clone is dropped, the writer finishes what was queued
/// and the file is closed.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    db: Arc<Database>,
    commits: Arc<AtomicU64>,
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
        let commits = Arc::new(AtomicU64::new(0));
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
        self.shared.commits.load(Ordering::Relaxed)
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// How many handles to this store are alive (this one included); the
    /// file closes when the last one is dropped.
    pub fn handles(&self) -> usize {
        Arc::strong_count(&self.shared)
    }

    /// Runs `op` inside the next write transaction and returns its result
    /// once that transaction is durable.
    ///
    /// `op` must check before it writes: when it returns `NotFound`,
    /// `Conflict` or `Invalid`, it must not have changed anything, because
    /// the other operations of the same transaction are committed. When it
    /// returns [`StoreError::Storage`] (it may have written part of its
    /// change) or panics, its transaction is rolled back, it gets that
    /// error, and the other operations run again in a new transaction: one
    /// bad record fails only the operation that met it. `op` may therefore
    /// run more than once, each time on a fresh transaction; it must not
    /// keep effects outside the store between runs. When the commit itself
    /// fails, every operation of the transaction gets `Storage`; nothing
    /// of them is kept, and retrying is safe.
    pub async fn write<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
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
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
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
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let job: Job = Box::new(Pending {
            op,
            result: None,
            reply,
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
/// runs them in one transaction, commits, then answers them all. An
/// operation that fails with a storage error (or panics) is answered
/// alone and the rest run again without it.
fn writer(db: &Database, queue: &mpsc::Receiver<Job>, commits: &AtomicU64) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        while !batch.is_empty() {
            match run_batch(db, &mut batch, commits) {
                Ok(result) => {
                    if let Some(err) = &result {
                        tracing::error!(error = %err, operations = batch.len(),
                            "store: commit failed");
                    }
                    for job in batch.drain(..) {
                        job.answer(result.clone());
                    }
                }
                Err((index, err)) => {
                    tracing::error!(error = %err, "store: an operation failed; \
                        its transaction was rolled back and the others run again");
                    batch.remove(index).answer(Some(err));
                }
            }
        }
    }
}

/// Runs `batch` in one transaction. `Ok` holds the commit's error, if
/// any; `Err` names the operation that spoiled the transaction (which was
/// rolled back) and its error.
fn run_batch(
    db: &Database,
    batch: &mut [Job],
    commits: &AtomicU64,
) -> Result<Option<StoreError>, (usize, StoreError)> {
    let mut txn = match db.begin_write() {
        Ok(txn) => txn,
        Err(err) => return Ok(Some(StoreError::storage(err))),
    };
    txn.set_quick_repair(true);
    let _ = txn.set_durability(Durability::Immediate);
    let mut spoiled = None;
    {
        let mut tx = Tx::new(&txn, Time::now());
        for (index, job) in batch.iter_mut().enumerate() {
            let failed = match catch_unwind(AssertUnwindSafe(|| job.run(&mut tx))) {
                Ok(failed) => failed,
                Err(_) => Some(StoreError::Storage("a store operation panicked".into())),
            };
            if let Some(err) = failed {
                spoiled = Some((index, err));
                break;
            }
        }
    }
    if let Some(spoiled) = spoiled {
        txn.abort().ok();
        return Err(spoiled);
    }
    let result = txn.commit().err().map(StoreError::storage);
    commits.fetch_add(1, Ordering::Relaxed);
    Ok(result)
}

#[cfg(test)]
mod tests;
