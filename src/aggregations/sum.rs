//! `sum_agg`: Σ of a numeric property.
//!
//! ## Semantics
//! * Only events whose field passes the numeric check count, in the value and in `count`.
//! * Non-recurring: the window `[from, to]`; recurring: all history up to `to`.
//! * Pay-in-advance in current usage: the period's peak, `total − cached.current + cached.max`
//!   (latest cached row of the window), and `current_usage_units = total`; both at least 0.
//! * Dynamic charges also sum `precise_total_amount_cents` over the same events.
//! * Running totals (percentage free units N / A), over the same events in timestamp order:
//!   with N > 0 the cumulative sums of the first N events; else cumulative sums while the total
//!   so far does not exceed A (the first total past A is included).
//! * Per-event values: the window's numeric values in timestamp order (recurring or not).
//!
//! ## Incremental
//! [`SumState::add`] per numeric event in scope: O(1), order-free. Running totals and per-event
//! values depend on the order of the window and come from [`super::aggregate`].
//!
//! ## Lago reference
//! `app/services/billable_metrics/aggregations/sum_service.rb`, `PostgresStore#sum`,
//! `#grouped_sum`, `#events_values`.

use super::{
    cached_in_window, empty_group, group_values, in_advance_current_usage, partition,
    AggregationParams, AggregationResult, Breakdown, FreeUnits, GroupResult, GroupValues, Row,
    Select, Store,
};
use crate::error::Result;
use crate::money::add;
use rust_decimal::Decimal;

/// Running state of a sum: add each numeric event in scope once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SumState {
    /// Σ of the values.
    pub total: Decimal,
    /// Numeric events added.
    pub events_count: u64,
    /// Σ of `precise_total_amount_cents` (dynamic charges).
    pub precise_total_amount_cents: Decimal,
}

impl SumState {
    /// Adds one numeric event (its value and its precise amount, if any).
    pub fn add(
        &mut self,
        value: Decimal,
        precise_total_amount_cents: Option<Decimal>,
    ) -> Result<()> {
        self.total = add(self.total, value)?;
        self.events_count = self.events_count.saturating_add(1);
        if let Some(cents) = precise_total_amount_cents {
            self.precise_total_amount_cents = add(self.precise_total_amount_cents, cents)?;
        }
        Ok(())
    }

    /// The aggregation result of this state for the bucket or group `group` (no running totals
    /// or per-event values).
    pub fn result(
        &self,
        params: &AggregationParams,
        group: &GroupValues,
    ) -> Result<AggregationResult> {
        let mut result = AggregationResult {
            aggregation: self.total,
            count: self.events_count,
            ..AggregationResult::default()
        };
        if params.in_advance_current_usage() {
            in_advance_current_usage(&mut result, self.total, cached_in_window(params, group))?;
        }
        if params.charge.dynamic {
            result.precise_total_amount_cents = Some(self.precise_total_amount_cents);
        }
        Ok(result)
    }
}

fn fold(rows: &[Row]) -> Result<SumState> {
    let mut state = SumState::default();
    for row in rows {
        state.add(row.number(), row.event.precise_total_amount_cents)?;
    }
    Ok(state)
}

/// The events a sum reads (numeric; recurring: no lower bound).
pub(crate) fn scope<'p>(store: &Store<'p>, params: &AggregationParams) -> Select<'p> {
    store.window_or_history(true, params.metric.recurring)
}

/// Running totals of `values` (timestamp order) for the percentage free units; `estimate` is the
/// value of a not-yet-stored event taken in after the others (Lago's fee estimate).
pub fn running_total(
    values: impl IntoIterator<Item = Decimal>,
    free_units: FreeUnits,
    estimate: Option<Decimal>,
) -> Result<Vec<Decimal>> {
    if !free_units.wanted() {
        return Ok(Vec::new());
    }
    let mut totals = Vec::new();
    let mut total = Decimal::ZERO;
    if free_units.per_events > 0 {
        let limit = usize::try_from(free_units.per_events).unwrap_or(usize::MAX);
        let values = values.into_iter();
        // One allocation: at most `limit` totals (and the estimate), at most one per value.
        totals.reserve(limit.min(values.size_hint().0.saturating_add(1)));
        for value in values.into_iter().take(limit) {
            total = add(total, value)?;
            totals.push(total);
        }
        // The estimated event comes after the stored ones, when they leave room for it.
        if let Some(value) = estimate.filter(|_| totals.len() < limit) {
            total = add(total, value)?;
            totals.push(total);
        }
        return Ok(totals);
    }
    for value in values.into_iter().chain(estimate) {
        if free_units.per_total_aggregation < total {
            break;
        }
        total = add(total, value)?;
        totals.push(total);
    }
    Ok(totals)
}

/// The window's numeric values in timestamp order.
fn window_values(store: &Store) -> Result<Vec<Decimal>> {
    Ok(store
        .select(&store.window(true))?
        .iter()
        .map(Row::number)
        .collect())
}

/// The value of a pay-in-advance event that is not stored yet (fee estimate).
fn estimate(params: &AggregationParams) -> Result<Option<Decimal>> {
    match &params.pay_in_advance_event {
        Some(trigger) if !trigger.persisted => {
            super::in_advance::event_value(params, &trigger.event).map(Some)
        }
        _ => Ok(None),
    }
}

/// Ungrouped sum.
pub(crate) fn aggregate(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    let rows = store.select(&scope(store, params))?;
    let state = fold(&rows)?;
    let mut result = state.result(params, &Vec::new())?;
    let values: Vec<Decimal> = rows.iter().map(Row::number).collect();
    result.running_total =
        running_total(values.iter().copied(), params.free_units, estimate(params)?)?;
    if params.with_per_event_values {
        result.per_event_values = if params.metric.recurring {
            window_values(store)?
        } else {
            values
        };
    }
    Ok(result)
}

/// One result per pricing group; one `null` group when there are no events.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    let rows = store.select(&scope(store, params))?;
    let groups = partition(rows, &params.grouped_by);
    if groups.is_empty() {
        return Ok(vec![empty_group(&params.grouped_by)]);
    }
    // Lago reads each group's running totals and per-event values back through
    // `grouped_by_values`, i.e. with its printed (null for empty) values.
    let keys = &params.grouped_by;
    let scoped = store.index(&scope(store, params), keys)?;
    let window = store.index(&store.window(true), keys)?;
    let estimate = estimate(params)?;
    let mut results = Vec::with_capacity(groups.len());
    for (raw, rows) in groups {
        let grouped_by = group_values(keys, &raw);
        let mut result = fold(&rows)?.result(params, &grouped_by)?;
        let values: Vec<Decimal> = scoped.rows(&grouped_by).iter().map(Row::number).collect();
        result.running_total = running_total(values.iter().copied(), params.free_units, estimate)?;
        if params.with_per_event_values {
            result.per_event_values = window.rows(&grouped_by).iter().map(Row::number).collect();
        }
        results.push(GroupResult { grouped_by, result });
    }
    Ok(results)
}

/// Σ per combination of `keys` (recurring: all history).
pub(crate) fn breakdowns(
    store: &Store,
    keys: &[String],
    recurring: bool,
) -> Result<Vec<Breakdown>> {
    let rows = store.select(&store.window_or_history(true, recurring))?;
    partition(rows, keys)
        .into_iter()
        .map(|(raw, rows)| {
            Ok(Breakdown {
                groups: group_values(keys, &raw),
                value: fold(&rows)?.total,
            })
        })
        .collect()
}
