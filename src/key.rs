//! Root keys: generated from the OS's random source, held zeroized, never printed, stored in
//! files created new with mode 0600. A key's *id* is a public fingerprint that names it in
//! token identifiers and keyrings without revealing it.

use crate::error::KeyError;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use zeroize::Zeroizing;

/// Length of a key crumb generates.
pub const KEY_LEN: usize = 32;

/// A secret root key (or a third-party caveat key). Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct RootKey(Zeroizing<Vec<u8>>);

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RootKey({}, redacted)", self.key_id())
    }
}

/// How the bytes of a key file are to be read.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum KeyFormat {
    /// Hex digits (crumb's own key files); surrounding whitespace ignored.
    #[default]
    Hex,
    /// The file's bytes exactly, as plain-string keys of other libraries.
    Raw,
    /// Base64 in either alphabet; surrounding whitespace ignored.
    Base64,
}

impl KeyFormat {
    pub fn name(self) -> &'static str {
        match self {
            KeyFormat::Hex => "hex",
            KeyFormat::Raw => "raw",
            KeyFormat::Base64 => "base64",
        }
    }
}

impl RootKey {
    /// A new random 32-byte key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new(vec![0u8; KEY_LEN]);
        getrandom::getrandom(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(RootKey(bytes))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(RootKey(Zeroizing::new(bytes.to_vec())))
    }

    /// Reads key material in `format`; the input buffer is the caller's to zeroize.
    pub fn parse(material: &[u8], format: KeyFormat) -> Result<Self, KeyError> {
        let trimmed = || std::str::from_utf8(material).map(str::trim);
        let bad = |reason: String| KeyError::Format { format: format.name(), reason };
        let bytes = match format {
            KeyFormat::Raw => Zeroizing::new(material.to_vec()),
            KeyFormat::Hex => {
                let text = trimmed().map_err(|_| bad("not text".into()))?;
                Zeroizing::new(hex::decode(text).map_err(|e| bad(hex_problem(&e)))?)
            }
            KeyFormat::Base64 => {
                let text = trimmed().map_err(|_| bad("not text".into()))?;
                let normalised = Zeroizing::new(text.replace('-', "+").replace('_', "/").replace('=', ""));
                let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
                Zeroizing::new(engine.decode(normalised.as_bytes()).map_err(|e| bad(base64_problem(&e)))?)
            }
        };
        Self::from_bytes(&bytes)
    }

    /// The secret bytes. Named so every use stands out in review.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Public fingerprint: 16 hex digits of SHA-256 over a domain tag and the key.
    pub fn key_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"crumb key id v1\0");
        h.update(self.expose());
        hex::encode(&h.finalize()[..8])
    }

    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.expose()))
    }
}

// Error messages about key material say where it is wrong, never which character it holds.
fn hex_problem(e: &hex::FromHexError) -> String {
    match e {
        hex::FromHexError::InvalidHexCharacter { index, .. } => {
            format!("a character that is not hex at position {index}")
        }
        hex::FromHexError::OddLength => "an odd number of hex digits".into(),
        hex::FromHexError::InvalidStringLength => "a wrong length".into(),
    }
}

fn base64_problem(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(offset, _) => format!("a character that is not base64 at position {offset}"),
        base64::DecodeError::InvalidLength(_) => "an impossible base64 length".into(),
        base64::DecodeError::InvalidLastSymbol(offset, _) => format!("a bad final symbol at position {offset}"),
        base64::DecodeError::InvalidPadding => "bad padding".into(),
    }
}

/// Reads a key file.
pub fn read_key_file(path: &Path, format: KeyFormat) -> Result<RootKey, KeyError> {
    check_secret_file(path)?;
    let material = read_secret_file(path)?;
    RootKey::parse(&material, format)
}

/// Larger than any key file or keyring: a file past it is refused before it is read whole.
const MAX_SECRET_FILE: u64 = 1 << 20;

/// Reads a key file or a keyring: a regular file (a FIFO or a device would block the read,
/// and with it a server's reload and shutdown) of at most 1 MiB, into memory wiped on drop.
pub fn read_secret_file(path: &Path) -> Result<zeroize::Zeroizing<Vec<u8>>, KeyError> {
    use std::io::Read;
    let refused = |why: &str| KeyError::Read {
        path: path.into(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.to_owned()),
    };
    let read = |source| KeyError::Read { path: path.into(), source };
    // Looked at before opening: opening a FIFO for reading waits for a writer.
    if !std::fs::metadata(path).map_err(read)?.is_file() {
        return Err(refused("not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(read)?;
    if !file.metadata().map_err(read)?.is_file() {
        return Err(refused("not a regular file"));
    }
    let mut material = zeroize::Zeroizing::new(Vec::new());
    file.take(MAX_SECRET_FILE + 1).read_to_end(&mut material).map_err(read)?;
    if material.len() as u64 > MAX_SECRET_FILE {
        return Err(refused("larger than 1 MiB"));
    }
    Ok(material)
}

/// Refuses a secret file that anyone may write (someone could have replaced the key).
pub fn check_secret_file(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o002 != 0 {
                return Err(KeyError::Insecure { path: path.into(), mode });
            }
        }
    }
    Ok(())
}

/// A warning for a secret file that others may read (mode wider than 0600), naming the fix.
/// Used, as age-keygen does, rather than refused: the secret may already be out.
pub fn permission_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(format!(
                "{} is readable by others (mode {mode:04o}): run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    let _ = path;
    None
}

/// Writes `contents` to a file with mode 0600 ([`crate::private_file`]): a new one, or with
/// `force` replacing one atomically. Refuses to replace a file unless `force`.
pub fn write_secret_file(path: &Path, contents: &[u8], force: bool) -> Result<(), KeyError> {
    let err = |source| KeyError::Write { path: path.into(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(err)?;
    }
    if force {
        return crate::private_file::replace(path, contents).map_err(err);
    }
    match crate::private_file::create_new(path, contents) {
        Ok(true) => Ok(()),
        Ok(false) => Err(KeyError::Exists { path: path.into() }),
        Err(e) => Err(err(e)),
    }
}

/// Creates a directory (and its parents) that only the owner can enter, as the data directory
/// holding keys should be. An existing directory is left as it is.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes a key as hex to a new 0600 file.
pub fn write_key_file(path: &Path, key: &RootKey, force: bool) -> Result<(), KeyError> {
    let mut text = key.to_hex();
    text.push('\n');
    write_secret_file(path, text.as_bytes(), force)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_the_same_key() {
        let raw = b"this is our super secret key";
        let from_hex = RootKey::parse(format!("{}\n", hex::encode(raw)).as_bytes(), KeyFormat::Hex).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE.encode(raw);
        let from_b64 = RootKey::parse(b64.as_bytes(), KeyFormat::Base64).unwrap();
        let from_raw = RootKey::parse(raw, KeyFormat::Raw).unwrap();
        assert_eq!(from_hex.expose(), raw);
        assert_eq!(from_b64.expose(), raw);
        assert_eq!(from_raw.expose(), raw);
        assert!(RootKey::parse(b"zz", KeyFormat::Hex).is_err());
        // The error names the position, never the secret's characters.
        let err = RootKey::parse(b"00s3cr3t", KeyFormat::Hex).unwrap_err().to_string();
        assert!(err.contains("position 2") && !err.contains("'s'") && !err.contains("s3cr3t"), "{err}");
        let err = RootKey::parse(b"ab!cd", KeyFormat::Base64).unwrap_err().to_string();
        assert!(!err.contains('!'), "{err}");
        assert!(RootKey::parse(b"", KeyFormat::Raw).is_err());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = RootKey::from_bytes(&[0xab; 32]).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("abab"), "{shown}");
        assert!(shown.contains(&key.key_id()));
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_private_and_not_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let key = RootKey::generate().unwrap();
        write_key_file(&path, &key, false).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(write_key_file(&path, &key, false), Err(KeyError::Exists { .. })));
        write_key_file(&path, &key, true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read_key_file(&path, KeyFormat::Hex).unwrap().expose(), key.expose());
    }
}
