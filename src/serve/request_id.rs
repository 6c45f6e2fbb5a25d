//! A request id for every request (`X-Request-Id`), to follow one request through the logs:
//! taken from a trusted front proxy (a peer in `--trust-proxy`) when it sent one that reads
//! well, else made here. It is set on the request (so the proxy passes it to the upstream),
//! on the answer, on every log line of the request (a tracing span), and in the audit log.
//!
//! A client's own `X-Request-Id` is never taken from an untrusted peer: a log reader must be
//! able to tell crumb's ids from a client's choice, and a client must not make two requests
//! look like one.

use axum::http::{HeaderMap, HeaderValue};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The header, request and answer.
pub const HEADER: &str = "x-request-id";

/// The longest id taken from a front proxy.
const MAX_LEN: usize = 128;

tokio::task_local! {
    /// The id of the request being served (the audit log reads it).
    pub static CURRENT: String;
}

/// The request's id: a trusted front proxy's, or a new one.
pub fn of(trusted: &[crumb::caveat::IpNet], headers: &HeaderMap, peer: SocketAddr) -> String {
    let peer_trusted = trusted.iter().any(|net| net.contains(peer.ip().to_canonical()));
    if peer_trusted {
        let values: Vec<&HeaderValue> = headers.get_all(HEADER).iter().collect();
        if let [one] = values.as_slice() {
            if let Ok(text) = one.to_str() {
                if readable(text) {
                    return text.to_owned();
                }
            }
        }
    }
    made()
}

/// 1 to 128 characters of letters, digits and `-._:` (what a UUID, a trace id or nginx's
/// `$request_id` is made of).
fn readable(text: &str) -> bool {
    (1..=MAX_LEN).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))
}

/// A new id: 128 bits of an HMAC, under a key drawn once per process, of a counter. Unique
/// like the counter, with no system call per request, and telling no one (a client, the
/// upstream) how many requests came before it.
fn made() -> String {
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let key = KEY.get_or_init(|| {
        let mut random = [0u8; 32];
        // Without a random source the ids are still unique within this process.
        let _ = getrandom::getrandom(&mut random);
        random
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    hex::encode(&crumb::token::chain::hmac_secret(key, &n.to_be_bytes())[..16])
}

/// The id of the request being served, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_ids_are_unique_and_tell_nothing_of_the_count() {
        let ids: Vec<String> = (0..1000).map(|_| made()).collect();
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert!(ids.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
        // A counter shows in the digits that change least: no common 16-digit prefix here.
        assert!(ids.windows(2).all(|w| w[0][..16] != w[1][..16]), "{:?}", &ids[..2]);
    }

    #[test]
    fn a_front_proxys_id_is_taken_only_from_a_trusted_peer_and_only_when_it_reads_well() {
        let trusted: Vec<crumb::caveat::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("req-42.a:b_c"));
        let proxy = SocketAddr::from(([10, 0, 0, 1], 5));
        let client = SocketAddr::from(([192, 0, 2, 1], 5));
        assert_eq!(of(&trusted, &headers, proxy), "req-42.a:b_c");
        let own = of(&trusted, &headers, client);
        assert_ne!(own, "req-42.a:b_c", "an untrusted peer's id is not taken");
        assert_eq!(own.len(), 32);
        assert_ne!(own, of(&trusted, &headers, client), "each made id is new");
        for bad in ["", "a b", "x\"y", &"a".repeat(129)] {
            let mut h = HeaderMap::new();
            h.insert(HEADER, HeaderValue::from_str(bad).unwrap());
            assert_eq!(of(&trusted, &h, proxy).len(), 32, "{bad:?} is replaced");
        }
        headers.append(HEADER, HeaderValue::from_static("second"));
        assert_eq!(of(&trusted, &headers, proxy).len(), 32, "two ids: neither");
    }
}
