//! Configuration files: `crumb serve --config` (with `--check`, and reloads on SIGHUP under
//! load) and the user's defaults file, through the real binary and real sockets.

use crate::common;

use common::http::send;
use common::upstream::Upstream;
use common::Env;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A `crumb serve` started from a configuration file, with its stderr (the log) kept.
struct Served {
    child: Child,
    url: String,
    admin: Option<String>,
    log: Arc<Mutex<String>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    fn start(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> Served {
        let mut cmd = env.process();
        cmd.arg("serve").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (k, v) in envs {
            // An empty value unsets: the file's setting then counts.
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let mut child = cmd.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("no address: {line:?} {}", log.lock().unwrap()))
            .to_owned();
        let mut admin = String::new();
        stdout.read_line(&mut admin).unwrap();
        let admin = admin.trim().strip_prefix("admin listening on ").map(str::to_owned);
        Served { child, url, admin, log }
    }

    fn hangup(&self) {
        assert!(std::process::Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }

    /// Waits until the log has `n` lines containing `text`.
    fn wait_log(&self, text: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.matches(text).count() >= n {
                return log;
            }
            assert!(Instant::now() < deadline, "no {n}x `{text}` in the log:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn check(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = env.crumb();
    cmd.arg("serve").args(args).arg("--check");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_prints_the_effective_configuration_with_flags_over_the_file_and_no_secret() {
    let env = Env::new();
    let key = env.key("root.key");
    let config = env.file(
        "serve.toml",
        format!(
            "listen = \"127.0.0.1:0\"\nkey-file = \"{key}\"\nledger = \"env:TEST_LEDGER\"\nupstream = \"http://127.0.0.1:9\"\n\
             price = [\"POST /v1/chat=5\", \"GET /v1/models=0\"]\ntimeout = \"15s\"\nno-well-known = true\n\
             [upstream-headers]\nAuthorization = \"env:TEST_UPSTREAM_AUTH\"\nX-Api-Key = \"file:{}\"\nX-Org = \"acme\"\n",
            env.file("api-key", b"k-123-file-secret\n")
        )
        .as_bytes(),
    );
    let secrets =
        [("TEST_UPSTREAM_AUTH", "Bearer sk-env-secret"), ("TEST_LEDGER", "postgres://crumb@db.internal/crumb")];
    let (code, out, err) = check(&env, &["--config", &config, "--timeout", "3s"], &secrets);
    assert_eq!(code, 0, "{err}");
    for line in [
        "timeout = \"3s\"  # flag",
        "price = [\"POST /v1/chat=5\", \"GET /v1/models=0\"]  # file",
        "no-well-known = true  # file",
        "header-timeout = \"10s\"  # default",
        "upstream = \"http://127.0.0.1:9\"  # file",
        "authorization = \"env:TEST_UPSTREAM_AUTH\"  # file",
        "x-org = \"(inline)\"  # file",
    ] {
        assert!(out.lines().any(|l| l == line), "no `{line}` in:\n{out}");
    }
    assert!(out.contains(&format!("key-file = \"{key}\"  # file")), "{out}");
    assert!(out.contains("ledger = \"postgres://crumb@db.internal") && out.contains("env:TEST_LEDGER"), "{out}");
    for secret in ["sk-env-secret", "k-123-file-secret"] {
        assert!(!out.contains(secret) && !err.contains(secret), "a secret was printed:\n{out}{err}");
    }
    // The printed configuration is itself a valid configuration file.
    let printed = env.file("printed.toml", out.replace("authorization = \"env:", "Authorization = \"env:").as_bytes());
    let (code, _, err) = check(&env, &["--config", &printed], &secrets);
    assert_eq!(code, 0, "the printed configuration does not read back: {err}\n{out}");
    // The environment beats the file, and a flag beats the environment.
    let (_, out, _) = check(&env, &["--config", &config], &[secrets[0], secrets[1], ("CRUMB_RATE_LIMIT_IP", "7/s")]);
    assert!(out.contains("rate-limit-ip = \"7/s\"  # environment"), "{out}");
    let (_, out, _) =
        check(&env, &["--config", &config, "--timeout", "3s"], &[secrets[0], secrets[1], ("CRUMB_TIMEOUT", "9s")]);
    assert!(out.contains("timeout = \"3s\"  # flag"), "{out}");
    let (_, out, _) = check(&env, &["--config", &config], &[secrets[0], secrets[1], ("CRUMB_TIMEOUT", "9s")]);
    assert!(out.contains("timeout = \"9s\"  # environment"), "{out}");
}

#[test]
fn a_mistake_in_the_file_is_refused_naming_the_file_and_the_setting() {
    let env = Env::new();
    let cases: &[(&str, &str)] = &[
        ("timeout = \"3 parsecs\"", "`timeout`"),
        ("timeuot = \"3s\"", "`timeuot`: unknown setting"),
        ("unpriced = \"maybe\"", "possible values: deny, free"),
        ("no-well-known = \"yes\"", "true or false"),
        ("listen = [\"127.0.0.1:1\"]", "one value, not a list"),
        ("key-fd = 3", "`key-fd`: unknown setting"),
        ("key-file = \"a\"\nkeyring = \"b\"", "not both"),
        ("upstream-header = [\"X: y\"]", "[upstream-headers]"),
        ("[upstream-headers]\nAuthorization = \"Bearer sk-inline\"", "looks like a credential"),
        ("[upstream-headers]\nX-Api-Key = \"env:CRUMB_TEST_UNSET_VAR\"", "CRUMB_TEST_UNSET_VAR is not set"),
        ("ledger = \"postgres://crumb:hunter2@db/crumb\"", "password inline"),
        ("listen = ", "serve.toml"),
        ("price = [\"POST /x\"]", "`price`"),
        ("[upstream-headers]\nX-Org = \"acme\"", "go with --upstream"),
    ];
    for (text, expected) in cases {
        let config = env.file("serve.toml", text.as_bytes());
        let (code, out, err) = check(&env, &["--config", &config], &[]);
        assert_eq!(code, 2, "{text}: {out}{err}");
        assert!(err.contains(expected), "{text}: no `{expected}` in {err}");
        assert!(!err.contains("hunter2") && !err.contains("sk-inline"), "{err}");
    }
    let (code, _, err) = check(&env, &["--config", "no-such.toml"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such.toml"), "{err}");
}

/// A proxy from a configuration file: the upstream's headers come from references, the
/// prices and limits from the file.
fn proxy_config(env: &Env, upstream: &Upstream, price: u64, extra: &str) -> String {
    let text = format!(
        "listen = \"127.0.0.1:0\"\nadmin-listen = \"127.0.0.1:0\"\nupstream = \"{}\"\nprice = [\"POST /v1/chat={price}\"]\n\
         audit-log = \"{}\"\n{extra}\n[upstream-headers]\nAuthorization = \"file:{}\"\n",
        upstream.url,
        env.path("audit.log").display(),
        env.path("upstream-credential").display(),
    );
    // Replaced atomically, as an operator's deploy tool writes it.
    let tmp = env.path("serve.toml.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, env.path("serve.toml")).unwrap();
    env.path("serve.toml").display().to_string()
}

#[test]
fn a_proxy_runs_from_its_file_and_reloads_prices_headers_and_limits_on_sighup() {
    let env = Env::new();
    let ring = env.path("ring.json").display().to_string();
    env.ok(&["keygen", "--keyring", &ring]);
    std::fs::write(env.path("upstream-credential"), "Bearer upstream-one\n").unwrap();
    let upstream = Upstream::start();
    let config = proxy_config(&env, &upstream, 5, &format!("keyring = \"{ring}\""));
    let served = Served::start(&env, &["--config", &config], &[("CRUMB_RATE_LIMIT_TOKEN", "")]);
    let mint = |balance: &str| env.ok(&["mint", "--keyring", &ring, "--balance", balance]);
    let url = format!("{}/v1/chat", served.url);
    let paid = send("POST", &url, Some(&mint("100")), &[], "hi");
    assert_eq!((paid.status, paid.header("crumb-cost")), (200, Some("5")), "{paid:?}");
    assert_eq!(upstream.last().2.get("authorization").unwrap(), "Bearer upstream-one");

    // New prices, a new upstream credential (the file a reference names), a token rate.
    std::fs::write(env.path("upstream-credential"), "Bearer upstream-two\n").unwrap();
    proxy_config(&env, &upstream, 7, &format!("keyring = \"{ring}\"\nrate-limit-token = \"2/h\""));
    served.hangup();
    served.wait_log("configuration reloaded", 1);
    let token = mint("100");
    let paid = send("POST", &url, Some(&token), &[], "hi");
    assert_eq!((paid.status, paid.header("crumb-cost")), (200, Some("7")), "{paid:?}");
    assert_eq!(upstream.last().2.get("authorization").unwrap(), "Bearer upstream-two");
    let again = send("POST", &url, Some(paid.successor()), &[], "hi");
    assert_eq!(again.status, 200, "{again:?}");
    let over = send("POST", &url, Some(again.successor()), &[], "hi");
    assert_eq!((over.status, over.json()["code"].as_str()), (429, Some("rate-limited")), "{over:?}");

    // A setting that needs a restart: nothing is reloaded, and what is in force stays.
    let moved = proxy_config(&env, &upstream, 9, &format!("keyring = \"{ring}\"\ntimeout = \"3s\""));
    served.hangup();
    let log = served.wait_log("configuration not reloaded", 1);
    assert!(log.contains("timeout"), "{log}");
    let paid = send("POST", &url, Some(&mint("100")), &[], "hi");
    assert_eq!(paid.header("crumb-cost"), Some("7"), "the price in force stays: {paid:?}");
    // A broken file: the same.
    std::fs::write(&moved, "price = [\"POST /v1/chat=\"]").unwrap();
    served.hangup();
    served.wait_log("configuration not reloaded", 2);
    let paid = send("POST", &url, Some(&mint("100")), &[], "hi");
    assert_eq!(paid.header("crumb-cost"), Some("7"), "{paid:?}");
    assert!(!served.log.lock().unwrap().contains("upstream-two"), "a secret in the log");
}

/// The reload the issue asks for: under load, prices change, a key is added and another
/// retired, and the audit log is rotated; no request that should succeed fails.
#[test]
fn a_reload_under_load_changes_prices_keys_and_the_audit_log_without_a_failed_request() {
    let env = Env::new();
    let ring = env.path("ring.json").display().to_string();
    env.ok(&["keygen", "--keyring", &ring]);
    // A second key, made current then retired while the load runs on the first.
    std::fs::write(env.path("upstream-credential"), "Bearer upstream\n").unwrap();
    let upstream = Upstream::start();
    let config = proxy_config(&env, &upstream, 1, &format!("keyring = \"{ring}\""));
    let served = Served::start(&env, &["--config", &config], &[]);
    let url = format!("{}/v1/chat", served.url);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let costs = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let token = env.ok(&["mint", "--keyring", &ring, "--balance", "1000000"]);
            let (url, stop, done, failures, costs) =
                (url.clone(), stop.clone(), done.clone(), failures.clone(), costs.clone());
            std::thread::spawn(move || {
                let mut token = token;
                while !stop.load(Ordering::Relaxed) {
                    let answer = send("POST", &url, Some(&token), &[], "x");
                    if answer.status != 200 {
                        failures.lock().unwrap().push(format!("{} {}", answer.status, answer.body));
                        return;
                    }
                    costs.lock().unwrap().insert(answer.header("crumb-cost").unwrap().to_owned());
                    token = answer.successor().to_owned();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let wait_for = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        let start = done.load(Ordering::Relaxed);
        while done.load(Ordering::Relaxed) < start + n {
            assert!(Instant::now() < deadline, "the load stalled: {:?}", failures.lock().unwrap());
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(40);
    // Prices.
    proxy_config(&env, &upstream, 2, &format!("keyring = \"{ring}\""));
    served.hangup();
    served.wait_log("configuration reloaded", 1);
    wait_for(40);
    // Keys: a new current key, another, and the one between retired. The load's tokens are
    // of the first key, which stays usable throughout.
    let second = env.ok(&["keygen", "--keyring", &ring]);
    served.wait_log("keys reloaded", 1);
    env.ok(&["keygen", "--keyring", &ring]);
    served.wait_log("keys reloaded", 2);
    env.ok(&["keygen", "--keyring", &ring, "--retire", &second]);
    served.wait_log("keys reloaded", 3);
    wait_for(40);
    // The audit log, logrotate-style: renamed, then SIGHUP.
    std::fs::rename(env.path("audit.log"), env.path("audit.log.1")).unwrap();
    served.hangup();
    served.wait_log("configuration reloaded", 2);
    wait_for(40);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(failures.lock().unwrap().is_empty(), "failed requests: {:?}", failures.lock().unwrap());
    assert_eq!(
        costs.lock().unwrap().iter().cloned().collect::<Vec<_>>(),
        ["1", "2"],
        "every request was charged the old price or the new"
    );
    let admin = served.admin.as_deref().expect("an admin listener");
    assert_eq!(send("GET", &format!("{admin}/readyz"), None, &[], "").status, 200, "ready after the reloads");
    let rotated = std::fs::read_to_string(env.path("audit.log.1")).unwrap();
    let fresh = common::audit_lines(&env.path("audit.log"), 1);
    assert!(rotated.lines().count() >= 40 && fresh.lines().count() >= 1, "{} / {}", rotated.len(), fresh.len());
    let total = rotated.lines().count() + fresh.lines().count();
    assert!(total >= done.load(Ordering::Relaxed), "audit lines lost: {total} < {}", done.load(Ordering::Relaxed));
}

#[test]
fn the_users_defaults_file_names_the_key_and_ledger_below_flags_and_the_environment() {
    let env = Env::new();
    let key = env.key("root.key");
    let ledger = env.path("shared.db").display().to_string();
    let defaults = env.file("defaults.toml", format!("key-file = \"{key}\"\nledger = \"{ledger}\"\n").as_bytes());
    let with = |args: &[&str]| {
        let out = env.crumb().args(args).env("CRUMB_CONFIG", &defaults).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, token, err) = with(&["mint", "--balance", "10"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = with(&["spend", &token, "--cost", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(std::path::Path::new(&ledger).exists(), "the spend used the file's ledger");
    // Verified with the file's key against its ledger: spent.
    let (code, _, _) = with(&["verify", &token]);
    assert_eq!(code, 1);
    // A flag wins over the file: another ledger has never seen the token.
    let (code, _, err) = with(&["verify", &token, "--ledger", &env.path("other.db").display().to_string()]);
    assert_ne!(code, 1, "{err}");
    // A mistake in the file is an error, never a silent default.
    let broken = env.file("broken.toml", b"legder = \"x\"\n");
    let out = env.crumb().args(["mint", "--balance", "1"]).env("CRUMB_CONFIG", &broken).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("legder"), "{}", String::from_utf8_lossy(&out.stderr));
    let out =
        env.crumb().args(["mint", "--balance", "1"]).env("CRUMB_CONFIG", env.path("missing.toml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a named defaults file that is not there");
}

#[test]
fn the_users_defaults_file_names_the_server_unless_the_command_chooses_the_local_ledger() {
    let served = common::server::start(&[]);
    let env = &served.env;
    let token = served.mint(&["--balance", "10"]);
    let defaults = env.file("defaults.toml", format!("server = \"{}\"\n", served.url).as_bytes());
    let out =
        env.crumb().args(["spend", &token, "--cost", "4", "--json"]).env("CRUMB_CONFIG", &defaults).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["remaining"].as_u64(), Some(6), "{doc}");
    // The server spent it: verified there, it is spent.
    let (status, answer) = served.post("/v1/verify", &serde_json::json!({ "token": token }));
    assert_eq!((status, answer["code"].as_str()), (409, Some("spent")), "{answer}");
    // --offline chooses no ledger and no server: the file's server is not used.
    let out = env
        .crumb()
        .args(["verify", &token, "--offline", "--key-file", &served.key])
        .env("CRUMB_CONFIG", &defaults)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A request's id is in its error body, and its span's log line gives the timings of its
/// steps: the ledger and the upstream for a paid request, the verification for a free one.
#[test]
fn error_bodies_carry_the_request_id_and_the_log_times_each_step() {
    let env = Env::new();
    let key = env.key("root.key");
    let upstream = Upstream::start();
    let ledger = env.path("ledger.db").display().to_string();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--key-file",
        &key,
        "--ledger",
        &ledger,
        "--upstream",
        &upstream.url,
        "--price",
        "POST /v1/chat=5",
        "--price",
        "GET /v1/models=0",
        "--log-format",
        "json",
    ];
    let served = Served::start(&env, &args, &[("CRUMB_LOG", "crumb=debug")]);
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
    let refused = send("POST", &format!("{}/v1/chat", served.url), None, &[], "");
    assert_eq!(refused.status, 402);
    assert_eq!(refused.json()["x_request_id"].as_str(), refused.header("x-request-id"), "{refused:?}");
    let admin = served.admin.as_deref().unwrap();
    let bad = send("POST", &format!("{admin}/v1/spend"), None, &[], "{");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["x_request_id"].as_str(), bad.header("x-request-id"), "{bad:?}");

    let paid = send("POST", &format!("{}/v1/chat", served.url), Some(&token), &[], "hi");
    assert_eq!(paid.status, 200, "{paid:?}");
    let free = send("GET", &format!("{}/v1/models", served.url), Some(paid.successor()), &[], "");
    assert_eq!(free.status, 200, "{free:?}");
    let finished = |id: &str| -> serde_json::Value {
        let log = served.wait_log(id, 1);
        let line = log
            .lines()
            .rfind(|l| l.contains("request finished") && l.contains(id))
            .unwrap_or_else(|| panic!("no finished line for {id}:\n{log}"));
        serde_json::from_str(line).unwrap()
    };
    let paid_line = finished(paid.header("x-request-id").unwrap());
    let span = &paid_line["span"];
    assert_eq!(span["status"], 200, "{paid_line}");
    for field in ["ledger_ms", "upstream_ms", "total_ms"] {
        assert!(span[field].as_f64().is_some_and(|ms| ms > 0.0), "{field}: {paid_line}");
    }
    let free_line = finished(free.header("x-request-id").unwrap());
    assert!(free_line["span"]["verify_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{free_line}");
    assert!(!served.log.lock().unwrap().contains(&token), "a token in the log");
}

/// The example configuration shipped in dist/ is valid as shipped, and with its metering
/// block turned on.
#[test]
fn the_shipped_example_configuration_checks() {
    let env = Env::new();
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/crumb.toml");
    let text = std::fs::read_to_string(&shipped).unwrap();
    let (code, out, err) = check(&env, &["--config", shipped.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("log-format = \"json\"  # file"), "{out}");
    let metering: String = text
        .lines()
        .map(|l| {
            for key in ["upstream = ", "admin-listen = ", "price = ", "[upstream-headers]", "OpenAI-Organization = "] {
                if let Some(rest) = l.strip_prefix("# ").filter(|r| r.starts_with(key)) {
                    return rest.to_owned();
                }
            }
            l.to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n");
    let metered = env.file("metered.toml", metering.as_bytes());
    let (code, out, err) = check(&env, &["--config", &metered], &[]);
    assert_eq!(code, 0, "{err}\n{metering}");
    assert!(out.contains("upstream = \"https://api.example.com\"  # file"), "{out}");
}

/// A key named by a configuration file is the key: serve makes no development key beside it,
/// and a missing one is an error that leaves nothing behind.
#[test]
fn a_key_named_by_the_file_is_used_and_no_development_key_is_made() {
    let env = Env::new();
    let key = env.key("ops.key");
    let config = env.file("serve.toml", format!("listen = \"127.0.0.1:0\"\nkey-file = \"{key}\"\n").as_bytes());
    let mut served = env
        .process()
        .args(["serve", "--config", &config])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(served.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on "), "{line}");
    let _ = served.kill();
    let _ = served.wait();
    assert!(!env.path("data/root.key").exists(), "a development key was made beside the configured one");
    let missing = env.file("missing.toml", b"listen = \"127.0.0.1:0\"\nkey-file = \"no-such.key\"\n");
    let (code, _, err) = env.run(&["serve", "--config", &missing]);
    assert_eq!(code, 2, "{err}");
    assert!(!env.path("data/root.key").exists(), "{err}");
}

/// References hold secrets, and only database URLs are secrets: anything else a `ledger`
/// reference resolves to is refused (never used as a file name, never printed); a reference
/// given where only a location is read (a flag, the environment) is refused too.
#[test]
fn a_ledger_reference_must_hold_a_database_url_and_references_work_only_in_files() {
    let env = Env::new();
    let key = env.key("root.key");
    let secret = std::fs::read_to_string(&key).unwrap();
    let config = env.file("serve.toml", format!("ledger = \"file:{key}\"\n").as_bytes());
    let (code, out, err) = check(&env, &["--config", &config], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains(secret.trim()) && !err.contains(secret.trim()), "the key was printed: {out}{err}");
    let relative = env.file("rel.toml", b"ledger = \"file:ledger-url\"\n");
    std::fs::write(env.path("ledger-url"), "postgres://crumb@db.internal/crumb\n").unwrap();
    let elsewhere = std::env::temp_dir();
    let out = env.crumb().args(["serve", "--config", &relative, "--check"]).current_dir(&elsewhere).output().unwrap();
    assert!(out.status.success(), "a relative file: is the config file's: {}", String::from_utf8_lossy(&out.stderr));
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    for args in [
        &["spend", &token, "--key-file", &key, "--cost", "1", "--ledger", "env:LEDGER_URL"][..],
        &["ledger", "init", "--ledger", "file:/etc/x"],
    ] {
        let (code, _, err) = env.run(args);
        assert_ne!(code, 0, "{args:?}: {err}");
        assert!(err.contains("configuration files only"), "{err}");
    }
    let made: Vec<String> =
        std::fs::read_dir(env.dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert!(!made.iter().any(|n| n.starts_with("env:") || n.starts_with("file:")), "{made:?}");
    let out = env.crumb().args(["ledger", "init"]).env("CRUMB_LEDGER", "env:X").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("configuration files only"));
    assert!(!env.path("env:X").exists());
    let typo = env.file("typo.toml", b"ledger = \"postgress://db/crumb\"\n");
    let (code, _, err) = check(&env, &["--config", &typo], &[]);
    assert_eq!(code, 2, "--check refuses what serve would: {err}");
}

/// A FIFO (or a device) as a referenced file, the configuration or the audit log is refused at
/// once: it would block the reload and the shutdown behind it.
#[test]
fn a_fifo_is_never_waited_on() {
    let env = Env::new();
    let fifo = env.path("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo = fifo.display().to_string();
    let text = format!("upstream = \"http://127.0.0.1:9\"\n[upstream-headers]\nAuthorization = \"file:{fifo}\"\n");
    let config = env.file("serve.toml", text.as_bytes());
    let started = Instant::now();
    let (code, _, err) = check(&env, &["--config", &config], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    let (code, _, err) = check(&env, &["--config", &fifo], &[]);
    assert_eq!(code, 2, "{err}");
    let key = env.key("root.key");
    let (code, _, err) = env.run(&["serve", "--listen", "127.0.0.1:0", "--key-file", &key, "--audit-log", &fifo]);
    assert_ne!(code, 0, "{err}");
    assert!(started.elapsed() < Duration::from_secs(20), "waited on a FIFO: {:?}", started.elapsed());
}

#[test]
fn the_defaults_files_server_never_takes_a_token_that_inspect_looks_at() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let env = Env::new();
    let key = env.key("root.key");
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    let defaults = env.file("defaults.toml", format!("server = \"http://{addr}\"\n").as_bytes());
    let out = env.crumb().args(["inspect", &token]).env("CRUMB_CONFIG", &defaults).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(listener.accept().is_err(), "inspect contacted the defaults file's server");
}

#[test]
fn smaller_mistakes_in_a_file_are_refused_or_read_as_the_flag_reads_them() {
    let env = Env::new();
    // A list written as the flag takes it.
    let config = env.file("serve.toml", b"trust-proxy = \"10.0.0.0/8,127.0.0.1\"\n");
    let (code, out, err) = check(&env, &["--config", &config], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("trust-proxy = [\"10.0.0.0/8\", \"127.0.0.1\"]  # file"), "{out}");
    // A realm that would break the challenge header.
    let config = env.file("serve.toml", b"realm = \"a\\r\\nSet-Cookie: x\"\n");
    let (code, _, err) = check(&env, &["--config", &config], &[]);
    assert_eq!(code, 2, "{err}");
    // A file that is not TOML: its position, never its text.
    let secretish = env.file("not.toml", b"root:$6$hunter2hash:19000:0:99999:7:::\n");
    let (code, _, err) = check(&env, &["--config", &secretish], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("line 1") && !err.contains("hunter2"), "{err}");
    // A flag's headers replace the file's table.
    let text = "upstream = \"http://127.0.0.1:9\"\n[upstream-headers]\nX-Org = \"acme\"\n";
    let config = env.file("serve.toml", text.as_bytes());
    let (code, out, err) = check(&env, &["--config", &config, "--upstream-header", "X-Team: b"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("X-Team = \"(not shown)\"  # flag") && !out.contains("x-org"), "{out}");
    // Headers crumb owns, a name given twice, a credential on the command line.
    for (text, expected) in [
        ("[upstream-headers]\nTransfer-Encoding = \"chunked\"", "set by crumb"),
        ("[upstream-headers]\nX-Request-Id = \"x\"", "set by crumb"),
        ("[upstream-headers]\nX-A = \"one\"\nx-a = \"two\"", "given twice"),
        ("[upstream-headers]\nX-Api-Key = \"env:CRUMB_TEST_EMPTY\"", "empty"),
    ] {
        let config = env.file("serve.toml", format!("upstream = \"http://127.0.0.1:9\"\n{text}\n").as_bytes());
        let (code, _, err) = check(&env, &["--config", &config], &[("CRUMB_TEST_EMPTY", "")]);
        assert_eq!(code, 2, "{text}: {err}");
        assert!(err.contains(expected), "{text}: {err}");
    }
    let plain = env.file("plain.toml", b"upstream = \"http://127.0.0.1:9\"\n");
    for header in ["Authorization: Bearer sk-on-argv", "Host: evil.example"] {
        let (code, _, err) = check(&env, &["--config", &plain, "--upstream-header", header], &[]);
        assert_eq!(code, 2, "{header}: {err}");
        assert!(!err.contains("sk-on-argv"), "{err}");
    }
}

/// A key file or keyring swapped for a FIFO is refused, not waited on: a command answers at
/// once, and a server's reload says so and its shutdown still completes.
#[test]
fn a_fifo_for_a_key_is_refused_and_a_reload_never_hangs_on_it() {
    let env = Env::new();
    let ring = env.path("ring.json").display().to_string();
    env.ok(&["keygen", "--keyring", &ring]);
    let config = env.file(
        "serve.toml",
        b"listen = \"127.0.0.1:0\"\nadmin-listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n",
    );
    let mut served = Served::start(&env, &["--config", &config, "--keyring", &ring], &[]);
    std::fs::rename(&ring, env.path("ring.bak")).unwrap();
    assert!(std::process::Command::new("mkfifo").args(["-m", "600", &ring]).status().unwrap().success());
    served.hangup();
    served.wait_log("keys not reloaded", 1);
    let started = Instant::now();
    let (code, _, err) = env.run(&["mint", "--keyring", &ring, "--balance", "1"]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("not a regular file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(std::process::Command::new("kill").arg(served.child.id().to_string()).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while served.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the server did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
