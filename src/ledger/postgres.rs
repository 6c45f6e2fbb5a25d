//! The shared ledger: PostgreSQL, for several `crumb serve` replicas behind a load balancer.
//!
//! Same semantics as the embedded ledger. Writes run at READ COMMITTED and decide on a row
//! they hold with `SELECT … FOR UPDATE`: two replicas spending one token queue on that row, and
//! the second sees the first's record. A cascade revokes level by level, locking each level
//! before reading the next, so no spend that commits meanwhile can slip a child past it.
//! Holds and releases commit with `synchronous_commit = off` (a hold lost in a crash handed
//! nothing out); settles and revocations commit durably, and PostgreSQL's own group commit
//! flushes concurrent ones together.
//!
//! Failures: serialization failures and deadlocks are retried; a dropped connection is
//! replaced and the write retried (a settle whose commit was acknowledged to nobody finds its
//! own record on the retry, and the caller replays it: never a successor without a record);
//! when the database stays down the caller gets [`LedgerErrorKind::Unavailable`]. A TLS
//! failure (a certificate refused, a server without TLS under `sslmode=require`) is that too,
//! at once: trying again would meet the same certificate. A connection dropped during the
//! handshake is retried as any other.
//!
//! TLS: libpq's `sslmode` and `sslrootcert` in the URL, over rustls (see the `tls` module).

use super::window::{self, RateLimited, Window};
use super::{
    BlockingLedger, Commit, CommitOutcome, DelegationRevoke, GaveBack, GiveBack, LedgerError, LedgerErrorKind, Lineage,
    LiveRevoke, Node, OpenOptions, Reservation, Reserved, Scope, SpendKind, Spent, Status, Ticket, TokenInfo, TopUp,
    ToppedUp,
};
use crate::backoff::Backoff;
use crate::limits;
use crate::token::identifier::Nonce;
use postgres::error::SqlState;
use postgres::{Client, Row, Transaction};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

mod tls;

/// The schema version this crumb writes.
pub const SCHEMA_VERSION: i64 = 4;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: [&str; 4] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4];

/// v4: what a hold becomes if it lapses unsettled (as the embedded ledger's v6).
const SCHEMA_V4: &str = "ALTER TABLE crumb_tokens ADD COLUMN reserved_lapse TEXT;";

/// v3: spend-rate windows and top-ups (as the embedded ledger's v5).
const SCHEMA_V3: &str = "
ALTER TABLE crumb_tokens ADD COLUMN windows TEXT;
CREATE TABLE crumb_windows (key BYTEA PRIMARY KEY, total BIGINT NOT NULL, last_at BIGINT NOT NULL);
CREATE TABLE crumb_window_spends (key BYTEA NOT NULL, at BIGINT NOT NULL, amount BIGINT NOT NULL, ticket BYTEA NOT NULL);
CREATE INDEX crumb_window_spends_at ON crumb_window_spends (key, at);
CREATE INDEX crumb_window_spends_ticket ON crumb_window_spends (ticket);
ALTER TABLE crumb_tokens ADD COLUMN topped_up BIGINT NOT NULL DEFAULT 0;
CREATE TABLE crumb_top_ups (request_id TEXT PRIMARY KEY, nonce BYTEA NOT NULL, amount BIGINT NOT NULL,
    head BYTEA NOT NULL, at TEXT NOT NULL);
";

/// v2: delegations and returned credit (as the embedded ledger's v4).
const SCHEMA_V2: &str = "
ALTER TABLE crumb_tokens ADD COLUMN revocable BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN is_change BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN head BYTEA,
    ADD COLUMN credit BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN gave_to BYTEA;
";

const SCHEMA_V1: &str = "
CREATE TABLE crumb_tokens (
    nonce           BYTEA PRIMARY KEY,
    parent          BYTEA,
    balance         BIGINT,
    issued_at       TEXT,
    spent_at        TEXT,
    spent_request   TEXT,
    spent_kind      TEXT,
    spent_cost      BIGINT,
    spent_amounts   TEXT,
    spent_by        BYTEA,
    revoked_at      TEXT,
    reserved_ticket BYTEA,
    reserved_until  BIGINT
);
CREATE INDEX crumb_tokens_parent ON crumb_tokens (parent);
";

/// Serializes migrations between replicas starting together (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x6372_756d_6231;

/// How long connecting, and any one statement, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const STATEMENT_TIMEOUT: &str = "10s";

/// How long a write keeps retrying a lost connection or a serialization failure.
const RETRY_FOR: Duration = Duration::from_secs(2);

const STATUS_COLUMNS: &str = "spent_at, spent_request, spent_kind, spent_cost, spent_amounts, revoked_at, spent_by";

pub struct PostgresLedger {
    location: String,
    tls: tls::TlsSettings,
    pool: Pool,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresLedger({})", self.location)
    }
}

/// A pooled connection and the statements prepared on it (a statement given as text costs a
/// round trip to prepare on every use; a cached one, none).
struct Conn {
    client: Client,
    statements: std::collections::HashMap<&'static str, postgres::Statement>,
}

impl Conn {
    fn prepared(&mut self, sql: &'static str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

/// Connections to reuse, and a cap on how many are open at once.
struct Pool {
    config: postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    idle: Mutex<Vec<Conn>>,
    open: Mutex<usize>,
    freed: Condvar,
    max: usize,
}

/// A failure inside a write, before it is classified.
enum Failure {
    Db(postgres::Error),
    Corrupt(String),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Db(e)
    }
}

/// A PostgreSQL URL fit for messages and logs, built from what the driver parsed of it (user,
/// hosts, ports, database) and nothing else: never the password, wherever the URL put it (in
/// its user information, with any character a generated password holds, or as a
/// `?password=` parameter), nor any other parameter. A URL the driver cannot read, or whose
/// host or database would hold part of an unencoded password, is shown as its scheme alone.
pub fn redact(url: &str) -> String {
    let scheme = scheme(url);
    let after_credentials = url.split_once("://").map_or("", |(_, rest)| rest.split_once('@').map_or("", |(_, r)| r));
    // The driver ends the credentials at the first `@`: another one before the query means a
    // password with an unencoded `@`, whose tail the driver took for the host or database.
    if after_credentials.split('?').next().unwrap_or("").contains('@') {
        return format!("{scheme}://(not shown: an unencoded @ in it)");
    }
    // sslmode and sslrootcert are crumb's to read, and the driver refuses some of their values.
    let (driver_url, _) = tls::split_url(url);
    match driver_url.parse::<postgres::Config>() {
        Ok(config) => describe(scheme, &config),
        Err(_) => format!("{scheme}://(not shown: not a URL PostgreSQL's driver reads)"),
    }
}

fn scheme(url: &str) -> &str {
    url.split_once("://").map_or("postgres", |(s, _)| s)
}

/// `scheme://user:***@host:port,…/dbname` from a parsed configuration.
fn describe(scheme: &str, config: &postgres::Config) -> String {
    use postgres::config::Host;
    let mut out = format!("{scheme}://");
    let password = if config.get_password().is_some() { ":***" } else { "" };
    match config.get_user() {
        Some(user) => out.push_str(&format!("{}{password}@", encode(user))),
        None if !password.is_empty() => out.push_str(&format!("{password}@")),
        None => {}
    }
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let mut shown = match host {
                Host::Tcp(name) if name.contains(':') => format!("[{}]", encode_host(name)),
                Host::Tcp(name) => encode_host(name),
                #[cfg(unix)]
                Host::Unix(path) => encode(&path.to_string_lossy()),
            };
            if let Some(port) = ports.get(i).or(ports.first().filter(|_| ports.len() == 1)) {
                shown.push_str(&format!(":{port}"));
            }
            shown
        })
        .collect();
    out.push_str(&hosts.join(","));
    if let Some(db) = config.get_dbname() {
        out.push('/');
        out.push_str(&encode(db));
    }
    out
}

/// Percent-encodes all but URL-unreserved characters, so a shown part is one unambiguous
/// piece (and carries no control characters to a terminal).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A host name or address as shown: one with a character no host name or IP address has
/// (part of a mangled URL) is not shown at all.
fn encode_host(name: &str) -> String {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b)) {
        name.to_owned()
    } else {
        "(a host name not shown)".to_owned()
    }
}

impl PostgresLedger {
    /// Connects to `url`, applies migrations (unless `read_only`) and checks the schema.
    pub fn open(url: &str, options: OpenOptions) -> Result<Self, LedgerError> {
        // Every message and log line names the database by what the driver parsed, never the URL.
        let location = redact(url);
        let (driver_url, tls) =
            tls::settings(url).map_err(|e| LedgerError::new(LedgerErrorKind::Unsupported, &location, e.to_string()))?;
        let mut config: postgres::Config = driver_url.parse().map_err(|e: postgres::Error| {
            LedgerError::new(LedgerErrorKind::Unsupported, &location, format!("not a PostgreSQL URL: {e}"))
        })?;
        config.connect_timeout(CONNECT_TIMEOUT).keepalives(true).application_name("crumb");
        // As libpq, sslmode does not apply over a Unix socket: the connection never leaves the
        // machine, and PostgreSQL offers no TLS there.
        let unix_only = config.get_hostaddrs().is_empty()
            && !config.get_hosts().is_empty()
            && config.get_hosts().iter().all(|h| !matches!(h, postgres::config::Host::Tcp(_)));
        config.ssl_mode(if unix_only { postgres::config::SslMode::Disable } else { tls.driver_mode() });
        // The roots are read once: a CA file that cannot be used fails the open, not each connection.
        let connector = tls.connector().map_err(|e| LedgerError::unavailable(&location, e.to_string()))?;
        let pool = Pool {
            config,
            tls: connector,
            idle: Mutex::new(Vec::new()),
            open: Mutex::new(0),
            freed: Condvar::new(),
            max: options.concurrency.clamp(1, 64),
        };
        let ledger = PostgresLedger { location, tls, pool };
        let found = ledger.run(|conn| {
            let mut tx = conn.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS crumb_schema (version BIGINT NOT NULL)")?;
            let found: Option<i64> = tx.query_opt("SELECT max(version) FROM crumb_schema", &[])?.and_then(|r| r.get(0));
            let found = found.unwrap_or(0);
            if !options.read_only && (0..SCHEMA_VERSION).contains(&found) {
                for step in &MIGRATIONS[found as usize..] {
                    tx.batch_execute(step)?;
                }
                tx.execute("DELETE FROM crumb_schema", &[])?;
                tx.execute("INSERT INTO crumb_schema (version) VALUES ($1)", &[&SCHEMA_VERSION])?;
            }
            tx.commit()?;
            Ok(found)
        })?;
        match found {
            v if v > SCHEMA_VERSION => Err(LedgerError::schema_too_new(&ledger.location, v, SCHEMA_VERSION)),
            0 if options.read_only => Err(LedgerError::missing(&ledger.location)),
            v if v < SCHEMA_VERSION && options.read_only => {
                Err(LedgerError::schema_too_old(&ledger.location, v, SCHEMA_VERSION))
            }
            _ => Ok(ledger),
        }
    }

    /// Runs `f` on a pooled connection, retrying what is worth retrying for [`RETRY_FOR`].
    fn run<T>(&self, mut f: impl FnMut(&mut Conn) -> Result<T, Failure>) -> Result<T, LedgerError> {
        // The pauses' ceiling grows from 20 ms to 250 ms: replicas that conflicted on one row
        // come back spread out instead of conflicting again.
        let mut backoff = Backoff::exponential(Duration::from_millis(20), 2, Duration::from_millis(250))
            .until(Instant::now() + RETRY_FOR);
        loop {
            let outcome = match self.pool.checkout() {
                Ok(mut conn) => {
                    let result = f(&mut conn);
                    self.pool.checkin(conn);
                    result
                }
                Err(e) => Err(Failure::Db(e)),
            };
            match outcome {
                Ok(value) => return Ok(value),
                Err(Failure::Corrupt(reason)) => return Err(LedgerError::corrupt(&self.location, reason)),
                // A certificate refused now is refused on the next try too: said at once.
                Err(Failure::Db(e)) if matches!(tls::failure(&e, &self.tls), Some((_, false))) => {
                    return Err(self.classify(e))
                }
                Err(Failure::Db(e)) if retryable(&e) && backoff.wait() => {}
                Err(Failure::Db(e)) => return Err(self.classify(e)),
            }
        }
    }

    fn classify(&self, e: postgres::Error) -> LedgerError {
        if let Some((reason, _)) = tls::failure(&e, &self.tls) {
            return LedgerError::unavailable(&self.location, reason).with_source(e);
        }
        let (kind, reason) = match e.code() {
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
                (LedgerErrorKind::Conflict, "concurrent writes kept conflicting".to_owned())
            }
            Some(c) if *c == SqlState::DATA_CORRUPTED || *c == SqlState::INDEX_CORRUPTED => {
                (LedgerErrorKind::Corrupt, "the database reports corrupt data".to_owned())
            }
            Some(c) if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                (LedgerErrorKind::Unavailable, "the database refused the credentials".to_owned())
            }
            Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
                (LedgerErrorKind::Unavailable, "no such database".to_owned())
            }
            Some(_) => {
                (LedgerErrorKind::Unavailable, e.as_db_error().map_or(e.to_string(), |d| d.message().to_owned()))
            }
            None => (LedgerErrorKind::Unavailable, "cannot reach the database (is PostgreSQL running?)".to_owned()),
        };
        LedgerError::new(kind, &self.location, reason).with_source(e)
    }

    /// A write transaction; `durable: false` commits without waiting for the WAL flush.
    fn write<T>(
        &self,
        durable: bool,
        f: impl Fn(&mut Transaction<'_>) -> Result<T, Failure>,
    ) -> Result<T, LedgerError> {
        self.run(|conn| {
            let mut tx = conn.client.transaction()?;
            if !durable {
                tx.batch_execute("SET LOCAL synchronous_commit = off")?;
            }
            let value = f(&mut tx)?;
            tx.commit()?;
            Ok(value)
        })
    }
}

impl PostgresLedger {
    /// Marks the parent spent and records its children in one statement (one implicit
    /// transaction), if `sql`'s condition on the parent holds; else says why not, or `held`
    /// when only a hold stood in the way.
    fn record(
        &self,
        c: &Commit,
        sql: &'static str,
        condition: &(dyn postgres::types::ToSql + Sync),
        held: CommitOutcome,
        ticket: Option<&Ticket>,
    ) -> Result<CommitOutcome, LedgerError> {
        let amounts: Vec<String> = c.children.iter().map(|(_, b)| b.to_string()).collect();
        let amounts = amounts.join(",");
        let nonces: Vec<&[u8]> = c.children.iter().map(|(n, _)| &n.0[..]).collect();
        let balances: Vec<i64> = c.children.iter().map(|(_, b)| to_i64(*b)).collect();
        let last = c.children.len().saturating_sub(1);
        let changes: Vec<bool> = (0..c.children.len()).map(|i| i == last).collect();
        let revocable: Vec<bool> = changes.iter().map(|change| c.revocable && !change).collect();
        // Credit above 0 is taken in a transaction of its own, the head's row locked first.
        let claim = c.credit.filter(|claim| claim.owed > 0);
        let check: Option<i64> = c.credit.filter(|claim| claim.owed == 0).map(|_| 0);
        self.run(|conn| {
            let statement = conn.prepared(sql)?;
            let params: [&(dyn postgres::types::ToSql + Sync); 13] = [
                &&c.parent.0[..],
                &c.at,
                &c.request_id,
                &c.kind.as_str(),
                &to_i64(c.cost),
                &amounts,
                &&c.presented[..],
                condition,
                &nonces,
                &balances,
                &revocable,
                &changes,
                &check,
            ];
            let written: i64 = match claim {
                None if c.windows.is_empty() => conn.client.query_one(&statement, &params)?.get(0),
                _ => {
                    let mut tx = conn.client.transaction()?;
                    let taken = match claim {
                        Some(claim) => {
                            let head = head_of(&mut tx, &c.parent)?;
                            if claim.take > claim.owed {
                                0
                            } else {
                                tx.execute(
                                    "UPDATE crumb_tokens SET credit = credit - $3 WHERE nonce = $1 AND credit = $2",
                                    &[&&head.0[..], &to_i64(claim.owed), &to_i64(claim.take)],
                                )?
                            }
                        }
                        None => 1,
                    };
                    let written: i64 = if taken == 1 { tx.query_one(&statement, &params)?.get(0) } else { 0 };
                    if written > 0 && !c.windows.is_empty() {
                        // The hold counted what was held; the spend counts what it cost. The
                        // children inherit the parent's windows.
                        if let Some(ticket) = ticket {
                            recount(&mut tx, ticket, Some(c.cost))?;
                        }
                        let keys = window_keys(&mut tx, &c.parent, &c.windows)?;
                        tx.execute(
                            "UPDATE crumb_tokens SET windows = $2 WHERE nonce = ANY($1)",
                            &[&nonces, &window::encode(&c.windows, &keys)],
                        )?;
                    }
                    if written > 0 {
                        tx.commit()?;
                    } else {
                        tx.rollback()?;
                    }
                    written
                }
            };
            if written > 0 {
                return Ok(CommitOutcome::Fresh);
            }
            let statement = conn.prepared(STATUS_SQL)?;
            let status = match conn.client.query_opt(&statement, &[&&c.parent.0[..]])? {
                Some(row) => status_of(&row, 0)?,
                None => Status::default(),
            };
            Ok(match (status.revoked_at, status.spent) {
                (Some(at), _) => CommitOutcome::Revoked(at),
                (None, Some(spent)) => CommitOutcome::AlreadySpent(spent),
                (None, None) => {
                    let owed = match c.credit {
                        Some(_) => {
                            let mut tx = conn.client.transaction()?;
                            let head = head_of(&mut tx, &c.parent)?;
                            let owed = credit_of(&mut tx, &head)?;
                            tx.commit()?;
                            Some(owed)
                        }
                        None => None,
                    };
                    match owed {
                        Some(owed) if Some(owed) != c.credit.map(|claim| claim.owed) => {
                            CommitOutcome::CreditChanged(owed)
                        }
                        _ => held.clone(),
                    }
                }
            })
        })
    }
}

/// The keys of the windows `nonce` carries (`windows`, from the presented token).
fn window_keys(tx: &mut Transaction<'_>, nonce: &Nonce, windows: &[Window]) -> Result<Vec<[u8; 32]>, Failure> {
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let inherited: Option<String> =
        tx.query_opt("SELECT windows FROM crumb_tokens WHERE nonce = $1", &[&&nonce.0[..]])?.and_then(|r| r.get(0));
    Ok(window::keys(nonce, inherited.as_deref(), windows))
}

/// Counts `amount` against each of `parent`'s windows for `ticket`, or says which is full
/// (then nothing is counted). Each window's row is locked (in key order, so two spends never
/// wait on each other's), and what has left it dropped first.
fn count(
    tx: &mut Transaction<'_>,
    parent: &Nonce,
    windows: &[Window],
    amount: u64,
    now: i64,
    ticket: &Ticket,
) -> Result<Option<RateLimited>, Failure> {
    if windows.is_empty() || amount == 0 {
        return Ok(None);
    }
    let keys = window_keys(tx, parent, windows)?;
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    let mut state = Vec::with_capacity(keys.len());
    for i in order {
        let (w, key) = (&windows[i], &keys[i]);
        let cutoff = window::cutoff(now, w.secs);
        tx.execute(
            "INSERT INTO crumb_windows (key, total, last_at) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING",
            &[&&key[..], &i64::MIN],
        )?;
        let row = tx.query_one("SELECT total, last_at FROM crumb_windows WHERE key = $1 FOR UPDATE", &[&&key[..]])?;
        let (total, last_at): (i64, i64) = (row.get(0), row.get(1));
        let left: i64 = tx
            .query_one(
                "WITH gone AS (DELETE FROM crumb_window_spends WHERE key = $1 AND at <= $2 RETURNING amount)
                 SELECT COALESCE(SUM(amount), 0)::bigint FROM gone",
                &[&&key[..], &cutoff],
            )?
            .get(0);
        let used = (total - left).max(0) as u64;
        let mut scan_failed = None;
        let oldest = || -> Vec<(i64, u64)> {
            match tx.query(
                "SELECT at, amount FROM crumb_window_spends WHERE key = $1 AND at > $2 ORDER BY at LIMIT $3",
                &[&&key[..], &cutoff, &window::retry_scan()],
            ) {
                Ok(rows) => rows.iter().map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1) as u64)).collect(),
                Err(e) => {
                    scan_failed = Some(e);
                    Vec::new()
                }
            }
        };
        let refused = window::judge(w, used, amount, now, last_at, oldest);
        if let Some(e) = scan_failed {
            return Err(e.into());
        }
        if let Some(refused) = refused {
            return Ok(Some(refused));
        }
        state.push((*key, used, last_at));
    }
    for (key, used, last_at) in state {
        let at = now.max(last_at);
        tx.execute(
            "UPDATE crumb_windows SET total = $2, last_at = $3 WHERE key = $1",
            &[&&key[..], &to_i64(used + amount), &at],
        )?;
        tx.execute(
            "INSERT INTO crumb_window_spends (key, at, amount, ticket) VALUES ($1, $2, $3, $4)",
            &[&&key[..], &at, &to_i64(amount), &&ticket.id()[..]],
        )?;
    }
    Ok(None)
}

/// What `ticket`'s hold counts in its windows becomes `amount` (`None`: nothing, released).
fn recount(tx: &mut Transaction<'_>, ticket: &Ticket, amount: Option<u64>) -> Result<(), Failure> {
    let mut held: Vec<(Vec<u8>, i64)> = tx
        .query("SELECT key, amount FROM crumb_window_spends WHERE ticket = $1", &[&&ticket.id()[..]])?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    held.sort();
    for (key, was) in held {
        let now = amount.map_or(0, to_i64);
        tx.execute(
            "UPDATE crumb_windows SET total = GREATEST(total - $2 + $3, 0) WHERE key = $1",
            &[&key, &was, &now],
        )?;
    }
    match amount {
        None => tx.execute("DELETE FROM crumb_window_spends WHERE ticket = $1", &[&&ticket.id()[..]])?,
        Some(n) => tx.execute(
            "UPDATE crumb_window_spends SET amount = $2 WHERE ticket = $1",
            &[&&ticket.id()[..], &to_i64(n)],
        )?,
    };
    Ok(())
}

/// The head of the lineage `nonce` belongs to (itself when it heads its own).
fn head_of(tx: &mut Transaction<'_>, nonce: &Nonce) -> Result<Nonce, Failure> {
    let head: Option<Vec<u8>> =
        tx.query_opt("SELECT head FROM crumb_tokens WHERE nonce = $1", &[&&nonce.0[..]])?.and_then(|r| r.get(0));
    head.map_or(Ok(*nonce), |h| nonce_of(&h))
}

/// The returned credit owed to the lineage `head` heads.
fn credit_of(tx: &mut Transaction<'_>, head: &Nonce) -> Result<u64, Failure> {
    let credit: Option<i64> =
        tx.query_opt("SELECT credit FROM crumb_tokens WHERE nonce = $1", &[&&head.0[..]])?.map(|r| r.get(0));
    Ok(credit.unwrap_or(0) as u64)
}

/// Adds `amount` to the credit owed to the lineage `head` heads (locking its row).
fn deposit(tx: &mut Transaction<'_>, head: &Nonce, amount: u64) -> Result<(), Failure> {
    if amount > 0 {
        tx.execute(
            "INSERT INTO crumb_tokens (nonce, credit) VALUES ($1, $2)
             ON CONFLICT (nonce) DO UPDATE SET credit = crumb_tokens.credit + excluded.credit",
            &[&&head.0[..], &to_i64(amount)],
        )?;
    }
    Ok(())
}

const STATUS_SQL: &str = "SELECT spent_at, spent_request, spent_kind, spent_cost, spent_amounts, revoked_at, spent_by
     FROM crumb_tokens WHERE nonce = $1";

/// The second half of [`COMMIT_SQL`] and [`SETTLE_SQL`]: the children of the parent written by
/// the `parent` CTE ($2 their issue time, $9 their nonces, $10 their balances), and whether it
/// was written (0: the parent's condition did not hold, and nothing was).
macro_rules! children_and_count {
    () => {
        "
), children AS (
    INSERT INTO crumb_tokens (nonce, parent, balance, issued_at, revocable, is_change, head)
    SELECT c.nonce, p.nonce, c.balance, $2, c.revocable, c.is_change, CASE WHEN c.is_change THEN p.head END
    FROM parent p, unnest($9::bytea[], $10::bigint[], $11::bool[], $12::bool[]) AS c(nonce, balance, revocable, is_change)
    ON CONFLICT (nonce) DO UPDATE SET parent = excluded.parent, balance = excluded.balance, issued_at = excluded.issued_at,
        revocable = excluded.revocable, is_change = excluded.is_change, head = excluded.head
    RETURNING 1
)
SELECT count(*) FROM parent"
    };
}

/// Consumes the parent (inserting its row, or updating it if it is live and not held by an
/// unexpired hold: `$8` is now) and inserts its children, in one statement. The upsert locks
/// the parent's row, so a concurrent consumption waits and then finds it spent.
const COMMIT_SQL: &str = concat!(
    "WITH parent AS (
    INSERT INTO crumb_tokens (nonce, spent_at, spent_request, spent_kind, spent_cost, spent_amounts, spent_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (nonce) DO UPDATE SET spent_at = excluded.spent_at, spent_request = excluded.spent_request,
        spent_kind = excluded.spent_kind, spent_cost = excluded.spent_cost, spent_amounts = excluded.spent_amounts,
        spent_by = excluded.spent_by, reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL
    WHERE crumb_tokens.spent_at IS NULL AND crumb_tokens.revoked_at IS NULL
        AND (crumb_tokens.reserved_ticket IS NULL
            OR (crumb_tokens.reserved_until <= $8::bigint AND crumb_tokens.reserved_lapse IS NULL))
        AND ($13::bigint IS NULL OR COALESCE((SELECT h.credit FROM crumb_tokens h
            WHERE h.nonce = COALESCE(crumb_tokens.head, crumb_tokens.nonce)), 0) = $13::bigint)
    RETURNING nonce, COALESCE(head, nonce) AS head",
    children_and_count!()
);

/// As [`COMMIT_SQL`], for the holder of the hold `$8` (its ticket).
const SETTLE_SQL: &str = concat!(
    "WITH parent AS (
    UPDATE crumb_tokens SET spent_at = $2, spent_request = $3, spent_kind = $4, spent_cost = $5,
        spent_amounts = $6, spent_by = $7, reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL
    WHERE nonce = $1 AND spent_at IS NULL AND revoked_at IS NULL AND reserved_ticket = $8::bytea
        AND ($13::bigint IS NULL OR COALESCE((SELECT h.credit FROM crumb_tokens h
            WHERE h.nonce = COALESCE(crumb_tokens.head, crumb_tokens.nonce)), 0) = $13::bigint)
    RETURNING nonce, COALESCE(head, nonce) AS head",
    children_and_count!()
);

/// Whether a failure may pass if tried again: a conflict, or a connection that went away.
fn retryable(e: &postgres::Error) -> bool {
    match e.code() {
        Some(c) => {
            *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::CRASH_SHUTDOWN
                || *c == SqlState::CANNOT_CONNECT_NOW
        }
        None => true,
    }
}

impl Pool {
    fn checkout(&self) -> Result<Conn, postgres::Error> {
        loop {
            if let Some(conn) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
                if !conn.client.is_closed() {
                    return Ok(conn);
                }
                self.forget();
                continue;
            }
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            if *open < self.max {
                *open += 1;
                drop(open);
                return self.connect().inspect_err(|_| self.forget());
            }
            // At the cap: wait for a connection to come back (bounded by the caller's retries).
            let (guard, _) = self.freed.wait_timeout(open, CONNECT_TIMEOUT).unwrap_or_else(|p| p.into_inner());
            drop(guard);
        }
    }

    fn connect(&self) -> Result<Conn, postgres::Error> {
        let mut client = self.config.connect(self.tls.clone())?;
        client.batch_execute(&format!("SET statement_timeout = '{STATEMENT_TIMEOUT}'"))?;
        Ok(Conn { client, statements: Default::default() })
    }

    fn checkin(&self, conn: Conn) {
        if conn.client.is_closed() {
            self.forget();
        } else {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
            self.freed.notify_one();
        }
    }

    fn forget(&self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        *open = open.saturating_sub(1);
        self.freed.notify_one();
    }
}

fn nonce_of(bytes: &[u8]) -> Result<Nonce, Failure> {
    let arr: [u8; 16] = bytes.try_into().map_err(|_| Failure::Corrupt("a nonce is not 16 bytes".into()))?;
    Ok(Nonce(arr))
}

/// Reads [`STATUS_COLUMNS`] starting at column `from`.
fn status_of(row: &Row, from: usize) -> Result<Status, Failure> {
    let at: Option<String> = row.get(from);
    let request: Option<String> = row.get(from + 1);
    let kind: Option<String> = row.get(from + 2);
    let cost: Option<i64> = row.get(from + 3);
    let amounts: Option<String> = row.get(from + 4);
    let revoked_at: Option<String> = row.get(from + 5);
    let spent_by: Option<Vec<u8>> = row.get(from + 6);
    let spent = match (at, request, kind) {
        (Some(at), Some(request_id), Some(kind)) => Some(Spent {
            at,
            request_id,
            kind: SpendKind::parse(&kind).ok_or_else(|| Failure::Corrupt(format!("spend kind {kind}")))?,
            cost: cost.unwrap_or(0) as u64,
            amounts: super::parse_amounts(&amounts.unwrap_or_default()).map_err(Failure::Corrupt)?,
            presented: spent_by.and_then(|b| b.try_into().ok()),
        }),
        _ => None,
    };
    Ok(Status { spent, revoked_at })
}

/// A row held for this transaction: its standing, and who holds it in flight until when.
struct Locked {
    status: Status,
    held_by: Option<Vec<u8>>,
    until: Option<i64>,
    /// What the hold becomes if it lapses ([`super::encode_lapse`]).
    lapse: Option<String>,
}

/// The parent's row, locked for this transaction (created empty if the ledger never saw it).
fn lock_row(tx: &mut Transaction<'_>, nonce: &Nonce) -> Result<Locked, Failure> {
    tx.execute("INSERT INTO crumb_tokens (nonce) VALUES ($1) ON CONFLICT (nonce) DO NOTHING", &[&&nonce.0[..]])?;
    let row = tx.query_one(
        &format!(
            "SELECT {STATUS_COLUMNS}, reserved_ticket, reserved_until, reserved_lapse FROM crumb_tokens
             WHERE nonce = $1 FOR UPDATE"
        ),
        &[&&nonce.0[..]],
    )?;
    Ok(Locked { status: status_of(&row, 0)?, held_by: row.get(7), until: row.get(8), lapse: row.get(9) })
}

fn to_i64(n: u64) -> i64 {
    n as i64
}

fn reserve_in(tx: &mut Transaction<'_>, r: &Reservation, ticket: Ticket) -> Result<Reserved, Failure> {
    let parent = r.parent();
    let Locked { status, held_by, until, lapse } = lock_row(tx, &parent)?;
    if let Some(at) = status.revoked_at {
        return Ok(Reserved::Revoked(at));
    }
    if let Some(spent) = status.spent {
        return Ok(Reserved::Spent(spent));
    }
    // A retry of this very reserve after its answer was lost (a dropped connection): the hold
    // is already ours, not another request's.
    if held_by.as_deref() == Some(&ticket.id()[..]) {
        return Ok(Reserved::Held(ticket));
    }
    if held_by.is_some() && until.is_some_and(|u| u > r.now()) {
        return Ok(Reserved::InFlight);
    }
    if let Some(spent) = lapse_in(tx, &parent, held_by.as_deref(), lapse.as_deref())? {
        return Ok(Reserved::Spent(spent));
    }
    if let Some(refused) = count(tx, &parent, r.windows(), r.amount(), r.now(), &ticket)? {
        return Ok(Reserved::RateLimited(refused));
    }
    tx.execute(
        "UPDATE crumb_tokens SET reserved_ticket = $2, reserved_until = $3, reserved_lapse = $4 WHERE nonce = $1",
        &[&&parent.0[..], &&ticket.id()[..], &r.until(), &r.lapse().map(super::encode_lapse)],
    )?;
    Ok(Reserved::Held(ticket))
}

/// A hold on `parent` (locked) that lapsed unsettled with its request forwarded (its gateway
/// died): recorded now, in this transaction, as the settle at the price held that it carries,
/// so the request is neither free nor lost. Returns what the token was spent by then.
fn lapse_in(
    tx: &mut Transaction<'_>,
    parent: &Nonce,
    held_by: Option<&[u8]>,
    lapse: Option<&str>,
) -> Result<Option<Spent>, Failure> {
    let (Some(id), Some(text)) = (held_by, lapse) else { return Ok(None) };
    let (Ok(id), Some(c)) = (<[u8; 16]>::try_from(id), super::decode_lapse(*parent, text)) else {
        return Err(Failure::Corrupt(format!("the lapsed hold on {parent} does not read")));
    };
    let ticket = Ticket { parent: *parent, id };
    let amounts: Vec<String> = c.children.iter().map(|(_, b)| b.to_string()).collect();
    let nonces: Vec<&[u8]> = c.children.iter().map(|(n, _)| &n.0[..]).collect();
    let balances: Vec<i64> = c.children.iter().map(|(_, b)| to_i64(*b)).collect();
    let changes: Vec<bool> = (0..c.children.len()).map(|i| i + 1 == c.children.len()).collect();
    let revocable: Vec<bool> = vec![false; c.children.len()];
    let check: Option<i64> = None;
    let written: i64 = tx
        .query_one(
            SETTLE_SQL,
            &[
                &&c.parent.0[..],
                &c.at,
                &c.request_id,
                &c.kind.as_str(),
                &to_i64(c.cost),
                &amounts.join(","),
                &&c.presented[..],
                &&id[..],
                &nonces,
                &balances,
                &revocable,
                &changes,
                &check,
            ],
        )?
        .get(0);
    if written == 0 {
        return Ok(None);
    }
    if !c.windows.is_empty() {
        recount(tx, &ticket, Some(c.cost))?;
        let keys = window_keys(tx, &c.parent, &c.windows)?;
        tx.execute(
            "UPDATE crumb_tokens SET windows = $2 WHERE nonce = ANY($1)",
            &[&nonces, &window::encode(&c.windows, &keys)],
        )?;
    }
    let row = tx.query_one(STATUS_SQL, &[&&parent.0[..]])?;
    Ok(status_of(&row, 0)?.spent)
}

impl BlockingLedger for PostgresLedger {
    fn location(&self) -> &str {
        &self.location
    }

    fn status(&self, nonce: &Nonce) -> Result<Status, LedgerError> {
        self.run(|conn| {
            let statement = conn.prepared(STATUS_SQL)?;
            let row = conn.client.query_opt(&statement, &[&&nonce.0[..]])?;
            row.map_or(Ok(Status::default()), |r| status_of(&r, 0))
        })
    }

    fn reserve(&self, r: &Reservation) -> Result<Reserved, LedgerError> {
        let ticket = Ticket::issue(r.parent())?;
        self.write(false, |tx| reserve_in(tx, r, ticket))
    }

    fn settle(&self, ticket: &Ticket, c: &Commit) -> Result<CommitOutcome, LedgerError> {
        if c.parent != ticket.parent() {
            return Ok(CommitOutcome::ReservationLost);
        }
        self.record(c, SETTLE_SQL, &&ticket.id()[..], CommitOutcome::ReservationLost, Some(ticket))
    }

    /// The hold and the record in one statement: one round trip and one durable commit. A
    /// token with spend-rate windows is held first (the windows counted under their rows'
    /// locks), then settled; a settle that fails gives the hold back.
    fn commit(&self, r: &Reservation, c: &Commit) -> Result<CommitOutcome, LedgerError> {
        if r.windows().is_empty() {
            // Held by another, or by a hold that lapsed with its request forwarded: the
            // reserve below tells the two apart (and records the lapsed one).
            match self.record(c, COMMIT_SQL, &r.now(), CommitOutcome::InFlight, None)? {
                CommitOutcome::InFlight => {}
                outcome => return Ok(outcome),
            }
        }
        match self.reserve(r)? {
            Reserved::Held(ticket) => match self.settle(&ticket, c) {
                Ok(CommitOutcome::Fresh) => Ok(CommitOutcome::Fresh),
                other => {
                    let _ = self.release(&ticket);
                    other
                }
            },
            Reserved::Spent(spent) => Ok(CommitOutcome::AlreadySpent(spent)),
            Reserved::Revoked(at) => Ok(CommitOutcome::Revoked(at)),
            Reserved::InFlight => Ok(CommitOutcome::InFlight),
            Reserved::RateLimited(refused) => Ok(CommitOutcome::RateLimited(refused)),
        }
    }

    fn release(&self, ticket: &Ticket) -> Result<(), LedgerError> {
        self.write(false, |tx| {
            let released = tx.execute(
                "UPDATE crumb_tokens SET reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL
                 WHERE nonce = $1 AND reserved_ticket = $2",
                &[&&ticket.parent().0[..], &&ticket.id()[..]],
            )?;
            if released > 0 {
                recount(tx, ticket, None)?;
            }
            Ok(())
        })
    }

    fn top_up(&self, t: &TopUp) -> Result<ToppedUp, LedgerError> {
        self.write(true, |tx| {
            // One top-up per request id at a time, across replicas: the id's row is the lock.
            let before = tx.query_opt(
                "SELECT nonce, amount, head FROM crumb_top_ups WHERE request_id = $1 FOR UPDATE",
                &[&t.request_id],
            )?;
            if let Some(r) = before {
                let (nonce, amount, head): (Vec<u8>, i64, Vec<u8>) = (r.get(0), r.get(1), r.get(2));
                return Ok(if nonce == t.nonce.0 && amount as u64 == t.amount {
                    ToppedUp::Replayed { head: nonce_of(&head)? }
                } else {
                    ToppedUp::RequestIdReused
                });
            }
            let revoked = |tx: &mut Transaction<'_>, n: &Nonce| -> Result<bool, Failure> {
                Ok(tx
                    .query_opt("SELECT revoked_at FROM crumb_tokens WHERE nonce = $1", &[&&n.0[..]])?
                    .and_then(|r| r.get::<_, Option<String>>(0))
                    .is_some())
            };
            if revoked(tx, &t.nonce)? {
                return Ok(ToppedUp::Revoked);
            }
            let mut head = head_of(tx, &t.nonce)?;
            for _ in 0..limits::MAX_LINEAGE_ANCESTORS {
                let next: Option<Vec<u8>> = tx
                    .query_opt("SELECT gave_to FROM crumb_tokens WHERE nonce = $1", &[&&head.0[..]])?
                    .and_then(|r| r.get(0));
                match next {
                    Some(next) => head = nonce_of(&next)?,
                    None => break,
                }
            }
            if revoked(tx, &head)? {
                return Ok(ToppedUp::Revoked);
            }
            // The head's row locked (created if the ledger never saw the token), then its credit.
            tx.execute("INSERT INTO crumb_tokens (nonce) VALUES ($1) ON CONFLICT (nonce) DO NOTHING", &[&&head.0[..]])?;
            let owed: i64 =
                tx.query_one("SELECT credit FROM crumb_tokens WHERE nonce = $1 FOR UPDATE", &[&&head.0[..]])?.get(0);
            let owed = owed as u64;
            let Some(total) = owed.checked_add(t.amount).filter(|&n| n <= limits::MAX_AMOUNT) else {
                return Ok(ToppedUp::TooMuch { owed });
            };
            let inserted = tx.execute(
                "INSERT INTO crumb_top_ups (request_id, nonce, amount, head, at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (request_id) DO NOTHING",
                &[&t.request_id, &&t.nonce.0[..], &to_i64(t.amount), &&head.0[..], &t.at],
            )?;
            if inserted == 0 {
                // Another replica wrote this request id meanwhile (the insert waited for it):
                // answer from its row, adding nothing.
                let r =
                    tx.query_one("SELECT nonce, amount FROM crumb_top_ups WHERE request_id = $1", &[&t.request_id])?;
                let (nonce, amount): (Vec<u8>, i64) = (r.get(0), r.get(1));
                return Ok(if nonce == t.nonce.0 && amount as u64 == t.amount {
                    ToppedUp::Replayed { head }
                } else {
                    ToppedUp::RequestIdReused
                });
            }
            tx.execute(
                // The total topped up is shown, never spent: it saturates rather than overflow.
                "UPDATE crumb_tokens SET credit = credit + $2,
                     topped_up = CASE WHEN topped_up > 9223372036854775807 - $2 THEN 9223372036854775807
                                      ELSE topped_up + $2 END
                 WHERE nonce = $1",
                &[&&head.0[..], &to_i64(t.amount)],
            )?;
            Ok(ToppedUp::Fresh { head, owed: total })
        })
    }

    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Result<Vec<u64>, LedgerError> {
        self.write(false, |tx| {
            let keys = window_keys(tx, nonce, windows)?;
            let mut used = Vec::with_capacity(keys.len());
            for (w, key) in windows.iter().zip(&keys) {
                let sum: i64 = tx
                    .query_one(
                        "SELECT COALESCE(SUM(amount), 0)::bigint FROM crumb_window_spends WHERE key = $1 AND at > $2",
                        &[&&key[..], &window::cutoff(now, w.secs)],
                    )?
                    .get(0);
                used.push(sum.max(0) as u64);
            }
            Ok(used)
        })
    }

    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, LedgerError> {
        self.write(true, |tx| {
            tx.execute(
                "INSERT INTO crumb_tokens (nonce) VALUES ($1) ON CONFLICT (nonce) DO NOTHING",
                &[&&nonce.0[..]],
            )?;
            let mut revoked = Vec::new();
            let mut level: Vec<Vec<u8>> = vec![nonce.0.to_vec()];
            while !level.is_empty() {
                // Lock this level (revoking what is live), then read the next: a spend of a
                // node here either committed before the lock (its children are read below) or
                // waits for it and then finds the node revoked.
                let rows = tx.query(
                    "SELECT nonce FROM crumb_tokens WHERE nonce = ANY($1) AND revoked_at IS NULL FOR UPDATE",
                    &[&level],
                )?;
                let live: Vec<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
                tx.execute("UPDATE crumb_tokens SET revoked_at = $2 WHERE nonce = ANY($1)", &[&live, &at])?;
                for n in &live {
                    revoked.push(nonce_of(n)?);
                }
                if !cascade {
                    break;
                }
                level = tx
                    .query("SELECT nonce FROM crumb_tokens WHERE parent = ANY($1)", &[&level])?
                    .iter()
                    .map(|r| r.get::<_, Vec<u8>>(0))
                    .collect();
            }
            Ok(revoked)
        })
    }

    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Result<LiveRevoke, LedgerError> {
        self.write(true, |tx| {
            let status = lock_row(tx, nonce)?.status;
            Ok(match (status.revoked_at, status.spent) {
                (Some(_), _) => LiveRevoke::AlreadyRevoked,
                (None, Some(_)) => LiveRevoke::Consumed,
                (None, None) => {
                    tx.execute("UPDATE crumb_tokens SET revoked_at = $2 WHERE nonce = $1", &[&&nonce.0[..], &at])?;
                    LiveRevoke::Revoked
                }
            })
        })
    }

    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Result<Lineage, LedgerError> {
        self.run(|conn| {
            let mut tx = conn
                .client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let mut root = *nonce;
            let mut root_not_reached = scope == Scope::WholeTree;
            if scope == Scope::WholeTree {
                let up = tx.prepare("SELECT parent FROM crumb_tokens WHERE nonce = $1")?;
                for _ in 0..=limits::MAX_LINEAGE_ANCESTORS {
                    let parent: Option<Vec<u8>> = tx.query_opt(&up, &[&&root.0[..]])?.and_then(|r| r.get(0));
                    match parent {
                        Some(p) => root = nonce_of(&p)?,
                        None => {
                            root_not_reached = false;
                            break;
                        }
                    }
                }
            }
            let limit = i64::try_from(max_nodes.saturating_add(1)).unwrap_or(i64::MAX);
            let except: Option<Vec<u8>> = match scope {
                Scope::DescendantsExcept(change) => Some(change.0.to_vec()),
                _ => None,
            };
            let rows = tx.query(
                &format!(
                    "WITH RECURSIVE tree(n, depth) AS (
                         SELECT $1::bytea, 0 UNION ALL
                         SELECT t.nonce, tree.depth + 1 FROM crumb_tokens t JOIN tree ON t.parent = tree.n
                         WHERE t.nonce IS DISTINCT FROM $3::bytea)
                     SELECT tree.n, t.parent, t.balance, t.issued_at, {STATUS_COLUMNS}, t.revocable, t.is_change, t.credit,
                         t.topped_up
                     FROM (SELECT n, depth FROM tree LIMIT $2) tree LEFT JOIN crumb_tokens t ON t.nonce = tree.n
                     ORDER BY tree.depth"
                ),
                &[&&root.0[..], &limit, &except.as_deref()],
            )?;
            tx.commit()?;
            let truncated = rows.len() > max_nodes;
            let nodes = rows
                .iter()
                .take(max_nodes)
                .map(|r| {
                    Ok(Node {
                        nonce: nonce_of(r.get::<_, &[u8]>(0))?,
                        parent: r.get::<_, Option<&[u8]>>(1).map(nonce_of).transpose()?,
                        balance: r.get::<_, Option<i64>>(2).map(|b| b as u64),
                        issued_at: r.get(3),
                        status: status_of(r, 4)?,
                        revocable: r.get::<_, Option<bool>>(11).unwrap_or(false),
                        change: r.get::<_, Option<bool>>(12).unwrap_or(false),
                        credit: r.get::<_, Option<i64>>(13).unwrap_or(0) as u64,
                        topped_up: r.get::<_, Option<i64>>(14).unwrap_or(0) as u64,
                    })
                })
                .collect::<Result<Vec<_>, Failure>>()?;
            Ok(Lineage { nodes, truncated, root_not_reached })
        })
    }

    fn info(&self, nonce: &Nonce) -> Result<TokenInfo, LedgerError> {
        self.run(|conn| {
            let mut tx = conn
                .client
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let row = tx.query_opt(
                &format!(
                    "SELECT {STATUS_COLUMNS}, parent, balance, reserved_until, revocable, is_change, head
                     FROM crumb_tokens WHERE nonce = $1"
                ),
                &[&&nonce.0[..]],
            )?;
            let mut info = TokenInfo { head: Some(*nonce), ..TokenInfo::default() };
            if let Some(r) = row {
                info.known = true;
                info.status = status_of(&r, 0)?;
                info.parent = r.get::<_, Option<&[u8]>>(7).map(nonce_of).transpose()?;
                info.balance = r.get::<_, Option<i64>>(8).map(|b| b as u64);
                info.held_until = r.get(9);
                info.revocable = r.get(10);
                info.change = r.get(11);
                if let Some(head) = r.get::<_, Option<&[u8]>>(12) {
                    info.head = Some(nonce_of(head)?);
                }
            }
            info.credit_owed = credit_of(&mut tx, &info.head.unwrap_or(*nonce))?;
            let topped: Option<i64> = tx
                .query_opt(
                    "SELECT topped_up FROM crumb_tokens WHERE nonce = $1",
                    &[&&info.head.unwrap_or(*nonce).0[..]],
                )?
                .map(|r| r.get(0));
            info.topped_up = topped.unwrap_or(0) as u64;
            tx.commit()?;
            Ok(info)
        })
    }

    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Result<DelegationRevoke, LedgerError> {
        self.write(true, |tx| {
            let standing = lock_row(tx, holder)?.status;
            if standing.revoked_at.is_some() || standing.spent.is_some() {
                return Ok(DelegationRevoke::HolderNotLive { revoked: standing.revoked_at.is_some() });
            }
            let holder_head = head_of(tx, holder)?;
            let row = tx.query_opt(
                "SELECT parent, revocable, is_change FROM crumb_tokens WHERE nonce = $1 FOR UPDATE",
                &[&&child.0[..]],
            )?;
            let Some(row) = row else { return Ok(DelegationRevoke::NotYours) };
            let Some(parent) = row.get::<_, Option<Vec<u8>>>(0) else { return Ok(DelegationRevoke::NotYours) };
            if head_of(tx, &nonce_of(&parent)?)? != holder_head {
                return Ok(DelegationRevoke::NotYours);
            }
            if row.get::<_, bool>(2) || !row.get::<_, bool>(1) {
                return Ok(DelegationRevoke::NotRevocable);
            }
            // Level by level, each locked before the next is read (as a cascade): a spend of a
            // node here either committed first (its children are read below) or waits and then
            // finds the node revoked.
            let (mut returned, mut revoked) = (0u64, Vec::new());
            let mut level: Vec<Vec<u8>> = vec![child.0.to_vec()];
            while !level.is_empty() {
                let rows = tx.query(
                    "SELECT nonce, balance, spent_at IS NULL AND revoked_at IS NULL, revoked_at IS NULL, credit,
                         CASE WHEN reserved_ticket IS NOT NULL THEN reserved_lapse END
                     FROM crumb_tokens WHERE nonce = ANY($1) FOR UPDATE",
                    &[&level],
                )?;
                let mut fresh: Vec<Vec<u8>> = Vec::new();
                for r in &rows {
                    if r.get::<_, bool>(2) {
                        // A token held for a proxied request keeps back the price held.
                        let lapse: Option<String> = r.get(5);
                        let held = match lapse {
                            Some(text) => super::held_by_lapse(nonce_of(&r.get::<_, Vec<u8>>(0))?, &text),
                            None => 0,
                        };
                        let balance = r.get::<_, Option<i64>>(1).unwrap_or(0) as u64;
                        returned = returned.saturating_add(balance.saturating_sub(held));
                    }
                    returned = returned.saturating_add(r.get::<_, i64>(4) as u64);
                    if r.get::<_, bool>(3) {
                        fresh.push(r.get(0));
                    }
                }
                tx.execute(
                    "UPDATE crumb_tokens SET revoked_at = CASE WHEN revoked_at IS NULL THEN $2 ELSE revoked_at END,
                         credit = 0 WHERE nonce = ANY($1)",
                    &[&level, &at],
                )?;
                for n in &fresh {
                    revoked.push(nonce_of(n)?);
                }
                // The delegate's own tokens (its change) and its own delegations, never what it
                // paid away: a transfer out of the subtree is a payment, final like any other.
                level = tx
                    .query(
                        "SELECT nonce FROM crumb_tokens WHERE parent = ANY($1) AND (is_change OR revocable)",
                        &[&level],
                    )?
                    .iter()
                    .map(|r| r.get::<_, Vec<u8>>(0))
                    .collect();
            }
            deposit(tx, &holder_head, returned)?;
            Ok(DelegationRevoke::Revoked { revoked, returned })
        })
    }

    fn give_back(&self, g: &GiveBack) -> Result<GaveBack, LedgerError> {
        self.write(true, |tx| {
            let Locked { status, held_by, until, lapse } = lock_row(tx, &g.parent)?;
            // A give-back recorded before is answered as such, even if its tree was revoked
            // since: its retry must learn that it happened.
            if let Some(spent) = status.spent {
                return Ok(GaveBack::AlreadySpent(spent));
            }
            if let Some(at) = status.revoked_at {
                return Ok(GaveBack::Revoked(at));
            }
            if held_by.is_some() && until.is_some_and(|u| u > g.now) {
                return Ok(GaveBack::InFlight);
            }
            if let Some(spent) = lapse_in(tx, &g.parent, held_by.as_deref(), lapse.as_deref())? {
                return Ok(GaveBack::AlreadySpent(spent));
            }
            let head = head_of(tx, &g.parent)?;
            let split_from: Option<Vec<u8>> = tx
                .query_opt("SELECT parent FROM crumb_tokens WHERE nonce = $1", &[&&head.0[..]])?
                .and_then(|r| r.get(0));
            let balance: Option<i64> =
                tx.query_one("SELECT balance FROM crumb_tokens WHERE nonce = $1", &[&&g.parent.0[..]])?.get(0);
            let (Some(split_from), Some(balance)) = (split_from, balance) else { return Ok(GaveBack::NotDelegated) };
            let balance = balance as u64;
            let target = head_of(tx, &nonce_of(&split_from)?)?;
            let own: i64 = tx
                .query_opt("SELECT credit FROM crumb_tokens WHERE nonce = $1 FOR UPDATE", &[&&head.0[..]])?
                .map_or(0, |r| r.get(0));
            let returned = balance.saturating_add(own as u64);
            tx.execute("UPDATE crumb_tokens SET credit = 0 WHERE nonce = $1", &[&&head.0[..]])?;
            tx.execute(
                "UPDATE crumb_tokens SET spent_at = $2, spent_request = $3, spent_kind = $4, spent_cost = $5,
                     spent_amounts = '', spent_by = $6, reserved_ticket = NULL, reserved_until = NULL,
                     reserved_lapse = NULL
                 WHERE nonce = $1",
                &[
                    &&g.parent.0[..],
                    &g.at,
                    &g.request_id,
                    &SpendKind::GiveBack.as_str(),
                    &to_i64(returned),
                    &&g.presented[..],
                ],
            )?;
            // This lineage is finished: credit that comes back to it later (a delegate of its
            // own giving back) goes on to where it gave back.
            tx.execute("UPDATE crumb_tokens SET gave_to = $2 WHERE nonce = $1", &[&&head.0[..], &&target.0[..]])?;
            let mut receiver = target;
            for _ in 0..limits::MAX_LINEAGE_ANCESTORS {
                let next: Option<Vec<u8>> = tx
                    .query_opt("SELECT gave_to FROM crumb_tokens WHERE nonce = $1", &[&&receiver.0[..]])?
                    .and_then(|r| r.get(0));
                match next {
                    Some(next) => receiver = nonce_of(&next)?,
                    None => break,
                }
            }
            deposit(tx, &receiver, returned)?;
            Ok(GaveBack::Fresh { returned })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character class a URL allows in a password, as generated passwords hold them.
    const SPECIAL: &[char] =
        &['/', ':', '@', '?', '#', '%', '+', '=', '&', '$', '!', '\'', '(', ')', '*', ',', ';', '[', ']'];

    fn percent_encoded(text: &str) -> String {
        text.bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect()
    }

    fn assert_hidden(shown: &str, password: &str, url: &str) {
        assert!(!shown.contains(password), "{url} shown as {shown}");
        assert!(!shown.contains(&percent_encoded(password)), "{url} shown as {shown}");
    }

    #[test]
    fn a_password_with_any_character_is_never_shown() {
        for &c in SPECIAL {
            let password = format!("Zq{c}9s{c}{c}Wd");
            // Percent-encoded, as URL syntax requires: shown exactly as the driver parsed it.
            let url = format!("postgres://crumb:{}@db.internal:6432/ledger", percent_encoded(&password));
            let config: postgres::Config = url.parse().unwrap();
            assert_eq!(config.get_password(), Some(password.as_bytes()), "the driver reads {url}");
            assert_eq!(redact(&url), "postgres://crumb:***@db.internal:6432/ledger", "{url}");
            // Written raw (as a generated password often is): never shown, whatever the
            // driver made of it.
            let raw = format!("postgres://crumb:{password}@db.internal/ledger");
            assert_hidden(&redact(&raw), &password, &raw);
            for part in password.split(c).filter(|p| p.len() > 1) {
                assert!(!redact(&raw).contains(part), "{raw} shown as {}", redact(&raw));
            }

            // And as a parameter.
            let param = format!("postgresql://crumb@db/ledger?password={}", percent_encoded(&password));
            assert_eq!(redact(&param), "postgresql://crumb:***@db:5432/ledger");
        }
        // Base64 passwords (the reported case): `/`, `+` and `=` unencoded.
        let url = "postgres://crumb:aB3/x+Yz9/Qw==@10.0.0.5:5432/ledger";
        assert_eq!(redact(url), "postgres://crumb:***@10.0.0.5:5432/ledger");
        let all: String = SPECIAL.iter().collect();
        let url = format!("postgres://crumb:{}@db/ledger", percent_encoded(&all));
        assert_eq!(redact(&url), "postgres://crumb:***@db:5432/ledger");
    }

    #[test]
    fn a_ledger_error_never_shows_a_raw_password() {
        // Each open retries a refused connection for a while: all at once.
        std::thread::scope(|scope| {
            for &c in SPECIAL {
                scope.spawn(move || {
                    let password = format!("Zq{c}9s{c}{c}Wd");
                    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
                    let raw = format!("postgres://crumb:{password}@127.0.0.1:{port}/ledger");
                    let e = PostgresLedger::open(&raw, OpenOptions::READ_WRITE).unwrap_err();
                    let shown = format!("{e} {e:?}");
                    assert_hidden(&shown, &password, &raw);
                    for part in password.split(c).filter(|p| p.len() > 1) {
                        assert!(!shown.contains(part), "{raw} shown as {shown}");
                    }
                });
            }
        });
    }

    #[test]
    fn hosts_ports_and_sockets_are_shown_as_the_driver_reads_them() {
        assert_eq!(redact("postgres://a,b:5433/x"), "postgres://a:5432,b:5433/x");
        assert_eq!(redact("postgres://u@[::1]:5432/x"), "postgres://u@[::1]:5432/x");
        assert_eq!(redact("postgres://u@%2Frun%2Fpg/x"), "postgres://u@%2Frun%2Fpg:5432/x");
        assert_eq!(redact("postgres://u:pw@db/x?sslmode=disable&options=-c%20a%3Db"), "postgres://u:***@db:5432/x");
        assert!(redact("postgres://u:pw@db:notaport/x").starts_with("postgres://(not shown"));
        // A password with an unencoded `@` (the driver ends the credentials at the first one).
        assert_eq!(redact("postgres://u:p@ss/word@host/db"), "postgres://(not shown: an unencoded @ in it)");
    }

    #[test]
    fn a_ledger_that_cannot_connect_names_the_database_without_its_password() {
        let password = "s3/cr:et@?#";
        // A closed port on loopback: the connection is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("postgres://crumb:{}@127.0.0.1:{port}/ledger", percent_encoded(password));
        let e = PostgresLedger::open(&url, OpenOptions::READ_WRITE).unwrap_err();
        let shown = format!("{e} {e:?}");
        assert_hidden(&shown, password, &url);
        assert!(shown.contains(&format!("postgres://crumb:***@127.0.0.1:{port}/ledger")), "{shown}");
    }
}
