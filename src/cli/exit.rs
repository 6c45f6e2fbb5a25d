//! Exit codes (a contract: scripts branch on them) and how errors map onto them.

use std::process::ExitCode;

/// 0: valid / allowed / done.
pub const OK: u8 = 0;
/// 1: the token was denied (a verdict, not a fault).
pub const DENIED: u8 = 1;
/// 2: bad input or usage: malformed token, bad caveat, unreadable or wrong-format key, bad flags.
pub const BAD_INPUT: u8 = 2;
/// 3: the environment failed: ledger, file system, or server unreachable.
pub const UNAVAILABLE: u8 = 3;

/// An error that already knows its exit code; anything else is classified by [`code_for`].
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// A refusal crumb decided on this side (a token file's journal, the MCP wallet's limits):
/// its reason code, as in the README's table, and its exit code.
#[derive(Debug)]
pub struct Refused {
    pub code: &'static str,
    pub message: String,
    pub exit: u8,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for Refused {}

pub fn refused(code: &'static str, exit: u8, message: impl Into<String>) -> anyhow::Error {
    Refused { code, message: message.into(), exit }.into()
}

pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    Coded { code: BAD_INPUT, message: message.into() }.into()
}

pub fn unavailable(message: impl Into<String>) -> anyhow::Error {
    Coded { code: UNAVAILABLE, message: message.into() }.into()
}

/// Exit code of an error, from the first link of its chain that says.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if let Some(r) = cause.downcast_ref::<Refused>() {
            return r.exit;
        }
        if cause.is::<super::remote::Denied>() {
            return DENIED;
        }
        if let Some(f) = cause.downcast_ref::<super::remote::Failed>() {
            return f.exit;
        }
        if cause.is::<super::remote::Unreachable>() {
            return UNAVAILABLE;
        }
        if let Some((class, _)) = crumb::outcome::classify(cause) {
            return exit_for(class);
        }
    }
    BAD_INPUT
}

/// The exit code of each class of outcome: the one map from the library's classification to
/// exit codes.
pub fn exit_for(class: crumb::outcome::Class) -> u8 {
    use crumb::outcome::Class;
    match class {
        c if c.is_verdict() => DENIED,
        Class::Unavailable | Class::Internal => UNAVAILABLE,
        _ => BAD_INPUT,
    }
}

/// The error as one line, each cause stated once: a library error that already describes
/// its I/O or database cause in plain words is not followed by that cause's own wording
/// ("No such file or directory (os error 2)" twice, say). A ledger error's source is the
/// backend's own error, which its reason has already put in plain words.
pub fn message(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut after_ledger = false;
    for cause in err.chain() {
        if after_ledger {
            break;
        }
        after_ledger = cause.is::<crumb::error::LedgerError>()
            || matches!(cause.downcast_ref::<crumb::Error>(), Some(crumb::Error::Ledger(_)));
        if cause.is::<std::io::Error>() && !parts.is_empty() {
            continue;
        }
        let text = cause.to_string();
        if parts.iter().any(|p| p.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    let mut line = parts.join(": ");
    if let Some(hint) = err.chain().find_map(hint) {
        line.push_str(&format!("; {hint}"));
    }
    line
}

/// What to do about an error, in the CLI's own words (flags, commands): the library's
/// messages name none, since HTTP clients and other adapters read them too.
fn hint(cause: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use crumb::error::{EncodeError, KeyError, LedgerErrorKind};
    let ledger = cause.downcast_ref::<crumb::error::LedgerError>().or(match cause.downcast_ref::<crumb::Error>() {
        Some(crumb::Error::Ledger(l)) => Some(l),
        _ => None,
    });
    if let Some(l) = ledger {
        return match l.kind() {
            LedgerErrorKind::Missing => Some(
                "pass --ledger or set CRUMB_LEDGER to the ledger your issuer writes; a ledger comes into being with the first spend, split or revocation, or with `crumb ledger init`; or pass --offline to verify without one (a spent or revoked token then passes)",
            ),
            LedgerErrorKind::SchemaTooOld => {
                Some("`crumb ledger init` upgrades it (so does any command that writes the ledger: spend, split, revoke, serve)")
            }
            _ => None,
        };
    }
    let key = cause.downcast_ref::<KeyError>().or(match cause.downcast_ref::<crumb::Error>() {
        Some(crumb::Error::Key(k)) => Some(k),
        _ => None,
    });
    match key {
        Some(KeyError::Exists { .. }) => {
            return Some(
                "pass --force to overwrite it (every token minted with a key it holds then stops verifying; to rotate \
                 keys instead, use a keyring: `crumb keygen --keyring FILE --import`, then `crumb keygen --keyring FILE`)",
            )
        }
        Some(KeyError::Format { format: "hex", .. }) => {
            return Some(
                "crumb's key files are hex; a key in another format is read with --key-format raw (the file's bytes \
                 as they are: other libraries' plain-string keys) or --key-format base64",
            )
        }
        Some(KeyError::Format { .. }) => {
            return Some("name the key's format with --key-format hex, raw (the file's bytes as they are) or base64")
        }
        Some(KeyError::RetireCurrent(_)) => {
            return Some("add a new current key first (`crumb keygen --keyring FILE`), then retire this one")
        }
        _ => {}
    }
    let encode = cause.downcast_ref::<EncodeError>().or(match cause.downcast_ref::<crumb::Error>() {
        Some(crumb::Error::Encode(e)) => Some(e),
        _ => None,
    });
    matches!(encode, Some(EncodeError::NotUtf8 { .. })).then_some("use --format v2")
}

/// Whether the error is a closed stdout (the reader of a pipe exited).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The stable code of an error, the same vocabulary as the HTTP API's error bodies.
pub fn error_code(err: &anyhow::Error) -> String {
    for cause in err.chain() {
        if let Some(d) = cause.downcast_ref::<super::remote::Denied>() {
            return d.0["code"].as_str().unwrap_or("denied").to_owned();
        }
        if let Some(r) = cause.downcast_ref::<super::remote::Failed>() {
            return r.code.clone();
        }
        if let Some(r) = cause.downcast_ref::<Refused>() {
            return r.code.to_owned();
        }
        if cause.is::<super::remote::Unreachable>() {
            return "unavailable".to_owned();
        }
        let code = match crumb::outcome::classify(cause) {
            Some((_, code)) => code,
            None => match cause.downcast_ref::<Coded>() {
                Some(c) if c.code == UNAVAILABLE => "unavailable",
                Some(_) => "bad-request",
                None => continue,
            },
        };
        return code.to_owned();
    }
    "bad-request".to_owned()
}

/// The one JSON document a `--json` command (or an MCP tool) prints when it fails: `code` and
/// `message` as in HTTP error bodies (the code not repeated inside the message), `allowed:
/// false` for a denial, and the exit code.
pub fn error_body(err: &anyhow::Error, exit: u8) -> crumb::shapes::ErrorBody {
    let code = error_code(err);
    let message = message(err).replacen(&format!(" ({code})"), "", 1).replacen(&format!("({code}; "), "(", 1);
    crumb::shapes::ErrorBody {
        code,
        message,
        allowed: (exit == DENIED).then_some(false),
        exit: Some(exit),
        x_request_id: None,
    }
}

/// [`error_body`] as JSON.
pub fn error_json(err: &anyhow::Error, exit: u8) -> serde_json::Value {
    serde_json::to_value(error_body(err, exit)).expect("an error body serializes")
}

pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crumb::outcome::Class;

    /// README's table of reason codes: code → (exit, HTTP status), as written.
    fn readme_table() -> Vec<(String, u8, String)> {
        let readme = include_str!("../../README.md");
        let section = readme.split("### Reason codes").nth(1).expect("README has the reason codes");
        let section = section.split("\n## ").next().unwrap();
        let mut rows = Vec::new();
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let exit: u8 = cells[2].parse().unwrap_or_else(|_| panic!("exit of {line}"));
            for code in cells[0].split(", ") {
                rows.push((code.trim_matches('`').to_owned(), exit, cells[3].to_owned()));
            }
        }
        rows
    }

    #[test]
    fn every_denial_code_is_in_the_readme_with_its_exit_code_and_status() {
        let table = readme_table();
        for code in crumb::DenialCode::ALL {
            let (_, exit, http) = table
                .iter()
                .find(|(c, _, _)| c == code.as_str())
                .unwrap_or_else(|| panic!("README's reason codes lack {code}"));
            let class = code.class();
            assert_eq!(*exit, exit_for(class), "{code}: exit");
            assert_eq!(*http, crate::serve::status_of(class).as_u16().to_string(), "{code}: HTTP");
        }
    }

    #[test]
    fn the_library_faults_are_in_the_readme_with_their_exit_codes() {
        let table = readme_table();
        let faults: [(&str, Class); 8] = [
            ("malformed-token", Class::BadRequest),
            ("token-too-large", Class::TooLarge),
            ("bad-caveat", Class::BadRequest),
            ("bad-format", Class::BadRequest),
            ("bad-key", Class::BadRequest),
            ("bad-request", Class::BadRequest),
            ("ledger-unavailable", Class::Unavailable),
            ("internal", Class::Internal),
        ];
        for (code, class) in faults {
            let (_, exit, http) =
                table.iter().find(|(c, _, _)| c == code).unwrap_or_else(|| panic!("README's reason codes lack {code}"));
            assert_eq!(*exit, exit_for(class), "{code}: exit");
            assert_eq!(*http, crate::serve::status_of(class).as_u16().to_string(), "{code}: HTTP");
        }
        // Said by lineage (local or an operator's over HTTP) and the local revoke.
        let unknown =
            crumb::Error::Invalid(crumb::error::Invalid::UnknownToken(crumb::token::identifier::Nonce([0; 16])));
        let (class, code) = crumb::outcome::classify(&unknown).unwrap();
        let row = table.iter().find(|(c, _, _)| c == code).expect("README's reason codes lack unknown-token");
        assert_eq!((row.1, row.2.clone()), (exit_for(class), crate::serve::status_of(class).as_u16().to_string()));
    }
}
