//! `crumb spend`: spend from a token's balance and get its successor. Also the argument group
//! spend and split share.

use super::args::{decode_token, encode, FormatArg, KeyArgs, RequestArgs, SatisfyArgs, TokenArg};
use super::exit::{error_code, message, refused, unavailable, BAD_INPUT, DENIED, OK, UNAVAILABLE};
use super::ledger_args::LedgerArgs;
use super::remote::{request_body, Denied, Failed, Remote, Unreachable};
use super::token_file::pending::{self, Facts, Recovery, What};
use super::token_file::{check_replaceable, fingerprint, journal, lock, read_token};
use anyhow::Result;
use clap::Args;
use crumb::ledger::SpendKind;
use crumb::ledger::Wait as _;
use crumb::spend::client_request_id;
use crumb::{DenialCode, Issuer};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// What spend and split share: the token, where to spend it, and how to print the result.
#[derive(Args, Debug)]
pub struct ConsumeArgs {
    #[command(flatten)]
    pub token: TokenArg,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub ledger: LedgerArgs,
    /// Idempotency key: the same id retried returns the same result.
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub satisfy: SatisfyArgs,
    /// Use a remote `crumb serve` instead of a local key and ledger.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Print a JSON receipt instead of bare tokens.
    #[arg(long)]
    pub json: bool,
    /// Output format of the issued tokens.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
    /// Print nothing on stderr after success (no `crumb: paid N, M left`).
    #[arg(short, long)]
    pub quiet: bool,
}

/// Everything a local spend or split needs, loaded.
pub struct Local {
    pub presented: crumb::Presented,
    pub issuer: Issuer,
}

impl ConsumeArgs {
    pub fn local(&self) -> Result<Local> {
        self.local_with(&self.token.read_text()?)
    }

    /// [`ConsumeArgs::local`] for the token `text` (read once, under the token file's lock).
    pub fn local_with(&self, text: &str) -> Result<Local> {
        let token = decode_token(text)?;
        let keys = self.key.load()?;
        super::args::check_key_matches(&keys, &token)?;
        let discharges = self.satisfy.discharges()?;
        let issuer = self.satisfy.issuer(keys, Some(self.ledger.open()?));
        Ok(Local { presented: crumb::Presented::new(token, discharges), issuer })
    }

    /// POSTs to the server with the request id fixed before the first attempt, so every retry
    /// is the same request. `extra` adds the route's own fields.
    pub fn remote(
        &self,
        url: &str,
        path: &str,
        kind: SpendKind,
        amounts: &[u64],
        extra: Map<String, Value>,
    ) -> Result<Value> {
        let text = self.token.read_text()?;
        let token = decode_token(&text)?;
        let request_id = match &self.request_id {
            Some(id) => id.clone(),
            None => own_request_id(&token, kind, amounts)?,
        };
        let mut body = request_body(&text, &self.request, &self.satisfy)?;
        body.extend(extra);
        body.insert("request_id".into(), json!(request_id));
        Remote::new(url)?.post(path, &Value::Object(body))
    }

    /// Re-encodes a token the server returned in the requested format.
    pub fn reencode(&self, token: &Value) -> Result<String> {
        let text = token.as_str().ok_or_else(|| unavailable("the server's answer lacks a token"))?;
        encode(&decode_token(text)?, self.format)
    }
}

/// Spend COST from a token's balance; prints the successor token.
///
/// The token is verified in full, its nonce is marked spent in the ledger and a successor with
/// the remaining balance (and every other caveat) is issued, in one transaction. The old token
/// stops working. Retrying with the same request id returns the same successor. Without
/// --request-id, one is derived from the token and the cost, keyed with this machine's client
/// secret, so re-running the same command here is a safe retry (and a copy of the token
/// elsewhere cannot name it). With --token-file the file is replaced by the successor, atomically; a
/// spend interrupted before its successor was saved is finished by the next spend (or
/// request) on the file, and a --request-id the file already spent with is not spent again.
#[derive(Args, Debug)]
pub struct SpendArgs {
    #[command(flatten)]
    pub common: ConsumeArgs,
    /// What this request costs.
    #[arg(long, value_name = "N", value_parser = super::args::parse_units, allow_negative_numbers = true)]
    pub cost: u64,
}

/// How long a spend waits for its token while another request holds it (a one-shot hold
/// lasts 10 s; a metering proxy's, its upstream's timeout and 30 s more).
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(120);

pub fn run(mut args: SpendArgs) -> Result<u8> {
    args.common.token.stdin_file_as_argument();
    let c = &args.common;
    let (successor, receipt) = match &c.token.token_file {
        Some(file) => spend_file(c, file, args.cost)?,
        None => {
            let text = c.token.read_text()?;
            let own = own_spend(c, &text, args.cost)?;
            let deadline = Instant::now() + IN_FLIGHT_WAIT;
            spend_once(c, &text, &c.request, args.cost, own.key(), deadline).map_err(still_in_flight)?
        }
    };
    print(c, &successor, &receipt)
}

/// Spends `cost` from the token in `file` and replaces the file by the successor: one spend
/// at a time on the file (its lock), an interrupted earlier spend or request finished first,
/// and a request id the file already spent with answered from its journal (`"replayed":
/// true`) instead of being spent again. Returns the successor and the receipt. The MCP
/// wallet's spends go through here too.
pub fn spend_file(c: &ConsumeArgs, file: &Path, cost: u64) -> Result<(String, Value)> {
    let deadline = Instant::now() + IN_FLIGHT_WAIT;
    check_replaceable(file)?;
    // The file must hold a token before anything is locked, opened or sent.
    read_token(file)?;
    let _lock = lock(file)?;
    let mut text = read_token(file)?;
    let own = own_spend(c, &text, cost)?;
    pending::resolve(file, &mut text, &own, |what, token| recover(Some(c), what, token, deadline))?;
    // A recovered successor is a new token, with a new default request id.
    let own = own_spend(c, &text, cost)?;
    if c.request_id.is_some() && !pending::is_retry(file, &text, &own)? {
        if let Some(entry) = journal::find(file, "spend", own.key())? {
            return spent_before(file, &own, &entry, &text);
        }
    }
    pending::save(file, &pending::new(&text, own.clone()))?;
    match spend_once(c, &text, &c.request, cost, own.key(), deadline) {
        Ok((successor, receipt)) => {
            pending::keep(file, &own, &successor, None, receipt["cost"].as_u64(), receipt["remaining"].as_u64())?;
            pending::clear(file)?;
            Ok((successor, receipt))
        }
        Err(e) if decided(&e) => {
            pending::clear(file)?;
            Err(e)
        }
        Err(e) => Err(still_in_flight(e).context(format!(
            "the outcome is not known yet: the next spend or request on {} asks for it",
            file.display()
        ))),
    }
}

/// This run's spend, as a pending record names it.
fn own_spend(c: &ConsumeArgs, text: &str, cost: u64) -> Result<What> {
    let token = decode_token(text)?;
    let request_id = match &c.request_id {
        Some(id) => id.clone(),
        None => own_request_id(&token, SpendKind::Spend, &[cost])?,
    };
    Ok(What::Spend {
        server: c.server.clone(),
        request_id,
        explicit: c.request_id.is_some(),
        cost,
        facts: facts(&c.request),
    })
}

fn facts(r: &RequestArgs) -> Facts {
    use time::format_description::well_known::Rfc3339;
    Facts {
        action: r.action.clone(),
        resource: r.resource.clone(),
        aud: r.aud.clone(),
        ip: r.ip.map(|ip| ip.to_string()),
        at: r.at.and_then(|t| t.format(&Rfc3339).ok()),
        context: r.context.clone(),
    }
}

fn request_args(f: &Facts) -> Result<RequestArgs> {
    let bad = |what: &str| unavailable(format!("the pending record's {what} is not readable"));
    Ok(RequestArgs {
        action: f.action.clone(),
        resource: f.resource.clone(),
        ip: f.ip.as_deref().map(str::parse).transpose().map_err(|_| bad("ip"))?,
        aud: f.aud.clone(),
        context: f.context.clone(),
        at: f.at.as_deref().map(super::args::parse_time).transpose().map_err(|_| bad("time"))?,
    })
}

/// One spend of `text`, at the server or in the local ledger, waiting while the token is in
/// flight. Returns the successor (in --format) and the receipt.
fn spend_once(
    c: &ConsumeArgs,
    text: &str,
    request: &RequestArgs,
    cost: u64,
    request_id: &str,
    deadline: Instant,
) -> Result<(String, Value)> {
    match &c.server {
        Some(url) => remote_spend(url, text, request, &c.satisfy, cost, request_id, c.format, deadline),
        None => {
            let local = c.local_with(text)?;
            let facts = request.context(cost)?;
            let receipt = crumb::backoff::retry(
                super::remote::in_flight_waits(deadline),
                || {
                    // Each attempt at its own time, unless the request names one (--at).
                    let mut ctx = facts.clone();
                    if request.at.is_none() {
                        ctx.now = time::OffsetDateTime::now_utc();
                    }
                    local.issuer.spend(local.presented.clone(), &ctx, Some(request_id)).wait()
                },
                |e| matches!(e, crumb::Error::Denied(d) if d.code == DenialCode::InFlight),
            )?;
            let successor = encode(&receipt.children[0].token, c.format)?;
            let doc = serde_json::to_value(crumb::shapes::SpendReceipt::new(&receipt, successor.clone()))?;
            Ok((successor, doc))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn remote_spend(
    url: &str,
    text: &str,
    request: &RequestArgs,
    satisfy: &SatisfyArgs,
    cost: u64,
    request_id: &str,
    format: FormatArg,
    deadline: Instant,
) -> Result<(String, Value)> {
    let mut body = request_body(text, request, satisfy)?;
    body.insert("cost".into(), json!(cost));
    body.insert("request_id".into(), json!(request_id));
    let mut answer = Remote::new(url)?.post_waiting("/v1/spend", &Value::Object(body), deadline)?;
    let token = answer["token"].as_str().ok_or_else(|| unavailable("the server's answer lacks a token"))?;
    let successor = encode(&decode_token(token)?, format)?;
    answer["token"] = json!(successor);
    Ok((successor, answer))
}

/// Whether a failed spend's outcome is known: a refusal, a bad request, or a server never
/// reached. A token in flight, a server fault or an answer lost on the way leave it unknown.
pub fn decided(e: &anyhow::Error) -> bool {
    for cause in e.chain() {
        if let Some(d) = cause.downcast_ref::<Denied>() {
            return d.0["code"] != "in-flight";
        }
        if let Some(f) = cause.downcast_ref::<Failed>() {
            return f.exit != UNAVAILABLE;
        }
        if let Some(u) = cause.downcast_ref::<Unreachable>() {
            return !u.maybe_sent;
        }
        if let Some(crumb::Error::Denied(d)) = cause.downcast_ref::<crumb::Error>() {
            return d.code != DenialCode::InFlight;
        }
    }
    super::exit::code_for(e) == BAD_INPUT
}

/// A token still in flight after the wait is a pending outcome (exit 3), not a refusal.
fn still_in_flight(e: anyhow::Error) -> anyhow::Error {
    if error_code(&e) == "in-flight" {
        return unavailable(format!(
            "{}: still in flight after waiting {} s; try again later",
            message(&e),
            IN_FLIGHT_WAIT.as_secs()
        ));
    }
    e
}

/// Finishes a spend (or asks about a request) an interrupted run left pending. `c` is this
/// run's spend arguments (its key, ledger and discharges); `None` from `crumb request`.
pub fn recover(c: Option<&ConsumeArgs>, what: &What, token: &str, deadline: Instant) -> Result<Recovery> {
    let What::Spend { server, request_id, cost, facts, .. } = what else {
        if let What::Split { .. } = what {
            return Ok(Recovery::Pending(super::request::split_pending(what)));
        }
        return super::request::probe(what, token, deadline);
    };
    let request = request_args(facts)?;
    let result = match (server, c) {
        (Some(url), _) => {
            let satisfy = c.map(|c| c.satisfy.clone()).unwrap_or_default();
            let format = c.map(|c| c.format).unwrap_or_default();
            remote_spend(url, token, &request, &satisfy, *cost, request_id, format, deadline)
        }
        (None, Some(c)) if c.server.is_none() => spend_once(c, token, &request, *cost, request_id, deadline),
        (None, _) => {
            return Ok(Recovery::Pending(
                "it was a local spend: run `crumb spend --token-file` on this file without --server, with its key \
                 and ledger, to finish it"
                    .into(),
            ))
        }
    };
    Ok(match result {
        Ok((successor, receipt)) => Recovery::Recovered {
            successor,
            status: None,
            cost: receipt["cost"].as_u64(),
            balance: receipt["remaining"].as_u64(),
        },
        Err(e) if !decided(&e) => Recovery::Pending(message(&e)),
        Err(e) => match error_code(&e).as_str() {
            "missing-discharge" | "invalid-discharge" | "unused-discharge" => Recovery::Pending(format!(
                "{}: give this spend the discharges the interrupted one was given",
                message(&e)
            )),
            code => Recovery::Nothing(format!("{} ({code})", message(&e))),
        },
    })
}

/// A request id this token file already spent with: nothing is spent again. The file still
/// holding that spend's successor makes this a retry, answered as the server would; a file
/// that moved on since, or a request id used for another spend, is refused.
fn spent_before(file: &Path, own: &What, entry: &journal::Entry, text: &str) -> Result<(String, Value)> {
    let id = own.key();
    if entry.what != own.journal_what() {
        return Err(refused(
            "idempotency-key-reused",
            DENIED,
            format!(
                "request id {id} was spent with {} for another spend ({}); a request id names one spend",
                file.display(),
                entry.what
            ),
        ));
    }
    let shown = |n: Option<u64>| n.map_or("unknown".to_owned(), |n| n.to_string());
    if entry.successor != fingerprint(text) {
        return Err(refused(
            "already-answered",
            UNAVAILABLE,
            format!(
                "request id {id} was spent with {} before (cost {}, {} left), and the file has moved on since; \
                 nothing was spent again",
                file.display(),
                shown(entry.cost),
                shown(entry.balance)
            ),
        ));
    }
    let receipt =
        json!({ "token": text, "request_id": id, "cost": entry.cost, "remaining": entry.balance, "replayed": true });
    Ok((text.to_owned(), receipt))
}

fn print(c: &ConsumeArgs, successor: &str, receipt: &Value) -> Result<u8> {
    if c.json {
        outln!("{}", serde_json::to_string_pretty(receipt)?)?;
    } else {
        outln!("{successor}")?;
        if !c.quiet {
            let again = if receipt["replayed"] == true { " (a retry: the same successor as before)" } else { "" };
            let credit = match receipt["returned_credit"].as_u64() {
                Some(n) => format!(" ({n} of it returned credit)"),
                None => String::new(),
            };
            eprintln!("crumb: paid {}, {} left{credit}{again}", receipt["cost"], receipt["remaining"]);
        }
    }
    Ok(OK)
}

/// The request id of a spend or split that names none: this client's own, derived with its
/// secret so that re-running the command here is a retry while a copy of the token elsewhere
/// cannot name it; a fresh one where there is no secret to derive it with.
pub(super) fn own_request_id(token: &crumb::Macaroon, kind: SpendKind, amounts: &[u64]) -> Result<String> {
    match super::paths::client_secret() {
        Some(secret) => Ok(client_request_id(&secret, token, kind, amounts)),
        None => Ok(crumb::spend::fresh_request_id()?),
    }
}
