//! Pay-in-advance fees: each event is billed when it arrives, at its marginal cost
//! `cost(with the event) − cost(without it)`, rounded on its own.
//!
//! Lago reference: `app/services/charges/apply_pay_in_advance_charge_model_service.rb`,
//! `charges/pay_in_advance/amount_details_calculator.rb`, and the aggregators'
//! `compute_pay_in_advance_aggregation`.

use crate::charge_models::{
    graduated_percentage, percentage, Aggregation, AmountDetails, ChargeModel, Context, Priced,
};
use crate::error::{Error, Result};
use crate::json::object;
use crate::money::{add, div_or_zero, mul, round_half_up, sub, sum, to_cents, truncate, Currency};
use crate::rating::decimal_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// One event of the period, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct InAdvanceEvent {
    /// The metric field's value (1 for a count).
    pub value: Decimal,
    /// The event's own price, for dynamic charges.
    pub precise_total_amount_cents: Decimal,
}

/// The fee of one pay-in-advance event.
#[derive(Debug, Clone, PartialEq)]
pub struct InAdvanceFee {
    /// Units charged by this event.
    pub units: Decimal,
    /// Subunits, rounded half up.
    pub amount_cents: Decimal,
    /// Subunits, unrounded.
    pub precise_amount_cents: Decimal,
    /// Rounded amount ÷ units, in major units.
    pub unit_amount: Decimal,
    /// `unit_amount` in subunits, truncated.
    pub unit_amount_cents: Decimal,
    /// What the event added to the breakdown (percentage models only), else `{}`.
    pub amount_details: Value,
}

/// The fee for a marginal cost already known.
pub fn fee_from_costs(
    cost_with: Decimal,
    cost_without: Decimal,
    units: Decimal,
    currency: Currency,
) -> Result<InAdvanceFee> {
    let amount = sub(cost_with, cost_without)?;
    let unit_amount = div_or_zero(round_half_up(amount, currency.exponent), units)?;
    Ok(InAdvanceFee {
        units,
        amount_cents: to_cents(amount, currency)?,
        precise_amount_cents: mul(amount, currency.subunit())?,
        unit_amount,
        unit_amount_cents: truncate(mul(unit_amount, currency.subunit())?),
        amount_details: object! {},
    })
}

/// Units the event makes billable: 1 for a count; for a sum, what the running total rises above
/// its previous high-water mark (a decrease is never refunded and must be used up first).
fn charged_units(
    aggregation_type: &str,
    before: &[InAdvanceEvent],
    event: &InAdvanceEvent,
) -> Result<Decimal> {
    match aggregation_type {
        "count_agg" => Ok(Decimal::ONE),
        "unique_count_agg" => Ok(if before.iter().any(|e| e.value == event.value) {
            Decimal::ZERO
        } else {
            Decimal::ONE
        }),
        _ => {
            let mut total = Decimal::ZERO;
            let mut high_water = Decimal::ZERO;
            for e in before {
                total = add(total, e.value)?;
                high_water = high_water.max(total);
            }
            Ok(sub(add(total, event.value)?, high_water)?.max(Decimal::ZERO))
        }
    }
}

fn units_of(aggregation_type: &str, events: &[InAdvanceEvent]) -> Result<Decimal> {
    match aggregation_type {
        "count_agg" => Ok(Decimal::from(events.len())),
        "unique_count_agg" => {
            let mut seen: Vec<Decimal> = Vec::new();
            for e in events {
                if !seen.contains(&e.value) {
                    seen.push(e.value);
                }
            }
            Ok(Decimal::from(seen.len()))
        }
        _ => sum(events.iter().map(|e| e.value)),
    }
}

/// Prices `event` given the events of the period before it (events dated after it are not part
/// of `before`). `aggregation_type` is the metric's: count, unique count or sum.
pub fn fee(
    model: &ChargeModel,
    ctx: &Context,
    aggregation_type: &str,
    before: &[InAdvanceEvent],
    event: &InAdvanceEvent,
) -> Result<InAdvanceFee> {
    if !matches!(
        aggregation_type,
        "count_agg" | "sum_agg" | "unique_count_agg" | "custom_agg"
    ) {
        return Err(Error::invalid(
            "pay_in_advance",
            "invalid_aggregation_type_or_charge_model",
        ));
    }
    if matches!(model, ChargeModel::Volume(_)) {
        return Err(Error::invalid(
            "pay_in_advance",
            "invalid_aggregation_type_or_charge_model",
        ));
    }
    let mut all: Vec<InAdvanceEvent> = before.to_vec();
    all.push(event.clone());
    let units_after = units_of(aggregation_type, &all)?;
    let units = charged_units(aggregation_type, before, event)?;
    let values: Vec<Decimal> = all.iter().map(|e| e.value).collect();
    let cents_after = sum(all.iter().map(|e| e.precise_total_amount_cents))?;
    let running_total = match model {
        ChargeModel::Percentage(props) => {
            percentage::running_total(aggregation_type, props, &values, units_after)?
        }
        _ => Vec::new(),
    };
    let after = Aggregation {
        units: units_after,
        events_count: all.len() as u64,
        running_total: running_total.clone(),
        per_event_values: values.clone(),
        precise_total_amount_cents: cents_after,
        ..Aggregation::default()
    };
    // The "before" side reuses the running total computed with the event, as Lago does.
    let without = Aggregation {
        units: sub(units_after, units)?,
        events_count: before.len() as u64,
        running_total,
        per_event_values: values[..before.len()].to_vec(),
        precise_total_amount_cents: sub(cents_after, event.precise_total_amount_cents)?,
        ..Aggregation::default()
    };
    let priced_after = model.apply(&after, ctx)?;
    let priced_before = model.apply(
        &without,
        &Context {
            exclude_event: true,
            ..*ctx
        },
    )?;
    let mut fee = fee_from_costs(
        priced_after.amount,
        priced_before.amount,
        units,
        ctx.currency,
    )?;
    fee.amount_details = in_advance_details(model, &priced_after, &priced_before)?;
    Ok(fee)
}

/// Only percentage and graduated_percentage report what the event added to the breakdown.
fn in_advance_details(model: &ChargeModel, after: &Priced, before: &Priced) -> Result<Value> {
    match (model, &after.amount_details, &before.amount_details) {
        (
            ChargeModel::Percentage(props),
            AmountDetails::Percentage(a),
            AmountDetails::Percentage(b),
        ) => Ok(percentage::Details::in_advance_json(
            a,
            b,
            props.fixed_amount,
        )),
        (_, AmountDetails::GraduatedPercentage(a), AmountDetails::GraduatedPercentage(b)) => {
            let ranges = a
                .iter()
                .enumerate()
                .map(|(index, range)| graduated_percentage_delta(range, b.get(index)))
                .collect::<Result<Vec<_>>>()?;
            Ok(object! { "graduated_percentage_ranges": Value::Array(ranges) })
        }
        _ => Ok(object! {}),
    }
}

/// One tier's change; its `per_unit_total_amount` is `round(Δtotal ÷ Δunits, 2)`.
fn graduated_percentage_delta(
    after: &graduated_percentage::RangeDetail,
    before: Option<&graduated_percentage::RangeDetail>,
) -> Result<Value> {
    let (units_before, flat_before, total_before) = before
        .map_or((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO), |b| {
            (b.units, b.flat_unit_amount, b.total_with_flat_amount)
        });
    let units = sub(after.units, units_before)?;
    let total = sub(after.total_with_flat_amount, total_before)?;
    let per_unit = round_half_up(div_or_zero(total, units)?, 2);
    Ok(object! {
        "from_value": after.from_value.clone(),
        "to_value": after.to_value.clone(),
        "rate": decimal_json(after.rate),
        "units": decimal_json(units),
        "flat_unit_amount": decimal_json(sub(after.flat_unit_amount, flat_before)?),
        "per_unit_total_amount": decimal_json(per_unit),
        "total_with_flat_amount": decimal_json(total),
    })
}
