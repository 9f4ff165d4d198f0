//! How Lago reads an event property: Postgres `properties->>'key'` on a `jsonb` column.
//!
//! Every aggregation, filter and group compares the **text** Postgres returns, so this module
//! reproduces it exactly:
//!
//! * strings as they are; `true` / `false`; JSON `null` or a missing key give SQL `NULL` (`None`);
//! * numbers as `jsonb` stores them (Postgres `numeric`): `1e3` → `1000`, `1.50` → `1.50`,
//!   `1.5E+1` → `15`, `-0` → `0`;
//! * arrays and objects as `jsonb` prints them: `{"a": 1, "b": [1, 2]}` (keys ordered by length,
//!   then bytes; `", "` and `": "` separators).
//!
//! `crate::domain::event::Event::property_text` is close but keeps a number's original text and
//! gives `None` for arrays and objects; aggregations use this module instead.
//!
//! The numeric check of sum, max, latest and weighted sum is the regular expression
//! `^-?\d+(\.\d+)?$` on that text ([`is_numeric_text`]).

use crate::domain::event::{PropertyLookup, PropertyRef, PropertyValue};
use crate::error::{Error, Result};
use rust_decimal::Decimal;
use serde_json::Value;
use std::borrow::Cow;
use std::str::FromStr;

/// Largest exponent magnitude rewritten into plain digits. Past it the original text is kept: such
/// numbers overflow `Decimal` anyway, and rewriting `1e999999` would turn 9 bytes into a megabyte.
const EXPONENT_REWRITE_MAX: i64 = 1_000;

/// `properties->>'key'`: the text of one property, `None` for SQL `NULL`.
pub fn property_text<P: PropertyLookup + ?Sized>(properties: &P, key: &str) -> Option<String> {
    property_str(properties, key).map(Cow::into_owned)
}

/// [`property_text`] borrowed when the value is a string (the usual case: no copy per event).
pub fn property_str<'a, P: PropertyLookup + ?Sized>(
    properties: &'a P,
    key: &str,
) -> Option<Cow<'a, str>> {
    value_text(properties.property(key)?)
}

/// [`property_str`]'s text as bytes: what a comparison or a hash needs. An event's string is read
/// without the UTF-8 check that reading its short inline text as `str` costs (~80 instructions).
pub fn property_bytes<'a, P: PropertyLookup + ?Sized>(
    properties: &'a P,
    key: &str,
) -> Option<Cow<'a, [u8]>> {
    value_bytes(properties.property(key)?)
}

/// [`property_bytes`] of a value found.
fn value_bytes(value: PropertyRef<'_>) -> Option<Cow<'_, [u8]>> {
    match value {
        PropertyRef::Compact(PropertyValue::String(text)) => Some(Cow::Borrowed(text.as_bytes())),
        value => value_text(value).map(|text| match text {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        }),
    }
}

/// `->>` applied to one property's value.
fn value_text(value: PropertyRef<'_>) -> Option<Cow<'_, str>> {
    match value {
        PropertyRef::Json(Value::String(text)) => Some(Cow::Borrowed(text)),
        PropertyRef::Json(value) => json_text(value).map(Cow::Owned),
        PropertyRef::Compact(value) => match value {
            PropertyValue::Null => None,
            PropertyValue::String(text) => Some(Cow::Borrowed(text)),
            PropertyValue::Bool(flag) => Some(Cow::Borrowed(if *flag { "true" } else { "false" })),
            PropertyValue::Number(number) => Some(numeric_text_borrowed(number.as_str())),
            PropertyValue::Other(value) => json_text(value).map(Cow::Owned),
        },
    }
}

/// `->>` applied to one JSON value.
pub fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(numeric_text(number.as_str())),
        Value::Array(_) | Value::Object(_) => {
            let mut out = String::new();
            jsonb_text(value, &mut out);
            Some(out)
        }
    }
}

/// True when Lago's numeric check `^-?\d+(\.\d+)?$` accepts the text.
pub fn is_numeric_text(text: &str) -> bool {
    let (_, whole, fraction) = number_parts(text);
    digits(whole) && fraction.is_none_or(digits)
}

/// The value of a text that passed [`is_numeric_text`], as `(text)::numeric`, keeping its scale
/// (`"4.50"` has scale 2, as Postgres' `dscale`). Too many digits for `Decimal` is an error on
/// `field`, never a wrong number.
pub fn parse_numeric(text: &str, field: &str) -> Result<Decimal> {
    if let Some(value) = small_numeric(text.as_bytes()) {
        return Ok(value);
    }
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| Error::overflow().in_field(field))
}

/// `-?\d+(\.\d+)?` with at most 18 digits and not a negative zero: the mantissa and scale
/// `Decimal::from_str` gives, read in one pass over the bytes (its general path costs ~10× more
/// per event, and a split of the text ~3×).
fn small_numeric(text: &[u8]) -> Option<Decimal> {
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut mantissa: i64 = 0;
    let mut digits = 0_u32;
    // Digits after the point, once there is one.
    let mut scale: Option<u32> = None;
    for &byte in body {
        if byte == b'.' {
            if scale.is_some() || digits == 0 {
                return None;
            }
            scale = Some(0);
            continue;
        }
        if !byte.is_ascii_digit() || digits == 18 {
            return None;
        }
        digits += 1;
        mantissa = mantissa * 10 + i64::from(byte - b'0');
        if let Some(scale) = scale.as_mut() {
            *scale += 1;
        }
    }
    if digits == 0 || scale == Some(0) || (negative && mantissa == 0) {
        return None;
    }
    Decimal::try_new(
        if negative { -mantissa } else { mantissa },
        scale.unwrap_or(0),
    )
    .ok()
}

/// The text of a property value when it is numeric, as sum/max/latest/weighted sum select it.
pub fn numeric_value<P: PropertyLookup + ?Sized>(
    properties: &P,
    key: &str,
) -> Result<Option<Decimal>> {
    let Some(value) = properties.property(key) else {
        return Ok(None);
    };
    // An event's JSON number read straight from its text: one that `small_numeric` reads has no
    // exponent, and Postgres prints it with the same digits and scale. Its text as `->>` gives
    // it (below) costs a UTF-8 check and a second pass.
    if let PropertyRef::Compact(PropertyValue::Number(number)) = value {
        if let Some(value) = small_numeric(number.as_bytes()) {
            return Ok(Some(value));
        }
    }
    let Some(text) = value_bytes(value) else {
        return Ok(None);
    };
    // The usual value, read from the bytes; else as text (long numbers, or not numeric).
    if let Some(value) = small_numeric(&text) {
        return Ok(Some(value));
    }
    match std::str::from_utf8(&text) {
        Ok(text) if is_numeric_text(text) => parse_numeric(text, key).map(Some),
        _ => Ok(None),
    }
}

/// A JSON number's text as Postgres `numeric` prints it (`numeric_in` then `numeric_out`).
pub fn numeric_text(raw: &str) -> String {
    if is_plain_number(raw) {
        return raw.to_string();
    }
    numeric_text_general(raw)
}

/// [`numeric_text`], borrowed when Postgres prints the number back unchanged (the usual case:
/// no copy per event read).
fn numeric_text_borrowed(raw: &str) -> Cow<'_, str> {
    if is_plain_number(raw) {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(numeric_text_general(raw))
    }
}

/// `-?(0|[1-9]\d*)(\.\d+)?`, not a negative zero: Postgres prints it back unchanged (the usual
/// JSON number of an event, read without the general rewrite's allocations).
fn is_plain_number(raw: &str) -> bool {
    let (negative, whole, fraction) = number_parts(raw);
    digits(whole)
        && (whole.len() == 1 || whole.first() != Some(&b'0'))
        && fraction.is_none_or(digits)
        && !(negative
            && whole
                .iter()
                .chain(fraction.unwrap_or_default())
                .all(|&b| b == b'0'))
}

/// A number's text cut into its sign, whole part and fraction (`None` without a dot). On bytes:
/// `str::strip_prefix('-')` compiled to a `memcmp` call in WASM.
fn number_parts(text: &str) -> (bool, &[u8], Option<&[u8]>) {
    let (negative, body) = match text.as_bytes().split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text.as_bytes()),
    };
    let mut parts = body.splitn(2, |&b| b == b'.');
    let whole = parts.next().unwrap_or_default();
    (negative, whole, parts.next())
}

/// One or more ASCII digits.
fn digits(text: &[u8]) -> bool {
    !text.is_empty() && text.iter().all(u8::is_ascii_digit)
}

/// [`numeric_text`] for any text.
fn numeric_text_general(raw: &str) -> String {
    let (negative, unsigned) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], &unsigned[at + 1..]),
        None => (unsigned, "0"),
    };
    let Ok(exponent) = exponent.parse::<i64>() else {
        return raw.to_string();
    };
    if exponent.abs() > EXPONENT_REWRITE_MAX {
        return raw.to_string();
    }
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !(int_part.bytes().all(|b| b.is_ascii_digit())
        && frac_part.bytes().all(|b| b.is_ascii_digit()))
    {
        return raw.to_string();
    }
    let (Ok(int_len), Ok(frac_len)) = (
        i64::try_from(int_part.len()),
        i64::try_from(frac_part.len()),
    ) else {
        return raw.to_string();
    };
    let digits = format!("{int_part}{frac_part}");
    // Position of the decimal point in `digits`, and the digits kept after it (Postgres' dscale).
    let point = int_len + exponent;
    let dscale = (frac_len - exponent).max(0);
    let (whole, fraction) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        (String::new(), format!("{zeros}{digits}"))
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        if point >= digits.len() {
            (
                format!("{digits}{}", "0".repeat(point - digits.len())),
                String::new(),
            )
        } else {
            (digits[..point].to_string(), digits[point..].to_string())
        }
    };
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let mut fraction = fraction;
    fraction.truncate(usize::try_from(dscale).unwrap_or(0));
    let is_zero = whole == "0" && fraction.bytes().all(|b| b == b'0');
    let sign = if negative && !is_zero { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    }
}

/// Appends `value` as Postgres prints a `jsonb` value.
fn jsonb_text(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&numeric_text(&number.to_string())),
        Value::String(text) => escape_json(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                jsonb_text(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // jsonb keeps object keys sorted by length, then bytewise.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            crate::sort::sort_by(&mut entries, |(a, _), (b, _)| {
                a.len().cmp(&b.len()).then_with(|| a.cmp(b))
            });
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                escape_json(key, out);
                out.push_str(": ");
                jsonb_text(item, out);
            }
            out.push('}');
        }
    }
}

/// Postgres' `escape_json`: quotes, backslashes and control characters escaped.
fn escape_json(text: &str, out: &mut String) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// The one-pass reader gives `Decimal::from_str`'s exact value (mantissa, scale, sign).
        #[test]
        fn small_numbers_read_as_from_str_reads_them(text in "-?[0-9]{1,20}(\\.[0-9]{1,20})?") {
            let small = small_numeric(text.as_bytes());
            if let Some(small) = small {
                let general = Decimal::from_str(&text).ok();
                prop_assert_eq!(Some(small.serialize()), general.map(|d| d.serialize()));
            }
            prop_assert_eq!(
                parse_numeric(&text, "f").ok().map(|d| d.serialize()),
                Decimal::from_str(&text)
                    .or_else(|_| Decimal::from_scientific(&text))
                    .ok()
                    .map(|d| d.serialize())
            );
        }
    }

    proptest! {
        /// The one-pass reader takes only what Lago's numeric check accepts, with
        /// `parse_numeric`'s value.
        #[test]
        fn small_numbers_only_from_numeric_text(text in "[-0-9.e+ ]{0,24}") {
            if let Some(small) = small_numeric(text.as_bytes()) {
                prop_assert!(is_numeric_text(&text));
                let parsed = parse_numeric(&text, "f").ok().map(|d| d.serialize());
                prop_assert_eq!(Some(small.serialize()), parsed);
            }
        }
    }

    proptest! {
        /// An event's JSON number gives the value of the text `->>` gives for it (what the
        /// direct read of its digits skips), with the same scale, or the same error.
        #[test]
        fn json_numbers_read_as_their_text(
            text in "-?(0|[1-9][0-9]{0,21})(\\.[0-9]{1,21})?([eE][-+]?[0-9]{1,2})?"
        ) {
            let number: serde_json::Map<String, Value> =
                serde_json::from_str(&format!("{{\"f\": {text}}}")).unwrap();
            let as_text: serde_json::Map<String, Value> =
                [("f".to_string(), Value::String(numeric_text(&text)))].into_iter().collect();
            let read = |map: serde_json::Map<String, Value>| {
                let properties = crate::domain::event::Properties::from(map);
                format!("{:?}", numeric_value(&properties, "f").map(|v| v.map(|d| d.serialize())))
            };
            prop_assert_eq!(read(number), read(as_text));
        }
    }

    proptest! {
        /// Plain numbers print back as the general rewrite prints them.
        #[test]
        fn plain_numbers_print_unchanged(text in "-?[0-9]{1,6}(\\.[0-9]{1,6})?") {
            prop_assert_eq!(numeric_text(&text), numeric_text_general(&text));
        }
    }

    #[test]
    fn small_numbers_cover_the_usual_values() {
        for text in [
            "0",
            "490.86",
            "-2",
            "7.50",
            "000123",
            "999999999999999999",
            "1.00000000000000001",
        ] {
            assert_eq!(
                small_numeric(text.as_bytes()).map(|d| d.serialize()),
                Decimal::from_str(text).ok().map(|d| d.serialize()),
                "{text}"
            );
        }
        for text in [
            "-0",
            "-0.00",
            "1.",
            ".5",
            "1e3",
            "",
            "-",
            "1234567890123456789",
            "1.2.3",
            "--1",
            "1-2",
            "-.5",
            "1 ",
        ] {
            assert_eq!(small_numeric(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn it_prints_numbers_as_postgres_numeric_does() {
        assert_eq!(numeric_text("1e3"), "1000");
        assert_eq!(numeric_text("1.50"), "1.50");
        assert_eq!(numeric_text("1.5E+1"), "15");
        assert_eq!(numeric_text("1.50e1"), "15.0");
        assert_eq!(numeric_text("1e-2"), "0.01");
        assert_eq!(numeric_text("-0"), "0");
        assert_eq!(numeric_text("-0.0"), "0.0");
        assert_eq!(numeric_text("-12"), "-12");
        assert_eq!(numeric_text("0.000"), "0.000");
        assert_eq!(numeric_text("1e99999"), "1e99999");
    }

    #[test]
    fn it_reads_properties_like_the_arrow_operator() {
        let props =
            json!({"s": "12", "n": 12, "b": true, "z": null, "o": {"bb": [1, "x"], "a": 1}});
        let props = props.as_object().unwrap();
        assert_eq!(property_text(props, "s").as_deref(), Some("12"));
        assert_eq!(property_text(props, "n").as_deref(), Some("12"));
        assert_eq!(property_text(props, "b").as_deref(), Some("true"));
        assert_eq!(property_text(props, "z"), None);
        assert_eq!(property_text(props, "missing"), None);
        // Bytes and text agree, in a JSON object and in an event's properties.
        let numbers: Value = serde_json::from_str(r#"{"e": 1.5E+1, "f": 1.50, "g": -0}"#).unwrap();
        let numbers = numbers.as_object().unwrap();
        let mut both = props.clone();
        both.extend(numbers.clone());
        let props = &both;
        let event_props = crate::domain::event::Properties::from(props.clone());
        for key in ["s", "n", "b", "z", "o", "e", "f", "g", "missing"] {
            let text = property_text(props, key);
            let bytes = |b: Option<Cow<[u8]>>| b.map(|b| b.into_owned());
            assert_eq!(
                bytes(property_bytes(props, key)),
                text.clone().map(String::into_bytes)
            );
            assert_eq!(
                bytes(property_bytes(&event_props, key)),
                text.map(String::into_bytes)
            );
        }
        assert_eq!(
            property_text(props, "o").as_deref(),
            Some(r#"{"a": 1, "bb": [1, "x"]}"#)
        );
    }

    #[test]
    fn it_applies_lagos_numeric_check() {
        for ok in ["12", "-3.5", "0", "007", "1.50"] {
            assert!(is_numeric_text(ok), "{ok}");
        }
        for bad in [
            "1e3", "+5", ".5", "5.", " 5", "true", "", "-", "1.2.3", "foo",
        ] {
            assert!(!is_numeric_text(bad), "{bad}");
        }
    }
}
