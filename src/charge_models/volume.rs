//! # volume
//! ## What it charges
//! Every unit at the price of the one tier the total falls in, plus that tier's flat fee.
//! ## Properties
//! `volume_ranges[]`: `{from_value, to_value|null, per_unit_amount, flat_amount}`, sorted by
//! `from_value` before use.
//! ## Formula
//! `n` = full units for a prorated charge, else units. The tier is the first with
//! `from ≤ ceil(n)` and `n ≤ to` (so 100.5 falls in `101–200`). `amount = units × per_unit +
//! flat`; `unit_amount = amount ÷ n`. A prorated charge prices its prorated units at the tier of
//! its full units; the flat fee is not prorated.
//! ## Example
//! 300 units over `0–100 @2 +10, 101–200 @1, 201–∞ @0.5 +50`: 300×0.5 + 50 = 200.
//! ## Lago reference
//! `app/services/charge_models/volume_service.rb`

use super::fields::Properties;
use super::ranges::{self, NextFrom, Range};
use super::{Aggregation, AmountDetails, Context, Priced};
use crate::error::{ErrorDetails, Result};
use crate::json::object;
use crate::money::{add, div_or_zero, mul};
use crate::number::ruby_float;
use crate::rating::decimal_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// Parsed volume properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Tiers sorted by `from_value`.
    pub ranges: Vec<Range>,
}

/// The matched tier, as Lago reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    /// The matched tier's flat fee.
    pub flat_unit_amount: Decimal,
    /// `per_unit_total_amount ÷ n`, which Lago computes and prints as a Float.
    pub per_unit_amount: Decimal,
    /// `units × per_unit_amount` of the tier.
    pub per_unit_total_amount: Decimal,
}

impl Details {
    /// Lago's stored JSON.
    pub fn to_json(&self) -> Value {
        object! {
            "flat_unit_amount": decimal_json(self.flat_unit_amount),
            "per_unit_amount": Value::String(ruby_float(self.per_unit_amount)),
            "per_unit_total_amount": decimal_json(self.per_unit_total_amount),
        }
    }
}

impl Volume {
    /// Reads `volume_ranges` (default: one free tier `0–∞`), sorted by lower bound.
    pub fn parse(props: &Properties) -> Result<Self> {
        let mut ranges = ranges::parse(
            props,
            "volume_ranges",
            "per_unit_amount",
            "invalid_volume_ranges",
        )?;
        crate::sort::sort_by_key(&mut ranges, |range| range.from_value);
        Ok(Volume { ranges })
    }

    /// The tier `n` units fall in. Where Lago finds none (units in a gap between tiers, or below
    /// a first tier starting at 1) it crashes; we take the first tier whose upper bound covers `n`
    /// (README, "Deviations").
    pub fn matching_range(&self, n: Decimal) -> Option<&Range> {
        let covers = |r: &&Range| r.to_value.is_none_or(|to| n <= to);
        self.ranges
            .iter()
            .find(|r| r.from_value <= n.ceil() && covers(r))
            .or_else(|| self.ranges.iter().find(covers))
            .or_else(|| self.ranges.last())
    }

    /// Prices the aggregation.
    pub fn apply(&self, aggregation: &Aggregation, ctx: &Context) -> Result<Priced> {
        let n = match aggregation.full_units_number {
            Some(full) if ctx.prorated => full,
            _ => aggregation.units,
        };
        let (price, flat) = self
            .matching_range(n)
            .map_or((Decimal::ZERO, Decimal::ZERO), |r| (r.price, r.flat_amount));
        let per_unit_total_amount = mul(aggregation.units, price)?;
        let amount = add(per_unit_total_amount, flat)?;
        let details = Details {
            flat_unit_amount: flat,
            per_unit_amount: div_or_zero(per_unit_total_amount, n)?,
            per_unit_total_amount,
        };
        Priced::per_unit(amount, n, AmountDetails::Volume(details))
    }
}

/// Lago's `Charges::Validators::VolumeService`.
pub fn validate(props: &Properties, errors: &mut ErrorDetails) {
    ranges::validate(
        props,
        "volume_ranges",
        NextFrom::PreviousToPlusOne,
        ("per_unit_amount", "invalid_amount"),
        errors,
    );
}
