//! The price list: a rule never panics to parse, prints to text that parses to the same rule,
//! and pricing any request against a table of parsed rules never panics. A request's
//! canonical target is a fixed point: canonicalising it again changes nothing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (rules, request) = text.split_once('\n').unwrap_or((text, "/"));
    let parsed: Vec<crumb::price::Rule> = rules.split(';').filter_map(|r| r.parse().ok()).collect();
    for rule in &parsed {
        let printed = rule.to_string();
        let again: crumb::price::Rule = printed.parse().unwrap_or_else(|e| panic!("{printed:?}: {e}"));
        assert_eq!(&again, rule);
    }
    if let Ok(table) = crumb::price::PriceTable::new(parsed) {
        let (method, target) = request.split_once(' ').unwrap_or(("GET", request));
        if let Ok(canonical) = crumb::target::Target::parse(method, target) {
            let again = crumb::target::Target::parse(canonical.method().as_str(), &canonical.path_and_query());
            assert_eq!(again.as_ref(), Ok(&canonical), "{target:?}");
            let _ = table.price(&canonical);
        }
    }
});
