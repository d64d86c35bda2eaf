//! What the embedded stores (the event log and the idempotency store, one redb file each) share:
//! a database file that recovers by itself after a failed write, and the write health that
//! readiness and gRPC health report.
//!
//! redb refuses every operation after an I/O error in a commit (a full disk) until the database
//! is closed and opened again. [`RedbFile`] does that on the next write: a write after a failure
//! first reopens the file (redb repairs it then), so the store works again as soon as the disk
//! has room, without a restart. Each outcome of a write sets the file's [`WriteHealth`].

pub(crate) mod health;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::RwLock;
use redb::Database;

pub(crate) use self::health::{StorageHealth, Writability, WriteHealth};

/// A redb database file that is reopened on the next write after a write failed.
#[derive(Debug)]
pub(crate) struct RedbFile {
    /// Where the file is.
    path: PathBuf,
    /// The database, or why there is none.
    slot: RwLock<Slot>,
    /// Set when the database was reopened and no write has told its store yet.
    reopened_unseen: AtomicBool,
    /// Set by every write.
    health: WriteHealth,
}

/// The state of the file.
#[derive(Debug)]
enum Slot {
    /// Open and usable.
    Open(Database),
    /// A write failed: to be reopened by the next write; the old database is dropped.
    Broken,
    /// Closed for good.
    Closed,
}

/// Whether the database was opened again just before a write, so that a store can re-read what
/// it keeps in memory from the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reopened {
    /// The same database as before.
    No,
    /// Reopened after a failed write.
    Yes,
}

/// Why a [`RedbFile`] operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RedbFileError {
    /// The storage failed, or the file could not be reopened after an earlier failure.
    #[error("the database file failed")]
    Storage(#[source] redb::Error),
    /// The file was closed.
    #[error("the database file is closed")]
    Closed,
}

impl RedbFile {
    /// Opens (or creates) the file at `path`; its directory must exist.
    ///
    /// # Errors
    ///
    /// Fails when the file cannot be created or opened (no permission, held by another process,
    /// corrupt).
    pub(crate) fn open(path: &Path, health: WriteHealth) -> Result<Self, redb::Error> {
        let database = Database::create(path)?;
        Ok(Self {
            path: path.to_owned(),
            slot: RwLock::new(Slot::Open(database)),
            reopened_unseen: AtomicBool::new(false),
            health,
        })
    }

    /// Returns the path of the file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the health this file reports.
    pub(crate) fn health(&self) -> &WriteHealth {
        &self.health
    }

    /// Tells whether the file was closed.
    pub(crate) fn is_closed(&self) -> bool {
        matches!(*self.slot.read(), Slot::Closed)
    }

    /// Runs `read` against the database, reopening it first when the last write failed; `close`
    /// waits until it returns.
    ///
    /// # Errors
    ///
    /// Fails with [`RedbFileError::Closed`] after `close`, and with `Storage` when `read` fails or
    /// the file cannot be reopened.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&Database) -> Result<T, redb::Error>,
    ) -> Result<T, RedbFileError> {
        self.reopen_if_broken()?;
        let slot = self.slot.read();
        match &*slot {
            Slot::Open(database) => read(database).map_err(RedbFileError::Storage),
            Slot::Broken => Err(RedbFileError::Storage(redb::Error::PreviousIo)),
            Slot::Closed => Err(RedbFileError::Closed),
        }
    }

    /// Runs `write` against the database, reopening it first when the last write failed (telling
    /// `write` so until one succeeds), and records the outcome in the file's health. When `write`
    /// fails with an I/O error the database is dropped, so the next write opens it again.
    ///
    /// # Errors
    ///
    /// Fails with [`RedbFileError::Closed`] after `close`, and with `Storage` when the file
    /// cannot be reopened or `write` fails.
    pub(crate) fn write<T>(
        &self,
        write: impl FnOnce(&Database, Reopened) -> Result<T, redb::Error>,
    ) -> Result<T, RedbFileError> {
        self.reopen_if_broken()?;
        let reopened = if self.reopened_unseen.swap(false, Ordering::SeqCst) {
            Reopened::Yes
        } else {
            Reopened::No
        };
        let outcome = {
            let slot = self.slot.read();
            match &*slot {
                Slot::Open(database) => write(database, reopened),
                Slot::Broken => Err(redb::Error::PreviousIo),
                Slot::Closed => return Err(RedbFileError::Closed),
            }
        };
        if outcome.is_err() && reopened == Reopened::Yes {
            self.reopened_unseen.store(true, Ordering::SeqCst);
        }
        match outcome {
            Ok(value) => {
                self.health.set_writable();
                Ok(value)
            }
            Err(error) if needs_reopen(&error) => {
                self.break_after(&error);
                Err(RedbFileError::Storage(error))
            }
            Err(error) => Err(RedbFileError::Storage(error)),
        }
    }

    /// Returns the file's length in bytes, what it takes on disk (0 when it cannot be read).
    pub(crate) fn disk_bytes(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |metadata| metadata.len())
    }

    /// Compacts the file: redb moves the live pages to its front and truncates it, giving the
    /// pages freed by deletions back to the filesystem. Waits for the readers using the database,
    /// and holds new reads and writes back until it is done. Returns whether anything moved. An
    /// I/O failure leaves the file to be reopened by the next read or write, as a failed write
    /// does.
    ///
    /// # Errors
    ///
    /// Fails with [`RedbFileError::Closed`] after `close`, and with `Storage` when the compaction
    /// fails.
    pub(crate) fn compact(&self) -> Result<bool, RedbFileError> {
        self.reopen_if_broken()?;
        let mut slot = self.slot.write();
        let compacted = match &mut *slot {
            Slot::Open(database) => database.compact().map_err(redb::Error::from),
            Slot::Broken => Err(redb::Error::PreviousIo),
            Slot::Closed => return Err(RedbFileError::Closed),
        };
        compacted.map_err(|error| {
            if needs_reopen(&error) {
                tracing::warn!(
                    path = %self.path.display(),
                    error = &error as &dyn std::error::Error,
                    "compaction failed; the database is reopened on the next write"
                );
                self.health.set_failing(&error);
                *slot = Slot::Broken;
            }
            RedbFileError::Storage(error)
        })
    }

    /// Releases the file; every later call fails with [`RedbFileError::Closed`].
    ///
    /// # Errors
    ///
    /// Fails when redb cannot flush the file on close.
    pub(crate) fn close(&self) -> Result<(), redb::Error> {
        let previous = std::mem::replace(&mut *self.slot.write(), Slot::Closed);
        match previous {
            Slot::Open(database) => database.close().map_err(redb::Error::from),
            Slot::Broken | Slot::Closed => Ok(()),
        }
    }

    /// Opens the database again when a write failed since it was last opened.
    fn reopen_if_broken(&self) -> Result<(), RedbFileError> {
        if !matches!(*self.slot.read(), Slot::Broken) {
            return Ok(());
        }
        let mut slot = self.slot.write();
        match &*slot {
            Slot::Open(_) => return Ok(()),
            Slot::Closed => return Err(RedbFileError::Closed),
            Slot::Broken => {}
        }
        match Database::create(&self.path) {
            Ok(database) => {
                tracing::info!(path = %self.path.display(), "database reopened after a failed write");
                *slot = Slot::Open(database);
                self.reopened_unseen.store(true, Ordering::SeqCst);
                Ok(())
            }
            Err(error) => {
                let error = redb::Error::from(error);
                self.health.set_failing(&error);
                Err(RedbFileError::Storage(error))
            }
        }
    }

    /// Drops the database after a failed write (readers holding it finish first) and reports it.
    fn break_after(&self, error: &redb::Error) {
        tracing::warn!(
            path = %self.path.display(),
            error = error as &dyn std::error::Error,
            "write failed; the database is reopened on the next write"
        );
        self.health.set_failing(error);
        let mut slot = self.slot.write();
        if matches!(*slot, Slot::Open(_)) {
            *slot = Slot::Broken;
        }
    }
}

/// Tells whether a failed write left redb refusing further work until the file is reopened: an
/// I/O error (a full disk) or a refusal because of an earlier one.
fn needs_reopen(error: &redb::Error) -> bool {
    matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo)
}
