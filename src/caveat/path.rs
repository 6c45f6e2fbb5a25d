//! Resource paths. Caveat paths and requested paths are compared segment by segment after
//! normalisation, and a requested path that could climb out of a prefix is refused outright:
//! `/apps/42/../43` is never "under" `/apps/42`.

use std::borrow::Cow;

/// Normalises a path written in a caveat: absolute, no `.`/`..`/empty segments, no trailing `/`.
pub fn normalize_caveat_path(path: &str) -> Result<Cow<'_, str>, String> {
    normalize(path).map_err(|why| format!("resource `{path}`: {why}"))
}

/// Normalises a requested resource the same way; a path that does not normalise is denied.
pub fn normalize_request_path(path: &str) -> Result<Cow<'_, str>, String> {
    normalize(path)
}

/// Whether `path` has a percent-encoded `.`, `/` or `\\` (which a server may decode later).
fn has_encoded_separator(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.contains(&b'%')
        && bytes.windows(3).any(|w| {
            w[0] == b'%' && matches!((w[1], w[2].to_ascii_lowercase()), (b'2', b'e') | (b'2', b'f') | (b'5', b'c'))
        })
}

fn normalize(path: &str) -> Result<Cow<'_, str>, String> {
    if !path.starts_with('/') {
        return Err("must start with /".into());
    }
    if has_encoded_separator(path) || path.as_bytes().contains(&b'\\') {
        return Err("encoded dots or slashes are not allowed".into());
    }
    if path.bytes().any(|b| b.is_ascii_control()) {
        return Err("control characters are not allowed".into());
    }
    // Raw whitespace is no part of a URL path (a space is `%20`), and in a caveat it would
    // blur where the value ends (found by the caveat_parse fuzz target).
    if path.chars().any(char::is_whitespace) {
        return Err("whitespace is not allowed (encode a space as %20)".into());
    }
    let body = path.strip_suffix('/').filter(|b| !b.is_empty()).unwrap_or(path);
    if body == "/" {
        return Ok(Cow::Borrowed("/"));
    }
    for segment in body.as_bytes()[1..].split(|&b| b == b'/') {
        match segment {
            b"" => return Err("empty segments (//) are not allowed".into()),
            b"." | b".." => return Err("`.` and `..` segments are not allowed".into()),
            _ => {}
        }
    }
    Ok(Cow::Borrowed(body))
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
            "/a\\b",
            "/a/..",
            "/a\n",
            "/a b",
        ] {
            assert!(normalize_request_path(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_request_path("/apps/42/").unwrap(), "/apps/42");
        assert_eq!(normalize_request_path("/").unwrap(), "/");
    }
}
