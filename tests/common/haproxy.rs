//! A real HAProxy (Debian's haproxy) with `option forwardfor` in front of crumb: it adds an
//! `X-Forwarded-For` line of its own for each request (the layout crumb must read whole) and
//! connects to crumb from 127.0.0.2, so that address alone is the trusted proxy while clients
//! come from 127.0.0.1. Skipped (and said so) where HAProxy is not installed; CI requires it
//! (`CRUMB_REQUIRE_HAPROXY=1`).

use super::front::{self, Front};
use std::process::{Command, Stdio};

fn binary() -> Option<&'static str> {
    ["/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// The address HAProxy connects to crumb from.
pub const SOURCE: &str = "127.0.0.2";

/// HAProxy in front of `crumb` (host:port); `None` (skipped) without HAProxy.
pub fn start(crumb: &str) -> Option<Front> {
    let Some(bin) = binary() else {
        super::skip_required("CRUMB_REQUIRE_HAPROXY", "HAProxy is not installed (apt-get install haproxy)");
        return None;
    };
    Some(front::launch("haproxy", |port, dir| {
        let d = dir.display();
        let conf = format!(
            "global\n  pidfile {d}/front.pid\n\
             defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend clients\n  bind 127.0.0.1:{port}\n  option forwardfor\n  default_backend crumb\n\
             backend crumb\n  server crumb {crumb} source {SOURCE}\n"
        );
        std::fs::write(dir.join("haproxy.cfg"), conf).unwrap();
        let log = std::fs::File::create(dir.join("front.log")).unwrap();
        let mut command = Command::new(bin);
        command.args(["-W", "-db", "-f", &format!("{d}/haproxy.cfg")]).stdout(Stdio::null()).stderr(log);
        command
    }))
}
