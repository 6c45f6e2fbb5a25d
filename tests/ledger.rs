//! Balances through the real binary: spend, split, revoke, lineage, key rotation, and the
//! ways each is refused. Every test has its own ledger and keys.

use crate::common;

use common::Env;
use serde_json::Value;

struct Bank {
    env: Env,
    key: String,
    ledger: String,
}

fn bank() -> Bank {
    let env = Env::new();
    let key = env.key("root.key");
    let ledger = env.path("ledger.db").to_str().unwrap().to_owned();
    Bank { env, key, ledger }
}

impl Bank {
    fn mint(&self, balance: u64, caveats: &[&str]) -> String {
        let b = balance.to_string();
        let mut args = vec!["mint", "--key-file", &self.key, "--balance", &b];
        for c in caveats {
            args.extend(["-c", c]);
        }
        self.env.ok(&args)
    }

    fn run(&self, cmd: &str, token: &str, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec![cmd, token, "--key-file", &self.key, "--ledger", &self.ledger];
        args.extend_from_slice(extra);
        self.env.run(&args)
    }

    fn spend(&self, token: &str, cost: u64, extra: &[&str]) -> (i32, String, String) {
        let c = cost.to_string();
        let mut args = vec!["--cost", c.as_str()];
        args.extend_from_slice(extra);
        let (code, out, err) = self.run("spend", token, &args);
        (code, out.trim().to_owned(), err)
    }

    fn balance(&self, token: &str) -> u64 {
        let doc: Value = serde_json::from_str(&self.env.ok(&["inspect", token, "--json"])).unwrap();
        doc["balance"].as_u64().unwrap()
    }

    fn verify(&self, token: &str) -> (i32, Value) {
        let (code, out, _) =
            self.env.run(&["verify", token, "--key-file", &self.key, "--ledger", &self.ledger, "--json"]);
        (code, serde_json::from_str(&out).unwrap())
    }
}

#[test]
fn spend_issues_a_successor_and_kills_the_parent() {
    let b = bank();
    let token = b.mint(100, &["action = read"]);
    let (code, successor, err) = b.spend(&token, 30, &["--action", "read"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(b.balance(&successor), 70);
    let (code, _, err) =
        b.env.run(&["verify", &successor, "--key-file", &b.key, "--ledger", &b.ledger, "--action", "read"]);
    assert_eq!(code, 0, "{err}");
    let (code, doc) = b.verify(&token);
    assert_eq!((code, doc["code"].as_str()), (1, Some("spent")));
    // The successor keeps every other caveat.
    let (code, _, _) = b.spend(&successor, 1, &["--action", "write"]);
    assert_eq!(code, 1);
    let inspected: Value = serde_json::from_str(&b.env.ok(&["inspect", &successor, "--json"])).unwrap();
    let kinds: Vec<&str> =
        inspected["caveats"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["action", "balance"]);
}

#[test]
fn spend_to_exactly_zero_then_nothing_more() {
    let b = bank();
    let token = b.mint(10, &[]);
    let (code, zero, _) = b.spend(&token, 10, &[]);
    assert_eq!(code, 0);
    assert_eq!(b.balance(&zero), 0);
    let (code, _, err) = b.spend(&zero, 1, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("insufficient-balance"), "{err}");
}

#[test]
fn spending_more_than_the_balance_is_denied_and_writes_nothing() {
    let b = bank();
    let token = b.mint(10, &[]);
    let (code, out, err) = b.spend(&token, 11, &[]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("insufficient-balance"), "{err}");
    assert_eq!(b.spend(&token, 10, &[]).0, 0, "the failed spend must not have consumed the token");
}

#[test]
fn a_cost_above_max_cost_is_denied() {
    let b = bank();
    let token = b.mint(100, &["max-cost <= 5"]);
    let (code, _, err) = b.spend(&token, 6, &[]);
    assert_eq!(code, 1);
    assert!(err.contains("cost-exceeded"), "{err}");
    assert_eq!(b.spend(&token, 5, &[]).0, 0);
}

#[test]
fn a_retry_returns_the_same_successor_and_other_spends_are_refused() {
    let b = bank();
    let token = b.mint(100, &[]);
    let (_, first, _) = b.spend(&token, 7, &["--request-id", "req-1"]);
    let (code, again, err) = b.spend(&token, 7, &["--request-id", "req-1"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(again, first);
    assert!(err.contains("retry"), "{err}");
    // Without --request-id the id is derived from token and cost: a plain re-run is a retry too.
    let other = b.mint(100, &[]);
    let (_, a, _) = b.spend(&other, 3, &[]);
    let (_, a2, _) = b.spend(&other, 3, &[]);
    assert_eq!(a, a2);
    // Any other spend of a spent token is refused, without telling whose request spent it.
    let (code, _, err) = b.spend(&token, 7, &["--request-id", "req-2"]);
    assert_eq!(code, 1);
    assert!(err.contains("already spent") && !err.contains("req-1"), "{err}");
    let (code, _, err) = b.spend(&token, 8, &["--request-id", "req-1"]);
    assert_eq!(code, 1, "the same id with another cost is not a retry: {err}");
}

#[test]
fn a_retry_after_expiry_still_returns_the_change() {
    let b = bank();
    let token = b.mint(50, &["expires < 2026-12-01T00:00:00Z"]);
    let (_, first, _) = b.spend(&token, 5, &["--at", "2026-11-30T00:00:00Z"]);
    let (code, again, err) = b.spend(&token, 5, &["--at", "2026-12-02T00:00:00Z"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(again, first);
}

#[test]
fn token_file_is_replaced_atomically() {
    let b = bank();
    let token = b.mint(20, &[]);
    let file = b.env.file("agent.token", format!("{token}\n").as_bytes());
    let (code, _, err) =
        b.env.run(&["spend", "--token-file", &file, "--cost", "5", "--key-file", &b.key, "--ledger", &b.ledger]);
    assert_eq!(code, 0, "{err}");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(b.balance(saved.trim()), 15);
    let (code, _, _) =
        b.env.run(&["spend", "--token-file", &file, "--cost", "5", "--key-file", &b.key, "--ledger", &b.ledger]);
    assert_eq!(code, 0);
    assert_eq!(b.balance(std::fs::read_to_string(&file).unwrap().trim()), 10);
    let leftovers: Vec<_> = std::fs::read_dir(b.env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn a_cap_shares_the_nonce_of_its_parent() {
    let b = bank();
    let token = b.mint(100, &[]);
    let capped = b.env.ok(&["attenuate", &token, "--balance", "10"]);
    assert_eq!(b.balance(&capped), 10);
    let (code, _, err) = b.spend(&capped, 11, &[]);
    assert!(code == 1 && err.contains("insufficient-balance"), "{err}");
    let (code, successor, _) = b.spend(&capped, 4, &[]);
    assert_eq!(code, 0);
    assert_eq!(b.balance(&successor), 6, "a cap replaces the balance: the successor holds what the cap left");
    // Spending the capped token spent the uncapped parent too: they are one token.
    let (code, doc) = b.verify(&token);
    assert_eq!((code, doc["code"].as_str()), (1, Some("spent")));
}

#[test]
fn split_children_sum_to_the_parent_and_keep_its_caveats() {
    let b = bank();
    let token = b.mint(100, &["aud = agents"]);
    let (code, out, err) = b.run("split", &token, &["--amount", "30", "--amount", "20", "--json", "--aud", "agents"]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let children = doc["children"].as_array().unwrap();
    let balances: Vec<u64> = children.iter().map(|c| c["balance"].as_u64().unwrap()).collect();
    assert_eq!(balances, [30, 20, 50]);
    for c in children {
        let t = c["token"].as_str().unwrap();
        assert_eq!(b.balance(t), c["balance"].as_u64().unwrap());
        let (code, _, _) = b.env.run(&["verify", t, "--key-file", &b.key, "--ledger", &b.ledger, "--aud", "agents"]);
        assert_eq!(code, 0);
    }
    // A child can be narrowed further by its holder and then spent.
    let child = children[0]["token"].as_str().unwrap();
    let narrowed = b.env.ok(&["attenuate", child, "-c", "max-cost <= 10"]);
    assert_eq!(b.spend(&narrowed, 10, &["--aud", "agents"]).0, 0);
    assert_eq!(b.verify(&token).1["code"], "spent");
}

#[test]
fn split_with_a_token_file_keeps_the_remainder_there() {
    let b = bank();
    let token = b.mint(100, &[]);
    let file = b.env.file("agent.token", token.as_bytes());
    let out =
        b.env.ok(&["split", "--token-file", &file, "--amount", "30", "--key-file", &b.key, "--ledger", &b.ledger]);
    let children: Vec<&str> = out.lines().collect();
    assert_eq!(children.len(), 2);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), children[1]);
    assert_eq!(b.balance(children[1]), 70);
}

#[test]
fn a_split_beyond_the_balance_writes_nothing() {
    let b = bank();
    let token = b.mint(40, &[]);
    let (code, out, err) = b.run("split", &token, &["--amount", "30", "--amount", "20"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("insufficient-balance"), "{err}");
    assert_eq!(b.verify(&token).0, 0, "nothing was written");
    let (code, _, _) = b.run("split", &token, &["--amount", "0"]);
    assert_eq!(code, 2);
    let lines = b.run("split", &token, &["--amount", "40"]).1;
    assert_eq!(lines.lines().count(), 2, "the amount and a zero remainder");
}

#[test]
fn revoked_tokens_are_refused_and_cascade_follows_descendants() {
    let b = bank();
    let token = b.mint(100, &[]);
    let (_, s1, _) = b.spend(&token, 10, &[]);
    let (_, s2, _) = b.spend(&s1, 10, &[]);
    let other = b.mint(5, &[]);
    b.env.ok(&["revoke", &other, "--ledger", &b.ledger]);
    let (code, _, err) = b.spend(&other, 1, &[]);
    assert!(code == 1 && err.contains("revoked"), "{err}");
    assert_eq!(b.verify(&other).1["code"], "revoked");
    // Without --cascade only the named token is revoked.
    let nonce = |t: &str| -> String {
        let doc: Value = serde_json::from_str(&b.env.ok(&["inspect", t, "--json"])).unwrap();
        doc["nonce"].as_str().unwrap().to_owned()
    };
    let out = b.env.ok(&["revoke", "--nonce", &nonce(&token), "--cascade", "--ledger", &b.ledger, "--json"]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["revoked"].as_array().unwrap().len(), 3);
    assert_eq!(b.verify(&s2).1["code"], "revoked");
    let (code, _, _) = b.env.run(&["revoke", "--nonce", "xyz", "--ledger", &b.ledger]);
    assert_eq!(code, 2);
}

#[test]
fn lineage_shows_where_the_credit_went() {
    let b = bank();
    let token = b.mint(100, &[]);
    let (_, s1, _) = b.spend(&token, 10, &["--request-id", "coffee"]);
    let out = b.run("split", &s1, &["--amount", "25"]).1;
    let child = out.lines().next().unwrap();
    b.spend(child, 5, &[]);
    let tree = b.env.ok(&["lineage", child, "--ledger", &b.ledger]);
    assert!(tree.contains("spent 10") && tree.contains("coffee"), "{tree}");
    assert!(tree.contains("split into 25 + 65"), "{tree}");
    assert!(tree.contains("live"), "{tree}");
    assert!(tree.contains("<- this token"), "{tree}");
    let doc: Value = serde_json::from_str(&b.env.ok(&["lineage", &token, "--ledger", &b.ledger, "--json"])).unwrap();
    let nodes = doc["tree"].as_array().unwrap();
    assert_eq!(nodes.len(), 5);
    assert_eq!(nodes.iter().filter(|n| n["live"] == true).count(), 2);
}

#[test]
fn key_rotation_through_a_keyring() {
    let env = Env::new();
    let ring = env.path("ring.json").to_str().unwrap().to_owned();
    let old = env.ok(&["keygen", "--keyring", &ring]);
    let old_token = env.ok(&["mint", "--keyring", &ring]);
    let new = env.ok(&["keygen", "--keyring", &ring]);
    assert_ne!(old, new);
    let new_token = env.ok(&["mint", "--keyring", &ring]);
    let kid = |t: &str| -> String {
        let doc: Value = serde_json::from_str(&env.ok(&["inspect", t, "--json"])).unwrap();
        doc["key_id"].as_str().unwrap().to_owned()
    };
    assert_eq!(kid(&old_token), old);
    assert_eq!(kid(&new_token), new);
    assert_eq!(env.ok(&["verify", "--offline", &old_token, "--keyring", &ring]), "valid");
    env.ok(&["keygen", "--keyring", &ring, "--retire", &old]);
    let (code, out, _) = env.run(&["verify", "--offline", &old_token, "--keyring", &ring, "--json"]);
    assert_eq!(code, 1);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["code"], "retired-key");
    assert_eq!(env.ok(&["verify", "--offline", &new_token, "--keyring", &ring]), "valid");
    let listed: Value = serde_json::from_str(&env.ok(&["keygen", "--keyring", &ring, "--list", "--json"])).unwrap();
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys[0]["retired_at"].is_string() && keys[1]["current"] == true, "{listed}");
    let table = env.ok(&["keygen", "--keyring", &ring, "--list"]);
    assert!(table.contains("current") && table.contains("retired"), "{table}");
    let secret = std::fs::read_to_string(&ring).unwrap();
    let stored: Value = serde_json::from_str(&secret).unwrap();
    assert!(!table.contains(stored["keys"][0]["key"].as_str().unwrap()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&ring).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A single key file keeps working alongside.
    let single = env.key("single.key");
    let t = env.ok(&["mint", "--key-file", &single]);
    assert_eq!(env.ok(&["verify", "--offline", &t, "--key-file", &single]), "valid");
}

#[test]
fn foreign_tokens_cannot_be_spent() {
    let b = bank();
    let token = b.env.ok(&["mint", "--key-file", &b.key, "--id", "someone else's id", "--balance", "10"]);
    let (code, _, err) = b.spend(&token, 1, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not minted by crumb"), "{err}");
}

#[test]
fn an_unusable_ledger_is_exit_3() {
    let b = bank();
    let token = b.mint(10, &[]);
    let dir_as_ledger = b.env.dir.path().to_str().unwrap().to_owned();
    let (code, _, err) = b.env.run(&["spend", &token, "--cost", "1", "--key-file", &b.key, "--ledger", &dir_as_ledger]);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn split_is_a_transfer_and_asks_for_no_request_facts() {
    let b = bank();
    let token = b.mint(20, &["action = read", "resource prefix /docs", "tenant = acme"]);
    let (code, out, err) = b.run("split", &token, &["--amount", "5"]);
    assert_eq!(code, 0, "{err}");
    let children: Vec<&str> = out.lines().collect();
    assert_eq!(children.len(), 2);
    // Each child carries every request caveat: spending it still needs the facts.
    let (code, _, err) = b.spend(children[0], 1, &[]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) =
        b.spend(children[0], 1, &["--action", "read", "--resource", "/docs/1", "--context", "tenant=acme"]);
    assert_eq!(code, 0, "{err}");
    // Time still binds a transfer: an expired token cannot be split.
    let expired = b.mint(20, &["expires < 2020-01-01T00:00:00Z"]);
    let (code, _, err) = b.run("split", &expired, &["--amount", "5"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("expired"), "{err}");
}
