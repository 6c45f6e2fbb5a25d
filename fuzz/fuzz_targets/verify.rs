//! The verifier on arbitrary tokens, discharges and requests. Half the inputs are genuine
//! tokens (minted here with the fuzzer's caveats), so the caveat and discharge paths run,
//! not only the signature check. Properties: no panic; a verdict of "allowed" only for a
//! token whose signature holds; adding a caveat never turns a denial into an allowance.
#![no_main]
use crumb::token::wire;
use crumb::{Context, Keyring, Macaroon, RootKey, Verifier};
use libfuzzer_sys::fuzz_target;

fn key() -> RootKey {
    RootKey::from_bytes(&[7u8; 32]).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let keys = Keyring::single(key());
    let mut parts = data.split(|&b| b == 0xff);
    let Some(head) = parts.next() else { return };
    let mut ctx = Context::at(time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap());
    let facts: Vec<&[u8]> = head.splitn(4, |&b| b == b'|').collect();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    ctx.action = facts.first().map(|b| text(b));
    ctx.resource = facts.get(1).map(|b| text(b));
    ctx.cost = facts.get(2).map_or(0, |b| b.iter().fold(0u64, |a, &x| a.wrapping_mul(31).wrapping_add(x as u64)));
    let genuine = head.first().is_some_and(|b| b & 1 == 1);
    let Some(body) = parts.next() else { return };
    let token = if genuine {
        let mut m = Macaroon::mint(&key(), b"crumb1:0000000000000000:00000000000000000000000000000000".to_vec(), None);
        for line in body.split(|&b| b == b'\n').take(64) {
            m.add_first_party(line.to_vec());
        }
        m
    } else {
        match wire::decode_binary(body) {
            Ok(m) => m,
            Err(_) => return,
        }
    };
    let discharges: Vec<Macaroon> = parts.take(40).filter_map(|d| wire::decode_binary(d).ok()).collect();
    let verifier = Verifier::new(&keys);
    let report = verifier.check(&token, &discharges, &ctx);
    if report.denial.is_none() {
        assert!(report.signature_valid);
    }
    // Attenuation never widens: one more caveat cannot turn a denial into an allowance.
    if report.denial.is_some() && report.signature_valid {
        let mut narrower = token.clone();
        narrower.add_first_party(b"action = read".to_vec());
        assert!(verifier.check(&narrower, &discharges, &ctx).denial.is_some());
    }
});
