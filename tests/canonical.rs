//! One canonical request target: the request crumb prices and checks is the request the API
//! routes. One table of raw methods and targets, each with the canonical form it must be
//! forwarded as (and the price that form costs) or the refusal it must get, run through the
//! metering proxy, forward auth in each header family (nginx's X-Original-*, Traefik's and
//! Caddy's X-Forwarded-*, Envoy's path suffix), and the README's nginx and Caddy recipes.

use crate::common;
use common::front::Front;
use common::http::{raw, send, Answer};
use common::server::start;
use common::upstream::{Upstream, PRICES};

/// What a raw request must become.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Forwarded as this method and target, charged this much.
    Canonical(&'static str, &'static str, u64),
    /// Refused before any charge or upstream call.
    Refused,
}
use Expect::{Canonical, Refused};

/// The price list of these tests: the shared one and a cheap catch-all, so a request that
/// dodged its route's price would show it (it would cost 1).
fn prices() -> Vec<&'static str> {
    [PRICES, &["--price", "* /=1"]].concat()
}

const TABLE: &[(&str, &str, Expect)] = &[
    ("POST", "/v1/chat", Canonical("POST", "/v1/chat", 5)),
    ("POST", "/v1/%63hat", Canonical("POST", "/v1/chat", 5)),
    ("POST", "/v1/%63%68%61%74?stream=true&x=%2F", Canonical("POST", "/v1/chat?stream=true&x=%2F", 5)),
    ("POST", "/v1/chat/", Canonical("POST", "/v1/chat/", 5)),
    ("POST", "/v1/chat/completions", Canonical("POST", "/v1/chat/completions", 5)),
    ("GET", "/v1/%63hat", Canonical("GET", "/v1/chat", 2)),
    // A framework answers HEAD with the GET handler: it costs what GET costs.
    ("HEAD", "/v1/chat", Canonical("HEAD", "/v1/chat", 2)),
    ("POST", "/v1/caf%c3%a9", Canonical("POST", "/v1/caf%C3%A9", 1)),
    ("POST", "/v1/%7Euser", Canonical("POST", "/v1/~user", 1)),
    ("post", "/v1/chat", Refused),
    ("Post", "/v1/chat", Refused),
    ("PROPFIND", "/v1/chat", Refused),
    ("TRACE", "/v1/chat", Refused),
    ("POST", "/v1/chat;a=b", Refused),
    ("POST", "/v1/chat%3ba=b", Refused),
    ("POST", "/v1/models%3F/../chat", Refused),
    ("POST", "/v1/models%3f", Refused),
    ("POST", "/v1/chat%23x", Refused),
    ("POST", "/v1/models/%2e%2e/chat", Refused),
    ("POST", "/v1/models/%2E%2E/chat", Refused),
    ("POST", "/v1/models/.%2e/chat", Refused),
    ("POST", "/v1/models/../chat", Refused),
    ("POST", "/v1/./chat", Refused),
    ("POST", "/v1/models%2fchat", Refused),
    ("POST", "/v1/models%5cchat", Refused),
    ("POST", "//v1/chat", Refused),
    ("POST", "/v1/%252e%252e/chat", Refused),
    ("POST", "/v1/chat%00", Refused),
    ("POST", "/v1/chat%zz", Refused),
    ("POST", "/v1/chat?a=%zz", Refused),
    ("POST", "/v1/models/%c0%ae%c0%ae/chat", Refused),
    ("POST", "/v1/chat%ff", Refused),
];

fn head(method: &str, target: &str, token: &str, host: &str) -> String {
    format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

/// Runs the table through one way in; `ask(method, target, token)` sends one request and
/// returns the answer; `forwarded` says whether the upstream sees crumb's canonical form
/// (the proxy) or the client's own target (a front proxy that passes the raw URI on).
fn run_table(
    upstream: &Upstream,
    mint: impl Fn() -> String,
    ask: impl Fn(&str, &str, &str) -> Answer,
    canonical_upstream: bool,
) {
    let mut token = mint();
    let mut balance = 1000;
    for &(method, target, expect) in TABLE {
        let before = upstream.count();
        let answer = ask(method, target, &token);
        match expect {
            Canonical(fwd_method, fwd_target, cost) => {
                assert_eq!(answer.status, 200, "{method} {target}: {answer:?}");
                assert_eq!(
                    answer.header("crumb-cost"),
                    Some(cost.to_string().as_str()),
                    "{method} {target}: {answer:?}"
                );
                assert_eq!(upstream.count(), before + 1, "{method} {target}");
                let (seen_method, seen_target, _) = upstream.last();
                assert_eq!(seen_method, fwd_method, "{method} {target}");
                if canonical_upstream {
                    assert_eq!(seen_target, fwd_target, "{method} {target}");
                }
                balance -= cost;
                if cost > 0 {
                    token = answer.successor().to_owned();
                }
                assert_eq!(answer.header("crumb-balance"), Some(balance.to_string().as_str()), "{method} {target}");
            }
            Refused => {
                assert!((400..500).contains(&answer.status), "{method} {target} must be refused: {answer:?}");
                assert_ne!(answer.status, 402, "{method} {target}");
                assert_eq!(upstream.count(), before, "{method} {target} reached the upstream");
                assert!(answer.header("crumb-cost").is_none_or(|c| c == "0"), "{method} {target}: {answer:?}");
            }
        }
    }
    // Nothing refused was charged: the last token still holds exactly what the table spent.
    let check = ask("GET", "/v1/models", &token);
    assert_eq!(check.header("crumb-balance"), Some(balance.to_string().as_str()), "{check:?}");
}

#[test]
fn the_proxy_forwards_exactly_what_it_priced() {
    let upstream = Upstream::start();
    let server = start(&[&["--upstream", &upstream.url], prices().as_slice()].concat());
    let mint = || server.mint(&["--balance", "1000"]);
    run_table(&upstream, mint, |m, t, token| raw(server.addr(), &head(m, t, token, "api.test")), true);
    // An absolute-form target names a host of its own: refused.
    let token = server.mint(&["--balance", "10"]);
    let absolute = raw(server.addr(), &head("POST", "http://evil.test/v1/chat", &token, "api.test"));
    assert_eq!(absolute.status, 400, "{absolute:?}");
}

/// crumb answering forward auth directly; the upstream is never called by it, so the table's
/// upstream counts are kept by a stand-in that forwards an allowed request like a front proxy.
fn authz_table(family: fn(&str, &str) -> (String, String)) {
    let upstream = Upstream::start();
    let crumb = start(&prices());
    let mint = || crumb.mint(&["--balance", "1000"]);
    let ask = |method: &str, target: &str, token: &str| {
        let (line, extra) = family(method, target);
        let answer = raw(crumb.addr(), &format!("{line}Host: api.test\r\nAuthorization: Bearer {token}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"));
        if answer.status == 200 {
            // What a front proxy does on 200: pass the client's request on, as the client sent it.
            let _ = send(
                if method == "HEAD" { "HEAD" } else { method },
                &format!("{}{}", upstream.url, target),
                None,
                &[],
                "",
            );
        }
        answer
    };
    run_table(&upstream, mint, ask, false);
}

#[test]
fn forward_auth_with_nginx_headers_prices_the_canonical_target() {
    authz_table(|m, t| {
        ("GET /v1/authz HTTP/1.1\r\n".into(), format!("X-Original-Method: {m}\r\nX-Original-URI: {t}\r\n"))
    });
}

#[test]
fn forward_auth_with_traefik_and_caddy_headers_prices_the_canonical_target() {
    authz_table(|m, t| {
        ("GET /v1/authz HTTP/1.1\r\n".into(), format!("X-Forwarded-Method: {m}\r\nX-Forwarded-Uri: {t}\r\n"))
    });
}

#[test]
fn forward_auth_with_envoys_path_suffix_prices_the_canonical_target() {
    authz_table(|m, t| (format!("{m} /v1/authz{t} HTTP/1.1\r\n"), String::new()));
}

/// The README's recipe for `start_front` in front of the upstream, asking crumb.
fn front_table(start_front: fn(&str, &str) -> Option<Front>) {
    let upstream = Upstream::start();
    let crumb = start(&[prices().as_slice(), &["--trust-proxy", "127.0.0.1"]].concat());
    let Some(front) = start_front(crumb.addr(), upstream.url.strip_prefix("http://").unwrap()) else { return };
    let addr = front.url.strip_prefix("http://").unwrap().to_owned();
    let mint = || crumb.mint(&["--balance", "1000"]);
    // The front passes the raw target on: the upstream sees what the client wrote, which it
    // routes as the canonical form crumb priced.
    // (Caddy's site answers only its own host.)
    run_table(&upstream, mint, |m, t, token| raw(&addr, &head(m, t, token, &addr)), false);
}

#[test]
fn the_nginx_recipe_prices_the_canonical_target() {
    front_table(common::nginx::start);
}

#[test]
fn the_caddy_recipe_prices_the_canonical_target() {
    front_table(common::caddy::start);
}

/// A holder's narrowing holds under every spelling: a token for `/v1/models` only never
/// reaches `/v1/chat`, encoded or climbing.
#[test]
fn a_resource_caveat_is_not_escaped_by_spelling() {
    let upstream = Upstream::start();
    let server = start(&[&["--upstream", &upstream.url], prices().as_slice()].concat());
    let token = server.mint(&["--balance", "100"]);
    let models = server.env.ok(&["attenuate", &token, "--caveat", "resource prefix /v1/models"]);
    for target in ["/v1/%63hat", "/v1/models%3F/../chat", "/v1/models/%2e%2e/chat", "/v1/models;x/../../chat"] {
        let answer = raw(server.addr(), &head("POST", target, &models, "api.test"));
        assert!(matches!(answer.status, 400 | 403), "{target}: {answer:?}");
    }
    assert_eq!(upstream.count(), 0);
    let crumb = start(&prices());
    let envoy = raw(crumb.addr(), &head("POST", "/v1/authz/v1/models%3F/../chat", &models, "api.test"));
    assert_eq!((envoy.status, envoy.header("crumb-error")), (403, Some("bad-path")), "{envoy:?}");
}

/// A header that describes the original request and cannot be read (a byte that is not
/// ASCII), or is sent twice, is refused — never taken as absent, which would let the other
/// family (a client's own `X-Forwarded-Uri` behind nginx) decide the price.
#[test]
fn forward_auth_refuses_descriptions_it_cannot_read_whole() {
    let crumb = start(&prices());
    let token = crumb.mint(&["--balance", "100"]);
    let ask = |line: &str, extra: &str| {
        raw(crumb.addr(), &format!("{line}Host: api.test\r\nAuthorization: Bearer {token}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"))
    };
    let get = "GET /v1/authz HTTP/1.1\r\n";
    let client_says_models = "X-Forwarded-Method: GET\r\nX-Forwarded-Uri: /v1/models\r\n";
    for (what, extra) in [
        (
            "a non-ASCII X-Original-URI",
            format!("X-Original-Method: POST\r\nX-Original-URI: /v1/chat?\u{ff}\r\n{client_says_models}"),
        ),
        (
            "two X-Original-URI",
            "X-Original-Method: POST\r\nX-Original-URI: /v1/chat\r\nX-Original-URI: /v1/models\r\n".to_owned(),
        ),
        (
            "two X-Forwarded-Method",
            "X-Forwarded-Method: POST\r\nX-Forwarded-Method: GET\r\nX-Forwarded-Uri: /v1/chat\r\n".to_owned(),
        ),
        ("a non-ASCII X-Original-Method", "X-Original-Method: P\u{d3}ST\r\nX-Original-URI: /v1/chat\r\n".to_owned()),
        (
            "a host that is two hosts",
            "X-Original-Method: POST\r\nX-Original-URI: /v1/chat\r\nX-Original-Host: a,for=1.2.3.4\r\n".to_owned(),
        ),
    ] {
        let answer = ask(get, &extra);
        assert_eq!(answer.status, 403, "{what}: {answer:?}");
        assert!(answer.header("crumb-token").is_none(), "{what} was allowed: {answer:?}");
        assert!(
            matches!(answer.header("crumb-error"), Some("bad-path" | "bad-method" | "bad-host")),
            "{what}: {answer:?}"
        );
    }
    // An absolute-form request to /v1/authz is refused like the proxy's.
    let absolute = ask("GET http://evil.test/v1/authz/v1/models HTTP/1.1\r\n", "");
    assert_eq!(absolute.status, 403, "{absolute:?}");
    // Envoy's form of the root path `/` is /v1/authz/: priced by the catch-all, not a 404.
    let root = ask("GET /v1/authz/ HTTP/1.1\r\n", "");
    assert_eq!((root.status, root.header("crumb-cost")), (200, Some("1")), "{root:?}");
}

/// A Host that is not one host[:port] is refused by the proxy before it is priced, forwarded
/// in X-Forwarded-Host or made the `aud` fact.
#[test]
fn the_proxy_refuses_a_host_that_is_not_one_host() {
    let upstream = Upstream::start();
    let server = start(&[&["--upstream", &upstream.url], prices().as_slice()].concat());
    let token = server.mint(&["--balance", "100"]);
    for host in ["a/../x", "a,for=1.2.3.4", "api.test:notaport", "[::1"] {
        let answer = raw(server.addr(), &head("POST", "/v1/chat", &token, host));
        assert_eq!((answer.status, answer.header("crumb-error")), (400, Some("bad-host")), "{host}: {answer:?}");
    }
    assert_eq!(upstream.count(), 0);
}
