//! Abuse of `crumb serve` over real sockets, bounded in count and time. While each abuse runs,
//! `/healthz` must keep answering quickly and the server's memory must stay bounded.
//! One server, the abuses in turn, so the figures are not muddied by other tests of this file.

use crate::common;

use common::server::{start, Server};
use crumb::token::wire;
use crumb::{Macaroon, RootKey};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Resident memory the server may reach under any of these abuses.
const RSS_BOUND_KIB: u64 = 256 * 1024;

/// Probes `/healthz` while `abuse` runs on other threads; returns (median, worst) latency.
fn while_abused(s: &Server, name: &str, abuse: impl FnOnce() + Send) -> (Duration, Duration) {
    let mut latencies = Vec::new();
    std::thread::scope(|scope| {
        let running = scope.spawn(abuse);
        std::thread::sleep(Duration::from_millis(100));
        while !running.is_finished() || latencies.len() < 5 {
            latencies.push(s.health_latency());
            std::thread::sleep(Duration::from_millis(50));
        }
        running.join().unwrap();
    });
    latencies.sort();
    let (median, worst) = (latencies[latencies.len() / 2], *latencies.last().unwrap());
    let rss = s.rss_kib();
    eprintln!(
        "abuse {name}: /healthz median {median:?}, worst {worst:?} over {} probes; RSS {rss} KiB",
        latencies.len()
    );
    assert!(median < Duration::from_millis(100), "{name}: /healthz median {median:?}");
    assert!(worst < Duration::from_secs(1), "{name}: /healthz worst {worst:?}");
    assert!(rss < RSS_BOUND_KIB, "{name}: RSS {rss} KiB");
    (median, worst)
}

fn raw(s: &Server, bytes: &[u8]) -> TcpStream {
    let mut c = TcpStream::connect(s.addr()).unwrap();
    let _ = c.write_all(bytes);
    c
}

fn status_of(mut c: TcpStream) -> u16 {
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn serve_stays_up_under_abuse() {
    let s = start(&["--max-connections", "200", "--header-timeout", "2", "--timeout", "2"]);
    let token = s.mint(&["--balance", "1000"]);

    while_abused(&s, "slow headers (150 connections, a byte every 300 ms)", || {
        let mut conns: Vec<TcpStream> = (0..150).map(|_| raw(&s, b"GET /healthz HTTP/1.1\r\n")).collect();
        for _ in 0..5 {
            for c in &mut conns {
                let _ = c.write_all(b"X");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    });

    while_abused(&s, "slow bodies (60 requests that never finish their body)", || {
        let head = format!(
            "POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{{\"token\":\"{}",
            &token[..10]
        );
        let conns: Vec<TcpStream> = (0..60).map(|_| raw(&s, head.as_bytes())).collect();
        let started = Instant::now();
        let statuses: Vec<u16> = conns.into_iter().map(status_of).collect();
        assert!(statuses.iter().all(|&c| c == 503 || c == 0), "{statuses:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    });

    while_abused(&s, "idle connections past the cap (500 against a cap of 200)", || {
        let conns: Vec<TcpStream> = (0..500).map(|_| raw(&s, b"")).collect();
        std::thread::sleep(Duration::from_millis(500));
        drop(conns);
    });

    while_abused(&s, "huge headers (1 MiB)", || {
        let mut request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 1 << 20));
        request.extend_from_slice(b"\r\n\r\n");
        let status = status_of(raw(&s, &request));
        assert!(status == 431 || status == 0, "{status}");
    });

    while_abused(&s, "deep JSON (100,000 nested arrays)", || {
        let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        for _ in 0..10 {
            let (code, doc) = s.post_raw("/v1/verify", &body, &[]);
            assert_eq!((code, doc["code"].as_str()), (400, Some("bad-json")));
        }
    });

    while_abused(&s, "10,000 caveats", || {
        let mut m = Macaroon::mint(&RootKey::generate().unwrap(), b"x".to_vec(), None);
        for i in 0..10_000 {
            m.add_first_party(format!("k{i} = v"));
        }
        let text = wire::encode(&m, wire::Format::V2).unwrap();
        for _ in 0..10 {
            let (code, doc) = s.post("/v1/verify", &json!({ "token": text }));
            assert_eq!((code, doc["code"].as_str()), (400, Some("malformed-token")), "{doc}");
        }
    });

    while_abused(&s, "non-UTF-8 bodies", || {
        for i in 0..200u32 {
            let body: Vec<u8> =
                (0..2000u32).map(|j| (i.wrapping_mul(7919) ^ j.wrapping_mul(104729)) as u8 | 0x80).collect();
            let mut request = format!(
                "POST /v1/spend HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend(body);
            assert_eq!(status_of(raw(&s, &request)), 400);
        }
    });

    while_abused(&s, "many discharges (4,000)", || {
        let discharges = vec![token.clone(); 4000];
        for _ in 0..5 {
            let (code, doc) = s.post("/v1/verify", &json!({ "token": token, "discharges": discharges }));
            assert_eq!((code, doc["code"].as_str()), (400, Some("too-many-discharges")));
        }
    });

    while_abused(&s, "big splits (63 children of a token with 8 KiB of caveats, 20 times)", || {
        let pad: Vec<String> = (0..8).map(|i| format!("pad{i} = {}", "z".repeat(990))).collect();
        let mut args: Vec<&str> = vec!["--balance", "100000"];
        for p in &pad {
            args.extend(["-c", p.as_str()]);
        }
        let mut parent = s.mint(&args);
        for _ in 0..20 {
            let (code, text) =
                s.post_text("/v1/split", &json!({ "token": parent, "amounts": vec![1; 63] }).to_string(), &[]);
            assert_eq!(code, 200, "{}", &text[..text.len().min(200)]);
            assert!(text.len() < 1 << 20, "a split's answer is bounded: {} bytes", text.len());
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            parent = doc["children"][63]["token"].as_str().unwrap().to_owned();
        }
    });
}
