//! crumb's first-party caveat language: one UTF-8 line `KEY OP VALUE`, parsed into a typed
//! predicate. Each kind below can only *narrow* what a token allows: a caveat is one more
//! condition that must hold, never an alternative to the others, so adding any caveat —
//! even one that repeats a kind — can only shrink the set of requests a token passes.
//! Text that does not parse is not a caveat crumb understands and is denied (fail closed).

mod eval;
pub mod ip;
mod parse;
pub mod path;

pub use eval::Failure;
pub use ip::IpNet;
pub use parse::parse;

use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A parsed first-party caveat.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Caveat {
    /// `expires < T` (or pymacaroons' `time < T`): denied at or after T.
    Expires { at: OffsetDateTime, keyword: &'static str },
    /// `not-before >= T`: denied before T.
    NotBefore(OffsetDateTime),
    /// `action = a` / `action in a,b`: the request's action must be one of these.
    Action(Vec<String>),
    /// `resource = /p`: the request's resource must be exactly this path.
    Resource(String),
    /// `resource prefix /p`: the request's resource must be /p or lie under it, segment-wise.
    ResourcePrefix(String),
    /// `ip in CIDR,...` / `ip = ADDR`: the peer address must fall in one of these networks.
    Ip(Vec<IpNet>),
    /// `aud = x` / `aud in x,y`: the verifying service must be one of these audiences.
    Aud(Vec<String>),
    /// `max-cost <= N`: one request may cost at most N.
    MaxCost(u64),
    /// `balance <= N`: the token holds at most N credits; a request may cost at most that.
    Balance(u64),
    /// `NAME = v` / `NAME in a,b`: an application fact must be one of these values.
    Context { name: String, allowed: Vec<String> },
}

/// Keys with a meaning of their own; any other key is an application context name.
pub const RESERVED_KEYS: &[&str] =
    &["expires", "time", "not-before", "action", "resource", "ip", "aud", "max-cost", "balance"];

impl Caveat {
    /// A short name of the kind, stable for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            Caveat::Expires { .. } => "expires",
            Caveat::NotBefore(_) => "not-before",
            Caveat::Action(_) => "action",
            Caveat::Resource(_) => "resource",
            Caveat::ResourcePrefix(_) => "resource-prefix",
            Caveat::Ip(_) => "ip",
            Caveat::Aud(_) => "aud",
            Caveat::MaxCost(_) => "max-cost",
            Caveat::Balance(_) => "balance",
            Caveat::Context { .. } => "context",
        }
    }

    /// A reading for people, relative to `now` where time matters.
    pub fn describe(&self, now: OffsetDateTime) -> String {
        match self {
            Caveat::Expires { at, .. } if *at > now => format!("expires in {}", human_span(*at - now)),
            Caveat::Expires { at, .. } => format!("expired {} ago", human_span(now - *at)),
            Caveat::NotBefore(at) if *at > now => format!("valid from {} (in {})", rfc3339(*at), human_span(*at - now)),
            Caveat::NotBefore(at) => format!("valid since {}", rfc3339(*at)),
            Caveat::Action(a) => format!("only action {}", a.join(" or ")),
            Caveat::Resource(r) => format!("only resource {r}"),
            Caveat::ResourcePrefix(r) => format!("only resources under {r}"),
            Caveat::Ip(nets) => {
                format!("only from {}", nets.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or "))
            }
            Caveat::Aud(a) => format!("only for audience {}", a.join(" or ")),
            Caveat::MaxCost(n) => format!("each request costs at most {n}"),
            Caveat::Balance(n) => format!("holds a balance of at most {n}"),
            Caveat::Context { name, allowed } => format!("{name} must be {}", allowed.join(" or ")),
        }
    }
}

fn join_or_single(key: &str, values: &[String]) -> String {
    match values {
        [one] => format!("{key} = {one}"),
        many => format!("{key} in {}", many.join(",")),
    }
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// "3 days", "2 h", "5 min", "12 s": the largest unit that fits, rounded down.
pub fn human_span(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    match s {
        s if s >= 2 * 86_400 => format!("{} days", s / 86_400),
        s if s >= 3_600 => format!("{} h", s / 3_600),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The canonical text: parse(display(c)) == c.
impl fmt::Display for Caveat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::Expires { at, keyword } => write!(f, "{keyword} < {}", rfc3339(*at)),
            Caveat::NotBefore(at) => write!(f, "not-before >= {}", rfc3339(*at)),
            Caveat::Action(a) => f.write_str(&join_or_single("action", a)),
            Caveat::Resource(r) => write!(f, "resource = {r}"),
            Caveat::ResourcePrefix(r) => write!(f, "resource prefix {r}"),
            Caveat::Ip(nets) => {
                let list: Vec<String> = nets.iter().map(ToString::to_string).collect();
                write!(f, "ip in {}", list.join(","))
            }
            Caveat::Aud(a) => f.write_str(&join_or_single("aud", a)),
            Caveat::MaxCost(n) => write!(f, "max-cost <= {n}"),
            Caveat::Balance(n) => write!(f, "balance <= {n}"),
            Caveat::Context { name, allowed } => f.write_str(&join_or_single(name, allowed)),
        }
    }
}
