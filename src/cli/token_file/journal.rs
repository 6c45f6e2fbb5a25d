//! `FILE.keys`: the idempotency keys (and spend request ids) a token file already paid with,
//! and what each bought. A key given again on the same file is answered from here, without
//! sending anything: the file was rotated since, so the server would take the same key with
//! the new token for a new request and charge it again.
//!
//! Only keys the user named are kept (a random key is never given twice), at most
//! [`MAX_ENTRIES`], the oldest dropped first. No token is stored: the successor appears as its
//! fingerprint. Nor is a key: it appears as its HMAC under this machine's client secret, since a
//! key with a copy of the spent token would collect the successor. One JSON object a line,
//! mode 0600, replaced atomically.

use super::{beside, read_private, replace_atomically};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How many keys a token file remembers.
pub const MAX_ENTRIES: usize = 256;

/// The file's size limit when read (each entry holds a URL).
const MAX_BYTES: u64 = 16 << 20;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `request` (an Idempotency-Key) or `spend` (a request id).
    pub kind: String,
    /// The key's digest ([`digest`]), never the key.
    pub key: String,
    /// What the key was used for: `METHOD URL`, or `cost N at SERVER` for a spend.
    pub what: String,
    /// The HTTP status of the answer (a request), when known.
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub cost: Option<u64>,
    #[serde(default)]
    pub balance: Option<u64>,
    /// The successor's fingerprint.
    pub successor: String,
    /// When it was recorded (Unix seconds).
    pub at: i64,
}

pub fn path(token_file: &Path) -> PathBuf {
    beside(token_file, ".keys")
}

fn load(token_file: &Path) -> Result<Vec<Entry>> {
    let path = path(token_file);
    let Some(text) = read_private(&path, MAX_BYTES)? else { return Ok(Vec::new()) };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).map_err(|e| {
                super::super::exit::unavailable(format!(
                    "{} is not crumb's journal ({e}): remove it only if no key in it will be used again",
                    path.display()
                ))
            })
        })
        .collect()
}

/// How a key is kept: `h:` and the hex HMAC-SHA256 of it under the client secret (a plain
/// SHA-256 where there is none).
fn digest(key: &str) -> String {
    let secret = super::super::paths::client_secret();
    let mac = match &secret {
        Some(secret) => crumb::token::chain::hmac_secret(&secret[..], key.as_bytes()),
        None => crumb::token::chain::hmac_secret(b"crumb journal key v1", key.as_bytes()),
    };
    format!("h:{}", hex::encode(mac))
}

/// The entry for `key` of this `kind`, if the file paid with it before.
pub fn find(token_file: &Path, kind: &str, key: &str) -> Result<Option<Entry>> {
    let key = digest(key);
    Ok(load(token_file)?.into_iter().rev().find(|e| e.kind == kind && e.key == key))
}

/// Records a key the file paid with (before its successor replaces the token: a crash in
/// between leaves a journal that already knows the key, never a rotated file that does not).
pub fn record(token_file: &Path, mut entry: Entry) -> Result<()> {
    entry.key = digest(&entry.key);
    let mut entries = load(token_file)?;
    entries.retain(|e| !(e.kind == entry.kind && e.key == entry.key));
    entries.push(entry);
    let skip = entries.len().saturating_sub(MAX_ENTRIES);
    let lines: Vec<String> =
        entries[skip..].iter().map(|e| serde_json::to_string(e).expect("an entry serializes")).collect();
    replace_atomically(&path(token_file), &lines.join("\n"))
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> Entry {
        Entry {
            kind: "request".into(),
            key: key.into(),
            what: "POST http://x/v1/chat".into(),
            status: Some(200),
            cost: Some(5),
            balance: Some(15),
            successor: "ab".into(),
            at: 0,
        }
    }

    #[test]
    fn keys_are_remembered_bounded_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent.token");
        assert_eq!(find(&file, "request", "k0").unwrap(), None);
        for n in 0..MAX_ENTRIES + 3 {
            record(&file, entry(&format!("k{n}"))).unwrap();
        }
        assert_eq!(find(&file, "request", "k0").unwrap(), None, "the oldest are dropped");
        let found = find(&file, "request", &format!("k{}", MAX_ENTRIES + 2)).unwrap().unwrap();
        assert_eq!((found.key.starts_with("h:"), found.what), (true, entry("k258").what));
        assert!(!std::fs::read_to_string(path(&file)).unwrap().contains("\"k258\""), "a key is kept as a digest");
        assert_eq!(find(&file, "spend", "k10").unwrap(), None, "a request key is not a spend id");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path(&file)).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(path(&file), "garbage\n").unwrap();
        assert!(find(&file, "request", "k1").is_err(), "a journal crumb cannot read fails closed");
    }
}
