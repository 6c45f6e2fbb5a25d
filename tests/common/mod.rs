//! Fixtures shared by the integration tests: an isolated crumb environment per test,
//! key files, and the location of the shared interop vectors.

#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A scratch data directory; every `crumb` run from it uses it instead of the user's.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `crumb` with a private data dir and no key or keyring from the environment.
    /// A run that has not ended in two minutes is killed and fails its test: a command that
    /// should have refused to start (a server, say) must not hang the suite.
    pub fn crumb(&self) -> Command {
        let mut command = Command::from_std(self.process());
        command.timeout(std::time::Duration::from_secs(120));
        command
    }

    /// The same as a plain process, for tests that spawn, race or kill it.
    pub fn process(&self) -> std::process::Command {
        self.process_for(assert_cmd::cargo::cargo_bin("crumb"))
    }

    /// Any program (a shell running crumb, say) in this environment.
    pub fn process_for(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.env("CRUMB_DATA_DIR", self.dir.path().join("data"))
            // Tests hammer one loopback address and reuse tokens: a test that checks rate
            // limits sets them with flags, which win over these.
            .env("CRUMB_RATE_LIMIT_IP", "off")
            .env("CRUMB_RATE_LIMIT_TOKEN", "off")
            .env_remove("CRUMB_KEY_FILE")
            .env_remove("CRUMB_KEYRING")
            .env_remove("CRUMB_LEDGER")
            // No user's defaults file: a test that wants one names it.
            .env("CRUMB_CONFIG", "")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs crumb with `args`, expects exit 0, returns trimmed stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.crumb().args(args).output().expect("run crumb");
        assert!(
            out.status.success(),
            "crumb {args:?} failed ({:?}): {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
    }

    /// Runs crumb with `args` and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.crumb().args(args).output().expect("run crumb");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs crumb with `args` and the ledger `url` in `CRUMB_LEDGER` (where a URL with a
    /// password goes: `--ledger` refuses one); returns (exit code, stdout, stderr).
    pub fn run_with_ledger(&self, url: &str, args: &[&str]) -> (i32, String, String) {
        let out = self.crumb().env("CRUMB_LEDGER", url).args(args).output().expect("run crumb");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A fresh key file `name`; returns its path as a string.
    pub fn key(&self, name: &str) -> String {
        let path = self.path(name);
        self.ok(&["keygen", "--out", path.to_str().unwrap()]);
        path.to_str().unwrap().to_owned()
    }

    /// Writes raw bytes to a file and returns its path as a string.
    pub fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write");
        path.to_str().unwrap().to_owned()
    }
}

/// The interop vectors: `$CRUMB_VECTORS` when set (another set with the same schema), else the
/// copy kept in the repository (`tests/data/interop/`, whose README says where it came from).
pub fn vectors_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CRUMB_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/interop"));
    if dir.join("vectors.json").exists() {
        Some(dir)
    } else {
        skip(&format!("no vectors at {} (set CRUMB_VECTORS)", dir.display()));
        None
    }
}

pub fn load_vectors() -> Option<Vec<serde_json::Value>> {
    let dir = vectors_dir()?;
    let text = std::fs::read_to_string(dir.join("vectors.json")).expect("read vectors.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("vectors.json is JSON");
    Some(doc["vectors"].as_array().expect("vectors list").clone())
}
pub mod backends;
pub mod caddy;
pub mod forward_auth;
pub mod front;
pub mod haproxy;
pub mod http;
pub mod nginx;
pub mod server;
pub mod upstream;

/// Says a test skipped, where a reader sees it: straight to stderr, past the test harness's
/// capture (which only takes `print!`/`eprint!`). With `CRUMB_REQUIRE_INTEROP=1` (set by
/// `.ci/run`) a skip is a failure instead: CI must run every test.
pub fn skip(why: &str) {
    skip_required("CRUMB_REQUIRE_INTEROP", why)
}

/// Why tests skipped, for the summary printed when the test binary exits.
static SKIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Says a test skipped, or fails it when `required` (an environment variable) is `1`.
pub fn skip_required(required: &str, why: &str) {
    use std::io::Write;
    if std::env::var_os(required).is_some_and(|v| v == "1") {
        panic!("required ({required}=1) but skipped: {why}");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    SKIPPED.lock().unwrap_or_else(|p| p.into_inner()).push(why.to_owned());
}

/// A skipped test counts as passed in libtest's own summary, so one more line follows it,
/// when the test binary exits: how many tests did not reach their subject, and why.
// `unsafe` as the `dtor` crate asks of code run at exit: this touches only a static Mutex and
// unbuffered stderr, which outlive the test harness's own exit.
#[dtor::dtor(unsafe)]
fn summarize_skips() {
    use std::io::Write;
    let skipped = SKIPPED.lock().unwrap_or_else(|p| p.into_inner());
    if skipped.is_empty() {
        return;
    }
    let mut reasons: Vec<(usize, &str)> = Vec::new();
    for why in skipped.iter() {
        match reasons.iter_mut().find(|(_, r)| *r == why) {
            Some((n, _)) => *n += 1,
            None => reasons.push((1, why)),
        }
    }
    let list: Vec<String> = reasons.iter().map(|(n, why)| format!("{n} × {why}")).collect();
    let _ =
        writeln!(std::io::stderr(), "\nSKIPPED {} tests (counted as passed above): {}", skipped.len(), list.join("; "));
}

/// The audit log at `path` once it holds `lines` lines (it is written by a thread of its own,
/// after the answer): waits up to 10 s, then returns what is there.
pub fn audit_lines(path: &std::path::Path, lines: usize) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.lines().count() >= lines || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
