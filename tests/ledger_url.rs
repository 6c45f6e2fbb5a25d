//! A PostgreSQL URL's password never reaches crumb's output (issue 15 §6): not at `crumb
//! serve` start-up, not in a ledger error, whatever characters a generated password holds.

use crate::common;

use common::Env;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

/// Generated passwords: base64 (`/`, `+`, `=`), and every other character class a URL allows.
const PASSWORDS: &[&str] = &["aB3/x+Yz9/Qw==", "p:w@r/d?#%+=&$!'()*,;[]", "s3cr3t-(with)-[all]-*,;$!'"];

fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Fails when `shown` holds the password, its encoded form, or a piece of it that could only
/// have come from it.
fn assert_hidden(shown: &str, password: &str) {
    assert!(!shown.contains(password) && !shown.contains(&percent_encoded(password)), "{shown}");
    for piece in password.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| p.len() > 2) {
        assert!(!shown.contains(piece), "`{piece}` of the password shown: {shown}");
    }
}

#[test]
fn crumb_serve_never_prints_the_password_of_a_ledger_it_cannot_reach() {
    let env = Env::new();
    let key = env.key("root.key");
    let closed = common::upstream::Refusing::new();
    let hostport = closed.url.strip_prefix("http://").unwrap().to_owned();
    let urls: Vec<(String, &str)> = PASSWORDS
        .iter()
        .flat_map(|p| {
            [
                (format!("postgres://crumb:{}@{hostport}/ledger", percent_encoded(p)), *p),
                // Written raw, as a generated password often is pasted.
                (format!("postgres://crumb:{p}@{hostport}/ledger"), *p),
            ]
        })
        .collect();
    std::thread::scope(|scope| {
        for (url, password) in &urls {
            let (env, key) = (&env, &key);
            scope.spawn(move || {
                let out = env
                    .crumb()
                    .env("CRUMB_LEDGER", url)
                    .args(["serve", "--listen", "127.0.0.1:0", "--key-file", key])
                    .output()
                    .unwrap();
                let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                assert_ne!(out.status.code(), Some(0), "{shown}");
                assert!(shown.contains("postgres://"), "the ledger is still named: {shown}");
                assert_hidden(&shown, password);
            });
        }
    });
}

#[test]
fn crumb_serve_names_its_postgres_ledger_at_start_up_without_the_password() {
    let Some(base) = common::backends::fresh_postgres_database() else { return };
    // The test cluster trusts local connections, so any password connects.
    let password = "aB3/x+Yz9/Qw==:@?#";
    let Some((scheme, rest)) = base.split_once("://") else { panic!("{base}") };
    let (user, rest) = rest.split_once('@').unwrap_or_else(|| panic!("no user in {base}"));
    let user = user.split(':').next().unwrap();
    let url = format!("{scheme}://{user}:{}@{rest}", percent_encoded(password));
    let env = Env::new();
    let key = env.key("root.key");
    let mut child = env
        .process()
        .args(["serve", "--listen", "127.0.0.1:0", "--key-file", &key])
        .env("CRUMB_LEDGER", &url)
        .env("CRUMB_LOG", "crumb=info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    // The start-up line follows the address; then stop crumb and read everything it said.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    while !log.contains("crumb serving") && stderr.read_line(&mut log).is_ok_and(|n| n > 0) {}
    let _ = child.kill();
    let _ = child.wait();
    stderr.read_to_string(&mut log).unwrap();
    assert!(log.contains(&format!("{scheme}://{user}:***@")), "the start-up line names the ledger: {log}");
    assert_hidden(&log, password);
}

/// A password on the command line is readable by every user of the machine (ps, /proc):
/// `--ledger` refuses a URL that carries one, before connecting or creating anything, and says
/// where it goes instead. The same URL from `CRUMB_LEDGER` is taken.
#[test]
fn a_ledger_password_on_the_command_line_is_refused() {
    let env = Env::new();
    let key = env.key("root.key");
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    for url in
        ["postgres://crumb:hunter2pw@127.0.0.1:1/db", "postgresql://127.0.0.1:1/db?user=crumb&password=hunter2pw"]
    {
        for args in [
            vec!["spend", &token, "--key-file", &key, "--cost", "1", "--ledger", url],
            vec!["ledger", "init", "--ledger", url],
            vec!["serve", "--listen", "127.0.0.1:0", "--key-file", &key, "--ledger", url],
        ] {
            let (code, out, err) = env.run(&args);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(err.contains("CRUMB_LEDGER"), "{err}");
            assert!(!format!("{out}{err}").contains("hunter2pw"), "{err}");
        }
    }
    // From the environment it is taken (and fails only for the server that is not there).
    let (code, _, err) = env.run_with_ledger("postgres://crumb:hunter2pw@127.0.0.1:1/db", &["ledger", "init"]);
    assert_eq!(code, 3, "{err}");
    assert!(!err.contains("hunter2pw"), "{err}");
}
