//! Regression tests for the attacks of the adversarial review (issue "Trust holds under
//! attack"), each reproduced through the real binary or a real socket. Every test here failed
//! on the main of 2026-11-23 and names the attack it pins.

use crate::common;

use common::server::{start, Server};
use common::Env;
use crumb::token::wire::{self, Format};
use crumb::{Macaroon, RootKey};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A genuine token with a third-party caveat `cid` added by its holder, and `copies` copies of
/// a discharge that needs a discharge for the same `cid` (each bound to the token).
fn discharge_bomb(genuine: &str, copies: usize) -> (String, Vec<String>) {
    let caveat_key = RootKey::generate().unwrap();
    let mut token = wire::decode(genuine).unwrap();
    token.add_third_party_random(&caveat_key, b"again".to_vec(), None).unwrap();
    let mut discharge = Macaroon::mint(&caveat_key, b"again".to_vec(), None);
    discharge.add_third_party_random(&caveat_key, b"again".to_vec(), None).unwrap();
    let bound = wire::encode(&token.bind(&discharge), Format::V2).unwrap();
    (wire::encode(&token, Format::V2).unwrap(), vec![bound; copies])
}

#[test]
fn attack_1_a_discharge_bomb_does_not_crash_the_server_or_the_cli() {
    let s = start(&[]);
    let genuine = s.mint(&["--expires-in", "1s"]);
    let (token, discharges) = discharge_bomb(&genuine, 4000);
    let started = Instant::now();
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token, "discharges": discharges }));
    assert_eq!((code, doc["code"].as_str()), (400, Some("too-many-discharges")), "{doc}");
    assert!(started.elapsed() < Duration::from_secs(5), "refused before the work");
    let (code, doc) = s.post("/v1/spend", &json!({ "token": token, "cost": 1, "discharges": discharges }));
    assert_eq!(code, 400, "{doc}");
    s.health_latency();
    // Within the count limit, nesting is bounded too: a chain of the same discharge is refused.
    let (token, discharges) = discharge_bomb(&genuine, 30);
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token, "discharges": discharges }));
    assert_eq!(code, 403, "{doc}");
    s.health_latency();
    // The CLI: as many --discharge flags, refused with exit 2, not a crash.
    let (token, discharges) = discharge_bomb(&genuine, 3000);
    let mut args = vec!["verify".to_owned(), token, "--key-file".into(), s.key.clone(), "--offline".into()];
    for d in discharges {
        args.push("--discharge".into());
        args.push(d);
    }
    let out = s.env.crumb().args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn attack_2_a_holder_cannot_make_itself_a_revocation_operator() {
    let s = start(&[]);
    let victim = s.mint(&["--balance", "10"]);
    let mine = s.mint(&[]);
    let forged_operator = s.env.ok(&["attenuate", &mine, "-c", "action = revoke"]);
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": forged_operator, "nonce": s.nonce(&victim) }));
    // A holder naming another nonce asks to revoke a delegation of its own lineage: the
    // victim is none of its children.
    assert_eq!((code, doc["code"].as_str()), (403, Some("not-yours")), "{doc}");
    let (code, doc) =
        s.post("/v1/revoke", &json!({ "token": forged_operator, "nonce": s.nonce(&victim), "cascade": true }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("not-an-operator")), "{doc}");
    let (code, doc) = s.post("/v1/verify", &json!({ "token": victim }));
    assert_eq!(code, 200, "the victim's token still works: {doc}");
}

#[test]
fn attack_3_a_capped_copy_cannot_replay_the_original_spend() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "10"]);
    let (code, first) = s.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": "holder-1" }));
    assert_eq!((code, first["remaining"].as_u64()), (200, Some(9)), "{first}");
    let capped = s.env.ok(&["attenuate", &token, "--balance", "2"]);
    let (code, doc) = s.post("/v1/spend", &json!({ "token": capped, "cost": 1, "request_id": "holder-1" }));
    assert_eq!((code, doc["code"].as_str()), (409, Some("spent")), "{doc}");
    assert!(doc.get("token").is_none(), "no successor for a copy: {doc}");
    // A denial does not tell one holder what another did.
    let (code, doc) = s.post("/v1/spend", &json!({ "token": capped, "cost": 1, "request_id": "mine" }));
    assert_eq!(code, 409);
    assert!(!doc.to_string().contains("holder-1"), "{doc}");
    let (_, doc) = s.post("/v1/verify", &json!({ "token": capped }));
    assert!(!doc.to_string().contains("holder-1"), "{doc}");
    // The identical token, retried, still gets its successor back.
    let (code, again) = s.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": "holder-1" }));
    assert_eq!((code, &again["token"]), (200, &first["token"]), "{again}");
}

#[test]
fn attack_3b_a_replay_is_answered_only_when_the_token_failed_by_time_alone() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "10", "-c", "action = pay"]);
    let body = json!({ "token": token, "cost": 1, "request_id": "r", "action": "pay" });
    assert_eq!(s.post("/v1/spend", &body).0, 200);
    // The same token and request id, but a request its caveats refuse: no successor (and the
    // token is refused as spent first, as /v1/verify says of it).
    let (code, doc) = s.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": "r", "action": "steal" }));
    assert_eq!((code, doc["code"].as_str()), (409, Some("spent")), "{doc}");
    assert!(doc.get("token").is_none());
}

#[test]
fn attack_3c_a_consumed_token_is_refused_as_spent_first_and_a_forgery_learns_nothing() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "10"]);
    assert_eq!(s.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": "a" })).0, 200);
    // Spent: refused as such, whatever else is wrong with the request (a cost above its balance).
    for body in [
        json!({ "token": token, "cost": 50, "request_id": "b" }),
        json!({ "token": token, "amounts": [60], "request_id": "c" }),
    ] {
        let route = if body.get("amounts").is_some() { "/v1/split" } else { "/v1/spend" };
        let (code, doc) = s.post(route, &body);
        assert_eq!((code, doc["code"].as_str()), (409, Some("spent")), "{route}: {doc}");
    }
    // A forgery of it (the same identifier, another signature) learns nothing of the ledger.
    let mut forged = wire::decode(&token).unwrap();
    forged.signature[0] ^= 1;
    let forged = wire::encode(&forged, Format::V2).unwrap();
    for cost in [1, 50] {
        let (_, doc) = s.post("/v1/spend", &json!({ "token": forged, "cost": cost, "request_id": "d" }));
        assert_eq!(doc["code"].as_str(), Some("bad-signature"), "{doc}");
    }
}

#[test]
fn attack_4_a_split_into_thousands_of_children_is_refused_before_the_work() {
    let s = start(&[]);
    let fat: Vec<String> = (0..40).map(|i| format!("note{i} = {}", "x".repeat(200))).collect();
    let mut args: Vec<&str> = vec!["--balance", "100000"];
    for c in &fat {
        args.extend(["-c", c.as_str()]);
    }
    let token = s.mint(&args);
    let amounts = vec![1; 5000];
    let started = Instant::now();
    let (code, text) = s.post_text("/v1/split", &json!({ "token": token, "amounts": amounts }).to_string(), &[]);
    assert_eq!(code, 400, "{}", &text[..text.len().min(300)]);
    assert!(text.len() < 4096, "a short refusal, not {} bytes", text.len());
    assert!(text.contains("too-many-children"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Caveat bytes per token are capped, so successors cannot be inflated either.
    let huge: Vec<String> = (0..30).map(|i| format!("pad{i} = {}", "y".repeat(1000))).collect();
    let mut args: Vec<&str> = vec!["--balance", "100"];
    for c in &huge {
        args.extend(["-c", c.as_str()]);
    }
    let token = s.mint(&args);
    let (code, doc) = s.post("/v1/split", &json!({ "token": token, "amounts": [1, 1] }));
    assert_eq!((code, doc["code"].as_str()), (400, Some("token-too-large-to-spend")), "{doc}");
    s.health_latency();
}

#[test]
fn attack_5_idle_and_half_open_connections_do_not_lock_the_server_out() {
    let mut s = start(&["--max-connections", "50", "--header-timeout", "2", "--shutdown-grace", "2"]);
    // Twice the connection cap, idle or stuck halfway through their headers.
    let mut held: Vec<TcpStream> = Vec::new();
    for i in 0..100 {
        let mut c = TcpStream::connect(s.addr()).unwrap();
        if i % 2 == 0 {
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
        }
        held.push(c);
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(s.health_latency() < Duration::from_millis(500));
    // A connection stuck in its headers is closed after --header-timeout.
    let mut slow = TcpStream::connect(s.addr()).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut sink = Vec::new();
    let _ = slow.read_to_end(&mut sink);
    assert!(started.elapsed() < Duration::from_secs(6), "closed after {:?}", started.elapsed());
    // So is a kept-alive connection that sits idle after its answer.
    let mut idle = TcpStream::connect(s.addr()).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut first = [0u8; 64];
    let n = idle.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = idle.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(6), "idle closed after {:?}", started.elapsed());
    // SIGTERM does not wait for them forever.
    let mut stuck = TcpStream::connect(s.addr()).unwrap();
    stuck.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").unwrap();
    let took = s.terminate(Duration::from_secs(10));
    assert!(took.is_some(), "the server did not exit within 10 s of SIGTERM");
    drop(held);
}

/// Builds a chain of `depth` spends and one node with `width` children straight in the
/// ledger's tables (as zero-cost spends over HTTP once could), in one transaction.
fn grow_ledger(path: &std::path::Path, root: [u8; 16], depth: u32, width: u32) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    let nonce = |kind: u8, i: u32| {
        let mut n = [kind; 16];
        n[12..].copy_from_slice(&i.to_be_bytes());
        n.to_vec()
    };
    let mut parent = root.to_vec();
    for i in 0..depth {
        let child = nonce(1, i);
        tx.execute(
            "INSERT INTO tokens (nonce, spent_at, spent_request, spent_kind, spent_cost, spent_amounts)
             VALUES (?1, 't', ?2, 'spend', 0, '5') ON CONFLICT(nonce) DO UPDATE SET spent_at = 't',
             spent_request = ?2, spent_kind = 'spend', spent_cost = 0, spent_amounts = '5'",
            rusqlite::params![parent, format!("r{i}")],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO tokens (nonce, parent, balance, issued_at) VALUES (?1, ?2, 5, 't')",
            rusqlite::params![child, parent],
        )
        .unwrap();
        parent = child;
    }
    for i in 0..width {
        tx.execute(
            "INSERT INTO tokens (nonce, parent, balance, issued_at) VALUES (?1, ?2, 1, 't')",
            rusqlite::params![nonce(2, i), parent],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn attack_6_lineage_survives_deep_chains_and_wide_trees() {
    let env = Env::new();
    let key = env.key("k");
    let ledger = env.path("ledger.db");
    let l = ledger.to_str().unwrap();
    // A real spend first, so the ledger exists with its schema.
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "1000"]);
    env.ok(&["spend", &token, "--key-file", &key, "--ledger", l, "--cost", "1"]);
    grow_ledger(&ledger, [7; 16], 200_000, 100_000);
    let started = Instant::now();
    let out = env.crumb().args(["lineage", "--nonce", &hex::encode([7u8; 16]), "--ledger", l]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.len() < 4 << 20, "bounded output, not {} bytes", out.stdout.len());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    // From the bottom of the chain: the climb to the root is bounded, and says so.
    let mut deepest = [1u8; 16];
    deepest[12..].copy_from_slice(&(200_000u32 - 1).to_be_bytes());
    let out =
        env.crumb().args(["lineage", "--nonce", &hex::encode(deepest), "--ledger", l, "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["root_reached"], false, "{}", doc["tree"].as_array().map_or(0, Vec::len));
    // A nonce the ledger never saw has no tree, and says so.
    let out =
        env.crumb().args(["lineage", "--nonce", &hex::encode([1u8; 16]), "--ledger", l, "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    // And a spend that moves nothing is refused: the chain cannot be grown for free.
    let fresh = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    let (code, _, err) = env.run(&["spend", &fresh, "--key-file", &key, "--ledger", l, "--cost", "0"]);
    assert_eq!(code, 2, "{err}");
    let s = start(&[]);
    let t = s.mint(&["--balance", "5"]);
    let (code, doc) = s.post("/v1/spend", &json!({ "token": t, "cost": 0 }));
    assert_eq!(code, 400, "{doc}");
}

#[test]
fn attack_7_a_spent_token_is_not_a_kill_switch_over_what_came_from_it() {
    let s = start(&[]);
    let customer = s.mint(&["--balance", "10"]);
    // The merchant's service spends the customer's token; the customer keeps the change.
    let (code, paid) = s.post("/v1/spend", &json!({ "token": customer, "cost": 3 }));
    assert_eq!(code, 200, "{paid}");
    let change = paid["token"].as_str().unwrap();
    // The merchant kept the spent token: it cannot revoke it, with or without cascade.
    for cascade in [true, false] {
        let (code, doc) = s.post("/v1/revoke", &json!({ "token": customer, "cascade": cascade }));
        assert!(code == 403 || code == 409, "{code} {doc}");
    }
    assert_eq!(s.post("/v1/verify", &json!({ "token": change })).0, 200, "the change survives");
    // A read-only attenuated copy of a split parent cannot cascade over the children.
    let parent = s.mint(&["--balance", "10"]);
    let copy = s.env.ok(&["attenuate", &parent, "-c", "action = read"]);
    let (code, split) = s.post("/v1/split", &json!({ "token": parent, "amounts": [4] }));
    assert_eq!(code, 200, "{split}");
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": copy, "cascade": true }));
    assert!(code == 403 || code == 409, "{code} {doc}");
    for child in split["children"].as_array().unwrap() {
        assert_eq!(s.post("/v1/verify", &json!({ "token": child["token"] })).0, 200);
    }
    // Possession still revokes a live token (without cascade).
    let live = s.mint(&[]);
    assert_eq!(s.post("/v1/revoke", &json!({ "token": live })).0, 200);
    assert_eq!(s.post("/v1/verify", &json!({ "token": live })).1["code"], "revoked");
}

#[test]
fn attack_8_client_strings_are_bounded_before_they_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let s: Server = start(&["--audit-log", log.to_str().unwrap()]);
    let other = Env::new();
    let forged = other.ok(&["mint", "--key-file", &other.key("k")]);
    let long = "r".repeat(100_000);
    for _ in 0..5 {
        let (code, doc) = s.post("/v1/verify", &json!({ "token": forged, "request_id": long }));
        assert_eq!((code, doc["code"].as_str()), (400, Some("bad-request")), "{doc}");
    }
    let (code, _) = s.post("/v1/verify", &json!({ "token": forged, "request_id": "a\u{1b}[2Jb" }));
    assert_eq!(code, 400, "control characters refused");
    let (code, _) = s.post("/v1/spend", &json!({ "token": forged, "cost": 1, "request_id": "x".repeat(129) }));
    assert_eq!(code, 400);
    let (code, _) = s.post("/v1/verify", &json!({ "token": forged, "action": "a".repeat(10_000) }));
    assert_eq!(code, 400);
    let size = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    assert!(size < 8 * 1024, "the audit log grew to {size} bytes");
    let (code, _) = s.post("/v1/verify", &json!({ "token": forged, "request_id": "x".repeat(128) }));
    assert_eq!(code, 403, "128 printable bytes are fine");
}

/// Two `Authorization` headers: which one an upstream or a proxy in front takes for the
/// credential is theirs to choose, so crumb refuses the request instead of authorizing one and
/// letting the other act (the first one used to win silently). The JSON API answers 400, the
/// metering proxy 400 without calling the upstream or charging, forward auth 403 (what nginx
/// passes on); a lone `Basic` header followed by a `Bearer` one is as ambiguous.
#[test]
fn attack_two_authorization_headers_are_refused_everywhere() {
    use common::http::send;
    let upstream = common::upstream::Upstream::start();
    let s = start(&["--upstream", &upstream.url, "--price", "* /v1/chat=5", "--admin-listen", "127.0.0.1:0"]);
    let api = start(&["--price", "POST /v1/chat=5"]);
    let token = s.mint(&["--balance", "20"]);
    let other = s.mint(&["--balance", "1"]);
    let (mine, theirs) = (format!("Bearer {token}"), format!("Bearer {other}"));
    for pair in [
        [("Authorization", mine.as_str()), ("Authorization", theirs.as_str())],
        [("Authorization", "Basic dXNlcjpwYXNz"), ("Authorization", mine.as_str())],
    ] {
        let paid = send("POST", &format!("{}/v1/chat", s.url), None, &pair, "");
        assert_eq!((paid.status, paid.header("crumb-error")), (400, Some("bad-request")), "{paid:?}");
        let verified = send("POST", &format!("{}/v1/verify", api.url), None, &pair, "{}");
        assert_eq!((verified.status, verified.json()["code"].as_str()), (400, Some("bad-request")), "{verified:?}");
        let authz: Vec<(&str, &str)> =
            pair.iter().copied().chain([("X-Original-Method", "POST"), ("X-Original-URI", "/v1/chat")]).collect();
        let checked = send("GET", &format!("{}/v1/authz", api.url), None, &authz, "");
        assert_eq!((checked.status, checked.header("crumb-error")), (403, Some("bad-request")), "{checked:?}");
    }
    assert_eq!(upstream.count(), 0, "the upstream was called");
    // Nothing was charged: the token still pays its full balance.
    let paid = send("POST", &format!("{}/v1/chat", s.url), Some(&token), &[], "");
    assert_eq!((paid.status, paid.header("crumb-balance")), (200, Some("15")), "{paid:?}");
}

/// Every JSON API answer that is not a success names its request: a verify's denial carries
/// `x_request_id` as errors do, and a method a route does not take is a JSON 405 with `Allow`.
#[test]
fn denials_and_wrong_methods_are_json_errors_with_the_request_id() {
    use common::http::send;
    let s = start(&[]);
    let token = s.mint(&["--balance", "5"]);
    let denied = send("POST", &format!("{}/v1/verify", s.url), Some(&token), &[], r#"{"cost":9}"#);
    let doc = denied.json();
    assert_eq!((denied.status, doc["code"].as_str()), (402, Some("insufficient-balance")), "{denied:?}");
    assert_eq!(doc["x_request_id"].as_str(), denied.header("x-request-id"), "{doc}");
    let allowed = send("POST", &format!("{}/v1/verify", s.url), Some(&token), &[], r#"{"cost":1}"#);
    assert!(allowed.json().get("x_request_id").is_none(), "{allowed:?}");
    let wrong = send("DELETE", &format!("{}/v1/spend", s.url), None, &[], "");
    assert_eq!((wrong.status, wrong.json()["code"].as_str()), (405, Some("method-not-allowed")), "{wrong:?}");
    assert_eq!(wrong.header("allow"), Some("POST"));
    assert_eq!(wrong.json()["x_request_id"].as_str(), wrong.header("x-request-id"));
}

/// What crumb reads of a request is read whole and once: a JSON body with a member twice (at
/// any depth: a `context` name twice decided a `tier = gold` caveat by its last copy), a body
/// that is an array (serde matched it to fields by position), a `Crumb-Recover` header twice,
/// an Envoy path beside another family's headers, and a body coded for transfer in a way the
/// upstream would not be told of: each refused before anything is decided or forwarded. The
/// CLI refuses a `--context` name given twice.
#[test]
fn attack_every_ambiguous_description_of_a_request_is_refused() {
    use common::http::send;
    let upstream = common::upstream::Upstream::start();
    let s = start(&["--upstream", &upstream.url, "--price", "* /v1/chat=5", "--admin-listen", "127.0.0.1:0"]);
    let api = start(&["--price", "POST /v1/chat=5"]);
    let gold = api.mint(&["--balance", "20", "-c", "tier = gold"]);
    for body in [
        format!(r#"{{"token":"{gold}","context":{{"tier":"free","tier":"gold"}}}}"#),
        format!(r#"{{"token":"{gold}","cost":1,"cost":100}}"#),
        json!([gold.clone(), [], null, null, null, 3, null, "arr-1"]).to_string(),
    ] {
        for route in ["/v1/verify", "/v1/spend"] {
            let answer = send("POST", &format!("{}{route}", api.url), None, &[], &body);
            assert_eq!(
                (answer.status, answer.json()["code"].as_str()),
                (400, Some("bad-json")),
                "{route} {body}: {answer:?}"
            );
        }
    }
    let token = s.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat", s.url);
    let recover = send("POST", &url, Some(&token), &[("Crumb-Recover", "1"), ("Crumb-Recover", "0")], "");
    assert_eq!((recover.status, recover.header("crumb-error")), (400, Some("bad-recover")), "{recover:?}");
    let coded = send("POST", &url, Some(&token), &[("Transfer-Encoding", "gzip, chunked")], "hello");
    assert_eq!((coded.status, coded.header("crumb-error")), (400, Some("bad-request")), "{coded:?}");
    assert_eq!(upstream.count(), 0, "the upstream was called");
    let envoy =
        send("POST", &format!("{}/v1/authz/v1/models", api.url), Some(&gold), &[("X-Original-URI", "/v1/chat")], "");
    assert_eq!((envoy.status, envoy.header("crumb-error")), (400, Some("no-original-request")), "{envoy:?}");
    let (code, _, err) = api.env.run(&[
        "verify",
        &gold,
        "--offline",
        "--key-file",
        &api.key,
        "--context",
        "tier=free",
        "--context",
        "tier=gold",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("given twice"), "{err}");
}

/// A query string on a JSON route is refused, not ignored: `POST /v1/verify?cost=1000` was
/// answered as if it cost nothing. Forward auth keeps the original request's query.
#[test]
fn a_query_string_on_a_json_route_is_refused_not_ignored() {
    use common::http::send;
    let s = start(&["--price", "GET /v1/models=0"]);
    let token = s.mint(&["--balance", "5"]);
    for (method, path) in [("POST", "/v1/verify?cost=1000"), ("GET", "/v1/status?x=1"), ("GET", "/v1/lineage?nonce=00")]
    {
        let answer = send(method, &format!("{}{path}", s.url), Some(&token), &[], "");
        assert_eq!((answer.status, answer.json()["code"].as_str()), (400, Some("bad-request")), "{path}: {answer:?}");
    }
    let envoy = send("GET", &format!("{}/v1/authz/v1/models?page=2", s.url), Some(&token), &[], "");
    assert_eq!(envoy.status, 200, "{envoy:?}");
}
