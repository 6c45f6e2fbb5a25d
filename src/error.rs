//! Typed errors of the core. Every failure a caller can act on has its own variant;
//! the binary turns them into exit codes and messages, the server into HTTP statuses.

use std::path::PathBuf;

/// Why bytes could not be read as a macaroon.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the token is empty")]
    Empty,
    #[error("the token is {len} bytes, more than the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("the token is not valid base64 or JSON: {0}")]
    Base64(String),
    #[error("the token is cut short: {0} (was the paste complete?)")]
    Truncated(String),
    #[error("unrecognised token format: expected v1, v2 or JSON, the first byte is 0x{0:02x}")]
    UnknownFormat(u8),
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("the token has more than {max} caveats")]
    TooManyCaveats { max: usize },
    #[error("a {field} field is {len} bytes, more than the limit of {max}")]
    FieldTooLong { field: &'static str, len: usize, max: usize },
    #[error("malformed JSON token: {0}")]
    Json(String),
}

/// Why a token could not be written in the requested format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("format {format} cannot carry a {what} that is not UTF-8; use --format v2")]
    NotUtf8 { format: &'static str, what: &'static str },
    #[error("a v1 packet would be {0} bytes, more than 65535")]
    PacketTooLarge(usize),
}

/// Why a caveat's text is not part of crumb's caveat language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CaveatSyntaxError {
    pub message: String,
}

/// Why a key could not be had or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} exists already; pass --force to overwrite it")]
    Exists { path: PathBuf },
    #[error("the key is not valid {format}: {reason}")]
    Format { format: &'static str, reason: String },
    #[error("the key is empty")]
    Empty,
    #[error("keyring {path}: {reason}")]
    Keyring { path: PathBuf, reason: String },
    #[error("no key with id {0} in the keyring")]
    UnknownKeyId(String),
    #[error("the key {0} is retired")]
    Retired(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// A request over one of crumb's limits ([`crate::limits`]); `code` is stable, for HTTP and JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct LimitError {
    pub code: &'static str,
    pub message: String,
}

impl LimitError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        LimitError { code, message: message.into() }
    }
}

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("no ledger at {path}: pass --ledger or set CRUMB_LEDGER to the one your issuer writes, or --offline to verify without one")]
    Missing { path: PathBuf },
    #[error("ledger: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("ledger schema version {found} is newer than this crumb understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("ledger schema version {found} is older than this crumb's ({supported}): a command that writes the ledger (spend, split, revoke, serve) upgrades it")]
    SchemaTooOld { found: i64, supported: i64 },
    #[error("ledger holds a corrupt record: {0}")]
    Corrupt(String),
}

/// Everything the library can fail with; `Denied` is a verdict, the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("bad caveat: {0}")]
    Caveat(#[from] CaveatSyntaxError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Denied(crate::verify::Denial),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
