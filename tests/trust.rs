//! Who the client is, what the upstream is told, and what possession of a token may read:
//! attacks through the real binary and raw sockets.

use crate::common;
use common::http::{raw, send};
use common::server::start;
use common::upstream::{Upstream, PRICES};
use serde_json::{json, Value};

fn proxy_trusting_loopback(upstream: &Upstream) -> common::server::Server {
    start(&[&["--upstream", &upstream.url, "--trust-proxy", "127.0.0.1"], PRICES].concat())
}

fn paid(addr: &str, token: &str, extra_headers: &str) -> common::http::Answer {
    raw(
        addr,
        &format!(
            "POST /v1/chat HTTP/1.1\r\nHost: api.test\r\nAuthorization: Bearer {token}\r\n{extra_headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    )
}

/// The X-Forwarded-For layouts proxies write, and a client's attempts to choose its own
/// address (or the trusted proxy's) by padding the header or breaking a byte of it.
#[test]
fn the_client_address_behind_a_trusted_proxy_is_read_whole_or_refused() {
    let upstream = Upstream::start();
    let server = proxy_trusting_loopback(&upstream);
    let root = server.mint(&["--balance", "100"]);
    // Only a client at 203.0.113.9 may use this token; the attacker is at 198.51.100.7.
    let pinned = server.env.ok(&["attenuate", &root, "--caveat", "ip = 203.0.113.9"]);
    // Enough forged lines to push the proxy's own (last) line out of a window of 16.
    let forged = "X-Forwarded-For: 203.0.113.9\r\n".repeat(16);
    let padded = paid(server.addr(), &pinned, &format!("{forged}X-Forwarded-For: 198.51.100.7\r\n"));
    assert_eq!((padded.status, padded.header("crumb-error")), (403, Some("caveat-failed")), "{padded:?}");
    // More lines or hops than crumb reads: refused whole, not read in part.
    let flood = "X-Forwarded-For: 203.0.113.9\r\n".repeat(70);
    let flooded = paid(server.addr(), &pinned, &flood);
    assert_eq!((flooded.status, flooded.header("crumb-error")), (400, Some("bad-forwarded-for")), "{flooded:?}");
    // nginx's $proxy_add_x_forwarded_for joins the client's header and the real address in
    // one line: a non-ASCII byte in the client's part must not make crumb drop the line and
    // fall back to the proxy's own address.
    let at_proxy = server.env.ok(&["attenuate", &root, "--caveat", "ip = 127.0.0.1"]);
    let broken = paid(server.addr(), &at_proxy, "X-Forwarded-For: 6.6.6.6\u{ff}, 198.51.100.7\r\n");
    assert_eq!((broken.status, broken.header("crumb-error")), (403, Some("caveat-failed")), "{broken:?}");
    // A hop crumb must read to find the client, and cannot: refused, never skipped.
    let garbled = paid(server.addr(), &pinned, "X-Forwarded-For: 203.0.113.9, garbage, 10.0.0.3\r\n");
    assert_eq!(garbled.status, 403, "a non-trusted garbage hop is not the client 203.0.113.9: {garbled:?}");
    let unknown = paid(server.addr(), &at_proxy, "X-Forwarded-For: unknown\r\n");
    assert_eq!((unknown.status, unknown.header("crumb-error")), (400, Some("bad-forwarded-for")), "{unknown:?}");
    assert_eq!(upstream.count(), 0, "nothing refused reached the upstream");
    // The real layouts: HAProxy (a line per proxy), nginx and Envoy (one list), with a port.
    for layout in [
        "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.9\r\n",
        "X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\n",
        "X-Forwarded-For: 6.6.6.6,203.0.113.9\r\n",
        "X-Forwarded-For: 203.0.113.9:41234\r\n",
        "X-Forwarded-For: ::ffff:203.0.113.9\r\n",
    ] {
        let token = server.env.ok(&["attenuate", &server.mint(&["--balance", "10"]), "--caveat", "ip = 203.0.113.9"]);
        let answer = paid(server.addr(), &token, layout);
        assert_eq!(answer.status, 200, "{layout}: {answer:?}");
        let (_, _, headers) = upstream.last();
        assert_eq!(headers.get("x-forwarded-for").unwrap(), "203.0.113.9", "{layout}");
    }
}

/// The upstream trusts crumb as its only peer: every forwarding header a client wrote is
/// dropped and crumb's own are set, on paid and on free routes, with or without a Host.
#[test]
fn the_upstream_hears_crumbs_forwarding_headers_only() {
    let upstream = Upstream::start();
    let server = start(&["--upstream", &upstream.url, "--price", "POST /v1/chat=5", "--unpriced", "free"]);
    let token = server.mint(&["--balance", "100"]);
    let spoofed = "Forwarded: for=10.0.0.1;host=admin.internal;proto=https\r\n\
                   X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: admin.internal\r\nX-Forwarded-Proto: https\r\n\
                   X-Forwarded-Port: 443\r\nX-Forwarded-Prefix: /admin\r\nX-Real-IP: 10.0.0.1\r\n\
                   True-Client-IP: 10.0.0.1\r\nCF-Connecting-IP: 10.0.0.1\r\nX-Client-IP: 10.0.0.1\r\n\
                   X-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nX-HTTP-Method-Override: DELETE\r\n\
                   X-Original-Forwarded-For: 10.0.0.1\r\nX-Envoy-External-Address: 10.0.0.1\r\n\
                   X_Forwarded_For: 10.0.0.1\r\nX-Forwarded: for=10.0.0.1\r\nForwarded-For: 10.0.0.1\r\n\
                   X-Host: admin.internal\r\nX-Scheme: https\r\nFront-End-Https: on\r\nX-Url-Scheme: https\r\n\
                   X-Originating-IP: 10.0.0.1\r\nX-Remote-IP: 10.0.0.1\r\nX-Remote-Addr: 10.0.0.1\r\n\
                   X-Azure-ClientIP: 10.0.0.1\r\nVia: 1.1 10.0.0.1\r\n\
                   Proxy-Client-IP: 10.0.0.1\r\nWL-Proxy-Client-IP: 10.0.0.1\r\nRemote-Addr: 10.0.0.1\r\n\
                   X-HTTP-Forwarded-For: 10.0.0.1\r\nCF-Connecting-IPv6: ::1\r\nX-Real-Client-IP: 10.0.0.1\r\n\
                   Fly-Client-IP: 10.0.0.1\r\nCloudFront-Viewer-Address: 10.0.0.1:1\r\n\
                   X-Appengine-User-IP: 10.0.0.1\r\nAkamai-Client-IP: 10.0.0.1\r\n";
    let check = |what: &str, host: Option<&str>| {
        let (_, _, headers) = upstream.last();
        for name in [
            "x-forwarded-port",
            "x-forwarded-prefix",
            "x-real-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-client-ip",
            "x-original-url",
            "x-rewrite-url",
            "x-http-method-override",
            "x-original-forwarded-for",
            "x-envoy-external-address",
            "x_forwarded_for",
            "x-forwarded",
            "forwarded-for",
            "x-host",
            "x-scheme",
            "front-end-https",
            "x-url-scheme",
            "x-originating-ip",
            "x-remote-ip",
            "x-remote-addr",
            "x-azure-clientip",
            "via",
            "proxy-client-ip",
            "wl-proxy-client-ip",
            "remote-addr",
            "x-http-forwarded-for",
            "cf-connecting-ipv6",
            "x-real-client-ip",
            "fly-client-ip",
            "cloudfront-viewer-address",
            "x-appengine-user-ip",
            "akamai-client-ip",
        ] {
            assert!(headers.get(name).is_none(), "{what}: the client's {name} reached the upstream");
        }
        assert_eq!(headers.get("x-forwarded-for").unwrap(), "127.0.0.1", "{what}");
        assert_eq!(headers.get("x-forwarded-proto").unwrap(), "http", "{what}");
        assert_eq!(headers.get("x-forwarded-host").map(|v| v.to_str().unwrap()), host, "{what}");
        let forwarded = headers.get("forwarded").unwrap().to_str().unwrap();
        let expected = match host {
            Some(h) => format!("for=127.0.0.1;proto=http;host=\"{h}\""),
            None => "for=127.0.0.1;proto=http".to_owned(),
        };
        assert_eq!(forwarded, expected, "{what}");
    };
    let answer = paid(server.addr(), &token, &format!("{spoofed}Idempotency-Key: k-1\r\n"));
    assert_eq!(answer.status, 200, "{answer:?}");
    check("paid", Some("api.test"));
    assert!(upstream.last().2.get("idempotency-key").is_none(), "the key reached the upstream");
    let free =
        raw(server.addr(), &format!("GET /open HTTP/1.1\r\nHost: api.test\r\n{spoofed}Connection: close\r\n\r\n"));
    assert_eq!(free.status, 200, "{free:?}");
    check("free", Some("api.test"));
    // HTTP/1.0 without a Host: the client's X-Forwarded-Host must not stand in for one.
    let hostless = raw(server.addr(), &format!("GET /open HTTP/1.0\r\n{spoofed}\r\n"));
    assert_eq!(hostless.status, 200, "{hostless:?}");
    check("no host", None);
}

/// An `ip` caveat in IPv4-mapped form is the IPv4 address: it matches that client, through
/// the proxy and through /v1/verify.
#[test]
fn an_ipv4_mapped_ip_caveat_matches_its_own_address() {
    let upstream = Upstream::start();
    let server = start(&["--upstream", &upstream.url, "--price", "POST /v1/chat=5", "--admin-listen", "127.0.0.1:0"]);
    let root = server.mint(&["--balance", "100"]);
    let mapped = server.env.ok(&["attenuate", &root, "--caveat", "ip = ::ffff:127.0.0.1"]);
    let answer = paid(server.addr(), &mapped, "");
    assert_eq!(answer.status, 200, "{answer:?}");
    let elsewhere = server.env.ok(&["attenuate", answer.successor(), "--caveat", "ip = ::ffff:10.9.9.9"]);
    let refused = paid(server.addr(), &elsewhere, "");
    assert_eq!((refused.status, refused.header("crumb-error")), (403, Some("caveat-failed")), "{refused:?}");
    // A mapped network wider than the mapped range is refused when written.
    let (code, _, err) = server.env.run(&["attenuate", &root, "--caveat", "ip in ::ffff:0.0.0.0/80"]);
    assert_eq!(code, 2, "{err}");
}

/// A spent token's possession reads what that token did (its spend, its split-off children
/// and where they went) but nothing its payer did next with the change.
#[test]
fn a_spent_token_does_not_read_what_its_payer_did_with_the_change() {
    let server = start(&[]);
    let first = server.mint(&["--balance", "100"]);
    let spend = |token: &str, cost: u64| -> String {
        let (status, doc) =
            server.post("/v1/spend", &json!({"token": token, "cost": cost, "request_id": format!("r-{cost}")}));
        assert_eq!(status, 200, "{doc}");
        doc["token"].as_str().or(doc["successor"]["token"].as_str()).unwrap_or_else(|| panic!("{doc}")).to_owned()
    };
    let change = spend(&first, 5);
    let later = spend(&change, 7);
    let (status, split) = server.post("/v1/split", &json!({"token": later, "amounts": [20]}));
    assert_eq!(status, 200, "{split}");
    let read = |token: &str| -> Value {
        let answer = send("GET", &format!("{}/v1/lineage", server.url), Some(token), &[], "");
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.json()
    };
    let leaked = read(&first);
    let nodes = leaked["tree"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "the spent token's own record, not its change: {leaked}");
    assert_eq!(
        (nodes[0]["consumed"]["cost"].as_u64(), nodes[0]["consumed"]["amounts"][0].as_u64()),
        (Some(5), Some(95))
    );
    assert!(!leaked.to_string().contains("\"cost\":7"), "the change's purchase leaked: {leaked}");
    // The payer reading from a split sees the child it handed on, not its remainder's future.
    let (status, split_again) =
        server.post("/v1/split", &json!({"token": split["children"][1]["token"], "amounts": [10]}));
    assert_eq!(status, 200, "{split_again}");
    let remainder = split_again["children"][1]["token"].as_str().unwrap().to_owned();
    spend(&remainder, 3);
    let handed = split["children"][0]["token"].as_str().unwrap().to_owned();
    spend(&handed, 4);
    let from_split = read(&later);
    let nonces: Vec<&str> =
        from_split["tree"].as_array().unwrap().iter().map(|n| n["nonce"].as_str().unwrap()).collect();
    // `later` and the child it handed on, with that child's successor; not its remainder.
    assert_eq!(nonces.len(), 3, "{from_split}");
    assert!(!nonces.contains(&server.nonce(split["children"][1]["token"].as_str().unwrap()).as_str()), "{from_split}");
}

/// A key retired with `crumb keygen --keyring F --retire K` stops verifying and spending in a
/// server already running, within seconds and without a restart; a key added becomes current.
#[test]
fn a_key_retired_under_a_running_server_stops_working_within_seconds() {
    let server = common::server::start_with_keyring(&[]);
    let ring = server.key.clone();
    let old = server.mint(&["--balance", "10"]);
    let verify = |token: &str| server.post("/v1/verify", &json!({ "token": token }));
    assert_eq!(verify(&old).0, 200);
    let listed: Value =
        serde_json::from_str(&server.env.ok(&["keygen", "--keyring", &ring, "--list", "--json"])).unwrap();
    let old_id = listed["keys"][0]["key_id"].as_str().unwrap().to_owned();
    server.env.ok(&["keygen", "--keyring", &ring]);
    server.env.ok(&["keygen", "--keyring", &ring, "--retire", &old_id]);
    let new = server.mint(&["--balance", "10"]);
    let retired_at = std::time::Instant::now();
    let (status, doc) = loop {
        let (status, doc) = verify(&old);
        if status != 200 || retired_at.elapsed() > std::time::Duration::from_secs(10) {
            break (status, doc);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!((status, doc["code"].as_str()), (403, Some("retired-key")), "{doc}");
    assert!(retired_at.elapsed() < std::time::Duration::from_secs(3), "took {:?}", retired_at.elapsed());
    let (status, doc) = server.post("/v1/spend", &json!({ "token": old, "cost": 1 }));
    assert_eq!(
        (status, doc["code"].as_str()),
        (403, Some("retired-key")),
        "a retired key's token still spends, or says another code: {doc}"
    );
    assert_eq!(verify(&new).0, 200, "the new current key is in force");
}

/// A default key file that belongs to another user (or a link to one) is refused: anyone else's
/// file could have been put there. (Needs root to hand the file to another user; says so.)
#[test]
fn a_default_key_owned_by_another_user_is_refused() {
    let env = common::Env::new();
    env.ok(&["keygen"]);
    let key = env.path("data/root.key");
    let chowned = std::process::Command::new("chown").args(["65534", key.to_str().unwrap()]).status();
    if !chowned.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: a_default_key_owned_by_another_user_is_refused needs to chown (run as root)");
        return;
    }
    let (code, _, err) = env.run(&["mint", "--balance", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("owned by user id 65534"), "{err}");
}

/// A mistyped PostgreSQL URL is refused, not taken for a file path (a private ledger per
/// replica, the password in directory names), and its password is never printed.
#[test]
fn a_mistyped_ledger_url_is_refused_not_made_a_file() {
    let env = common::Env::new();
    let key = env.key("root.key");
    for ledger in [
        "POSTGRES://crumb:SECRETpw@127.0.0.1:1/db",
        "postgres:/crumb:SECRETpw@127.0.0.1:1/db",
        "host=127.0.0.1 password=SECRETpw dbname=db",
    ] {
        let (code, out, err) = env.run_with_ledger(ledger, &["serve", "--listen", "127.0.0.1:0", "--key-file", &key]);
        assert_ne!(code, 0, "{ledger}: {out}");
        assert!(!err.contains("SECRET") && !out.contains("SECRET"), "{err}");
        assert!(err.contains("postgres://"), "{err}");
    }
    let made: Vec<_> = std::fs::read_dir(env.dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(
        !made.iter().any(|n| n.to_string_lossy().contains("SECRET") || n.to_string_lossy().starts_with("POSTGRES")),
        "{made:?}"
    );
}

/// SIGHUP asks a running server to re-read its keys: it never ends the process, not even
/// right after start-up (its default action would).
#[test]
fn sighup_reloads_and_never_ends_the_server() {
    for _ in 0..5 {
        let mut server = start(&[]);
        let sent = std::process::Command::new("kill").args(["-HUP", &server.pid().to_string()]).status().unwrap();
        assert!(sent.success());
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(server.alive(), "SIGHUP ended the server");
        let token = server.mint(&["--balance", "1"]);
        assert_eq!(server.post("/v1/verify", &json!({ "token": token })).0, 200);
    }
}

/// A leaked copy of a spent token cannot walk forward to its payer's live change: lineage never
/// shows a holder a request id, a spend that names none is never answered again, the
/// gateway's ids cannot be named through the JSON API, and the id crumb derives for a spend is
/// the client's own (its data directory's secret), not a function of the token.
#[test]
fn a_leaked_spent_token_cannot_collect_its_change() {
    let upstream = Upstream::start();
    let server = start(&[&["--upstream", &upstream.url, "--admin-listen", "127.0.0.1:0"], PRICES].concat());
    let admin = server.admin.clone().unwrap();
    let leaked = server.mint(&["--balance", "50"]);
    let first = send("POST", &format!("{}/v1/chat", server.url), Some(&leaked), &[("Idempotency-Key", "secret-1")], "");
    assert_eq!(first.status, 200, "{first:?}");
    let second = send("POST", &format!("{}/v1/chat", server.url), Some(first.successor()), &[], "");
    assert_eq!(second.status, 200, "{second:?}");
    // The thief reads what it may: no request id anywhere.
    let tree = send("GET", &format!("{admin}/v1/lineage"), Some(&leaked), &[], "");
    assert_eq!(tree.status, 200, "{tree:?}");
    let doc = tree.json();
    assert!(doc["tree"].as_array().unwrap().iter().all(|n| n["consumed"]["request_id"].is_null()), "{doc}");
    // A spend naming no id, or the gateway's kind of id, gets no successor.
    let post = |body: Value| {
        send("POST", &format!("{admin}/v1/spend"), None, &[("Content-Type", "application/json")], &body.to_string())
    };
    let bare = post(json!({ "token": leaked, "cost": 5, "action": "POST", "resource": "/v1/chat" }));
    assert_eq!((bare.status, bare.json()["code"].as_str()), (409, Some("spent")), "{bare:?}");
    assert!(bare.json()["token"].is_null());
    let gateway = post(json!({ "token": leaked, "cost": 5, "request_id": "key:0011:2233" }));
    assert_eq!((gateway.status, gateway.json()["code"].as_str()), (400, Some("bad-request")), "{gateway:?}");
    // The payer's own CLI spend: re-running it here replays; the same command elsewhere (another
    // data directory, so another client secret) learns only `spent`.
    let live = second.successor().to_owned();
    let payer = |env: &common::Env| env.run(&["spend", &live, "--cost", "3", "--server", &admin, "--json"]);
    let (code, out, err) = payer(&server.env);
    assert_eq!(code, 0, "{err}");
    let (again, out_again, _) = payer(&server.env);
    assert_eq!(again, 0);
    let token = |text: &str| serde_json::from_str::<Value>(text).unwrap()["token"].clone();
    assert_eq!(token(&out), token(&out_again), "a re-run on the payer's machine is a retry");
    let thief = common::Env::new();
    let (code, _, err) = payer(&thief);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("spent"), "{err}");
}

/// `--trust-proxy 0.0.0.0/0` (or `::/0`) would let any client name its own address in
/// X-Forwarded-For and pass `ip` caveats and per-address limits: refused at start (exit 2),
/// before anything is opened.
#[test]
fn trusting_every_peer_as_a_proxy_is_refused() {
    let env = common::Env::new();
    let key = env.key("root.key");
    for all in ["0.0.0.0/0", "10.0.0.0/8,::/0"] {
        let (code, _, err) = env.run(&["serve", "--listen", "127.0.0.1:0", "--key-file", &key, "--trust-proxy", all]);
        assert_eq!(code, 2, "{all}: {err}");
        assert!(err.contains("trusts every peer"), "{err}");
    }
}
