//! A usage event, as Lago stores it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::sync::Arc;

/// One usage event of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per subscription (deduplication key with `external_subscription_id`); shared with
    /// the store's set of transaction ids.
    pub transaction_id: Arc<str>,
    /// The subscription it belongs to (shared by the events of a request that name it).
    pub external_subscription_id: Arc<str>,
    /// The billable metric's code (shared likewise).
    pub code: Arc<str>,
    /// When it happened (UTC; Lago takes Unix seconds, possibly fractional).
    pub timestamp: DateTime<Utc>,
    /// Free-form properties; Lago reads each value as text.
    pub properties: Properties,
    /// The event's own price in cents (dynamic charges).
    pub precise_total_amount_cents: Option<Decimal>,
}

impl Event {
    /// A property read as Lago reads `properties->>'key'`: strings as they are, numbers by their
    /// JSON text, booleans as `true`/`false`; null and objects/arrays give `None`.
    pub fn property_text(&self, key: &str) -> Option<String> {
        match self.properties.get(key)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }
}

/// An event's properties: each key once, in the order they came (as the JSON object printed
/// back). A boxed slice searched in order rather than a hash map: an event has a few
/// properties, and a map's index table, hashing and spare capacity cost more memory and time
/// per stored event than the search (an event with very many properties pays a linear search
/// per key read). Keys are shared text: the events of a request repeat the same few.
#[derive(Debug, Clone, Default)]
pub struct Properties(Box<[(Arc<str>, Value)]>);

impl Properties {
    /// No property.
    pub fn new() -> Self {
        Properties::default()
    }

    /// Pairs whose keys the caller checked are distinct.
    pub(crate) fn from_distinct(pairs: Box<[(Arc<str>, Value)]>) -> Self {
        Properties(pairs)
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| same_text(k, key))
            .map(|(_, v)| v)
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no property.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The properties in their order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// As a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

impl From<Map<String, Value>> for Properties {
    fn from(map: Map<String, Value>) -> Self {
        Properties::from_distinct(map.into_iter().map(|(k, v)| (Arc::from(k), v)).collect())
    }
}

/// As a JSON object's equality: the same keys with the same values, in any order.
impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

/// As the JSON object, keys in their order.
impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (key, value) in self.iter() {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `a == b` for short texts, eight bytes per step: WASM's `memcmp` goes byte by byte behind a
/// call, and keys are compared for every event a query reads.
pub fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (mut left, mut right) = (a.chunks_exact(8), b.chunks_exact(8));
    let words = |chunk: &[u8]| u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
    (&mut left)
        .zip(&mut right)
        .all(|(x, y)| words(x) == words(y))
        && left
            .remainder()
            .iter()
            .zip(right.remainder())
            .all(|(x, y)| x == y)
}

/// Where a property is read from: an event's [`Properties`] or a JSON object.
pub trait PropertyLookup {
    /// The value of a key.
    fn property(&self, key: &str) -> Option<&Value>;
}

impl PropertyLookup for Properties {
    fn property(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

impl PropertyLookup for Map<String, Value> {
    fn property(&self, key: &str) -> Option<&Value> {
        self.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_is_equality() {
        let texts = [
            "",
            "a",
            "b",
            "region",
            "regiom",
            "amount",
            "operation_type",
            "operation_typf",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "é",
            "e",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(same_text(a, b), a == b, "{a} {b}");
            }
        }
    }
}
