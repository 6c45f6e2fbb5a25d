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
    let current: Vec<&str> = keys.iter().filter(|k| k["current"] == true).map(|k| k["key_id"].as_str().unwrap()).collect();
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
    assert!(listed_keys(&env, &ring).iter().all(|k| k["retired"].is_null()));
    // With a new current key, the old one retires.
    env.ok(&["keygen", "--keyring", &ring]);
    env.ok(&["keygen", "--keyring", &ring, "--retire", &only]);
    let keys = listed_keys(&env, &ring);
    assert!(keys.iter().any(|k| k["key_id"] == only.as_str() && k["retired"].is_string()), "{keys:?}");
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
