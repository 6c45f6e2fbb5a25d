//! The one way crumb writes a private file (a key, a keyring, a token file): mode 0600, the
//! contents written to a new file beside it and fsynced, then put in place by a rename (to
//! replace) or a hard link (to create, never replacing), and the directory fsynced. A crash
//! leaves the old file or the new one, never neither and never a half-written one.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A temporary name beside `path`: `NAME.crumb-PID-N.tag`. The process id says whose file it
/// is (a later run under the file's lock removes a dead process's leftovers); the counter
/// keeps two writes of one process apart.
pub fn temp_beside(path: &Path, tag: &str) -> std::io::Result<PathBuf> {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the file has no name"))?
        .to_os_string();
    name.push(format!(".crumb-{}-{n}.{tag}", std::process::id()));
    Ok(directory_of(path).join(name))
}

/// The directory `path` is in (`.` for a bare name).
pub fn directory_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Creates `path` (which must not exist) 0600 and writes `contents` to it, fsynced.
fn write_fresh(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Writes `contents` to a new private file beside `path` (0600, fsynced); returns its name.
fn write_beside(path: &Path, contents: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = temp_beside(path, "tmp")?;
    write_fresh(&tmp, contents).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    Ok(tmp)
}

fn sync_directory(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `path` holding `contents` only if no file is there: `Ok(false)` when one is (it is
/// left as it was). Nobody ever sees the file half-written, except on a file system without
/// hard links, where the file is created in place (exclusively) instead.
pub fn create_new(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    let tmp = write_beside(path, contents)?;
    let place = || -> std::io::Result<bool> {
        let linked = match std::fs::hard_link(&tmp, path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
            // No hard links here (some network and FUSE file systems): create it in place.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::Unsupported | std::io::ErrorKind::PermissionDenied) => {
                match write_fresh(path, contents) {
                    Ok(()) => true,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => false,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        std::fs::remove_file(&tmp)?;
        sync_directory(directory_of(path))?;
        Ok(linked)
    };
    place().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Replaces `path` (or creates it) by `contents`, atomically.
pub fn replace(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = write_beside(path, contents)?;
    let place = || -> std::io::Result<()> {
        std::fs::rename(&tmp, path)?;
        sync_directory(directory_of(path))
    };
    place().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_private_created_once_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        assert!(create_new(&path, b"one").unwrap());
        assert!(!create_new(&path, b"two").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        replace(&path, b"three").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        // Nothing is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
