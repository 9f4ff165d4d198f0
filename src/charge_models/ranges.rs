//! Tier lists shared by graduated, graduated_percentage and volume: parsing, Lago's bound
//! validation, and the adjacency test.

use super::fields::{decimal_or, valid_amount, Properties};
use crate::error::{Error, ErrorDetails, Result};
use crate::limits::RANGES_MAX;
use crate::number::decimal_from_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// One tier: `[from_value, to_value]` (to `None` = infinity) with its prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// Lower bound.
    pub from_value: Decimal,
    /// Upper bound; `None` on the last, open tier.
    pub to_value: Option<Decimal>,
    /// The bounds exactly as given, echoed into `amount_details`.
    pub from_json: Value,
    /// See `from_json`.
    pub to_json: Value,
    /// `per_unit_amount` (graduated, volume) or `rate` in percent (graduated_percentage).
    pub price: Decimal,
    /// Charged once when the tier is entered.
    pub flat_amount: Decimal,
}

/// Parses a tier list for computing. A missing or empty list is Lago's default: one tier
/// `0–∞` at 0. `price_key` is `per_unit_amount` or `rate`.
pub fn parse(
    props: &Properties,
    list_key: &str,
    price_key: &str,
    bounds_code: &str,
) -> Result<Vec<Range>> {
    let items = match props.get(list_key) {
        Some(Value::Array(items)) if !items.is_empty() => items,
        None | Some(Value::Null) | Some(Value::Array(_)) => return Ok(vec![open_range()]),
        Some(_) => return Err(Error::invalid(list_key, bounds_code)),
    };
    if items.len() > RANGES_MAX {
        return Err(Error::invalid(list_key, "too_many_ranges"));
    }
    items
        .iter()
        .map(|item| {
            let Value::Object(range) = item else {
                return Err(Error::invalid(list_key, bounds_code));
            };
            let bound = |key: &str| match range.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => decimal_from_json(v)
                    .map(Some)
                    .map_err(|_| Error::invalid(list_key, bounds_code)),
            };
            let price_code = if price_key == "rate" {
                "invalid_rate"
            } else {
                "invalid_amount"
            };
            Ok(Range {
                from_value: bound("from_value")?.unwrap_or(Decimal::ZERO),
                to_value: bound("to_value")?,
                from_json: range.get("from_value").cloned().unwrap_or(Value::from(0)),
                to_json: range.get("to_value").cloned().unwrap_or(Value::Null),
                price: decimal_or(range, price_key, Decimal::ZERO, price_code)?,
                flat_amount: decimal_or(range, "flat_amount", Decimal::ZERO, "invalid_amount")?,
            })
        })
        .collect()
}

fn open_range() -> Range {
    Range {
        from_value: Decimal::ZERO,
        to_value: None,
        from_json: Value::from(0),
        to_json: Value::Null,
        price: Decimal::ZERO,
        flat_amount: Decimal::ZERO,
    }
}

/// The tiers Lago visits for `units`, in the order given: each up to and including the first
/// whose `to` reaches the units (at `units == to` the next tier is not entered).
pub fn visited(ranges: &[Range], units: Decimal) -> impl Iterator<Item = &Range> {
    let stop = ranges
        .iter()
        .position(|range| range.to_value.is_none_or(|to| to >= units))
        .map_or(ranges.len(), |index| index + 1);
    ranges[..stop].iter()
}

/// "Adjacent" tiers: at least two, each starting where the previous ended (`0–0.1, 0.1–1`).
/// Otherwise Lago uses inclusive integer tiers (`0–10, 11–20`) and counts "+1".
pub fn is_adjacent(ranges: &[Range]) -> bool {
    ranges.len() >= 2
        && ranges
            .windows(2)
            .all(|pair| pair[0].to_value == Some(pair[1].from_value))
}

/// How the next tier's expected start follows from the previous tier's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextFrom {
    /// graduated, graduated_percentage: next starts at `to` or `to + 1`.
    PreviousTo,
    /// volume: next starts at `to + 1` or `to + 2`.
    PreviousToPlusOne,
}

/// Lago's `valid_bounds?` over the raw list: each `from` equals the expected start or one more;
/// non-last tiers end above their start; the last is open.
pub fn valid_bounds(items: &[Value], next: NextFrom) -> bool {
    let mut next_from = Decimal::ZERO;
    for (index, item) in items.iter().enumerate() {
        let Value::Object(range) = item else {
            return false;
        };
        let Some(from) = range
            .get("from_value")
            .and_then(|v| decimal_from_json(v).ok())
        else {
            return false;
        };
        if from != next_from && from != next_from + Decimal::ONE {
            return false;
        }
        let to = match range.get("to_value") {
            None | Some(Value::Null) => None,
            Some(v) => match decimal_from_json(v) {
                Ok(to) => Some(to),
                Err(_) => return false,
            },
        };
        let last = index + 1 == items.len();
        match (last, to) {
            (true, Some(_)) => return false,
            (true, None) => {}
            (false, to) => {
                let to = to.unwrap_or(Decimal::ZERO);
                if to <= from {
                    return false;
                }
                next_from = match next {
                    NextFrom::PreviousTo => to,
                    NextFrom::PreviousToPlusOne => to + Decimal::ONE,
                };
            }
        }
    }
    true
}

/// The shared tier-list validation: missing list, per-tier amounts, bounds.
pub fn validate(
    props: &Properties,
    list_key: &str,
    next: NextFrom,
    price: (&str, &str),
    errors: &mut ErrorDetails,
) {
    let missing_code = format!("missing_{list_key}");
    let items = match props.get(list_key) {
        Some(Value::Array(items)) if !items.is_empty() => items,
        _ => return errors.add(list_key, &missing_code),
    };
    let (price_key, price_code) = price;
    for item in items {
        let range = item.as_object();
        if !valid_amount(range.and_then(|r| r.get(price_key)), false) {
            errors.add(price_key, price_code);
        }
        if !valid_amount(range.and_then(|r| r.get("flat_amount")), false) {
            errors.add("flat_amount", "invalid_amount");
        }
    }
    if items.len() > RANGES_MAX || !valid_bounds(items, next) {
        errors.add(list_key, &format!("invalid_{list_key}"));
    }
}
