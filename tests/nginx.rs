//! Forward auth through a real nginx: the README's recipe in front of a counting upstream,
//! asking a real `crumb serve` at `/v1/authz`. Skipped without nginx; CI requires it.

mod common;

use common::http::send;
use common::nginx::{self, Nginx};
use common::server::{start, Server};
use common::upstream::{Upstream, PRICES};
use std::time::Duration;

struct Stack {
    upstream: Upstream,
    crumb: Server,
    nginx: Nginx,
}

fn stack() -> Option<Stack> {
    let upstream = Upstream::start();
    let crumb = start(&[PRICES, &["--trust-proxy", "127.0.0.1"]].concat());
    let recipe = nginx::recipe(crumb.addr(), upstream.url.strip_prefix("http://").unwrap());
    let nginx = nginx::start(&recipe)?;
    Some(Stack { upstream, crumb, nginx })
}

#[test]
fn a_paid_request_is_forwarded_once_with_its_successor_and_the_old_token_is_refused() {
    let Some(s) = stack() else { return };
    let token = s.crumb.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat", s.nginx.url);
    let paid = send("POST", &url, Some(&token), &[], "");
    assert_eq!(paid.status, 200);
    assert_eq!((paid.header("crumb-balance"), paid.header("crumb-cost")), (Some("15"), Some("5")));
    let successor = paid.header("crumb-token").expect("nginx passes the successor on").to_owned();
    assert_ne!(successor, "forged-by-upstream");
    assert_eq!(paid.body, "POST /v1/chat ");
    assert_eq!(s.upstream.count(), 1);
    let (_, _, upstream_headers) = s.upstream.last();
    assert!(upstream_headers.get("authorization").is_none(), "the token reached the upstream");

    let refused = send("POST", &url, Some(&token), &[], "");
    assert_eq!((refused.status, refused.header("crumb-error")), (403, Some("spent")));
    assert_eq!(s.upstream.count(), 1, "the old token did not reach the upstream");

    // GET and POST on one path are priced apart.
    let next = send("GET", &url, Some(&successor), &[], "");
    assert_eq!((next.status, next.header("crumb-balance")), (200, Some("13")));
    assert_eq!(s.upstream.count(), 2);
}

#[test]
fn no_token_or_a_low_balance_gets_the_challenge_and_caveats_give_403() {
    let Some(s) = stack() else { return };
    let url = format!("{}/v1/chat", s.nginx.url);
    let none = send("POST", &url, None, &[], "");
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some(r#"Crumb realm="crumb", cost="5""#));
    let poor = s.crumb.mint(&["--balance", "3"]);
    let low = send("POST", &url, Some(&poor), &[], "");
    assert_eq!((low.status, low.header("www-authenticate").is_some()), (401, true));
    let reader = s.crumb.mint(&["--balance", "20", "--caveat", "action = GET"]);
    let refused = send("POST", &url, Some(&reader), &[], "");
    assert_eq!((refused.status, refused.header("crumb-error")), (403, Some("caveat-failed")));
    assert_eq!(send("GET", &url, Some(&reader), &[], "").status, 200);
    assert_eq!(send("DELETE", &url, Some(&reader), &[], "").status, 403, "unpriced");
    assert_eq!(s.upstream.count(), 1);
}

#[test]
fn concurrent_uses_of_one_token_reach_the_upstream_once() {
    let Some(s) = stack() else { return };
    let token = s.crumb.mint(&["--balance", "100"]);
    let url = format!("{}/slow/x", s.nginx.url);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..32).map(|_| scope.spawn(|| send("POST", &url, Some(&token), &[], "").status)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|&&c| c == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|&c| c == 200 || c == 403), "{statuses:?}");
    assert_eq!(s.upstream.count(), 1);
}

#[test]
fn a_client_cannot_describe_its_own_request_to_crumb() {
    let Some(s) = stack() else { return };
    let token = s.crumb.mint(&["--balance", "20"]);
    // POST /v1/chat costs 5; the client claims it is the free GET /v1/models.
    let spoof = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/v1/models"),
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/v1/models"),
    ];
    let paid = send("POST", &format!("{}/v1/chat", s.nginx.url), Some(&token), &spoof, "");
    assert_eq!((paid.status, paid.header("crumb-cost")), (200, Some("5")));
}

#[test]
fn with_crumb_down_nginx_fails_closed() {
    let Some(mut s) = stack() else { return };
    let token = s.crumb.mint(&["--balance", "20"]);
    s.crumb.terminate(Duration::from_secs(10)).expect("crumb stops");
    let answer = send("POST", &format!("{}/v1/chat", s.nginx.url), Some(&token), &[], "");
    assert_eq!(answer.status, 500);
    assert_eq!(s.upstream.count(), 0);
}
