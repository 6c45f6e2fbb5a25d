//! Wire formats, as libmacaroons, pymacaroons, go-macaroon and js-macaroon write them:
//! v1 (packets, base64), v2 (binary TLV, base64url) and the v1/v2 JSON forms.
//!
//! Decoding is bounded: token size, caveat count and field length have limits, and every
//! way bytes can run out is reported as a truncated token rather than a generic failure.

use super::{Macaroon, RawCaveat};
use crate::error::{DecodeError, EncodeError};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// Largest token text accepted (a bearer token this size is already absurd).
pub const MAX_TOKEN_TEXT: usize = 256 * 1024;
/// Most caveats one token may carry.
pub const MAX_CAVEATS: usize = 1024;
/// Longest single field (identifier, caveat, location).
pub const MAX_FIELD: usize = 65_535;

const LENIENT_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
/// Standard alphabet, padded or not.
const LENIENT: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT_CONFIG);
/// URL-safe alphabet, padded or not: what crumb and most libraries write, so tried first.
const LENIENT_URL: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT_CONFIG);

/// The formats crumb writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Format {
    /// v1 binary, base64url without padding (pymacaroons' and libmacaroons' text form).
    V1,
    /// v2 binary, base64url without padding.
    #[default]
    V2,
    /// v2 JSON.
    Json,
    /// v1 JSON.
    JsonV1,
}

impl Format {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "v1" => Some(Format::V1),
            "v2" => Some(Format::V2),
            "json" | "v2-json" | "json-v2" => Some(Format::Json),
            "v1-json" | "json-v1" => Some(Format::JsonV1),
            _ => None,
        }
    }
}

/// Which encoding a decoded token arrived in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Detected {
    V1,
    V2,
    JsonV1,
    JsonV2,
}

impl Detected {
    pub fn name(self) -> &'static str {
        match self {
            Detected::V1 => "v1",
            Detected::V2 => "v2",
            Detected::JsonV1 => "v1-json",
            Detected::JsonV2 => "json",
        }
    }
}

/// Decodes a token in any supported text form.
pub fn decode(text: &str) -> Result<Macaroon, DecodeError> {
    decode_detect(text).map(|(m, _)| m)
}

/// Decodes a token and says which format it was in.
pub fn decode_detect(text: &str) -> Result<(Macaroon, Detected), DecodeError> {
    decode_trimmed(text.trim()).map_err(|e| match pasted_mistake(text.trim()) {
        Some(likely) => DecodeError::Malformed(likely.to_owned()),
        None => e,
    })
}

/// The likely cause when a pasted token does not decode: text that is not a macaroon, or a
/// macaroon with something around it.
fn pasted_mistake(text: &str) -> Option<&'static str> {
    let lower = text.get(..7).map(str::to_ascii_lowercase);
    if lower.as_deref() == Some("bearer ") {
        return Some("it starts with `Bearer `: give the token alone, without the header's scheme");
    }
    let quoted = |q: char| text.len() >= 2 && text.starts_with(q) && text.ends_with(q);
    if quoted('"') || quoted('\'') || quoted('`') {
        return Some("it is in quotes: give the token without them");
    }
    if text.starts_with("eyJ") && text.matches('.').count() == 2 {
        return Some("this is a JWT, not a macaroon");
    }
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some("this is 32 bytes of hex, the shape of a root key, not a token");
    }
    None
}

fn decode_trimmed(text: &str) -> Result<(Macaroon, Detected), DecodeError> {
    if text.is_empty() {
        return Err(DecodeError::Empty);
    }
    if text.len() > MAX_TOKEN_TEXT {
        return Err(DecodeError::TooLarge { len: text.len(), max: MAX_TOKEN_TEXT });
    }
    if text.starts_with('{') {
        return decode_json(text);
    }
    let bytes = Bytes::from(decode_base64(text)?);
    decode_binary_detect(&bytes)
}

/// Decodes v1 or v2 binary.
pub fn decode_binary(bytes: &[u8]) -> Result<Macaroon, DecodeError> {
    decode_binary_detect(&Bytes::copy_from_slice(bytes)).map(|(m, _)| m)
}

/// Fields of the result are slices of `bytes`: one buffer, no copy per caveat.
fn decode_binary_detect(bytes: &Bytes) -> Result<(Macaroon, Detected), DecodeError> {
    match bytes.first() {
        None => Err(DecodeError::Empty),
        Some(2) => Ok((decode_v2(bytes)?, Detected::V2)),
        Some(b'0'..=b'9' | b'a'..=b'f') => Ok((decode_v1(bytes)?, Detected::V1)),
        Some(&other) => Err(DecodeError::UnknownFormat(other)),
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    // The common case, as crumb and most libraries write it: URL-safe, unpadded, SIMD-decoded.
    if let Ok(bytes) = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(text) {
        return Ok(bytes);
    }
    if let Ok(bytes) = LENIENT_URL.decode(text) {
        return Ok(bytes);
    }
    // Standard alphabet, a mix of both (pasted from different tools), or line breaks.
    let normalised: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    LENIENT.decode(&normalised).map_err(|e| match e {
        base64::DecodeError::InvalidLength(_) => DecodeError::Truncated("its base64 length is impossible".into()),
        // The byte as a reader sees it (`'"'`, `'\u{1}'`), not as a number.
        base64::DecodeError::InvalidByte(offset, byte) => {
            DecodeError::Base64(format!("{:?} at character {offset} is not base64", char::from(byte)))
        }
        base64::DecodeError::InvalidLastSymbol(offset, byte) => {
            DecodeError::Base64(format!("{:?} at character {offset} cannot end base64", char::from(byte)))
        }
        other => DecodeError::Base64(other.to_string()),
    })
}

/// Encodes a token as text in `format`.
pub fn encode(m: &Macaroon, format: Format) -> Result<String, EncodeError> {
    Ok(match format {
        Format::V1 => URL_SAFE_NO_PAD.encode(encode_v1(m)?),
        Format::V2 => URL_SAFE_NO_PAD.encode(encode_v2(m)),
        Format::Json => encode_json_v2(m).to_string(),
        Format::JsonV1 => encode_json_v1(m)?.to_string(),
    })
}

fn check_field(field: &'static str, len: usize) -> Result<(), DecodeError> {
    if len > MAX_FIELD {
        return Err(DecodeError::FieldTooLong { field, len, max: MAX_FIELD });
    }
    Ok(())
}

fn check_caveat_count(count: usize) -> Result<(), DecodeError> {
    if count >= MAX_CAVEATS {
        return Err(DecodeError::TooManyCaveats { max: MAX_CAVEATS });
    }
    Ok(())
}

fn utf8_field(field: &'static str, bytes: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Malformed(format!("the {field} is not UTF-8")))
}

fn to_signature(bytes: &[u8]) -> Result<[u8; 32], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::Malformed(format!("the signature is {} bytes, not 32", bytes.len())))
}

// ---------------------------------------------------------------- v1

/// A v1 packet's key and value.
type Packet<'a> = (&'a [u8], &'a [u8]);

struct V1Packets<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> V1Packets<'a> {
    /// Next `(key, value)` packet, or `None` at the end of input.
    fn next_packet(&mut self) -> Result<Option<Packet<'a>>, DecodeError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        if self.rest.len() < 4 {
            return Err(DecodeError::Truncated(format!(
                "a packet header at byte {} has {} of its 4 bytes",
                self.offset,
                self.rest.len()
            )));
        }
        let header = std::str::from_utf8(&self.rest[..4]).ok();
        let len = header
            // Lowercase only, as every library writes it: one token, one encoding.
            .filter(|h| h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .ok_or_else(|| DecodeError::Malformed(format!("bad v1 packet header at byte {}", self.offset)))?;
        if len < 6 {
            return Err(DecodeError::Malformed(format!("v1 packet at byte {} is {len} bytes, too short", self.offset)));
        }
        if len > self.rest.len() {
            return Err(DecodeError::Truncated(format!(
                "the v1 packet at byte {} claims {len} bytes but only {} remain",
                self.offset,
                self.rest.len()
            )));
        }
        let body = &self.rest[4..len];
        let body = body.strip_suffix(b"\n").ok_or_else(|| {
            DecodeError::Malformed(format!("v1 packet at byte {} does not end in a newline", self.offset))
        })?;
        let space = body
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| DecodeError::Malformed(format!("v1 packet at byte {} has no key", self.offset)))?;
        self.rest = &self.rest[len..];
        self.offset += len;
        Ok(Some((&body[..space], &body[space + 1..])))
    }

    fn expect(&mut self, key: &str, missing: &str) -> Result<&'a [u8], DecodeError> {
        match self.next_packet()? {
            Some((k, v)) if k == key.as_bytes() => Ok(v),
            Some((k, _)) => Err(DecodeError::Malformed(format!(
                "expected a `{key}` packet, found `{}`",
                String::from_utf8_lossy(k)
            ))),
            None => Err(DecodeError::Truncated(missing.into())),
        }
    }
}

fn decode_v1(bytes: &Bytes) -> Result<Macaroon, DecodeError> {
    let mut packets = V1Packets { rest: bytes, offset: 0 };
    let location = packets.expect("location", "it ends before its location")?;
    let identifier = packets.expect("identifier", "it ends before its identifier")?;
    check_field("identifier", identifier.len())?;
    let location = utf8_field("location", location)?;
    let mut caveats: Vec<RawCaveat> = Vec::new();
    loop {
        let Some((key, value)) = packets.next_packet()? else {
            return Err(DecodeError::Truncated(format!("it ends after {} caveats with no signature", caveats.len())));
        };
        match key {
            b"cid" => {
                check_caveat_count(caveats.len())?;
                caveats.push(RawCaveat::first_party(bytes.slice_ref(value)));
            }
            b"vid" => match caveats.last_mut() {
                Some(c) if c.vid.is_none() && c.location.is_none() => c.vid = Some(bytes.slice_ref(value)),
                _ => return Err(DecodeError::Malformed("a `vid` packet without its `cid`".into())),
            },
            b"cl" => match caveats.last_mut() {
                // As with the token's location, an empty v1 `cl` means "none". Only a
                // third-party caveat has a location: a `cl` after a bare `cid` would be dropped
                // by every encoder, so the token would not survive a round trip (found by the
                // decode_v1 fuzz target).
                Some(c) if c.vid.is_some() && c.location.is_none() => {
                    c.location = Some(utf8_field("caveat location", value)?).filter(|l| !l.is_empty())
                }
                _ => return Err(DecodeError::Malformed("a `cl` packet without its `cid` and `vid`".into())),
            },
            b"signature" => {
                let signature = to_signature(value)?;
                if !packets.rest.is_empty() {
                    return Err(DecodeError::Malformed("data after the signature".into()));
                }
                // An empty v1 location is how v1 says "none"; keep it `None` so a re-encode in
                // v2 leaves the field out, as go-macaroon and js-macaroon do.
                let location = (!location.is_empty()).then_some(location);
                return Ok(Macaroon { location, identifier: bytes.slice_ref(identifier), caveats, signature });
            }
            other => {
                return Err(DecodeError::Malformed(format!("unknown v1 packet `{}`", String::from_utf8_lossy(other))))
            }
        }
    }
}

fn push_packet(out: &mut Vec<u8>, key: &str, value: &[u8]) -> Result<(), EncodeError> {
    let len = 4 + key.len() + 1 + value.len() + 1;
    if len > 0xffff {
        return Err(EncodeError::PacketTooLarge(len));
    }
    out.extend_from_slice(format!("{len:04x}").as_bytes());
    out.extend_from_slice(key.as_bytes());
    out.push(b' ');
    out.extend_from_slice(value);
    out.push(b'\n');
    Ok(())
}

/// v1 binary.
pub fn encode_v1(m: &Macaroon) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(128 + m.caveats.len() * 64);
    push_packet(&mut out, "location", m.location.as_deref().unwrap_or("").as_bytes())?;
    push_packet(&mut out, "identifier", &m.identifier)?;
    for c in &m.caveats {
        push_packet(&mut out, "cid", &c.id)?;
        if let Some(vid) = &c.vid {
            push_packet(&mut out, "vid", vid)?;
            push_packet(&mut out, "cl", c.location.as_deref().unwrap_or("").as_bytes())?;
        }
    }
    push_packet(&mut out, "signature", &m.signature)?;
    Ok(out)
}

// ---------------------------------------------------------------- v2

const FIELD_EOS: u8 = 0;
const FIELD_LOCATION: u8 = 1;
const FIELD_IDENTIFIER: u8 = 2;
const FIELD_VID: u8 = 4;
const FIELD_SIGNATURE: u8 = 6;

struct V2Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> V2Reader<'a> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.bytes
            .get(self.pos)
            .copied()
            .ok_or_else(|| DecodeError::Truncated(format!("it ends at byte {} inside the v2 fields", self.pos)))
    }

    fn varint(&mut self) -> Result<usize, DecodeError> {
        let mut value: usize = 0;
        for shift in (0..35).step_by(7) {
            let byte = self.peek()?;
            self.pos += 1;
            value |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    return Err(DecodeError::Malformed("a v2 length varint is not minimal".into()));
                }
                return Ok(value);
            }
        }
        Err(DecodeError::Malformed("a v2 length varint is too long".into()))
    }

    /// Reads one `(type, data)` field; `FIELD_EOS` has no data.
    fn field(&mut self) -> Result<(u8, &'a [u8]), DecodeError> {
        let kind = self.peek()?;
        self.pos += 1;
        if kind == FIELD_EOS {
            return Ok((kind, &[]));
        }
        let len = self.varint()?;
        check_field("v2", len)?;
        let end = self.pos + len;
        if end > self.bytes.len() {
            return Err(DecodeError::Truncated(format!(
                "a v2 field at byte {} claims {len} bytes but only {} remain",
                self.pos,
                self.bytes.len() - self.pos
            )));
        }
        let data = &self.bytes[self.pos..end];
        self.pos = end;
        Ok((kind, data))
    }

    /// A section: fields of strictly increasing type up to EOS, each handed to `take`.
    fn section(&mut self, mut take: impl FnMut(u8, &'a [u8]) -> Result<(), DecodeError>) -> Result<(), DecodeError> {
        let mut last = FIELD_EOS;
        loop {
            let (kind, data) = self.field()?;
            if kind == FIELD_EOS {
                return Ok(());
            }
            if kind <= last {
                return Err(DecodeError::Malformed(format!("v2 field type {kind} out of order")));
            }
            last = kind;
            take(kind, data)?;
        }
    }
}

fn decode_v2(bytes: &Bytes) -> Result<Macaroon, DecodeError> {
    let mut r = V2Reader { bytes, pos: 1 };
    let mut location = None;
    let mut identifier = None;
    r.section(|kind, data| {
        match kind {
            FIELD_LOCATION => location = Some(utf8_field("location", data)?),
            FIELD_IDENTIFIER => identifier = Some(bytes.slice_ref(data)),
            other => return Err(DecodeError::Malformed(format!("unexpected v2 field {other} in the header"))),
        }
        Ok(())
    })?;
    let identifier = identifier.ok_or_else(|| DecodeError::Malformed("no identifier".into()))?;
    // A caveat takes at least 4 bytes: size the list once instead of growing it.
    let mut caveats = Vec::with_capacity((bytes.len() - r.pos) / 16);
    while r.peek()? != FIELD_EOS {
        check_caveat_count(caveats.len())?;
        let mut caveat = RawCaveat::first_party(Bytes::new());
        let mut has_id = false;
        r.section(|kind, data| {
            match kind {
                FIELD_LOCATION => caveat.location = Some(utf8_field("caveat location", data)?),
                FIELD_IDENTIFIER => {
                    caveat.id = bytes.slice_ref(data);
                    has_id = true;
                }
                FIELD_VID => caveat.vid = Some(bytes.slice_ref(data)),
                other => return Err(DecodeError::Malformed(format!("unexpected v2 field {other} in a caveat"))),
            }
            Ok(())
        })?;
        if !has_id {
            return Err(DecodeError::Malformed("a caveat without an identifier".into()));
        }
        caveats.push(caveat);
    }
    r.pos += 1;
    let (kind, sig) = r.field().map_err(|e| match e {
        DecodeError::Truncated(_) => DecodeError::Truncated("it ends before its signature".into()),
        other => other,
    })?;
    if kind != FIELD_SIGNATURE {
        return Err(DecodeError::Malformed(format!("expected the signature, found v2 field {kind}")));
    }
    let signature = to_signature(sig)?;
    if r.pos != bytes.len() {
        return Err(DecodeError::Malformed("data after the signature".into()));
    }
    Ok(Macaroon { location, identifier, caveats, signature })
}

fn push_varint(out: &mut Vec<u8>, mut value: usize) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn push_field(out: &mut Vec<u8>, kind: u8, data: &[u8]) {
    out.push(kind);
    push_varint(out, data.len());
    out.extend_from_slice(data);
}

/// v2 binary.
pub fn encode_v2(m: &Macaroon) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + m.identifier.len() + m.caveats.len() * 48);
    out.push(2);
    if let Some(loc) = &m.location {
        push_field(&mut out, FIELD_LOCATION, loc.as_bytes());
    }
    push_field(&mut out, FIELD_IDENTIFIER, &m.identifier);
    out.push(FIELD_EOS);
    for c in &m.caveats {
        if let Some(loc) = &c.location {
            push_field(&mut out, FIELD_LOCATION, loc.as_bytes());
        }
        push_field(&mut out, FIELD_IDENTIFIER, &c.id);
        if let Some(vid) = &c.vid {
            push_field(&mut out, FIELD_VID, vid);
        }
        out.push(FIELD_EOS);
    }
    out.push(FIELD_EOS);
    push_field(&mut out, FIELD_SIGNATURE, &m.signature);
    out
}

// ---------------------------------------------------------------- JSON

fn json_err(msg: impl Into<String>) -> DecodeError {
    DecodeError::Json(msg.into())
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn str_field<'v>(obj: &'v Map<String, Value>, name: &str) -> Result<Option<&'v str>, DecodeError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(json_err(format!("`{name}` must be a string"))),
    }
}

/// Reads `name` (UTF-8 text) or `name64` (base64), as JSON v2 allows either.
fn bytes_field(obj: &Map<String, Value>, name: &str) -> Result<Option<Vec<u8>>, DecodeError> {
    // The text and the base64 form of one field are alternatives: both at once could be read
    // one way here and the other way by another library.
    if obj.contains_key(name) && obj.contains_key(&format!("{name}64")) {
        return Err(json_err(format!("`{name}` and `{name}64` are both given: which one is it?")));
    }
    if let Some(text) = str_field(obj, name)? {
        return Ok(Some(text.as_bytes().to_vec()));
    }
    match str_field(obj, &format!("{name}64"))? {
        Some(b64) => decode_base64(b64).map(Some).map_err(|e| json_err(format!("`{name}64`: {e}"))),
        None => Ok(None),
    }
}

fn decode_json(text: &str) -> Result<(Macaroon, Detected), DecodeError> {
    let value: Value = crate::json::parse_unambiguous(text.as_bytes()).map_err(|e| {
        if e.is_eof() {
            DecodeError::Truncated(format!("the JSON ends early ({e})"))
        } else {
            json_err(e.to_string())
        }
    })?;
    let obj = value.as_object().ok_or_else(|| json_err("a token must be a JSON object"))?;
    if obj.contains_key("identifier") {
        Ok((decode_json_v1(obj)?, Detected::JsonV1))
    } else {
        Ok((decode_json_v2(obj)?, Detected::JsonV2))
    }
}

fn json_caveats(obj: &Map<String, Value>, name: &str) -> Result<Vec<Map<String, Value>>, DecodeError> {
    let list = match obj.get(name) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(json_err(format!("`{name}` must be a list"))),
    };
    check_caveat_count(list.len().saturating_sub(1))?;
    list.iter().map(|c| c.as_object().cloned().ok_or_else(|| json_err("each caveat must be an object"))).collect()
}

fn decode_json_v1(obj: &Map<String, Value>) -> Result<Macaroon, DecodeError> {
    let identifier = str_field(obj, "identifier")?.ok_or_else(|| json_err("no identifier"))?;
    check_field("identifier", identifier.len())?;
    let sig_hex = str_field(obj, "signature")?.ok_or_else(|| DecodeError::Truncated("no signature".into()))?;
    let sig = hex::decode(sig_hex).map_err(|e| json_err(format!("signature: {e}")))?;
    let mut caveats = Vec::new();
    for c in json_caveats(obj, "caveats")? {
        let id = str_field(&c, "cid")?.ok_or_else(|| json_err("a caveat without `cid`"))?;
        check_field("caveat", id.len())?;
        let vid = match str_field(&c, "vid")? {
            Some(v) => Some(decode_base64(v).map_err(|e| json_err(format!("vid: {e}")))?.into()),
            None => None,
        };
        let location = str_field(&c, "cl")?.filter(|l| !l.is_empty()).map(str::to_owned);
        caveats.push(RawCaveat { id: Bytes::copy_from_slice(id.as_bytes()), vid, location });
    }
    let location = str_field(obj, "location")?.filter(|l| !l.is_empty()).map(str::to_owned);
    let identifier = Bytes::copy_from_slice(identifier.as_bytes());
    Ok(Macaroon { location, identifier, caveats, signature: to_signature(&sig)? })
}

fn decode_json_v2(obj: &Map<String, Value>) -> Result<Macaroon, DecodeError> {
    match obj.get("v") {
        None => {}
        Some(v) if v.as_u64() == Some(2) => {}
        Some(other) => return Err(json_err(format!("unsupported JSON version {other}"))),
    }
    let identifier = bytes_field(obj, "i")?.ok_or_else(|| json_err("no identifier (`i` or `i64`)"))?;
    check_field("identifier", identifier.len())?;
    let sig = bytes_field(obj, "s")?.ok_or_else(|| DecodeError::Truncated("no signature (`s64`)".into()))?;
    let mut caveats = Vec::new();
    for c in json_caveats(obj, "c")? {
        let id = bytes_field(&c, "i")?.ok_or_else(|| json_err("a caveat without `i`"))?;
        check_field("caveat", id.len())?;
        let vid = bytes_field(&c, "v")?.map(Bytes::from);
        let location = str_field(&c, "l")?.map(str::to_owned);
        caveats.push(RawCaveat { id: id.into(), vid, location });
    }
    let location = str_field(obj, "l")?.map(str::to_owned);
    Ok(Macaroon { location, identifier: identifier.into(), caveats, signature: to_signature(&sig)? })
}

/// Puts bytes under `name` when they are UTF-8, else base64url under `name64`.
fn put_bytes(obj: &mut Map<String, Value>, name: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => obj.insert(name.into(), Value::String(text.into())),
        Err(_) => obj.insert(format!("{name}64"), Value::String(b64url(bytes))),
    };
}

fn encode_json_v2(m: &Macaroon) -> Value {
    let mut obj = Map::new();
    if let Some(loc) = &m.location {
        obj.insert("l".into(), json!(loc));
    }
    put_bytes(&mut obj, "i", &m.identifier);
    if !m.caveats.is_empty() {
        let caveats: Vec<Value> = m
            .caveats
            .iter()
            .map(|c| {
                let mut co = Map::new();
                put_bytes(&mut co, "i", &c.id);
                if let Some(vid) = &c.vid {
                    co.insert("v64".into(), json!(b64url(vid)));
                }
                if let Some(loc) = &c.location {
                    co.insert("l".into(), json!(loc));
                }
                Value::Object(co)
            })
            .collect();
        obj.insert("c".into(), Value::Array(caveats));
    }
    obj.insert("s64".into(), json!(b64url(&m.signature)));
    Value::Object(obj)
}

fn encode_json_v1(m: &Macaroon) -> Result<Value, EncodeError> {
    let text = |what: &'static str, bytes: &[u8]| -> Result<String, EncodeError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| EncodeError::NotUtf8 { format: "v1-json", what })
    };
    let caveats = m
        .caveats
        .iter()
        .map(|c| {
            let mut co = Map::new();
            co.insert("cid".into(), json!(text("caveat", &c.id)?));
            if let Some(vid) = &c.vid {
                co.insert("vid".into(), json!(b64url(vid)));
                co.insert("cl".into(), json!(c.location.as_deref().unwrap_or("")));
            }
            Ok(Value::Object(co))
        })
        .collect::<Result<Vec<_>, EncodeError>>()?;
    Ok(json!({
        "location": m.location.as_deref().unwrap_or(""),
        "identifier": text("identifier", &m.identifier)?,
        "caveats": caveats,
        "signature": hex::encode(m.signature),
    }))
}

#[cfg(test)]
mod pasted {
    use super::*;

    #[test]
    fn pasted_mistakes_get_their_likely_cause() {
        for (text, cause) in [
            ("Bearer AgEQ", "Bearer"),
            ("\"AgEQabc\"", "quotes"),
            ("'AgEQabc'", "quotes"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "JWT"),
            (&"ab".repeat(32), "root key"),
        ] {
            let e = decode(text).unwrap_err().to_string();
            assert!(e.contains(cause), "{text}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_json_token_with_a_field_in_both_forms_is_refused() {
        let both = format!(r#"{{"v":2,"i":"id","i64":"aWQ","s64":"{}"}}"#, "A".repeat(43));
        let err = decode(&both).expect_err(&both);
        assert!(err.to_string().contains("both given"), "{err}");
        let caveat = format!(r#"{{"v":2,"i":"id","c":[{{"i":"a = 1","i64":"YSA9IDE"}}],"s64":"{}"}}"#, "A".repeat(43));
        assert!(decode(&caveat).is_err(), "{caveat}");
    }

    #[test]
    fn a_json_token_with_a_member_twice_is_refused() {
        let sig = "0".repeat(64);
        let once = format!(r#"{{"v":2,"i":"id","s64":"{}"}}"#, "A".repeat(43));
        assert!(decode(&once).is_ok(), "{once}");
        for twice in [
            format!(r#"{{"v":2,"i":"id","i":"other","s64":"{}"}}"#, "A".repeat(43)),
            format!(r#"{{"v":2,"i":"id","c":[{{"i":"a = 1","i":"b = 2"}}],"s64":"{}"}}"#, "A".repeat(43)),
            format!(r#"{{"identifier":"id","location":"","caveats":[],"signature":"{sig}","signature":"{sig}"}}"#),
        ] {
            let err = decode(&twice).expect_err(&twice);
            assert!(err.to_string().contains("appears twice"), "{err}");
        }
    }

    use super::*;

    fn sample() -> Macaroon {
        Macaroon {
            location: Some("https://example.org".into()),
            identifier: Bytes::from_static(b"id-1"),
            caveats: vec![
                RawCaveat::first_party(&b"action = read"[..]),
                RawCaveat {
                    id: Bytes::from_static(b"tp"),
                    vid: Some(vec![5; 72].into()),
                    location: Some("https://idp".into()),
                },
            ],
            signature: [3; 32],
        }
    }

    #[test]
    fn every_format_round_trips() {
        for f in [Format::V1, Format::V2, Format::Json, Format::JsonV1] {
            let text = encode(&sample(), f).unwrap();
            assert_eq!(decode(&text).unwrap(), sample(), "{f:?}");
        }
    }

    #[test]
    fn cut_tokens_say_they_are_truncated() {
        let text = encode(&sample(), Format::V2).unwrap();
        for cut in [10, 30, text.len() - 8] {
            let err = decode(&text[..cut]).unwrap_err();
            assert!(matches!(err, DecodeError::Truncated(_)), "cut at {cut}: {err:?}");
        }
        let v1 = encode(&sample(), Format::V1).unwrap();
        let err = decode(&v1[..v1.len() - 20]).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated(_)), "{err:?}");
    }

    #[test]
    fn limits_are_enforced() {
        let mut m = sample();
        m.caveats = vec![RawCaveat::first_party(&b"x = y"[..]); MAX_CAVEATS + 1];
        let text = encode(&m, Format::V2).unwrap();
        assert_eq!(decode(&text).unwrap_err(), DecodeError::TooManyCaveats { max: MAX_CAVEATS });
        let huge = "A".repeat(MAX_TOKEN_TEXT + 1);
        assert!(matches!(decode(&huge).unwrap_err(), DecodeError::TooLarge { .. }));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for junk in ["", "!!!", "{", "{}", "[]", "AAAA", "Ag", "MDAwMA", "{\"i\":1}"] {
            assert!(decode(junk).is_err(), "{junk}");
        }
    }
}
