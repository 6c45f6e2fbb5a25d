//! `crumb serve`'s routes on arbitrary request bodies and headers, through the real router
//! (the binary's `serve` module compiled in) without a socket. Property: every answer is a
//! JSON body with a stable `code` on error, and never a 500 or a panic.
#![no_main]
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

#[allow(dead_code)]
#[path = "../../src/serve/mod.rs"]
mod serve;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let key = crumb::RootKey::from_bytes(&[7u8; 32]).unwrap();
        let location = dir.path().join("l.db").display().to_string();
        let ledger = crumb::ledger::open(&location, crumb::ledger::OpenOptions::READ_WRITE).unwrap();
        let state = serve::AppState {
            issuer: crumb::Issuer::new(crumb::Keyring::single(key), ledger),
            metrics: serve::Metrics::default(),
            audit: None,
            trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
            timeout: std::time::Duration::from_secs(5),
            pricing: arc_swap::ArcSwap::from_pointee(serve::Pricing {
                table: crumb::price::PriceTable::new(vec!["POST /v1/chat=5".parse().unwrap(), "* /=0".parse().unwrap()])
                    .unwrap(),
                unpriced: serve::Unpriced::Deny,
                realm: "fuzz".into(),
                audience: None,
            }),
            authz: serve::AuthzOptions::default(),
            upstream: None,
            well_known: true,
            rate_limits: serve::RateLimits::new(None, None),
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Fixture { runtime, app: serve::app(Arc::new(state)), _dir: dir }
    })
}

const ROUTES: [&str; 5] = ["/v1/verify", "/v1/spend", "/v1/split", "/v1/revoke", "/v1/authz"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let f = fixture();
    // An optional header line before the first 0x00: X-Forwarded-For, Authorization, or
    // (for forward auth) X-Original-URI.
    let (header, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let mut request = Request::post(ROUTES[selector as usize % ROUTES.len()]);
    if let Some(h) = header.and_then(|h| axum::http::HeaderValue::from_bytes(h).ok()) {
        let name = match selector >> 6 {
            0 => "x-forwarded-for",
            1 => "x-original-uri",
            _ => "authorization",
        };
        request = request.header(name, h);
    }
    if selector >> 6 == 1 {
        request = request.header("x-original-method", "POST");
    }
    let mut request = request.body(Body::from(body.to_vec())).unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
    let response = f.runtime.block_on(f.app.clone().oneshot(request)).unwrap();
    let status = response.status();
    assert!(status.as_u16() != 500, "a 500 for {body:?}");
    let bytes = f.runtime.block_on(axum::body::to_bytes(response.into_body(), 4 << 20)).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("every answer is JSON");
    if !status.is_success() {
        assert!(doc["code"].is_string(), "{doc}");
    }
});
