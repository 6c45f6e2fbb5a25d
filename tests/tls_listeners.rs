//! HTTPS on crumb's own listeners (`--tls-cert`, `--tls-key`): served, refused when the pair
//! is wrong, renewed on SIGHUP without a restart, and a stalled handshake is closed.

use crate::common::Env;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls;

/// A private CA, and a certificate for 127.0.0.1 it issued, written as PEM files.
struct Pki {
    ca_pem: String,
    ca: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&ca_key).unwrap();
        Pki { ca_pem: ca.pem(), ca, ca_key }
    }

    /// A leaf for 127.0.0.1: (certificate PEM, key PEM, certificate DER).
    fn leaf(&self) -> (String, String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &self.ca, &self.ca_key)
            .unwrap();
        (cert.pem(), key.serialize_pem(), cert.der().to_vec())
    }
}

/// One HTTPS GET over a fresh connection that trusts only `ca_pem`: the status line and the
/// certificate the server presented.
fn get(addr: &str, path: &str, ca_pem: &str) -> (String, Vec<u8>) {
    use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(tls, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    let presented = tls.conn.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    (answer.lines().next().unwrap_or("").to_owned(), presented)
}

#[test]
fn the_listeners_serve_https_and_a_renewed_certificate_is_served_after_sighup() {
    let env = Env::new();
    let pki = Pki::new();
    let (cert, key, first_der) = pki.leaf();
    let cert_file = env.file("tls.crt", cert.as_bytes());
    let key_file = env.file("tls.key", key.as_bytes());
    let key_path = env.key("root.key");
    let mut child = env
        .process()
        .args(["serve", "--listen", "127.0.0.1:0", "--key-file", &key_path, "--tls-cert", &cert_file])
        .args(["--tls-key", &key_file, "--header-timeout", "1s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on https://").unwrap_or_else(|| panic!("{line}")).to_owned();
    let (status, presented) = get(&addr, "/healthz", &pki.ca_pem);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(presented, first_der);

    // crumb's own client reaches it when told to trust the private CA, and not otherwise.
    let ca = env.file("ca.pem", pki.ca_pem.as_bytes());
    let token = env.ok(&["mint", "--key-file", &key_path, "--balance", "5"]);
    let server = format!("https://{addr}");
    let out = env.crumb().args(["verify", &token, "--server", &server]).env("CRUMB_CA_FILE", &ca).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, _, err) = env.run(&["verify", &token, "--server", &server]);
    assert_eq!(code, 3, "the Mozilla roots do not know this CA: {err}");
    let out =
        env.crumb().args(["verify", &token, "--server", &server]).env("CRUMB_CA_FILE", &key_file).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("PRIVATE"), "a key file's bytes were printed");

    // Plain HTTP on the TLS port gets no answer in HTTP.
    let mut plain = TcpStream::connect(&addr).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"));

    // A client that opens a connection and never says hello is closed after the header timeout.
    let started = Instant::now();
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(stalled.read(&mut byte).unwrap_or(0), 0, "closed");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());

    // Renewed in place (as certbot does), then SIGHUP: new connections get the new one.
    let (cert, key, second_der) = pki.leaf();
    std::fs::write(env.path("tls.key"), key).unwrap();
    std::fs::write(env.path("tls.crt"), cert).unwrap();
    assert!(std::process::Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, presented) = get(&addr, "/healthz", &pki.ca_pem);
        assert_eq!(status, "HTTP/1.1 200 OK");
        if presented == second_der {
            break;
        }
        assert!(Instant::now() < deadline, "the renewed certificate was never served");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A broken renewal keeps the pair in force.
    std::fs::write(env.path("tls.key"), "not a key").unwrap();
    assert!(std::process::Command::new("kill").args(["-HUP", &child.id().to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    let (status, presented) = get(&addr, "/healthz", &pki.ca_pem);
    assert_eq!((status.as_str(), presented == second_der), ("HTTP/1.1 200 OK", true));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_certificate_and_key_that_do_not_belong_together_are_refused_at_start() {
    let env = Env::new();
    let pki = Pki::new();
    let (cert, _, _) = pki.leaf();
    let (_, other_key, _) = pki.leaf();
    let cert_file = env.file("tls.crt", cert.as_bytes());
    let key_file = env.file("tls.key", other_key.as_bytes());
    let junk = env.file("junk.pem", b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ5dGVz\n-----END PRIVATE KEY-----\n");
    let key_path = env.key("root.key");
    for (cert, key, expected) in [
        (&cert_file, &key_file, "is not the key of --tls-cert"),
        (&cert_file, &junk, "--tls-key"),
        (&key_file, &key_file, "--tls-cert"),
        (&cert_file, &"/no/such.key".to_owned(), "--tls-key"),
    ] {
        let (code, _, err) = env.run(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--key-file",
            &key_path,
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expected), "no `{expected}` in {err}");
        assert!(!err.contains("c2VjcmV0"), "the key's bytes were printed: {err}");
    }
    let (code, _, err) = env.run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", &cert_file]);
    assert_eq!(code, 2, "--tls-cert alone: {err}");
}
