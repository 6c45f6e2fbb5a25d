//! mint, attenuate and decode+verify at 0, 1, 10 and 100 caveats, beside the bare
//! HMAC-SHA256 chain of the same length (key derivation + one HMAC per link), in one run.
//! `scripts/bench-ratios` prints the ratios; `cargo bench --bench ratio` measures the
//! decode+verify ratio interleaved, which this noisy machine needs for a stable figure.

mod common;

use common::{bare_chain, context, key, keyring, predicates, token, IDENTIFIER};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use crumb::token::wire::{self, Format};
use crumb::{Macaroon, Verifier};
use std::hint::black_box;
use std::time::Duration;

fn benches(c: &mut Criterion) {
    let key = key();
    let keys = keyring();
    let ctx = context();
    let mut group = c.benchmark_group("token");
    group.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    for n in [0usize, 1, 10, 100] {
        let preds = predicates(n);
        let text = wire::encode(&token(n), Format::V2).unwrap();
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
            let verifier = Verifier::new(&keys);
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

criterion_group!(token_benches, benches);
criterion_main!(token_benches);
