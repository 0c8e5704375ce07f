//! JSON read in document order, with duplicate keys kept (so they can be refused) rather
//! than silently last-wins.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// Key/value pairs in document order, keeping duplicates so they can be reported.
#[derive(Debug)]
pub(crate) struct OrderedObject(pub(crate) Vec<(String, Value)>);

/// An entry as found: an object (with duplicates kept) or some other JSON value.
#[derive(Debug)]
pub(crate) enum RawEntry {
    Object(Vec<(String, Value)>),
    Other,
}

pub(crate) struct OrderedObjectVisitor;

impl<'de> Visitor<'de> for OrderedObjectVisitor {
    type Value = OrderedObject;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            pairs.push((k, v));
        }
        Ok(OrderedObject(pairs))
    }
}

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(OrderedObjectVisitor)
    }
}

/// The top level: entry keys to entries, each entry parsed keeping its own duplicate fields.
#[derive(Debug)]
pub(crate) struct TopLevel(pub(crate) Vec<(String, RawEntry)>);

impl<'de> serde::Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TopLevel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let entry = map.next_value::<EntrySeed>()?;
                    entries.push((key, entry.0));
                }
                Ok(TopLevel(entries))
            }
        }
        d.deserialize_map(V)
    }
}

pub(crate) struct EntrySeed(pub(crate) RawEntry);

impl<'de> serde::Deserialize<'de> for EntrySeed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EntrySeed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let obj = OrderedObjectVisitor.visit_map(map)?;
                Ok(EntrySeed(RawEntry::Object(obj.0)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(EntrySeed(RawEntry::Other))
            }
        }
        d.deserialize_any(V)
    }
}
