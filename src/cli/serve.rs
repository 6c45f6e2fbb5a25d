//! `crumb serve`: start the HTTP service. The only command that starts an async runtime.

use super::args::{parse_timeout, KeyArgs};
use super::config::{Effective, ServeFile};
use super::exit::{bad_input, unavailable, OK};
use super::ledger_args::LedgerArgs;
use super::paths;
use crate::serve::{self, AppState, Audit, Metrics};
use anyhow::{Context as _, Result};
use axum::http::{HeaderName, HeaderValue};
use clap::Args;
use crumb::ledger::OpenOptions;
use crumb::{Keyring, RootKey};
use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Serve the JSON API over HTTP, or meter an API as a reverse proxy (--upstream).
///
/// With no key given it uses the default key file, creating a development key there on first
/// run, and the default ledger: `crumb serve` alone is a working issuer on this machine.
///
/// The JSON API is /v1/verify, /v1/spend, /v1/split, /v1/revoke, /v1/lineage, /v1/authz
/// (forward auth for nginx, Envoy, Traefik, Caddy), /healthz and /metrics. With --upstream
/// every request on --listen goes to the upstream, priced by --price, and the JSON API moves
/// to --admin-listen.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Read the settings from this TOML file: keys are these flags' long names without `--`,
    /// plus an `[upstream-headers]` table whose secrets are `env:NAME` or `file:PATH`
    /// references. A flag or its environment variable overrides the file. Re-read on SIGHUP.
    #[arg(long, env = "CRUMB_SERVE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Check the configuration, print it as it would run (no secret shown) and exit: 0 when
    /// it is valid, 2 when not. Nothing is bound, created or opened.
    #[arg(long)]
    check: bool,
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long, env = "CRUMB_LISTEN", default_value = "127.0.0.1:7878", value_name = "ADDR")]
    listen: SocketAddr,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    ledger: LedgerArgs,
    /// Append one JSON line per decision to this file.
    #[arg(long, env = "CRUMB_AUDIT_LOG", value_name = "PATH")]
    audit_log: Option<PathBuf>,
    /// Believe X-Forwarded-For from peers in these networks (your proxies), e.g.
    /// `10.0.0.0/8,127.0.0.1`: the client is the rightmost hop that is not one of them.
    #[arg(long, env = "CRUMB_TRUST_PROXY", value_name = "CIDR,...", value_delimiter = ',', num_args = 1)]
    trust_proxy: Vec<crumb::caveat::IpNet>,
    /// Per-request timeout (reading the body, the work, the answer): `10`, `10s`, `1m`.
    #[arg(long, env = "CRUMB_TIMEOUT", default_value = "10s", value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Duration,
    /// Requests per client address (the peer, or the client a --trust-proxy names): `N/s`,
    /// `N/m`, `N/h` (a burst of N, refilled over the period), or `off`. Over it: 429 with
    /// Retry-After. /healthz, /readyz and /metrics are never limited.
    #[arg(long, env = "CRUMB_RATE_LIMIT_IP", default_value = "100/s", value_name = "RATE", value_parser = serve::parse_rate)]
    rate_limit_ip: serve::RateSetting,
    /// Requests per token, counted per tree (copies, and the successors and split children
    /// this server issued, count with the token they came from): `N/s`, `N/m`, `N/h`, or `off`.
    #[arg(long, env = "CRUMB_RATE_LIMIT_TOKEN", default_value = "20/s", value_name = "RATE", value_parser = serve::parse_rate)]
    rate_limit_token: serve::RateSetting,
    /// The server's own log lines on stderr: `text`, or `json` (one object per line, for a log
    /// collector). Colour only on a terminal, and never with NO_COLOR set.
    #[arg(long, env = "CRUMB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    log_format: LogFormat,
    /// Open connections at most; at the cap the oldest idle one is closed to make room.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_connections: usize,
    /// How long a client may take to send a request's headers, or sit idle between requests.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_timeout)]
    header_timeout: Duration,
    /// How long an answer may wait for the client to read it (a stalled reader's connection
    /// is closed).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_timeout)]
    send_timeout: Duration,
    /// How long shutdown waits for in-flight requests before closing their connections.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_timeout)]
    shutdown_grace: Duration,
    /// Serve HTTPS: the certificate chain (PEM, leaf first) for --listen and --admin-listen.
    /// Re-read with --tls-key on SIGHUP (a renewed certificate needs no restart).
    #[arg(long, env = "CRUMB_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert; a private file (0600).
    #[arg(long, env = "CRUMB_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(flatten)]
    metering: MeteringArgs,
}

/// Metering: the price list, the reverse proxy and forward auth.
#[derive(Args, Debug)]
#[command(next_help_heading = "Metering")]
struct MeteringArgs {
    /// Meter this API: every request on --listen is priced, paid for and passed on to URL
    /// (http:// beside the API, or https:// with the certificate verified). The JSON API moves
    /// to --admin-listen.
    #[arg(long, env = "CRUMB_UPSTREAM", value_name = "URL")]
    upstream: Option<String>,
    /// Trust only the CA certificates in FILE (PEM) for an https:// upstream, instead of the
    /// Mozilla roots built into crumb.
    #[arg(long, env = "CRUMB_UPSTREAM_CA", value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Price a route: `METHOD /path=COST` (`*` for any method; a path covers what lies below
    /// it, by whole segments; the most specific rule wins); repeatable.
    #[arg(long = "price", value_name = "RULE")]
    prices: Vec<crumb::price::Rule>,
    /// Read price rules from FILE, one per line (`#` comments).
    #[arg(long = "prices", env = "CRUMB_PRICES", value_name = "FILE")]
    price_file: Option<PathBuf>,
    /// What to do with a request no rule prices: deny it (403), or let it through without a token.
    #[arg(long, env = "CRUMB_UNPRICED", value_enum, default_value_t = UnpricedArg::Deny, value_name = "POLICY")]
    unpriced: UnpricedArg,
    /// A header added to every upstream request, `Name: value`; `${VAR}` expands from the
    /// environment (keep the upstream's credentials out of argv); repeatable.
    #[arg(long = "upstream-header", value_name = "HEADER")]
    upstream_headers: Vec<String>,
    /// How long the upstream may take to start answering, or pause in the middle of an answer.
    #[arg(long, env = "CRUMB_UPSTREAM_TIMEOUT", default_value = "60s", value_name = "DURATION", value_parser = parse_timeout)]
    upstream_timeout: Duration,
    /// With --upstream: serve the JSON API, /healthz, /metrics and /openapi.json here.
    #[arg(long, env = "CRUMB_ADMIN_LISTEN", value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    /// With --upstream: do not serve the holder routes (verify, split, revoke, give-back,
    /// status, lineage) under /.well-known/crumb/v1/ on --listen. The prefix is never passed
    /// to the upstream either way.
    #[arg(long)]
    no_well_known: bool,
    /// The audience of every metered request, for `aud` caveats (default: the request's Host,
    /// without port, which the client chooses).
    #[arg(long, env = "CRUMB_AUDIENCE", value_name = "NAME")]
    audience: Option<String>,
    /// The realm of the `WWW-Authenticate: Crumb` payment challenge.
    #[arg(long, default_value = "crumb", value_name = "NAME")]
    realm: String,
    /// What /v1/authz does with a priced request: spend it, or verify only.
    #[arg(long, value_enum, default_value_t = AuthzModeArg::Spend, value_name = "MODE")]
    authz_mode: AuthzModeArg,
    /// The status /v1/authz answers when payment is needed: 401 (nginx passes only 401 and
    /// 403 on) or 402.
    #[arg(long, default_value_t = 401, value_name = "STATUS", value_parser = clap::builder::TypedValueParser::map(clap::builder::PossibleValuesParser::new(["401", "402"]), |s| s.parse::<u16>().expect("listed")))]
    authz_payment_status: u16,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum UnpricedArg {
    Deny,
    Free,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum AuthzModeArg {
    Spend,
    Verify,
}

impl MeteringArgs {
    fn pricing(&self) -> Result<serve::Pricing> {
        let mut rules = self.prices.clone();
        if let Some(path) = &self.price_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                bad_input(format!("cannot read the price file {}: {}", path.display(), crumb::error::io_reason(&e)))
            })?;
            let from_file = crumb::price::PriceTable::parse_file(&text)
                .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
            rules.extend(from_file);
        }
        let table = crumb::price::PriceTable::new(rules).map_err(|e| bad_input(e.to_string()))?;
        let unpriced = match self.unpriced {
            UnpricedArg::Deny => serve::Unpriced::Deny,
            UnpricedArg::Free => serve::Unpriced::Free,
        };
        if let Some(name) = &self.audience {
            crumb::limits::check_fact("audience", name).map_err(|e| bad_input(e.to_string()))?;
        }
        // The realm is quoted into the WWW-Authenticate challenge: a token's characters only
        // (RFC 9110 §11.2), or the header could not be sent.
        if self.realm.is_empty()
            || !self.realm.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~ ".contains(&b))
        {
            return Err(bad_input("--realm: letters, digits, spaces and !#$%&'*+-.^_`|~ only"));
        }
        Ok(serve::Pricing { table, unpriced, realm: self.realm.clone(), audience: self.audience.clone() })
    }

    fn authz(&self) -> serve::AuthzOptions {
        serve::AuthzOptions {
            mode: match self.authz_mode {
                AuthzModeArg::Spend => serve::AuthzMode::Spend,
                AuthzModeArg::Verify => serve::AuthzMode::Verify,
            },
            payment_status: axum::http::StatusCode::from_u16(self.authz_payment_status).expect("401 or 402"),
        }
    }

    fn upstream(&self, headers: Vec<(HeaderName, HeaderValue)>) -> Result<Option<serve::Upstream>> {
        let Some(url) = &self.upstream else {
            if self.admin_listen.is_some() || !headers.is_empty() || self.upstream_ca.is_some() || self.no_well_known {
                return Err(bad_input(
                    "--admin-listen, --upstream-header (or [upstream-headers]), --upstream-ca and --no-well-known go with --upstream",
                ));
            }
            return Ok(None);
        };
        let ca = match &self.upstream_ca {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| bad_input(format!("--upstream-ca {}: cannot read it: {e}", path.display())))?,
            ),
            None => None,
        };
        serve::Upstream::new(url, headers, self.upstream_timeout, ca.as_deref()).map(Some).map_err(bad_input)
    }
}

/// Parses `Name: value`, expanding `${VAR}` from the environment; an unset variable is an
/// error (an upstream credential left empty would fail every request, or worse, none).
fn upstream_header(text: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) =
        text.split_once(':').ok_or_else(|| bad_input("--upstream-header is `Name: value`".to_string()))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| bad_input(format!("--upstream-header: `{}` is not a header name", name.trim())))?;
    super::config::check_upstream_header_name(&name).map_err(|why| bad_input(format!("--upstream-header: {why}")))?;
    if super::config::names_a_credential(name.as_str()) && !value.contains("${") {
        // The command line is visible to every user of the machine (ps, /proc).
        return Err(bad_input(format!(
            "--upstream-header {name} looks like a credential: take it from the environment (`{name}: Bearer ${{VAR}}`) \
             or a config file's `file:` reference, never the command line"
        )));
    }
    let mut expanded = String::new();
    let mut rest = value.trim();
    while let Some(start) = rest.find("${") {
        expanded.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or_else(|| bad_input("--upstream-header: `${` without `}`"))?;
        let var = &rest[start + 2..start + end];
        let value = std::env::var(var)
            .map_err(|_| bad_input(format!("--upstream-header {name}: the environment variable {var} is not set")))?;
        expanded.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    expanded.push_str(rest);
    let mut value = HeaderValue::from_str(&expanded)
        .map_err(|_| bad_input(format!("--upstream-header {name}: the value is not a valid header value")))?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// How many requests may use the ledger at once: read connections, and PostgreSQL's pool
/// (two replicas stay under PostgreSQL's default of 100 connections).
const LEDGER_CONCURRENCY: usize = 32;

/// The keys to serve with; on a bare machine, a development key made on the spot.
fn keys(args: &KeyArgs) -> Result<Keyring> {
    let nothing_named = args.key_file.is_none()
        && args.key_fd.is_none()
        && args.keyring.is_none()
        && std::env::var_os("CRUMB_KEY_FILE").is_none()
        && std::env::var_os("CRUMB_KEYRING").is_none()
        // A key a configuration file names is named: a missing one is an error, not a reason
        // to make another.
        && super::config::key_source()?.is_none();
    let default = paths::default_key_file()?;
    if nothing_named && !default.exists() {
        let key = RootKey::generate()?;
        crumb::key::write_key_file(&default, &key, false)?;
        eprintln!(
            "crumb: created a development key {} at {}; mint a token with it: `crumb mint --balance 100`",
            key.key_id(),
            default.display()
        );
    }
    args.load()
}

/// A serve command line as it runs: the arguments, with a `--config` file's settings under
/// them, and what each setting is and where it came from.
struct Loaded {
    args: ServeArgs,
    effective: Effective,
    file: Option<ServeFile>,
    command: clap::Command,
}

/// Parses `argv` (the process's own) as `crumb serve`, with the settings of the `--config` file
/// (`config`) as the defaults its flags override. Run at start and again on every reload.
fn load(argv: &[OsString], config: Option<&std::path::Path>) -> Result<Loaded> {
    use clap::FromArgMatches;
    let serve = super::single_subcommand("serve").expect("serve is a subcommand");
    let file = config.map(|path| ServeFile::load(path, &serve)).transpose()?;
    let serve = match &file {
        Some(f) => f.apply(serve),
        None => serve,
    };
    let cmd = super::root().subcommand(serve.clone());
    let matches = cmd.try_get_matches_from(argv).map_err(|e| bad_input(e.render().to_string()))?;
    let sub = matches.subcommand_matches("serve").ok_or_else(|| bad_input("not a serve command line"))?;
    let args = ServeArgs::from_arg_matches(sub).map_err(|e| bad_input(e.render().to_string()))?;
    // Shown in the definition's order (a changed default moves an argument to the end).
    let command = super::single_subcommand("serve").expect("serve is a subcommand");
    Ok(Loaded { effective: Effective::of(&serve, sub), args, file, command })
}

/// The settings a reload puts in force without a restart (clap ids); every other setting is
/// fixed at start.
const RELOADABLE: &[&str] =
    &["prices", "price_file", "unpriced", "audience", "realm", "upstream_headers", "rate_limit_ip", "rate_limit_token"];

/// What a reload replaces: each value whole.
struct Reloadable {
    pricing: serve::Pricing,
    headers: Vec<(HeaderName, HeaderValue)>,
    rates: (Option<serve::Rate>, Option<serve::Rate>),
}

impl Loaded {
    /// The upstream's injected headers: the `--upstream-header` flags when given (they replace
    /// the file's whole table, as every repeated flag replaces the file's list), else the
    /// file's `[upstream-headers]`, references resolved now.
    fn upstream_headers(&self) -> Result<Vec<(HeaderName, HeaderValue)>> {
        let flags =
            self.args.metering.upstream_headers.iter().map(|h| upstream_header(h)).collect::<Result<Vec<_>>>()?;
        if !flags.is_empty() {
            return Ok(flags);
        }
        Ok(self
            .file
            .iter()
            .flat_map(|f| f.upstream_headers.iter())
            .map(|(name, _, value)| (name.clone(), value.clone()))
            .collect())
    }

    fn reloadable(&self) -> Result<Reloadable> {
        Ok(Reloadable {
            pricing: self.args.metering.pricing()?,
            headers: self.upstream_headers()?,
            rates: (self.args.rate_limit_ip.0, self.args.rate_limit_token.0),
        })
    }
}

/// `crumb serve --check`: the configuration as it would run, on stdout; an invalid one is an
/// error (exit 2). Nothing is bound, made or opened.
fn check(loaded: &Loaded) -> Result<u8> {
    let reloadable = loaded.reloadable()?;
    let upstream_given = loaded.args.metering.upstream.is_some();
    loaded.args.metering.upstream(if upstream_given { Vec::new() } else { reloadable.headers.clone() })?;
    if upstream_given {
        // Builds the client (a CA file that does not read is an error here too).
        loaded.args.metering.upstream(reloadable.headers)?;
    }
    let key = &loaded.args.key;
    let keys = match key.source()? {
        Some((path, keyring)) => {
            key.load()?;
            let from = if key.keyring.is_some() || key.key_file.is_some() {
                "flag"
            } else if std::env::var_os("CRUMB_KEY_FILE").is_some_and(|v| !v.is_empty())
                || std::env::var_os("CRUMB_KEYRING").is_some_and(|v| !v.is_empty())
            {
                "environment"
            } else if loaded.file.as_ref().is_some_and(|f| f.sources.key.is_some()) {
                "file"
            } else if super::config::key_source()?.is_some() {
                "defaults file"
            } else {
                "default"
            };
            Some((path, keyring, from))
        }
        None => None,
    };
    let location = loaded.args.ledger.location()?;
    crumb::ledger::check_location(&location).map_err(|e| bad_input(e.to_string()))?;
    let (ledger, from) = if loaded.args.ledger.ledger.is_some() {
        (crumb::ledger::redact_url(&location), "flag")
    } else if std::env::var_os("CRUMB_LEDGER").is_some_and(|l| !l.is_empty()) {
        (crumb::ledger::redact_url(&location), "environment")
    } else {
        super::config::shown_ledger(&location)?
    };
    let flag_headers: Vec<String> = loaded
        .args
        .metering
        .upstream_headers
        .iter()
        .filter_map(|h| h.split_once(':').map(|(n, _)| n.trim().to_owned()))
        .collect();
    let text = super::config::render(
        &loaded.command,
        &loaded.effective,
        loaded.file.as_ref(),
        keys,
        (&ledger, from),
        &flag_headers,
    );
    outln!("{}", text.trim_end())?;
    Ok(OK)
}

/// Re-reads the configuration (the `--config` file, the price file, the references) and puts
/// what changed in force: the price table, the upstream's headers, the rate limits. A change
/// to anything else (the listeners, the ledger, the keys' source, the timeouts...) takes a
/// restart: then nothing is reloaded, and the configuration in force stays.
async fn reload(state: &AppState, argv: &[OsString], config: Option<&std::path::Path>, current: &mut Effective) {
    let argv = argv.to_vec();
    let config = config.map(|p| p.to_owned());
    let loaded = tokio::task::spawn_blocking(move || {
        let loaded = load(&argv, config.as_deref())?;
        let reloadable = loaded.reloadable()?;
        Ok::<_, anyhow::Error>((loaded, reloadable))
    })
    .await;
    let (loaded, reloadable) = match loaded {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            tracing::error!(error = %crate::cli::exit::message(&e), "configuration not reloaded: the configuration in force stays");
            return;
        }
        Err(_) => {
            tracing::error!("configuration not reloaded: the reload failed");
            return;
        }
    };
    let changed = current.changed(&loaded.effective);
    // Logged by their flags' names, as the file and the command line write them.
    let long = |id: &String| {
        loaded.command.get_arguments().find(|a| a.get_id() == id).and_then(|a| a.get_long()).unwrap_or(id).to_owned()
    };
    let fixed: Vec<&String> = changed.iter().filter(|id| !RELOADABLE.contains(&id.as_str())).collect();
    let sources_moved = loaded.file.as_ref().map(|f| &f.sources) != super::config::serve_sources();
    if !fixed.is_empty() || sources_moved {
        let mut names: Vec<String> = fixed.iter().map(|id| long(id)).collect();
        if sources_moved {
            names.push("key-file/keyring/ledger".into());
        }
        tracing::error!(
            settings = %names.join(", "),
            "configuration not reloaded: these settings change only with a restart; the configuration in force stays (keys, TLS certificate and audit log are reloaded on their own)"
        );
        return;
    }
    if state.upstream.is_none() && !reloadable.headers.is_empty() {
        tracing::error!(
            "configuration not reloaded: upstream headers without --upstream; the configuration in force stays"
        );
        return;
    }
    state.pricing.store(Arc::new(reloadable.pricing));
    if let Some(upstream) = &state.upstream {
        upstream.set_headers(reloadable.headers);
    }
    state.rate_limits.set(reloadable.rates.0, reloadable.rates.1);
    let names: Vec<String> = changed.iter().map(long).collect();
    tracing::info!(changed = %names.join(", "), "configuration reloaded");
    *current = loaded.effective;
}

/// How often a server looks at its key file for a change (a rotation, a retirement).
const KEY_WATCH: std::time::Duration = std::time::Duration::from_secs(1);

/// What identifies one version of a file: replaced atomically, it gets a new inode.
fn file_stamp(path: &std::path::Path) -> Option<(u64, u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.ino(), meta.size(), meta.modified().ok()?))
}

/// What the server reloads, and from where.
struct Reloads {
    key_args: crate::cli::args::KeyArgs,
    /// The key file or keyring, when the keys came from one.
    key_file: Option<std::path::PathBuf>,
    argv: Vec<OsString>,
    config: Option<std::path::PathBuf>,
    effective: Effective,
    /// The listeners' certificate, re-read on SIGHUP.
    tls: Option<Arc<serve::Tls>>,
}

/// Keeps the server current. On SIGHUP: the audit log is reopened (logrotate), the
/// configuration reloaded ([`reload`]) and the keys re-read. Whenever the key file changes
/// (looked at every [`KEY_WATCH`]): the keys are re-read, so a key retired or added with
/// `crumb keygen --keyring` is in force within about a second, without a restart. A file that
/// no longer reads is refused with a log line, and what is in force stays.
async fn keep_current(state: Arc<AppState>, mut reloads: Reloads, mut hangup: tokio::signal::unix::Signal) {
    let path = reloads.key_file.clone();
    let mut seen = path.as_deref().and_then(file_stamp);
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                // logrotate renames the audit log, then signals: write on to a new file.
                if let Some(audit) = &state.audit {
                    audit.reopen();
                }
                reload(&state, &reloads.argv, reloads.config.as_deref(), &mut reloads.effective).await;
                if let Some(tls) = reloads.tls.clone() {
                    match tokio::task::spawn_blocking(move || {
                        super::args::warn_if_readable(tls.key_path());
                        tls.reload()
                    })
                    .await
                    {
                        Ok(Ok(())) => tracing::info!("TLS certificate reloaded"),
                        Ok(Err(e)) => tracing::error!(error = %e, "TLS certificate not reloaded: the certificate in force stays"),
                        Err(_) => tracing::error!("TLS certificate not reloaded: the reload failed"),
                    }
                }
            }
            _ = tokio::time::sleep(KEY_WATCH) => {
                let now = path.as_deref().and_then(file_stamp);
                if path.is_none() || now == seen {
                    continue;
                }
            }
        }
        let Some(file) = path.clone() else {
            tracing::debug!("SIGHUP: the keys came from a descriptor or a prompt; they are not re-read");
            continue;
        };
        seen = file_stamp(&file);
        let args = reloads.key_args.clone();
        match tokio::task::spawn_blocking(move || args.load()).await {
            Ok(Ok(keys)) => {
                let current = keys.current().map(|k| k.id.clone()).unwrap_or_else(|_| "none".into());
                let ids: Vec<String> = keys.keys.iter().filter(|k| k.retired.is_none()).map(|k| k.id.clone()).collect();
                state.issuer.replace_keys(keys);
                tracing::info!(file = %file.display(), current = %current, usable = ?ids, "keys reloaded");
            }
            Ok(Err(e)) => {
                tracing::error!(file = %file.display(), error = %crate::cli::exit::message(&e), "keys not reloaded: the keys in force stay");
            }
            Err(_) => tracing::error!("keys not reloaded: the reload failed"),
        }
    }
}

/// The format of the server's own log lines (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Whether to colour output that goes to a terminal (`terminal`): not when NO_COLOR
/// (`no_color`) is set to anything but the empty string (no-color.org).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

pub fn run(args: ServeArgs) -> Result<u8> {
    // The command line again, with the --config file's settings under its flags: the same
    // parse a reload makes.
    let argv: Vec<OsString> = std::env::args_os().collect();
    let loaded = load(&argv, args.config.as_deref())?;
    if let Some(file) = &loaded.file {
        file.install_sources();
    }
    if loaded.args.check {
        return check(&loaded);
    }
    // The configuration first (a mistake in it is bad input, exit 2), then the ports: a server
    // that cannot listen must leave nothing behind (no development key made for nothing).
    let Reloadable { pricing, headers, rates } = loaded.reloadable()?;
    let upstream = loaded.args.metering.upstream(headers)?;
    let Loaded { args, effective, .. } = loaded;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            super::args::warn_if_readable(key);
            Some(Arc::new(serve::Tls::new(cert, key).map_err(bad_input)?))
        }
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bind = |addr: SocketAddr| {
        std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| unavailable(format!("cannot listen on {addr}: {e}")))
    };
    let listener = bind(args.listen)?;
    let admin = args.metering.admin_listen.map(bind).transpose()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime.enable_all().build().context("cannot start the async runtime")?;
    // SIGHUP means "reload the keys" from the start: its default would end the process, even
    // while the ledger is still being opened.
    let hangup = {
        let _entered = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("cannot install the SIGHUP handler")?
    };
    // Trusting every peer lets any client name its own address in X-Forwarded-For, and with
    // it pass `ip` caveats and per-address limits: an operator's slip, refused.
    if let Some(all) = args.trust_proxy.iter().find(|net| net.prefix() == 0) {
        return Err(bad_input(format!(
            "--trust-proxy {all} trusts every peer, so any client could choose its own address with \
             X-Forwarded-For: list your proxies' networks (e.g. 10.0.0.0/8)"
        )));
    }
    let keys = keys(&args.key)?;
    let key_file = args.key.source_file()?;
    let ledger_location = crumb::ledger::redact_url(&args.ledger.location()?);
    // Opened outside the async runtime (on this thread, not a worker): PostgreSQL's blocking
    // client runs a runtime of its own, which must never start on an async worker.
    let ledger = args.ledger.open_with(OpenOptions::concurrent(LEDGER_CONCURRENCY))?;
    let audit = match &args.audit_log {
        Some(p) => {
            // Keyed by the current root key: replicas agree, a reader of the log cannot test ids.
            let digest_key = match keys.current() {
                Ok(entry) => crumb::token::chain::hmac_secret(entry.key.expose(), b"crumb audit request id v1"),
                Err(_) => {
                    let mut random = [0u8; 32];
                    getrandom::getrandom(&mut random)
                        .map_err(|e| unavailable(format!("the random source failed: {e}")))?;
                    random
                }
            };
            Some(Audit::open(p, digest_key).with_context(|| format!("cannot open the audit log {}", p.display()))?)
        }
        None => None,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CRUMB_LOG").unwrap_or_else(|_| "crumb=info,warn".into());
    let logs = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match args.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => {
            let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
            logs.with_ansi(colour(terminal, std::env::var_os("NO_COLOR"))).init()
        }
    }
    if upstream.is_some() && admin.is_none() {
        // The public listener forwards every path: without an admin listener nothing answers
        // a health check, a readiness probe or a scrape.
        eprintln!(
            "crumb: no --admin-listen: this proxy serves no /healthz, /readyz or /metrics; add --admin-listen 127.0.0.1:PORT"
        );
    }
    if upstream.is_none() && pricing.table.rules().iter().any(|r| r.usage.is_some()) {
        // Forward auth answers before the API does: it never sees the usage.
        eprintln!("crumb: forward auth charges an `upto` rule its hold: measured usage needs the proxy (--upstream)");
    }
    if upstream.is_some() && pricing.table.is_empty() && pricing.unpriced == serve::Unpriced::Deny {
        eprintln!("crumb: no --price given: every proxied request will be refused (403 unpriced)");
    }
    let metrics = Metrics::default();
    let backend = if ledger_location.starts_with("postgres") { "postgres" } else { "sqlite" };
    let ledger: Arc<dyn crumb::ledger::Ledger> = Arc::new(serve::MeasuredLedger::new(ledger, metrics.ledger(backend)));
    let state = Arc::new(AppState {
        issuer: crumb::Issuer::new(keys, ledger),
        metrics,
        audit,
        trusted_proxies: args.trust_proxy.clone(),
        timeout: args.timeout,
        pricing: arc_swap::ArcSwap::from_pointee(pricing),
        authz: args.metering.authz(),
        upstream,
        well_known: !args.metering.no_well_known,
        rate_limits: serve::RateLimits::new(rates.0, rates.1),
    });
    // The issuer (its ledger connections) is dropped after the runtime, never on it:
    // PostgreSQL's blocking client may not be dropped on an async worker either.
    let keep = state.clone();
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let admin = admin.map(tokio::net::TcpListener::from_std).transpose()?;
        let addr = listener.local_addr()?;
        let shutdown = serve::shutdown_signal()?;
        let reloads = Reloads {
            key_args: args.key.clone(),
            key_file,
            argv,
            config: args.config.clone(),
            effective,
            tls: tls.clone(),
        };
        tokio::spawn(keep_current(state.clone(), reloads, hangup));
        let pruned = state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                pruned.rate_limits.prune();
            }
        });
        outln!("listening on {scheme}://{addr}")?;
        if let Some(admin) = &admin {
            outln!("admin listening on {scheme}://{}", admin.local_addr()?)?;
        }
        std::io::stdout().flush()?;
        tracing::info!(%addr, ledger = %ledger_location, "crumb serving");
        let limits = serve::Limits {
            max_connections: args.max_connections.max(1),
            header_timeout: args.header_timeout,
            send_timeout: args.send_timeout,
            shutdown_grace: args.shutdown_grace,
        };
        let failed = |e: std::io::Error| unavailable(format!("server failed: {e}"));
        if state.upstream.is_none() {
            return serve::run(listener, serve::app(state), limits, tls, shutdown).await.map_err(failed);
        }
        // Two listeners, one shutdown: the signal stops both.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let on_stop = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let admin_task = admin.map(|admin| {
            tokio::spawn(serve::run(admin, serve::admin_app(state.clone()), limits, tls.clone(), on_stop()))
        });
        let traffic = tokio::spawn(serve::run(listener, serve::proxy_app(state), limits, tls, on_stop()));
        shutdown.await;
        let _ = stop.send(true);
        traffic.await.map_err(|e| unavailable(format!("server failed: {e}")))?.map_err(failed)?;
        if let Some(task) = admin_task {
            task.await.map_err(|e| unavailable(format!("server failed: {e}")))?.map_err(failed)?;
        }
        Ok(())
    });
    drop(runtime);
    drop(keep);
    served?;
    Ok(OK)
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())), "an empty NO_COLOR is unset (no-color.org)");
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }
}
