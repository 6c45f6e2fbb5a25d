//! `crumb attenuate`: add caveats to a token. No key needed: that is the point of macaroons.

use super::args::{encode, CaveatArgs, FormatArg, TokenArg};
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
    #[arg(long, value_name = "N")]
    balance: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: FormatArg,
}

pub fn run(args: AttenuateArgs) -> Result<u8> {
    let extra: Vec<String> = args.balance.map(|n| format!("balance <= {n}")).into_iter().collect();
    let caveats = args.caveats.texts(&extra)?;
    let mut token = args.token.decode()?;
    if caveats.is_empty() {
        return Err(bad_input("nothing to add: pass --caveat, --expires-in, --balance or --raw"));
    }
    for c in caveats {
        token.add_first_party(c);
    }
    println!("{}", encode(&token, args.format)?);
    Ok(OK)
}
