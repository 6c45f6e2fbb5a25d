//! decode+verify against the bare HMAC chain, measured interleaved: 31 rounds of (baseline
//! batch, crumb batch), reporting the median ratio and its quartiles. On a machine whose speed
//! drifts, alternating the two in short batches compares them under the same conditions.
//! `cargo bench --bench ratio`. Not a timed test: it asserts only that verification passes.

mod common;

use common::{bare_chain, context, key, keyring, predicates, token};
use crumb::token::wire::{self, Format};
use crumb::Verifier;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (key, keys, ctx) = (key(), keyring(), context());
    let verifier = Verifier::new(&keys);
    println!("decode+verify / bare chain, interleaved batches (median, quartiles)");
    for n in [1usize, 10, 100] {
        let preds = predicates(n);
        let text = wire::encode(&token(n), Format::V2).unwrap();
        let iters = 200_000 / (n + 2);
        let mut ratios: Vec<f64> = (0..31)
            .map(|_| {
                let started = Instant::now();
                for _ in 0..iters {
                    black_box(bare_chain(black_box(key.expose()), black_box(&preds)));
                }
                let baseline = started.elapsed();
                let started = Instant::now();
                for _ in 0..iters {
                    let m = wire::decode(black_box(&text)).unwrap();
                    assert!(verifier.verify(m, Vec::new(), &ctx).is_ok());
                }
                started.elapsed().as_secs_f64() / baseline.as_secs_f64()
            })
            .collect();
        ratios.sort_by(|a, b| a.total_cmp(b));
        println!("{n:>4} caveats: {:.2}x  ({:.2}x..{:.2}x)", ratios[15], ratios[7], ratios[23]);
    }
}
