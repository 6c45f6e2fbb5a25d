//! `crumb serve` as a real process on a loopback port, driven over real HTTP.

use crate::common;

use common::server::start;
use common::Env;
use serde_json::{json, Value};

#[test]
fn health_and_metrics() {
    let s = start(&[]);
    let health: Value = serde_json::from_str(&common::http::get_ok(&format!("{}/healthz", s.url))).unwrap();
    assert_eq!(health["status"], "ok");
    let token = s.mint(&["--balance", "10"]);
    s.post("/v1/verify", &json!({ "token": token }));
    s.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": "a" }));
    s.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": "b" }));
    let text = common::http::get_ok(&format!("{}/metrics", s.url));
    for needle in [
        "crumb_requests_total{route=\"/v1/verify\",status=\"200\"} 1",
        "crumb_requests_total{route=\"/v1/spend\",status=\"409\"} 1",
        "crumb_request_seconds_bucket{route=\"/v1/spend\",le=\"+Inf\"} 2",
        "crumb_spends_total 1",
        "crumb_double_spend_attempts_total 1",
        "crumb_ledger_errors_total{backend=\"sqlite\"} 0",
        "crumb_ledger_operation_duration_seconds_count{backend=\"sqlite\",operation=\"commit\"} 2",
        "crumb_request_seconds_bucket{route=\"/v1/spend\",le=\"120\"} 2",
        "crumb_holds_in_flight 0",
        "crumb_credits_charged_total 1",
        "crumb_build_info{",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
}

#[test]
fn verify_allows_and_denies_with_reasons() {
    let s = start(&[]);
    let token = s.mint(&["-c", "action = read", "-c", "resource prefix /docs", "-c", "ip in 127.0.0.0/8"]);
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token, "action": "read", "resource": "/docs/7" }));
    assert_eq!((code, doc["allowed"].clone()), (200, json!(true)), "{doc}");
    let bearer = format!("Bearer {token}");
    let (code, _) = s.post_raw("/v1/verify", r#"{"action":"read","resource":"/docs"}"#, &[("Authorization", &bearer)]);
    assert_eq!(code, 200);
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token, "action": "write", "resource": "/docs/7" }));
    assert_eq!(code, 403);
    assert_eq!(doc["code"], "caveat-failed");
    assert_eq!(doc["failed_caveat"]["index"], 0);
    assert_eq!(doc["failed_caveat"]["caveat"], "action = read");
    let other = Env::new();
    let foreign_key = other.key("k");
    let forged = other.ok(&["mint", "--key-file", &foreign_key, "--id", "x"]);
    let (code, doc) = s.post("/v1/verify", &json!({ "token": forged }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("bad-signature")));
}

#[test]
fn bad_requests_get_json_errors_with_stable_codes() {
    let s = start(&[]);
    let token = s.mint(&[]);
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "bad-json"),
        ("[]".into(), 400, "bad-json"),
        (json!({ "token": token, "colour": "blue" }).to_string(), 400, "bad-json"),
        (json!({ "token": 42 }).to_string(), 400, "bad-json"),
        (json!({ "action": "read" }).to_string(), 401, "no-token"),
        (json!({ "token": "!!!" }).to_string(), 400, "malformed-token"),
        (json!({ "token": &token[..token.len() - 10] }).to_string(), 400, "malformed-token"),
        (json!({ "token": "A".repeat(300_000) }).to_string(), 413, "token-too-large"),
        (json!({ "token": token, "discharges": ["zzz"] }).to_string(), 400, "malformed-discharge"),
    ];
    for (body, status, code) in cases {
        let (got, doc) = s.post_raw("/v1/verify", &body, &[]);
        assert_eq!((got, doc["code"].as_str()), (status, Some(code)), "{}", &body[..body.len().min(80)]);
        assert!(doc["message"].is_string());
    }
    // An oversized body is refused from its Content-Length, before it is read. (Over a raw
    // socket: an HTTP client still writing the body may see the connection close first.)
    let (status, doc) = oversized_post(&s.url, "/v1/verify", 2 * 1024 * 1024);
    assert_eq!((status, doc["code"].as_str()), (413, Some("body-too-large")), "{doc}");
    let (got, doc) = s.post_raw("/v1/nowhere", "{}", &[]);
    assert_eq!((got, doc["code"].as_str()), (404, Some("not-found")));
    let (got, doc) = s.post("/v1/spend", &json!({ "token": token }));
    assert_eq!((got, doc["code"].as_str()), (400, Some("bad-request")));
    // Each route takes its own fields: another route's is refused, never ignored.
    for (route, body) in [
        ("/v1/verify", json!({ "token": token, "amounts": [1] })),
        ("/v1/spend", json!({ "token": token, "cost": 1, "revocable": true })),
        ("/v1/split", json!({ "token": token, "amounts": [1], "cost": 1 })),
        ("/v1/revoke", json!({ "token": token, "explain": true })),
        ("/v1/give-back", json!({ "token": token, "cost": 1 })),
        ("/v1/top-up", json!({ "credential": token, "cascade": true })),
    ] {
        let (got, doc) = s.post(route, &body);
        assert_eq!((got, doc["code"].as_str()), (400, Some("bad-json")), "{route}: {doc}");
        assert!(doc["message"].as_str().unwrap().contains("unknown field"), "{route}: {doc}");
    }
    assert_eq!(s.post("/v1/verify", &json!({ "token": token })).1["allowed"], true, "still live");
}

/// Announces a body of `len` bytes, sends only its first bytes, and reads the answer.
fn oversized_post(url: &str, path: &str, len: usize) -> (u16, Value) {
    use std::io::{Read, Write};
    let addr = url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{{\"token\":\"AAAA").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn spend_retry_and_double_spend() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "100", "-c", "max-cost <= 20"]);
    let body = json!({ "token": token, "cost": 15, "request_id": "pay-1" });
    let (code, first) = s.post("/v1/spend", &body);
    assert_eq!(code, 200, "{first}");
    assert_eq!(first["remaining"], 85);
    assert_eq!(first["replayed"], false);
    let (code, again) = s.post("/v1/spend", &body);
    assert_eq!(code, 200);
    assert_eq!(again["token"], first["token"]);
    assert_eq!(again["replayed"], true);
    let (code, doc) = s.post("/v1/spend", &json!({ "token": token, "cost": 15, "request_id": "pay-2" }));
    assert_eq!((code, doc["code"].as_str()), (409, Some("spent")));
    let successor = first["token"].as_str().unwrap();
    let (code, doc) = s.post("/v1/spend", &json!({ "token": successor, "cost": 21 }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("cost-exceeded")));
    let (code, doc) = s.post("/v1/spend", &json!({ "token": successor, "cost": 20 }));
    assert_eq!(code, 200);
    let (code, doc2) = s.post("/v1/spend", &json!({ "token": doc["token"], "cost": 20 }));
    assert_eq!(code, 200, "{doc2}");
    let (code, doc3) = s.post("/v1/spend", &json!({ "token": doc2["token"], "cost": 20 }));
    assert_eq!(code, 200, "{doc3}");
    let (code, doc4) = s.post("/v1/spend", &json!({ "token": doc3["token"], "cost": 20 }));
    assert_eq!((code, doc4["remaining"].as_u64()), (200, Some(5)));
    let (code, doc5) = s.post("/v1/spend", &json!({ "token": doc4["token"], "cost": 6 }));
    assert_eq!((code, doc5["code"].as_str()), (402, Some("insufficient-balance")), "{doc5}");
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token }));
    assert_eq!((code, doc["code"].as_str()), (409, Some("spent")));
}

#[test]
fn split_over_http() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "50"]);
    let (code, doc) = s.post("/v1/split", &json!({ "token": token, "amounts": [10, 15] }));
    assert_eq!(code, 200, "{doc}");
    let balances: Vec<u64> =
        doc["children"].as_array().unwrap().iter().map(|c| c["balance"].as_u64().unwrap()).collect();
    assert_eq!(balances, [10, 15, 25]);
    let (code, doc) = s.post("/v1/split", &json!({ "token": doc["children"][0]["token"], "amounts": [11] }));
    assert_eq!((code, doc["code"].as_str()), (402, Some("insufficient-balance")));
}

#[test]
fn sixty_four_concurrent_spends_give_one_200() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "1000"]);
    let codes: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let (s, token) = (&s, &token);
                scope.spawn(move || {
                    s.post("/v1/spend", &json!({ "token": token, "cost": 1, "request_id": format!("c{i}") })).0
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 409).count(), 63, "{codes:?}");
}

#[test]
fn revoke_needs_possession_or_an_operator_credential() {
    let s = start(&[]);
    let token = s.mint(&[]);
    let victim = s.mint(&[]);
    let nonce = |t: &str| -> String {
        let doc: Value = serde_json::from_str(&s.env.ok(&["inspect", t, "--json"])).unwrap();
        doc["nonce"].as_str().unwrap().to_owned()
    };
    // Anonymous: refused.
    let (code, doc) = s.post("/v1/revoke", &json!({ "nonce": nonce(&victim) }));
    assert_eq!((code, doc["code"].as_str()), (401, Some("no-token")));
    // A holder cannot name someone else's nonce with its own token: it is no delegation of its
    // lineage (and a cascade is an operator's act).
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": token, "nonce": nonce(&victim) }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("not-yours")));
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": token, "nonce": nonce(&victim), "cascade": true }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("not-an-operator")));
    // A forged token proves nothing.
    let other = Env::new();
    let forged = other.ok(&["mint", "--key-file", &other.key("k")]);
    assert_eq!(s.post("/v1/revoke", &json!({ "token": forged })).0, 403);
    assert_eq!(s.post("/v1/verify", &json!({ "token": victim })).0, 200);
    // The holder revokes its own token.
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": token }));
    assert_eq!(code, 200, "{doc}");
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("revoked")));
    // A holder's token with `action = revoke` is not an operator credential.
    let forged = s.mint(&["-c", "action = revoke"]);
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": forged, "nonce": nonce(&victim) }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("not-yours")));
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": forged, "nonce": nonce(&victim), "cascade": true }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("not-an-operator")));
    // An operator credential revokes by nonce; narrowed to another action, it cannot.
    let narrowed = s.mint(&["--operator", "-c", "action = lineage"]);
    let (code, doc) = s.post("/v1/revoke", &json!({ "token": narrowed, "nonce": nonce(&victim) }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("caveat-failed")), "{doc}");
    let admin = s.mint(&["--operator", "--expires-in", "10m"]);
    let (code, doc) = s.post("/v1/verify", &json!({ "token": admin }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("wrong-role")), "an operator credential is no bearer token");
    let bearer = format!("Bearer {admin}");
    // The victim was never used: the ledger has not seen it, so the operator says so.
    let (code, doc) =
        s.post_raw("/v1/revoke", &json!({ "nonce": nonce(&victim) }).to_string(), &[("Authorization", &bearer)]);
    assert_eq!((code, doc["code"].as_str()), (404, Some("unknown-token")), "{doc}");
    let (code, doc) = s.post_raw(
        "/v1/revoke",
        &json!({ "nonce": nonce(&victim), "unseen": true }).to_string(),
        &[("Authorization", &bearer)],
    );
    assert_eq!(code, 200, "{doc}");
    assert_eq!(s.post("/v1/verify", &json!({ "token": victim })).1["code"], "revoked");
}

#[test]
fn trust_proxy_feeds_ip_caveats_from_x_forwarded_for() {
    let plain = start(&[]);
    let token = plain.mint(&["-c", "ip in 203.0.113.0/24"]);
    let xff = [("X-Forwarded-For", "203.0.113.9, 10.0.0.1")];
    assert_eq!(
        plain.post_raw("/v1/verify", &json!({ "token": token }).to_string(), &xff).0,
        403,
        "not trusted by default"
    );
    let proxied = start(&["--trust-proxy", "127.0.0.0/8,10.0.0.0/8"]);
    let token = proxied.mint(&["-c", "ip in 203.0.113.0/24"]);
    assert_eq!(proxied.post_raw("/v1/verify", &json!({ "token": token }).to_string(), &xff).0, 200);
    // The leftmost entry is the client's own writing: a forged one is not believed.
    let forged = [("X-Forwarded-For", "203.0.113.9, 198.51.100.7")];
    assert_eq!(proxied.post_raw("/v1/verify", &json!({ "token": token }).to_string(), &forged).0, 403);
}

#[test]
fn the_audit_log_records_decisions_without_secrets() {
    let env_dir = tempfile::tempdir().unwrap();
    let log = env_dir.path().join("audit.jsonl");
    let s = start(&["--audit-log", log.to_str().unwrap()]);
    let token = s.mint(&["--balance", "5"]);
    s.post("/v1/verify", &json!({ "token": token }));
    s.post("/v1/spend", &json!({ "token": token, "cost": 2, "request_id": "r-9" }));
    let text = crate::common::audit_lines(&log, 2);
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["route"], "/v1/spend");
    assert_eq!(lines[1]["outcome"], "committed");
    // A digest of the request id, never the id: an id entitles a retry to its successor.
    let digest = lines[1]["request_id"].as_str().unwrap();
    assert!(digest.len() == 16 && digest != "r-9" && !text.contains("\"r-9\""), "{digest}");
    assert_eq!(lines[1]["cost"], 2);
    assert!(lines[0]["nonce"].as_str().unwrap().len() == 32);
    assert!(!text.contains(&token[20..]), "the audit log must not hold tokens");
    let key_hex = std::fs::read_to_string(&s.key).unwrap();
    assert!(!text.contains(key_hex.trim()));
}

#[test]
fn the_cli_spends_splits_and_verifies_against_the_server() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "40", "-c", "action = read"]);
    let file = s.env.file("agent.token", token.as_bytes());
    let out = s.env.ok(&["spend", "--token-file", &file, "--cost", "4", "--server", &s.url, "--action", "read"]);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(saved.trim(), out);
    let doc: Value = serde_json::from_str(&s.env.ok(&["inspect", &out, "--json"])).unwrap();
    assert_eq!(doc["balance"], 36);
    assert_eq!(s.env.ok(&["verify", &out, "--server", &s.url, "--action", "read"]), "valid");
    let (code, _, err) = s.env.run(&["verify", &token, "--server", &s.url, "--action", "read"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("spent"), "{err}");
    let kids = s.env.ok(&["split", &out, "--amount", "6", "--server", &s.url, "--action", "read"]);
    assert_eq!(kids.lines().count(), 2);
    let (code, _, err) = s.env.run(&["spend", &out, "--cost", "1", "--server", &s.url, "--action", "read"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn an_unreachable_server_is_exit_3_and_the_token_file_is_untouched() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    let file = env.file("t", token.as_bytes());
    let refusing = common::upstream::Refusing::new();
    let url = refusing.url.clone();
    let (code, _, err) = env.run(&["spend", "--token-file", &file, "--cost", "1", "--server", &url]);
    assert_eq!(code, 3, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
}

#[cfg(unix)]
#[test]
fn sigterm_shuts_down_cleanly() {
    let mut s = start(&[]);
    let pid = s.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn discharges_in_verify_and_spend() {
    let s = start(&[]);
    let idp = s.env.key("idp.key");
    let minted = s.mint(&["--balance", "10"]);
    let token = s.env.ok(&[
        "attenuate",
        &minted,
        "--third-party",
        "https://idp",
        "--caveat-key-file",
        &idp,
        "--caveat-id",
        "user = bob",
    ]);
    let discharge = s.env.ok(&["discharge", "--key-file", &idp, "--id", "user = bob"]);
    let bound = s.env.ok(&["bind", &token, &discharge]);
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("missing-discharge")));
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token, "discharges": [discharge] }));
    assert_eq!((code, doc["code"].as_str()), (403, Some("invalid-discharge")));
    let (code, doc) = s.post("/v1/verify", &json!({ "token": token, "discharges": [bound], "explain": true }));
    assert_eq!(code, 200, "{doc}");
    assert_eq!(doc["caveats"][1]["by"], "discharge 0");
    let (code, doc) = s.post("/v1/spend", &json!({ "token": token, "cost": 4, "discharges": [bound] }));
    assert_eq!(code, 200, "{doc}");
    let successor = doc["token"].as_str().unwrap();
    let rebound = s.env.ok(&["bind", successor, &discharge]);
    let (code, doc) = s.post("/v1/verify", &json!({ "token": successor, "discharges": [rebound] }));
    assert_eq!((code, doc["balance"].as_u64()), (200, Some(6)), "{doc}");
}

#[test]
fn remote_verify_gives_reasons_and_explanations() {
    let s = start(&[]);
    let token = s.mint(&["-c", "action = read", "-c", "aud = api"]);
    let (code, out, _) =
        s.env.run(&["verify", &token, "--server", &s.url, "--action", "write", "--aud", "api", "--json"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["allowed"], false);
    assert_eq!(doc["code"], "caveat-failed");
    assert_eq!(doc["caveats"].as_array().unwrap().len(), 2);
    let (code, out, _) =
        s.env.run(&["verify", &token, "--server", &s.url, "--action", "read", "--aud", "api", "--explain"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().filter(|l| l.contains("ok")).count(), 2, "{out}");
    let (code, _, err) = s.env.run(&["verify", &token, "--server", &s.url, "--ip", "1.2.3.4"]);
    assert_eq!(code, 2, "--ip is a local check: {err}");
}

#[test]
fn a_request_that_stalls_times_out() {
    use std::io::{Read, Write};
    let s = start(&["--timeout", "1"]);
    let addr = s.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    // Announce a body and never send it: the server gives up after --timeout, with JSON.
    write!(stream, "POST /v1/verify HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{")
        .unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let started = std::time::Instant::now();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":\"timeout\""), "{answer}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Costs, amounts and balances above 2^63 − 1 are refused (400 / exit 2) before any work: the
/// schema says int64, and a ledger's bigint column must read back what was written.
#[test]
fn amounts_past_a_signed_64_bit_column_are_refused() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "10"]);
    for (route, body) in [
        ("/v1/spend", json!({ "token": token, "cost": 9223372036854775808u64 })),
        ("/v1/verify", json!({ "token": token, "cost": 9223372036854775808u64 })),
        ("/v1/split", json!({ "token": token, "amounts": [9223372036854775808u64] })),
    ] {
        let (code, doc) = s.post(route, &body);
        assert_eq!((code, doc["code"].as_str()), (400, Some("bad-request")), "{route}: {doc}");
    }
    let (code, _, err) = s.env.run(&["mint", "--key-file", &s.key, "--balance", "9223372036854775808"]);
    assert_eq!(code, 2, "{err}");
}

/// `crumb serve` that cannot listen leaves nothing behind: no development key made for nothing.
#[test]
fn a_server_that_cannot_listen_makes_no_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let env = common::Env::new();
    let (code, _, err) = env.run(&["serve", "--listen", &addr, "--ledger", env.path("l.db").to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("cannot listen"), "{err}");
    assert!(!env.path("data/root.key").exists(), "a key was made before the port failed");
}

/// logrotate's way: rename the audit log, then SIGHUP; the server writes on to a new file at
/// the path, and no line is lost.
#[test]
fn the_audit_log_is_reopened_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let s = start(&["--audit-log", log.to_str().unwrap()]);
    let token = s.mint(&["--balance", "5"]);
    s.post("/v1/verify", &json!({ "token": token }));
    assert_eq!(crate::common::audit_lines(&log, 1).lines().count(), 1);
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&log, &rotated).unwrap();
    s.post("/v1/verify", &json!({ "token": token }));
    let status = std::process::Command::new("kill").args(["-HUP", &s.pid().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !log.exists() {
        assert!(std::time::Instant::now() < deadline, "never reopened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    s.post("/v1/verify", &json!({ "token": token }));
    assert_eq!(crate::common::audit_lines(&log, 1).lines().count(), 1, "the new file has what came after");
    assert_eq!(std::fs::read_to_string(&rotated).unwrap().lines().count(), 2, "the old one what came before");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
}

/// `--log-format json`: each of the server's own log lines is one JSON object on stderr.
#[test]
fn log_lines_are_json_objects_with_log_format_json() {
    use std::io::BufRead;
    let env = crate::common::Env::new();
    let key = env.key("root.key");
    let mut child = env
        .process()
        .args(["serve", "--listen", "127.0.0.1:0", "--key-file", &key, "--log-format", "json"])
        .args(["--ledger", env.path("l.db").to_str().unwrap()])
        .env("CRUMB_LOG", "crumb=info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let doc: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(doc["level"], "INFO", "{doc}");
    assert_eq!(doc["fields"]["message"], "crumb serving", "{doc}");
    assert!(!line.contains('\u{1b}'), "no colour codes");
}
