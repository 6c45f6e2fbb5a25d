//! Rendering shared by subcommands: tables for people, JSON for scripts.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use crumb::verify::{CaveatOutcome, Holder, Report, SatisfiedBy};
use crumb::Macaroon;
use serde_json::{json, Value};

pub fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t
}

/// A caveat's text for display: UTF-8 as is, other bytes as hex.
pub fn caveat_text(token: &Macaroon, discharges: &[Macaroon], holder: Holder, index: usize) -> String {
    let m = match holder {
        Holder::Root => token,
        Holder::Discharge(i) => &discharges[i],
    };
    let id = &m.caveats[index].id;
    std::str::from_utf8(id).map(str::to_owned).unwrap_or_else(|_| format!("0x{}", hex::encode(id)))
}

pub fn holder_name(holder: Holder) -> String {
    match holder {
        Holder::Root => "token".into(),
        Holder::Discharge(i) => format!("discharge {i}"),
    }
}

fn by_name(by: SatisfiedBy) -> String {
    match by {
        SatisfiedBy::Exact => "exact".into(),
        SatisfiedBy::Rule => "rule".into(),
        SatisfiedBy::Discharge(i) => format!("discharge {i}"),
    }
}

pub fn outcome_json(token: &Macaroon, discharges: &[Macaroon], o: &CaveatOutcome) -> Value {
    json!({
        "holder": holder_name(o.holder),
        "index": o.index,
        "caveat": caveat_text(token, discharges, o.holder, o.index),
        "kind": o.kind,
        "satisfied": o.result.is_ok(),
        "by": o.result.as_ref().ok().map(|b| by_name(*b)),
        "reason": o.result.as_ref().err().map(|f| f.reason.clone()),
        "code": o.result.as_ref().err().map(|f| f.code.as_str()),
    })
}

/// One line per caveat: `ok` or `FAIL`, which macaroon, the caveat and why.
pub fn explain_lines(token: &Macaroon, discharges: &[Macaroon], report: &Report) -> Vec<String> {
    report
        .caveats
        .iter()
        .map(|o| {
            let text = caveat_text(token, discharges, o.holder, o.index);
            let whose = holder_name(o.holder);
            match &o.result {
                Ok(by) => format!("  ok    {whose} caveat {}: {text}  [{}]", o.index, by_name(*by)),
                Err(f) => format!("  FAIL  {whose} caveat {}: {text}  — {} ({})", o.index, f.reason, f.code),
            }
        })
        .collect()
}
