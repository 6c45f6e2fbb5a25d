//! Configuration files, in TOML.
//!
//! **`crumb serve --config FILE`** holds any of `crumb serve`'s settings. Its keys are the long
//! flags without `--` (`listen = "0.0.0.0:7878"`, `price = ["POST /v1/chat=5"]`,
//! `rate-limit-ip = "100/s"`, `no-well-known = true`), read by the flags' own parsers, plus an
//! `[upstream-headers]` table. The order of precedence is flag, then environment variable, then
//! the file, then the built-in default. A flag that may be repeated replaces the file's whole
//! list.
//!
//! **The user's defaults file** (`$XDG_CONFIG_HOME/crumb/config.toml`, normally
//! `~/.config/crumb/config.toml`; `CRUMB_CONFIG` names another, or `CRUMB_CONFIG=` turns it
//! off) holds what operators would otherwise repeat on every command: `key-file` or `keyring`,
//! `ledger`, `server`. It ranks below flags and environment variables, and below a serve
//! file.
//!
//! **Secrets are never inline.** A value that is a secret is a reference: `env:NAME` (an
//! environment variable) or `file:PATH` (a file's contents, trailing newline removed). The
//! reference is resolved at start and again on every reload. Secrets are the values of upstream
//! headers and a ledger URL with a password. A header whose name says it carries a credential
//! (`Authorization`, `*-Key`, `*Token*`, `*Secret*`, `Cookie`…) with an inline value is
//! refused, and so is a ledger URL with an inline password. A file that does not parse, an
//! unknown key, or a value its flag refuses is an error (exit 2) that names the file and the
//! key: a typo never falls back silently to a default.

use super::exit::bad_input;
use anyhow::Result;
use axum::http::{HeaderName, HeaderValue};
use clap::parser::ValueSource;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use zeroize::Zeroizing;

/// Larger than any configuration: a file past it is refused before it is parsed.
const MAX_FILE: u64 = 1 << 20;

/// Where a secret comes from: `env:NAME` or `file:PATH`; anything else is the value itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Env(String),
    File(PathBuf),
    Inline,
}

impl Reference {
    /// [`Reference::of`], a relative `file:` path taken from `base` (the configuration file's
    /// directory), not from wherever the server was started.
    pub fn of_in(text: &str, base: &Path) -> Reference {
        match Reference::of(text) {
            Reference::File(path) if path.is_relative() => Reference::File(base.join(path)),
            other => other,
        }
    }

    pub fn of(text: &str) -> Reference {
        if let Some(name) = text.strip_prefix("env:") {
            Reference::Env(name.to_owned())
        } else if let Some(path) = text.strip_prefix("file:") {
            Reference::File(PathBuf::from(path))
        } else {
            Reference::Inline
        }
    }

    /// The secret `text` names (or `text` itself, when inline). `what` says whose it is, for
    /// the error.
    fn resolve(&self, text: &str, what: &str) -> Result<Zeroizing<String>> {
        match self {
            Reference::Inline => Ok(Zeroizing::new(text.to_owned())),
            Reference::Env(name) => std::env::var(name)
                .map(Zeroizing::new)
                .map_err(|_| bad_input(format!("{what}: the environment variable {name} is not set"))),
            Reference::File(path) => {
                let bytes = read_bounded(path).map_err(|e| bad_input(format!("{what}: {e}")))?;
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| bad_input(format!("{what}: {} is not UTF-8 text", path.display())))?;
                let text = Zeroizing::new(text);
                Ok(Zeroizing::new(text.strip_suffix('\n').unwrap_or(&text).trim_end_matches('\r').to_owned()))
            }
        }
    }

    /// How a secret's source is shown: the reference, never the value.
    fn shown(&self) -> String {
        match self {
            Reference::Env(name) => format!("env:{name}"),
            Reference::File(path) => format!("file:{}", path.display()),
            Reference::Inline => "(inline)".into(),
        }
    }
}

/// Reads a whole file of at most [`MAX_FILE`] bytes.
fn read_bounded(path: &Path) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    use std::io::Read;
    let reason = |e: std::io::Error| format!("cannot read {}: {}", path.display(), crumb::error::io_reason(&e));
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // A FIFO would block the open (and a reload, and the shutdown behind it) for good.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(reason)?;
    if !file.metadata().map_err(reason)?.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {}", path.display(), crumb::error::io_reason(&e)))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(format!("{} is larger than {MAX_FILE} bytes", path.display()));
    }
    Ok(bytes)
}

fn parse_toml(path: &Path) -> Result<toml::Table> {
    let bytes = read_bounded(path).map_err(bad_input)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| bad_input(format!("{} is not UTF-8 text", path.display())))?;
    text.parse::<toml::Table>().map_err(|e| {
        // The position and the parser's words, not the line itself: a file given by mistake
        // (a key, a password file) must not be echoed into a log.
        let line = e.span().map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        bad_input(format!("{}: not valid TOML{at}: {}", path.display(), e.message()))
    })
}

/// The directory a configuration file's relative paths are taken from.
fn base_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Refuses an upstream header crumb must own: one that frames the message or names the
/// connection (a second `Content-Length` or `Transfer-Encoding` could split the request in
/// two), the `Host`, or the forwarding and request-id headers crumb itself sets.
pub fn check_upstream_header_name(name: &HeaderName) -> std::result::Result<(), String> {
    const OWNED: &[&str] = &[
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "forwarded",
        "x-request-id",
        "idempotency-key",
    ];
    let lower = name.as_str();
    if OWNED.contains(&lower) || lower.starts_with("x-forwarded-") || lower.starts_with("crumb-") {
        return Err(format!("{name} is set by crumb (or frames the request): it cannot be injected"));
    }
    Ok(())
}

/// Whether a header's name says its value is a credential: such a value must be a reference.
pub fn names_a_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie")
        || ["key", "token", "secret", "password", "auth", "credential", "signature"].iter().any(|w| name.contains(w))
}

/// Whether a ledger location carries a password inline (a URL's `user:password@`, or a
/// `password=` parameter).
pub(super) fn inline_password(location: &str) -> bool {
    let Some((_, rest)) = location.split_once("://") else {
        return location.contains("password=");
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let userinfo = authority.rsplit_once('@').map(|(u, _)| u).unwrap_or("");
    userinfo.contains(':') || rest.contains("password=")
}

/// A ledger location from a file: a reference is resolved; an inline password is refused.
fn ledger_location(text: &str, what: &str, base: &Path) -> Result<(Zeroizing<String>, Reference)> {
    let reference = Reference::of_in(text, base);
    if reference == Reference::Inline && inline_password(text) {
        return Err(bad_input(format!(
            "{what}: the ledger URL has a password inline; put the URL in the environment (`ledger = \"env:DATABASE_URL\"`) \
             or a private file (`ledger = \"file:/etc/crumb/ledger-url\"`)"
        )));
    }
    let resolved = reference.resolve(text, what)?;
    if reference != Reference::Inline && !crumb::ledger::is_postgres_url(&resolved) {
        // Only a database URL can hold a secret; anything else would be taken for a file name
        // (and shown as one).
        return Err(bad_input(format!(
            "{what}: a reference must hold a postgres:// URL (a SQLite path is no secret: write it inline)"
        )));
    }
    crumb::ledger::check_location(&resolved).map_err(|e| bad_input(format!("{what}: {e}")))?;
    Ok((resolved, reference))
}

/// Where the keys and the ledger come from, when a configuration file names them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    /// A key file (`false`) or a keyring (`true`).
    pub key: Option<(PathBuf, bool)>,
    /// The ledger as resolved, and how it was written (a reference, or inline).
    pub ledger: Option<(Zeroizing<String>, Reference)>,
    /// The `--server` commands talk to.
    pub server: Option<String>,
}

impl Sources {
    /// Takes `key-file`, `keyring`, `ledger` (and `server` when `server` is true) out of
    /// `table`, read from `file`.
    fn take(table: &mut toml::Table, file: &Path, server: bool) -> Result<Sources> {
        let mut string = |key: &str| -> Result<Option<String>> {
            match table.remove(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(s)),
                Some(_) => Err(bad_input(format!("{}: `{key}` is a non-empty string", file.display()))),
            }
        };
        let key_file = string("key-file")?;
        let keyring = string("keyring")?;
        let ledger = string("ledger")?;
        let server = if server { string("server")? } else { None };
        let key = match (key_file, keyring) {
            (Some(_), Some(_)) => {
                return Err(bad_input(format!("{}: give `key-file` or `keyring`, not both", file.display())))
            }
            (Some(f), None) => Some((PathBuf::from(f), false)),
            (None, Some(r)) => Some((PathBuf::from(r), true)),
            (None, None) => None,
        };
        let ledger = match ledger {
            Some(text) => Some(ledger_location(&text, &format!("{}: `ledger`", file.display()), &base_of(file))?),
            None => None,
        };
        Ok(Sources { key, ledger, server })
    }
}

/// The serve file's sources, set once at start (they change only with a restart).
static SERVE_SOURCES: OnceLock<Sources> = OnceLock::new();

/// The user's defaults file, read once: `Err` when it exists but is not valid.
static USER_SOURCES: OnceLock<std::result::Result<(Option<PathBuf>, Sources), String>> = OnceLock::new();

/// Where the user's defaults file is: `CRUMB_CONFIG`, else the XDG config directory. `None`:
/// turned off (`CRUMB_CONFIG=`), or no home to find one in.
pub fn user_file() -> Option<PathBuf> {
    match std::env::var_os("CRUMB_CONFIG") {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(PathBuf::from(path)),
        None => dirs::config_dir().map(|d| d.join("crumb").join("config.toml")),
    }
}

fn user_sources() -> Result<&'static (Option<PathBuf>, Sources)> {
    let loaded = USER_SOURCES.get_or_init(|| {
        let Some(path) = user_file() else { return Ok((None, Sources::default())) };
        // Named by CRUMB_CONFIG, it must exist; the default location may well not.
        if !path.exists() && std::env::var_os("CRUMB_CONFIG").is_none() {
            return Ok((None, Sources::default()));
        }
        let read = || -> Result<Sources> {
            let mut table = parse_toml(&path)?;
            let sources = Sources::take(&mut table, &path, true)?;
            if let Some(key) = table.keys().next() {
                return Err(bad_input(format!(
                    "{}: unknown setting `{key}` (this file holds key-file, keyring, ledger and server; \
                     serve's settings go in a file given to `crumb serve --config`)",
                    path.display()
                )));
            }
            Ok(sources)
        };
        read().map(|s| (Some(path.clone()), s)).map_err(|e| super::exit::message(&e))
    });
    loaded.as_ref().map_err(|e| bad_input(e.clone()))
}

/// The serve file's sources in force, if a serve file gave any.
pub fn serve_sources() -> Option<&'static Sources> {
    SERVE_SOURCES.get()
}

/// The key file or keyring a configuration file names: the serve file's, else the user's.
pub fn key_source() -> Result<Option<(PathBuf, bool)>> {
    if let Some(key) = SERVE_SOURCES.get().and_then(|s| s.key.clone()) {
        return Ok(Some(key));
    }
    Ok(user_sources()?.1.key.clone())
}

/// The ledger a configuration file names: the serve file's, else the user's.
pub fn ledger() -> Result<Option<String>> {
    if let Some((ledger, _)) = SERVE_SOURCES.get().and_then(|s| s.ledger.as_ref()) {
        return Ok(Some(ledger.to_string()));
    }
    Ok(user_sources()?.1.ledger.as_ref().map(|(l, _)| l.to_string()))
}

/// The `--server` the user's defaults file names.
pub fn server() -> Result<Option<String>> {
    Ok(user_sources()?.1.server.clone())
}

/// A `crumb serve --config` file, read and checked against the serve command's flags.
pub struct ServeFile {
    pub path: PathBuf,
    /// Each setting that maps onto a flag: its arg id, and its values as the flag takes them.
    settings: Vec<(String, Vec<String>)>,
    pub sources: Sources,
    /// `[upstream-headers]`: each name, its value's source, and the value resolved.
    pub upstream_headers: Vec<(HeaderName, Reference, HeaderValue)>,
}

/// Flags that are not settings: the file cannot hold them.
const NOT_SETTINGS: &[&str] = &["config", "check", "help", "version", "key-fd"];

impl ServeFile {
    /// Reads `path` and checks each setting with the flag's own parser, against `cmd` (the
    /// serve command).
    pub fn load(path: &Path, cmd: &clap::Command) -> Result<ServeFile> {
        let mut table = parse_toml(path)?;
        let where_ = |key: &str| format!("{}: `{key}`", path.display());
        let sources = Sources::take(&mut table, path, false)?;
        let upstream_headers = match table.remove("upstream-headers") {
            None => Vec::new(),
            Some(toml::Value::Table(headers)) => {
                let headers: Vec<(HeaderName, Reference, HeaderValue)> = headers
                    .into_iter()
                    .map(|(name, value)| upstream_header(&name, &value, &where_("upstream-headers"), &base_of(path)))
                    .collect::<Result<_>>()?;
                // Names are case-insensitive: `X-A` and `x-a` would be one header, sent once.
                for (i, (name, _, _)) in headers.iter().enumerate() {
                    if headers[..i].iter().any(|(n, _, _)| n == name) {
                        return Err(bad_input(format!("{}: {name} is given twice", where_("upstream-headers"))));
                    }
                }
                headers
            }
            Some(_) => {
                return Err(bad_input(format!("{} is a table of `Name = \"value\"`", where_("upstream-headers"))))
            }
        };
        let mut settings = Vec::new();
        for (key, value) in table {
            if key == "upstream-header" {
                return Err(bad_input(format!(
                    "{}: write the upstream's headers as an `[upstream-headers]` table, with each secret an \
                     `env:NAME` or `file:PATH` reference",
                    where_(&key)
                )));
            }
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(key.as_str()) && !NOT_SETTINGS.contains(&key.as_str()))
                .ok_or_else(|| {
                    bad_input(format!(
                        "{}: unknown setting (the settings are `crumb serve`'s long flags without `--`; see `crumb serve --help`)",
                        where_(&key)
                    ))
                })?;
            let values = values_for(arg, &value).map_err(|why| bad_input(format!("{}: {why}", where_(&key))))?;
            if !matches!(arg.get_action(), clap::ArgAction::SetTrue) {
                // The flag's own parser, alone: its message then names the file's key.
                let mut alone_arg =
                    clap::Arg::new("value").long(key.clone()).value_parser(arg.get_value_parser().clone());
                if let Some(names) = arg.get_value_names() {
                    alone_arg = alone_arg.value_names(names.iter().cloned());
                }
                let alone = clap::Command::new("crumb").no_binary_name(true).arg(alone_arg);
                for v in &values {
                    alone.clone().try_get_matches_from([format!("--{key}={v}")]).map_err(|e| {
                        let reason = e.render().to_string();
                        let mut lines = reason.lines();
                        let mut reason = lines.next().unwrap_or("").trim_start_matches("error: ").to_owned();
                        if let Some(values) = lines.map(str::trim).find(|l| l.starts_with("[possible values")) {
                            reason = format!("{reason} {values}");
                        }
                        bad_input(format!("{}: {reason}", where_(&key)))
                    })?;
                }
            }
            settings.push((arg.get_id().to_string(), values));
        }
        Ok(ServeFile { path: path.to_owned(), settings, sources, upstream_headers })
    }

    /// `cmd` with the file's settings as its defaults: what a flag or its environment variable
    /// does not set, the file does.
    pub fn apply(&self, mut cmd: clap::Command) -> clap::Command {
        for (id, values) in &self.settings {
            let values: Vec<clap::builder::OsStr> = values.iter().map(|v| v.clone().into()).collect();
            cmd = cmd.mut_arg(id, |a| a.default_values(values));
        }
        cmd
    }

    /// Puts the file's key and ledger sources in force for this process (once: they change
    /// only with a restart).
    pub fn install_sources(&self) {
        let _ = SERVE_SOURCES.set(self.sources.clone());
    }
}

/// A TOML value as the values of `arg`: a string, number or boolean is one, an array of them
/// is several (for a flag that may be repeated).
fn values_for(arg: &clap::Arg, value: &toml::Value) -> std::result::Result<Vec<String>, String> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err("a string, a whole number or true/false".to_string()),
    };
    let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
    let many = matches!(arg.get_action(), clap::ArgAction::Append);
    match value {
        toml::Value::Boolean(_) if flag => Ok(vec![scalar(value)?]),
        _ if flag => Err("true or false".into()),
        toml::Value::Array(items) if many => items.iter().map(scalar).collect(),
        toml::Value::Array(_) => Err("one value, not a list".into()),
        // `trust-proxy = "10.0.0.0/8,127.0.0.1"`, as the flag takes it.
        toml::Value::String(text) if arg.get_value_delimiter().is_some() => {
            let delimiter = arg.get_value_delimiter().unwrap_or(',');
            Ok(text.split(delimiter).map(str::to_owned).collect())
        }
        _ => Ok(vec![scalar(value)?]),
    }
}

/// One `[upstream-headers]` entry: a credential must be a reference.
fn upstream_header(
    name: &str,
    value: &toml::Value,
    what: &str,
    base: &Path,
) -> Result<(HeaderName, Reference, HeaderValue)> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| bad_input(format!("{what}: `{name}` is not a header name")))?;
    check_upstream_header_name(&header).map_err(|why| bad_input(format!("{what}: {why}")))?;
    let toml::Value::String(text) = value else {
        return Err(bad_input(format!("{what}: {name} is a string")));
    };
    let reference = Reference::of_in(text, base);
    if reference == Reference::Inline && names_a_credential(name) {
        return Err(bad_input(format!(
            "{what}: {name} looks like a credential and is written inline; use `env:NAME` or `file:PATH`"
        )));
    }
    let resolved = reference.resolve(text, &format!("{what}: {name}"))?;
    if resolved.is_empty() {
        return Err(bad_input(format!("{what}: {name}: the value is empty ({})", reference.shown())));
    }
    let mut value = HeaderValue::from_str(&resolved)
        .map_err(|_| bad_input(format!("{what}: {name}: the value is not a valid header value")))?;
    value.set_sensitive(true);
    Ok((header, reference, value))
}

/// Each setting of a parsed serve command line: its values as given (raw), and where they came
/// from. Two of these are compared to tell what a reload changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub values: BTreeMap<String, (Vec<OsString>, Option<ValueSource>)>,
}

impl Effective {
    pub fn of(cmd: &clap::Command, matches: &clap::ArgMatches) -> Effective {
        let mut values = BTreeMap::new();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let raw = matches.get_raw(id).map(|vs| vs.map(|v| v.to_owned()).collect::<Vec<_>>()).unwrap_or_default();
            values.insert(id.to_owned(), (raw, matches.value_source(id)));
        }
        Effective { values }
    }

    /// The ids whose values differ between `self` and `other`.
    pub fn changed(&self, other: &Effective) -> Vec<String> {
        let ids: std::collections::BTreeSet<&String> = self.values.keys().chain(other.values.keys()).collect();
        ids.into_iter()
            .filter(|id| self.values.get(*id).map(|v| &v.0) != other.values.get(*id).map(|v| &v.0))
            .cloned()
            .collect()
    }
}

/// Renders the effective configuration as the TOML a `--config` file would hold, each line
/// with where its value came from, and no secret: headers and passwords are shown by their
/// reference or as `(not shown)`.
pub fn render(
    cmd: &clap::Command,
    effective: &Effective,
    file: Option<&ServeFile>,
    keys: Option<(PathBuf, bool, &str)>,
    ledger: (&str, &str),
    flag_headers: &[String],
) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let key = |s: &str| {
        if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            s.to_owned()
        } else {
            quote(s)
        }
    };
    let mut out = String::new();
    match file {
        Some(f) => out.push_str(&format!("# crumb serve: the effective configuration, from {}\n", f.path.display())),
        None => out.push_str("# crumb serve: the effective configuration\n"),
    }
    match keys {
        Some((path, keyring, from)) => out.push_str(&format!(
            "{} = {}  # {from}\n",
            if keyring { "keyring" } else { "key-file" },
            quote(&path.display().to_string())
        )),
        None => out.push_str("# keys: from a descriptor or a prompt, or made on first run\n"),
    }
    out.push_str(&format!("ledger = {}  # {}\n", quote(ledger.0), ledger.1));
    let skip = ["key_file", "keyring", "key_fd", "ledger", "config", "check", "help", "version", "upstream_headers"];
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if skip.contains(&id) || arg.is_hide_set() {
            continue;
        }
        let Some((raw, source)) = effective.values.get(id) else { continue };
        let from = match source {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "environment",
            Some(ValueSource::DefaultValue) if file.is_some_and(|f| f.settings.iter().any(|(i, _)| i == id)) => "file",
            Some(ValueSource::DefaultValue) => "default",
            _ => "not set",
        };
        let texts: Vec<String> = raw.iter().map(|v| quote(&v.to_string_lossy())).collect();
        let many = matches!(arg.get_action(), clap::ArgAction::Append);
        let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        let value = if flag {
            raw.first().map(|v| v.to_string_lossy().into_owned()).unwrap_or_else(|| "false".into())
        } else if many && !texts.is_empty() {
            format!("[{}]", texts.join(", "))
        } else if let Some(v) = texts.first() {
            v.clone()
        } else {
            out.push_str(&format!("# {long}: not set\n"));
            continue;
        };
        out.push_str(&format!("{long} = {value}  # {from}\n"));
    }
    let from_file = file.map(|f| f.upstream_headers.as_slice()).unwrap_or_default();
    if !from_file.is_empty() || !flag_headers.is_empty() {
        out.push_str("\n[upstream-headers]\n");
        for name in flag_headers {
            out.push_str(&format!("{} = \"(not shown)\"  # flag\n", key(name)));
        }
        for (name, reference, _) in from_file {
            if !flag_headers.is_empty() {
                break;
            }
            let shown = match reference {
                Reference::Inline => "(inline)".to_owned(),
                r => r.shown(),
            };
            out.push_str(&format!("{} = {}  # file\n", key(name.as_str()), quote(&shown)));
        }
    }
    out
}

/// How a ledger location from a file is shown: its reference when it was one.
pub fn shown_ledger(location: &str) -> Result<(String, &'static str)> {
    let shown = |reference: &Reference| match reference {
        Reference::Inline => crumb::ledger::redact_url(location),
        r => format!("{} ({})", crumb::ledger::redact_url(location), r.shown()),
    };
    if let Some((_, reference)) = SERVE_SOURCES.get().and_then(|s| s.ledger.as_ref()) {
        return Ok((shown(reference), "file"));
    }
    if let Some((_, reference)) = user_sources()?.1.ledger.as_ref() {
        return Ok((shown(reference), "defaults file"));
    }
    Ok((crumb::ledger::redact_url(location), "default"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_credentials() {
        assert_eq!(Reference::of("env:X"), Reference::Env("X".into()));
        assert_eq!(Reference::of("file:/a"), Reference::File("/a".into()));
        assert_eq!(Reference::of("Bearer x"), Reference::Inline);
        for name in ["Authorization", "X-Api-Key", "api-key", "X-Auth-Token", "Cookie", "OpenAI-Secret"] {
            assert!(names_a_credential(name), "{name}");
        }
        for name in ["X-Org", "Accept", "OpenAI-Organization"] {
            assert!(!names_a_credential(name), "{name}");
        }
    }

    #[test]
    fn inline_passwords_are_found() {
        assert!(inline_password("postgres://crumb:hunter2@db/crumb"));
        assert!(inline_password("postgresql://db/crumb?password=x"));
        assert!(inline_password("host=db password=x"));
        assert!(!inline_password("postgres://crumb@db/crumb"));
        assert!(!inline_password("postgres://crumb@db:5432/crumb?sslmode=require"));
        assert!(!inline_password("/var/lib/crumb/ledger.sqlite3"));
    }
}
