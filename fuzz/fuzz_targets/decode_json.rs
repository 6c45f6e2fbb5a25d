//! The JSON decoders (v1 and v2 layouts) and the text front door (base64 detection).
#![no_main]
use crumb::token::wire::{self, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Whatever the text, decoding answers Ok or Err, never a panic.
    let _ = wire::decode(text);
    let json = format!("{{{text}");
    if let Ok(m) = wire::decode(&json) {
        let encoded = wire::encode(&m, Format::Json).expect("v2 JSON carries any token");
        assert_eq!(wire::decode(&encoded).expect("crumb's JSON decodes"), m);
    }
});
