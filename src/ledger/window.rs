//! Spending windows (`spend-rate <= N/DURATION`): how the ledger names one window across a
//! delegation tree, and the arithmetic every backend shares.
//!
//! **Naming a window.** A successor or split child is issued with its parent's caveats in
//! order, balance caveats left out ([`crate::spend`]'s `issue`), and its holder can only append.
//! So a caveat's *position among the non-balance caveats* never changes from the token it was
//! added to down to every descendant. The ledger keys a window by
//! `SHA-256("crumb spend-rate v1" ‖ origin nonce ‖ position ‖ caveat text)`, where the origin
//! is the token the caveat was added to: when a token is consumed, the ledger computes the keys
//! of its windows (a window its own record already names is inherited; any other was added to
//! this token, so its origin is this token's nonce) and writes them on every child it issues.
//! A key is therefore found in O(windows) per spend, with no walk up the tree.
//!
//! Why a holder cannot widen or misuse a window: nonces are unique (random at mint, derived
//! from the root key for children), so a key another tree uses can never be produced in this
//! one; the inherited keys live in the ledger, never in the token; a caveat added later is one
//! more window (both apply), so a looser one never lifts a tighter one; and an inherited
//! caveat's text cannot be changed (the chain's signature covers it).
//!
//! **Counting.** Per key: a total and the spends inside the window, each `(at, amount)`.
//! Each use prunes what has left the window (each spend is deleted once: amortised O(1)),
//! then admits the amount only if `total + amount <= limit`. A hold (the proxy) counts at its
//! held amount until settled (then at the charge) or released (then not at all); a hold never
//! settled stays counted until it leaves the window (fail closed). Times are the caller's
//! clock, made monotone per key (`at = max(now, the key's last at)`), so a replica whose clock
//! lags never records a spend that leaves the window before one already recorded; clocks that
//! disagree by `d` can move a window's edge by at most `d`.

// The backends use what is here; a build with none of them keeps the types only.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use crate::caveat::{self, Caveat};
use crate::token::identifier::Nonce;
use crate::token::Macaroon;
use sha2::{Digest, Sha256};

/// At most this many `spend-rate` caveats in a token that is spent (each costs the ledger a
/// row lock and a few statements per spend).
pub const MAX_WINDOWS: usize = 8;

/// How many recorded spends a refusal looks at to say when credit frees up; beyond them it
/// answers the whole window's length (an upper bound).
const RETRY_SCAN: usize = 256;

/// One `spend-rate` caveat of a token, as the ledger needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Its position among the token's caveats that successors copy (all but `balance`).
    pub index: u32,
    pub limit: u64,
    pub secs: u64,
    /// The caveat's text, as signed.
    pub text: Vec<u8>,
}

/// A spend refused because a window is full.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimited {
    pub limit: u64,
    pub secs: u64,
    /// What the window holds now.
    pub used: u64,
    /// Seconds until enough has left the window for this amount; `None` when the amount is
    /// more than the window ever allows.
    pub retry_after: Option<u64>,
}

impl RateLimited {
    /// The denial a spend receives.
    pub fn denial(&self) -> crate::denial::Denial {
        // Waiting helps only an amount the window can hold: a larger one is refused for good.
        let code = match self.retry_after {
            Some(_) => crate::denial::DenialCode::SpendRateExceeded,
            None => crate::denial::DenialCode::CaveatFailed,
        };
        let mut d = crate::denial::Denial::new(
            code,
            match self.retry_after {
                Some(s) => format!(
                    "spend-rate <= {}/{}: {} spent in the window; enough frees up in {s} s",
                    self.limit,
                    caveat::duration_text(self.secs),
                    self.used
                ),
                None => format!(
                    "spend-rate <= {}/{}: this amount is more than the window ever allows",
                    self.limit,
                    caveat::duration_text(self.secs)
                ),
            },
        );
        d.retry_after = self.retry_after;
        d
    }
}

/// The `spend-rate` windows `token` carries, in order.
pub fn windows_of(token: &Macaroon) -> Vec<Window> {
    let mut index = 0u32;
    let mut windows = Vec::new();
    for c in &token.caveats {
        let parsed = c.vid.is_none().then(|| std::str::from_utf8(&c.id).ok().map(caveat::parse)).flatten();
        match parsed {
            Some(Ok(Caveat::Balance(_))) => continue,
            Some(Ok(Caveat::SpendRate { limit, secs })) => {
                windows.push(Window { index, limit, secs, text: c.id.to_vec() })
            }
            _ => {}
        }
        index += 1;
    }
    windows
}

/// A window's key (see the module doc).
fn key(origin: &Nonce, w: &Window) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"crumb spend-rate v1\0");
    h.update(origin.0);
    h.update(w.index.to_be_bytes());
    h.update(&w.text);
    h.finalize().into()
}

/// The keys of `windows` for a token whose own record names `inherited` (`index:hexkey,...`,
/// written when it was issued), in the order of `windows`.
pub(crate) fn keys(token: &Nonce, inherited: Option<&str>, windows: &[Window]) -> Vec<[u8; 32]> {
    let known: Vec<(u32, [u8; 32])> = inherited
        .unwrap_or("")
        .split(',')
        .filter_map(|item| {
            let (i, k) = item.split_once(':')?;
            let mut key = [0u8; 32];
            hex::decode_to_slice(k, &mut key).ok()?;
            Some((i.parse().ok()?, key))
        })
        .collect();
    windows
        .iter()
        .map(|w| known.iter().find(|(i, _)| *i == w.index).map_or_else(|| key(token, w), |(_, k)| *k))
        .collect()
}

/// What a child records of its windows' keys (`None`: it has none).
pub(crate) fn encode(windows: &[Window], keys: &[[u8; 32]]) -> Option<String> {
    (!windows.is_empty()).then(|| {
        windows.iter().zip(keys).map(|(w, k)| format!("{}:{}", w.index, hex::encode(k))).collect::<Vec<_>>().join(",")
    })
}

/// The earliest spends of a window, oldest first, at most this many: what a refusal reads.
pub(crate) fn retry_scan() -> i64 {
    RETRY_SCAN as i64
}

/// When `need` credits will have left a window whose oldest spends are `oldest` (`(at,
/// amount)`, oldest first, at most [`retry_scan`] of them).
pub(crate) fn retry_after(oldest: &[(i64, u64)], need: u64, secs: u64, now: i64, last_at: i64) -> u64 {
    let secs = secs as i64;
    let mut freed = 0u64;
    for &(at, amount) in oldest {
        freed = freed.saturating_add(amount);
        if freed >= need {
            return (at + secs - now).max(1) as u64;
        }
    }
    (last_at.max(now) + secs - now).max(1) as u64
}

/// The refusal for `amount` in a window holding `used` (its oldest spends `oldest`), if any.
pub(crate) fn judge(
    w: &Window,
    used: u64,
    amount: u64,
    now: i64,
    last_at: i64,
    oldest: impl FnOnce() -> Vec<(i64, u64)>,
) -> Option<RateLimited> {
    if used.saturating_add(amount) <= w.limit {
        return None;
    }
    let retry_after = (amount <= w.limit).then(|| {
        let need = used.saturating_add(amount) - w.limit;
        retry_after(&oldest(), need, w.secs, now, last_at)
    });
    Some(RateLimited { limit: w.limit, secs: w.secs, used, retry_after })
}

/// Unix seconds before which a window of `secs` has let go of its spends, at `now`.
pub(crate) fn cutoff(now: i64, secs: u64) -> i64 {
    now.saturating_sub(secs as i64)
}

/// What is left in one window, for `status` (`GET /v1/status`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowUse {
    /// The caveat, as written.
    pub caveat: String,
    pub limit: u64,
    pub window_seconds: u64,
    /// Spent (and held) inside the window now.
    pub spent: u64,
    /// What may still be spent inside it now.
    pub left: u64,
}

/// What each of `token`'s windows holds at `now`, as the ledger counts it.
pub async fn usage(
    ledger: &dyn super::Ledger,
    token: &Macaroon,
    now: i64,
) -> Result<Vec<WindowUse>, super::LedgerError> {
    let windows = windows_of(token);
    let Some(id) = token.token_id() else { return Ok(Vec::new()) };
    if windows.is_empty() {
        return Ok(Vec::new());
    }
    let used = ledger.window_use(&id.nonce, &windows, now).await?;
    Ok(windows
        .iter()
        .zip(used)
        .map(|(w, spent)| WindowUse {
            caveat: String::from_utf8_lossy(&w.text).into_owned(),
            limit: w.limit,
            window_seconds: w.secs,
            spent,
            left: w.limit.saturating_sub(spent),
        })
        .collect())
}
