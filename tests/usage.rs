//! Charges by measured usage (`upto` price rules) through the metering proxy, with an
//! upstream that answers like an inference API (tests/common/upstream.rs, `/llm/…`), and
//! `crumb request` keeping the token file: it ends at exactly the balance less the measured
//! charges.

use crate::common::http::raw;
use crate::common::server::{start, Server};
use crate::common::upstream::Upstream;
use serde_json::Value;

const RATES: &str = "upto 50 prompt 3/1k completion 15/1k";

fn metered() -> (Upstream, Server) {
    let upstream = Upstream::start();
    let mut args = vec!["--upstream".to_owned(), upstream.url.clone()];
    for route in
        ["/llm/json", "/llm/sse", "/llm/cut", "/llm/nousage", "/llm/nested", "/llm/forged", "/llm/linger", "/fail"]
    {
        args.push("--price".into());
        args.push(format!("POST {route}={RATES}"));
    }
    args.extend(["--price".into(), "POST /llm/charge=upto 50".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = start(&args);
    (upstream, server)
}

/// `crumb request -X POST` on the token file; returns (exit, stdout, stderr).
fn request(server: &Server, file: &str, path: &str) -> (i32, String, String) {
    let url = format!("{}{path}", server.url);
    server.env.run(&["request", "--token-file", file, "-X", "POST", "-d", "{}", &url])
}

fn balance(server: &Server, file: &str) -> u64 {
    let doc: Value = serde_json::from_str(&server.env.ok(&["inspect", "--token-file", file, "--json"])).unwrap();
    doc["balance"].as_u64().unwrap()
}

/// The lineage of `nonce` once its hold is settled (the settle ends after the answer: waits
/// up to 30 s).
fn settled(server: &Server, nonce: &str) -> Value {
    let ledger = server.env.path("ledger.db").to_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let tree = server.env.ok(&["lineage", "--nonce", nonce, "--ledger", &ledger, "--json"]);
        let doc: Value = serde_json::from_str(&tree).unwrap();
        if !doc["tree"][0]["consumed"].is_null() {
            return doc;
        }
        assert!(std::time::Instant::now() < deadline, "never settled: {doc}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn the_token_file_ends_at_the_balance_less_the_measured_charges() {
    let (upstream, server) = metered();
    let token = server.mint(&["--balance", "200"]);
    let file = server.env.file("agent.token", token.as_bytes());
    // JSON: 1200 prompt tokens at 3/1k and 300 completion at 15/1k: 3.6 + 4.5, 9 credits.
    let (code, out, err) = request(&server, &file, "/llm/json/1200/300");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"usage\"") && out.contains("hello"), "{out}");
    assert_eq!(balance(&server, &file), 191);
    // A stream of 3000 events, then its usage: 3 + 30 = 33.
    let (code, out, err) = request(&server, &file, "/llm/sse/3000/1000/2000");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("data: {\"choices\":[{\"delta\"").count(), 3000);
    assert!(out.contains("[DONE]") && !out.contains("crumb-receipt"), "crumb's receipt event is not printed");
    assert!(!out.contains("\"token\""), "no token in the printed stream");
    assert_eq!(balance(&server, &file), 158);
    // The upstream's Crumb-Charge: 7.
    let (code, _, err) = request(&server, &file, "/llm/charge/7");
    assert_eq!(code, 0, "{err}");
    assert_eq!(balance(&server, &file), 151);
    // More than the hold: never more than the hold.
    let (code, _, err) = request(&server, &file, "/llm/charge/500");
    assert_eq!(code, 0, "{err}");
    assert_eq!(balance(&server, &file), 101);
    // No usage in the answer: the hold.
    let (code, _, err) = request(&server, &file, "/llm/nousage");
    assert_eq!(code, 0, "{err}");
    assert_eq!(balance(&server, &file), 51);
    // An upstream error charges nothing.
    let (code, _, _) = request(&server, &file, "/fail");
    assert_eq!(code, 3);
    assert_eq!(balance(&server, &file), 51);
    assert_eq!(upstream.count(), 6);
    // 200 = 51 + 9 + 33 + 7 + 50 + 50.
}

#[test]
fn a_stream_cut_before_its_usage_is_charged_the_hold() {
    let (_upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    let file = server.env.file("agent.token", token.as_bytes());
    let (code, _, err) = request(&server, &file, "/llm/cut/20");
    assert_eq!(code, 3, "the answer was cut off: {err}");
    assert!(err.contains("cut off"), "{err}");
    assert_eq!(balance(&server, &file), 50, "the hold is charged and the successor saved");
}

#[test]
fn a_held_answer_says_what_it_holds_and_delivers_its_successor_at_the_end() {
    let (_upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    let head = format!(
        "POST /llm/sse/2/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTE: trailers\r\n\
         Idempotency-Key: k1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(server.addr(), &head);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("crumb-held"), Some("50"));
    assert_eq!(answer.header("crumb-token"), None, "the successor is not known when the head is sent");
    assert_eq!(answer.header("crumb-charge"), None);
    let event = answer
        .body
        .split("event: crumb-receipt\r\ndata: ")
        .nth(1)
        .or(answer.body.split("event: crumb-receipt\ndata: ").nth(1));
    let event = event.unwrap_or_else(|| panic!("no receipt event: {}", answer.body));
    let doc: Value = serde_json::from_str(event.lines().next().unwrap()).unwrap();
    assert_eq!((doc["cost"].as_u64(), doc["balance"].as_u64()), (Some(18), Some(82)));
    assert!(answer.body.to_ascii_lowercase().contains("crumb-token:"), "trailers carry it too: {}", answer.body);
    // The same request recovered: the same successor.
    let probe = format!(
        "POST /llm/sse/2/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nCrumb-Recover: 1\r\n\
         Idempotency-Key: k1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let recovered = raw(server.addr(), &probe);
    assert_eq!(recovered.status, 409);
    assert_eq!(recovered.header("crumb-token"), doc["token"].as_str());
    assert_eq!(recovered.header("crumb-cost"), Some("18"));
}

#[test]
fn a_client_that_hangs_up_mid_answer_is_charged_the_hold() {
    use std::io::{Read, Write};
    let (_upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    let nonce = server.nonce(&token);
    // A long stream: the client reads its head and a little, then goes away.
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    let head = format!(
        "POST /llm/sse/200000/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: gone\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut first = [0u8; 4096];
    let n = stream.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).contains("crumb-held: 50"));
    drop(stream);
    // The hold is settled at the hold.
    let doc = settled(&server, &nonce);
    assert_eq!(doc["tree"][0]["consumed"]["cost"], 50, "{doc}");
}

#[test]
fn only_the_answers_top_level_usage_is_charged() {
    // 2 MiB of JSON whose last `usage` (nested in a choice) says 0: the top-level one counts.
    let (_upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    let file = server.env.file("agent.token", token.as_bytes());
    let (code, out, err) = request(&server, &file, "/llm/nested/1000/1000");
    assert_eq!(code, 0, "{err}");
    assert!(out.len() > 2 << 20, "the whole answer passed");
    assert_eq!(balance(&server, &file), 82, "3 + 15 charged, not the nested 0");
}

#[test]
fn an_upstreams_own_receipt_event_never_reaches_the_client_as_crumbs() {
    let (_upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    let head = format!(
        "POST /llm/forged/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTE: trailers\r\n\
         Idempotency-Key: k1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(server.addr(), &head);
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("event: upstream-crumb-receipt"), "{}", answer.body);
    let receipts: Vec<&str> = answer.body.split("event: crumb-receipt").skip(1).collect();
    assert_eq!(receipts.len(), 1, "one receipt event, crumb's: {}", answer.body);
    assert!(!receipts[0].contains("forged-by-upstream") && receipts[0].contains("\"cost\":18"), "{}", answer.body);
    // crumb request keeps the real successor, and prints the upstream's renamed event.
    let file = server.env.file("agent.token", server.mint(&["--balance", "100"]).as_bytes());
    let (code, out, err) = request(&server, &file, "/llm/forged/1000/1000");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("upstream-crumb-receipt") && out.contains("[DONE]"), "{out}");
    assert_eq!(balance(&server, &file), 82);
}

#[test]
fn a_client_that_hangs_up_after_the_usage_is_charged_the_usage() {
    use std::io::{BufRead, BufReader, Write};
    let (_upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    let nonce = server.nonce(&token);
    let mut stream = std::net::TcpStream::connect(server.addr()).unwrap();
    let head = format!(
        "POST /llm/linger/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: after\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    // Read until the usage event has arrived, then go away mid-stream.
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !line.contains("\"usage\"") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the stream ended before its usage");
    }
    drop(reader);
    let doc = settled(&server, &nonce);
    assert_eq!(doc["tree"][0]["consumed"]["cost"], 18, "the usage that passed, not the hold: {doc}");
}

#[test]
fn a_plain_client_without_a_key_or_trailers_can_recover_its_successor() {
    let (_upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    // No Idempotency-Key, no `TE: trailers`: what curl or an SDK sends.
    let head = format!(
        "POST /llm/json/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    let answer = raw(server.addr(), &head);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("crumb-held"), Some("50"));
    let key = answer.header("idempotency-key").expect("the key the request was recorded under").to_owned();
    assert!(key.starts_with("crumb-"), "{key}");
    let probe = format!(
        "POST /llm/json/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nCrumb-Recover: 1\r\n\
         Idempotency-Key: {key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let recovered = loop {
        let recovered = raw(server.addr(), &probe);
        if recovered.header("crumb-token").is_some() || std::time::Instant::now() > deadline {
            break recovered;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(recovered.status, 409);
    assert_eq!((recovered.header("crumb-cost"), recovered.header("crumb-balance")), (Some("18"), Some("82")));
}

#[test]
fn a_metered_route_asks_the_upstream_for_an_uncompressed_body() {
    let (upstream, server) = metered();
    let token = server.mint(&["--balance", "100"]);
    let head = format!(
        "POST /llm/json/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept-Encoding: gzip, br\r\n\
         Idempotency-Key: z1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(raw(server.addr(), &head).status, 200);
    let (_, _, headers) = upstream.last();
    let asked: Vec<_> = headers.get_all("accept-encoding").iter().collect();
    assert_eq!(asked, ["identity"], "a compressed body could not be read for its usage");
}

/// The gateway dies (kill -9) with a metered request at the upstream: once its hold lapses the
/// request is charged the hold, never free. Another use of the token is refused `spent`, and
/// the payer recovers the successor at the balance less the hold with its Idempotency-Key.
#[test]
fn a_request_whose_gateway_died_is_charged_the_hold_not_freed() {
    use std::io::{Read, Write};
    let upstream = Upstream::start();
    let price = format!("POST /llm/linger={RATES}");
    let args = ["--upstream", upstream.url.as_str(), "--upstream-timeout", "1s", "--price", price.as_str()];
    let mut first = start(&args);
    let token = first.mint(&["--balance", "100"]);
    let mut stream = std::net::TcpStream::connect(first.addr()).unwrap();
    let head = format!(
        "POST /llm/linger/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: died\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut some = [0u8; 1024];
    let n = stream.read(&mut some).unwrap();
    assert!(String::from_utf8_lossy(&some[..n]).contains("crumb-held: 50"));
    std::process::Command::new("kill").args(["-9", &first.pid().to_string()]).status().unwrap();
    let _ = first.terminate(std::time::Duration::from_secs(5));
    drop(stream);
    let ledger = first.env.path("ledger.db").to_str().unwrap().to_owned();
    let second = crate::common::server::start_replica(&first.key, &ledger, &args);
    let probe = format!(
        "POST /llm/linger/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nCrumb-Recover: 1\r\n\
         Idempotency-Key: died\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    // Held while the hold lasts (the upstream timeout and a margin), then recorded at the hold.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let recovered = loop {
        let answer = raw(second.addr(), &probe);
        if answer.header("crumb-token").is_some() {
            break answer;
        }
        assert_eq!(answer.header("crumb-error"), Some("in-flight"), "{answer:?}");
        assert!(std::time::Instant::now() < deadline, "never recorded");
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!((recovered.header("crumb-cost"), recovered.header("crumb-balance")), (Some("50"), Some("50")));
    let again = format!(
        "POST /llm/linger/1000/1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Idempotency-Key: other\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let refused = raw(second.addr(), &again);
    assert_eq!((refused.status, refused.header("crumb-error")), (409, Some("spent")), "{refused:?}");
}
