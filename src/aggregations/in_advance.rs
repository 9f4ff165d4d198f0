//! The aggregation of the one event that triggers a pay-in-advance fee (Lago's
//! `pay_in_advance_aggregation`), and the cached state it leaves behind.
//!
//! ## Semantics
//! * **count**: 1.
//! * **sum**: the event's value (`properties[field]`, 0 when absent). Without a cached row for the
//!   period: the value (negative → 0), and the new state is `current = max = units_applied =
//!   value`. With the latest cached row (`c`, `m`): `current = c + value`; above the peak `m` the
//!   fee covers `current − m` and the new peak is `max(current, current − m)`; otherwise 0, the
//!   peak stays and `units_applied = value`.
//! * **unique count**: an `add` of a value that is not already active (its latest earlier event,
//!   strictly before, is not an add) adds 1 unit; anything else 0. With a cached row, `current`
//!   moves by that unit (or by −1 for the removal of an active value) and the fee is 1 only when
//!   `current` passes the peak.
//! * **prorated** sum / unique count: the plain result × `days(event..to) / duration` (through a
//!   Ruby Float), ceiled to 5 places; the full value is `full_units_number`, and the prorated peak
//!   (`max_aggregation_with_proration`) grows by it when the plain peak grew.
//! * An event without properties aggregates to 0 (count: still 1).
//! * `pay_in_advance_breakdowns` (with presentation keys): the event's own key values and value.
//!
//! Rounding never applies to this value.
//!
//! ## Lago reference
//! `aggregations/sum_service.rb#compute_pay_in_advance_aggregation`,
//! `aggregations/unique_count_service.rb#compute_pay_in_advance_aggregation`,
//! `PostgresStore#active_unique_property?`,
//! `prorated_aggregations/base_service.rb#compute_pay_in_advance_aggregation`.

use super::pg::{ceil_dp, date_diff_with_timezone, float_ratio};
use super::unique_count::ADD;
use super::{
    uniq_keys, AggregationParams, AggregationType, Breakdown, CachedAggregation, GroupValues, Store,
};
use crate::domain::event::{Event, PropertyValue};
use crate::error::{Error, Result};
use crate::money::{add, mul, sub};
use crate::number::decimal_from_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// The pay-in-advance aggregation of one event and the state Lago caches after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InAdvance {
    /// Units the event's fee covers (`pay_in_advance_aggregation`).
    pub aggregation: Decimal,
    /// New running total (`current_aggregation`), when the aggregation tracks one.
    pub current_aggregation: Option<Decimal>,
    /// New peak (`max_aggregation`).
    pub max_aggregation: Option<Decimal>,
    /// Units the event applied without raising the peak (`units_applied`).
    pub units_applied: Option<Decimal>,
    /// New prorated peak (prorated charges).
    pub max_aggregation_with_proration: Option<Decimal>,
    /// Units before proration (prorated charges).
    pub full_units: Option<Decimal>,
    /// The event's presentation breakdown.
    pub breakdowns: Vec<Breakdown>,
    /// Dynamic charges: the event's own `precise_total_amount_cents` (0 when absent).
    pub precise_total_amount_cents: Option<Decimal>,
}

impl InAdvance {
    /// The period's first event (no cached row): its value starts the running total and its max.
    fn first(aggregation: Decimal, total: Decimal) -> Self {
        InAdvance {
            aggregation,
            current_aggregation: Some(total),
            max_aggregation: Some(total),
            units_applied: Some(total),
            ..InAdvance::default()
        }
    }

    /// The running total stays at or under its high-water mark: nothing new to charge.
    fn below_high_water(current: Decimal, high_water: Decimal, applied: Decimal) -> Self {
        InAdvance {
            aggregation: Decimal::ZERO,
            current_aggregation: Some(current),
            max_aggregation: Some(high_water),
            units_applied: Some(applied),
            ..InAdvance::default()
        }
    }
}

/// Computes the pay-in-advance aggregation of `event`, or `None` for aggregations Lago does not
/// bill in advance (max, latest, weighted sum).
pub(crate) fn compute(
    store: &Store,
    params: &AggregationParams,
    event: &Event,
) -> Result<Option<InAdvance>> {
    let mut out = match params.metric.aggregation_type {
        AggregationType::Count => InAdvance {
            aggregation: Decimal::ONE,
            ..InAdvance::default()
        },
        AggregationType::Sum => sum(params, event)?,
        AggregationType::UniqueCount => unique_count(store, params, event)?,
        _ => return Ok(None),
    };
    let breakdown_value = match params.metric.aggregation_type {
        AggregationType::Sum => event_value(params, event)?,
        _ => out.aggregation,
    };
    if params.charge.prorated && params.metric.aggregation_type != AggregationType::Count {
        prorate(params, event, &mut out)?;
    }
    if params.charge.dynamic && params.metric.aggregation_type == AggregationType::Sum {
        out.precise_total_amount_cents = Some(event.precise_total_amount_cents.unwrap_or_default());
    }
    if !params.presentation_by.is_empty() && !event.properties.is_empty() {
        let keys = uniq_keys(&params.grouped_by, &params.presentation_by);
        out.breakdowns = vec![Breakdown {
            groups: keys
                .iter()
                .map(|k| (k.clone(), super::text::property_text(&event.properties, k)))
                .collect(),
            value: breakdown_value,
        }];
    }
    Ok(Some(out))
}

/// `event.properties[field] || 0`, as `BigDecimal(value.to_s)`.
pub(crate) fn event_value(params: &AggregationParams, event: &Event) -> Result<Decimal> {
    let field = params.metric.field_name.as_deref().unwrap_or("");
    match event.properties.get(field) {
        None | Some(PropertyValue::Null) => Ok(Decimal::ZERO),
        Some(value) => decimal_from_json(&value.to_value())
            .map_err(|_| Error::invalid(field, "value_is_invalid")),
    }
}

/// The latest cached row of the period for the request's group, other than the event's own.
fn cached<'p>(params: &'p AggregationParams, event: &Event) -> Option<&'p CachedAggregation> {
    let group: GroupValues = params.grouped_by_values.clone().unwrap_or_default();
    super::cached_in_window_excluding(params, &group, Some(&*event.transaction_id))
}

fn sum(params: &AggregationParams, event: &Event) -> Result<InAdvance> {
    if event.properties.is_empty() {
        return Ok(InAdvance::default());
    }
    let value = event_value(params, event)?;
    let Some(row) = cached(params, event) else {
        return Ok(InAdvance::first(value.max(Decimal::ZERO), value));
    };
    let current = add(row.current_aggregation, value)?;
    let old_max = row.max_aggregation.unwrap_or_default();
    if current > old_max {
        let above = sub(current, old_max)?;
        Ok(InAdvance {
            aggregation: above,
            current_aggregation: Some(current),
            max_aggregation: Some(current.max(above)),
            ..InAdvance::default()
        })
    } else {
        Ok(InAdvance::below_high_water(current, old_max, value))
    }
}

fn unique_count(store: &Store, params: &AggregationParams, event: &Event) -> Result<InAdvance> {
    if event.properties.is_empty() {
        return Ok(InAdvance::default());
    }
    // `properties.fetch("operation_type", "add")`: a null operation is not an add.
    let is_add = match event.properties.get("operation_type") {
        None => true,
        Some(PropertyValue::String(op)) => &**op == ADD,
        Some(_) => false,
    };
    let active = active_unique_property(store, params, event)?;
    let newly = Decimal::from(u8::from(is_add && !active));
    let Some(row) = cached(params, event) else {
        return Ok(InAdvance::first(newly, newly));
    };
    let old_max = row.max_aggregation.unwrap_or_default();
    let current = if is_add {
        add(row.current_aggregation, newly)?
    } else {
        sub(row.current_aggregation, Decimal::from(u8::from(active)))?
    };
    if current > old_max {
        Ok(InAdvance {
            aggregation: Decimal::ONE,
            current_aggregation: Some(current),
            max_aggregation: Some(current),
            ..InAdvance::default()
        })
    } else {
        Ok(InAdvance::below_high_water(current, old_max, newly))
    }
}

/// `active_unique_property?`: the latest other event of the same value strictly before this one
/// is an add (or has no operation).
fn active_unique_property(
    store: &Store,
    params: &AggregationParams,
    event: &Event,
) -> Result<bool> {
    let field = store.field();
    let wanted = event
        .properties
        .get(field)
        .map_or(Value::Null, PropertyValue::to_value);
    let rows = store.select(&store.window_or_history(false, params.metric.recurring))?;
    let previous = rows
        .iter()
        .filter(|row| row.event.transaction_id != event.transaction_id)
        .filter(|row| row.event.timestamp < event.timestamp)
        .rfind(|row| {
            row.event
                .properties
                .get(field)
                .is_some_and(|value| match (value, &wanted) {
                    (PropertyValue::String(a), Value::String(b)) => **a == **b,
                    _ => jsonb_equal(&value.to_value(), &wanted),
                })
        });
    Ok(
        previous.is_some_and(|row| match row.event.properties.get("operation_type") {
            None | Some(PropertyValue::Null) => true,
            Some(PropertyValue::String(op)) => &**op == ADD,
            Some(_) => false,
        }),
    )
}

/// Equality as `jsonb @>` sees two scalars (numbers by value).
fn jsonb_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => {
            match (decimal_from_json(a), decimal_from_json(b)) {
                (Ok(x), Ok(y)) => x == y,
                _ => a == b,
            }
        }
        _ => a == b,
    }
}

/// The prorated charge's share of the event's units, and the prorated peak.
fn prorate(params: &AggregationParams, event: &Event, out: &mut InAdvance) -> Result<()> {
    if event.properties.is_empty() {
        *out = InAdvance::default();
        return Ok(());
    }
    let full = out.aggregation;
    let days = date_diff_with_timezone(event.timestamp, params.window.to, params.window.timezone);
    let coefficient = float_ratio(days, params.window.duration_days())?;
    let value = ceil_dp(mul(full, coefficient)?, 5);
    out.full_units = Some(full);
    out.aggregation = value;
    out.max_aggregation_with_proration = Some(match cached(params, event) {
        None => value,
        Some(row) => {
            let peak = row.max_aggregation_with_proration.unwrap_or_default();
            let grew =
                out.max_aggregation.unwrap_or_default() > row.max_aggregation.unwrap_or_default();
            if grew {
                add(peak, value)?
            } else {
                peak
            }
        }
    });
    Ok(())
}
