//! The three stores under test, each behind the same durable-commit interface.
//!
//! Every store holds the event log's data model: a 1 KB value keyed by a `u64` sequence in
//! `events`, and an id (a string of about 40 bytes) mapped to that sequence in `ids`. A call to
//! [`Store::commit`] writes its records in one atomic commit that is durable when it returns.

use std::error::Error;
use std::path::Path;

/// The result type of the tool: any error ends the run with its message.
pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// One event as the log stores it.
pub struct Record {
    /// The sequence number, the key of `events`.
    pub seq: u64,
    /// The external id, the key of `ids`.
    pub id: String,
    /// The stored body (1 KB).
    pub value: Vec<u8>,
}

/// A store that makes a group of records durable in one commit.
pub trait Store {
    /// Writes `records` to `events` and `ids` in one commit; durable on return.
    fn commit(&mut self, records: &[Record]) -> Result<()>;
}

/// The stores the tool knows, in their first round's order.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// redb with its default `Durability::Immediate`: one write transaction per commit.
    Redb,
    /// fjall: one write batch per commit, persisted with `PersistMode::SyncData`.
    Fjall,
    /// SQLite in WAL mode with `synchronous=FULL`: one transaction per commit.
    Sqlite,
}

impl Kind {
    /// All stores, in the order of the first round.
    pub const ALL: [Kind; 3] = [Kind::Redb, Kind::Fjall, Kind::Sqlite];

    /// The store's name in the output.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Redb => "redb",
            Kind::Fjall => "fjall",
            Kind::Sqlite => "sqlite",
        }
    }

    /// Opens a fresh store at `path` (a file or a directory, which must not exist yet).
    pub fn open(self, path: &Path) -> Result<Box<dyn Store>> {
        Ok(match self {
            Kind::Redb => Box::new(RedbStore::open(path)?),
            Kind::Fjall => Box::new(FjallStore::open(path)?),
            Kind::Sqlite => Box::new(SqliteStore::open(path)?),
        })
    }
}

/// The `events` table of redb: sequence to body.
const REDB_EVENTS: redb::TableDefinition<'_, u64, &[u8]> = redb::TableDefinition::new("events");
/// The `ids` table of redb: id to sequence.
const REDB_IDS: redb::TableDefinition<'_, &str, u64> = redb::TableDefinition::new("ids");

/// redb, configured as the gateway's embedded log commits (default durability).
struct RedbStore {
    /// The open database file.
    db: redb::Database,
}

impl RedbStore {
    /// Creates the database file at `path`.
    fn open(path: &Path) -> Result<Self> {
        Ok(Self {
            db: redb::Database::create(path)?,
        })
    }
}

impl Store for RedbStore {
    fn commit(&mut self, records: &[Record]) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut events = txn.open_table(REDB_EVENTS)?;
            let mut ids = txn.open_table(REDB_IDS)?;
            for record in records {
                events.insert(record.seq, record.value.as_slice())?;
                ids.insert(record.id.as_str(), record.seq)?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

/// fjall with its journal synced by `fdatasync` inside every batch commit.
struct FjallStore {
    /// The open database (owns the journal).
    db: fjall::Database,
    /// The `events` keyspace: big-endian sequence to body.
    events: fjall::Keyspace,
    /// The `ids` keyspace: id to big-endian sequence.
    ids: fjall::Keyspace,
}

impl FjallStore {
    /// Creates the database directory at `path` with its two keyspaces.
    fn open(path: &Path) -> Result<Self> {
        let db = fjall::Database::builder(path).open()?;
        let events = db.keyspace("events", fjall::KeyspaceCreateOptions::default)?;
        let ids = db.keyspace("ids", fjall::KeyspaceCreateOptions::default)?;
        Ok(Self { db, events, ids })
    }
}

impl Store for FjallStore {
    fn commit(&mut self, records: &[Record]) -> Result<()> {
        let mut batch = self
            .db
            .batch()
            .durability(Some(fjall::PersistMode::SyncData));
        for record in records {
            let key = record.seq.to_be_bytes();
            batch.insert(&self.events, key.as_slice(), record.value.as_slice());
            batch.insert(&self.ids, record.id.as_str(), key.as_slice());
        }
        batch.commit()?;
        Ok(())
    }
}

/// SQLite in WAL mode, `synchronous=FULL`, with prepared (cached) statements.
struct SqliteStore {
    /// The open connection.
    conn: rusqlite::Connection,
}

/// The schema: two B-trees, like the other stores' two tables.
const SQLITE_SCHEMA: &str = "
    CREATE TABLE events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
    CREATE TABLE ids (id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
";

impl SqliteStore {
    /// Creates the database file at `path`, switches it to WAL and creates the tables.
    fn open(path: &Path) -> Result<Self> {
        let conn = rusqlite::Connection::open(path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("SQLite refused WAL mode (got {mode})").into());
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SQLITE_SCHEMA)?;
        Ok(Self { conn })
    }
}

impl Store for SqliteStore {
    fn commit(&mut self, records: &[Record]) -> Result<()> {
        let txn = self.conn.transaction()?;
        {
            let mut events =
                txn.prepare_cached("INSERT INTO events (seq, body) VALUES (?1, ?2)")?;
            let mut ids = txn.prepare_cached("INSERT INTO ids (id, seq) VALUES (?1, ?2)")?;
            for record in records {
                let seq = i64::try_from(record.seq)?;
                events.execute((seq, record.value.as_slice()))?;
                ids.execute((record.id.as_str(), seq))?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}
