//! The price list of a metered API: what each route costs, in a token's balance units.
//!
//! A rule is `METHOD /path=COST`, or `METHOD /path=upto HOLD [RATES]` for a charge by measured
//! usage (see [`crate::usage`]): a method (or `*` for any) and a path prefix matched by whole
//! segments, exactly as a `resource` caveat matches (`/v1/chat` covers `/v1/chat/stream`, not
//! `/v1/chatty`). The most specific rule wins: the longest prefix, then a named method over
//! `*`. A request no rule covers is unpriced, and the gateway refuses it unless told otherwise
//! (fail closed). Rules come from the operator (`--price`, `--prices FILE`), requests from
//! clients: a request is priced on its canonical [`Target`] (its route method and resource),
//! the same form its caveats are checked against. `HEAD` is priced as `GET` (a framework runs
//! the GET handler for it), so a rule cannot name `HEAD`.

use crate::caveat::path::{is_under, normalize_caveat_path};
use crate::target::{Method, Target};
use crate::usage::Metering;
use std::fmt;

/// Rules in one table at most: the table is searched on every request.
pub const MAX_RULES: usize = 10_000;

/// One priced route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The method, or `None` for `*`.
    pub method: Option<Method>,
    /// Normalised path prefix.
    pub prefix: String,
    /// The price; with `upto`, what is held (the most the request can cost).
    pub cost: u64,
    /// `upto`: charged by measured usage, at most `cost`.
    pub usage: Option<Metering>,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}=", self.method.map_or("*", Method::as_str), self.prefix)?;
        match &self.usage {
            None => write!(f, "{}", self.cost),
            Some(m) => write!(f, "upto {}{m}", self.cost),
        }
    }
}

/// Why a rule or a table did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("price `{rule}`: {reason}")]
pub struct PriceError {
    pub rule: String,
    pub reason: String,
}

impl PriceError {
    fn new(rule: &str, reason: impl Into<String>) -> Self {
        // The rule is operator input, but it is echoed in an error: keep it short.
        let rule: String = rule.chars().take(120).collect();
        PriceError { rule, reason: reason.into() }
    }
}

impl std::str::FromStr for Rule {
    type Err = PriceError;

    /// Parses `METHOD /path=COST` or `METHOD /path=upto HOLD [prompt N/1k] [completion N/1k]`
    /// (spaces around `=` allowed).
    fn from_str(text: &str) -> Result<Self, PriceError> {
        let bad = |why: &str| PriceError::new(text, why);
        let (route, price) = text.rsplit_once('=').ok_or_else(|| bad("expected METHOD /path=COST"))?;
        let words: Vec<&str> = price.split_whitespace().collect();
        let (cost, usage) = match words.as_slice() {
            ["upto", hold, rates @ ..] => {
                let hold: u64 = hold.parse().map_err(|_| bad("`upto` takes the most to hold, a whole number"))?;
                (hold, Some(Metering::parse(rates).map_err(|why| bad(&why))?))
            }
            [cost] => (cost.parse().map_err(|_| bad("the cost is a whole number of units (or `upto N`)"))?, None),
            _ => return Err(bad("the cost is a whole number of units, or `upto N` and rates")),
        };
        let (method, path) =
            route.trim().split_once(char::is_whitespace).ok_or_else(|| bad("expected METHOD /path=COST"))?;
        let method = match method {
            "*" => None,
            m => match Method::parse(&m.to_ascii_uppercase()) {
                Ok(Method::Head) => return Err(bad("HEAD is priced as GET (a server runs the GET handler for it)")),
                Ok(m) => Some(m),
                Err(_) => return Err(bad("the method is GET, POST, PUT, PATCH, DELETE or OPTIONS, or *")),
            },
        };
        let prefix = normalize_caveat_path(path.trim()).map_err(|why| bad(&why))?.into_owned();
        Ok(Rule { method, prefix, cost, usage })
    }
}

/// The whole price list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceTable {
    rules: Vec<Rule>,
}

/// What a request costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Priced {
    /// The most specific rule's cost.
    Cost(u64),
    /// Charged by measured usage: `hold` is held, at most that is charged.
    UpTo { hold: u64, metering: Metering },
    /// No rule covers the request.
    Unpriced,
}

impl PriceTable {
    /// A table of `rules`; the same route priced twice is refused (which one did you mean?).
    pub fn new(rules: Vec<Rule>) -> Result<Self, PriceError> {
        if rules.len() > MAX_RULES {
            return Err(PriceError::new("(table)", format!("at most {MAX_RULES} rules")));
        }
        for (i, rule) in rules.iter().enumerate() {
            if rules[..i].iter().any(|r| r.method == rule.method && r.prefix == rule.prefix) {
                return Err(PriceError::new(&rule.to_string(), "this route is priced twice"));
            }
        }
        Ok(PriceTable { rules })
    }

    /// Parses a price file: one rule per line; blank lines and `#` comments are skipped.
    pub fn parse_file(text: &str) -> Result<Vec<Rule>, PriceError> {
        text.lines()
            .map(|line| line.split_once('#').map_or(line, |(rule, _)| rule).trim())
            .filter(|line| !line.is_empty())
            .map(str::parse)
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The price of a request: by its route method (`HEAD` is `GET`) and resource.
    pub fn price(&self, target: &Target) -> Priced {
        let (method, path) = (target.route_method(), target.resource());
        let best = self
            .rules
            .iter()
            .filter(|r| r.method.is_none_or(|m| m == method) && is_under(path, &r.prefix))
            .max_by_key(|r| (segments(&r.prefix), r.method.is_some()));
        best.map_or(Priced::Unpriced, |r| match &r.usage {
            None => Priced::Cost(r.cost),
            Some(m) => Priced::UpTo { hold: r.cost, metering: m.clone() },
        })
    }
}

fn segments(prefix: &str) -> usize {
    if prefix == "/" {
        0
    } else {
        prefix.matches('/').count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rules: &[&str]) -> PriceTable {
        PriceTable::new(rules.iter().map(|r| r.parse().unwrap()).collect()).unwrap()
    }

    trait PriceOf {
        fn price_of(&self, method: &str, target: &str) -> Priced;
    }

    impl PriceOf for PriceTable {
        fn price_of(&self, method: &str, target: &str) -> Priced {
            self.price(&Target::parse(method, target).unwrap())
        }
    }

    #[test]
    fn rules_parse_and_print_back() {
        let rule: Rule = "post /v1/chat/ = 5".parse().unwrap();
        assert_eq!(rule, Rule { method: Some(Method::Post), prefix: "/v1/chat".into(), cost: 5, usage: None });
        assert_eq!(rule.to_string(), "POST /v1/chat=5");
        assert_eq!("* /=0".parse::<Rule>().unwrap().method, None);
        for bad in [
            "POST /v1/chat",
            "POST=5",
            "/v1/chat=5",
            "POST v1=5",
            "POST /a/../b=1",
            "POST /a=-1",
            "P@ST /a=1",
            "HEAD /a=1",
            "TRACE /a=1",
            "POST /a=upto",
            "POST /a=upto x",
            "POST /a=upto 5 prompt",
            "POST /a=upto 5 prompt 3/2k",
            "POST /a=5 prompt 3/1k",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn upto_rules_hold_and_name_their_rates() {
        let rule: Rule = "POST /v1/chat/completions = upto 50 prompt 3/1k completion 15/1k".parse().unwrap();
        assert_eq!(rule.to_string(), "POST /v1/chat/completions=upto 50 prompt 3/1k completion 15/1k");
        let t = PriceTable::new(vec![rule, "POST /v1/flat=upto 9".parse().unwrap()]).unwrap();
        match t.price_of("POST", "/v1/chat/completions") {
            Priced::UpTo { hold: 50, metering } => assert_eq!(metering.rates.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.price_of("POST", "/v1/flat"), Priced::UpTo { hold: 9, metering: Metering::default() });
    }

    #[test]
    fn the_most_specific_rule_wins_by_whole_segments() {
        let t = table(&["* /=1", "POST /v1/chat=5", "GET /v1/chat=2", "* /v1/chat/free=0"]);
        assert_eq!(t.price_of("POST", "/v1/chat"), Priced::Cost(5));
        assert_eq!(t.price_of("POST", "/v1/chat/stream"), Priced::Cost(5));
        assert_eq!(t.price_of("GET", "/v1/chat"), Priced::Cost(2));
        assert_eq!(t.price_of("POST", "/v1/chatty"), Priced::Cost(1));
        assert_eq!(t.price_of("POST", "/v1/chat/free/x"), Priced::Cost(0));
        assert_eq!(t.price_of("DELETE", "/other"), Priced::Cost(1));
        assert_eq!(t.price_of("POST", "/v1/%63hat"), Priced::Cost(5));
        assert_eq!(t.price_of("HEAD", "/v1/chat"), Priced::Cost(2));
        assert_eq!(table(&["GET /a=1"]).price_of("POST", "/a"), Priced::Unpriced);
    }

    #[test]
    fn a_named_method_beats_a_wildcard_on_the_same_prefix() {
        let t = table(&["* /a=1", "GET /a=3"]);
        assert_eq!(t.price_of("GET", "/a/b"), Priced::Cost(3));
        assert_eq!(t.price_of("PUT", "/a/b"), Priced::Cost(1));
    }

    #[test]
    fn files_and_duplicates() {
        let rules = PriceTable::parse_file("# prices\nPOST /v1/chat=5   # chat\n\nGET /v1/models=0\n").unwrap();
        assert_eq!(rules.len(), 2);
        let twice = vec!["GET /a=1".parse().unwrap(), "GET /a/=2".parse().unwrap()];
        assert!(PriceTable::new(twice).is_err());
    }
}
