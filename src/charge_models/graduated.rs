//! # graduated
//! ## What it charges
//! Each unit at the price of the tier it falls in, plus each entered tier's flat fee.
//! ## Properties
//! `graduated_ranges[]`: `{from_value, to_value|null, per_unit_amount, flat_amount}`.
//! ## Formula
//! Walk the tiers in the order given. A tier holds `min(units, to) − from` units when every tier
//! starts where the previous ended ("adjacent": `0–0.1, 0.1–1`), else `min(units, to) − from + 1`
//! ("+1": `0–10, 11–20`); a tier starting at 0 holds `min(units, to)`. Its flat fee is due even
//! with 0 units in it. Stop after the tier whose `to` reaches the units: at `units == to` the
//! next tier (and its flat fee) is not entered.
//! ## Example
//! 12 units over `0–10 @10 +2, 11–20 @5 +3`: 10×10+2 + 2×5+3 = 115.
//! ## Lago reference
//! `app/services/charge_models/graduated_service.rb`, `amount_details/range_graduated_service.rb`

use super::fields::Properties;
use super::ranges::{self, NextFrom, Range};
use super::{Aggregation, AmountDetails, Context, Priced};
use crate::error::{ErrorDetails, Result};
use crate::json::object;
use crate::money::{add, mul, sub, sum};
use crate::rating::decimal_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// Parsed graduated properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Graduated {
    /// Tiers in the order given (Lago does not sort them).
    pub ranges: Vec<Range>,
}

/// One visited tier, as Lago reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeDetail {
    /// Lower bound, as given.
    pub from_value: Value,
    /// Upper bound, as given (null = ∞).
    pub to_value: Value,
    /// The tier's flat fee.
    pub flat_unit_amount: Decimal,
    /// Price per unit, reported as 0 when the tier holds no unit.
    pub per_unit_amount: Decimal,
    /// Units in the tier.
    pub units: Decimal,
    /// `units × per_unit_amount`.
    pub per_unit_total_amount: Decimal,
    /// `per_unit_total_amount + flat_unit_amount`.
    pub total_with_flat_amount: Decimal,
}

impl RangeDetail {
    /// Lago's stored JSON for the tier.
    pub fn to_json(&self) -> Value {
        object! {
            "from_value": self.from_value.clone(),
            "to_value": self.to_value.clone(),
            "flat_unit_amount": decimal_json(self.flat_unit_amount),
            "per_unit_amount": decimal_json(self.per_unit_amount),
            "units": decimal_json(self.units),
            "per_unit_total_amount": decimal_json(self.per_unit_total_amount),
            "total_with_flat_amount": decimal_json(self.total_with_flat_amount),
        }
    }
}

/// One tier's share of `total_units` (Lago's `RangeGraduatedService`).
pub fn range_detail(range: &Range, total_units: Decimal, adjacent: bool) -> Result<RangeDetail> {
    let reached = match range.to_value {
        Some(to) if total_units >= to => to,
        _ => total_units,
    };
    let units = if range.from_value.is_zero() {
        reached
    } else if adjacent {
        sub(reached, range.from_value)?
    } else {
        add(sub(reached, range.from_value)?, Decimal::ONE)?
    };
    let per_unit_amount = if units.is_zero() {
        Decimal::ZERO
    } else {
        range.price
    };
    let per_unit_total_amount = mul(units, range.price)?;
    Ok(RangeDetail {
        from_value: range.from_json.clone(),
        to_value: range.to_json.clone(),
        flat_unit_amount: range.flat_amount,
        per_unit_amount,
        units,
        per_unit_total_amount,
        total_with_flat_amount: add(per_unit_total_amount, range.flat_amount)?,
    })
}

impl Graduated {
    /// Reads `graduated_ranges` (default: one free tier `0–∞`).
    pub fn parse(props: &Properties) -> Result<Self> {
        Ok(Graduated {
            ranges: ranges::parse(
                props,
                "graduated_ranges",
                "per_unit_amount",
                "invalid_graduated_ranges",
            )?,
        })
    }

    /// The visited tiers for `units`.
    pub fn range_details(&self, units: Decimal) -> Result<Vec<RangeDetail>> {
        let adjacent = ranges::is_adjacent(&self.ranges);
        ranges::visited(&self.ranges, units)
            .map(|range| range_detail(range, units, adjacent))
            .collect()
    }

    /// Prices the aggregation.
    pub fn apply(&self, aggregation: &Aggregation, ctx: &Context) -> Result<Priced> {
        let units = aggregation.units;
        if ctx.exclude_event && units.is_zero() {
            // The "before" side of a pay-in-advance event: no tier entered yet, no flat fee.
            return Priced::per_unit(Decimal::ZERO, units, AmountDetails::Graduated(Vec::new()));
        }
        let details = self.range_details(units)?;
        let amount = sum(details.iter().map(|d| d.total_with_flat_amount))?;
        Priced::per_unit(
            amount,
            aggregation.unit_divisor(),
            AmountDetails::Graduated(details),
        )
    }
}

/// Lago's `Charges::Validators::GraduatedService`.
pub fn validate(props: &Properties, errors: &mut ErrorDetails) {
    ranges::validate(
        props,
        "graduated_ranges",
        NextFrom::PreviousTo,
        ("per_unit_amount", "invalid_amount"),
        errors,
    );
}
