//! The core CLI through the real binary: keygen, mint, attenuate, inspect, verify, and every
//! error path with its exit code (0 valid, 1 denied, 2 bad input).

use crate::common;

use common::Env;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn verify_json(env: &Env, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["verify", "--offline", "--json"];
    all.extend_from_slice(args);
    let (code, out, _) = env.run(&all);
    (code, json(&out))
}

#[test]
fn keygen_then_mint_with_no_flags() {
    let env = Env::new();
    let kid = env.ok(&["keygen"]);
    assert_eq!(kid.len(), 16, "{kid}");
    let key_path = env.path("data/root.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(std::fs::read_to_string(&key_path).unwrap().trim().len(), 64);
    let token = env.ok(&["mint"]);
    let doc = json(&env.ok(&["inspect", &token, "--json"]));
    assert_eq!(doc["key_id"], kid.as_str());
    assert_eq!(doc["nonce"].as_str().unwrap().len(), 32);
    assert_eq!(env.ok(&["verify", &token]), "valid");
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let env = Env::new();
    let key = env.key("k");
    let before = std::fs::read(&key).unwrap();
    let (code, _, err) = env.run(&["keygen", "--out", &key]);
    assert_eq!(code, 2);
    assert!(err.contains("exists"), "{err}");
    assert_eq!(std::fs::read(&key).unwrap(), before);
    env.ok(&["keygen", "--out", &key, "--force"]);
    assert_ne!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn mint_prints_only_the_token() {
    let env = Env::new();
    let key = env.key("k");
    let out = env.crumb().args(["mint", "--key-file", &key, "-c", "action = read"]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.ends_with('\n'));
    assert_eq!(stdout.lines().count(), 1);
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !stdout.contains('=') && !stdout.contains('+') && !stdout.contains('/'),
        "base64url without padding: {stdout}"
    );
}

#[test]
fn every_output_format_verifies() {
    let env = Env::new();
    let key = env.key("k");
    for format in ["v1", "v2", "json", "v1-json"] {
        let token =
            env.ok(&["mint", "--key-file", &key, "-c", "action = read", "--location", "https://x", "--format", format]);
        let doc = json(&env.ok(&["inspect", &token, "--json"]));
        let expected = if format == "v1-json" { "v1-json" } else { format };
        assert_eq!(doc["format"], expected);
        assert_eq!(
            env.ok(&["verify", "--offline", &token, "--key-file", &key, "--action", "read"]),
            "valid",
            "{format}"
        );
    }
}

#[test]
fn custom_identifier_and_raw_caveats_for_interop() {
    let env = Env::new();
    let key = env.file("plain", b"this is our super secret key; only we should know it");
    let token = env.ok(&[
        "mint",
        "--key-file",
        &key,
        "--key-format",
        "raw",
        "--id",
        "we used our secret key",
        "--location",
        "http://mybank/",
        "--format",
        "v1",
    ]);
    // Exactly pymacaroons' and libmacaroons' bytes for the same inputs.
    assert_eq!(
        token,
        "MDAxY2xvY2F0aW9uIGh0dHA6Ly9teWJhbmsvCjAwMjZpZGVudGlmaWVyIHdlIHVzZWQgb3VyIHNlY3JldCBrZXkKMDAyZnNpZ25hdHVyZSDj2eApCFJsTAA5rhURQRXZf91ovyujebNCqvD2F9BVLwo"
    );
    let raw = env.ok(&["attenuate", &token, "--raw", "account = 3735928559 with spaces "]);
    let (code, doc) = verify_json(&env, &[&raw, "--key-file", &key, "--key-format", "raw"]);
    assert_eq!(code, 1);
    assert_eq!(doc["code"], "unknown-caveat");
    let ok = env.ok(&[
        "verify",
        "--offline",
        &raw,
        "--key-file",
        &key,
        "--key-format",
        "raw",
        "--exact",
        "account = 3735928559 with spaces ",
    ]);
    assert_eq!(ok, "valid");
}

#[test]
fn malformed_caveats_are_refused_before_signing() {
    let env = Env::new();
    let key = env.key("k");
    for bad in ["expires < tomorrow", "action", "balance <= -3", "resource prefix /a/../b", "Bad = x"] {
        let (code, out, err) = env.run(&["mint", "--key-file", &key, "-c", bad]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(out.is_empty());
        assert!(err.contains("refusing to add caveat"), "{err}");
    }
    let token = env.ok(&["mint", "--key-file", &key]);
    let (code, out, _) = env.run(&["attenuate", &token, "-c", "ip in 300.0.0.1"]);
    assert_eq!((code, out.as_str()), (2, ""));
    let (code, _, err) = env.run(&["attenuate", &token]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn attenuate_needs_no_key_and_only_narrows() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key, "-c", "action in read,write"]);
    let narrower = env.ok(&["attenuate", &token, "-c", "action = read", "--expires-in", "1h"]);
    assert_eq!(env.ok(&["verify", "--offline", &narrower, "--key-file", &key, "--action", "read"]), "valid");
    let (code, doc) = verify_json(&env, &[&narrower, "--key-file", &key, "--action", "write"]);
    assert_eq!(code, 1);
    assert_eq!(doc["code"], "caveat-failed");
    // The original still allows write: attenuation made a new token, it did not change the old one.
    assert_eq!(env.ok(&["verify", "--offline", &token, "--key-file", &key, "--action", "write"]), "valid");
}

#[test]
fn verify_reason_codes() {
    let env = Env::new();
    let key = env.key("k");
    let other = env.key("other");
    let token = env.ok(&[
        "mint",
        "--key-file",
        &key,
        "-c",
        "expires < 2026-12-01T00:00:00Z",
        "-c",
        "action = read",
        "-c",
        "max-cost <= 5",
        "--balance",
        "10",
    ]);
    let at = "2026-11-23T00:00:00Z";
    let run = |extra: &[&str]| {
        let mut args = vec![token.as_str(), "--key-file", &key];
        args.extend_from_slice(extra);
        verify_json(&env, &args)
    };
    assert_eq!(run(&["--at", at, "--action", "read"]).0, 0);
    assert_eq!(run(&["--at", at, "--action", "read", "--cost", "5"]).0, 0);
    let cases: &[(&[&str], &str)] = &[
        (&["--at", "2026-12-01T00:00:00Z", "--action", "read"], "expired"),
        (&["--at", at, "--action", "write"], "caveat-failed"),
        (&["--at", at, "--action", "read", "--cost", "6"], "cost-exceeded"),
    ];
    for (extra, reason) in cases {
        let (code, doc) = run(extra);
        assert_eq!(code, 1, "{extra:?}");
        assert_eq!(doc["code"], *reason, "{extra:?}: {doc}");
        assert_eq!(doc["allowed"], false);
    }
    // Balance below the cost cap: insufficient-balance.
    let poorer = env.ok(&["attenuate", &token, "--balance", "3"]);
    let (code, doc) = verify_json(&env, &[&poorer, "--key-file", &key, "--at", at, "--action", "read", "--cost", "4"]);
    assert_eq!((code, doc["code"].as_str()), (1, Some("insufficient-balance")));
    // The wrong key file is refused unknown-key, as a keyring without the key is (exit 1): the
    // whole verdict, with the key id the token names, and a message that names both key ids.
    let (code, doc) = verify_json(&env, &[&token, "--key-file", &other, "--at", at, "--action", "read"]);
    assert_eq!((code, doc["code"].as_str(), doc["allowed"].as_bool()), (1, Some("unknown-key"), Some(false)), "{doc}");
    let named = env.ok(&["inspect", &token, "--json"]);
    let named: serde_json::Value = serde_json::from_str(&named).unwrap();
    assert_eq!(doc["key_id"], named["key_id"], "{doc}");
    assert!(doc["nonce"].is_string(), "{doc}");
    let message = doc["message"].as_str().unwrap();
    assert!(
        message.contains("this token was minted with key id") && message.contains("the verifier's key is"),
        "{message}"
    );
}

#[test]
fn wrong_key_of_a_foreign_token_is_a_bad_signature() {
    let env = Env::new();
    let key = env.key("k");
    let other = env.key("other");
    let token = env.ok(&["mint", "--key-file", &key, "--id", "foreign-id"]);
    let (code, doc) = verify_json(&env, &[&token, "--key-file", &other]);
    assert_eq!((code, doc["code"].as_str()), (1, Some("bad-signature")));
}

#[test]
fn denial_names_the_failing_caveat_and_explain_lists_all() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&[
        "mint",
        "--key-file",
        &key,
        "-c",
        "action = read",
        "-c",
        "resource prefix /apps/42",
        "-c",
        "aud = api",
    ]);
    let (code, out, err) = env.run(&[
        "verify",
        "--offline",
        &token,
        "--key-file",
        &key,
        "--action",
        "read",
        "--resource",
        "/apps/421",
        "--explain",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("caveat 1") && err.contains("/apps/421"), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].contains("ok") && lines[1].contains("FAIL") && lines[2].contains("FAIL"), "{out}");
    let (_, doc) = verify_json(&env, &[&token, "--key-file", &key, "--action", "read", "--resource", "/apps/42/x"]);
    let caveats = doc["caveats"].as_array().unwrap();
    assert_eq!(caveats.len(), 3);
    assert_eq!(caveats[2]["satisfied"], false);
    assert_eq!(caveats[2]["kind"], "aud");
    assert_eq!(doc["code"], "caveat-failed");
}

#[test]
fn context_ip_and_resource_escapes() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&[
        "mint",
        "--key-file",
        &key,
        "-c",
        "ip in 10.0.0.0/8,fd00::/8",
        "-c",
        "tenant = acme",
        "-c",
        "resource prefix /apps/42",
    ]);
    let ok = ["--key-file", &key, "--resource", "/apps/42/logs"];
    let v = |extra: &[&str]| {
        let mut args = vec!["verify", "--offline", token.as_str()];
        args.extend_from_slice(&ok);
        args.extend_from_slice(extra);
        env.run(&args).0
    };
    assert_eq!(v(&["--ip", "10.2.3.4", "--context", "tenant=acme"]), 0);
    assert_eq!(v(&["--ip", "fd00::1", "--context", "tenant=acme"]), 0);
    assert_eq!(v(&["--ip", "11.2.3.4", "--context", "tenant=acme"]), 1);
    assert_eq!(v(&["--ip", "10.2.3.4"]), 1, "a missing context value denies");
    assert_eq!(v(&["--ip", "10.2.3.4", "--context", "tenant=globex"]), 1);
    let escape = env.run(&[
        "verify",
        "--offline",
        &token,
        "--key-file",
        &key,
        "--resource",
        "/apps/42/../43",
        "--ip",
        "10.0.0.1",
        "--context",
        "tenant=acme",
    ]);
    assert_eq!(escape.0, 1);
    assert_eq!(env.run(&["verify", "--offline", &token, "--key-file", &key, "--ip", "not-an-ip"]).0, 2);
}

#[test]
fn tokens_from_stdin_and_files() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key]);
    env.crumb()
        .args(["verify", "--offline", "-", "--key-file", &key])
        .write_stdin(format!("{token}\n"))
        .assert()
        .success();
    let file = env.file("token.txt", format!("  {token}\n").as_bytes());
    env.crumb().args(["verify", "--offline", "--token-file", &file, "--key-file", &key]).assert().success();
    env.crumb().args(["inspect", "--token-file", &file]).assert().success();
    env.crumb().args(["verify", "--offline", "--key-file", &key]).assert().code(2);
}

#[test]
fn keys_from_fd_env_and_other_formats() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key]);
    env.crumb().args(["verify", "--offline", &token]).env("CRUMB_KEY_FILE", &key).assert().success();
    // --key-fd 0: the key arrives on standard input, never on the command line.
    let hex_key = std::fs::read_to_string(&key).unwrap();
    env.crumb().args(["verify", "--offline", &token, "--key-fd", "0"]).write_stdin(hex_key.clone()).assert().success();
    let raw = hex::decode(hex_key.trim()).unwrap();
    use base64::Engine;
    let b64 = env.file("k.b64", base64::engine::general_purpose::STANDARD.encode(&raw).as_bytes());
    env.crumb().args(["verify", "--offline", &token, "--key-file", &b64, "--key-format", "base64"]).assert().success();
    let rawf = env.file("k.raw", &raw);
    env.crumb().args(["verify", "--offline", &token, "--key-file", &rawf, "--key-format", "raw"]).assert().success();
}

#[test]
fn bad_input_exits_2_without_a_panic() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key, "-c", "action = read"]);
    let bad_key = env.file("bad.key", b"not hex at all");
    let cases: Vec<Vec<String>> = vec![
        vec!["verify".into(), "!!!not a token".into(), "--key-file".into(), key.clone()],
        vec!["verify".into(), token[..token.len() - 9].into(), "--key-file".into(), key.clone()],
        vec!["verify".into(), token.clone(), "--key-file".into(), env.path("missing.key").to_str().unwrap().into()],
        vec!["verify".into(), token.clone(), "--key-file".into(), bad_key],
        vec!["verify".into(), token.clone(), "--key-file".into(), key.clone(), "--at".into(), "yesterday".into()],
        vec!["inspect".into(), "{\"i\": 3}".into()],
        vec!["verify".into(), token.clone(), "--key".into(), "deadbeef".into()],
        vec!["mint".into(), "--key-file".into(), key.clone(), "--format".into(), "v9".into()],
    ];
    for args in cases {
        let (code, _, err) = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 2, "{:?}: {err}", &args[..2]);
        assert!(!err.contains("panicked"), "{err}");
        assert!(!err.is_empty());
    }
    // A huge token on stdin is refused by size, not read without bound.
    let (code, err) = {
        let out = env.crumb().args(["inspect", "-"]).write_stdin("A".repeat(300_000)).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(code, Some(2));
    assert!(err.contains("limit"), "{err}");
}

#[test]
fn a_cut_token_says_it_was_cut() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key, "-c", "action = read", "-c", "aud = api"]);
    for cut in [token.len() - 20, token.len() / 2] {
        let (code, _, err) = env.run(&["inspect", &token[..cut]]);
        assert_eq!(code, 2);
        assert!(err.contains("cut short"), "{err}");
    }
}

#[test]
fn inspect_table_json_and_redaction() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&[
        "mint",
        "--key-file",
        &key,
        "-c",
        "expires < 2030-01-01T00:00:00Z",
        "--balance",
        "50",
        "--location",
        "https://api",
    ]);
    let table = env.ok(&["inspect", &token]);
    for needle in ["https://api", "crumb1:", "expires", "balance", "redacted"] {
        assert!(table.contains(needle), "{needle} missing:\n{table}");
    }
    let doc = json(&env.ok(&["inspect", &token, "--json"]));
    assert_eq!(doc["location"], "https://api");
    assert_eq!(doc["balance"], 50);
    assert_eq!(doc["expires"], "2030-01-01T00:00:00Z");
    assert_eq!(doc["signature"], Value::Null);
    assert_eq!(doc["signature_valid"], Value::Null);
    assert_eq!(doc["caveats"][0]["kind"], "expires");
    assert!(doc["caveats"][0]["meaning"].as_str().unwrap().starts_with("expires in"));
    assert!(doc["warnings"].as_array().unwrap().is_empty(), "{doc}");
    let shown = json(&env.ok(&["inspect", &token, "--json", "--show-signature", "--key-file", &key]));
    assert_eq!(shown["signature"].as_str().unwrap().len(), 64);
    assert_eq!(shown["signature_valid"], true);
    let other = env.key("other");
    let wrong = json(&env.ok(&["inspect", &token, "--json", "--key-file", &other]));
    assert_eq!(wrong["signature_valid"], false);
}

#[test]
fn inspect_warns_about_no_expiry_unknown_caveats_and_expired() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&[
        "mint",
        "--key-file",
        &key,
        "--raw",
        "frobnicate the widgets",
        "-c",
        "expires < 2020-01-01T00:00:00Z",
    ]);
    let doc = json(&env.ok(&["inspect", &token, "--json"]));
    let warnings = doc["warnings"].to_string();
    assert!(warnings.contains("expired"), "{warnings}");
    assert!(warnings.contains("does not understand"), "{warnings}");
    assert_eq!(doc["caveats"][0]["kind"], "expires");
    assert_eq!(doc["caveats"][1]["kind"], "unknown");
    let bare = env.ok(&["mint", "--key-file", &key]);
    let text = env.ok(&["inspect", &bare]);
    assert!(text.contains("no expiry"), "{text}");
}

#[test]
fn only_exact_turns_the_caveat_language_off() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key, "-c", "action = read"]);
    assert_eq!(env.run(&["verify", "--offline", &token, "--key-file", &key, "--action", "read"]).0, 0);
    assert_eq!(env.run(&["verify", "--offline", &token, "--key-file", &key, "--action", "read", "--only-exact"]).0, 1);
    assert_eq!(
        env.run(&["verify", "--offline", &token, "--key-file", &key, "--only-exact", "--exact", "action = read"]).0,
        0
    );
}

#[test]
fn help_and_version() {
    let env = Env::new();
    let help = env.ok(&["--help"]);
    for sub in ["keygen", "mint", "attenuate", "inspect", "verify"] {
        assert!(help.contains(sub), "{sub}");
    }
    assert!(env.ok(&["--version"]).starts_with("crumb "));
}

/// `--expires-in 30` meant 30 seconds, silently: a bare number is refused, naming the units.
#[test]
fn an_expiry_without_a_unit_is_refused() {
    let env = Env::new();
    let key = env.key("k");
    let (code, _, err) = env.run(&["mint", "--key-file", &key, "--expires-in", "30"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`30` has no unit") && err.contains("30d"), "{err}");
    env.ok(&["mint", "--key-file", &key, "--expires-in", "30d"]);
}

/// Pasted mistakes get their likely cause, and a negative or fractional amount is said to be
/// one (not "an invalid digit" or an unexpected argument).
#[test]
fn pasted_mistakes_and_wrong_amounts_are_named() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    for (text, cause) in [
        (format!("Bearer {token}"), "Bearer"),
        (format!("\"{token}\""), "quotes"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".to_owned(), "JWT"),
    ] {
        let (code, _, err) = env.run(&["inspect", &text]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(cause), "{text}: {err}");
    }
    for (flag, value, says) in [("--balance", "-5", "negative"), ("--balance", "1.5", "whole number")] {
        let (code, _, err) = env.run(&["mint", "--key-file", &key, flag, value]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{value}: {err}");
    }
}

#[test]
fn the_long_version_names_the_commit_target_and_features() {
    let env = Env::new();
    let long = env.ok(&["--version"]);
    let lines: Vec<&str> = long.lines().collect();
    assert_eq!(lines[0], format!("crumb {}", env!("CARGO_PKG_VERSION")));
    assert!(lines[1].starts_with("commit: ") && lines[1].len() > "commit: ".len(), "{long}");
    assert!(lines[2].starts_with("target: ") && lines[2].contains('-'), "{long}");
    for feature in ["sqlite", "postgres", "mcp"] {
        assert!(lines[3].starts_with("features: ") && lines[3].contains(feature), "{long}");
    }
    assert_eq!(env.ok(&["-V"]), format!("crumb {}", env!("CARGO_PKG_VERSION")), "-V stays one line");
}

/// A command line that does not parse, run with `--json`, also answers the JSON error a script
/// reads on stdout (`bad-request`, exit 2); `--help` stays help.
#[test]
fn a_usage_error_with_json_is_a_json_error() {
    let env = Env::new();
    let (code, out, err) = env.run(&["verify", "--json", "--bogus"]);
    let doc: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!((code, doc["code"].as_str(), doc["exit"].as_u64()), (2, Some("bad-request"), Some(2)), "{out}");
    assert!(err.contains("--bogus"), "{err}");
    let (code, out, _) = env.run(&["verify", "--json", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Usage"), "{out}");
}
