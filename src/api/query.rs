//! Percent-decoding and query strings as Rails reads them: `a=1`, `list[]=x&list[]=y`,
//! `group[key]=value`, `+` as a space; a repeated plain key keeps its last value.

use serde_json::{Map, Value};

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None` for a broken escape
/// or text that is not UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The query string as a JSON object; `None` when an escape is broken.
pub fn parse(query: &str) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key, true)?;
        let value = Value::String(percent_decode(value, true)?);
        match key.split_once('[') {
            Some((name, rest)) if rest.ends_with(']') => {
                let inner = &rest[..rest.len() - 1];
                insert_nested(&mut out, name, inner, value);
            }
            _ => {
                out.insert(key, value);
            }
        }
    }
    Some(out)
}

/// `name[]=v` appends to a list; `name[key]=v` and `name[key][]=v` fill an object.
fn insert_nested(out: &mut Map<String, Value>, name: &str, inner: &str, value: Value) {
    if inner.is_empty() {
        return push(out, name, value);
    }
    let slot = out
        .entry(name.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let Value::Object(object) = slot else {
        return;
    };
    match inner.split_once("][") {
        Some((key, "")) => push(object, key, value),
        _ => {
            object.insert(inner.to_string(), value);
        }
    }
}

/// Appends to the list under `key` (a plain value there is replaced by the list, as Rails does).
fn push(map: &mut Map<String, Value>, key: &str, value: Value) {
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(items) = slot {
        items.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_rails_style_queries() {
        let query =
            parse("a=1&a=2&list%5B%5D=x&list[]=y&group[cloud]=aws&g[k][]=1&g[k][]=2&s=a+b%2Fc")
                .unwrap_or_default();
        assert_eq!(
            Value::Object(query),
            json!({"a": "2", "list": ["x", "y"], "group": {"cloud": "aws"}, "g": {"k": ["1", "2"]}, "s": "a b/c"})
        );
    }

    #[test]
    fn refuses_broken_escapes() {
        assert_eq!(percent_decode("%4", false), None);
        assert_eq!(percent_decode("%zz", false), None);
        assert_eq!(percent_decode("%ff", false), None);
        assert_eq!(percent_decode("a%2Fb+c", false).as_deref(), Some("a/b+c"));
    }
}
