//! # graduated_percentage
//! ## What it charges
//! A percentage of the units, at the rate of the tier they fall in, plus each entered tier's
//! flat fee.
//! ## Properties
//! `graduated_percentage_ranges[]`: `{from_value, to_value|null, rate, flat_amount}`; `rate` is
//! in percent (`"1"` = 1%).
//! ## Formula
//! Tiers are walked like graduated, but always with the "+1" count (no adjacent mode): a full
//! tier holds `to − from + 1` (`to` when it starts at 0), a partial one `units − from + 1`.
//! `per_unit_total = units × rate ÷ 100`; the flat fee is due as soon as the tier is entered.
//! ## Example
//! 21 units over `0–10 @1% +200, 11–20 @2% +300, 21–∞ @3% +400` = 900.33.
//! ## Lago reference
//! `app/services/charge_models/graduated_percentage_service.rb`,
//! `amount_details/range_graduated_percentage_service.rb`

use super::fields::Properties;
use super::ranges::{self, NextFrom, Range};
use super::{Aggregation, AmountDetails, Context, Priced, ValidationContext};
use crate::error::{ErrorDetails, Result};
use crate::json::object;
use crate::money::{add, div_or_zero, mul, sub, sum};
use crate::rating::decimal_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// Parsed graduated_percentage properties.
#[derive(Debug, Clone, PartialEq)]
pub struct GraduatedPercentage {
    /// Tiers in the order given; `price` holds the rate in percent.
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
    /// Rate in percent.
    pub rate: Decimal,
    /// Units in the tier.
    pub units: Decimal,
    /// `units × rate ÷ 100`.
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
            "rate": decimal_json(self.rate),
            "units": decimal_json(self.units),
            "per_unit_total_amount": decimal_json(self.per_unit_total_amount),
            "total_with_flat_amount": decimal_json(self.total_with_flat_amount),
        }
    }
}

/// One tier's share of `total_units` (Lago's `RangeGraduatedPercentageService`).
pub fn range_detail(range: &Range, total_units: Decimal) -> Result<RangeDetail> {
    let from = range.from_value;
    let units = match range.to_value {
        Some(to) if total_units >= to && from.is_zero() => to,
        Some(to) if total_units >= to => add(sub(to, from)?, Decimal::ONE)?,
        _ if from.is_zero() => total_units,
        _ => add(sub(total_units, from)?, Decimal::ONE)?,
    };
    let per_unit_total_amount = div_or_zero(mul(units, range.price)?, Decimal::ONE_HUNDRED)?;
    Ok(RangeDetail {
        from_value: range.from_json.clone(),
        to_value: range.to_json.clone(),
        flat_unit_amount: range.flat_amount,
        rate: range.price,
        units,
        per_unit_total_amount,
        total_with_flat_amount: add(per_unit_total_amount, range.flat_amount)?,
    })
}

impl GraduatedPercentage {
    /// Reads `graduated_percentage_ranges` (default: one tier `0–∞` at 0%).
    pub fn parse(props: &Properties) -> Result<Self> {
        Ok(GraduatedPercentage {
            ranges: ranges::parse(
                props,
                "graduated_percentage_ranges",
                "rate",
                "invalid_graduated_percentage_ranges",
            )?,
        })
    }

    /// The visited tiers for `units`.
    pub fn range_details(&self, units: Decimal) -> Result<Vec<RangeDetail>> {
        ranges::visited(&self.ranges, units)
            .map(|range| range_detail(range, units))
            .collect()
    }

    /// Prices the aggregation.
    pub fn apply(&self, aggregation: &Aggregation, ctx: &Context) -> Result<Priced> {
        let units = aggregation.units;
        if ctx.exclude_event && units.is_zero() {
            return Priced::per_unit(
                Decimal::ZERO,
                units,
                AmountDetails::GraduatedPercentage(Vec::new()),
            );
        }
        let details = self.range_details(units)?;
        let amount = sum(details.iter().map(|d| d.total_with_flat_amount))?;
        Priced::per_unit(
            amount,
            aggregation.unit_divisor(),
            AmountDetails::GraduatedPercentage(details),
        )
    }
}

/// Lago's `Charges::Validators::GraduatedPercentageService`.
pub fn validate(props: &Properties, ctx: &ValidationContext, errors: &mut ErrorDetails) {
    if ctx.aggregation_type.as_deref() == Some("latest_agg") {
        errors.add("billable_metric", "invalid_value");
    }
    ranges::validate(
        props,
        "graduated_percentage_ranges",
        NextFrom::PreviousTo,
        ("rate", "invalid_rate"),
        errors,
    );
}
