//! A readable account of a token without verifying it: what its identifier says, what each
//! caveat means, and what looks wrong. The CLI renders it as a table or JSON; it never
//! includes the signature unless asked, since caveats plus signature are the whole token.

use crate::caveat::{self, rfc3339, Caveat};
use crate::token::identifier::Role;
use crate::token::Macaroon;
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Serialize, Debug)]
pub struct Description {
    pub format: Option<&'static str>,
    pub location: Option<String>,
    /// crumb's fields of the identifier, top-level as in every other `--json`; null when the
    /// identifier is not crumb's.
    pub key_id: Option<String>,
    pub nonce: Option<String>,
    /// `holder`, or `operator` for an operator credential.
    pub role: Option<&'static str>,
    pub identifier: IdentifierView,
    pub caveats: Vec<CaveatView>,
    /// The effective balance (smallest `balance <=`), if the token carries one.
    pub balance: Option<u64>,
    /// The earliest expiry, if any.
    pub expires: Option<String>,
    pub signature: Option<String>,
    pub warnings: Vec<String>,
}

#[derive(Serialize, Debug)]
pub struct IdentifierView {
    /// The identifier as text, when it is UTF-8.
    pub text: Option<String>,
    pub hex: String,
    /// crumb's fields, when crumb minted the token (in JSON: `key_id`, `nonce` and `role` of
    /// the [`Description`]).
    #[serde(skip)]
    pub crumb: Option<CrumbId>,
}

#[derive(Serialize, Debug)]
pub struct CrumbId {
    pub key_id: String,
    pub nonce: String,
    /// `holder`, or `operator` for an operator credential.
    pub role: &'static str,
}

#[derive(Serialize, Debug)]
pub struct CaveatView {
    pub index: usize,
    /// `first` or `third`.
    pub party: &'static str,
    /// First-party: the predicate; third-party: the caveat identifier (when UTF-8; else
    /// `hex`). `caveat` is a caveat's text in every JSON shape.
    #[serde(rename = "caveat")]
    pub text: Option<String>,
    pub hex: Option<String>,
    /// The caveat kind, `third-party`, or `unknown` (denied by crumb's verifier).
    pub kind: &'static str,
    /// A reading for people.
    pub meaning: String,
    /// Third-party: where to get the discharge.
    pub location: Option<String>,
}

/// Describes `token` as of `now`.
pub fn describe(token: &Macaroon, now: OffsetDateTime, show_signature: bool) -> Description {
    let mut warnings = Vec::new();
    let mut expires: Option<OffsetDateTime> = None;
    let mut unknown = 0;
    let caveats: Vec<CaveatView> = token
        .caveats
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let text = c.text().map(str::to_owned);
            let hex = text.is_none().then(|| hex::encode(&c.id));
            if c.is_third_party() {
                let at = c.location.as_deref().filter(|l| !l.is_empty()).unwrap_or("(no location)");
                return CaveatView {
                    index,
                    party: "third",
                    text,
                    hex,
                    kind: "third-party",
                    meaning: format!("needs a discharge from {at}"),
                    location: c.location.clone(),
                };
            }
            let (kind, meaning) = match c.text().map(caveat::parse) {
                Some(Ok(parsed)) => {
                    if let Caveat::Expires { at, .. } = parsed {
                        expires = Some(expires.map_or(at, |e| e.min(at)));
                    }
                    (parsed.kind(), parsed.describe(now))
                }
                Some(Err(e)) => {
                    unknown += 1;
                    ("unknown", format!("not understood by crumb, so denied ({e})"))
                }
                None => {
                    unknown += 1;
                    ("unknown", "not UTF-8, so denied".to_owned())
                }
            };
            CaveatView { index, party: "first", text, hex, kind, meaning, location: None }
        })
        .collect();
    match expires {
        None => warnings.push("no expiry: this token is valid until its key is retired or it is revoked".into()),
        Some(at) if at <= now => warnings.push(format!("expired at {}", rfc3339(at))),
        Some(_) => {}
    }
    if unknown > 0 {
        warnings.push(format!(
            "{unknown} caveat(s) crumb does not understand: crumb's verifier denies them unless a verifier satisfies them by exact string"
        ));
    }
    let id = token.token_id();
    match id.as_ref().map(|id| id.role) {
        None => warnings.push(
            "this identifier is not crumb's (a custom one or another library's): no ledger tracks it, so it can be neither spent nor revoked"
                .into(),
        ),
        Some(Role::Operator) => warnings.push(
            "an operator credential: it authorizes operator acts (revoking by nonce) and no ordinary request".into(),
        ),
        Some(Role::Holder) => {}
    }
    let crumb = id.map(|id| CrumbId {
        key_id: id.key_id,
        nonce: id.nonce.to_string(),
        role: match id.role {
            Role::Holder => "holder",
            Role::Operator => "operator",
        },
    });
    Description {
        format: None,
        location: token.location.clone(),
        key_id: crumb.as_ref().map(|c| c.key_id.clone()),
        nonce: crumb.as_ref().map(|c| c.nonce.clone()),
        role: crumb.as_ref().map(|c| c.role),
        identifier: IdentifierView {
            text: std::str::from_utf8(&token.identifier).ok().map(str::to_owned),
            hex: hex::encode(&token.identifier),
            crumb,
        },
        caveats,
        balance: crate::verify::balance_of(token),
        expires: expires.map(rfc3339),
        signature: show_signature.then(|| hex::encode(token.signature)),
        warnings,
    }
}

/// `text` made safe for a terminal: control characters (C0, DEL, C1) and the bidirectional
/// overrides that can make text read differently from what it is are shown as `\u{..}`
/// escapes. Tokens, their caveats and request ids come from other people; printed raw, they
/// could move the cursor, clear the screen or rewrite what came before.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_shown_not_obeyed() {
        assert_eq!(terminal_safe("action = read"), "action = read");
        assert_eq!(terminal_safe("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(terminal_safe("x\ny\r"), "x\\u{a}y\\u{d}");
        assert_eq!(terminal_safe("\u{202e}txt"), "\\u{202e}txt");
        assert_eq!(terminal_safe("caf\u{e9} \u{1f36a}"), "caf\u{e9} \u{1f36a}");
    }
}
