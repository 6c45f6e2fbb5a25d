//! The wallet: the tokens `crumb mcp` holds for an agent, one token file per entry in
//! `$CRUMB_DATA_DIR/wallet/`, each with the lock, pending record and journal every token file
//! has (`cli::token_file`).
//!
//! An entry is named by a handle the model may use (`[a-z0-9_-]`, at most 64 bytes); the
//! model never sees a path or a token. Tokens enter only from what the host configured
//! (`--token NAME=FILE` at start, files in `--import-dir` by `token_receive`) and leave only
//! to a configured recipient directory (`token_handoff`).

use crate::cli::exit::{bad_input, refused, unavailable, BAD_INPUT, DENIED};
use crate::cli::token_file::{self, read_token, replace_atomically};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The longest entry name.
pub const MAX_NAME: usize = 64;

/// How many entries a wallet lists (and holds) at most.
pub const MAX_ENTRIES: usize = 1024;

pub struct Wallet {
    dir: PathBuf,
}

/// Checks a name the model gave (an entry, a file in the import directory, a recipient
/// alias): `[a-z0-9_-]{1,64}`, so it can never be a path, `..`, or a sidecar file.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return Err(bad_input(format!(
            "{what} `{}` is not a name: use 1 to {MAX_NAME} of a-z, 0-9, `_` and `-`",
            crumb::inspect::terminal_safe(&name.chars().take(80).collect::<String>())
        )));
    }
    Ok(())
}

impl Wallet {
    /// Opens (creating, 0700) the wallet directory `dir`; it must be the user's own and
    /// writable by nobody else.
    pub fn open(dir: PathBuf) -> Result<Self> {
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(|e| {
                unavailable(format!("cannot create {}: {}", dir.display(), crumb::error::io_reason(&e)))
            })?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| {
                    unavailable(format!("cannot make {} private: {}", dir.display(), crumb::error::io_reason(&e)))
                })?;
            }
        }
        crate::cli::paths::check_data_dir(&dir)?;
        Ok(Wallet { dir })
    }

    /// The token file of entry `name` (checked).
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        check_name("entry", name)?;
        Ok(self.dir.join(name))
    }

    /// The token file of an entry that exists (a regular file: a link planted in the wallet
    /// is no entry).
    pub fn existing(&self, name: &str) -> Result<PathBuf> {
        let path = self.path(name)?;
        if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file()) {
            return Err(refused("no-such-entry", BAD_INPUT, format!("the wallet has no entry `{name}`")));
        }
        Ok(path)
    }

    /// The token file of an entry about to be made; refused if the name is taken.
    pub fn fresh(&self, name: &str) -> Result<PathBuf> {
        let path = self.path(name)?;
        if path.exists() {
            return Err(refused("entry-exists", BAD_INPUT, format!("the wallet already has an entry `{name}`")));
        }
        if self.names()?.len() >= MAX_ENTRIES {
            return Err(refused("wallet-full", DENIED, format!("the wallet holds {MAX_ENTRIES} entries already")));
        }
        Ok(path)
    }

    /// The entries' names, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let read = std::fs::read_dir(&self.dir)
            .map_err(|e| unavailable(format!("cannot read {}: {}", self.dir.display(), crumb::error::io_reason(&e))))?;
        let mut names: Vec<String> = read
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| check_name("entry", n).is_ok())
            .collect();
        names.sort();
        names.truncate(MAX_ENTRIES);
        Ok(names)
    }

    /// The token of an entry (its text; never to be shown).
    pub fn token(&self, name: &str) -> Result<String> {
        read_token(&self.existing(name)?)
    }

    /// Stores `token` as a new entry; refused if the name is taken, even by a call running
    /// at the same moment.
    pub fn store_new(&self, name: &str, token: &str) -> Result<PathBuf> {
        let path = self.fresh(name)?;
        if !token_file::write_new(&path, token)? {
            return Err(refused("entry-exists", BAD_INPUT, format!("the wallet already has an entry `{name}`")));
        }
        Ok(path)
    }

    /// Stores a token the issuer already committed as entry `name`, never losing it: the same
    /// token there already is kept (a retry); another token there keeps its name, and this
    /// one gets `NAME-XXXX`. Returns the name it was stored under.
    pub fn keep_committed(&self, name: &str, token: &str) -> Result<String> {
        let path = self.path(name)?;
        if token_file::write_new(&path, token)? {
            return Ok(name.to_owned());
        }
        if read_token(&path).is_ok_and(|there| there == token.trim()) {
            return Ok(name.to_owned());
        }
        loop {
            let mut suffix = [0u8; 2];
            getrandom::getrandom(&mut suffix).map_err(|e| unavailable(format!("the random source failed: {e}")))?;
            let stem: String = name.chars().take(MAX_NAME - 5).collect();
            let other = format!("{stem}-{}", hex::encode(suffix));
            if token_file::write_new(&self.path(&other)?, token)? {
                return Ok(other);
            }
        }
    }

    /// Stores `token` as entry `name` unless it exists (a host's `--token NAME=FILE`, given
    /// again at every start: the entry has long moved on from the file's token).
    pub fn import(&self, name: &str, file: &Path) -> Result<bool> {
        let path = self.path(name)?;
        if path.exists() {
            return Ok(false);
        }
        let token = read_token(file)?;
        replace_atomically(&path, &token)?;
        Ok(true)
    }

    /// Removes an entry and the files beside it (after a handoff: the token is no longer
    /// this wallet's). The entry's lock is held by the caller.
    pub fn remove(&self, name: &str) -> Result<()> {
        let path = self.existing(name)?;
        for suffix in [".pending", ".keys"] {
            token_file::remove(&token_file::beside(&path, suffix))?;
        }
        token_file::remove(&path)
    }
}

/// A file handed in through the import directory, read: its token, and which file it was.
pub struct HandedIn {
    path: PathBuf,
    identity: (u64, u64),
    pub token: String,
}

impl HandedIn {
    /// Removes the file that was read (once its token is safe in the wallet), never one
    /// swapped in meanwhile.
    pub fn remove(self) -> Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let now = std::fs::symlink_metadata(&self.path).ok().map(|m| (m.dev(), m.ino()));
            if now != Some(self.identity) {
                return Ok(());
            }
        }
        token_file::remove(&self.path)
    }
}

/// Reads a file handed in through the import directory: by name only (no path), opened
/// without following a link, a regular file with no other name (a hard link to a file
/// elsewhere is refused), at most one token's size, and it must hold a token.
pub fn read_handed_in(dir: &Path, name: &str) -> Result<HandedIn> {
    let (path, token, identity) = read_file(dir, name)?;
    Ok(HandedIn { path, identity, token })
}

fn read_file(dir: &Path, name: &str) -> Result<(PathBuf, String, (u64, u64))> {
    check_name("file", name).or_else(|_| {
        // Handed-in files are named by crumb's handoff (`NAME-HEX.token`): allow that form.
        let stem = name.strip_suffix(".token").unwrap_or(name);
        check_name("file", stem)
    })?;
    let path = dir.join(name);
    let not_one = || refused("no-such-file", BAD_INPUT, format!("the import directory has no regular file `{name}`"));
    let file = token_file::open_private(&path, false).map_err(|_| not_one())?;
    let meta = file.metadata().map_err(|_| not_one())?;
    #[cfg(unix)]
    let identity = {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() != 1 {
            return Err(refused("no-such-file", BAD_INPUT, format!("`{name}` has other names (a hard link): refused")));
        }
        (meta.dev(), meta.ino())
    };
    #[cfg(not(unix))]
    let identity = (0, meta.len());
    let token = token_file::read_token_from(&path, file)?;
    Ok((path, token, identity))
}

/// Writes `token` into a recipient directory as a new 0600 file named after the entry and
/// a random suffix; returns its path.
pub fn hand_to(dir: &Path, entry: &str, token: &str) -> Result<PathBuf> {
    let mut suffix = [0u8; 4];
    getrandom::getrandom(&mut suffix).map_err(|e| unavailable(format!("the random source failed: {e}")))?;
    let path = dir.join(format!("{entry}-{}.token", hex::encode(suffix)));
    replace_atomically(&path, token)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_never_paths() {
        for bad in ["", "..", "../x", "a/b", "A", "x.token.keys", "a b", "é", &"a".repeat(65), "/etc/passwd", "x\n"] {
            assert!(check_name("entry", bad).is_err(), "{bad:?}");
        }
        for good in ["a", "agent-b_2", &"a".repeat(64)] {
            check_name("entry", good).unwrap();
        }
    }
}
