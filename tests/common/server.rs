//! `crumb serve` as a real process on a loopback port, for the tests that talk HTTP to it.

use super::Env;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub env: Env,
    pub key: String,
    pub url: String,
    /// The admin listener's URL, when started with `--admin-listen`.
    pub admin: Option<String>,
    pub child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `crumb serve` on a free loopback port with a fresh key and ledger, plus `extra` flags.
pub fn start(extra: &[&str]) -> Server {
    let env = Env::new();
    let key = env.key("root.key");
    let ledger = env.path("ledger.db").to_str().unwrap().to_owned();
    spawn(env, key, &ledger, extra)
}

/// Starts a replica: `crumb serve` with the given key file and ledger (a PostgreSQL URL that
/// other replicas share), on a free loopback port.
pub fn start_replica(key: &str, ledger: &str, extra: &[&str]) -> Server {
    spawn(Env::new(), key.to_owned(), ledger, extra)
}

/// Two replicas sharing `ledger`, with one fresh key.
pub fn start_replicas(ledger: &str) -> (Server, Server) {
    let env = Env::new();
    let key = env.key("root.key");
    let a = spawn(env, key.clone(), ledger, &[]);
    let b = start_replica(&key, ledger, &[]);
    (a, b)
}

/// Starts `crumb serve` with a keyring (`crumb keygen --keyring`) instead of a key file; its
/// `mint` mints with the keyring's current key.
pub fn start_with_keyring(extra: &[&str]) -> Server {
    let env = Env::new();
    let ring = env.path("ring.json").to_str().unwrap().to_owned();
    env.ok(&["keygen", "--keyring", &ring]);
    let ledger = env.path("ledger.db").to_str().unwrap().to_owned();
    spawn(env, ring, &ledger, extra)
}

fn spawn(env: Env, key: String, ledger: &str, extra: &[&str]) -> Server {
    let key_flag = if key.ends_with("ring.json") { "--keyring" } else { "--key-file" };
    let mut child = env
        .process()
        .args(["serve", "--listen", "127.0.0.1:0", key_flag, &key, "--ledger", ledger])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("no address: {line:?}")).to_owned();
    let admin = extra.contains(&"--admin-listen").then(|| {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        line.trim()
            .strip_prefix("admin listening on ")
            .unwrap_or_else(|| panic!("no admin address: {line:?}"))
            .to_owned()
    });
    Server { env, key, url, admin, child }
}

impl Server {
    /// The server's process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().is_ok_and(|status| status.is_none())
    }

    /// `host:port`, for raw sockets.
    pub fn addr(&self) -> &str {
        self.url.strip_prefix("http://").unwrap()
    }

    pub fn mint(&self, args: &[&str]) -> String {
        let key_flag = if self.key.ends_with("ring.json") { "--keyring" } else { "--key-file" };
        let mut all = vec!["mint", key_flag, &self.key];
        all.extend_from_slice(args);
        self.env.ok(&all)
    }

    /// The ledger nonce of a token, read with `crumb inspect --json`.
    pub fn nonce(&self, token: &str) -> String {
        let doc: Value = serde_json::from_str(&self.env.ok(&["inspect", token, "--json"])).unwrap();
        doc["nonce"].as_str().unwrap().to_owned()
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_raw(path, &body.to_string(), &[])
    }

    pub fn post_raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let (code, text) = self.post_text(path, body, headers);
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// POSTs and returns the status and the body as text (for size checks).
    pub fn post_text(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let url = format!("{}{path}", self.url);
        let answer = super::http::try_send("POST", &url, headers, body, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        (answer.status, answer.body)
    }

    /// How long `/healthz` takes to answer 200 on a new connection (panics if it does not).
    /// The clock starts once the connection is open: the kernel, not crumb, completes TCP
    /// handshakes, and on loopback under heavy connection churn a SYN can meet a TIME_WAIT
    /// socket of an earlier connection on the same ports and wait a second for its retry.
    pub fn health_latency(&self) -> Duration {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = self.addr().parse().unwrap();
        let mut c = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("/healthz is unreachable: {e}"));
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = Instant::now();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: crumb\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        let _ = c.read_to_end(&mut answer);
        let took = started.elapsed();
        assert!(answer.starts_with(b"HTTP/1.1 200"), "/healthz answered {:?}", String::from_utf8_lossy(&answer));
        took
    }

    /// The server's resident set size in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit; the time it took.
    pub fn terminate(&mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let pid = self.child.id().to_string();
        std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        while started.elapsed() < limit {
            if self.child.try_wait().unwrap().is_some() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}
