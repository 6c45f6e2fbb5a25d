//! The forward-auth checks every tested proxy recipe must pass (nginx, Caddy): the README's
//! recipe in front of a counting upstream, asking a real `crumb serve` at `/v1/authz`.

use super::front::Front;
use super::http::send;
use super::server::{start, Server};
use super::upstream::{Upstream, PRICES};
use std::time::Duration;

pub struct Stack {
    pub upstream: Upstream,
    pub crumb: Server,
    pub front: Front,
}

/// The stack with the proxy `start_front(crumb, upstream)` starts; `None` when it is skipped.
pub fn stack(start_front: fn(&str, &str) -> Option<Front>) -> Option<Stack> {
    let upstream = Upstream::start();
    let crumb = start(&[PRICES, &["--trust-proxy", "127.0.0.1"]].concat());
    let front = start_front(crumb.addr(), upstream.url.strip_prefix("http://").unwrap())?;
    Some(Stack { upstream, crumb, front })
}

/// A paid request reaches the upstream once, body and all, without the token; the client gets
/// the successor; the old token is refused without reaching the upstream; GET and POST on one
/// path are priced apart.
pub fn paid_once_with_the_successor(s: &Stack) {
    let token = s.crumb.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat", s.front.url);
    let paid = send("POST", &url, Some(&token), &[], "hello");
    assert_eq!(paid.status, 200, "{paid:?}");
    assert_eq!((paid.header("crumb-balance"), paid.header("crumb-cost")), (Some("15"), Some("5")));
    assert_eq!(paid.header("cache-control"), Some("no-store"));
    let successor = paid.header("crumb-token").expect("the successor reaches the client").to_owned();
    assert_ne!(successor, "forged-by-upstream");
    assert_eq!(paid.body, "POST /v1/chat hello");
    assert_eq!(s.upstream.count(), 1);
    let (_, _, upstream_headers) = s.upstream.last();
    assert!(upstream_headers.get("authorization").is_none(), "the token reached the upstream");
    assert!(upstream_headers.get("crumb-token").is_none(), "the successor reached the upstream");

    let refused = send("POST", &url, Some(&token), &[], "");
    assert_eq!((refused.status, refused.header("crumb-error")), (403, Some("spent")));
    assert_eq!(s.upstream.count(), 1, "the old token did not reach the upstream");

    let next = send("GET", &url, Some(&successor), &[], "");
    assert_eq!((next.status, next.header("crumb-balance")), (200, Some("13")));
    assert_eq!(s.upstream.count(), 2);
}

/// No token or a low balance: the 401 challenge; a failed caveat or an unpriced route: 403.
pub fn challenge_and_caveats(s: &Stack) {
    let url = format!("{}/v1/chat", s.front.url);
    let none = send("POST", &url, None, &[], "");
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some(r#"Crumb realm="crumb", cost="5""#));
    let poor = s.crumb.mint(&["--balance", "3"]);
    let low = send("POST", &url, Some(&poor), &[], "");
    assert_eq!((low.status, low.header("www-authenticate").is_some()), (401, true));
    let reader = s.crumb.mint(&["--balance", "20", "--caveat", "action = GET"]);
    let refused = send("POST", &url, Some(&reader), &[], "");
    assert_eq!((refused.status, refused.header("crumb-error")), (403, Some("caveat-failed")));
    assert!(refused.header("crumb-token").is_none(), "{refused:?}");
    assert_eq!(send("GET", &url, Some(&reader), &[], "").status, 200);
    assert_eq!(send("DELETE", &url, Some(&reader), &[], "").status, 403, "unpriced");
    assert_eq!(s.upstream.count(), 1);
}

/// 32 concurrent uses of one token reach the upstream once.
pub fn concurrent_uses_reach_the_upstream_once(s: &Stack) {
    let token = s.crumb.mint(&["--balance", "100"]);
    let url = format!("{}/slow/x", s.front.url);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..32).map(|_| scope.spawn(|| send("POST", &url, Some(&token), &[], "").status)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|&&c| c == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|&c| c == 200 || c == 403), "{statuses:?}");
    assert_eq!(s.upstream.count(), 1);
}

/// The client cannot describe its own request or address to crumb: spoofed original-request
/// headers do not make POST /v1/chat (5) the free GET /v1/models, and a spoofed
/// X-Forwarded-For does not satisfy an `ip` caveat.
pub fn the_client_cannot_describe_its_own_request(s: &Stack) {
    let token = s.crumb.mint(&["--balance", "20"]);
    let spoof = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/v1/models"),
        ("X-Original-Method", "GET"),
        ("X-Original-URI", "/v1/models"),
    ];
    let paid = send("POST", &format!("{}/v1/chat", s.front.url), Some(&token), &spoof, "");
    assert_eq!((paid.status, paid.header("crumb-cost")), (200, Some("5")));
    let elsewhere = s.crumb.mint(&["--balance", "20", "--caveat", "ip = 10.0.0.1"]);
    let forged = [("X-Forwarded-For", "10.0.0.1")];
    let refused = send("POST", &format!("{}/v1/chat", s.front.url), Some(&elsewhere), &forged, "");
    assert_eq!((refused.status, refused.header("crumb-error")), (403, Some("caveat-failed")), "{refused:?}");
    assert_eq!(s.upstream.count(), 1);
}

/// `Crumb-Recover: 1` through the front proxy: a request answered before gets its recorded
/// successor, one never recorded is closed at no cost, and neither reaches the upstream; a
/// late copy of the closed one is refused, not executed.
pub fn a_recovery_probe_is_answered_never_forwarded(s: &Stack) {
    let token = s.crumb.mint(&["--balance", "20"]);
    let url = format!("{}/v1/chat", s.front.url);
    let key = ("Idempotency-Key", "answered-1");
    let paid = send("POST", &url, Some(&token), &[key], "hello");
    assert_eq!(paid.status, 200, "{paid:?}");
    let probe = send("POST", &url, Some(&token), &[key, ("Crumb-Recover", "1")], "");
    assert_eq!((probe.status, probe.header("crumb-error")), (403, Some("already-answered")), "{probe:?}");
    assert_eq!((probe.header("crumb-token"), probe.header("crumb-cost")), (paid.header("crumb-token"), Some("5")));
    assert_eq!(s.upstream.count(), 1, "a probe reached the upstream");
    let (_, _, seen) = s.upstream.last();
    assert!(seen.get("idempotency-key").is_none(), "the key reached the upstream");
    // A request crumb never saw: closed at no cost, and its late copy refused.
    let next = paid.successor().to_owned();
    let lost = ("Idempotency-Key", "never-sent");
    let closed = send("POST", &url, Some(&next), &[lost, ("Crumb-Recover", "1")], "");
    assert_eq!((closed.status, closed.header("crumb-cost")), (403, Some("0")), "{closed:?}");
    assert_eq!(closed.header("crumb-balance"), Some("15"), "{closed:?}");
    // Refused: forward auth's spend of 5 does not match the closed record of 0, so it is
    // `spent` (the proxy, which holds, answers `already-answered`); either way never allowed.
    let late = send("POST", &url, Some(&next), &[lost], "late");
    assert_eq!(late.status, 403, "{late:?}");
    assert!(matches!(late.header("crumb-error"), Some("spent" | "already-answered")), "{late:?}");
    assert_eq!(s.upstream.count(), 1, "a closed request was executed");
    let after = send("POST", &url, Some(closed.successor()), &[], "");
    assert_eq!((after.status, after.header("crumb-balance")), (200, Some("10")), "{after:?}");
}

/// With crumb down the proxy fails closed (a 5xx) and the upstream is not called.
pub fn fails_closed_without_crumb(s: &mut Stack) {
    let token = s.crumb.mint(&["--balance", "20"]);
    s.crumb.terminate(Duration::from_secs(10)).expect("crumb stops");
    let answer = send("POST", &format!("{}/v1/chat", s.front.url), Some(&token), &[], "");
    assert!((500..600).contains(&answer.status), "{answer:?}");
    assert_eq!(s.upstream.count(), 0);
}

/// The checks above as `#[test]`s, for the proxy that `$start` starts.
#[macro_export]
macro_rules! forward_auth_tests {
    ($start:path) => {
        use common::forward_auth::{self as checks, stack};

        #[test]
        fn a_paid_request_is_forwarded_once_with_its_successor_and_the_old_token_is_refused() {
            let Some(s) = stack($start) else { return };
            checks::paid_once_with_the_successor(&s);
        }

        #[test]
        fn no_token_or_a_low_balance_gets_the_challenge_and_caveats_give_403() {
            let Some(s) = stack($start) else { return };
            checks::challenge_and_caveats(&s);
        }

        #[test]
        fn concurrent_uses_of_one_token_reach_the_upstream_once() {
            let Some(s) = stack($start) else { return };
            checks::concurrent_uses_reach_the_upstream_once(&s);
        }

        #[test]
        fn a_client_cannot_describe_its_own_request_to_crumb() {
            let Some(s) = stack($start) else { return };
            checks::the_client_cannot_describe_its_own_request(&s);
        }

        #[test]
        fn a_recovery_probe_is_answered_never_forwarded() {
            let Some(s) = stack($start) else { return };
            checks::a_recovery_probe_is_answered_never_forwarded(&s);
        }

        #[test]
        fn with_crumb_down_the_proxy_fails_closed() {
            let Some(mut s) = stack($start) else { return };
            checks::fails_closed_without_crumb(&mut s);
        }
    };
}
