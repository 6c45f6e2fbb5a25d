//! Several root keys by key id, one of them current: how keys rotate without breaking the
//! tokens already out there. Mint signs with the current key; verification picks the key
//! named in the token's identifier; a retired key verifies nothing.
//!
//! File format (JSON, mode 0600):
//! `{"version":1,"current":"<kid>","keys":[{"id":"<kid>","key":"<hex>","created":"<rfc3339>","retired":null}]}`

use crate::error::KeyError;
use crate::key::{self, RootKey};
use crate::token::TokenId;
use serde::{Deserialize, Serialize};
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::{Zeroize, Zeroizing};

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    version: u32,
    current: Option<String>,
    keys: Vec<KeyEntryFile>,
}

#[derive(Serialize, Deserialize)]
struct KeyEntryFile {
    id: String,
    key: String,
    created: String,
    retired: Option<String>,
}

impl Drop for KeyEntryFile {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// One key of a keyring.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub id: String,
    pub key: RootKey,
    pub created: String,
    pub retired: Option<String>,
}

/// The keys a verifier or minter can use.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    pub current: Option<String>,
    pub keys: Vec<KeyEntry>,
    /// Made from one key file (not a keyring file): a token of another key id then names a
    /// wrong key, not a key missing from a ring.
    pub single: bool,
}

fn now_text() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

impl Keyring {
    /// A keyring of one key, current: how a single key file is used.
    pub fn single(key: RootKey) -> Self {
        let id = key.key_id();
        Keyring {
            current: Some(id.clone()),
            keys: vec![KeyEntry { id, key, created: String::new(), retired: None }],
            single: true,
        }
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        crate::key::check_secret_file(path)?;
        let bad = |reason: String| KeyError::Keyring { path: path.into(), reason };
        let bytes = crate::key::read_secret_file(path)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("not UTF-8 text".into()))?;
        let file: KeyringFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if file.version != 1 {
            return Err(bad(format!("unsupported keyring version {}", file.version)));
        }
        let mut keys = Vec::with_capacity(file.keys.len());
        for entry in &file.keys {
            let key = RootKey::parse(entry.key.as_bytes(), key::KeyFormat::Hex)?;
            if key.key_id() != entry.id {
                return Err(bad(format!("key {} does not match its id", entry.id)));
            }
            keys.push(KeyEntry {
                id: entry.id.clone(),
                key,
                created: entry.created.clone(),
                retired: entry.retired.clone(),
            });
        }
        Ok(Keyring { current: file.current.clone(), keys, single: false })
    }

    /// Loads the keyring at `path`, or an empty one when there is no file yet.
    pub fn load_or_empty(path: &Path) -> Result<Self, KeyError> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Keyring::default())
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let file = KeyringFile {
            version: 1,
            current: self.current.clone(),
            keys: self
                .keys
                .iter()
                .map(|k| KeyEntryFile {
                    id: k.id.clone(),
                    key: k.key.to_hex().to_string(),
                    created: k.created.clone(),
                    retired: k.retired.clone(),
                })
                .collect(),
        };
        let text = Zeroizing::new(serde_json::to_string_pretty(&file).expect("keyring serialises"));
        key::write_secret_file(path, text.as_bytes(), true)
    }

    /// Adds a key and makes it current; returns its id.
    pub fn add_current(&mut self, key: RootKey) -> String {
        let id = key.key_id();
        if !self.keys.iter().any(|k| k.id == id) {
            self.keys.push(KeyEntry { id: id.clone(), key, created: now_text(), retired: None });
        }
        self.current = Some(id.clone());
        id
    }

    /// Adds a key that already exists elsewhere (the default key file, moving to a keyring),
    /// keeping its id: tokens minted with it go on verifying. It becomes current only when
    /// the keyring has no current key. Returns whether it was added (not there before).
    pub fn import(&mut self, key: RootKey) -> bool {
        let id = key.key_id();
        if self.keys.iter().any(|k| k.id == id) {
            return false;
        }
        self.keys.push(KeyEntry { id: id.clone(), key, created: now_text(), retired: None });
        if self.current.is_none() {
            self.current = Some(id);
        }
        true
    }

    /// Retires a key: tokens signed with it stop verifying. The current key is refused: a
    /// keyring with no current key mints nothing, so a new current key comes first.
    pub fn retire(&mut self, id: &str) -> Result<(), KeyError> {
        if self.current.as_deref() == Some(id) {
            return Err(KeyError::RetireCurrent(id.into()));
        }
        let entry = self.keys.iter_mut().find(|k| k.id == id).ok_or_else(|| KeyError::UnknownKeyId(id.into()))?;
        entry.retired.get_or_insert_with(now_text);
        Ok(())
    }

    /// What is wrong with this keyring, if anything: no current key, a current key that is
    /// missing or retired, a key id twice.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.current.as_deref() {
            None => problems.push("it has no current key: nothing can be minted with it".to_owned()),
            Some(id) => match self.keys.iter().find(|k| k.id == id) {
                None => problems.push(format!("its current key {id} is not in it")),
                Some(k) if k.retired.is_some() => problems.push(format!("its current key {id} is retired")),
                Some(_) => {}
            },
        }
        let mut seen = std::collections::HashSet::new();
        for k in &self.keys {
            if !seen.insert(k.id.as_str()) {
                problems.push(format!("the key id {} is in it twice", k.id));
            }
        }
        problems
    }

    /// The key new tokens are minted with.
    pub fn current(&self) -> Result<&KeyEntry, KeyError> {
        let id = self.current.as_deref().ok_or_else(|| KeyError::UnknownKeyId("(no current key)".into()))?;
        self.usable(id)
    }

    fn usable(&self, id: &str) -> Result<&KeyEntry, KeyError> {
        let entry = self.keys.iter().find(|k| k.id == id).ok_or_else(|| KeyError::UnknownKeyId(id.into()))?;
        if entry.retired.is_some() {
            return Err(KeyError::Retired(id.into()));
        }
        Ok(entry)
    }

    /// The key that must have signed a token with this identifier: the named key for crumb
    /// identifiers, the current key (or the only key) for identifiers of other libraries.
    pub fn key_for(&self, identifier: &[u8]) -> Result<&KeyEntry, KeyError> {
        match TokenId::key_id_of(identifier) {
            Some(kid) if self.single && self.keys.len() == 1 && self.keys[0].id != kid => {
                Err(KeyError::WrongKey { token: kid.to_owned(), given: self.keys[0].id.clone() })
            }
            Some(kid) => self.usable(kid),
            None if self.keys.len() == 1 => self.usable(&self.keys[0].id),
            None => self.current(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_old_tokens_until_retired() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ring");
        let mut ring = Keyring::default();
        let old = ring.add_current(RootKey::generate().unwrap());
        let new = ring.add_current(RootKey::generate().unwrap());
        ring.save(&path).unwrap();
        let mut ring = Keyring::load(&path).unwrap();
        assert_eq!(ring.current().unwrap().id, new);
        let old_id = TokenId::new(&old, crate::token::identifier::Nonce([1; 16])).encode();
        assert!(ring.key_for(&old_id).is_ok());
        ring.retire(&old).unwrap();
        assert!(matches!(ring.key_for(&old_id), Err(KeyError::Retired(_))));
        assert!(matches!(ring.retire(&new), Err(KeyError::RetireCurrent(_))));
        assert!(ring.problems().is_empty(), "{:?}", ring.problems());
        // An imported key keeps its id, and is current only in a keyring without one.
        let outside = RootKey::generate().unwrap();
        assert!(ring.import(outside.clone()));
        assert!(!ring.import(outside.clone()));
        assert_eq!(ring.current.as_deref(), Some(new.as_str()));
        let mut fresh = Keyring::default();
        assert_eq!(fresh.problems().len(), 1);
        fresh.import(outside.clone());
        assert_eq!(fresh.current().unwrap().id, outside.key_id());
        assert!(matches!(ring.retire("ffffffffffffffff"), Err(KeyError::UnknownKeyId(_))));
    }
}
