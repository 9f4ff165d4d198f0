//! Prorated `sum_agg` (charges with `prorated: true`, recurring metrics).
//!
//! ## Semantics
//! * Units carried from before the window (events up to `from − 1µs`, all history) are weighted
//!   by `days(from..to) / duration` — a Ruby Float (`Integer#fdiv`) written into the SQL, so
//!   `17/31` is `0.5483870967741935` — which is 1 for a full period and a fraction for a
//!   terminated or upgraded subscription.
//! * Each event of the window is weighted by `(DATE(to) − DATE(event) + 1) / duration` (days left,
//!   counting the event's day, in the customer's zone; a Postgres `numeric` quotient).
//! * `aggregation = ceil(Σ weighted values, 5)`; `full_units_number` and `count` are those of the
//!   plain sum (persisted + window for a recurring metric).
//! * Pay-in-advance charges on the billing date (not current usage) bill the plain sum.
//! * Current usage (see [`current_usage`]): in arrears, the prorated value with the plain sum as
//!   `current_usage_units`; in advance, from the latest cached row of the window.
//! * Per-event values: the carried-over total as one synthetic first event (when non-zero), then
//!   the window's events; prorated values alongside.
//!
//! ## Incremental
//! None (the weights depend on the window's end and each event's day); use [`super::aggregate`].
//!
//! ## Lago reference
//! `app/services/billable_metrics/prorated_aggregations/sum_service.rb`,
//! `prorated_aggregations/base_service.rb` (`handle_current_usage`, `persisted_pro_rata`),
//! `PostgresStore#prorated_sum`, `#prorated_events_values`, `#duration_ratio_sql`.

use super::pg::{ceil_dp, date_diff_with_timezone, days_between, float_ratio, local_date, pg_div};
use super::{
    cached_in_window, count_rows, empty_group, group_values, partition, same_group, sum,
    AggregationParams, AggregationResult, GroupResult, GroupValues, RawKey, Row, Select, Store,
    ANY_GROUP,
};
use crate::error::Result;
use crate::money::{add, mul, sub};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Σ value, Σ prorated value and count of some events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    value: Decimal,
    prorated: Decimal,
    count: u64,
}

impl Totals {
    fn plus(self, other: Totals) -> Result<Totals> {
        Ok(Totals {
            value: add(self.value, other.value)?,
            prorated: add(self.prorated, other.prorated)?,
            count: self.count.saturating_add(other.count),
        })
    }
}

/// `persisted_pro_rata`: days of the window over the period's days, through a Ruby Float.
pub(crate) fn persisted_pro_rata(params: &AggregationParams) -> Result<Decimal> {
    let window = params.window;
    let days = date_diff_with_timezone(window.from, window.to, window.timezone);
    float_ratio(days, params.window.duration_days())
}

/// `duration_ratio_sql`: `(DATE(to) − DATE(ts) + 1) / duration` as a Postgres `numeric`.
fn event_ratio(store: &Store, params: &AggregationParams, row: &Row) -> Result<Decimal> {
    let tz = params.window.timezone;
    let days = days_between(
        local_date(row.event.timestamp, tz),
        local_date(store.to, tz),
    ) + 1;
    pg_div(
        Decimal::from(days),
        0,
        Decimal::from(params.window.duration_days()),
        0,
    )
}

fn window_totals(store: &Store, params: &AggregationParams, rows: &[Row]) -> Result<Totals> {
    let mut totals = Totals::default();
    for row in rows {
        let prorated = mul(row.number(), event_ratio(store, params, row)?)?;
        totals = totals.plus(Totals {
            value: row.number(),
            prorated,
            count: 1,
        })?;
    }
    Ok(totals)
}

fn persisted_totals(rows: &[Row], ratio: Decimal) -> Result<Totals> {
    let value = crate::money::sum(rows.iter().map(Row::number))?;
    let mut prorated = Decimal::ZERO;
    for row in rows {
        prorated = add(prorated, mul(row.number(), ratio)?)?;
    }
    Ok(Totals {
        value,
        prorated,
        count: count_rows(rows.len()),
    })
}

/// Events carried from before the window: all history up to `from − 1µs`.
fn persisted_select<'p>(
    params: &AggregationParams,
    restrict: Option<&'p GroupValues>,
) -> Select<'p> {
    let upper = params
        .window
        .from
        .checked_sub_signed(chrono::TimeDelta::microseconds(1))
        .unwrap_or(params.window.from);
    Select {
        lower: None,
        upper,
        numeric: true,
        restrict,
    }
}

/// The plain sum's result for `total` (in-advance current usage and rounding applied, as Lago's
/// base aggregator leaves it).
fn base_result(
    params: &AggregationParams,
    totals: Totals,
    group: &GroupValues,
) -> Result<AggregationResult> {
    let state = sum::SumState {
        total: totals.value,
        events_count: totals.count,
        precise_total_amount_cents: Decimal::ZERO,
    };
    let mut base = state.result(params, group)?;
    base.precise_total_amount_cents = None;
    if let Some(rounding) = params.metric.rounding {
        super::apply_rounding(&mut base, rounding)?;
    }
    Ok(base)
}

/// `handle_current_usage`: the prorated aggregation and the units shown in current usage.
///
/// With `U` the plain current-usage units, `c` / `mp` the cached current and prorated peak, and
/// `p` = [`persisted_pro_rata`]: in arrears → `max(prorated, 0)` and `max(plain, 0)`; in advance
/// with a cached row of the window → `ceil5((U − max(c, 0)) × p) + mp` when `p < 1`, else
/// `U − max(c, 0) + mp`; without one → the prorated value when `p < 1`, else the plain value.
/// The prorated aggregation over its unprorated `base`, with current-usage figures when asked.
fn prorated_result(
    params: &AggregationParams,
    prorated: Decimal,
    base: &AggregationResult,
    group: &GroupValues,
) -> Result<AggregationResult> {
    let mut result = AggregationResult {
        aggregation: prorated,
        count: base.count,
        full_units_number: Some(base.aggregation),
        current_usage_units: base.current_usage_units,
        ..AggregationResult::default()
    };
    if params.is_current_usage() {
        current_usage(params, prorated, base, group, &mut result)?;
    }
    Ok(result)
}

pub(crate) fn current_usage(
    params: &AggregationParams,
    prorated: Decimal,
    base: &AggregationResult,
    group: &GroupValues,
    result: &mut AggregationResult,
) -> Result<()> {
    let plain = base.aggregation;
    let units = base.current_usage_units.unwrap_or(plain);
    if !params.charge.pay_in_advance {
        result.aggregation = prorated.max(Decimal::ZERO);
        result.current_usage_units = Some(plain.max(Decimal::ZERO));
        return Ok(());
    }
    let pro_rata = persisted_pro_rata(params)?;
    let partial = pro_rata < Decimal::ONE;
    result.current_usage_units = Some(units);
    result.aggregation = match cached_in_window(params, group) {
        Some(row) => {
            let since_cache = sub(units, row.current_aggregation.max(Decimal::ZERO))?;
            let peak = row.max_aggregation_with_proration.unwrap_or_default();
            if partial {
                add(ceil_dp(mul(since_cache, pro_rata)?, 5), peak)?
            } else {
                add(since_cache, peak)?
            }
        }
        None if partial => prorated.max(Decimal::ZERO),
        None => plain,
    };
    Ok(())
}

/// Ungrouped prorated sum.
pub(crate) fn aggregate(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    if params.bills_full_amount() {
        return sum::aggregate(store, params);
    }
    let pro_rata = persisted_pro_rata(params)?;
    let current = window_totals(store, params, &store.select(&store.window(true))?)?;
    let persisted = persisted_totals(&store.select(&persisted_select(params, None))?, pro_rata)?;
    let plain = if params.metric.recurring {
        persisted.plus(current)?
    } else {
        current
    };
    let base = base_result(params, plain, &Vec::new())?;
    let prorated = ceil_dp(add(persisted.prorated, current.prorated)?, 5);
    let mut result = prorated_result(params, prorated, &base, &Vec::new())?;
    if params.with_per_event_values {
        let carried = carried_total(store, params)?;
        let window = store.select(&store.window(true))?;
        per_event(store, params, carried, &window, &mut result)?;
    }
    Ok(result)
}

/// The carried-over total per-event values start with: Lago folds in the bucket's whole total,
/// whatever the group (`recurring_value` is called without `grouped_by_values`).
fn carried_total(store: &Store, params: &AggregationParams) -> Result<Decimal> {
    let carried = store.select(&persisted_select(params, Some(&ANY_GROUP)))?;
    crate::money::sum(carried.iter().map(Row::number))
}

/// `per_event_aggregation`: the carried-over total first (when non-zero), then the window's
/// events of the bucket or group (`window`).
fn per_event(
    store: &Store,
    params: &AggregationParams,
    persisted: Decimal,
    window: &[Row],
    result: &mut AggregationResult,
) -> Result<()> {
    let mut full = Vec::new();
    let mut prorated = Vec::new();
    if !persisted.is_zero() {
        full.push(persisted);
        prorated.push(mul(persisted, persisted_pro_rata(params)?)?);
    }
    for row in window {
        full.push(row.number());
        prorated.push(mul(row.number(), event_ratio(store, params, row)?)?);
    }
    result.per_event_values = full;
    result.per_event_prorated_values = Some(prorated);
    Ok(())
}

/// Totals per printed group, merging raw keys that print the same (Lago's `group_by(&:groups)`).
fn by_printed_group(
    keys: &[String],
    parts: Vec<BTreeMap<RawKey, Totals>>,
) -> Result<Vec<(GroupValues, Totals)>> {
    let mut out: Vec<(GroupValues, Totals)> = Vec::new();
    for part in parts {
        for (raw, totals) in part {
            let groups = group_values(keys, &raw);
            match out.iter_mut().find(|(g, _)| same_group(g, &groups)) {
                Some((_, sum)) => *sum = sum.plus(totals)?,
                None => out.push((groups, totals)),
            }
        }
    }
    Ok(out)
}

/// One result per pricing group.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    if params.bills_full_amount() {
        return sum::aggregate_groups(store, params);
    }
    let keys = &params.grouped_by;
    let pro_rata = persisted_pro_rata(params)?;
    let mut current = BTreeMap::new();
    for (raw, rows) in partition(store.select(&store.window(true))?, keys) {
        current.insert(raw, window_totals(store, params, &rows)?);
    }
    let persisted_rows = store.select(&persisted_select(params, None))?;
    let mut persisted = BTreeMap::new();
    for (raw, rows) in partition(persisted_rows, keys) {
        persisted.insert(raw, persisted_totals(&rows, pro_rata)?);
    }
    let plain_parts = if params.metric.recurring {
        vec![current.clone(), persisted.clone()]
    } else {
        vec![current.clone()]
    };
    let plain = by_printed_group(keys, plain_parts)?;
    let prorated = by_printed_group(keys, vec![persisted, current])?;
    if prorated.is_empty() {
        return Ok(vec![empty_group(keys)]);
    }
    let carried = carried_total(store, params)?;
    let window = store.index(&store.window(true), keys)?;
    let mut results = Vec::with_capacity(prorated.len());
    for (grouped_by, totals) in prorated {
        let value = ceil_dp(totals.prorated, 5);
        let base = match plain.iter().find(|(g, _)| same_group(g, &grouped_by)) {
            Some((_, plain)) => base_result(params, *plain, &grouped_by)?,
            None => empty_group(keys).result,
        };
        let mut result = prorated_result(params, value, &base, &grouped_by)?;
        if params.with_per_event_values {
            let rows = window.rows(&grouped_by);
            per_event(store, params, carried, rows, &mut result)?;
        }
        results.push(GroupResult { grouped_by, result });
    }
    Ok(results)
}
