//! mint, attenuate and decode+verify at 0, 1, 10 and 100 caveats, beside the bare
//! HMAC-SHA256 chain of the same length (key derivation + one HMAC per link), in one run.
//! Report: `cargo bench --bench token`; the ratios are computed by scripts/bench-ratios.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use crumb::token::wire::{self, Format};
use crumb::{Context, Keyring, Macaroon, RootKey, Verifier};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

const KINDS: &[&str] = &[
    "action in read,write",
    "resource prefix /apps/42",
    "expires < 2030-01-01T00:00:00Z",
    "aud = billing-api",
    "max-cost <= 50",
    "tenant = acme",
    "ip in 10.0.0.0/8",
];

fn predicates(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| KINDS[i % KINDS.len()].as_bytes().to_vec()).collect()
}

fn context() -> Context {
    let mut ctx = Context::now();
    ctx.action = Some("read".into());
    ctx.resource = Some("/apps/42/logs".into());
    ctx.aud = Some("billing-api".into());
    ctx.ip = Some("10.1.2.3".parse().unwrap());
    ctx.cost = 5;
    ctx.values.insert("tenant".into(), "acme".into());
    ctx
}

const IDENTIFIER: &[u8] = b"crumb1:0123456789abcdef:00112233445566778899aabbccddeeff";

/// The baseline: the same chain with nothing around it.
fn bare_chain(root: &[u8], predicates: &[Vec<u8>]) -> [u8; 32] {
    let hmac = |key: &[u8], msg: &[u8]| -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
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

fn benches(c: &mut Criterion) {
    let key = RootKey::from_bytes(&[7u8; 32]).unwrap();
    let mut identified = Keyring::default();
    identified.keys.push(crumb::keyring::KeyEntry {
        id: "0123456789abcdef".into(),
        key: key.clone(),
        created: String::new(),
        retired: None,
    });
    identified.current = Some("0123456789abcdef".into());
    let ctx = context();
    let mut group = c.benchmark_group("token");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    for n in [0usize, 1, 10, 100] {
        let preds = predicates(n);
        let mut token = Macaroon::mint(&key, IDENTIFIER.to_vec(), None);
        for p in &preds {
            token.add_first_party(p.clone());
        }
        let text = wire::encode(&token, Format::V2).unwrap();
        group.bench_with_input(BenchmarkId::new("bare_chain", n), &preds, |b, preds| {
            b.iter(|| bare_chain(black_box(key.expose()), black_box(preds)))
        });
        group.bench_with_input(BenchmarkId::new("mint", n), &preds, |b, preds| {
            b.iter(|| {
                let mut m = Macaroon::mint(black_box(&key), IDENTIFIER.to_vec(), None);
                for p in preds {
                    m.add_first_party(p.clone());
                }
                wire::encode(&m, Format::V2).unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("attenuate", n), &text, |b, text| {
            b.iter(|| {
                let mut m = wire::decode(black_box(text)).unwrap();
                m.add_first_party(&b"action = read"[..]);
                wire::encode(&m, Format::V2).unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("decode_verify", n), &text, |b, text| {
            let verifier = Verifier::new(&identified);
            b.iter(|| {
                let m = wire::decode(black_box(text)).unwrap();
                let verified = verifier.verify(m, Vec::new(), &ctx);
                assert!(verified.is_ok());
                verified
            })
        });
    }
    group.finish();
}

criterion_group!(token, benches);
criterion_main!(token);
