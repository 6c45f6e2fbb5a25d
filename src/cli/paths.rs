//! Where crumb keeps its defaults: `$CRUMB_DATA_DIR`, else the user's data directory
//! (`$XDG_DATA_HOME/crumb`, normally `~/.local/share/crumb`).

use std::path::{Path, PathBuf};

pub fn data_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CRUMB_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::data_dir()
        .map(|d| d.join("crumb"))
        .ok_or_else(|| super::exit::bad_input("no data directory: set CRUMB_DATA_DIR or HOME"))
}

/// The key file used when no key is named.
pub fn default_key_file() -> anyhow::Result<PathBuf> {
    Ok(data_dir()?.join("root.key"))
}

/// This machine's client secret (`DATA_DIR/client.key`, 32 random bytes, created 0600 on first
/// use): what makes the request ids crumb derives for its spends and splits this client's own
/// ([`crumb::spend::client_request_id`]). `None` when the data directory cannot hold it (then
/// each run's request id is fresh, and only a token file's pending record can retry it).
pub fn client_secret() -> Option<zeroize::Zeroizing<Vec<u8>>> {
    let path = data_dir().ok()?.join("client.key");
    if !path.exists() {
        let mut secret = [0u8; 32];
        getrandom::getrandom(&mut secret).ok()?;
        // Another run may have made it meanwhile: then read that one.
        let _ = crumb::key::write_secret_file(&path, hex::encode(secret).as_bytes(), false);
    }
    // Only a file of one's own that no one else can read: a planted or shared secret would let
    // others derive this client's request ids.
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(&path).ok()?;
        if !meta.file_type().is_file() || meta.uid() != effective_uid() || meta.mode() & 0o077 != 0 {
            eprintln!(
                "crumb: warning: ignoring {} (not a private file of yours: remove it, and crumb makes a new one); \
                 this run's request id is fresh",
                path.display()
            );
            return None;
        }
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(&path).ok()?);
    hex::decode(text.trim()).ok().filter(|s| s.len() == 32).map(zeroize::Zeroizing::new)
}

/// The ledger used when no ledger is named.
pub fn default_ledger() -> anyhow::Result<PathBuf> {
    Ok(data_dir()?.join("ledger.sqlite3"))
}

/// Refuses a data directory someone else could have put a key in (or swapped one out of):
/// it must belong to the user running crumb and be writable by nobody else. Checked before
/// the default key is read from it; fails closed, naming the fix.
pub fn check_data_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(dir).map_err(|e| {
            super::exit::bad_input(format!(
                "cannot read the data directory {}: {}",
                dir.display(),
                crumb::error::io_reason(&e)
            ))
        })?;
        let refuse = |why: String| {
            super::exit::bad_input(format!(
                "the data directory {} {why}, so the key in it may not be yours: refusing to use it; fix it with \
                 `chmod 700 {}`{} (or name a key with --key-file)",
                dir.display(),
                dir.display(),
                if why.contains("owned") { format!(" and `chown $USER {}`", dir.display()) } else { String::new() }
            ))
        };
        if meta.uid() != effective_uid() {
            return Err(refuse(format!("is owned by user id {}, not by you", meta.uid())));
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(refuse(format!("may be written by others (mode {mode:04o})")));
        }
        // Whoever may write a directory above it may swap the whole data directory, unless
        // that directory is sticky (like /tmp): then only its owner can rename it.
        let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        for above in absolute.ancestors().skip(1) {
            let Ok(meta) = std::fs::metadata(above) else { continue };
            let mode = meta.mode() & 0o7777;
            if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                return Err(super::exit::bad_input(format!(
                    "the data directory {} is inside {}, which anyone may write (mode {mode:04o}), so the key in it may \
                     not be yours: refusing to use it; move the data directory (CRUMB_DATA_DIR) or `chmod o-w {}`",
                    dir.display(),
                    above.display(),
                    above.display()
                )));
            }
        }
    }
    let _ = dir;
    Ok(())
}

/// Refuses a default key file that is not the user's own (another user's, or a link to one):
/// anyone else's file could have been put there.
pub fn check_owned(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.uid() != effective_uid() {
                return Err(super::exit::bad_input(format!(
                    "the key file {} is owned by user id {}, not by you: refusing to use it (make your own with `crumb keygen --force`, or name a key with --key-file)",
                    path.display(),
                    meta.uid()
                )));
            }
        }
    }
    let _ = path;
    Ok(())
}

#[cfg(unix)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions, touches no memory of ours and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_data_directory_others_can_write_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        check_data_dir(dir.path()).unwrap();
        for mode in [0o777, 0o775, 0o1777] {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let e = super::super::exit::message(&check_data_dir(dir.path()).unwrap_err());
            assert!(e.contains("chmod 700") && e.contains("written by others"), "{e}");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        check_data_dir(dir.path()).unwrap();
    }

    #[test]
    fn a_data_directory_inside_one_anyone_may_write_is_refused_unless_it_is_sticky() {
        let outer = tempfile::tempdir().unwrap();
        let data = outer.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = super::super::exit::message(&check_data_dir(&data).unwrap_err());
        assert!(e.contains("which anyone may write") && e.contains("0777"), "{e}");
        std::fs::set_permissions(outer.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        check_data_dir(&data).unwrap();
    }
}
