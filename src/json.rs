//! Building `serde_json::Value`s without the `json!` macro.
//!
//! `json!({..})` expands, for every key, to its own key allocation, a `to_value(..).unwrap()`
//! (with its panic path) and an inlined map insert: ~190 bytes of WASM per key. [`object!`] does
//! the inserts in one shared function and the values are made with `Value::from` or the helpers
//! below, so each key costs little more than its value (`subscription_json`: 8.8 KB -> 3.8 KB).

use serde_json::{Map, Value};

/// `object!{"key": value, ...}`: a JSON object with these keys in this order, written like `json!`
/// but built by one shared function (a repeated key keeps its first place and its last value, as
/// with `json!`). The values are `Value`s: `Value::from(..)` or the helpers below. A key is a
/// literal or, as in `json!`, one token naming a `&str` (an identifier or a parenthesised expression).
macro_rules! object {
    ($($key:tt: $value:expr),* $(,)?) => {
        serde_json::Value::Object($crate::json::fields! { $($key: $value),* })
    };
}
pub(crate) use object;

/// [`object!`]'s map, for objects built in parts.
macro_rules! fields {
    ($($key:tt: $value:expr),* $(,)?) => {
        $crate::json::map_of(&mut [$(($key, $value)),*])
    };
}
pub(crate) use fields;

/// The body of [`fields!`]: takes the values out of `entries`, leaving nulls.
#[inline(never)]
pub fn map_of(entries: &mut [(&str, Value)]) -> Map<String, Value> {
    let mut map = Map::with_capacity(entries.len());
    for (key, value) in entries {
        map.insert((*key).to_owned(), std::mem::take(value));
    }
    map
}

/// A JSON string.
pub fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

/// A JSON string, or null.
pub fn text_or_null(value: Option<&str>) -> Value {
    value.map_or(Value::Null, text)
}

/// A JSON array of strings.
pub fn texts(values: &[String]) -> Value {
    Value::Array(values.iter().map(|v| text(v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_is_json_macro_object() {
        let built = object! {
            "b": Value::from(1),
            "a": text("x"),
            "n": Value::Null,
            "b": Value::from(true),
            "l": texts(&["p".to_string(), "q".to_string()]),
            "o": text_or_null(None),
        };
        let expected = json!({"b": 1, "a": "x", "n": null, "b": true, "l": ["p", "q"], "o": null});
        assert_eq!(built.to_string(), expected.to_string());
        assert_eq!(object! {}.to_string(), "{}");
    }
}
