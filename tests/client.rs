//! The agent's client never loses change and never leaks a secret (issue 15 §4): `crumb
//! request` and `crumb spend --server` killed, timed out or stopped mid-request, re-run with
//! a key they already paid with, pointed at a file that is not a token, or answered by a
//! front proxy's own error page. Real binaries, real sockets: a real `crumb serve --upstream`
//! in front of the counting upstream, or a plain `crumb serve` for spends.

use crate::common;

use common::server::{start, Server};
use common::upstream::{Upstream, PRICES};
use common::Env;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The metering proxy with the test prices, and `/hang` (an upstream that answers after 5 s)
/// priced 3.
fn proxy(upstream: &Upstream) -> Server {
    let mut args = vec!["--upstream", &upstream.url];
    args.extend_from_slice(PRICES);
    args.extend_from_slice(&["--price", "* /hang=3", "--admin-listen", "127.0.0.1:0"]);
    start(&args)
}

fn beside(file: &str, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{file}{suffix}"))
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

fn balance(env: &Env, token: &str) -> u64 {
    let doc: Value = serde_json::from_str(&env.ok(&["inspect", token, "--json"])).unwrap();
    doc["balance"].as_u64().unwrap_or_else(|| panic!("no balance: {doc}"))
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.process().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

fn signal(child: &mut Child, name: &str) {
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args([name, &pid]).status().unwrap().success());
    child.wait().unwrap();
}

/// The pending record holds what recovery needs, and never the token.
fn assert_pending(file: &str, token: &str) {
    let pending = beside(file, ".pending");
    let record = std::fs::read_to_string(&pending).unwrap_or_else(|_| panic!("no {}", pending.display()));
    assert!(!record.contains(token), "the token is in the record: {record}");
    assert_eq!(mode(&pending), 0o600);
}

#[test]
fn a_request_killed_mid_flight_leaves_its_change_to_the_next_run() {
    let upstream = Upstream::start();
    let server = proxy(&upstream);
    let token = server.mint(&["--balance", "20"]);
    let file = server.env.file("agent.token", token.as_bytes());
    let mut child = spawn(
        &server.env,
        &["request", "--token-file", &file, "-X", "POST", &format!("{}/hang/x", server.url), "-d", "slow"],
    );
    wait_until("the request to reach the upstream", Duration::from_secs(20), || upstream.count() == 1);
    signal(&mut child, "-KILL");
    // Killed while the upstream works: the file still holds the token being spent, and the
    // record says which request will have its successor.
    assert_eq!(read(&file), token);
    assert_pending(&file, &token);

    // The next run asks about it first (waiting while it is still in flight), saves its
    // successor, then pays for its own request from it.
    let started = Instant::now();
    let (code, out, err) = server.env.run(&[
        "request",
        "--token-file",
        &file,
        "-X",
        "POST",
        &format!("{}/v1/chat", server.url),
        "-d",
        "next",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "POST /v1/chat next");
    assert!(err.contains("recovered the successor") && err.contains("cost 3, balance 17"), "{err}");
    assert_eq!(balance(&server.env, &read(&file)), 20 - 3 - 5, "the change was kept, exactly");
    assert_eq!(upstream.count(), 2, "the recovery never reached the upstream");
    assert!(!beside(&file, ".pending").exists());
    eprintln!("recovered after the upstream's 5 s answer: the second run took {:?}", started.elapsed());
}

#[test]
fn a_request_stopped_by_timeout_or_its_own_deadline_leaves_its_change_to_the_next_run() {
    let upstream = Upstream::start();
    let server = proxy(&upstream);
    let token = server.mint(&["--balance", "20"]);
    let file = server.env.file("agent.token", token.as_bytes());

    // Its own deadline: the answer is lost on the way, and the retries (same key) meet the
    // request still in flight past --timeout. A pending outcome is exit 3, never a refusal.
    let (lossy, _) = relay(server.addr(), First::Cut);
    let hang = format!("{lossy}/hang/x");
    let (code, _, err) = server.env.run(&["request", "--token-file", &file, "--timeout", "3", &hang]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("in-flight") && err.contains("next run"), "{err}");
    assert_eq!(read(&file), token);
    assert_pending(&file, &token);
    let (code, _, err) = server.env.run(&["request", "--token-file", &file, &format!("{lossy}/v1/models")]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("recovered the successor") && err.contains("balance 17"), "{err}");
    let after_first = read(&file);
    assert_eq!(balance(&server.env, &after_first), 17);

    // `timeout 2 crumb request …` (SIGTERM), as an agent's own timeout does it.
    let crumb = assert_cmd::cargo::cargo_bin("crumb");
    let status = server
        .env
        .process_for("timeout")
        .args(["2".as_ref(), crumb.as_os_str()])
        .args(["request", "--token-file", &file, &format!("{}/hang/y", server.url)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(124), "timeout stopped it");
    assert_eq!(read(&file), after_first);
    assert_pending(&file, &after_first);
    let (code, _, err) =
        server.env.run(&["request", "--token-file", &file, "-X", "POST", &format!("{}/v1/chat", server.url)]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("recovered the successor") && err.contains("balance 14"), "{err}");
    assert_eq!(balance(&server.env, &read(&file)), 20 - 3 - 3 - 5);
    assert_eq!(upstream.count(), 4, "each request (two /hang, /v1/models, /v1/chat) reached the upstream once");
}

#[test]
fn a_retry_that_meets_its_own_request_in_flight_waits_for_its_successor() {
    let upstream = Upstream::start();
    let server = proxy(&upstream);
    let token = server.mint(&["--balance", "20"]);
    let file = server.env.file("agent.token", token.as_bytes());
    let (lossy, cut) = relay(server.addr(), First::Cut);
    // The answer is lost at 0.5 s; the upstream answers at 5 s. Retries used to give up after
    // three tries (4 s) with `in-flight` (exit 1) and the change lost; now they wait it out.
    let (code, out, err) = server.env.run(&["request", "--token-file", &file, &format!("{lossy}/hang/x")]);
    assert!(cut.load(Ordering::SeqCst));
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(err.contains("answered before") && err.contains("balance 17"), "{err}");
    assert_eq!(balance(&server.env, &read(&file)), 17);
    assert!(!beside(&file, ".pending").exists());
    assert_eq!(upstream.count(), 1);
}

#[test]
fn a_request_that_never_reached_the_server_is_closed_at_no_cost() {
    let upstream = Upstream::start();
    let server = proxy(&upstream);
    let token = server.mint(&["--balance", "20"]);
    let file = server.env.file("agent.token", token.as_bytes());
    let (front, swallowed) = relay(server.addr(), First::Swallow);
    let chat = format!("{front}/v1/chat");
    let mut child = spawn(&server.env, &["request", "--token-file", &file, "-X", "POST", &chat, "-d", "lost"]);
    wait_until("the request to be sent", Duration::from_secs(20), || swallowed.load(Ordering::SeqCst));
    signal(&mut child, "-KILL");
    assert_pending(&file, &token);
    // The server never saw it: asked about it, crumb closes it at no cost (a late copy would
    // be answered from the ledger, never executed), and the change is all there.
    let (code, out, err) = server.env.run(&["request", "--token-file", &file, "-X", "POST", &chat, "-d", "next"]);
    assert_eq!((code, out.as_str()), (0, "POST /v1/chat next"), "{err}");
    assert!(err.contains("recovered the successor") && err.contains("cost 0, balance 20"), "{err}");
    assert_eq!(balance(&server.env, &read(&file)), 15);
    assert_eq!(upstream.count(), 1);
}

/// How a [`relay`] mishandles its first connection.
#[derive(Clone, Copy, PartialEq)]
enum First {
    /// Reads the request and never passes it on: it never reaches the server.
    Swallow,
    /// Passes the request on and, half a second later, hangs up on the client: the answer is
    /// lost while the server still works on it.
    Cut,
    /// Passes the request on and the server's answer never back, holding the client's
    /// connection open.
    Withhold,
}

/// A TCP relay in front of `target` whose first connection goes as `first` says; later ones
/// are relayed whole. `done` is set once the first connection went as far as it goes.
fn relay(target: &str, first: First) -> (String, Arc<AtomicBool>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let (target, flag) = (target.to_owned(), done.clone());
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { continue };
            let (target, flag) = (target.clone(), flag.clone());
            std::thread::spawn(move || {
                if n == 0 && first == First::Swallow {
                    let mut some = [0u8; 64];
                    let _ = client.read(&mut some);
                    flag.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_secs(60));
                    return;
                }
                let mut server = std::net::TcpStream::connect(&target).unwrap();
                let (mut from_client, mut to_server) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || std::io::copy(&mut from_client, &mut to_server));
                match (n, first) {
                    (0, First::Cut) => {
                        std::thread::sleep(Duration::from_millis(500));
                        let _ = client.shutdown(std::net::Shutdown::Both);
                        flag.store(true, Ordering::SeqCst);
                    }
                    (0, _) => {
                        let mut byte = [0u8; 1];
                        if server.read(&mut byte).is_ok_and(|n| n > 0) {
                            flag.store(true, Ordering::SeqCst);
                        }
                        std::thread::sleep(Duration::from_secs(60));
                    }
                    _ => {
                        let _ = std::io::copy(&mut server, &mut client);
                        let _ = client.flush();
                    }
                }
            });
        }
    });
    (url, done)
}

#[test]
fn a_spend_killed_before_its_answer_came_is_finished_by_the_next_spend() {
    let s = start(&[]);
    let token = s.mint(&["--balance", "20", "-c", "action = read"]);
    let file = s.env.file("agent.token", token.as_bytes());
    let (relay, answered) = relay(s.addr(), First::Withhold);
    let mut child =
        spawn(&s.env, &["spend", "--token-file", &file, "--cost", "3", "--server", &relay, "--action", "read"]);
    wait_until("the server to answer the spend", Duration::from_secs(20), || answered.load(Ordering::SeqCst));
    signal(&mut child, "-KILL");
    assert_eq!(read(&file), token, "the successor never came back");
    assert_pending(&file, &token);

    // Another spend (another cost: another request id) first finishes the lost one.
    let (code, out, err) =
        s.env.run(&["spend", "--token-file", &file, "--cost", "2", "--server", &relay, "--action", "read"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("recovered the successor") && err.contains("cost 3, balance 17"), "{err}");
    assert_eq!(out.trim(), read(&file));
    assert_eq!(balance(&s.env, &read(&file)), 20 - 3 - 2);
    assert!(!beside(&file, ".pending").exists());
    let (code, _, err) = s.env.run(&["verify", &token, "--server", &s.url, "--action", "read"]);
    assert!(code == 1 && err.contains("spent"), "{err}");

    // A request id the file already spent with is not spent again.
    let (code, first, err) = s.env.run(&[
        "spend",
        "--token-file",
        &file,
        "--cost",
        "4",
        "--server",
        &s.url,
        "--action",
        "read",
        "--request-id",
        "job-7",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, again, err) = s.env.run(&[
        "spend",
        "--token-file",
        &file,
        "--cost",
        "4",
        "--server",
        &s.url,
        "--action",
        "read",
        "--request-id",
        "job-7",
    ]);
    assert_eq!((code, again.trim()), (0, first.trim()), "a retry: {err}");
    assert!(err.contains("a retry"), "{err}");
    assert_eq!(balance(&s.env, &read(&file)), 20 - 3 - 2 - 4);
    s.env.ok(&["spend", "--token-file", &file, "--cost", "1", "--server", &s.url, "--action", "read"]);
    let (code, out, err) = s.env.run(&[
        "spend",
        "--token-file",
        &file,
        "--cost",
        "4",
        "--server",
        &s.url,
        "--action",
        "read",
        "--request-id",
        "job-7",
    ]);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(err.contains("nothing was spent again"), "{err}");
    assert_eq!(balance(&s.env, &read(&file)), 20 - 3 - 2 - 4 - 1);
}

#[test]
fn a_key_already_paid_with_is_answered_from_the_journal_and_never_paid_twice() {
    let upstream = Upstream::start();
    let server = proxy(&upstream);
    let file = server.env.file("agent.token", server.mint(&["--balance", "20"]).as_bytes());
    let chat = format!("{}/v1/chat", server.url);
    let run = |url: &str| {
        server.env.run(&[
            "request",
            "--token-file",
            &file,
            "-X",
            "POST",
            url,
            "-d",
            "hi",
            "--idempotency-key",
            "job-42",
        ])
    };
    let (code, out, err) = run(&chat);
    assert_eq!((code, out.as_str()), (0, "POST /v1/chat hi"), "{err}");
    let paid = read(&file);
    assert_eq!(balance(&server.env, &paid), 15);

    // The same command again: the recorded result, nothing sent, nothing paid.
    let (code, out, err) = run(&chat);
    assert_eq!((code, out.as_str()), (3, ""), "{err}");
    assert!(err.contains("answered before") && err.contains("HTTP 200, cost 5, balance 15"), "{err}");
    assert_eq!(read(&file), paid);
    assert_eq!(upstream.count(), 1, "paid twice");
    // The key for another request is refused as the server would.
    let (code, _, err) = run(&format!("{}/v1/chat/other", server.url));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("idempotency-key-reused"), "{err}");
    assert_eq!(upstream.count(), 1);

    // The journal and the lock are the holder's alone, and hold no token.
    let journal = beside(&file, ".keys");
    assert_eq!((mode(&journal), mode(&beside(&file, ".lock"))), (0o600, 0o600));
    assert!(!std::fs::read_to_string(&journal).unwrap().contains(&paid));
}

/// A listener that counts the connections made to it (and answers none).
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (url, count)
}

#[test]
fn a_token_file_that_is_not_a_token_is_never_sent() {
    let env = Env::new();
    let key = env.key("root.key");
    let secret = read(&key);
    let (url, connections) = counting_listener();
    let link = env.path("agent.token");
    std::os::unix::fs::symlink(&key, &link).unwrap();
    let garbage = env.file("garbage.token", b"hello, this is not a token\n");
    for file in [link.to_str().unwrap(), key.as_str(), garbage.as_str()] {
        let (code, out, err) = env.run(&["request", "--token-file", file, &format!("{url}/v1/chat")]);
        assert_eq!(code, 2, "{file}: {err}");
        assert!(err.contains("is not a token file") && err.contains("nothing was sent"), "{err}");
        assert!(!err.contains(&secret) && !out.contains(&secret), "the key was echoed: {err}");
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(connections.load(Ordering::SeqCst), 0, "a connection was opened");
    assert!(!beside(&key, ".lock").exists() && !beside(&key, ".pending").exists());

    // The files beside a token file are never opened through a link.
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "5"]);
    let file = env.file("real.token", token.as_bytes());
    let victim = env.path("victim");
    std::os::unix::fs::symlink(&victim, beside(&file, ".lock")).unwrap();
    let (code, _, err) = env.run(&["request", "--token-file", &file, &format!("{url}/v1/chat")]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!victim.exists(), "the link was followed");
    std::fs::remove_file(beside(&file, ".lock")).unwrap();
    std::os::unix::fs::symlink(&victim, beside(&file, ".pending")).unwrap();
    let (code, _, err) = env.run(&["request", "--token-file", &file, &format!("{url}/v1/chat")]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!victim.exists(), "the link was followed");
    assert_eq!(connections.load(Ordering::SeqCst), 0, "a connection was opened");
}

/// A canned answer (head and body), its Content-Length computed.
fn canned(head: &str, body: &str) -> String {
    let answer = format!("{head}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    common::upstream::canned(Box::leak(answer.into_boxed_str()))
}

#[test]
fn a_refusal_with_a_crumb_code_exits_1_whatever_the_front_proxy_made_of_it() {
    let env = Env::new();
    let token = env.ok(&["mint", "--key-file", &env.key("k"), "--balance", "5"]);
    let file = env.file("agent.token", token.as_bytes());
    let page = "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 \
                Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    // nginx's recipe: crumb's 402 becomes nginx's own 401 page, with Crumb-Error passed on.
    let nginx = canned(
        "HTTP/1.1 401 Unauthorized\r\nServer: nginx\r\nContent-Type: text/html\r\nWWW-Authenticate: Crumb \
         realm=\"crumb\", cost=\"5\"\r\nCrumb-Error: insufficient-balance\r\nCrumb-Token: \r\n",
        page,
    );
    let (code, out, err) = env.run(&["request", "--token-file", &file, &format!("{nginx}/v1/chat")]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("refused: HTTP 401") && err.contains("insufficient-balance"), "{err}");
    assert!(!err.contains("<html>"), "{err}");
    assert_eq!(read(&file), token);
    assert!(!beside(&file, ".pending").exists(), "a refusal is decided");
    // A problem document with crumb's code, under any status, is a refusal too.
    let problem = canned(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n",
        r#"{"code":"caveat-failed","detail":"caveat 0: action GET is not POST"}"#,
    );
    let (code, out, err) = env.run(&["request", "--token-file", &file, &format!("{problem}/v1/chat")]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("action GET is not POST (caveat-failed)"), "{err}");

    // The front proxy's own 500 (its auth backend failed): the outcome is unknown, so the
    // record stays for the next run, and the exit is 3.
    let broken = canned("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n", "<html>500</html>");
    let (code, _, err) = env.run(&["request", "--token-file", &file, &format!("{broken}/v1/chat")]);
    assert_eq!(code, 3, "{err}");
    assert_pending(&file, &token);
}

#[test]
fn a_data_directory_others_can_write_is_refused_before_its_key_is_used() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.ok(&["keygen"]);
    let data = env.path("data");
    env.ok(&["mint", "--balance", "5"]);
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out, err) = env.run(&["mint", "--balance", "5"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(err.contains(&format!("chmod 700 {}", data.display())), "{err}");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
    env.ok(&["mint", "--balance", "5"]);
}

/// A run killed while it wrote beside the token file leaves `FILE….crumb-PID.tmp` files (one
/// may hold a successor token); the next run on the file removes those of dead processes.
#[test]
fn leftovers_of_a_killed_run_are_removed_by_the_next_one() {
    let upstream = Upstream::start();
    let server = proxy(&upstream);
    let token = server.mint(&["--balance", "20"]);
    let file = server.env.file("agent.token", token.as_bytes());
    // A process that has ended: its pid names the leftovers.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    let leftovers = [format!("{file}.crumb-{pid}.tmp"), format!("{file}.pending.crumb-{pid}.tmp")];
    for path in &leftovers {
        std::fs::write(path, &token).unwrap();
    }
    let live = format!("{file}.crumb-{}.tmp", std::process::id());
    std::fs::write(&live, "a live process's file").unwrap();
    let (code, _, err) = server.env.run(&["request", "--token-file", &file, &format!("{}/v1/models", server.url)]);
    assert_eq!(code, 0, "{err}");
    for path in &leftovers {
        assert!(!Path::new(path).exists(), "{path} was left");
    }
    assert!(Path::new(&live).exists(), "a live process's file was removed");
}

/// A token wrapped over lines (base64 at 76 columns) is the same token: sent whole on one
/// line, never a line break in a header, and never printed.
#[test]
fn a_token_file_wrapped_over_lines_is_sent_as_one_token() {
    let upstream = Upstream::start();
    let server = proxy(&upstream);
    let token = server.mint(&["--balance", "20"]);
    let (head, tail) = token.split_at(76);
    let file = server.env.file("wrapped.token", format!("{head}\n{tail}\n").as_bytes());
    let (code, _, err) = server.env.run(&["request", "--token-file", &file, &format!("{}/v1/models", server.url)]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(head) && !err.contains(tail), "the token was printed: {err}");
    assert!(!beside(&file, ".pending").exists(), "a pending record was left");
}

/// The CLI never follows a redirect (issue 16 §7): the request carries the token (a Bearer
/// header, or the body of a `--server` POST), and a redirect would send it to an origin the
/// user never named. `crumb request` hands the 3xx back as the answer; `--server` says to use
/// the URL crumb serve answers on. Nothing reaches the redirect's target.
#[test]
fn a_redirect_to_another_origin_is_never_followed_with_the_token() {
    let env = Env::new();
    let key = env.key("k");
    let elsewhere = Upstream::start();
    for status in
        ["301 Moved Permanently", "302 Found", "303 See Other", "307 Temporary Redirect", "308 Permanent Redirect"]
    {
        let redirecting = common::upstream::redirecting(status, &format!("{}/v1/chat", elsewhere.url));
        let token = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
        let file = env.file("token", token.as_bytes());

        let (code, out, err) = env.run(&["request", "--token-file", &file, &format!("{redirecting}/v1/chat")]);
        assert_eq!((code, out.as_str()), (0, ""), "{status}: {err}");
        assert_eq!(read(&file), token, "{status}: no successor came, the token file is as it was");

        let (code, _, err) = env.run(&["inspect", "--token-file", &file, "--server", &redirecting]);
        assert_eq!(code, 2, "{status}: {err}");
        assert!(err.contains("does not follow redirects") && err.contains(&elsewhere.url), "{status}: {err}");
        assert!(!err.contains(&token), "{status}: the token is never said: {err}");

        let (code, _, err) = env.run(&["verify", &token, "--server", &redirecting, "--action", "read"]);
        assert_eq!(code, 2, "{status}: {err}");
        assert!(err.contains("does not follow redirects"), "{status}: {err}");
    }
    assert_eq!(elsewhere.count(), 0, "a request followed a redirect to another origin");
}

/// https is checked against the Mozilla roots compiled into crumb: a server whose certificate
/// chains to a private CA is refused at the handshake, said as such (not "connection
/// refused"), and as nothing was sent the token file is left with no pending request.
#[test]
fn an_https_server_crumb_cannot_verify_is_refused_at_the_handshake() {
    let env = Env::new();
    let key = env.key("k");
    let (upstream, _ca) = Upstream::start_tls();
    let token = env.ok(&["mint", "--key-file", &key, "--balance", "10"]);
    let file = env.file("token", token.as_bytes());

    let (code, _, err) = env.run(&["request", "--token-file", &file, &format!("{}/v1/chat", upstream.url)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("the TLS handshake failed") && err.contains("certificate"), "{err}");
    assert!(!beside(&file, ".pending").exists(), "nothing was sent, so nothing is pending");

    let (code, _, err) = env.run(&["inspect", "--token-file", &file, "--server", &upstream.url]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("the TLS handshake failed"), "{err}");
    assert_eq!(upstream.count(), 0);
}
