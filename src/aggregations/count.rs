//! `count_agg`: the number of events of the bucket in the window.
//!
//! ## Semantics
//! * Properties are ignored (except for filters and groups); recurring has no effect.
//! * `aggregation = count = current_usage_units = n`.
//! * Running totals (percentage free units): `[1, 2, …, n]`, only when free units are set.
//! * Per-event values: `1` for each event.
//!
//! ## Incremental
//! [`CountState::add`] per event of the window: O(1) state, no order needed.
//!
//! ## Lago reference
//! `app/services/billable_metrics/aggregations/count_service.rb`, `PostgresStore#count`.

use super::{
    count_rows, group_values, one_to, partition, AggregationParams, AggregationResult, Breakdown,
    GroupResult, Store,
};
use crate::error::Result;
use rust_decimal::Decimal;

/// Running state of a count: add each event of the bucket's window once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountState {
    /// Events added.
    pub events_count: u64,
}

impl CountState {
    /// Counts one more event.
    pub fn add(&mut self) {
        self.events_count = self.events_count.saturating_add(1);
    }

    /// The units: the number of events.
    pub fn units(&self) -> Decimal {
        Decimal::from(self.events_count)
    }

    /// The aggregation result of this state (no per-event values).
    pub fn result(&self, params: &AggregationParams) -> Result<AggregationResult> {
        let units = self.units();
        Ok(AggregationResult {
            aggregation: units,
            count: self.events_count,
            current_usage_units: Some(units),
            running_total: running_total(params, units)?,
            ..AggregationResult::default()
        })
    }
}

fn running_total(params: &AggregationParams, units: Decimal) -> Result<Vec<Decimal>> {
    if params.free_units.wanted() {
        one_to(units)
    } else {
        Ok(Vec::new())
    }
}

fn fold(events: usize, params: &AggregationParams) -> Result<AggregationResult> {
    let mut state = CountState::default();
    for _ in 0..events {
        state.add();
    }
    let mut result = state.result(params)?;
    if params.with_per_event_values {
        result.per_event_values = vec![Decimal::ONE; events];
    }
    Ok(result)
}

/// Ungrouped count.
pub(crate) fn aggregate(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    let rows = store.select(&store.window(false))?;
    fold(rows.len(), params)
}

/// One result per pricing group; one `null` group when there are no events.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    let rows = store.select(&store.window(false))?;
    super::per_group(rows, &params.grouped_by, |rows| fold(rows.len(), params))
}

/// Count per combination of `keys`.
pub(crate) fn breakdowns(store: &Store, keys: &[String]) -> Result<Vec<Breakdown>> {
    let rows = store.select(&store.window(false))?;
    Ok(partition(rows, keys)
        .into_iter()
        .map(|(raw, rows)| Breakdown {
            groups: group_values(keys, &raw),
            value: Decimal::from(count_rows(rows.len())),
        })
        .collect())
}
