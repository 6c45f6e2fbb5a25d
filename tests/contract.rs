//! The CLI as a contract for scripts (issue "The CLI is a contract a script can trust"):
//! closed pipes, one JSON document per `--json` run whatever the outcome, the same codes as
//! the HTTP API, and never a lost successor.

use crate::common;

use common::Env;
use serde_json::Value;

/// Runs `crumb ARGS | head -1` in bash; returns crumb's exit status and stderr.
fn piped_to_head(env: &Env, args: &str) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("crumb");
    let script = format!("'{}' {args} | head -1 >/dev/null; echo \"status=${{PIPESTATUS[0]}}\" >&2", bin.display());
    let out = env.process_for("bash").args(["-c", &script]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let status = err.lines().find_map(|l| l.strip_prefix("status=")).and_then(|s| s.parse().ok()).unwrap_or(-1);
    (status, err)
}

#[test]
fn a_closed_pipe_is_not_a_crash() {
    let env = Env::new();
    let key = env.key("k");
    let ledger = env.path("l.db");
    let l = ledger.to_str().unwrap();
    // Big outputs, so the reader is gone before crumb is done writing.
    let caveats: Vec<String> = (0..1000).map(|i| format!("-c 'n{i} = {}'", "v".repeat(20))).collect();
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "100000"]);
    std::fs::write(env.path("t"), &token).unwrap();
    let mut tok = token.clone();
    for i in 0..300 {
        let out = env.ok(&[
            "spend",
            &tok,
            "--key-file",
            &key,
            "--ledger",
            l,
            "--cost",
            "1",
            "--request-id",
            &format!("r{i}"),
        ]);
        tok = out;
    }
    let ring = env.path("ring");
    for _ in 0..3 {
        env.ok(&["keygen", "--keyring", ring.to_str().unwrap()]);
    }
    let cases = [
        format!("mint --key-file {key} {} --format json", caveats.join(" ")),
        format!("inspect $(cat {})", env.path("t").display()),
        format!(
            "mint --key-file {key} {} | '{}' inspect -",
            caveats.join(" "),
            assert_cmd::cargo::cargo_bin("crumb").display()
        ),
        format!("lineage --token-file {} --ledger {l}", env.path("t").display()),
        format!("lineage --token-file {} --ledger {l} --json", env.path("t").display()),
        format!("keygen --keyring {} --list --json", ring.display()),
    ];
    for case in &cases {
        let (status, err) = piped_to_head(&env, case);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{case}: {err}");
        assert_eq!(status, 0, "{case}: {err}");
    }
}

/// Runs crumb with `args` and parses stdout as exactly one JSON document.
fn one_json(env: &Env, args: &[&str]) -> (i32, Value) {
    let (code, out, err) = env.run(args);
    let doc: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON document ({e}): {out:?} / {err}"));
    (code, doc)
}

#[test]
fn json_is_one_document_for_every_outcome_with_the_http_codes() {
    let env = Env::new();
    let key = env.key("k");
    let ledger = env.path("l.db");
    let l = ledger.to_str().unwrap();
    let (code, minted) = one_json(
        &env,
        &["mint", "--key-file", &key, "--balance", "10", "-c", "action = read", "--expires-in", "1h", "--json"],
    );
    assert_eq!(code, 0);
    assert_eq!(minted["balance"], 10);
    assert_eq!(minted["nonce"].as_str().unwrap().len(), 32);
    assert!(minted["expires"].is_string() && minted["key_id"].is_string());
    let token = minted["token"].as_str().unwrap().to_owned();
    let (code, narrower) = one_json(&env, &["attenuate", &token, "--balance", "4", "--json"]);
    assert_eq!((code, narrower["balance"].as_u64()), (0, Some(4)));
    // Success, denial and failure of verify, in one vocabulary with HTTP.
    let (code, ok) = one_json(&env, &["verify", &token, "--key-file", &key, "--offline", "--action", "read", "--json"]);
    assert_eq!((code, ok["allowed"].as_bool(), ok["offline"].as_bool()), (0, Some(true), Some(true)), "{ok}");
    let (code, denied) =
        one_json(&env, &["verify", &token, "--key-file", &key, "--offline", "--action", "write", "--json"]);
    assert_eq!((code, denied["allowed"].as_bool(), denied["code"].as_str()), (1, Some(false), Some("caveat-failed")));
    assert!(denied["message"].is_string());
    let (code, bad) = one_json(&env, &["verify", "!!!", "--key-file", &key, "--json"]);
    assert_eq!((code, bad["code"].as_str()), (2, Some("malformed-token")), "{bad}");
    let (code, missing) =
        one_json(&env, &["verify", &token, "--key-file", &key, "--ledger", "/nonexistent/l.db", "--json"]);
    assert_eq!((code, missing["code"].as_str()), (3, Some("ledger-unavailable")), "{missing}");
    // Spend: success, denial (spent), failure.
    let (code, receipt) = one_json(
        &env,
        &["spend", &token, "--key-file", &key, "--ledger", l, "--cost", "1", "--action", "read", "--json"],
    );
    assert_eq!((code, receipt["remaining"].as_u64()), (0, Some(9)), "{receipt}");
    let (code, spent) = one_json(
        &env,
        &["spend", &token, "--key-file", &key, "--ledger", l, "--cost", "2", "--action", "read", "--json"],
    );
    assert_eq!((code, spent["code"].as_str(), spent["allowed"].as_bool()), (1, Some("spent"), Some(false)), "{spent}");
    let (code, zero) = one_json(&env, &["spend", &token, "--key-file", &key, "--ledger", l, "--cost", "0", "--json"]);
    assert_eq!((code, zero["code"].as_str()), (2, Some("bad-request")), "{zero}");
    let (code, ok) = one_json(
        &env,
        &[
            "verify",
            receipt["token"].as_str().unwrap(),
            "--key-file",
            &key,
            "--ledger",
            l,
            "--action",
            "read",
            "--json",
        ],
    );
    assert_eq!((code, ok["allowed"].as_bool(), ok["offline"].as_bool()), (0, Some(true), Some(false)), "{ok}");
    let (code, kids) = one_json(
        &env,
        &["split", receipt["token"].as_str().unwrap(), "--key-file", &key, "--ledger", l, "--amount", "3", "--json"],
    );
    assert_eq!((code, kids["children"].as_array().map(Vec::len)), (0, Some(2)), "{kids}");
    let (code, tree) = one_json(&env, &["lineage", &token, "--ledger", l, "--json"]);
    assert_eq!((code, tree["tree"].as_array().map(Vec::len)), (0, Some(4)), "{tree}");
    let (code, revoked) = one_json(&env, &["revoke", &token, "--ledger", l, "--cascade", "--json"]);
    assert_eq!(code, 0, "{revoked}");
    let (code, d) = one_json(&env, &["discharge", "--key-file", &key, "--id", "user = bob", "--json"]);
    assert_eq!(code, 0);
    let (code, bound) = one_json(&env, &["bind", &token, d["token"].as_str().unwrap(), "--json"]);
    assert_eq!((code, bound["discharges"].as_array().map(Vec::len)), (0, Some(1)));
    let (code, nokey) = one_json(&env, &["mint", "--key-file", "/nonexistent.key", "--json"]);
    assert_eq!((code, nokey["code"].as_str()), (2, Some("bad-key")), "{nokey}");
    let (code, inspect) = one_json(&env, &["inspect", "garbage!", "--json"]);
    assert_eq!((code, inspect["code"].as_str()), (2, Some("malformed-token")));
    let (code, listed) = one_json(&env, &["keygen", "--keyring", "/nonexistent/ring", "--list", "--json"]);
    assert_eq!(code, 2, "{listed}");
}

/// `chattr +i` / `-i` on a path (works as root, where file modes do not stop writes).
fn immutable(path: &std::path::Path, on: bool) -> bool {
    std::process::Command::new("chattr").arg(if on { "+i" } else { "-i" }).arg(path).status().is_ok_and(|s| s.success())
}

#[test]
fn a_spend_never_loses_its_successor_to_an_unwritable_token_file() {
    let env = Env::new();
    let key = env.key("k");
    let l = env.path("l.db").to_str().unwrap().to_owned();
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
    let other = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
    env.ok(&["spend", &other, "--key-file", &key, "--ledger", &l, "--cost", "1"]);
    let dir = env.path("agent");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("agent.token");
    std::fs::write(&file, &token).unwrap();
    if !immutable(&dir, true) {
        common::skip("chattr +i is not available: cannot make a directory unwritable for root");
        return;
    }
    // Nowhere to put the successor: refused before anything is spent.
    let (code, out, err) =
        env.run(&["spend", "--token-file", file.to_str().unwrap(), "--key-file", &key, "--ledger", &l, "--cost", "1"]);
    immutable(&dir, false);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(err.contains("nothing was spent"), "{err}");
    let (code, _, err) = env.run(&["verify", &token, "--key-file", &key, "--ledger", &l]);
    assert_eq!(code, 0, "still unspent: {err}");
    // The check passes but the save fails (the file itself cannot be replaced): the spend is
    // committed, so the successor is printed and stderr says how to recover.
    assert!(immutable(&file, true));
    let (code, out, err) =
        env.run(&["spend", "--token-file", file.to_str().unwrap(), "--key-file", &key, "--ledger", &l, "--cost", "1"]);
    immutable(&file, false);
    assert_eq!(code, 3, "{err}");
    let successor = out.trim();
    assert!(err.contains("the successor is printed above"), "{err}");
    let doc: Value = serde_json::from_str(&env.ok(&["inspect", successor, "--json"])).unwrap();
    assert_eq!(doc["balance"], 9);
    // Re-running returns the same successor, and now saves it.
    let again =
        env.ok(&["spend", "--token-file", file.to_str().unwrap(), "--key-file", &key, "--ledger", &l, "--cost", "1"]);
    assert_eq!(again, successor);
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), successor);
}

#[test]
fn keys_and_durations_are_handled_as_a_careful_tool_would() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let key = env.key("k");
    let path = std::path::Path::new(&key);
    // Readable by others: used, with a warning naming the mode and the fix.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = env.run(&["mint", "--key-file", &key]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("mode 0644") && err.contains("chmod 600"), "{err}");
    // Writable by anyone: refused.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, _, err) = env.run(&["mint", "--key-file", &key]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("may be written by anyone"), "{err}");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // --force says what replacing a key costs, and how to rotate instead.
    let (code, _, err) = env.run(&["keygen", "--out", &key, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stops verifying") && err.contains("--keyring"), "{err}");
    // Each cause once, in plain words.
    let (code, _, err) = env.run(&["mint", "--key-file", "/nonexistent/key"]);
    assert_eq!(code, 2);
    assert_eq!(err.matches("no such file").count() + err.matches("No such file").count(), 1, "{err}");
    assert!(!err.contains("os error"), "{err}");
    // The missing request fact names its flag.
    let token = env.ok(&["mint", "--key-file", &key, "-c", "action = read"]);
    let (code, _, err) = env.run(&["verify", &token, "--key-file", &key, "--offline"]);
    assert_eq!(code, 1);
    assert!(err.contains("the request names no action: pass --action"), "{err}");
    // Durations, compound; a bare number (seconds? days?) and zero refused.
    for d in ["90s", "1h30m", "2d12h"] {
        let (code, _, err) = env.run(&["mint", "--key-file", &key, "--expires-in", d]);
        assert_eq!(code, 0, "{d}: {err}");
    }
    let (code, _, err) = env.run(&["mint", "--key-file", &key, "--expires-in", "600"]);
    assert!(code == 2 && err.contains("has no unit"), "{err}");
    let minted = env.ok(&["mint", "--key-file", &key, "--expires-in", "1h30m", "--json"]);
    let doc: Value = serde_json::from_str(&minted).unwrap();
    let expires =
        time::OffsetDateTime::parse(doc["expires"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    let left = expires - time::OffsetDateTime::now_utc();
    assert!(left > time::Duration::minutes(89) && left <= time::Duration::minutes(90), "{left}");
    for d in ["0s", "0", "1x", "h", ""] {
        let (code, _, err) = env.run(&["mint", "--key-file", &key, "--expires-in", d]);
        assert_eq!(code, 2, "{d}: {err}");
    }
}

#[test]
fn an_unreachable_server_says_what_to_do_once() {
    let env = Env::new();
    let refusing = common::upstream::Refusing::new();
    let url = refusing.url.clone();
    let (code, _, err) =
        env.run(&["lineage", "--nonce", &"0".repeat(32), "--server", &url, "--credential-file", "/dev/null"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains(&format!("cannot reach {url}")) && err.contains("is `crumb serve` running"), "{err}");
    assert_eq!(err.matches("Connection refused").count() + err.matches("connection refused").count(), 1, "{err}");
}

#[test]
fn lineage_draws_spend_chains_as_runs_and_offers_dot() {
    let env = Env::new();
    let key = env.key("k");
    let l = env.path("l.db").to_str().unwrap().to_owned();
    let mut token = env.ok(&["mint", "--key-file", &key, "--balance", "100"]);
    let root = token.clone();
    for i in 0..20 {
        token = env.ok(&[
            "spend",
            &token,
            "--key-file",
            &key,
            "--ledger",
            &l,
            "--cost",
            "1",
            "--request-id",
            &format!("pay-{i}"),
        ]);
    }
    let kids = env.ok(&["split", &token, "--key-file", &key, "--ledger", &l, "--amount", "10"]);
    let text = env.ok(&["lineage", &root, "--ledger", &l]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 23, "{text}");
    // Twenty spends and the split drawn at one indentation; the split's two children below it.
    assert!(lines[..21].iter().all(|l| !l.starts_with(' ')), "{text}");
    assert!(lines[21].starts_with("    ") && lines[22].starts_with("    "), "{text}");
    assert!(lines[0].contains("balance") || lines[0].contains("spent 1"), "{text}");
    assert!(text.contains("(request pay-7)") && text.contains("split into 10 + 70") && text.contains("live"), "{text}");
    assert!(text.contains("<- this token"));
    let dot = env.ok(&["lineage", kids.lines().next().unwrap(), "--ledger", &l, "--format", "dot"]);
    assert!(dot.starts_with("digraph lineage {") && dot.trim_end().ends_with('}'), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), 22, "{dot}");
}
