//! Prorated `unique_count_agg` (charges with `prorated: true`, recurring metrics).
//!
//! ## Semantics
//! Each value counts the days it was active within the window over the period's days:
//!
//! 1. Per value (and group), in timestamp order, a remove (any non-`add` operation) followed later
//!    the same local day by an event of another operation is ignored (the add → remove → add of
//!    one day is one stretch). A value that is SQL `NULL` (missing property) — or, grouped, an
//!    event with a `NULL` group key — is never ignored this way (`NULL = NULL` is not true).
//! 2. The remaining events get unique-count contributions ([`super::unique_count::contribution`]);
//!    events contributing 0 are dropped, and duplicates of `(operation, timestamp)` merged.
//! 3. Each add is active from `max(event, from)` to the next remaining event of the value (or
//!    `to`): `DATE(next + 1 day) − DATE(start)` days — the removal day counts; a next event before
//!    the window gives 0. Grouped, `DATE(next) − DATE(start) + 1`, so a value added and removed
//!    before the window still counts one day.
//! 4. `aggregation = ceil(Σ days / duration, 5)` (each quotient a Postgres `numeric`), `count` =
//!    the aggregation truncated; `full_units_number` = the plain unique count.
//!
//! Billing-date pay-in-advance charges bill the plain count; current usage as for the prorated
//! sum ([`super::prorated_sum::current_usage`]). Per-event values: ±1 per remaining event (−1 for
//! `remove`) with its ceiled prorated days.
//!
//! ## Incremental
//! None (stretches end with later events); use [`super::aggregate`].
//!
//! ## Lago reference
//! `app/services/billable_metrics/prorated_aggregations/unique_count_service.rb`,
//! `app/services/events/stores/postgres/unique_count_query.rb` (`prorated_query`,
//! `grouped_prorated_query`, `prorated_breakdown_query`).

use super::pg::{ceil_dp, days_between, local_date, pg_div};
use super::unique_count::{self, contribution, operation, ADD, REMOVE};
use super::{
    count_of, empty_group, group_values, prorated_sum, same_group, AggregationParams,
    AggregationResult, GroupResult, RawKey, Row, Select, Store,
};
use crate::error::Result;
use crate::money::add;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// One remaining event of the prorated query, with its share of the period.
#[derive(Debug, Clone)]
struct Stretch {
    timestamp: DateTime<Utc>,
    property: Option<String>,
    operation: String,
    ratio: Decimal,
}

/// One event as the query sees it.
#[derive(Debug, Clone)]
struct Op {
    timestamp: DateTime<Utc>,
    operation: String,
}

fn scope<'p>(store: &Store<'p>, params: &AggregationParams) -> Select<'p> {
    store.window_or_history(false, params.metric.recurring)
}

/// Steps 1–3 for one partition (events of one value, in timestamp order).
fn remaining(ops: &[Op], can_ignore: bool, tz: crate::period::tz::Tz) -> Vec<Op> {
    let ignored = if can_ignore {
        same_day_ignored(ops, tz)
    } else {
        vec![false; ops.len()]
    };
    let mut previous = REMOVE.to_string();
    let mut kept: Vec<Op> = Vec::new();
    for (op, _) in ops.iter().zip(ignored).filter(|(_, ignored)| !ignored) {
        let value = contribution(&previous, &op.operation);
        previous.clone_from(&op.operation);
        let duplicate = kept
            .iter()
            .any(|k| k.timestamp == op.timestamp && k.operation == op.operation);
        if value != 0 && !duplicate {
            kept.push(op.clone());
        }
    }
    kept
}

/// `ignore_remove_events_sql`: a non-add followed, strictly later the same local day, by an
/// event of another operation. Scans backwards, one timestamp at a time.
fn same_day_ignored(ops: &[Op], tz: crate::period::tz::Tz) -> Vec<bool> {
    let mut ignored = vec![false; ops.len()];
    let mut day: Option<NaiveDate> = None;
    // Operations seen strictly later on `day`, with their counts.
    let mut later: BTreeMap<&str, usize> = BTreeMap::new();
    let mut later_total = 0usize;
    let mut end = ops.len();
    while end > 0 {
        let timestamp = ops[end - 1].timestamp;
        let mut start = end - 1;
        while start > 0 && ops[start - 1].timestamp == timestamp {
            start -= 1;
        }
        let date = local_date(timestamp, tz);
        if day != Some(date) {
            day = Some(date);
            later.clear();
            later_total = 0;
        }
        for (index, op) in ops.iter().enumerate().take(end).skip(start) {
            let same = later.get(op.operation.as_str()).copied().unwrap_or(0);
            ignored[index] = op.operation != ADD && later_total > same;
        }
        for op in &ops[start..end] {
            *later.entry(op.operation.as_str()).or_insert(0) += 1;
            later_total += 1;
        }
        end = start;
    }
    ignored
}

/// Step 4: the share of the period of each remaining event.
fn stretches(
    store: &Store,
    params: &AggregationParams,
    property: &Option<String>,
    kept: &[Op],
    grouped: bool,
) -> Result<Vec<Stretch>> {
    let tz = params.window.timezone;
    let duration = Decimal::from(params.window.duration_days().max(1));
    let mut out = Vec::with_capacity(kept.len());
    for (index, op) in kept.iter().enumerate() {
        let next = kept.get(index + 1).map_or(store.to, |next| next.timestamp);
        let ratio = if op.operation == ADD {
            let start = local_date(op.timestamp.max(store.from), tz);
            let days = if next < store.from {
                days_between(start, local_date(store.from, tz)) + i64::from(grouped)
            } else if grouped {
                days_between(start, local_date(next, tz)) + 1
            } else {
                let next_day = next
                    .checked_add_signed(chrono::TimeDelta::days(1))
                    .unwrap_or(next);
                days_between(start, local_date(next_day, tz))
            };
            pg_div(Decimal::from(days), 0, duration, 0)?
        } else {
            Decimal::ZERO
        };
        out.push(Stretch {
            timestamp: op.timestamp,
            property: property.clone(),
            operation: op.operation.clone(),
            ratio,
        });
    }
    Ok(out)
}

/// The remaining events of `rows`, partitioned by value (and group when `grouped_keys` is set).
fn prorated_stretches(
    store: &Store,
    params: &AggregationParams,
    rows: &[Row],
    grouped_keys: Option<&[String]>,
) -> Result<BTreeMap<RawKey, Vec<Stretch>>> {
    let field = store.field();
    let mut partitions: BTreeMap<(RawKey, Option<String>), Vec<Op>> = BTreeMap::new();
    for row in rows {
        let key = grouped_keys.map(|keys| row.key(keys)).unwrap_or_default();
        partitions
            .entry((key, row.text(field)))
            .or_default()
            .push(Op {
                timestamp: row.event.timestamp,
                operation: operation(row),
            });
    }
    let tz = params.window.timezone;
    let mut out: BTreeMap<RawKey, Vec<Stretch>> = BTreeMap::new();
    for ((key, property), ops) in partitions {
        let can_ignore = property.is_some() && key.iter().all(Option::is_some);
        let kept = remaining(&ops, can_ignore, tz);
        let grouped = grouped_keys.is_some();
        out.entry(key)
            .or_default()
            .extend(stretches(store, params, &property, &kept, grouped)?);
    }
    Ok(out)
}

fn total_ratio(stretches: &[Stretch]) -> Result<Decimal> {
    stretches
        .iter()
        .try_fold(Decimal::ZERO, |total, s| add(total, s.ratio))
}

/// `prorated_unique_count_breakdown(with_remove: true)` over `rows` (the bucket's or group's
/// events in scope): ±1 and the ceiled share per remaining event.
fn per_event(
    store: &Store,
    params: &AggregationParams,
    rows: &[Row],
    result: &mut AggregationResult,
) -> Result<()> {
    let mut all: Vec<Stretch> = prorated_stretches(store, params, rows, None)?
        .into_values()
        .flatten()
        .collect();
    // ORDER BY timestamp ASC, property ASC (NULLS LAST).
    crate::sort::sort_by(&mut all, |a, b| {
        a.timestamp
            .cmp(&b.timestamp)
            .then_with(|| match (&a.property, &b.property) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    result.per_event_values = all
        .iter()
        .map(|s| {
            if s.operation == REMOVE {
                -Decimal::ONE
            } else {
                Decimal::ONE
            }
        })
        .collect();
    result.per_event_prorated_values = Some(all.iter().map(|s| ceil_dp(s.ratio, 5)).collect());
    Ok(())
}

/// The plain unique count with Lago's base rounding.
fn rounded(mut base: AggregationResult, params: &AggregationParams) -> Result<AggregationResult> {
    if let Some(rounding) = params.metric.rounding {
        super::apply_rounding(&mut base, rounding)?;
    }
    Ok(base)
}

/// Ungrouped prorated unique count.
pub(crate) fn aggregate(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    let rows = store.select(&scope(store, params))?;
    let events = unique_count::window_events(store, params)?;
    let base = unique_count::base(store, params, &rows, &Vec::new(), false, events)?;
    if params.bills_full_amount() {
        return Ok(base);
    }
    let base = rounded(base, params)?;
    let stretches = prorated_stretches(store, params, &rows, None)?;
    let prorated = ceil_dp(
        total_ratio(&stretches.into_values().flatten().collect::<Vec<_>>())?,
        5,
    );
    let mut result = AggregationResult {
        aggregation: prorated,
        full_units_number: Some(base.aggregation),
        current_usage_units: base.current_usage_units,
        ..AggregationResult::default()
    };
    if params.is_current_usage() {
        prorated_sum::current_usage(params, prorated, &base, &Vec::new(), &mut result)?;
    }
    result.count = count_of(result.aggregation);
    if params.with_per_event_values {
        per_event(store, params, &rows, &mut result)?;
    }
    Ok(result)
}

/// One result per pricing group.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    let bases = unique_count::base_groups(store, params)?;
    if params.bills_full_amount() {
        return Ok(bases);
    }
    let keys = &params.grouped_by;
    let rows = store.select(&scope(store, params))?;
    let grouped = prorated_stretches(store, params, &rows, Some(keys))?;
    if grouped.is_empty() {
        return Ok(vec![empty_group(keys)]);
    }
    let index = store.index(&scope(store, params), keys)?;
    let mut results = Vec::with_capacity(grouped.len());
    for (raw, stretches) in grouped {
        let grouped_by = group_values(keys, &raw);
        let value = ceil_dp(total_ratio(&stretches)?, 5);
        let base = match bases
            .iter()
            .find(|b| same_group(&b.grouped_by, &grouped_by))
        {
            Some(base) => rounded(base.result.clone(), params)?,
            None => empty_group(keys).result,
        };
        let mut result = AggregationResult {
            aggregation: value,
            full_units_number: Some(base.aggregation),
            current_usage_units: base.current_usage_units,
            ..AggregationResult::default()
        };
        if params.is_current_usage() {
            prorated_sum::current_usage(params, value, &base, &grouped_by, &mut result)?;
        }
        result.count = count_of(result.aggregation);
        if params.with_per_event_values {
            per_event(store, params, index.rows(&grouped_by), &mut result)?;
        }
        results.push(GroupResult { grouped_by, result });
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn op(ts: &str, operation: &str) -> Op {
        Op {
            timestamp: at(ts),
            operation: operation.to_string(),
        }
    }

    #[test]
    fn a_remove_undone_later_the_same_day_is_ignored() {
        let ops = vec![
            op("2024-01-27T01:00:00Z", ADD),
            op("2024-01-27T02:00:00Z", REMOVE),
            op("2024-01-27T03:00:00Z", ADD),
            op("2024-01-28T01:00:00Z", REMOVE),
            op("2024-01-30T01:00:00Z", ADD),
        ];
        let kept = remaining(&ops, true, crate::period::tz::Tz::UTC);
        let kinds: Vec<(&str, String)> = kept
            .iter()
            .map(|k| (k.operation.as_str(), k.timestamp.format("%d").to_string()))
            .collect();
        let expected = [(ADD, "27"), (REMOVE, "28"), (ADD, "30")];
        let expected: Vec<(&str, String)> =
            expected.iter().map(|(o, d)| (*o, d.to_string())).collect();
        assert_eq!(kinds, expected);
    }
}
