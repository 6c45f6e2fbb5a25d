//! A real nginx (Debian's nginx-light) for the forward-auth tests, started with a prefix and
//! configuration of its own on a loopback port, in front of a crumb and an upstream.
//! Skipped (and said so) where nginx is not installed; CI requires it (`CRUMB_REQUIRE_NGINX=1`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<String> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_owned)
}

/// The README's nginx recipe, with `CRUMB` and `UPSTREAM` (host:port) filled in.
pub fn recipe(crumb: &str, upstream: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```nginx\n").expect("README has an nginx recipe") + "```nginx\n".len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].replace("127.0.0.1:7878", crumb).replace("127.0.0.1:9000", upstream)
}

/// Starts nginx serving `server_block` (the README recipe's `server { … }`) on a free port.
pub fn start(server_block: &str) -> Option<Nginx> {
    let Some(bin) = binary() else {
        super::skip_required("CRUMB_REQUIRE_NGINX", "nginx is not installed (apt-get install nginx-light)");
        return None;
    };
    // The port is picked by binding and releasing it, so another test's server may take it
    // before nginx binds it: then nginx exits, and we try again on another port.
    for _ in 0..5 {
        if let Some(nginx) = try_start(&bin, server_block) {
            return Some(nginx);
        }
    }
    panic!("nginx found no free port in 5 tries");
}

/// One attempt; `None` when the port was taken meanwhile.
fn try_start(bin: &str, server_block: &str) -> Option<Nginx> {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let block = server_block.replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\nerror_log {d}/error.log warn;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 512; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{block}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let mut child = Command::new(bin)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf"), "-e", &format!("{d}/error.log")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // nginx writes its pid file only after it has bound its listening socket; a connect alone
    // could reach whoever else holds the port.
    let started = Instant::now();
    while !dir.path().join("nginx.pid").exists() {
        if child.try_wait().unwrap().is_some() {
            let log = error_log(dir.path());
            assert!(log.contains("Address already in use"), "nginx did not start: {log}");
            return None;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "nginx did not start: {}", error_log(dir.path()));
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Nginx { url: format!("http://127.0.0.1:{port}"), child, _dir: dir })
}

fn error_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
}
