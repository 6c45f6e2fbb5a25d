//! The append-only audit log: one JSON line per decision (time, route, the metered request's
//! canonical method and path, nonce, outcome, cost, a digest of the request id). Never a signature, a token or a key.

use serde_json::json;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

pub struct Audit {
    file: Mutex<File>,
    /// Keys the request-id digests: whoever reads the log cannot test guessed ids against them.
    digest_key: zeroize::Zeroizing<[u8; 32]>,
}

pub struct Entry<'a> {
    pub route: &'a str,
    /// The metered request's canonical method and path (never its query).
    pub request: Option<&'a str>,
    pub nonce: Option<String>,
    pub outcome: &'a str,
    pub cost: Option<u64>,
    pub request_id: Option<&'a str>,
}

impl Audit {
    /// Opens (appends to) the log at `path`; request ids are logged as HMACs under
    /// `digest_key` (derive it from the root key, so replicas agree and readers cannot guess).
    pub fn open(path: &Path, digest_key: [u8; 32]) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(Audit { file: Mutex::new(options.open(path)?), digest_key: zeroize::Zeroizing::new(digest_key) })
    }

    /// A request id as the log names it: 16 hex digits of its HMAC under the digest key.
    fn digest(&self, request_id: &str) -> String {
        hex::encode(&crumb::token::chain::hmac_secret(&self.digest_key[..], request_id.as_bytes())[..8])
    }

    pub fn record(&self, e: Entry<'_>) {
        let now = time::OffsetDateTime::now_utc();
        let line = json!({
            "time": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "route": e.route,
            "request": e.request,
            "nonce": e.nonce,
            "outcome": e.outcome,
            "cost": e.cost,
            // A request id entitles a retry to its successor: the log keeps a digest of it, which
            // tells requests apart and answers nothing.
            "request_id": e.request_id.map(|id| self.digest(id)),
        });
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        // One write per line with O_APPEND: lines from concurrent requests never interleave.
        if let Err(err) = file.write_all(format!("{line}\n").as_bytes()) {
            tracing::error!(error = %err, "cannot write the audit log");
        }
    }
}
