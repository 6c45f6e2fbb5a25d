//! The ledger: the durable memory that makes a balance spend itself exactly once.
//!
//! Per token nonce it records whether the token was spent (when, by which request, for what
//! cost, into which successor or children) or revoked, and each issued token's parent, so a
//! delegation tree can be followed. It stores no tokens: successors are derived
//! deterministically from the parent, the request id and the root key (see [`crate::spend`]),
//! so a retried request rebuilds the same successor without bearer tokens at rest.
//!
//! Consuming a token takes two phases, so that a gateway can hold a token while the request
//! it pays for is in flight and charge only once the upstream answered:
//! - [`Ledger::reserve`] marks the parent in flight (a second reservation of the same nonce is
//!   refused while the first holds; a stale one expires), and is made only from a
//!   [`crate::verify::Verified`] token ([`Reservation::new`]);
//! - [`Ledger::settle`] then marks the parent spent *and* records every child in one
//!   transaction, or [`Ledger::release`] gives the token back untouched.
//!
//! Delegation ([`crate::delegation`]): each child records whether it is its parent's change
//! (a spend's successor, a split's remainder) and, for a change, the head of its lineage; a
//! split's other children whether they are revocable delegations; a lineage's head the credit
//! returned to it. [`Ledger::revoke_delegation`] and [`Ledger::give_back`] move credit in one
//! transaction, and a [`Commit`] takes exactly the credit its change was issued with.
//!
//! The port has one signature per operation: each answers with a [`Pending`], a completion the
//! backend fulfils however it runs ([`pending`] says why, and the rule for a caller that goes
//! away). SQLite answers reads at once and queues writes on its group-commit writer; PostgreSQL
//! runs each operation as a task on a small runtime of its own; a backend whose driver blocks
//! implements [`BlockingLedger`] and runs on threads of its own ([`Threaded`]). The server awaits; the CLI waits ([`Wait`]). [`open`] picks the backend from the location: a path is SQLite, `postgres://` PostgreSQL.

/// The conformance suite every backend must pass (for backends in other crates too).
#[cfg(feature = "test-support")]
pub mod conformance;
pub mod pending;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod threaded;
pub mod window;

#[cfg(feature = "postgres")]
pub use self::postgres::PostgresLedger;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteLedger;

pub use self::pending::{Completer, Pending, Wait};
pub use self::threaded::{BlockingLedger, Threaded};
pub use self::window::{RateLimited, Window, WindowUse};
pub use crate::error::{LedgerError, LedgerErrorKind};
use crate::token::identifier::Nonce;
use std::sync::Arc;

/// How a token was consumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendKind {
    Spend,
    Split,
    /// A child handing its whole balance back to the lineage it was split from
    /// ([`Ledger::give_back`]): no successor; `cost` is what went back.
    GiveBack,
}

impl SpendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpendKind::Spend => "spend",
            SpendKind::Split => "split",
            SpendKind::GiveBack => "give-back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "spend" => Some(SpendKind::Spend),
            "split" => Some(SpendKind::Split),
            "give-back" => Some(SpendKind::GiveBack),
            _ => None,
        }
    }
}

/// The record of a consumed token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spent {
    pub at: String,
    pub request_id: String,
    pub kind: SpendKind,
    /// What the request cost (0 for a split).
    pub cost: u64,
    /// The balances the parent was divided into (one entry for a spend's successor).
    pub amounts: Vec<u64>,
    /// Fingerprint of the exact token presented ([`crate::token::presented_fingerprint`]):
    /// only that token may have the spend answered again. `None` in records written before
    /// crumb bound replays to the presenter; those are never replayed.
    pub presented: Option<[u8; 32]>,
}

/// What the ledger knows of one nonce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub spent: Option<Spent>,
    pub revoked_at: Option<String>,
}

/// One write: consume `parent` and issue `children`.
#[derive(Clone, Debug)]
pub struct Commit {
    pub parent: Nonce,
    pub request_id: String,
    pub kind: SpendKind,
    pub cost: u64,
    /// Each child's nonce and balance, in order.
    pub children: Vec<(Nonce, u64)>,
    pub at: String,
    /// Fingerprint of the exact token presented (so a copy of the same nonce cannot replay it).
    pub presented: [u8; 32],
    /// Every child but the last (the change) is a delegation its splitter may revoke, not a
    /// transfer (`split --revocable`).
    pub revocable: bool,
    /// Returned credit the change (the last child) takes in: `Some(claim)` takes `claim.take`
    /// of the `claim.owed` owed to the parent's lineage, leaving the rest owed, and writes
    /// nothing if `claim.owed` is not what is owed ([`CommitOutcome::CreditChanged`]); `None`
    /// leaves whatever is owed where it is.
    pub credit: Option<CreditClaim>,
    /// The parent's `spend-rate` windows ([`window::windows_of`]): `cost` counts against each
    /// (a one-step commit), and every child inherits them.
    pub windows: Vec<Window>,
}

/// Returned credit a [`Commit`] takes in: `take` of the `owed` its lineage was owed when the
/// successor was issued. `take` is less than `owed` only when all of it would carry the
/// successor's balance past [`crate::limits::MAX_AMOUNT`]: the rest stays owed, for a later
/// successor with room for it (so a top-up can never make a successor unissuable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreditClaim {
    pub owed: u64,
    pub take: u64,
}

impl CreditClaim {
    /// The claim on `owed` by a successor whose balance is `balance` before it: as much as
    /// fits under [`crate::limits::MAX_AMOUNT`].
    pub fn fitting(owed: u64, balance: u64) -> CreditClaim {
        let room = crate::limits::MAX_AMOUNT.saturating_sub(balance);
        CreditClaim { owed, take: owed.min(room) }
    }
}

/// What a settle found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Written now.
    Fresh,
    /// Someone consumed the parent first (perhaps this same request, retried).
    AlreadySpent(Spent),
    /// The parent was revoked.
    Revoked(String),
    /// The reservation expired and another took the token: nothing was written.
    ReservationLost,
    /// (One-step [`Ledger::commit`] only.) Another use holds the token: nothing was written.
    InFlight,
    /// The commit claimed returned credit, but the parent's lineage is owed this much now:
    /// nothing was written (issue the change again with it, and retry).
    CreditChanged(u64),
    /// (One-step [`Ledger::commit`] only.) A `spend-rate` window has no room for the cost:
    /// nothing was written.
    RateLimited(RateLimited),
}

/// A request to hold a token while its spend is in flight. Made only from a verified token.
#[derive(Clone, Debug)]
pub struct Reservation {
    parent: Nonce,
    request_id: String,
    presented: [u8; 32],
    /// Unix seconds now, and when the hold expires if never settled or released.
    now: i64,
    until: i64,
    /// The token's `spend-rate` windows, and what this hold counts against them until it is
    /// settled (then the charge counts) or released.
    windows: Vec<Window>,
    amount: u64,
    /// What the hold becomes if it lapses unsettled (its process died with the request at the
    /// upstream): a settle at the price held, its successor issued the way a settle issues it.
    lapse: Option<Commit>,
}

impl Reservation {
    /// Holds `verified`'s nonce for `request_id` until `ttl` has passed (from `now`, unix
    /// seconds). `None` for a token no ledger tracks (a custom identifier).
    pub fn new(
        verified: &crate::verify::Verified,
        request_id: &str,
        now: i64,
        ttl: std::time::Duration,
    ) -> Option<Self> {
        Some(Reservation {
            parent: verified.nonce()?,
            request_id: request_id.to_owned(),
            presented: crate::token::presented_fingerprint(verified.token()),
            now,
            until: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            windows: window::windows_of(verified.token()),
            amount: 0,
            lapse: None,
        })
    }

    /// A hold whose request goes to an upstream: if it lapses unsettled, the ledger records
    /// `commit` (the settle at the price held) the next time the token is used, so a request
    /// whose gateway died is neither free nor lost (its payer recovers the successor with the
    /// same request id).
    pub fn lapsing(mut self, commit: Commit) -> Self {
        self.lapse = Some(commit);
        self
    }
    pub fn lapse(&self) -> Option<&Commit> {
        self.lapse.as_ref()
    }

    /// What the hold counts against the token's windows while it is held (the most it may
    /// charge).
    pub fn holding(mut self, amount: u64) -> Self {
        self.amount = amount;
        self
    }
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }
    pub fn amount(&self) -> u64 {
        self.amount
    }

    pub fn parent(&self) -> Nonce {
        self.parent
    }
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
    pub fn presented(&self) -> &[u8; 32] {
        &self.presented
    }
    pub fn now(&self) -> i64 {
        self.now
    }
    pub fn until(&self) -> i64 {
        self.until
    }
}

/// Proof of a held reservation: only [`Ledger::reserve`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    parent: Nonce,
    id: [u8; 16],
}

impl Ticket {
    /// A new ticket for `parent` (for backends: a random id names this one hold).
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn issue(parent: Nonce) -> Result<Self, LedgerError> {
        let mut id = [0u8; 16];
        getrandom::getrandom(&mut id)
            .map_err(|e| LedgerError::unavailable("(ticket)", format!("the random source failed: {e}")))?;
        Ok(Ticket { parent, id })
    }

    pub fn parent(&self) -> Nonce {
        self.parent
    }
    pub fn id(&self) -> &[u8; 16] {
        &self.id
    }
}

/// What a reservation found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserved {
    /// The token is held for this request: settle or release it.
    Held(Ticket),
    /// The token was consumed already (perhaps by this same request: a retry).
    Spent(Spent),
    /// The token was revoked.
    Revoked(String),
    /// Another reservation holds it and has not expired: a concurrent use.
    InFlight,
    /// A `spend-rate` window has no room for the amount held: nothing was written.
    RateLimited(RateLimited),
}

/// One node of a delegation tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub nonce: Nonce,
    pub parent: Option<Nonce>,
    /// Balance at issue, for tokens the ledger issued (successors and children).
    pub balance: Option<u64>,
    pub issued_at: Option<String>,
    pub status: Status,
    /// A delegation its splitter may revoke (`split --revocable`), not a transfer.
    pub revocable: bool,
    /// Its parent's change (a spend's successor or a split's remainder): the same holder's
    /// token, not something handed on.
    pub change: bool,
    /// Returned credit owed to the lineage this token heads, not yet taken in.
    pub credit: u64,
    /// What operators topped up the lineage this token heads with, in all.
    pub topped_up: u64,
}

/// Everything the ledger knows of one token, for `status` and for the delegation rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenInfo {
    /// The ledger has a record of this token (a spend, split, hold, revocation, or its issue
    /// as a successor or child). A minted token is unknown until its first use.
    pub known: bool,
    pub status: Status,
    pub parent: Option<Nonce>,
    pub balance: Option<u64>,
    /// Unix seconds until which a hold (a request in flight) keeps the token, if any.
    pub held_until: Option<i64>,
    pub revocable: bool,
    pub change: bool,
    /// The token that heads its lineage: the last ancestor reached through change links (the
    /// token its holder was handed: a mint, or a child split off to it). Itself if none.
    pub head: Option<Nonce>,
    /// Returned credit owed to that lineage, waiting for its next spend or split.
    pub credit_owed: u64,
    /// What operators topped that lineage up with, in all ([`Ledger::top_up`]).
    pub topped_up: u64,
}

/// What revoking a delegation did ([`Ledger::revoke_delegation`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DelegationRevoke {
    /// The child's subtree is revoked (`revoked`: the nonces newly revoked, none when it was
    /// revoked or given back before); `returned` is the credit that went back to the
    /// delegator's lineage (live balances and credit owed inside the subtree).
    Revoked { revoked: Vec<Nonce>, returned: u64 },
    /// The presented token is not live (spent or revoked): only the lineage's current token
    /// revokes its delegations.
    HolderNotLive { revoked: bool },
    /// The child was not split off from the presented token's lineage (or is unknown).
    NotYours,
    /// The child was split off from this lineage as a transfer (final), or is its change.
    NotRevocable,
}

/// One give-back: retire `parent` (its whole balance, as the ledger issued it) and return it to the lineage its
/// lineage was split from ([`Ledger::give_back`]).
#[derive(Clone, Debug)]
pub struct GiveBack {
    pub parent: Nonce,
    pub request_id: String,
    pub at: String,
    pub presented: [u8; 32],
    /// Unix seconds now: a hold that has not expired by then refuses the give-back.
    pub now: i64,
}

/// What a give-back found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GaveBack {
    /// Written now: `returned` (the balance and any credit owed to the token's own lineage)
    /// went to the lineage it was split from.
    Fresh {
        returned: u64,
    },
    /// The token was consumed already (perhaps by this same give-back: a retry).
    AlreadySpent(Spent),
    Revoked(String),
    InFlight,
    /// Its lineage was never split off from another (a minted token): nowhere to return to.
    NotDelegated,
}

/// An operator's top-up: `amount` more credit for the lineage of the token `nonce`, taken in
/// by that lineage's next spend, split or settle (its successor carries it), exactly once.
#[derive(Clone, Debug)]
pub struct TopUp {
    pub nonce: Nonce,
    pub amount: u64,
    /// Names the top-up: the same id again answers the first top-up and adds nothing.
    pub request_id: String,
    pub at: String,
}

/// What a top-up found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToppedUp {
    /// Written now: `owed` is what the lineage headed by `head` is owed now (this included).
    Fresh { head: Nonce, owed: u64 },
    /// This request id topped up this token by this amount before: nothing added.
    Replayed { head: Nonce },
    /// This request id named another token or amount before: nothing added.
    RequestIdReused,
    /// The token, or the lineage its credit would go to, is revoked: nothing added.
    Revoked,
    /// The lineage would be owed more than a balance may hold: nothing added.
    TooMuch { owed: u64 },
}

/// What revoking a token by possession found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveRevoke {
    /// It was live and is revoked now.
    Revoked,
    /// It was revoked before.
    AlreadyRevoked,
    /// It was spent or split: what it became belongs to others, so possession cannot stop it.
    Consumed,
}

/// A delegation tree, as much of it as the limits allow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lineage {
    /// The root (or the furthest ancestor reached) first, then descendants breadth first.
    pub nodes: Vec<Node>,
    /// The tree has more nodes than were returned.
    pub truncated: bool,
    /// The climb to the root stopped at the ancestor limit: `nodes[0]` is not the root.
    pub root_not_reached: bool,
}

/// How much of a tree [`Ledger::lineage`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// From the root ancestor down: what the operator (the ledger's owner) sees.
    WholeTree,
    /// The token and what descends from it: what its holder may see (what it handed on),
    /// never its ancestors or siblings (what others did).
    Descendants,
    /// As `Descendants`, without one child and all below it (a token's change, which is its
    /// payer's, not something it handed on): never walked, so neither its contents nor its
    /// size reach the reader.
    DescendantsExcept(Nonce),
}

/// A durable ledger of spent and revoked tokens: the port every backend implements.
///
/// Each operation answers with a [`Pending`] the backend fulfils ([`pending`] says why a
/// completion, and the rule for one that is dropped). A backend whose driver blocks implements
/// [`BlockingLedger`] instead and runs as [`Threaded`].
pub trait Ledger: Send + Sync + std::fmt::Debug {
    /// Where the ledger is, for messages (a path, or a URL without its password).
    fn location(&self) -> &str;

    /// What is known of `nonce` (the default status when nothing is).
    fn status(&self, nonce: &Nonce) -> Pending<Status>;

    /// Whether the ledger answers and takes writes (a readiness probe): a write transaction
    /// that changes nothing. A read-only ledger, a database in recovery or a replica that
    /// refuses writes answers an error.
    fn ready(&self) -> Pending<()>;

    /// Holds the reservation's token while its spend is in flight. Not durable by itself: a
    /// hold lost in a crash only means nothing was handed out. A hold whose [`Pending`] is
    /// dropped before it answers is released by the backend.
    fn reserve(&self, reservation: &Reservation) -> Pending<Reserved>;

    /// Consumes the held parent and records its children, atomically and durably: it answers
    /// only once the record would survive a crash. `commit.parent` is the ticket's.
    fn settle(&self, ticket: &Ticket, commit: &Commit) -> Pending<CommitOutcome>;

    /// Gives a held token back untouched.
    fn release(&self, ticket: &Ticket) -> Pending<()>;

    /// Reserves and settles in one step, for a spend that needs no time in flight (the CLI's
    /// and the JSON API's spend and split): the same checks and the same record as
    /// [`Ledger::reserve`] then [`Ledger::settle`], in one transaction where the backend can.
    fn commit(&self, reservation: &Reservation, commit: &Commit) -> Pending<CommitOutcome>;

    /// Revokes `nonce`, and with `cascade` every token issued from it, transitively.
    /// Answers the nonces newly revoked. An operator's act: it may revoke spent tokens and
    /// what descends from them.
    fn revoke(&self, nonce: &Nonce, cascade: bool, at: &str) -> Pending<Vec<Nonce>>;

    /// Revokes `nonce` only if it is live (neither spent nor revoked), in one transaction:
    /// what a holder may do with a token it presents.
    fn revoke_if_live(&self, nonce: &Nonce, at: &str) -> Pending<LiveRevoke>;

    /// The tree `nonce` belongs to, at most `max_nodes` of it: its root ancestor first (within
    /// [`crate::limits::MAX_LINEAGE_ANCESTORS`]), then descendants breadth first.
    fn lineage(&self, nonce: &Nonce, max_nodes: usize, scope: Scope) -> Pending<Lineage>;

    /// What the ledger knows of `nonce`, with its lineage's head and the credit owed to it.
    fn info(&self, nonce: &Nonce) -> Pending<TokenInfo>;

    /// Records the hold on `nonce` if it lapsed by `now` (unix seconds) unsettled with its
    /// request forwarded (its gateway died): the settle at the price held that it carries, as
    /// the token's next use would record it, so that a read shows what that use will find.
    /// Answers whether it recorded one; a plain hold, or none, writes nothing.
    fn record_lapsed(&self, nonce: &Nonce, now: i64) -> Pending<bool>;

    /// Revokes the delegation `child` on behalf of `holder`, in one transaction: `holder`
    /// must be live, and `child` a revocable child split off from `holder`'s lineage (same
    /// head). Its whole subtree is revoked, holds in flight included; the live balances in it
    /// and the credit owed inside it go to `holder`'s lineage, exactly once.
    fn revoke_delegation(&self, holder: &Nonce, child: &Nonce, at: &str) -> Pending<DelegationRevoke>;

    /// Retires `g.parent` (live, not held) as a give-back and credits its balance, and the
    /// credit owed to its own lineage, to the lineage its lineage was split from, in one
    /// transaction.
    fn give_back(&self, g: &GiveBack) -> Pending<GaveBack>;

    /// What each of `windows` (the `spend-rate` windows of the token `nonce`) holds at `now`
    /// (unix seconds), in their order: spends inside the window, holds counted.
    fn window_use(&self, nonce: &Nonce, windows: &[Window], now: i64) -> Pending<Vec<u64>>;

    /// Adds `t.amount` to the credit owed to the lineage of `t.nonce` (or, when that lineage
    /// gave back, to the lineage it gave back to), once per request id, in one transaction.
    /// A spent token's lineage goes on in its change, so the credit reaches its current token;
    /// a revoked token (or a revoked lineage to credit) is refused.
    fn top_up(&self, t: &TopUp) -> Pending<ToppedUp>;
}

/// A lapse commit ([`Reservation::lapsing`]) as a ledger stores it beside the hold: JSON of
/// its request id, cost, successor(s), time, presenter and windows (a spend's; no credit).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn encode_lapse(c: &Commit) -> String {
    serde_json::json!({
        "request_id": c.request_id,
        "cost": c.cost,
        "children": c.children.iter().map(|(n, b)| (n.to_string(), b)).collect::<Vec<_>>(),
        "at": c.at,
        "presented": hex::encode(c.presented),
        "windows": c.windows.iter().map(|w| (w.index, w.limit, w.secs, hex::encode(&w.text))).collect::<Vec<_>>(),
    })
    .to_string()
}

/// [`encode_lapse`] read back for the token `parent`; `None` if it does not read.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn decode_lapse(parent: Nonce, text: &str) -> Option<Commit> {
    #[derive(serde::Deserialize)]
    struct Stored {
        request_id: String,
        cost: u64,
        children: Vec<(String, u64)>,
        at: String,
        presented: String,
        windows: Vec<(u32, u64, u64, String)>,
    }
    let s: Stored = serde_json::from_str(text).ok()?;
    let presented: [u8; 32] = hex::decode(&s.presented).ok()?.try_into().ok()?;
    let children = s.children.iter().map(|(n, b)| Some((Nonce::parse_hex(n)?, *b))).collect::<Option<Vec<_>>>()?;
    let windows = s
        .windows
        .into_iter()
        .map(|(index, limit, secs, text)| Some(Window { index, limit, secs, text: hex::decode(text).ok()? }))
        .collect::<Option<Vec<_>>>()?;
    Some(Commit {
        parent,
        request_id: s.request_id,
        kind: SpendKind::Spend,
        cost: s.cost,
        children,
        at: s.at,
        presented,
        revocable: false,
        credit: None,
        windows,
    })
}

/// What a token held for a proxied request (its lapse commit stored beside the hold) does not
/// return when its delegation is revoked: the price held, spent on a request that may have
/// been served (its settle, refused once the token is revoked, can no longer charge it). A
/// lapse that does not read keeps the whole balance back (fail closed).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn held_by_lapse(nonce: Nonce, text: &str) -> u64 {
    decode_lapse(nonce, text).map_or(u64::MAX, |c| c.cost)
}

/// Reads the stored list of a consumption's amounts (`"30,20,47"`).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn parse_amounts(text: &str) -> Result<Vec<u64>, String> {
    text.split(',').filter(|s| !s.is_empty()).map(|s| s.parse::<u64>().map_err(|_| format!("amounts {s}"))).collect()
}

/// Which ledger to open, and how.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    /// Open an existing ledger for reading only: create nothing, and fail if it is missing.
    pub read_only: bool,
    /// How many callers may use it at once (a server's workers): more read connections, and
    /// for SQLite a writer that commits concurrent writes together (group commit).
    pub concurrency: usize,
}

impl OpenOptions {
    pub const READ_WRITE: OpenOptions = OpenOptions { read_only: false, concurrency: 1 };
    pub const READ_ONLY: OpenOptions = OpenOptions { read_only: true, concurrency: 1 };

    pub fn concurrent(concurrency: usize) -> Self {
        OpenOptions { read_only: false, concurrency }
    }
}

/// Whether `location` names a PostgreSQL database rather than a file.
/// Why a ledger location that is not a `postgres://`/`postgresql://` URL cannot be the SQLite
/// file path it would otherwise be taken for: a mistyped database URL (`POSTGRES://`,
/// `postgress://`, ` postgres://`, `postgres:/…`) or libpq's `key=value` form would become
/// a private local ledger (each replica its own, so a token could be spent once at each),
/// with the password in its directory names.
fn not_a_file_path(location: &str) -> Option<&'static str> {
    if is_postgres_url(location) {
        return None;
    }
    let trimmed = location.trim();
    let lower = trimmed.get(..5).unwrap_or(trimmed).to_ascii_lowercase();
    if lower.starts_with("env:") || lower.starts_with("file:") {
        // A configuration file's reference given where only a location is read (a flag, the
        // environment): taken as a file name it would be a fresh, empty ledger.
        return Some("`env:` and `file:` references are read in configuration files only; give the location itself");
    }
    let scheme_like = trimmed.split_once(':').is_some_and(|(scheme, rest)| {
        scheme.len() > 1
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(&b))
            && rest.starts_with('/')
    });
    // `postgres:user:pw@host/db` (no `//`) and the like: a database URL mistyped.
    let lower = trimmed.get(..11).unwrap_or(trimmed).to_ascii_lowercase();
    let database_like =
        ["postgres:", "postgresql:", "pg:", "postgres/", "postgresql/"].iter().any(|p| lower.starts_with(p));
    if scheme_like || database_like || trimmed.contains("://") {
        return Some("this looks like a URL, and only postgres:// and postgresql:// (lower case) name a database; a file path has no scheme");
    }
    let keywords = ["host=", "hostaddr=", "port=", "dbname=", "user=", "password=", "sslmode="];
    if keywords.iter().any(|k| trimmed.starts_with(k) || trimmed.contains(&format!(" {k}"))) {
        return Some("this looks like a libpq connection string; give PostgreSQL as a postgres:// URL");
    }
    if location != trimmed {
        return Some("a ledger path that starts or ends with whitespace is refused (a pasted value?)");
    }
    None
}

/// The schema version this crumb writes at `location`'s backend (a ledger it opens has it:
/// an older one is upgraded by opening it for writing, a newer one is refused).
pub fn schema_version(location: &str) -> Option<i64> {
    if is_postgres_url(location) {
        #[cfg(feature = "postgres")]
        return Some(postgres::SCHEMA_VERSION);
        #[cfg(not(feature = "postgres"))]
        return None;
    }
    #[cfg(feature = "sqlite")]
    return Some(sqlite::SCHEMA_VERSION);
    #[cfg(not(feature = "sqlite"))]
    None
}

pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Refuses a location [`open`] would refuse before opening anything: a mistyped database
/// URL, a libpq connection string, a configuration file's reference. The error never quotes
/// the location (it may hold a password).
pub fn check_location(location: &str) -> Result<(), LedgerError> {
    match not_a_file_path(location) {
        Some(why) => Err(LedgerError::new(LedgerErrorKind::Unsupported, "(not shown)", why)),
        None => Ok(()),
    }
}

/// Opens the ledger at `location`: a `postgres://` URL, or else a SQLite file path.
#[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
pub fn open(location: &str, options: OpenOptions) -> Result<Arc<dyn Ledger>, LedgerError> {
    // Never shown: a mistyped database URL is likely to hold a password.
    check_location(location)?;
    if is_postgres_url(location) {
        #[cfg(feature = "postgres")]
        {
            // Async on a small runtime of its own, from any caller (see `PostgresLedger::open`).
            return Ok(Arc::new(PostgresLedger::open(location, options)?));
        }
        #[cfg(not(feature = "postgres"))]
        return Err(LedgerError::new(
            LedgerErrorKind::Unsupported,
            redact_url(location),
            "this crumb was built without PostgreSQL support (the `postgres` feature)",
        ));
    }
    #[cfg(feature = "sqlite")]
    {
        let path = std::path::Path::new(location);
        let ledger = if options.read_only { SqliteLedger::open_read_only(path)? } else { SqliteLedger::open(path)? };
        Ok(Arc::new(ledger.with_concurrency(options.concurrency)?))
    }
    #[cfg(not(feature = "sqlite"))]
    Err(LedgerError::new(
        LedgerErrorKind::Unsupported,
        location,
        "this crumb was built without the embedded ledger (the `sqlite` feature)",
    ))
}

/// A ledger location fit for messages and logs. A PostgreSQL URL is shown as its driver parsed
/// it (user, hosts, ports, database), never with its password or other parameters; a file
/// path as it is. Anything else that looks like a URL is shown as its scheme alone.
pub fn redact_url(location: &str) -> String {
    if is_postgres_url(location) {
        #[cfg(feature = "postgres")]
        return postgres::redact(location);
    }
    match location.split_once("://") {
        Some((scheme, _)) => format!("{scheme}://(not shown)"),
        None => location.to_owned(),
    }
}

/// Why the ledger refuses a token that otherwise verifies: spent or revoked.
pub async fn standing(ledger: &dyn Ledger, nonce: &Nonce) -> Result<Option<crate::denial::Denial>, LedgerError> {
    use crate::denial::{Denial, DenialCode};
    let status = ledger.status(nonce).await?;
    Ok(match (status.revoked_at, status.spent) {
        (Some(_), _) => Some(Denial::new(DenialCode::Revoked, "this token was revoked")),
        // Whoever presents a copy learns only that it is spent, not when or by which request:
        // that is another holder's business.
        (None, Some(_)) => Some(Denial::new(DenialCode::Spent, "this token was already spent")),
        (None, None) => None,
    })
}

#[cfg(test)]
mod location_tests {
    use super::*;

    #[test]
    fn a_mistyped_database_url_is_not_a_file_path() {
        for bad in [
            "POSTGRES://crumb:SECRETpw@127.0.0.1:1/db",
            "postgress://crumb:SECRETpw@h/db",
            "pg://crumb:SECRETpw@h/db",
            " postgres://crumb:SECRETpw@h/db",
            "postgres:/crumb:SECRETpw@h/db",
            "host=127.0.0.1 port=1 password=SECRETpw dbname=db",
            "postgres:crumb:SECRETpw@db.example:5432/ledger",
            "postgresql:crumb:SECRETpw@db.example",
            "mysql://u:p@h/db",
            "ledger.db ",
        ] {
            let why = not_a_file_path(bad).unwrap_or_else(|| panic!("{bad} taken for a path"));
            assert!(!why.contains("SECRET"), "{why}");
            let Err(refused) = open(bad, OpenOptions::READ_WRITE) else { panic!("{bad} opened") };
            assert!(!refused.to_string().contains("SECRET"), "{refused}");
        }
        for good in ["ledger.db", "/var/lib/crumb/ledger.sqlite3", "./a:b.db", "C-drive.db", "postgres://u@h/db"] {
            assert_eq!(not_a_file_path(good), None, "{good}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords_before_they_are_shown() {
        assert_eq!(redact_url("postgres://crumb:s3cret@db:5432/ledger"), "postgres://crumb:***@db:5432/ledger");
        assert_eq!(redact_url("postgres://crumb:s3/cret@db/ledger"), "postgres://crumb:***@db:5432/ledger");
        assert_eq!(redact_url("postgres://crumb@db/ledger?password=x"), "postgres://crumb:***@db:5432/ledger");
        assert_eq!(redact_url("postgresql://db"), "postgresql://db:5432");
        // TLS parameters the driver would refuse (crumb reads them) still leave the URL shown.
        let tls = "postgres://crumb:s3cret@db/ledger?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&password=x";
        assert_eq!(redact_url(tls), "postgres://crumb:***@db:5432/ledger");
        assert_eq!(
            redact_url("postgres://crumb:s3cret@db/ledger?sslmode=bogus"),
            "postgres://crumb:***@db:5432/ledger"
        );
        assert_eq!(redact_url("/var/lib/crumb/ledger.sqlite3"), "/var/lib/crumb/ledger.sqlite3");
        assert_eq!(redact_url("mysql://u:pw@db/x"), "mysql://(not shown)");
        assert!(is_postgres_url("postgresql://x") && !is_postgres_url("/var/lib/crumb/ledger.sqlite3"));
    }
}
