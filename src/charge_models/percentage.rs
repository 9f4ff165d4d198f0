//! # percentage
//! ## What it charges
//! A percentage of the units, a fixed fee per paying event, after free events or free units at
//! the start of the period; with a premium licence, each event clamped to a min and a max.
//! ## Properties
//! `rate` (percent), `fixed_amount`, `free_units_per_events` (N), `free_units_per_total_aggregation`
//! (A), `per_transaction_min_amount`, `per_transaction_max_amount`.
//! ## Formula
//! Free units are a prefix of the period's events, read from the running total `RT` (cumulative
//! sums): `FV` = 0 if `RT` is empty or ends at 0; `RT[N−1]` when `0 < N < len(RT)`; the last
//! total when A is 0; else `min(last, A)`. The free event count `FC` is the smallest non-zero of
//! N and the number of totals below A. `amount = (U − FV) × rate/100 + (C − FC) × fixed` (each
//! part 0 when negative or when U is 0). With min/max (premium), each event is priced on its own:
//! free events pay nothing, the rest pay `v × rate/100 + fixed` clamped to [min, max].
//! ## Example
//! U 800, C 4, RT [50,150,400], N 3, A 250, rate 1.3, fixed 2: FV 250, FC 2 → 7.15 + 4 = 11.15.
//! ## Lago reference
//! `app/services/charge_models/percentage_service.rb`, running totals in
//! `billable_metrics/aggregations/{sum,count,unique_count}_service.rb`

use super::fields::{decimal_or, json_integer, optional_decimal, valid_amount, Properties};
use super::{Aggregation, AmountDetails, Context, Priced, ValidationContext};
use crate::error::{Error, ErrorDetails, Result};
use crate::json::object;
use crate::money::{add, mul, percent_of, sub};
use crate::rating::decimal_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// Parsed percentage properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Percentage {
    /// Percent of the units charged (`"1"` = 1%).
    pub rate: Decimal,
    /// Fee per paying event.
    pub fixed_amount: Decimal,
    /// N: the first N events of the period are free.
    pub free_units_per_events: u64,
    /// A: the first A units of the period are free.
    pub free_units_per_total_aggregation: Decimal,
    /// Per-event minimum (premium).
    pub per_transaction_min_amount: Option<Decimal>,
    /// Per-event maximum (premium).
    pub per_transaction_max_amount: Option<Decimal>,
}

/// Lago's percentage breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    /// Units aggregated.
    pub units: Decimal,
    /// FV: free units applied.
    pub free_units: Decimal,
    /// `max(units − free_units, 0)`.
    pub paid_units: Decimal,
    /// `min(events, FC)`.
    pub free_events: u64,
    /// Events paying the fixed fee.
    pub paid_events: u64,
    /// Rate in percent.
    pub rate: Decimal,
    /// The percentage part of the amount.
    pub per_unit_total_amount: Decimal,
    /// The fixed fee, when some event pays it.
    pub fixed_fee_unit_amount: Decimal,
    /// The fixed fees charged.
    pub fixed_fee_total_amount: Decimal,
    /// What min/max per transaction added (or removed).
    pub min_max_adjustment_total_amount: Decimal,
}

impl Details {
    /// Lago's stored JSON.
    pub fn to_json(&self) -> Value {
        object! {
            "units": decimal_json(self.units),
            "free_units": decimal_json(self.free_units),
            "paid_units": decimal_json(self.paid_units),
            "free_events": Value::from(self.free_events),
            "rate": decimal_json(self.rate),
            "per_unit_total_amount": decimal_json(self.per_unit_total_amount),
            "paid_events": Value::from(self.paid_events),
            "fixed_fee_unit_amount": decimal_json(self.fixed_fee_unit_amount),
            "fixed_fee_total_amount": decimal_json(self.fixed_fee_total_amount),
            "min_max_adjustment_total_amount": decimal_json(self.min_max_adjustment_total_amount),
        }
    }

    /// A pay-in-advance fee's breakdown: what the event added (`after − before`). Free units are
    /// reported as `units − paid_units`; the fixed fee is shown when the event pays it.
    pub fn in_advance_json(after: &Details, before: &Details, fixed_amount: Decimal) -> Value {
        // money::sub, not an inlined checked_sub/`-`: each inlined Decimal subtraction is ~1.9 KB
        // of WASM.
        let sub_or_zero = |a: Decimal, b: Decimal| sub(a, b).unwrap_or(Decimal::ZERO);
        let diff = |a: Decimal, b: Decimal| decimal_json(sub_or_zero(a, b));
        let count_diff = |a: u64, b: u64| sub_or_zero(Decimal::from(a), Decimal::from(b));
        let units = sub_or_zero(after.units, before.units);
        let paid_units = sub_or_zero(after.paid_units, before.paid_units);
        let paid_events = count_diff(after.paid_events, before.paid_events);
        let fixed_fee_unit_amount = if paid_events > Decimal::ZERO {
            fixed_amount
        } else {
            Decimal::ZERO
        };
        object! {
            "rate": decimal_json(after.rate),
            "units": decimal_json(units),
            "free_units": diff(units, paid_units),
            "paid_units": decimal_json(paid_units),
            "free_events": decimal_json(count_diff(after.free_events, before.free_events)),
            "paid_events": decimal_json(paid_events),
            "fixed_fee_unit_amount": decimal_json(fixed_fee_unit_amount),
            "per_unit_total_amount": diff(after.per_unit_total_amount, before.per_unit_total_amount),
            "fixed_fee_total_amount": diff(after.fixed_fee_total_amount, before.fixed_fee_total_amount),
            "min_max_adjustment_total_amount":
                diff(after.min_max_adjustment_total_amount, before.min_max_adjustment_total_amount),
        }
    }
}

/// Builds the running total Lago's aggregators hand to percentage, from the period's event
/// values in timestamp order.
/// - count and unique count: `[1, 2, …, units]`, never cut;
/// - sum with N > 0: cumulative sums of the first N events;
/// - sum with only A: cumulative sums up to and including the first that goes past A;
/// - neither N nor A: empty.
pub fn running_total(
    aggregation_type: &str,
    props: &Percentage,
    values: &[Decimal],
    units: Decimal,
) -> Result<Vec<Decimal>> {
    let n = props.free_units_per_events;
    let a = props.free_units_per_total_aggregation;
    if n == 0 && a <= Decimal::ZERO {
        return Ok(Vec::new());
    }
    if matches!(aggregation_type, "count_agg" | "unique_count_agg") {
        let count = units.trunc().max(Decimal::ZERO);
        let count = u64::try_from(count).map_err(|_| Error::overflow())?;
        if count > crate::limits::PER_EVENT_VALUES_MAX as u64 {
            return Err(Error::invalid("units", "value_is_out_of_range"));
        }
        return Ok((1..=count).map(Decimal::from).collect());
    }
    let mut totals = Vec::new();
    let mut total = Decimal::ZERO;
    for (index, value) in values.iter().enumerate() {
        if n > 0 {
            if index as u64 >= n {
                break;
            }
        } else if a < total {
            break;
        }
        total = add(total, *value)?;
        totals.push(total);
    }
    Ok(totals)
}

/// What one paying event costs under per-transaction min/max: `v × rate/100 + fixed`, clamped
/// to [min, max] (min first, as Lago checks it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventPrice {
    /// Percent of the event's value.
    pub rate: Decimal,
    /// Fee per paying event.
    pub fixed_amount: Decimal,
    /// Per-event minimum.
    pub min: Option<Decimal>,
    /// Per-event maximum.
    pub max: Option<Decimal>,
}

impl EventPrice {
    /// The price of an event of `value`.
    pub fn amount(&self, value: Decimal) -> Result<Decimal> {
        let amount = add(percent_of(mul(value, self.rate)?)?, self.fixed_amount)?;
        Ok(match (self.min, self.max) {
            (Some(min), _) if amount < min => min,
            (_, Some(max)) if amount > max => max,
            _ => amount,
        })
    }

    /// Σ of the prices of `values`.
    pub fn total(&self, values: impl IntoIterator<Item = Decimal>) -> Result<Decimal> {
        values.into_iter().try_fold(Decimal::ZERO, |total, value| {
            add(total, self.amount(value)?)
        })
    }
}

/// Where the free prefix of per-transaction pricing ends, in time order.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FreeWalk {
    /// Events before this index pay nothing, except the last one when `boundary_value` is set.
    paid_from: usize,
    /// The event at `paid_from − 1` used up the free units: it pays on what is left of it.
    boundary_value: Option<Decimal>,
}

impl FreeWalk {
    /// What the event that used up the free units pays on its remainder (0 when none did).
    fn boundary_price(&self, price: EventPrice) -> Result<Decimal> {
        match self.boundary_value {
            Some(value) => price.amount(value),
            None => Ok(Decimal::ZERO),
        }
    }
}

/// The per-transaction min/max amount from running aggregates: `total` is Σ of every event's
/// price, `values` the events in time order, read only as far as the free prefix goes (the
/// prefix's prices come off the total, the crossing event pays on its remainder).
pub fn paid_price_from_total(
    price: EventPrice,
    free_events: u64,
    free_amount: Decimal,
    values: impl Iterator<Item = Decimal> + Clone,
    total: Decimal,
) -> Result<Decimal> {
    let walk = free_walk(free_events, free_amount, values.clone())?;
    let free = price.total(values.take(walk.paid_from))?;
    add(sub(total, free)?, walk.boundary_price(price)?)
}

/// Lago's free prefix for per-transaction min/max: the first N events are free, and the first A
/// units (the event that crosses A pays on its remainder). Reads `values` only as far as the
/// prefix goes.
fn free_walk(
    free_events: u64,
    free_amount: Decimal,
    values: impl IntoIterator<Item = Decimal>,
) -> Result<FreeWalk> {
    let mut remaining_events = i128::from(free_events);
    let mut remaining_amount = free_amount;
    let mut read = 0;
    for value in values {
        if remaining_events <= 0 && remaining_amount <= Decimal::ZERO {
            break;
        }
        read += 1;
        remaining_events -= 1;
        if remaining_amount <= Decimal::ZERO {
            continue;
        }
        if remaining_amount > value {
            remaining_amount = sub(remaining_amount, value)?;
            continue;
        }
        return Ok(FreeWalk {
            paid_from: read,
            boundary_value: Some(sub(value, remaining_amount)?),
        });
    }
    Ok(FreeWalk {
        paid_from: read,
        boundary_value: None,
    })
}

impl Percentage {
    /// Reads the properties (Lago's default: rate 0, nothing else).
    pub fn parse(props: &Properties) -> Result<Self> {
        let n = decimal_or(
            props,
            "free_units_per_events",
            Decimal::ZERO,
            "invalid_free_units_per_events",
        )?;
        if n < Decimal::ZERO || !n.fract().is_zero() {
            return Err(Error::invalid(
                "free_units_per_events",
                "invalid_free_units_per_events",
            ));
        }
        Ok(Percentage {
            rate: decimal_or(props, "rate", Decimal::ZERO, "invalid_rate")?,
            fixed_amount: decimal_or(props, "fixed_amount", Decimal::ZERO, "invalid_fixed_amount")?,
            free_units_per_events: u64::try_from(n)
                .map_err(|_| Error::invalid("free_units_per_events", "value_is_out_of_range"))?,
            free_units_per_total_aggregation: decimal_or(
                props,
                "free_units_per_total_aggregation",
                Decimal::ZERO,
                "invalid_free_units_per_total_aggregation",
            )?,
            per_transaction_min_amount: optional_decimal(
                props,
                "per_transaction_min_amount",
                "invalid_amount",
            )?,
            per_transaction_max_amount: optional_decimal(
                props,
                "per_transaction_max_amount",
                "invalid_amount",
            )?,
        })
    }

    fn percent_of(&self, units: Decimal) -> Result<Decimal> {
        percent_of(mul(units, self.rate)?)
    }

    /// FV, the free units, from the running total.
    fn free_units_value(&self, running_total: &[Decimal]) -> Decimal {
        let last = running_total.last().copied().unwrap_or(Decimal::ZERO);
        let n = usize::try_from(self.free_units_per_events).unwrap_or(usize::MAX);
        if last.is_zero() {
            Decimal::ZERO
        } else if n > 0 && n < running_total.len() {
            running_total[n - 1]
        } else if self.free_units_per_total_aggregation.is_zero() {
            last
        } else {
            last.min(self.free_units_per_total_aggregation)
        }
    }

    /// FC, the free event count: the smallest non-zero of N and the totals below A.
    fn free_events_count(&self, running_total: &[Decimal]) -> u64 {
        let below_a = running_total
            .iter()
            .filter(|total| **total < self.free_units_per_total_aggregation)
            .count() as u64;
        [self.free_units_per_events, below_a]
            .into_iter()
            .filter(|count| *count > 0)
            .min()
            .unwrap_or(0)
    }

    /// The price of one paying event under per-transaction min/max (premium), when set.
    pub fn event_price(&self) -> Option<EventPrice> {
        let min_max =
            self.per_transaction_min_amount.is_some() || self.per_transaction_max_amount.is_some();
        min_max.then_some(EventPrice {
            rate: self.rate,
            fixed_amount: self.fixed_amount,
            min: self.per_transaction_min_amount,
            max: self.per_transaction_max_amount,
        })
    }

    /// Σ over events of `v × rate/100 + fixed`, clamped per event, after the free prefix.
    fn min_max_amount(&self, price: EventPrice, values: &[Decimal]) -> Result<Decimal> {
        let walk = free_walk(
            self.free_units_per_events,
            self.free_units_per_total_aggregation,
            values.iter().copied(),
        )?;
        let paying = values.get(walk.paid_from..).unwrap_or_default();
        add(
            price.total(paying.iter().copied())?,
            walk.boundary_price(price)?,
        )
    }

    /// Prices the aggregation.
    pub fn apply(&self, aggregation: &Aggregation, ctx: &Context) -> Result<Priced> {
        let units = aggregation.units;
        let events = aggregation.events_count;
        let running_total = &aggregation.running_total;
        let free_units = self.free_units_value(running_total);
        let free_events_count = self.free_events_count(running_total);
        let percent_amount = if free_units > units {
            Decimal::ZERO
        } else {
            self.percent_of(sub(units, free_units)?)?
        };
        let fixed_amount = if units.is_zero() || free_events_count >= events {
            Decimal::ZERO
        } else {
            mul(Decimal::from(events - free_events_count), self.fixed_amount)?
        };
        let regular_amount = add(percent_amount, fixed_amount)?;
        let amount = match (self.event_price(), aggregation.paid_events_price) {
            (Some(_), Some(paid)) if ctx.premium => paid,
            (Some(price), None) if ctx.premium => {
                self.min_max_amount(price, &aggregation.per_event_values)?
            }
            _ => regular_amount,
        };
        let free_events = events.min(free_events_count);
        let paid_events = events - free_events;
        let details = Details {
            units,
            free_units,
            paid_units: sub(units, free_units)?.max(Decimal::ZERO),
            free_events,
            paid_events,
            rate: self.rate,
            per_unit_total_amount: percent_amount,
            fixed_fee_unit_amount: if paid_events > 0 {
                self.fixed_amount
            } else {
                Decimal::ZERO
            },
            fixed_fee_total_amount: fixed_amount,
            min_max_adjustment_total_amount: sub(amount, regular_amount)?,
        };
        Priced::per_unit(
            amount,
            aggregation.unit_divisor(),
            AmountDetails::Percentage(details),
        )
    }

    /// Lago's instant estimate for one event: `units × rate/100 + fixed`, clamped to [min, max]
    /// whatever the licence, no free units; negative units count as 0.
    pub fn estimate_instant(&self, units: Decimal) -> Result<Decimal> {
        let units = units.max(Decimal::ZERO);
        let mut amount = add(self.percent_of(units)?, self.fixed_amount)?;
        if let Some(min) = self.per_transaction_min_amount {
            amount = amount.max(min);
        }
        if let Some(max) = self.per_transaction_max_amount {
            amount = amount.min(max);
        }
        Ok(amount)
    }
}

/// Lago's `Charges::Validators::PercentageService`.
pub fn validate(props: &Properties, ctx: &ValidationContext, errors: &mut ErrorDetails) {
    if ctx.aggregation_type.as_deref() == Some("latest_agg") {
        errors.add("billable_metric", "invalid_value");
    }
    if !valid_amount(props.get("rate"), false) {
        errors.add("rate", "invalid_rate");
    }
    let present = |key: &str| !matches!(props.get(key), None | Some(Value::Null));
    if present("fixed_amount") && !valid_amount(props.get("fixed_amount"), false) {
        errors.add("fixed_amount", "invalid_fixed_amount");
    }
    if present("free_units_per_events")
        && json_integer(props.get("free_units_per_events")).is_none_or(|n| n <= 0)
    {
        errors.add("free_units_per_events", "invalid_free_units_per_events");
    }
    let free_total = "free_units_per_total_aggregation";
    if present(free_total) && !valid_amount(props.get(free_total), false) {
        errors.add(free_total, "invalid_free_units_per_total_aggregation");
    }
    if !ctx.premium {
        return;
    }
    let (min_key, max_key) = ("per_transaction_min_amount", "per_transaction_max_amount");
    for key in [min_key, max_key] {
        if present(key) && !valid_amount(props.get(key), false) {
            errors.add(key, "invalid_amount");
        }
    }
    let read = |key: &str| match props.get(key) {
        Some(Value::String(text)) => crate::number::parse_decimal_str(text).ok(),
        _ => None,
    };
    if let (Some(min), Some(max)) = (read(min_key), read(max_key)) {
        if min > max {
            errors.add(
                max_key,
                "per_transaction_max_lower_than_per_transaction_min",
            );
        }
    }
}
