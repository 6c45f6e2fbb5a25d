//! Properties over generated tokens: every format round-trips, and no single flipped bit
//! in a token's signed bytes survives verification.

use crumb::token::wire::{self, Format};
use crumb::{Context, Keyring, Macaroon, RawCaveat, RootKey, Verifier};
use proptest::prelude::*;

fn key() -> RootKey {
    RootKey::from_bytes(&[42u8; 32]).unwrap()
}

fn caveat() -> impl Strategy<Value = RawCaveat> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..80).prop_map(RawCaveat::first_party),
        "[a-z]{1,8} = [a-z0-9]{1,12}".prop_map(RawCaveat::first_party),
        (
            proptest::collection::vec(any::<u8>(), 1..40),
            proptest::collection::vec(any::<u8>(), 72),
            proptest::option::of("[a-z:/.]{1,20}")
        )
            .prop_map(|(id, vid, location)| RawCaveat { id: id.into(), vid: Some(vid.into()), location }),
    ]
}

fn macaroon() -> impl Strategy<Value = Macaroon> {
    (
        proptest::option::of("[a-z:/.]{1,30}"),
        proptest::collection::vec(any::<u8>(), 1..64),
        proptest::collection::vec(caveat(), 0..12),
        any::<[u8; 32]>(),
    )
        .prop_map(|(location, identifier, caveats, signature)| Macaroon {
            location,
            identifier: identifier.into(),
            caveats,
            signature,
        })
}

/// Tokens whose identifier and caveat ids are text, as v1 JSON requires.
fn utf8_macaroon() -> impl Strategy<Value = Macaroon> {
    (macaroon(), "\\PC{1,40}", proptest::collection::vec("\\PC{1,30}", 0..12)).prop_map(|(mut m, id, ids)| {
        m.identifier = id.into_bytes().into();
        m.caveats.truncate(ids.len());
        for (c, id) in m.caveats.iter_mut().zip(ids) {
            c.id = id.into_bytes().into();
        }
        m
    })
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=1000000 for a long local run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn binary_and_v2_json_round_trip(m in macaroon()) {
        for f in [Format::V1, Format::V2, Format::Json] {
            let text = wire::encode(&m, f).unwrap();
            prop_assert_eq!(wire::decode(&text).unwrap(), m.clone(), "{:?}", f);
        }
    }

    #[test]
    fn v1_json_round_trips_utf8_tokens(m in utf8_macaroon()) {
        let text = wire::encode(&m, Format::JsonV1).unwrap();
        prop_assert_eq!(wire::decode(&text).unwrap(), m);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = wire::decode_binary(&bytes);
        let _ = wire::decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn any_flipped_bit_fails_verification(
        predicates in proptest::collection::vec("[a-z]{1,6} = [a-z]{1,6}", 0..6),
        bit in any::<prop::sample::Index>(),
        v1 in any::<bool>(),
    ) {
        // No location: the location is a hint that no macaroon library signs.
        let mut m = Macaroon::mint(&key(), &b"token under test"[..], None);
        for p in &predicates {
            m.add_first_party(p.clone());
        }
        let exact: Vec<Vec<u8>> = predicates.iter().map(|p| p.as_bytes().to_vec()).collect();
        let keys = Keyring::single(key());
        let verifier = Verifier::new(&keys).with_exact(exact).only_exact(true);
        let mut bytes = if v1 { wire::encode_v1(&m).unwrap() } else { wire::encode_v2(&m) };
        prop_assert!(verifier.verify(wire::decode_binary(&bytes).unwrap(), vec![], &Context::now()).is_ok());
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        if let Ok(tampered) = wire::decode_binary(&bytes) {
            prop_assert!(verifier.verify(tampered, vec![], &Context::now()).is_err(), "bit {} survived", i);
        }
    }
}
