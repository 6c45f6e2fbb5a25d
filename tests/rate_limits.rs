//! Request-rate limits through the real server: per client address and per token, with 429,
//! Retry-After and the RateLimit headers, while /healthz keeps answering.

use crate::common::http::raw;
use crate::common::server::start;
use crate::common::upstream::Upstream;

fn verify(addr: &str, token: &str) -> crate::common::http::Answer {
    let body = format!("{{\"token\":\"{token}\"}}");
    raw(
        addr,
        &format!(
            "POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn an_address_over_its_rate_gets_429_and_health_keeps_answering() {
    let server = start(&["--rate-limit-ip", "5/m", "--rate-limit-token", "off"]);
    let token = server.mint(&["--balance", "10"]);
    let statuses: Vec<u16> = (0..8).map(|_| verify(server.addr(), &token).status).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 5, "{statuses:?}");
    let refused = verify(server.addr(), &token);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["code"], "rate-limited");
    // The JSON API's own error shape, as every other of its errors (not the proxy's problem).
    assert_eq!(refused.header("content-type"), Some("application/json"), "{refused:?}");
    assert_eq!(refused.json()["x_request_id"].as_str(), refused.header("x-request-id"));
    let wait: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=12).contains(&wait), "one of 5 a minute frees up within 12 s: {wait}");
    assert_eq!(refused.header("ratelimit-policy"), Some("\"address\";q=5;w=60"));
    assert!(refused.header("ratelimit").unwrap().starts_with("\"address\";r=0;t="));
    for _ in 0..20 {
        let health = raw(server.addr(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_eq!(health.status, 200);
    }
}

#[test]
fn a_token_over_its_rate_is_limited_and_its_copies_share_the_count() {
    let server = start(&["--rate-limit-token", "3/m", "--rate-limit-ip", "off"]);
    let token = server.mint(&["--balance", "10"]);
    let copy = server.env.ok(&["attenuate", &token, "-c", "action = read"]);
    let other = server.mint(&["--balance", "10"]);
    for _ in 0..3 {
        assert_eq!(verify(server.addr(), &token).status, 200);
    }
    let refused = verify(server.addr(), &copy);
    assert_eq!((refused.status, refused.header("ratelimit-policy")), (429, Some("\"token\";q=3;w=60")));
    assert_eq!(verify(server.addr(), &other).status, 200, "another token has its own count");
    // The CLI against the server: over the rate is "try later" (exit 3, as the README's table
    // says), not bad input (it was exit 2, so a script would not retry).
    let (code, out, _) = server.env.run(&["verify", &token, "--server", &server.url, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!((code, doc["code"].as_str()), (3, Some("rate-limited")), "{out}");
}

#[test]
fn the_proxy_limits_free_routes_per_address() {
    let upstream = Upstream::start();
    let server = start(&["--upstream", &upstream.url, "--unpriced", "free", "--rate-limit-ip", "4/m"]);
    let get = || raw(server.addr(), "GET /open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status;
    let statuses: Vec<u16> = (0..6).map(|_| get()).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 429, 429]);
    let refused = raw(server.addr(), "GET /open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(refused.header("content-type"), Some("application/problem+json"), "the proxy answers problems");
    assert_eq!(upstream.count(), 4, "a refused request never reaches the upstream");
}

#[test]
fn public_traffic_never_locks_the_operator_out_of_the_admin_listener() {
    let upstream = Upstream::start();
    let server = start(&[
        "--upstream",
        &upstream.url,
        "--unpriced",
        "free",
        "--rate-limit-ip",
        "3/m",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    let get = || raw(server.addr(), "GET /open HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status;
    let statuses: Vec<u16> = (0..5).map(|_| get()).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429], "the public listener's count is spent");
    let admin = server.admin.as_deref().unwrap().trim_start_matches("http://").to_owned();
    let token = server.mint(&["--balance", "10"]);
    let answers: Vec<u16> = (0..3).map(|_| verify(&admin, &token).status).collect();
    assert_eq!(answers, [200, 200, 200], "the admin listener counts apart, from the same address");
    assert_eq!(verify(&admin, &token).status, 429, "and is limited itself");
}

#[test]
fn a_tokens_children_count_with_it() {
    let server = start(&["--rate-limit-token", "4/m", "--rate-limit-ip", "off"]);
    let token = server.mint(&["--balance", "10"]);
    let split = |token: &str, amounts: &[u64]| {
        let body = serde_json::json!({"token": token, "amounts": amounts});
        let (status, doc) =
            server.post_raw("/v1/split", &body.to_string(), &[("Authorization", &format!("Bearer {token}"))]);
        assert_eq!(status, 200, "{doc}");
        doc["children"].as_array().unwrap().iter().map(|c| c["token"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let children = split(&token, &[3, 3]);
    let grandchildren = split(&children[0], &[1, 1]);
    assert_eq!(verify(server.addr(), &children[1]).status, 200);
    assert_eq!(verify(server.addr(), &grandchildren[2]).status, 200);
    let refused = verify(server.addr(), &grandchildren[0]);
    assert_eq!(refused.status, 429, "a split into many never multiplies a token's rate");
    assert_eq!(refused.header("ratelimit-policy"), Some("\"token\";q=4;w=60"));
    let other = server.mint(&["--balance", "10"]);
    assert_eq!(verify(server.addr(), &other).status, 200, "another tree has its own count");
}

#[test]
fn a_token_in_the_json_body_counts_like_one_in_the_header() {
    let server = start(&["--rate-limit-token", "3/m", "--rate-limit-ip", "off"]);
    let token = server.mint(&["--balance", "10"]);
    let statuses: Vec<u16> =
        (0..5).map(|_| server.post("/v1/verify", &serde_json::json!({ "token": token })).0).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(verify(server.addr(), &token).status, 429, "one count, header or body");
    let (status, doc) = server.post("/v1/spend", &serde_json::json!({ "token": token, "cost": 1 }));
    assert_eq!((status, doc["code"].as_str()), (429, Some("rate-limited")), "{doc}");
}
