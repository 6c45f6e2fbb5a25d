//! crumb's first-party caveat language: one UTF-8 line `KEY OP VALUE`, parsed into a typed
//! predicate. Each kind below can only *narrow* what a token allows: a caveat is one more
//! condition that must hold, never an alternative to the others, so adding any caveat —
//! even one that repeats a kind — can only shrink the set of requests a token passes.
//! Text that does not parse is not a caveat crumb understands and is denied (fail closed).

mod eval;
pub mod ip;
mod parse;
pub mod path;

pub use eval::{Failure, Prepared};
pub use ip::IpNet;
pub use parse::parse;

use std::borrow::Cow;
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A parsed first-party caveat. It borrows from the caveat's text where it can, so checking
/// a token's caveats costs no allocation; [`Caveat::into_owned`] detaches it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Caveat<'a> {
    /// `expires < T` (or pymacaroons' `time < T`): denied at or after T.
    Expires { at: OffsetDateTime, keyword: &'static str },
    /// `not-before >= T`: denied before T.
    NotBefore(OffsetDateTime),
    /// `action = a` / `action in a,b`: the request's action must be one of these.
    Action(List<'a>),
    /// `resource = /p`: the request's resource must be exactly this path.
    Resource(Cow<'a, str>),
    /// `resource prefix /p`: the request's resource must be /p or lie under it, segment-wise.
    ResourcePrefix(Cow<'a, str>),
    /// `ip in CIDR,...` / `ip = ADDR`: the peer address must fall in one of these networks.
    Ip(List<'a>),
    /// `aud = x` / `aud in x,y`: the verifying service must be one of these audiences.
    Aud(List<'a>),
    /// `max-cost <= N`: one request may cost at most N.
    MaxCost(u64),
    /// `balance <= N`: the token holds at most N credits; a request may cost at most that.
    Balance(u64),
    /// `spend-rate <= N/DURATION`: at most `limit` credits spent in any `secs` seconds, by this
    /// token and everything issued below it (enforced by the ledger; denied where none counts).
    SpendRate { limit: u64, secs: u64 },
    /// `NAME = v` / `NAME in a,b`: an application fact must be one of these values.
    Context { name: Cow<'a, str>, allowed: List<'a> },
}

/// A non-empty list of values, kept as its canonical comma-separated text (checked at parse).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct List<'a>(Cow<'a, str>);

impl<'a> List<'a> {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split(',')
    }

    /// Byte-wise: this runs for every list caveat of every verification.
    pub fn contains(&self, value: &str) -> bool {
        self.0.as_bytes().split(|&b| b == b',').any(|v| v == value.as_bytes())
    }

    fn is_single(&self) -> bool {
        !self.0.as_bytes().contains(&b',')
    }

    pub(crate) fn joined(&self, sep: &str) -> String {
        self.iter().collect::<Vec<_>>().join(sep)
    }

    fn into_owned(self) -> List<'static> {
        List(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keys with a meaning of their own; any other key is an application context name.
pub const RESERVED_KEYS: &[&str] =
    &["expires", "time", "not-before", "action", "resource", "ip", "aud", "max-cost", "balance", "spend-rate"];

impl Caveat<'_> {
    /// Detaches the caveat from the text it was parsed from.
    pub fn into_owned(self) -> Caveat<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        match self {
            Caveat::Expires { at, keyword } => Caveat::Expires { at, keyword },
            Caveat::NotBefore(at) => Caveat::NotBefore(at),
            Caveat::Action(l) => Caveat::Action(l.into_owned()),
            Caveat::Resource(r) => Caveat::Resource(own(r)),
            Caveat::ResourcePrefix(r) => Caveat::ResourcePrefix(own(r)),
            Caveat::Ip(l) => Caveat::Ip(l.into_owned()),
            Caveat::Aud(l) => Caveat::Aud(l.into_owned()),
            Caveat::MaxCost(n) => Caveat::MaxCost(n),
            Caveat::Balance(n) => Caveat::Balance(n),
            Caveat::SpendRate { limit, secs } => Caveat::SpendRate { limit, secs },
            Caveat::Context { name, allowed } => Caveat::Context { name: own(name), allowed: allowed.into_owned() },
        }
    }

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
            Caveat::SpendRate { .. } => "spend-rate",
            Caveat::Context { .. } => "context",
        }
    }

    /// Whether this caveat restricts the *request* a token is used for (what, where, from
    /// where, for whom, at what cost), rather than the token itself (its lifetime, its
    /// balance). A transfer (split) makes no request, and its children carry these caveats
    /// unchanged, so it leaves them to whoever uses the children.
    pub fn is_request_scoped(&self) -> bool {
        matches!(
            self,
            Caveat::Action(_)
                | Caveat::Resource(_)
                | Caveat::ResourcePrefix(_)
                | Caveat::Ip(_)
                | Caveat::Aud(_)
                | Caveat::MaxCost(_)
                | Caveat::Context { .. }
        )
    }

    /// A reading for people, relative to `now` where time matters.
    pub fn describe(&self, now: OffsetDateTime) -> String {
        match self {
            Caveat::Expires { at, .. } if *at > now => format!("expires in {}", human_span(*at - now)),
            Caveat::Expires { at, .. } => format!("expired {} ago", human_span(now - *at)),
            Caveat::NotBefore(at) if *at > now => format!("valid from {} (in {})", rfc3339(*at), human_span(*at - now)),
            Caveat::NotBefore(at) => format!("valid since {}", rfc3339(*at)),
            Caveat::Action(a) => format!("only action {}", a.joined(" or ")),
            Caveat::Resource(r) => format!("only resource {r}"),
            Caveat::ResourcePrefix(r) => format!("only resources under {r}"),
            Caveat::Ip(nets) => format!("only from {}", nets.joined(" or ")),
            Caveat::Aud(a) => format!("only for audience {}", a.joined(" or ")),
            Caveat::MaxCost(n) => format!("each request costs at most {n}"),
            Caveat::Balance(n) => format!("holds a balance of at most {n}"),
            Caveat::SpendRate { limit, secs } => format!(
                "at most {limit} spent in any {} (counted by the ledger across everything issued from it)",
                human_span(time::Duration::seconds(i64::try_from(*secs).unwrap_or(i64::MAX)))
            ),
            Caveat::Context { name, allowed } => format!("{name} must be {}", allowed.joined(" or ")),
        }
    }
}

fn join_or_single(key: &str, values: &List<'_>) -> String {
    if values.is_single() {
        format!("{key} = {values}")
    } else {
        format!("{key} in {values}")
    }
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// "6 days 23 h", "2 h 5 min", "5 min", "12 s": the two largest units, rounded down.
pub fn human_span(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    let (days, hours, mins) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".into(),
        (1, h, _) => format!("1 day {h} h"),
        (d, 0, _) => format!("{d} days"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

/// The canonical text: parse(display(c)) == c.
impl fmt::Display for Caveat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caveat::Expires { at, keyword } => write!(f, "{keyword} < {}", rfc3339(*at)),
            Caveat::NotBefore(at) => write!(f, "not-before >= {}", rfc3339(*at)),
            Caveat::Action(a) => f.write_str(&join_or_single("action", a)),
            Caveat::Resource(r) => write!(f, "resource = {r}"),
            Caveat::ResourcePrefix(r) => write!(f, "resource prefix {r}"),
            Caveat::Ip(nets) => write!(f, "ip in {nets}"),
            Caveat::Aud(a) => f.write_str(&join_or_single("aud", a)),
            Caveat::MaxCost(n) => write!(f, "max-cost <= {n}"),
            Caveat::Balance(n) => write!(f, "balance <= {n}"),
            Caveat::SpendRate { limit, secs } => write!(f, "spend-rate <= {limit}/{}", duration_text(*secs)),
            Caveat::Context { name, allowed } => f.write_str(&join_or_single(name, allowed)),
        }
    }
}

/// A window's length as `spend-rate` writes it: the largest unit that divides it (`90m`, `1h`).
pub fn duration_text(secs: u64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The longest spend-rate window: a year (a ledger keeps a window's spends this long at most).
pub const MAX_WINDOW_SECS: u64 = 366 * 86_400;

/// Now, as crumb writes times (RFC 3339, UTC, whole seconds).
pub fn rfc3339_now() -> String {
    let now = OffsetDateTime::now_utc();
    rfc3339(now.replace_nanosecond(0).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    use super::human_span;
    use time::Duration;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(human_span(Duration::seconds(12)), "12 s");
        assert_eq!(human_span(Duration::minutes(125)), "2 h 5 min");
        assert_eq!(human_span(Duration::hours(2)), "2 h");
        assert_eq!(human_span(Duration::days(7) - Duration::seconds(3)), "6 days 23 h");
        assert_eq!(human_span(Duration::hours(30)), "1 day 6 h");
        assert_eq!(human_span(Duration::seconds(-5)), "0 s");
    }
}
