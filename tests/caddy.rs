//! Forward auth through a real Caddy: the README's recipe in front of a counting upstream,
//! asking a real `crumb serve` at `/v1/authz`. Skipped without Caddy; CI requires it.

mod common;

use common::caddy;
use common::forward_auth::{self as checks, stack};

#[test]
fn a_paid_request_is_forwarded_once_with_its_successor_and_the_old_token_is_refused() {
    let Some(s) = stack(caddy::start) else { return };
    checks::paid_once_with_the_successor(&s);
}

#[test]
fn no_token_or_a_low_balance_gets_the_challenge_and_caveats_give_403() {
    let Some(s) = stack(caddy::start) else { return };
    checks::challenge_and_caveats(&s);
}

#[test]
fn concurrent_uses_of_one_token_reach_the_upstream_once() {
    let Some(s) = stack(caddy::start) else { return };
    checks::concurrent_uses_reach_the_upstream_once(&s);
}

#[test]
fn a_client_cannot_describe_its_own_request_to_crumb() {
    let Some(s) = stack(caddy::start) else { return };
    checks::the_client_cannot_describe_its_own_request(&s);
}

#[test]
fn with_crumb_down_caddy_fails_closed() {
    let Some(mut s) = stack(caddy::start) else { return };
    checks::fails_closed_without_crumb(&mut s);
}
