//! Conservation of credit across split (transfers and delegations), spend, give-back and the
//! revocation of delegations, over random sequences: at every step, what was minted is exactly
//! the live balances, plus what was spent, plus the credit owed to lineages — on the embedded
//! ledger, through the library every adapter calls.
//!
//! `PROPTEST_CASES` sets the case count (the default keeps `cargo test` quick).

use crumb::ledger::Wait as _;
use crumb::ledger::{DelegationRevoke, Ledger, Scope, SqliteLedger};
use crumb::token::identifier::Nonce;
use crumb::{Context, Keyring, Macaroon, RootKey, TokenId, Verifier};
use proptest::prelude::*;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

#[derive(Clone, Debug)]
enum Op {
    Split { pick: usize, amount: u64, revocable: bool },
    Spend { pick: usize, cost: u64 },
    GiveBack { pick: usize, retry: bool },
    Revoke { holder: usize, child: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), 1u64..40, any::<bool>()).prop_map(|(pick, amount, revocable)| Op::Split {
            pick,
            amount,
            revocable
        }),
        (any::<usize>(), 1u64..15).prop_map(|(pick, cost)| Op::Spend { pick, cost }),
        (any::<usize>(), any::<bool>()).prop_map(|(pick, retry)| Op::GiveBack { pick, retry }),
        (any::<usize>(), any::<usize>()).prop_map(|(holder, child)| Op::Revoke { holder, child }),
    ]
}

fn nonce(t: &Macaroon) -> Nonce {
    t.token_id().unwrap().nonce
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(48)))]

    #[test]
    fn credit_is_conserved_across_split_spend_give_back_and_revocation(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db")).unwrap();
        let key = RootKey::from_bytes(&[9u8; 32]).unwrap();
        let keys = Keyring::single(key.clone());
        let verifier = Verifier::new(&keys);
        const MINTED: u64 = 100;
        let mut root = Macaroon::mint(&key, TokenId::new(&key.key_id(), Nonce([1; 16])).encode(), None);
        root.add_first_party(format!("balance <= {MINTED}").into_bytes());
        // Every token ever issued; the spent total from the receipts.
        let mut tokens = vec![root.clone()];
        let mut spent = 0u64;
        let mut given: Vec<(Macaroon, String, u64)> = Vec::new();
        for (step, op) in ops.iter().enumerate() {
            let live: Vec<Macaroon> = tokens
                .iter()
                .filter(|t| {
                    let s = ledger.status(&nonce(t)).wait().unwrap();
                    s.spent.is_none() && s.revoked_at.is_none()
                })
                .cloned()
                .collect();
            let ctx = Context::now();
            match op {
                Op::Split { pick, amount, revocable } if !live.is_empty() => {
                    let t = &live[pick % live.len()];
                    if let Ok(r) = crumb::spend::split(&verifier, &ledger, t.clone().into(), &ctx, crumb::spend::SplitRequest { amounts: &[*amount], request_id: None, revocable: *revocable }).wait() {
                        tokens.extend(r.children.iter().map(|c| c.token.clone()));
                    }
                }
                Op::Spend { pick, cost } if !live.is_empty() => {
                    let t = &live[pick % live.len()];
                    let mut ctx = ctx.clone();
                    ctx.cost = *cost;
                    if let Ok(r) = crumb::spend::spend(&verifier, &ledger, t.clone().into(), &ctx, Some(&format!("s{step}"))).wait() {
                        prop_assert!(!r.replayed);
                        spent += r.cost;
                        tokens.push(r.children[0].token.clone());
                    }
                }
                Op::GiveBack { pick, retry: true } if !given.is_empty() => {
                    // A retry answers the same amount and moves nothing more.
                    let (t, id, returned) = &given[pick % given.len()];
                    let again = crumb::delegation::give_back(&verifier, &ledger, t.clone().into(), &ctx, Some(id)).wait().unwrap();
                    prop_assert!(again.replayed);
                    prop_assert_eq!(again.returned, *returned);
                }
                Op::GiveBack { pick, .. } if !live.is_empty() => {
                    let t = &live[pick % live.len()];
                    let id = format!("g{step}");
                    if let Ok(r) = crumb::delegation::give_back(&verifier, &ledger, t.clone().into(), &ctx, Some(&id)).wait() {
                        given.push((t.clone(), id, r.returned));
                    }
                }
                Op::Revoke { holder, child } if !live.is_empty() => {
                    let h = &live[holder % live.len()];
                    let c = &tokens[child % tokens.len()];
                    match ledger.revoke_delegation(&nonce(h), &nonce(c), "now").wait().unwrap() {
                        DelegationRevoke::Revoked { .. }
                        | DelegationRevoke::NotYours
                        | DelegationRevoke::NotRevocable
                        | DelegationRevoke::HolderNotLive { .. } => {}
                    }
                }
                _ => {}
            }
            // minted = live balances + spent + credit owed, exactly.
            let live_balance: u64 = tokens
                .iter()
                .filter(|t| {
                    let s = ledger.status(&nonce(t)).wait().unwrap();
                    s.spent.is_none() && s.revoked_at.is_none()
                })
                .map(|t| crumb::verify::balance_of(t).unwrap())
                .sum();
            let tree = ledger.lineage(&nonce(&root), 100_000, Scope::WholeTree).wait().unwrap();
            let owed: u64 = tree.nodes.iter().map(|n| n.credit).sum();
            prop_assert_eq!(live_balance + spent + owed, MINTED, "step {}: {:?}: live {}, spent {}, owed {}", step, op, live_balance, spent, owed);
        }
    }
}
