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

/// A token as `--json` prints it for scripts: the token and what a script wants next.
pub fn token_json(token: &crumb::Macaroon, text: &str) -> serde_json::Value {
    let d = crumb::inspect::describe(token, time::OffsetDateTime::now_utc(), false);
    serde_json::json!({
        "token": text,
        "nonce": d.identifier.crumb.as_ref().map(|c| c.nonce.clone()),
        "key_id": d.identifier.crumb.as_ref().map(|c| c.key_id.clone()),
        "role": d.identifier.crumb.as_ref().map(|c| c.role),
        "balance": d.balance,
        "expires": d.expires,
        "caveats": d.caveats.len(),
    })
}

/// Prints a token: bare on its line, or with `--json` as [`token_json`].
pub fn print_token(token: &crumb::Macaroon, text: &str, json: bool) -> anyhow::Result<()> {
    if json {
        outln!("{}", serde_json::to_string_pretty(&token_json(token, text))?)?;
    } else {
        outln!("{text}")?;
    }
    Ok(())
}
