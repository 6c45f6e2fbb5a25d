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
    #[error("format {format} cannot carry a {what} that is not UTF-8 (v2 can)")]
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
    #[error("{path} exists already")]
    Exists { path: PathBuf },
    #[error("the key is not valid {format}: {reason}")]
    Format { format: &'static str, reason: String },
    #[error("the key is empty")]
    Empty,
    #[error("keyring {path}: {reason}")]
    Keyring { path: PathBuf, reason: String },
    #[error("no key with id {0} in the keyring")]
    UnknownKeyId(String),
    #[error("this token was minted with key id {token}; the verifier's key is {given}")]
    WrongKey { token: String, given: String },
    #[error("the key {0} is retired")]
    Retired(String),
    /// Retiring the key new tokens are minted with would leave the keyring minting nothing.
    #[error("the key {0} is the keyring's current key (new tokens are minted with it): retiring it would leave no key to mint with")]
    RetireCurrent(String),
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

/// A backend's own error, kept inside a [`LedgerError`] for whoever wants the detail.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of ledger failure this is: what a caller can do about it depends on nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerErrorKind {
    /// No ledger where one was named (a read-only open never creates one).
    Missing,
    /// The ledger cannot be used now (down, unreachable, locked, disk full): try again later.
    Unavailable,
    /// Contention that outlasted the retries (another writer kept the record).
    Conflict,
    /// A record the ledger holds cannot be read.
    Corrupt,
    /// Written by a newer crumb: refused rather than misread.
    SchemaTooNew,
    /// Written by an older crumb and opened read-only, so it cannot be upgraded.
    SchemaTooOld,
    /// A ledger location this build cannot open (a backend compiled out, an unknown scheme).
    Unsupported,
}

/// Why the ledger could not answer. Backend neutral: the backend's own error is boxed inside,
/// and `reason` already says in plain words what went wrong, so it is printed once.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct LedgerError {
    pub kind: LedgerErrorKind,
    /// Where the ledger is: a path, or a database URL without its password.
    pub location: String,
    pub reason: String,
    #[source]
    pub source: Option<BackendError>,
}

impl LedgerError {
    pub fn new(kind: LedgerErrorKind, location: impl Into<String>, reason: impl Into<String>) -> Self {
        LedgerError { kind, location: location.into(), reason: reason.into(), source: None }
    }

    pub fn with_source(mut self, source: impl Into<BackendError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> LedgerErrorKind {
        self.kind
    }

    pub fn missing(location: impl Into<String>) -> Self {
        let location = location.into();
        LedgerError::new(LedgerErrorKind::Missing, location, "no ledger there")
    }

    pub fn unavailable(location: impl Into<String>, reason: impl Into<String>) -> Self {
        LedgerError::new(LedgerErrorKind::Unavailable, location, reason)
    }

    pub fn corrupt(location: impl Into<String>, reason: impl Into<String>) -> Self {
        LedgerError::new(LedgerErrorKind::Corrupt, location, reason)
    }

    pub fn schema_too_new(location: impl Into<String>, found: i64, supported: i64) -> Self {
        LedgerError::new(
            LedgerErrorKind::SchemaTooNew,
            location,
            format!("schema version {found} is newer than this crumb understands ({supported})"),
        )
    }

    pub fn schema_too_old(location: impl Into<String>, found: i64, supported: i64) -> Self {
        LedgerError::new(
            LedgerErrorKind::SchemaTooOld,
            location,
            format!(
                "schema version {found} is older than this crumb's ({supported}), and a read-only open cannot upgrade it"
            ),
        )
    }

    fn describe(&self) -> String {
        match self.kind {
            LedgerErrorKind::Missing => format!("no ledger at {}", self.location),
            LedgerErrorKind::Corrupt => format!("ledger {} holds a corrupt record: {}", self.location, self.reason),
            _ => format!("ledger {}: {}", self.location, self.reason),
        }
    }
}

/// A request the library cannot act on as asked: the caller's mistake, not a verdict on the
/// token. Each has its own variant, so an adapter can say how to fix it in its own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The operation writes or reads the ledger, and the issuer has none.
    #[error("this needs a ledger")]
    NoLedger,
    /// The token has no crumb identifier (another library minted it): no ledger tracks it.
    #[error("this token was not minted by crumb, so no ledger tracks it")]
    NotTracked,
    /// An operator act that names no nonce.
    #[error("name the nonce to {0}")]
    NoTarget(&'static str),
    /// An owner's act on a nonce the ledger has no record of (no spend, split, hold,
    /// revocation or issue): a mistyped nonce, another ledger's, or a minted token never used.
    #[error("the ledger has never seen the token {0}: no spend, split or revocation of it is recorded")]
    UnknownToken(crate::token::identifier::Nonce),
    /// A spend of nothing.
    #[error("a spend costs at least 1: a spend that moves nothing is refused")]
    ZeroCost,
    /// A split without amounts, or with a zero.
    #[error("a split needs one or more amounts, each above zero")]
    NoAmounts,
    /// A settle for more than was held.
    #[error("a settle charges at most the {held} held, not {asked}")]
    OverHold { held: u64, asked: u64 },
    /// An idempotency key that is empty, too long or not printable ASCII.
    #[error("an Idempotency-Key is 1 to {max} printable ASCII bytes")]
    IdempotencyKey { max: usize },
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
    Denied(crate::denial::Denial),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
