//! `crumb verify`: check a token against a request, as a service would.

use super::args::{KeyArgs, RequestArgs, SatisfyArgs, TokenArg};
use super::exit::{DENIED, OK};
use super::ledger_args::LedgerArgs;
use super::output::{explain_lines, safe, with_flag_hint};
use super::remote::{request_body, Remote};
use anyhow::Result;
use clap::Args;
use crumb::ledger::Wait as _;
use serde_json::json;

/// Verify a token's signature and every caveat against a request.
///
/// Exit 0 when valid, 1 when denied (stderr names the failing caveat), 2 on bad input.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    token: TokenArg,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    request: RequestArgs,
    /// What this request costs (checked by `max-cost` and `balance` caveats).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = super::args::parse_units, allow_negative_numbers = true)]
    cost: u64,
    #[command(flatten)]
    satisfy: SatisfyArgs,
    /// Refuse tokens this ledger records as spent or revoked (opened read-only; it must exist,
    /// except for a token another library minted, which no ledger tracks).
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Check signature and caveats only, without a ledger: a spent or revoked token passes.
    #[arg(long, conflicts_with_all = ["ledger", "server"])]
    offline: bool,
    /// Ask a remote `crumb serve` instead of checking locally (no key needed).
    #[arg(long, value_name = "URL", conflicts_with_all = ["ledger"])]
    server: Option<String>,
    /// List every caveat with pass or fail and why, not only the first failure.
    #[arg(long)]
    explain: bool,
    /// Print a stable JSON verdict (always with every caveat).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: VerifyArgs) -> Result<u8> {
    if let Some(url) = &args.server {
        return run_remote(&args, url);
    }
    let token = args.token.decode()?;
    let discharges = args.satisfy.discharges()?;
    // A token of another key is a verdict like any other (`unknown-key`, the key id it names),
    // the same document as from a keyring or the server.
    let keys = args.key.load()?;
    // Fail closed: the ledger is opened (and must exist) before anything is judged valid. A
    // token of another library (no crumb identifier) has no record in any ledger: none is
    // needed, and the verdict says so (`tracked: false`).
    let tracked = token.token_id().is_some();
    let ledger = if args.offline || !tracked { None } else { Some(args.ledger.open_read_only()?) };
    let issuer = args.satisfy.issuer(keys, ledger);
    let ctx = args.request.context(args.cost)?;
    // JSON always carries every caveat's verdict: a script reads it whole.
    let verdict = issuer.verify(&crumb::Presented::new(token.clone(), discharges.clone()), &ctx, args.json).wait()?;
    if args.json {
        print_verdict(&verdict)?;
    } else {
        match verdict.denial() {
            None => {
                outln!("valid")?;
                if args.offline {
                    eprintln!("crumb: offline: signature and caveats only; not checked against a ledger");
                }
            }
            Some(d) => eprintln!("crumb: denied: {}", safe(&with_flag_hint(&d.to_string()))),
        }
        if !tracked && !args.offline {
            eprintln!(
                "crumb: not minted by crumb (its identifier is not crumb's): no ledger tracks it, so it has no \
                 standing to check (it can be neither spent nor revoked); signature and caveats only"
            );
        }
        if args.explain {
            for line in explain_lines(&token, &discharges, &verdict.report) {
                outln!("{line}")?;
            }
        }
    }
    Ok(if verdict.allowed { OK } else { DENIED })
}

fn run_remote(args: &VerifyArgs, url: &str) -> Result<u8> {
    let text = args.token.read_text()?;
    crumb::token::wire::decode(&text)?;
    let mut body = request_body(&text, &args.request, &args.satisfy)?;
    body.insert("cost".into(), json!(args.cost));
    body.insert("explain".into(), json!(args.explain || args.json));
    let (valid, doc) = Remote::new(url)?.verdict("/v1/verify", &serde_json::Value::Object(body))?;
    if args.json {
        // The server's verdict is the library's type: printed through it, every field kept.
        let mut verdict: crumb::Verdict = match serde_json::from_value(doc.clone()) {
            Ok(verdict) => verdict,
            // A refusal that is no verdict (an error body): printed as every error is.
            Err(_) if !valid => return Err(super::remote::Denied(doc).into()),
            Err(e) => return Err(super::exit::unavailable(format!("the server's verdict does not read: {e}"))),
        };
        verdict.allowed = valid;
        print_verdict(&verdict)?;
    } else {
        if valid {
            outln!("valid")?;
        } else {
            let code = doc["code"].as_str().unwrap_or("denied");
            eprintln!("crumb: denied: {} ({})", safe(doc["message"].as_str().unwrap_or("")), safe(code));
        }
        if args.explain {
            for c in doc["caveats"].as_array().into_iter().flatten() {
                let mark = if c["satisfied"] == true { "ok  " } else { "FAIL" };
                let why = c["reason"].as_str().map(|r| format!("  — {r}")).unwrap_or_default();
                outln!(
                    "  {mark}  {} caveat {}: {}{}",
                    safe(c["holder"].as_str().unwrap_or("")),
                    c["index"],
                    safe(c["caveat"].as_str().unwrap_or("")),
                    safe(&why)
                )?;
            }
        }
    }
    Ok(if valid { OK } else { DENIED })
}

/// A verdict as `--json` prints it: the library's [`crumb::Verdict`], and on a denial the exit
/// code, as every `--json` denial and error carries it.
fn print_verdict(verdict: &crumb::Verdict) -> Result<()> {
    #[derive(serde::Serialize)]
    struct Printed<'a> {
        #[serde(flatten)]
        verdict: &'a crumb::Verdict,
        #[serde(skip_serializing_if = "Option::is_none")]
        exit: Option<u8>,
    }
    let exit = (!verdict.allowed).then_some(DENIED);
    outln!("{}", serde_json::to_string_pretty(&Printed { verdict, exit })?)?;
    Ok(())
}
