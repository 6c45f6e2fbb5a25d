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
        if cause.is::<super::remote::Denied>() {
            return DENIED;
        }
        if let Some(f) = cause.downcast_ref::<super::remote::Failed>() {
            return f.exit;
        }
        if cause.is::<super::remote::Unreachable>() {
            return UNAVAILABLE;
        }
        if let Some(e) = cause.downcast_ref::<crumb::Error>() {
            return match e {
                crumb::Error::Denied(_) => DENIED,
                crumb::Error::Ledger(_) | crumb::Error::Io { .. } => UNAVAILABLE,
                _ => BAD_INPUT,
            };
        }
        if cause.downcast_ref::<crumb::error::LedgerError>().is_some() {
            return UNAVAILABLE;
        }
        if cause.is::<crumb::error::DecodeError>()
            || cause.is::<crumb::error::KeyError>()
            || cause.is::<crumb::error::CaveatSyntaxError>()
            || cause.is::<crumb::error::EncodeError>()
        {
            return BAD_INPUT;
        }
    }
    BAD_INPUT
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
    parts.join(": ")
}

/// Whether the error is a closed stdout (the reader of a pipe exited).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

/// The stable code of an error, the same vocabulary as the HTTP API's error bodies.
pub fn error_code(err: &anyhow::Error) -> String {
    use crumb::error::DecodeError;
    for cause in err.chain() {
        if let Some(d) = cause.downcast_ref::<super::remote::Denied>() {
            return d.0["code"].as_str().unwrap_or("denied").to_owned();
        }
        if let Some(r) = cause.downcast_ref::<super::remote::Failed>() {
            return r.code.clone();
        }
        if cause.is::<super::remote::Unreachable>() {
            return "unavailable".to_owned();
        }
        let code = match cause.downcast_ref::<crumb::Error>() {
            Some(crumb::Error::Denied(d)) => d.code.as_str(),
            Some(crumb::Error::Decode(DecodeError::TooLarge { .. })) => "token-too-large",
            Some(crumb::Error::Decode(_)) => "malformed-token",
            Some(crumb::Error::Caveat(_)) => "bad-caveat",
            Some(crumb::Error::Limit(l)) => l.code,
            Some(crumb::Error::Usage(_)) => "bad-request",
            Some(crumb::Error::Ledger(_)) => "ledger-unavailable",
            Some(crumb::Error::Key(_)) => "bad-key",
            Some(crumb::Error::Encode(_)) => "bad-request",
            Some(crumb::Error::Io { .. }) => "unavailable",
            None if cause.is::<crumb::error::LedgerError>() => "ledger-unavailable",
            None if cause.is::<crumb::error::KeyError>() => "bad-key",
            None if cause.is::<DecodeError>() => "malformed-token",
            None if cause.is::<crumb::error::CaveatSyntaxError>() => "bad-caveat",
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

/// The one JSON document a `--json` command prints when it fails: `code` and `message` as in
/// HTTP error bodies, `allowed: false` for a denial, and the exit code.
pub fn error_json(err: &anyhow::Error, exit: u8) -> serde_json::Value {
    let mut doc = serde_json::json!({ "code": error_code(err), "message": message(err), "exit": exit });
    if exit == DENIED {
        doc["allowed"] = serde_json::json!(false);
    }
    doc
}

pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}
