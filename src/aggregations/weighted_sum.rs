//! `weighted_sum_agg`: the time-weighted level of a quantity over the billing period.
//!
//! ## Semantics
//! Each numeric event is a *difference* applied to a level. The rows, per group, in timestamp
//! order, are: a synthetic row at `from` carrying the initial level, the events, and a synthetic
//! row at `to` rounded up to the whole second carrying 0. For every row, with `level` the running
//! Σ up to and including it and `dt` the seconds to the next row (the last one to `to`),
//! `contribution = level × dt / (charges_duration_days × 86400)`, or 0 when `dt = 0` (several
//! events at one instant count through the last one only). The aggregation is Σ contributions —
//! Postgres `numeric` arithmetic, so each quotient keeps the scale Postgres gives it — then
//! `ceil(20)` (not for groups).
//!
//! * The denominator is the whole period, and the last level extends to its end: current usage
//!   already assumes the level persists until the period ends.
//! * `count` = the number of events; `variation` = Σ of their values.
//! * Non-recurring: initial level 0 and `total_aggregated_units = variation`.
//! * Recurring: the initial level is the latest cached level strictly before `from` (Lago writes
//!   it at invoicing), else — for a subscription that replaced another — Σ of the numeric events
//!   up to `from − 1s`, else 0; `total_aggregated_units = initial + variation` (the level at the
//!   end of the period) and `recurring_updated_at` = the last event's timestamp, or `from`.
//! * Grouped: each group gets its own initial level (cached rows carrying the group's keys, or the
//!   previous subscription's per-group sums) — Lago reads those even for a non-recurring metric.
//!
//! ## Incremental
//! None: the result depends on the order and spacing of every event of the window. Use
//! [`super::aggregate`] over the window (it is linear after sorting).
//!
//! ## Lago reference
//! `app/services/billable_metrics/aggregations/weighted_sum_service.rb`,
//! `app/services/events/stores/postgres/weighted_sum_query.rb`,
//! `PostgresStore#weighted_sum`, `#grouped_weighted_sum`, `#formatted_weighted_sum_initial_values`.

use super::pg::{ceil_dp, ceil_second, pg_div, seconds_between, SECONDS_PER_DAY};
use super::{
    count_rows, empty_group, group_values, partition, same_group, AggregationParams,
    AggregationResult, Breakdown, GroupResult, GroupValues, RawKey, Row, Select, Store,
};
use crate::error::{Error, Result};
use crate::money::{add, mul, sub};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// Scale of `EXTRACT(EPOCH FROM interval)` in Postgres 14+.
const EPOCH_DSCALE: u32 = 6;

/// One row of the weighted-sum query.
struct LevelRow {
    key: RawKey,
    timestamp: DateTime<Utc>,
    difference: Decimal,
}

/// One partition's sums: Σ contributions, Σ differences (with the initial level), rows.
#[derive(Debug, Clone, Copy, Default)]
struct Partition {
    aggregation: Decimal,
    variation_with_initial: Decimal,
    rows: usize,
}

/// An initial level for a group (`{groups:, value:}`).
#[derive(Debug, Clone)]
struct Initial {
    groups: GroupValues,
    value: Decimal,
}

/// Σ contributions per partition, as `weighted_sum_query.rb` computes them.
fn compute(
    rows: Vec<LevelRow>,
    end: DateTime<Utc>,
    duration_days: i64,
) -> Result<BTreeMap<RawKey, Partition>> {
    let duration_seconds = duration_days
        .checked_mul(SECONDS_PER_DAY)
        .map(Decimal::from)
        .ok_or_else(Error::overflow)?;
    let mut partitions: BTreeMap<RawKey, Vec<LevelRow>> = BTreeMap::new();
    for row in rows {
        partitions.entry(row.key.clone()).or_default().push(row);
    }
    let mut out = BTreeMap::new();
    for (key, mut rows) in partitions {
        crate::sort::sort_by_time(&mut rows, |row| row.timestamp);
        let mut partition = Partition {
            rows: rows.len(),
            ..Partition::default()
        };
        let mut level = Decimal::ZERO;
        for (index, row) in rows.iter().enumerate() {
            level = add(level, row.difference)?;
            partition.variation_with_initial =
                add(partition.variation_with_initial, row.difference)?;
            let next = rows.get(index + 1).map_or(end, |next| next.timestamp);
            let seconds = seconds_between(row.timestamp, next);
            if seconds.is_zero() {
                continue;
            }
            let level_seconds = mul(level, seconds)?;
            let ratio = pg_div(
                level_seconds,
                level.scale() + EPOCH_DSCALE,
                duration_seconds,
                0,
            )?;
            partition.aggregation = add(partition.aggregation, ratio)?;
        }
        out.insert(key, partition);
    }
    Ok(out)
}

/// The numeric events of the window (restricted to one group when asked).
fn window_rows<'a>(store: &Store<'a>) -> Result<Vec<Row<'a>>> {
    store.select(&store.window(true))
}

/// Σ of the numeric events up to `from − 1s`, all history (previous subscription's level).
fn history_rows<'a>(store: &Store<'a>, params: &AggregationParams) -> Result<Vec<Row<'a>>> {
    let upper = params
        .window
        .from
        .checked_sub_signed(chrono::TimeDelta::seconds(1))
        .unwrap_or(params.window.from);
    store.select(&Select {
        lower: None,
        upper,
        numeric: true,
        restrict: None,
    })
}

fn sum_rows(rows: &[Row]) -> Result<Decimal> {
    crate::money::sum(rows.iter().map(Row::number))
}

/// Cached rows strictly before `from`, latest first (`latest_cached_aggregations`).
fn cached_before(params: &AggregationParams) -> Vec<&super::CachedAggregation> {
    let mut rows: Vec<(usize, &super::CachedAggregation)> = params
        .cached_aggregations
        .iter()
        .enumerate()
        .filter(|(_, row)| row.timestamp < params.window.from)
        .collect();
    // Latest first, then the higher index (the indexes grow with the position).
    crate::sort::sort_by_time(&mut rows, |(_, row)| row.timestamp);
    rows.reverse();
    rows.into_iter().map(|(_, row)| row).collect()
}

/// The initial level of an ungrouped recurring weighted sum (`latest_value`).
fn latest_value(store: &Store, params: &AggregationParams) -> Result<Decimal> {
    if let Some(row) = cached_before(params)
        .into_iter()
        .find(|row| row.grouped_by.is_empty())
    {
        return Ok(row.current_aggregation);
    }
    if params.has_previous_subscription {
        return sum_rows(&history_rows(store, params)?);
    }
    Ok(Decimal::ZERO)
}

/// Per-group initial levels (`grouped_latest_values`).
fn grouped_latest_values(
    store: &Store,
    params: &AggregationParams,
    keys: &[String],
) -> Result<Vec<Initial>> {
    let cached: Vec<Initial> = cached_before(params)
        .into_iter()
        .filter(|row| {
            keys.iter()
                .all(|key| row.grouped_by.iter().any(|(k, _)| k == key))
        })
        .map(|row| Initial {
            groups: row.grouped_by.clone(),
            value: row.current_aggregation,
        })
        .collect();
    if !cached.is_empty() {
        return Ok(cached);
    }
    if params.has_previous_subscription {
        return history_sums(store, params, keys);
    }
    Ok(Vec::new())
}

/// The previous subscription's per-group sums up to `from − 1s`.
fn history_sums(
    store: &Store,
    params: &AggregationParams,
    keys: &[String],
) -> Result<Vec<Initial>> {
    partition(history_rows(store, params)?, keys)
        .into_iter()
        .map(|(raw, rows)| {
            Ok(Initial {
                groups: group_values(keys, &raw),
                value: sum_rows(&rows)?,
            })
        })
        .collect()
}

/// `grouped_weighted_sum(keys, initial_values:)`: one partition per raw group key, each with its
/// initial level, keyed by printed group.
fn grouped(
    store: &Store,
    params: &AggregationParams,
    keys: &[String],
    initial_values: &[Initial],
) -> Result<Vec<(RawKey, GroupValues, Partition, Decimal)>> {
    let events = window_rows(store)?;
    // formatted_weighted_sum_initial_values: the window's groups first, then the others.
    let mut formatted: Vec<Initial> = partition(events.clone(), keys)
        .keys()
        .map(|raw| {
            let groups = group_values(keys, raw);
            let value = initial_values
                .iter()
                .find(|iv| same_group(&iv.groups, &groups))
                .map_or(Decimal::ZERO, |iv| iv.value);
            Initial { groups, value }
        })
        .collect();
    for initial in initial_values {
        if !formatted
            .iter()
            .any(|f| same_group(&f.groups, &initial.groups))
        {
            formatted.push(initial.clone());
        }
    }
    if formatted.is_empty() {
        return Ok(Vec::new());
    }
    let end = ceil_second(store.to);
    let mut rows = Vec::with_capacity(events.len() + 2 * formatted.len());
    for initial in &formatted {
        let key: RawKey = keys
            .iter()
            .map(|k| {
                initial
                    .groups
                    .iter()
                    .find(|(g, _)| g == k)
                    .and_then(|(_, v)| v.clone())
            })
            .collect();
        rows.push(LevelRow {
            key: key.clone(),
            timestamp: store.from,
            difference: initial.value,
        });
        rows.push(LevelRow {
            key,
            timestamp: end,
            difference: Decimal::ZERO,
        });
    }
    for row in &events {
        rows.push(LevelRow {
            key: row.key(keys),
            timestamp: row.event.timestamp,
            difference: row.number(),
        });
    }
    let partitions = compute(rows, end, params.window.duration_days())?;
    Ok(partitions
        .into_iter()
        .map(|(raw, partition)| {
            let groups = group_values(keys, &raw);
            let initial = formatted
                .iter()
                .find(|iv| same_group(&iv.groups, &groups))
                .map_or(Decimal::ZERO, |iv| iv.value);
            (raw, groups, partition, initial)
        })
        .collect())
}

/// Ungrouped weighted sum.
pub(crate) fn aggregate(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    let recurring = params.metric.recurring;
    let initial = if recurring {
        latest_value(store, params)?
    } else {
        Decimal::ZERO
    };
    let events = window_rows(store)?;
    let end = ceil_second(store.to);
    let mut rows = Vec::with_capacity(events.len() + 2);
    rows.push(LevelRow {
        key: Vec::new(),
        timestamp: store.from,
        difference: initial,
    });
    for row in &events {
        rows.push(LevelRow {
            key: Vec::new(),
            timestamp: row.event.timestamp,
            difference: row.number(),
        });
    }
    rows.push(LevelRow {
        key: Vec::new(),
        timestamp: end,
        difference: Decimal::ZERO,
    });
    let partition = compute(rows, end, params.window.duration_days())?
        .remove(&Vec::new())
        .unwrap_or_default();
    let variation = sub(partition.variation_with_initial, initial)?;
    let mut result = AggregationResult {
        aggregation: ceil_dp(partition.aggregation, 20),
        count: count_rows(partition.rows.saturating_sub(2)),
        variation: Some(variation),
        total_aggregated_units: Some(variation),
        ..AggregationResult::default()
    };
    if recurring {
        result.total_aggregated_units = Some(add(initial, variation)?);
        result.recurring_updated_at = Some(
            events
                .last()
                .map_or(params.window.from, |row| row.event.timestamp),
        );
    }
    Ok(result)
}

/// One result per pricing group; one `null` group when there is nothing to weigh.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    let keys = &params.grouped_by;
    let latest = grouped_latest_values(store, params, keys)?;
    let partitions = grouped(store, params, keys, &latest)?;
    if partitions.is_empty() {
        return Ok(vec![empty_group(keys)]);
    }
    let last_events = partition(window_rows(store)?, keys);
    let mut results = Vec::with_capacity(partitions.len());
    for (raw, grouped_by, partition, initial) in partitions {
        let variation = sub(partition.variation_with_initial, initial)?;
        let mut result = AggregationResult {
            aggregation: partition.aggregation,
            count: count_rows(partition.rows.saturating_sub(2)),
            variation: Some(variation),
            total_aggregated_units: Some(variation),
            ..AggregationResult::default()
        };
        if params.metric.recurring {
            let level = latest
                .iter()
                .find(|iv| same_group(&iv.groups, &grouped_by))
                .map_or(Decimal::ZERO, |iv| iv.value);
            result.total_aggregated_units = Some(add(level, variation)?);
            let last = last_events
                .get(&raw)
                .or_else(|| {
                    last_events
                        .iter()
                        .find(|(other, _)| same_group(&group_values(keys, other), &grouped_by))
                        .map(|(_, rows)| rows)
                })
                .and_then(|rows| rows.last());
            result.recurring_updated_at =
                Some(last.map_or(params.window.from, |row| row.event.timestamp));
        }
        results.push(GroupResult { grouped_by, result });
    }
    Ok(results)
}

/// Weighted sum per combination of `keys`; recurring metrics start from the cached breakdowns
/// and fall back to them when the window has nothing.
pub(crate) fn breakdowns(
    store: &Store,
    params: &AggregationParams,
    keys: &[String],
) -> Result<Vec<Breakdown>> {
    let initial: Vec<Initial> = if params.metric.recurring {
        latest_breakdowns(store, params, keys)?
    } else {
        Vec::new()
    };
    let computed: Vec<Breakdown> = grouped(store, params, keys, &initial)?
        .into_iter()
        .map(|(_, groups, partition, _)| Breakdown {
            groups,
            value: partition.aggregation,
        })
        .collect();
    if computed.is_empty() && params.metric.recurring {
        return Ok(initial
            .into_iter()
            .map(|iv| Breakdown {
                groups: iv.groups,
                value: iv.value,
            })
            .collect());
    }
    Ok(computed)
}

/// The presentation breakdowns a recurring weighted sum starts from.
fn latest_breakdowns(
    store: &Store,
    params: &AggregationParams,
    keys: &[String],
) -> Result<Vec<Initial>> {
    let cached = cached_before(params);
    let stored: Vec<Initial> = if params.grouped_by.is_empty() {
        cached
            .into_iter()
            .find(|row| row.grouped_by.is_empty())
            .map(|row| breakdown_initials(&row.presentation_breakdowns))
            .unwrap_or_default()
    } else {
        let grouped: Vec<_> = cached
            .into_iter()
            .filter(|row| {
                params
                    .grouped_by
                    .iter()
                    .all(|key| row.grouped_by.iter().any(|(k, _)| k == key))
            })
            .collect();
        if grouped.is_empty() {
            Vec::new()
        } else {
            return Ok(grouped
                .into_iter()
                .flat_map(|row| breakdown_initials(&row.presentation_breakdowns))
                .collect());
        }
    };
    if !stored.is_empty() || cached_exists(params) {
        return Ok(stored);
    }
    if params.has_previous_subscription {
        return history_sums(store, params, keys);
    }
    Ok(Vec::new())
}

fn cached_exists(params: &AggregationParams) -> bool {
    cached_before(params)
        .into_iter()
        .any(|row| params.grouped_by.is_empty() && row.grouped_by.is_empty())
}

fn breakdown_initials(breakdowns: &[Breakdown]) -> Vec<Initial> {
    breakdowns
        .iter()
        .map(|b| Initial {
            groups: b.groups.clone(),
            value: b.value,
        })
        .collect()
}
