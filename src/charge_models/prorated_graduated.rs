//! # prorated graduated
//! ## What it charges
//! Graduated prices on prorated units: a unit added mid-period pays for the days it was there.
//! ## Properties
//! Those of graduated; the metric is recurring (sum or unique count) and the charge prorated.
//! ## Formula
//! Walk the events in time order keeping a running FULL total. The tier is chosen by the full
//! total; the price applies to the event's PRORATED value. An event crossing a tier boundary is
//! split in proportion to the full units on each side (coefficient prorated ÷ full). Flat fees
//! are due for every tier up to the one holding the PEAK full total. A negative final total gives
//! 0; a negative per-unit part counts as 0. `unit_amount = amount ÷ Σ full values`.
//! ## Example
//! Tiers `0–5 @10 +100, 6–∞ @5 +50`; one event of 1 unit prorated to 0.7: 0.7×10 + 100 = 107.
//! ## Lago reference
//! `app/services/charge_models/prorated_graduated_service.rb`

use super::graduated::Graduated;
use super::{Aggregation, AmountDetails, Priced};
use crate::error::Result;
use crate::money::{add, div_or_zero, mul, sub, sum};
use rust_decimal::Decimal;

/// One event's value, in full and prorated to the days left in the period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProratedEvent {
    /// Value before proration.
    pub full: Decimal,
    /// Value × days left ÷ days in the period.
    pub prorated: Decimal,
}

/// Upper bounds of the tiers in full units (`None` = open), in order.
fn tier_bounds(model: &Graduated) -> Vec<Option<Decimal>> {
    model.ranges.iter().map(|range| range.to_value).collect()
}

/// Index of the tier holding the running total `total` (tier `i` covers `(to[i−1], to[i]]`).
fn tier_of(bounds: &[Option<Decimal>], total: Decimal) -> usize {
    bounds
        .iter()
        .position(|to| to.is_none_or(|to| total <= to))
        .unwrap_or(bounds.len().saturating_sub(1))
}

/// Σ price × prorated units for the move of the running total from `start` to `end`.
fn priced_move(
    model: &Graduated,
    bounds: &[Option<Decimal>],
    start: Decimal,
    end: Decimal,
    coefficient: Decimal,
) -> Result<Decimal> {
    let (low, high) = if start <= end {
        (start, end)
    } else {
        (end, start)
    };
    let sign = if start <= end {
        Decimal::ONE
    } else {
        Decimal::NEGATIVE_ONE
    };
    let mut amount = Decimal::ZERO;
    let mut lower_bound = Decimal::MIN;
    for (range, to) in model.ranges.iter().zip(bounds) {
        let upper = to.unwrap_or(Decimal::MAX);
        let overlap_low = low.max(lower_bound);
        let overlap_high = high.min(upper);
        if overlap_high > overlap_low {
            let units = mul(sub(overlap_high, overlap_low)?, coefficient)?;
            amount = add(amount, mul(mul(units, range.price)?, sign)?)?;
        }
        lower_bound = upper;
    }
    Ok(amount)
}

/// Prices a prorated graduated charge from its per-event values.
pub fn apply(
    model: &Graduated,
    events: &[ProratedEvent],
    aggregation: &Aggregation,
) -> Result<Priced> {
    let bounds = tier_bounds(model);
    let full_total = sum(events.iter().map(|e| e.full))?;
    let mut running = Decimal::ZERO;
    let mut peak = Decimal::ZERO;
    let mut per_unit_amount = Decimal::ZERO;
    for event in events {
        let skip_unprorated = event.prorated.is_zero() && event.full > Decimal::ZERO;
        let next = add(running, event.full)?;
        if skip_unprorated || next < Decimal::ZERO || event.full.is_zero() {
            continue; // nothing billable, or an orphan remove below zero
        }
        let coefficient = div_or_zero(event.prorated, event.full)?;
        per_unit_amount = add(
            per_unit_amount,
            priced_move(model, &bounds, running, next, coefficient)?,
        )?;
        running = next;
        peak = peak.max(running);
    }
    if full_total < Decimal::ZERO {
        return Priced::per_unit(Decimal::ZERO, full_total, AmountDetails::Empty);
    }
    let flat_tiers = tier_of(&bounds, peak) + 1;
    let flats = sum(model.ranges.iter().take(flat_tiers).map(|r| r.flat_amount))?;
    let amount = add(per_unit_amount.max(Decimal::ZERO), flats)?;
    let divisor = if events.is_empty() {
        aggregation.unit_divisor()
    } else {
        full_total
    };
    Priced::per_unit(amount, divisor, AmountDetails::Empty)
}
