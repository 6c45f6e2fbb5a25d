//! The ledger backends every conformance test runs against: the embedded SQLite file (one
//! caller, and with group commit), and PostgreSQL on the test cluster
//! (`scripts/pg-test-cluster`). Each `open()` is a new handle to the same store, as another
//! process or replica would have.

use crumb::ledger::{self, Ledger, LedgerError, OpenOptions};
use crumb::token::identifier::Nonce;
use std::sync::Arc;

pub struct Backend {
    pub name: &'static str,
    location: String,
    concurrency: usize,
    /// Run through [`crumb::ledger::Threaded`], as a backend with a blocking driver is.
    threaded: bool,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    pub fn open(&self) -> Arc<dyn Ledger> {
        let opened = ledger::open(&self.location, OpenOptions::concurrent(self.concurrency)).expect("open the ledger");
        if self.threaded {
            return Arc::new(ledger::Threaded::new(Blocking(opened), 4).expect("start the ledger's threads"));
        }
        opened
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let location = dir.path().join("ledger.sqlite3").display().to_string();
        Backend { name: "sqlite", location, concurrency: 1, threaded: false, _dir: Some(dir) }
    }

    /// SQLite behind the blocking port on worker threads ([`crumb::ledger::Threaded`]): the
    /// adapter a backend with a blocking client uses, proved by the same suite.
    pub fn threaded() -> Self {
        Backend { name: "threaded", concurrency: 16, threaded: true, ..Backend::sqlite() }
    }

    pub fn sqlite_grouped() -> Self {
        Backend { name: "sqlite-group-commit", concurrency: 16, ..Backend::sqlite() }
    }

    /// A fresh database on the test cluster; `None` (and a skip notice) without one.
    pub fn postgres() -> Option<Self> {
        let location = fresh_postgres_database()?;
        Some(Backend { name: "postgres", location, concurrency: 16, threaded: false, _dir: None })
    }
}

/// The shared test cluster: every test that uses it holds it shared until the test ends; a
/// test that stops and starts the cluster ([`cluster_alone`]) holds it alone, so no other test
/// in this one binary sees the database go away under it.
static CLUSTER: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    /// This test thread's share of the cluster, dropped when the test's thread ends.
    static SHARE: std::cell::RefCell<Option<std::sync::RwLockReadGuard<'static, ()>>> =
        const { std::cell::RefCell::new(None) };
    static ALONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn share_cluster() {
    if ALONE.get() || SHARE.with(|s| s.borrow().is_some()) {
        return;
    }
    let guard = CLUSTER.read().unwrap_or_else(|p| p.into_inner());
    SHARE.with(|s| *s.borrow_mut() = Some(guard));
}

/// The cluster for this test alone (it will stop it): waits for every test using it to end.
pub fn cluster_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    ALONE.set(true);
    CLUSTER.write().unwrap_or_else(|p| p.into_inner())
}

/// Creates an empty database on the cluster `$CRUMB_TEST_POSTGRES_URL` names and returns its
/// URL. Without the variable the test says it skipped (a failure with CRUMB_REQUIRE_POSTGRES=1,
/// which CI sets).
pub fn fresh_postgres_database() -> Option<String> {
    let Some(admin) = std::env::var("CRUMB_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        super::skip_required(
            "CRUMB_REQUIRE_POSTGRES",
            "no PostgreSQL (run `eval \"$(scripts/pg-test-cluster start)\"` to test against one)",
        );
        return None;
    };
    share_cluster();
    let mut name = [0u8; 8];
    getrandom::getrandom(&mut name).unwrap();
    let name = format!("crumb_test_{}", hex::encode(name));
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect to the test cluster");
    client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create a test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
    Some(format!("{base}/{name}"))
}

/// The CA that issued the test cluster's TLS certificate (`scripts/pg-test-cluster` makes it).
pub fn cluster_ca() -> Option<String> {
    let ca = std::env::var("CRUMB_TEST_PG_CA")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| std::env::var("CRUMB_TEST_PG_CLUSTER").ok().map(|dir| format!("{dir}/tls/ca.crt")))?;
    std::path::Path::new(&ca).exists().then_some(ca)
}

/// A ledger seen through the blocking port: each call waits for the answer, as a synchronous
/// client would.
#[derive(Debug)]
struct Blocking(Arc<dyn Ledger>);

impl ledger::BlockingLedger for Blocking {
    fn location(&self) -> &str {
        self.0.location()
    }
    fn status(&self, nonce: &Nonce) -> Result<ledger::Status, LedgerError> {
        self.0.status(nonce).wait()
    }
    fn reserve(&self, r: &ledger::Reservation) -> Result<ledger::Reserved, LedgerError> {
        self.0.reserve(r).wait()
    }
    fn settle(&self, t: &ledger::Ticket, c: &ledger::Commit) -> Result<ledger::CommitOutcome, LedgerError> {
        self.0.settle(t, c).wait()
    }
    fn release(&self, t: &ledger::Ticket) -> Result<(), LedgerError> {
        self.0.release(t).wait()
    }
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Result<Vec<Nonce>, LedgerError> {
        self.0.revoke(nonce, cascade, at).wait()
    }
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Result<ledger::LiveRevoke, LedgerError> {
        self.0.revoke_if_live(nonce, at).wait()
    }
    fn lineage(&self, nonce: &Nonce, max: usize, scope: ledger::Scope) -> Result<ledger::Lineage, LedgerError> {
        self.0.lineage(nonce, max, scope).wait()
    }
    fn info(&self, nonce: &Nonce) -> Result<ledger::TokenInfo, LedgerError> {
        self.0.info(nonce).wait()
    }
    fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Result<bool, LedgerError> {
        self.0.record_lapsed(nonce, now).wait()
    }
    fn revoke_delegation(&self, h: &Nonce, c: &Nonce, at: &str) -> Result<ledger::DelegationRevoke, LedgerError> {
        self.0.revoke_delegation(h, c, at).wait()
    }
    fn give_back(&self, g: &ledger::GiveBack) -> Result<ledger::GaveBack, LedgerError> {
        self.0.give_back(g).wait()
    }
    fn window_use(&self, nonce: &Nonce, w: &[ledger::Window], now: i64) -> Result<Vec<u64>, LedgerError> {
        self.0.window_use(nonce, w, now).wait()
    }
    fn top_up(&self, t: &ledger::TopUp) -> Result<ledger::ToppedUp, LedgerError> {
        self.0.top_up(t).wait()
    }
}
