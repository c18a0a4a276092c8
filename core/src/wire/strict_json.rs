//! JSON parsing that refuses duplicate object keys at every depth.
//!
//! `serde_json` keeps the last of two equal keys. Two parsers that disagree on which duplicate
//! wins let an attacker show one claim to a proxy and another to the service behind it, so
//! every JSON document OathMesh reads (token segments, JWKS, policy, configuration) goes
//! through here.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `bytes` as one JSON value, rejecting duplicate keys, trailing data and invalid UTF-8.
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Parses text; the same rules as [`parse`].
pub fn parse_str(text: &str) -> Result<Value, serde_json::Error> {
    parse(text.as_bytes())
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE_KEY));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Deserializes a parsed document into `T`; the error names the path of the offending key
/// (`audit.file: invalid type: integer, expected a string`), so configuration errors point
/// at what to fix.
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })
}

/// The error text used for a duplicate key, so callers can tell it apart from syntax errors.
pub const DUPLICATE_KEY: &str = "duplicate object key";

/// True when `err` was raised because of a duplicate key.
pub fn is_duplicate_key(err: &serde_json::Error) -> bool {
    err.to_string().starts_with(DUPLICATE_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_documents() {
        let v = parse(br#"{"a":1,"b":[{"c":"d"}],"e":null,"f":1.5}"#).unwrap();
        assert_eq!(v["b"][0]["c"], "d");
        assert!(v["f"].is_f64());
        assert!(v["a"].is_i64());
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        for doc in [
            r#"{"a":1,"a":2}"#,
            r#"{"x":{"a":1,"a":1}}"#,
            r#"{"x":[{"k":true,"k":false}]}"#,
        ] {
            let err = parse(doc.as_bytes()).unwrap_err();
            assert!(is_duplicate_key(&err), "{doc}: {err}");
        }
    }

    #[test]
    fn rejects_trailing_data_bad_utf8_and_lone_surrogates() {
        assert!(parse(br#"{"a":1} x"#).is_err());
        assert!(parse(b"{\"a\":\"\xff\"}").is_err());
        assert!(parse(br#"{"a":"\ud800"}"#).is_err());
        assert!(!is_duplicate_key(&parse(b"{").unwrap_err()));
    }
}
