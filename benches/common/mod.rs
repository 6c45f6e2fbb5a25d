//! Fixtures the token benchmarks share: a realistic mix of caveats, a request they all pass,
//! and the baseline — the bare HMAC-SHA256 chain through the `hmac` crate.

#![allow(dead_code)]

use crumb::keyring::KeyEntry;
use crumb::{Context, Keyring, Macaroon, RootKey};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const KINDS: &[&str] = &[
    "action in read,write",
    "resource prefix /apps/42",
    "expires < 2030-01-01T00:00:00Z",
    "aud = billing-api",
    "max-cost <= 50",
    "tenant = acme",
    "ip in 10.0.0.0/8",
];

pub const IDENTIFIER: &[u8] = b"crumb1:0123456789abcdef:00112233445566778899aabbccddeeff";

pub fn predicates(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| KINDS[i % KINDS.len()].as_bytes().to_vec()).collect()
}

pub fn key() -> RootKey {
    RootKey::from_bytes(&[7u8; 32]).unwrap()
}

/// A keyring holding `key()` under the key id the identifier names.
pub fn keyring() -> Keyring {
    Keyring {
        single: false,
        current: Some("0123456789abcdef".into()),
        keys: vec![KeyEntry { id: "0123456789abcdef".into(), key: key(), created: String::new(), retired: None }],
    }
}

pub fn token(n: usize) -> Macaroon {
    let mut m = Macaroon::mint(&key(), IDENTIFIER.to_vec(), None);
    for p in predicates(n) {
        m.add_first_party(p);
    }
    m
}

/// A request every caveat of `KINDS` allows.
pub fn context() -> Context {
    let mut ctx = Context::now();
    ctx.action = Some("read".into());
    ctx.resource = Some("/apps/42/logs".into());
    ctx.aud = Some("billing-api".into());
    ctx.ip = Some("10.1.2.3".parse().unwrap());
    ctx.cost = 5;
    ctx.values.insert("tenant".into(), "acme".into());
    ctx
}

/// The baseline: key derivation, the identifier, one HMAC per caveat, nothing else.
pub fn bare_chain(root: &[u8], predicates: &[Vec<u8>]) -> [u8; 32] {
    let hmac = |key: &[u8], msg: &[u8]| -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        m.update(msg);
        m.finalize().into_bytes().into()
    };
    let mut sig = hmac(b"macaroons-key-generator", root);
    sig = hmac(&sig, IDENTIFIER);
    for p in predicates {
        sig = hmac(&sig, p);
    }
    sig
}
