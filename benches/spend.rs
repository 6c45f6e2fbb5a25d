//! Durable spends per second through the library and the SQLite ledger (WAL,
//! synchronous = FULL: every commit is fsynced), sequentially and with several writers on one
//! ledger file (each with its own connection, as separate processes would have), beside the
//! floor of durability measured in the same run: one fsynced one-row SQLite transaction.
//!
//! `cargo bench --bench spend` prints ops/s and ratios. Not a timed test: it asserts nothing.

use crumb::ledger::SqliteLedger;
use crumb::ledger::Wait as _;
use crumb::token::identifier::Nonce;
use crumb::{Context, Keyring, Macaroon, RootKey, TokenId, Verifier};
use std::time::Instant;

const SEQUENTIAL: usize = 400;
const WRITERS: usize = 4;

fn mint_many(keys: &Keyring, n: usize) -> Vec<Macaroon> {
    let entry = keys.current().unwrap();
    (0..n)
        .map(|_| {
            let id = TokenId::new(&entry.id, Nonce::random().unwrap());
            let mut m = Macaroon::mint(&entry.key, id.encode(), None);
            m.add_first_party(&b"action = pay"[..]);
            m.add_first_party(&b"balance <= 1000"[..]);
            m
        })
        .collect()
}

fn spend_all(keys: &Keyring, ledger: &SqliteLedger, tokens: Vec<Macaroon>) {
    let verifier = Verifier::new(keys);
    let mut ctx = Context::now();
    ctx.action = Some("pay".into());
    ctx.cost = 1;
    for t in tokens {
        crumb::spend::spend(&verifier, ledger, t.into(), &ctx, None).wait().expect("spend");
    }
}

fn floor(path: &std::path::Path, n: usize) -> f64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("CREATE TABLE t (k BLOB PRIMARY KEY)").unwrap();
    let started = Instant::now();
    for i in 0..n {
        conn.execute("INSERT INTO t VALUES (?1)", [&(i as u64).to_be_bytes()[..]]).unwrap();
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    println!("ledger directory: {} (fsync per commit)", dir.path().display());
    let mut keys = Keyring::default();
    keys.add_current(RootKey::generate().unwrap());

    let floor_rate = floor(&dir.path().join("floor.db"), SEQUENTIAL);

    let ledger = SqliteLedger::open(&dir.path().join("seq.db")).unwrap();
    let tokens = mint_many(&keys, SEQUENTIAL);
    let started = Instant::now();
    spend_all(&keys, &ledger, tokens);
    let sequential = SEQUENTIAL as f64 / started.elapsed().as_secs_f64();

    let path = dir.path().join("shared.db");
    drop(SqliteLedger::open(&path).unwrap());
    let batches: Vec<Vec<Macaroon>> = (0..WRITERS).map(|_| mint_many(&keys, SEQUENTIAL / WRITERS)).collect();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for batch in batches {
            let (keys, path) = (&keys, &path);
            scope.spawn(move || spend_all(keys, &SqliteLedger::open(path).unwrap(), batch));
        }
    });
    let concurrent = SEQUENTIAL as f64 / started.elapsed().as_secs_f64();

    println!("floor: fsynced one-row SQLite transaction   {floor_rate:>9.0} /s");
    println!(
        "crumb spend, sequential                      {sequential:>9.0} /s   {:.2}x of the floor",
        sequential / floor_rate
    );
    println!(
        "crumb spend, {WRITERS} writers on one ledger          {concurrent:>9.0} /s   {:.2}x of the floor",
        concurrent / floor_rate
    );
}
