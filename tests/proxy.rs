//! The metering reverse proxy (`crumb serve --upstream`), through real sockets: a real
//! `crumb serve` in front of a counting upstream on loopback.

use crate::common;

use common::http::{send, Answer};
use common::server::{start, Server};
use common::upstream::{Refusing, Upstream, PRICES};
use serde_json::Value;
use std::time::Duration;

fn proxy(upstream: &Upstream, extra: &[&str]) -> Server {
    let mut args = vec!["--upstream", &upstream.url];
    args.extend_from_slice(PRICES);
    args.extend_from_slice(&["--price", "* /fail=5", "--admin-listen", "127.0.0.1:0"]);
    args.extend_from_slice(extra);
    start(&args)
}

#[test]
fn a_paid_request_is_forwarded_once_and_answered_with_its_successor() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token = server.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat?q=1", server.url);
    let paid = send("POST", &url, Some(&token), &[], "hello");
    assert_eq!(paid.status, 200, "{paid:?}");
    assert_eq!(paid.body, "POST /v1/chat?q=1 hello");
    assert_eq!(upstream.count(), 1);
    assert_eq!((paid.header("crumb-balance"), paid.header("crumb-cost")), (Some("15"), Some("5")));
    assert_eq!(paid.header("cache-control"), Some("no-store"));
    assert_ne!(paid.successor(), "forged-by-upstream", "the upstream's Crumb-* headers are stripped");
    let inspected: Value = serde_json::from_str(&server.env.ok(&["inspect", paid.successor(), "--json"])).unwrap();
    assert!(inspected.to_string().contains("balance <= 15"), "{inspected}");

    // The old token is refused and the upstream is not called.
    let again = send("POST", &url, Some(&token), &[], "hello");
    assert_eq!((again.status, again.json()["code"].as_str()), (409, Some("spent")), "{again:?}");
    assert_eq!(upstream.count(), 1);
    // A forgery of it (the same identifier, another signature) learns nothing of the ledger.
    let mut forged = crumb::token::wire::decode(&token).unwrap();
    forged.signature[0] ^= 1;
    let forged = crumb::token::wire::encode(&forged, crumb::Format::V2).unwrap();
    let refused = send("POST", &url, Some(&forged), &[], "hello");
    assert_eq!(refused.json()["code"].as_str(), Some("bad-signature"), "{refused:?}");
    assert_eq!(upstream.count(), 1);

    // The successor pays for the next one, priced by method: GET costs 2.
    let next = send("GET", &url, Some(paid.successor()), &[], "");
    assert_eq!((next.status, next.header("crumb-balance")), (200, Some("13")), "{next:?}");
    assert_eq!(upstream.count(), 2);
}

#[test]
fn no_token_or_a_low_balance_gets_the_payment_challenge() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &["--realm", "chat-api"]);
    let url = format!("{}/v1/chat", server.url);
    let none = send("POST", &url, None, &[], "");
    assert_eq!(none.status, 402, "{none:?}");
    assert_eq!(none.header("www-authenticate"), Some(r#"Crumb realm="chat-api", cost="5""#));
    assert_eq!(none.header("content-type"), Some("application/problem+json"));
    let problem = none.json();
    assert_eq!((problem["status"].as_u64(), problem["code"].as_str()), (Some(402), Some("payment-required")));
    assert!(problem["type"].is_string() && problem["title"].is_string() && problem["detail"].is_string());

    let poor = server.mint(&["--balance", "4"]);
    let low = send("POST", &url, Some(&poor), &[], "");
    assert_eq!((low.status, low.json()["code"].as_str()), (402, Some("insufficient-balance")), "{low:?}");
    assert_eq!(low.header("www-authenticate"), Some(r#"Crumb realm="chat-api", cost="5""#));
    assert_eq!((low.json()["balance"].as_u64(), low.json()["cost"].as_u64()), (Some(4), Some(5)));
    // The poor token still buys what it can afford: nothing was held or spent.
    assert_eq!(send("GET", &url, Some(&poor), &[], "").status, 200);
    assert_eq!(upstream.count(), 1);
}

#[test]
fn a_failed_caveat_is_403_naming_it_and_the_upstream_is_not_called() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let url = format!("{}/v1/chat", server.url);
    let reader = server.mint(&["--balance", "20", "--caveat", "action = GET"]);
    let refused = send("POST", &url, Some(&reader), &[], "");
    assert_eq!((refused.status, refused.json()["code"].as_str()), (403, Some("caveat-failed")), "{refused:?}");
    assert_eq!(refused.json()["caveat"], "action = GET");
    let elsewhere = server.mint(&["--balance", "20", "--caveat", "resource = /v1/models"]);
    assert_eq!(send("GET", &url, Some(&elsewhere), &[], "").status, 403);
    let other_host = server.mint(&["--balance", "20", "--caveat", "aud = api.example.com"]);
    assert_eq!(send("GET", &url, Some(&other_host), &[], "").status, 403);
    // The Host is the client's to choose, unless the operator names the audience.
    assert_eq!(send("GET", &url, Some(&other_host), &[("Host", "api.example.com:8080")], "").status, 200);
    let named = proxy(&upstream, &["--audience", "chat-api"]);
    let for_chat = named.mint(&["--balance", "20", "--caveat", "aud = chat-api"]);
    let for_other = named.mint(&["--balance", "20", "--caveat", "aud = api.example.com"]);
    let named_url = format!("{}/v1/chat", named.url);
    assert_eq!(send("GET", &named_url, Some(&for_chat), &[], "").status, 200);
    assert_eq!(send("GET", &named_url, Some(&for_other), &[("Host", "api.example.com")], "").status, 403);
    let capped = server.mint(&["--balance", "20", "--caveat", "max-cost <= 3"]);
    assert_eq!(send("POST", &url, Some(&capped), &[], "").status, 403);
    assert_eq!(send("GET", &url, Some(&capped), &[], "").status, 200, "GET costs 2, under the cap");
    assert_eq!(upstream.count(), 3);
}

#[test]
fn unpriced_routes_are_refused_and_free_ones_still_need_a_valid_token() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token = server.mint(&["--balance", "20"]);
    let unpriced = send("DELETE", &format!("{}/v1/chat", server.url), Some(&token), &[], "");
    assert_eq!((unpriced.status, unpriced.json()["code"].as_str()), (403, Some("unpriced")));
    let models = format!("{}/v1/models", server.url);
    assert_eq!(send("GET", &models, None, &[], "").status, 402);
    let free = send("GET", &models, Some(&token), &[], "");
    assert_eq!((free.status, free.header("crumb-cost"), free.header("crumb-balance")), (200, Some("0"), Some("20")));
    assert_eq!(free.successor(), token, "a free request consumes nothing");
    assert_eq!(send("GET", &models, Some("not-a-token"), &[], "").status, 400);
    assert_eq!(upstream.count(), 1);

    let open = proxy(&upstream, &["--unpriced", "free"]);
    let passed = send("GET", &format!("{}/public/page", open.url), None, &[], "");
    assert_eq!((passed.status, passed.header("crumb-token")), (200, None));
    assert_eq!(upstream.count(), 2);
}

#[test]
fn a_failed_upstream_answer_is_not_charged() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token = server.mint(&["--balance", "20"]);
    let failed = send("POST", &format!("{}/fail/x", server.url), Some(&token), &[], "");
    assert_eq!(failed.status, 500, "{failed:?}");
    assert_eq!((failed.header("crumb-balance"), failed.header("crumb-cost")), (Some("20"), Some("0")));
    assert_eq!(upstream.count(), 1);
    // The old token was consumed (its successor carries the balance); the successor works.
    assert_eq!(send("POST", &format!("{}/v1/chat", server.url), Some(&token), &[], "").status, 409);
    let ok = send("POST", &format!("{}/v1/chat", server.url), Some(failed.successor()), &[], "");
    assert_eq!((ok.status, ok.header("crumb-balance")), (200, Some("15")));
}

#[test]
fn an_unreachable_upstream_charges_nothing_and_keeps_the_token() {
    let dead = Refusing::new();
    let server = start(&["--upstream", &dead.url, "--price", "* /=5", "--admin-listen", "127.0.0.1:0"]);
    let token = server.mint(&["--balance", "20"]);
    let refused = send("POST", &format!("{}/v1/chat", server.url), Some(&token), &[], "");
    assert_eq!((refused.status, refused.json()["code"].as_str()), (502, Some("upstream-unavailable")), "{refused:?}");
    assert_eq!(refused.header("crumb-token"), None);
    // The hold was released at once: the token is neither spent nor in flight.
    let admin = server.admin.clone().unwrap();
    let body = serde_json::json!({ "token": token, "cost": 5 }).to_string();
    let verdict = send("POST", &format!("{admin}/v1/verify"), None, &[("Content-Type", "application/json")], &body);
    assert_eq!((verdict.status, verdict.json()["allowed"].as_bool()), (200, Some(true)), "{verdict:?}");
    let again = send("POST", &format!("{}/v1/chat", server.url), Some(&token), &[], "");
    assert_eq!(again.json()["code"].as_str(), Some("upstream-unavailable"), "{again:?}");
}

#[test]
fn an_idempotency_key_retry_returns_the_recorded_successor_without_a_second_call() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token = server.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat", server.url);
    let key = [("Idempotency-Key", "req-7f3a")];
    let first = send("POST", &url, Some(&token), &key, "hi");
    assert_eq!(first.status, 200);
    let retry = send("POST", &url, Some(&token), &key, "hi");
    assert_eq!((retry.status, retry.json()["code"].as_str()), (409, Some("already-answered")), "{retry:?}");
    assert_eq!(retry.successor(), first.successor());
    assert_eq!((retry.header("crumb-balance"), retry.header("crumb-replayed")), (Some("15"), Some("true")));
    assert_eq!(upstream.count(), 1, "the retry did not reach the upstream");

    // The key for another request learns only `spent`: a distinct answer would confirm a
    // guessed key to whoever holds a copy of the spent token.
    let other = send("POST", &format!("{url}/other"), Some(&token), &key, "hi");
    assert_eq!((other.status, other.json()["code"].as_str()), (409, Some("spent")), "{other:?}");
    assert!(other.header("crumb-token").is_none());
    // Another holder of a copy of the same token learns only that it is spent.
    let copy = server.env.ok(&["attenuate", &token, "--caveat", "action = POST"]);
    let theirs = send("POST", &url, Some(&copy), &key, "hi");
    assert_eq!((theirs.status, theirs.json()["code"].as_str()), (409, Some("spent")), "{theirs:?}");
    assert_eq!(theirs.header("crumb-token"), None);
    assert_eq!(upstream.count(), 1);
}

#[test]
fn concurrent_uses_of_one_token_reach_the_upstream_once() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token = server.mint(&["--balance", "100"]);
    let url = format!("{}/slow/work", server.url);
    let answers: Vec<Answer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32).map(|_| scope.spawn(|| send("POST", &url, Some(&token), &[], ""))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
    assert_eq!(ok.len(), 1, "{:?}", answers.iter().map(|a| (a.status, a.json()["code"].clone())).collect::<Vec<_>>());
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 409), "{answers:?}");
    assert_eq!(upstream.count(), 1);
    assert_eq!(ok[0].header("crumb-balance"), Some("99"));
}

#[test]
fn credentials_and_crumb_headers_never_reach_the_upstream_and_operator_headers_do() {
    let upstream = Upstream::start();
    let mut server = {
        let env = common::Env::new();
        let key = env.key("root.key");
        let ledger = env.path("ledger.db");
        let mut child = env
            .process()
            .args(["serve", "--listen", "127.0.0.1:0", "--key-file", &key, "--ledger", ledger.to_str().unwrap()])
            .args(["--upstream", &upstream.url, "--price", "* /=1"])
            .args([
                "--upstream-header",
                "Authorization: Bearer ${UPSTREAM_KEY}",
                "--upstream-header",
                "X-Tenant: crumb",
            ])
            .env("UPSTREAM_KEY", "sk-upstream-secret")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        let url = line.trim().strip_prefix("listening on ").unwrap().to_owned();
        Server { env, key, url, admin: None, child }
    };
    let token = server.mint(&["--balance", "5"]);
    let answer = send(
        "PUT",
        &format!("{}/v1/things", server.url),
        Some(&token),
        &[("Crumb-Discharge", ""), ("Crumb-Anything", "x"), ("X-Custom", "kept")],
        "",
    );
    // An empty Crumb-Discharge is not a token: refused before the upstream.
    assert_eq!(answer.status, 400, "{answer:?}");
    let answer = send(
        "PUT",
        &format!("{}/v1/things", server.url),
        Some(&token),
        &[("Crumb-Anything", "x"), ("X-Custom", "kept")],
        "",
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let (method, path, headers) = upstream.last();
    assert_eq!((method.as_str(), path.as_str()), ("PUT", "/v1/things"));
    assert_eq!(headers.get("authorization").unwrap(), "Bearer sk-upstream-secret");
    assert_eq!(headers.get("x-tenant").unwrap(), "crumb");
    assert_eq!(headers.get("x-custom").unwrap(), "kept");
    assert!(headers.keys().all(|k| !k.as_str().starts_with("crumb-")), "{headers:?}");
    assert!(!format!("{headers:?}").contains(&token), "the client's token reached the upstream");
    let _ = server.terminate(Duration::from_secs(5));

    // A variable that is not set stops the server at start-up.
    let env = common::Env::new();
    let key = env.key("k");
    let (code, _, err) = env.run(&[
        "serve",
        "--key-file",
        &key,
        "--upstream",
        &upstream.url,
        "--upstream-header",
        "Authorization: Bearer ${NOT_SET_ANYWHERE}",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("NOT_SET_ANYWHERE"), "{err}");
}

#[test]
fn crumbs_own_routes_move_to_the_admin_listener() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &["--unpriced", "free"]);
    let admin = server.admin.clone().expect("admin address");
    // /healthz on the traffic port is the upstream's path like any other.
    let proxied = send("GET", &format!("{}/healthz", server.url), None, &[], "");
    assert_eq!(proxied.body, "GET /healthz ");
    let health = send("GET", &format!("{admin}/healthz"), None, &[], "");
    assert_eq!((health.status, health.json()["status"].as_str()), (200, Some("ok")));
    let metrics = send("GET", &format!("{admin}/metrics"), None, &[], "");
    assert!(metrics.body.contains(r#"route="proxy""#), "{}", metrics.body);
}

#[test]
fn bad_price_rules_and_flags_are_refused_at_start() {
    let env = common::Env::new();
    let key = env.key("k");
    for bad in [
        vec!["--price", "POST /v1/chat"],
        vec!["--price", "POST /v1/../x=1"],
        vec!["--price", "GET /a=1", "--price", "GET /a/=2"],
        vec!["--upstream", "ftp://api.example.com"],
        vec!["--admin-listen", "127.0.0.1:0"],
        vec!["--upstream-ca", "/etc/hostname"],
        vec!["--prices", "/nonexistent/prices.txt"],
    ] {
        let mut args = vec!["serve", "--key-file", &key, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(&bad);
        let (code, _, err) = env.run(&args);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
}

/// A TCP relay in front of `target` that loses the answer to its first connection: it passes
/// the request on, waits for the answer, and hangs up without sending it. Later connections
/// are relayed whole.
fn lossy_relay(target: &str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let target = target.to_owned();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { continue };
            let target = target.clone();
            std::thread::spawn(move || {
                let mut server = std::net::TcpStream::connect(&target).unwrap();
                let mut to_server = client.try_clone().unwrap();
                let mut from_client = server.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut to_server, &mut from_client);
                });
                if n == 0 {
                    let mut first = [0u8; 1];
                    let _ = server.read(&mut first); // the answer has started: now lose it
                    let _ = client.shutdown(std::net::Shutdown::Both);
                } else {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.flush();
                }
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn crumb_request_keeps_the_token_file_rotated() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token_file = server.env.file("agent.token", server.mint(&["--balance", "20"]).as_bytes());
    let url = format!("{}/v1/chat", server.url);
    for expected in ["15", "10"] {
        let out = server
            .env
            .crumb()
            .args(["request", "--token-file", &token_file, "-X", "POST", &url, "-d", "ping", "-v"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "POST /v1/chat ping");
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(stderr.contains("< http 200") && stderr.contains(&format!("crumb-balance: {expected}")), "{stderr}");
        assert!(!stderr.contains(&std::fs::read_to_string(&token_file).unwrap().trim().to_lowercase()));
    }
    let saved = std::fs::read_to_string(&token_file).unwrap();
    let doc: Value = serde_json::from_str(&server.env.ok(&["inspect", saved.trim(), "--json"])).unwrap();
    assert!(doc.to_string().contains("balance <= 10"), "{doc}");
    assert_eq!(upstream.count(), 2);

    // Too poor: exit 1 with the server's reason, and the file keeps its token.
    let poor = server.env.file("poor.token", server.mint(&["--balance", "1"]).as_bytes());
    let before = std::fs::read_to_string(&poor).unwrap();
    let (code, out, err) = server.env.run(&["request", "--token-file", &poor, "-X", "POST", &url]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("402") && err.contains("insufficient-balance"), "{err}");
    assert_eq!(std::fs::read_to_string(&poor).unwrap(), before);
    let (code, _, err) = server.env.run(&["request", "--token-file", &poor, "-H", "Authorization: x", &url]);
    assert_eq!(code, 2, "{err}");
    // A caveat refuses: exit 1, the caveat named.
    let reader = server.env.file("reader.token", server.mint(&["--balance", "20", "-c", "action = GET"]).as_bytes());
    let (code, _, err) = server.env.run(&["request", "--token-file", &reader, "-X", "POST", &url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("403") && err.contains("caveat-failed") && err.contains("action"), "{err}");
    assert_eq!(upstream.count(), 2);
}

#[test]
fn crumb_request_recovers_the_successor_when_the_answer_is_lost() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let relay = lossy_relay(server.addr());
    let token_file = server.env.file("agent.token", server.mint(&["--balance", "20"]).as_bytes());
    let (code, out, err) =
        server.env.run(&["request", "--token-file", &token_file, "-X", "POST", &format!("{relay}/v1/chat"), "-d", "x"]);
    // The first answer was lost; the retry (same token, same key) got the recorded successor.
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("answered before"), "{err}");
    assert_eq!(upstream.count(), 1, "the retry did not call the upstream again");
    let saved = std::fs::read_to_string(&token_file).unwrap();
    let doc: Value = serde_json::from_str(&server.env.ok(&["inspect", saved.trim(), "--json"])).unwrap();
    assert!(doc.to_string().contains("balance <= 15"), "the change was kept: {doc}");
    // And the successor pays for the next request.
    let (code, _, err) = server.env.run(&["request", "--token-file", &token_file, &format!("{}/v1/chat", server.url)]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn parallel_crumb_requests_on_one_token_file_take_turns() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token_file = server.env.file("agent.token", server.mint(&["--balance", "20"]).as_bytes());
    let url = format!("{}/slow/x", server.url);
    let codes: Vec<i32> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| server.env.run(&["request", "--token-file", &token_file, "-X", "POST", &url]).0))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(codes, vec![0, 0, 0, 0]);
    assert_eq!(upstream.count(), 4);
    let saved = std::fs::read_to_string(&token_file).unwrap();
    let doc: Value = serde_json::from_str(&server.env.ok(&["inspect", saved.trim(), "--json"])).unwrap();
    assert!(doc.to_string().contains("balance <= 16"), "{doc}");
}

#[test]
fn every_metered_decision_is_audited_without_the_token() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let server = proxy(&upstream, &["--audit-log", log.to_str().unwrap()]);
    let token = server.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat", server.url);
    let paid = send("POST", &url, Some(&token), &[("Idempotency-Key", "k1")], "");
    send("POST", &url, Some(&token), &[("Idempotency-Key", "k1")], "");
    send("POST", &format!("{}/fail/x", server.url), Some(paid.successor()), &[], "");
    let text = crate::common::audit_lines(&log, 3);
    let outcomes: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .inspect(|entry| assert_eq!(entry["route"], "proxy"))
        .map(|entry| entry["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["charged", "replayed", "not-charged"]);
    assert!(!text.contains(&token) && !text.contains(paid.successor()), "a token reached the audit log");
}

/// A client that hangs up while its request is at the upstream is still charged when the
/// upstream answers, and the audit log says so (review: the entry was written by the request's
/// future, which the hang-up dropped, so a real charge had no audit line).
#[test]
fn a_charge_settled_after_the_client_hung_up_is_audited() {
    use std::io::Write;
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let server = proxy(&upstream, &["--audit-log", log.to_str().unwrap(), "--price", "* /hang=7"]);
    let token = server.mint(&["--balance", "20"]);
    let addr = server.url.strip_prefix("http://").unwrap();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    write!(client, "GET /hang/x HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(client);
    let text = common::audit_lines(&log, 1);
    let entry: Value = serde_json::from_str(text.lines().next().expect("an audit line")).unwrap();
    assert_eq!((entry["outcome"].as_str(), entry["cost"].as_u64()), (Some("charged"), Some(7)), "{entry}");
    assert!(entry["request_id"].is_string(), "{entry}");
    assert_eq!(upstream.count(), 1);
}

/// A request delivered to an upstream that then misses its deadline may have been served: it
/// is charged, the successor comes with the 504, and a token that can pay once cannot drive
/// unlimited upstream work by timing out. A retry with the same key gets the same successor
/// without a second upstream call.
#[test]
fn an_upstream_that_does_not_answer_in_time_is_charged_once_and_not_free_to_repeat() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &["--upstream-timeout", "1s", "--price", "* /hang=5"]);
    let token = server.mint(&["--balance", "20"]);
    let started = std::time::Instant::now();
    let key = [("Idempotency-Key", "hang-1")];
    let late = send("POST", &format!("{}/hang/x", server.url), Some(&token), &key, "");
    assert_eq!((late.status, late.json()["code"].as_str()), (504, Some("upstream-timeout")), "{late:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "the timeout held");
    assert_eq!((late.header("crumb-balance"), late.header("crumb-cost")), (Some("15"), Some("5")), "{late:?}");
    assert_eq!(upstream.count(), 1);
    // The spent token buys nothing more; its retry gets its successor, not another call.
    let again = send("POST", &format!("{}/hang/x", server.url), Some(&token), &[], "");
    assert_eq!((again.status, again.header("crumb-error")), (409, Some("spent")), "{again:?}");
    let retry = send("POST", &format!("{}/hang/x", server.url), Some(&token), &key, "");
    assert_eq!((retry.status, retry.header("crumb-error")), (409, Some("already-answered")), "{retry:?}");
    assert_eq!(retry.header("crumb-token"), late.header("crumb-token"));
    assert_eq!(upstream.count(), 1, "the upstream was called again");
    // The successor pays on.
    let next = send("POST", &format!("{}/v1/chat", server.url), Some(late.successor()), &[], "");
    assert_eq!((next.status, next.header("crumb-balance")), (200, Some("10")), "{next:?}");
}

/// Sends a raw request line (no client normalises it) and returns the status code.
fn raw_status(addr: &str, head: &str) -> u16 {
    common::http::raw(addr, head).status
}

#[test]
fn a_path_that_could_climb_out_of_its_price_is_refused_before_the_upstream() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token = server.mint(&["--balance", "20"]);
    for path in
        ["/v1/models/../chat", "/v1/models/%2e%2e/chat", "/v1/models%2f..%2fchat", "//v1/chat", "/v1/models/./x"]
    {
        let head = format!("POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        assert_eq!(raw_status(server.addr(), &head), 400, "{path}");
    }
    let discharges = format!("Crumb-Discharge: {token}\r\n").repeat(33);
    let head = format!("POST /v1/chat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{discharges}Content-Length: 0\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_status(server.addr(), &head), 400, "33 discharges");
    let long_key = "k".repeat(256);
    let refused = send("POST", &format!("{}/v1/chat", server.url), Some(&token), &[("Idempotency-Key", &long_key)], "");
    assert_eq!((refused.status, refused.json()["code"].as_str()), (400, Some("bad-idempotency-key")));
    assert_eq!(upstream.count(), 0);
}

#[test]
fn a_streaming_answer_is_not_evicted_as_an_idle_connection() {
    use std::io::{Read, Write};
    let upstream = common::upstream::trickle(10, Duration::from_millis(100));
    let server = start(&["--upstream", &upstream, "--price", "* /=1", "--max-connections", "2"]);
    let token = server.mint(&["--balance", "20"]);
    let mut streaming = std::net::TcpStream::connect(server.addr()).unwrap();
    write!(streaming, "GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    streaming.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // The cap is 2: the second connection fits, the third must make room by closing an idle
    // one — the second, never the one whose answer is still streaming.
    let _idle = std::net::TcpStream::connect(server.addr()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _newcomer = std::net::TcpStream::connect(server.addr()).unwrap();
    streaming.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = String::new();
    let _ = streaming.read_to_string(&mut rest);
    let body: Vec<&str> = rest.split("\r\n\r\n").nth(1).unwrap_or_default().lines().collect();
    assert_eq!(body.len(), 10, "the streamed answer was cut short: {rest:?}");
}

/// Sends `GET path` with `token` on a new connection (closed after the answer) and returns the
/// connection (a refused one too: reading it then gives nothing).
fn raw_get(server: &Server, path: &str, token: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ =
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream
}

#[test]
fn an_upstream_that_stalls_mid_answer_is_cut_off_after_the_upstream_timeout() {
    use std::io::Read;
    let upstream = common::upstream::trickle(3, Duration::from_secs(3));
    let server = start(&["--upstream", &upstream, "--price", "* /=1", "--upstream-timeout", "1s"]);
    let token = server.mint(&["--balance", "20"]);
    let mut stream = raw_get(&server, "/events", &token);
    let started = std::time::Instant::now();
    let mut answer = String::new();
    let read = stream.read_to_string(&mut answer);
    assert!(started.elapsed() < Duration::from_millis(2500), "waited {:?}: {read:?}", started.elapsed());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert_eq!(answer.split("\r\n\r\n").nth(1), Some(""), "the answer was cut off before any of its body");
}

#[test]
fn a_client_that_stops_reading_is_cut_off_after_the_send_timeout() {
    use std::io::Read;
    let upstream = common::upstream::flood();
    let server =
        start(&["--upstream", &upstream, "--price", "* /=0", "--max-connections", "1", "--send-timeout", "1s"]);
    let token = server.mint(&[]);
    let mut stalled = raw_get(&server, "/big", &token);
    let mut head = [0u8; 12];
    stalled.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // The one connection is busy sending; once it has waited a second for its reader, it is
    // closed, and a new client gets in.
    let started = std::time::Instant::now();
    loop {
        let mut answer = String::new();
        let _ = raw_get(&server, "/small", &token).read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 200") {
            assert!(answer.ends_with("\r\n\r\nok"), "{answer:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "the stalled reader kept the only connection");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn crumb_request_takes_an_empty_crumb_token_for_none() {
    // Some proxies in front of forward auth set the header empty on a refusal.
    let server = common::upstream::canned(
        "HTTP/1.1 403 Forbidden\r\nCrumb-Token: \r\nCrumb-Error: spent\r\nContent-Type: application/problem+json\r\n\
         Content-Length: 16\r\nConnection: close\r\n\r\n{\"code\":\"spent\"}",
    );
    let env = common::Env::new();
    let token = env.ok(&["mint", "--key-file", &env.key("k"), "--balance", "5"]);
    let file = env.file("t", token.as_bytes());
    let (code, _, err) = env.run(&["request", "--token-file", &file, &format!("{server}/x")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("403") && err.contains("spent"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
}

#[test]
fn an_https_upstream_is_reached_only_with_a_certificate_crumb_trusts() {
    let (upstream, ca) = Upstream::start_tls();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("upstream-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let trusting =
        start(&["--upstream", &upstream.url, "--upstream-ca", ca_file.to_str().unwrap(), "--price", "* /=5"]);
    let token = trusting.mint(&["--balance", "20"]);
    let paid = send("POST", &format!("{}/v1/chat", trusting.url), Some(&token), &[], "over tls");
    assert_eq!((paid.status, paid.body.as_str()), (200, "POST /v1/chat over tls"), "{paid:?}");
    assert_eq!(paid.header("crumb-balance"), Some("15"));
    assert_eq!(upstream.count(), 1);

    // Crumb's built-in roots do not know this private CA: the upstream is never reached, and
    // nothing is charged.
    let untrusting = start(&["--upstream", &upstream.url, "--price", "* /=5"]);
    let token = untrusting.mint(&["--balance", "20"]);
    let refused = send("POST", &format!("{}/v1/chat", untrusting.url), Some(&token), &[], "");
    assert_eq!((refused.status, refused.json()["code"].as_str()), (502, Some("upstream-unavailable")), "{refused:?}");
    assert_eq!(refused.header("crumb-token"), None);
    assert_eq!(upstream.count(), 1);
}

#[test]
fn an_upstream_ca_that_cannot_be_used_stops_crumb_at_start() {
    let env = common::Env::new();
    let key = env.key("k");
    let not_pem = env.file("ca.pem", b"not a certificate");
    let missing = env.path("nowhere.pem");
    for (upstream, ca, says) in [
        ("https://127.0.0.1:1", not_pem.as_str(), "no certificate"),
        ("https://127.0.0.1:1", missing.to_str().unwrap(), "cannot read it"),
        ("http://127.0.0.1:1", not_pem.as_str(), "plain http"),
    ] {
        let (code, _, err) = env.run(&[
            "serve",
            "--key-file",
            &key,
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            upstream,
            "--upstream-ca",
            ca,
            "--price",
            "* /=1",
        ]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
    }
}

/// A burst of clients that hang up as soon as their request is written: whatever each
/// request started in the ledger is finished or released, so no token is left `in-flight`
/// for the hold's lifetime — each was either never forwarded (still pays) or charged once.
#[test]
fn clients_that_hang_up_mid_request_leave_no_token_held() {
    use std::io::Write;
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let tokens: Vec<String> = (0..24).map(|_| server.mint(&["--balance", "10"])).collect();
    for token in &tokens {
        let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
        let head =
            format!("POST /slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let forwarded = upstream.count();
    let mut charged = 0;
    for token in &tokens {
        let again = send("POST", &format!("{}/v1/chat", server.url), Some(token), &[], "");
        match again.status {
            200 => assert_eq!(again.header("crumb-balance"), Some("5"), "{again:?}"),
            409 if again.header("crumb-error") == Some("spent") => charged += 1,
            _ => panic!("a token was left unusable: {again:?}"),
        }
    }
    assert_eq!(charged, forwarded, "every forwarded request charged once, no other");
}

/// A request whose answer was lost is recovered even after its token expired: failing by
/// nothing but time, the token is still answered its own settled request (the successor), never
/// anything else.
#[test]
fn an_expired_token_still_recovers_its_own_request() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let token = server.mint(&["--balance", "20", "--expires-in", "2s"]);
    let url = format!("{}/v1/chat", server.url);
    let key = ("Idempotency-Key", "lost-1");
    let paid = send("POST", &url, Some(&token), &[key], "hi");
    assert_eq!(paid.status, 200, "{paid:?}");
    std::thread::sleep(Duration::from_millis(2500));
    for extra in [vec![key], vec![key, ("Crumb-Recover", "1")]] {
        let again = send("POST", &url, Some(&token), &extra, "");
        assert_eq!((again.status, again.header("crumb-error")), (409, Some("already-answered")), "{again:?}");
        assert_eq!(again.header("crumb-token"), paid.header("crumb-token"));
    }
    let other = send("POST", &url, Some(&token), &[("Idempotency-Key", "other")], "");
    assert_eq!(other.header("crumb-error"), Some("spent"), "{other:?}");
    assert_eq!(upstream.count(), 1);
}

/// The admin listener's metrics count a hold while its request is at the upstream, and the
/// credits charged once it is settled.
#[test]
fn metrics_count_holds_in_flight_and_credits_charged() {
    let upstream = Upstream::start();
    let server = proxy(&upstream, &[]);
    let admin = server.admin.clone().unwrap();
    let metrics = || send("GET", &format!("{admin}/metrics"), None, &[], "").body;
    let token = server.mint(&["--balance", "20"]);
    let url = format!("{}/slow", server.url);
    let paying = std::thread::spawn(move || send("POST", &url, Some(&token), &[], "").status);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !metrics().contains("crumb_holds_in_flight 1") {
        assert!(std::time::Instant::now() < deadline, "never held: {}", metrics());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(paying.join().unwrap(), 200);
    let text = metrics();
    assert!(text.contains("crumb_holds_in_flight 0"), "{text}");
    assert!(text.contains("crumb_credits_charged_total 1"), "{text}");
    assert!(text.contains("crumb_requests_total{route=\"proxy\",status=\"200\"} 1"), "{text}");
}

/// Every request has an id: made by crumb unless a trusted front proxy sent one. It is on the
/// answer, passed to the upstream, and in the audit log.
#[test]
fn a_request_id_follows_the_request_to_the_upstream_the_answer_and_the_audit_log() {
    let upstream = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let server = proxy(&upstream, &["--audit-log", log.to_str().unwrap()]);
    let token = server.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat", server.url);
    // From an untrusted peer, a client's own id is replaced.
    let paid = send("POST", &url, Some(&token), &[("X-Request-Id", "client-chosen")], "");
    let id = paid.header("x-request-id").unwrap().to_owned();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let (_, _, seen) = upstream.last();
    assert_eq!(seen.get("x-request-id").unwrap(), id.as_str(), "the upstream sees crumb's id");
    let text = crate::common::audit_lines(&log, 1);
    let entry: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(entry["x_request_id"], id.as_str(), "{entry}");
    let next = send("POST", &url, Some(paid.successor()), &[], "");
    assert_ne!(next.header("x-request-id"), Some(id.as_str()), "each request its own");
    // Behind a trusted front proxy, its id is kept.
    let trusting = proxy(&upstream, &["--trust-proxy", "127.0.0.1/32"]);
    let token = trusting.mint(&["--balance", "20"]);
    let answer =
        send("POST", &format!("{}/v1/chat", trusting.url), Some(&token), &[("X-Request-Id", "nginx-7f3a")], "");
    assert_eq!(answer.header("x-request-id"), Some("nginx-7f3a"));
    assert_eq!(upstream.last().2.get("x-request-id").unwrap(), "nginx-7f3a");
}
