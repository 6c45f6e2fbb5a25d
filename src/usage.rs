//! Charges by measured usage: what an `upto` price rule holds, and how the upstream's answer
//! says what the call used.
//!
//! A rule `POST /v1/chat=upto 50 prompt 3/1k completion 15/1k` holds 50 credits, and once the
//! upstream has answered charges what it measured, never more than the hold:
//! - the upstream's `Crumb-Charge: N` response header, in credits (only ever read from the
//!   upstream; the proxy strips it before the client sees the answer), or else
//! - the OpenAI-compatible `usage` object (`prompt_tokens`, `completion_tokens`) in a JSON
//!   body, or in the last server-sent event that carries one, priced at the rule's rates
//!   (credits per thousand, `/1k`, or per million, `/1m`, units; the total rounded up).
//!
//! The body is never buffered: a JSON body's structure is followed byte by byte and only its
//! top-level `usage` member is kept (at most [`MAX_USAGE`] bytes; a `usage` nested anywhere
//! else, in a choice or a tool call, is not the answer's usage), and an event stream is read
//! a line at a time, each line at most [`MAX_LINE`] bytes (a longer one is skipped).

use serde_json::Value;
use std::fmt;

/// The largest top-level `usage` member of a JSON body read (a larger one is no usage).
pub const MAX_USAGE: usize = 64 << 10;
/// The longest event-stream line looked at.
pub const MAX_LINE: usize = 256 << 10;
/// The most rates one rule may have.
pub const MAX_RATES: usize = 8;

/// A count of units the upstream reports in its `usage` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// `prompt_tokens` (also `input_tokens`).
    Prompt,
    /// `completion_tokens` (also `output_tokens`).
    Completion,
}

impl Unit {
    fn names(self) -> &'static [&'static str] {
        match self {
            Unit::Prompt => &["prompt_tokens", "input_tokens"],
            Unit::Completion => &["completion_tokens", "output_tokens"],
        }
    }

    fn word(self) -> &'static str {
        match self {
            Unit::Prompt => "prompt",
            Unit::Completion => "completion",
        }
    }
}

/// `credits` per `per` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub unit: Unit,
    pub credits: u64,
    /// 1 000 (`/1k`) or 1 000 000 (`/1m`).
    pub per: u64,
}

/// What an `upto` rule measures (no rates: only `Crumb-Charge` can lower the charge).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metering {
    pub rates: Vec<Rate>,
}

/// What the upstream said a call used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
}

impl Usage {
    fn of(&self, unit: Unit) -> u64 {
        match unit {
            Unit::Prompt => self.prompt,
            Unit::Completion => self.completion,
        }
    }

    /// Reads an OpenAI- or Anthropic-compatible `usage` object; `None` when it has none of the
    /// counts, or when a count is there but is not a whole number (a string, a fraction, a
    /// negative): an answer crumb cannot read is charged the hold, never nothing.
    pub fn from_object(usage: &Value) -> Option<Usage> {
        match Counts::of(usage) {
            Ok(c) if c.prompt.is_some() || c.completion.is_some() => {
                Some(Usage { prompt: c.prompt.unwrap_or(0), completion: c.completion.unwrap_or(0) })
            }
            _ => None,
        }
    }

    /// The `usage` member of a JSON document, if it has one.
    pub fn from_document(doc: &Value) -> Option<Usage> {
        doc.get("usage").and_then(Usage::from_object)
    }
}

/// The counts one `usage` object gives, each unit `None` when it names none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    prompt: Option<u64>,
    completion: Option<u64>,
}

/// Input counted on top of the prompt: Anthropic's cache reads and writes are input too (at
/// the prompt's rate: crumb never charges less than what was used).
const CACHED_INPUT: &[&str] = &["cache_creation_input_tokens", "cache_read_input_tokens"];

impl Counts {
    /// `Err` when a count is present but not a whole number. Where one answer names a unit
    /// twice (`prompt_tokens` and `input_tokens`), the larger counts.
    fn of(usage: &Value) -> Result<Counts, ()> {
        let read = |name: &str| -> Result<Option<u64>, ()> {
            match usage.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_u64().map(Some).ok_or(()),
            }
        };
        let most = |names: &[&str]| -> Result<Option<u64>, ()> {
            let mut most: Option<u64> = None;
            for name in names {
                if let Some(n) = read(name)? {
                    most = Some(most.map_or(n, |m| m.max(n)));
                }
            }
            Ok(most)
        };
        let mut prompt = most(Unit::Prompt.names())?;
        for name in CACHED_INPUT {
            if let Some(n) = read(name)? {
                prompt = Some(prompt.unwrap_or(0).saturating_add(n));
            }
        }
        Ok(Counts { prompt, completion: most(Unit::Completion.names())? })
    }
}

impl Metering {
    /// The credits `usage` costs at these rates: Σ units × credits / per, rounded up once.
    pub fn credits(&self, usage: Usage) -> u64 {
        // Summed as a fraction over a common denominator (1 000 000), so three 0.4-credit
        // parts cost 2, not 3.
        let millionths: u128 = self
            .rates
            .iter()
            .map(|r| {
                u128::from(usage.of(r.unit))
                    .saturating_mul(u128::from(r.credits))
                    .saturating_mul(1_000_000 / u128::from(r.per))
            })
            .fold(0u128, u128::saturating_add);
        u64::try_from(millionths.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    /// Parses the words after `upto N`: `prompt 3/1k completion 15/1k`.
    pub fn parse(words: &[&str]) -> Result<Metering, String> {
        if !words.len().is_multiple_of(2) {
            return Err("rates are `prompt N/1k` or `completion N/1m`, in pairs".into());
        }
        let mut rates = Vec::new();
        for pair in words.chunks(2) {
            let unit = match pair[0] {
                "prompt" | "input" => Unit::Prompt,
                "completion" | "output" => Unit::Completion,
                other => return Err(format!("`{other}` is not a unit (prompt or completion)")),
            };
            let (credits, per) = pair[1].split_once('/').ok_or("a rate is `N/1k` or `N/1m`")?;
            let credits: u64 = credits.parse().map_err(|_| "a rate's credits are a whole number")?;
            let per = match per.to_ascii_lowercase().as_str() {
                "1k" | "1000" => 1_000,
                "1m" | "1000000" => 1_000_000,
                _ => return Err("a rate is per 1k or per 1m units".into()),
            };
            if rates.iter().any(|r: &Rate| r.unit == unit) {
                return Err(format!("{} is priced twice", unit.word()));
            }
            rates.push(Rate { unit, credits, per });
        }
        if rates.len() > MAX_RATES {
            return Err(format!("at most {MAX_RATES} rates"));
        }
        Ok(Metering { rates })
    }
}

impl fmt::Display for Metering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.rates {
            let per = if r.per == 1_000 { "1k" } else { "1m" };
            write!(f, " {} {}/{per}", r.unit.word(), r.credits)?;
        }
        Ok(())
    }
}

/// Reads `Crumb-Charge: N` as the upstream sent it: `None` when absent, an error when it is
/// not one whole number (then the hold is charged).
pub fn crumb_charge<'a>(mut values: impl Iterator<Item = &'a [u8]>) -> Option<Result<u64, ()>> {
    let first = values.next()?;
    if values.next().is_some() {
        return Some(Err(()));
    }
    // Digits only: `parse` would take a leading `+`, which is not one whole number as written.
    let digits = std::str::from_utf8(first)
        .ok()
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
    Some(digits.and_then(|t| t.parse().ok()).ok_or(()))
}

/// How an answer's body carries its usage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    EventStream,
}

impl BodyKind {
    /// From a `Content-Type`: JSON (`application/json`, `…+json`) or `text/event-stream`.
    pub fn of(content_type: &str) -> Option<BodyKind> {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence == "text/event-stream" {
            Some(BodyKind::EventStream)
        } else if essence == "application/json" || essence.ends_with("+json") {
            Some(BodyKind::Json)
        } else {
            None
        }
    }
}

/// Finds the usage in a body as it streams past, keeping a bounded amount of it.
#[derive(Debug)]
pub struct Scanner {
    kind: BodyKind,
    /// JSON: the document's structure so far.
    json: TopLevel,
    /// Events: the stream's events so far.
    events: Events,
}

impl Scanner {
    pub fn new(kind: BodyKind) -> Self {
        Scanner { kind, json: TopLevel::default(), events: Events::default() }
    }

    /// Takes the next bytes of the body.
    pub fn feed(&mut self, bytes: &[u8]) {
        match self.kind {
            BodyKind::Json => self.json.feed(bytes),
            BodyKind::EventStream => self.events.feed(bytes),
        }
    }

    /// What the body (or as much of it as passed, for one cut short) said it used: for JSON,
    /// the last complete top-level `usage` member; for an event stream, each unit's last
    /// count in the events dispatched (an event not finished by a blank line is not one).
    pub fn finish(self) -> Option<Usage> {
        match self.kind {
            BodyKind::EventStream => self.events.usage(),
            BodyKind::Json => self.json.usage(),
        }
    }
}

/// Reads an event stream as the event-stream format (WHATWG HTML, "server-sent events")
/// says a client reads it: a leading byte-order mark ignored; lines ending at CR, LF or CRLF;
/// an event's `data:` lines joined by LF and dispatched by a blank line; comments and other
/// fields ignored. Each dispatched event's JSON gives its usage: the top-level `usage`, and
/// for the input count also `message.usage` (Anthropic's `message_start`, whose output count is
/// a placeholder; its `message_delta` carries the real one). Each unit's largest count wins
/// (counts in a stream are running totals), and only once a top-level `usage` was seen.
#[derive(Debug, Default)]
struct Events {
    /// Bytes of a byte-order mark matched at the start (3: past it, or there was none).
    bom: usize,
    /// The current line, up to [`MAX_LINE`].
    line: Vec<u8>,
    /// The current line outgrew [`MAX_LINE`]: skipped, and the event it belongs to too.
    skipping: bool,
    after_cr: bool,
    /// The current event's data, and whether it is past reading (a line or the data too long).
    data: Vec<u8>,
    has_data: bool,
    broken: bool,
    /// Each unit's largest count; `unreadable` once a usage could not be read (the hold);
    /// `final_seen` once a top-level `usage` with a count was.
    counts: Counts,
    unreadable: bool,
    final_seen: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Events {
    fn feed(&mut self, mut bytes: &[u8]) {
        while self.bom < BOM.len() {
            let Some((&b, rest)) = bytes.split_first() else { return };
            if b == BOM[self.bom] {
                self.bom += 1;
                bytes = rest;
            } else {
                // No mark: what matched of it was the first line's start.
                let matched = BOM[..self.bom].to_vec();
                self.bom = BOM.len();
                self.push(&matched);
            }
        }
        while !bytes.is_empty() {
            if self.after_cr && bytes[0] == b'\n' {
                self.after_cr = false;
                bytes = &bytes[1..];
                continue;
            }
            self.after_cr = false;
            match bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(at) => {
                    self.push(&bytes[..at]);
                    self.after_cr = bytes[at] == b'\r';
                    self.end_line();
                    bytes = &bytes[at + 1..];
                }
                None => {
                    self.push(bytes);
                    return;
                }
            }
        }
    }

    fn push(&mut self, part: &[u8]) {
        if self.skipping {
            return;
        }
        if self.line.len() + part.len() > MAX_LINE {
            self.line.clear();
            self.skipping = true;
            return;
        }
        self.line.extend_from_slice(part);
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.skipping) {
            self.broken = true;
            return;
        }
        if line.is_empty() {
            self.dispatch();
            return;
        }
        let value = match line.strip_prefix(b"data") {
            Some([]) => &[][..],
            Some([b':', rest @ ..]) => rest.strip_prefix(b" ").unwrap_or(rest),
            _ => return,
        };
        if self.data.len() + value.len() + 1 > MAX_LINE {
            self.broken = true;
            return;
        }
        if self.has_data {
            self.data.push(b'\n');
        }
        self.has_data = true;
        self.data.extend_from_slice(value);
    }

    /// A blank line: the event's data, if it is JSON with a usage, counts.
    fn dispatch(&mut self) {
        let data = std::mem::take(&mut self.data);
        self.has_data = false;
        if std::mem::take(&mut self.broken) || data.trim_ascii_start().first() != Some(&b'{') {
            return;
        }
        let Ok(doc) = serde_json::from_slice::<Value>(&data) else { return };
        let max = |a: Option<u64>, b: Option<u64>| a.max(b);
        // `message.usage` (Anthropic's `message_start`) gives the input count only: its
        // output count is a placeholder, the real one comes with the final usage.
        if let Some(usage) = doc.get("message").and_then(|m| m.get("usage")) {
            match Counts::of(usage) {
                Ok(c) => self.counts.prompt = max(self.counts.prompt, c.prompt),
                Err(()) => self.unreadable = true,
            }
        }
        if let Some(usage) = doc.get("usage") {
            match Counts::of(usage) {
                Ok(c) => {
                    // Counts in a stream are running totals: the largest is the answer's.
                    self.counts.prompt = max(self.counts.prompt, c.prompt);
                    self.counts.completion = max(self.counts.completion, c.completion);
                    self.final_seen |= c.prompt.is_some() || c.completion.is_some();
                }
                Err(()) => self.unreadable = true,
            }
        }
    }

    /// The usage, once an event with a top-level `usage` (the answer's own report) was
    /// dispatched: a stream cut before it said (after `message_start` alone, say) is charged
    /// the hold.
    fn usage(&self) -> Option<Usage> {
        let Counts { prompt, completion } = self.counts;
        if self.unreadable || !self.final_seen {
            return None;
        }
        Some(Usage { prompt: prompt.unwrap_or(0), completion: completion.unwrap_or(0) })
    }
}

/// Follows a JSON document byte by byte (nesting, strings, escapes) and keeps only the value
/// of its top-level `usage` member: what `serde_json` would find at `doc["usage"]`, in
/// constant memory. A member name written with escapes (`"\u0075sage"`) is not matched, and
/// a document that is not an object has no usage: either way the hold is charged, never less.
#[derive(Debug, Default)]
struct TopLevel {
    /// Open objects and arrays; 1 inside the top-level object.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Inside the top-level object, the next string is a member name.
    expect_name: bool,
    /// The member name being read (`Some` while reading one at depth 1); `None` inside once
    /// it cannot be `usage`.
    name: Option<Vec<u8>>,
    reading_name: bool,
    /// The member just named is `usage`: its value comes next.
    usage_next: bool,
    /// The `usage` value being kept (an object), and whether it outgrew [`MAX_USAGE`].
    capture: Option<Vec<u8>>,
    too_big: bool,
    /// The last complete top-level `usage` member, as read (`None` inside: unreadable).
    found: Option<Option<Usage>>,
    /// The document is not an object, or something follows its end: no usage.
    not_an_object: bool,
    started: bool,
}

impl TopLevel {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.not_an_object {
                return;
            }
            self.byte(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if let Some(capture) = &mut self.capture {
            if capture.len() < MAX_USAGE {
                capture.push(b);
            } else {
                self.too_big = true;
            }
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
                // An escape in a member name: not matched (see the type's comment).
                if self.reading_name {
                    self.name = None;
                }
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                self.reading_name = false;
            } else if self.reading_name {
                if let Some(name) = &mut self.name {
                    if name.len() < 5 {
                        name.push(b);
                    } else {
                        self.name = None;
                    }
                }
            }
            return;
        }
        if b.is_ascii_whitespace() {
            return;
        }
        if !self.started {
            self.started = true;
            if b != b'{' {
                self.not_an_object = true;
                return;
            }
        } else if self.depth == 0 {
            // Something after the document's end: it is not one JSON document.
            self.not_an_object = true;
            return;
        }
        let value_at_top = self.depth == 1 && self.usage_next;
        match b {
            b'"' => {
                self.in_string = true;
                if self.depth == 1 && self.expect_name {
                    self.expect_name = false;
                    self.reading_name = true;
                    self.name = Some(Vec::new());
                }
            }
            b'{' | b'[' => {
                if value_at_top && b == b'{' {
                    self.capture = Some(vec![b'{']);
                    self.too_big = false;
                }
                self.depth += 1;
                if self.depth == 1 {
                    self.expect_name = true;
                }
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 1 {
                    if let Some(capture) = self.capture.take() {
                        let read = (!self.too_big)
                            .then(|| serde_json::from_slice::<Value>(&capture).ok())
                            .flatten()
                            .as_ref()
                            .and_then(Usage::from_object);
                        // A member named twice: each unit's larger count (never the
                        // cheaper of two), and one unreadable makes the answer unreadable.
                        self.found = Some(match (self.found, read) {
                            (None, read) => read,
                            (Some(None), _) | (_, None) => None,
                            (Some(Some(a)), Some(b)) => Some(Usage {
                                prompt: a.prompt.max(b.prompt),
                                completion: a.completion.max(b.completion),
                            }),
                        });
                    }
                }
            }
            b':' if self.depth == 1 => {
                self.usage_next = self.name.take().is_some_and(|n| n == b"usage");
                return;
            }
            b',' if self.depth == 1 => self.expect_name = true,
            _ => {}
        }
        if value_at_top {
            // A `usage` that is not an object (a string, a number, null) is no usage.
            if b != b'{' {
                self.found = Some(None);
            }
            self.usage_next = false;
        }
    }

    fn usage(&self) -> Option<Usage> {
        if self.not_an_object {
            return None;
        }
        self.found.flatten()
    }
}

/// Renames an upstream's own `event: crumb-receipt` in an event stream to
/// `event: upstream-crumb-receipt`, so that the one event of that name a client sees is the
/// one crumb appends after the upstream's last byte ([`Self::closing`] says what that event
/// must start with). Holds back at most the first 20 bytes of a line, only while they could
/// still spell that field; lines end at CR, LF or CRLF, as the event-stream format says.
#[derive(Debug, Default)]
pub struct ForeignReceipts {
    /// Bytes of a leading byte-order mark passed on (3: past it, or there was none): a
    /// client ignores the mark, so the line after it is the first line.
    bom: usize,
    /// The current line's bytes held back.
    held: Vec<u8>,
    /// The current line can no longer be the field: passed through as it comes.
    passing: bool,
    /// The last byte was a CR (a LF after it ends no second line).
    after_cr: bool,
    /// Bytes since the last line end.
    mid_line: bool,
    /// A non-empty line since the last blank one: an event the client has not dispatched.
    pending: bool,
}

const RECEIPT_FIELDS: [&[u8]; 2] = [b"event: crumb-receipt", b"event:crumb-receipt"];

impl ForeignReceipts {
    /// The bytes to pass on for `input`.
    pub fn filter(&mut self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len() + 16);
        for &b in input {
            if self.bom < BOM.len() {
                if b == BOM[self.bom] {
                    self.bom += 1;
                    out.push(b);
                    continue;
                }
                self.bom = BOM.len();
            }
            if b == b'\n' || b == b'\r' {
                let continues_crlf = b == b'\n' && self.after_cr;
                self.after_cr = b == b'\r';
                if !continues_crlf {
                    if !self.passing {
                        let held = std::mem::take(&mut self.held);
                        if RECEIPT_FIELDS.contains(&held.as_slice()) {
                            out.extend_from_slice(b"event: upstream-crumb-receipt");
                        } else {
                            out.extend_from_slice(&held);
                        }
                    }
                    self.pending = self.mid_line;
                    self.mid_line = false;
                    self.passing = false;
                }
                out.push(b);
                continue;
            }
            self.after_cr = false;
            self.mid_line = true;
            if self.passing {
                out.push(b);
                continue;
            }
            self.held.push(b);
            if !RECEIPT_FIELDS.iter().any(|f| f.starts_with(&self.held)) {
                out.append(&mut self.held);
                self.passing = true;
            }
        }
        out
    }

    /// What goes before crumb's own event once the upstream's stream has ended: the bytes
    /// still held, and the line ends that finish the upstream's last line and dispatch its
    /// last event, so that none of its fields joins crumb's event.
    pub fn closing(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.held);
        if self.mid_line {
            out.extend_from_slice(b"\n\n");
        } else if self.pending {
            out.push(b'\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(text: &str) -> Metering {
        Metering::parse(&text.split_whitespace().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn credits_are_the_rates_summed_and_rounded_up_once() {
        let m = rates("prompt 3/1k completion 15/1k");
        assert_eq!(m.credits(Usage { prompt: 1200, completion: 300 }), 9); // 3.6 + 4.5 = 8.1
        assert_eq!(m.credits(Usage { prompt: 0, completion: 0 }), 0);
        let thin = rates("prompt 400/1m");
        assert_eq!(thin.credits(Usage { prompt: 1000, completion: 0 }), 1); // 0.4
        assert_eq!(thin.credits(Usage { prompt: 3000, completion: 0 }), 2); // 1.2
        let huge = rates("prompt 18446744073709551615/1k");
        assert_eq!(huge.credits(Usage { prompt: u64::MAX, completion: 0 }), u64::MAX);
        for bad in ["prompt", "prompt 3", "prompt 3/2k", "tokens 3/1k", "prompt 3/1k prompt 4/1k", "prompt -3/1k"] {
            assert!(Metering::parse(&bad.split_whitespace().collect::<Vec<_>>()).is_err(), "{bad}");
        }
        assert_eq!(m.to_string(), " prompt 3/1k completion 15/1k");
    }

    #[test]
    fn usage_is_found_in_json_bodies_of_any_size() {
        let body = br#"{"id":"x","choices":[{"text":"hi"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#;
        for split in [1, 7, body.len()] {
            let mut s = Scanner::new(BodyKind::Json);
            for part in body.chunks(split) {
                s.feed(part);
            }
            assert_eq!(s.finish(), Some(Usage { prompt: 12, completion: 5 }));
        }
        // Larger than a megabyte: nothing but the usage member is kept, and it is found.
        let mut s = Scanner::new(BodyKind::Json);
        s.feed(br#"{"choices":[{"text":""#);
        let filler = vec![b'a'; 64 << 10];
        for _ in 0..40 {
            s.feed(&filler);
        }
        s.feed(br#""}],"usage": {"input_tokens":7,"output_tokens":9}}"#);
        assert!(s.json.capture.is_none());
        assert_eq!(s.finish(), Some(Usage { prompt: 7, completion: 9 }));
        let mut s = Scanner::new(BodyKind::Json);
        s.feed(b"{\"choices\":[]}");
        assert_eq!(s.finish(), None);
        // A count that is not a whole number is no usage: the hold is charged.
        for bad in [r#""5000""#, "1.5", "1e30", "-100000"] {
            let doc: Value =
                serde_json::from_str(&format!(r#"{{"usage":{{"prompt_tokens":{bad},"completion_tokens":300}}}}"#))
                    .unwrap();
            assert_eq!(Usage::from_document(&doc), None, "{bad}");
        }
        let doc: Value = serde_json::from_str(r#"{"usage":{"prompt_tokens":7,"completion_tokens":null}}"#).unwrap();
        assert_eq!(Usage::from_document(&doc), Some(Usage { prompt: 7, completion: 0 }));
    }

    fn json_usage(body: &str) -> Option<Usage> {
        let mut s = Scanner::new(BodyKind::Json);
        for b in body.as_bytes().chunks(3) {
            s.feed(b);
        }
        s.finish()
    }

    #[test]
    fn only_the_top_level_usage_member_counts() {
        let nested = r#"{"choices":[{"message":{"usage":{"prompt_tokens":0}}}],"x":{"usage":{"prompt_tokens":1}}}"#;
        assert_eq!(json_usage(nested), None, "a usage nested in a choice is not the answer's");
        let both = r#"{"choices":[{"usage":{"prompt_tokens":0}}],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#;
        assert_eq!(json_usage(both), Some(Usage { prompt: 5, completion: 2 }));
        // In strings: quotes, escapes and braces do not open members.
        let quoted = r#"{"text":"\"usage\": {\"prompt_tokens\": 0} } { \\","usage":{"prompt_tokens":8}}"#;
        assert_eq!(json_usage(quoted), Some(Usage { prompt: 8, completion: 0 }));
        assert_eq!(json_usage(r#"{"\u0075sage":{"prompt_tokens":0}}"#), None, "escaped names are not matched");
        assert_eq!(json_usage(r#"{"usages":{"prompt_tokens":0},"usag":{"prompt_tokens":0}}"#), None);
        assert_eq!(json_usage(r#"{"usage":"lots"}"#), None);
        assert_eq!(json_usage(r#"[{"usage":{"prompt_tokens":3}}]"#), None, "not an object");
        assert_eq!(json_usage(r#"{"usage":{"prompt_tokens":3}} {"usage":{"prompt_tokens":0}}"#), None, "two documents");
        // A member named twice: each unit's larger count, whichever comes last.
        assert_eq!(json_usage(r#"{"usage":{"prompt_tokens":3},"usage":{"prompt_tokens":4}}"#).unwrap().prompt, 4);
        assert_eq!(json_usage(r#"{"usage":{"prompt_tokens":4},"usage":{"prompt_tokens":0}}"#).unwrap().prompt, 4);
        // Cut after its usage: the usage; before it: none.
        assert_eq!(json_usage(r#"{"usage":{"prompt_tokens":3},"choices":[{"te"#).unwrap().prompt, 3);
        assert_eq!(json_usage(r#"{"choices":[],"usage":{"prompt_tok"#), None);
        // Too big a usage member is no usage.
        let big = format!(r#"{{"usage":{{"prompt_tokens":3,"pad":"{}"}}}}"#, "p".repeat(MAX_USAGE));
        assert_eq!(json_usage(&big), None);
    }

    fn renamed(parts: &[&[u8]]) -> Vec<u8> {
        let mut f = ForeignReceipts::default();
        let mut out: Vec<u8> = parts.iter().flat_map(|p| f.filter(p)).collect();
        out.extend(f.closing());
        out
    }

    #[test]
    fn an_upstreams_own_receipt_event_is_renamed() {
        let stream = b"data: a\n\nevent: crumb-receipt\ndata: {\"token\":\"x\"}\n\nevent:crumb-receipt\r\n\r\n";
        let expected = b"data: a\n\nevent: upstream-crumb-receipt\ndata: {\"token\":\"x\"}\n\nevent: upstream-crumb-receipt\r\n\r\n";
        for split in [1, 4, stream.len()] {
            let parts: Vec<&[u8]> = stream.chunks(split).collect();
            assert_eq!(renamed(&parts), expected.to_vec(), "split {split}");
        }
        // A byte-order mark before the first line does not hide it.
        assert_eq!(
            renamed(&[b"\xEF\xBB", b"\xBFevent: crumb-receipt\n\n"]),
            b"\xEF\xBB\xBFevent: upstream-crumb-receipt\n\n".to_vec()
        );
        // A bare CR ends a line too; other events and longer names pass as they are.
        assert_eq!(renamed(&[b"event: crumb-receipt\r\r"]), b"event: upstream-crumb-receipt\r\r".to_vec());
        let others = b"event: crumb-receipts\nevent: crumb\ndata: event: crumb-receipt\n\n";
        assert_eq!(renamed(&[others]), others.to_vec());
        // The upstream's last event is finished and dispatched before crumb's.
        assert_eq!(renamed(&[b"data: x\n"]), b"data: x\n\n".to_vec());
        assert_eq!(renamed(&[b"data: x"]), b"data: x\n\n".to_vec());
        assert_eq!(renamed(&[b"event: crumb"]), b"event: crumb\n\n".to_vec());
        assert_eq!(renamed(&[b"data: x\n\n"]), b"data: x\n\n".to_vec());
        assert_eq!(renamed(&[b"data: x\r\n\r\n"]), b"data: x\r\n\r\n".to_vec());
    }

    #[test]
    fn usage_is_the_last_event_that_carries_one() {
        let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n\
                      data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n\
                      data: [DONE]\n\n";
        for split in [1, 5, stream.len()] {
            let mut s = Scanner::new(BodyKind::EventStream);
            for part in stream.as_bytes().chunks(split) {
                s.feed(part);
            }
            assert_eq!(s.finish(), Some(Usage { prompt: 3, completion: 4 }));
        }
        // A line longer than MAX_LINE is skipped with its event, and memory stays bounded.
        let mut s = Scanner::new(BodyKind::EventStream);
        s.feed(b"data: ");
        for _ in 0..10 {
            s.feed(&vec![b'x'; MAX_LINE / 4]);
        }
        assert!(s.events.line.len() <= MAX_LINE);
        s.feed(b"\ndata: {\"usage\":{\"completion_tokens\":5}}\n\n");
        s.feed(b"data: {\"usage\":{\"completion_tokens\":2}}\n\n");
        assert_eq!(s.finish(), Some(Usage { prompt: 0, completion: 2 }));
    }

    fn sse_usage(stream: &[u8]) -> Option<Usage> {
        let mut s = Scanner::new(BodyKind::EventStream);
        for part in stream.chunks(2) {
            s.feed(part);
        }
        s.finish()
    }

    #[test]
    fn event_streams_are_read_as_clients_read_them() {
        let usage = br#"{"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        let want = Some(Usage { prompt: 3, completion: 4 });
        let event = |eol: &[u8]| [b"data: ".as_slice(), usage, eol, eol].concat();
        assert_eq!(sse_usage(&event(b"\r")), want, "CR line ends");
        assert_eq!(sse_usage(&event(b"\r\n")), want, "CRLF");
        assert_eq!(sse_usage(&[b"\xEF\xBB\xBF".as_slice(), &event(b"\n")].concat()), want, "a byte-order mark");
        let split = b"data: {\"usage\":\ndata: {\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n";
        assert_eq!(sse_usage(split), want, "data lines joined");
        assert_eq!(sse_usage(&[b"data: ".as_slice(), usage, b"\n"].concat()), None, "never dispatched");
        assert_eq!(
            sse_usage(b": comment\nid: 1\nevent: x\ndata:{\"usage\":{\"completion_tokens\":2}}\n\n")
                .unwrap()
                .completion,
            2
        );
        // Anthropic: the input count in message_start, the output count in message_delta.
        let anthropic = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1000,\"cache_read_input_tokens\":200,\"output_tokens\":1}}}\n\n\
event: content_block_delta\ndata: {\"type\":\"content_block_delta\"}\n\n\
event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":1000}}\n\n";
        assert_eq!(sse_usage(anthropic), Some(Usage { prompt: 1200, completion: 1000 }));
        // Cut after message_start: its output count is a placeholder, no usage was said.
        let start = anthropic.split(|&b| b == b'\n').take(3).collect::<Vec<_>>().join(&b'\n');
        assert_eq!(sse_usage(&[start.as_slice(), b"\n"].concat()), None);
        // A message_delta that says input 0 lowers nothing (counts are running totals).
        let lowered =
            [anthropic.as_slice(), b"data: {\"usage\":{\"input_tokens\":0,\"output_tokens\":1000}}\n\n"].concat();
        assert_eq!(sse_usage(&lowered).unwrap().prompt, 1200);
        // A data line that is empty, then the JSON: the joined data is still JSON.
        assert_eq!(sse_usage(b"data\ndata: {\"usage\":{\"completion_tokens\":9}}\n\n").unwrap().completion, 9);
        // One unit named twice: the larger counts.
        let doc: Value = serde_json::from_str(r#"{"usage":{"prompt_tokens":1000,"input_tokens":0}}"#).unwrap();
        assert_eq!(Usage::from_document(&doc).unwrap().prompt, 1000);
        assert_eq!(sse_usage(b"data: {\"usage\":{\"prompt_tokens\":\"7\"}}\n\n"), None, "unreadable: the hold");
    }

    #[test]
    fn crumb_charge_is_one_whole_number() {
        assert_eq!(crumb_charge([b"7".as_slice()].into_iter()), Some(Ok(7)));
        assert_eq!(crumb_charge(std::iter::empty()), None);
        assert_eq!(crumb_charge([b"7".as_slice(), b"8"].into_iter()), Some(Err(())));
        assert_eq!(crumb_charge([b"-1".as_slice()].into_iter()), Some(Err(())));
        assert_eq!(crumb_charge([b"+3".as_slice()].into_iter()), Some(Err(())));
        assert_eq!(crumb_charge([b" 4 ".as_slice()].into_iter()), Some(Ok(4)));
        assert_eq!(BodyKind::of("application/json; charset=utf-8"), Some(BodyKind::Json));
        assert_eq!(BodyKind::of("text/event-stream"), Some(BodyKind::EventStream));
        assert_eq!(BodyKind::of("text/plain"), None);
    }
}
