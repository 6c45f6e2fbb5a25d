//! TLS to PostgreSQL as operators run it (issue 16 §2): libpq's `sslmode` and `sslrootcert`
//! honoured against the private test cluster, which serves a certificate for 127.0.0.1 and
//! localhost issued by a CA made at its setup (`scripts/pg-test-cluster`).

use crate::common;

use common::backends::fresh_postgres_database;
use common::Env;
use crumb::error::LedgerErrorKind;
use crumb::ledger::{self, OpenOptions};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The CA that issued the cluster's certificate.
fn cluster_ca() -> Option<String> {
    let ca = common::backends::cluster_ca();
    if ca.is_none() {
        common::skip_required(
            "CRUMB_REQUIRE_POSTGRES",
            "no TLS on the PostgreSQL test cluster (start it with scripts/pg-test-cluster)",
        );
    }
    ca
}

/// A fresh database's URL and the cluster's CA.
fn setup() -> Option<(String, String)> {
    let ca = cluster_ca()?;
    Some((fresh_postgres_database()?, ca))
}

fn with(url: &str, params: &str) -> String {
    format!("{url}{}{params}", if url.contains('?') { '&' } else { '?' })
}

/// Whether crumb's connections to `url`'s database use TLS, as the server sees them (crumb's
/// pool keeps the connection it opened with, so it is there to be seen while `ledger` lives).
fn crumb_uses_tls(url: &str) -> bool {
    let ledger = ledger::open(url, OpenOptions::concurrent(1)).expect("open the ledger");
    let admin = std::env::var("CRUMB_TEST_POSTGRES_URL").unwrap();
    let database = url.split('?').next().unwrap().rsplit('/').next().unwrap().to_owned();
    let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    // A connection closed just before (an earlier handle's, a CLI run's) may linger a moment
    // on the server: wait until crumb's open one is the only one.
    let deadline = Instant::now() + Duration::from_secs(5);
    let rows = loop {
        let rows = client
            .query(
                "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.datname = $1 AND a.application_name = 'crumb'",
                &[&database],
            )
            .unwrap();
        if rows.len() == 1 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(ledger);
    assert_eq!(rows.len(), 1, "one connection of crumb's to {database}");
    rows[0].get(0)
}

/// A private CA that issued nothing the cluster serves, as a PEM file in `env`.
fn other_ca(env: &Env) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let path = env.path("other-ca.crt");
    std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
    path.display().to_string()
}

/// Opening `url` fails as an unavailable ledger, at once (a refused certificate is not
/// retried: the retries of a lost connection last 2 s), with a reason holding `expected`.
fn refused(url: &str, expected: &str) {
    let started = Instant::now();
    let err = ledger::open(url, OpenOptions::concurrent(1)).expect_err("the connection is refused");
    let took = started.elapsed();
    assert_eq!(err.kind(), LedgerErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains(expected), "`{expected}` in: {err}");
    assert!(took < Duration::from_millis(1500), "refused after {took:?}: retried as if the database were down");
}

#[test]
fn verify_full_with_the_clusters_ca_spends_through_the_cli() {
    let Some((url, ca)) = setup() else { return };
    let url = with(&url, &format!("sslmode=verify-full&sslrootcert={ca}"));
    assert!(crumb_uses_tls(&url));
    let env = Env::new();
    let key = env.key("root.key");
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    env.ok(&["spend", &token, "--key-file", &key, "--ledger", &url, "--cost", "2"]);
    // The spend is on record: the same token again is refused as spent.
    let (code, _, err) = env.run(&["spend", &token, "--key-file", &key, "--ledger", &url, "--cost", "1"]);
    assert_eq!(code, 1, "{err}");
    // By name too: the certificate names localhost.
    assert!(crumb_uses_tls(&url.replace("@127.0.0.1:", "@localhost:")));
}

#[test]
fn a_certificate_from_another_ca_is_refused_with_exit_3() {
    let Some((url, _)) = setup() else { return };
    let env = Env::new();
    let wrong = other_ca(&env);
    for mode in ["verify-full", "verify-ca", "require"] {
        // `require` with a root file checks the chain, as libpq does.
        refused(
            &with(&url, &format!("sslmode={mode}&sslrootcert={wrong}")),
            "is not issued by a CA crumb trusts (sslrootcert",
        );
    }
    // Without sslrootcert the Mozilla roots, which know nothing of a private CA.
    refused(&with(&url, "sslmode=verify-full"), "(the Mozilla roots built into crumb");
    let key = env.key("root.key");
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    let ledger = with(&url, &format!("sslmode=verify-full&sslrootcert={wrong}"));
    let (code, _, err) = env.run(&["spend", &token, "--key-file", &key, "--ledger", &ledger, "--cost", "1"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("the server's certificate is not issued by a CA crumb trusts (sslrootcert"), "{err}");
}

#[test]
fn verify_full_refuses_a_host_the_certificate_does_not_name_and_verify_ca_accepts_it() {
    let Some((url, ca)) = setup() else { return };
    // The name is checked, the address connected to is the cluster's.
    let url = with(&url.replace("@127.0.0.1:", "@db.crumb-test.invalid:"), "hostaddr=127.0.0.1");
    refused(&with(&url, &format!("sslmode=verify-full&sslrootcert={ca}")), "does not name the host");
    assert!(crumb_uses_tls(&with(&url, &format!("sslmode=verify-ca&sslrootcert={ca}"))));
}

#[test]
fn disable_is_plain_and_require_and_the_default_use_tls() {
    let Some((url, _)) = setup() else { return };
    assert!(!crumb_uses_tls(&with(&url, "sslmode=disable")));
    // `require` checks no certificate: no root file is needed for the private CA's.
    assert!(crumb_uses_tls(&with(&url, "sslmode=require")));
    // No sslmode is libpq's `prefer`: TLS when the server offers it.
    assert!(crumb_uses_tls(&url));
}

#[test]
fn a_missing_root_file_fails_the_open_and_names_the_file() {
    let env = Env::new();
    let absent = env.path("absent-ca.crt").display().to_string();
    let url = format!("postgres://crumb@127.0.0.1:1/db?sslmode=verify-full&sslrootcert={absent}");
    let err = ledger::open(&url, OpenOptions::concurrent(1)).expect_err("refused");
    assert!(err.to_string().contains(&format!("sslrootcert {absent}: no such file")), "{err}");
    let (code, _, err) = env.run(&["ledger", "init", "--ledger", &url]);
    assert_eq!(code, 3, "{err}");
}

/// A server that answers PostgreSQL's TLS request with "no" (as one without `ssl = on` does)
/// and then hangs up, for up to `connections` connections.
fn server_without_tls(connections: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 8];
            if stream.read_exact(&mut request).is_ok() && request[4..] == [0x04, 0xd2, 0x16, 0x2f] {
                let _ = stream.write_all(b"N");
            }
        }
    });
    port
}

#[test]
fn require_refuses_a_server_without_tls_and_never_falls_back() {
    let port = server_without_tls(8);
    for mode in ["require", "verify-ca", "verify-full"] {
        refused(
            &format!("postgres://crumb@127.0.0.1:{port}/db?sslmode={mode}"),
            &format!("the server does not offer TLS, and sslmode={mode} refuses a plain connection"),
        );
    }
    let env = Env::new();
    let key = env.key("root.key");
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    let url = format!("postgres://crumb:s3cretpw@127.0.0.1:{port}/db?sslmode=require");
    let (code, out, err) = env.run_with_ledger(&url, &["spend", &token, "--key-file", &key, "--cost", "1"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("does not offer TLS"), "{err}");
    assert!(!format!("{out}{err}").contains("s3cretpw"), "{err}");
}

#[test]
fn tls_parameters_crumb_cannot_honour_are_refused_by_name() {
    for (params, expected) in [
        ("sslmode=allow", "sslmode=allow"),
        ("sslmode=verify_full", "sslmode must be one of"),
        ("sslmode=require&sslcert=/c.pem&sslkey=/k.pem", "sslcert (client certificates) is not supported"),
        ("sslmode=require&sslrootcert=system", "sslrootcert=system needs sslmode=verify-full"),
    ] {
        let url = format!("postgres://crumb:s3cretpw@127.0.0.1:1/db?{params}");
        let err = ledger::open(&url, OpenOptions::concurrent(1)).expect_err("refused");
        assert_eq!(err.kind(), LedgerErrorKind::Unsupported, "{err}");
        assert!(err.to_string().contains(expected), "`{expected}` in: {err}");
        assert!(!err.to_string().contains("s3cretpw"), "{err}");
    }
}

#[test]
fn sslmode_does_not_apply_over_a_unix_socket_as_in_libpq() {
    let Some((url, _)) = setup() else { return };
    let dir = std::env::var("CRUMB_TEST_PG_CLUSTER").unwrap();
    let socket: String =
        dir.bytes().map(|b| if b == b'/' { "%2F".to_owned() } else { (b as char).to_string() }).collect();
    let url = url.replace("@127.0.0.1:", &format!("@{socket}:"));
    for mode in ["require", "verify-full"] {
        assert!(!crumb_uses_tls(&with(&url, &format!("sslmode={mode}"))), "{mode} over a socket");
    }
}

/// A server that accepts connections and never says a word: no answer to the TLS request, to
/// the start-up message or to authentication. Each connection is held open until the test
/// process ends.
fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(64).flatten().collect();
        drop(held);
    });
    port
}

#[test]
fn a_server_that_accepts_and_never_answers_fails_within_the_connect_timeout() {
    let port = silent_server();
    // Plain (the start-up and authentication hang), and TLS (the handshake hangs).
    for mode in ["disable", "require", "prefer"] {
        let url = format!("postgres://crumb:s3cretpw@127.0.0.1:{port}/db?sslmode={mode}");
        let started = Instant::now();
        let err = ledger::open(&url, OpenOptions::concurrent(1)).expect_err("nothing answers");
        let took = started.elapsed();
        assert_eq!(err.kind(), LedgerErrorKind::Unavailable, "{err}");
        assert!(err.to_string().contains("did not complete a connection within 3 s"), "{mode}: {err}");
        assert!(!err.to_string().contains("s3cretpw"), "{err}");
        assert!(took < Duration::from_secs(6), "{mode}: failed only after {took:?}");
    }
    // The CLI says so too, with exit 3, as soon.
    let env = Env::new();
    let url = format!("postgres://crumb:s3cretpw@127.0.0.1:{port}/db");
    let started = Instant::now();
    let (code, out, err) = env.run_with_ledger(&url, &["ledger", "init"]);
    let took = started.elapsed();
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("did not complete a connection within 3 s"), "{err}");
    assert!(!format!("{out}{err}").contains("s3cretpw"), "{err}");
    assert!(took < Duration::from_secs(8), "the CLI failed only after {took:?}");
}

/// The ledger is opened, used and dropped inside a runtime's async context, as a server does
/// at start-up and shut-down: neither blocks nor panics (the ledger's runtime is its own).
#[test]
fn a_ledger_opened_and_dropped_inside_a_runtime_neither_panics_nor_hangs() {
    let Some(url) = fresh_postgres_database() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let ledger = ledger::open(&url, OpenOptions::concurrent(2)).expect("open the ledger");
        ledger.ready().await.expect("ready");
        let nonce = crumb::token::identifier::Nonce([7; 16]);
        assert_eq!(ledger.status(&nonce).await.unwrap(), ledger::Status::default());
        drop(ledger);
    });
    // And from a plain thread, waited on.
    let ledger = ledger::open(&url, OpenOptions::concurrent(1)).expect("open the ledger");
    ledger.ready().wait().expect("ready");
    drop(ledger);
}

/// Work started runs to its end though nobody waits for it and the ledger that started it is
/// dropped at once (a server shutting down under a request): the revocation is on record.
#[test]
fn work_under_way_finishes_when_the_ledger_is_dropped() {
    let Some(url) = fresh_postgres_database() else { return };
    let nonce = crumb::token::identifier::Nonce([9; 16]);
    let ledger = ledger::open(&url, OpenOptions::concurrent(1)).expect("open the ledger");
    drop(ledger.revoke(&nonce, false, "2026-01-01T00:00:00Z"));
    drop(ledger);
    let reader = ledger::open(&url, OpenOptions::concurrent(1)).expect("open the ledger");
    let deadline = Instant::now() + Duration::from_secs(10);
    while reader.status(&nonce).wait().unwrap().revoked_at.is_none() {
        assert!(Instant::now() < deadline, "the revocation under way when the ledger was dropped was lost");
        std::thread::sleep(Duration::from_millis(20));
    }
}
