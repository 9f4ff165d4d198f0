//! Lago events in: one event (`POST /events`), a batch (`POST /events/batch`) and bulk text
//! (NDJSON or a JSON array) parsed into [`Event`]s, with Lago's validation codes. No storage and
//! no deduplication against a store here: only duplicates inside one request are caught.
//!
//! ## Rules (Lago's `Events::CreateService`, `Event` model, Postgres store)
//!
//! | field                        | accepted                                   | error                        |
//! |------------------------------|--------------------------------------------|------------------------------|
//! | `transaction_id`, `code`     | string, or a number by its JSON text       | blank: `value_is_mandatory`; other types: `value_is_invalid` |
//! | `external_subscription_id`   | string or number text; missing/null → `""` | other types: `value_is_invalid` |
//! | `timestamp`                  | Unix seconds (number or numeric string); missing/null → `now` | `invalid_format` |
//! | `properties`                 | object; missing/null → `{}`                | other types: `value_is_invalid` |
//! | `precise_total_amount_cents` | decimal string or number; null/blank → none | `value_is_invalid`, `value_is_out_of_range` |
//!
//! All errors of one event are reported together, in the order of the table.
//!
//! Decisions where Lago leaves room:
//! * "Blank" is Rails' `blank?`: empty or only whitespace (`" "` is `value_is_mandatory`).
//! * `precise_total_amount_cents` that is a blank string is no amount (Rails casts `""` to nil).
//! * Timestamps are read from their decimal text, never through `f64`: digits with an optional
//!   fraction and an optional exponent (`1.7e9`, as a JSON number or in a string, is exactly
//!   1700000000; Ruby's `BigDecimal` reads the same text), surrounding spaces allowed in strings.
//!   They are kept to the microsecond, the 7th fraction digit rounding half away from zero
//!   (Postgres' `timestamp(6)`). Only years 0000–9999 are accepted, so that every stored instant
//!   prints as a four-digit ISO 8601 year; anything else is `invalid_format`.
//! * The in-request duplicate key is `(external_subscription_id, transaction_id)` with a missing
//!   subscription stored as `""`, so two such events with one `transaction_id` are duplicates
//!   (Lago's unique index would let two NULL subscriptions through; such events are never
//!   aggregated either way). An item with other errors still claims its key.
//!
//! ## Speed
//!
//! The usual NDJSON line (a flat object of the known keys, strings without escapes, numbers
//! without exponent, a flat `properties` object) is read by hand (`fast_event`); any other line
//! goes to serde, straight into [`RawEvent`] without an intermediate `Value`. Both give the same
//! [`RawEvent`], so validation and errors are shared (tests compare the two readers). Subscription
//! ids, codes and property keys are shared within a request (`Interner`); duplicates are found
//! by sorting 16-byte fingerprints rather than probing a set of keys (see [`Collector`]). A
//! typical line costs the transaction id, the properties' slice and their string values.

use super::fast_hash::{FastBuild, FastHasher};
use crate::aggregations::EVENTS_MAX;
use crate::domain::event::{
    same_bytes, same_text, Event, IdsBuilder, Properties, PropertyValue, Text,
};
use crate::error::{Error, ErrorDetails, Result};
use crate::json::{self, object};
use crate::limits::REQUEST_BYTES_MAX;
use crate::number::{parse_decimal_str, ruby_decimal, NumError};
use crate::period::text::{instant_text, Fraction};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

/// Lago's default batch size (LAGO_EVENTS_BATCH_MAX_LENGTH).
pub const BATCH_MAX: usize = 100;

/// Bad items one bulk error lists: enough to fix a file, small enough to print (the bulk text
/// stops being read once that many are found).
const BULK_ERRORS_MAX: usize = 1_000;

/// Earliest accepted instant, 0000-01-01T00:00:00Z, in Unix microseconds.
const MICROS_MIN: i64 = -62_167_219_200_000_000;
/// Latest accepted instant, 9999-12-31T23:59:59.999999Z, in Unix microseconds.
const MICROS_MAX: i64 = 253_402_300_799_999_999;
/// Integer digits of the latest accepted Unix second (253402300799): more is out of range.
const SECONDS_DIGITS_MAX: i64 = 12;

/// serde_json (`arbitrary_precision`) hands a number to a visitor as a one-entry map under this
/// key, its value the number's text. Pinned with serde_json's exact version in Cargo.toml.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// One event object as Lago's POST /events takes it (the inner `event` object). `now` is the default timestamp.
pub fn parse_event(value: &Value, now: DateTime<Utc>) -> Result<Event> {
    let object = value
        .as_object()
        .ok_or_else(|| Error::BadRequest("the event must be a JSON object".to_string()))?;
    let mut ids = IdsBuilder::default();
    let mut event = validate(
        RawEvent::from_map(object),
        now,
        &mut Interner::default(),
        &mut ids,
    )
    .map_err(|(details, _)| Error::Validation(details))?;
    ids.seal(std::iter::once(&mut event.transaction_id));
    Ok(event)
}

/// A batch (the inner `events` array value): all-or-nothing. Empty → Error::invalid("events","no_events");
/// more than `max` → Error::invalid("events","too_many_events"); not an array → Error::invalid("events","invalid_type");
/// any bad item → Error::Indexed with every bad item's index and its details; duplicate (external_subscription_id, transaction_id)
/// pairs INSIDE the batch → the later occurrence gets {"transaction_id": ["value_already_exist"]} at its index.
pub fn parse_batch(value: &Value, now: DateTime<Utc>, max: usize) -> Result<Vec<Event>> {
    let items = value
        .as_array()
        .ok_or_else(|| Error::invalid("events", "invalid_type"))?;
    if items.is_empty() {
        return Err(Error::invalid("events", "no_events"));
    }
    if items.len() > max.min(EVENTS_MAX) {
        return Err(Error::invalid("events", "too_many_events"));
    }
    let mut collector = Collector::new(now, items.len(), Duplicates::Refuse);
    for item in items {
        let item = match item {
            Value::Object(object) => Item::Event(RawEvent::from_map(object)),
            _ => Item::NotObject,
        };
        collector.push(item);
    }
    collector.finish(usize::MAX)
}

/// Bulk text for large volumes: NDJSON (one event object per line; blank lines skipped) or, if the first non-blank
/// char is '[', a JSON array of event objects. No size cap besides crate::limits::REQUEST_BYTES_MAX on the text
/// (→ Error::BadRequest) and aggregations::EVENTS_MAX events. Errors are Error::Indexed keyed by the 0-based index
/// of the event (its position among non-blank lines); a line that is not valid JSON → {"event": ["invalid_json"]} at
/// its index; duplicates inside the text as in parse_batch. All-or-nothing.
///
/// Also: text without any event is `{"events": ["no_events"]}`, more than `EVENTS_MAX` events is
/// `{"events": ["too_many_events"]}`, an array that is not valid JSON as a whole is a
/// `BadRequest`, and the error lists at most the first 1,000 bad events (reading stops there).
pub fn parse_bulk(text: &str, now: DateTime<Utc>) -> Result<Vec<Event>> {
    parse_bulk_with(text, now, true, Duplicates::Refuse)
}

/// [`parse_bulk`] with a choice of what a repeated key does: with [`Duplicates::Skip`], a repeated
/// key does not refuse the text and every valid event is returned, repeats included (the store's
/// claim keeps the first of each key: no pass over the keys here); other bad events still refuse
/// it, and are reported without duplicates among them.
pub fn parse_bulk_with_duplicates(
    text: &str,
    now: DateTime<Utc>,
    duplicates: Duplicates,
) -> Result<Vec<Event>> {
    parse_bulk_with(text, now, true, duplicates)
}

/// What a bulk text does with an event whose key (`external_subscription_id`, `transaction_id`)
/// is already stored or repeats an earlier one of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicates {
    /// Refuse the whole text: `value_already_exist` at the event's index (Lago's rule).
    Refuse,
    /// Store the others and drop it: reloading a file, or a client's retry, stores each event
    /// once without a second pass over the text.
    Skip,
}

/// [`parse_bulk`], with or without the hand-written reader of the usual NDJSON line (tests read
/// every line both ways and compare).
fn parse_bulk_with(
    text: &str,
    now: DateTime<Utc>,
    fast: bool,
    duplicates: Duplicates,
) -> Result<Vec<Event>> {
    if text.len() > REQUEST_BYTES_MAX {
        return Err(Error::BadRequest(format!(
            "the events text is longer than {REQUEST_BYTES_MAX} bytes"
        )));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // A typical event is ~150 bytes; the guess only sizes the first allocation (counting lines
    // first would cost a pass over the text).
    let mut collector = Collector::new(now, (text.len() / 128).min(EVENTS_MAX), duplicates);
    let start = text.trim_ascii_start();
    if start.starts_with('[') {
        read_array(text, &mut collector)?;
    } else if is_csv(start) {
        read_csv(start, &mut collector)?;
    } else {
        read_lines(text, &mut collector, fast);
    }
    collector.end()
}

/// True when the hand-written reader of the usual line and serde read `text` alike (the same
/// events, or the same error), in both duplicate modes: the fuzz target's check of the reader.
pub(crate) fn readers_agree(text: &str, now: DateTime<Utc>) -> bool {
    [Duplicates::Refuse, Duplicates::Skip]
        .into_iter()
        .all(|duplicates| {
            let fast = parse_bulk_with(text, now, true, duplicates);
            let serde = parse_bulk_with(text, now, false, duplicates);
            format!("{fast:?}") == format!("{serde:?}")
        })
}

/// Lago's event JSON (V1::EventSerializer) of a stored event:
/// {lago_id, transaction_id, lago_customer_id: null, code, timestamp (ISO 8601 UTC with milliseconds, e.g. "2025-06-15T10:00:00.123Z"),
///  precise_total_amount_cents (string via crate::number::ruby_decimal, or null), properties, lago_subscription_id, external_subscription_id, created_at}
///
/// `timestamp` keeps milliseconds, truncated (Ruby's `iso8601(3)`); `created_at` is whole seconds
/// (Ruby's `iso8601`). An event stored without a subscription (`""`) prints
/// `external_subscription_id: null`, as Lago prints its NULL column.
pub fn event_json(
    event: &Event,
    lago_id: &str,
    lago_subscription_id: Option<&str>,
    created_at: Option<DateTime<Utc>>,
) -> Value {
    let external_subscription_id =
        Some(&*event.external_subscription_id).filter(|id| !id.is_empty());
    object! {
        "lago_id": json::text(lago_id),
        "transaction_id": json::text(&event.transaction_id),
        "lago_customer_id": Value::Null,
        "code": json::text(&event.code),
        "timestamp": Value::String(instant_text(event.timestamp, Fraction::Millis)),
        "precise_total_amount_cents": Value::from(event.precise_total_amount_cents.map(ruby_decimal)),
        "properties": serde_json::to_value(&event.properties).unwrap_or_default(),
        "lago_subscription_id": json::text_or_null(lago_subscription_id),
        "external_subscription_id": json::text_or_null(external_subscription_id),
        "created_at": Value::from(created_at.map(|at| instant_text(at, Fraction::None))),
    }
}

// --------------------------------------------------------------------------------------------
// Raw shapes: what the JSON held, before any rule
// --------------------------------------------------------------------------------------------

/// One field as it came, borrowing from the input where it can.
#[derive(Debug, Default)]
enum Raw<'a> {
    /// The key is absent.
    #[default]
    Missing,
    /// JSON `null`.
    Null,
    /// A JSON string.
    Text(Cow<'a, str>),
    /// A JSON number, by its exact text.
    Number(Cow<'a, str>),
    /// A boolean, array or object.
    Other,
}

/// `properties` as it came.
#[derive(Debug, Default)]
enum RawProperties<'a> {
    #[default]
    Missing,
    Null,
    Object(Cow<'a, Map<String, Value>>),
    /// Read by the fast reader into the interner's scratch list, keys checked distinct. The
    /// event's properties are built from it where the event is: moved from the reader to the
    /// event, three pairs held inline took five copies.
    Scratch,
    Other,
}

/// The fields of one event object that Lago reads; other keys are ignored.
#[derive(Debug, Default)]
struct RawEvent<'a> {
    transaction_id: Raw<'a>,
    external_subscription_id: Raw<'a>,
    code: Raw<'a>,
    timestamp: Raw<'a>,
    properties: RawProperties<'a>,
    precise_total_amount_cents: Raw<'a>,
}

/// One item of a batch or bulk text.
// Items are consumed one at a time; boxing the event would add an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Item<'a> {
    Event(RawEvent<'a>),
    /// Valid JSON, but not an object.
    NotObject,
}

impl<'a> Raw<'a> {
    fn from_value(value: Option<&'a Value>) -> Self {
        match value {
            None => Raw::Missing,
            Some(Value::Null) => Raw::Null,
            Some(Value::String(text)) => Raw::Text(Cow::Borrowed(text)),
            Some(Value::Number(number)) => Raw::Number(Cow::Borrowed(number.as_str())),
            Some(_) => Raw::Other,
        }
    }
}

impl<'a> RawProperties<'a> {
    fn from_value(value: Option<&'a Value>) -> Self {
        match value {
            None => RawProperties::Missing,
            Some(Value::Null) => RawProperties::Null,
            Some(Value::Object(map)) => RawProperties::Object(Cow::Borrowed(map)),
            Some(_) => RawProperties::Other,
        }
    }

    fn from_owned(value: Value) -> Self {
        match value {
            Value::Null => RawProperties::Null,
            Value::Object(map) => RawProperties::Object(Cow::Owned(map)),
            _ => RawProperties::Other,
        }
    }
}

impl<'a> RawEvent<'a> {
    fn from_map(object: &'a Map<String, Value>) -> Self {
        RawEvent {
            transaction_id: Raw::from_value(object.get("transaction_id")),
            external_subscription_id: Raw::from_value(object.get("external_subscription_id")),
            code: Raw::from_value(object.get("code")),
            timestamp: Raw::from_value(object.get("timestamp")),
            properties: RawProperties::from_value(object.get("properties")),
            precise_total_amount_cents: Raw::from_value(object.get("precise_total_amount_cents")),
        }
    }
}

// --------------------------------------------------------------------------------------------
// Validation: raw fields → Event, or every error of the event
// --------------------------------------------------------------------------------------------

/// `(external_subscription_id, transaction_id)`: the duplicate key.
type Key<'a> = (Cow<'a, str>, Cow<'a, str>);

/// A failed event: its errors, and its key when both ids are valid (it still claims the key).
type Failure<'a> = (ErrorDetails, Option<Key<'a>>);

/// Applies every rule to one event (duplicates are the collector's business).
fn validate<'a>(
    raw: RawEvent<'a>,
    now: DateTime<Utc>,
    interner: &mut Interner,
    ids: &mut IdsBuilder,
) -> std::result::Result<Event, Failure<'a>> {
    let transaction_id = required_text(raw.transaction_id);
    let external_subscription_id = optional_text(raw.external_subscription_id);
    let code = required_text(raw.code);
    let timestamp = event_timestamp(&raw.timestamp, now, &mut interner.day);
    let properties = match raw.properties {
        RawProperties::Missing | RawProperties::Null => Ok(Properties::new()),
        RawProperties::Object(map) => Ok(interner.properties(map.into_owned())),
        RawProperties::Scratch => Ok(Properties::from_distinct(interner.pairs.drain(..))),
        RawProperties::Other => Err("value_is_invalid"),
    };
    let precise_total_amount_cents = amount_cents(&raw.precise_total_amount_cents);
    match (
        transaction_id,
        external_subscription_id,
        code,
        timestamp,
        properties,
        precise_total_amount_cents,
    ) {
        (
            Ok(transaction_id),
            Ok(subscription),
            Ok(code),
            Ok(timestamp),
            Ok(properties),
            Ok(cents),
        ) => Ok(Event {
            transaction_id: ids.push(&transaction_id),
            external_subscription_id: interner.get(&subscription),
            code: interner.get(&code),
            timestamp,
            properties,
            precise_total_amount_cents: cents,
        }),
        (transaction_id, subscription, code, timestamp, properties, cents) => {
            let mut details = ErrorDetails::default();
            let checks = [
                ("transaction_id", transaction_id.as_ref().err()),
                ("external_subscription_id", subscription.as_ref().err()),
                ("code", code.as_ref().err()),
                ("timestamp", timestamp.as_ref().err()),
                ("properties", properties.as_ref().err()),
                ("precise_total_amount_cents", cents.as_ref().err()),
            ];
            for (field, error) in checks {
                if let Some(error) = error {
                    details.add(field, error);
                }
            }
            Err((details, subscription.ok().zip(transaction_id.ok())))
        }
    }
}

/// A Lago error code; every rule answers with one.
type Check<T> = std::result::Result<T, &'static str>;

/// Rails' `blank?` on a string: empty or whitespace only.
fn is_blank(text: &str) -> bool {
    match text.as_bytes().first() {
        // The usual id starts with a visible ASCII character: not blank, no trim needed.
        Some(&first) if first > b' ' && first.is_ascii() => false,
        _ => text.trim().is_empty(),
    }
}

/// `transaction_id`, `code`: present, not blank, a string or a number's text.
fn required_text(raw: Raw<'_>) -> Check<Cow<'_, str>> {
    match raw {
        Raw::Missing | Raw::Null => Err("value_is_mandatory"),
        Raw::Text(text) if is_blank(&text) => Err("value_is_mandatory"),
        Raw::Text(text) | Raw::Number(text) => Ok(text),
        Raw::Other => Err("value_is_invalid"),
    }
}

/// `external_subscription_id`: not validated by Lago; missing is stored as `""`.
fn optional_text(raw: Raw<'_>) -> Check<Cow<'_, str>> {
    match raw {
        Raw::Missing | Raw::Null => Ok(Cow::Borrowed("")),
        Raw::Text(text) | Raw::Number(text) => Ok(text),
        Raw::Other => Err("value_is_invalid"),
    }
}

/// `timestamp`: Unix seconds as a number or numeric string; missing or null is `now`.
/// `day`: the last whole-seconds timestamp's day and date (the events of a text mostly share a
/// day: the time of day replaces chrono's date arithmetic, ~70 instructions).
fn event_timestamp(
    raw: &Raw<'_>,
    now: DateTime<Utc>,
    day: &mut Option<(i64, NaiveDate)>,
) -> Check<DateTime<Utc>> {
    match raw {
        Raw::Missing | Raw::Null => Ok(now),
        Raw::Text(text) | Raw::Number(text) => match whole_seconds(text) {
            Some(seconds) => instant_of_day(seconds, day).ok_or("invalid_format"),
            None => instant_from_seconds(text).ok_or("invalid_format"),
        },
        Raw::Other => Err("invalid_format"),
    }
}

/// `precise_total_amount_cents`: a decimal; null or a blank string is none.
fn amount_cents(raw: &Raw<'_>) -> Check<Option<Decimal>> {
    let text = match raw {
        Raw::Missing | Raw::Null => return Ok(None),
        Raw::Text(text) if is_blank(text) => return Ok(None),
        Raw::Text(text) | Raw::Number(text) => text,
        Raw::Other => return Err("value_is_invalid"),
    };
    match parse_decimal_str(text) {
        Ok(cents) => Ok(Some(cents)),
        Err(NumError::Invalid) => Err("value_is_invalid"),
        Err(NumError::OutOfRange) => Err("value_is_out_of_range"),
    }
}

/// The usual timestamp, whole seconds as plain digits, read without the general walk of
/// [`instant_from_seconds`] (11 digits stay below year 5138: in range).
fn whole_seconds(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    (!bytes.is_empty() && bytes.len() <= 11 && all_digits(bytes)).then(|| {
        bytes
            .iter()
            .fold(0_i64, |seconds, &b| seconds * 10 + i64::from(b - b'0'))
    })
}

/// `DateTime::from_timestamp(seconds, 0)`, the date taken from `day` when it is that day's.
fn instant_of_day(seconds: i64, day: &mut Option<(i64, NaiveDate)>) -> Option<DateTime<Utc>> {
    const DAY_SECONDS: i64 = 86_400;
    let (days, second_of_day) = (
        seconds.div_euclid(DAY_SECONDS),
        seconds.rem_euclid(DAY_SECONDS),
    );
    let date = match *day {
        Some((cached, date)) if cached == days => date,
        _ => {
            let date = DateTime::from_timestamp(seconds, 0)?.date_naive();
            *day = Some((days, date));
            date
        }
    };
    let time =
        NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(second_of_day).ok()?, 0)?;
    Some(date.and_time(time).and_utc())
}

/// Unix seconds written as decimal text (`-12`, `1700000000.1234565`, `1.7e9`) → the instant,
/// to the microsecond, or `None` when it is not such text or falls outside years 0000–9999.
///
/// Exact on the digits (no float, no `Decimal` precision limit): the value is `0.d₀d₁d₂… ×
/// 10^point`, so whole microseconds are the first `point + 6` digits and the next digit rounds.
/// The usual whole seconds take [`whole_seconds`] before this walk ([`event_timestamp`]).
fn instant_from_seconds(text: &str) -> Option<DateTime<Utc>> {
    let (negative, unsigned) = split_sign(text.trim().as_bytes());
    let (mantissa, exponent) = match unsigned.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => {
            let (mantissa, rest) = unsigned.split_at(at);
            (mantissa, Some(rest.get(1..)?))
        }
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => {
            let (whole, rest) = mantissa.split_at(at);
            (whole, rest.get(1..)?)
        }
        None => (mantissa, &[][..]),
    };
    if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let exponent = match exponent {
        None => 0,
        Some(exponent) => exponent_value(exponent)?,
    };
    let digits = whole.iter().chain(fraction).map(|&b| i64::from(b - b'0'));
    let leading_zeros = digits.clone().take_while(|&d| d == 0).count();
    if leading_zeros == whole.len() + fraction.len() {
        return DateTime::from_timestamp_micros(0); // zero, whatever the exponent
    }
    // Lengths are bounded by the text (≤ REQUEST_BYTES_MAX), far from i64's range.
    let whole_len = i64::try_from(whole.len()).ok()?;
    let zeros = i64::try_from(leading_zeros).ok()?;
    let point = whole_len.saturating_add(exponent).saturating_sub(zeros);
    if point > SECONDS_DIGITS_MAX {
        return None;
    }
    let mut significant = digits.skip(leading_zeros);
    let mut micros: i64 = 0;
    if point >= -6 {
        // point + 6 ≤ 18 digits: below 10^18, no overflow.
        for _ in 0..point + 6 {
            micros = micros * 10 + significant.next().unwrap_or(0);
        }
        if significant.next().unwrap_or(0) >= 5 {
            micros += 1;
        }
    }
    let micros = if negative { -micros } else { micros };
    if !(MICROS_MIN..=MICROS_MAX).contains(&micros) {
        return None;
    }
    DateTime::from_timestamp_micros(micros)
}

/// An optional leading sign.
fn split_sign(text: &[u8]) -> (bool, &[u8]) {
    match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    }
}

fn all_digits(text: &[u8]) -> bool {
    text.iter().all(u8::is_ascii_digit)
}

/// An exponent's value (`+9`, `-3`, `12`); one too large to matter saturates (a huge negative
/// exponent leaves zero seconds, a huge positive one is out of range either way).
fn exponent_value(text: &[u8]) -> Option<i64> {
    let (negative, digits) = split_sign(text);
    if digits.is_empty() || !all_digits(digits) {
        return None;
    }
    let mut magnitude: i64 = 0;
    for &digit in digits {
        magnitude = magnitude
            .saturating_mul(10)
            .saturating_add(i64::from(digit - b'0'))
            .min(i64::MAX / 2);
    }
    Some(if negative { -magnitude } else { magnitude })
}

// --------------------------------------------------------------------------------------------
// Collecting a batch: all-or-nothing, every bad item listed
// --------------------------------------------------------------------------------------------

/// Reads the items of one request in order: all-or-nothing, every bad item listed.
///
/// Duplicates are found at the end, without a hash set over the keys: each keyed item leaves a
/// 16-byte `(fingerprint, index)` written in sequence, one sort brings equal fingerprints
/// together, and only those are compared by their keys (from the events, or from the few
/// failed items). Random probes into a large set cost more than the sort at bulk sizes.
struct Collector<'a> {
    now: DateTime<Utc>,
    /// The request's subscription ids, codes and property keys.
    interner: Interner,
    /// The transaction ids of the events, in one block once the text is read.
    ids: IdsBuilder,
    /// The valid events, in order (kept after a failure too: duplicates are checked on them).
    events: Vec<Event>,
    /// The failed items, by ascending index.
    errors: Vec<(usize, ErrorDetails)>,
    /// Keys of failed items that have one, by ascending index.
    failed_keys: Vec<(usize, Key<'a>)>,
    /// `(fingerprint of the key, index)` of every keyed item.
    fingerprints: Vec<(u64, u32)>,
    /// Items pushed so far (the next item's index).
    count: usize,
    /// Set when reading must stop early: the error to return.
    stop: Option<Error>,
    /// Whether a repeated key is an error or dropped.
    on_duplicate: Duplicates,
}

impl<'a> Collector<'a> {
    fn new(now: DateTime<Utc>, capacity: usize, on_duplicate: Duplicates) -> Self {
        Collector {
            now,
            interner: Interner::default(),
            ids: IdsBuilder::with_capacity(capacity),
            events: Vec::with_capacity(capacity),
            errors: Vec::new(),
            failed_keys: Vec::new(),
            // Skipped repeats are the store's to drop (it claims each key once, in order).
            fingerprints: match on_duplicate {
                Duplicates::Refuse => Vec::with_capacity(capacity),
                Duplicates::Skip => Vec::new(),
            },
            count: 0,
            stop: None,
            on_duplicate,
        }
    }

    fn push(&mut self, item: Item<'a>) {
        let outcome = match item {
            Item::Event(raw) => validate(raw, self.now, &mut self.interner, &mut self.ids),
            Item::NotObject => Err((single("event", "invalid_type"), None)),
        };
        self.record(outcome);
    }

    /// A bulk line that is not JSON.
    fn push_invalid_json(&mut self) {
        self.record(Err((single("event", "invalid_json"), None)));
    }

    fn record(&mut self, outcome: std::result::Result<Event, Failure<'a>>) {
        let index = self.count;
        self.count += 1;
        // Callers stop at EVENTS_MAX (< u32::MAX) items; past it the key is not needed.
        let Ok(position) = u32::try_from(index) else {
            self.stop = Some(Error::invalid("events", "too_many_events"));
            return;
        };
        match outcome {
            Ok(event) => {
                if self.on_duplicate == Duplicates::Refuse {
                    let transaction = self.ids.text_of(&event.transaction_id);
                    let key = fingerprint(&event.external_subscription_id, transaction);
                    self.fingerprints.push((key, position));
                }
                self.events.push(event);
            }
            Err((details, key)) => {
                if let (Some((subscription, transaction)), Duplicates::Refuse) =
                    (key, self.on_duplicate)
                {
                    self.fingerprints
                        .push((fingerprint(&subscription, &transaction), position));
                    self.failed_keys.push((index, (subscription, transaction)));
                }
                self.errors.push((index, details));
            }
        }
    }

    /// True when reading must stop: too many events, or enough errors to report.
    fn full(&mut self) -> bool {
        if self.count > EVENTS_MAX {
            self.stop = Some(Error::invalid("events", "too_many_events"));
        } else if self.errors.len() >= BULK_ERRORS_MAX {
            self.stop = Some(Error::Indexed(self.merged_errors(BULK_ERRORS_MAX)));
        }
        self.stop.is_some()
    }

    /// The end of a bulk text: an early stop, no events at all, or the outcome.
    fn end(mut self) -> Result<Vec<Event>> {
        if let Some(error) = self.stop.take() {
            return Err(error);
        }
        if self.count == 0 {
            return Err(Error::invalid("events", "no_events"));
        }
        self.finish(BULK_ERRORS_MAX)
    }

    /// The events, or the first `errors_max` bad items (duplicates included unless skipped).
    fn finish(mut self, errors_max: usize) -> Result<Vec<Event>> {
        let ids = std::mem::take(&mut self.ids);
        ids.seal(
            self.events
                .iter_mut()
                .map(|event| &mut event.transaction_id),
        );
        let errors = self.merged_errors(errors_max);
        if !errors.is_empty() {
            return Err(Error::Indexed(errors));
        }
        Ok(self.events)
    }

    /// The failed items and the later occurrences of a key, by index; a duplicate's
    /// `value_already_exist` goes first (its `transaction_id` is valid, so it has no other).
    fn merged_errors(&mut self, errors_max: usize) -> Vec<(usize, ErrorDetails)> {
        let duplicates = match self.on_duplicate {
            Duplicates::Refuse => self.duplicates(),
            Duplicates::Skip => Vec::new(),
        };
        let mut failed = std::mem::take(&mut self.errors).into_iter().peekable();
        let mut duplicates = duplicates.into_iter().peekable();
        let mut merged = Vec::new();
        while merged.len() < errors_max {
            let next = match (failed.peek(), duplicates.peek()) {
                (None, None) => break,
                (Some((index, _)), Some(duplicate)) if index == duplicate => {
                    duplicates.next();
                    failed
                        .next()
                        .map(|(index, details)| (index, duplicate_first(&details)))
                }
                (Some((index, _)), Some(duplicate)) if duplicate < index => duplicates
                    .next()
                    .map(|index| (index, single("transaction_id", "value_already_exist"))),
                (Some(_), _) => failed.next(),
                (None, Some(_)) => duplicates
                    .next()
                    .map(|index| (index, single("transaction_id", "value_already_exist"))),
            };
            merged.extend(next);
        }
        merged
    }

    /// Indexes of items whose key an earlier item already has, ascending.
    fn duplicates(&mut self) -> Vec<usize> {
        self.fingerprints.sort_unstable();
        let mut found = Vec::new();
        for run in self.fingerprints.chunk_by(|a, b| a.0 == b.0) {
            if run.len() < 2 {
                continue;
            }
            // Sorted by index within the run: the first holder of each key is kept.
            let mut holders: Vec<(&str, &str)> = Vec::new();
            for &(_, index) in run {
                let index = index as usize;
                let Some(key) = self.key_of(index) else {
                    continue;
                };
                if holders.contains(&key) {
                    found.push(index);
                } else {
                    holders.push(key);
                }
            }
        }
        found.sort_unstable();
        found
    }

    /// The key of a keyed item: a failed item's own, or its event's (events skip failed items).
    fn key_of(&self, index: usize) -> Option<(&str, &str)> {
        if let Ok(at) = self.failed_keys.binary_search_by_key(&index, |(i, _)| *i) {
            let (_, (subscription, transaction)) = self.failed_keys.get(at)?;
            return Some((subscription, transaction));
        }
        let failed_before = self.errors.partition_point(|(i, _)| *i < index);
        let event = self.events.get(index.checked_sub(failed_before)?)?;
        Some((&event.external_subscription_id, &event.transaction_id))
    }
}

/// 64 bits of a fast hash over the key (equal fingerprints are then compared by their keys);
/// `0xff` never occurs in UTF-8.
fn fingerprint(subscription: &str, transaction: &str) -> u64 {
    let mut hasher = FastHasher::default();
    hasher.write(subscription.as_bytes());
    hasher.write_u8(0xff);
    hasher.write(transaction.as_bytes());
    hasher.finish()
}

/// `details` with `{"transaction_id": ["value_already_exist"]}` in front.
fn duplicate_first(details: &ErrorDetails) -> ErrorDetails {
    let mut out = single("transaction_id", "value_already_exist");
    if let Value::Object(fields) = details.to_json() {
        for (field, codes) in &fields {
            for code in codes.as_array().into_iter().flatten() {
                out.add(field, code.as_str().unwrap_or_default());
            }
        }
    }
    out
}

fn single(field: &str, code: &str) -> ErrorDetails {
    let mut details = ErrorDetails::default();
    details.add(field, code);
    details
}

/// NDJSON: one event per non-blank line.
fn read_lines<'a>(text: &'a str, collector: &mut Collector<'a>, fast: bool) {
    let mut rest = text;
    while !rest.is_empty() {
        // The usual line is read where it starts, its end found by the reader (no search for
        // the line end first); any other line is cut at its line end and read by serde.
        if let Some((raw, length)) = fast
            .then(|| fast_event(rest, &mut collector.interner))
            .flatten()
        {
            collector.push(Item::Event(raw));
            if collector.full() {
                return;
            }
            rest = rest.get(length..).unwrap_or_default();
            continue;
        }
        let (line, next) = rest.split_once('\n').unwrap_or((rest, ""));
        rest = next;
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let mut deserializer = serde_json::Deserializer::from_str(line);
        match Item::deserialize(&mut deserializer).and_then(|item| {
            deserializer.end()?;
            Ok(item)
        }) {
            Ok(item) => collector.push(item),
            Err(_) => collector.push_invalid_json(),
        }
        if collector.full() {
            return;
        }
    }
}

/// CSV when the first line is a header naming `transaction_id` (NDJSON lines start with `{`).
fn is_csv(text: &str) -> bool {
    let header = text.split('\n').next().unwrap_or("");
    !header.starts_with('{')
        && split_csv(header.trim_ascii())
            .iter()
            .any(|c| c == "transaction_id")
}

/// One CSV line's fields (RFC 4180 quotes: `"a,b"`, `""` for a quote; no line breaks inside a
/// field).
fn split_csv(line: &str) -> Vec<Cow<'_, str>> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                if c != '"' {
                    value.push(c);
                } else if quoted[i + 1..].starts_with('"') {
                    value.push('"');
                    chars.next();
                } else {
                    end = i + 1;
                    break;
                }
            }
            fields.push(Cow::Owned(value));
            rest = &quoted[end..];
            match rest.find(',') {
                Some(comma) => rest = &rest[comma + 1..],
                None => return fields,
            }
        } else {
            match rest.find(',') {
                Some(comma) => {
                    fields.push(Cow::Borrowed(&rest[..comma]));
                    rest = &rest[comma + 1..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return fields;
                }
            }
        }
    }
}

/// CSV with a header row: `transaction_id`, `external_subscription_id`, `code`, `timestamp`,
/// `precise_total_amount_cents`; every other column (`properties.<key>` or `<key>`) is a
/// property, and an empty cell is an absent property.
fn read_csv<'a>(text: &'a str, collector: &mut Collector<'a>) -> Result<()> {
    let mut lines = text.split('\n');
    let header = split_csv(lines.next().unwrap_or("").trim_ascii());
    if header
        .iter()
        .filter(|c| c.as_ref() == "transaction_id")
        .count()
        != 1
    {
        return Err(Error::BadRequest(
            "the CSV header must name transaction_id once".into(),
        ));
    }
    let names: Vec<String> = header
        .iter()
        .map(|c| c.strip_prefix("properties.").unwrap_or(c).to_string())
        .collect();
    for line in lines {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let mut raw = RawEvent::default();
        let mut properties = Map::new();
        for (column, (field, cell)) in header.iter().zip(split_csv(line)).enumerate() {
            let value = || match cell.clone() {
                Cow::Borrowed(text) => Raw::Text(Cow::Borrowed(text)),
                Cow::Owned(text) => Raw::Text(Cow::Owned(text)),
            };
            match field.as_ref() {
                _ if cell.is_empty() => {}
                "transaction_id" => raw.transaction_id = value(),
                "external_subscription_id" => raw.external_subscription_id = value(),
                "code" => raw.code = value(),
                "timestamp" => raw.timestamp = value(),
                "precise_total_amount_cents" => raw.precise_total_amount_cents = value(),
                _ => {
                    properties.insert(names[column].clone(), Value::String(cell.into_owned()));
                }
            }
        }
        raw.properties = RawProperties::Object(Cow::Owned(properties));
        collector.push(Item::Event(raw));
        if collector.full() {
            break;
        }
    }
    Ok(())
}

/// A JSON array of events, read element by element (no `Value` for the whole text).
fn read_array<'a>(text: &'a str, collector: &mut Collector<'a>) -> Result<()> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let read = ArraySeed(collector)
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    match read {
        Ok(()) => Ok(()),
        Err(_) if collector.stop.is_some() => Ok(()),
        Err(error) => Err(Error::BadRequest(format!("invalid JSON: {error}"))),
    }
}

struct ArraySeed<'c, 'a>(&'c mut Collector<'a>);

impl<'a> DeserializeSeed<'a> for ArraySeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'a>>(
        self,
        deserializer: D,
    ) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'a> Visitor<'a> for ArraySeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<S: SeqAccess<'a>>(self, mut seq: S) -> std::result::Result<(), S::Error> {
        while let Some(item) = seq.next_element::<Item<'a>>()? {
            self.0.push(item);
            if self.0.full() {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

// --------------------------------------------------------------------------------------------
// The usual NDJSON line, read by hand
// --------------------------------------------------------------------------------------------

/// Reads the usual event line at the start of `text` (after blank lines and spaces) without
/// serde, and gives the length read, its line end included: one flat object of the six known keys (each once),
/// strings without escapes, numbers without exponent, `properties` a flat object of strings,
/// integers, booleans and nulls with distinct keys. `None` for anything else (the line is then
/// read by serde, which gives the same [`RawEvent`] for every line this accepts: numbers and
/// strings are kept by their exact text, as serde keeps them, and keys in their order).
///
/// It takes about a third of serde's instructions per line: no visitor calls, no scratch buffer
/// for the numbers, the ids borrowed from the text.
fn fast_event<'a>(text: &'a str, interner: &mut Interner) -> Option<(RawEvent<'a>, usize)> {
    let bytes = text.as_bytes();
    // Blank lines and the line's leading spaces, as `trim_ascii` trims them.
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let mut cursor = Cursor { text, at: start };
    let mut raw = RawEvent::default();
    cursor.expect(b'{')?;
    if !cursor.eat(b'}') {
        // One bit per key: a repeated key (serde keeps the last one) is left to serde.
        let mut seen = 0_u8;
        let mut previous = KEY_FIRST;
        loop {
            let key = cursor.event_key(&mut interner.next_keys, previous)?;
            let bit = 1_u8 << key;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            previous = key;
            match key {
                0 => raw.transaction_id = cursor.scalar()?,
                1 => raw.external_subscription_id = cursor.scalar()?,
                2 => raw.code = cursor.scalar()?,
                3 => raw.timestamp = cursor.scalar()?,
                4 => raw.properties = cursor.properties(interner)?,
                _ => raw.precise_total_amount_cents = cursor.scalar()?,
            }
            if !cursor.eat(b',') {
                cursor.expect(b'}')?;
                break;
            }
        }
    }
    // The rest of the line: spaces only.
    let rest = bytes.get(cursor.at..)?;
    for (offset, &byte) in rest.iter().enumerate() {
        if byte == b'\n' {
            return Some((raw, cursor.at + offset + 1));
        }
        if !byte.is_ascii_whitespace() {
            return None;
        }
    }
    Some((raw, text.len()))
}

/// The six keys of an event as the usual line writes them: quoted, the colon right after.
const EVENT_KEYS: [&[u8]; 6] = [
    b"\"transaction_id\":",
    b"\"external_subscription_id\":",
    b"\"code\":",
    b"\"timestamp\":",
    b"\"properties\":",
    b"\"precise_total_amount_cents\":",
];

/// The place in [`Interner::next_keys`] of the key an object starts with.
const KEY_FIRST: usize = EVENT_KEYS.len();

/// Slots of an [`Interner`]'s cache of the texts it gave last.
const RECENT_SLOTS: usize = 32;

/// Distinct texts an [`Interner`] keeps (past them, each is its own allocation).
const INTERNED_MAX: usize = 4_096;

/// Texts the events of one request repeat (subscription ids, codes, property keys; string values
/// when they repeat from one event to the next), allocated once and shared by those events: an
/// allocation and its bytes saved per text per event. Also holds the fast reader's scratch list
/// of properties.
#[derive(Default)]
struct Interner {
    texts: HashSet<Arc<str>, FastBuild>,
    recent: [Option<Arc<str>>; RECENT_SLOTS],
    recent_values: [Option<Arc<str>>; RECENT_SLOTS],
    /// Property keys the fast reader read last, by their first two bytes: see
    /// [`Interner::known_key`].
    keys: KeyCache,
    /// For each event key (and [`KEY_FIRST`], the object's start), the index in [`EVENT_KEYS`]
    /// of the key that came next in the last line: lines repeat their key order, so one
    /// comparison usually reads the key, its quotes and the colon.
    next_keys: [u8; KEY_FIRST + 1],
    pairs: Vec<(Arc<str>, PropertyValue)>,
    /// The day of the last timestamp read, and its date (see [`event_timestamp`]).
    day: Option<(i64, NaiveDate)>,
}

/// Slots of an [`Interner`]'s cache of property keys.
const KEY_SLOTS: usize = 64;

/// Property keys by [`key_slot`].
struct KeyCache([Option<Arc<str>>; KEY_SLOTS]);

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache(std::array::from_fn(|_| None))
    }
}

/// A property key's slot, from the first two bytes of its text (the key's length is not known
/// before its end is found, which is the work the slot saves).
#[inline]
fn key_slot(text: &[u8]) -> usize {
    let byte = |at: usize| usize::from(text.get(at).copied().unwrap_or(0));
    (byte(0) * 7 + byte(1)) % KEY_SLOTS
}

/// A text's slot in a cache of recent texts: by length and edge bytes.
#[inline]
fn recent_slot(text: &str) -> usize {
    let bytes = text.as_bytes();
    (bytes.len()
        ^ usize::from(bytes.first().copied().unwrap_or(0))
        ^ usize::from(bytes.last().copied().unwrap_or(0)).rotate_left(3))
        % RECENT_SLOTS
}

impl Interner {
    /// A string property value: inline when short; else shared when it is the last value seen
    /// in its slot (models, channels), else a new allocation. Values are often unique (amounts,
    /// user ids): hashing them all would cost more than it saves.
    fn value(&mut self, text: &str) -> Text {
        Text::new_or(text, || {
            let slot = recent_slot(text);
            if let Some(Some(recent)) = self.recent_values.get(slot) {
                if same_text(recent, text) {
                    return Arc::clone(recent);
                }
            }
            let shared: Arc<str> = Arc::from(text);
            if let Some(recent) = self.recent_values.get_mut(slot) {
                *recent = Some(Arc::clone(&shared));
            }
            shared
        })
    }

    fn get(&mut self, text: &str) -> Arc<str> {
        // The text found last time in its slot is the usual answer: a comparison instead of a
        // hash and a probe.
        let slot = recent_slot(text);
        if let Some(Some(recent)) = self.recent.get(slot) {
            if same_text(recent, text) {
                return Arc::clone(recent);
            }
        }
        let shared = match self.texts.get(text) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared: Arc<str> = Arc::from(text);
                if self.texts.len() < INTERNED_MAX {
                    self.texts.insert(Arc::clone(&shared));
                }
                shared
            }
        };
        if let Some(recent) = self.recent.get_mut(slot) {
            *recent = Some(Arc::clone(&shared));
        }
        shared
    }

    /// The cached property key that `rest` (the text after a string's opening quote) starts
    /// with, and the bytes it takes with its closing quote, when it is the key last read in its
    /// slot: one comparison instead of a search for the string's end and a lookup (−7 % of the
    /// instructions of a bulk ingestion, natively). A cached key came from
    /// [`Cursor::string`], so it has no quote, backslash or control character, and equal bytes
    /// followed by a quote are the whole string.
    #[inline]
    fn known_key(&self, rest: &[u8]) -> Option<(Arc<str>, usize)> {
        let key = self.keys.0.get(key_slot(rest))?.as_ref()?;
        let length = key.len();
        let found = rest.get(length) == Some(&b'"')
            && rest
                .get(..length)
                .is_some_and(|head| same_bytes(head, key.as_bytes()));
        found.then(|| (Arc::clone(key), length + 1))
    }

    /// A property key read by [`Cursor::string`], shared, and cached for [`Interner::known_key`].
    fn key(&mut self, text: &str) -> Arc<str> {
        let shared = self.get(text);
        if let Some(slot) = self.keys.0.get_mut(key_slot(text.as_bytes())) {
            *slot = Some(Arc::clone(&shared));
        }
        shared
    }

    /// A JSON object's properties, keys shared.
    fn properties(&mut self, map: Map<String, Value>) -> Properties {
        Properties::from_distinct(map.into_iter().map(|(k, v)| {
            let value = match v {
                Value::String(text) => PropertyValue::String(self.value(&text)),
                other => PropertyValue::from(other),
            };
            (self.get(&k), value)
        }))
    }
}

/// Properties the fast reader takes in one event.
const FAST_PROPERTIES_MAX: usize = 16;

/// A position in one line.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// JSON's spaces but the line feed: a line feed ends the line, inside an object too.
    #[inline]
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\r') = self.text.as_bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after any space, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        match self.text.as_bytes().get(self.at) {
            // The usual line has no space between tokens.
            Some(b' ' | b'\t' | b'\r') => {
                self.skip_space();
                self.text.as_bytes().get(self.at).copied()
            }
            next => next.copied(),
        }
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// An event key and its colon, as its index in [`EVENT_KEYS`]: first compared with the key
    /// that followed `previous` in the last line (`next_keys`, updated when another came).
    #[inline]
    fn event_key(&mut self, next_keys: &mut [u8; KEY_FIRST + 1], previous: usize) -> Option<usize> {
        let predicted = next_keys.get_mut(previous)?;
        let rest = self.text.as_bytes().get(self.at..)?;
        let guess = EVENT_KEYS.get(usize::from(*predicted))?;
        if rest
            .get(..guess.len())
            .is_some_and(|head| same_bytes(head, guess))
        {
            self.at += guess.len();
            return Some(usize::from(*predicted));
        }
        let key = self.known_key()?;
        self.expect(b':')?;
        *predicted = u8::try_from(key).ok()?;
        Some(key)
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// One of the six keys of an event, quotes included (not the colon), as its index in
    /// [`EVENT_KEYS`]; `None` for any other text (compared as bytes: a key written with escapes
    /// is left to serde).
    fn known_key(&mut self) -> Option<usize> {
        self.skip_space();
        let rest = self.text.as_bytes().get(self.at..)?;
        // The letter after the quote tells all but two keys apart.
        EVENT_KEYS
            .iter()
            .position(|key| {
                let quoted = key.get(..key.len() - 1).unwrap_or(key);
                rest.get(1) == quoted.get(1)
                    && rest
                        .get(..quoted.len())
                        .is_some_and(|head| same_bytes(head, quoted))
            })
            .inspect(|&index| {
                self.at += EVENT_KEYS.get(index).map_or(0, |key| key.len() - 1);
            })
    }

    /// A string without escapes or control characters, borrowed.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        self.string_rest()
    }

    /// [`Cursor::string`] after its opening quote.
    #[inline]
    fn string_rest(&mut self) -> Option<&'a str> {
        let start = self.at;
        let rest = self.text.as_bytes().get(start..)?;
        let length = string_end(rest)?;
        if rest.get(length) != Some(&b'"') {
            return None;
        }
        self.at = start + length + 1;
        self.text.get(start..start + length)
    }

    /// A property key, shared: the cached key when the text starts with it (one comparison),
    /// else read as a string.
    #[inline]
    fn key(&mut self, interner: &mut Interner) -> Option<Arc<str>> {
        self.skip_space();
        let rest = self.text.as_bytes().get(self.at..)?;
        if rest.first() == Some(&b'"') {
            if let Some((key, length)) = rest.get(1..).and_then(|r| interner.known_key(r)) {
                self.at += 1 + length;
                return Some(key);
            }
        }
        self.string().map(|text| interner.key(text))
    }

    /// A number without exponent (`-?(0|[1-9][0-9]*)(\.[0-9]+)?`), by its text: serde keeps
    /// exactly that text (it rewrites exponents, hence left to it).
    fn number(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut at = start;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        let digits = |from: usize| {
            bytes.get(from..).map_or(0, |rest| {
                rest.iter().take_while(|b| b.is_ascii_digit()).count()
            })
        };
        let whole = digits(at);
        if whole == 0 || (whole > 1 && bytes.get(at) == Some(&b'0')) {
            return None;
        }
        at += whole;
        if bytes.get(at) == Some(&b'.') {
            let fraction = digits(at + 1);
            if fraction == 0 {
                return None;
            }
            at += 1 + fraction;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            return None;
        }
        self.at = at;
        self.text.get(start..at)
    }

    /// A top-level field's value: a string, a number or null.
    #[inline]
    fn scalar(&mut self) -> Option<Raw<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string_rest()
                    .map(|text| Raw::Text(Cow::Borrowed(text)))
            }
            b'-' | b'0'..=b'9' => self.number().map(|text| Raw::Number(Cow::Borrowed(text))),
            b'n' => self.literal("null").map(|()| Raw::Null),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let found = self.text.get(self.at..)?.starts_with(word);
        if found {
            self.at += word.len();
        }
        found.then_some(())
    }

    /// `properties`: null, or a flat object of at most [`FAST_PROPERTIES_MAX`] keys, as serde
    /// reads it.
    fn properties(&mut self, interner: &mut Interner) -> Option<RawProperties<'a>> {
        if self.peek()? == b'n' {
            return self.literal("null").map(|()| RawProperties::Null);
        }
        self.expect(b'{')?;
        interner.pairs.clear();
        if !self.eat(b'}') {
            loop {
                let key = self.key(interner)?;
                self.expect(b':')?;
                let value = match self.peek()? {
                    b'"' => {
                        self.at += 1;
                        PropertyValue::String(interner.value(self.string_rest()?))
                    }
                    b'-' | b'0'..=b'9' => integer(self.number()?)?,
                    b't' => self.literal("true").map(|()| PropertyValue::Bool(true))?,
                    b'f' => self.literal("false").map(|()| PropertyValue::Bool(false))?,
                    b'n' => self.literal("null").map(|()| PropertyValue::Null)?,
                    _ => return None,
                };
                // A repeated key (serde keeps the last value at the first position) and many keys
                // (the search for repeats grows with their square) are left to serde.
                let pairs = &interner.pairs;
                if pairs.len() >= FAST_PROPERTIES_MAX
                    || pairs.iter().any(|(k, _)| same_text(k, &key))
                {
                    return None;
                }
                interner.pairs.push((key, value));
                if !self.eat(b',') {
                    self.expect(b'}')?;
                    break;
                }
            }
        }
        Some(RawProperties::Scratch)
    }
}

/// The position of the first `"`, `\\` or control character, eight bytes per step (the usual
/// string has none of them until its end).
#[inline]
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each zero byte of `word`. Bits above the lowest one may be false (a borrow
    // runs up), the lowest is exact: it marks the first zero byte.
    let zeros = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut at = 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        // A byte below 0x20 has no bit among 0xe0; the others are equal to the byte looked for.
        let stops = zeros(word & (HIGHS | (HIGHS >> 1) | (HIGHS >> 2)))
            | zeros(word ^ (ONES * u64::from(b'"')))
            | zeros(word ^ (ONES * u64::from(b'\\')));
        if stops != 0 {
            return Some(at + (stops.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|length| at + length)
}

/// An integer property as serde's `Value` holds it (its text: `u64`/`i64` print it back
/// unchanged); fractions, `-0` and integers past 64 bits are left to serde.
fn integer(text: &str) -> Option<PropertyValue> {
    if text.contains('.') || text == "-0" {
        return None;
    }
    let fits = if text.starts_with('-') {
        text.parse::<i64>().is_ok()
    } else {
        text.parse::<u64>().is_ok()
    };
    fits.then(|| PropertyValue::Number(Text::from(text)))
}

// --------------------------------------------------------------------------------------------
// Deserializing from text: straight into the raw shapes
// --------------------------------------------------------------------------------------------

/// Keys of an event object (and serde_json's number marker).
enum Field {
    TransactionId,
    ExternalSubscriptionId,
    Code,
    Timestamp,
    Properties,
    PreciseTotalAmountCents,
    NumberToken,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> std::result::Result<Field, E> {
        Ok(match key {
            "transaction_id" => Field::TransactionId,
            "external_subscription_id" => Field::ExternalSubscriptionId,
            "code" => Field::Code,
            "timestamp" => Field::Timestamp,
            "properties" => Field::Properties,
            "precise_total_amount_cents" => Field::PreciseTotalAmountCents,
            NUMBER_TOKEN => Field::NumberToken,
            _ => Field::Other,
        })
    }
}

/// Reads the rest of a map, ignoring it.
fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> std::result::Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> std::result::Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Text(Cow::Owned(text.to_string())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Text(Cow::Owned(text)))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Other)
    }

    // With `arbitrary_precision` serde_json's text parser sends numbers through `visit_map`;
    // these cover any other source exactly.
    fn visit_u64<E: de::Error>(self, number: u64) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Number(Cow::Owned(number.to_string())))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Number(Cow::Owned(number.to_string())))
    }

    fn visit_u128<E: de::Error>(self, number: u128) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Number(Cow::Owned(number.to_string())))
    }

    fn visit_i128<E: de::Error>(self, number: i128) -> std::result::Result<Raw<'de>, E> {
        Ok(Raw::Number(Cow::Owned(number.to_string())))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> std::result::Result<Raw<'de>, E> {
        Ok(serde_json::Number::from_f64(number)
            .map_or(Raw::Other, |n| Raw::Number(Cow::Owned(n.to_string()))))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Raw<'de>, A::Error> {
        drain_seq(seq)?;
        Ok(Raw::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Raw<'de>, A::Error> {
        match map.next_key::<Field>()? {
            Some(Field::NumberToken) => Ok(Raw::Number(Cow::Owned(map.next_value::<String>()?))),
            Some(_) => {
                map.next_value::<IgnoredAny>()?;
                drain_map(map)?;
                Ok(Raw::Other)
            }
            None => Ok(Raw::Other),
        }
    }
}

impl<'de> Deserialize<'de> for Item<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Item<'de>, A::Error> {
        let mut raw = RawEvent::default();
        let mut first = true;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                // A bare number, not an object.
                Field::NumberToken if first => {
                    map.next_value::<IgnoredAny>()?;
                    drain_map(map)?;
                    return Ok(Item::NotObject);
                }
                Field::TransactionId => raw.transaction_id = map.next_value()?,
                Field::ExternalSubscriptionId => raw.external_subscription_id = map.next_value()?,
                Field::Code => raw.code = map.next_value()?,
                Field::Timestamp => raw.timestamp = map.next_value()?,
                Field::Properties => {
                    raw.properties = RawProperties::from_owned(map.next_value::<Value>()?);
                }
                Field::PreciseTotalAmountCents => {
                    raw.precise_total_amount_cents = map.next_value()?;
                }
                Field::NumberToken | Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            first = false;
        }
        Ok(Item::Event(raw))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<Item<'de>, A::Error> {
        drain_seq(seq)?;
        Ok(Item::NotObject)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Item<'de>, E> {
        Ok(Item::NotObject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
    }

    /// The fast reader and serde give the same events or the same errors.
    fn same_both_ways(text: &str) {
        let fast = parse_bulk_with(text, now(), true, Duplicates::Refuse);
        let serde = parse_bulk_with(text, now(), false, Duplicates::Refuse);
        assert_eq!(format!("{fast:?}"), format!("{serde:?}"), "{text}");
    }

    const BASE: &str =
        r#""transaction_id":"t1","external_subscription_id":"s","code":"m","timestamp":1700000000"#;

    #[test]
    fn the_interner_gives_each_text_back_shared() {
        let mut interner = Interner::default();
        let texts = [
            "region",
            "amount",
            "",
            "a",
            "b",
            "ab",
            "ba",
            "sub_acme_pro_2025",
            "regiom",
        ];
        let first: Vec<Arc<str>> = texts.iter().map(|t| interner.get(t)).collect();
        for _ in 0..2 {
            for (text, shared) in texts.iter().zip(&first) {
                let again = interner.get(text);
                assert_eq!(&*again, *text);
                assert!(Arc::ptr_eq(&again, shared), "{text}");
            }
        }
    }

    #[test]
    fn repeated_values_are_shared() {
        let mut interner = Interner::default();
        let model = "claude-sonnet-4-5-20250929";
        let shared = interner.value(model);
        let amount = interner.value("490.86");
        assert!(shared.is_shared_with(&interner.value(model)));
        assert_eq!(&*interner.value("us"), "us");
        assert_eq!(&*interner.value("490.87"), "490.87");
        assert_eq!(&*amount, "490.86");
        assert_eq!(&*shared, model);
        // Short values are inline, never shared.
        assert!(!amount.is_shared_with(&amount));
    }

    #[test]
    fn fast_reader_takes_the_usual_line() {
        let line = format!(r#"{{{BASE},"properties":{{"a":"1.5","n":7,"b":true,"z":null}}}}"#);
        assert!(fast_event(&line, &mut Interner::default()).is_some());
        same_both_ways(&line);
    }

    #[test]
    fn fast_reader_reads_keys_in_any_order_line_after_line() {
        // Each line breaks the key order the one before taught the reader, or adds spaces.
        let lines = [
            r#"{"transaction_id":"a","external_subscription_id":"s","code":"m","timestamp":1}"#,
            r#"{"transaction_id":"b","external_subscription_id":"s","code":"m","timestamp":2}"#,
            r#"{"code":"m","timestamp":3,"transaction_id":"c","external_subscription_id":"s"}"#,
            r#"{"code":"m","transaction_id":"d","timestamp":4}"#,
            r#"{ "code" : "m" , "transaction_id" :"e","timestamp": 5 }"#,
            r#"{"timestamp":6,"properties":{"k":1},"code":"m","transaction_id":"f"}"#,
            r#"{"transaction_id":"g","precise_total_amount_cents":"1","code":"m"}"#,
            r#"{"transaction_id":"h","code":"m","codes":"n"}"#,
            r#"{"transaction_id":"i","cod":"m"}"#,
        ];
        let mut interner = Interner::default();
        let read: Vec<bool> = lines
            .iter()
            .map(|line| fast_event(line, &mut interner).is_some())
            .collect();
        // The unknown keys are serde's to read.
        assert_eq!(
            read,
            [true, true, true, true, true, true, true, false, false]
        );
        same_both_ways(&lines.join("\n"));
    }

    #[test]
    fn fast_reader_agrees_with_serde_on_tricky_lines() {
        let lines = [
            // Escapes and unicode, in ids, keys and values.
            r#"{"transaction_id":"t\"1","code":"m","timestamp":1}"#.to_string(),
            r#"{"transaction_id":"t\u0031","code":"m","timestamp":1}"#.to_string(),
            r#"{"transaction\u005fid":"t","code":"m","timestamp":1}"#.to_string(),
            r#"{"transaction_idx":"t","code":"m","timestamp":1}"#.to_string(),
            r#"{"code":"m","codes":"n","transaction_id":"t"}"#.to_string(),
            r#"{"transaction_id":"été ✓ 𝄞","code":"m","timestamp":1,"properties":{"é":"ü"}}"#
                .to_string(),
            format!(r#"{{{BASE},"properties":{{"k\n":"v"}}}}"#),
            format!(r#"{{{BASE},"properties":{{"k":"a\\b"}}}}"#),
            // Numbers: exponents, fractions, signs, leading zeros, big, negative zero.
            r#"{"transaction_id":"t","code":"m","timestamp":1.7e9}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":1.7E+9}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":1700000000.1234565}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":-0}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":-12.5}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":0123}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":1.}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":-}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":"1700000000.5"}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":99999999999999999999999}"#.to_string(),
            r#"{"transaction_id":12,"code":34.5,"timestamp":1}"#.to_string(),
            format!(r#"{{{BASE},"properties":{{"n":1e3,"f":1.50,"z":-0,"neg":-5}}}}"#),
            format!(
                r#"{{{BASE},"properties":{{"big":18446744073709551616,"m":-9223372036854775809}}}}"#
            ),
            format!(
                r#"{{{BASE},"properties":{{"max":18446744073709551615,"min":-9223372036854775808}}}}"#
            ),
            format!(r#"{{{BASE},"precise_total_amount_cents":"12.5"}}"#),
            format!(r#"{{{BASE},"precise_total_amount_cents":12.5}}"#),
            format!(r#"{{{BASE},"precise_total_amount_cents":"abc"}}"#),
            format!(r#"{{{BASE},"precise_total_amount_cents":" "}}"#),
            format!(r#"{{{BASE},"precise_total_amount_cents":null}}"#),
            // Duplicate keys, top level and in properties.
            r#"{"transaction_id":"a","transaction_id":"b","code":"m","timestamp":1}"#.to_string(),
            format!(r#"{{{BASE},"properties":{{"k":"1","j":2,"k":"3"}}}}"#),
            format!(r#"{{{BASE},"properties":{{}},"properties":{{"k":"1"}}}}"#),
            // Nested and odd properties.
            format!(r#"{{{BASE},"properties":{{"o":{{"a":[1,2]}},"l":[]}}}}"#),
            format!(r#"{{{BASE},"properties":[]}}"#),
            format!(r#"{{{BASE},"properties":"x"}}"#),
            format!(r#"{{{BASE},"properties":null}}"#),
            format!(r#"{{{BASE},"properties":{{}}}}"#),
            format!(r#"{{{BASE},"properties":{{"t":tru}}}}"#),
            // Missing, null, blank and odd fields; unknown keys; spaces.
            r#"{"code":"m"}"#.to_string(),
            r#"{}"#.to_string(),
            r#"{ }"#.to_string(),
            r#"{"transaction_id":null,"code":"","timestamp":null}"#.to_string(),
            r#"{"transaction_id":" ","code":"m","external_subscription_id":null}"#.to_string(),
            r#"{"transaction_id":true,"code":[],"external_subscription_id":{}}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","extra":{"x":1},"timestamp":2}"#.to_string(),
            "{ \"transaction_id\" :\t\"t\" , \"code\":\"m\" ,\r\"timestamp\": 5 }".to_string(),
            // Not an object, not JSON, trailing text.
            "[1]".to_string(),
            "5".to_string(),
            "\"x\"".to_string(),
            "{".to_string(),
            r#"{"transaction_id":"t","code":"m"}}"#.to_string(),
            r#"{"transaction_id":"t","code":"m"} x"#.to_string(),
            r#"{"transaction_id":"t","code":"m",}"#.to_string(),
            r#"{"transaction_id":"t" "code":"m"}"#.to_string(),
            r#"{"transaction_id":"t","code":"m","timestamp":1x}"#.to_string(),
            "{\"transaction_id\":\"t\u{1}\",\"code\":\"m\"}".to_string(),
        ];
        for line in &lines {
            same_both_ways(line);
        }
        // Together: in-text duplicates, errors by index.
        same_both_ways(&lines.join("\n"));
        let usual = format!("{{{BASE}}}\n{{{BASE}}}\n");
        same_both_ways(&usual);
    }

    /// Keys cached by one line and read by the next (see `Interner::known_key`): a cached key
    /// must match only the whole string, never a longer key, an escaped one or a shorter one.
    #[test]
    fn cached_property_keys_read_as_serde_reads_them() {
        let line = |n: usize, properties: &str| {
            format!(
                r#"{{"transaction_id":"t{n}","code":"m","timestamp":1,"properties":{properties}}}"#
            )
        };
        let properties = [
            r#"{"region":"eu","mb":"1"}"#,
            r#"{"region":"us","mb":"2"}"#,
            r#"{"regionx":"eu"}"#,
            r#"{"regionx:"eu"}"#,
            r#"{"regionx":"eu"}"#,
            r#"{"region"":"eu"}"#,
            r#"{"regio":"eu","region":"x"}"#,
            r#"{"region":"a","region":"b"}"#,
            r#"{"":"empty","":"again"}"#,
            r#"{"":"empty"}"#,
            r#"{"channel":"sms","mb":"3"}"#,
            r#"{"mb":"4","channel":"push"}"#,
            r#"{ "region" : "eu" , "mb":"5"}"#,
            r#"{"region"}"#,
            r#"{"region":"eu","region"#,
        ];
        let text: Vec<String> = properties
            .iter()
            .enumerate()
            .map(|(n, p)| line(n, p))
            .collect();
        same_both_ways(&text.join("\n"));
        for (n, p) in properties.iter().enumerate() {
            // After a line that cached the usual keys.
            same_both_ways(&format!("{}\n{}", line(100, properties[0]), line(n, p)));
        }
    }

    #[test]
    fn fast_reader_agrees_with_serde_on_line_ends() {
        let line = |n: usize| {
            format!(
                r#"{{"transaction_id":"t{n}","code":"m","timestamp":1,"properties":{{"a":"x"}}}}"#
            )
        };
        let texts = [
            format!("{}\n{}", line(1), line(2)),
            format!("{}\r\n{}\r\n", line(1), line(2)),
            format!("\n\n  {}  \n\t\n{} \x0c\n\n", line(1), line(2)),
            format!("\x0c{}\n{}\x0c", line(1), line(2)),
            format!("{}\r{}\n", line(1), line(2)),
            format!("{} x\n{}\n", line(1), line(2)),
            format!("{}{}\n", line(1), line(2)),
            format!("{}\n{}\n", line(1), line(1)),
            r#"{"transaction_id":"t","code":"m",
"timestamp":1}"#
                .to_string(),
            "{\"transaction_id\":\"t\",\n\"code\":\"m\"}\n{\"code\":\"m\",\"transaction_id\":\"u\"}"
                .to_string(),
            "{\"transaction_id\":\"t\n\",\"code\":\"m\"}".to_string(),
            format!("{}\n   \n\r\n", line(1)),
        ];
        for text in &texts {
            same_both_ways(text);
        }
    }

    fn fragment() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "{",
            "}",
            "\"",
            ":",
            ",",
            " ",
            "\\",
            "\\\"",
            "\\u00e9",
            "é",
            "-",
            "0",
            "1",
            "9",
            ".",
            "e",
            "E+",
            "null",
            "true",
            "false",
            "[",
            "]",
            "transaction_id",
            "code",
            "timestamp",
            "properties",
            "external_subscription_id",
            "precise_total_amount_cents",
            "\"k\"",
            "\"v\"",
            "12.50",
            "1700000000",
            "\"t\":",
            "{\"k\":1}",
        ])
        .prop_map(str::to_string)
    }

    /// Lines near the usual shape, with random pieces spliced in.
    fn near_usual_line() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(fragment(), 0..6),
            0_usize..200,
            prop::collection::vec(fragment(), 0..12),
        )
            .prop_map(|(inserted, at, alone)| {
                let mut line = format!(
                    r#"{{{BASE},"properties":{{"amount":"490.86","n":42,"region":"us"}}}}"#
                );
                let mut at = at.min(line.len());
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.insert_str(at, &inserted.concat());
                if at % 3 == 0 {
                    line = alone.concat();
                }
                line
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]
        #[test]
        fn fast_reader_agrees_with_serde(line in near_usual_line()) {
            same_both_ways(&line);
        }

        #[test]
        fn fast_reader_agrees_with_serde_on_texts(
            lines in prop::collection::vec(near_usual_line(), 1..5),
            ends in prop::collection::vec(
                prop::sample::select(vec!["\n", "\r\n", "\n\n", " \n", "\n\x0c", "\n \t", "\r", ""]),
                5,
            ),
        ) {
            let text: String = lines.iter().zip(&ends).map(|(l, e)| format!("{l}{e}")).collect();
            same_both_ways(&text);
        }

        #[test]
        fn a_days_date_read_again_gives_chronos_instant(
            // From before year 0 to past 9999, and runs of nearby seconds across midnights.
            starts in prop::collection::vec(-70_000_000_000_i64..260_000_000_000, 1..4),
            steps in prop::collection::vec(-90_000_i64..90_000, 0..20),
        ) {
            let mut day = None;
            for start in starts {
                let mut seconds = start;
                for step in std::iter::once(0).chain(steps.iter().copied()) {
                    seconds += step;
                    prop_assert_eq!(
                        instant_of_day(seconds, &mut day),
                        DateTime::from_timestamp(seconds, 0)
                    );
                }
            }
        }

        #[test]
        fn string_end_finds_the_first_stop(bytes in prop::collection::vec(
            prop::sample::select(vec![b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'a', b'"', b'\\', 0x1f, 0x20, 0x7f, 0x80, 0xe2, 0x00]),
            0..40,
        )) {
            let naive = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(string_end(&bytes), naive);
        }
    }
}
