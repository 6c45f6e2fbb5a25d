//! One test per input the fuzz targets (fuzz/, see fuzz/README.md) found crashing, replayed
//! through the same property the target checks. The inputs live in tests/data/fuzz/, named
//! `<target>-<what it found>`.

use crumb::token::wire;
use std::path::Path;

fn input(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The decode_v1 property: what decodes re-encodes to a token that decodes the same.
fn v1_round_trips(bytes: &[u8]) {
    if let Ok(m) = wire::decode_binary(bytes) {
        let encoded = wire::encode_v1(&m).expect("encodes");
        assert_eq!(wire::decode_binary(&encoded).expect("decodes"), m);
    }
}

#[test]
fn decode_v1_a_location_on_a_first_party_caveat_is_refused() {
    // `cid` then `cl` without `vid`: the location was kept, then dropped by the encoder.
    let bytes = input("decode_v1-first-party-caveat-location");
    assert!(matches!(wire::decode_binary(&bytes), Err(crumb::error::DecodeError::Malformed(_))));
    v1_round_trips(&bytes);
}
