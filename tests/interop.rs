//! crumb's output verifies in pymacaroons and libmacaroons: tokens with first-party caveats,
//! and a third-party caveat with a bound discharge. Skipped, with a message, where a library is
//! not installed (`.ci/run` installs pymacaroons from PyPI and libmacaroons-dev from Debian).

use crate::common;

use common::Env;
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};

fn pymacaroons_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import pymacaroons"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        common::skip("pymacaroons is not installed (pip install pymacaroons==0.13.0)");
    }
    ok
}

#[test]
fn crumb_tokens_verify_in_pymacaroons() {
    if !pymacaroons_available() {
        return;
    }
    let env = Env::new();
    // pymacaroons takes its keys as text: use a plain-string key, as the libraries do.
    let key_text = "a shared secret only the issuer knows";
    let key = env.file("key.txt", key_text.as_bytes());
    let idp_text = "the identity provider's caveat key";
    let idp = env.file("idp.txt", idp_text.as_bytes());
    let raw = ["--key-format", "raw"];
    let mint = |extra: &[&str]| {
        let mut args =
            vec!["mint", "--key-file", &key, "--id", "crumb interop token", "--location", "https://crumb.example"];
        args.extend_from_slice(&raw);
        args.extend_from_slice(extra);
        env.ok(&args)
    };
    let v1 = mint(&["-c", "action = read", "-c", "time < 2099-01-01T00:00:00Z", "--format", "v1"]);
    let v2 = mint(&["-c", "action = read", "-c", "aud = billing-api"]);
    let third = env.ok(&[
        "attenuate",
        &v2,
        "--third-party",
        "https://idp.example",
        "--caveat-key-file",
        &idp,
        "--caveat-key-format",
        "raw",
        "--caveat-id",
        "user = alice",
    ]);
    let discharge =
        env.ok(&["discharge", "--key-file", &idp, "--key-format", "raw", "--id", "user = alice", "-c", "mfa = yes"]);
    let bound = env.ok(&["bind", &third, &discharge]);
    let cases = json!([
        { "name": "v1 first-party", "token": v1, "key": key_text, "exact": ["action = read", "time < 2099-01-01T00:00:00Z"], "discharges": [], "expect": true },
        { "name": "v1 unsatisfied caveat", "token": v1, "key": key_text, "exact": ["action = read"], "discharges": [], "expect": false },
        { "name": "v2 first-party", "token": v2, "key": key_text, "exact": ["action = read", "aud = billing-api"], "discharges": [], "expect": true },
        { "name": "v2 wrong key", "token": v2, "key": "another key", "exact": ["action = read", "aud = billing-api"], "discharges": [], "expect": false },
        { "name": "third-party with bound discharge", "token": third, "key": key_text,
          "exact": ["action = read", "aud = billing-api", "mfa = yes"], "discharges": [bound], "expect": true },
        { "name": "third-party with unbound discharge", "token": third, "key": key_text,
          "exact": ["action = read", "aud = billing-api", "mfa = yes"], "discharges": [discharge], "expect": false },
    ]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/pymacaroons_verify.py");
    let mut child = Command::new("python3").arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(cases.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "pymacaroons disagreed:\n{report}");
    assert_eq!(report.lines().filter(|l| l.starts_with("ok")).count(), 6, "{report}");
}

/// Compiles the libmacaroons helper, if the library and a C compiler are here.
fn libmacaroons_helper(env: &Env) -> Option<std::path::PathBuf> {
    if !std::path::Path::new("/usr/include/macaroons.h").exists() {
        common::skip("libmacaroons is not installed (apt-get install libmacaroons-dev)");
        return None;
    }
    let out = env.path("libmacaroons_verify");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/libmacaroons_verify.c");
    let status = Command::new("cc").arg(source).arg("-o").arg(&out).arg("-lmacaroons").status().ok()?;
    if !status.success() {
        common::skip("the libmacaroons helper did not compile");
        return None;
    }
    Some(out)
}

#[test]
fn crumb_tokens_verify_in_libmacaroons() {
    let env = Env::new();
    let Some(helper) = libmacaroons_helper(&env) else { return };
    let key_text = "a shared secret only the issuer knows";
    let key = env.file("key.txt", key_text.as_bytes());
    let idp_text = "the identity provider's caveat key";
    let idp = env.file("idp.txt", idp_text.as_bytes());
    // libmacaroons 0.3.0 reads v1 only.
    let token = env.ok(&[
        "mint",
        "--key-file",
        &key,
        "--key-format",
        "raw",
        "--id",
        "crumb interop token",
        "-c",
        "action = read",
        "--format",
        "v1",
    ]);
    let third = env.ok(&[
        "attenuate",
        &token,
        "--third-party",
        "https://idp.example",
        "--caveat-key-file",
        &idp,
        "--caveat-key-format",
        "raw",
        "--caveat-id",
        "user = alice",
        "--format",
        "v1",
    ]);
    let discharge = env.ok(&[
        "discharge",
        "--key-file",
        &idp,
        "--key-format",
        "raw",
        "--id",
        "user = alice",
        "-c",
        "mfa = yes",
        "--format",
        "v1",
    ]);
    let bound = env.ok(&["bind", &third, &discharge, "--format", "v1"]);
    let verdict = |token: &str, key: &str, args: &[&str]| -> i32 {
        let out = Command::new(&helper).arg(key).arg(token).args(args).output().unwrap();
        out.status.code().unwrap_or(-1)
    };
    assert_eq!(verdict(&token, key_text, &["-e", "action = read"]), 0);
    assert_eq!(verdict(&token, key_text, &[]), 1);
    assert_eq!(verdict(&token, "another key", &["-e", "action = read"]), 1);
    assert_eq!(verdict(&third, key_text, &["-e", "action = read", "-e", "mfa = yes", "-d", &bound]), 0);
    assert_eq!(verdict(&third, key_text, &["-e", "action = read", "-e", "mfa = yes", "-d", &discharge]), 1);
    assert_eq!(verdict(&third, key_text, &["-e", "action = read", "-e", "mfa = yes"]), 1);
}
