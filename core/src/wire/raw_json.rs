//! Typed, allocation-light parsing of the two token segments, with the same strictness as
//! [`crate::wire::strict_json`] (duplicate keys refused at every depth, trailing data refused) but
//! without building a `serde_json::Value` tree: this runs on every request, and it is the
//! largest cost of the pipeline after the signature check.
//!
//! Values are captured loosely (`Raw`) and type-checked afterwards, so that a type error is
//! reported for the first claim in the protocol's fixed order, not in the order of the JSON
//! text, and only once the whole segment is known to be well-formed JSON.

use crate::wire::strict_json::DUPLICATE_KEY;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A JSON value as found: a string, an integer that fits `i64`, or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Raw {
    Str(String),
    Int(i64),
    Other,
}

/// The error text used when a segment is valid JSON but not an object.
pub(crate) const NOT_AN_OBJECT: &str = "expected a JSON object";

/// A set of known object members, filled by [`parse_object`].
pub(crate) trait Fields: Default {
    /// Known member names; the index of a name is passed to [`Fields::set`].
    const NAMES: &'static [&'static str];
    fn set<'de, A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error>;
}

/// Parses `bytes` as one JSON object into `T`, refusing duplicates and trailing data.
pub(crate) fn parse_object<T: Fields>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = (&mut de).deserialize_any(ObjectVisitor::<T>(PhantomData))?;
    de.end()?;
    Ok(value)
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: Fields> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(NOT_AN_OBJECT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        let mut seen_known = 0u64;
        let mut seen_unknown: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if let Some(index) = T::NAMES.iter().position(|name| *name == key) {
                if seen_known & (1 << index) != 0 {
                    return Err(de::Error::custom(DUPLICATE_KEY));
                }
                seen_known |= 1 << index;
                out.set(index, &mut map)?;
            } else {
                if seen_unknown.contains(&key) {
                    return Err(de::Error::custom(DUPLICATE_KEY));
                }
                seen_unknown.push(key);
                map.next_value::<StrictIgnore>()?;
            }
        }
        Ok(out)
    }

    // Anything but an object: consume it (so syntax errors still surface) and refuse.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<StrictIgnore>()?.is_some() {}
        Err(de::Error::custom(NOT_AN_OBJECT))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Err(E::custom(NOT_AN_OBJECT))
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Consumes any JSON value, refusing duplicate keys inside it.
pub(crate) struct StrictIgnore;

impl<'de> de::Deserialize<'de> for StrictIgnore {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictIgnoreVisitor)
    }
}

struct StrictIgnoreVisitor;

impl<'de> Visitor<'de> for StrictIgnoreVisitor {
    type Value = StrictIgnore;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<StrictIgnore, E> {
        Ok(StrictIgnore)
    }
    fn visit_i64<E>(self, _: i64) -> Result<StrictIgnore, E> {
        Ok(StrictIgnore)
    }
    fn visit_u64<E>(self, _: u64) -> Result<StrictIgnore, E> {
        Ok(StrictIgnore)
    }
    fn visit_f64<E>(self, _: f64) -> Result<StrictIgnore, E> {
        Ok(StrictIgnore)
    }
    fn visit_str<E>(self, _: &str) -> Result<StrictIgnore, E> {
        Ok(StrictIgnore)
    }
    fn visit_unit<E>(self) -> Result<StrictIgnore, E> {
        Ok(StrictIgnore)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictIgnore, A::Error> {
        while seq.next_element::<StrictIgnore>()?.is_some() {}
        Ok(StrictIgnore)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictIgnore, A::Error> {
        let mut seen: Vec<Cow<'de, str>> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(DUPLICATE_KEY));
            }
            seen.push(key);
            map.next_value::<StrictIgnore>()?;
        }
        Ok(StrictIgnore)
    }
}

impl<'de> de::Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Other, Raw::Int))
            }
            // Floats (`1.0`, `1e3`) are never integers, even when whole.
            fn visit_f64<E>(self, _: f64) -> Result<Raw, E> {
                Ok(Raw::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Raw, E> {
                Ok(Raw::Other)
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Raw, A::Error> {
                StrictIgnoreVisitor.visit_seq(seq).map(|_| Raw::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Raw, A::Error> {
                StrictIgnoreVisitor.visit_map(map).map(|_| Raw::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON array of strings, or `None` for any other value.
pub(crate) struct RawStrings(pub Option<Vec<String>>);

impl<'de> de::Deserialize<'de> for RawStrings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawStrings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawStrings, A::Error> {
                let mut items = Vec::new();
                let mut all_strings = true;
                while let Some(item) = seq.next_element::<Raw>()? {
                    match item {
                        Raw::Str(s) if all_strings => items.push(s),
                        _ => all_strings = false,
                    }
                }
                Ok(RawStrings(all_strings.then_some(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawStrings, A::Error> {
                StrictIgnoreVisitor.visit_map(map).map(|_| RawStrings(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<RawStrings, E> {
                Ok(RawStrings(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawStrings, E> {
                Ok(RawStrings(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawStrings, E> {
                Ok(RawStrings(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawStrings, E> {
                Ok(RawStrings(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawStrings, E> {
                Ok(RawStrings(None))
            }
            fn visit_unit<E>(self) -> Result<RawStrings, E> {
                Ok(RawStrings(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object captured as known fields, or `None` for any other value.
pub(crate) struct RawObject<T>(pub Option<T>);

impl<'de, T: Fields> de::Deserialize<'de> for RawObject<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Fields> Visitor<'de> for V<T> {
            type Value = RawObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawObject<T>, A::Error> {
                ObjectVisitor::<T>(PhantomData)
                    .visit_map(map)
                    .map(|t| RawObject(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<RawObject<T>, A::Error> {
                StrictIgnoreVisitor.visit_seq(seq).map(|_| RawObject(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<RawObject<T>, E> {
                Ok(RawObject(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<RawObject<T>, E> {
                Ok(RawObject(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<RawObject<T>, E> {
                Ok(RawObject(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<RawObject<T>, E> {
                Ok(RawObject(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RawObject<T>, E> {
                Ok(RawObject(None))
            }
            fn visit_unit<E>(self) -> Result<RawObject<T>, E> {
                Ok(RawObject(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Reads the next value of `map` as `T` into `slot`.
pub(crate) fn take<'de, A: MapAccess<'de>, T: de::Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
) -> Result<(), A::Error> {
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Reads the next value of `map` only to note that the member is present.
pub(crate) fn mark<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut bool) -> Result<(), A::Error> {
    map.next_value::<StrictIgnore>()?;
    *slot = true;
    Ok(())
}
