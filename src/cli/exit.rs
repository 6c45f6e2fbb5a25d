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

pub fn exit(code: u8) -> ExitCode {
    ExitCode::from(code)
}
