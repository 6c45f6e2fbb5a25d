//! Two `crumb serve` replicas on different loopback ports sharing one PostgreSQL database:
//! a token spent at one is spent at both. Skipped (and said so) without the test cluster;
//! CI requires it (`scripts/pg-test-cluster`, `CRUMB_REQUIRE_POSTGRES=1`).

use crate::common;

use common::backends::fresh_postgres_database;
use common::server::{start_replicas, Server};
use serde_json::{json, Value};

fn replicas() -> Option<(Server, Server)> {
    let url = fresh_postgres_database()?;
    let (a, b) = start_replicas(&url);
    Some((a, b))
}

#[test]
fn one_token_spent_at_both_replicas_at_once_succeeds_once() {
    let Some((a, b)) = replicas() else { return };
    let token = a.mint(&["--balance", "100"]);
    let statuses: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let (server, token) = (if i % 2 == 0 { &a } else { &b }, &token);
                scope.spawn(move || {
                    server.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": format!("agent-{i}") }))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<_> = statuses.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "exactly one spend wins: {statuses:?}");
    assert_eq!(ok[0].1["remaining"], 99);
    for (status, doc) in &statuses {
        assert!(
            *status == 200 || (*status == 409 && ["spent", "in-flight"].contains(&doc["code"].as_str().unwrap_or(""))),
            "{status} {doc}"
        );
    }
}

#[test]
fn a_split_at_one_replica_is_spent_at_the_other_and_a_revocation_holds_at_both() {
    let Some((a, b)) = replicas() else { return };
    let token = a.mint(&["--balance", "50"]);
    let (status, split) = a.post("/v1/split", &json!({ "token": token, "amounts": [20] }));
    assert_eq!(status, 200, "{split}");
    // At once, the other replica knows the parent is spent.
    let (status, doc) = b.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": "late" }));
    assert_eq!((status, doc["code"].as_str()), (409, Some("spent")), "{doc}");
    let (status, doc) = b.post("/v1/verify", &json!({ "token": token }));
    assert_eq!((status, doc["code"].as_str()), (409, Some("spent")), "{doc}");
    // A child issued at A spends at B.
    let child = split["children"][0]["token"].as_str().unwrap();
    let (status, doc) = b.post("/v1/spend", &json!({ "token": child, "cost": 5 }));
    assert_eq!((status, doc["remaining"].as_u64()), (200, Some(15)), "{doc}");
    // Revoked at B by possession, refused at A.
    let remainder = split["children"][1]["token"].as_str().unwrap();
    let (status, doc) = b.post("/v1/revoke", &json!({ "token": remainder }));
    assert_eq!(status, 200, "{doc}");
    let (status, doc) = a.post("/v1/spend", &json!({ "token": remainder, "cost": 1 }));
    assert_eq!((status, doc["code"].as_str()), (403, Some("revoked")), "{doc}");
    let (status, doc) = a.post("/v1/verify", &json!({ "token": remainder }));
    assert_eq!((status, doc["code"].as_str()), (403, Some("revoked")), "{doc}");
}

#[test]
fn two_metering_proxies_on_one_database_let_a_token_through_once() {
    let Some(url) = fresh_postgres_database() else { return };
    let upstream = common::upstream::Upstream::start();
    let key = common::Env::new();
    let key_file = key.key("root.key");
    let flags = ["--upstream", upstream.url.as_str(), "--price", "* /slow=3", "--price", "* /=1"];
    let (a, b) = (
        common::server::start_replica(&key_file, &url, &flags),
        common::server::start_replica(&key_file, &url, &flags),
    );
    let token = a.mint(&["--balance", "30"]);
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let (server, token) = (if i % 2 == 0 { &a } else { &b }, &token);
                scope.spawn(move || {
                    let answer = common::http::send("POST", &format!("{}/slow/x", server.url), Some(token), &[], "");
                    let header = if answer.status < 400 { "crumb-balance" } else { "crumb-error" };
                    (answer.status, answer.header(header).map(str::to_owned))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<_> = statuses.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(ok.len(), 1, "{statuses:?}");
    assert_eq!(ok[0].1.as_deref(), Some("27"));
    assert!(statuses.iter().all(|(s, _)| *s == 200 || *s == 409), "{statuses:?}");
    assert_eq!(upstream.count(), 1, "one payment, one upstream call, across both replicas");
}
