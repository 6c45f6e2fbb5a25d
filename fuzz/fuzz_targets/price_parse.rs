//! The price list: a rule never panics to parse, prints to text that parses to the same rule,
//! and pricing any request path against a table of parsed rules never panics.
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
        let (method, path) = request.split_once(' ').unwrap_or(("GET", request));
        let _ = table.price(method, path);
    }
});
