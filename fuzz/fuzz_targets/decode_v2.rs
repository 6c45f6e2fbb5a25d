//! The v2 binary decoder: never panics, and what it accepts re-encodes byte for byte.
#![no_main]
use crumb::token::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(2);
    bytes.extend_from_slice(data);
    if let Ok(m) = wire::decode_binary(&bytes) {
        let encoded = wire::encode_v2(&m);
        let again = wire::decode_binary(&encoded).expect("a v2 encoding crumb wrote decodes");
        assert_eq!(again, m);
    }
});
