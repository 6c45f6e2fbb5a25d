//! Running crumb in production: moving the default key into a keyring, keyring changes that
//! never lose one another, a ledger's standing (unknown nonces, tokens of other libraries),
//! and `crumb doctor`.

use crate::common::Env;
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn listed_keys(env: &Env, ring: &str) -> Vec<Value> {
    json(&env.ok(&["keygen", "--keyring", ring, "--list", "--json"]))["keys"].as_array().unwrap().clone()
}

/// The documented move from the default key to a keyring: tokens already issued keep verifying.
#[test]
fn the_default_key_moves_into_a_keyring_and_its_tokens_go_on_verifying() {
    let env = Env::new();
    let default_id = env.ok(&["keygen"]);
    let issued = env.ok(&["mint", "--balance", "10"]);
    let ring = env.path("ring.json").to_str().unwrap().to_owned();

    // A new keyring while a default key exists says how to import it.
    let (code, new_id, err) = env.run(&["keygen", "--keyring", &ring]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("crumb keygen --keyring {ring} --import")) && err.contains(&default_id), "{err}");
    let (code, _, err) = env.run(&["verify", "--offline", &issued, "--keyring", &ring]);
    assert_eq!(code, 1, "the default key is not in the keyring yet: {err}");

    let imported = env.ok(&["keygen", "--keyring", &ring, "--import"]);
    assert_eq!(imported, default_id, "the imported key keeps its id");
    assert_eq!(env.ok(&["verify", "--offline", &issued, "--keyring", &ring]), "valid");
    let keys = listed_keys(&env, &ring);
    assert_eq!(keys.len(), 2);
    let current: Vec<&str> =
        keys.iter().filter(|k| k["current"] == true).map(|k| k["key_id"].as_str().unwrap()).collect();
    assert_eq!(current, [new_id.trim()], "importing into a keyring with a current key keeps that one current");
    // Importing again adds nothing.
    env.ok(&["keygen", "--keyring", &ring, "--import"]);
    assert_eq!(listed_keys(&env, &ring).len(), 2);

    // Into an empty keyring, the imported key is current: minting goes on with it.
    let fresh = env.path("fresh.json").to_str().unwrap().to_owned();
    assert_eq!(env.ok(&["keygen", "--keyring", &fresh, "--import"]), default_id);
    let minted = env.ok(&["mint", "--keyring", &fresh, "--json"]);
    assert_eq!(json(&minted)["key_id"], default_id.as_str());
    assert_eq!(env.ok(&["verify", "--offline", &issued, "--keyring", &fresh]), "valid");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // An explicit key file that is not a key is refused, and the keyring is left as it was.
    let junk = env.file("junk", b"not a key");
    let (code, _, err) = env.run(&["keygen", "--keyring", &fresh, "--import", &junk]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(listed_keys(&env, &fresh).len(), 1);

    // The default key is imported under the rules it is read by: not from a data directory
    // others may write (someone could have put a key there).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let other = env.path("other.json").to_str().unwrap().to_owned();
        std::fs::set_permissions(env.path("data"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let (code, _, err) = env.run(&["keygen", "--keyring", &other, "--import"]);
        assert!(code == 2 && err.contains("chmod 700"), "{err}");
        assert!(!std::path::Path::new(&other).exists());
    }
}

#[test]
fn replacing_the_default_key_recommends_a_keyring_import_not_a_fresh_keyring() {
    let env = Env::new();
    env.ok(&["keygen"]);
    let (code, _, err) = env.run(&["keygen"]);
    assert_eq!(code, 2);
    assert!(err.contains("--import"), "{err}");
    let (code, _, err) = env.run(&["keygen", "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("stops verifying") && err.contains("--import"), "{err}");
}

#[test]
fn retiring_the_current_key_is_refused_with_what_to_do_instead() {
    let env = Env::new();
    let ring = env.path("ring.json").to_str().unwrap().to_owned();
    let only = env.ok(&["keygen", "--keyring", &ring]);
    let (code, _, err) = env.run(&["keygen", "--keyring", &ring, "--retire", &only]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("current key") && err.contains("add a new current key first"), "{err}");
    let (code, out, _) = env.run(&["keygen", "--keyring", &ring, "--retire", &only, "--json"]);
    assert_eq!((code, json(&out)["code"].as_str()), (2, Some("bad-key")));
    assert!(listed_keys(&env, &ring).iter().all(|k| k["retired_at"].is_null()));
    // With a new current key, the old one retires.
    env.ok(&["keygen", "--keyring", &ring]);
    env.ok(&["keygen", "--keyring", &ring, "--retire", &only]);
    let keys = listed_keys(&env, &ring);
    assert!(keys.iter().any(|k| k["key_id"] == only.as_str() && k["retired_at"].is_string()), "{keys:?}");
}

/// Two processes changing one keyring at once: each change is kept (the keyring's lock).
#[test]
fn concurrent_keyring_changes_lose_nothing() {
    let env = Env::new();
    let ring = env.path("ring.json").to_str().unwrap().to_owned();
    env.ok(&["keygen", "--keyring", &ring]);
    const EACH: usize = 8;
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut shell = env.process_for("sh");
            let crumb = assert_cmd::cargo::cargo_bin("crumb");
            let script = format!(
                "for i in $(seq {EACH}); do '{}' keygen --keyring '{ring}' >/dev/null 2>&1 || exit 1; done",
                crumb.display()
            );
            shell.args(["-c", &script]);
            shell.spawn().expect("spawn")
        })
        .collect();
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    assert_eq!(listed_keys(&env, &ring).len(), 1 + 2 * EACH, "a concurrent change was lost");
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".crumb-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The ledgers the ledger-standing tests run on: a SQLite file, and PostgreSQL when the test
/// cluster is up (a skip notice otherwise).
fn ledger_locations(env: &Env) -> Vec<(String, Option<crate::common::backends::Backend>)> {
    let mut all = vec![(env.path("ledger.sqlite3").to_str().unwrap().to_owned(), None)];
    if let Some(pg) = crate::common::backends::Backend::postgres() {
        all.push((pg.location().to_owned(), Some(pg)));
    }
    all
}

fn nonce_of(env: &Env, token: &str) -> String {
    json(&env.ok(&["inspect", token, "--json"]))["nonce"].as_str().unwrap().to_owned()
}

#[test]
fn a_nonce_the_ledger_never_saw_is_unknown_to_revoke_and_lineage_on_every_backend() {
    for (ledger, _backend) in ledger_locations(&Env::new()) {
        let env = Env::new();
        let ledger = if ledger.starts_with("postgres") { ledger } else { env.path("l.sqlite3").display().to_string() };
        let key = env.key("k");
        // `crumb ledger init` makes the ledger, and says so; again, it is there already.
        let made = json(&env.ok(&["ledger", "init", "--ledger", &ledger, "--json"]));
        assert_eq!(
            (made["created"].as_bool(), made["schema_version"].is_i64()),
            (Some(true), true),
            "{ledger}: {made}"
        );
        let again = json(&env.ok(&["ledger", "init", "--ledger", &ledger, "--json"]));
        assert_eq!(again["created"], false, "{ledger}");

        let token = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
        let nonce = nonce_of(&env, &token);
        for args in [vec!["lineage", "--nonce", &nonce], vec!["lineage", &token], vec!["revoke", "--nonce", &nonce]] {
            let mut args = args.clone();
            args.extend(["--ledger", &ledger, "--json"]);
            let (code, out, _) = env.run(&args);
            let doc = json(&out);
            assert_eq!((code, doc["code"].as_str()), (2, Some("unknown-token")), "{ledger} {args:?}: {doc}");
            assert!(doc["message"].as_str().unwrap().contains("never seen"), "{doc}");
            let (code, _, err) = env.run(&args[..args.len() - 1]);
            assert!(code == 2 && err.contains(&nonce) && err.contains("never seen"), "{args:?}: {err}");
        }
        // The refused revocation wrote nothing: the token spends.
        let spent = env.ok(&["spend", &token, "--key-file", &key, "--ledger", &ledger, "--cost", "1"]);
        let tree = json(&env.ok(&["lineage", &token, "--ledger", &ledger, "--json"]));
        assert_eq!(tree["tree"].as_array().unwrap().len(), 2, "{ledger}: {tree}");
        // A known nonce revokes, and says the ledger had seen it.
        let done = json(&env.ok(&["revoke", "--nonce", &nonce_of(&env, &spent), "--ledger", &ledger, "--json"]));
        assert_eq!((done["revoked"].as_array().unwrap().len(), done["seen"].as_bool()), (1, Some(true)), "{done}");

        // A token never used, given itself, is revoked before its first use, and said so.
        let unused = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
        let (code, out, err) = env.run(&["revoke", &unused, "--ledger", &ledger]);
        assert_eq!((code, out.trim()), (0, nonce_of(&env, &unused).as_str()), "{err}");
        assert!(err.contains("before its first use"), "{err}");
        let (code, _, err) = env.run(&["spend", &unused, "--key-file", &key, "--ledger", &ledger, "--cost", "1"]);
        assert!(code == 1 && err.contains("revoked"), "{ledger}: {err}");
        // By nonce alone, with --unseen.
        let other = env.ok(&["mint", "--key-file", &key]);
        let other_nonce = nonce_of(&env, &other);
        let done = json(&env.ok(&["revoke", "--nonce", &other_nonce, "--unseen", "--ledger", &ledger, "--json"]));
        assert_eq!(done["seen"], false, "{done}");
        let (code, _, _) = env.run(&["verify", &other, "--key-file", &key, "--ledger", &ledger]);
        assert_eq!(code, 1, "{ledger}");
    }
}

#[test]
fn verify_without_a_ledger_says_how_one_comes_into_being() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key]);
    let ledger = env.path("none.sqlite3").display().to_string();
    let (code, _, err) = env.run(&["verify", &token, "--key-file", &key, "--ledger", &ledger]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("first spend") && err.contains("crumb ledger init") && err.contains("--offline"), "{err}");
    env.ok(&["ledger", "init", "--ledger", &ledger]);
    assert_eq!(env.ok(&["verify", &token, "--key-file", &key, "--ledger", &ledger]), "valid");
}

/// A token pymacaroons minted (tests/data/interop) has no crumb identifier: no ledger records
/// it, so verify needs none, and says so.
#[test]
fn a_token_of_another_library_verifies_without_a_ledger_and_says_it_has_no_standing() {
    let Some(vectors) = crate::common::load_vectors() else { return };
    let vector = vectors.iter().find(|v| v["id"] == "a/no-caveats/pymacaroons").expect("the vector");
    let env = Env::new();
    let key = env.file("key.hex", vector["root_key"]["hex"].as_str().unwrap().as_bytes());
    let token = vector["serializations"]["v1"]["text"].as_str().unwrap();
    let (code, out, err) = env.run(&["verify", token, "--key-file", &key]);
    assert_eq!((code, out.trim()), (0, "valid"), "{err}");
    assert!(err.contains("not minted by crumb") && err.contains("no ledger tracks it"), "{err}");
    let (code, out, _) = env.run(&["verify", token, "--key-file", &key, "--json"]);
    let doc = json(&out);
    assert_eq!((code, doc["allowed"].as_bool(), doc["tracked"].as_bool()), (0, Some(true), Some(false)), "{doc}");
    // A crumb token without a ledger is still refused, and is tracked.
    let crumb_key = env.key("crumb.key");
    let mine = env.ok(&["mint", "--key-file", &crumb_key]);
    let (code, _, _) = env.run(&["verify", &mine, "--key-file", &crumb_key]);
    assert_eq!(code, 3);
    let (_, out, _) = env.run(&["verify", &mine, "--key-file", &crumb_key, "--offline", "--json"]);
    assert_eq!(json(&out)["tracked"], true);
}

fn doctor(env: &Env, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["doctor", "--json"];
    all.extend_from_slice(args);
    let (code, out, err) = env.run(&all);
    assert!(err.is_empty() || code != 0, "{err}");
    (code, json(&out))
}

fn findings<'a>(doc: &'a Value, check: &str) -> Vec<&'a Value> {
    doc["findings"].as_array().unwrap().iter().filter(|f| f["check"] == check).collect()
}

#[test]
fn doctor_passes_a_healthy_setup_and_finds_a_loose_key_with_its_fix() {
    let env = Env::new();
    env.ok(&["keygen"]);
    let (code, doc) = doctor(&env, &[]);
    assert_eq!((code, doc["ok"].as_bool()), (0, Some(true)), "{doc}");
    for check in ["data-directory", "key-file", "ledger"] {
        let found = findings(&doc, check);
        assert!(!found.is_empty() && found.iter().all(|f| f["status"] == "ok"), "{check}: {doc}");
    }
    assert!(findings(&doc, "ledger")[0]["message"].as_str().unwrap().contains("schema version"), "{doc}");
    let (code, text, _) = env.run(&["doctor"]);
    assert!(code == 0 && !text.contains("ERROR"), "{text}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = env.path("data/root.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (code, doc) = doctor(&env, &[]);
        assert_eq!((code, doc["ok"].as_bool()), (3, Some(false)), "{doc}");
        let loose = findings(&doc, "key-file").into_iter().find(|f| f["status"] == "error").expect("a finding");
        assert!(loose["message"].as_str().unwrap().contains("0644"), "{loose}");
        assert_eq!(
            loose["fix"],
            format!("`chmod 600 {}`, and rotate the key if others may have read it", key.display())
        );
        let (code, text, _) = env.run(&["doctor"]);
        assert!(code == 3 && text.contains("ERROR") && text.contains("fix: `chmod 600"), "{text}");

        // A data directory others may write is an error too, with its fix.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(env.path("data"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let (code, doc) = doctor(&env, &[]);
        let dir = &findings(&doc, "data-directory")[0];
        assert_eq!((code, dir["status"].as_str()), (3, Some("error")), "{doc}");
        assert!(dir["fix"].as_str().unwrap().contains("chmod 700"), "{dir}");
    }
}

#[test]
fn doctor_finds_a_missing_ledger_a_keyring_without_a_current_key_and_an_unreachable_server() {
    let env = Env::new();
    let ring = env.file("ring.json", br#"{"version":1,"current":null,"keys":[]}"#);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ring, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let ledger = env.path("nowhere.sqlite3").display().to_string();
    let (code, doc) = doctor(&env, &["--keyring", &ring, "--ledger", &ledger, "--server", "http://127.0.0.1:9"]);
    assert_eq!(code, 3, "{doc}");
    let keyring = &findings(&doc, "keyring")[0];
    assert!(keyring["status"] == "error" && keyring["message"].as_str().unwrap().contains("no current key"), "{doc}");
    let ledger_finding = &findings(&doc, "ledger")[0];
    assert_eq!(
        ledger_finding["fix"],
        format!(
            "`crumb ledger init --ledger {ledger}` creates it (a first spend would too); until then verify refuses"
        )
    );
    assert_eq!(findings(&doc, "server")[0]["status"], "error", "{doc}");
    // A keyring holding one key twice is inconsistent too.
    let key_file = env.key("twice.key");
    let hex = std::fs::read_to_string(&key_file).unwrap();
    let id = json(&env.ok(&[
        "keygen",
        "--keyring",
        &env.path("probe.json").display().to_string(),
        "--import",
        &key_file,
        "--json",
    ]))["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let entry = serde_json::json!({ "id": id, "key": hex.trim(), "created": "2026-01-01T00:00:00Z", "retired": null });
    let twice = serde_json::json!({ "version": 1, "current": id, "keys": [entry, entry] });
    let twice_path = env.file("twice.json", twice.to_string().as_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&twice_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (code, doc) = doctor(&env, &["--keyring", &twice_path, "--only", "key"]);
    let found = &findings(&doc, "keyring");
    assert!(code == 3 && found.iter().any(|f| f["message"].as_str().unwrap().contains("twice")), "{doc}");

    // The fixes fixed: a current key and the ledger made.
    env.ok(&["keygen", "--keyring", &ring]);
    env.ok(&["ledger", "init", "--ledger", &ledger]);
    let (code, doc) = doctor(&env, &["--keyring", &ring, "--ledger", &ledger]);
    assert_eq!(findings(&doc, "keyring")[0]["status"], "ok", "{doc}");
    assert_eq!(findings(&doc, "ledger")[0]["status"], "ok", "{doc}");
    // No default key in this environment: a warning, not an error.
    assert_eq!(code, 0, "{doc}");
}

#[test]
fn doctor_reaches_a_running_server() {
    let server = crate::common::server::start(&[]);
    let ledger = server.env.path("ledger.db").display().to_string();
    let (code, doc) = doctor(&server.env, &["--key-file", &server.key, "--ledger", &ledger, "--server", &server.url]);
    assert_eq!(findings(&doc, "server")[0]["status"], "ok", "{doc}");
    assert_eq!((code, doc["ok"].as_bool()), (0, Some(true)), "{doc}");
    // Only the server, as a container's HEALTHCHECK asks: nothing else is looked at.
    let (code, doc) = doctor(&server.env, &["--only", "server", "--server", &server.url]);
    let checks: Vec<&str> = doc["findings"].as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap()).collect();
    assert_eq!((code, checks), (0, vec!["server"]), "{doc}");
    // Something else at the address (not crumb's /healthz) is an error.
    let (code, doc) = doctor(&server.env, &["--server", &format!("{}/v1", server.url)]);
    assert_eq!((code, findings(&doc, "server")[0]["status"].as_str()), (3, Some("error")), "{doc}");
}

fn with_stdin(env: &Env, args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = env.crumb().args(args).write_stdin(stdin.to_owned()).output().expect("run crumb");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn token_file_dash_reads_standard_input_and_usage_shows_the_alternative() {
    let env = Env::new();
    let key = env.key("k");
    let ledger = env.path("l.sqlite3").display().to_string();
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
    let (code, out, err) =
        with_stdin(&env, &["verify", "--token-file", "-", "--key-file", &key, "--offline"], &format!("{token}\n"));
    assert_eq!((code, out.trim()), (0, "valid"), "{err}");
    let (code, out, _) = with_stdin(&env, &["inspect", "--token-file", "-", "--json"], &token);
    assert_eq!((code, json(&out)["balance"].as_u64()), (0, Some(10)));
    // A spend from standard input prints its successor; no file named `-` is made.
    let (code, successor, err) = with_stdin(
        &env,
        &["spend", "--token-file", "-", "--key-file", &key, "--ledger", &ledger, "--cost", "3"],
        &token,
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("7 left"), "{err}");
    assert!(!env.path("-").exists());
    assert_eq!(json(&env.ok(&["inspect", successor.trim(), "--json"]))["balance"], 7);
    let (code, out, err) = with_stdin(
        &env,
        &["split", "--token-file", "-", "--key-file", &key, "--ledger", &ledger, "--amount", "2"],
        &successor,
    );
    assert_eq!((code, out.lines().count()), (0, 2), "{err}");
    assert!(!env.path("-").exists());

    for sub in ["verify", "inspect", "spend", "split"] {
        let (_, help, _) = env.run(&[sub, "--help"]);
        let usage = help.lines().find(|l| l.starts_with("Usage:")).unwrap();
        assert!(usage.contains("<TOKEN|--token-file <FILE>>"), "{sub}: {usage}");
    }
    let (code, _, err) = env.run(&["verify", "--key-file", &key]);
    assert!(code == 2 && err.contains("<TOKEN|--token-file <FILE>>"), "{err}");
    // `crumb request` rotates its token file: standard input is refused, and said why.
    let (code, _, err) = with_stdin(&env, &["request", "--token-file", "-", "http://127.0.0.1:9/x"], &token);
    assert!(code == 2 && err.contains("names a file, not standard input"), "{err}");
}

#[test]
fn tables_are_plain_columns_in_a_pipe_and_boxes_when_asked() {
    let env = Env::new();
    let key = env.key("k");
    let token = env.ok(&["mint", "--key-file", &key, "-c", "action = read"]);
    let plain = env.ok(&["inspect", &token]);
    assert!(!plain.contains('│') && !plain.contains('┌'), "{plain}");
    let nonce = plain.lines().find(|l| l.starts_with("nonce")).expect("a nonce line");
    assert_eq!(nonce.split_whitespace().nth(1), Some(nonce_of(&env, &token).as_str()), "{plain}");
    assert!(
        plain.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["0", "first", "action", "=", "read", "action", "only", "action", "read"]),
        "{plain}"
    );
    let boxed = env.crumb().args(["inspect", &token]).env("CRUMB_TABLES", "box").output().unwrap();
    assert!(String::from_utf8_lossy(&boxed.stdout).contains('│'));
    let ring = env.path("ring.json").display().to_string();
    let id = env.ok(&["keygen", "--keyring", &ring]);
    let listed = env.ok(&["keygen", "--keyring", &ring, "--list"]);
    let row: Vec<&str> = listed.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!((row[0], row[2]), (id.as_str(), "current"), "{listed}");
}

#[test]
fn split_offers_no_request_facts_and_says_it_does_not_check_them() {
    let env = Env::new();
    let (_, help, _) = env.run(&["split", "--help"]);
    for flag in ["--action", "--resource", "--ip", "--aud", "--context"] {
        assert!(!help.contains(flag), "split --help offers {flag}");
    }
    assert!(help.contains("--at") && help.contains("--amount"), "{help}");
    let (_, spend_help, _) = env.run(&["spend", "--help"]);
    assert!(spend_help.contains("--action"), "spend still takes request facts");
    let key = env.key("k");
    let ledger = env.path("l.sqlite3").display().to_string();
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "10", "-c", "action = read"]);
    let (code, _, err) =
        env.run(&["split", &token, "--key-file", &key, "--ledger", &ledger, "--amount", "4", "--action", "write"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("a split makes no request"), "{err}");
}

#[test]
fn man_page_synopses_show_option_values() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/crumb-verify.1")).unwrap();
    let synopsis = page.split(".SH SYNOPSIS").nth(1).unwrap().split(".SH").next().unwrap();
    assert!(synopsis.contains(r"[\fB\-\-key\-file\fR \fIFILE\fR]"), "{synopsis}");
    assert!(synopsis.contains(r"[\fB\-\-ledger\fR \fIPATH|URL\fR]"), "{synopsis}");
    assert!(synopsis.contains(r"[\fB\-\-json\fR]"), "{synopsis}");
    assert!(synopsis.contains(r"(\fITOKEN\fR|\fB\-\-token\-file\fR \fIFILE\fR)"), "{synopsis}");
    let split = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/crumb-split.1")).unwrap();
    let synopsis = split.split(".SH SYNOPSIS").nth(1).unwrap().split(".SH").next().unwrap();
    assert!(synopsis.contains(r"\fB\-\-amount\fR \fIN\fR...") && !synopsis.contains("action"), "{synopsis}");
}

#[test]
fn a_key_in_another_format_is_told_how_to_read_it() {
    let env = Env::new();
    let plain = env.file("plain.key", b"this is our super secret key; only we should know it");
    let binary = env.file("binary.key", &[0xff, 0x00, 0x9c, 0x80, 0x01, 0xfe]);
    for key in [&plain, &binary] {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let (code, _, err) = env.run(&["mint", "--key-file", key]);
        assert!(code == 2 && err.contains("--key-format raw"), "{err}");
        assert!(!err.contains("secret"), "the key's bytes are never shown: {err}");
    }
    env.ok(&["mint", "--key-file", &plain, "--key-format", "raw"]);
}

/// Over HTTP too: an operator reading the tree of a nonce the server's ledger never saw is told
/// so (404 `unknown-token`; exit 2 through the CLI), not shown a live token.
#[test]
fn an_operator_reading_the_lineage_of_an_unseen_nonce_over_http_is_told_it_is_unknown() {
    let server = crate::common::server::start(&[]);
    let env = &server.env;
    let operator = env.file("operator.cred", server.mint(&["--operator", "--expires-in", "10m"]).as_bytes());
    let unused = server.mint(&["--balance", "5"]);
    let nonce = server.nonce(&unused);
    let args = ["lineage", "--server", &server.url, "--credential-file", &operator, "--nonce", &nonce, "--json"];
    let (code, out, _) = env.run(&args);
    let doc = json(&out);
    assert_eq!((code, doc["code"].as_str()), (2, Some("unknown-token")), "{doc}");
    // Once spent, the ledger knows it: the tree has it and its successor.
    let (status, _) = server.post("/v1/spend", &serde_json::json!({ "token": unused, "cost": 1 }));
    assert_eq!(status, 200);
    let (code, out, err) = env.run(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["tree"].as_array().unwrap().len(), 2, "{out}");
}

/// An operator revoking over HTTP a nonce the ledger has never seen is told so (404
/// `unknown-token`; exit 2 from the CLI), unless it says the token is unseen; a revoked nonce
/// then refuses its token.
#[test]
fn an_operator_revoking_an_unseen_nonce_over_http_is_told_it_is_unknown_unless_it_says_unseen() {
    let server = crate::common::server::start(&[]);
    let env = &server.env;
    let credential = server.mint(&["--operator", "--expires-in", "10m"]);
    let operator = env.file("operator.cred", credential.as_bytes());
    let unused = server.mint(&["--balance", "5"]);
    let nonce = server.nonce(&unused);
    let (status, doc) =
        server.post("/v1/revoke", &serde_json::json!({ "token": credential, "nonce": "00".repeat(16) }));
    assert_eq!((status, doc["code"].as_str()), (404, Some("unknown-token")), "{doc}");
    let args = ["revoke", "--server", &server.url, "--credential-file", &operator, "--nonce", &nonce, "--json"];
    let (code, out, _) = env.run(&args);
    assert_eq!((code, json(&out)["code"].as_str()), (2, Some("unknown-token")), "{out}");
    let (status, _) = server.post("/v1/verify", &serde_json::json!({ "token": unused }));
    assert_eq!(status, 200, "nothing was revoked");
    let with_unseen: Vec<&str> = args.iter().copied().chain(["--unseen"]).collect();
    let (code, out, err) = env.run(&with_unseen);
    assert_eq!(code, 0, "{out}{err}");
    let (status, doc) = server.post("/v1/verify", &serde_json::json!({ "token": unused }));
    assert_eq!((status, doc["code"].as_str()), (403, Some("revoked")), "{doc}");
    // The operator credential given as --token-file: --unseen goes along too.
    let another = server.mint(&["--balance", "5"]);
    let another_nonce = server.nonce(&another);
    let args = ["revoke", "--server", &server.url, "--token-file", &operator, "--nonce", &another_nonce, "--unseen"];
    let (code, out, err) = env.run(&args);
    assert_eq!(code, 0, "{out}{err}");
    // A holder's token cannot learn whether a nonce is known: it is not an operator.
    let holder = server.mint(&["--balance", "5"]);
    let (status, doc) =
        server.post("/v1/revoke", &serde_json::json!({ "token": holder, "nonce": "11".repeat(16), "cascade": true }));
    assert_eq!((status, doc["code"].as_str()), (403, Some("not-an-operator")), "{doc}");
}

#[test]
fn doctor_reports_a_redirecting_server_without_following_it() {
    let env = Env::new();
    env.ok(&["keygen"]);
    let target = crate::common::upstream::Upstream::start();
    let redirecting =
        crate::common::upstream::redirecting("308 Permanent Redirect", &format!("{}/healthz", target.url));
    let (code, doc) = doctor(&env, &["--server", &redirecting]);
    assert_eq!(code, 3, "{doc}");
    let server = &findings(&doc, "server")[0];
    let message = server["message"].as_str().unwrap();
    assert!(
        message.contains("HTTP 308") && message.contains(&target.url) && message.contains("does not follow"),
        "{doc}"
    );
    assert_eq!(target.count(), 0, "doctor followed the redirect");
}
