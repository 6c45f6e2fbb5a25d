//! A real Caddy (Debian's caddy) running the README's forward-auth recipe.
//! Skipped (and said so) where Caddy is not installed; CI requires it (`CRUMB_REQUIRE_CADDY=1`).

use super::front::{self, Front};
use std::process::{Command, Stdio};

fn binary() -> Option<&'static str> {
    ["/usr/bin/caddy", "/usr/local/bin/caddy"].into_iter().find(|p| std::path::Path::new(p).exists())
}

/// Caddy serving the README's site block, in front of `crumb` and `upstream` (host:port
/// each); `None` (skipped) without Caddy.
pub fn start(crumb: &str, upstream: &str) -> Option<Front> {
    let Some(bin) = binary() else {
        super::skip_required("CRUMB_REQUIRE_CADDY", "Caddy is not installed (apt-get install caddy)");
        return None;
    };
    let recipe = front::readme_recipe("caddy", crumb, upstream);
    Some(front::launch("caddy", |port, dir| {
        // No admin endpoint and no certificates: a plain HTTP site on a loopback port.
        let site = recipe.replacen(":8080 {", &format!("http://127.0.0.1:{port} {{"), 1);
        std::fs::write(dir.join("Caddyfile"), format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}")).unwrap();
        let log = std::fs::File::create(dir.join("front.log")).unwrap();
        let mut command = Command::new(bin);
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(dir.join("Caddyfile"))
            .arg("--pidfile")
            .arg(dir.join("front.pid"))
            // Caddy keeps its state under $HOME / XDG dirs: keep it in the test's directory.
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .stdout(Stdio::null())
            .stderr(log);
        command
    }))
}
