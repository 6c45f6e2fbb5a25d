//! Which ledger a command uses: `--ledger PATH`, else `$CRUMB_LEDGER`, else the default in
//! the data directory.

use super::paths;
use anyhow::Result;
use clap::Args;
use crumb::ledger::SqliteLedger;
use std::path::PathBuf;

#[derive(Args, Debug, Clone, Default)]
pub struct LedgerArgs {
    /// The ledger database [env: CRUMB_LEDGER] [default: ledger.sqlite3 in the data directory].
    #[arg(long, value_name = "PATH")]
    pub ledger: Option<PathBuf>,
}

impl LedgerArgs {
    pub fn path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.ledger {
            return Ok(p.clone());
        }
        if let Some(p) = std::env::var_os("CRUMB_LEDGER").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        paths::default_ledger()
    }

    /// Opens (creating if needed) the ledger: for commands that write it.
    pub fn open(&self) -> Result<SqliteLedger> {
        Ok(SqliteLedger::open(&self.path()?)?)
    }

    /// Opens an existing ledger read-only: for commands that only read it. A missing ledger
    /// is an error (exit 3), never taken for an empty one.
    pub fn open_read_only(&self) -> Result<SqliteLedger> {
        Ok(SqliteLedger::open_read_only(&self.path()?)?)
    }
}
