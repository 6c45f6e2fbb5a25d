//! `crumb request`: a client for metered APIs that keeps its token file rotated.
//!
//! It sends the token as Bearer, prints the answer's body, and when the answer carries a
//! successor (`Crumb-Token`) replaces the token file atomically before exiting. Every attempt
//! carries the same `Idempotency-Key`, so a retry after a lost answer gets the recorded
//! successor instead of paying twice. The token file is locked for the whole request: two
//! runs on one file take turns instead of racing each other's token.
//!
//! A run that dies mid-request must not lose the change either: the request (key, method,
//! URL; never the token) is recorded in `FILE.pending` before the first byte is sent, and the
//! next run on the file asks the server about it first (`Crumb-Recover`), saving the
//! successor. A key the user names is journaled in `FILE.keys` once paid for, so running the
//! same command again reports the recorded result instead of paying a second time.

use super::args::parse_timeout;
use super::exit::{bad_input, unavailable, BAD_INPUT, DENIED, OK, UNAVAILABLE};
use super::http_client::{self, HttpClient, Response};
use super::token_file::pending::{self, Recovery, What};
use super::token_file::{journal, lock, read_token};
use anyhow::Result;
use bytes::Bytes;
use clap::Args;
use crumb::backoff::Backoff;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Send an HTTP request paid for by a token file, and keep the file rotated.
///
/// The token goes as `Authorization: Bearer`. The answer's body is printed on stdout; when the
/// answer carries `Crumb-Token` (a metering `crumb serve --upstream`, or an API behind forward
/// auth), the token file is replaced by it, atomically, before crumb exits. Network failures
/// are retried with the same Idempotency-Key, so a lost answer never loses the change; a run
/// killed mid-request leaves FILE.pending, and the next run on the file recovers its successor
/// first.
///
/// Exit status: 0 for a 2xx or 3xx answer; 1 when the token was refused (any answer carrying a
/// crumb reason code, or a 402, 403, 409, 422; the reason on stderr); 2 for another 4xx or
/// bad input; 3 for a 5xx, an unreachable server, a request still pending, or an answer that
/// was lost or given before (the token file holds the successor).
#[derive(Args, Debug)]
pub struct RequestArgs {
    /// The URL to request.
    #[arg(value_name = "URL")]
    url: String,
    /// The token file: read for the token, replaced by each successor.
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
    /// The method (default GET, or POST with --data).
    #[arg(short = 'X', long, value_name = "METHOD")]
    request: Option<String>,
    /// The body: DATA itself, @FILE, or @- for standard input.
    #[arg(short = 'd', long, value_name = "DATA")]
    data: Option<String>,
    /// A header `Name: value`; repeatable (not Authorization: the token file is the credential).
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The Idempotency-Key of this request (default: a new random one per run). A key this
    /// token file already paid with is answered from FILE.keys, never paid again.
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    /// Print the status and headers of the answer on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Do not print `crumb: paid N, M left` on stderr after a payment.
    #[arg(short, long)]
    quiet: bool,
    /// How long to wait in all: for the answer, and for a request still in flight at the server.
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Duration,
}

/// Retries of an attempt that failed (not one still in flight), and the ceilings of the
/// pauses before them: 200 ms, 1 s, 3 s, each drawn below its ceiling at random.
const BACKOFF: Backoff = Backoff::exponential(Duration::from_millis(200), 5, Duration::from_secs(3)).retries(3);

/// Largest body read from a file or standard input (it is kept for retries).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// One answer from the server: crumb's own refusals (problem documents) read whole, any other
/// body left to stream to stdout.
struct Answer {
    status: u16,
    status_text: String,
    headers: Vec<(String, String)>,
    successor: Option<String>,
    /// `Crumb-Error`: crumb's reason code, which a front proxy passes on even when it replaces
    /// the body (nginx's HTML error page).
    crumb_error: Option<String>,
    retry_after: Option<Duration>,
    problem: Option<serde_json::Value>,
    body: Box<dyn Read + Send>,
}

/// Problem documents are small; a larger one is cut (it is only read for its reason).
const MAX_PROBLEM: u64 = 64 * 1024;

/// A header's value, trimmed; an empty one is none (a proxy in front of forward auth may set
/// the header empty).
fn header(response: &Response, name: &str) -> Option<String> {
    response.header(name).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)
}

impl Answer {
    fn read(response: Response) -> Self {
        let headers = response.header_list();
        let successor = header(&response, "crumb-token");
        let crumb_error = header(&response, "crumb-error");
        let retry_after = header(&response, "retry-after").and_then(|s| s.parse().ok()).map(Duration::from_secs);
        let (status, status_text) = (response.status, response.reason.clone());
        let is_problem = response.content_type() == "application/problem+json";
        let mut body: Box<dyn Read + Send> = Box::new(response.body);
        let problem = is_problem.then(|| {
            let mut bytes = Vec::new();
            let _ = (&mut body).take(MAX_PROBLEM).read_to_end(&mut bytes);
            serde_json::from_slice(&bytes).unwrap_or_default()
        });
        Answer { status, status_text, headers, successor, crumb_error, retry_after, problem, body }
    }

    /// crumb's reason code for a refusal: the problem's `code`, else the `Crumb-Error` header.
    fn code(&self) -> Option<&str> {
        if self.status < 400 {
            return None;
        }
        self.problem.as_ref().and_then(|p| p["code"].as_str()).or(self.crumb_error.as_deref())
    }

    /// `Crumb-Held: N`: an answer charged by its measured usage, settled once its body has
    /// passed; the successor comes after it.
    fn held(&self) -> Option<u64> {
        self.header_number("crumb-held")
    }

    fn header_number(&self, name: &str) -> Option<u64> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.trim().parse().ok())
    }

    /// Whether the request's outcome is still unknown: no successor, and either crumb said the
    /// token is held (`in-flight`) or its ledger failed, or a 5xx came from something that is
    /// not crumb (a front proxy whose backend failed). A refusal, or crumb's word that the
    /// upstream was never reached (nothing charged), decides it.
    fn undecided(&self) -> bool {
        if self.successor.is_some() {
            return false;
        }
        match self.code() {
            Some("in-flight" | "ledger-unavailable") => true,
            Some("upstream-unavailable" | "upstream-timeout") => false,
            Some(_) => self.status >= 500,
            None => self.status >= 500,
        }
    }

    /// The refusal in words: the problem's detail when crumb's body came through.
    fn reason(&self) -> String {
        let detail = self.problem.as_ref().and_then(|doc| doc["detail"].as_str().or(doc["message"].as_str()));
        let detail = match (detail, self.problem.is_some()) {
            (Some(d), _) => d.to_owned(),
            (None, true) => "no reason given".to_owned(),
            (None, false) => "the answer's body is not crumb's and is not shown".to_owned(),
        };
        format!("HTTP {}: {detail} ({})", self.status, self.code().unwrap_or("refused"))
    }
}

/// One request, as sent on every attempt.
struct Outgoing<'a> {
    method: &'a str,
    url: &'a str,
    token: &'a str,
    key: &'a str,
    headers: Vec<(String, String)>,
    body: Option<&'a [u8]>,
}

/// Why no answer came: the last transport error, and whether any attempt may have reached the
/// server (a connection was made), which leaves the outcome unknown.
struct Lost {
    why: String,
    attempts: usize,
    maybe_sent: bool,
}

fn client() -> Result<HttpClient> {
    HttpClient::new(Duration::from_secs(10)).map_err(super::http_client::startup_error)
}

/// Sends `out` until it is decided or `deadline` passes: network failures and crumb's own
/// 502/503/504 are retried a few times, and an answer that the token is in flight (this
/// request's own earlier attempt, or another holder's) is asked again, honouring
/// `Retry-After`, for as long as the deadline allows. All attempts carry the same key.
fn exchange(client: &HttpClient, out: &Outgoing, deadline: Instant) -> Result<Answer, Lost> {
    let mut failures = BACKOFF.until(deadline);
    let mut waits = super::remote::in_flight_waits(deadline);
    let mut lost = Lost { why: String::new(), attempts: 0, maybe_sent: false };
    let authorization = format!("Bearer {}", out.token);
    let body = out.body.map(Bytes::copy_from_slice);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        let mut request = http_client::Outgoing {
            method: out.method,
            url: out.url,
            headers: vec![("Authorization", &authorization), ("Idempotency-Key", out.key)],
            body: body.clone(),
        };
        request.headers.extend(out.headers.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        let sent = client.send(request, remaining);
        lost.attempts += 1;
        let (pause, answer) = match sent {
            Ok(response) => {
                lost.maybe_sent = true;
                let answer = Answer::read(response);
                let pause = if answer.successor.is_some() {
                    // The request was decided: keep its successor, never retry past it.
                    return Ok(answer);
                } else if matches!(answer.code(), Some("in-flight" | "rate-limited")) {
                    // Held by another request, or over a rate limit: ask again when told.
                    waits.next_after(answer.retry_after)
                } else if answer.code().is_some() && matches!(answer.status, 502..=504) {
                    // crumb's own answer that nothing was done (upstream unreachable, ledger down).
                    failures.next()
                } else {
                    return Ok(answer);
                };
                (pause, Some(answer))
            }
            Err(failure) => {
                lost.maybe_sent |= failure.maybe_sent();
                lost.why = failure.to_string();
                (failures.next(), None)
            }
        };
        let Some(pause) = pause else {
            return answer.ok_or(lost);
        };
        drop(answer);
        std::thread::sleep(pause);
    }
}

/// One paid request, as `crumb request` and the MCP wallet's `token_fetch` make it.
pub struct Call {
    pub method: String,
    pub url: String,
    pub token_file: PathBuf,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The Idempotency-Key a caller named (journaled once paid), or none for a random one.
    pub idempotency_key: Option<String>,
    pub timeout: Duration,
    /// Print the answer's status and headers on stderr (`-v`).
    pub verbose: bool,
}

/// What came of a [`Call`]: the exit code `crumb request` ends with, the answer's status,
/// what crumb charged, and crumb's reason and words when it did not end in an answer's body.
#[derive(Debug, Default)]
pub struct Performed {
    pub exit: u8,
    pub status: Option<u16>,
    pub cost: Option<u64>,
    pub balance: Option<u64>,
    /// crumb's reason code, when the request was refused or its outcome is unknown.
    pub code: Option<String>,
    /// What `crumb request` says on stderr (without the `crumb: ` prefix).
    pub message: Option<String>,
    /// crumb's problem document, when the answer was one.
    pub problem: Option<serde_json::Value>,
}

impl Performed {
    fn said(exit: u8, code: Option<&str>, message: String) -> Self {
        Performed { exit, code: code.map(str::to_owned), message: Some(message), ..Default::default() }
    }
}

pub fn run(args: RequestArgs) -> Result<u8> {
    if args.token_file.as_os_str() == "-" {
        return Err(super::exit::bad_input(
            "crumb request replaces its token file with each successor, so --token-file names a file, not standard \
             input (`-`): save the token to a file first",
        ));
    }
    let method = args.request.clone().unwrap_or_else(|| if args.data.is_some() { "POST" } else { "GET" }.into());
    let headers = args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>>>()?;
    let body = match &args.data {
        Some(data) => Some(read_body(data)?),
        None => None,
    };
    let call = Call {
        method,
        url: args.url,
        token_file: args.token_file,
        headers,
        body,
        idempotency_key: args.idempotency_key,
        timeout: args.timeout,
        verbose: args.verbose,
    };
    let performed = perform(&call, &mut std::io::stdout().lock())?;
    if let Some(message) = &performed.message {
        eprintln!("crumb: {message}");
    } else if let (false, Some(cost), Some(balance)) = (args.quiet, performed.cost, performed.balance) {
        eprintln!("crumb: paid {cost}, {balance} left");
    }
    Ok(performed.exit)
}

/// Sends `call` paid by its token file, keeps the file rotated, and copies the answer's body
/// (when it is the API's, not crumb's refusal) into `body`.
pub fn perform(call: &Call, body: &mut dyn std::io::Write) -> Result<Performed> {
    let deadline = Instant::now() + call.timeout;
    if !(call.url.starts_with("http://") || call.url.starts_with("https://")) {
        return Err(bad_input(format!("`{}` must start with http:// or https://", call.url)));
    }
    let method = &call.method;
    if method.is_empty() || method.len() > 32 || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad_input(format!("-X `{method}` is not a method name")));
    }
    let host = call.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("host")).map(|(_, v)| v.clone());
    let (key, explicit) = match &call.idempotency_key {
        Some(k) => {
            crumb::charge::check_idempotency_key(k).map_err(|e| bad_input(e.to_string()))?;
            (k.clone(), true)
        }
        None => (random_key()?, false),
    };
    let file = &call.token_file;
    // The file must hold a token before anything is opened or sent: a key file (or a link to
    // one) is never sent as a Bearer credential.
    read_token(file)?;
    let _lock = lock(file)?;
    let mut token = read_token(file)?;
    let own = What::Request { key: key.clone(), explicit, method: method.clone(), url: call.url.clone(), host };
    pending::resolve(file, &mut token, &own, |what, token| recover(what, token, deadline))?;
    if explicit && !pending::is_retry(file, &token, &own)? {
        if let Some(entry) = journal::find(file, "request", &key)? {
            return Ok(used_before(call, &own, &entry));
        }
    }
    // Made before the pending record: a client that cannot start leaves nothing to recover.
    let client = client()?;
    pending::save(file, &pending::new(&token, own.clone()))?;
    let out = Outgoing {
        method,
        url: &call.url,
        token: &token,
        key: &key,
        headers: call.headers.clone(),
        body: call.body.as_deref(),
    };
    let outcome = exchange(&client, &out, deadline);
    finish(call, &own, outcome, &token, body)
}

/// A key this token file already paid with: the recorded result, and nothing sent.
fn used_before(call: &Call, own: &What, entry: &journal::Entry) -> Performed {
    let file = call.token_file.display();
    let key = own.key();
    if entry.what != own.journal_what() {
        return Performed::said(
            DENIED,
            Some("idempotency-key-reused"),
            format!(
                "refused: Idempotency-Key {key} was used with {file} for another request ({}); a key names one \
                 request (idempotency-key-reused)",
                entry.what
            ),
        );
    }
    let shown = |n: Option<u64>| n.map_or("unknown".to_owned(), |n| n.to_string());
    let status = entry.status.map_or("an answer".to_owned(), |s| format!("HTTP {s}"));
    Performed {
        exit: UNAVAILABLE,
        status: entry.status,
        cost: entry.cost,
        balance: entry.balance,
        code: Some("already-answered".into()),
        problem: None,
        message: Some(format!(
            "this request (Idempotency-Key {key}) was answered before ({status}, cost {}, balance {}) and its \
             answer is not stored; nothing was sent again. {file} holds the successor",
            shown(entry.cost),
            shown(entry.balance)
        )),
    }
}

/// Asks the server about an interrupted run's request (a `Crumb-Recover` probe with its token,
/// key, method and URL; crumb never passes a probe on to the upstream), or re-sends an
/// interrupted remote spend.
fn recover(what: &What, token: &str, deadline: Instant) -> Result<Recovery> {
    match what {
        What::Request { .. } => probe(what, token, deadline),
        What::Spend { server: Some(_), .. } => super::spend::recover(None, what, token, deadline),
        What::Spend { server: None, .. } => Ok(Recovery::Pending(
            "it was a local spend: run `crumb spend --token-file` on this file with its key and ledger to finish it"
                .into(),
        )),
        What::Split { .. } => Ok(Recovery::Pending(split_pending(what))),
    }
}

/// Why an interrupted split stays pending: only the wallet that made it knows where its
/// children go.
pub fn split_pending(what: &What) -> String {
    format!("it is the MCP wallet's {}: call token_split again with the same arguments to finish it", what.describe())
}

/// The `Crumb-Recover` probe of a recorded request.
pub fn probe(what: &What, token: &str, deadline: Instant) -> Result<Recovery> {
    let What::Request { key, method, url, host, .. } = what else {
        return super::spend::recover(None, what, token, deadline);
    };
    let mut headers = vec![("Crumb-Recover".to_owned(), "1".to_owned())];
    if let Some(h) = host {
        headers.push(("Host".to_owned(), h.clone()));
    }
    let out = Outgoing { method, url, token, key, headers, body: None };
    let answer = match exchange(&client()?, &out, deadline) {
        Ok(a) => a,
        Err(lost) => return Ok(Recovery::Pending(format!("cannot reach {url}: {}", lost.why))),
    };
    if let Some(successor) = &answer.successor {
        check_successor(successor)?;
        return Ok(Recovery::Recovered {
            successor: successor.clone(),
            status: None,
            cost: answer.header_number("crumb-cost"),
            balance: answer.header_number("crumb-balance"),
        });
    }
    if answer.undecided() {
        return Ok(Recovery::Pending(answer.reason()));
    }
    Ok(Recovery::Nothing(match answer.code() {
        Some(_) => answer.reason(),
        None => format!("the server answered HTTP {} without crumb's headers", answer.status),
    }))
}

fn check_successor(successor: &str) -> Result<()> {
    crumb::token::wire::decode(successor)
        .map(drop)
        .map_err(|e| unavailable(format!("the server sent a Crumb-Token that is not a token: {e}")))
}

/// Saves the successor, settles the pending record, copies the body to `out`, and turns the
/// answer into a [`Performed`].
fn finish(
    call: &Call,
    own: &What,
    outcome: Result<Answer, Lost>,
    token: &str,
    out: &mut dyn std::io::Write,
) -> Result<Performed> {
    let file = &call.token_file;
    let mut answer = match outcome {
        Ok(a) => a,
        Err(lost) if !lost.maybe_sent => {
            pending::clear(file)?;
            return Err(unavailable(format!("cannot reach {}: {} ({} attempts)", call.url, lost.why, lost.attempts)));
        }
        Err(lost) => {
            return Err(unavailable(format!(
                "cannot reach {}: {} ({} attempts); the request may have been paid: the next run on {} recovers its \
                 successor",
                call.url,
                lost.why,
                lost.attempts,
                file.display()
            )))
        }
    };
    let status = answer.status;
    if call.verbose {
        eprintln!("< HTTP {status} {}", answer.status_text);
        for (name, value) in &answer.headers {
            let shown = if name.eq_ignore_ascii_case("crumb-token") {
                format!("(saved to {})", file.display())
            } else {
                value.clone()
            };
            eprintln!("< {name}: {shown}");
        }
    }
    let (cost, balance) = (answer.header_number("crumb-cost"), answer.header_number("crumb-balance"));
    let problem = answer.problem.clone();
    let done = |exit: u8, code: Option<String>, message: Option<String>| Performed {
        exit,
        status: Some(status),
        cost,
        balance,
        code,
        message,
        problem: problem.clone(),
    };
    if answer.successor.is_none() && answer.held().is_some() && status < 400 {
        return held(call, own, answer, token, out);
    }
    if let Some(successor) = &answer.successor {
        check_successor(successor)?;
        if successor != token {
            // A replayed receipt's first answer had a status this one does not tell.
            let first_status = (answer.code() != Some("already-answered")).then_some(status);
            pending::keep(file, own, successor, first_status, cost, balance)?;
        }
        pending::clear(file)?;
    } else if answer.undecided() {
        let reason = answer.reason();
        return Ok(done(
            UNAVAILABLE,
            answer.code().map(str::to_owned),
            Some(format!(
                "{reason}; the outcome is not known yet: the next run on {} asks the server for it",
                file.display()
            )),
        ));
    } else {
        pending::clear(file)?;
    }
    let Some(code) = answer.code().map(str::to_owned) else {
        if let Some(doc) = &answer.problem {
            let detail = doc["detail"].as_str().or(doc["message"].as_str()).unwrap_or("no reason given");
            return Ok(done(exit_code(status), None, Some(format!("HTTP {status}: {detail}"))));
        }
        std::io::copy(&mut answer.body, out).map_err(|e| unavailable(format!("the answer was cut off: {e}")))?;
        return Ok(done(exit_code(status), None, None));
    };
    Ok(match code.as_str() {
        "already-answered" => {
            let shown = balance.map_or("unknown".to_owned(), |b| b.to_string());
            let message = format!(
                "this request was answered before and its answer is lost; {} holds the successor (balance {shown})",
                file.display(),
            );
            done(UNAVAILABLE, Some(code), Some(message))
        }
        _ => {
            let exit = exit_for_code(status, &code);
            let refused = if exit == DENIED { "refused: " } else { "" };
            let message = format!("{refused}{}", answer.reason());
            done(exit, Some(code), Some(message))
        }
    })
}

/// An answer charged by its measured usage (`Crumb-Held`): its body is copied to `out` (without
/// crumb's own receipt event, which holds the successor), then the successor is asked for with
/// a `Crumb-Recover` probe of the same request, which answers once the charge is settled. The
/// pending record stays until the successor is saved: a run killed meanwhile recovers it next
/// time.
fn held(call: &Call, own: &What, mut answer: Answer, token: &str, out: &mut dyn std::io::Write) -> Result<Performed> {
    let status = answer.status;
    let cut = {
        let mut filtered = WithoutReceipt::new(out);
        let copied = std::io::copy(&mut answer.body, &mut filtered);
        filtered.flush_line().and(copied.map(drop)).err()
    };
    drop(answer);
    let deadline = Instant::now() + call.timeout;
    let file = &call.token_file;
    let (successor, cost, balance) = match probe(own, token, deadline)? {
        Recovery::Recovered { successor, cost, balance, .. } => (successor, cost, balance),
        Recovery::Pending(why) | Recovery::Nothing(why) => {
            return Ok(Performed::said(
                UNAVAILABLE,
                Some("in-flight"),
                format!(
                    "the answer's charge is not settled yet ({why}): the next run on {} asks for it",
                    file.display()
                ),
            ))
        }
    };
    pending::keep(file, own, &successor, Some(status), cost, balance)?;
    pending::clear(file)?;
    if let Some(e) = cut {
        return Err(unavailable(format!("the answer was cut off: {e}; its charge is settled and saved")));
    }
    Ok(Performed { exit: exit_code(status), status: Some(status), cost, balance, ..Default::default() })
}

/// Copies an event stream without crumb's receipt event (`event: crumb-receipt`, which carries
/// the successor): the body a user or a model sees never holds a token. Line by line; a line
/// longer than [`MAX_HELD_LINE`] is passed on as it is (crumb's event is short).
struct WithoutReceipt<'a> {
    out: &'a mut dyn std::io::Write,
    line: Vec<u8>,
    skipping: bool,
}

const MAX_HELD_LINE: usize = 1 << 20;

impl<'a> WithoutReceipt<'a> {
    fn new(out: &'a mut dyn std::io::Write) -> Self {
        WithoutReceipt { out, line: Vec::new(), skipping: false }
    }

    fn flush_line(&mut self) -> std::io::Result<()> {
        let line = std::mem::take(&mut self.line);
        let bare = line.strip_suffix(b"\n").unwrap_or(&line);
        let bare = bare.strip_suffix(b"\r").unwrap_or(bare);
        if bare == b"event: crumb-receipt" || bare == b"event:crumb-receipt" {
            self.skipping = true;
        }
        let skipped = self.skipping;
        if self.skipping && bare.is_empty() {
            self.skipping = false;
        }
        if skipped {
            return Ok(());
        }
        self.out.write_all(&line)
    }
}

impl std::io::Write for WithoutReceipt<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for chunk in buf.split_inclusive(|&b| b == b'\n') {
            self.line.extend_from_slice(chunk);
            if chunk.ends_with(b"\n") || self.line.len() > MAX_HELD_LINE {
                self.flush_line()?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The exit status of an answer that carries no crumb code, from its HTTP status.
fn exit_code(status: u16) -> u8 {
    match status {
        200..=399 => OK,
        402 | 403 | 409 | 422 => DENIED,
        400..=499 => BAD_INPUT,
        _ => UNAVAILABLE,
    }
}

/// The exit status of an answer carrying crumb's reason `code`, whatever its HTTP status (a
/// front proxy may turn crumb's 402 into a 401): the request's own faults are bad input, the
/// server's are 3, and every other code is a refusal of the token.
fn exit_for_code(status: u16, code: &str) -> u8 {
    match code {
        // The README's table of reason codes: the request's own faults are bad input.
        "bad-path"
        | "bad-method"
        | "bad-host"
        | "bad-forwarded-for"
        | "bad-idempotency-key"
        | "bad-recover"
        | "bad-request"
        | "bad-json"
        | "malformed-token"
        | "malformed-discharge"
        | "no-original-request" => BAD_INPUT,
        "already-answered" | "in-flight" | "rate-limited" => UNAVAILABLE,
        _ if status >= 500 => UNAVAILABLE,
        _ => DENIED,
    }
}

fn parse_header(text: &str) -> Result<(String, String)> {
    let (name, value) = text.split_once(':').ok_or_else(|| bad_input(format!("-H `{text}` is not `Name: value`")))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(bad_input(format!("-H: `{name}` is not a header name")));
    }
    if name.eq_ignore_ascii_case("authorization")
        || name.eq_ignore_ascii_case("idempotency-key")
        || name.eq_ignore_ascii_case("crumb-recover")
    {
        return Err(bad_input(format!(
            "-H {name}: crumb sets it (the token file is the credential; --idempotency-key names the key)"
        )));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

fn read_body(data: &str) -> Result<Vec<u8>> {
    let Some(source) = data.strip_prefix('@') else {
        return Ok(data.as_bytes().to_vec());
    };
    let mut body = Vec::new();
    let read = if source == "-" {
        std::io::stdin().lock().take(MAX_BODY + 1).read_to_end(&mut body)
    } else {
        std::fs::File::open(source).and_then(|f| f.take(MAX_BODY + 1).read_to_end(&mut body))
    };
    read.map_err(|e| bad_input(format!("cannot read the body from {source}: {}", crumb::error::io_reason(&e))))?;
    if body.len() as u64 > MAX_BODY {
        return Err(bad_input(format!("the body is larger than {MAX_BODY} bytes")));
    }
    Ok(body)
}

fn random_key() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| unavailable(format!("the random source failed: {e}")))?;
    Ok(format!("crumb-{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crumb_code_decides_the_exit_whatever_the_status() {
        // nginx turns crumb's refusal into its own 401 or 403 page, with Crumb-Error kept.
        for status in [401, 402, 403, 409, 422, 400] {
            assert_eq!(exit_for_code(status, "insufficient-balance"), DENIED);
            assert_eq!(exit_for_code(status, "spent"), DENIED);
        }
        assert_eq!(exit_for_code(400, "bad-idempotency-key"), BAD_INPUT);
        assert_eq!(exit_for_code(503, "ledger-unavailable"), UNAVAILABLE);
        assert_eq!(exit_for_code(409, "in-flight"), UNAVAILABLE);
        assert_eq!((exit_code(401), exit_code(404), exit_code(502)), (BAD_INPUT, BAD_INPUT, UNAVAILABLE));
    }

    #[test]
    fn the_fingerprint_of_a_token_is_not_the_token() {
        use super::super::token_file::fingerprint;
        let fp = fingerprint("AgJ0b2tlbg");
        assert_eq!(fp.len(), 32);
        assert_eq!(fp, fingerprint("AgJ0b2tlbg\n"));
    }
}
