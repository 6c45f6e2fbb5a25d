//! Which ledger a command uses: `--ledger PATH|URL`, else `$CRUMB_LEDGER`, else the default
//! file in the data directory. A `postgres://` URL selects the shared PostgreSQL ledger.

use super::paths;
use anyhow::Result;
use clap::Args;
use crumb::ledger::{self, Ledger, OpenOptions};
use std::sync::Arc;

#[derive(Args, Debug, Clone, Default)]
pub struct LedgerArgs {
    /// The ledger: a SQLite file, or postgres://USER@HOST/DB (a password goes in
    /// CRUMB_LEDGER or the configuration file, never here) [env: CRUMB_LEDGER] [default:
    /// the configuration file's `ledger`, else ledger.sqlite3 in the data directory].
    #[arg(long, value_name = "PATH|URL")]
    pub ledger: Option<String>,
}

impl LedgerArgs {
    /// Where the ledger is, as given or defaulted; a location no ledger can be at (a mistyped
    /// URL, a configuration file's reference) is refused before anything is created.
    pub fn location(&self) -> Result<String> {
        let location = self.given_location()?;
        crumb::ledger::check_location(&location)?;
        Ok(location)
    }

    fn given_location(&self) -> Result<String> {
        if let Some(p) = &self.ledger {
            // Every user of the machine reads a process's arguments (ps, /proc): a secret
            // there is a secret shared.
            if super::config::inline_password(p) {
                return Err(super::exit::bad_input(
                    "--ledger: the URL has a password inline, and a command's arguments are visible to every user \
                     of this machine; set CRUMB_LEDGER instead, or `ledger = \"env:NAME\"` / `ledger = \"file:PATH\"` \
                     in the configuration file",
                ));
            }
            return Ok(p.clone());
        }
        if let Some(p) = std::env::var("CRUMB_LEDGER").ok().filter(|p| !p.is_empty()) {
            return Ok(p);
        }
        if let Some(p) = super::config::ledger()? {
            return Ok(p);
        }
        Ok(paths::default_ledger()?.display().to_string())
    }

    /// Opens (creating if needed) the ledger: for commands that write it.
    pub fn open(&self) -> Result<Arc<dyn Ledger>> {
        self.open_with(OpenOptions::READ_WRITE)
    }

    /// Opens an existing ledger read-only: for commands that only read it. A missing ledger
    /// is an error (exit 3), never taken for an empty one.
    pub fn open_read_only(&self) -> Result<Arc<dyn Ledger>> {
        self.open_with(OpenOptions::READ_ONLY)
    }

    pub fn open_with(&self, options: OpenOptions) -> Result<Arc<dyn Ledger>> {
        Ok(ledger::open(&self.location()?, options)?)
    }
}
