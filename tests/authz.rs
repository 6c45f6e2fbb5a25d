//! Forward auth (`/v1/authz`) spoken directly, as Envoy, Traefik and Caddy speak it.

use crate::common;

use common::http::{send, Answer};
use common::server::start;

/// A forward-auth check as a proxy sends it: a GET with the proxy's headers.
fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    send("GET", url, None, headers, "")
}

const PRICES: &[&str] = &["--price", "POST /v1/chat=5", "--price", "GET /v1/models=0"];

#[test]
fn envoy_path_suffix_and_traefik_headers_both_describe_the_request() {
    let server = start(PRICES);
    let token = server.mint(&["--balance", "20"]);
    // Envoy: the method is the check request's own, the path follows the prefix.
    let envoy = send("POST", &format!("{}/v1/authz/v1/chat", server.url), Some(&token), &[], "");
    assert_eq!((envoy.status, envoy.header("crumb-balance")), (200, Some("15")));
    let successor = envoy.header("crumb-token").unwrap().to_owned();
    // Traefik/Caddy: X-Forwarded-Method/-Uri.
    let bearer = format!("Bearer {successor}");
    let traefik = get(
        &format!("{}/v1/authz", server.url),
        &[("Authorization", &bearer), ("X-Forwarded-Method", "POST"), ("X-Forwarded-Uri", "/v1/chat?stream=1")],
    );
    assert_eq!((traefik.status, traefik.header("crumb-balance")), (200, Some("10")));
    // Both families at once: which proxy is telling the truth? Refused.
    let ambiguous = get(
        &format!("{}/v1/authz", server.url),
        &[
            ("X-Original-Method", "POST"),
            ("X-Original-URI", "/v1/chat"),
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/v1/models"),
        ],
    );
    assert_eq!((ambiguous.status, ambiguous.header("crumb-error")), (400, Some("no-original-request")));
}

#[test]
fn payment_status_verify_mode_and_retries() {
    let server = start(&[PRICES, &["--authz-payment-status", "402", "--authz-mode", "verify"]].concat());
    let token = server.mint(&["--balance", "20"]);
    let bearer = format!("Bearer {token}");
    let nginx = |auth: Option<&str>| {
        let mut headers = vec![("X-Original-Method", "POST"), ("X-Original-URI", "/v1/chat")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        get(&format!("{}/v1/authz", server.url), &headers)
    };
    let challenge = nginx(None);
    assert_eq!(
        (challenge.status, challenge.header("www-authenticate")),
        (402, Some(r#"Crumb realm="crumb", cost="5""#))
    );
    // Verify mode: allowed, nothing spent, the same token comes back.
    for _ in 0..2 {
        let ok = nginx(Some(&bearer));
        assert_eq!(
            (ok.status, ok.header("crumb-token"), ok.header("crumb-cost")),
            (200, Some(token.as_str()), Some("0"))
        );
    }

    // Spend mode: a retry with the same Idempotency-Key gets its successor, but never a second 200.
    let server = start(PRICES);
    let token = server.mint(&["--balance", "20"]);
    let bearer = format!("Bearer {token}");
    let call = |key: &str| {
        get(
            &format!("{}/v1/authz", server.url),
            &[
                ("X-Original-Method", "POST"),
                ("X-Original-URI", "/v1/chat"),
                ("Authorization", &bearer),
                ("Idempotency-Key", key),
            ],
        )
    };
    let first = call("k-1");
    assert_eq!(first.status, 200);
    let successor = first.header("crumb-token").unwrap().to_owned();
    let retry = call("k-1");
    assert_eq!((retry.status, retry.header("crumb-error")), (403, Some("already-answered")));
    assert_eq!(retry.header("crumb-token"), Some(successor.as_str()));
    let other = call("k-2");
    assert_eq!((other.status, other.header("crumb-error")), (403, Some("spent")));
    assert_eq!(other.header("crumb-token"), None);
}
