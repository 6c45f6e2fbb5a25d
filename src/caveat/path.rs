//! Resource paths, in one canonical form for caveats, price rules and requests alike.
//!
//! Upstreams route on the *decoded* path (every WSGI/ASGI app, Go's net/http, nginx): what
//! crumb prices and checks must be what they route. So a path is canonicalised once, the same
//! way wherever it comes from (RFC 3986 §6.2.2):
//! - a percent-encoded unreserved character (`ALPHA DIGIT - . _ ~`) is decoded: `/v1/%63hat`
//!   is `/v1/chat`;
//! - any other percent-encoding keeps its octet, written with upper-case hex (`%c3%a9` →
//!   `%C3%A9`), unless decoding it could change the path's structure: an encoded reserved
//!   character (`/ ? # [ ] @ : ! $ & ' ( ) * + , ; =`), `%25` (a second round of decoding),
//!   `\` or a control character is refused, as is a malformed escape;
//! - raw characters outside a path's grammar are refused, and so is `;` (path parameters,
//!   which some servers strip before resolving dot-segments);
//! - `.`, `..` and empty segments (`//`) are refused, after decoding, so `/a/%2e%2e/b` is too:
//!   `/apps/42/../43` is never "under" `/apps/42`.
//!
//! A trailing `/` is kept in the canonical path (it is forwarded as written) but names the
//! same resource: caveats and prices compare the path without it.

use std::borrow::Cow;

/// Longest path accepted, in bytes: paths come from clients.
pub const MAX_PATH: usize = 8 * 1024;

/// Normalises a path written in a caveat or a price rule: canonical, without a trailing `/`.
pub fn normalize_caveat_path(path: &str) -> Result<Cow<'_, str>, String> {
    normalize(path).map_err(|why| format!("resource `{path}`: {why}"))
}

/// Normalises a requested resource the same way; a path that does not normalise is denied.
pub fn normalize_request_path(path: &str) -> Result<Cow<'_, str>, String> {
    normalize(path)
}

/// The canonical form of `path` (module docs), its trailing `/` kept; why not, when it has none.
pub fn canonical_path(path: &str) -> Result<Cow<'_, str>, String> {
    if !path.starts_with('/') {
        return Err("must start with /".into());
    }
    if path.len() > MAX_PATH {
        return Err(format!("is longer than {MAX_PATH} bytes"));
    }
    let bytes = path.as_bytes();
    // Only a path with escapes is rewritten; every other one is checked and borrowed.
    let mut out: Option<String> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let octet = match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                (Some(hi), Some(lo)) => hi << 4 | lo,
                _ => return Err("has a malformed percent-escape".into()),
            };
            let out = out.get_or_insert_with(|| path[..i].to_owned());
            if is_unreserved(octet) {
                out.push(octet as char);
            } else if is_reserved(octet) || octet == b'%' || octet == b'\\' || octet < 0x20 || octet == 0x7f {
                return Err(format!(
                    "encodes `{}`, which could change the path once decoded: send it unencoded or not at all",
                    escape_for_message(octet)
                ));
            } else {
                out.push_str(&format!("%{octet:02X}"));
            }
            i += 3;
            continue;
        }
        match b {
            b';' => return Err("has `;` (path parameters are not allowed)".into()),
            b if b.is_ascii_control() => return Err("control characters are not allowed".into()),
            b' ' | b'\t' => return Err("whitespace is not allowed (encode a space as %20)".into()),
            b'?' | b'#' => return Err("has `?` or `#`: a path ends before its query".into()),
            // RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@".
            b if is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@' | b'/') => {}
            _ => return Err(format!("has `{}`, which a path must percent-encode", escape_for_message(b))),
        }
        if let Some(out) = out.as_mut() {
            out.push(b as char);
        }
        i += 1;
    }
    let canonical = match out {
        Some(owned) => {
            check_utf8(&owned)?;
            Cow::Owned(owned)
        }
        None => Cow::Borrowed(path),
    };
    check_segments(&canonical)?;
    Ok(canonical)
}

/// Refuses escapes that do not decode to UTF-8 (`%c0%ae` is an overlong `.`, which a lax
/// decoder turns into a dot-segment): what is left escaped must mean one thing.
fn check_utf8(canonical: &str) -> Result<(), String> {
    let bytes = canonical.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let (hi, lo) = (hex(&bytes[i + 1]).unwrap_or(0), hex(&bytes[i + 2]).unwrap_or(0));
            decoded.push(hi << 4 | lo);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    std::str::from_utf8(&decoded).map(|_| ()).map_err(|_| "has escapes that are not UTF-8 once decoded".into())
}

/// Refuses `.`, `..` and empty segments (a final empty one, a trailing `/`, is allowed).
fn check_segments(path: &str) -> Result<(), String> {
    let body = path.strip_suffix('/').unwrap_or(path);
    if body.is_empty() {
        return Ok(());
    }
    for segment in body.as_bytes()[1..].split(|&b| b == b'/') {
        match segment {
            b"" => return Err("empty segments (//) are not allowed".into()),
            b"." | b".." => return Err("`.` and `..` segments are not allowed".into()),
            _ => {}
        }
    }
    Ok(())
}

fn normalize(path: &str) -> Result<Cow<'_, str>, String> {
    Ok(match canonical_path(path)? {
        Cow::Borrowed(p) => Cow::Borrowed(without_trailing_slash(p)),
        Cow::Owned(p) => Cow::Owned(without_trailing_slash(&p).to_owned()),
    })
}

fn without_trailing_slash(path: &str) -> &str {
    path.strip_suffix('/').filter(|b| !b.is_empty()).unwrap_or(path)
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// RFC 3986 §2.3.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 §2.2: gen-delims and sub-delims.
fn is_reserved(b: u8) -> bool {
    matches!(b, b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@') || is_sub_delim(b)
}

fn is_sub_delim(b: u8) -> bool {
    matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
}

/// A byte for an error message: printable ASCII as itself, anything else as `\xNN`.
fn escape_for_message(b: u8) -> String {
    if b.is_ascii_graphic() {
        (b as char).to_string()
    } else {
        format!("\\x{b:02x}")
    }
}

/// Whether the normalised `path` is `prefix` itself or lies below it, by whole segments.
pub fn is_under(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments_only() {
        assert!(is_under("/apps/42", "/apps/42"));
        assert!(is_under("/apps/42/x", "/apps/42"));
        assert!(!is_under("/apps/421", "/apps/42"));
        assert!(!is_under("/apps", "/apps/42"));
        assert!(is_under("/anything", "/"));
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "/apps/42/../43",
            "/apps/42/./x",
            "/apps//42",
            "apps/42",
            "/apps/42/%2e%2e/43",
            "/apps/42/%2E./43",
            "/a%2fb",
            "/a%5cb",
            "/a\\b",
            "/a/..",
            "/a\n",
            "/a b",
            "/v1/models%3F/../chat",
            "/v1/chat%3Fx",
            "/v1/chat%23x",
            "/v1/chat;jsessionid=1",
            "/v1/chat%3bx",
            "/v1/%252e%252e/x",
            "/a%2",
            "/a%zz",
            "/a%00",
            "/a\u{e9}",
            "/a\"b",
            "/a<b",
            "/a|b",
            "/a{b",
            "/a[b]",
            "/v1/models/%c0%ae%c0%ae/chat",
            "/a%ff",
            "/a%c3",
        ] {
            assert!(normalize_request_path(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_request_path("/apps/42/").unwrap(), "/apps/42");
        assert_eq!(normalize_request_path("/").unwrap(), "/");
        assert!(canonical_path(&format!("/{}", "a".repeat(MAX_PATH))).is_err());
    }

    #[test]
    fn unreserved_escapes_are_decoded_and_others_kept_in_upper_case() {
        assert_eq!(canonical_path("/v1/%63hat").unwrap(), "/v1/chat");
        assert_eq!(canonical_path("/v1/%63%68%61%74/").unwrap(), "/v1/chat/");
        assert_eq!(canonical_path("/caf%c3%a9").unwrap(), "/caf%C3%A9");
        assert_eq!(canonical_path("/a%20b").unwrap(), "/a%20b");
        assert_eq!(canonical_path("/a%7eb%2D").unwrap(), "/a~b-");
        assert_eq!(canonical_path("/a:b@c!$&'()*+,=").unwrap(), "/a:b@c!$&'()*+,=");
        // An already-canonical path is borrowed, not copied.
        assert!(matches!(canonical_path("/v1/chat").unwrap(), Cow::Borrowed(_)));
        // A caveat names the same resource however it was written.
        assert_eq!(normalize_caveat_path("/v1/%63hat/").unwrap(), "/v1/chat");
    }
}
