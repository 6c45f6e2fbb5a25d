//! Spending windows (`spend-rate <= N/DURATION`, issue 18) through the real binary: the CLI
//! with its ledger, the JSON API (429 with `Retry-After`) and the metering proxy.

use crate::common;

use common::http::send;
use common::server::start;
use common::upstream::{Upstream, PRICES};
use serde_json::{json, Value};

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn the_cli_counts_a_window_across_a_split_and_refuses_with_exit_1() {
    let env = common::Env::new();
    env.ok(&["keygen"]);
    let a = env.file("a.token", env.ok(&["mint", "--balance", "100", "-c", "spend-rate <= 10/1h"]).as_bytes());
    // The caveat's meaning, and a verifier that cannot count spends denies it for a cost; a
    // request that costs nothing cannot exceed it.
    let inspected = env.ok(&["inspect", "--token-file", &a]);
    assert!(inspected.contains("at most 10 spent in any 1 h"), "{inspected}");
    let (code, out, _) = env.run(&["verify", "--token-file", &a, "--offline", "--cost", "1", "--json"]);
    assert_eq!((code, json_of(&out)["code"].as_str()), (1, Some("caveat-failed")), "{out}");
    let (code, out, _) = env.run(&["verify", "--token-file", &a, "--offline", "--json"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = env.run(&["spend", "--token-file", &a, "--cost", "6", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    // The split child carries the window (a split spends nothing); a holder's looser window
    // added on top lifts nothing.
    let (code, out, err) = env.run(&["split", "--token-file", &a, "--amount", "20", "--json"]);
    assert_eq!(code, 0, "{err}");
    let child = json_of(&out)["children"][0]["token"].as_str().unwrap().to_owned();
    let loose = env.ok(&["attenuate", &child, "-c", "spend-rate <= 1000/1h"]);
    let b = env.file("b.token", loose.trim().as_bytes());
    let (code, _, err) = env.run(&["spend", "--token-file", &b, "--cost", "4", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = env.run(&["spend", "--token-file", &b, "--cost", "1", "--json"]);
    let doc = json_of(&out);
    assert_eq!((code, doc["code"].as_str()), (1, Some("spend-rate-exceeded")), "{out}");
    let message = doc["message"].as_str().unwrap();
    let secs: u64 = message.split("frees up in ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&secs), "{doc}");
    let (code, out, err) = env.run(&["status", "--token-file", &a, "--json"]);
    assert_eq!(code, 0, "{err}");
    let windows = &json_of(&out)["windows"];
    assert_eq!(windows[0]["spent"], 10, "{windows}");
    assert_eq!(windows[0]["left"], 0, "{windows}");
    let text = env.ok(&["status", "--token-file", &b]);
    assert!(text.contains("window    spend-rate <= 10/1h: 10 spent in the window, 0 left"), "{text}");
    assert!(text.contains("window    spend-rate <= 1000/1h: 4 spent in the window, 996 left"), "{text}");
    // A malformed window is refused at mint.
    let (code, _, err) = env.run(&["mint", "--balance", "5", "-c", "spend-rate <= 10/1w"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_json_api_and_the_proxy_answer_429_with_retry_after() {
    let upstream = Upstream::start();
    let mut args = vec!["--upstream", &upstream.url];
    args.extend_from_slice(PRICES);
    args.extend_from_slice(&["--admin-listen", "127.0.0.1:0"]);
    let s = start(&args);
    // Through the proxy: POST /v1/chat costs 5; the window allows 12 an hour.
    let mut token = s.mint(&["--balance", "100", "-c", "spend-rate <= 12/1h"]);
    for _ in 0..2 {
        let answer = send("POST", &format!("{}/v1/chat", s.url), Some(&token), &[], "{}");
        assert_eq!(answer.status, 200, "{answer:?}");
        token = answer.successor().to_owned();
    }
    let answer = send("POST", &format!("{}/v1/chat", s.url), Some(&token), &[], "{}");
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.header("crumb-error"), Some("spend-rate-exceeded"));
    let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&retry), "{retry}");
    assert_eq!(upstream.count(), 2, "a refused request never reaches the upstream");
    // A cheaper request still fits: the window held the refused one at nothing.
    let answer = send("GET", &format!("{}/v1/chat", s.url), Some(&token), &[], "");
    assert_eq!(answer.status, 200, "{answer:?}");
    // A route priced 0 spends nothing: a full window never refuses it.
    let token = answer.successor().to_owned();
    let answer = send("GET", &format!("{}/v1/models", s.url), Some(&token), &[], "");
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn the_json_api_refuses_a_full_window_with_429() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "100", "-c", "spend-rate <= 3/30m"]);
    let (code, doc) = s.post("/v1/spend", &json!({ "token": token, "cost": 3 }));
    assert_eq!(code, 200, "{doc}");
    let next = doc["token"].as_str().unwrap().to_owned();
    let (code, text) = s.post_text("/v1/spend", &json!({ "token": next, "cost": 1 }).to_string(), &[]);
    assert_eq!(code, 429, "{text}");
    assert_eq!(json_of(&text)["code"], "spend-rate-exceeded");
    let answer =
        send("POST", &format!("{}/v1/spend", s.url), None, &[], &json!({ "token": next, "cost": 1 }).to_string());
    assert_eq!(answer.status, 429);
    let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((1790..=1800).contains(&retry), "{retry}");
    let (code, doc) = s.post("/v1/verify", &json!({ "token": next, "cost": 1 }));
    assert_eq!((code, doc["allowed"].as_bool()), (403, Some(false)), "a verification of a cost denies a window: {doc}");
    let (code, doc) = s.post("/v1/verify", &json!({ "token": next }));
    assert_eq!((code, doc["allowed"].as_bool()), (200, Some(true)), "nothing spent, nothing to exceed: {doc}");
}

fn status_of(base: &str, token: &str) -> Value {
    let answer = send("GET", &format!("{base}/v1/status"), Some(token), &[], "");
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()
}

/// `crumb top-up` on the local ledger: the token file's next spend carries it; the same
/// request id adds nothing; `status` shows it.
#[test]
fn a_local_top_up_reaches_the_next_spend_once() {
    let env = common::Env::new();
    env.ok(&["keygen"]);
    let minted = env.ok(&["mint", "--balance", "10"]);
    let a = env.file("a.token", minted.as_bytes());
    let nonce = json_of(&env.ok(&["status", "--token-file", &a, "--json"]))["nonce"].as_str().unwrap().to_owned();
    env.ok(&["spend", "--token-file", &a, "--cost", "1", "--quiet"]);
    let (code, out, err) =
        env.run(&["top-up", "--nonce", &nonce, "--amount", "50", "--request-id", "refill-1", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc = json_of(&out);
    assert_eq!(
        (doc["head"].as_str(), doc["owed"].as_u64(), doc["replayed"].as_bool()),
        (Some(&*nonce), Some(50), Some(false))
    );
    let (code, _, err) = env.run(&["top-up", "--nonce", &nonce, "--amount", "50", "--request-id", "refill-1"]);
    assert_eq!((code, err.trim()), (0, "crumb: topped up 50 before with this request id; nothing added again"));
    let (code, out, _) = env.run(&["top-up", "--nonce", &nonce, "--amount", "7", "--request-id", "refill-1", "--json"]);
    assert_eq!((code, json_of(&out)["code"].as_str()), (1, Some("idempotency-key-reused")), "{out}");
    let status = json_of(&env.ok(&["status", "--token-file", &a, "--json"]));
    assert_eq!((status["topped_up"].as_u64(), status["returned_credit"].as_u64()), (Some(50), Some(50)), "{status}");
    let (code, _, err) = env.run(&["spend", "--token-file", &a, "--cost", "1"]);
    assert_eq!((code, err.trim()), (0, "crumb: paid 1, 58 left (50 of it returned credit)"));
    let (code, _, err) = env.run(&["spend", "--token-file", &a, "--cost", "1"]);
    assert_eq!((code, err.trim()), (0, "crumb: paid 1, 57 left"));
    env.ok(&["revoke", "--token-file", &a]);
    let status = json_of(&env.ok(&["status", "--token-file", &a, "--json"]));
    let current = status["nonce"].as_str().unwrap().to_owned();
    let (code, out, _) = env.run(&["top-up", "--nonce", &current, "--amount", "5", "--request-id", "r2", "--json"]);
    assert_eq!((code, json_of(&out)["code"].as_str()), (1, Some("revoked")), "{out}");
}

/// `POST /v1/top-up` with an operator credential on a proxy's admin listener: the agent's
/// next proxied request returns a successor with the new balance; a holder's token is not an
/// operator; the public listener has no such route.
#[test]
fn a_top_up_over_http_reaches_the_next_proxied_request() {
    let upstream = Upstream::start();
    let mut args = vec!["--upstream", &upstream.url];
    args.extend_from_slice(PRICES);
    args.extend_from_slice(&["--admin-listen", "127.0.0.1:0"]);
    let s = start(&args);
    let admin = s.admin.clone().unwrap();
    let token = s.mint(&["--balance", "20"]);
    let nonce = s.nonce(&token);
    let answer = send("POST", &format!("{}/v1/chat", s.url), Some(&token), &[], "{}");
    assert_eq!(answer.status, 200, "{answer:?}");
    let current = answer.successor().to_owned();
    let operator = s.mint(&["--operator", "--expires-in", "10m"]);
    let body = json!({ "credential": operator, "nonce": nonce, "amount": 100, "request_id": "refill-1" }).to_string();
    let answer = send("POST", &format!("{admin}/v1/top-up"), None, &[], &body);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["owed"], 100);
    let again = send("POST", &format!("{admin}/v1/top-up"), None, &[], &body);
    assert_eq!((again.status, again.json()["replayed"].as_bool()), (200, Some(true)), "{again:?}");
    let status = status_of(&admin, &current);
    assert_eq!((status["topped_up"].as_u64(), status["returned_credit"].as_u64()), (Some(100), Some(100)));
    let refill = 100;
    // `max-cost` on an operator credential bounds each top-up.
    let bounded = s.env.ok(&["attenuate", &operator, "-c", "max-cost <= 10"]);
    let over = json!({ "credential": bounded, "nonce": nonce, "amount": 11, "request_id": "b1" }).to_string();
    let refused = send("POST", &format!("{admin}/v1/top-up"), None, &[], &over);
    assert_eq!((refused.status, refused.json()["code"].as_str()), (403, Some("cost-exceeded")), "{refused:?}");
    let within = json!({ "credential": bounded, "nonce": nonce, "amount": 10, "request_id": "b2" }).to_string();
    assert_eq!(send("POST", &format!("{admin}/v1/top-up"), None, &[], &within).status, 200);
    // A holder's own token is not an operator credential.
    let holder = json!({ "credential": current, "nonce": nonce, "amount": 100, "request_id": "x" }).to_string();
    let refused = send("POST", &format!("{admin}/v1/top-up"), None, &[], &holder);
    assert_eq!((refused.status, refused.json()["code"].as_str()), (403, Some("not-an-operator")), "{refused:?}");
    // The proxy's public listener serves no top-up, under the reserved prefix or not (an
    // unpriced route there: refused before the upstream).
    for path in ["/.well-known/crumb/v1/top-up", "/v1/top-up"] {
        let public = send("POST", &format!("{}{path}", s.url), None, &[], &body);
        assert_ne!(public.status, 200, "{public:?}");
        assert!(public.json().get("owed").is_none(), "{public:?}");
    }
    assert_eq!(upstream.count(), 1);
    let answer = send("POST", &format!("{}/v1/chat", s.url), Some(&current), &[], "{}");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("crumb-balance"), Some("120"), "15 - 5 + {refill} + 10: {answer:?}");
    let status = status_of(&admin, answer.successor());
    assert_eq!(status["returned_credit"], 0, "taken in once: {status}");
}

#[test]
fn a_cost_no_window_could_hold_is_refused_for_good_not_told_to_wait() {
    let upstream = Upstream::start();
    let s = start(&["--upstream", &upstream.url, "--price", "POST /llm/json=upto 50 prompt 3/1k"]);
    let token = s.mint(&["--balance", "100", "-c", "spend-rate <= 10/1h"]);
    let answer = send("POST", &format!("{}/llm/json/1000/0", s.url), Some(&token), &[], "{}");
    assert_eq!(answer.status, 403, "a hold of 50 never fits a window of 10: {answer:?}");
    assert_eq!(answer.header("crumb-error"), Some("caveat-failed"));
    assert_eq!(answer.header("retry-after"), None);
    assert_eq!(upstream.count(), 0);
    let env = common::Env::new();
    env.ok(&["keygen"]);
    let file = env.file("w.token", env.ok(&["mint", "--balance", "100", "-c", "spend-rate <= 10/1h"]).as_bytes());
    let (code, _, err) = env.run(&["spend", "--token-file", &file, "--cost", "11"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("more than spend-rate <= 10/1h ever allows"), "{err}");
}
