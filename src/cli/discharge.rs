//! `crumb discharge`: what a third party runs to answer a third-party caveat.

use super::args::{encode, CaveatArgs, FormatArg, KeyFormatArg};
use super::exit::OK;
use anyhow::Result;
use clap::Args;
use crumb::Macaroon;
use std::path::PathBuf;

/// Mint a discharge macaroon for a third-party caveat, as the third party.
///
/// The key is the caveat key shared with the issuer; the id is the caveat identifier the
/// holder brought. The discharge may carry caveats of its own (add third-party ones with
/// `crumb attenuate --third-party`). The holder binds it with `crumb bind` before use.
#[derive(Args, Debug)]
pub struct DischargeArgs {
    /// The caveat key file shared with the issuer.
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// How the key's bytes are written.
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    key_format: KeyFormatArg,
    /// The caveat identifier, exactly as in the third-party caveat.
    #[arg(long, value_name = "ID")]
    id: String,
    /// A location hint.
    #[arg(long, value_name = "L")]
    location: Option<String>,
    #[command(flatten)]
    caveats: CaveatArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: FormatArg,
    /// Print a JSON document (the token, its nonce, key id, balance and expiry) instead.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DischargeArgs) -> Result<u8> {
    let caveats = args.caveats.texts(&[])?;
    let key = crumb::key::read_key_file(&args.key_file, args.key_format.into())?;
    let mut discharge = Macaroon::mint(&key, args.id.into_bytes(), args.location);
    for c in caveats {
        discharge.add_first_party(c);
    }
    super::output::print_token(&discharge, &encode(&discharge, args.format)?, args.json)?;
    Ok(OK)
}
