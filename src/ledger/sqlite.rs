//! The embedded ledger: SQLite (bundled) in WAL mode with `synchronous = FULL`.
//!
//! Why SQLite: several `crumb` processes on one machine must share one ledger file safely.
//! SQLite's file locking gives that (one writer at a time, readers alongside in WAL mode),
//! `BEGIN IMMEDIATE` takes the write lock before reading so two spends cannot both see
//! "unspent", and a busy timeout turns contention into waiting rather than spurious failure.
//! `synchronous = FULL` fsyncs the WAL on every durable commit, so a settled spend survives
//! `kill -9` and power loss.
//!
//! **Group commit.** A durable commit costs one fsync, so one spend per commit caps a server
//! at the disk's fsync rate. With [`SqliteLedger::with_concurrency`] above 1, every write goes
//! to one writer thread, which takes all the writes waiting for it, applies them in order in
//! one transaction and commits once: one fsync answers them all, and each caller is answered
//! only after that commit returned. Holds and releases need no fsync (a hold lost in a crash
//! handed nothing out), so a batch of only those commits with `synchronous = NORMAL`.

use super::window::{self, RateLimited, Window};
use super::{
    Commit, CommitOutcome, Completer, DelegationRevoke, GaveBack, GiveBack, Ledger, LedgerError, LedgerErrorKind,
    Lineage, LiveRevoke, Node, Pending, Reservation, Reserved, Scope, SpendKind, Spent, Status, Ticket, TokenInfo,
    TopUp, ToppedUp,
};
use crate::limits;
use crate::token::identifier::Nonce;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// How long a ledger operation waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Most writes one group commit takes.
const MAX_BATCH: usize = 512;

/// Retries `f` while SQLite answers busy or locked without having waited itself, up to
/// [`BUSY_TIMEOUT`]; the pauses' ceiling grows from 1 ms to 50 ms.
fn retry_busy<T>(f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let backoff = crate::backoff::Backoff::exponential(Duration::from_millis(1), 2, Duration::from_millis(50))
        .until(std::time::Instant::now() + BUSY_TIMEOUT);
    crate::backoff::retry(backoff, f, |err| {
        matches!(err, rusqlite::Error::SqliteFailure(failure, _)
            if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    })
}

/// The schema version this crumb writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 6;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; 6] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6];

/// v6: what a hold becomes if it lapses unsettled (`reserved_lapse`: the settle at the price
/// held, [`super::encode_lapse`]), recorded the next time the token is used.
const SCHEMA_V6: &str = "ALTER TABLE tokens ADD COLUMN reserved_lapse TEXT;";

/// v5: spend-rate windows ([`super::window`]) and top-ups (`top_ups`, by request id; a
/// lineage head's `topped_up`: what it was topped up with in all). `tokens.windows`: the keys of the windows a
/// token inherited (`index:hexkey,...`); `spend_windows`: per key, what its window holds now and
/// the latest time recorded; `window_spends`: the spends (and holds, by ticket) still in it.
const SCHEMA_V5: &str = "ALTER TABLE tokens ADD COLUMN windows TEXT;
CREATE TABLE IF NOT EXISTS spend_windows (key BLOB PRIMARY KEY, total INTEGER NOT NULL, last_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS window_spends (key BLOB NOT NULL, at INTEGER NOT NULL, amount INTEGER NOT NULL, ticket BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS window_spends_at ON window_spends(key, at);
CREATE INDEX IF NOT EXISTS window_spends_ticket ON window_spends(ticket);
ALTER TABLE tokens ADD COLUMN topped_up INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS top_ups (request_id TEXT PRIMARY KEY, nonce BLOB NOT NULL, amount INTEGER NOT NULL,
    head BLOB NOT NULL, at TEXT NOT NULL);";

/// v4: delegations and returned credit. `revocable`: a child its splitter may revoke;
/// `is_change`: the parent's change (successor or remainder); `head`: the token that heads the
/// lineage a change belongs to (NULL: the token heads its own); `credit`: returned credit owed
/// to the lineage this token heads; `gave_to`: the lineage this one gave back to (its end).
const SCHEMA_V4: &str = "ALTER TABLE tokens ADD COLUMN revocable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN is_change INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN head BLOB;
ALTER TABLE tokens ADD COLUMN credit INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN gave_to BLOB;";

/// v3: a token held while its spend is in flight (reserve, then settle or release).
const SCHEMA_V3: &str = "ALTER TABLE tokens ADD COLUMN reserved_ticket BLOB;
ALTER TABLE tokens ADD COLUMN reserved_until INTEGER;";

/// v2: the fingerprint of the token that made each spend, so only it can replay the spend.
const SCHEMA_V2: &str = "ALTER TABLE tokens ADD COLUMN spent_by BLOB;";

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    nonce         BLOB PRIMARY KEY,
    parent        BLOB REFERENCES tokens(nonce),
    balance       INTEGER,
    issued_at     TEXT,
    spent_at      TEXT,
    spent_request TEXT,
    spent_kind    TEXT,
    spent_cost    INTEGER,
    spent_amounts TEXT,
    revoked_at    TEXT
);
CREATE INDEX IF NOT EXISTS tokens_parent ON tokens(parent);
";

/// A SQLite error in plain words: what went wrong with the ledger file, not SQLite's terms.
fn sqlite_reason(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::*;
    match e {
        rusqlite::Error::SqliteFailure(f, detail) => match f.code {
            CannotOpen => detail
                .clone()
                .filter(|d| d.starts_with("cannot "))
                .unwrap_or_else(|| "cannot open it (does its directory exist, and may crumb write there?)".into()),
            NotADatabase => "it is not a crumb ledger (not a database file)".into(),
            ReadOnly => "it is read-only".into(),
            PermissionDenied => "permission denied".into(),
            DatabaseBusy | DatabaseLocked => "it stayed locked by another process for 30 s".into(),
            DatabaseCorrupt => "the file is corrupt".into(),
            DiskFull => "the disk is full".into(),
            SystemIoFailure => "an I/O error".into(),
            _ => e.to_string(),
        },
        other => other.to_string(),
    }
}

/// Wraps a SQLite error as a ledger error of the kind it is.
fn ledger_error(location: &str, e: rusqlite::Error) -> LedgerError {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => LedgerErrorKind::Conflict,
            rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase => LedgerErrorKind::Corrupt,
            _ => LedgerErrorKind::Unavailable,
        },
        _ => LedgerErrorKind::Unavailable,
    };
    LedgerError::new(kind, location, sqlite_reason(&e)).with_source(e)
}

fn cannot(location: &str, what: String) -> LedgerError {
    LedgerError::unavailable(location, what)
}

/// The ledger's own errors while applying writes: SQLite's, or a record it cannot read.
enum ApplyError {
    Sql(rusqlite::Error),
    Corrupt(String),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> Self {
        ApplyError::Sql(e)
    }
}

impl ApplyError {
    fn into_ledger(self, location: &str) -> LedgerError {
        match self {
            ApplyError::Sql(e) => ledger_error(location, e),
            ApplyError::Corrupt(reason) => LedgerError::corrupt(location, reason),
        }
    }
}

fn nonce_of(bytes: Vec<u8>) -> Result<Nonce, ApplyError> {
    let arr: [u8; 16] = bytes.try_into().map_err(|_| ApplyError::Corrupt("a nonce is not 16 bytes".into()))?;
    Ok(Nonce(arr))
}

fn to_i64(n: u64) -> i64 {
    // Balances are u64 in tokens; SQLite integers are i64. Values above i64::MAX are stored
    // as their bit pattern and read back the same way.
    n as i64
}

/// One write, as the writer applies it: its arguments, and the answer it gives (typed, so
/// the writer hands each caller exactly what its operation answers).
trait Write: Send + 'static {
    type Answer: Send + 'static;

    /// Whether the write must survive a crash before its caller is answered.
    fn durable(&self) -> bool {
        true
    }

    fn apply(&self, tx: &Connection) -> Result<Self::Answer, ApplyError>;

    /// Whether an answer nobody takes must be undone ([`Write::unreceived`]).
    const HANDS_OVER: bool = false;

    /// The hold to release when nobody took `answer` (its [`Pending`] was dropped).
    fn unreceived(_answer: Self::Answer) -> Option<Ticket> {
        None
    }
}

struct ReserveOp(Reservation);
struct SettleOp(Ticket, Commit);
struct CommitOp(Reservation, Commit);
struct ReleaseOp(Ticket);
struct RevokeOp {
    nonce: Nonce,
    cascade: bool,
    at: String,
}
struct RevokeIfLiveOp {
    nonce: Nonce,
    at: String,
}
struct RecordLapsedOp {
    nonce: Nonce,
    now: i64,
}
struct RevokeDelegationOp {
    holder: Nonce,
    child: Nonce,
    at: String,
}
struct GiveBackOp(GiveBack);
struct TopUpOp(TopUp);

impl Write for ReserveOp {
    type Answer = Reserved;
    // A hold lost in a crash only means nothing was handed out.
    fn durable(&self) -> bool {
        false
    }
    fn apply(&self, tx: &Connection) -> Result<Reserved, ApplyError> {
        reserve_in(tx, &self.0)
    }
    const HANDS_OVER: bool = true;
    fn unreceived(answer: Reserved) -> Option<Ticket> {
        match answer {
            Reserved::Held(ticket) => Some(ticket),
            _ => None,
        }
    }
}

impl Write for SettleOp {
    type Answer = CommitOutcome;
    fn apply(&self, tx: &Connection) -> Result<CommitOutcome, ApplyError> {
        settle_in(tx, &self.0, &self.1)
    }
}

impl Write for CommitOp {
    type Answer = CommitOutcome;
    fn apply(&self, tx: &Connection) -> Result<CommitOutcome, ApplyError> {
        Ok(match reserve_in(tx, &self.0)? {
            Reserved::Held(ticket) => match settle_in(tx, &ticket, &self.1)? {
                // Nothing written: the hold taken just now goes too.
                changed @ CommitOutcome::CreditChanged(_) => {
                    release_in(tx, &ticket)?;
                    changed
                }
                other => other,
            },
            Reserved::Spent(spent) => CommitOutcome::AlreadySpent(spent),
            Reserved::Revoked(at) => CommitOutcome::Revoked(at),
            Reserved::InFlight => CommitOutcome::InFlight,
            Reserved::RateLimited(r) => CommitOutcome::RateLimited(r),
        })
    }
}

impl Write for ReleaseOp {
    type Answer = ();
    fn durable(&self) -> bool {
        false
    }
    fn apply(&self, tx: &Connection) -> Result<(), ApplyError> {
        Ok(release_in(tx, &self.0)?)
    }
}

impl Write for RevokeOp {
    type Answer = Vec<Nonce>;
    fn apply(&self, tx: &Connection) -> Result<Vec<Nonce>, ApplyError> {
        revoke_in(tx, &self.nonce, self.cascade, &self.at)
    }
}

impl Write for RevokeIfLiveOp {
    type Answer = LiveRevoke;
    fn apply(&self, tx: &Connection) -> Result<LiveRevoke, ApplyError> {
        revoke_if_live_in(tx, &self.nonce, &self.at)
    }
}

impl Write for RecordLapsedOp {
    type Answer = bool;
    fn apply(&self, tx: &Connection) -> Result<bool, ApplyError> {
        let row = row_in(tx, &self.nonce)?;
        if row.status.spent.is_some() || row.status.revoked_at.is_some() {
            return Ok(false);
        }
        if row.reserved_until.is_none_or(|until| until > self.now) {
            return Ok(false);
        }
        Ok(lapse_in(tx, &self.nonce, &row)?.is_some())
    }
}

impl Write for RevokeDelegationOp {
    type Answer = DelegationRevoke;
    fn apply(&self, tx: &Connection) -> Result<DelegationRevoke, ApplyError> {
        revoke_delegation_in(tx, &self.holder, &self.child, &self.at)
    }
}

impl Write for GiveBackOp {
    type Answer = GaveBack;
    fn apply(&self, tx: &Connection) -> Result<GaveBack, ApplyError> {
        give_back_in(tx, &self.0)
    }
}

impl Write for TopUpOp {
    type Answer = ToppedUp;
    fn apply(&self, tx: &Connection) -> Result<ToppedUp, ApplyError> {
        top_up_in(tx, &self.0)
    }
}

/// A write waiting for the writer, with the completion its answer goes to.
struct Job<W: Write> {
    write: W,
    answer: Option<W::Answer>,
    done: Completer<W::Answer>,
}

/// A [`Job`] of any write, as the writer batches them.
trait Queued: Send {
    fn durable(&self) -> bool;
    /// Applies the write in `tx`, keeping its answer until the transaction commits.
    fn apply(&mut self, tx: &Connection) -> Result<(), ApplyError>;
    /// Answers the caller: the kept answer once its transaction committed, or `failed`.
    fn finish(self: Box<Self>, failed: Option<LedgerError>, location: &str);
}

impl<W: Write> Queued for Job<W> {
    fn durable(&self) -> bool {
        self.write.durable()
    }

    fn apply(&mut self, tx: &Connection) -> Result<(), ApplyError> {
        self.answer = Some(self.write.apply(tx)?);
        Ok(())
    }

    fn finish(self: Box<Self>, failed: Option<LedgerError>, location: &str) {
        let answer = match (failed, self.answer) {
            (Some(e), _) => Err(e),
            (None, Some(answer)) => Ok(answer),
            (None, None) => Err(cannot(location, "a write was answered before it was applied".into())),
        };
        // Nobody waiting: a hold was undone by the completion ([`SqliteLedger::write`]).
        let _ = self.done.complete(answer);
    }
}

/// Where writes go: straight to a connection (one caller, the CLI), or to the group committer.
enum Writer {
    Direct(Arc<Mutex<WriteConn>>),
    Grouped(mpsc::Sender<Box<dyn Queued>>),
    ReadOnly,
}

impl Writer {
    /// A handle that outlives a borrow of the ledger (for undoing an answer nobody took).
    fn handle(&self) -> Writer {
        match self {
            Writer::Direct(conn) => Writer::Direct(conn.clone()),
            Writer::Grouped(jobs) => Writer::Grouped(jobs.clone()),
            Writer::ReadOnly => Writer::ReadOnly,
        }
    }

    /// Releases `ticket`, answering nobody; a release that fails leaves the hold to lapse.
    fn release(&self, ticket: Ticket, location: &str) {
        let (done, _nobody) = Pending::channel(location);
        let job: Box<dyn Queued> = Box::new(Job { write: ReleaseOp(ticket), answer: None, done });
        match self {
            Writer::Direct(conn) => run_batch(&mut conn.lock().unwrap_or_else(|p| p.into_inner()), vec![job], location),
            Writer::Grouped(jobs) => {
                let _ = jobs.send(job);
            }
            Writer::ReadOnly => {}
        }
    }
}

/// The write connection and the `synchronous` level it is set to.
struct WriteConn {
    conn: Connection,
    durable: bool,
}

pub struct SqliteLedger {
    writer: Writer,
    /// Read connections for status and lineage, so a verify never waits behind a commit's
    /// fsync (WAL lets readers proceed while a writer commits). Empty: reads use the writer.
    readers: Vec<Mutex<Connection>>,
    path: PathBuf,
    location: String,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteLedger({})", self.location)
    }
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let location = path.display().to_string();
        let open_err = |e| ledger_error(&location, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::key::create_private_dir(dir).map_err(|e| {
                cannot(&location, format!("cannot create {}: {}", dir.display(), crate::error::io_reason(&e)))
            })?;
        }
        // A new ledger is private (its WAL and shared-memory files take the same mode): it
        // names every token's nonce, spend times and request ids.
        if !path.exists() {
            create_private_file(path)
                .map_err(|e| cannot(&location, format!("cannot create it: {}", crate::error::io_reason(&e))))?;
        }
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // Switching to WAL needs an exclusive lock, for which SQLite may answer "busy" at once
        // instead of waiting (deadlock avoidance) when many processes open a new ledger
        // together: retry until the busy timeout, and skip the switch once another did it.
        retry_busy(|| {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                conn.pragma_update(None, "journal_mode", "WAL")?;
            }
            Ok(())
        })
        .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
        let found = retry_busy(|| migrate(&conn)).map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(LedgerError::schema_too_new(location, found, SCHEMA_VERSION));
        }
        Ok(SqliteLedger {
            writer: Writer::Direct(Arc::new(Mutex::new(WriteConn { conn, durable: true }))),
            readers: Vec::new(),
            path: path.to_path_buf(),
            location,
        })
    }

    /// Opens an existing ledger for reading only: it creates nothing (no file, no directory)
    /// and works in a directory the caller cannot write. A missing ledger is an error, never
    /// an empty ledger: a typo'd path must not make spent tokens look live.
    pub fn open_read_only(path: &Path) -> Result<Self, LedgerError> {
        let location = path.display().to_string();
        if !path.is_file() {
            return Err(LedgerError::missing(location));
        }
        let open_err = |e| ledger_error(&location, e);
        let version = |conn: &Connection| conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0));
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let (conn, found) = match version(&conn) {
            Ok(v) => (conn, v),
            // A WAL ledger in a directory we cannot write, with no writer about (no -wal file):
            // SQLite cannot create its shared-memory file, but the database file is complete.
            Err(e) if !wal_file(path).exists() => {
                let uri = format!("file:{}?immutable=1", path.display());
                let conn = Connection::open_with_flags(uri, flags | rusqlite::OpenFlags::SQLITE_OPEN_URI)
                    .map_err(|_| open_err(e))?;
                let found = version(&conn).map_err(open_err)?;
                (conn, found)
            }
            Err(e) => return Err(open_err(e)),
        };
        match found {
            v if v > SCHEMA_VERSION => Err(LedgerError::schema_too_new(location, v, SCHEMA_VERSION)),
            v if v < SCHEMA_VERSION => Err(LedgerError::schema_too_old(location, v, SCHEMA_VERSION)),
            _ => Ok(SqliteLedger {
                writer: Writer::ReadOnly,
                readers: vec![Mutex::new(conn)],
                path: path.to_path_buf(),
                location,
            }),
        }
    }

    /// Serves `concurrency` callers at once: that many read connections, and above 1 a writer
    /// thread that commits concurrent writes together (group commit).
    pub fn with_concurrency(mut self, concurrency: usize) -> Result<Self, LedgerError> {
        if concurrency <= 1 {
            return Ok(self);
        }
        let open_err = |e| ledger_error(&self.location, e);
        for _ in self.readers.len()..concurrency.min(16) {
            let reader = Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(open_err)?;
            reader.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
            self.readers.push(Mutex::new(reader));
        }
        if let Writer::Direct(conn) = std::mem::replace(&mut self.writer, Writer::ReadOnly) {
            let conn = Arc::into_inner(conn)
                .ok_or_else(|| cannot(&self.location, "its writer is in use".into()))?
                .into_inner()
                .unwrap_or_else(|p| p.into_inner());
            let (jobs, queue) = mpsc::channel();
            let location = self.location.clone();
            std::thread::Builder::new()
                .name("crumb-ledger-writer".into())
                .spawn(move || group_commit(conn.conn, queue, &location))
                .map_err(|e| cannot(&self.location, format!("cannot start the ledger's writer: {e}")))?;
            self.writer = Writer::Grouped(jobs);
        }
        Ok(self)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies one write: at once on this thread (one caller, the CLI: the answer is ready
    /// when this returns), or queued on the group committer, which answers after its fsync.
    fn write<W: Write>(&self, write: W) -> Pending<W::Answer> {
        let (done, pending) = if W::HANDS_OVER {
            // A hold nobody took is released: through the writer, as any write.
            let (writer, location) = (self.writer.handle(), self.location.clone());
            Pending::channel_undoing(&self.location, move |answer| {
                if let Some(ticket) = W::unreceived(answer) {
                    writer.release(ticket, &location);
                }
            })
        } else {
            Pending::channel(&self.location)
        };
        let job: Box<dyn Queued> = Box::new(Job { write, answer: None, done });
        match &self.writer {
            Writer::Direct(conn) => {
                let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
                run_batch(&mut conn, vec![job], &self.location);
            }
            Writer::Grouped(jobs) => {
                if let Err(mpsc::SendError(job)) = jobs.send(job) {
                    job.finish(Some(cannot(&self.location, "the ledger's writer has stopped".into())), &self.location);
                }
            }
            Writer::ReadOnly => {
                job.finish(Some(cannot(&self.location, "it was opened read-only".into())), &self.location);
            }
        }
        pending
    }

    /// Runs `f` on a read connection (or the writer's, when there are no readers).
    fn read<T>(&self, f: impl Fn(&Connection) -> Result<T, ApplyError>) -> Result<T, LedgerError> {
        for reader in &self.readers {
            if let Ok(conn) = reader.try_lock() {
                return f(&conn).map_err(|e| e.into_ledger(&self.location));
            }
        }
        let result = match (&self.writer, self.readers.first()) {
            (_, Some(reader)) => f(&reader.lock().unwrap_or_else(|p| p.into_inner())),
            (Writer::Direct(conn), None) => f(&conn.lock().unwrap_or_else(|p| p.into_inner()).conn),
            _ => return Err(cannot(&self.location, "no connection to read with".into())),
        };
        result.map_err(|e| e.into_ledger(&self.location))
    }
}

/// Creates or checks the schema; returns the version found before.
fn migrate(conn: &Connection) -> rusqlite::Result<i64> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if (0..SCHEMA_VERSION).contains(&version) {
        for step in &MIGRATIONS[version as usize..] {
            tx.execute_batch(step)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(version)
}

/// The writer thread: take every write waiting, apply them in one transaction, commit once,
/// answer each. Ends when the ledger is dropped (the queue closes).
fn group_commit(conn: Connection, queue: mpsc::Receiver<Box<dyn Queued>>, location: &str) {
    let mut conn = WriteConn { conn, durable: true };
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, jobs, location);
    }
}

/// Applies `jobs` in order in one transaction, commits once (fsynced when any must be
/// durable) and answers each. If the batch fails as a whole, each write is retried alone, so
/// one bad write cannot fail the others.
fn run_batch(conn: &mut WriteConn, mut jobs: Vec<Box<dyn Queued>>, location: &str) {
    let durable = jobs.iter().any(|j| j.durable());
    let answer = |job: Box<dyn Queued>, failed: Option<LedgerError>| job.finish(failed, location);
    if let Err(e) = set_durability(conn, durable) {
        let error = ledger_error(location, e);
        for job in jobs {
            answer(job, Some(LedgerError::unavailable(location, error.reason.clone())));
        }
        return;
    }
    match apply_all(&conn.conn, &mut jobs) {
        Ok(()) => jobs.into_iter().for_each(|job| answer(job, None)),
        Err(_) if jobs.len() > 1 => {
            for mut job in jobs {
                let alone = apply_all(&conn.conn, std::slice::from_mut(&mut job));
                answer(job, alone.err().map(|e| e.into_ledger(location)));
            }
        }
        Err(e) => {
            let e = e.into_ledger(location);
            jobs.into_iter().for_each(|job| answer(job, Some(LedgerError::new(e.kind, location, e.reason.clone()))));
        }
    }
}

fn set_durability(conn: &mut WriteConn, durable: bool) -> rusqlite::Result<()> {
    if conn.durable != durable {
        conn.conn.pragma_update(None, "synchronous", if durable { "FULL" } else { "NORMAL" })?;
        conn.durable = durable;
    }
    Ok(())
}

/// One transaction for all of `jobs`; nothing is written unless every one applies.
fn apply_all(conn: &Connection, jobs: &mut [Box<dyn Queued>]) -> Result<(), ApplyError> {
    let mut outcome = Err(ApplyError::Corrupt("no attempt".into()));
    let result = retry_busy(|| {
        // IMMEDIATE: take the write lock before reading, so no two writers both see "unspent".
        let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        for job in jobs.iter_mut() {
            match job.apply(&tx) {
                Ok(()) => {}
                Err(ApplyError::Sql(e)) => return Err(e),
                Err(corrupt) => {
                    outcome = Err(corrupt);
                    return Ok(false);
                }
            }
        }
        tx.commit()?;
        outcome = Ok(());
        Ok(true)
    });
    match result {
        Ok(_) => outcome,
        Err(e) => Err(ApplyError::Sql(e)),
    }
}

fn release_in(tx: &Connection, ticket: &Ticket) -> rusqlite::Result<()> {
    let released = tx.execute(
        "UPDATE tokens SET reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL
         WHERE nonce = ?1 AND reserved_ticket = ?2",
        params![&ticket.parent().0[..], &ticket.id()[..]],
    )?;
    if released > 0 {
        // What the hold counted against windows counts no more.
        recount_in(tx, ticket, None)?;
    }
    Ok(())
}

fn top_up_in(tx: &Connection, t: &TopUp) -> Result<ToppedUp, ApplyError> {
    let before: Option<(Vec<u8>, i64, Vec<u8>)> = tx
        .prepare_cached("SELECT nonce, amount, head FROM top_ups WHERE request_id = ?1")?
        .query_row([&t.request_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((nonce, amount, head)) = before {
        return Ok(if nonce == t.nonce.0 && amount as u64 == t.amount {
            ToppedUp::Replayed { head: nonce_of(head)? }
        } else {
            ToppedUp::RequestIdReused
        });
    }
    if status_in(tx, &t.nonce)?.revoked_at.is_some() {
        return Ok(ToppedUp::Revoked);
    }
    let head = receiver_in(tx, &head_in(tx, &t.nonce)?)?;
    if status_in(tx, &head)?.revoked_at.is_some() {
        return Ok(ToppedUp::Revoked);
    }
    let owed = credit_in(tx, &head)?;
    let Some(total) = owed.checked_add(t.amount).filter(|&n| n <= limits::MAX_AMOUNT) else {
        return Ok(ToppedUp::TooMuch { owed });
    };
    deposit_in(tx, &head, t.amount)?;
    // What a lineage was topped up with in all is shown, never spent: it saturates rather than
    // overflow (SQLite would turn an overflowing integer sum into a float).
    tx.prepare_cached(
        "UPDATE tokens SET topped_up = CASE WHEN topped_up > 9223372036854775807 - ?2 THEN 9223372036854775807
                                            ELSE topped_up + ?2 END
         WHERE nonce = ?1",
    )?
    .execute(params![&head.0[..], to_i64(t.amount)])?;
    tx.prepare_cached("INSERT INTO top_ups (request_id, nonce, amount, head, at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![t.request_id, &t.nonce.0[..], to_i64(t.amount), &head.0[..], t.at])?;
    Ok(ToppedUp::Fresh { head, owed: total })
}

/// The keys of the windows `nonce` carries (`windows`, from the presented token).
fn window_keys_in(conn: &Connection, nonce: &Nonce, windows: &[Window]) -> Result<Vec<[u8; 32]>, ApplyError> {
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let inherited: Option<String> = conn
        .prepare_cached("SELECT windows FROM tokens WHERE nonce = ?1")?
        .query_row([&nonce.0[..]], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(window::keys(nonce, inherited.as_deref(), windows))
}

/// Counts `amount` against each of `parent`'s windows for `ticket`, or says which is full
/// (then nothing is counted). Drops what has left each window first.
fn count_in(
    tx: &Connection,
    parent: &Nonce,
    windows: &[Window],
    amount: u64,
    now: i64,
    ticket: &Ticket,
) -> Result<Option<RateLimited>, ApplyError> {
    if windows.is_empty() || amount == 0 {
        return Ok(None);
    }
    let keys = window_keys_in(tx, parent, windows)?;
    let mut state = Vec::with_capacity(keys.len());
    for (w, key) in windows.iter().zip(&keys) {
        let cutoff = window::cutoff(now, w.secs);
        let (total, last_at): (i64, i64) = tx
            .prepare_cached("SELECT total, last_at FROM spend_windows WHERE key = ?1")?
            .query_row([&key[..]], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
            .unwrap_or((0, i64::MIN));
        let left: i64 = tx
            .prepare_cached("SELECT COALESCE(SUM(amount), 0) FROM window_spends WHERE key = ?1 AND at <= ?2")?
            .query_row(params![&key[..], cutoff], |r| r.get(0))?;
        if left > 0 {
            tx.prepare_cached("DELETE FROM window_spends WHERE key = ?1 AND at <= ?2")?
                .execute(params![&key[..], cutoff])?;
        }
        let used = (total - left).max(0) as u64;
        let oldest = || -> Vec<(i64, u64)> {
            let read = || -> rusqlite::Result<Vec<(i64, u64)>> {
                let mut stmt = tx.prepare_cached(
                    "SELECT at, amount FROM window_spends WHERE key = ?1 AND at > ?2 ORDER BY at LIMIT ?3",
                )?;
                let rows = stmt.query_map(params![&key[..], cutoff, window::retry_scan()], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64))
                })?;
                rows.collect()
            };
            read().unwrap_or_default()
        };
        if let Some(refused) = window::judge(w, used, amount, now, last_at, oldest) {
            return Ok(Some(refused));
        }
        state.push((key, used, last_at));
    }
    for (key, used, last_at) in state {
        let at = now.max(last_at);
        tx.prepare_cached(
            "INSERT INTO spend_windows (key, total, last_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(key) DO UPDATE SET total = ?2, last_at = ?3",
        )?
        .execute(params![&key[..], to_i64(used + amount), at])?;
        tx.prepare_cached("INSERT INTO window_spends (key, at, amount, ticket) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![&key[..], at, to_i64(amount), &ticket.id()[..]])?;
    }
    Ok(None)
}

/// What `ticket`'s hold counts in its windows becomes `amount` (`None`: nothing, released).
fn recount_in(tx: &Connection, ticket: &Ticket, amount: Option<u64>) -> rusqlite::Result<()> {
    let held: Vec<(Vec<u8>, i64)> = {
        let mut stmt = tx.prepare_cached("SELECT key, amount FROM window_spends WHERE ticket = ?1")?;
        let rows = stmt.query_map([&ticket.id()[..]], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (key, was) in held {
        let now = amount.map_or(0, to_i64);
        tx.prepare_cached("UPDATE spend_windows SET total = MAX(total - ?2 + ?3, 0) WHERE key = ?1")?
            .execute(params![&key, was, now])?;
    }
    match amount {
        None => tx.prepare_cached("DELETE FROM window_spends WHERE ticket = ?1")?.execute([&ticket.id()[..]])?,
        Some(n) => tx
            .prepare_cached("UPDATE window_spends SET amount = ?2 WHERE ticket = ?1")?
            .execute(params![&ticket.id()[..], to_i64(n)])?,
    };
    Ok(())
}

fn window_use_in(conn: &Connection, nonce: &Nonce, windows: &[Window], now: i64) -> Result<Vec<u64>, ApplyError> {
    let keys = window_keys_in(conn, nonce, windows)?;
    let mut used = Vec::with_capacity(keys.len());
    for (w, key) in windows.iter().zip(&keys) {
        let sum: i64 = conn
            .prepare_cached("SELECT COALESCE(SUM(amount), 0) FROM window_spends WHERE key = ?1 AND at > ?2")?
            .query_row(params![&key[..], window::cutoff(now, w.secs)], |r| r.get(0))?;
        used.push(sum.max(0) as u64);
    }
    Ok(used)
}

/// The head of the lineage `nonce` belongs to (itself when it heads its own).
fn head_in(conn: &Connection, nonce: &Nonce) -> Result<Nonce, ApplyError> {
    let head: Option<Vec<u8>> = conn
        .prepare_cached("SELECT head FROM tokens WHERE nonce = ?1")?
        .query_row([&nonce.0[..]], |r| r.get(0))
        .optional()?
        .flatten();
    head.map_or(Ok(*nonce), nonce_of)
}

/// The returned credit owed to the lineage `head` heads.
fn credit_in(conn: &Connection, head: &Nonce) -> Result<u64, ApplyError> {
    let credit: Option<i64> = conn
        .prepare_cached("SELECT credit FROM tokens WHERE nonce = ?1")?
        .query_row([&head.0[..]], |r| r.get(0))
        .optional()?;
    Ok(credit.unwrap_or(0) as u64)
}

/// Adds `amount` to the credit owed to the lineage `head` heads.
fn deposit_in(tx: &Connection, head: &Nonce, amount: u64) -> Result<(), ApplyError> {
    if amount > 0 {
        tx.prepare_cached(
            "INSERT INTO tokens (nonce, credit) VALUES (?1, ?2)
             ON CONFLICT(nonce) DO UPDATE SET credit = credit + ?2",
        )?
        .execute(params![&head.0[..], to_i64(amount)])?;
    }
    Ok(())
}

/// The lineage credit for `head` goes to: itself, or, when it has given back (it has no live
/// token left), the lineage it gave back to, transitively.
fn receiver_in(tx: &Connection, head: &Nonce) -> Result<Nonce, ApplyError> {
    let mut at = *head;
    for _ in 0..limits::MAX_LINEAGE_ANCESTORS {
        let next: Option<Vec<u8>> = tx
            .prepare_cached("SELECT gave_to FROM tokens WHERE nonce = ?1")?
            .query_row([&at.0[..]], |r| r.get(0))
            .optional()?
            .flatten();
        match next {
            Some(next) => at = nonce_of(next)?,
            None => break,
        }
    }
    Ok(at)
}

fn revoke_delegation_in(
    tx: &Connection,
    holder: &Nonce,
    child: &Nonce,
    at: &str,
) -> Result<DelegationRevoke, ApplyError> {
    let standing = row_in(tx, holder)?.status;
    if standing.revoked_at.is_some() || standing.spent.is_some() {
        return Ok(DelegationRevoke::HolderNotLive { revoked: standing.revoked_at.is_some() });
    }
    let holder_head = head_in(tx, holder)?;
    let row: Option<(Option<Vec<u8>>, bool, bool)> = tx
        .query_row("SELECT parent, revocable, is_change FROM tokens WHERE nonce = ?1", [&child.0[..]], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((Some(parent), revocable, is_change)) = row else { return Ok(DelegationRevoke::NotYours) };
    if head_in(tx, &nonce_of(parent)?)? != holder_head {
        return Ok(DelegationRevoke::NotYours);
    }
    if is_change || !revocable {
        return Ok(DelegationRevoke::NotRevocable);
    }
    let mut stmt = tx.prepare_cached(
        // The delegate's own tokens (its change) and its own delegations, never what it paid
        // away: a transfer out of the subtree is a payment, final like any other.
        "WITH RECURSIVE tree(n) AS (SELECT ?1 UNION
             SELECT t.nonce FROM tokens t JOIN tree ON t.parent = tree.n WHERE t.is_change OR t.revocable)
         SELECT t.nonce, t.balance, t.spent_at IS NULL AND t.revoked_at IS NULL, t.revoked_at IS NULL, t.credit,
             CASE WHEN t.reserved_ticket IS NOT NULL THEN t.reserved_lapse END
         FROM tokens t JOIN tree ON t.nonce = tree.n",
    )?;
    let rows = stmt
        .query_map([&child.0[..]], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut returned: u64 = 0;
    let mut revoked = Vec::new();
    for (nonce, balance, live, not_revoked, credit, lapse) in rows {
        if live {
            let nonce = nonce_of(nonce.clone())?;
            let held = lapse.as_deref().map_or(0, |text| super::held_by_lapse(nonce, text));
            returned = returned.saturating_add((balance.unwrap_or(0) as u64).saturating_sub(held));
        }
        returned = returned.saturating_add(credit as u64);
        if not_revoked {
            tx.execute("UPDATE tokens SET revoked_at = ?2 WHERE nonce = ?1", params![&nonce, at])?;
            revoked.push(nonce_of(nonce.clone())?);
        }
        if credit != 0 {
            tx.execute("UPDATE tokens SET credit = 0 WHERE nonce = ?1", [&nonce])?;
        }
        // Each lineage in the subtree is finished: what still comes to it (the part of a price
        // held that its request's settle does not charge) goes on to the holder's.
        tx.prepare_cached("UPDATE tokens SET gave_to = ?2 WHERE nonce = ?1 AND head IS NULL AND gave_to IS NULL")?
            .execute(params![&nonce, &holder_head.0[..]])?;
    }
    deposit_in(tx, &holder_head, returned)?;
    Ok(DelegationRevoke::Revoked { revoked, returned })
}

fn give_back_in(tx: &Connection, g: &GiveBack) -> Result<GaveBack, ApplyError> {
    let row = row_in(tx, &g.parent)?;
    // A give-back recorded before is answered as such, even if its tree was revoked since:
    // its retry must learn that it happened.
    if let Some(spent) = row.status.spent {
        return Ok(GaveBack::AlreadySpent(spent));
    }
    if let Some(at) = row.status.revoked_at {
        return Ok(GaveBack::Revoked(at));
    }
    if row.reserved_ticket.is_some() && row.reserved_until.is_some_and(|until| until > g.now) {
        return Ok(GaveBack::InFlight);
    }
    if let Some(spent) = lapse_in(tx, &g.parent, &row)? {
        return Ok(GaveBack::AlreadySpent(spent));
    }
    let head = head_in(tx, &g.parent)?;
    let split_from: Option<Vec<u8>> = tx
        .prepare_cached("SELECT parent FROM tokens WHERE nonce = ?1")?
        .query_row([&head.0[..]], |r| r.get(0))
        .optional()?
        .flatten();
    let (Some(split_from), Some(_)) = (split_from, row.balance) else { return Ok(GaveBack::NotDelegated) };
    let target = head_in(tx, &nonce_of(split_from)?)?;
    let own_credit = credit_in(tx, &head)?;
    let returned = row.balance.unwrap_or(0).saturating_add(own_credit);
    if own_credit > 0 {
        tx.execute("UPDATE tokens SET credit = 0 WHERE nonce = ?1", [&head.0[..]])?;
    }
    tx.prepare_cached(
        "INSERT INTO tokens (nonce, spent_at, spent_request, spent_kind, spent_cost, spent_amounts, spent_by)
         VALUES (?1, ?2, ?3, ?4, ?5, '', ?6)
         ON CONFLICT(nonce) DO UPDATE SET spent_at = ?2, spent_request = ?3, spent_kind = ?4, spent_cost = ?5,
             spent_amounts = '', spent_by = ?6, reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL",
    )?
    .execute(params![
        &g.parent.0[..],
        g.at,
        g.request_id,
        SpendKind::GiveBack.as_str(),
        to_i64(returned),
        &g.presented[..]
    ])?;
    // This lineage is finished: credit that comes back to it later (a delegate of its own
    // giving back) goes on to where it gave back.
    tx.execute(
        "INSERT INTO tokens (nonce, gave_to) VALUES (?1, ?2) ON CONFLICT(nonce) DO UPDATE SET gave_to = ?2",
        params![&head.0[..], &target.0[..]],
    )?;
    deposit_in(tx, &receiver_in(tx, &target)?, returned)?;
    Ok(GaveBack::Fresh { returned })
}

fn info_in(conn: &Connection, nonce: &Nonce) -> Result<TokenInfo, ApplyError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {STATUS_COLUMNS}, parent, balance, reserved_until, revocable, is_change, head
             FROM tokens WHERE nonce = ?1"
        ))?
        .query_row([&nonce.0[..]], |r| {
            Ok((
                StatusRow::read(r, 0)?,
                r.get::<_, Option<Vec<u8>>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, bool>(10)?,
                r.get::<_, bool>(11)?,
                r.get::<_, Option<Vec<u8>>>(12)?,
            ))
        })
        .optional()?;
    let mut info = TokenInfo { head: Some(*nonce), ..TokenInfo::default() };
    if let Some((status, parent, balance, held_until, revocable, change, head)) = row {
        info.known = true;
        info.status = status.into_status()?;
        info.parent = parent.map(nonce_of).transpose()?;
        info.balance = balance.map(|b| b as u64);
        info.held_until = held_until;
        info.revocable = revocable;
        info.change = change;
        if let Some(head) = head {
            info.head = Some(nonce_of(head)?);
        }
    }
    info.credit_owed = credit_in(conn, &info.head.unwrap_or(*nonce))?;
    let topped: Option<i64> = conn
        .prepare_cached("SELECT topped_up FROM tokens WHERE nonce = ?1")?
        .query_row([&info.head.unwrap_or(*nonce).0[..]], |r| r.get(0))
        .optional()?;
    info.topped_up = topped.unwrap_or(0) as u64;
    Ok(info)
}

/// A row's standing and reservation, for the writes that decide on them.
struct Row {
    status: Status,
    reserved_ticket: Option<Vec<u8>>,
    reserved_until: Option<i64>,
    /// What the hold becomes if it lapses ([`super::encode_lapse`]).
    reserved_lapse: Option<String>,
    balance: Option<u64>,
    /// The head of its lineage (itself when it heads its own).
    head: Option<Vec<u8>>,
    /// The credit owed to that lineage.
    owed: u64,
}

fn row_in(conn: &Connection, nonce: &Nonce) -> Result<Row, ApplyError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {STATUS_COLUMNS}, reserved_ticket, reserved_until, balance, head,
                 (SELECT h.credit FROM tokens h WHERE h.nonce = COALESCE(t.head, t.nonce)), reserved_lapse
             FROM tokens t WHERE nonce = ?1"
        ))?
        .query_row([&nonce.0[..]], |r| {
            Ok((
                StatusRow::read(r, 0)?,
                r.get(7)?,
                r.get(8)?,
                r.get::<_, Option<i64>>(9)?,
                r.get::<_, Option<Vec<u8>>>(10)?,
                r.get::<_, Option<i64>>(11)?,
                r.get::<_, Option<String>>(12)?,
            ))
        })
        .optional()?;
    match row {
        None => Ok(Row {
            status: Status::default(),
            reserved_ticket: None,
            reserved_until: None,
            reserved_lapse: None,
            balance: None,
            head: None,
            owed: 0,
        }),
        Some((status, reserved_ticket, reserved_until, balance, head, owed, reserved_lapse)) => Ok(Row {
            status: status.into_status()?,
            reserved_ticket,
            reserved_until,
            reserved_lapse,
            balance: balance.map(|b| b as u64),
            head,
            owed: owed.unwrap_or(0) as u64,
        }),
    }
}

fn reserve_in(tx: &Connection, r: &Reservation) -> Result<Reserved, ApplyError> {
    let parent = r.parent();
    let row = row_in(tx, &parent)?;
    if let Some(at) = row.status.revoked_at {
        return Ok(Reserved::Revoked(at));
    }
    if let Some(spent) = row.status.spent {
        return Ok(Reserved::Spent(spent));
    }
    if row.reserved_ticket.is_some() && row.reserved_until.is_some_and(|until| until > r.now()) {
        return Ok(Reserved::InFlight);
    }
    if let Some(spent) = lapse_in(tx, &parent, &row)? {
        return Ok(Reserved::Spent(spent));
    }
    let ticket = Ticket::issue(parent).map_err(|e| ApplyError::Corrupt(e.reason))?;
    if let Some(refused) = count_in(tx, &parent, r.windows(), r.amount(), r.now(), &ticket)? {
        return Ok(Reserved::RateLimited(refused));
    }
    let lapse = r.lapse().map(super::encode_lapse);
    tx.prepare_cached(
        "INSERT INTO tokens (nonce, reserved_ticket, reserved_until, reserved_lapse) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(nonce) DO UPDATE SET reserved_ticket = ?2, reserved_until = ?3, reserved_lapse = ?4",
    )?
    .execute(params![&parent.0[..], &ticket.id()[..], r.until(), lapse])?;
    Ok(Reserved::Held(ticket))
}

/// A hold on `parent` that lapsed unsettled with its request forwarded (its gateway died):
/// recorded now as the settle at the price held that it carries, so the request is neither
/// free nor lost. Returns what the token was spent by then.
fn lapse_in(tx: &Connection, parent: &Nonce, row: &Row) -> Result<Option<Spent>, ApplyError> {
    let (Some(id), Some(text)) = (&row.reserved_ticket, &row.reserved_lapse) else { return Ok(None) };
    let (Ok(id), Some(commit)) = (<[u8; 16]>::try_from(&id[..]), super::decode_lapse(*parent, text)) else {
        return Err(ApplyError::Corrupt(format!("the lapsed hold on {parent} does not read")));
    };
    match settle_in(tx, &Ticket { parent: *parent, id }, &commit)? {
        CommitOutcome::Fresh => Ok(row_in(tx, parent)?.status.spent),
        _ => Ok(None),
    }
}

fn settle_in(tx: &Connection, ticket: &Ticket, c: &Commit) -> Result<CommitOutcome, ApplyError> {
    let row = row_in(tx, &c.parent)?;
    if let Some(at) = row.status.revoked_at.clone() {
        if row.status.spent.is_none() && held_by(&row, ticket, c) {
            charge_revoked_in(tx, ticket, c, &row)?;
        }
        return Ok(CommitOutcome::Revoked(at));
    }
    if let Some(spent) = row.status.spent {
        return Ok(CommitOutcome::AlreadySpent(spent));
    }
    if c.parent != ticket.parent() || row.reserved_ticket.as_deref() != Some(&ticket.id()[..]) {
        return Ok(CommitOutcome::ReservationLost);
    }
    // The parent's row (read above) names its lineage's head and the credit owed to it.
    let head = row.head.map(nonce_of).transpose()?.unwrap_or(c.parent);
    if let Some(claim) = c.credit {
        if row.owed != claim.owed || claim.take > claim.owed {
            return Ok(CommitOutcome::CreditChanged(row.owed));
        }
        if claim.take > 0 {
            tx.execute(
                "UPDATE tokens SET credit = credit - ?2 WHERE nonce = ?1",
                params![&head.0[..], to_i64(claim.take)],
            )?;
        }
    }
    let amounts: Vec<String> = c.children.iter().map(|(_, b)| b.to_string()).collect();
    tx.prepare_cached(
        "UPDATE tokens SET spent_at = ?2, spent_request = ?3, spent_kind = ?4, spent_cost = ?5, spent_amounts = ?6,
             spent_by = ?7, reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL
         WHERE nonce = ?1",
    )?
    .execute(params![
        &c.parent.0[..],
        c.at,
        c.request_id,
        c.kind.as_str(),
        to_i64(c.cost),
        amounts.join(","),
        &c.presented[..]
    ])?;
    // The hold counted what was held; the spend counts what it cost.
    recount_in(tx, ticket, Some(c.cost))?;
    let keys = window_keys_in(tx, &c.parent, &c.windows)?;
    let windows = window::encode(&c.windows, &keys);
    let mut insert = tx.prepare_cached(
        "INSERT INTO tokens (nonce, parent, balance, issued_at, revocable, is_change, head, windows)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let last = c.children.len().saturating_sub(1);
    for (index, (nonce, balance)) in c.children.iter().enumerate() {
        let change = index == last;
        let head = change.then_some(&head.0[..]);
        insert.execute(params![
            &nonce.0[..],
            &c.parent.0[..],
            to_i64(*balance),
            c.at,
            c.revocable && !change,
            change,
            head,
            windows
        ])?;
    }
    Ok(CommitOutcome::Fresh)
}

/// Whether `row` is still held by `ticket` for a request forwarded to an upstream (the hold
/// carries what it becomes if it lapses).
fn held_by(row: &Row, ticket: &Ticket, c: &Commit) -> bool {
    c.parent == ticket.parent()
        && row.reserved_ticket.as_deref() == Some(&ticket.id()[..])
        && row.reserved_lapse.is_some()
}

/// A request that reached its upstream on a token revoked meanwhile: it was served, so its
/// charge is recorded (no successor: the token is revoked), and what the revocation kept back
/// beyond the charge goes where the revocation sent the rest (a revoked delegation's holder;
/// nowhere after an operator's revocation, which ends the balance).
fn charge_revoked_in(tx: &Connection, ticket: &Ticket, c: &Commit, row: &Row) -> Result<(), ApplyError> {
    let held = row.reserved_lapse.as_deref().map_or(0, |text| super::held_by_lapse(c.parent, text));
    let cost = c.cost.min(held);
    tx.prepare_cached(
        "UPDATE tokens SET spent_at = ?2, spent_request = ?3, spent_kind = ?4, spent_cost = ?5, spent_amounts = '',
             spent_by = ?6, reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL
         WHERE nonce = ?1",
    )?
    .execute(params![&c.parent.0[..], c.at, c.request_id, c.kind.as_str(), to_i64(cost), &c.presented[..]])?;
    recount_in(tx, ticket, Some(cost))?;
    let head = row.head.clone().map(nonce_of).transpose()?.unwrap_or(c.parent);
    let receiver = receiver_in(tx, &head)?;
    if receiver != head {
        deposit_in(tx, &receiver, held - cost)?;
    }
    Ok(())
}

fn revoke_in(tx: &Connection, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, ApplyError> {
    tx.execute("INSERT INTO tokens (nonce) VALUES (?1) ON CONFLICT(nonce) DO NOTHING", [&nonce.0[..]])?;
    let targets: Vec<Vec<u8>> = if cascade {
        let mut stmt = tx.prepare(
            "WITH RECURSIVE tree(n) AS (SELECT ?1 UNION SELECT t.nonce FROM tokens t JOIN tree ON t.parent = tree.n)
             SELECT t.nonce FROM tokens t JOIN tree ON t.nonce = tree.n WHERE t.revoked_at IS NULL",
        )?;
        let rows = stmt.query_map([&nonce.0[..]], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
        rows
    } else {
        tx.query_row("SELECT nonce FROM tokens WHERE nonce = ?1 AND revoked_at IS NULL", [&nonce.0[..]], |r| r.get(0))
            .optional()?
            .into_iter()
            .collect()
    };
    for n in &targets {
        tx.execute("UPDATE tokens SET revoked_at = ?2 WHERE nonce = ?1", params![n, at])?;
    }
    targets.into_iter().map(nonce_of).collect()
}

fn revoke_if_live_in(tx: &Connection, nonce: &Nonce, at: &str) -> Result<LiveRevoke, ApplyError> {
    let status = row_in(tx, nonce)?.status;
    Ok(match (status.revoked_at, status.spent) {
        (Some(_), _) => LiveRevoke::AlreadyRevoked,
        (None, Some(_)) => LiveRevoke::Consumed,
        (None, None) => {
            tx.execute(
                "INSERT INTO tokens (nonce, revoked_at) VALUES (?1, ?2)
                 ON CONFLICT(nonce) DO UPDATE SET revoked_at = ?2",
                params![&nonce.0[..], at],
            )?;
            LiveRevoke::Revoked
        }
    })
}

fn status_in(conn: &Connection, nonce: &Nonce) -> Result<Status, ApplyError> {
    // Cached: parsing the SQL costs more than the indexed lookup itself.
    let row = conn
        .prepare_cached(&format!("SELECT {STATUS_COLUMNS} FROM tokens WHERE nonce = ?1"))?
        .query_row([&nonce.0[..]], |r| StatusRow::read(r, 0))
        .optional()?;
    row.map_or(Ok(Status::default()), StatusRow::into_status)
}

/// The columns [`StatusRow::read`] expects, in order.
const STATUS_COLUMNS: &str = "spent_at, spent_request, spent_kind, spent_cost, spent_amounts, revoked_at, spent_by";

/// A token's status columns as stored.
struct StatusRow {
    at: Option<String>,
    request: Option<String>,
    kind: Option<String>,
    cost: Option<i64>,
    amounts: Option<String>,
    revoked_at: Option<String>,
    spent_by: Option<Vec<u8>>,
}

impl StatusRow {
    /// Reads [`STATUS_COLUMNS`] starting at column `from`.
    fn read(r: &rusqlite::Row<'_>, from: usize) -> rusqlite::Result<Self> {
        Ok(StatusRow {
            at: r.get(from)?,
            request: r.get(from + 1)?,
            kind: r.get(from + 2)?,
            cost: r.get(from + 3)?,
            amounts: r.get(from + 4)?,
            revoked_at: r.get(from + 5)?,
            spent_by: r.get(from + 6)?,
        })
    }

    fn into_status(self) -> Result<Status, ApplyError> {
        let spent = match (self.at, self.request, self.kind) {
            (Some(at), Some(request_id), Some(kind)) => Some(Spent {
                at,
                request_id,
                kind: SpendKind::parse(&kind).ok_or_else(|| ApplyError::Corrupt(format!("spend kind {kind}")))?,
                cost: self.cost.unwrap_or(0) as u64,
                amounts: super::parse_amounts(&self.amounts.unwrap_or_default()).map_err(ApplyError::Corrupt)?,
                presented: self.spent_by.and_then(|b| b.try_into().ok()),
            }),
            _ => None,
        };
        Ok(Status { spent, revoked_at: self.revoked_at })
    }
}

fn wal_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

/// Reads answer at once on this thread (WAL readers never wait for the writer); writes go to
/// the writer ([`SqliteLedger::write`]).
impl Ledger for SqliteLedger {
    fn location(&self) -> &str {
        &self.location
    }

    fn status(&self, nonce: &Nonce) -> Pending<Status> {
        Pending::ready(self.read(|conn| status_in(conn, nonce)))
    }

    fn ready(&self) -> Pending<()> {
        match Ticket::issue(Nonce([0; 16])) {
            Ok(nobody) => self.write(ReleaseOp(nobody)),
            Err(e) => Pending::ready(Err(e)),
        }
    }

    fn reserve(&self, reservation: &Reservation) -> Pending<Reserved> {
        self.write(ReserveOp(reservation.clone()))
    }

    fn settle(&self, ticket: &Ticket, commit: &Commit) -> Pending<CommitOutcome> {
        self.write(SettleOp(*ticket, commit.clone()))
    }

    fn release(&self, ticket: &Ticket) -> Pending<()> {
        self.write(ReleaseOp(*ticket))
    }

    /// One write: the hold and the record in one transaction, so a one-shot spend costs one
    /// place in a group commit, not two.
    fn commit(&self, reservation: &Reservation, commit: &Commit) -> Pending<CommitOutcome> {
        self.write(CommitOp(reservation.clone(), commit.clone()))
    }

    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Pending<Vec<Nonce>> {
        self.write(RevokeOp { nonce: *nonce, cascade, at: at.to_owned() })
    }

    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Pending<LiveRevoke> {
        self.write(RevokeIfLiveOp { nonce: *nonce, at: at.to_owned() })
    }

    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Pending<Lineage> {
        Pending::ready(self.read(|conn| lineage_in(conn, nonce, max_nodes, scope)))
    }

    fn info(&self, nonce: &Nonce) -> Pending<TokenInfo> {
        Pending::ready(self.read(|conn| info_in(conn, nonce)))
    }

    fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Pending<bool> {
        self.write(RecordLapsedOp { nonce: *nonce, now })
    }

    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Pending<DelegationRevoke> {
        self.write(RevokeDelegationOp { holder: *holder, child: *child, at: at.to_owned() })
    }

    fn give_back(&self, g: &GiveBack) -> Pending<GaveBack> {
        self.write(GiveBackOp(g.clone()))
    }

    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Pending<Vec<u64>> {
        Pending::ready(self.read(|conn| window_use_in(conn, nonce, windows, now)))
    }

    fn top_up(&self, t: &TopUp) -> Pending<ToppedUp> {
        self.write(TopUpOp(t.clone()))
    }
}

fn lineage_in(conn: &Connection, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Result<Lineage, ApplyError> {
    // Climb to the root ancestor, a bounded number of steps.
    let mut root = *nonce;
    let mut root_not_reached = scope == Scope::WholeTree;
    if scope == Scope::WholeTree {
        let mut up = conn.prepare_cached("SELECT parent FROM tokens WHERE nonce = ?1")?;
        for _ in 0..=limits::MAX_LINEAGE_ANCESTORS {
            let parent: Option<Vec<u8>> = up.query_row([&root.0[..]], |r| r.get(0)).optional()?.flatten();
            match parent {
                Some(p) => root = nonce_of(p)?,
                None => {
                    root_not_reached = false;
                    break;
                }
            }
        }
    }
    // Then the tree below it, breadth first, one row past the limit to tell truncation;
    // the recursion itself stops at the limit, so a huge tree costs no more than a small one.
    let mut stmt = conn.prepare_cached(&format!(
        "WITH RECURSIVE tree(n) AS (
             SELECT ?1 UNION ALL SELECT t.nonce FROM tokens t JOIN tree ON t.parent = tree.n
             WHERE t.nonce IS NOT ?3 LIMIT ?2)
         SELECT tree.n, t.parent, t.balance, t.issued_at, {STATUS_COLUMNS}, t.revocable, t.is_change, t.credit,
             t.topped_up
         FROM tree LEFT JOIN tokens t ON t.nonce = tree.n"
    ))?;
    let limit = i64::try_from(max_nodes.saturating_add(1)).unwrap_or(i64::MAX);
    let except: Option<Vec<u8>> = match scope {
        Scope::DescendantsExcept(change) => Some(change.0.to_vec()),
        _ => None,
    };
    let rows = stmt
        .query_map(params![&root.0[..], limit, except], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, Option<Vec<u8>>>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
                StatusRow::read(r, 4)?,
                r.get::<_, Option<bool>>(11)?.unwrap_or(false),
                r.get::<_, Option<bool>>(12)?.unwrap_or(false),
                r.get::<_, Option<i64>>(13)?.unwrap_or(0),
                r.get::<_, Option<i64>>(14)?.unwrap_or(0),
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let truncated = rows.len() > max_nodes;
    let nodes = rows
        .into_iter()
        .take(max_nodes)
        .map(|(n, parent, balance, issued_at, status, revocable, change, credit, topped_up)| {
            Ok(Node {
                nonce: nonce_of(n)?,
                parent: parent.map(nonce_of).transpose()?,
                balance: balance.map(|b| b as u64),
                issued_at,
                status: status.into_status()?,
                revocable,
                change,
                credit: credit as u64,
                topped_up: topped_up as u64,
            })
        })
        .collect::<Result<Vec<_>, ApplyError>>()?;
    Ok(Lineage { nodes, truncated, root_not_reached })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reserve, then settle: a spend or split of `parent` as the library makes one.
    fn consume(ledger: &SqliteLedger, parent: u8, request: &str, children: &[(u8, u64)]) -> CommitOutcome {
        let reservation = Reservation {
            parent: Nonce([parent; 16]),
            request_id: request.into(),
            presented: [parent; 32],
            now: 1_000,
            until: 1_060,
            windows: Vec::new(),
            amount: 0,
            lapse: None,
        };
        let ticket = match ledger.reserve(&reservation).wait().unwrap() {
            Reserved::Held(t) => t,
            Reserved::Spent(s) => return CommitOutcome::AlreadySpent(s),
            Reserved::Revoked(at) => return CommitOutcome::Revoked(at),
            Reserved::InFlight | Reserved::RateLimited(_) => panic!("not held"),
        };
        ledger.settle(&ticket, &commit(parent, request, children)).wait().unwrap()
    }

    fn commit(parent: u8, request: &str, children: &[(u8, u64)]) -> Commit {
        Commit {
            parent: Nonce([parent; 16]),
            request_id: request.into(),
            kind: if children.len() > 1 { SpendKind::Split } else { SpendKind::Spend },
            cost: 1,
            children: children.iter().map(|&(n, b)| (Nonce([n; 16]), b)).collect(),
            at: "2026-11-23T00:00:00Z".into(),
            presented: [parent; 32],
            revocable: false,
            credit: None,
            windows: Vec::new(),
        }
    }

    #[test]
    fn a_nonce_is_spent_once_and_remembers_by_whom() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db")).unwrap();
        assert_eq!(consume(&ledger, 1, "r1", &[(2, 9)]), CommitOutcome::Fresh);
        match consume(&ledger, 1, "r2", &[(3, 9)]) {
            CommitOutcome::AlreadySpent(s) => {
                assert_eq!(s.request_id, "r1");
                assert_eq!(s.amounts, vec![9]);
            }
            other => panic!("{other:?}"),
        }
        assert!(ledger.status(&Nonce([3; 16])).wait().unwrap().spent.is_none());
        assert_eq!(ledger.status(&Nonce([9; 16])).wait().unwrap(), Status::default());
    }

    #[test]
    fn cascade_revocation_follows_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db")).unwrap();
        consume(&ledger, 1, "a", &[(2, 5), (3, 5)]);
        consume(&ledger, 2, "b", &[(4, 4)]);
        let revoked = ledger.revoke(&Nonce([2; 16]), true, "now").wait().unwrap();
        assert_eq!(revoked.len(), 2);
        assert!(ledger.status(&Nonce([4; 16])).wait().unwrap().revoked_at.is_some());
        assert!(ledger.status(&Nonce([3; 16])).wait().unwrap().revoked_at.is_none());
        assert_eq!(consume(&ledger, 4, "c", &[(5, 1)]), CommitOutcome::Revoked("now".into()));
        let tree = ledger.lineage(&Nonce([4; 16]), 100, Scope::WholeTree).wait().unwrap();
        assert_eq!(tree.nodes.len(), 4);
        assert_eq!(tree.nodes[0].nonce, Nonce([1; 16]));
        assert!(!tree.truncated && !tree.root_not_reached);
        let tree = ledger.lineage(&Nonce([4; 16]), 2, Scope::WholeTree).wait().unwrap();
        assert_eq!((tree.nodes.len(), tree.truncated), (2, true));
        let mine = ledger.lineage(&Nonce([2; 16]), 100, Scope::Descendants).wait().unwrap();
        let seen: Vec<Nonce> = mine.nodes.iter().map(|n| n.nonce).collect();
        assert_eq!(seen, vec![Nonce([2; 16]), Nonce([4; 16])], "no ancestor, no sibling");
    }

    #[cfg(unix)]
    #[test]
    fn a_new_ledger_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/l.db");
        let ledger = SqliteLedger::open(&path).unwrap();
        consume(&ledger, 1, "r", &[(2, 1)]);
        for file in ["sub/l.db", "sub/l.db-wal"] {
            let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
        let mode = std::fs::metadata(dir.path().join("sub")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        drop(SqliteLedger::open(&path).unwrap());
        Connection::open(&path).unwrap().pragma_update(None, "user_version", 99).unwrap();
        let refused = SqliteLedger::open(&path).unwrap_err();
        assert_eq!(refused.kind(), LedgerErrorKind::SchemaTooNew);
        assert!(refused.to_string().contains("schema version 99 is newer"), "{refused}");
    }
}
