//! The ledger conformance suite (`crumb::ledger::conformance`, exported with the
//! `test-support` feature so that a backend in another crate runs it too), run here on every
//! backend crumb has: SQLite, SQLite with group commit, and PostgreSQL, one #[test] each.

use crate::common;

use common::backends::Backend;
use crumb::ledger::conformance as suite;
use std::sync::Arc;
use std::time::Duration;

impl suite::Backend for Backend {
    fn open(&self) -> Arc<dyn crumb::ledger::Ledger> {
        Backend::open(self)
    }
}

macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            use crumb::ledger::conformance as suite;
            $( #[test] fn $test() { suite::$test(&super::Backend::sqlite()) } )*
        }
        mod sqlite_group_commit {
            use crumb::ledger::conformance as suite;
            $( #[test] fn $test() { suite::$test(&super::Backend::sqlite_grouped()) } )*
        }
        mod threaded {
            use crumb::ledger::conformance as suite;
            $( #[test] fn $test() { suite::$test(&super::Backend::threaded()) } )*
        }
        mod postgres {
            use crumb::ledger::conformance as suite;
            $( #[test] fn $test() { if let Some(b) = super::Backend::postgres() { suite::$test(&b) } } )*
        }
    };
}

conformance!(
    replays_return_the_same_successor_only_to_the_same_request,
    one_token_spent_by_many_at_once_succeeds_once,
    many_tokens_spent_at_once_all_succeed,
    revocation_cascades_over_spends_and_splits,
    lineage_shows_the_tree_to_its_owner_and_a_branch_to_its_holder,
    a_reserved_token_is_held_until_settled_or_released,
    a_stale_reservation_expires,
    revocation_wins_over_a_token_in_flight,
    an_unknown_nonce_is_live,
    a_hold_and_settle_answer_as_recorded,
    a_dropped_hold_leaves_no_hold_behind,
    a_settle_charges_any_cost_up_to_the_hold,
    a_revoked_delegation_returns_its_unspent_balance_once,
    only_the_delegating_lineage_revokes_and_only_delegations,
    a_give_back_returns_credit_once,
    returned_credit_is_taken_exactly_once_under_races,
    a_hold_on_a_revoked_delegation_settles_nothing,
    the_holder_view_starts_at_the_token_it_was_handed,
    credit_given_back_to_a_finished_lineage_goes_on_up,
    a_metered_settle_takes_returned_credit_in,
    a_payment_out_of_a_delegation_is_not_revoked_with_it,
    a_spend_rate_window_refuses_until_credit_frees_up,
    a_window_covers_the_tree_and_only_narrows,
    concurrent_spenders_never_exceed_a_window,
    a_top_up_reaches_the_next_successor_once,
    credit_past_the_largest_balance_stays_owed,
    a_lapsed_hold_is_charged_its_price_not_freed,
    a_lapsed_hold_reads_as_charged_in_status,
    a_revoked_delegation_keeps_back_what_is_held,
);

#[test]
fn a_postgres_schema_newer_than_crumb_is_refused() {
    let Some(backend) = Backend::postgres() else { return };
    drop(backend.open());
    let mut client = ::postgres::Client::connect(backend.location(), ::postgres::NoTls).unwrap();
    client.batch_execute("UPDATE crumb_schema SET version = 99").unwrap();
    let refused = crumb::ledger::open(backend.location(), crumb::ledger::OpenOptions::READ_WRITE).unwrap_err();
    assert_eq!(refused.kind(), crumb::ledger::LedgerErrorKind::SchemaTooNew, "{refused}");
    assert!(!refused.to_string().contains("password"), "{refused}");
}

#[test]
fn an_unreachable_postgres_is_unavailable_not_a_hang() {
    let started = std::time::Instant::now();
    // Nothing listens on port 1 of loopback: refused at once, retried briefly, then reported.
    let refused =
        crumb::ledger::open("postgres://crumb:secret@127.0.0.1:1/none", crumb::ledger::OpenOptions::READ_WRITE)
            .unwrap_err();
    assert_eq!(refused.kind(), crumb::ledger::LedgerErrorKind::Unavailable, "{refused}");
    let text = refused.to_string();
    assert!(text.contains("postgres://crumb:***@127.0.0.1:1/none") && !text.contains("secret"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The suite as another crate runs it: `run_all` on a backend of its own.
#[test]
fn the_exported_suite_runs_whole() {
    suite::run_all(&Backend::sqlite());
}
