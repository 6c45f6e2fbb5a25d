//! The caveat grammar: never panics, and a parsed caveat prints to text that parses to the
//! same caveat (what `mint -c` stores is what the verifier reads).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(caveat) = crumb::caveat::parse(text) {
        let printed = caveat.to_string();
        let again = crumb::caveat::parse(&printed).unwrap_or_else(|e| panic!("{printed:?}: {e}"));
        assert_eq!(again.to_string(), printed);
        let _ = caveat.check(&crumb::Context::now());
    }
});
