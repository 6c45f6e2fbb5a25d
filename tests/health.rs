//! Health and readiness through the real server: `/healthz` answers while the process serves,
//! `/readyz` only while the ledger answers and takes writes (here, a ledger another process
//! holds locked is not ready), and a proxy without an admin listener says it has neither.

use crate::common::http::raw;
use crate::common::server::start;
use crate::common::upstream::Upstream;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str) -> (u16, Value) {
    let answer = raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    let status = answer.status;
    (status, serde_json::from_str(&answer.body).unwrap_or(Value::Null))
}

#[test]
fn readyz_answers_503_while_the_ledger_takes_no_writes() {
    let server = start(&["--timeout", "2"]);
    let (status, doc) = get(server.addr(), "/readyz");
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc, serde_json::json!({"status": "ready", "checks": {"keys": "ok", "ledger": "ok"}}));
    // Another process takes the ledger's write lock and keeps it.
    let ledger = server.env.path("ledger.db");
    let mut locker = Command::new("python3")
        .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.read()"])
        .arg(&ledger)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(locker.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "locked");
    let (status, doc) = get(server.addr(), "/readyz");
    assert_eq!((status, doc["status"].as_str()), (503, Some("not-ready")), "{doc}");
    assert_eq!(doc["checks"]["keys"], "ok");
    assert_ne!(doc["checks"]["ledger"], "ok", "{doc}");
    let (status, _) = get(server.addr(), "/healthz");
    assert_eq!(status, 200, "alive, though not ready");
    // The lock goes: ready again.
    drop(locker.stdin.take());
    locker.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let (status, doc) = get(server.addr(), "/readyz");
        if status == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready again: {doc}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn a_proxy_serves_readyz_on_its_admin_listener_and_warns_without_one() {
    let upstream = Upstream::start();
    let server = start(&["--upstream", &upstream.url, "--admin-listen", "127.0.0.1:0"]);
    let admin = server.admin.as_deref().unwrap().trim_start_matches("http://").to_owned();
    assert_eq!(get(&admin, "/readyz").0, 200);
    let (_, doc) = get(server.addr(), "/readyz");
    assert!(doc["checks"].is_null(), "the public listener's /readyz is the upstream's path, not crumb's: {doc}");
    // Without --admin-listen: said on stderr at start.
    let mut child = server
        .env
        .process()
        .args(["serve", "--listen", "127.0.0.1:0", "--key-file", &server.key, "--upstream", &upstream.url])
        .args(["--ledger", server.env.path("other.db").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut said).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(said.contains("no --admin-listen") && said.contains("/readyz"), "{said}");
}
