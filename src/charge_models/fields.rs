//! Reading charge properties: lenient for computing (Lago computes with what it stored),
//! strict for validating (Lago's validators, with their error codes).

use crate::error::{Error, ErrorDetails, Result};
use crate::number::{decimal_from_json, is_json_integer, parse_decimal_str, NumError};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Charge properties as Lago receives them.
pub type Properties = Map<String, Value>;

/// A decimal property for computing: absent or null gives `default`; anything unreadable is a
/// 422 under `key` with `code` (Lago would crash on it).
pub fn decimal_or(props: &Properties, key: &str, default: Decimal, code: &str) -> Result<Decimal> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(value) => match decimal_from_json(value) {
            Ok(number) => Ok(number),
            Err(NumError::Invalid) => Err(Error::invalid(key, code)),
            Err(NumError::OutOfRange) => Err(Error::invalid(key, "value_is_out_of_range")),
        },
    }
}

/// An optional decimal property for computing (absent or null gives `None`).
pub fn optional_decimal(props: &Properties, key: &str, code: &str) -> Result<Option<Decimal>> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => decimal_or(props, key, Decimal::ZERO, code).map(Some),
    }
}

/// Lago's `DecimalAmountService#valid_amount?`: a JSON string holding a finite decimal ≥ 0
/// (> 0 when `positive`). Numbers, `""` and negatives are invalid.
pub fn valid_amount(value: Option<&Value>, positive: bool) -> bool {
    let Some(Value::String(text)) = value else {
        return false;
    };
    match parse_decimal_str(text) {
        Ok(number) if positive => number > Decimal::ZERO,
        Ok(number) => number >= Decimal::ZERO,
        Err(_) => false,
    }
}

/// A JSON integer (Ruby `Integer`), if `value` is one that fits.
pub fn json_integer(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    if !is_json_integer(value) {
        return None;
    }
    value.as_i64()
}

/// Checks `pricing_group_keys` (or the legacy `grouped_by` when it is absent) and
/// `presentation_group_keys`, the checks every charge model shares.
pub fn validate_group_keys(props: &Properties, errors: &mut ErrorDetails) {
    let key = if props.contains_key("pricing_group_keys") {
        "pricing_group_keys"
    } else {
        "grouped_by"
    };
    match props.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let all_named = items
                .iter()
                .all(|item| matches!(item, Value::String(s) if !s.is_empty()));
            if !all_named {
                errors.add(key, "invalid_type");
            }
        }
        Some(_) => errors.add(key, "invalid_type"),
    }
    validate_presentation_group_keys(props.get("presentation_group_keys"), errors);
}

fn validate_presentation_group_keys(value: Option<&Value>, errors: &mut ErrorDetails) {
    const KEY: &str = "presentation_group_keys";
    let items = match value {
        None | Some(Value::Null) => return,
        Some(Value::Array(items)) => items,
        Some(_) => return errors.add(KEY, "invalid_type"),
    };
    let well_formed = items.iter().all(|item| {
        let Value::Object(entry) = item else {
            return false;
        };
        let value_ok = matches!(entry.get("value"), Some(Value::String(s)) if !s.is_empty());
        let keys_ok = entry.keys().all(|k| k == "value" || k == "options");
        let options_ok = match entry.get("options") {
            None => true,
            Some(Value::Object(options)) => {
                options.len() == 1
                    && matches!(options.get("display_in_invoice"), Some(Value::Bool(_)))
            }
            Some(_) => false,
        };
        value_ok && keys_ok && options_ok
    });
    if !well_formed {
        return errors.add(KEY, "invalid_type");
    }
    if items.len() > crate::limits::PRESENTATION_GROUP_KEYS_MAX {
        errors.add(KEY, "too_many_keys");
    }
    let mut seen: Vec<&Value> = Vec::new();
    for item in items {
        let value = &item["value"];
        if seen.contains(&value) {
            errors.add(KEY, "value_is_duplicated");
        }
        seen.push(value);
    }
}

/// The group keys a charge prices by: `pricing_group_keys`, else the legacy `grouped_by`,
/// empty strings dropped (what Lago's `FilterProperties` does on save).
pub fn pricing_group_keys(props: &Properties) -> Vec<String> {
    let pick = |key: &str| match props.get(key) {
        Some(Value::Array(items)) if !items.is_empty() => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    pick("pricing_group_keys")
        .or_else(|| pick("grouped_by"))
        .unwrap_or_default()
}

/// The keys of `presentation_group_keys` (`[{"value": "region"}]`), informational breakdowns.
pub fn presentation_keys(props: &Properties) -> Vec<String> {
    match props.get("presentation_group_keys") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| item.get("value").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}
