//! A real reverse proxy (nginx, Caddy) in front of crumb for the forward-auth tests: started
//! on a free loopback port with a directory of its own, stopped when dropped.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Front {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Front {
    /// Asks the proxy to stop (SIGTERM: nginx's master then stops its workers, which a SIGKILL
    /// would leave running, holding their ports), and kills it if it has not within 2 s.
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let asked = Instant::now();
        while asked.elapsed() < Duration::from_secs(2) {
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a proxy: `command(port, dir)` writes its configuration into `dir` and returns the
/// command that runs it, which must write `dir/front.pid` once it listens and log to
/// `dir/front.log`.
///
/// The port is picked by binding and releasing it, so another test's server may take it
/// before the proxy binds it: then the proxy exits, and we try again on another port. The pid
/// file, not a connect, says it is up: a connect could reach whoever else holds the port.
pub fn launch(name: &str, command: impl Fn(u16, &Path) -> Command) -> Front {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = command(port, dir.path()).spawn().unwrap_or_else(|e| panic!("{name}: {e}"));
        let started = Instant::now();
        let up = loop {
            if dir.path().join("front.pid").exists() {
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                let log = log(dir.path());
                assert!(log.to_lowercase().contains("address already in use"), "{name} did not start: {log}");
                break false;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{name} did not start: {}", log(dir.path()));
            std::thread::sleep(Duration::from_millis(20));
        };
        if up {
            return Front { url: format!("http://127.0.0.1:{port}"), child, _dir: dir };
        }
    }
    panic!("{name} found no free port in 5 tries");
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("front.log")).unwrap_or_default()
}

/// The first README block fenced as `lang`, with crumb's and the API's example addresses
/// (127.0.0.1:7878, 127.0.0.1:9000) replaced.
pub fn readme_recipe(lang: &str, crumb: &str, upstream: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let fence = format!("```{lang}\n");
    let start = readme.find(&fence).unwrap_or_else(|| panic!("README has no {lang} recipe")) + fence.len();
    let end = start + readme[start..].find("```").unwrap();
    readme[start..end].replace("127.0.0.1:7878", crumb).replace("127.0.0.1:9000", upstream)
}
