//! Faults under load, through real `crumb serve` replicas on a shared PostgreSQL database:
//! the database stopped and started again mid-load, and a replica killed with SIGKILL
//! mid-load. What must hold: no client ever received a successor whose record is missing;
//! credit is never spent twice; clients were told 503 (or could not connect) meanwhile and
//! retried the same request; service recovers without restarting crumb.
//!
//! Each test holds the shared test cluster alone while it stops it (`cluster_alone`), so no
//! other test sees the database go away. Needs `scripts/pg-test-cluster`
//! (CRUMB_TEST_PG_CLUSTER); skipped without it, required in CI.

use crate::common;

use common::backends::{cluster_alone, cluster_ca, fresh_postgres_database};
use common::server::{start_replicas, Server};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const AGENTS: usize = 24;
const BALANCE: u64 = 1_000;

/// What one agent saw: every successor it was handed, with its parent, and its last token.
#[derive(Default)]
struct Chain {
    /// (parent nonce, successor nonce, remaining) for every 200.
    received: Vec<(String, String, u64)>,
    last_token: String,
}

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    unavailable: AtomicUsize,
    unreachable: AtomicUsize,
    ok_after_fault: AtomicUsize,
}

/// POSTs a spend; `None` when the server could not be reached at all.
fn spend(server: &Server, token: &str, request_id: &str) -> Option<(u16, Value)> {
    let body = json!({ "token": token, "cost": 1, "request_id": request_id }).to_string();
    let url = format!("{}/v1/spend", server.url);
    let headers = [("Content-Type", "application/json")];
    let answer = common::http::try_send("POST", &url, &headers, &body, Duration::from_secs(15)).ok()?;
    Some((answer.status, answer.json()))
}

/// One agent: spends 1 at a time from its chain, retrying each request (same token, same id)
/// until it is answered, on whichever replica is up.
fn agent(
    servers: &[&Server],
    token: String,
    id: usize,
    stop: &AtomicBool,
    fault_over: &AtomicBool,
    counts: &Counts,
) -> Chain {
    let mut chain = Chain { last_token: token, ..Chain::default() };
    let mut step = 0;
    while !stop.load(Ordering::Relaxed) {
        let request_id = format!("agent-{id}-step-{step}");
        let started = Instant::now();
        let mut turn = id;
        loop {
            assert!(started.elapsed() < Duration::from_secs(60), "request {request_id} never got an answer");
            let server = servers[turn % servers.len()];
            turn += 1;
            match spend(server, &chain.last_token, &request_id) {
                Some((200, doc)) => {
                    counts.ok.fetch_add(1, Ordering::Relaxed);
                    if fault_over.load(Ordering::Relaxed) {
                        counts.ok_after_fault.fetch_add(1, Ordering::Relaxed);
                    }
                    let parent = doc["parent"].as_str().unwrap().to_owned();
                    let nonce = doc["nonce"].as_str().unwrap().to_owned();
                    chain.received.push((parent, nonce, doc["remaining"].as_u64().unwrap()));
                    chain.last_token = doc["token"].as_str().unwrap().to_owned();
                    break;
                }
                Some((503, _)) => {
                    counts.unavailable.fetch_add(1, Ordering::Relaxed);
                }
                // A hold left by a killed replica expires; meanwhile the token is in flight.
                Some((409, doc)) if doc["code"] == "in-flight" => {}
                Some((status, doc)) => panic!("request {request_id}: unexpected {status} {doc}"),
                None => {
                    counts.unreachable.fetch_add(1, Ordering::Relaxed);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        step += 1;
    }
    chain
}

/// Every successor a client received is recorded, as a child of the token it replaced, and
/// each chain's balance fell by exactly one per success: nothing was spent twice or lost.
fn check_records(url: &str, chains: &[Chain]) {
    let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
    for chain in chains {
        let mut expected = BALANCE;
        for (parent, nonce, remaining) in &chain.received {
            expected -= 1;
            assert_eq!(*remaining, expected, "a chain's balance fell by more than its spends");
            let row = db
                .query_opt(
                    "SELECT c.balance, p.spent_cost FROM crumb_tokens c JOIN crumb_tokens p ON p.nonce = c.parent
                     WHERE c.nonce = $1 AND c.parent = $2",
                    &[&hex::decode(nonce).unwrap(), &hex::decode(parent).unwrap()],
                )
                .unwrap();
            let row =
                row.unwrap_or_else(|| panic!("a client holds successor {nonce} but the ledger has no record of it"));
            assert_eq!((row.get::<_, i64>(0), row.get::<_, Option<i64>>(1)), (*remaining as i64, Some(1)));
        }
    }
}

fn cluster_ctl(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-test-cluster");
    let status = std::process::Command::new(script).arg(action).status().unwrap();
    assert!(status.success(), "pg-test-cluster {action} failed");
}

fn setup() -> Option<(String, Server, Server, Vec<String>)> {
    if std::env::var_os("CRUMB_TEST_PG_CLUSTER").is_none() {
        common::skip_required(
            "CRUMB_REQUIRE_POSTGRES",
            "no PostgreSQL test cluster to stop and start (scripts/pg-test-cluster)",
        );
        return None;
    }
    let url = fresh_postgres_database()?;
    // The replicas check the server's certificate: each connection replaced after a fault is a
    // new handshake under verify-full, and the retries must hold through it.
    let replicas_url = match cluster_ca() {
        Some(ca) => format!("{url}?sslmode=verify-full&sslrootcert={ca}"),
        None => url.clone(),
    };
    let (a, b) = start_replicas(&replicas_url);
    let tokens = (0..AGENTS).map(|_| a.mint(&["--balance", &BALANCE.to_string()])).collect();
    Some((url, a, b, tokens))
}

/// Runs the agents against `servers` while `fault` happens, then lets them recover.
fn load_through(servers: &[&Server], tokens: Vec<String>, fault: impl FnOnce()) -> (Vec<Chain>, Counts) {
    let (stop, fault_over, counts) = (AtomicBool::new(false), AtomicBool::new(false), Counts::default());
    let chains = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                let (stop, fault_over, counts) = (&stop, &fault_over, &counts);
                scope.spawn(move || agent(servers, t, i, stop, fault_over, counts))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(counts.ok.load(Ordering::Relaxed) > 0, "no spend succeeded before the fault");
        fault();
        fault_over.store(true, Ordering::Relaxed);
        // Recovery: spends go through again without restarting crumb.
        let recovering = Instant::now();
        while counts.ok_after_fault.load(Ordering::Relaxed) < AGENTS && recovering.elapsed() < Duration::from_secs(40) {
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    (chains, counts)
}

#[test]
fn postgres_stopped_mid_load_gives_503_then_recovers_and_loses_nothing() {
    let _alone = cluster_alone();
    let Some((url, a, b, tokens)) = setup() else { return };
    let (chains, counts) = load_through(&[&a, &b], tokens, || {
        cluster_ctl("stop");
        std::thread::sleep(Duration::from_secs(2));
        cluster_ctl("start");
    });
    let (ok, unavailable) = (counts.ok.load(Ordering::Relaxed), counts.unavailable.load(Ordering::Relaxed));
    eprintln!("database stop: {ok} spends, {unavailable} answers 503 while the database was down");
    assert!(unavailable > 0, "no client was told 503 while the database was down");
    assert!(counts.ok_after_fault.load(Ordering::Relaxed) >= AGENTS, "service did not recover");
    check_records(&url, &chains);
}

#[test]
fn a_replica_killed_mid_load_loses_nothing_and_the_other_serves_on() {
    let _alone = cluster_alone();
    let Some((url, mut a, b, tokens)) = setup() else { return };
    let pid = a.child.id();
    let (chains, counts) = load_through(&[&a, &b], tokens, || {
        std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    });
    let _ = a.child.wait();
    let (ok, unreachable) = (counts.ok.load(Ordering::Relaxed), counts.unreachable.load(Ordering::Relaxed));
    eprintln!("replica kill: {ok} spends, {unreachable} attempts found the killed replica gone");
    assert!(unreachable > 0, "the kill went unnoticed");
    check_records(&url, &chains);
}

/// A metering proxy on PostgreSQL whose database goes away while requests are at the upstream:
/// each settle is retried until the database is back, so every request that reached the
/// upstream is charged once, its client gets the successor, and no token is left held.
#[test]
fn a_proxy_whose_database_restarts_mid_request_settles_once_it_is_back() {
    let _alone = cluster_alone();
    if std::env::var_os("CRUMB_TEST_PG_CLUSTER").is_none() {
        common::skip_required("CRUMB_REQUIRE_POSTGRES", "no PostgreSQL test cluster to stop and start");
        return;
    }
    let Some(url) = fresh_postgres_database() else { return };
    let upstream = common::upstream::Upstream::start();
    let env = common::Env::new();
    let key = env.key("root.key");
    // The upstream's /hang answers after 5 s: the database is down when the settles come.
    let proxy = common::server::start_replica(
        &key,
        &url,
        &["--upstream", &upstream.url, "--price", "* /hang=1", "--price", "* /slow=1", "--upstream-timeout", "30s"],
    );
    let tokens: Vec<String> = (0..6).map(|_| proxy.mint(&["--balance", "10"])).collect();
    let answers = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|t| scope.spawn(|| common::http::send("POST", &format!("{}/hang/x", proxy.url), Some(t), &[], "")))
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        cluster_ctl("stop");
        std::thread::sleep(Duration::from_secs(6));
        cluster_ctl("start");
        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    assert_eq!(upstream.count(), tokens.len());
    for (token, answer) in tokens.iter().zip(&answers) {
        assert_eq!((answer.status, answer.header("crumb-cost")), (200, Some("1")), "{answer:?}");
        // Charged once: the old token is spent (not held), the successor pays on.
        let again = common::http::send("POST", &format!("{}/slow", proxy.url), Some(token), &[], "");
        assert_eq!(again.header("crumb-error"), Some("spent"), "{again:?}");
        let next = common::http::send("POST", &format!("{}/slow", proxy.url), Some(answer.successor()), &[], "");
        assert_eq!((next.status, next.header("crumb-balance")), (200, Some("8")), "{next:?}");
    }
}
