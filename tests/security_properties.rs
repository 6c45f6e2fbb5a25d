//! Security properties over generated inputs (issue "Trust holds under attack"):
//! - attenuation never widens: if a token verifies after caveats are added, it verified before;
//! - spends and splits conserve credit exactly over random sequences, replays and revocations
//!   included, and no credit moves backwards;
//! - no flipped bit in a discharge or in the root key verifies.
//!
//! `PROPTEST_CASES` sets the case count (the defaults keep `cargo test` quick).

use crumb::ledger::Wait as _;
use crumb::ledger::{Ledger, SqliteLedger};
use crumb::token::identifier::Nonce;
use crumb::{Context, Keyring, Macaroon, RootKey, TokenId, Verifier};
use proptest::prelude::*;
use time::OffsetDateTime;

fn key() -> RootKey {
    RootKey::from_bytes(&[42u8; 32]).unwrap()
}

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap()
}

/// Caveats of crumb's language (and some it does not know), around the facts `request()` draws.
fn caveat() -> impl Strategy<Value = String> {
    prop_oneof![
        "(read|write|pay)".prop_map(|a| format!("action = {a}")),
        "(read|write),(pay|read)".prop_map(|a| format!("action in {a}")),
        "(/docs|/docs/a|/admin|/)".prop_map(|r| format!("resource prefix {r}")),
        "(10\\.0\\.0\\.0/8|127\\.0\\.0\\.1|::1/128)".prop_map(|n| format!("ip in {n}")),
        (0u64..8).prop_map(|n| format!("max-cost <= {n}")),
        (0u64..20).prop_map(|n| format!("balance <= {n}")),
        (1_899_999_000i64..1_900_001_000).prop_map(|t| format!(
            "expires < {}",
            crumb::caveat::rfc3339(OffsetDateTime::from_unix_timestamp(t).unwrap())
        )),
        "(api|web)".prop_map(|a| format!("aud = {a}")),
        "(acme|globex)".prop_map(|t| format!("tenant = {t}")),
        "[a-z]{1,5} ~ [a-z]{1,5}",
    ]
}

fn request() -> impl Strategy<Value = Context> {
    (
        proptest::option::of("(read|write|pay)"),
        proptest::option::of("(/docs/a/1|/admin|/docs|/x)"),
        proptest::option::of("(10\\.1\\.2\\.3|127\\.0\\.0\\.1|::1|192\\.0\\.2\\.1)"),
        proptest::option::of("(api|web)"),
        0u64..10,
        proptest::option::of("(acme|globex)"),
    )
        .prop_map(|(action, resource, ip, aud, cost, tenant)| {
            let mut ctx = Context::at(now());
            ctx.action = action;
            ctx.resource = resource;
            ctx.ip = ip.map(|i| i.parse().unwrap());
            ctx.aud = aud;
            ctx.cost = cost;
            if let Some(t) = tenant {
                ctx.values.insert("tenant".into(), t);
            }
            ctx
        })
}

fn minted(caveats: &[String]) -> Macaroon {
    let mut m = Macaroon::mint(&key(), TokenId::new(&key().key_id(), Nonce([1; 16])).encode(), None);
    for c in caveats {
        m.add_first_party(c.clone());
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(512)))]

    #[test]
    fn attenuation_never_widens(
        base in proptest::collection::vec(caveat(), 0..5),
        added in proptest::collection::vec(caveat(), 1..5),
        ctx in request(),
    ) {
        let keys = Keyring::single(key());
        let verifier = Verifier::new(&keys);
        let original = minted(&base);
        let mut narrower = original.clone();
        for c in &added {
            narrower.add_first_party(c.clone());
        }
        let wide = verifier.check(&original, &[], &ctx).denial.is_none();
        let narrow = verifier.check(&narrower, &[], &ctx).denial.is_none();
        prop_assert!(!narrow || wide, "adding {:?} to {:?} allowed {:?}", added, base, ctx);
    }

    #[test]
    fn no_flipped_bit_in_a_discharge_or_the_key_verifies(
        bit in any::<prop::sample::Index>(),
        key_bit in 0usize..256,
        in_discharge in any::<bool>(),
    ) {
        let keys = Keyring::single(key());
        let caveat_key = RootKey::from_bytes(&[9u8; 32]).unwrap();
        let mut token = minted(&["action = read".into()]);
        token.add_third_party(&caveat_key, b"user = bob".to_vec(), None, &[5u8; 24]);
        let mut discharge = Macaroon::mint(&caveat_key, b"user = bob".to_vec(), None);
        discharge.add_first_party(b"action = read".to_vec());
        let bound = token.bind(&discharge);
        let mut ctx = Context::at(now());
        ctx.action = Some("read".into());
        prop_assert!(Verifier::new(&keys).check(&token, std::slice::from_ref(&bound), &ctx).denial.is_none());
        if in_discharge {
            let mut bytes = crumb::token::wire::encode_v2(&bound);
            let i = bit.index(bytes.len() * 8);
            bytes[i / 8] ^= 1 << (i % 8);
            if let Ok(tampered) = crumb::token::wire::decode_binary(&bytes) {
                prop_assert!(Verifier::new(&keys).check(&token, &[tampered], &ctx).denial.is_some(), "bit {}", i);
            }
        } else {
            let mut raw = [42u8; 32];
            raw[key_bit / 8] ^= 1 << (key_bit % 8);
            let other = Keyring::single(RootKey::from_bytes(&raw).unwrap());
            prop_assert!(Verifier::new(&other).check(&token, &[bound], &ctx).denial.is_some());
        }
    }
}

/// One step of a random history of a ledger.
#[derive(Clone, Debug)]
enum Op {
    /// Spend `cost` from live token `pick` (request id by `rid`).
    Spend { pick: usize, cost: u64, rid: u8 },
    /// Split live token `pick` into `amounts` plus a remainder.
    Split { pick: usize, amounts: Vec<u64>, rid: u8 },
    /// Retry the `pick`th request made so far, with the same token and request id.
    Replay { pick: usize },
    /// Operator revocation of token `pick` (any token ever issued), with or without cascade.
    Revoke { pick: usize, cascade: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<usize>(), 1u64..40, 0u8..4).prop_map(|(pick, cost, rid)| Op::Spend { pick, cost, rid }),
        2 => (any::<usize>(), proptest::collection::vec(1u64..30, 1..4), 0u8..4)
            .prop_map(|(pick, amounts, rid)| Op::Split { pick, amounts, rid }),
        2 => any::<usize>().prop_map(|pick| Op::Replay { pick }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, cascade)| Op::Revoke { pick, cascade }),
    ]
}

/// A request as made: the token presented, what it asked, and the answer.
struct Made {
    token: Macaroon,
    kind: crumb::ledger::SpendKind,
    amounts: Vec<u64>,
    rid: String,
    children: Vec<(Vec<u8>, u64)>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(24)))]

    #[test]
    fn credit_is_conserved_over_spends_splits_replays_and_revocations(
        start in 10u64..200,
        ops in proptest::collection::vec(op(), 1..24),
    ) {
        let dir = tempfile::tempdir_in(if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" }).unwrap();
        let ledger = SqliteLedger::open(&dir.path().join("l.db")).unwrap();
        let keys = Keyring::single(key());
        let verifier = Verifier::new(&keys);
        let mut root = Macaroon::mint(&key(), TokenId::new(&key().key_id(), Nonce([3; 16])).encode(), None);
        root.add_first_party(format!("balance <= {start}"));
        // Every token ever issued, with its balance; and the credit spent on requests.
        let mut issued: Vec<(Macaroon, u64)> = vec![(root, start)];
        let mut spent_total = 0u64;
        let mut made: Vec<Made> = Vec::new();
        let ctx = |cost: u64| { let mut c = Context::at(now()); c.cost = cost; c };
        for op in &ops {
            match op {
                Op::Spend { pick, rid, .. } | Op::Split { pick, rid, .. } => {
                    let (token, _) = issued[pick % issued.len()].clone();
                    let rid = format!("r{rid}");
                    let (kind, amounts, result) = match op {
                        Op::Spend { cost, .. } => (crumb::ledger::SpendKind::Spend, vec![*cost],
                            crumb::spend::spend(&verifier, &ledger, token.clone().into(), &ctx(*cost), Some(&rid)).wait()),
                        Op::Split { amounts, .. } => (crumb::ledger::SpendKind::Split, amounts.clone(),
                            crumb::spend::split(&verifier, &ledger, token.clone().into(), &ctx(0), crumb::spend::SplitRequest { amounts, request_id: Some(&rid), revocable: false }).wait()),
                        _ => unreachable!(),
                    };
                    if let Ok(receipt) = result {
                        prop_assert!(!receipt.replayed || made.iter().any(|m| m.rid == rid && m.token.signature == token.signature));
                        if !receipt.replayed {
                            spent_total += receipt.cost;
                            for c in &receipt.children {
                                issued.push((c.token.clone(), c.balance));
                            }
                        }
                        let children = receipt.children.iter().map(|c| (c.token.signature.to_vec(), c.balance)).collect();
                        made.push(Made { token, kind, amounts, rid, children });
                    }
                }
                Op::Replay { pick } if !made.is_empty() => {
                    let m = &made[pick % made.len()];
                    let result = match m.kind {
                        crumb::ledger::SpendKind::Spend => crumb::spend::spend(&verifier, &ledger, m.token.clone().into(), &ctx(m.amounts[0]), Some(&m.rid)).wait(),
                        crumb::ledger::SpendKind::Split => crumb::spend::split(&verifier, &ledger, m.token.clone().into(), &ctx(0), crumb::spend::SplitRequest { amounts: &m.amounts, request_id: Some(&m.rid), revocable: false }).wait(),
                        crumb::ledger::SpendKind::GiveBack => unreachable!("this property makes no give-backs"),
                    };
                    // A replay answers the same children, or (revoked since) is refused; it never issues more.
                    if let Ok(receipt) = result {
                        prop_assert!(receipt.replayed);
                        let children: Vec<(Vec<u8>, u64)> = receipt.children.iter().map(|c| (c.token.signature.to_vec(), c.balance)).collect();
                        prop_assert_eq!(&children, &m.children);
                    }
                }
                Op::Revoke { pick, cascade } => {
                    let (token, _) = &issued[pick % issued.len()];
                    let nonce = token.token_id().unwrap().nonce;
                    ledger.revoke(&nonce, *cascade, "t").wait().unwrap();
                }
                _ => {}
            }
        }
        // Conservation: what every issued token held = what was spent + what the unconsumed hold.
        let mut live_or_revoked = 0u64;
        let mut consumed_balance = 0u64;
        for (token, balance) in &issued {
            let status = ledger.status(&token.token_id().unwrap().nonce).wait().unwrap();
            match status.spent {
                Some(_) => consumed_balance += balance,
                None => live_or_revoked += balance,
            }
        }
        let children_balance: u64 = issued.iter().skip(1).map(|(_, b)| b).sum();
        prop_assert_eq!(consumed_balance, spent_total + children_balance, "consumed tokens became exactly spends + children");
        prop_assert_eq!(start + children_balance, consumed_balance + live_or_revoked);
    }
}
