//! The embedded ledger: SQLite (bundled) in WAL mode with `synchronous = FULL`.
//!
//! Why SQLite: several `crumb` processes on one machine must share one ledger file safely.
//! SQLite's file locking gives that (one writer at a time, readers alongside in WAL mode),
//! `BEGIN IMMEDIATE` takes the write lock before reading so two spends cannot both see
//! "unspent", and a busy timeout turns contention into waiting rather than spurious failure.
//! `synchronous = FULL` fsyncs the WAL on every commit, so a committed spend survives
//! `kill -9` and power loss.

use super::{Commit, CommitOutcome, Ledger, Lineage, LiveRevoke, Node, Scope, SpendKind, Spent, Status};
use crate::error::LedgerError;
use crate::limits;
use crate::token::identifier::Nonce;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How long a ledger operation waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Retries `f` while SQLite answers busy or locked without having waited itself, up to
/// [`BUSY_TIMEOUT`].
fn retry_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// The schema version this crumb writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; 2] = [SCHEMA_V1, SCHEMA_V2];

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

pub struct SqliteLedger {
    /// The writer: every transaction that changes the ledger goes through it.
    conn: Mutex<Connection>,
    /// Readers for status lookups, so a verify never waits behind a spend's fsync (WAL lets
    /// readers proceed while a writer commits).
    readers: Vec<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqliteLedger({})", self.path.display())
    }
}

fn nonce_of(bytes: Vec<u8>) -> Result<Nonce, LedgerError> {
    let arr: [u8; 16] = bytes.try_into().map_err(|_| LedgerError::Corrupt("a nonce is not 16 bytes".into()))?;
    Ok(Nonce(arr))
}

fn to_i64(n: u64) -> i64 {
    // Balances are u64 in tokens; SQLite integers are i64. Values above i64::MAX are stored
    // as their bit pattern and read back the same way.
    n as i64
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let open_err = |source| LedgerError::Open { path: path.to_path_buf(), source };
        let cannot = |what: String| {
            open_err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(what),
            ))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::key::create_private_dir(dir).map_err(|e| cannot(format!("cannot create {}: {e}", dir.display())))?;
        }
        // A new ledger is private (its WAL and shared-memory files take the same mode): it
        // names every token's nonce, spend times and request ids.
        if !path.exists() {
            create_private_file(path).map_err(|e| cannot(format!("cannot create {}: {e}", path.display())))?;
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
        let ledger = SqliteLedger { conn: Mutex::new(conn), readers: Vec::new(), path: path.to_path_buf() };
        let found = retry_busy(|| ledger.migrate()).map_err(open_err)?;
        if found > SCHEMA_VERSION {
            return Err(LedgerError::SchemaTooNew { found, supported: SCHEMA_VERSION });
        }
        Ok(ledger)
    }

    /// Opens an existing ledger for reading only: it creates nothing (no file, no directory)
    /// and works in a directory the caller cannot write. A missing ledger is an error, never
    /// an empty ledger: a typo'd path must not make spent tokens look live.
    pub fn open_read_only(path: &Path) -> Result<Self, LedgerError> {
        if !path.is_file() {
            return Err(LedgerError::Missing { path: path.to_path_buf() });
        }
        let open_err = |source| LedgerError::Open { path: path.to_path_buf(), source };
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
            v if v > SCHEMA_VERSION => Err(LedgerError::SchemaTooNew { found: v, supported: SCHEMA_VERSION }),
            v if v < SCHEMA_VERSION => Err(LedgerError::SchemaTooOld { found: v, supported: SCHEMA_VERSION }),
            _ => Ok(SqliteLedger { conn: Mutex::new(conn), readers: Vec::new(), path: path.to_path_buf() }),
        }
    }

    /// Adds `count` read connections for concurrent status lookups (a server's verifiers).
    pub fn with_readers(mut self, count: usize) -> Result<Self, LedgerError> {
        let open_err = |source| LedgerError::Open { path: self.path.clone(), source };
        for _ in 0..count {
            let reader = Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(open_err)?;
            reader.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
            self.readers.push(Mutex::new(reader));
        }
        Ok(self)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates or checks the schema; returns the version found before.
    fn migrate(&self) -> rusqlite::Result<i64> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < SCHEMA_VERSION {
            for step in &MIGRATIONS[version.max(0) as usize..] {
                tx.execute_batch(step)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        }
        tx.commit()?;
        Ok(version)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back on drop), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn status_in(conn: &Connection, nonce: &Nonce) -> Result<Status, LedgerError> {
        // Cached: parsing the SQL costs more than the indexed lookup itself.
        let row = conn
            .prepare_cached(&format!("SELECT {STATUS_COLUMNS} FROM tokens WHERE nonce = ?1"))?
            .query_row([&nonce.0[..]], |r| StatusRow::read(r, 0))
            .optional()?;
        row.map_or(Ok(Status::default()), StatusRow::into_status)
    }
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

    fn into_status(self) -> Result<Status, LedgerError> {
        let spent = match (self.at, self.request, self.kind) {
            (Some(at), Some(request_id), Some(kind)) => Some(Spent {
                at,
                request_id,
                kind: SpendKind::parse(&kind).ok_or_else(|| LedgerError::Corrupt(format!("spend kind {kind}")))?,
                cost: self.cost.unwrap_or(0) as u64,
                amounts: self
                    .amounts
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<u64>().map_err(|_| LedgerError::Corrupt(format!("amounts {s}"))))
                    .collect::<Result<_, _>>()?,
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

impl Ledger for SqliteLedger {
    fn status(&self, nonce: &Nonce) -> Result<Status, LedgerError> {
        for reader in &self.readers {
            if let Ok(conn) = reader.try_lock() {
                return Self::status_in(&conn, nonce);
            }
        }
        Self::status_in(&self.lock(), nonce)
    }

    fn commit(&self, c: &Commit) -> Result<CommitOutcome, LedgerError> {
        let mut conn = self.lock();
        // IMMEDIATE: take the write lock before reading, so no two writers both see "unspent".
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let status = Self::status_in(&tx, &c.parent)?;
        if let Some(at) = status.revoked_at {
            return Ok(CommitOutcome::Revoked(at));
        }
        if let Some(spent) = status.spent {
            return Ok(CommitOutcome::AlreadySpent(spent));
        }
        let amounts: Vec<String> = c.children.iter().map(|(_, b)| b.to_string()).collect();
        tx.execute(
            "INSERT INTO tokens (nonce, spent_at, spent_request, spent_kind, spent_cost, spent_amounts, spent_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(nonce) DO UPDATE SET spent_at = ?2, spent_request = ?3, spent_kind = ?4,
                 spent_cost = ?5, spent_amounts = ?6, spent_by = ?7",
            params![
                &c.parent.0[..],
                c.at,
                c.request_id,
                c.kind.as_str(),
                to_i64(c.cost),
                amounts.join(","),
                &c.presented[..]
            ],
        )?;
        for (nonce, balance) in &c.children {
            tx.execute(
                "INSERT INTO tokens (nonce, parent, balance, issued_at) VALUES (?1, ?2, ?3, ?4)",
                params![&nonce.0[..], &c.parent.0[..], to_i64(*balance), c.at],
            )?;
        }
        tx.commit()?;
        Ok(CommitOutcome::Fresh)
    }

    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, LedgerError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO tokens (nonce) VALUES (?1) ON CONFLICT(nonce) DO NOTHING", [&nonce.0[..]])?;
        let targets: Vec<Vec<u8>> = if cascade {
            let mut stmt = tx.prepare(
                "WITH RECURSIVE tree(n) AS (SELECT ?1 UNION SELECT t.nonce FROM tokens t JOIN tree ON t.parent = tree.n)
                 SELECT t.nonce FROM tokens t JOIN tree ON t.nonce = tree.n WHERE t.revoked_at IS NULL",
            )?;
            let rows = stmt.query_map([&nonce.0[..]], |r| r.get(0))?.collect::<Result<Vec<_>, _>>()?;
            rows
        } else {
            tx.query_row("SELECT nonce FROM tokens WHERE nonce = ?1 AND revoked_at IS NULL", [&nonce.0[..]], |r| {
                r.get(0)
            })
            .optional()?
            .into_iter()
            .collect()
        };
        for n in &targets {
            tx.execute("UPDATE tokens SET revoked_at = ?2 WHERE nonce = ?1", params![n, at])?;
        }
        tx.commit()?;
        targets.into_iter().map(nonce_of).collect()
    }

    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Result<LiveRevoke, LedgerError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let status = Self::status_in(&tx, nonce)?;
        let outcome = match (status.revoked_at, status.spent) {
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
        };
        tx.commit()?;
        Ok(outcome)
    }

    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Result<Lineage, LedgerError> {
        let conn = self.lock();
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
                 SELECT ?1 UNION ALL SELECT t.nonce FROM tokens t JOIN tree ON t.parent = tree.n LIMIT ?2)
             SELECT tree.n, t.parent, t.balance, t.issued_at, {STATUS_COLUMNS}
             FROM tree LEFT JOIN tokens t ON t.nonce = tree.n"
        ))?;
        let limit = i64::try_from(max_nodes.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![&root.0[..], limit], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<Vec<u8>>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    StatusRow::read(r, 4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let truncated = rows.len() > max_nodes;
        let nodes = rows
            .into_iter()
            .take(max_nodes)
            .map(|(n, parent, balance, issued_at, status)| {
                Ok(Node {
                    nonce: nonce_of(n)?,
                    parent: parent.map(nonce_of).transpose()?,
                    balance: balance.map(|b| b as u64),
                    issued_at,
                    status: status.into_status()?,
                })
            })
            .collect::<Result<Vec<_>, LedgerError>>()?;
        Ok(Lineage { nodes, truncated, root_not_reached })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(parent: u8, request: &str, children: &[(u8, u64)]) -> Commit {
        Commit {
            parent: Nonce([parent; 16]),
            request_id: request.into(),
            kind: if children.len() > 1 { SpendKind::Split } else { SpendKind::Spend },
            cost: 1,
            children: children.iter().map(|&(n, b)| (Nonce([n; 16]), b)).collect(),
            at: "2026-11-23T00:00:00Z".into(),
            presented: [parent; 32],
        }
    }

    #[test]
    fn a_nonce_is_spent_once_and_remembers_by_whom() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db")).unwrap();
        assert_eq!(ledger.commit(&commit(1, "r1", &[(2, 9)])).unwrap(), CommitOutcome::Fresh);
        match ledger.commit(&commit(1, "r2", &[(3, 9)])).unwrap() {
            CommitOutcome::AlreadySpent(s) => {
                assert_eq!(s.request_id, "r1");
                assert_eq!(s.amounts, vec![9]);
            }
            other => panic!("{other:?}"),
        }
        assert!(ledger.status(&Nonce([3; 16])).unwrap().spent.is_none());
        assert_eq!(ledger.status(&Nonce([9; 16])).unwrap(), Status::default());
    }

    #[test]
    fn cascade_revocation_follows_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db")).unwrap();
        ledger.commit(&commit(1, "a", &[(2, 5), (3, 5)])).unwrap();
        ledger.commit(&commit(2, "b", &[(4, 4)])).unwrap();
        let revoked = ledger.revoke(&Nonce([2; 16]), true, "now").unwrap();
        assert_eq!(revoked.len(), 2);
        assert!(ledger.status(&Nonce([4; 16])).unwrap().revoked_at.is_some());
        assert!(ledger.status(&Nonce([3; 16])).unwrap().revoked_at.is_none());
        assert_eq!(ledger.commit(&commit(4, "c", &[(5, 1)])).unwrap(), CommitOutcome::Revoked("now".into()));
        let tree = ledger.lineage(&Nonce([4; 16]), 100, Scope::WholeTree).unwrap();
        assert_eq!(tree.nodes.len(), 4);
        assert_eq!(tree.nodes[0].nonce, Nonce([1; 16]));
        assert!(!tree.truncated && !tree.root_not_reached);
        let tree = ledger.lineage(&Nonce([4; 16]), 2, Scope::WholeTree).unwrap();
        assert_eq!((tree.nodes.len(), tree.truncated), (2, true));
        let mine = ledger.lineage(&Nonce([2; 16]), 100, Scope::Descendants).unwrap();
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
        ledger.commit(&commit(1, "r", &[(2, 1)])).unwrap();
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
        assert!(matches!(SqliteLedger::open(&path), Err(LedgerError::SchemaTooNew { found: 99, .. })));
    }
}
