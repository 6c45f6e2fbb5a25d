//! JSON read so that two readers cannot disagree on it: an object with a member twice is
//! refused. serde_json keeps the last of two members, another library may keep the first, so a
//! token, or a request, whose duplicate members two readers would read differently is an
//! error, not read one way. Used for tokens in JSON (libmacaroons' formats) and the HTTP
//! API's request bodies.

use serde_json::{Map, Value};

/// Parses `text` as JSON, refusing an object (at any depth) with a member twice.
///
/// Errors: serde_json's, for malformed JSON or a member twice ("the member `NAME` appears
/// twice"); nesting is bounded by serde_json's recursion limit (128).
pub fn parse_unambiguous(text: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Unambiguous>(text).map(|u| u.0)
}

/// A JSON value whose objects have no member twice.
struct Unambiguous(Value);

impl<'de> serde::Deserialize<'de> for Unambiguous {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Unambiguous;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Unambiguous, E> {
                Ok(Unambiguous(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Unambiguous, E> {
                Ok(Unambiguous(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Unambiguous, E> {
                Ok(Unambiguous(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Unambiguous, E> {
                Ok(Unambiguous(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Unambiguous, E> {
                Ok(Unambiguous(Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Unambiguous, E> {
                Ok(Unambiguous(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Unambiguous, E> {
                Ok(Unambiguous(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Unambiguous, A::Error> {
                let mut items = Vec::new();
                while let Some(Unambiguous(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Unambiguous(Value::Array(items)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Unambiguous, A::Error> {
                let mut members = Map::new();
                while let Some(name) = map.next_key::<String>()? {
                    let Unambiguous(value) = map.next_value()?;
                    if members.insert(name.clone(), value).is_some() {
                        return Err(serde::de::Error::custom(format!("the member `{name}` appears twice")));
                    }
                }
                Ok(Unambiguous(Value::Object(members)))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_unambiguous;

    #[test]
    fn a_member_twice_is_refused_at_any_depth() {
        assert!(parse_unambiguous(br#"{"a":1,"b":[{"c":2,"d":{"e":3}}]}"#).is_ok());
        for twice in [&br#"{"a":1,"a":1}"#[..], br#"{"b":[{"c":2,"c":3}]}"#, br#"[{"x":{"y":1,"y":2}}]"#] {
            let err = parse_unambiguous(twice).unwrap_err().to_string();
            assert!(err.contains("appears twice"), "{err}");
        }
    }
}
