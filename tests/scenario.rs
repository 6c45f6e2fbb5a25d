//! The agent scenario of the README, run as a script would run it, twice: against the local
//! ledger, and through `crumb serve` with `--server` (no curl). The operator mints; agent A
//! splits part of its balance to agent B; B spends with --token-file; A reads the lineage;
//! the operator revokes B's branch; B's next spend fails with a clear reason.

use crate::common;

use common::server::start;
use common::Env;
use serde_json::Value;

/// Where the commands go: the local key and ledger, or a server.
enum Mode<'a> {
    Local { key: &'a str, ledger: &'a str },
    Server { url: &'a str, operator_credential: &'a str },
}

impl Mode<'_> {
    fn flags(&self) -> Vec<String> {
        match self {
            Mode::Local { key, ledger } => {
                vec!["--key-file".into(), key.to_string(), "--ledger".into(), ledger.to_string()]
            }
            Mode::Server { url, .. } => vec!["--server".into(), url.to_string()],
        }
    }
}

fn run(env: &Env, args: &[&str], mode: &Mode) -> (i32, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(mode.flags());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    env.run(&refs)
}

fn scenario(env: &Env, a_token: String, mode: Mode) {
    let a_file = env.file("a.token", a_token.as_bytes());
    // A hands 30 to B: the split's first child is B's, the remainder stays in A's file.
    let (code, out, err) = run(env, &["split", "--token-file", &a_file, "--amount", "30", "--json"], &mode);
    assert_eq!(code, 0, "{err}");
    let split: Value = serde_json::from_str(&out).unwrap();
    let b_token = split["children"][0]["token"].as_str().unwrap().to_owned();
    let b_nonce = split["children"][0]["nonce"].as_str().unwrap().to_owned();
    let b_file = env.file("b.token", b_token.as_bytes());
    // B spends twice from its file, which always holds the newest token.
    for cost in [5, 7] {
        let (code, _, err) =
            run(env, &["spend", "--token-file", &b_file, "--cost", &cost.to_string(), "--action", "infer"], &mode);
        assert_eq!(code, 0, "{err}");
    }
    let b_now = std::fs::read_to_string(&b_file).unwrap();
    let doc: Value = serde_json::from_str(&env.ok(&["inspect", b_now.trim(), "--json"])).unwrap();
    assert_eq!(doc["balance"], 18);
    // A reads where its credit went: its own (spent) token and what descends from it.
    let (code, out, err) = match &mode {
        Mode::Local { ledger, .. } => env.run(&["lineage", &a_token, "--json", "--ledger", ledger]),
        Mode::Server { url, .. } => env.run(&["lineage", &a_token, "--json", "--server", url]),
    };
    assert_eq!(code, 0, "{err}");
    let tree: Value = serde_json::from_str(&out).unwrap();
    let nodes = tree["tree"].as_array().unwrap();
    // The ledger's owner (local) reads the whole tree. Through the server, possession of A's
    // old token does not cover A's remainder: that is A's change, not credit it handed on (a
    // leaked spent token must not follow the payer's later spending).
    match &mode {
        Mode::Local { .. } => assert_eq!(nodes.len(), 5, "A, B's child, A's remainder, B's two successors: {tree}"),
        Mode::Server { .. } => assert_eq!(nodes.len(), 4, "A, B's child, B's two successors: {tree}"),
    }
    assert!(nodes.iter().any(|n| n["nonce"] == b_nonce.as_str()));
    let (code, text, _) = match &mode {
        Mode::Local { ledger, .. } => env.run(&["lineage", &a_token, "--ledger", ledger]),
        Mode::Server { url, .. } => env.run(&["lineage", &a_token, "--server", url]),
    };
    assert_eq!(code, 0);
    assert!(text.contains("split into 30 + 70") && text.contains("spent 7"), "{text}");
    // The operator revokes B's branch, from B's first token down.
    let (code, out, err) = match &mode {
        Mode::Local { ledger, .. } => {
            env.run(&["revoke", "--nonce", &b_nonce, "--cascade", "--ledger", ledger, "--json"])
        }
        Mode::Server { url, operator_credential } => env.run(&[
            "revoke",
            "--nonce",
            &b_nonce,
            "--cascade",
            "--server",
            url,
            "--credential-file",
            operator_credential,
            "--json",
        ]),
    };
    assert_eq!(code, 0, "{err}");
    let revoked: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(revoked["revoked"].as_array().unwrap().len(), 3, "{revoked}");
    // B's next spend fails, saying why; its file keeps its token.
    let (code, _, err) = run(env, &["spend", "--token-file", &b_file, "--cost", "1", "--action", "infer"], &mode);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("revoked"), "{err}");
    assert_eq!(std::fs::read_to_string(&b_file).unwrap(), b_now);
    // A's remainder is untouched.
    let a_now = std::fs::read_to_string(&a_file).unwrap();
    let (code, _, err) = run(env, &["spend", "--token-file", &a_file, "--cost", "1", "--action", "infer"], &mode);
    assert_eq!(code, 0, "{err}: {a_now}");
}

#[test]
fn agents_delegate_spend_and_get_revoked_locally() {
    let env = Env::new();
    let key = env.key("root.key");
    let ledger = env.path("ledger.db").to_str().unwrap().to_owned();
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "100", "-c", "action = infer", "--expires-in", "1h"]);
    scenario(&env, token, Mode::Local { key: &key, ledger: &ledger });
}

#[test]
fn agents_delegate_spend_and_get_revoked_through_serve() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "100", "-c", "action = infer", "--expires-in", "1h"]);
    let credential = s.mint(&["--operator", "--expires-in", "10m"]);
    let cred_file = s.env.file("operator.cred", credential.as_bytes());
    scenario(&s.env, token, Mode::Server { url: &s.url, operator_credential: &cred_file });
}
