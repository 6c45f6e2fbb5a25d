//! X-Forwarded-For as a real HAProxy writes it (`option forwardfor`: one header line per
//! hop, appended after whatever the client sent), in front of crumb's metering proxy that
//! trusts HAProxy's address alone. Whatever lines the client adds, the client is the address
//! HAProxy saw.

use crate::common;
use common::http::raw;
use common::server::start;
use common::upstream::{Upstream, PRICES};

#[test]
fn behind_haproxy_the_client_is_the_address_haproxy_saw_whatever_it_writes() {
    let upstream = Upstream::start();
    let crumb = start(&[&["--upstream", &upstream.url, "--trust-proxy", common::haproxy::SOURCE], PRICES].concat());
    let Some(front) = common::haproxy::start(crumb.addr()) else { return };
    let addr = front.url.strip_prefix("http://").unwrap().to_owned();
    // A token of its own for each request (attenuated copies share their original's nonce).
    let pin = |ip: &str| crumb.mint(&["--balance", "100", "--caveat", &format!("ip = {ip}")]);
    let chat = |token: &str, spoof: &str| {
        raw(&addr, &format!("POST /v1/chat HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer {token}\r\n{spoof}Content-Length: 0\r\nConnection: close\r\n\r\n"))
    };
    let padded = "X-Forwarded-For: 203.0.113.9\r\n".repeat(20);
    // The client's own lines name another address: it is still 127.0.0.1.
    let forged = chat(&pin("203.0.113.9"), &padded);
    assert_eq!((forged.status, forged.header("crumb-error")), (403, Some("caveat-failed")), "{forged:?}");
    let real = chat(&pin("127.0.0.1"), &padded);
    assert_eq!(real.status, 200, "{real:?}");
    let (_, _, headers) = upstream.last();
    assert_eq!(headers.get("x-forwarded-for").unwrap(), "127.0.0.1");
    // A byte that is not ASCII in the client's line changes nothing either.
    let broken = chat(&pin("127.0.0.1"), "X-Forwarded-For: 6.6.6.6\u{ff}\r\n");
    assert_eq!(broken.status, 200, "{broken:?}");
    // More hops than crumb reads: refused whole, never read in part.
    let flood = chat(&pin("203.0.113.9"), &"X-Forwarded-For: 203.0.113.9\r\n".repeat(70));
    assert_eq!((flood.status, flood.header("crumb-error")), (400, Some("bad-forwarded-for")), "{flood:?}");
    assert_eq!(upstream.count(), 2);
}
