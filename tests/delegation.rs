//! Delegation is not payment (issue 17, "the delegation path"): revocable splits, revoking a
//! delegation, giving back, returned credit and `status`, through the real binary and real
//! sockets — a `crumb serve` metering proxy in front of the counting upstream, its holder
//! routes under `/.well-known/crumb/v1/`, and the JSON API.

use crate::common;

use common::http::send;
use common::server::{start, Server};
use common::upstream::{Upstream, PRICES};
use serde_json::{json, Value};

fn proxy(upstream: &Upstream, extra: &[&str]) -> Server {
    let mut args = vec!["--upstream", &upstream.url];
    args.extend_from_slice(PRICES);
    args.extend_from_slice(&["--admin-listen", "127.0.0.1:0"]);
    args.extend_from_slice(extra);
    start(&args)
}

/// The proxy's holder routes, as `--server` takes them.
fn well_known(s: &Server) -> String {
    format!("{}/.well-known/crumb", s.url)
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn status(base: &str, token: &str) -> Value {
    let answer = send("GET", &format!("{base}/v1/status"), Some(token), &[], "");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

/// The "done": A holds 100, delegates a revocable 30 to B; B pays for three requests
/// through the proxy; A's lineage (holder view, --server) shows B's spends; A revokes; B's next
/// payment is refused `revoked`; B's unspent balance is back in A's lineage, and every number
/// adds up.
#[test]
fn a_delegation_through_the_metering_proxy_is_revoked_and_its_credit_comes_back() {
    let upstream = Upstream::start();
    let s = proxy(&upstream, &[]);
    let env = &s.env;
    let public = well_known(&s);
    let a_file = env.file("a.token", s.mint(&["--balance", "100"]).as_bytes());
    let root_nonce = s.nonce(&std::fs::read_to_string(&a_file).unwrap());

    // A splits a revocable 30 off for B, at the proxy's public listener.
    let (code, out, err) =
        env.run(&["split", "--token-file", &a_file, "--amount", "30", "--revocable", "--server", &public, "--json"]);
    assert_eq!(code, 0, "{err}");
    let receipt = json_of(&out);
    let b = &receipt["children"][0];
    assert_eq!((b["balance"].as_u64(), b["revocable"].as_bool()), (Some(30), Some(true)), "{receipt}");
    assert_eq!(receipt["children"][1]["revocable"], false, "the remainder is A's own");
    let b_nonce = b["nonce"].as_str().unwrap().to_owned();
    let b_file = env.file("b.token", b["token"].as_str().unwrap().as_bytes());
    let b_status = status(&public, b["token"].as_str().unwrap());
    assert_eq!((b_status["state"].as_str(), b_status["revocable"].as_bool()), (Some("live"), Some(true)));
    let (code, out, err) = env.run(&["inspect", "--token-file", &b_file, "--server", &public]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("live; a revocable delegation (its splitter may revoke it)"), "{out}");

    // B pays for three requests through the proxy (5 each), and says so on stderr.
    let chat = format!("{}/v1/chat", s.url);
    for left in [25, 20, 15] {
        let (code, out, err) = env.run(&["request", "--token-file", &b_file, "-X", "POST", &chat, "-d", "hi"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, "POST /v1/chat hi");
        assert_eq!(err.trim(), format!("crumb: paid 5, {left} left"));
    }
    assert_eq!(upstream.count(), 3);
    let (_, _, headers) = upstream.last();
    assert_eq!(
        headers.get("user-agent").and_then(|v| v.to_str().ok()),
        Some(concat!("crumb/", env!("CARGO_PKG_VERSION"))),
        "crumb request names itself"
    );

    // A's lineage, as its holder reads it with --server: from the token it was handed, B's
    // spends included.
    let (code, out, err) = env.run(&["lineage", "--token-file", &a_file, "--server", &public, "--json"]);
    assert_eq!(code, 0, "{err}");
    let tree = json_of(&out);
    let nodes = tree["tree"].as_array().unwrap();
    assert_eq!(nodes[0]["nonce"], root_nonce.as_str(), "the tree starts at the token A was handed: {tree}");
    let b_spends: Vec<u64> = nodes
        .iter()
        .filter(|n| n["consumed"]["kind"] == "spend")
        .filter_map(|n| n["consumed"]["cost"].as_u64())
        .collect();
    assert_eq!(b_spends, vec![5, 5, 5], "{tree}");
    assert!(nodes.iter().all(|n| n["consumed"]["request_id"].is_null()), "no request ids to a holder");
    let b_node = nodes.iter().find(|n| n["nonce"] == b_nonce.as_str()).unwrap();
    assert_eq!(b_node["revocable"], true);
    // B's own view starts at the token it was handed: nothing of A's tree above it, nor A's
    // remainder.
    let (code, out, err) = env.run(&["lineage", "--token-file", &b_file, "--server", &public, "--json"]);
    assert_eq!(code, 0, "{err}");
    let b_tree = json_of(&out);
    let b_nodes = b_tree["tree"].as_array().unwrap();
    assert_eq!(b_nodes[0]["nonce"], b_nonce.as_str(), "{b_tree}");
    assert_eq!(b_nodes.len(), 4, "B's token and its three successors: {b_tree}");
    assert!(b_nodes.iter().all(|n| n["nonce"] != root_nonce.as_str() && n["nonce"] != receipt["children"][1]["nonce"]));
    let a_status = status(&public, std::fs::read_to_string(&a_file).unwrap().trim());
    assert_eq!(a_status["balance"], 70);
    assert_eq!(
        a_status["delegated"],
        json!([{"nonce": b_nonce, "amount": 30, "revocable": true, "state": "live", "balance": 15, "spent": 15}])
    );

    // A revokes the delegation with its current token.
    let (code, out, err) =
        env.run(&["revoke", "--token-file", &a_file, "--nonce", &b_nonce, "--server", &public, "--json"]);
    assert_eq!(code, 0, "{err}");
    let revoked = json_of(&out);
    assert_eq!(revoked["returned"], 15, "{revoked}");
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 4, "B's first token and its three successors");

    // B's next payment is refused, revoked; the upstream is not called.
    let (code, _, err) = env.run(&["request", "--token-file", &b_file, "-X", "POST", &chat, "-d", "hi"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("(revoked)"), "{err}");
    assert_eq!(upstream.count(), 3);
    let b_now = status(&public, std::fs::read_to_string(&b_file).unwrap().trim());
    assert_eq!((b_now["state"].as_str(), b_now["balance"].as_u64()), (Some("revoked"), None));

    // B's unspent 15 is owed to A's lineage; A's next spend takes it in: 70 - 1 + 15.
    let a_status = status(&public, std::fs::read_to_string(&a_file).unwrap().trim());
    assert_eq!((a_status["returned_credit"].as_u64(), a_status["balance"].as_u64()), (Some(15), Some(70)));
    assert_eq!(a_status["delegated"][0]["state"], "revoked");
    // A's next paid request through the proxy takes it in: 70 - 5 + 15.
    let (code, _, err) = env.run(&["request", "--token-file", &a_file, "-X", "POST", &chat, "-d", "a"]);
    assert_eq!((code, err.trim()), (0, "crumb: paid 5, 80 left"));
    let a_status = status(&public, std::fs::read_to_string(&a_file).unwrap().trim());
    assert_eq!((a_status["returned_credit"].as_u64(), a_status["balance"].as_u64()), (Some(0), Some(80)));
    let admin = s.admin.as_deref().unwrap();
    let (code, _, err) = env.run(&["spend", "--token-file", &a_file, "--cost", "1", "--server", admin]);
    assert_eq!((code, err.trim()), (0, "crumb: paid 1, 79 left"));
    // Every number adds up: 79 live + 15 + 5 + 1 spent = 100 minted, nothing owed.
    let whole =
        env.ok(&["lineage", "--nonce", &root_nonce, "--ledger", s.env.path("ledger.db").to_str().unwrap(), "--json"]);
    let whole = json_of(&whole);
    let nodes = whole["tree"].as_array().unwrap();
    let live: u64 = nodes.iter().filter(|n| n["live"] == true).map(|n| n["balance"].as_u64().unwrap_or(0)).sum();
    let spent: u64 = nodes
        .iter()
        .filter(|n| n["consumed"]["kind"] == "spend")
        .map(|n| n["consumed"]["cost"].as_u64().unwrap())
        .sum();
    let owed: u64 = nodes.iter().map(|n| n["returned_credit"].as_u64().unwrap()).sum();
    assert_eq!((live, spent, owed), (79, 21, 0), "{whole}");
    assert_eq!(upstream.count(), 4, "nothing under /.well-known/crumb/ reached the upstream");
}

/// The reserved prefix is crumb's: never forwarded, whatever the price rules say or however
/// the path is spelled; operator acts and metrics are not served there; --no-well-known turns
/// the routes off without handing the prefix to the upstream.
#[test]
fn the_well_known_prefix_is_never_the_upstreams() {
    let upstream = Upstream::start();
    let s = proxy(&upstream, &["--price", "* /=1", "--price", "* /.well-known=0"]);
    let token = s.mint(&["--balance", "10"]);
    let public = well_known(&s);
    let verified = send("POST", &format!("{public}/v1/verify"), Some(&token), &[], "{}");
    assert_eq!((verified.status, verified.json()["allowed"].as_bool()), (200, Some(true)), "{verified:?}");
    for path in [
        "/.well-known/crumb/v1/%76erify",
        "/.well-known/crumb/v1/verify/",
        "/.well-known/crumb/metrics",
        "/.well-known/crumb/v1/spend",
        "/.well-known/crumb",
        "/.well-known/crumb/",
        "/.well-known/%63rumb/v1/status",
    ] {
        let answer = send("POST", &format!("{}{path}", s.url), Some(&token), &[], "{}");
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
        assert_eq!(answer.json()["code"], "not-found", "{path}");
    }
    assert_eq!(upstream.count(), 0, "the prefix never reaches the upstream");
    // The token paid nothing for those.
    assert_eq!(status(&public, &token)["balance"], 10);
    // Operator acts stay on the admin listener.
    let operator = s.mint(&["--operator", "--expires-in", "10m"]);
    let nonce = s.nonce(&token);
    let refused = send(
        "POST",
        &format!("{public}/v1/revoke"),
        None,
        &[],
        &json!({ "token": operator, "nonce": nonce }).to_string(),
    );
    assert_eq!((refused.status, refused.json()["code"].as_str()), (403, Some("wrong-role")), "{refused:?}");
    assert_eq!(status(&public, &token)["state"], "live");
    let metrics = send("GET", &format!("{}/metrics", s.url), Some(&token), &[], "");
    assert_eq!(upstream.count(), 1, "/metrics on the public listener is the upstream's path: {metrics:?}");
    assert!(!metrics.body.contains("crumb_requests_total"), "{metrics:?}");

    // Turned off: nothing answers under the prefix, and it still never reaches the upstream.
    let upstream = Upstream::start();
    let s = proxy(&upstream, &["--no-well-known", "--unpriced", "free"]);
    let token = s.mint(&["--balance", "10"]);
    for path in ["/.well-known/crumb/v1/status", "/.well-known/crumb/v1/%76erify", "/.well-known/crumb"] {
        let answer = send("GET", &format!("{}{path}", s.url), Some(&token), &[], "");
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
    }
    assert_eq!(upstream.count(), 0);
    let (code, _, err) = s.env.run(&["serve", "--no-well-known"]);
    assert_eq!(code, 2, "--no-well-known without --upstream: {err}");
}

/// Spends `token` through the JSON API; the successor.
fn spend(s: &Server, token: &str, cost: u64, id: &str) -> (u16, Value) {
    s.post("/v1/spend", &json!({ "token": token, "cost": cost, "request_id": id }))
}

fn split(s: &Server, token: &str, amounts: &[u64], revocable: bool) -> Value {
    let (code, doc) = s.post("/v1/split", &json!({ "token": token, "amounts": amounts, "revocable": revocable }));
    assert_eq!(code, 200, "{doc}");
    doc
}

fn child(doc: &Value, i: usize) -> (String, String) {
    let c = &doc["children"][i];
    (c["token"].as_str().unwrap().to_owned(), c["nonce"].as_str().unwrap().to_owned())
}

/// The attacker's attempts, each through the JSON API: a caveat grants nothing, a child
/// cannot revoke its parent or siblings, a transfer is never clawed back, a spent token of the
/// lineage revokes nothing, revoked-then-given-back and given-back-then-revoked return once,
/// and request ids replay only to their token.
#[test]
fn a_delegation_cannot_be_turned_against_its_tree() {
    let s = start(&[]);
    let a = s.mint(&["--balance", "100"]);
    let first = split(&s, &a, &[20, 20], true);
    let ((b, b_nonce), (c, c_nonce), (a1, a1_nonce)) = (child(&first, 0), child(&first, 1), child(&first, 2));
    let transfer = split(&s, &a1, &[10], false);
    let ((t, t_nonce), (a2, _)) = (child(&transfer, 0), child(&transfer, 1));
    assert_eq!(transfer["children"][0]["revocable"], false);
    let revoke = |token: &str, nonce: &str| s.post("/v1/revoke", &json!({ "token": token, "nonce": nonce }));
    let code_of = |answer: (u16, Value)| (answer.0, answer.1["code"].as_str().unwrap_or("").to_owned());

    // A child cannot revoke its parent, its siblings or its parent's change, whatever caveat
    // it adds to its own token.
    let dressed = s.env.ok(&["attenuate", &b, "-c", "action = revoke", "-c", "revocable = true"]);
    for (who, target) in [(&b, &a1_nonce), (&b, &c_nonce), (&dressed, &c_nonce), (&b, &s.nonce(&a)), (&b, &t_nonce)] {
        assert_eq!(code_of(revoke(who, target)), (403, "not-yours".into()), "{target}");
    }
    // A transfer is never clawed back, by the splitter's current token or a caveat on it.
    assert_eq!(code_of(revoke(&a2, &t_nonce)), (403, "not-revocable".into()));
    let a2_dressed = s.env.ok(&["attenuate", &a2, "-c", "revocable = true"]);
    assert_eq!(code_of(revoke(&a2_dressed, &t_nonce)), (403, "not-revocable".into()));
    let (code, paid) = spend(&s, &t, 3, "t-1");
    assert_eq!(code, 200, "the transfer still pays: {paid}");
    let t2 = paid["token"].as_str().unwrap().to_owned();
    // A spent token of the lineage (a leaked old token file) revokes nothing.
    assert_eq!(code_of(revoke(&a, &b_nonce)), (409, "spent".into()));
    assert_eq!(code_of(revoke(&a1, &b_nonce)), (409, "spent".into()));
    // Anonymous, or a forged token: nothing.
    assert_eq!(s.post("/v1/revoke", &json!({ "nonce": b_nonce })).0, 401);

    // Given back, then revoked: the credit comes back once.
    let (code, gave) = s.post("/v1/give-back", &json!({ "token": b, "request_id": "gb-b" }));
    assert_eq!((code, gave["returned"].as_u64(), gave["replayed"].as_bool()), (200, Some(20), Some(false)), "{gave}");
    let (code, again) = s.post("/v1/give-back", &json!({ "token": b, "request_id": "gb-b" }));
    assert_eq!((code, again["returned"].as_u64(), again["replayed"].as_bool()), (200, Some(20), Some(true)));
    assert_eq!(
        code_of(s.post("/v1/give-back", &json!({ "token": b, "request_id": "gb-other" }))),
        (409, "spent".into())
    );
    assert_eq!(code_of(spend(&s, &b, 1, "b-after")), (409, "spent".into()));
    let (code, doc) = revoke(&a2, &b_nonce);
    assert_eq!((code, doc["returned"].as_u64()), (200, Some(0)), "{doc}");
    // Revoked, then given back: refused.
    let (code, doc) = revoke(&a2, &c_nonce);
    assert_eq!((code, doc["returned"].as_u64()), (200, Some(20)), "{doc}");
    assert_eq!(code_of(s.post("/v1/give-back", &json!({ "token": c }))), (403, "revoked".into()));
    let (code, doc) = revoke(&a2, &c_nonce);
    assert_eq!((code, doc["returned"].as_u64(), doc["revoked"].as_array().map(Vec::len)), (200, Some(0), Some(0)));
    // A minted token has nowhere to give back to.
    let lone = s.mint(&["--balance", "5"]);
    assert_eq!(code_of(s.post("/v1/give-back", &json!({ "token": lone }))), (403, "not-delegated".into()));
    assert_eq!(code_of(s.post("/v1/give-back", &json!({ "token": lone, "cost": 1 }))), (400, "bad-json".into()));

    // The credit owed is exactly 40, taken in once by A's next split.
    let a2_status = status(&s.url, &a2);
    assert_eq!((a2_status["returned_credit"].as_u64(), a2_status["balance"].as_u64()), (Some(40), Some(50)));
    let next = split(&s, &a2, &[5], true);
    assert_eq!(next["returned_credit"], 40);
    assert_eq!(next["children"][1]["balance"], 50 - 5 + 40);
    let (code, doc) = spend(&s, &t2, 1, "t-2");
    assert_eq!((code, doc["remaining"].as_u64()), (200, Some(6)));
    // The merchant paid with T's spent token sees T's own record, never the payer's change nor
    // the credit its payer's lineage is owed.
    let merchant = status(&s.url, &t);
    assert_eq!((merchant["state"].as_str(), merchant["returned_credit"].as_u64()), (Some("spent"), Some(0)));
    assert_eq!(merchant["successor_known"], true, "the token that made the spend may replay it");
}

/// A revocation racing spends of the delegated token: one consistent outcome each time, and
/// what was returned plus what was spent is the child's balance, exactly.
#[test]
fn a_revocation_racing_spends_moves_each_unit_once() {
    let s = start(&[]);
    races(&s, &s);
}

/// The same races across two replicas on one PostgreSQL database: spends and give-backs at
/// one, revocations at the other.
#[test]
fn a_revocation_racing_spends_at_another_replica_moves_each_unit_once() {
    let Some(url) = common::backends::fresh_postgres_database() else { return };
    let (a, b) = common::server::start_replicas(&url);
    races(&a, &b);
}

fn races(spender: &Server, revoker: &Server) {
    for round in 0..6 {
        let a = spender.mint(&["--balance", "100"]);
        let first = split(spender, &a, &[30, 20], true);
        let ((b, b_nonce), (c, c_nonce), (a1, _)) = (child(&first, 0), child(&first, 1), child(&first, 2));
        let outcomes: Vec<(u16, Value)> = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            for i in 0..8 {
                let b = &b;
                handles.push(scope.spawn(move || spend(spender, b, 4, &format!("r{round}-{i}"))));
            }
            let (a1, b_nonce, c_nonce, c) = (&a1, &b_nonce, &c_nonce, &c);
            let gave = scope.spawn(move || spender.post("/v1/give-back", &json!({ "token": c, "request_id": "gb" })));
            let revoked_c = scope.spawn(move || revoker.post("/v1/revoke", &json!({ "token": a1, "nonce": c_nonce })));
            let revoked = scope.spawn(move || revoker.post("/v1/revoke", &json!({ "token": a1, "nonce": b_nonce })));
            let mut all: Vec<(u16, Value)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            all.push(gave.join().unwrap());
            all.push(revoked_c.join().unwrap());
            all.push(revoked.join().unwrap());
            all
        });
        let (spends, rest) = outcomes.split_at(8);
        let (gave, revoked_c, revocation) = (&rest[0], &rest[1], &rest[2]);
        assert_eq!(revocation.0, 200, "{}", revocation.1);
        let paid = spends.iter().filter(|(code, _)| *code == 200).count() as u64;
        assert!(paid <= 1, "one token, one spend: {spends:?}");
        for (code, doc) in spends.iter().filter(|(code, _)| *code != 200) {
            assert!(["spent", "revoked", "in-flight"].contains(&doc["code"].as_str().unwrap_or("")), "{code} {doc}");
        }
        let returned = revocation.1["returned"].as_u64().unwrap();
        assert_eq!(returned + 4 * paid, 30, "round {round}: returned {returned}, paid {paid}");
        // The successor of a spend that won, if any, is revoked with the rest.
        for (_, doc) in spends.iter().filter(|(code, _)| *code == 200) {
            let (code, refused) = spend(spender, doc["token"].as_str().unwrap(), 1, "late");
            assert_eq!((code, refused["code"].as_str()), (403, Some("revoked")));
        }
        // The give-back and the revocation of the same child: its 20 comes back once.
        assert_eq!(revoked_c.0, 200, "{}", revoked_c.1);
        let by_revocation = revoked_c.1["returned"].as_u64().unwrap();
        let by_give_back = match gave {
            (200, doc) => doc["returned"].as_u64().unwrap(),
            (403, doc) if doc["code"] == "revoked" => 0,
            other => panic!("{other:?}"),
        };
        assert_eq!(by_revocation + by_give_back, 20, "round {round}: {gave:?} {revoked_c:?}");
        assert_eq!(status(&revoker.url, &a1)["returned_credit"].as_u64(), Some(returned + 20));
    }
}

/// `crumb status` and `crumb give-back` locally, with the key and the ledger; spend's `--quiet`.
#[test]
fn status_and_give_back_work_locally_too() {
    let env = common::Env::new();
    env.ok(&["keygen"]);
    let a = env.file("a.token", env.ok(&["mint", "--balance", "50", "--expires-in", "1h"]).as_bytes());
    let (code, out, err) = env.run(&["split", "--token-file", &a, "--amount", "20", "--revocable", "--json"]);
    assert_eq!(code, 0, "{err}");
    let b = env.file("b.token", json_of(&out)["children"][0]["token"].as_str().unwrap().as_bytes());
    let (code, out, err) = env.run(&["spend", "--token-file", &b, "--cost", "2", "--quiet"]);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let (code, out, err) = env.run(&["status", "--token-file", &b, "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc = json_of(&out);
    assert_eq!(
        (doc["state"].as_str(), doc["balance"].as_u64(), doc["revocable"].as_bool()),
        (Some("live"), Some(18), Some(true))
    );
    assert!(doc["expires"].as_str().is_some_and(|e| e.ends_with('Z')), "{doc}");
    let (code, _, err) = env.run(&["give-back", "--token-file", &b, "--request-id", "done-1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err.trim(), "crumb: gave back 18 to the lineage it was split from");
    let (_, out, _) = env.run(&["status", "--token-file", &b]);
    assert!(out.starts_with("state     spent (its successor is not known here)"), "{out}");
    let (_, out, _) = env.run(&["status", "--token-file", &a]);
    assert!(out.contains("owed      18 (returned or topped up; the next spend or split takes it in)"), "{out}");
    assert!(out.contains("20 revocable  given-back  balance 0  spent 2"), "{out}");
    let (code, _, err) = env.run(&["spend", "--token-file", &a, "--cost", "3"]);
    assert_eq!((code, err.trim()), (0, "crumb: paid 3, 45 left (18 of it returned credit)"));
    // Refusals are one JSON document with the code, and the exit code of a verdict.
    let lone = env.file("lone.token", env.ok(&["mint", "--balance", "5"]).as_bytes());
    let (code, out, _) = env.run(&["give-back", "--token-file", &lone, "--json"]);
    assert_eq!((code, json_of(&out)["code"].as_str()), (1, Some("not-delegated")), "{out}");
    let a_nonce = json_of(&env.ok(&["status", "--token-file", &a, "--json"]))["nonce"].as_str().unwrap().to_owned();
    let (code, out, _) = env.run(&["revoke", "--token-file", &lone, "--nonce", &a_nonce, "--json"]);
    assert_eq!((code, json_of(&out)["code"].as_str()), (1, Some("not-yours")), "{out}");
    let (code, _, err) = env.run(&["revoke", "--token-file", &lone, "--nonce", &a_nonce, "--cascade"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = env.run(&["status", "--token-file", &env.file("junk", b"not a token")]);
    assert_eq!(code, 2, "{err}");
}

/// A delegation revoked while its token is held by a request at the upstream: the price held
/// is kept back, the rest comes back, and the client is told `revoked`; the upstream served the
/// request, so its settle records the charge (review 8: it was neither charged nor returned);
/// `status` showed the token `held` meanwhile.
#[test]
fn a_request_in_flight_on_a_revoked_delegation_keeps_back_its_price() {
    let upstream = Upstream::start();
    let s = proxy(&upstream, &["--price", "* /hang=3"]);
    let env = &s.env;
    let a = s.mint(&["--balance", "50"]);
    let public = well_known(&s);
    let body = json!({ "token": a, "amounts": [20], "revocable": true }).to_string();
    let split = send("POST", &format!("{public}/v1/split"), None, &[], &body);
    assert_eq!(split.status, 200, "{split:?}");
    let doc = split.json();
    let ((b, b_nonce), (a1, _)) = (child(&doc, 0), child(&doc, 1));
    let b_file = env.file("b.token", b.as_bytes());
    let hang = format!("{}/hang/x", s.url);
    std::thread::scope(|scope| {
        let request = scope.spawn(|| env.run(&["request", "--token-file", &b_file, &hang]));
        let started = std::time::Instant::now();
        while status(&public, &b)["state"] != "held" {
            assert!(started.elapsed() < std::time::Duration::from_secs(4), "never held");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let revoked = send(
            "POST",
            &format!("{public}/v1/revoke"),
            None,
            &[],
            &json!({ "token": a1, "nonce": b_nonce }).to_string(),
        );
        assert_eq!((revoked.status, revoked.json()["returned"].as_u64()), (200, Some(17)), "{revoked:?}");
        let (code, _, err) = request.join().unwrap();
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("(revoked)"), "{err}");
    });
    assert_eq!(upstream.count(), 1);
    let a_now = status(&public, &a1);
    // The price, 3, was charged: 17 + 3 = the 20 delegated.
    assert_eq!((a_now["returned_credit"].as_u64(), a_now["delegated"][0]["spent"].as_u64()), (Some(17), Some(3)));
}

/// A second review's attacks: a copy narrowed in time cannot act once expired; a lineage
/// cannot revoke itself as if it were its own delegation; a delegate cannot destroy its
/// delegator's credit by revoking by possession; a delegate's payment to a merchant stays paid
/// when the delegation is revoked; a spent token's lineage shows nothing of its payer's
/// returned credit; an operator's read of another nonce is not served at /.well-known.
#[test]
fn holder_acts_obey_the_caveats_and_never_claw_back_a_payment() {
    let upstream = Upstream::start();
    let s = proxy(&upstream, &[]);
    let admin = s.admin.clone().unwrap();
    let post = |path: &str, body: Value| {
        let answer =
            send("POST", &format!("{admin}{path}"), None, &[("Content-Type", "application/json")], &body.to_string());
        (answer.status, answer.json())
    };
    let code_of = |answer: (u16, Value)| (answer.0, answer.1["code"].as_str().unwrap_or("").to_owned());
    let a = s.mint(&["--balance", "100"]);
    let first = {
        let (code, doc) = post("/v1/split", json!({ "token": a, "amounts": [30], "revocable": true }));
        assert_eq!(code, 200, "{doc}");
        doc
    };
    let ((b, b_nonce), (a1, _)) = (child(&first, 0), child(&first, 1));
    // An expired copy of A's current token revokes nothing, by possession or as a delegator.
    let expired = s.env.ok(&["attenuate", &a1, "-c", "expires < 2020-01-01T00:00:00Z"]);
    assert_eq!(code_of(post("/v1/revoke", json!({ "token": expired, "nonce": b_nonce }))), (403, "expired".into()));
    assert_eq!(code_of(post("/v1/revoke", json!({ "token": expired }))), (403, "expired".into()));
    let unknown = s.env.ok(&["attenuate", &a1, "--raw", "frobnicate the ledger"]);
    assert_eq!(code_of(post("/v1/revoke", json!({ "token": unknown, "nonce": b_nonce }))).0, 403);
    // B pays a merchant 20 by a transfer; B's own token cannot be revoked by possession (its
    // credit is A's to reclaim), only given back or revoked by A.
    let (code, paid) = post("/v1/split", json!({ "token": b, "amounts": [20], "revocable": false }));
    assert_eq!(code, 200, "{paid}");
    let ((merchant, _), (b1, _)) = (child(&paid, 0), child(&paid, 1));
    assert_eq!(code_of(post("/v1/revoke", json!({ "token": b1 }))), (403, "not-revocable".into()));
    // A revokes B: B's 10 comes back, the merchant's 20 stays the merchant's.
    let (code, doc) = post("/v1/revoke", json!({ "token": a1, "nonce": b_nonce }));
    assert_eq!((code, doc["returned"].as_u64()), (200, Some(10)), "{doc}");
    let m = status(&admin, &merchant);
    assert_eq!(m["state"], "live", "a payment out of a delegation is final: {m}");
    let (code, spent) = post("/v1/spend", json!({ "token": merchant, "cost": 20, "request_id": "m" }));
    assert_eq!(code, 200, "{spent}");
    // A's spent minted token reads where its credit went, not what A's lineage is owed now.
    let tree = send("GET", &format!("{admin}/v1/lineage"), Some(&a), &[], "").json();
    assert!(tree["tree"].as_array().unwrap().iter().all(|n| n["returned_credit"] == 0), "{tree}");
    // An operator's read of another nonce stays on the admin listener.
    let op = s.mint(&["--operator"]);
    let at_public = send("GET", &format!("{}/v1/lineage/{b_nonce}", well_known(&s)), Some(&op), &[], "");
    assert_eq!(at_public.status, 404);
    assert_eq!(upstream.count(), 0, "nothing of this reached the upstream");
}
