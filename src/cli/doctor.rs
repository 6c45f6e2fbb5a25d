//! `crumb doctor`: checks what a deployment stands on (the data directory, the key or keyring,
//! the ledger, a server) and says, for each thing wrong, how to fix it.

use super::args::KeyArgs;
use super::exit::{OK, UNAVAILABLE};
use super::ledger_args::LedgerArgs;
use super::output::safe;
use super::paths;
use anyhow::Result;
use clap::Args;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Check the key, keyring, data directory and ledger (and a server), each finding with its fix.
///
/// Checks the data directory's owner and mode; the key file or keyring that commands would use
/// (its owner and mode, that it reads, and for a keyring: a current key, unique ids); the
/// ledger (reachable, its schema this crumb's); and with --server a crumb server's /healthz.
/// Exit 0 when nothing is an error (warnings allowed), 3 when a finding is an error, 2 on bad
/// flags.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Also check that a crumb server answers GET URL/healthz.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Run only these checks (repeatable): a container's HEALTHCHECK runs `--only server`, a
    /// readiness probe `--only ledger`.
    #[arg(long, value_enum, value_name = "CHECK")]
    only: Vec<Check>,
    /// Print {"ok", "findings": [{"check", "status", "subject", "message", "fix"}]} as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Debug)]
enum Check {
    DataDirectory,
    Key,
    Ledger,
    Server,
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warning,
    Error,
}

#[derive(Serialize, Debug)]
struct Finding {
    check: &'static str,
    status: Status,
    subject: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

#[derive(Default)]
struct Report(Vec<Finding>);

impl Report {
    fn add(&mut self, check: &'static str, status: Status, subject: impl Into<String>, message: impl Into<String>) {
        self.0.push(Finding { check, status, subject: subject.into(), message: message.into(), fix: None });
    }

    fn fix(&mut self, check: &'static str, status: Status, subject: &str, message: impl Into<String>, fix: String) {
        self.0.push(Finding { check, status, subject: subject.into(), message: message.into(), fix: Some(fix) });
    }
}

pub fn run(args: DoctorArgs) -> Result<u8> {
    let mut report = Report::default();
    let wanted = |check: Check| args.only.is_empty() || args.only.contains(&check);
    if wanted(Check::Server) && !args.only.is_empty() && args.server.is_none() {
        return Err(super::exit::bad_input("--only server needs --server URL"));
    }
    if wanted(Check::DataDirectory) {
        data_dir(&mut report);
    }
    if wanted(Check::Key) {
        key(&mut report, &args.key);
    }
    if wanted(Check::Ledger) {
        ledger(&mut report, &args.ledger);
    }
    if let (true, Some(url)) = (wanted(Check::Server), &args.server) {
        server(&mut report, url);
    }
    let worst = report.0.iter().map(|f| f.status).max().unwrap_or(Status::Ok);
    if args.json {
        let doc = serde_json::json!({ "ok": worst != Status::Error, "findings": report.0 });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for f in &report.0 {
            let mark = match f.status {
                Status::Ok => "ok     ",
                Status::Warning => "WARNING",
                Status::Error => "ERROR  ",
            };
            outln!("{mark} {}: {}: {}", f.check, safe(&f.subject), safe(&f.message))?;
            if let Some(fix) = &f.fix {
                outln!("        fix: {}", safe(fix))?;
            }
        }
    }
    Ok(if worst == Status::Error { UNAVAILABLE } else { OK })
}

fn data_dir(report: &mut Report) {
    let dir = match paths::data_dir() {
        Ok(dir) => dir,
        Err(e) => {
            report.fix(
                "data-directory",
                Status::Error,
                "(none)",
                super::exit::message(&e),
                "set CRUMB_DATA_DIR or HOME".into(),
            );
            return;
        }
    };
    let shown = dir.display().to_string();
    if !dir.exists() {
        report.fix(
            "data-directory",
            Status::Warning,
            &shown,
            "does not exist yet",
            "`crumb keygen` creates it (mode 0700) with the default key".into(),
        );
        return;
    }
    match paths::check_data_dir(&dir) {
        Ok(()) => report.add("data-directory", Status::Ok, shown, "yours, and writable by no one else"),
        Err(e) => {
            let message = super::exit::message(&e);
            // The command's own refusal names the fix; give it its own line.
            let fix = message.split("fix it with ").nth(1).or_else(|| message.split("; ").last());
            report.fix("data-directory", Status::Error, &shown, message.clone(), fix.unwrap_or("").to_owned());
        }
    }
}

/// The owner and mode of a secret file (a key, a keyring): anyone else's, or readable or
/// writable by others, is an error. `None` when crumb would refuse to read it; else whether
/// its owner and mode are as they should be.
fn secret_file(report: &mut Report, check: &'static str, path: &Path, default: bool) -> Option<bool> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            report.add(check, Status::Error, &shown, format!("cannot read it: {}", crumb::error::io_reason(&e)));
            return None;
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The default key is refused when it is not yours; a named one (a secret a service
        // manager hands over, say) may be another's, so that is only said.
        if meta.uid() != paths::effective_uid() && default {
            report.fix(
                check,
                Status::Error,
                &shown,
                format!(
                    "owned by user id {}, not by you: crumb refuses to use a key someone else could have put there",
                    meta.uid()
                ),
                format!("`chown $USER {shown}` if it is yours, or make your own"),
            );
            return None;
        }
        if meta.uid() != paths::effective_uid() {
            report.fix(
                check,
                Status::Warning,
                &shown,
                format!("owned by user id {}, not by you", meta.uid()),
                "make sure that user is one you trust with the key (whoever owns it may replace it)".into(),
            );
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o002 != 0 {
            report.fix(
                check,
                Status::Error,
                &shown,
                format!("anyone may write it (mode {mode:04o}): crumb refuses it"),
                format!(
                    "replace the key (anyone could have swapped it), or `chmod 600 {shown}` if you are sure it was not"
                ),
            );
            return None;
        }
        if mode & 0o077 != 0 {
            report.fix(
                check,
                Status::Error,
                &shown,
                format!("readable by others (mode {mode:04o}): the secret may be out"),
                format!("`chmod 600 {shown}`, and rotate the key if others may have read it"),
            );
            return Some(false);
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(meta.uid() == paths::effective_uid())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Some(true)
    }
}

fn key(report: &mut Report, args: &KeyArgs) {
    let source = match args.source() {
        Ok(source) => source,
        Err(e) => {
            report.add("key", Status::Error, "(none)", super::exit::message(&e));
            return;
        }
    };
    let Some((path, is_keyring)) = source else {
        report.fix(
            "key",
            Status::Warning,
            "(none)",
            "no key file or keyring: commands that mint or verify locally have no key",
            "`crumb keygen` (the default key), or --key-file / --keyring / CRUMB_KEY_FILE / CRUMB_KEYRING".into(),
        );
        return;
    };
    let shown = path.display().to_string();
    let check = if is_keyring { "keyring" } else { "key-file" };
    let default = paths::default_key_file().is_ok_and(|d| d == path);
    let Some(private) = secret_file(report, check, &path, default) else { return };
    let private = if private { ", private (0600) and yours" } else { "" };
    if !is_keyring {
        match crumb::key::read_key_file(&path, args.key_format.into()) {
            Ok(key) => report.add(check, Status::Ok, shown, format!("reads as key id {}{private}", key.key_id())),
            Err(e) => report.fix(
                check,
                Status::Error,
                &shown,
                e.to_string(),
                "name the key's format with --key-format hex|raw|base64, or make a new key with `crumb keygen`".into(),
            ),
        }
        return;
    }
    let ring = match crumb::Keyring::load(&path) {
        Ok(ring) => ring,
        Err(e) => {
            report.add(check, Status::Error, &shown, e.to_string());
            return;
        }
    };
    let problems = ring.problems();
    if problems.is_empty() {
        let retired = ring.keys.iter().filter(|k| k.retired.is_some()).count();
        report.add(
            check,
            Status::Ok,
            &shown,
            format!(
                "{} key(s), {retired} retired, current {}; ids unique{private}",
                ring.keys.len(),
                ring.current.as_deref().unwrap_or("")
            ),
        );
    }
    for problem in problems {
        report.fix(
            check,
            Status::Error,
            &shown,
            problem,
            format!("`crumb keygen --keyring {shown}` adds a new current key; `--list` shows them"),
        );
    }
}

fn ledger(report: &mut Report, args: &LedgerArgs) {
    let location = match args.location() {
        Ok(l) => l,
        Err(e) => {
            report.add("ledger", Status::Error, "(none)", super::exit::message(&e));
            return;
        }
    };
    let shown = crumb::ledger::redact_url(&location);
    match args.open_read_only() {
        Ok(_) => {
            let version = crumb::ledger::schema_version(&location).map(|v| v.to_string()).unwrap_or_default();
            report.add("ledger", Status::Ok, &shown, format!("reachable; schema version {version} (this crumb's)"));
        }
        Err(e) => {
            use crumb::error::LedgerErrorKind;
            let kind = e.chain().find_map(|c| c.downcast_ref::<crumb::error::LedgerError>()).map(|l| l.kind());
            let fix = match kind {
                Some(LedgerErrorKind::Missing) => format!(
                    "`crumb ledger init --ledger {shown}` creates it (a first spend would too); until then verify refuses"
                ),
                Some(LedgerErrorKind::SchemaTooOld) => format!("`crumb ledger init --ledger {shown}` upgrades it"),
                Some(LedgerErrorKind::SchemaTooNew) => "run the newer crumb that wrote it".into(),
                _ => "check that it is reachable and that crumb may read it (the message says why not)".into(),
            };
            // The library's words, without the hint meant for verify (the fix says what to do).
            let message = e
                .chain()
                .find_map(|c| c.downcast_ref::<crumb::error::LedgerError>())
                .map_or_else(|| super::exit::message(&e), ToString::to_string);
            report.fix("ledger", Status::Error, &shown, message, fix);
            return;
        }
    }
    if !crumb::ledger::is_postgres_url(&location) {
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(&location) {
            use std::os::unix::fs::MetadataExt;
            let mode = meta.mode() & 0o777;
            if mode & 0o077 != 0 {
                report.fix(
                    "ledger",
                    Status::Warning,
                    &shown,
                    format!("readable by others (mode {mode:04o}): it records request ids, which entitle a retry"),
                    format!("`chmod 600 {shown}`"),
                );
            }
        }
    }
}

fn server(report: &mut Report, url: &str) {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        report.add("server", Status::Error, url, "not an http:// or https:// URL");
        return;
    }
    let health = format!("{}/healthz", url.trim_end_matches('/'));
    let answer = super::http_client::HttpClient::new(Duration::from_secs(5))
        .map_err(|e| super::http_client::Failure::NotConnected(format!("no HTTP client: {e}")))
        .and_then(|client| client.send(super::http_client::Outgoing::get(&health), Duration::from_secs(10)));
    match answer {
        Ok(response) if response.status == 200 => {
            let body: serde_json::Value = response.json(64 * 1024).unwrap_or_default();
            if body["status"] == "ok" {
                report.add("server", Status::Ok, health, "answers 200 {\"status\":\"ok\"}");
            } else {
                report.fix(
                    "server",
                    Status::Error,
                    &health,
                    "answers, but not as a crumb server does",
                    "check the URL: it should name `crumb serve` (its JSON API), not what it meters".into(),
                );
            }
        }
        Ok(response) if (300..400).contains(&response.status) => {
            let to = response.header("location").map(|l| format!(" to {l}")).unwrap_or_default();
            report.fix(
                "server",
                Status::Error,
                &health,
                format!("answers HTTP {} (a redirect{to}), which crumb does not follow", response.status),
                "give the URL `crumb serve` answers on itself (a token must not be sent where it is redirected)".into(),
            );
        }
        Ok(response) => report.fix(
            "server",
            Status::Error,
            &health,
            format!("answers HTTP {}", response.status),
            "check the URL: it should name `crumb serve` (its JSON API or --admin-listen address)".into(),
        ),
        Err(failure) => report.fix(
            "server",
            Status::Error,
            &health,
            format!("unreachable: {failure}"),
            "start `crumb serve`, or check the address and any firewall between".into(),
        ),
    }
}
