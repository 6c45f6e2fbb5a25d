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
//!
//! How it runs: the async driver (tokio-postgres), its connections in a deadpool-postgres pool
//! with a statement cache per connection, on a two-thread runtime the ledger owns (`crumb-pg-*`).
//! Each operation is a task there that fulfils the operation's [`Pending`]: a caller on any
//! thread or executor only waits, and nothing here ever blocks on or enters the caller's
//! runtime. Connecting — TCP, TLS, authentication, the session's statement timeout — is bounded
//! as a whole by the connect timeout, so a server that accepts and says nothing fails in time.

use super::window::{self, RateLimited, Window};
use super::{
    Commit, CommitOutcome, DelegationRevoke, GaveBack, GiveBack, LedgerError, LedgerErrorKind, Lineage, LiveRevoke,
    Node, OpenOptions, Reservation, Reserved, Scope, SpendKind, Spent, Status, Ticket, TokenInfo, TopUp, ToppedUp,
};
use super::{Completer, Ledger, Pending};
use crate::backoff::Backoff;
use crate::limits;
use crate::token::identifier::Nonce;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Row, Transaction};
use tokio_postgres_rustls::MakeRustlsConnect;

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

/// The ledger: its connections in a pool, worked by a small runtime of its own. Each operation
/// is a task on that runtime that fulfils the operation's [`Pending`], so callers on any
/// thread or executor (the server's runtime, the CLI's plain thread) never run its I/O, and
/// work once started runs to its end whether or not anyone still waits for the answer.
pub struct PostgresLedger {
    shared: Arc<Shared>,
    /// Where the operations run (the runtime itself is stopped from a thread of its own when
    /// the ledger is dropped: see `Drop`).
    handle: Handle,
    runtime: Option<Runtime>,
    /// A clone rides with every task: when all are gone, no work is under way.
    working: Option<mpsc::Sender<()>>,
    idle: Option<mpsc::Receiver<()>>,
}

/// What every task of the ledger shares: where the database is, and the pool.
struct Shared {
    location: String,
    tls: tls::TlsSettings,
    pool: Pool,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresLedger({})", self.shared.location)
    }
}

/// How the pool opens a connection: the driver's connect (TCP, TLS, authentication), its
/// connection task spawned on the ledger's runtime, then the session's statement timeout. The
/// pool bounds all of it by its create timeout.
struct Connector {
    tls: MakeRustlsConnect,
}

type ConnectFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>> + Send + 'a>>;

impl deadpool_postgres::Connect for Connector {
    fn connect(&self, config: &tokio_postgres::Config) -> ConnectFuture<'_> {
        let (config, tls) = (config.clone(), self.tls.clone());
        Box::pin(async move {
            let (client, connection) = config.connect(tls).await?;
            let task = tokio::spawn(async move {
                // Its end (a dropped connection) shows on the client as closed: the pool
                // discards it, and the operation's retry takes a new one.
                let _ = connection.await;
            });
            client.batch_execute(&format!("SET statement_timeout = '{STATEMENT_TIMEOUT}'")).await?;
            Ok((client, task))
        })
    }
}

/// A failure inside an operation, before it is classified.
enum Failure {
    Db(tokio_postgres::Error),
    Corrupt(String),
    /// Connecting (TCP, TLS and authentication together) took longer than the connect timeout.
    ConnectTimedOut,
    /// The pool failed otherwise (closed: the ledger is going away).
    Pool(String),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl From<PoolError> for Failure {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => Failure::Db(e),
            PoolError::Timeout(_) => Failure::ConnectTimedOut,
            other => Failure::Pool(other.to_string()),
        }
    }
}

/// What an attempt comes to: an answer, or a failure worth another try.
enum Verdict<T> {
    Done(Result<T, LedgerError>),
    Retry(Failure),
}

/// Pins an attempt's type (its `?` converts into [`Failure`]).
fn attempt<T, F: Future<Output = Result<T, Failure>>>(f: F) -> F {
    f
}

/// Runs `$body` (async code with `$conn`, a pooled connection) until it succeeds, fails in a
/// way not worth retrying, or [`RETRY_FOR`] has passed. `return` in the body ends the attempt.
macro_rules! run {
    ($shared:expr, |$conn:ident| $body:block) => {{
        let shared: &Shared = $shared;
        // The pauses' ceiling grows from 20 ms to 250 ms: replicas that conflicted on one row
        // come back spread out instead of conflicting again.
        let mut backoff = Backoff::exponential(Duration::from_millis(20), 2, Duration::from_millis(250))
            .until(Instant::now() + RETRY_FOR);
        loop {
            let outcome = attempt(async {
                #[allow(unused_mut)]
                let mut $conn = shared.pool.get().await?;
                $body
            })
            .await;
            match shared.verdict(outcome) {
                Verdict::Done(answer) => break answer,
                Verdict::Retry(failure) => {
                    if !backoff.pause().await {
                        break Err(shared.classify(failure));
                    }
                }
            }
        }
    }};
}

/// A write transaction around `$body` (async code with `$tx`, the transaction), retried as
/// [`run!`] retries; `$durable: false` commits without waiting for the WAL flush. `return` in
/// the body ends it early, and what it returned is committed.
macro_rules! write_tx {
    ($shared:expr, $durable:expr, |$tx:ident| $body:block) => {
        run!($shared, |conn| {
            let tx = conn.transaction().await?;
            if !$durable {
                tx.batch_execute("SET LOCAL synchronous_commit = off").await?;
            }
            let value = attempt(async {
                let $tx = &tx;
                $body
            })
            .await?;
            tx.commit().await?;
            Ok(value)
        })
    };
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
    match driver_url.parse::<tokio_postgres::Config>() {
        Ok(config) => describe(scheme, &config),
        Err(_) => format!("{scheme}://(not shown: not a URL PostgreSQL's driver reads)"),
    }
}

fn scheme(url: &str) -> &str {
    url.split_once("://").map_or("postgres", |(s, _)| s)
}

/// `scheme://user:***@host:port,…/dbname` from a parsed configuration.
fn describe(scheme: &str, config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
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
    /// Connects to `url`, applies migrations (unless `read_only`) and checks the schema. Call
    /// it from any thread, inside a runtime or not: the work runs on the ledger's own runtime.
    pub fn open(url: &str, options: OpenOptions) -> Result<Self, LedgerError> {
        // Every message and log line names the database by what the driver parsed, never the URL.
        let location = redact(url);
        let (driver_url, tls) =
            tls::settings(url).map_err(|e| LedgerError::new(LedgerErrorKind::Unsupported, &location, e.to_string()))?;
        let mut config: tokio_postgres::Config = driver_url.parse().map_err(|e: tokio_postgres::Error| {
            LedgerError::new(LedgerErrorKind::Unsupported, &location, format!("not a PostgreSQL URL: {e}"))
        })?;
        config.connect_timeout(CONNECT_TIMEOUT).keepalives(true).application_name("crumb");
        // As libpq, sslmode does not apply over a Unix socket: the connection never leaves the
        // machine, and PostgreSQL offers no TLS there.
        let unix_only = config.get_hostaddrs().is_empty()
            && !config.get_hosts().is_empty()
            && config.get_hosts().iter().all(|h| !matches!(h, tokio_postgres::config::Host::Tcp(_)));
        config.ssl_mode(if unix_only { tokio_postgres::config::SslMode::Disable } else { tls.driver_mode() });
        // The whole setup of a connection (TCP, TLS, authentication, the session's settings)
        // within the connect timeout, per host the URL names (the driver tries them in turn).
        let setup = CONNECT_TIMEOUT * u32::try_from(config.get_hosts().len().max(1)).unwrap_or(u32::MAX);
        // The roots are read once: a CA file that cannot be used fails the open, not each connection.
        let connector = tls.connector().map_err(|e| LedgerError::unavailable(&location, e.to_string()))?;
        let manager = Manager::from_connect(
            config,
            Connector { tls: connector },
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(options.concurrency.clamp(1, 64))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(setup))
            .build()
            .map_err(|e| LedgerError::unavailable(&location, format!("cannot set up its connection pool: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            // Only name resolution blocks (the driver resolves host names on the blocking pool).
            .max_blocking_threads(2)
            .thread_name_fn(|| {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                format!("crumb-pg-{}", NEXT.fetch_add(1, Ordering::Relaxed))
            })
            .enable_all()
            .build()
            .map_err(|e| LedgerError::unavailable(&location, format!("cannot start its runtime: {e}")))?;
        let (working, idle) = mpsc::channel(1);
        let ledger = PostgresLedger {
            shared: Arc::new(Shared { location, tls, pool }),
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            working: Some(working),
            idle: Some(idle),
        };
        // Waited for on this thread without entering the runtime (this may be a thread of
        // another runtime: the server's start-up).
        let found = ledger
            .spawn(
                Pending::channel(&ledger.shared.location),
                move |s| async move { s.migrate(options.read_only).await },
            )
            .wait()?;
        let location = &ledger.shared.location;
        match found {
            v if v > SCHEMA_VERSION => Err(LedgerError::schema_too_new(location, v, SCHEMA_VERSION)),
            0 if options.read_only => Err(LedgerError::missing(location)),
            v if v < SCHEMA_VERSION && options.read_only => {
                Err(LedgerError::schema_too_old(location, v, SCHEMA_VERSION))
            }
            _ => Ok(ledger),
        }
    }

    /// Starts `work` on the ledger's runtime; it answers through `ends`' completer, whether or
    /// not anyone still holds the [`Pending`].
    fn spawn<T, F>(
        &self,
        (done, pending): (Completer<T>, Pending<T>),
        work: impl FnOnce(Arc<Shared>) -> F,
    ) -> Pending<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, LedgerError>> + Send + 'static,
    {
        let (work, working) = (work(self.shared.clone()), self.working.clone());
        self.handle.spawn(async move {
            let _working = working;
            // Nobody waiting: a hold was undone by the completion (see `reserve`).
            let _ = done.complete(work.await);
        });
        pending
    }

    fn channel<T>(&self) -> (Completer<T>, Pending<T>) {
        Pending::channel(&self.shared.location)
    }
}

/// How long a dropped ledger lets the work under way finish before its runtime stops (each
/// operation's retries, connects and statements are bounded well within it).
const DRAIN: Duration = Duration::from_secs(30);

impl Drop for PostgresLedger {
    /// The runtime is stopped on a thread of its own, never on the dropping one (which may be a
    /// thread of another runtime, where stopping one blocks or panics): it first lets the work
    /// under way finish (a settle whose caller went away still records), then stops.
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        drop(self.working.take());
        let idle = self.idle.take();
        let (give, take) = std::sync::mpsc::channel::<Runtime>();
        let stopper = std::thread::Builder::new().name("crumb-pg-stop".into()).spawn(move || {
            let Ok(runtime) = take.recv() else { return };
            if let Some(mut idle) = idle {
                // A new thread, in no runtime: blocking on this one is allowed here.
                runtime.block_on(async {
                    let _ = tokio::time::timeout(DRAIN, idle.recv()).await;
                });
            }
            runtime.shutdown_background();
        });
        match stopper {
            Ok(_) => {
                let _ = give.send(runtime);
            }
            // No thread to be had: stop at once, which never blocks.
            Err(_) => runtime.shutdown_background(),
        }
    }
}

impl Shared {
    /// The migration, under an advisory lock that serializes replicas starting together; the
    /// schema version found before it.
    async fn migrate(&self, read_only: bool) -> Result<i64, LedgerError> {
        run!(self, |conn| {
            let tx = conn.transaction().await?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS crumb_schema (version BIGINT NOT NULL)").await?;
            let found: Option<i64> =
                tx.query_opt("SELECT max(version) FROM crumb_schema", &[]).await?.and_then(|r| r.get(0));
            let found = found.unwrap_or(0);
            if !read_only && (0..SCHEMA_VERSION).contains(&found) {
                for step in &MIGRATIONS[found as usize..] {
                    tx.batch_execute(step).await?;
                }
                tx.execute("DELETE FROM crumb_schema", &[]).await?;
                tx.execute("INSERT INTO crumb_schema (version) VALUES ($1)", &[&SCHEMA_VERSION]).await?;
            }
            tx.commit().await?;
            Ok(found)
        })
    }

    /// Whether an attempt's outcome is final, or worth another try.
    fn verdict<T>(&self, outcome: Result<T, Failure>) -> Verdict<T> {
        match outcome {
            Ok(value) => Verdict::Done(Ok(value)),
            Err(Failure::Corrupt(reason)) => Verdict::Done(Err(LedgerError::corrupt(&self.location, reason))),
            // A certificate refused now is refused on the next try too: said at once.
            Err(Failure::Db(e)) if matches!(tls::failure(&e, &self.tls), Some((_, false))) => {
                Verdict::Done(Err(self.classify(Failure::Db(e))))
            }
            Err(Failure::Db(e)) if retryable(&e) => Verdict::Retry(Failure::Db(e)),
            Err(Failure::ConnectTimedOut) => Verdict::Retry(Failure::ConnectTimedOut),
            Err(failure) => Verdict::Done(Err(self.classify(failure))),
        }
    }

    fn classify(&self, failure: Failure) -> LedgerError {
        let e = match failure {
            Failure::Db(e) => e,
            Failure::Corrupt(reason) => return LedgerError::corrupt(&self.location, reason),
            Failure::ConnectTimedOut => {
                return LedgerError::unavailable(
                    &self.location,
                    format!(
                        "the database did not complete a connection within {} s (TCP, TLS and authentication)",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                )
            }
            Failure::Pool(reason) => return LedgerError::unavailable(&self.location, reason),
        };
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

    /// Marks the parent spent and records its children in one statement (one implicit
    /// transaction), if `sql`'s condition on the parent holds; else says why not, or `held`
    /// when only a hold stood in the way.
    async fn record(
        &self,
        c: &Commit,
        sql: &'static str,
        condition: &(dyn tokio_postgres::types::ToSql + Sync),
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
        run!(self, |conn| {
            let statement = conn.prepare_cached(sql).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 13] = [
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
                None if c.windows.is_empty() => conn.query_one(&statement, &params).await?.get(0),
                _ => {
                    let tx = conn.transaction().await?;
                    let taken = match claim {
                        Some(claim) => {
                            let head = head_of(&tx, &c.parent).await?;
                            if claim.take > claim.owed {
                                0
                            } else {
                                tx.execute(
                                    "UPDATE crumb_tokens SET credit = credit - $3 WHERE nonce = $1 AND credit = $2",
                                    &[&&head.0[..], &to_i64(claim.owed), &to_i64(claim.take)],
                                )
                                .await?
                            }
                        }
                        None => 1,
                    };
                    let written: i64 = if taken == 1 { tx.query_one(&statement, &params).await?.get(0) } else { 0 };
                    if written > 0 && !c.windows.is_empty() {
                        // The hold counted what was held; the spend counts what it cost. The
                        // children inherit the parent's windows.
                        if let Some(ticket) = ticket {
                            recount(&tx, ticket, Some(c.cost)).await?;
                        }
                        let keys = window_keys(&tx, &c.parent, &c.windows).await?;
                        tx.execute(
                            "UPDATE crumb_tokens SET windows = $2 WHERE nonce = ANY($1)",
                            &[&nonces, &window::encode(&c.windows, &keys)],
                        )
                        .await?;
                    }
                    if written > 0 {
                        tx.commit().await?;
                    } else {
                        tx.rollback().await?;
                    }
                    written
                }
            };
            if written > 0 {
                return Ok(CommitOutcome::Fresh);
            }
            let statement = conn.prepare_cached(STATUS_SQL).await?;
            let status = match conn.query_opt(&statement, &[&&c.parent.0[..]]).await? {
                Some(row) => status_of(&row, 0)?,
                None => Status::default(),
            };
            Ok(match (status.revoked_at, status.spent) {
                (Some(at), _) => CommitOutcome::Revoked(at),
                (None, Some(spent)) => CommitOutcome::AlreadySpent(spent),
                (None, None) => {
                    let owed = match c.credit {
                        Some(_) => {
                            let tx = conn.transaction().await?;
                            let head = head_of(&tx, &c.parent).await?;
                            let owed = credit_of(&tx, &head).await?;
                            tx.commit().await?;
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
async fn window_keys(tx: &Transaction<'_>, nonce: &Nonce, windows: &[Window]) -> Result<Vec<[u8; 32]>, Failure> {
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let inherited: Option<String> = tx
        .query_opt("SELECT windows FROM crumb_tokens WHERE nonce = $1", &[&&nonce.0[..]])
        .await?
        .and_then(|r| r.get(0));
    Ok(window::keys(nonce, inherited.as_deref(), windows))
}

/// Counts `amount` against each of `parent`'s windows for `ticket`, or says which is full
/// (then nothing is counted). Each window's row is locked (in key order, so two spends never
/// wait on each other's), and what has left it dropped first.
async fn count(
    tx: &Transaction<'_>,
    parent: &Nonce,
    windows: &[Window],
    amount: u64,
    now: i64,
    ticket: &Ticket,
) -> Result<Option<RateLimited>, Failure> {
    if windows.is_empty() || amount == 0 {
        return Ok(None);
    }
    let keys = window_keys(tx, parent, windows).await?;
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    let mut state = Vec::with_capacity(keys.len());
    for i in order {
        let (w, key) = (&windows[i], &keys[i]);
        let cutoff = window::cutoff(now, w.secs);
        tx.execute(
            "INSERT INTO crumb_windows (key, total, last_at) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING",
            &[&&key[..], &i64::MIN],
        )
        .await?;
        let row =
            tx.query_one("SELECT total, last_at FROM crumb_windows WHERE key = $1 FOR UPDATE", &[&&key[..]]).await?;
        let (total, last_at): (i64, i64) = (row.get(0), row.get(1));
        let left: i64 = tx
            .query_one(
                "WITH gone AS (DELETE FROM crumb_window_spends WHERE key = $1 AND at <= $2 RETURNING amount)
                 SELECT COALESCE(SUM(amount), 0)::bigint FROM gone",
                &[&&key[..], &cutoff],
            )
            .await?
            .get(0);
        let used = (total - left).max(0) as u64;
        // The oldest spends are read only when the window refuses (to say when it will have
        // room): judged once without them, and again with them if it asked.
        let mut asked = false;
        let mut refused = window::judge(w, used, amount, now, last_at, || {
            asked = true;
            Vec::new()
        });
        if asked {
            let oldest: Vec<(i64, u64)> = tx
                .query(
                    "SELECT at, amount FROM crumb_window_spends WHERE key = $1 AND at > $2 ORDER BY at LIMIT $3",
                    &[&&key[..], &cutoff, &window::retry_scan()],
                )
                .await?
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1) as u64))
                .collect();
            refused = window::judge(w, used, amount, now, last_at, || oldest);
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
        )
        .await?;
        tx.execute(
            "INSERT INTO crumb_window_spends (key, at, amount, ticket) VALUES ($1, $2, $3, $4)",
            &[&&key[..], &at, &to_i64(amount), &&ticket.id()[..]],
        )
        .await?;
    }
    Ok(None)
}

/// What `ticket`'s hold counts in its windows becomes `amount` (`None`: nothing, released).
async fn recount(tx: &Transaction<'_>, ticket: &Ticket, amount: Option<u64>) -> Result<(), Failure> {
    let mut held: Vec<(Vec<u8>, i64)> = tx
        .query("SELECT key, amount FROM crumb_window_spends WHERE ticket = $1", &[&&ticket.id()[..]])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    held.sort();
    for (key, was) in held {
        let now = amount.map_or(0, to_i64);
        tx.execute("UPDATE crumb_windows SET total = GREATEST(total - $2 + $3, 0) WHERE key = $1", &[&key, &was, &now])
            .await?;
    }
    match amount {
        None => tx.execute("DELETE FROM crumb_window_spends WHERE ticket = $1", &[&&ticket.id()[..]]).await?,
        Some(n) => {
            tx.execute("UPDATE crumb_window_spends SET amount = $2 WHERE ticket = $1", &[&&ticket.id()[..], &to_i64(n)])
                .await?
        }
    };
    Ok(())
}

/// Whether `nonce` is revoked.
async fn is_revoked(tx: &Transaction<'_>, nonce: &Nonce) -> Result<bool, Failure> {
    Ok(tx
        .query_opt("SELECT revoked_at FROM crumb_tokens WHERE nonce = $1", &[&&nonce.0[..]])
        .await?
        .and_then(|r| r.get::<_, Option<String>>(0))
        .is_some())
}

/// The head of the lineage `nonce` belongs to (itself when it heads its own).
async fn head_of(tx: &Transaction<'_>, nonce: &Nonce) -> Result<Nonce, Failure> {
    let head: Option<Vec<u8>> =
        tx.query_opt("SELECT head FROM crumb_tokens WHERE nonce = $1", &[&&nonce.0[..]]).await?.and_then(|r| r.get(0));
    head.map_or(Ok(*nonce), |h| nonce_of(&h))
}

/// The lineage credit for `head` goes to: itself, or, when it has ended (given back, or
/// revoked as a delegation), the lineage it handed on to, transitively.
async fn receiver_of(tx: &Transaction<'_>, head: Nonce) -> Result<Nonce, Failure> {
    let mut at = head;
    for _ in 0..limits::MAX_LINEAGE_ANCESTORS {
        let next: Option<Vec<u8>> = tx
            .query_opt("SELECT gave_to FROM crumb_tokens WHERE nonce = $1", &[&&at.0[..]])
            .await?
            .and_then(|r| r.get(0));
        match next {
            Some(next) => at = nonce_of(&next)?,
            None => break,
        }
    }
    Ok(at)
}

/// The returned credit owed to the lineage `head` heads.
async fn credit_of(tx: &Transaction<'_>, head: &Nonce) -> Result<u64, Failure> {
    let credit: Option<i64> =
        tx.query_opt("SELECT credit FROM crumb_tokens WHERE nonce = $1", &[&&head.0[..]]).await?.map(|r| r.get(0));
    Ok(credit.unwrap_or(0) as u64)
}

/// Adds `amount` to the credit owed to the lineage `head` heads (locking its row).
async fn deposit(tx: &Transaction<'_>, head: &Nonce, amount: u64) -> Result<(), Failure> {
    if amount > 0 {
        tx.execute(
            "INSERT INTO crumb_tokens (nonce, credit) VALUES ($1, $2)
             ON CONFLICT (nonce) DO UPDATE SET credit = crumb_tokens.credit + excluded.credit",
            &[&&head.0[..], &to_i64(amount)],
        )
        .await?;
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
fn retryable(e: &tokio_postgres::Error) -> bool {
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
async fn lock_row(tx: &Transaction<'_>, nonce: &Nonce) -> Result<Locked, Failure> {
    tx.execute("INSERT INTO crumb_tokens (nonce) VALUES ($1) ON CONFLICT (nonce) DO NOTHING", &[&&nonce.0[..]]).await?;
    let row = tx
        .query_one(
            &format!(
                "SELECT {STATUS_COLUMNS}, reserved_ticket, reserved_until, reserved_lapse FROM crumb_tokens
             WHERE nonce = $1 FOR UPDATE"
            ),
            &[&&nonce.0[..]],
        )
        .await?;
    Ok(Locked { status: status_of(&row, 0)?, held_by: row.get(7), until: row.get(8), lapse: row.get(9) })
}

fn to_i64(n: u64) -> i64 {
    n as i64
}

async fn reserve_in(tx: &Transaction<'_>, r: &Reservation, ticket: Ticket) -> Result<Reserved, Failure> {
    let parent = r.parent();
    let Locked { status, held_by, until, lapse } = lock_row(tx, &parent).await?;
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
    if let Some(spent) = lapse_in(tx, &parent, held_by.as_deref(), lapse.as_deref()).await? {
        return Ok(Reserved::Spent(spent));
    }
    if let Some(refused) = count(tx, &parent, r.windows(), r.amount(), r.now(), &ticket).await? {
        return Ok(Reserved::RateLimited(refused));
    }
    tx.execute(
        "UPDATE crumb_tokens SET reserved_ticket = $2, reserved_until = $3, reserved_lapse = $4 WHERE nonce = $1",
        &[&&parent.0[..], &&ticket.id()[..], &r.until(), &r.lapse().map(super::encode_lapse)],
    )
    .await?;
    Ok(Reserved::Held(ticket))
}

/// A hold on `parent` (locked) that lapsed unsettled with its request forwarded (its gateway
/// died): recorded now, in this transaction, as the settle at the price held that it carries,
/// so the request is neither free nor lost. Returns what the token was spent by then.
async fn lapse_in(
    tx: &Transaction<'_>,
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
        )
        .await?
        .get(0);
    if written == 0 {
        return Ok(None);
    }
    if !c.windows.is_empty() {
        recount(tx, &ticket, Some(c.cost)).await?;
        let keys = window_keys(tx, &c.parent, &c.windows).await?;
        tx.execute(
            "UPDATE crumb_tokens SET windows = $2 WHERE nonce = ANY($1)",
            &[&nonces, &window::encode(&c.windows, &keys)],
        )
        .await?;
    }
    let row = tx.query_one(STATUS_SQL, &[&&parent.0[..]]).await?;
    Ok(status_of(&row, 0)?.spent)
}

impl Shared {
    async fn status(&self, nonce: &Nonce) -> Result<Status, LedgerError> {
        run!(self, |conn| {
            let statement = conn.prepare_cached(STATUS_SQL).await?;
            let row = conn.query_opt(&statement, &[&&nonce.0[..]]).await?;
            row.map_or(Ok(Status::default()), |r| status_of(&r, 0))
        })
    }

    async fn reserve(&self, r: &Reservation) -> Result<Reserved, LedgerError> {
        let ticket = Ticket::issue(r.parent())?;
        write_tx!(self, false, |tx| { reserve_in(tx, r, ticket).await })
    }

    async fn settle(&self, ticket: &Ticket, c: &Commit) -> Result<CommitOutcome, LedgerError> {
        if c.parent != ticket.parent() {
            return Ok(CommitOutcome::ReservationLost);
        }
        let outcome =
            self.record(c, SETTLE_SQL, &&ticket.id()[..], CommitOutcome::ReservationLost, Some(ticket)).await?;
        if let CommitOutcome::Revoked(_) = &outcome {
            self.charge_revoked(ticket, c).await?;
        }
        Ok(outcome)
    }

    /// A request that reached its upstream on a token revoked meanwhile (still held by
    /// `ticket`, the hold carrying what it becomes if it lapses): it was served, so its charge
    /// is recorded (no successor: the token is revoked), and what the revocation kept back
    /// beyond the charge goes where the revocation sent the rest (a revoked delegation's
    /// holder; nowhere after an operator's revocation, which ends the balance).
    async fn charge_revoked(&self, ticket: &Ticket, c: &Commit) -> Result<(), LedgerError> {
        write_tx!(self, true, |tx| {
            let Locked { status, held_by, lapse, .. } = lock_row(tx, &c.parent).await?;
            let (Some(text), true) = (lapse, held_by.as_deref() == Some(&ticket.id()[..])) else { return Ok(()) };
            if status.revoked_at.is_none() || status.spent.is_some() {
                return Ok(());
            }
            let held = super::held_by_lapse(c.parent, &text);
            let cost = c.cost.min(held);
            tx.execute(
                "UPDATE crumb_tokens SET spent_at = $2, spent_request = $3, spent_kind = $4, spent_cost = $5,
                     spent_amounts = '', spent_by = $6, reserved_ticket = NULL, reserved_until = NULL,
                     reserved_lapse = NULL
                 WHERE nonce = $1",
                &[&&c.parent.0[..], &c.at, &c.request_id, &c.kind.as_str(), &to_i64(cost), &&c.presented[..]],
            )
            .await?;
            recount(tx, ticket, Some(cost)).await?;
            let head = head_of(tx, &c.parent).await?;
            let receiver = receiver_of(tx, head).await?;
            if receiver != head {
                deposit(tx, &receiver, held - cost).await?;
            }
            Ok(())
        })
    }

    /// The hold and the record in one statement: one round trip and one durable commit. A
    /// token with spend-rate windows is held first (the windows counted under their rows'
    /// locks), then settled; a settle that fails gives the hold back.
    async fn commit(&self, r: &Reservation, c: &Commit) -> Result<CommitOutcome, LedgerError> {
        if r.windows().is_empty() {
            // Held by another, or by a hold that lapsed with its request forwarded: the
            // reserve below tells the two apart (and records the lapsed one).
            match self.record(c, COMMIT_SQL, &r.now(), CommitOutcome::InFlight, None).await? {
                CommitOutcome::InFlight => {}
                outcome => return Ok(outcome),
            }
        }
        match self.reserve(r).await? {
            Reserved::Held(ticket) => match self.settle(&ticket, c).await {
                Ok(CommitOutcome::Fresh) => Ok(CommitOutcome::Fresh),
                other => {
                    let _ = self.release(&ticket).await;
                    other
                }
            },
            Reserved::Spent(spent) => Ok(CommitOutcome::AlreadySpent(spent)),
            Reserved::Revoked(at) => Ok(CommitOutcome::Revoked(at)),
            Reserved::InFlight => Ok(CommitOutcome::InFlight),
            Reserved::RateLimited(refused) => Ok(CommitOutcome::RateLimited(refused)),
        }
    }

    async fn release(&self, ticket: &Ticket) -> Result<(), LedgerError> {
        write_tx!(self, false, |tx| {
            let released = tx
                .execute(
                    "UPDATE crumb_tokens SET reserved_ticket = NULL, reserved_until = NULL, reserved_lapse = NULL
                 WHERE nonce = $1 AND reserved_ticket = $2",
                    &[&&ticket.parent().0[..], &&ticket.id()[..]],
                )
                .await?;
            if released > 0 {
                recount(tx, ticket, None).await?;
            }
            Ok(())
        })
    }

    async fn top_up(&self, t: &TopUp) -> Result<ToppedUp, LedgerError> {
        write_tx!(self, true, |tx| {
            // One top-up per request id at a time, across replicas: the id's row is the lock.
            let before = tx
                .query_opt(
                    "SELECT nonce, amount, head FROM crumb_top_ups WHERE request_id = $1 FOR UPDATE",
                    &[&t.request_id],
                )
                .await?;
            if let Some(r) = before {
                let (nonce, amount, head): (Vec<u8>, i64, Vec<u8>) = (r.get(0), r.get(1), r.get(2));
                return Ok(if nonce == t.nonce.0 && amount as u64 == t.amount {
                    ToppedUp::Replayed { head: nonce_of(&head)? }
                } else {
                    ToppedUp::RequestIdReused
                });
            }
            if is_revoked(tx, &t.nonce).await? {
                return Ok(ToppedUp::Revoked);
            }
            let mut head = head_of(tx, &t.nonce).await?;
            for _ in 0..limits::MAX_LINEAGE_ANCESTORS {
                let next: Option<Vec<u8>> = tx
                    .query_opt("SELECT gave_to FROM crumb_tokens WHERE nonce = $1", &[&&head.0[..]])
                    .await?
                    .and_then(|r| r.get(0));
                match next {
                    Some(next) => head = nonce_of(&next)?,
                    None => break,
                }
            }
            if is_revoked(tx, &head).await? {
                return Ok(ToppedUp::Revoked);
            }
            // The head's row locked (created if the ledger never saw the token), then its credit.
            tx.execute("INSERT INTO crumb_tokens (nonce) VALUES ($1) ON CONFLICT (nonce) DO NOTHING", &[&&head.0[..]])
                .await?;
            let owed: i64 = tx
                .query_one("SELECT credit FROM crumb_tokens WHERE nonce = $1 FOR UPDATE", &[&&head.0[..]])
                .await?
                .get(0);
            let owed = owed as u64;
            let Some(total) = owed.checked_add(t.amount).filter(|&n| n <= limits::MAX_AMOUNT) else {
                return Ok(ToppedUp::TooMuch { owed });
            };
            let inserted = tx
                .execute(
                    "INSERT INTO crumb_top_ups (request_id, nonce, amount, head, at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (request_id) DO NOTHING",
                    &[&t.request_id, &&t.nonce.0[..], &to_i64(t.amount), &&head.0[..], &t.at],
                )
                .await?;
            if inserted == 0 {
                // Another replica wrote this request id meanwhile (the insert waited for it):
                // answer from its row, adding nothing.
                let r = tx
                    .query_one("SELECT nonce, amount FROM crumb_top_ups WHERE request_id = $1", &[&t.request_id])
                    .await?;
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
            )
            .await?;
            Ok(ToppedUp::Fresh { head, owed: total })
        })
    }

    async fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Result<Vec<u64>, LedgerError> {
        write_tx!(self, false, |tx| {
            let keys = window_keys(tx, nonce, windows).await?;
            let mut used = Vec::with_capacity(keys.len());
            for (w, key) in windows.iter().zip(&keys) {
                let sum: i64 = tx
                    .query_one(
                        "SELECT COALESCE(SUM(amount), 0)::bigint FROM crumb_window_spends WHERE key = $1 AND at > $2",
                        &[&&key[..], &window::cutoff(now, w.secs)],
                    )
                    .await?
                    .get(0);
                used.push(sum.max(0) as u64);
            }
            Ok(used)
        })
    }

    async fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, LedgerError> {
        write_tx!(self, true, |tx| {
            tx.execute("INSERT INTO crumb_tokens (nonce) VALUES ($1) ON CONFLICT (nonce) DO NOTHING", &[&&nonce.0[..]])
                .await?;
            let mut revoked = Vec::new();
            let mut level: Vec<Vec<u8>> = vec![nonce.0.to_vec()];
            while !level.is_empty() {
                // Lock this level (revoking what is live), then read the next: a spend of a
                // node here either committed before the lock (its children are read below) or
                // waits for it and then finds the node revoked.
                let rows = tx
                    .query(
                        "SELECT nonce FROM crumb_tokens WHERE nonce = ANY($1) AND revoked_at IS NULL FOR UPDATE",
                        &[&level],
                    )
                    .await?;
                let live: Vec<Vec<u8>> = rows.iter().map(|r| r.get(0)).collect();
                tx.execute("UPDATE crumb_tokens SET revoked_at = $2 WHERE nonce = ANY($1)", &[&live, &at]).await?;
                for n in &live {
                    revoked.push(nonce_of(n)?);
                }
                if !cascade {
                    break;
                }
                level = tx
                    .query("SELECT nonce FROM crumb_tokens WHERE parent = ANY($1)", &[&level])
                    .await?
                    .iter()
                    .map(|r| r.get::<_, Vec<u8>>(0))
                    .collect();
            }
            Ok(revoked)
        })
    }

    async fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Result<LiveRevoke, LedgerError> {
        write_tx!(self, true, |tx| {
            let status = lock_row(tx, nonce).await?.status;
            Ok(match (status.revoked_at, status.spent) {
                (Some(_), _) => LiveRevoke::AlreadyRevoked,
                (None, Some(_)) => LiveRevoke::Consumed,
                (None, None) => {
                    tx.execute("UPDATE crumb_tokens SET revoked_at = $2 WHERE nonce = $1", &[&&nonce.0[..], &at])
                        .await?;
                    LiveRevoke::Revoked
                }
            })
        })
    }

    async fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Result<Lineage, LedgerError> {
        run!(self, |conn| {
            let tx = conn
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let mut root = *nonce;
            let mut root_not_reached = scope == Scope::WholeTree;
            if scope == Scope::WholeTree {
                let up = tx.prepare("SELECT parent FROM crumb_tokens WHERE nonce = $1").await?;
                for _ in 0..=limits::MAX_LINEAGE_ANCESTORS {
                    let parent: Option<Vec<u8>> = tx.query_opt(&up, &[&&root.0[..]]).await?.and_then(|r| r.get(0));
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
            ).await?;
            tx.commit().await?;
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

    async fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Result<bool, LedgerError> {
        write_tx!(self, true, |tx| {
            let Locked { status, held_by, until, lapse } = lock_row(tx, nonce).await?;
            if status.spent.is_some() || status.revoked_at.is_some() || until.is_none_or(|u| u > now) {
                return Ok(false);
            }
            Ok(lapse_in(tx, nonce, held_by.as_deref(), lapse.as_deref()).await?.is_some())
        })
    }

    async fn info(&self, nonce: &Nonce) -> Result<TokenInfo, LedgerError> {
        run!(self, |conn| {
            let tx = conn
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let row = tx
                .query_opt(
                    &format!(
                        "SELECT {STATUS_COLUMNS}, parent, balance, reserved_until, revocable, is_change, head
                     FROM crumb_tokens WHERE nonce = $1"
                    ),
                    &[&&nonce.0[..]],
                )
                .await?;
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
            info.credit_owed = credit_of(&tx, &info.head.unwrap_or(*nonce)).await?;
            let topped: Option<i64> = tx
                .query_opt(
                    "SELECT topped_up FROM crumb_tokens WHERE nonce = $1",
                    &[&&info.head.unwrap_or(*nonce).0[..]],
                )
                .await?
                .map(|r| r.get(0));
            info.topped_up = topped.unwrap_or(0) as u64;
            tx.commit().await?;
            Ok(info)
        })
    }

    async fn revoke_delegation(
        &self,
        holder: &Nonce,
        child: &Nonce,
        at: &str,
    ) -> Result<DelegationRevoke, LedgerError> {
        write_tx!(self, true, |tx| {
            let standing = lock_row(tx, holder).await?.status;
            if standing.revoked_at.is_some() || standing.spent.is_some() {
                return Ok(DelegationRevoke::HolderNotLive { revoked: standing.revoked_at.is_some() });
            }
            let holder_head = head_of(tx, holder).await?;
            let row = tx
                .query_opt(
                    "SELECT parent, revocable, is_change FROM crumb_tokens WHERE nonce = $1 FOR UPDATE",
                    &[&&child.0[..]],
                )
                .await?;
            let Some(row) = row else { return Ok(DelegationRevoke::NotYours) };
            let Some(parent) = row.get::<_, Option<Vec<u8>>>(0) else { return Ok(DelegationRevoke::NotYours) };
            if head_of(tx, &nonce_of(&parent)?).await? != holder_head {
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
                let rows = tx
                    .query(
                        "SELECT nonce, balance, spent_at IS NULL AND revoked_at IS NULL, revoked_at IS NULL, credit,
                         CASE WHEN reserved_ticket IS NOT NULL THEN reserved_lapse END
                     FROM crumb_tokens WHERE nonce = ANY($1) FOR UPDATE",
                        &[&level],
                    )
                    .await?;
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
                )
                .await?;
                // Each lineage in the subtree is finished: what still comes to it (the part of a
                // price held that its request's settle does not charge) goes on to the holder's.
                tx.execute(
                    "UPDATE crumb_tokens SET gave_to = $2 WHERE nonce = ANY($1) AND head IS NULL AND gave_to IS NULL",
                    &[&level, &&holder_head.0[..]],
                )
                .await?;
                for n in &fresh {
                    revoked.push(nonce_of(n)?);
                }
                // The delegate's own tokens (its change) and its own delegations, never what it
                // paid away: a transfer out of the subtree is a payment, final like any other.
                level = tx
                    .query(
                        "SELECT nonce FROM crumb_tokens WHERE parent = ANY($1) AND (is_change OR revocable)",
                        &[&level],
                    )
                    .await?
                    .iter()
                    .map(|r| r.get::<_, Vec<u8>>(0))
                    .collect();
            }
            deposit(tx, &holder_head, returned).await?;
            Ok(DelegationRevoke::Revoked { revoked, returned })
        })
    }

    async fn give_back(&self, g: &GiveBack) -> Result<GaveBack, LedgerError> {
        write_tx!(self, true, |tx| {
            let Locked { status, held_by, until, lapse } = lock_row(tx, &g.parent).await?;
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
            if let Some(spent) = lapse_in(tx, &g.parent, held_by.as_deref(), lapse.as_deref()).await? {
                return Ok(GaveBack::AlreadySpent(spent));
            }
            let head = head_of(tx, &g.parent).await?;
            let split_from: Option<Vec<u8>> = tx
                .query_opt("SELECT parent FROM crumb_tokens WHERE nonce = $1", &[&&head.0[..]])
                .await?
                .and_then(|r| r.get(0));
            let balance: Option<i64> =
                tx.query_one("SELECT balance FROM crumb_tokens WHERE nonce = $1", &[&&g.parent.0[..]]).await?.get(0);
            let (Some(split_from), Some(balance)) = (split_from, balance) else { return Ok(GaveBack::NotDelegated) };
            let balance = balance as u64;
            let target = head_of(tx, &nonce_of(&split_from)?).await?;
            let own: i64 = tx
                .query_opt("SELECT credit FROM crumb_tokens WHERE nonce = $1 FOR UPDATE", &[&&head.0[..]])
                .await?
                .map_or(0, |r| r.get(0));
            let returned = balance.saturating_add(own as u64);
            tx.execute("UPDATE crumb_tokens SET credit = 0 WHERE nonce = $1", &[&&head.0[..]]).await?;
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
            )
            .await?;
            // This lineage is finished: credit that comes back to it later (a delegate of its
            // own giving back) goes on to where it gave back.
            tx.execute("UPDATE crumb_tokens SET gave_to = $2 WHERE nonce = $1", &[&&head.0[..], &&target.0[..]])
                .await?;
            let receiver = receiver_of(tx, target).await?;
            deposit(tx, &receiver, returned).await?;
            Ok(GaveBack::Fresh { returned })
        })
    }
}

impl Ledger for PostgresLedger {
    fn location(&self) -> &str {
        &self.shared.location
    }
    fn status(&self, nonce: &Nonce) -> Pending<Status> {
        let nonce = *nonce;
        self.spawn(self.channel(), move |s| async move { s.status(&nonce).await })
    }
    /// A release of a hold no token has: a write transaction that changes nothing.
    fn ready(&self) -> Pending<()> {
        self.spawn(self.channel(), |s| async move { s.release(&Ticket::issue(Nonce([0; 16]))?).await })
    }
    fn reserve(&self, reservation: &Reservation) -> Pending<Reserved> {
        let reservation = reservation.clone();
        // A hold nobody took would keep the token until it lapses: give it back now, on the
        // runtime (the undo may run on the caller's thread, as its `Pending` is dropped).
        let (shared, handle, working) = (self.shared.clone(), self.handle.clone(), self.working.clone());
        let undo = move |answer| {
            if let Reserved::Held(ticket) = answer {
                handle.spawn(async move {
                    let _working = working;
                    let _ = shared.release(&ticket).await;
                });
            }
        };
        let ends = Pending::channel_undoing(&self.shared.location, undo);
        self.spawn(ends, move |s| async move { s.reserve(&reservation).await })
    }
    fn settle(&self, ticket: &Ticket, commit: &Commit) -> Pending<CommitOutcome> {
        let (ticket, commit) = (*ticket, commit.clone());
        self.spawn(self.channel(), move |s| async move { s.settle(&ticket, &commit).await })
    }
    fn release(&self, ticket: &Ticket) -> Pending<()> {
        let ticket = *ticket;
        self.spawn(self.channel(), move |s| async move { s.release(&ticket).await })
    }
    fn commit(&self, reservation: &Reservation, commit: &Commit) -> Pending<CommitOutcome> {
        let (reservation, commit) = (reservation.clone(), commit.clone());
        self.spawn(self.channel(), move |s| async move { s.commit(&reservation, &commit).await })
    }
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Pending<Vec<Nonce>> {
        let (nonce, at) = (*nonce, at.to_owned());
        self.spawn(self.channel(), move |s| async move { s.revoke(&nonce, cascade, &at).await })
    }
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Pending<LiveRevoke> {
        let (nonce, at) = (*nonce, at.to_owned());
        self.spawn(self.channel(), move |s| async move { s.revoke_if_live(&nonce, &at).await })
    }
    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Pending<Lineage> {
        let nonce = *nonce;
        self.spawn(self.channel(), move |s| async move { s.lineage(&nonce, max_nodes, scope).await })
    }
    fn info(&self, nonce: &Nonce) -> Pending<TokenInfo> {
        let nonce = *nonce;
        self.spawn(self.channel(), move |s| async move { s.info(&nonce).await })
    }
    fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Pending<bool> {
        let nonce = *nonce;
        self.spawn(self.channel(), move |s| async move { s.record_lapsed(&nonce, now).await })
    }
    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Pending<DelegationRevoke> {
        let (holder, child, at) = (*holder, *child, at.to_owned());
        self.spawn(self.channel(), move |s| async move { s.revoke_delegation(&holder, &child, &at).await })
    }
    fn give_back(&self, g: &GiveBack) -> Pending<GaveBack> {
        let g = g.clone();
        self.spawn(self.channel(), move |s| async move { s.give_back(&g).await })
    }
    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Pending<Vec<u64>> {
        let (nonce, windows) = (*nonce, windows.to_vec());
        self.spawn(self.channel(), move |s| async move { s.window_use(&nonce, &windows, now).await })
    }
    fn top_up(&self, t: &TopUp) -> Pending<ToppedUp> {
        let t = t.clone();
        self.spawn(self.channel(), move |s| async move { s.top_up(&t).await })
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
            let config: tokio_postgres::Config = url.parse().unwrap();
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
