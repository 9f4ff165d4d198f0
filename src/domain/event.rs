//! A usage event, as Lago stores it.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Number, Value};
use std::sync::Arc;

/// One usage event of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per subscription (deduplication key with `external_subscription_id`); shared with
    /// the store's set of transaction ids.
    pub transaction_id: TransactionId,
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
            PropertyValue::String(text) => Some(text.to_string()),
            PropertyValue::Number(number) => Some(number.to_string()),
            PropertyValue::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }
}

/// An event's properties: each key once, in the order they came (as the JSON object printed
/// back). Searched in order rather than through a hash map: an event has a few properties, and a
/// map's index table, hashing and spare capacity cost more memory and time per stored event than
/// the search (an event with very many properties pays a linear search per key read). Keys are
/// shared text: the events of a request repeat the same few.
#[derive(Debug, Clone, Default)]
pub struct Properties(PropertiesRepr);

/// A property: its shared key and its value.
type Pair = (Arc<str>, PropertyValue);

/// Properties an event holds in itself: most events have one to three.
const PROPERTIES_INLINE: usize = 3;

/// Up to [`PROPERTIES_INLINE`] pairs are held in the event itself: no allocation per event on
/// ingestion, and a query walking the events reads them where it reads the event (a separate
/// allocation per event was a cache miss per event read). More are one allocation.
#[derive(Debug, Clone)]
enum PropertiesRepr {
    /// The pairs from the front, then `None`s.
    Inline([Option<Pair>; PROPERTIES_INLINE]),
    Boxed(Box<[Pair]>),
}

impl Default for PropertiesRepr {
    fn default() -> Self {
        PropertiesRepr::Inline(Default::default())
    }
}

/// One property's value, smaller than a `Value` (a third of its size): strings and numbers by
/// their text, arrays and objects boxed. Short strings are held inline, longer ones shared (the
/// events of a request repeat the same few: models, channels).
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, by its JSON text (as serde_json's `arbitrary_precision` keeps it), held like a
    /// string: inline when short, so a query reads it where it reads the event (a `Number` is a
    /// `String`, an allocation per event and a cache miss per event read).
    Number(Text),
    /// A string.
    String(Text),
    /// An array or an object.
    Other(Box<Value>),
}

impl PropertyValue {
    /// The JSON value.
    pub fn to_value(&self) -> Value {
        match self {
            PropertyValue::Null => Value::Null,
            PropertyValue::Bool(flag) => Value::Bool(*flag),
            PropertyValue::Number(text) => number_value(text),
            PropertyValue::String(text) => Value::String(text.to_string()),
            PropertyValue::Other(value) => (**value).clone(),
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropertyValue::String(text) => Some(text),
            _ => None,
        }
    }
}

/// A number's JSON value from its text: the text came from a JSON number, so it reads back as
/// one, with the same text.
fn number_value(text: &Text) -> Value {
    text.parse::<Number>().map_or(Value::Null, Value::Number)
}

impl From<Value> for PropertyValue {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => PropertyValue::Null,
            Value::Bool(flag) => PropertyValue::Bool(flag),
            Value::Number(number) => PropertyValue::Number(Text::from(number.as_str())),
            Value::String(text) => PropertyValue::String(Text::from(text.as_str())),
            other => PropertyValue::Other(Box::new(other)),
        }
    }
}

/// Bytes a [`Text`] holds inline: as many as its shared form's pointer and length take, and two
/// (10 in WASM, 18 on 64 bits): a [`Text`] is no larger than the shared form and its tag.
const TEXT_INLINE: usize = std::mem::size_of::<Arc<str>>() + 2;

// A property value is four words (16 bytes in WASM), a pair six (24): three pairs held in an event
// take 76 bytes in WASM with their tag.
const _: () = assert!(std::mem::size_of::<PropertyValue>() <= 4 * std::mem::size_of::<usize>());
const _: () = assert!(std::mem::size_of::<TransactionId>() == std::mem::size_of::<Arc<str>>());
const _: () = assert!(
    std::mem::size_of::<Properties>() <= (6 * PROPERTIES_INLINE + 1) * std::mem::size_of::<usize>()
);

/// A property's string: inline when short (amounts, regions, short ids: no allocation per event,
/// and read where the property is), else shared text.
#[derive(Clone)]
pub struct Text(TextRepr);

#[derive(Clone)]
enum TextRepr {
    /// `bytes[..length]` is the UTF-8 text (the rest is zero).
    Inline {
        length: u8,
        bytes: [u8; TEXT_INLINE],
    },
    Shared(Arc<str>),
}

impl Text {
    /// Inline when it fits, else `shared()` (called only then).
    pub fn new_or(text: &str, shared: impl FnOnce() -> Arc<str>) -> Self {
        let mut bytes = [0; TEXT_INLINE];
        match (bytes.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(head), Ok(length)) => {
                head.copy_from_slice(text.as_bytes());
                Text(TextRepr::Inline { length, bytes })
            }
            _ => Text(TextRepr::Shared(shared())),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Always valid: the bytes were a `str` (validating them is cheaper than a pointer
            // chase to shared text, and needs no `unsafe`).
            TextRepr::Inline { length, bytes } => bytes
                .get(..usize::from(*length))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            TextRepr::Shared(text) => text,
        }
    }

    /// The text's bytes, without the UTF-8 check [`Text::as_str`] makes of inline text (about
    /// 80 instructions per read): what a comparison or a hash of the text needs.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            TextRepr::Inline { length, bytes } => {
                bytes.get(..usize::from(*length)).unwrap_or_default()
            }
            TextRepr::Shared(text) => text.as_bytes(),
        }
    }
}

#[cfg(test)]
impl Text {
    /// Both are the same shared text.
    pub(crate) fn is_shared_with(&self, other: &Text) -> bool {
        match (&self.0, &other.0) {
            (TextRepr::Shared(a), TextRepr::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text::new_or(text, || Arc::from(text))
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        same_bytes(self.as_bytes(), other.as_bytes())
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A transaction id. The ids of one bulk text share one allocation ([`IdsBuilder`]): an
/// allocation per event was 6 % of a bulk ingestion's instructions. An id made alone has its own.
/// The same size as an `Arc<str>`, so neither an event nor the store's id table grows.
#[derive(Clone)]
pub struct TransactionId {
    /// `None` only while the ids of a bulk text are being gathered.
    block: Option<Arc<IdBlock>>,
    /// Which id of the block.
    index: u32,
}

struct IdBlock {
    text: String,
    /// Where each id ends in `text` (the one before ends where it starts); empty when `text`
    /// is one id.
    ends: Vec<u32>,
}

impl TransactionId {
    /// The text.
    pub fn as_str(&self) -> &str {
        let Some(block) = &self.block else {
            return "";
        };
        if block.ends.is_empty() {
            return &block.text;
        }
        nth_id(&block.text, &block.ends, self.index)
    }
}

/// The id at `index` of ids written one after the other in `text`, ending at `ends`.
fn nth_id<'t>(text: &'t str, ends: &[u32], index: u32) -> &'t str {
    let index = index as usize;
    let end = |at: usize| ends.get(at).map_or(0, |&end| end as usize);
    let start = index.checked_sub(1).map_or(0, end);
    text.get(start..end(index)).unwrap_or_default()
}

impl From<&str> for TransactionId {
    fn from(text: &str) -> Self {
        TransactionId::from(text.to_string())
    }
}

impl From<String> for TransactionId {
    fn from(text: String) -> Self {
        let ends = Vec::new();
        TransactionId {
            block: Some(Arc::new(IdBlock { text, ends })),
            index: 0,
        }
    }
}

impl std::ops::Deref for TransactionId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for TransactionId {
    fn eq(&self, other: &Self) -> bool {
        same_text(self, other)
    }
}

impl Eq for TransactionId {}

impl PartialOrd for TransactionId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TransactionId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The transaction ids of a bulk text, gathered in one text: each event holds a pending id
/// (empty text) until [`IdsBuilder::seal`] gives them their block.
#[derive(Default)]
pub struct IdsBuilder {
    text: String,
    ends: Vec<u32>,
}

impl IdsBuilder {
    /// Room for about `ids` ids.
    pub fn with_capacity(ids: usize) -> Self {
        IdsBuilder {
            // A UUID's 36 bytes, the usual id.
            text: String::with_capacity(ids.saturating_mul(36)),
            ends: Vec::with_capacity(ids),
        }
    }

    /// A pending id for `id` (an id of its own past 4 GiB of ids, which a request never has).
    pub fn push(&mut self, id: &str) -> TransactionId {
        let (Ok(index), Ok(end)) = (
            u32::try_from(self.ends.len()),
            u32::try_from(self.text.len() + id.len()),
        ) else {
            return TransactionId::from(id);
        };
        self.text.push_str(id);
        self.ends.push(end);
        TransactionId { block: None, index }
    }

    /// An id's text, pending or not.
    pub fn text_of<'s>(&'s self, id: &'s TransactionId) -> &'s str {
        if id.block.is_some() {
            return id.as_str();
        }
        nth_id(&self.text, &self.ends, id.index)
    }

    /// Gives the pending ids their text (ids of their own are left as they are).
    pub fn seal<'a>(mut self, ids: impl Iterator<Item = &'a mut TransactionId>) {
        if self.ends.is_empty() {
            return;
        }
        self.text.shrink_to_fit();
        if self.ends.len() == 1 {
            // One id (a single event): its block is the id, no list of ends.
            self.ends = Vec::new();
        }
        self.ends.shrink_to_fit();
        let block = Arc::new(IdBlock {
            text: self.text,
            ends: self.ends,
        });
        for id in ids.filter(|id| id.block.is_none()) {
            id.block = Some(Arc::clone(&block));
        }
    }
}

/// As the JSON value.
impl Serialize for PropertyValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PropertyValue::Null => serializer.serialize_unit(),
            PropertyValue::Bool(flag) => serializer.serialize_bool(*flag),
            PropertyValue::Number(text) => number_value(text).serialize(serializer),
            PropertyValue::String(text) => serializer.serialize_str(text),
            PropertyValue::Other(value) => value.serialize(serializer),
        }
    }
}

impl Properties {
    /// No property.
    pub fn new() -> Self {
        Properties::default()
    }

    /// Pairs whose keys the caller checked are distinct.
    pub(crate) fn from_distinct(pairs: impl ExactSizeIterator<Item = Pair>) -> Self {
        if pairs.len() > PROPERTIES_INLINE {
            return Properties(PropertiesRepr::Boxed(pairs.collect()));
        }
        let mut inline: [Option<Pair>; PROPERTIES_INLINE] = Default::default();
        for (slot, pair) in inline.iter_mut().zip(pairs) {
            *slot = Some(pair);
        }
        Properties(PropertiesRepr::Inline(inline))
    }

    /// The pairs in their order.
    fn pairs(&self) -> impl Iterator<Item = &Pair> {
        let (inline, boxed) = match &self.0 {
            PropertiesRepr::Inline(inline) => (inline.as_slice(), [].as_slice()),
            PropertiesRepr::Boxed(boxed) => ([].as_slice(), &**boxed),
        };
        inline.iter().map_while(Option::as_ref).chain(boxed)
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&PropertyValue> {
        // Each form searched by its own loop rather than `pairs()`'s chained iterators: read for
        // every event a query walks (first usage, WASM: 1,595 → 1,481 instructions per event).
        let same_key = |(k, _): &&Pair| same_text(k, key);
        let found = match &self.0 {
            PropertiesRepr::Inline(inline) => {
                inline.iter().map_while(Option::as_ref).find(same_key)
            }
            PropertiesRepr::Boxed(boxed) => boxed.iter().find(same_key),
        };
        found.map(|(_, v)| v)
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        match &self.0 {
            PropertiesRepr::Inline(inline) => inline.iter().take_while(|p| p.is_some()).count(),
            PropertiesRepr::Boxed(boxed) => boxed.len(),
        }
    }

    /// True when there is no property.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The properties in their order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PropertyValue)> {
        self.pairs().map(|(k, v)| (&**k, v))
    }

    /// As a JSON object.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_value()))
            .collect()
    }
}

impl From<Map<String, Value>> for Properties {
    fn from(map: Map<String, Value>) -> Self {
        Properties::from_distinct(
            map.into_iter()
                .map(|(k, v)| (Arc::from(k), PropertyValue::from(v))),
        )
    }
}

/// As a JSON object's equality: the same keys with the same values, in any order.
impl PartialEq for Properties {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        // The usual case, one order: pairwise. Else by sorted keys (each key is there once).
        if self.pairs().eq(other.pairs()) {
            return true;
        }
        sorted_pairs(self) == sorted_pairs(other)
    }
}

fn sorted_pairs(properties: &Properties) -> Vec<(&str, &PropertyValue)> {
    let mut pairs: Vec<(&str, &PropertyValue)> = properties.iter().collect();
    pairs.sort_unstable_by_key(|&(k, _)| k);
    pairs
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

/// `a == b` without `memcmp` (WASM's goes byte by byte behind a call; keys are compared for
/// every event a query reads): whole words, the last one overlapping the one before.
#[inline]
pub fn same_text(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// [`same_text`] on bytes.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let length = a.len();
    if length != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map(u64::from_le_bytes)
    };
    let half = |s: &[u8], at: usize| {
        s.get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map(u32::from_le_bytes)
    };
    if length >= 8 {
        let mut at = 0;
        while at + 8 < length {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        word(a, length - 8) == word(b, length - 8)
    } else if length >= 4 {
        half(a, 0) == half(b, 0) && half(a, length - 4) == half(b, length - 4)
    } else {
        a.iter().zip(b).all(|(x, y)| x == y)
    }
}

/// Where a property is read from: an event's [`Properties`] or a JSON object.
pub trait PropertyLookup {
    /// The value of a key.
    fn property(&self, key: &str) -> Option<PropertyRef<'_>>;
}

/// A property's value where it is kept.
#[derive(Debug, Clone, Copy)]
pub enum PropertyRef<'a> {
    /// In an event.
    Compact(&'a PropertyValue),
    /// In a JSON object.
    Json(&'a Value),
}

impl PropertyLookup for Properties {
    fn property(&self, key: &str) -> Option<PropertyRef<'_>> {
        self.get(key).map(PropertyRef::Compact)
    }
}

impl PropertyLookup for Map<String, Value> {
    fn property(&self, key: &str) -> Option<PropertyRef<'_>> {
        self.get(key).map(PropertyRef::Json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_of_a_block_read_back_alike_to_ids_of_their_own() {
        let texts = [
            "3d070e7e-caf4-45eb-aead-7ea4b51a5395",
            "",
            "é✓",
            "a",
            "",
            "zz",
        ];
        let mut builder = IdsBuilder::with_capacity(1);
        let mut ids: Vec<TransactionId> = texts.iter().map(|t| builder.push(t)).collect();
        for (id, text) in ids.iter().zip(texts) {
            assert_eq!(id.as_str(), "", "pending");
            assert_eq!(builder.text_of(id), text);
        }
        let own = TransactionId::from("own");
        ids.push(own.clone());
        builder.seal(ids.iter_mut());
        let own_text = ["own"];
        for (id, text) in ids.iter().zip(texts.iter().chain(&own_text)) {
            assert_eq!(id.as_str(), *text);
            assert_eq!(*id, TransactionId::from(*text));
        }
        assert!(Arc::ptr_eq(
            own.block.as_ref().unwrap(),
            ids.last().unwrap().block.as_ref().unwrap()
        ));
        assert!(ids[0] < ids[3] && ids[3] < ids[5] && ids[2] > ids[5] && ids[1] == ids[4]);
        assert_eq!(format!("{:?}", ids[2]), "\"é✓\"");
    }

    #[test]
    fn properties_give_back_the_json_they_came_from() {
        let json: Value = serde_json::from_str(
            r#"{"s": "x", "n": 1.50, "e": 1E3, "big": 123456789012345678901234567890,
                "t": true, "f": false, "z": null, "o": {"b": [1, "2"], "a": {}}, "l": [], "": ""}"#,
        )
        .unwrap_or_default();
        let Value::Object(map) = json.clone() else {
            panic!("an object");
        };
        let properties = Properties::from(map.clone());
        assert_eq!(properties.to_map(), map);
        let printed = serde_json::to_value(&properties).unwrap_or_default();
        assert_eq!(printed, json);
        assert_eq!(printed.to_string(), json.to_string());
        for (key, value) in &map {
            assert_eq!(
                crate::aggregations::text::property_text(&properties, key),
                crate::aggregations::text::property_text(&map, key),
                "{key}"
            );
            assert_eq!(
                properties.get(key).map(PropertyValue::to_value).as_ref(),
                Some(value)
            );
        }
    }

    #[test]
    fn properties_held_inline_or_boxed_read_back_in_order() {
        for count in 0..=PROPERTIES_INLINE + 2 {
            let map: Map<String, Value> = (0..count)
                .map(|i| (format!("k{i}"), Value::from(format!("v{i}"))))
                .collect();
            let properties = Properties::from(map.clone());
            let boxed = matches!(properties.0, PropertiesRepr::Boxed(_));
            assert_eq!(boxed, count > PROPERTIES_INLINE, "{count}");
            assert_eq!(properties.len(), count);
            assert_eq!(properties.is_empty(), count == 0);
            assert_eq!(properties.to_map(), map);
            let keys: Vec<&str> = properties.iter().map(|(k, _)| k).collect();
            let expected: Vec<&str> = map.keys().map(String::as_str).collect();
            assert_eq!(keys, expected);
            for (key, value) in &map {
                assert_eq!(
                    properties.get(key).map(PropertyValue::to_value).as_ref(),
                    Some(value)
                );
            }
            assert_eq!(properties.get("absent"), None);
            assert_eq!(properties.get(&format!("k{count}")), None);
            // The same object, reversed: equal whatever the form.
            let reversed: Map<String, Value> = map.into_iter().rev().collect();
            assert_eq!(properties, Properties::from(reversed));
        }
    }

    #[test]
    fn properties_compare_as_json_objects() {
        let properties = |json: serde_json::Value| match json {
            Value::Object(map) => Properties::from(map),
            _ => Properties::new(),
        };
        let a = properties(serde_json::json!({"a": 1, "b": "x"}));
        assert_eq!(a, properties(serde_json::json!({"a": 1, "b": "x"})));
        assert_eq!(a, properties(serde_json::json!({"b": "x", "a": 1})));
        assert_ne!(a, properties(serde_json::json!({"a": 1, "b": "y"})));
        assert_ne!(a, properties(serde_json::json!({"a": 1, "c": "x"})));
        assert_ne!(a, properties(serde_json::json!({"a": 1})));
        assert_eq!(Properties::new(), properties(serde_json::json!({})));
    }

    #[test]
    fn texts_inline_or_shared_read_back() {
        let long = "x".repeat(TEXT_INLINE + 1);
        for text in [
            "",
            "a",
            "é",
            "490.86",
            &long[..TEXT_INLINE],
            &long,
            "ééééééééééé",
        ] {
            let held = Text::from(text);
            assert_eq!(held.as_str(), text);
            assert_eq!(held.as_bytes(), text.as_bytes());
            let inline = matches!(held.0, TextRepr::Inline { .. });
            assert_eq!(inline, text.len() <= TEXT_INLINE, "{text}");
            assert_eq!(held, Text::from(text));
            assert_eq!(format!("{held:?}"), format!("{text:?}"));
        }
        assert_ne!(Text::from("a"), Text::from("b"));
    }

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
