//! Rendering shared by subcommands: tables for people, JSON for scripts.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use crumb::verify::{caveat_text, Report};
use crumb::Macaroon;
use std::sync::atomic::{AtomicBool, Ordering};

static PROTOCOL_STDOUT: AtomicBool = AtomicBool::new(false);

/// From now on stdout carries only the MCP protocol: `outln!` refuses to write (a token
/// printed there would corrupt the stream and reach the host).
pub fn stdout_is_protocol() {
    PROTOCOL_STDOUT.store(true, Ordering::SeqCst);
}

/// Whether [`stdout_is_protocol`] was called.
pub fn stdout_is_protocols() -> bool {
    PROTOCOL_STDOUT.load(Ordering::SeqCst)
}

/// A table: boxes on a terminal; in a pipe, plain columns (no box drawing, no wrapping) that
/// `awk` and `cut` can read. `CRUMB_TABLES=box` or `plain` chooses either way.
pub fn table() -> Table {
    let mut t = Table::new();
    if boxed_tables() {
        t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.load_preset(comfy_table::presets::NOTHING).set_content_arrangement(ContentArrangement::Disabled);
        t.set_style(comfy_table::TableComponent::VerticalLines, ' ');
    }
    t
}

/// A table as printed: in plain mode, each line without the padding before its first column
/// and after its last.
pub fn table_text(table: &Table) -> String {
    let text = table.to_string();
    if boxed_tables() {
        return text;
    }
    text.lines().map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end()).collect::<Vec<_>>().join("\n")
}

fn boxed_tables() -> bool {
    match std::env::var("CRUMB_TABLES").as_deref() {
        Ok("box") => true,
        Ok("plain") => false,
        _ => std::io::IsTerminal::is_terminal(&std::io::stdout()),
    }
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
    let summary = crumb::shapes::TokenSummary::new(token, text, time::OffsetDateTime::now_utc());
    serde_json::to_value(summary).expect("a token summary serializes")
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

/// Adds the flag that supplies a missing request fact to a message that names one
/// ("the request names no action" -> "...: pass --action"). The library speaks of facts;
/// only the command line knows its flags.
pub fn with_flag_hint(message: &str) -> String {
    const HINTS: [(&str, &str); 5] = [
        ("the request names no action", "pass --action"),
        ("the request names no resource", "pass --resource"),
        ("the request names no audience", "pass --aud"),
        ("the request has no client address", "pass --ip"),
        ("the request has no context value", "pass --context NAME=VALUE"),
    ];
    let Some((at, hint)) = HINTS.iter().find_map(|(needle, hint)| message.find(needle).map(|at| (at, hint))) else {
        return message.to_owned();
    };
    if message.contains(hint) {
        return message.to_owned();
    }
    // After the clause that names the fact, before a trailing "(code)".
    let end = message[at..].find(" (").map_or(message.len(), |i| at + i);
    format!("{}: {hint}{}", &message[..end], &message[end..])
}
