//! `crumb request`: a client for metered APIs that keeps its token file rotated.
//!
//! It sends the token as Bearer, prints the answer's body, and when the answer carries a
//! successor (`Crumb-Token`) replaces the token file atomically before exiting. Every attempt
//! carries the same `Idempotency-Key`, so a retry after a lost answer gets the recorded
//! successor instead of paying twice. The token file is locked for the whole request: two
//! runs on one file take turns instead of racing each other's token.

use super::args::{parse_timeout, read_limited_file};
use super::exit::{bad_input, unavailable, BAD_INPUT, DENIED, OK, UNAVAILABLE};
use super::token_file::save_successor;
use anyhow::Result;
use clap::Args;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Send an HTTP request paid for by a token file, and keep the file rotated.
///
/// The token goes as `Authorization: Bearer`. The answer's body is printed on stdout; when the
/// answer carries `Crumb-Token` (a metering `crumb serve --upstream`, or an API behind forward
/// auth), the token file is replaced by it, atomically, before crumb exits. Network failures
/// are retried with the same Idempotency-Key, so a lost answer never loses the change.
///
/// Exit status: 0 for a 2xx or 3xx answer; 1 when the token was refused (402, 403, 409, 422,
/// with the server's reason on stderr); 2 for another 4xx or bad input; 3 for a 5xx, an
/// unreachable server, or an answer that was lost (the token file still holds the successor).
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
    /// The Idempotency-Key of this request (default: a new random one per run).
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    /// Print the status and headers of the answer on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// How long to wait for the server, per attempt.
    #[arg(long, default_value = "120s", value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Duration,
}

/// Pauses before each retry of a failed attempt.
const BACKOFF: &[Duration] = &[Duration::from_millis(200), Duration::from_secs(1), Duration::from_secs(3)];

/// Largest body read from a file or standard input (it is kept for retries).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// One answer from the server: crumb's own refusals (problem documents) read whole, any other
/// body left to stream to stdout.
struct Answer {
    status: u16,
    status_text: String,
    headers: Vec<(String, String)>,
    successor: Option<String>,
    problem: Option<serde_json::Value>,
    body: Box<dyn Read + Send + Sync>,
}

/// Problem documents are small; a larger one is cut (it is only read for its reason).
const MAX_PROBLEM: u64 = 64 * 1024;

impl Answer {
    fn read(response: ureq::Response) -> Self {
        let headers = response
            .headers_names()
            .into_iter()
            .map(|n| {
                let v = response.header(&n).unwrap_or_default().to_owned();
                (n, v)
            })
            .collect();
        // A proxy in front of forward auth may set the header empty on a refusal: no successor.
        let successor = response.header("crumb-token").map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
        let (status, status_text) = (response.status(), response.status_text().to_owned());
        let is_problem = response.content_type() == "application/problem+json";
        let mut body = response.into_reader();
        let problem = is_problem.then(|| {
            let mut bytes = Vec::new();
            let _ = (&mut body).take(MAX_PROBLEM).read_to_end(&mut bytes);
            serde_json::from_slice(&bytes).unwrap_or_default()
        });
        Answer { status, status_text, headers, successor, problem, body }
    }

    fn code(&self) -> Option<&str> {
        self.problem.as_ref().and_then(|p| p["code"].as_str())
    }
}

pub fn run(args: RequestArgs) -> Result<u8> {
    if !(args.url.starts_with("http://") || args.url.starts_with("https://")) {
        return Err(bad_input(format!("`{}` must start with http:// or https://", args.url)));
    }
    let method = args.request.clone().unwrap_or_else(|| if args.data.is_some() { "POST" } else { "GET" }.into());
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(bad_input(format!("-X `{method}` is not a method name")));
    }
    let headers = args.headers.iter().map(|h| parse_header(h)).collect::<Result<Vec<_>>>()?;
    let body = match &args.data {
        Some(data) => Some(read_body(data)?),
        None => None,
    };
    let key = match &args.idempotency_key {
        Some(k) => {
            crumb::charge::check_idempotency_key(k).map_err(|e| bad_input(e.to_string()))?;
            k.clone()
        }
        None => random_key()?,
    };
    let _lock = lock(&args.token_file)?;
    let mut token = read_limited_file(&args.token_file)?.trim().to_owned();
    let agent =
        ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10)).timeout(args.timeout).redirects(0).build();
    let mut attempt = 0;
    let answer = loop {
        let mut req = agent.request(&method, &args.url).set("Authorization", &format!("Bearer {token}"));
        req = req.set("Idempotency-Key", &key);
        for (name, value) in &headers {
            req = req.set(name, value);
        }
        let sent = match &body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        let answer = match sent {
            Ok(r) | Err(ureq::Error::Status(_, r)) => Ok(Answer::read(r)),
            Err(ureq::Error::Transport(t)) => Err(t),
        };
        let retry = match &answer {
            Err(_) => true,
            // A successor means the request was decided: keep it, and never retry past it.
            Ok(a) if a.successor.is_some() => false,
            // The first attempt may still be in flight at the server after a lost answer.
            Ok(a) if a.status == 409 => attempt > 0 && a.code() == Some("in-flight"),
            // crumb's own answer that nothing was done (upstream unreachable, ledger down).
            Ok(a) => matches!(a.status, 502..=504) && a.problem.is_some(),
        };
        if retry && attempt < BACKOFF.len() {
            std::thread::sleep(BACKOFF[attempt]);
            attempt += 1;
            continue;
        }
        break answer;
    };
    let answer =
        answer.map_err(|t| unavailable(format!("cannot reach {}: {t} ({} attempts)", args.url, attempt + 1)))?;
    finish(&args, answer, &mut token)
}

/// Saves the successor, prints the body, and turns the status into an exit code.
fn finish(args: &RequestArgs, mut answer: Answer, token: &mut String) -> Result<u8> {
    let status = answer.status;
    if args.verbose {
        eprintln!("< HTTP {status} {}", answer.status_text);
        for (name, value) in &answer.headers {
            let shown = if name.eq_ignore_ascii_case("crumb-token") {
                format!("(saved to {})", args.token_file.display())
            } else {
                value.clone()
            };
            eprintln!("< {name}: {shown}");
        }
    }
    if let Some(successor) = &answer.successor {
        crumb::token::wire::decode(successor)
            .map_err(|e| unavailable(format!("the server sent a Crumb-Token that is not a token: {e}")))?;
        if successor != token {
            save_successor(&args.token_file, successor)?;
            token.clone_from(successor);
        }
    }
    let Some(doc) = &answer.problem else {
        std::io::copy(&mut answer.body, &mut std::io::stdout().lock())
            .map_err(|e| unavailable(format!("the answer was cut off: {e}")))?;
        return Ok(exit_code(status));
    };
    let detail = doc["detail"].as_str().or(doc["message"].as_str()).unwrap_or("no reason given");
    let reason = format!("HTTP {status}: {detail} ({})", doc["code"].as_str().unwrap_or("refused"));
    Ok(match status {
        409 if doc["code"] == "already-answered" => {
            eprintln!(
                "crumb: this request was answered before and its answer is lost; {} holds the successor (balance {})",
                args.token_file.display(),
                doc["balance"]
            );
            UNAVAILABLE
        }
        _ => {
            let refused = if exit_code(status) == DENIED { "refused: " } else { "" };
            eprintln!("crumb: {refused}{reason}");
            exit_code(status)
        }
    })
}

/// The exit status for an HTTP status.
fn exit_code(status: u16) -> u8 {
    match status {
        200..=399 => OK,
        402 | 403 | 409 | 422 => DENIED,
        400..=499 => BAD_INPUT,
        _ => UNAVAILABLE,
    }
}

fn parse_header(text: &str) -> Result<(String, String)> {
    let (name, value) = text.split_once(':').ok_or_else(|| bad_input(format!("-H `{text}` is not `Name: value`")))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(bad_input(format!("-H: `{name}` is not a header name")));
    }
    if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("idempotency-key") {
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

/// Locks `FILE.lock` beside the token file for the whole request (the token file itself is
/// replaced by rename, so a lock on it would not outlive the first successor).
fn lock(token_file: &Path) -> Result<std::fs::File> {
    if !token_file.is_file() {
        return Err(bad_input(format!("the token file {} does not exist", token_file.display())));
    }
    let mut name = token_file.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let path = token_file.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| unavailable(format!("cannot lock {}: {}", path.display(), crumb::error::io_reason(&e))))?;
    file.lock().map_err(|e| unavailable(format!("cannot lock {}: {}", path.display(), crumb::error::io_reason(&e))))?;
    Ok(file)
}
