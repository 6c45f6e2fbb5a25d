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
    #[error("cannot read key file {path}: {}", io_reason(source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write key file {path}: {}", io_reason(source))]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} may be written by anyone (mode {mode:04o}): refusing to use it as a key; create a new key (`crumb keygen`) or `chmod 600` it if you are sure it was not replaced")]
    Insecure { path: PathBuf, mode: u32 },
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
    #[error("this token was minted with key id {token}; the key you gave is {given}")]
    WrongKey { token: String, given: String },
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

/// An I/O error in plain words, without the `(os error N)` suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => "no such file".into(),
        PermissionDenied => "permission denied".into(),
        AlreadyExists => "it exists already".into(),
        IsADirectory => "it is a directory".into(),
        ReadOnlyFilesystem => "the file system is read-only".into(),
        _ => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_owned()
        }
    }
}

/// A SQLite error in plain words: what went wrong with the ledger file, not SQLite's terms.
pub fn sqlite_reason(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::*;
    match e {
        rusqlite::Error::SqliteFailure(f, detail) => match f.code {
            CannotOpen => detail
                .clone()
                .filter(|d| d.starts_with("cannot "))
                .unwrap_or_else(|| "cannot open it (does its directory exist, and may crumb write there?)".into()),
            NotADatabase => "it is not a crumb ledger (not a database file)".into(),
            ReadOnly => "it is read-only".into(),
            PermissionDenied => "permission denied".into(),
            DatabaseBusy | DatabaseLocked => "it stayed locked by another process for 30 s".into(),
            DatabaseCorrupt => "the file is corrupt".into(),
            DiskFull => "the disk is full".into(),
            SystemIoFailure => "an I/O error".into(),
            _ => e.to_string(),
        },
        other => other.to_string(),
    }
}

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {}", sqlite_reason(source))]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("no ledger at {path}: pass --ledger or set CRUMB_LEDGER to the one your issuer writes, or --offline to verify without one")]
    Missing { path: PathBuf },
    #[error("ledger: {}", sqlite_reason(.0))]
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
