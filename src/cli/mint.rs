//! `crumb mint`: a new token from the root key (the current key of a keyring).

use super::args::{encode, CaveatArgs, FormatArg, KeyArgs};
use super::exit::OK;
use anyhow::Result;
use clap::Args;
use crumb::token::identifier::Nonce;
use crumb::{Macaroon, TokenId};

/// Mint a token; prints it and a newline, nothing else on stdout.
#[derive(Args, Debug)]
pub struct MintArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// A location hint for holders (not covered by the signature).
    #[arg(long, value_name = "L")]
    location: Option<String>,
    /// A custom identifier, for interop (default: crumb1:<key id>:<random 128-bit nonce>).
    /// No ledger tracks such a token: it can be neither spent nor revoked.
    #[arg(long, value_name = "ID", conflicts_with = "operator")]
    id: Option<String>,
    /// Mint an operator credential: it may revoke any token by nonce (and cascade) through
    /// `crumb serve`, and authorizes no ordinary request. Give it an expiry.
    #[arg(long, conflicts_with = "balance")]
    operator: bool,
    #[command(flatten)]
    caveats: CaveatArgs,
    /// Give the token a credit balance (adds `balance <= N`).
    #[arg(long, value_name = "N", value_parser = super::args::parse_units, allow_negative_numbers = true)]
    balance: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: FormatArg,
    /// Print a JSON document (the token, its nonce, key id, balance and expiry) instead.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: MintArgs) -> Result<u8> {
    if let Some(n) = args.balance {
        crumb::limits::check_amount("balance", n)?;
    }
    let extra: Vec<String> = args.balance.map(|n| format!("balance <= {n}")).into_iter().collect();
    let caveats = args.caveats.texts(&extra)?;
    let ring = args.key.load()?;
    let current = ring.current()?;
    let identifier = match args.id {
        Some(id) => id.into_bytes(),
        None if args.operator => TokenId::operator(&current.id, Nonce::random()?).encode(),
        None => TokenId::new(&current.id, Nonce::random()?).encode(),
    };
    let mut token = Macaroon::mint(&current.key, identifier, args.location);
    for c in caveats {
        token.add_first_party(c);
    }
    super::output::print_token(&token, &encode(&token, args.format)?, args.json)?;
    Ok(OK)
}
