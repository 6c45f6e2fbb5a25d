//! `crumb bind`: tie discharges to the token they are used with (prepare-for-request).

use super::args::{decode_token, encode, FormatArg, TokenArg};
use super::exit::OK;
use anyhow::{Context, Result};
use clap::Args;

/// Bind discharges to a token; prints each bound discharge on its own line.
///
/// A bound discharge verifies only with this token, so a discharge stolen from one request
/// cannot be replayed with another token. Send the token and the bound discharges together.
#[derive(Args, Debug)]
pub struct BindArgs {
    /// The token the discharges are for; `-` reads it from standard input.
    #[arg(value_name = "TOKEN")]
    token: String,
    /// Discharge macaroons to bind.
    #[arg(value_name = "DISCHARGE", required = true)]
    discharges: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: FormatArg,
    /// Print {"discharges": [bound, ...]} instead of one per line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BindArgs) -> Result<u8> {
    let token = TokenArg { token: Some(args.token), token_file: None }.decode()?;
    let mut bound = Vec::with_capacity(args.discharges.len());
    for (i, text) in args.discharges.iter().enumerate() {
        let discharge = decode_token(text).with_context(|| format!("discharge {i}"))?;
        bound.push(encode(&token.bind(&discharge), args.format)?);
    }
    if args.json {
        outln!("{}", serde_json::json!({ "discharges": bound }))?;
    } else {
        for b in &bound {
            outln!("{b}")?;
        }
    }
    Ok(OK)
}
