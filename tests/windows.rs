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
    // The caveat's meaning, and a verifier that cannot count spends denies it.
    let inspected = env.ok(&["inspect", "--token-file", &a]);
    assert!(inspected.contains("at most 10 spent in any 1 h"), "{inspected}");
    let (code, out, _) = env.run(&["verify", "--token-file", &a, "--offline", "--json"]);
    assert_eq!((code, json_of(&out)["code"].as_str()), (1, Some("caveat-failed")), "{out}");
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
    let (code, doc) = s.post("/v1/verify", &json!({ "token": next }));
    assert_eq!((code, doc["allowed"].as_bool()), (403, Some(false)), "a bare verification denies a window: {doc}");
}
