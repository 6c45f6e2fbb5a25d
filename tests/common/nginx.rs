//! A real nginx (Debian's nginx-light) running the README's forward-auth recipe.
//! Skipped (and said so) where nginx is not installed; CI requires it (`CRUMB_REQUIRE_NGINX=1`).

use super::front::{self, Front};
use std::process::{Command, Stdio};

fn binary() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// nginx serving the README's `server { … }` block, in front of `crumb` and `upstream`
/// (host:port each); `None` (skipped) without nginx.
pub fn start(crumb: &str, upstream: &str) -> Option<Front> {
    let Some(bin) = binary() else {
        super::skip_required("CRUMB_REQUIRE_NGINX", "nginx is not installed (apt-get install nginx-light)");
        return None;
    };
    let recipe = front::readme_recipe("nginx", crumb, upstream);
    Some(front::launch("nginx", |port, dir| {
        let block = recipe.replace("listen 8080;", &format!("listen 127.0.0.1:{port};"));
        let d = dir.display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\nerror_log {d}/front.log warn;\npid {d}/front.pid;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n{block}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).unwrap();
        let mut command = Command::new(bin);
        command
            .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf"), "-e", &format!("{d}/front.log")])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }))
}
