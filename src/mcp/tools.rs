//! The wallet's tools. Their names, argument names and result fields are a contract: MCP
//! hosts and prompts are written against them.
//!
//! Every refusal is a tool result with `isError: true` and a structured body `{code, message}`
//! where `code` is one of crumb's reason codes (README), never a protocol error: the model
//! reads it and decides. No result ever carries a token: server answers lose their `token`
//! fields before they are returned, and each result is checked for the tokens the call
//! touched before it leaves.

use super::approval::{Decision, Gate, Reserved};
use super::wallet::{self, check_name, Wallet};
use super::Config;
use crate::cli::exit::{bad_input, refused, BAD_INPUT, DENIED, UNAVAILABLE};
use crate::cli::remote::Remote;
use crate::cli::token_file::{self, pending, read_token};
use anyhow::Result;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, Implementation, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The wallet server: configuration, entries, limits.
#[derive(Clone)]
pub struct WalletServer {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Self>,
}

struct Inner {
    config: Config,
    wallet: Wallet,
    gate: Gate,
    /// Whether `--server` answers as crumb's JSON API does (asked once, before a token is
    /// ever sent there).
    server_checked: std::sync::OnceLock<Result<(), String>>,
}

/// Asks `GET {url}/v1/lineage` with no credential: crumb's JSON API answers 401 `no-token`.
/// Anything else (a metering proxy's listener would price or forward the path, and a GET
/// with a token could spend it) is refused before any token goes there.
fn check_server(url: &str) -> Result<(), String> {
    use crate::cli::http_client::{HttpClient, Outgoing};
    let probe = format!("{}/v1/lineage", url.trim_end_matches('/'));
    // Not reached: say so when a call needs it, and ask again then.
    let client = HttpClient::new(std::time::Duration::from_secs(5)).map_err(|e| format!("no HTTP client: {e}"))?;
    let response = client.send(Outgoing::get(&probe), std::time::Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let status = response.status;
    // Only its reason code is read: a body past 10 MiB is not crumb's answer.
    let body =
        response.read_body(10 * 1024 * 1024).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let code = serde_json::from_str::<Value>(&body).ok().and_then(|d| d["code"].as_str().map(str::to_owned));
    match (status, code.as_deref()) {
        (401, Some("no-token")) => Ok(()),
        (status, code) => Err(format!(
            "GET /v1/lineage without a token answered HTTP {status} ({}), not 401 no-token; a metering proxy's \
             public listener serves the API under /.well-known/crumb",
            code.unwrap_or("no crumb code")
        )),
    }
}

// The tools' arguments. Doc comments become the schema's descriptions, which the model reads.

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryArgs {
    /// A wallet entry's name (`wallet_list` shows them).
    pub entry: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckArgs {
    /// The wallet entry to check.
    pub entry: String,
    /// The request's action (for `action` caveats; the proxy uses the HTTP method).
    pub action: Option<String>,
    /// The request's resource path (for `resource` caveats; the proxy uses the URL path).
    pub resource: Option<String>,
    /// The audience (for `aud` caveats; the proxy uses the host).
    pub aud: Option<String>,
    /// What the request would cost, in credits.
    pub cost: Option<u64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttenuateArgs {
    /// The wallet entry to narrow (it is left as it is).
    pub entry: String,
    /// The new entry's name.
    pub into: String,
    /// Caveats in crumb's caveat language, one per item, e.g. `expires < 2026-12-01T00:00:00Z`,
    /// `action in GET,POST`, `resource prefix /v1/chat`, `max-cost <= 5`. Not `balance`: a
    /// copy shares its original's credit; use token_split to set credit apart.
    pub caveats: Vec<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitArgs {
    /// The wallet entry to split; it keeps the remainder.
    pub entry: String,
    /// One balance per new entry, in credits.
    pub amounts: Vec<u64>,
    /// The new entries' names, one per amount.
    pub into: Vec<String>,
    /// Make each new entry a delegation its splitter can revoke (its unspent balance then
    /// comes back); otherwise a final transfer.
    #[serde(default)]
    pub revocable: bool,
    /// Names this split: calling again with the same id never splits twice.
    pub request_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffArgs {
    /// The wallet entry to hand over; it leaves this wallet.
    pub entry: String,
    /// A recipient alias the host configured.
    pub recipient: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveArgs {
    /// The name of a file in the host's import directory.
    pub file: String,
    /// The new entry's name.
    pub into: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendArgs {
    /// The wallet entry to pay from; it is replaced by its successor.
    pub entry: String,
    /// The cost, in credits.
    pub amount: u64,
    /// Names this payment: calling again with the same id never pays twice.
    pub request_id: String,
    /// The request's action, for `action` caveats.
    pub action: Option<String>,
    /// The request's resource, for `resource` caveats.
    pub resource: Option<String>,
    /// The audience, for `aud` caveats.
    pub aud: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GiveBackArgs {
    /// The wallet entry to give back (a child someone split off to this wallet).
    pub entry: String,
    /// Names this give-back: calling again with the same id never gives twice.
    pub request_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeArgs {
    /// The wallet entry of the lineage that made the delegation.
    pub entry: String,
    /// The delegated child's nonce (from `token_split`'s result or `token_lineage`).
    pub nonce: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// The wallet entry that pays.
    pub entry: String,
    /// The URL, on an origin the host allowed.
    pub url: String,
    /// The method (default GET, or POST with a body).
    pub method: Option<String>,
    /// The request body, as text.
    pub body: Option<String>,
    /// Extra request headers (not Authorization, Host, Idempotency-Key or Crumb-*).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Names this request (sent as its Idempotency-Key): calling again with the same id never
    /// pays twice.
    pub request_id: String,
}

/// Largest argument lists a model may pass.
const MAX_LIST: usize = 64;
/// Largest request body `token_fetch` sends.
const MAX_FETCH_BODY: usize = 1 << 20;

fn ok(value: Value) -> CallToolResult {
    CallToolResult::structured(value)
}

/// Removes every `token` (and `tokens`) member from a server's answer, at any depth.
fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("token");
            map.remove("tokens");
            map.remove("signature");
            map.values_mut().for_each(scrub);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The issuer's answer about `entry`, paid or shown with `token`, as the model sees it: no
/// token member, the entry named, and checked for the token before it leaves.
fn answered(mut doc: Value, entry: &str, token: &str) -> CallToolResult {
    scrub(&mut doc);
    doc["entry"] = json!(entry);
    guard(ok(doc), &secrets_of(token))
}

/// The last line of defence: a result that contains any of `secrets` (a token's text, or its
/// signature in hex) is replaced by a refusal. Never expected to fire.
fn guard(result: CallToolResult, secrets: &[String]) -> CallToolResult {
    let text = serde_json::to_string(&result).unwrap_or_default();
    let lower = text.to_ascii_lowercase();
    let found =
        |s: &String| s.len() >= 16 && (text.contains(s.as_str()) || lower.contains(s.to_ascii_lowercase().as_str()));
    if secrets.iter().any(found) {
        return CallToolResult::structured_error(json!({
            "code": "internal",
            "message": "a result would have contained a token; it was withheld",
            "exit": UNAVAILABLE,
        }));
    }
    result
}

/// What of a token must never appear in a result: its text and its signature (hex, base64,
/// base64url).
fn secrets_of(token: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut out = vec![token.to_owned()];
    if let Ok(m) = crumb::token::wire::decode(token) {
        out.push(hex::encode(m.signature));
        out.push(base64::engine::general_purpose::STANDARD_NO_PAD.encode(m.signature));
        out.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.signature));
    }
    out
}

/// A digest of a tool call (its name and arguments): what an approval is bound to.
fn call_digest(tool: &str, args: &impl serde::Serialize) -> String {
    use sha2::Digest;
    let text = format!("{tool}\n{}", serde_json::to_string(args).unwrap_or_default());
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// Runs blocking work (files, locks, the CLI's HTTP client) off the protocol's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| crate::cli::exit::unavailable(format!("a task failed: {e}")))?
}

fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority.to_ascii_lowercase()))
}

impl WalletServer {
    pub fn new(config: Config, wallet: Wallet) -> Self {
        let gate = Gate::new(config.limits.clone());
        WalletServer {
            inner: Arc::new(Inner { config, wallet, gate, server_checked: Default::default() }),
            tool_router: Self::tool_router(),
        }
    }

    /// A refusal as the model sees it: crumb's reason code and words (a wallet file named by
    /// its entry, never by its path), and the exit code the CLI would have ended with.
    fn refusal(&self, e: &anyhow::Error) -> CallToolResult {
        let exit = crate::cli::exit::code_for(e);
        let dir = format!("{}/", self.inner.config.wallet_dir.display());
        let mut body = crate::cli::exit::error_body(e, exit);
        body.message = body.message.replace(&dir, "wallet entry ");
        CallToolResult::structured_error(serde_json::to_value(body).expect("an error body serializes"))
    }

    /// Checks, once, that `--server` answers as crumb's JSON API before any token goes there
    /// (every tool that sends one calls this first, the CLI's spends and splits included).
    fn check_server(&self) -> Result<()> {
        let Some(url) = &self.inner.config.server else { return Ok(()) };
        let checked = self.inner.server_checked.get_or_init(|| check_server(url)).clone();
        checked.map_err(|why| {
            refused("not-crumb-api", BAD_INPUT, format!("--server {url} is not crumb's JSON API: {why}"))
        })
    }

    fn remote(&self) -> Result<Remote> {
        match &self.inner.config.server {
            Some(url) => {
                self.check_server()?;
                Remote::new(url)
            }
            None => Err(refused(
                "no-server",
                BAD_INPUT,
                "this needs the issuer: the host did not give `crumb mcp --server URL`",
            )),
        }
    }

    /// The arguments of `crumb spend` / `crumb split` on a wallet entry, as the CLI parses
    /// them (every value as `--flag=value`, so none can be read as another flag).
    fn consume_argv(&self, file: &Path, request_id: &str, facts: &[(&str, &Option<String>)]) -> Vec<String> {
        let mut argv = vec![
            "crumb".to_owned(),
            format!("--token-file={}", file.display()),
            format!("--request-id={request_id}"),
            "--json".to_owned(),
        ];
        if let Some(server) = &self.inner.config.server {
            argv.push(format!("--server={server}"));
        }
        for (flag, value) in facts {
            if let Some(v) = value {
                argv.push(format!("--{flag}={v}"));
            }
        }
        argv
    }
}

fn parse_args<A: clap::Args + clap::FromArgMatches>(argv: Vec<String>) -> Result<A> {
    let matches = A::augment_args(clap::Command::new("crumb").no_binary_name(false))
        .try_get_matches_from(argv)
        .map_err(|e| bad_input(e.kind().to_string()))?;
    A::from_arg_matches(&matches).map_err(|e| bad_input(e.kind().to_string()))
}

#[tool_router]
impl WalletServer {
    /// List the wallet's entries (name, balance as the token says, expiry, nonce, a payment
    /// pending) and what the host configured: recipients, origins, limits, handed-in files.
    /// Never a token.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn wallet_list(&self) -> CallToolResult {
        let inner = self.inner.clone();
        let listed = blocking(move || {
            let now = time::OffsetDateTime::now_utc();
            let mut entries = Vec::new();
            for name in inner.wallet.names()? {
                let Ok(token) = inner.wallet.token(&name) else { continue };
                let m = crumb::token::wire::decode(&token)?;
                let d = crumb::inspect::describe(&m, now, false);
                let pending = inner.wallet.existing(&name).is_ok_and(|f| token_file::beside(&f, ".pending").exists());
                entries.push(json!({
                    "entry": name,
                    "balance": d.balance,
                    "expires": d.expires,
                    "nonce": d.identifier.crumb.as_ref().map(|c| c.nonce.clone()),
                    "caveat_count": d.caveats.len(),
                    "pending": pending,
                }));
            }
            let config = &inner.config;
            let limits = &inner.gate.limits;
            let handed_in: Vec<String> = config
                .import_dir
                .as_ref()
                .and_then(|d| std::fs::read_dir(d).ok())
                .map(|read| {
                    let mut names: Vec<String> = read
                        .flatten()
                        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                        .filter(|n| check_name("file", n.strip_suffix(".token").unwrap_or(n)).is_ok())
                        .take(wallet::MAX_ENTRIES)
                        .collect();
                    names.sort();
                    names
                })
                .unwrap_or_default();
            Ok(json!({
                "entries": entries,
                "spent_this_session": inner.gate.spent(),
                "budget_left": inner.gate.remaining(),
                "limits": { "max_cost": limits.max_cost, "budget": limits.budget, "approve_above": limits.approve_above },
                "recipients": config.recipients.iter().map(|(alias, _)| alias).collect::<Vec<_>>(),
                "origins": config.allow_origins,
                "handed_in": handed_in,
            }))
        })
        .await;
        match listed {
            Ok(v) => ok(v),
            Err(e) => self.refusal(&e),
        }
    }

    /// Describe an entry without verifying it: each caveat and its meaning, balance, expiry,
    /// warnings.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn token_inspect(&self, Parameters(args): Parameters<EntryArgs>) -> CallToolResult {
        let inner = self.inner.clone();
        let described = blocking(move || {
            let token = inner.wallet.token(&args.entry)?;
            let m = crumb::token::wire::decode(&token)?;
            let mut doc = serde_json::to_value(crumb::inspect::describe(&m, time::OffsetDateTime::now_utc(), false))?;
            doc["entry"] = json!(args.entry);
            Ok((guard(ok(doc), &secrets_of(&token)), ()))
        })
        .await;
        match described {
            Ok((r, ())) => r,
            Err(e) => self.refusal(&e),
        }
    }

    /// Would this request be allowed? Verifies the entry at the issuer (signature, every
    /// caveat, balance against the cost, standing in the ledger) without spending anything.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn token_check(&self, Parameters(args): Parameters<CheckArgs>) -> CallToolResult {
        let this = self.clone();
        let checked = blocking(move || {
            let token = this.inner.wallet.token(&args.entry)?;
            let mut body = Map::new();
            body.insert("token".into(), json!(token));
            for (k, v) in [("action", &args.action), ("resource", &args.resource), ("aud", &args.aud)] {
                if let Some(v) = v {
                    body.insert(k.into(), json!(v));
                }
            }
            if let Some(c) = args.cost {
                body.insert("cost".into(), json!(c));
            }
            let (_, doc) = this.remote()?.verdict("/v1/verify", &Value::Object(body))?;
            Ok(answered(doc, &args.entry, &token))
        })
        .await;
        checked.unwrap_or_else(|e| self.refusal(&e))
    }

    /// Narrow an entry with caveats into a new entry (offline: no key needed). The original
    /// entry is left as it is, and the copy shares its credit: spending either spends both.
    /// To give part of a balance away, use token_split.
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false))]
    async fn token_attenuate(&self, Parameters(args): Parameters<AttenuateArgs>) -> CallToolResult {
        let inner = self.inner.clone();
        let made = blocking(move || {
            if args.caveats.is_empty() || args.caveats.len() > MAX_LIST {
                return Err(bad_input(format!("give 1 to {MAX_LIST} caveats")));
            }
            let source = inner.wallet.existing(&args.entry)?;
            let _lock = token_file::lock(&source)?;
            let token = read_token(&source)?;
            let mut m = crumb::token::wire::decode(&token)?;
            if m.caveats.len() + args.caveats.len() > crumb::token::wire::MAX_CAVEATS {
                return Err(bad_input(format!("a token may carry at most {} caveats", crumb::token::wire::MAX_CAVEATS)));
            }
            for text in &args.caveats {
                // A caveat crumb cannot read would deny everything: refuse it here instead.
                let parsed = crumb::caveat::parse(text).map_err(|e| {
                    refused("bad-caveat", BAD_INPUT, format!("caveat `{text}`: {e}"))
                })?;
                if matches!(parsed, crumb::Caveat::Balance(_)) {
                    return Err(bad_input(
                        "a balance cap is not a split: the copy would share this entry's credit (whoever holds \
                         either can spend or revoke both). Use token_split to set credit apart",
                    ));
                }
                m.add_first_party(parsed.to_string().into_bytes());
            }
            let narrowed = crate::cli::args::encode(&m, Default::default())?;
            inner.wallet.store_new(&args.into, &narrowed)?;
            let d = crumb::inspect::describe(&m, time::OffsetDateTime::now_utc(), false);
            let mut secrets = secrets_of(&token);
            secrets.extend(secrets_of(&narrowed));
            Ok(guard(
                ok(json!({ "entry": args.into, "from": args.entry, "balance": d.balance, "expires": d.expires, "caveat_count": d.caveats.len() })),
                &secrets,
            ))
        })
        .await;
        made.unwrap_or_else(|e| self.refusal(&e))
    }

    /// Pay `amount` from an entry at the issuer's JSON API (not for requests through the
    /// metering proxy: token_fetch pays those); the entry is replaced by its successor. The
    /// same request id again replays the first result.
    #[tool(annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true))]
    async fn token_spend(
        &self,
        ctx: RequestContext<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
        Parameters(args): Parameters<SpendArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let own = pending::What::Spend {
            server: self.inner.config.server.clone(),
            request_id: args.request_id.clone(),
            explicit: true,
            cost: args.amount,
            facts: Default::default(),
        };
        match self.replay(&args.entry, &own).await {
            Ok(Some(result)) => return Ok(result.into()),
            Ok(None) => {}
            Err(e) => return Ok(self.refusal(&e).into()),
        }
        let reserved = match self.inner.gate.reserve(args.amount) {
            Ok(r) => r,
            Err(e) => return Ok(self.refusal(&e).into()),
        };
        if self.inner.gate.needs_approval(args.amount) {
            let question = format!("Pay {} credits from wallet entry `{}`?", args.amount, args.entry);
            let digest = call_digest("token_spend", &(&args.entry, args.amount, &args.request_id));
            match self.inner.gate.approve(&ctx, &digest, args.amount, question, state, responses).await {
                Ok(Decision::Go(_)) => {}
                Ok(Decision::Ask(ask)) => {
                    self.inner.gate.release(reserved);
                    return Ok(ask.into());
                }
                Err(e) => {
                    self.inner.gate.release(reserved);
                    return Ok(self.refusal(&e).into());
                }
            }
        }
        let this = self.clone();
        let spent = blocking(move || {
            this.check_server()?;
            let file = this.inner.wallet.existing(&args.entry)?;
            let mut argv = this.consume_argv(
                &file,
                &args.request_id,
                &[("action", &args.action), ("resource", &args.resource), ("aud", &args.aud)],
            );
            argv.push(format!("--cost={}", args.amount));
            let spend: crate::cli::spend::SpendArgs = parse_args(argv)?;
            let before = read_token(&file)?;
            let (successor, mut receipt) = crate::cli::spend::spend_file(&spend.common, &file, spend.cost)?;
            scrub(&mut receipt);
            receipt["entry"] = json!(args.entry);
            let mut secrets = secrets_of(&before);
            secrets.extend(secrets_of(&successor));
            Ok((guard(ok(receipt.clone()), &secrets), receipt))
        })
        .await;
        Ok(match spent {
            Ok((result, receipt)) => {
                let paid =
                    if receipt["replayed"] == true { 0 } else { receipt["cost"].as_u64().unwrap_or(args.amount) };
                self.inner.gate.paid(reserved, paid);
                result
            }
            Err(e) => {
                if crate::cli::spend::decided(&e) {
                    self.inner.gate.release(reserved);
                } else {
                    self.inner.gate.keep(reserved);
                }
                self.refusal(&e)
            }
        }
        .into())
    }

    /// Split an entry: one new entry per amount, the remainder stays in `entry`. With
    /// `revocable`, the new entries are delegations this wallet can revoke.
    #[tool(annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true))]
    async fn token_split(
        &self,
        ctx: RequestContext<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
        Parameters(args): Parameters<SplitArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let total = args.amounts.iter().fold(0u64, |t, a| t.saturating_add(*a));
        match self.replay(&args.entry, &self.split_what(&args)).await {
            Ok(Some(result)) => return Ok(result.into()),
            Ok(None) => {}
            Err(e) => return Ok(self.refusal(&e).into()),
        }
        if self.inner.gate.needs_approval(total) {
            let question = format!(
                "Split {} credits from wallet entry `{}` into {} ({})?",
                total,
                args.entry,
                args.into.join(", "),
                if args.revocable { "revocable delegations" } else { "final transfers" }
            );
            let digest =
                call_digest("token_split", &(&args.entry, &args.amounts, &args.into, args.revocable, &args.request_id));
            match self.inner.gate.approve(&ctx, &digest, total, question, state, responses).await {
                Ok(Decision::Go(_)) => {}
                Ok(Decision::Ask(ask)) => return Ok(ask.into()),
                Err(e) => return Ok(self.refusal(&e).into()),
            }
        }
        let this = self.clone();
        let split = blocking(move || this.split(args)).await;
        Ok(split.unwrap_or_else(|e| self.refusal(&e)).into())
    }

    /// Hand an entry to a recipient the host configured: it is written there as a private
    /// file (whose path is returned) and leaves this wallet.
    #[tool(annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = false))]
    async fn token_handoff(
        &self,
        ctx: RequestContext<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
        Parameters(args): Parameters<HandoffArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let inner = self.inner.clone();
        let (entry, recipient) = (args.entry.clone(), args.recipient.clone());
        let prepared = blocking(move || {
            check_name("recipient", &recipient)?;
            let dir = inner
                .config
                .recipients
                .iter()
                .find(|(alias, _)| *alias == recipient)
                .map(|(_, d)| d.clone())
                .ok_or_else(|| {
                    let known: Vec<&str> = inner.config.recipients.iter().map(|(a, _)| a.as_str()).collect();
                    refused(
                        "unknown-recipient",
                        DENIED,
                        format!(
                            "`{recipient}` is not a recipient the host configured (those are: {})",
                            known.join(", ")
                        ),
                    )
                })?;
            let token = inner.wallet.token(&entry)?;
            let m = crumb::token::wire::decode(&token)?;
            // A copy (token_attenuate) shares its original's nonce: whoever holds one can spend
            // or revoke the other. Only a token the wallet holds once may leave it.
            if let Some(nonce) = m.token_id().map(|id| id.nonce) {
                for other in inner.wallet.names()?.into_iter().filter(|n| *n != entry) {
                    let Ok(text) = inner.wallet.token(&other) else { continue };
                    let same = crumb::token::wire::decode(&text)
                        .ok()
                        .and_then(|o| o.token_id())
                        .is_some_and(|id| id.nonce == nonce);
                    if same {
                        return Err(refused(
                            "entry-shared",
                            DENIED,
                            format!(
                                "entry `{other}` holds the same token (an attenuated copy shares its nonce): whoever \
                                 holds one can spend or revoke the other. Hand off a token_split child instead"
                            ),
                        ));
                    }
                }
            }
            let balance = crumb::verify::balance_of(&m);
            Ok((dir, balance))
        })
        .await;
        let (dir, balance) = match prepared {
            Ok(p) => p,
            Err(e) => return Ok(self.refusal(&e).into()),
        };
        let limited = self.inner.gate.limits.budget.is_some() || self.inner.gate.limits.max_cost.is_some();
        let amount = match balance {
            Some(b) => b,
            None if limited => {
                let e = refused(
                    "over-budget",
                    DENIED,
                    "this entry has no balance caveat: its value is unbounded, and the host set limits",
                );
                return Ok(self.refusal(&e).into());
            }
            None => 0,
        };
        let reserved = match self.inner.gate.reserve(amount) {
            Ok(r) => r,
            Err(e) => return Ok(self.refusal(&e).into()),
        };
        if self.inner.gate.needs_approval(amount)
            || (balance.is_none() && self.inner.gate.limits.approve_above.is_some())
        {
            let question = format!("Hand wallet entry `{}` ({} credits) to `{}`?", args.entry, amount, args.recipient);
            let digest = call_digest("token_handoff", &(&args.entry, &args.recipient));
            match self.inner.gate.approve(&ctx, &digest, amount, question, state, responses).await {
                Ok(Decision::Go(_)) => {}
                Ok(Decision::Ask(ask)) => {
                    self.inner.gate.release(reserved);
                    return Ok(ask.into());
                }
                Err(e) => {
                    self.inner.gate.release(reserved);
                    return Ok(self.refusal(&e).into());
                }
            }
        }
        let inner = self.inner.clone();
        let handed = blocking(move || {
            let file = inner.wallet.existing(&args.entry)?;
            let _lock = token_file::lock(&file)?;
            if pending::load(&file)?.is_some() {
                return Err(refused(
                    "in-flight",
                    UNAVAILABLE,
                    "this entry has a payment whose outcome is not saved yet: spend or fetch with it again first",
                ));
            }
            let token = read_token(&file)?;
            let path = wallet::hand_to(&dir, &args.entry, &token)?;
            inner.wallet.remove(&args.entry)?;
            Ok(guard(
                ok(json!({ "entry": args.entry, "recipient": args.recipient, "path": path, "balance": balance })),
                &secrets_of(&token),
            ))
        })
        .await;
        Ok(match handed {
            Ok(result) => {
                self.inner.gate.paid(reserved, amount);
                result
            }
            Err(e) => {
                self.inner.gate.release(reserved);
                self.refusal(&e)
            }
        }
        .into())
    }

    /// Take a token someone handed in (a file in the host's import directory) into the
    /// wallet as a new entry; the file is removed.
    #[tool(annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false))]
    async fn token_receive(&self, Parameters(args): Parameters<ReceiveArgs>) -> CallToolResult {
        let inner = self.inner.clone();
        let received = blocking(move || {
            let dir = inner
                .config
                .import_dir
                .clone()
                .ok_or_else(|| refused("no-import-dir", BAD_INPUT, "the host gave no `--import-dir`"))?;
            let handed = wallet::read_handed_in(&dir, &args.file)?;
            let token = handed.token.clone();
            inner.wallet.store_new(&args.into, &token)?;
            handed.remove()?;
            let m = crumb::token::wire::decode(&token)?;
            let d = crumb::inspect::describe(&m, time::OffsetDateTime::now_utc(), false);
            Ok(guard(
                ok(json!({ "entry": args.into, "balance": d.balance, "expires": d.expires, "nonce": d.identifier.crumb.map(|c| c.nonce) })),
                &secrets_of(&token),
            ))
        })
        .await;
        received.unwrap_or_else(|e| self.refusal(&e))
    }

    /// Revoke a delegation this wallet's lineage made (a child split off with `revocable`):
    /// its whole subtree stops, and its unspent balance returns to this lineage.
    #[tool(annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true))]
    async fn token_revoke(&self, Parameters(args): Parameters<RevokeArgs>) -> CallToolResult {
        let this = self.clone();
        let revoked = blocking(move || {
            if args.nonce.len() != 32 || !args.nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad_input("a nonce is 32 hex digits"));
            }
            let token = this.inner.wallet.token(&args.entry)?;
            let own = crumb::token::wire::decode(&token)?.token_id().map(|id| id.nonce.to_string());
            if own.as_deref() == Some(args.nonce.to_ascii_lowercase().as_str()) {
                // The issuer would take it as revoking the entry itself (by possession): that
                // destroys its balance and its power over what it delegated.
                return Err(refused(
                    "not-revocable",
                    DENIED,
                    format!("that nonce is entry `{}` itself, not a delegation it made", args.entry),
                ));
            }
            let body = json!({ "token": token, "nonce": args.nonce.to_ascii_lowercase() });
            let doc = this.remote()?.post("/v1/revoke", &body)?;
            Ok(answered(doc, &args.entry, &token))
        })
        .await;
        revoked.unwrap_or_else(|e| self.refusal(&e))
    }

    /// Give an entry's unused balance back to the lineage it was split from (a delegate that
    /// finished early); the entry's token is retired (spent). The same request id again
    /// replays the first result.
    #[tool(annotations(read_only_hint = false, destructive_hint = true, idempotent_hint = true))]
    async fn token_give_back(&self, Parameters(args): Parameters<GiveBackArgs>) -> CallToolResult {
        let this = self.clone();
        let given = blocking(move || {
            crumb::limits::check_client_request_id(&args.request_id).map_err(|e| bad_input(e.to_string()))?;
            let file = this.inner.wallet.existing(&args.entry)?;
            let _lock = token_file::lock(&file)?;
            if pending::load(&file)?.is_some() {
                return Err(refused(
                    "in-flight",
                    UNAVAILABLE,
                    "this entry has a payment whose outcome is not saved yet: spend or fetch with it again first",
                ));
            }
            let token = read_token(&file)?;
            let body = json!({ "token": token, "request_id": args.request_id });
            // The entry stays, retired: the same call again re-sends the same give-back, which
            // the issuer answers as before (a retry after a lost reply), and token_status says
            // it is spent.
            let doc = this.remote()?.post("/v1/give-back", &body)?;
            Ok(answered(doc, &args.entry, &token))
        })
        .await;
        given.unwrap_or_else(|e| self.refusal(&e))
    }

    /// Where this entry's credit went: its lineage as its holder may see it (its spends, what
    /// it split off and what became of that).
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn token_lineage(&self, Parameters(args): Parameters<EntryArgs>) -> CallToolResult {
        self.bearer_get("/v1/lineage", args.entry).await
    }

    /// The entry's standing: live, spent, revoked or held; its balance, expiry, and what it
    /// delegated.
    #[tool(annotations(read_only_hint = true, idempotent_hint = true))]
    async fn token_status(&self, Parameters(args): Parameters<EntryArgs>) -> CallToolResult {
        self.bearer_get("/v1/status", args.entry).await
    }

    /// An HTTP request to an API behind crumb's metering proxy, paid from an entry: the proxy
    /// charges the route's price (do not token_spend for it as well); the successor is kept,
    /// and the answer's status (`http_status`), body, cost and balance are returned.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn token_fetch(
        &self,
        ctx: RequestContext<RoleServer>,
        RequestState(state): RequestState,
        InputResponses(responses): InputResponses,
        Parameters(args): Parameters<FetchArgs>,
    ) -> Result<CallToolResponse, ErrorData> {
        let config = &self.inner.config;
        let gate = &self.inner.gate;
        let checked = (|| {
            let origin = origin_of(&args.url).ok_or_else(|| bad_input("the URL is not http(s)://host[:port]/…"))?;
            if !config.allow_origins.iter().any(|o| o.eq_ignore_ascii_case(&origin)) {
                return Err(refused(
                    "origin-not-allowed",
                    DENIED,
                    format!(
                        "{origin} is not an origin the host allowed (those are: {})",
                        config.allow_origins.join(", ")
                    ),
                ));
            }
            if args.body.as_ref().is_some_and(|b| b.len() > MAX_FETCH_BODY) {
                return Err(bad_input(format!("the body is larger than {MAX_FETCH_BODY} bytes")));
            }
            if args.headers.len() > MAX_LIST {
                return Err(bad_input(format!("at most {MAX_LIST} headers")));
            }
            if let Some((name, _)) = args
                .headers
                .iter()
                .find(|(_, v)| v.len() > 8192 || v.bytes().any(|b| b < 0x20 && b != b'\t' || b == 0x7f))
            {
                return Err(bad_input(format!(
                    "header `{}`: its value has control characters or is too long",
                    crumb::inspect::terminal_safe(name)
                )));
            }
            for name in args.headers.keys() {
                let lower = name.to_ascii_lowercase();
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(bad_input(format!("`{}` is not a header name", crumb::inspect::terminal_safe(name))));
                }
                let credential = matches!(lower.as_str(), "authorization" | "cookie" | "proxy-authorization")
                    || lower.starts_with("crumb-")
                    || lower == "idempotency-key";
                let framing = matches!(
                    lower.as_str(),
                    "host"
                        | "content-length"
                        | "transfer-encoding"
                        | "connection"
                        | "keep-alive"
                        | "te"
                        | "trailer"
                        | "upgrade"
                        | "expect"
                        | "proxy-connection"
                );
                if credential || framing {
                    let why = if credential {
                        "the wallet pays with the entry and names the request by request_id"
                    } else {
                        "it frames the connection, which is the HTTP client's to set"
                    };
                    return Err(bad_input(format!("header `{name}` is not allowed: {why}")));
                }
            }
            check_name("entry", &args.entry)?;
            Ok(origin)
        })();
        if let Err(e) = checked {
            return Ok(self.refusal(&e).into());
        }
        let method = args.method.clone().unwrap_or_else(|| if args.body.is_some() { "POST" } else { "GET" }.into());
        let own = pending::What::Request {
            key: args.request_id.clone(),
            explicit: true,
            method: method.clone(),
            url: args.url.clone(),
            host: None,
        };
        match self.replay(&args.entry, &own).await {
            Ok(Some(result)) => return Ok(result.into()),
            Ok(None) => {}
            Err(e) => return Ok(self.refusal(&e).into()),
        }
        // The most this call may cost (the host's cap, what is left of the budget) is set aside
        // and sent as Crumb-Max-Cost, so the proxy refuses a dearer route before it charges.
        let reserved = gate.reserve_most();
        let most = reserved.as_ref().map(Reserved::amount);
        let refuse = |reserved: Option<Reserved>, e: anyhow::Error| {
            if let Some(r) = reserved {
                gate.release(r);
            }
            Ok(self.refusal(&e).into())
        };
        let digest = call_digest(
            "token_fetch",
            &(&args.entry, &args.url, &args.method, &args.body, &args.headers, &args.request_id),
        );
        let mut cap = most;
        if let Some(threshold) = gate.limits.approve_above {
            let approved = if state.is_some() {
                // The answer to the question asked below: the person approved this call at its price.
                gate.approve(&ctx, &digest, 0, String::new(), state, responses).await
            } else {
                // First capped at the threshold, without asking: a dearer route is refused for
                // free and names its price, which the person is then asked about.
                let price = match self.fetch(&args, Some(most.map_or(threshold, |c| c.min(threshold)))).await {
                    Ok(Fetched::Done(result, paid)) => {
                        self.account(reserved, paid);
                        return Ok(result.into());
                    }
                    Ok(Fetched::OverCap { price }) => price,
                    Err(e) => return refuse(reserved, e),
                };
                let question = format!(
                    "Pay {price} credits from wallet entry `{}` for {method} {}?",
                    args.entry,
                    crumb::inspect::terminal_safe(&args.url.chars().take(200).collect::<String>())
                );
                if most.is_some_and(|m| price > m) {
                    Ok(Decision::Go(price))
                } else {
                    gate.approve(&ctx, &digest, price, question, None, None).await
                }
            };
            match approved {
                Ok(Decision::Go(price)) => cap = Some(price),
                Ok(Decision::Ask(ask)) => {
                    if let Some(r) = reserved {
                        gate.release(r);
                    }
                    return Ok(ask.into());
                }
                Err(e) => return refuse(reserved, e),
            }
            if most.is_some_and(|m| cap.is_some_and(|c| c > m)) {
                cap = most;
            }
        }
        Ok(match self.fetch(&args, cap).await {
            Ok(Fetched::Done(result, paid)) => {
                self.account(reserved, paid);
                result
            }
            Ok(Fetched::OverCap { price }) => {
                let e = if gate.limits.max_cost.is_some_and(|m| price > m) {
                    refused(
                        "over-max-cost",
                        DENIED,
                        format!("this request costs {price}, more than the host allows per call; nothing was paid"),
                    )
                } else {
                    refused(
                        "over-budget",
                        DENIED,
                        format!(
                            "this request costs {price}, more than is left of this session's budget; nothing was paid"
                        ),
                    )
                };
                return refuse(reserved, e);
            }
            Err(e) => {
                let paid = if crate::cli::exit::code_for(&e) == BAD_INPUT { Paid::Known(0) } else { Paid::Unknown };
                self.account(reserved, paid);
                self.refusal(&e)
            }
        }
        .into())
    }
}

/// What a paid request cost the wallet.
enum Paid {
    Known(u64),
    /// The request may have been paid: its outcome is pending.
    Unknown,
}

/// What came of one paid request.
enum Fetched {
    Done(CallToolResult, Paid),
    /// The route costs more than the Crumb-Max-Cost sent: nothing was charged.
    OverCap {
        price: u64,
    },
}

impl WalletServer {
    /// A payment this entry's journal already has under this request id: its first result,
    /// as a success (`replayed`), with nothing paid again, no limit applied and no one asked.
    /// `None` when it is new, or an attempt of it is pending (then it is sent again, which
    /// the issuer replays). The same request id for another payment is refused.
    async fn replay(&self, entry: &str, own: &pending::What) -> Result<Option<CallToolResult>> {
        use crate::cli::token_file::journal;
        let (inner, entry, own) = (self.inner.clone(), entry.to_owned(), own.clone());
        blocking(move || {
            let file = inner.wallet.existing(&entry)?;
            let text = read_token(&file)?;
            if pending::is_retry(&file, &text, &own)? {
                return Ok(None);
            }
            let (kind, field) = match &own {
                pending::What::Request { .. } => ("request", "balance"),
                pending::What::Spend { .. } => ("spend", "remaining"),
                pending::What::Split { .. } => ("split", "remaining"),
            };
            let Some(found) = journal::find(&file, kind, own.key())? else { return Ok(None) };
            if found.what != own.journal_what() {
                return Err(refused(
                    "idempotency-key-reused",
                    DENIED,
                    format!("request id {} named another {kind} with this entry ({})", own.key(), found.what),
                ));
            }
            let mut doc = json!({
                "entry": entry,
                "request_id": own.key(),
                "replayed": true,
                "cost": found.cost,
                "moved_on": found.successor != token_file::fingerprint(&text),
            });
            doc[field] = json!(found.balance);
            if kind == "request" {
                doc["http_status"] = json!(found.status);
                doc["note"] = json!("paid before: this is its first result; the answer's body is not stored");
            }
            Ok(Some(ok(doc)))
        })
        .await
    }

    async fn bearer_get(&self, path: &'static str, entry: String) -> CallToolResult {
        let this = self.clone();
        let got = blocking(move || {
            let token = this.inner.wallet.token(&entry)?;
            let doc = this.remote()?.get(path, &token)?;
            Ok(answered(doc, &entry, &token))
        })
        .await;
        got.unwrap_or_else(|e| self.refusal(&e))
    }

    /// Ends a fetch's reservation by what it paid.
    fn account(&self, reserved: Option<Reserved>, paid: Paid) {
        let gate = &self.inner.gate;
        match (reserved, paid) {
            (Some(r), Paid::Known(cost)) => gate.paid(r, cost),
            (Some(r), Paid::Unknown) => gate.keep(r),
            (None, Paid::Known(cost)) => gate.paid(gate.reserve_nothing(), cost),
            (None, Paid::Unknown) => {}
        }
    }

    /// One paid request through `crumb request`'s token-file operation.
    async fn fetch(&self, args: &FetchArgs, cap: Option<u64>) -> Result<Fetched> {
        let this = self.clone();
        let (entry, url, request_id) = (args.entry.clone(), args.url.clone(), args.request_id.clone());
        let method = args.method.clone().unwrap_or_else(|| if args.body.is_some() { "POST" } else { "GET" }.into());
        let mut headers: Vec<(String, String)> = args.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(cap) = cap {
            headers.push(("Crumb-Max-Cost".into(), cap.to_string()));
        }
        headers.push(("User-Agent".into(), format!("crumb-mcp/{}", env!("CARGO_PKG_VERSION"))));
        let body = args.body.clone().map(String::into_bytes);
        blocking(move || {
            let file = this.inner.wallet.existing(&entry)?;
            let before = read_token(&file)?;
            let call = crate::cli::request::Call {
                method,
                url,
                token_file: file.clone(),
                headers,
                body,
                idempotency_key: Some(request_id),
                timeout: this.inner.config.fetch_timeout,
                verbose: false,
            };
            let mut sink = Bounded { kept: Vec::new(), max: this.inner.config.max_body, total: 0 };
            let performed = crate::cli::request::perform(&call, &mut sink)?;
            let after = read_token(&file).unwrap_or_default();
            let replayed = performed.code.as_deref() == Some("already-answered");
            let paid = match performed.cost {
                Some(cost) if after != before && !replayed => Paid::Known(cost),
                // Crumb's word that the outcome is not known yet (the next call recovers it).
                _ if performed.exit == UNAVAILABLE && after == before && !replayed => Paid::Unknown,
                _ => Paid::Known(0),
            };
            let mut secrets = secrets_of(&before);
            secrets.extend(secrets_of(&after));
            let text = String::from_utf8_lossy(&sink.kept).into_owned();
            let doc = json!({
                "entry": entry,
                "http_status": performed.status,
                "cost": performed.cost,
                "balance": performed.balance,
                "body": text,
                "body_bytes": sink.total,
                "truncated": sink.total > sink.kept.len(),
            });
            if let Some(code) = &performed.code {
                if code == "over-max-cost" {
                    let price = performed.problem.as_ref().and_then(|p| p["cost"].as_u64()).unwrap_or(u64::MAX);
                    return Ok(Fetched::OverCap { price });
                }
                if code == "already-answered" {
                    // A retry of a request paid before (its reply was lost: this process was
                    // killed, the host gave up waiting): its result, without the body, which
                    // crumb does not store. Nothing was paid again.
                    let replay = json!({
                        "entry": entry,
                        "replayed": true,
                        "cost": performed.cost,
                        "balance": performed.balance,
                        "note": "paid before: this is its first result; the answer's body is not stored",
                    });
                    return Ok(Fetched::Done(guard(ok(replay), &secrets), Paid::Known(0)));
                }
                let dir = format!("{}/", this.inner.config.wallet_dir.display());
                let refused = json!({
                    "code": code,
                    "message": performed.message.clone().unwrap_or_default().replace(&dir, "wallet entry "),
                    "exit": performed.exit,
                    "http_status": performed.status,
                    "cost": performed.cost,
                    "balance": performed.balance,
                });
                return Ok(Fetched::Done(guard(CallToolResult::structured_error(refused), &secrets), paid));
            }
            if performed.cost.is_none() && performed.balance.is_none() {
                // No receipt: the answer is not from crumb's metering proxy, which received the
                // token itself and may echo it in any encoding.
                let refused = json!({
                    "code": "not-a-crumb-proxy",
                    "message": "the answer carries no Crumb-Cost: it did not come through crumb's metering proxy, and \
                                its body is withheld (it may hold the token)",
                    "exit": DENIED,
                    "http_status": performed.status,
                });
                return Ok(Fetched::Done(CallToolResult::structured_error(refused), paid));
            }
            Ok(Fetched::Done(guard(ok(doc), &secrets), paid))
        })
        .await
    }

    /// A split as its pending record and journal name it.
    fn split_what(&self, args: &SplitArgs) -> pending::What {
        pending::What::Split {
            server: self.inner.config.server.clone(),
            request_id: args.request_id.clone(),
            amounts: args.amounts.clone(),
            into: args.into.clone(),
            revocable: args.revocable,
        }
    }

    /// `token_split`: through the issuer's split, with the wallet's own record of it so a
    /// retry with the same request id never splits twice and never loses a child.
    fn split(&self, args: SplitArgs) -> Result<CallToolResult> {
        use crate::cli::token_file::journal;
        if args.amounts.is_empty() || args.amounts.len() > MAX_LIST || args.amounts.len() != args.into.len() {
            return Err(bad_input(format!("give 1 to {MAX_LIST} amounts, and one new entry name per amount")));
        }
        crumb::limits::check_client_request_id(&args.request_id).map_err(|e| bad_input(e.to_string()))?;
        self.check_server()?;
        let file = self.inner.wallet.existing(&args.entry)?;
        let mut targets: Vec<PathBuf> = Vec::new();
        for name in &args.into {
            let path = self.inner.wallet.path(name)?;
            if name == &args.entry || targets.contains(&path) {
                return Err(bad_input(format!("`{name}` is named twice")));
            }
            targets.push(path);
        }
        let _lock = token_file::lock(&file)?;
        let text = read_token(&file)?;
        let own = self.split_what(&args);
        let retry = pending::is_retry(&file, &text, &own)?;
        if !retry {
            if let Some(record) = pending::load(&file)? {
                if record.token == token_file::fingerprint(&text) {
                    return Err(refused(
                        "in-flight",
                        UNAVAILABLE,
                        format!("this entry has an unfinished {}: finish it first", record.what.describe()),
                    ));
                }
            }
            if let Some(entry) = journal::find(&file, "split", &args.request_id)? {
                if entry.what != own.journal_what() {
                    return Err(refused(
                        "idempotency-key-reused",
                        DENIED,
                        format!("request id {} named another split ({})", args.request_id, entry.what),
                    ));
                }
                return Ok(guard(
                    ok(
                        json!({ "entry": args.entry, "into": args.into, "amounts": args.amounts, "remaining": entry.balance, "replayed": true }),
                    ),
                    &secrets_of(&text),
                ));
            }
            if let Some(taken) = targets.iter().zip(&args.into).find(|(p, _)| p.exists()) {
                return Err(refused(
                    "entry-exists",
                    BAD_INPUT,
                    format!("the wallet already has an entry `{}`", taken.1),
                ));
            }
            pending::save(&file, &pending::new(&text, own.clone()))?;
        }
        let mut argv = self.consume_argv(&file, &args.request_id, &[]);
        for a in &args.amounts {
            argv.push(format!("--amount={a}"));
        }
        if args.revocable {
            argv.push("--revocable".into());
        }
        let split: crate::cli::split::SplitArgs = match parse_args(argv) {
            Ok(s) => s,
            Err(e) => {
                pending::clear(&file)?;
                return Err(e);
            }
        };
        let receipt = match crate::cli::split::split_receipt(&split) {
            Ok(r) => r,
            Err(e) => {
                if crate::cli::spend::decided(&e) {
                    pending::clear(&file)?;
                }
                return Err(e);
            }
        };
        let children = receipt["children"].as_array().cloned().unwrap_or_default();
        if children.len() != args.amounts.len() + 1 {
            return Err(crate::cli::exit::unavailable(
                "the issuer's answer does not have one child per amount and a remainder",
            ));
        }
        let mut secrets = secrets_of(&text);
        let mut made = Vec::new();
        for (child, name) in children.iter().zip(&args.into) {
            let token = child["token"].as_str().unwrap_or_default();
            secrets.extend(secrets_of(token));
            // Committed at the issuer: kept whatever happened to the name meanwhile.
            let kept = self.inner.wallet.keep_committed(name, token)?;
            made.push(json!({
                "entry": kept,
                "balance": child["balance"],
                "nonce": child["nonce"],
                "revocable": child.get("revocable").cloned().unwrap_or(json!(args.revocable)),
            }));
        }
        let remainder = children.last().and_then(|k| k["token"].as_str()).unwrap_or_default().to_owned();
        secrets.extend(secrets_of(&remainder));
        let remaining = children.last().and_then(|k| k["balance"].as_u64());
        pending::keep(&file, &own, &remainder, None, None, remaining)?;
        pending::clear(&file)?;
        Ok(guard(
            ok(json!({ "entry": args.entry, "remaining": remaining, "children": made, "replayed": retry })),
            &secrets,
        ))
    }
}

/// Keeps the first `max` bytes of a body and counts the rest.
struct Bounded {
    kept: Vec<u8>,
    max: usize,
    total: usize,
}

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.max.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&buf[..buf.len().min(room)]);
        self.total += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WalletServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.protocol_version = ProtocolVersion::V_2026_07_28;
        info.server_info = Implementation::new("crumb", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(
            "A wallet of crumb tokens (budgets). Tools name wallet entries, never tokens: list them with \
             wallet_list, pay an API behind crumb's proxy with token_fetch, delegate with token_split and \
             token_handoff. Give every payment a request_id of your own: calling again with the same id never \
             pays twice."
                .into(),
        );
        info
    }
}
