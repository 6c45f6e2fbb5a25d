//! Replacing a token file without ever leaving it half-written: write beside, fsync, rename,
//! fsync the directory. A crash leaves the old token or the new one, never neither.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

pub fn replace_atomically(path: &Path, contents: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut name = path.file_name().context("the token file has no name")?.to_os_string();
    name.push(format!(".crumb-{}.tmp", std::process::id()));
    let tmp = dir.join(name);
    let write = || -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        super::exit::unavailable(format!("cannot replace {}: {e}", path.display()))
    })
}
