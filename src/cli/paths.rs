//! Where crumb keeps its defaults: `$CRUMB_DATA_DIR`, else the user's data directory
//! (`$XDG_DATA_HOME/crumb`, normally `~/.local/share/crumb`).

use std::path::PathBuf;

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

/// The ledger used when no ledger is named.
pub fn default_ledger() -> anyhow::Result<PathBuf> {
    Ok(data_dir()?.join("ledger.sqlite3"))
}
