//! A token file and the files crumb keeps beside it.
//!
//! The token file itself is replaced without ever being left half-written: write beside,
//! fsync, rename, fsync the directory. A crash leaves the old token or the new one, never
//! neither. Beside it, all mode 0600 and never opened through a symbolic link:
//! `FILE.lock` (one request or spend on the file at a time), `FILE.pending` (the request in
//! flight, so the next run can recover its successor: [`pending`]) and `FILE.keys` (the
//! idempotency keys the file already paid for: [`journal`]).

pub mod journal;
pub mod pending;

use super::exit::{bad_input, unavailable};
use anyhow::{Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

fn temp_beside(path: &Path, tag: &str) -> Result<PathBuf> {
    crumb::private_file::temp_beside(path, tag).context("the token file has no name")
}

/// `FILE` + `suffix`, in the token file's directory.
pub fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Checks, before a spend commits, that the token file can be replaced: a file can be
/// created beside it (the rename's source) and the file itself is not a directory. A spend
/// must not commit when its successor has nowhere to go.
pub fn check_replaceable(path: &Path) -> Result<()> {
    let probe = temp_beside(path, "probe")?;
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
        if super::output::stdout_is_protocols() {
            // The MCP wallet: the pending record stays, and the same call again recovers it.
            return Err(e.context("the spend is committed but its successor could not be saved; call again with the same request id to recover it"));
        }
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

/// Writes `contents` and a line break to `path` only if no file is there (written beside,
/// fsynced, then linked into place, which fails rather than replace): `false` when `path`
/// exists.
pub fn write_new(path: &Path, contents: &str) -> Result<bool> {
    crumb::private_file::create_new(path, format!("{contents}\n").as_bytes())
        .map_err(|e| unavailable(format!("cannot write {}: {e}", path.display())))
}

/// Replaces `path` by `contents` and a line break: written beside, fsynced, renamed over it,
/// the directory fsynced. A crash leaves the old file or the new one, never neither.
pub fn replace_atomically(path: &Path, contents: &str) -> Result<()> {
    crumb::private_file::replace(path, format!("{contents}\n").as_bytes())
        .map_err(|e| unavailable(format!("cannot replace {}: {e}", path.display())))
}

/// Opens a file beside the token file without following a symbolic link in its last
/// component (someone who planted `FILE.lock -> ~/.bashrc` gets a refusal, not a new file
/// there); a file created is mode 0600.
pub fn open_private(path: &Path, create: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    if create {
        options.write(true).create(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    #[cfg(not(unix))]
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::other("it is a symbolic link"));
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("it is not a regular file"));
    }
    Ok(file)
}

/// Says why a file beside the token file cannot be opened; a symbolic link is named as such.
pub fn open_failure(path: &Path, e: &std::io::Error) -> String {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::ELOOP) {
        return format!("{} is a symbolic link: crumb does not follow it (remove it)", path.display());
    }
    format!("cannot open {}: {}", path.display(), crumb::error::io_reason(e))
}

/// Reads a small file beside the token file (at most `max` bytes), never through a link;
/// `None` when there is none.
pub fn read_private(path: &Path, max: u64) -> Result<Option<String>> {
    let file = match open_private(path, false) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unavailable(open_failure(path, &e))),
    };
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| unavailable(format!("cannot read {}: {}", path.display(), crumb::error::io_reason(&e))))?;
    if text.len() as u64 > max {
        return Err(unavailable(format!("{} is larger than {max} bytes: not crumb's; remove it", path.display())));
    }
    Ok(Some(text))
}

/// Locks `FILE.lock` beside the token file until the returned file is dropped (the token
/// file itself is replaced by rename, so a lock on it would not outlive the first successor).
/// Parallel runs on one file take turns instead of racing each other's token.
pub fn lock(token_file: &Path) -> Result<std::fs::File> {
    let path = beside(token_file, ".lock");
    let file = open_private(&path, true).map_err(|e| unavailable(open_failure(&path, &e)))?;
    // A lock file an older crumb created 0644 is narrowed; it holds nothing, but it is ours.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata().is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
    }
    file.lock().map_err(|e| unavailable(format!("cannot lock {}: {}", path.display(), crumb::error::io_reason(&e))))?;
    remove_leftovers(token_file);
    Ok(file)
}

/// Removes what a run killed mid-write left beside the token file: `FILE….crumb-PID.tmp`
/// files (one may hold a successor token) whose process is gone. Called under the lock, so no
/// live run of ours is writing them; a live process's files are left alone.
fn remove_leftovers(token_file: &Path) {
    let Some(name) = token_file.file_name().and_then(|n| n.to_str()) else { return };
    let dir = token_file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(other) = file_name.to_str() else { continue };
        let Some(rest) = other.strip_prefix(name) else { continue };
        // `.crumb-PID.tag`, possibly after another suffix (`.pending`, `.keys`).
        let Some((_, tail)) = rest.rsplit_once(".crumb-") else { continue };
        let Some((pid, tag)) = tail.split_once('.') else { continue };
        let pid = pid.split_once('-').map_or(pid, |(pid, _)| pid);
        let dead =
            pid.parse::<u32>().is_ok_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists());
        if dead && matches!(tag, "tmp" | "probe") && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Reads the token file and checks that it holds a token, before anything is sent anywhere:
/// a file that is not a token (a key file, a link to one) is refused, and its bytes are
/// never echoed. Returns the token's text, trimmed.
pub fn read_token(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| {
        bad_input(format!("cannot read the token file {}: {}", path.display(), crumb::error::io_reason(&e)))
    })?;
    read_token_from(path, file)
}

/// [`read_token`] from a file already opened (`path` names it in errors).
pub fn read_token_from(path: &Path, file: std::fs::File) -> Result<String> {
    use crumb::error::DecodeError;
    use crumb::token::wire::MAX_TOKEN_TEXT;
    let refuse = |why: &str| bad_input(format!("{} is not a token file: {why}; nothing was sent", path.display()));
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_TEXT as u64 + 1).read_to_end(&mut bytes).map_err(|e| {
        bad_input(format!("cannot read the token file {}: {}", path.display(), crumb::error::io_reason(&e)))
    })?;
    if bytes.len() > MAX_TOKEN_TEXT {
        return Err(refuse("it is larger than a token can be"));
    }
    let text = String::from_utf8(bytes).map_err(|_| refuse("it does not hold a macaroon (is it a key file?)"))?;
    // One token, whatever the line breaks: a token wrapped over lines (base64 at 76
    // columns) is the same token, and a line break must never reach a header.
    let text: String = text.split_ascii_whitespace().collect();
    match crumb::token::wire::decode(&text) {
        Ok(_) => Ok(text),
        Err(e) => Err(refuse(match e {
            DecodeError::Empty => "it is empty",
            DecodeError::TooLarge { .. } => "it is larger than a token can be",
            DecodeError::Truncated(_) => "the token in it is cut short",
            _ => "it does not hold a macaroon (is it a key file?)",
        })),
    }
}

/// A token's fingerprint (SHA-256 of its text, hex): lets the files beside the token file
/// say which token they are about without holding it.
pub fn fingerprint(token: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(token.trim().as_bytes())[..16])
}

/// Removes a file beside the token file (a link is removed, never followed).
pub fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(unavailable(format!("cannot remove {}: {}", path.display(), crumb::error::io_reason(&e)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_beside_are_never_opened_through_a_link_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        let link = dir.path().join("t.lock");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_private(&link, true).unwrap_err();
        assert!(open_failure(&link, &e).contains("symbolic link"), "{e}");
        assert!(!target.exists(), "the link was followed");
        let token = dir.path().join("t");
        std::fs::write(&token, "x").unwrap();
        std::fs::remove_file(&link).unwrap();
        let _held = lock(&token).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&link).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_file_that_is_not_a_token_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "a3f1".repeat(16);
        for content in [secret.as_str(), "", "not a token at all", "{\"json\": true}"] {
            let path = dir.path().join("f");
            std::fs::write(&path, content).unwrap();
            let message = super::super::exit::message(&read_token(&path).unwrap_err());
            assert!(message.contains("is not a token file") && message.contains("nothing was sent"), "{message}");
            assert!(content.is_empty() || !message.contains(content), "{message}");
        }
        let missing = read_token(&dir.path().join("none")).unwrap_err();
        assert!(super::super::exit::message(&missing).contains("no such file"));
    }
}
