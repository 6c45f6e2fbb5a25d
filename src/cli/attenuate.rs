//! `crumb attenuate`: add caveats to a token. No key needed: that is the point of macaroons.

use super::args::{encode, CaveatArgs, FormatArg, KeyFormatArg, TokenArg};
use super::exit::{bad_input, OK};
use anyhow::Result;
use clap::Args;

/// Add caveats to a token (no key needed); prints the narrower token.
#[derive(Args, Debug)]
pub struct AttenuateArgs {
    #[command(flatten)]
    token: TokenArg,
    #[command(flatten)]
    caveats: CaveatArgs,
    /// Cap the balance this token may spend (adds `balance <= N`; a cap, not a split).
    #[arg(long, value_name = "N", value_parser = super::args::parse_units, allow_negative_numbers = true)]
    balance: Option<u64>,
    /// Add a third-party caveat: a discharge from LOCATION will be needed (with --caveat-key-file, --caveat-id).
    #[arg(long, value_name = "LOCATION", requires_all = ["caveat_key_file", "caveat_id"])]
    third_party: Option<String>,
    /// The key shared with the third party, who mints discharges with it.
    #[arg(long, value_name = "FILE", requires = "third_party")]
    caveat_key_file: Option<std::path::PathBuf>,
    /// How the caveat key's bytes are written.
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    caveat_key_format: KeyFormatArg,
    /// The identifier the third party will see (and mint its discharge with).
    #[arg(long, value_name = "ID", requires = "third_party")]
    caveat_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: FormatArg,
    /// Print a JSON document (the token, its nonce, key id, balance and expiry) instead.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AttenuateArgs) -> Result<u8> {
    let extra: Vec<String> = args.balance.map(|n| format!("balance <= {n}")).into_iter().collect();
    let caveats = args.caveats.texts(&extra)?;
    let mut token = args.token.decode()?;
    if caveats.is_empty() && args.third_party.is_none() {
        return Err(bad_input("nothing to add: pass --caveat, --expires-in, --balance, --raw or --third-party"));
    }
    if token.caveats.len() + caveats.len() + 1 > crumb::token::wire::MAX_CAVEATS {
        return Err(bad_input(format!("a token may carry at most {} caveats", crumb::token::wire::MAX_CAVEATS)));
    }
    for c in caveats {
        token.add_first_party(c);
    }
    if let (Some(location), Some(path), Some(id)) = (args.third_party, &args.caveat_key_file, args.caveat_id) {
        let key = crumb::key::read_key_file(path, args.caveat_key_format.into())?;
        let location = (!location.is_empty()).then_some(location);
        token.add_third_party_random(&key, id.into_bytes(), location)?;
    }
    super::output::print_token(&token, &encode(&token, args.format)?, args.json)?;
    Ok(OK)
}
