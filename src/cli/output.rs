//! Rendering shared by subcommands: tables for people, JSON for scripts.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use crumb::verify::{caveat_text, Report};
use crumb::Macaroon;

pub fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    t
}

/// One line per caveat: `ok` or `FAIL`, which macaroon, the caveat and why.
pub fn explain_lines(token: &Macaroon, discharges: &[Macaroon], report: &Report) -> Vec<String> {
    report
        .caveats
        .iter()
        .map(|o| {
            let text = caveat_text(token, discharges, o.holder, o.index);
            let text = safe(&text);
            let whose = o.holder.name();
            match &o.result {
                Ok(by) => format!("  ok    {whose} caveat {}: {text}  [{}]", o.index, by.name()),
                Err(f) => format!("  FAIL  {whose} caveat {}: {text}  — {} ({})", o.index, safe(&f.reason), f.code),
            }
        })
        .collect()
}

/// Text from a token or another client, safe to print on a terminal.
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    crumb::inspect::terminal_safe(text)
}
