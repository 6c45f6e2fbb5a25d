//! `FILE.pending`: the request or spend the token file's token is paying for right now.
//!
//! It is written (atomically, 0600) before the first byte of a request is sent and removed
//! once the outcome is saved. A run killed or timed out in between (Ctrl-C, `timeout 5`, an
//! agent's own deadline, OOM) leaves it behind with the spent token still in the file and the
//! successor recorded at the server under a key only this record remembers; the next
//! `crumb request` or `crumb spend` on the file resolves it first: it asks the server for that
//! request's outcome (a `Crumb-Recover` probe, or the same spend re-sent, which replays or
//! completes it exactly once), saves the successor, and only then does its own work. It holds
//! no secret: the token appears as its fingerprint.

use super::{beside, fingerprint, journal, read_private, remove, replace_atomically, save_successor};
use crate::cli::exit::unavailable;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The request in flight, and the token that pays for it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The paying token's fingerprint: a record whose token the file no longer holds is stale.
    pub token: String,
    /// When it was first sent (Unix seconds).
    pub since: i64,
    #[serde(flatten)]
    pub what: What,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum What {
    /// `crumb request`: recovered with a `Crumb-Recover` probe of the same key, method and URL.
    Request {
        key: String,
        /// Whether the user named the key (`--idempotency-key`): then it is journaled.
        explicit: bool,
        method: String,
        url: String,
        /// A `Host` header the user set (a token's `aud` caveat may depend on it).
        #[serde(default)]
        host: Option<String>,
    },
    /// `crumb spend`: recovered by sending the same spend again.
    Spend {
        /// The `crumb serve` it went to; none for a local spend.
        server: Option<String>,
        request_id: String,
        explicit: bool,
        cost: u64,
        #[serde(default)]
        facts: Facts,
    },
    /// The MCP wallet's `token_split`: finished by calling it again with the same request id,
    /// which re-sends it (the ledger replays the children) and saves them in their entries.
    Split {
        server: Option<String>,
        request_id: String,
        amounts: Vec<u64>,
        /// The wallet entries the children go to, in order.
        into: Vec<String>,
        #[serde(default)]
        revocable: bool,
    },
}

/// The request facts a spend was verified with (none of them secret).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub action: Option<String>,
    pub resource: Option<String>,
    pub aud: Option<String>,
    pub ip: Option<String>,
    pub at: Option<String>,
    #[serde(default)]
    pub context: Vec<(String, String)>,
}

impl What {
    /// How the record is named to the user.
    pub fn describe(&self) -> String {
        match self {
            What::Request { key, method, url, .. } => format!("request ({method} {url}, Idempotency-Key {key})"),
            What::Spend { server, request_id, cost, .. } => {
                let at = server.as_deref().unwrap_or("the local ledger");
                format!("spend (cost {cost} at {at}, request id {request_id})")
            }
            What::Split { request_id, .. } => format!("split ({}, request id {request_id})", self.journal_what()),
        }
    }

    /// The request's key: its Idempotency-Key, or the spend's request id.
    pub fn key(&self) -> &str {
        self.journal_kind_key().1
    }

    fn journal_kind_key(&self) -> (&'static str, &str, bool) {
        match self {
            What::Request { key, explicit, .. } => ("request", key, *explicit),
            What::Spend { request_id, explicit, .. } => ("spend", request_id, *explicit),
            What::Split { request_id, .. } => ("split", request_id, true),
        }
    }

    /// What a journal entry says the key was used for.
    pub fn journal_what(&self) -> String {
        match self {
            What::Request { method, url, .. } => format!("{method} {url}"),
            What::Spend { server, cost, .. } => {
                format!("cost {cost} at {}", server.as_deref().unwrap_or("the local ledger"))
            }
            What::Split { server, amounts, into, revocable, .. } => {
                let amounts: Vec<String> = amounts.iter().map(u64::to_string).collect();
                let kind = if *revocable { "revocable " } else { "" };
                format!(
                    "{kind}split {} into {} at {}",
                    amounts.join("+"),
                    into.join(","),
                    server.as_deref().unwrap_or("the local ledger")
                )
            }
        }
    }
}

/// What asking about a pending request found.
#[derive(Debug)]
pub enum Recovery {
    /// Its successor, with what the server said about it.
    Recovered { successor: String, status: Option<u16>, cost: Option<u64>, balance: Option<u64> },
    /// It was decided without a successor (refused, released, or the token was consumed by
    /// another request): nothing to recover, and nothing to wait for.
    Nothing(String),
    /// Still undecided (in flight past the wait, server unreachable): ask again later.
    Pending(String),
}

/// The largest record read.
const MAX_BYTES: u64 = 256 * 1024;

pub fn path(token_file: &Path) -> PathBuf {
    beside(token_file, ".pending")
}

pub fn load(token_file: &Path) -> Result<Option<Pending>> {
    let path = path(token_file);
    let Some(text) = read_private(&path, MAX_BYTES)? else { return Ok(None) };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        unavailable(format!(
            "{} is not a pending-request record crumb can read ({e}); it may name a request whose \
             change is not saved yet: remove it only once you know",
            path.display()
        ))
    })
}

/// Writes the record before the first byte is sent: a run that cannot remember its request
/// does not send it.
pub fn save(token_file: &Path, record: &Pending) -> Result<()> {
    let text = serde_json::to_string(record).expect("a record serializes");
    replace_atomically(&path(token_file), &text)
        .map_err(|e| unavailable(format!("{}; nothing was sent", crate::cli::exit::message(&e))))
}

pub fn clear(token_file: &Path) -> Result<()> {
    remove(&path(token_file))
}

pub fn new(token: &str, what: What) -> Pending {
    Pending { token: fingerprint(token), since: journal::now(), what }
}

/// Whether `token_file` has a pending record of `own` paid by `token`: an attempt of this very
/// request whose successor was not saved (the run was killed, or the file could not be
/// replaced). It is sent again (the server replays it), never answered from the journal.
pub fn is_retry(token_file: &Path, token: &str, own: &What) -> Result<bool> {
    Ok(load(token_file)?.is_some_and(|p| &p.what == own && p.token == fingerprint(token)))
}

/// Resolves the record an interrupted run left beside `token_file`, if any, before this run
/// sends anything: the successor is saved (and `token` updated), a request decided without one
/// is forgotten, and one still undecided stops this run (exit 3) with the record kept.
/// `own` is this run's own request: a record of that very request is a retry of it, which the
/// run itself performs. `recover` asks the server (or the local ledger) about a record.
pub fn resolve(
    token_file: &Path,
    token: &mut String,
    own: &What,
    recover: impl FnOnce(&What, &str) -> Result<Recovery>,
) -> Result<()> {
    let Some(record) = load(token_file)? else { return Ok(()) };
    if record.token != fingerprint(token) {
        eprintln!(
            "crumb: {} names an interrupted {} paid by an earlier token than {} holds now; its outcome was saved, or \
             the file was replaced: forgetting it",
            path(token_file).display(),
            record.what.describe(),
            token_file.display()
        );
        return clear(token_file);
    }
    if &record.what == own {
        return Ok(());
    }
    let what = record.what.describe();
    match recover(&record.what, token)? {
        Recovery::Recovered { successor, status, cost, balance } => {
            keep(token_file, &record.what, &successor, status, cost, balance)?;
            token.clone_from(&successor);
            clear(token_file)?;
            let cost = cost.map_or("unknown".to_owned(), |c| c.to_string());
            let balance = balance.map_or("unknown".to_owned(), |b| b.to_string());
            eprintln!(
                "crumb: recovered the successor of an interrupted {what}: cost {cost}, balance {balance}; saved to {}",
                token_file.display()
            );
            Ok(())
        }
        Recovery::Nothing(why) => {
            eprintln!("crumb: the interrupted {what} left nothing to recover ({why}); forgetting it");
            clear(token_file)
        }
        Recovery::Pending(why) => Err(unavailable(format!(
            "an interrupted {what} on {} is still pending ({why}); nothing else was sent. Run again later: the \
             next run on this file recovers its successor ({} remembers it; remove that file to give it up)",
            token_file.display(),
            path(token_file).display()
        ))),
    }
}

/// Saves an outcome: the key into the journal when the user named it (first, so a crash
/// before the file is replaced never leaves a rotated file whose key is forgotten), then the
/// successor into the token file. The pending record is the caller's to clear.
pub fn keep(
    token_file: &Path,
    what: &What,
    successor: &str,
    status: Option<u16>,
    cost: Option<u64>,
    balance: Option<u64>,
) -> Result<()> {
    let (kind, key, explicit) = what.journal_kind_key();
    if explicit {
        journal::record(
            token_file,
            journal::Entry {
                kind: kind.into(),
                key: key.into(),
                what: what.journal_what(),
                status,
                cost,
                balance,
                successor: fingerprint(successor),
                at: journal::now(),
            },
        )?;
    }
    save_successor(token_file, successor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(key: &str) -> What {
        What::Request {
            key: key.into(),
            explicit: true,
            method: "POST".into(),
            url: "http://x/v1/chat".into(),
            host: None,
        }
    }

    #[test]
    fn a_record_round_trips_holds_no_token_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent.token");
        let token = "AgJTZWNyZXQtdG9rZW4tdGV4dA";
        std::fs::write(&file, token).unwrap();
        assert_eq!(load(&file).unwrap(), None);
        let record = new(token, request("k"));
        save(&file, &record).unwrap();
        assert_eq!(load(&file).unwrap(), Some(record));
        let text = std::fs::read_to_string(path(&file)).unwrap();
        assert!(!text.contains(token), "{text}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(path(&file)).unwrap().permissions().mode() & 0o777, 0o600);
        // A record of this very request is this run's to retry; a stale one is forgotten.
        let mut held = token.to_owned();
        resolve(&file, &mut held, &request("k"), |_, _| panic!("not asked")).unwrap();
        assert!(path(&file).exists());
        let mut other = "AgJvdGhlcg".to_owned();
        resolve(&file, &mut other, &request("k2"), |_, _| panic!("not asked")).unwrap();
        assert!(!path(&file).exists());
    }

    #[test]
    fn an_undecided_record_stops_the_run_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent.token");
        let token = "AgJ0b2tlbg";
        save(&file, &new(token, request("k"))).unwrap();
        let mut held = token.to_owned();
        let e =
            resolve(&file, &mut held, &request("own"), |_, _| Ok(Recovery::Pending("in flight".into()))).unwrap_err();
        assert_eq!(crate::cli::exit::code_for(&e), crate::cli::exit::UNAVAILABLE);
        assert!(path(&file).exists());
        resolve(&file, &mut held, &request("own"), |_, _| Ok(Recovery::Nothing("spent".into()))).unwrap();
        assert!(!path(&file).exists());
    }

    #[test]
    fn a_symlinked_record_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("agent.token");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), path(&file)).unwrap();
        let e = load(&file).unwrap_err();
        assert!(crate::cli::exit::message(&e).contains("symbolic link"), "{e}");
    }
}
