//! The ledger under contention and under crashes, through real processes.

use crate::common;

use common::Env;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

fn setup(balance: &str) -> (Env, String, String, String) {
    let env = Env::new();
    let key = env.key("root.key");
    let ledger = env.path("ledger.db").to_str().unwrap().to_owned();
    let token = env.ok(&["mint", "--key-file", &key, "--balance", balance]);
    (env, key, ledger, token)
}

fn spawn_spends(env: &Env, key: &str, ledger: &str, token: &str, ids: &[String]) -> Vec<(i32, String, String)> {
    let children: Vec<_> = ids
        .iter()
        .map(|id| {
            let mut cmd: Command = env.process();
            cmd.args(["spend", token, "--cost", "1", "--key-file", key, "--ledger", ledger, "--request-id", id])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn crumb")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).trim().to_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .collect()
}

#[test]
fn thirty_two_concurrent_spends_give_exactly_one_successor() {
    let (env, key, ledger, token) = setup("100");
    let ids: Vec<String> = (0..32).map(|i| format!("racer-{i}")).collect();
    let results = spawn_spends(&env, &key, &ledger, &token, &ids);
    let winners: Vec<_> = results.iter().filter(|r| r.0 == 0).collect();
    assert_eq!(winners.len(), 1, "{results:#?}");
    for (code, out, err) in results.iter().filter(|r| r.0 != 0) {
        assert_eq!(*code, 1, "{err}");
        assert!(out.is_empty());
        assert!(err.contains("already spent"), "{err}");
    }
    let (code, _, err) = env.run(&["verify", &winners[0].1, "--key-file", &key, "--ledger", &ledger]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn concurrent_retries_of_one_request_all_get_the_same_successor() {
    let (env, key, ledger, token) = setup("100");
    let ids: Vec<String> = vec!["same".into(); 16];
    let results = spawn_spends(&env, &key, &ledger, &token, &ids);
    assert!(results.iter().all(|r| r.0 == 0), "{results:#?}");
    assert!(results.iter().all(|r| r.1 == results[0].1));
}

/// A tiny deterministic generator: the test's kill moments vary, its outcome must not.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[test]
fn spends_killed_at_random_moments_lose_nothing() {
    let (env, key, ledger, token) = setup("1000");
    let file = env.file("agent.token", format!("{token}\n").as_bytes());
    let mut rng = Lcg(0x5eed);
    let mut printed = Vec::new();
    for _ in 0..40 {
        let mut cmd: Command = env.process();
        let mut child = cmd
            .args(["spend", "--token-file", &file, "--cost", "1", "--key-file", &key, "--ledger", &ledger])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next(25_000)));
        let _ = child.kill(); // SIGKILL
        let out = child.wait_with_output().unwrap();
        let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !line.is_empty() {
            printed.push(line);
        }
        // Whatever the moment, the file holds a whole token that the ledger can answer for.
        let saved = std::fs::read_to_string(&file).unwrap();
        assert!(crumb::token::wire::decode(&saved).is_ok(), "torn token file: {saved:?}");
    }
    // Every successor that was printed is valid, or was itself spent by a later iteration.
    for t in &printed {
        let (code, out, _) = env.run(&["verify", t, "--key-file", &key, "--ledger", &ledger, "--json"]);
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert!(code == 0 || doc["code"] == "spent", "{doc}");
    }
    // One more uninterrupted spend: it finishes any spend a kill cut between commit and save.
    env.ok(&["spend", "--token-file", &file, "--cost", "1", "--key-file", &key, "--ledger", &ledger]);
    let saved = std::fs::read_to_string(&file).unwrap();
    let lineage: Value =
        serde_json::from_str(&env.ok(&["lineage", saved.trim(), "--ledger", &ledger, "--json"])).unwrap();
    let spends = lineage["tree"].as_array().unwrap().iter().filter(|n| !n["consumed"].is_null()).count() as u64;
    let doc: Value = serde_json::from_str(&env.ok(&["inspect", saved.trim(), "--json"])).unwrap();
    assert_eq!(doc["balance"].as_u64().unwrap(), 1000 - spends, "change was lost");
    assert_eq!(env.run(&["verify", saved.trim(), "--key-file", &key, "--ledger", &ledger]).0, 0);
    eprintln!("{spends} spends committed across 40 killed runs; {} successors printed", printed.len());
}

/// Regression: 32 processes opening a new ledger at once got "database is locked" from the
/// switch to WAL mode, which SQLite refuses at once instead of waiting (seen in CI).
#[test]
fn many_processes_opening_a_new_ledger_at_once_all_succeed() {
    let env = Env::new();
    for round in 0..6 {
        let ledger = env.path(&format!("new-{round}.db")).to_str().unwrap().to_owned();
        let children: Vec<_> = (0..32)
            .map(|i| {
                let nonce = format!("{:032x}", i + 1);
                env.process()
                    .args(["revoke", "--nonce", &nonce, "--unseen", "--ledger", &ledger])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
