//! The ledger conformance suite: one set of tests, written against the port ([`Ledger`]),
//! that every backend must pass — idempotent replays, races, revocation with cascade,
//! lineage, reservations and their expiry, queued writes, settles up to the hold. crumb runs it
//! on SQLite (with and without group commit) and PostgreSQL; a backend in another crate proves
//! itself the same way, with the `test-support` feature:
//!
//! ```ignore
//! struct Mine;
//! impl crumb::ledger::conformance::Backend for Mine {
//!     fn open(&self) -> std::sync::Arc<dyn crumb::ledger::Ledger> { /* a handle on a fresh store */ }
//! }
//! #[test]
//! fn conforms() { crumb::ledger::conformance::run_all(&Mine) }
//! ```
//!
//! Each test panics (an assertion) where the backend departs from the port's contract.

use crate::ledger::{CommitOutcome, Ledger, LiveRevoke, Reservation, Reserved, Scope, Ticket, Wait};
use crate::token::identifier::Nonce;
use crate::{Context, Error, Keyring, Macaroon, RootKey, TokenId, Verified, Verifier};
use std::sync::Arc;
use std::time::Duration;

/// A store under test. Each `open()` is a new handle on the same store, as another process
/// or replica would have.
pub trait Backend {
    fn open(&self) -> Arc<dyn Ledger>;
}

/// One test of the suite.
pub type Test = fn(&dyn Backend);

/// Every test of the suite, by name.
pub const ALL: &[(&str, Test)] = &[
    (
        "replays_return_the_same_successor_only_to_the_same_request",
        replays_return_the_same_successor_only_to_the_same_request,
    ),
    ("one_token_spent_by_many_at_once_succeeds_once", one_token_spent_by_many_at_once_succeeds_once),
    ("many_tokens_spent_at_once_all_succeed", many_tokens_spent_at_once_all_succeed),
    ("revocation_cascades_over_spends_and_splits", revocation_cascades_over_spends_and_splits),
    (
        "lineage_shows_the_tree_to_its_owner_and_a_branch_to_its_holder",
        lineage_shows_the_tree_to_its_owner_and_a_branch_to_its_holder,
    ),
    ("a_reserved_token_is_held_until_settled_or_released", a_reserved_token_is_held_until_settled_or_released),
    ("a_stale_reservation_expires", a_stale_reservation_expires),
    ("revocation_wins_over_a_token_in_flight", revocation_wins_over_a_token_in_flight),
    ("an_unknown_nonce_is_live", an_unknown_nonce_is_live),
    ("a_hold_and_settle_answer_as_recorded", a_hold_and_settle_answer_as_recorded),
    ("a_dropped_hold_leaves_no_hold_behind", a_dropped_hold_leaves_no_hold_behind),
    ("a_settle_charges_any_cost_up_to_the_hold", a_settle_charges_any_cost_up_to_the_hold),
    ("a_revoked_delegation_returns_its_unspent_balance_once", a_revoked_delegation_returns_its_unspent_balance_once),
    (
        "only_the_delegating_lineage_revokes_and_only_delegations",
        only_the_delegating_lineage_revokes_and_only_delegations,
    ),
    ("a_give_back_returns_credit_once", a_give_back_returns_credit_once),
    ("returned_credit_is_taken_exactly_once_under_races", returned_credit_is_taken_exactly_once_under_races),
    ("a_hold_on_a_revoked_delegation_settles_nothing", a_hold_on_a_revoked_delegation_settles_nothing),
    ("the_holder_view_starts_at_the_token_it_was_handed", the_holder_view_starts_at_the_token_it_was_handed),
    ("credit_given_back_to_a_finished_lineage_goes_on_up", credit_given_back_to_a_finished_lineage_goes_on_up),
    ("a_payment_out_of_a_delegation_is_not_revoked_with_it", a_payment_out_of_a_delegation_is_not_revoked_with_it),
    ("a_spend_rate_window_refuses_until_credit_frees_up", a_spend_rate_window_refuses_until_credit_frees_up),
    ("a_window_covers_the_tree_and_only_narrows", a_window_covers_the_tree_and_only_narrows),
    ("concurrent_spenders_never_exceed_a_window", concurrent_spenders_never_exceed_a_window),
    ("a_top_up_reaches_the_next_successor_once", a_top_up_reaches_the_next_successor_once),
    ("credit_past_the_largest_balance_stays_owed", credit_past_the_largest_balance_stays_owed),
    ("a_lapsed_hold_is_charged_its_price_not_freed", a_lapsed_hold_is_charged_its_price_not_freed),
    ("a_lapsed_hold_reads_as_charged_in_status", a_lapsed_hold_reads_as_charged_in_status),
    ("a_revoked_delegation_keeps_back_what_is_held", a_revoked_delegation_keeps_back_what_is_held),
];

/// Runs every test of the suite on `backend`, naming the one that fails.
pub fn run_all(backend: &dyn Backend) {
    for (name, test) in ALL {
        eprintln!("ledger conformance: {name}");
        test(backend);
    }
}

/// An issuer's key and what the tests mint and verify with it.
struct Mint {
    key: RootKey,
    keys: Keyring,
}

impl Mint {
    fn new() -> Self {
        let key = RootKey::generate().unwrap();
        Mint { keys: Keyring::single(key.clone()), key }
    }

    fn token(&self, balance: u64) -> Macaroon {
        let id = TokenId::new(&self.key.key_id(), Nonce::random().unwrap());
        let mut token = Macaroon::mint(&self.key, id.encode(), None);
        token.add_first_party(format!("balance <= {balance}").into_bytes());
        token
    }

    /// A token with `caveats` after its balance.
    fn token_with(&self, balance: u64, caveats: &[&str]) -> Macaroon {
        let mut token = self.token(balance);
        for c in caveats {
            token.add_first_party(c.as_bytes().to_vec());
        }
        token
    }

    /// A spend at `now` (unix seconds).
    fn spend_at(
        &self,
        ledger: &dyn Ledger,
        token: &Macaroon,
        cost: u64,
        now: i64,
    ) -> Result<crate::spend::Receipt, Error> {
        let mut ctx = Context::at(time::OffsetDateTime::from_unix_timestamp(now).unwrap());
        ctx.cost = cost;
        crate::spend::spend(&self.verifier(), ledger, token.clone().into(), &ctx, None).wait()
    }

    fn split_at(&self, ledger: &dyn Ledger, token: &Macaroon, amounts: &[u64], now: i64) -> crate::spend::Receipt {
        let ctx = Context::at(time::OffsetDateTime::from_unix_timestamp(now).unwrap());
        let split = crate::spend::SplitRequest { amounts, ..Default::default() };
        crate::spend::split(&self.verifier(), ledger, token.clone().into(), &ctx, split).wait().unwrap()
    }

    fn verifier(&self) -> Verifier<'_> {
        Verifier::new(&self.keys)
    }

    fn verified(&self, token: &Macaroon) -> Verified {
        self.verifier().verify(token.clone(), Vec::new(), &Context::now()).unwrap()
    }

    fn spend(
        &self,
        ledger: &dyn Ledger,
        token: &Macaroon,
        cost: u64,
        request: &str,
    ) -> Result<crate::spend::Receipt, Error> {
        let mut ctx = Context::now();
        ctx.cost = cost;
        crate::spend::spend(&self.verifier(), ledger, token.clone().into(), &ctx, Some(request)).wait()
    }

    fn split(&self, ledger: &dyn Ledger, token: &Macaroon, amounts: &[u64]) -> crate::spend::Receipt {
        let split = crate::spend::SplitRequest { amounts, ..Default::default() };
        crate::spend::split(&self.verifier(), ledger, token.clone().into(), &Context::now(), split).wait().unwrap()
    }

    /// A split whose children (but the remainder) are revocable delegations.
    fn delegate(&self, ledger: &dyn Ledger, token: &Macaroon, amounts: &[u64]) -> crate::spend::Receipt {
        let ctx = Context::now();
        let split = crate::spend::SplitRequest { amounts, request_id: None, revocable: true };
        crate::spend::split(&self.verifier(), ledger, token.clone().into(), &ctx, split).wait().unwrap()
    }

    fn give_back(
        &self,
        ledger: &dyn Ledger,
        token: &Macaroon,
        request: &str,
    ) -> Result<crate::delegation::GiveBackReceipt, Error> {
        crate::delegation::give_back(&self.verifier(), ledger, token.clone().into(), &Context::now(), Some(request))
            .wait()
    }
}

fn returned(outcome: crate::ledger::DelegationRevoke) -> u64 {
    match outcome {
        crate::ledger::DelegationRevoke::Revoked { returned, .. } => returned,
        other => panic!("not revoked: {other:?}"),
    }
}

fn nonce(token: &Macaroon) -> Nonce {
    token.token_id().unwrap().nonce
}

fn code(result: Result<crate::spend::Receipt, Error>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::Denied(d)) => d.code.as_str(),
        Err(e) => panic!("not a verdict: {e}"),
    }
}

fn held(reserved: Reserved) -> Ticket {
    match reserved {
        Reserved::Held(ticket) => ticket,
        other => panic!("not held: {other:?}"),
    }
}

fn commit_for(ticket: &Ticket, child: Nonce, balance: u64) -> crate::ledger::Commit {
    commit_of(ticket.parent(), "r", child, balance)
}

/// Spending `parent` (cost 1) for `request_id` into one child.
fn commit_of(parent: Nonce, request_id: &str, child: Nonce, balance: u64) -> crate::ledger::Commit {
    crate::ledger::Commit {
        parent,
        request_id: request_id.into(),
        kind: crate::ledger::SpendKind::Spend,
        cost: 1,
        children: vec![(child, balance)],
        at: "2026-11-28T00:00:00Z".into(),
        presented: [7; 32],
        revocable: false,
        credit: None,
        windows: Vec::new(),
    }
}

const NOW: i64 = 1_800_000_000;

pub fn replays_return_the_same_successor_only_to_the_same_request(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token(10);
    let first = mint.spend(ledger.as_ref(), &token, 3, "pay-1").unwrap();
    let again = mint.spend(ledger.as_ref(), &token, 3, "pay-1").unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(first.children[0].token, again.children[0].token, "a retry rebuilds the same successor");
    assert_eq!(first.children[0].balance, 7);
    assert_eq!(code(mint.spend(ledger.as_ref(), &token, 3, "pay-2")), "spent");
    assert_eq!(code(mint.spend(ledger.as_ref(), &token, 4, "pay-1")), "spent", "same id, other cost");
    // A fresh handle (another process, another replica) sees the same record.
    let other = backend.open();
    assert!(other.status(&nonce(&token)).wait().unwrap().spent.is_some());
    assert!(mint.spend(other.as_ref(), &token, 3, "pay-1").unwrap().replayed);
}

pub fn one_token_spent_by_many_at_once_succeeds_once(backend: &dyn Backend) {
    let mint = Arc::new(Mint::new());
    let token = mint.token(100);
    let outcomes: Vec<&'static str> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (mint, token, ledger) = (&mint, &token, backend.open());
                scope.spawn(move || code(mint.spend(ledger.as_ref(), token, 1, &format!("racer-{i}"))))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| ["ok", "spent", "in-flight"].contains(o)), "{outcomes:?}");
}

pub fn many_tokens_spent_at_once_all_succeed(backend: &dyn Backend) {
    let mint = Mint::new();
    let ledger = backend.open();
    let tokens: Vec<Macaroon> = (0..64).map(|_| mint.token(5)).collect();
    let receipts: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = tokens
            .iter()
            .map(|t| {
                let (mint, ledger) = (&mint, ledger.clone());
                scope.spawn(move || mint.spend(ledger.as_ref(), t, 2, "once").unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(receipts.iter().all(|r| r.children[0].balance == 3 && !r.replayed));
    for t in &tokens {
        assert!(ledger.status(&nonce(t)).wait().unwrap().spent.is_some());
    }
}

pub fn revocation_cascades_over_spends_and_splits(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let root = mint.token(100);
    let split = mint.split(ledger.as_ref(), &root, &[30, 20]);
    let child = split.children[0].token.clone();
    let successor = mint.spend(ledger.as_ref(), &child, 5, "c").unwrap().children[0].token.clone();
    let sibling = split.children[1].token.clone();
    // Possession revokes only what is live, and never cascades.
    assert_eq!(ledger.revoke_if_live(&nonce(&child), "t1").wait().unwrap(), LiveRevoke::Consumed);
    assert_eq!(ledger.revoke_if_live(&nonce(&sibling), "t1").wait().unwrap(), LiveRevoke::Revoked);
    assert_eq!(ledger.revoke_if_live(&nonce(&sibling), "t2").wait().unwrap(), LiveRevoke::AlreadyRevoked);
    // The operator's cascade from the root reaches everything not yet revoked.
    let revoked = ledger.revoke(&nonce(&root), true, "t3").wait().unwrap();
    assert_eq!(revoked.len(), 4, "root, the child, the remainder (not the sibling), the successor: {revoked:?}");
    assert!(!revoked.contains(&nonce(&sibling)), "revoked before: not revoked again");
    assert_eq!(code(mint.spend(ledger.as_ref(), &successor, 1, "late")), "revoked");
    assert_eq!(ledger.revoke(&nonce(&root), true, "t4").wait().unwrap(), Vec::<Nonce>::new());
    // Without cascade, only the nonce itself.
    let other = mint.token(9);
    let next = mint.spend(ledger.as_ref(), &other, 1, "x").unwrap().children[0].token.clone();
    assert_eq!(ledger.revoke(&nonce(&other), false, "t5").wait().unwrap(), vec![nonce(&other)]);
    assert!(ledger.status(&nonce(&next)).wait().unwrap().revoked_at.is_none());
}

pub fn lineage_shows_the_tree_to_its_owner_and_a_branch_to_its_holder(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let root = mint.token(50);
    let split = mint.split(ledger.as_ref(), &root, &[10]);
    let b = split.children[0].token.clone();
    let b2 = mint.spend(ledger.as_ref(), &b, 4, "b").unwrap().children[0].token.clone();
    let whole = ledger.lineage(&nonce(&b2), 100, Scope::WholeTree).wait().unwrap();
    assert_eq!(whole.nodes[0].nonce, nonce(&root), "the root first");
    assert_eq!(whole.nodes.len(), 4);
    assert!(!whole.truncated && !whole.root_not_reached);
    let b2_node = whole.nodes.iter().find(|n| n.nonce == nonce(&b2)).unwrap();
    assert_eq!((b2_node.balance, b2_node.parent), (Some(6), Some(nonce(&b))));
    let branch = ledger.lineage(&nonce(&b), 100, Scope::Descendants).wait().unwrap();
    let seen: Vec<Nonce> = branch.nodes.iter().map(|n| n.nonce).collect();
    assert_eq!(seen, vec![nonce(&b), nonce(&b2)], "no ancestor, no sibling");
    // One child and all below it left out of the walk (a token's change).
    let remainder = split.children[1].nonce;
    let _ = mint.spend(ledger.as_ref(), &split.children[1].token, 1, "r").unwrap();
    let handed = ledger.lineage(&nonce(&root), 100, Scope::DescendantsExcept(remainder)).wait().unwrap();
    let seen: Vec<Nonce> = handed.nodes.iter().map(|n| n.nonce).collect();
    assert_eq!(seen, vec![nonce(&root), nonce(&b), nonce(&b2)], "the excepted child's subtree is not walked");
    let cut = ledger.lineage(&nonce(&root), 2, Scope::WholeTree).wait().unwrap();
    assert_eq!((cut.nodes.len(), cut.truncated), (2, true));
    let unknown = ledger.lineage(&Nonce([9; 16]), 10, Scope::WholeTree).wait().unwrap();
    assert_eq!(unknown.nodes.len(), 1);
    assert!(unknown.nodes[0].status.spent.is_none());
}

pub fn a_reserved_token_is_held_until_settled_or_released(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token(10);
    let verified = mint.verified(&token);
    let hold = Reservation::new(&verified, "r", NOW, Duration::from_secs(60)).unwrap();
    let ticket = held(ledger.reserve(&hold).wait().unwrap());
    // A second use while the first is in flight is refused, from any handle.
    assert_eq!(ledger.reserve(&hold).wait().unwrap(), Reserved::InFlight);
    assert_eq!(backend.open().reserve(&hold).wait().unwrap(), Reserved::InFlight);
    assert!(ledger.status(&nonce(&token)).wait().unwrap().spent.is_none(), "in flight is not spent");
    // Released: free again, and the old ticket settles nothing.
    ledger.release(&ticket).wait().unwrap();
    let second = held(ledger.reserve(&hold).wait().unwrap());
    assert_eq!(
        ledger.settle(&ticket, &commit_for(&ticket, Nonce([1; 16]), 9)).wait().unwrap(),
        CommitOutcome::ReservationLost
    );
    assert_eq!(ledger.settle(&second, &commit_for(&second, Nonce([2; 16]), 9)).wait().unwrap(), CommitOutcome::Fresh);
    match ledger.reserve(&hold).wait().unwrap() {
        Reserved::Spent(spent) => assert_eq!(spent.amounts, vec![9]),
        other => panic!("{other:?}"),
    }
    // Settling twice finds its own record.
    assert!(matches!(
        ledger.settle(&second, &commit_for(&second, Nonce([2; 16]), 9)).wait().unwrap(),
        CommitOutcome::AlreadySpent(_)
    ));
}

pub fn a_stale_reservation_expires(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token(10);
    let verified = mint.verified(&token);
    let first =
        held(ledger.reserve(&Reservation::new(&verified, "a", NOW, Duration::from_secs(30)).unwrap()).wait().unwrap());
    let during = Reservation::new(&verified, "b", NOW + 29, Duration::from_secs(30)).unwrap();
    assert_eq!(ledger.reserve(&during).wait().unwrap(), Reserved::InFlight);
    let after = Reservation::new(&verified, "b", NOW + 31, Duration::from_secs(30)).unwrap();
    let second = held(ledger.reserve(&after).wait().unwrap());
    assert_eq!(
        ledger.settle(&first, &commit_for(&first, Nonce([3; 16]), 1)).wait().unwrap(),
        CommitOutcome::ReservationLost
    );
    assert_eq!(ledger.settle(&second, &commit_for(&second, Nonce([4; 16]), 1)).wait().unwrap(), CommitOutcome::Fresh);
}

pub fn revocation_wins_over_a_token_in_flight(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token(10);
    let verified = mint.verified(&token);
    let ticket =
        held(ledger.reserve(&Reservation::new(&verified, "r", NOW, Duration::from_secs(60)).unwrap()).wait().unwrap());
    assert_eq!(ledger.revoke(&nonce(&token), false, "now").wait().unwrap(), vec![nonce(&token)]);
    assert_eq!(
        ledger.settle(&ticket, &commit_for(&ticket, Nonce([5; 16]), 9)).wait().unwrap(),
        CommitOutcome::Revoked("now".into())
    );
    assert!(ledger.status(&Nonce([5; 16])).wait().unwrap().spent.is_none());
    assert!(
        ledger.lineage(&nonce(&token), 10, Scope::Descendants).wait().unwrap().nodes.len() == 1,
        "no child recorded"
    );
}

pub fn an_unknown_nonce_is_live(backend: &dyn Backend) {
    let ledger = backend.open();
    let status = ledger.status(&Nonce([0xab; 16])).wait().unwrap();
    assert!(status.spent.is_none() && status.revoked_at.is_none());
}

/// Each conformance test, once per backend.
/// A hold and its settle through the issuer: a successor at the balance less the price, a
/// second use in flight refused, a retry answered with the same successor; a commit of a spent
/// token answers what was recorded.
pub fn a_hold_and_settle_answer_as_recorded(backend: &dyn Backend) {
    let (mint, ledger) = (Arc::new(Mint::new()), backend.open());
    let token = mint.token(10);
    let reservation = Reservation::new(&mint.verified(&token), "q", NOW, Duration::from_secs(10)).unwrap();
    let commit = commit_of(nonce(&token), "r", Nonce::random().unwrap(), 9);
    assert_eq!(ledger.commit(&reservation, &commit).wait().unwrap(), CommitOutcome::Fresh);
    match ledger.commit(&reservation, &commit).wait().unwrap() {
        CommitOutcome::AlreadySpent(spent) => assert_eq!((spent.request_id.as_str(), spent.amounts), ("r", vec![9])),
        other => panic!("a second commit of a spent token: {other:?}"),
    }

    let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
    let token = mint.token(10);
    let mut ctx = Context::now();
    ctx.cost = 4;
    let ttl = Duration::from_secs(30);
    let hold = |issuer: &crate::Issuer| issuer.hold(token.clone().into(), &ctx, "key:k:r", ttl).wait();
    let Ok(crate::charge::Held::Fresh(held)) = hold(&issuer) else { panic!("a fresh token is held") };
    let in_flight = hold(&issuer).unwrap_err();
    assert!(in_flight.to_string().contains("in-flight"), "{in_flight}");
    let receipt = issuer.settle(held, 4).wait().unwrap();
    assert_eq!((receipt.replayed, receipt.cost, receipt.children[0].balance), (false, 4, 6));
    let Ok(crate::charge::Held::Answered(again)) = hold(&issuer) else { panic!("a retry is answered") };
    assert_eq!(again.children[0].token, receipt.children[0].token);
}

/// Polls `future` once and drops it: a caller that went away after starting the work. What
/// it answered if it answered in that one poll (a backend that works on the caller's thread).
fn start_and_drop<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(answer) => Some(answer),
        std::task::Poll::Pending => None,
    }
}

/// Until `reserved` answers a hold, for up to five seconds (the work a dropped caller started
/// may still be running); whether it did.
fn eventually_held(mut reserve: impl FnMut() -> Result<Reserved, crate::error::LedgerError>) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match reserve().unwrap() {
            Reserved::Held(_) => return true,
            Reserved::InFlight if std::time::Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            _ => return false,
        }
    }
}

/// The seam's cancellation rule: a reserve (or an issuer's hold) whose caller went away before
/// the answer leaves no hold behind. The reservation lasts a minute, so only the backend's
/// release, not a lapse, can free the token within the five seconds this waits.
pub fn a_dropped_hold_leaves_no_hold_behind(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token(10);
    let reservation = Reservation::new(&mint.verified(&token), "gone", NOW, Duration::from_secs(60)).unwrap();
    drop(ledger.reserve(&reservation));
    let again = Reservation::new(&mint.verified(&token), "next", NOW, Duration::from_secs(60)).unwrap();
    assert!(eventually_held(|| ledger.reserve(&again).wait()), "a dropped reserve left its hold behind");

    let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
    let token = mint.token(10);
    let mut ctx = Context::now();
    ctx.cost = 4;
    let started = start_and_drop(issuer.hold(token.clone().into(), &ctx, "key:gone:1", Duration::from_secs(60)));
    if let Some(Ok(crate::charge::Held::Fresh(hold))) = started {
        // Answered within the one poll: nothing was cancelled, and the hold is ours to give back.
        issuer.release(hold).wait().unwrap();
    }
    let now = ctx.now.unix_timestamp();
    let again = Reservation::new(&mint.verified(&token), "next", now, Duration::from_secs(60)).unwrap();
    assert!(eventually_held(|| ledger.reserve(&again).wait()), "a dropped hold left its hold behind");
}

/// A settle charges any cost up to the price held (what a request billed by its usage used),
/// never more; the successor carries the balance less that cost, and a retry answers it again.
pub fn a_settle_charges_any_cost_up_to_the_hold(backend: &dyn Backend) {
    let mint = Mint::new();
    let issuer = crate::Issuer::new(mint.keys.clone(), backend.open());
    let mut ctx = Context::now();
    ctx.cost = 5;
    let ttl = Duration::from_secs(30);
    let token = mint.token(10);
    let Ok(crate::charge::Held::Fresh(held)) = issuer.hold(token.clone().into(), &ctx, "key:a:1", ttl).wait() else {
        panic!("a fresh token is held")
    };
    assert_eq!(held.price(), 5);
    let receipt = issuer.settle(held, 3).wait().unwrap();
    assert_eq!((receipt.cost, receipt.children[0].balance), (3, 7));
    let Ok(crate::charge::Held::Answered(again)) = issuer.hold(token.into(), &ctx, "key:a:1", ttl).wait() else {
        panic!("a retry is answered")
    };
    assert_eq!((again.cost, again.children[0].token.clone()), (3, receipt.children[0].token.clone()));
    let other = mint.token(10);
    let Ok(crate::charge::Held::Fresh(held)) = issuer.hold(other.into(), &ctx, "key:b:1", ttl).wait() else {
        panic!("a fresh token is held")
    };
    let over = issuer.settle(held, 6).wait().unwrap_err();
    assert!(over.to_string().contains("at most the 5 held"), "{over}");
}

/// A delegation revoked by its splitter's lineage: its subtree is revoked, its unspent balance
/// (not what it spent) is owed to the splitter's lineage, taken in once by its next spend.
pub fn a_revoked_delegation_returns_its_unspent_balance_once(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let a = mint.token(100);
    let split = mint.delegate(ledger.as_ref(), &a, &[30]);
    assert!(split.revocable);
    let (d, r) = (split.children[0].token.clone(), split.children[1].token.clone());
    let d2 = mint.spend(ledger.as_ref(), &d, 3, "d1").unwrap().children[0].token.clone();
    let d3 = mint.spend(ledger.as_ref(), &d2, 3, "d2").unwrap().children[0].token.clone();
    assert!(ledger.info(&nonce(&d)).wait().unwrap().revocable);
    assert!(!ledger.info(&nonce(&r)).wait().unwrap().revocable, "the remainder is never a delegation");
    let outcome = ledger.revoke_delegation(&nonce(&r), &nonce(&d), "now").wait().unwrap();
    match &outcome {
        crate::ledger::DelegationRevoke::Revoked { revoked, returned } => {
            assert_eq!(*returned, 24, "30 less the 6 spent");
            assert_eq!(revoked.len(), 3, "the child and its two successors");
        }
        other => panic!("{other:?}"),
    }
    // A retry of the split says what was recorded, whatever the retry asks.
    let ctx = Context::now();
    let rid = split.request_id.clone();
    let again = crate::spend::split(
        &mint.verifier(),
        ledger.as_ref(),
        a.clone().into(),
        &ctx,
        crate::spend::SplitRequest { amounts: &[30], request_id: Some(&rid), revocable: false },
    )
    .wait()
    .unwrap();
    assert!(again.replayed && again.revocable, "the children are delegations, as recorded");
    // Again, from any handle: nothing more comes back.
    assert_eq!(returned(backend.open().revoke_delegation(&nonce(&r), &nonce(&d), "later").wait().unwrap()), 0);
    assert_eq!(code(mint.spend(ledger.as_ref(), &d3, 1, "d3")), "revoked");
    assert_eq!(ledger.info(&nonce(&r)).wait().unwrap().credit_owed, 24);
    // The splitter's next spend takes it in, once.
    let paid = mint.spend(ledger.as_ref(), &r, 1, "r1").unwrap();
    assert_eq!((paid.children[0].balance, paid.credit), (70 - 1 + 24, 24));
    let next = paid.children[0].token.clone();
    assert_eq!(ledger.info(&nonce(&next)).wait().unwrap().credit_owed, 0);
    let again = mint.spend(ledger.as_ref(), &r, 1, "r1").unwrap();
    assert!(again.replayed);
    assert_eq!(again.children[0].token, paid.children[0].token, "a retry rebuilds the successor with its credit");
    let paid = mint.spend(ledger.as_ref(), &next, 1, "r2").unwrap();
    assert_eq!((paid.children[0].balance, paid.credit), (92, 0));
}

/// What a delegate paid away by a transfer (a merchant's payment) stays paid when its
/// delegation is revoked; what it delegated in turn is revoked with it.
pub fn a_payment_out_of_a_delegation_is_not_revoked_with_it(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let a = mint.token(100);
    let split = mint.delegate(ledger.as_ref(), &a, &[30]);
    let (d, r) = (split.children[0].token.clone(), split.children[1].token.clone());
    let paid = mint.split(ledger.as_ref(), &d, &[20]);
    let (merchant, d2) = (paid.children[0].token.clone(), paid.children[1].token.clone());
    let sub = mint.delegate(ledger.as_ref(), &d2, &[4]);
    let (grandchild, d3) = (sub.children[0].token.clone(), sub.children[1].token.clone());
    assert_eq!(
        returned(ledger.revoke_delegation(&nonce(&r), &nonce(&d), "now").wait().unwrap()),
        10,
        "6 + 4, not the 20 paid"
    );
    assert_eq!(code(mint.spend(ledger.as_ref(), &d3, 1, "x")), "revoked");
    assert_eq!(code(mint.spend(ledger.as_ref(), &grandchild, 1, "y")), "revoked", "its own delegation goes too");
    let kept = mint.spend(ledger.as_ref(), &merchant, 20, "m").unwrap();
    assert_eq!(kept.children[0].balance, 0, "the merchant's 20 is the merchant's");
}

/// A child cannot revoke its parent or its siblings; a transfer and the change are never
/// revocable; another tree's token, a spent token of the lineage and an unknown nonce get
/// nothing.
pub fn only_the_delegating_lineage_revokes_and_only_delegations(backend: &dyn Backend) {
    use crate::ledger::DelegationRevoke::*;
    let (mint, ledger) = (Mint::new(), backend.open());
    let a = mint.token(100);
    let delegated = mint.delegate(ledger.as_ref(), &a, &[10, 10]);
    let (d, sibling, r) = (&delegated.children[0], &delegated.children[1], &delegated.children[2]);
    let transfer = mint.split(ledger.as_ref(), &r.token, &[5]);
    let (t, r2) = (&transfer.children[0], &transfer.children[1]);
    let l = ledger.as_ref();
    assert_eq!(l.revoke_delegation(&nonce(&r2.token), &t.nonce, "now").wait().unwrap(), NotRevocable, "a transfer");
    assert_eq!(l.revoke_delegation(&nonce(&r2.token), &r.nonce, "now").wait().unwrap(), NotRevocable, "own change");
    assert_eq!(l.revoke_delegation(&d.nonce, &sibling.nonce, "now").wait().unwrap(), NotYours, "a sibling");
    assert_eq!(l.revoke_delegation(&d.nonce, &r.nonce, "now").wait().unwrap(), NotYours, "the parent's change");
    assert_eq!(l.revoke_delegation(&d.nonce, &nonce(&a), "now").wait().unwrap(), NotYours, "the parent");
    assert_eq!(l.revoke_delegation(&d.nonce, &Nonce([3; 16]), "now").wait().unwrap(), NotYours, "unknown");
    let other = mint.token(10);
    assert_eq!(l.revoke_delegation(&nonce(&other), &d.nonce, "now").wait().unwrap(), NotYours, "another tree");
    assert_eq!(
        l.revoke_delegation(&r.nonce, &d.nonce, "now").wait().unwrap(),
        HolderNotLive { revoked: false },
        "a spent token of the lineage"
    );
    // Nothing moved: every balance is where it was.
    assert!(l.status(&d.nonce).wait().unwrap().revoked_at.is_none());
    assert_eq!(l.info(&nonce(&r2.token)).wait().unwrap().credit_owed, 0);
    // The current token of the lineage revokes a delegation made before a later split.
    assert_eq!(returned(l.revoke_delegation(&nonce(&r2.token), &sibling.nonce, "now").wait().unwrap()), 10);
    assert_eq!(returned(l.revoke_delegation(&nonce(&r2.token), &d.nonce, "now").wait().unwrap()), 10);
    // A revoked holder revokes nothing.
    l.revoke(&nonce(&r2.token), false, "now").wait().unwrap();
    assert_eq!(
        l.revoke_delegation(&nonce(&r2.token), &d.nonce, "now").wait().unwrap(),
        HolderNotLive { revoked: true }
    );
}

/// A child gives its balance back to the lineage it came from: once, idempotent by request id,
/// and a delegator revoking afterwards gets nothing more; a minted token has nowhere to give.
pub fn a_give_back_returns_credit_once(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let a = mint.token(50);
    let split = mint.delegate(ledger.as_ref(), &a, &[20]);
    let (d, r) = (split.children[0].token.clone(), split.children[1].token.clone());
    let d2 = mint.spend(ledger.as_ref(), &d, 5, "d1").unwrap().children[0].token.clone();
    let gave = mint.give_back(ledger.as_ref(), &d2, "gb-1").unwrap();
    assert_eq!((gave.returned, gave.replayed), (15, false));
    let again = mint.give_back(ledger.as_ref(), &d2, "gb-1").unwrap();
    assert_eq!((again.returned, again.replayed), (15, true), "a retry is answered the same");
    assert!(
        matches!(mint.give_back(ledger.as_ref(), &d2, "gb-2"), Err(Error::Denied(d)) if d.code.as_str() == "spent")
    );
    assert_eq!(code(mint.spend(ledger.as_ref(), &d2, 1, "after")), "spent");
    assert_eq!(ledger.info(&nonce(&r)).wait().unwrap().credit_owed, 15);
    // The delegator revokes after the give-back: nothing is live below, nothing more returns.
    assert_eq!(returned(ledger.revoke_delegation(&nonce(&r), &nonce(&d), "now").wait().unwrap()), 0);
    assert_eq!(ledger.info(&nonce(&r)).wait().unwrap().credit_owed, 15);
    // A revoked child cannot give back.
    let split = mint.delegate(ledger.as_ref(), &r, &[5]);
    let (e, r2) = (split.children[0].token.clone(), split.children[1].token.clone());
    assert_eq!(split.credit, 15, "the split took the credit in");
    assert_eq!(split.children[1].balance, 30 - 5 + 15);
    assert_eq!(returned(ledger.revoke_delegation(&nonce(&r2), &nonce(&e), "now").wait().unwrap()), 5);
    assert!(
        matches!(mint.give_back(ledger.as_ref(), &e, "gb-e"), Err(Error::Denied(d)) if d.code.as_str() == "revoked")
    );
    assert_eq!(ledger.info(&nonce(&r2)).wait().unwrap().credit_owed, 5);
    // A minted token's lineage came from no one.
    let root = mint.token(9);
    let refused = mint.give_back(ledger.as_ref(), &root, "gb-root");
    assert!(matches!(refused, Err(Error::Denied(d)) if d.code.as_str() == "not-delegated"));
    let spent_root = mint.spend(ledger.as_ref(), &root, 1, "x").unwrap().children[0].token.clone();
    let refused = mint.give_back(ledger.as_ref(), &spent_root, "gb-root2");
    assert!(matches!(refused, Err(Error::Denied(d)) if d.code.as_str() == "not-delegated"));
    // A transfer child may give back too: the credit goes to its splitter's lineage.
    let t = mint.split(ledger.as_ref(), &r2, &[4]);
    assert_eq!(t.credit, 5);
    assert_eq!(mint.give_back(ledger.as_ref(), &t.children[0].token, "gb-t").unwrap().returned, 4);
    assert_eq!(ledger.info(&t.children[1].nonce).wait().unwrap().credit_owed, 4);
}

/// Give-backs, revocations and the splitter's spends racing on several handles: every unit
/// is accounted for exactly once (taken in by a successor, or still owed).
pub fn returned_credit_is_taken_exactly_once_under_races(backend: &dyn Backend) {
    let (mint, ledger) = (Arc::new(Mint::new()), backend.open());
    let a = mint.token(100);
    let split = mint.delegate(ledger.as_ref(), &a, &[10; 8]);
    let children: Vec<Macaroon> = split.children[..8].iter().map(|c| c.token.clone()).collect();
    let mut current = split.children[8].token.clone();
    assert_eq!(split.children[8].balance, 20);
    let mut workers = Vec::new();
    for (i, child) in children.iter().enumerate() {
        let (mint, ledger, child) = (mint.clone(), backend.open(), child.clone());
        let holder = nonce(&current);
        workers.push(std::thread::spawn(move || {
            if i % 2 == 0 {
                mint.give_back(ledger.as_ref(), &child, &format!("gb-{i}")).unwrap().returned
            } else {
                // The splitter's lineage may have moved on: the revocation names its first
                // remainder, which may be spent by then (then nothing is revoked here).
                match ledger.revoke_delegation(&holder, &nonce(&child), "now").wait().unwrap() {
                    crate::ledger::DelegationRevoke::Revoked { returned, .. } => returned,
                    _ => 0,
                }
            }
        }));
    }
    let mut taken = 0;
    let mut spent = 0;
    for i in 0..8 {
        let receipt = mint.spend(ledger.as_ref(), &current, 1, &format!("r{i}")).unwrap();
        taken += receipt.credit;
        spent += 1;
        current = receipt.children[0].token.clone();
    }
    let moved: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let owed = ledger.info(&nonce(&current)).wait().unwrap().credit_owed;
    assert_eq!(taken + owed, moved, "credit taken in plus credit owed is what came back");
    let live = crate::verify::balance_of(&current).unwrap();
    // What never came back: the children whose revocation found the holder spent.
    let stranded: u64 = children
        .iter()
        .map(|c| ledger.status(&nonce(c)).wait().unwrap())
        .filter(|s| s.spent.is_none() && s.revoked_at.is_none())
        .count() as u64
        * 10;
    assert_eq!(live + spent + owed + stranded, 100, "live {live}, spent {spent}, owed {owed}, stranded {stranded}");
}

/// A hold in flight on a delegation when it is revoked: the revocation returns its whole
/// balance and the settle writes nothing (the request is not charged).
pub fn a_hold_on_a_revoked_delegation_settles_nothing(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let a = mint.token(40);
    let split = mint.delegate(ledger.as_ref(), &a, &[15]);
    let (d, r) = (split.children[0].token.clone(), split.children[1].token.clone());
    let verified = mint.verified(&d);
    let ticket = held(
        ledger.reserve(&Reservation::new(&verified, "req", NOW, Duration::from_secs(60)).unwrap()).wait().unwrap(),
    );
    assert_eq!(returned(ledger.revoke_delegation(&nonce(&r), &nonce(&d), "now").wait().unwrap()), 15);
    let settled = ledger.settle(&ticket, &commit_of(nonce(&d), "req", Nonce([4; 16]), 12)).wait().unwrap();
    assert_eq!(settled, CommitOutcome::Revoked("now".into()));
    assert!(ledger.status(&Nonce([4; 16])).wait().unwrap().spent.is_none());
    assert_eq!(ledger.info(&nonce(&r)).wait().unwrap().credit_owed, 15);
}

/// The ledger records which child is the change and the head of each lineage: the holder's
/// view of a live token starts at the token it was handed.
pub fn the_holder_view_starts_at_the_token_it_was_handed(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let a = mint.token(100);
    let s1 = mint.split(ledger.as_ref(), &a, &[10]);
    let b = s1.children[0].token.clone();
    let a2 = mint.spend(ledger.as_ref(), &s1.children[1].token, 5, "a").unwrap().children[0].token.clone();
    let b2 = mint.spend(ledger.as_ref(), &b, 1, "b").unwrap().children[0].token.clone();
    let info = ledger.info(&nonce(&a2)).wait().unwrap();
    assert_eq!((info.head, info.change), (Some(nonce(&a)), true));
    let info = ledger.info(&nonce(&b2)).wait().unwrap();
    assert_eq!((info.head, info.change), (Some(nonce(&b)), true));
    let info = ledger.info(&nonce(&b)).wait().unwrap();
    assert_eq!((info.head, info.change, info.parent), (Some(nonce(&b)), false, Some(nonce(&a))));
    let tree = ledger.lineage(&nonce(&a), 100, Scope::Descendants).wait().unwrap();
    let changes: Vec<bool> = tree.nodes.iter().map(|n| n.change).collect();
    assert_eq!(tree.nodes.len(), 5);
    assert_eq!(changes.iter().filter(|c| **c).count(), 3, "the remainder and two successors: {changes:?}");
}

/// A delegate's own delegate gives back after the delegate already gave back (its lineage is
/// finished): the credit goes on to where the delegate gave back, never stranded.
pub fn credit_given_back_to_a_finished_lineage_goes_on_up(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let a = mint.token(60);
    let first = mint.delegate(ledger.as_ref(), &a, &[30]);
    let (b, a1) = (first.children[0].token.clone(), first.children[1].token.clone());
    let second = mint.delegate(ledger.as_ref(), &b, &[10]);
    let (c, b1) = (second.children[0].token.clone(), second.children[1].token.clone());
    assert_eq!(mint.give_back(ledger.as_ref(), &b1, "b-done").unwrap().returned, 20);
    assert_eq!(ledger.info(&nonce(&a1)).wait().unwrap().credit_owed, 20);
    let c1 = mint.spend(ledger.as_ref(), &c, 4, "c1").unwrap().children[0].token.clone();
    assert_eq!(mint.give_back(ledger.as_ref(), &c1, "c-done").unwrap().returned, 6);
    assert_eq!(ledger.info(&nonce(&a1)).wait().unwrap().credit_owed, 26, "B's lineage is finished: on to A's");
    assert_eq!(ledger.info(&nonce(&b)).wait().unwrap().credit_owed, 0);
    let paid = mint.spend(ledger.as_ref(), &a1, 1, "a1").unwrap();
    assert_eq!((paid.children[0].balance, paid.credit), (30 - 1 + 26, 26));
}

/// A metered request's settle takes the
/// credit returned to its lineage into the successor, once; its retry answers the same.
pub fn a_metered_settle_takes_returned_credit_in(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
    let a = mint.token(50);
    let split = mint.delegate(ledger.as_ref(), &a, &[10]);
    let (d, r) = (split.children[0].token.clone(), split.children[1].token.clone());
    assert_eq!(returned(ledger.revoke_delegation(&nonce(&r), &nonce(&d), "now").wait().unwrap()), 10);
    let mut ctx = Context::now();
    ctx.cost = 5;
    let ttl = Duration::from_secs(30);
    let Ok(crate::charge::Held::Fresh(held)) = issuer.hold(r.clone().into(), &ctx, "key:m:1", ttl).wait() else {
        panic!("a fresh token is held")
    };
    let receipt = issuer.settle(held, 5).wait().unwrap();
    assert_eq!((receipt.cost, receipt.credit, receipt.children[0].balance), (5, 10, 40 - 5 + 10));
    assert_eq!(ledger.info(&receipt.children[0].nonce).wait().unwrap().credit_owed, 0);
    let Ok(crate::charge::Held::Answered(again)) = issuer.hold(r.into(), &ctx, "key:m:1", ttl).wait() else {
        panic!("a retry is answered")
    };
    assert_eq!(again.children[0].token, receipt.children[0].token);
}

/// The denial's code and `Retry-After` of a refused spend.
fn refusal(result: Result<crate::spend::Receipt, Error>) -> (&'static str, Option<u64>) {
    match result {
        Err(Error::Denied(d)) => (d.code.as_str(), d.retry_after),
        Err(e) => panic!("not a denial: {e}"),
        Ok(r) => panic!("allowed: cost {}", r.cost),
    }
}

/// `spend-rate <= 10/1h` with a fixed clock: spends up to the window pass, the next is refused
/// with the seconds until enough leaves it, and passes once that much has.
pub fn a_spend_rate_window_refuses_until_credit_frees_up(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token_with(1000, &["spend-rate <= 10/1h"]);
    let a = mint.spend_at(ledger.as_ref(), &token, 4, NOW).unwrap();
    let b = mint.spend_at(ledger.as_ref(), &a.children[0].token, 4, NOW + 100).unwrap();
    let c = b.children[0].token.clone();
    assert_eq!(refusal(mint.spend_at(ledger.as_ref(), &c, 3, NOW + 200)), ("spend-rate-exceeded", Some(3400)));
    // More than the window ever holds: refused for good, not told to wait.
    assert_eq!(refusal(mint.spend_at(ledger.as_ref(), &c, 11, NOW + 200)), ("caveat-failed", None));
    let windows = crate::ledger::window::windows_of(&c);
    assert_eq!(ledger.window_use(&nonce(&c), &windows, NOW + 200).wait().unwrap(), vec![8]);
    // The refused token is still live: a refusal writes nothing.
    let two = mint.spend_at(ledger.as_ref(), &c, 2, NOW + 200).unwrap();
    let d = two.children[0].token.clone();
    assert_eq!(refusal(mint.spend_at(ledger.as_ref(), &d, 1, NOW + 3599)), ("spend-rate-exceeded", Some(1)));
    let e = mint.spend_at(ledger.as_ref(), &d, 4, NOW + 3600).unwrap();
    assert_eq!(e.children[0].balance, 1000 - 14);
    assert_eq!(ledger.window_use(&nonce(&e.children[0].token), &windows, NOW + 3600).wait().unwrap(), vec![10]);
}

/// A split child's spends count against its parent's window; a child's own tighter window
/// stops it first; a looser window added later lifts nothing; the same caveat in another tree
/// is another window.
pub fn a_window_covers_the_tree_and_only_narrows(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token_with(1000, &["spend-rate <= 10/1h"]);
    let split = mint.split_at(ledger.as_ref(), &token, &[100, 100], NOW);
    let (first, second, rest) =
        (split.children[0].token.clone(), split.children[1].token.clone(), split.children[2].token.clone());
    let mut tight = first.clone();
    tight.add_first_party(b"spend-rate <= 2/1h".to_vec());
    let t1 = mint.spend_at(ledger.as_ref(), &tight, 2, NOW + 10).unwrap();
    let (code, retry) = refusal(mint.spend_at(ledger.as_ref(), &t1.children[0].token, 1, NOW + 20));
    assert_eq!((code, retry), ("spend-rate-exceeded", Some(3590)), "the child's own window stops it first");
    let mut loose = second.clone();
    loose.add_first_party(b"spend-rate <= 1000/1h".to_vec());
    let l1 = mint.spend_at(ledger.as_ref(), &loose, 7, NOW + 30).unwrap();
    assert_eq!(
        refusal(mint.spend_at(ledger.as_ref(), &l1.children[0].token, 2, NOW + 40)).0,
        "spend-rate-exceeded",
        "the parent's window holds 9 of 10: a looser window lifts nothing"
    );
    let r1 = mint.spend_at(ledger.as_ref(), &rest, 1, NOW + 50).unwrap();
    assert_eq!(refusal(mint.spend_at(ledger.as_ref(), &r1.children[0].token, 1, NOW + 60)).0, "spend-rate-exceeded");
    // Another tree with the same caveat at the same place: its own window.
    let other = mint.token_with(1000, &["spend-rate <= 10/1h"]);
    mint.spend_at(ledger.as_ref(), &other, 10, NOW + 70).unwrap();
}

/// 64 spenders at once, each on its own child of one tree (half spending in one step, half
/// holding 2 and settling 1, as the proxy does), each through its own handle (another
/// replica): the window's limit is never exceeded.
pub fn concurrent_spenders_never_exceed_a_window(backend: &dyn Backend) {
    let mint = Arc::new(Mint::new());
    let ledger = backend.open();
    let token = mint.token_with(100_000, &["spend-rate <= 20/1h"]);
    let mut children = Vec::new();
    let mut rest = token;
    for _ in 0..4 {
        let split = mint.split_at(ledger.as_ref(), &rest, &[100; 16], NOW);
        children.extend(split.children[..16].iter().map(|c| c.token.clone()));
        rest = split.children[16].token.clone();
    }
    let charged: Vec<u64> = std::thread::scope(|scope| {
        let handles: Vec<_> = children
            .iter()
            .enumerate()
            .map(|(i, child)| {
                let (mint, ledger) = (&mint, backend.open());
                scope.spawn(move || {
                    let mut token = child.clone();
                    let mut charged = 0;
                    for round in 0..2 {
                        let now = NOW + 1 + round;
                        if i % 2 == 0 {
                            match mint.spend_at(ledger.as_ref(), &token, 1, now) {
                                Ok(r) => {
                                    charged += 1;
                                    token = r.children[0].token.clone();
                                }
                                Err(e) => assert_eq!(crate::outcome::Classified::code(&e), "spend-rate-exceeded"),
                            }
                        } else {
                            let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
                            let mut ctx = Context::at(time::OffsetDateTime::from_unix_timestamp(now).unwrap());
                            ctx.cost = 2;
                            let id = format!("hold-{i}-{round}");
                            match issuer.hold(token.clone().into(), &ctx, &id, Duration::from_secs(30)).wait() {
                                Ok(crate::charge::Held::Fresh(held)) => {
                                    let r = issuer.settle(held, 1).wait().unwrap();
                                    charged += 1;
                                    token = r.children[0].token.clone();
                                }
                                Ok(_) => panic!("a fresh hold was answered"),
                                Err(e) => assert_eq!(crate::outcome::Classified::code(&e), "spend-rate-exceeded"),
                            }
                        }
                    }
                    charged
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: u64 = charged.iter().sum();
    assert!(total <= 20, "the window allows 20, {total} were charged");
    assert!(total >= 10, "holds of 2 settled at 1 leave at least half the window used: {total}");
    let windows = crate::ledger::window::windows_of(&rest);
    assert_eq!(ledger.window_use(&nonce(&rest), &windows, NOW + 5).wait().unwrap(), vec![total]);
}

fn top_up(nonce: Nonce, amount: u64, id: &str) -> crate::ledger::TopUp {
    crate::ledger::TopUp { nonce, amount, request_id: id.into(), at: "2026-11-30T00:00:00Z".into() }
}

/// A top-up named by the minted token's nonce reaches the lineage's next successor (its
/// current token, spends later), exactly once: a replayed request id adds nothing, one reused
/// for another amount is refused, 16 replicas racing one id add it once, a revoked token is
/// refused, and what a lineage is owed never passes MAX_AMOUNT.
pub fn a_top_up_reaches_the_next_successor_once(backend: &dyn Backend) {
    use crate::ledger::ToppedUp;
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token(10);
    let first = mint.spend(ledger.as_ref(), &token, 1, "s1").unwrap();
    let root = nonce(&token);
    let outcomes: Vec<ToppedUp> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let ledger = backend.open();
                scope.spawn(move || ledger.top_up(&top_up(root, 50, "t1")).wait().unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|o| matches!(o, ToppedUp::Fresh { .. })).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, ToppedUp::Fresh { .. } | ToppedUp::Replayed { .. })), "{outcomes:?}");
    assert_eq!(ledger.top_up(&top_up(root, 50, "t1")).wait().unwrap(), ToppedUp::Replayed { head: root });
    assert_eq!(ledger.top_up(&top_up(root, 51, "t1")).wait().unwrap(), ToppedUp::RequestIdReused);
    let current = first.children[0].token.clone();
    assert_eq!(ledger.info(&nonce(&current)).wait().unwrap().credit_owed, 50);
    let next = mint.spend(ledger.as_ref(), &current, 1, "s2").unwrap();
    assert_eq!((next.children[0].balance, next.credit), (58, 50), "the successor carries the top-up");
    let after = mint.spend(ledger.as_ref(), &next.children[0].token, 1, "s3").unwrap();
    assert_eq!((after.children[0].balance, after.credit), (57, 0), "taken in once");
    assert_eq!(ledger.info(&nonce(&after.children[0].token)).wait().unwrap().topped_up, 50);
    let tree = ledger.lineage(&root, 100, Scope::WholeTree).wait().unwrap();
    assert_eq!((tree.nodes[0].nonce, tree.nodes[0].topped_up, tree.nodes[0].credit), (root, 50, 0), "shown in lineage");
    // A spent token's lineage goes on: a top-up named by it reaches the current token.
    assert!(matches!(
        ledger.top_up(&top_up(nonce(&current), 5, "t2")).wait().unwrap(),
        ToppedUp::Fresh { owed: 5, .. }
    ));
    // Revoked: refused.
    let revoked = mint.token(10);
    ledger.revoke(&nonce(&revoked), false, "now").wait().unwrap();
    assert_eq!(ledger.top_up(&top_up(nonce(&revoked), 5, "t3")).wait().unwrap(), ToppedUp::Revoked);
    // Never more than a balance may hold.
    let big = nonce(&mint.token(1));
    assert!(matches!(
        ledger.top_up(&top_up(big, crate::limits::MAX_AMOUNT, "t4")).wait().unwrap(),
        ToppedUp::Fresh { .. }
    ));
    assert_eq!(
        ledger.top_up(&top_up(big, 1, "t5")).wait().unwrap(),
        ToppedUp::TooMuch { owed: crate::limits::MAX_AMOUNT }
    );
}

/// Credit that would carry a successor past MAX_AMOUNT is taken in only as far as it fits and
/// the rest stays owed, by a spend and by a settle: neither fails for it (a failed settle would
/// leave an answered request unpaid), and no credit is lost. What a lineage was topped up
/// with in all saturates at MAX_AMOUNT instead of overflowing.
pub fn credit_past_the_largest_balance_stays_owed(backend: &dyn Backend) {
    use crate::limits::MAX_AMOUNT;
    let (mint, ledger) = (Mint::new(), backend.open());
    let token = mint.token(100);
    ledger.top_up(&top_up(nonce(&token), MAX_AMOUNT, "big")).wait().unwrap();
    let first = mint.spend(ledger.as_ref(), &token, 1, "s1").unwrap();
    assert_eq!((first.children[0].balance, first.credit), (MAX_AMOUNT, MAX_AMOUNT - 99));
    let current = first.children[0].token.clone();
    assert_eq!(ledger.info(&nonce(&current)).wait().unwrap().credit_owed, 99, "the rest stays owed");
    // A settle of 10 takes in the 10 that now fit.
    let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
    let mut ctx = Context::now();
    ctx.cost = 20;
    let held = match issuer.hold(current.into(), &ctx, "h1", Duration::from_secs(30)).wait().unwrap() {
        crate::charge::Held::Fresh(held) => held,
        _ => panic!("a fresh hold was answered"),
    };
    let settled = issuer.settle(held, 10).wait().unwrap();
    assert_eq!((settled.children[0].balance, settled.credit), (MAX_AMOUNT, 10));
    let current = settled.children[0].token.clone();
    assert_eq!(ledger.info(&nonce(&current)).wait().unwrap().credit_owed, 89);
    // A split takes in what fits beside its remainder.
    let split = mint.split(ledger.as_ref(), &current, &[MAX_AMOUNT - 50]);
    assert_eq!(split.children.iter().map(|c| c.balance).collect::<Vec<_>>(), vec![MAX_AMOUNT - 50, 50 + 89]);
    assert_eq!(ledger.info(&nonce(&split.children[1].token)).wait().unwrap().credit_owed, 0);
    // The total topped up saturates.
    ledger.top_up(&top_up(nonce(&token), MAX_AMOUNT, "big2")).wait().unwrap();
    let info = ledger.info(&nonce(&split.children[1].token)).wait().unwrap();
    assert_eq!((info.topped_up, info.credit_owed), (MAX_AMOUNT, MAX_AMOUNT));
}

/// A request priced 30, `secs` after [`NOW`].
fn priced_at_30(secs: i64) -> Context {
    let mut ctx = Context::at(time::OffsetDateTime::from_unix_timestamp(NOW + secs).unwrap());
    ctx.cost = 30;
    ctx
}

/// Holds `token` at [`NOW`] for a proxied request priced 30, and drops the hold: its gateway
/// died with the request at the upstream, never to settle it.
fn hold_and_die(issuer: &crate::Issuer, token: &Macaroon, request_id: &str) {
    match issuer.hold(token.clone().into(), &priced_at_30(0), request_id, Duration::from_secs(30)).wait().unwrap() {
        crate::charge::Held::Fresh(hold) => drop(hold),
        _ => panic!("a fresh hold was answered"),
    }
}

/// A hold that lapses unsettled (its gateway died with the request at the upstream) is not a
/// free request: the next use of the token records it as settled at the price held, another
/// spend of the token is refused `spent`, and the request retried with its id gets the
/// successor at the balance less the price. A give-back finds it spent too.
pub fn a_lapsed_hold_is_charged_its_price_not_freed(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
    let at = priced_at_30;
    let token = mint.token_with(100, &["spend-rate <= 1000/1h"]);
    hold_and_die(&issuer, &token, "gw-1");
    // Within the hold: in flight.
    let refused = mint.spend_at(ledger.as_ref(), &token, 5, NOW + 10).unwrap_err();
    assert_eq!(crate::outcome::Classified::code(&refused), "in-flight");
    // Lapsed: another spend is refused, the token was spent by the lapsed request.
    let refused = mint.spend_at(ledger.as_ref(), &token, 5, NOW + 60).unwrap_err();
    assert_eq!(crate::outcome::Classified::code(&refused), "spent");
    // Its own request, retried, gets the successor at 100 - 30.
    match issuer.hold(token.clone().into(), &at(61), "gw-1", Duration::from_secs(30)).wait().unwrap() {
        crate::charge::Held::Answered(receipt) => {
            assert_eq!((receipt.cost, receipt.children[0].balance, receipt.replayed), (30, 70, true));
            let next = mint.spend_at(ledger.as_ref(), &receipt.children[0].token, 5, NOW + 62).unwrap();
            assert_eq!(next.children[0].balance, 65, "the successor is live and spends");
        }
        _ => panic!("the lapsed request was not recorded"),
    }
    // The window counted the price once.
    let windows = crate::ledger::window::windows_of(&token);
    assert_eq!(ledger.window_use(&nonce(&token), &windows, NOW + 63).wait().unwrap(), vec![35]);
    // A lapsed hold found by a give-back: spent as well.
    let other = mint.token(50);
    hold_and_die(&issuer, &other, "gw-2");
    let g = crate::ledger::GiveBack {
        parent: nonce(&other),
        request_id: "give".into(),
        at: "2026-11-30T00:00:00Z".into(),
        now: NOW + 60,
        presented: [0; 32],
    };
    assert!(matches!(ledger.give_back(&g).wait().unwrap(), crate::ledger::GaveBack::AlreadySpent(_)));
}

/// A token whose proxied hold lapsed (its gateway died with the request at the upstream) reads
/// in `status` as what its next use will find: spent by that request, at the price held, its
/// successor recoverable; while the hold lasts it reads `held`. A plain hold that lapsed frees
/// the token and records nothing (review 8: status showed the token live with its whole
/// balance until its next use).
pub fn a_lapsed_hold_reads_as_charged_in_status(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
    let at = priced_at_30;
    let token = mint.token(100);
    hold_and_die(&issuer, &token, "gw-1");
    let during = issuer.status(&token.clone().into(), &at(10)).wait().unwrap();
    assert_eq!((during.state, during.balance), ("held", Some(100)));
    let after = issuer.status(&token.clone().into(), &at(60)).wait().unwrap();
    assert_eq!((after.state, after.balance, after.successor_known), ("spent", None, true));
    let spent = ledger.status(&nonce(&token)).wait().unwrap().spent.expect("recorded");
    assert_eq!((spent.cost, spent.request_id.as_str()), (30, "gw-1"));
    // Recorded once: the request retried with its id gets the successor at 70.
    match issuer.hold(token.clone().into(), &at(61), "gw-1", Duration::from_secs(30)).wait().unwrap() {
        crate::charge::Held::Answered(receipt) => assert_eq!(receipt.children[0].balance, 70),
        _ => panic!("the lapsed request was not answered again"),
    }
    assert!(!ledger.record_lapsed(&nonce(&token), NOW + 62).wait().unwrap(), "recorded twice");
    // A plain hold (a one-step spend's, no request forwarded) that lapsed records nothing.
    let plain = mint.token(10);
    let verified = mint.verified(&plain);
    held(ledger.reserve(&Reservation::new(&verified, "r", NOW, Duration::from_secs(30)).unwrap()).wait().unwrap());
    assert!(!ledger.record_lapsed(&nonce(&plain), NOW + 60).wait().unwrap());
    assert!(ledger.status(&nonce(&plain)).wait().unwrap().spent.is_none());
}

/// A delegation revoked while its token is held for a proxied request: the price held is kept
/// back (the request may be served). Its settle, which comes once the upstream answered,
/// charges what the request cost (no successor: the token is revoked) and hands the rest of the
/// price held to the revoking holder's lineage, once; the refusal still says `revoked`. After an
/// operator's revocation the charge is recorded too, and nothing comes back (it ends the
/// balance). Credit is conserved: live + charged + owed is what was split.
pub fn a_revoked_delegation_keeps_back_what_is_held(backend: &dyn Backend) {
    let (mint, ledger) = (Mint::new(), backend.open());
    let issuer = crate::Issuer::new(mint.keys.clone(), ledger.clone());
    let token = mint.token(100);
    let split = mint.delegate(ledger.as_ref(), &token, &[60]);
    let (child, remainder) = (split.children[0].token.clone(), split.children[1].token.clone());
    let mut ctx = Context::now();
    ctx.cost = 50;
    let hold = match issuer.hold(child.clone().into(), &ctx, "gw-1", Duration::from_secs(30)).wait().unwrap() {
        crate::charge::Held::Fresh(hold) => hold,
        _ => panic!("a fresh hold was answered"),
    };
    let returned = match ledger.revoke_delegation(&nonce(&remainder), &nonce(&child), "now").wait().unwrap() {
        crate::ledger::DelegationRevoke::Revoked { returned, .. } => returned,
        other => panic!("not revoked: {other:?}"),
    };
    assert_eq!(returned, 10, "60 less the 50 held");
    // The upstream answered; the request used 20 of the 50 held.
    let refused = issuer.settle(hold, 20).wait().unwrap_err();
    assert_eq!(crate::outcome::Classified::code(&refused), "revoked");
    let spent = ledger.status(&nonce(&child)).wait().unwrap().spent.expect("the served request is recorded");
    assert_eq!((spent.cost, spent.request_id.as_str()), (20, "gw-1"));
    assert_eq!(ledger.info(&nonce(&remainder)).wait().unwrap().credit_owed, 10 + 30, "the unused 30 came back");
    // 40 live in the remainder + 20 charged + 40 owed to its lineage = 100.
    // An operator's revocation: the charge is recorded, nothing comes back.
    let other = mint.token(100);
    let hold = match issuer.hold(other.clone().into(), &ctx, "gw-2", Duration::from_secs(30)).wait().unwrap() {
        crate::charge::Held::Fresh(hold) => hold,
        _ => panic!("a fresh hold was answered"),
    };
    ledger.revoke(&nonce(&other), false, "now").wait().unwrap();
    let refused = issuer.settle(hold, 50).wait().unwrap_err();
    assert_eq!(crate::outcome::Classified::code(&refused), "revoked");
    assert_eq!(ledger.status(&nonce(&other)).wait().unwrap().spent.map(|s| s.cost), Some(50));
    assert_eq!(ledger.info(&nonce(&other)).wait().unwrap().credit_owed, 0);
}
