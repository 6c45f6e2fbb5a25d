//! Argument groups shared by several subcommands, and turning them into library values.

use super::exit::bad_input;
use super::paths;
use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use crumb::token::wire::{self, MAX_TOKEN_TEXT};
use crumb::{Context, Format, KeyFormat, Keyring, Macaroon, RootKey};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The token a command works on: an argument or `--token-file` (the usage line shows them as
/// alternatives, `<TOKEN|--token-file <FILE>>`).
#[derive(Args, Debug, Clone)]
#[group(id = "token_source", required = true, multiple = false)]
pub struct TokenArg {
    /// The token (v1, v2 or JSON, any base64 alphabet); `-` reads it from standard input.
    #[arg(value_name = "TOKEN")]
    pub token: Option<String>,
    /// Read the token from FILE instead (`-`: standard input).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

impl TokenArg {
    /// `--token-file -` is standard input, the same as the argument `-`: no file to replace.
    pub fn stdin_file_as_argument(&mut self) {
        if self.token_file.as_deref().is_some_and(|p| p.as_os_str() == "-") {
            self.token_file = None;
            self.token = Some("-".into());
        }
    }

    pub fn read_text(&self) -> Result<String> {
        match (&self.token, &self.token_file) {
            (_, Some(path)) if path.as_os_str() == "-" => read_limited(std::io::stdin().lock(), "standard input"),
            (_, Some(path)) => read_limited_file(path),
            (Some(t), None) if t == "-" => read_limited(std::io::stdin().lock(), "standard input"),
            (Some(t), None) => Ok(t.clone()),
            (None, None) => Err(bad_input("no token given")),
        }
    }

    pub fn decode(&self) -> Result<Macaroon> {
        decode_token(&self.read_text()?)
    }
}

pub fn decode_token(text: &str) -> Result<Macaroon> {
    Ok(wire::decode(text)?)
}

fn read_limited(reader: impl Read, what: &str) -> Result<String> {
    let mut text = String::new();
    reader
        .take(MAX_TOKEN_TEXT as u64 + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read the token from {what}"))
        .map_err(|e| bad_input(format!("{e:#}")))?;
    if text.len() > MAX_TOKEN_TEXT {
        return Err(crumb::error::DecodeError::TooLarge { len: text.len(), max: MAX_TOKEN_TEXT }.into());
    }
    Ok(text)
}

pub fn read_limited_file(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| bad_input(format!("cannot open {}: {e}", path.display())))?;
    read_limited(file, &path.display().to_string())
}

/// A token named by itself or by its ledger nonce (revoke, lineage).
#[derive(Args, Debug, Clone)]
pub struct NonceTarget {
    /// The token (or give --nonce); `-` reads it from standard input.
    #[arg(value_name = "TOKEN", conflicts_with_all = ["nonce", "token_file"])]
    pub token: Option<String>,
    /// Read the token from FILE (`-`: standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "nonce")]
    pub token_file: Option<PathBuf>,
    /// The token's nonce (32 hex digits).
    #[arg(long, value_name = "HEX")]
    pub nonce: Option<String>,
}

impl NonceTarget {
    /// The nonce named by `--nonce`, or by the token given as argument or file.
    pub fn nonce(&self) -> Result<crumb::token::identifier::Nonce> {
        if let Some(hex) = &self.nonce {
            return crumb::token::identifier::Nonce::parse_hex(hex)
                .ok_or_else(|| bad_input(format!("`{hex}` is not a 32-hex-digit nonce")));
        }
        if self.token.is_none() && self.token_file.is_none() {
            return Err(bad_input("give a token, --token-file or --nonce"));
        }
        let token = TokenArg { token: self.token.clone(), token_file: self.token_file.clone() }.decode()?;
        token
            .token_id()
            .map(|id| id.nonce)
            .ok_or_else(|| bad_input("this token was not minted by crumb: it has no nonce"))
    }
}

/// Key formats on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum KeyFormatArg {
    #[default]
    Hex,
    Raw,
    Base64,
}

impl From<KeyFormatArg> for KeyFormat {
    fn from(f: KeyFormatArg) -> Self {
        match f {
            KeyFormatArg::Hex => KeyFormat::Hex,
            KeyFormatArg::Raw => KeyFormat::Raw,
            KeyFormatArg::Base64 => KeyFormat::Base64,
        }
    }
}

/// Where the root key comes from. Never from an argument that carries the secret itself.
#[derive(Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// Root key file [env: CRUMB_KEY_FILE]. Default: the configuration file's `key-file` or
    /// `keyring`, else the key `crumb keygen` wrote.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Read the root key from this open file descriptor (for scripts that pipe secrets).
    #[arg(long, value_name = "N")]
    pub key_fd: Option<u32>,
    /// How the key's bytes are written.
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub key_format: KeyFormatArg,
    /// A keyring of several keys (rotation) [env: CRUMB_KEYRING].
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key_file", "key_fd"])]
    pub keyring: Option<PathBuf>,
}

impl KeyArgs {
    /// The keys to sign or verify with, by the documented order of precedence.
    pub fn load(&self) -> Result<Keyring> {
        let format: KeyFormat = self.key_format.into();
        let ring = |path: &Path| -> Result<Keyring> {
            warn_if_readable(path);
            Ok(Keyring::load(path)?)
        };
        let file = |path: &Path| -> Result<Keyring> {
            warn_if_readable(path);
            Ok(Keyring::single(crumb::key::read_key_file(path, format)?))
        };
        if let Some(path) = &self.keyring {
            return ring(path);
        }
        if let Some(path) = &self.key_file {
            return file(path);
        }
        if let Some(fd) = self.key_fd {
            return read_key_fd(fd, format).map(Keyring::single);
        }
        if let Some(path) = std::env::var_os("CRUMB_KEY_FILE").filter(|p| !p.is_empty()) {
            return file(Path::new(&path));
        }
        if let Some(path) = std::env::var_os("CRUMB_KEYRING").filter(|p| !p.is_empty()) {
            return ring(Path::new(&path));
        }
        // A configuration file ranks below flags and the environment (super::config).
        if let Some((path, keyring)) = super::config::key_source()? {
            return if keyring { ring(&path) } else { file(&path) };
        }
        let default = paths::default_key_file()?;
        if default.exists() {
            if let Some(dir) = default.parent() {
                paths::check_data_dir(dir)?;
            }
            paths::check_owned(&default)?;
            return file(&default);
        }
        if std::io::stdin().is_terminal() {
            return prompt_key(format).map(Keyring::single);
        }
        Err(bad_input(format!(
            "no root key: pass --key-file, --key-fd or --keyring, set CRUMB_KEY_FILE, or run `crumb keygen` to create {}",
            default.display()
        )))
    }
}

impl KeyArgs {
    /// The file [`KeyArgs::load`] reads the keys from, when they come from one (a keyring or
    /// a key file; not a descriptor or a prompt, which can be read once): what a server
    /// re-reads to pick up a rotation. Follows `load`'s order of precedence.
    pub fn source_file(&self) -> Result<Option<PathBuf>> {
        Ok(self.source()?.map(|(path, _)| path))
    }

    /// [`KeyArgs::source_file`], and whether it is a keyring (`true`) or a key file.
    pub fn source(&self) -> Result<Option<(PathBuf, bool)>> {
        if let Some(path) = &self.keyring {
            return Ok(Some((path.clone(), true)));
        }
        if let Some(path) = &self.key_file {
            return Ok(Some((path.clone(), false)));
        }
        if self.key_fd.is_some() {
            return Ok(None);
        }
        for (var, keyring) in [("CRUMB_KEY_FILE", false), ("CRUMB_KEYRING", true)] {
            if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
                return Ok(Some((PathBuf::from(path), keyring)));
            }
        }
        if let Some(source) = super::config::key_source()? {
            return Ok(Some(source));
        }
        let default = paths::default_key_file()?;
        Ok(default.exists().then_some((default, false)))
    }
}

/// Warns (on stderr) about a key file others can read; world-writable ones are refused when
/// read. age-keygen warns the same way; the secret may be out already, so say how to fix it.
pub fn warn_if_readable(path: &Path) {
    if let Some(w) = crumb::key::permission_warning(path) {
        eprintln!("crumb: warning: {w}");
    }
}

/// A token minted with another key than the one given is refused as `unknown-key` (exit 1),
/// the same verdict whether the keys came from a key file or a keyring, said plainly: "this
/// token was minted with key id X; the verifier's key is Y".
pub fn check_key_matches(keys: &Keyring, token: &Macaroon) -> Result<()> {
    match keys.key_for(&token.identifier) {
        Err(e @ crumb::error::KeyError::WrongKey { .. }) => {
            Err(crumb::Error::Denied(crumb::Denial::new(crumb::DenialCode::UnknownKey, e.to_string())).into())
        }
        _ => Ok(()),
    }
}

fn read_key_fd(fd: u32, format: KeyFormat) -> Result<RootKey> {
    // Opening /dev/fd/N keeps this free of unsafe code.
    let path = PathBuf::from(format!("/dev/fd/{fd}"));
    let mut material = Zeroizing::new(Vec::new());
    std::fs::File::open(&path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut material))
        .map_err(|e| bad_input(format!("cannot read a key from file descriptor {fd}: {e}")))?;
    Ok(RootKey::parse(&material, format)?)
}

fn prompt_key(format: KeyFormat) -> Result<RootKey> {
    let typed = Zeroizing::new(
        rpassword::prompt_password(format!("Root key ({}): ", format.name()))
            .map_err(|e| bad_input(format!("cannot read the key from the terminal: {e}")))?,
    );
    Ok(RootKey::parse(typed.as_bytes(), format)?)
}

/// Output formats on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FormatArg {
    /// v1 binary, base64url (pymacaroons, libmacaroons)
    V1,
    /// v2 binary, base64url without padding
    #[default]
    V2,
    /// v2 JSON
    Json,
    /// v1 JSON
    #[value(name = "v1-json")]
    V1Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::V1 => Format::V1,
            FormatArg::V2 => Format::V2,
            FormatArg::Json => Format::Json,
            FormatArg::V1Json => Format::JsonV1,
        }
    }
}

pub fn encode(m: &Macaroon, f: FormatArg) -> Result<String> {
    Ok(wire::encode(m, f.into())?)
}

/// The facts of the request a token is checked against.
#[derive(Args, Debug, Clone, Default)]
pub struct RequestArgs {
    /// The action requested (checked by `action` caveats).
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// The resource requested (checked by `resource` caveats).
    #[arg(long, value_name = "PATH")]
    pub resource: Option<String>,
    /// The client's address (checked by `ip` caveats).
    #[arg(long, value_name = "ADDR")]
    pub ip: Option<std::net::IpAddr>,
    /// The audience verifying the token (checked by `aud` caveats).
    #[arg(long, value_name = "A")]
    pub aud: Option<String>,
    /// An application fact NAME=VALUE (checked by `NAME = …` caveats); repeatable.
    #[arg(long = "context", value_name = "NAME=VALUE", value_parser = parse_context_pair)]
    pub context: Vec<(String, String)>,
    /// Check as of this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub at: Option<OffsetDateTime>,
}

impl RequestArgs {
    pub fn context(&self, cost: u64) -> Result<Context> {
        let mut ctx = Context::at(self.at.unwrap_or_else(OffsetDateTime::now_utc));
        ctx.action = self.action.clone();
        ctx.resource = self.resource.clone();
        ctx.ip = self.ip;
        ctx.aud = self.aud.clone();
        ctx.cost = cost;
        ctx.values = self.values()?;
        Ok(ctx)
    }

    /// The `--context` facts by name. A name given twice is refused: which value the request
    /// has is not for crumb to pick.
    pub fn values(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let mut values = std::collections::BTreeMap::new();
        for (name, value) in &self.context {
            if values.insert(name.clone(), value.clone()).is_some() {
                return Err(bad_input(format!(
                    "--context {name}=… is given twice: which value does the request have?"
                )));
            }
        }
        Ok(values)
    }
}

/// Discharges and exact predicates: what a verifier accepts besides crumb's caveat language.
#[derive(Args, Debug, Clone, Default)]
pub struct SatisfyArgs {
    /// A caveat satisfied by exact string match (libmacaroons' satisfy_exact); repeatable.
    #[arg(long, value_name = "CAVEAT")]
    pub exact: Vec<String>,
    /// Satisfy nothing but the --exact strings (libmacaroons' verifier semantics).
    #[arg(long)]
    pub only_exact: bool,
    /// A discharge macaroon bound to the token (`crumb bind`); repeatable. On the command
    /// line other local users can read it: prefer --discharge-file.
    #[arg(long, value_name = "TOKEN")]
    pub discharge: Vec<String>,
    /// Read discharges from FILE, one per line (`-`: standard input); repeatable.
    #[arg(long, value_name = "FILE")]
    pub discharge_file: Vec<PathBuf>,
}

impl SatisfyArgs {
    /// Every discharge given, as text: flags first, then files in order. Their number is
    /// bounded before any is decoded.
    pub fn discharge_texts(&self) -> Result<Vec<String>> {
        let mut texts = self.discharge.clone();
        for path in &self.discharge_file {
            let content = if path.as_os_str() == "-" {
                read_limited(std::io::stdin().lock(), "standard input")?
            } else {
                read_limited_file(path)?
            };
            texts.extend(content.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned));
            if texts.len() > crumb::limits::MAX_DISCHARGES {
                break;
            }
        }
        if texts.len() > crumb::limits::MAX_DISCHARGES {
            return Err(super::exit::refused(
                "too-many-discharges",
                super::exit::BAD_INPUT,
                format!(
                    "{} discharges given; a token is presented with at most {}",
                    texts.len(),
                    crumb::limits::MAX_DISCHARGES
                ),
            ));
        }
        Ok(texts)
    }

    pub fn discharges(&self) -> Result<Vec<Macaroon>> {
        self.discharge_texts()?
            .iter()
            .enumerate()
            .map(|(i, d)| {
                wire::decode(d).map_err(|e| {
                    super::exit::refused("malformed-discharge", super::exit::BAD_INPUT, format!("discharge {i}: {e}"))
                })
            })
            .collect()
    }

    pub fn verifier<'k>(&self, keys: &'k Keyring) -> crumb::Verifier<'k> {
        crumb::Verifier::new(keys)
            .with_exact(self.exact.iter().map(|e| e.as_bytes().to_vec()))
            .only_exact(self.only_exact)
    }

    /// The issuer for `keys` and `ledger` (none: offline), with these exact predicates.
    pub fn issuer(&self, keys: Keyring, ledger: Option<std::sync::Arc<dyn crumb::ledger::Ledger>>) -> crumb::Issuer {
        let issuer = match ledger {
            Some(l) => crumb::Issuer::new(keys, l),
            None => crumb::Issuer::offline(keys),
        };
        issuer.with_exact(self.exact.iter().map(|e| e.as_bytes().to_vec()).collect(), self.only_exact)
    }
}

fn parse_context_pair(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once('=').ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    if name.is_empty() {
        return Err(format!("`{s}` has an empty name"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

pub fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|e| format!("`{s}` is not an RFC 3339 time: {e}"))
}

/// A duration: `90s`, `15m`, `2h`, `7d`, `1w`, or several together (`1h30m`, `2d12h`); a bare
/// number is seconds. At most 100 years.
pub fn parse_duration(s: &str) -> Result<time::Duration, String> {
    let bad = || format!("`{s}` is not a duration like 90s, 15m, 1h30m, 7d");
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = s.parse::<i64>() {
        return checked_seconds(s, Some(secs));
    }
    let mut total: Option<i64> = Some(0);
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit = rest[digits..].chars().next().ok_or_else(bad)?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("`{s}`: a unit is s, m, h, d or w")),
        };
        total = total.and_then(|t| n.checked_mul(seconds).and_then(|x| t.checked_add(x)));
        rest = &rest[digits + 1..];
    }
    checked_seconds(s, total)
}

fn checked_seconds(s: &str, seconds: Option<i64>) -> Result<time::Duration, String> {
    seconds
        .filter(|&t| t <= 100 * 365 * 86_400)
        .map(time::Duration::seconds)
        .ok_or_else(|| format!("`{s}` is too long"))
}

/// A duration above zero (an expiry of `0s` would mint a token that never worked).
pub fn parse_positive_duration(s: &str) -> Result<time::Duration, String> {
    let d = parse_duration(s)?;
    if d <= time::Duration::ZERO {
        return Err(format!("`{s}` is not a positive duration"));
    }
    Ok(d)
}

/// A number of credit units (`--balance`, `--cost`, `--amount`): a whole number from 0 to
/// 2^63 − 1, with the cause said plainly (`-5` is not "an invalid digit", it is negative).
pub fn parse_units(s: &str) -> Result<u64, String> {
    let n: u64 = match s.trim().parse::<i128>() {
        Ok(n) if n < 0 => return Err(format!("`{s}` is negative: credit is a whole number of units, 0 or more")),
        Ok(n) => u64::try_from(n).map_err(|_| format!("`{s}` is more than {}", crumb::limits::MAX_AMOUNT))?,
        Err(_) => return Err(format!("`{s}` is not a whole number of units (no decimals, no unit)")),
    };
    crumb::limits::check_amount("number of units", n).map_err(|e| e.to_string())?;
    Ok(n)
}

/// A token's lifetime (`--expires-in`): a positive duration with its unit. A bare number is
/// refused: `30` could mean seconds or days, and a token is minted on the reading.
pub fn parse_expiry(s: &str) -> Result<time::Duration, String> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{s}` has no unit: write {s}s (seconds), {s}m, {s}h or {s}d"));
    }
    parse_positive_duration(s)
}

/// A positive duration for timeouts (`10`, `10s`, `2m`).
pub fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_positive_duration(s)?;
    Ok(std::time::Duration::from_secs(d.whole_seconds() as u64))
}

/// Caveats to add, checked against crumb's grammar before anything is signed.
#[derive(Args, Debug, Clone, Default)]
pub struct CaveatArgs {
    /// A first-party caveat `KEY OP VALUE` (the grammar: `crumb help caveats`); repeatable.
    #[arg(long = "caveat", short = 'c', value_name = "CAVEAT")]
    pub caveats: Vec<String>,
    /// Add `expires < now + DURATION` (e.g. 90s, 15m, 1h30m, 7d).
    #[arg(long, value_name = "DURATION", value_parser = parse_expiry)]
    pub expires_in: Option<time::Duration>,
    /// A caveat added as raw bytes without checking it, for interop; repeatable.
    #[arg(long = "raw", value_name = "TEXT")]
    pub raw: Vec<String>,
}

impl CaveatArgs {
    /// The caveat texts to add, in order; a malformed one is refused before anything is added.
    pub fn texts(&self, extra: &[String]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for text in self.caveats.iter().chain(extra) {
            let parsed = crumb::caveat::parse(text).map_err(|e| {
                super::exit::refused(
                    "bad-caveat",
                    super::exit::BAD_INPUT,
                    format!("refusing to add caveat `{text}`: {e}"),
                )
            })?;
            out.push(parsed.to_string().into_bytes());
        }
        if let Some(ttl) = self.expires_in {
            let at = (OffsetDateTime::now_utc() + ttl).replace_nanosecond(0).expect("0 ns is valid");
            out.push(crumb::Caveat::Expires { at, keyword: "expires" }.to_string().into_bytes());
        }
        out.extend(self.raw.iter().map(|r| r.as_bytes().to_vec()));
        Ok(out)
    }
}
