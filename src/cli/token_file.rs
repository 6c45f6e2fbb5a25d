//! Replacing a token file without ever leaving it half-written: write beside, fsync, rename,
//! fsync the directory. A crash leaves the old token or the new one, never neither.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

fn temp_beside<'p>(path: &'p Path, tag: &str) -> Result<(std::path::PathBuf, &'p Path)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut name = path.file_name().context("the token file has no name")?.to_os_string();
    name.push(format!(".crumb-{}.{tag}", std::process::id()));
    Ok((dir.join(name), dir))
}

/// Checks, before a spend commits, that the token file can be replaced: a file can be
/// created beside it (the rename's source) and the file itself is not a directory. A spend
/// must not commit when its successor has nowhere to go.
pub fn check_replaceable(path: &Path) -> Result<()> {
    let (probe, _) = temp_beside(path, "probe")?;
    let cannot =
        |why: String| super::exit::unavailable(format!("cannot replace {}: {why}; nothing was spent", path.display()));
    if path.is_dir() {
        return Err(cannot("it is a directory".into()));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| cannot(crumb::error::io_reason(&e)))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Saves a successor the ledger already committed. If that fails, the successor must not be
/// lost: it goes to stdout, and stderr says how to recover.
pub fn save_successor(path: &Path, token: &str) -> Result<()> {
    if let Err(e) = replace_atomically(path, token) {
        let _ = outln!("{token}");
        eprintln!(
            "crumb: the spend is committed, but {} could not be replaced ({}).\n\
             crumb: the successor is printed above: save it now (or re-run the same command: it returns the same successor).",
            path.display(),
            super::exit::message(&e)
        );
        return Err(e);
    }
    Ok(())
}

pub fn replace_atomically(path: &Path, contents: &str) -> Result<()> {
    let (tmp, dir) = temp_beside(path, "tmp")?;
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
