//! `crumb keygen`: make a root key (a file of 32 random bytes in hex, mode 0600, created new),
//! or add to and retire from a keyring.

use super::exit::{bad_input, OK};
use super::paths;
use anyhow::Result;
use clap::Args;
use crumb::{Keyring, RootKey};
use std::path::PathBuf;

/// Generate a root key and print its key id.
///
/// Without --out the key goes to the default key file, which every command uses when no key is
/// given. With --keyring a key is added to a keyring and made current (rotation).
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
    /// With --keyring: retire key KID instead of adding one; its tokens stop verifying.
    #[arg(long, value_name = "KID", requires = "keyring", conflicts_with = "list")]
    retire: Option<String>,
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
        (Some(ring_path), Some(kid)) => {
            let mut ring = Keyring::load(ring_path)?;
            ring.retire(kid)?;
            ring.save(ring_path)?;
            (kid.clone(), ring_path.clone(), "retired")
        }
        (Some(ring_path), None) => {
            let mut ring = Keyring::load_or_empty(ring_path)?;
            let id = ring.add_current(RootKey::generate()?);
            ring.save(ring_path)?;
            (id, ring_path.clone(), "added to the keyring as current")
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
                     To rotate without that, keep both keys in a keyring: `crumb keygen --keyring FILE`.",
                    path.display(),
                    old.map(|id| format!(" ({id})")).unwrap_or_default()
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
        outln!("{}", serde_json::json!({ "key_id": key_id, "path": path, "action": note }))?;
    } else {
        outln!("{key_id}")?;
        eprintln!("crumb: key {key_id} {note}: {}", path.display());
    }
    Ok(OK)
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
            .map(|k| serde_json::json!({ "key_id": k.id, "created": k.created, "retired": k.retired, "current": ring.current.as_deref() == Some(k.id.as_str()) }))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&serde_json::json!({ "keys": keys }))?)?;
    } else {
        let mut table = super::output::table();
        table.set_header(vec!["key id", "created", "state"]);
        for k in &ring.keys {
            table.add_row(vec![k.id.clone(), k.created.clone(), state(k)]);
        }
        outln!("{table}")?;
    }
    Ok(OK)
}
