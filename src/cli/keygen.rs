//! `crumb keygen`: make a root key (a file of 32 random bytes in hex, mode 0600, created new),
//! or add to and retire from a keyring.

use super::exit::{bad_input, unavailable, OK};
use super::paths;
use anyhow::Result;
use clap::Args;
use crumb::error::io_reason;
use crumb::{Keyring, RootKey};
use std::path::PathBuf;

/// Generate a root key and print its key id.
///
/// Without --out the key goes to the default key file, which every command uses when no key is
/// given. With --keyring a key is added to a keyring and made current (rotation); to move from
/// the default key to a keyring without breaking the tokens it minted, first
/// `crumb keygen --keyring FILE --import` (the default key keeps its id), then
/// `crumb keygen --keyring FILE` (a new current key).
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Write the key to FILE (hex, mode 0600) instead of the default key file.
    #[arg(long, value_name = "FILE", conflicts_with = "keyring")]
    out: Option<PathBuf>,
    /// Replace an existing key file.
    #[arg(long)]
    force: bool,
    /// Add a new key to this keyring (created if missing) and make it current.
    #[arg(long, value_name = "FILE")]
    keyring: Option<PathBuf>,
    /// With --keyring: retire key KID instead of adding one; its tokens stop verifying. The
    /// current key is refused: add a new current key first.
    #[arg(long, value_name = "KID", requires = "keyring", conflicts_with_all = ["list", "import"])]
    retire: Option<String>,
    /// With --keyring: add an existing key file (default: the default key file) to the keyring
    /// instead of a new key, keeping its key id, so the tokens minted with it go on verifying.
    /// It becomes current only if the keyring has no current key.
    #[arg(long, value_name = "KEYFILE", requires = "keyring", conflicts_with = "list", num_args = 0..=1)]
    #[allow(clippy::option_option)]
    import: Option<Option<PathBuf>>,
    /// With --keyring: list its keys (ids, creation, current or retired; never the keys).
    #[arg(long, requires = "keyring")]
    list: bool,
    /// Print {"key_id", "path"} as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: KeygenArgs) -> Result<u8> {
    if let (true, Some(ring_path)) = (args.list, &args.keyring) {
        return list(&Keyring::load(ring_path)?, args.json);
    }
    let (key_id, path, note) = match (&args.keyring, &args.retire) {
        (Some(ring_path), retire) => {
            // One change at a time: two runs on one keyring must not lose each other's key.
            if let Some(dir) = ring_path.parent().filter(|d| !d.as_os_str().is_empty()) {
                crumb::key::create_private_dir(dir)
                    .map_err(|e| unavailable(format!("cannot create {}: {}", dir.display(), io_reason(&e))))?;
            }
            let _lock = super::token_file::lock(ring_path)?;
            let existed = ring_path.exists();
            let mut ring =
                if retire.is_some() { Keyring::load(ring_path)? } else { Keyring::load_or_empty(ring_path)? };
            let (id, note) = match (retire, &args.import) {
                (Some(kid), _) => {
                    ring.retire(kid)?;
                    (kid.clone(), "retired")
                }
                (None, Some(file)) => {
                    let file = match file {
                        Some(file) => file.clone(),
                        None => {
                            // The default key, under the rules it is always read by: a key
                            // someone else could have put there is not taken into a keyring.
                            let default = paths::default_key_file()?;
                            if let Some(dir) = default.parent() {
                                paths::check_data_dir(dir)?;
                            }
                            paths::check_owned(&default)?;
                            default
                        }
                    };
                    let key = crumb::key::read_key_file(&file, crumb::KeyFormat::Hex)?;
                    let id = key.key_id();
                    match ring.import(key) {
                        false => (id, "already in the keyring"),
                        true if ring.current.as_deref() == Some(id.as_str()) => {
                            (id, "imported into the keyring as current")
                        }
                        true => (id, "imported into the keyring (verifies; not current)"),
                    }
                }
                (None, None) => {
                    let id = ring.add_current(RootKey::generate()?);
                    if !existed {
                        suggest_import(ring_path);
                    }
                    (id, "added to the keyring as current")
                }
            };
            ring.save(ring_path)?;
            (id, ring_path.clone(), note)
        }
        (None, _) => {
            let path = match &args.out {
                Some(p) => p.clone(),
                None => paths::default_key_file()?,
            };
            if path.as_os_str().is_empty() {
                return Err(bad_input("--out needs a file name"));
            }
            let key = RootKey::generate()?;
            if args.force && path.exists() {
                let old = crumb::key::read_key_file(&path, crumb::KeyFormat::Hex).map(|k| k.key_id());
                eprintln!(
                    "crumb: warning: replacing {}: every token minted with the old key{} stops verifying. \
                     To rotate without that, move the key to a keyring and add a new one there: \
                     `crumb keygen --keyring FILE --import {}`, then `crumb keygen --keyring FILE`.",
                    path.display(),
                    old.map(|id| format!(" ({id})")).unwrap_or_default(),
                    path.display()
                );
            }
            crumb::key::write_key_file(&path, &key, args.force)?;
            // The default key makes this machine an issuer: its default ledger starts here too,
            // so `verify` (which refuses a missing ledger) works from the first token on.
            if args.out.is_none() {
                let ledger = paths::default_ledger()?;
                crumb::ledger::open(&ledger.display().to_string(), crumb::ledger::OpenOptions::READ_WRITE)?;
            }
            (key.key_id(), path, "written")
        }
    };
    if args.json {
        outln!("{}", serde_json::json!({ "key_id": key_id, "path": path, "done": note }))?;
    } else {
        outln!("{key_id}")?;
        eprintln!("crumb: key {key_id} {note}: {}", path.display());
    }
    Ok(OK)
}

/// A new keyring while the default key exists: the tokens minted with that key will not verify
/// with the keyring unless the key is in it. Says how to put it there.
fn suggest_import(ring_path: &std::path::Path) {
    let Ok(default) = paths::default_key_file() else { return };
    let Ok(key) = crumb::key::read_key_file(&default, crumb::KeyFormat::Hex) else { return };
    eprintln!(
        "crumb: note: {} is a new keyring without the default key {} ({}): tokens minted with that key do not \
         verify with it. To keep them verifying, import the key: `crumb keygen --keyring {} --import`",
        ring_path.display(),
        key.key_id(),
        default.display(),
        ring_path.display()
    );
}

fn list(ring: &Keyring, json: bool) -> Result<u8> {
    let state = |k: &crumb::keyring::KeyEntry| match (&k.retired, ring.current.as_deref() == Some(k.id.as_str())) {
        (Some(at), _) => format!("retired {at}"),
        (None, true) => "current".to_owned(),
        (None, false) => "verifies only".to_owned(),
    };
    if json {
        let keys: Vec<_> = ring
            .keys
            .iter()
            .map(|k| serde_json::json!({ "key_id": k.id, "created_at": k.created, "retired_at": k.retired, "current": ring.current.as_deref() == Some(k.id.as_str()) }))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&serde_json::json!({ "keys": keys }))?)?;
    } else {
        let mut table = super::output::table();
        table.set_header(vec!["key id", "created", "state"]);
        for k in &ring.keys {
            table.add_row(vec![k.id.clone(), k.created.clone(), state(k)]);
        }
        outln!("{}", super::output::table_text(&table))?;
    }
    Ok(OK)
}
