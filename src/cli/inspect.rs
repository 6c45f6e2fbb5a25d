//! `crumb inspect`: what a token says, for people (a table) or scripts (`--json`).

use super::args::{KeyArgs, SatisfyArgs, TokenArg};
use super::exit::OK;
use super::output::{safe, table};
use anyhow::Result;
use clap::Args;
use crumb::inspect::describe;
use crumb::token::wire;
use serde_json::json;
use time::OffsetDateTime;

/// Show a token's location, identifier, caveats and warnings. No key needed; with a key,
/// also whether the signature holds. The signature is hidden unless --show-signature. With
/// --server, also its standing there (`GET /v1/status`): live, spent, revoked or held, and
/// whether it is a revocable delegation, which the ledger records, not the token.
#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    token: TokenArg,
    /// Print a stable JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Include the signature (with the caveats, it is the whole bearer token).
    #[arg(long)]
    show_signature: bool,
    /// Check the signature with this key (hex unless --key-format).
    #[arg(long, value_name = "FILE")]
    key_file: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    key_format: super::args::KeyFormatArg,
    /// Discharges to match against the third-party caveats; repeatable.
    #[arg(long, value_name = "TOKEN")]
    discharge: Vec<String>,
    /// Also ask this `crumb serve` (or a proxy's URL/.well-known/crumb) for the token's
    /// standing: its state, and whether it is a revocable delegation.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
}

pub fn run(args: InspectArgs) -> Result<u8> {
    let text = args.token.read_text()?;
    let (token, detected) = wire::decode_detect(&text)?;
    let now = OffsetDateTime::now_utc();
    let mut description = describe(&token, now, args.show_signature);
    description.format = Some(detected.name());
    let satisfy = SatisfyArgs { discharge: args.discharge.clone(), ..Default::default() };
    let discharges = satisfy.discharges()?;
    let signature_valid = match &args.key_file {
        None => None,
        Some(path) => {
            let keys =
                KeyArgs { key_file: Some(path.clone()), key_format: args.key_format, ..Default::default() }.load()?;
            let report = satisfy.verifier(&keys).check(&token, &discharges, &crumb::Context::at(now));
            Some(report.signature_valid)
        }
    };
    let standing = match &args.server {
        Some(url) => Some(super::remote::Remote::new(url)?.get("/v1/status", text.trim())?),
        None => None,
    };
    let answered: Vec<Option<usize>> = token
        .caveats
        .iter()
        .map(|c| c.is_third_party().then(|| discharges.iter().position(|d| d.identifier == c.id)).flatten())
        .collect();
    if args.json {
        let mut doc = serde_json::to_value(&description)?;
        doc["signature_valid"] = json!(signature_valid);
        if let Some(standing) = &standing {
            doc["standing"] = standing.clone();
        }
        if let Some(list) = doc["caveats"].as_array_mut() {
            for (view, discharge) in list.iter_mut().zip(&answered) {
                if view["party"] == "third" {
                    view["discharge"] = json!(discharge);
                }
            }
        }
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(OK);
    }
    let mut head = table();
    head.add_row(vec!["format", detected.name()]);
    head.add_row(vec!["location", &safe(description.location.as_deref().unwrap_or("(none)"))]);
    let id = &description.identifier;
    let id_text = id.text.clone().unwrap_or_else(|| format!("0x{}", id.hex));
    head.add_row(vec!["identifier".to_owned(), safe(&id_text).into_owned()]);
    if let Some(c) = &id.crumb {
        head.add_row(vec!["key id", &c.key_id]);
        head.add_row(vec!["nonce", &c.nonce]);
        head.add_row(vec!["role", c.role]);
    }
    if let Some(b) = description.balance {
        head.add_row(vec!["balance".to_owned(), b.to_string()]);
    }
    let sig = description.signature.clone().unwrap_or_else(|| "(redacted; --show-signature)".into());
    head.add_row(vec!["signature".to_owned(), sig]);
    if let Some(valid) = signature_valid {
        head.add_row(vec!["signature check", if valid { "valid with this key" } else { "INVALID with this key" }]);
    }
    if let Some(standing) = &standing {
        let state = safe(standing["state"].as_str().unwrap_or("unknown")).into_owned();
        let kind = if standing["revocable"] == true {
            "a revocable delegation (its splitter may revoke it)"
        } else {
            "not a delegation (a transfer, or a minted token)"
        };
        head.add_row(vec!["standing".to_owned(), format!("{state}; {kind}")]);
        for w in standing["windows"].as_array().into_iter().flatten() {
            let caveat = safe(w["caveat"].as_str().unwrap_or("")).into_owned();
            head.add_row(vec!["window".to_owned(), format!("{caveat}: {} spent, {} left now", w["spent"], w["left"])]);
        }
    }
    outln!("{}", super::output::table_text(&head))?;
    if !description.caveats.is_empty() {
        let mut caveats = table();
        caveats.set_header(vec!["#", "party", "caveat", "kind", "meaning"]);
        for (c, discharge) in description.caveats.iter().zip(&answered) {
            let mut meaning = c.meaning.clone();
            if c.party == "third" && !discharges.is_empty() {
                meaning.push_str(&match discharge {
                    Some(i) => format!("; answered by discharge {i}"),
                    None => "; no discharge supplied".into(),
                });
            }
            let text = c.text.clone().unwrap_or_else(|| format!("0x{}", c.hex.as_deref().unwrap_or("")));
            caveats.add_row(vec![
                c.index.to_string(),
                c.party.into(),
                safe(&text).into_owned(),
                c.kind.into(),
                safe(&meaning).into_owned(),
            ]);
        }
        outln!("{}", super::output::table_text(&caveats))?;
    } else {
        outln!("no caveats: this token allows everything its key allows")?;
    }
    for w in &description.warnings {
        outln!("warning: {}", safe(w))?;
    }
    Ok(OK)
}
